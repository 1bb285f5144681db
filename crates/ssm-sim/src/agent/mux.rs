//! Mux mode: an smux v1 server over the Output byte stream.
//!
//! Like the real agent, the smux session runs over an internal pipe whose
//! other end the agent copies to and from Output messages. The smux side
//! is the `async_smux` crate, independent of our client's `ssm-mux`, so a
//! bug shared by both implementations cannot hide. Each accepted stream
//! dials the destination; a failed dial sends ConnectToPortError, then
//! FIN. Data copying follows smux v1.5 semantics: when either direction
//! ends, both are closed.

use std::num::NonZeroU64;
use std::sync::Arc;

use async_smux::{MuxBuilder, MuxStream};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, debug_span};

use super::port::{PortHandle, PortInput, PortOutput, port_queues, pump_to_agent};
use super::{Destination, PortSettings};
use crate::stats::SessionCounters;
use crate::targets;

/// Bytes buffered in the internal pipe each way.
const PIPE_CAPACITY: usize = 256 * 1024;

/// Starts the mux plugin.
pub(crate) fn start(settings: PortSettings, keepalive: bool) -> PortHandle {
    let (input_tx, input_rx, output_tx, output_rx) = port_queues();
    let (agent_side, smux_side) = tokio::io::duplex(PIPE_CAPACITY);
    let (pipe_reader, pipe_writer) = tokio::io::split(agent_side);
    let mut builder = MuxBuilder::server();
    if keepalive {
        builder
            .with_keep_alive_interval(NonZeroU64::new(10).unwrap_or(NonZeroU64::MIN))
            .with_keep_alive_timeout(NonZeroU64::new(30).unwrap_or(NonZeroU64::MIN));
    }
    let (_connector, acceptor, worker) = builder.with_connection(smux_side).build();
    let settings = Arc::new(settings);
    let tasks = vec![
        tokio::spawn(async move {
            let _ = worker.await;
        }),
        tokio::spawn(accept_loop(acceptor, settings.clone(), output_tx.clone())),
        tokio::spawn(pump_to_agent(
            pipe_reader,
            output_tx,
            settings.chunk_size,
            settings.pacing,
        )),
        tokio::spawn(write_client_bytes(input_rx, pipe_writer)),
    ];
    PortHandle {
        input: input_tx,
        output: output_rx,
        tasks,
    }
}

async fn write_client_bytes(
    mut input: mpsc::Receiver<PortInput>,
    mut pipe: tokio::io::WriteHalf<DuplexStream>,
) {
    while let Some(item) = input.recv().await {
        if let PortInput::Data(bytes) = item
            && pipe.write_all(&bytes).await.is_err()
        {
            return;
        }
    }
}

async fn accept_loop(
    mut acceptor: async_smux::MuxAcceptor<DuplexStream>,
    settings: Arc<PortSettings>,
    output: mpsc::Sender<PortOutput>,
) {
    while let Some(stream) = acceptor.accept().await {
        let id = stream.get_stream_id();
        let span = debug_span!("stream", id);
        let settings = settings.clone();
        let output = output.clone();
        tokio::spawn(serve_stream(stream, settings, output).instrument(span));
    }
    debug!("smux session ended");
}

async fn serve_stream(
    mut stream: MuxStream<DuplexStream>,
    settings: Arc<PortSettings>,
    output: mpsc::Sender<PortOutput>,
) {
    SessionCounters::add(&settings.counters.streams_opened, 1);
    let Destination { host, port } = &settings.destination;
    match targets::dial(&settings.policy, host, *port).await {
        Ok(mut upstream) => {
            debug!("connected to destination");
            // v1.5 semantics: whichever side ends first closes both.
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
            let _ = stream.shutdown().await;
        }
        Err(error) => {
            debug!(%error, "dial failed");
            SessionCounters::add(&settings.counters.dial_failures, 1);
            let _ = output.send(PortOutput::ConnectError).await;
            let _ = stream.shutdown().await;
        }
    }
}
