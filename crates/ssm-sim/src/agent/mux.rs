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
use std::time::Duration;

use async_smux::{MuxBuilder, MuxStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, debug_span};

use super::port::{PortHandle, PortInput, PortOutput, port_queues, pump_to_agent};
use super::{Destination, PortSettings};
use crate::stats::SessionCounters;
use crate::targets;

/// Bytes buffered in the internal pipe each way.
const PIPE_CAPACITY: usize = 256 * 1024;
/// smux keep-alive interval and dead-peer timeout of the agent (seconds).
const KEEPALIVE_INTERVAL: u64 = 10;
const KEEPALIVE_TIMEOUT: u64 = 30;
/// smux v1 frame header length, and the NOP command.
const SMUX_HEADER: usize = 8;
const SMUX_CMD_NOP: u8 = 3;

/// Starts the mux plugin.
pub(crate) fn start(settings: PortSettings, keepalive: bool) -> PortHandle {
    let (input_tx, input_rx, output_tx, output_rx) = port_queues();
    let (agent_side, smux_side) = tokio::io::duplex(PIPE_CAPACITY);
    let (pipe_reader, pipe_writer) = tokio::io::split(agent_side);
    let mut builder = MuxBuilder::server();
    if keepalive {
        builder
            .with_keep_alive_interval(
                NonZeroU64::new(KEEPALIVE_INTERVAL).unwrap_or(NonZeroU64::MIN),
            )
            .with_keep_alive_timeout(NonZeroU64::new(KEEPALIVE_TIMEOUT).unwrap_or(NonZeroU64::MIN));
    }
    let (_connector, acceptor, worker) = builder.with_connection(smux_side).build();
    let settings = Arc::new(settings);
    let mut tasks = vec![
        tokio::spawn(async move {
            let _ = worker.await;
        }),
        tokio::spawn(accept_loop(acceptor, settings.clone(), output_tx.clone())),
        tokio::spawn(write_client_bytes(input_rx, pipe_writer)),
    ];
    let (chunk, pacing) = (settings.chunk_size, settings.pacing);
    if keepalive {
        let (filtered_writer, filtered_reader) = tokio::io::duplex(PIPE_CAPACITY);
        // Short of a full interval, so that the NOP due at 10 s (async_smux
        // checks on 500 ms ticks) is not caught too.
        let quiet = Duration::from_secs(KEEPALIVE_INTERVAL) - Duration::from_millis(250);
        tasks.push(tokio::spawn(drop_early_nops(
            pipe_reader,
            filtered_writer,
            quiet,
        )));
        tasks.push(tokio::spawn(pump_to_agent(
            filtered_reader,
            output_tx,
            chunk,
            pacing,
        )));
    } else {
        tasks.push(tokio::spawn(pump_to_agent(
            pipe_reader,
            output_tx,
            chunk,
            pacing,
        )));
    }
    PortHandle {
        input: input_tx,
        output: output_rx,
        tasks,
    }
}

/// Passes smux bytes through, minus the keep-alive NOPs written during
/// the first `quiet` period. async_smux's keep-alive timer fires at once,
/// but the real agent's (xtaci/smux `time.NewTicker`) first NOP comes one
/// interval after the session starts. The official plugin panics in its
/// WebSocket reader if any message arrives before its mux client exists
/// (protocol.md §9 item 14), so an immediate NOP kills it.
async fn drop_early_nops(mut from: ReadHalf<DuplexStream>, mut to: DuplexStream, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    let mut filter = EarlyNopFilter::default();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        // `read` is cancel-safe: nothing is lost when the deadline wins.
        let read = match tokio::time::timeout_at(deadline, from.read(&mut buffer)).await {
            Err(_) => break,
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(read)) => read,
        };
        out.clear();
        filter.push(&buffer[..read], &mut out);
        if to.write_all(&out).await.is_err() {
            return;
        }
    }
    if to.write_all(filter.held()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy(&mut from, &mut to).await;
}

/// Splits an smux v1 byte stream at frame boundaries and drops NOPs.
#[derive(Debug, Default)]
struct EarlyNopFilter {
    header: Vec<u8>,
    body_left: usize,
}

impl EarlyNopFilter {
    /// Appends `input`, minus NOP frames, to `out`; a partial header is held.
    fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            if self.body_left > 0 {
                let take = self.body_left.min(input.len());
                out.extend_from_slice(&input[..take]);
                self.body_left -= take;
                input = &input[take..];
                continue;
            }
            let take = (SMUX_HEADER - self.header.len()).min(input.len());
            self.header.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.header.len() == SMUX_HEADER {
                let length = usize::from(u16::from_le_bytes([self.header[2], self.header[3]]));
                if self.header[1] != SMUX_CMD_NOP || length != 0 {
                    out.extend_from_slice(&self.header);
                    self.body_left = length;
                }
                self.header.clear();
            }
        }
    }

    /// The bytes of a header not yet complete.
    fn held(&self) -> &[u8] {
        &self.header
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(cmd: u8, sid: u32, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![1, cmd];
        bytes.extend_from_slice(&(body.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&sid.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn early_nops_are_dropped_at_any_split() {
        let nop = frame(SMUX_CMD_NOP, 0, b"");
        let psh = frame(2, 3, &[3; 20]);
        let fin = frame(1, 3, b"");
        let stream = [nop.clone(), psh.clone(), nop, fin.clone()].concat();
        let expected = [psh, fin].concat();
        for split in 1..stream.len() {
            let mut filter = EarlyNopFilter::default();
            let mut out = Vec::new();
            for piece in stream.chunks(split) {
                filter.push(piece, &mut out);
            }
            assert_eq!(out, expected, "split {split}");
            assert!(filter.held().is_empty());
        }
    }

    #[tokio::test]
    async fn nops_pass_after_the_quiet_period() {
        let (mut smux_side, agent_side) = tokio::io::duplex(1024);
        let (reader, _writer) = tokio::io::split(agent_side);
        let (filtered_writer, mut filtered) = tokio::io::duplex(1024);
        let task = tokio::spawn(drop_early_nops(
            reader,
            filtered_writer,
            Duration::from_millis(200),
        ));
        let nop = frame(SMUX_CMD_NOP, 0, b"");
        smux_side.write_all(&nop).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        smux_side.write_all(&nop).await.unwrap();
        drop(smux_side);
        let mut out = Vec::new();
        filtered.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, nop);
        task.await.unwrap();
    }
}
