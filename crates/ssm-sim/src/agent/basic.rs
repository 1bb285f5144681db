//! Basic mode: raw bytes to one destination connection at a time.
//!
//! The agent dials right after the handshake (failure fails the session),
//! closes the connection on DisconnectToPort, and after either side
//! closed waits for the next client Output to dial again (protocol.md §7.5).

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::debug;

use super::port::{
    FloodReader, PortHandle, PortInput, PortOutput, PortSettings, port_queues, pump_to_agent,
};
use crate::hostile::Hostile;
use crate::stats::SessionCounters;
use crate::targets;

/// Starts the basic plugin.
pub(crate) fn start(settings: PortSettings) -> PortHandle {
    let (input_tx, input_rx, output_tx, output_rx) = port_queues();
    let (hostile_tx, hostile_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(settings, input_rx, hostile_rx, output_tx));
    PortHandle {
        input: input_tx,
        output: output_rx,
        tasks: vec![task],
        hostile: Some(hostile_tx),
    }
}

struct Connection {
    writer: OwnedWriteHalf,
    reader: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn run(
    settings: PortSettings,
    mut input: mpsc::Receiver<PortInput>,
    mut hostile: mpsc::UnboundedReceiver<Hostile>,
    output: mpsc::Sender<PortOutput>,
) {
    let mut connection = match connect(&settings, &output).await {
        Ok(connection) => Some(connection),
        Err(text) => {
            let _ = output.send(PortOutput::Failed(text)).await;
            return;
        }
    };
    let mut floods = Vec::new();
    loop {
        let item = tokio::select! {
            item = input.recv() => match item {
                Some(item) => item,
                None => return,
            },
            Some(kind) = hostile.recv() => {
                if let Some(flood) = start_hostile(&settings, kind, &output) {
                    floods.push(flood);
                }
                continue;
            }
        };
        match item {
            PortInput::Disconnect => {
                debug!("disconnect requested; closing destination connection");
                SessionCounters::add(&settings.counters.disconnect_flags, 1);
                connection = None;
            }
            PortInput::Data(bytes) => {
                if connection.as_ref().is_none_or(|c| c.reader.is_finished()) {
                    connection = connect(&settings, &output).await.ok();
                }
                if let Some(open) = &mut connection
                    && open.writer.write_all(&bytes).await.is_err()
                {
                    connection = None;
                }
            }
        }
    }
}

/// Basic mode has no smux: only the flood applies, as raw Output
/// interleaved with the destination's bytes.
fn start_hostile(
    settings: &PortSettings,
    kind: Hostile,
    output: &mpsc::Sender<PortOutput>,
) -> Option<Aborted> {
    let Hostile::Flood { bytes } = kind else {
        debug!(%kind, "no smux in basic mode; hostile behaviour ignored");
        return None;
    };
    debug!(bytes, "hostile flood");
    SessionCounters::add(&settings.counters.hostile_injections, 1);
    SessionCounters::add(&settings.counters.hostile_flood_bytes, bytes);
    Some(Aborted(tokio::spawn(pump_to_agent(
        FloodReader::new(bytes),
        output.clone(),
        settings.chunk_size,
        settings.pacing,
    ))))
}

/// A task stopped when this is dropped.
struct Aborted(JoinHandle<()>);

impl Drop for Aborted {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn connect(
    settings: &PortSettings,
    output: &mpsc::Sender<PortOutput>,
) -> Result<Connection, String> {
    let destination = &settings.destination;
    match targets::dial(&settings.policy, &destination.host, destination.port).await {
        Ok(stream) => {
            SessionCounters::add(&settings.counters.streams_opened, 1);
            Ok(spawn_reader(stream, settings, output.clone()))
        }
        Err(error) => {
            SessionCounters::add(&settings.counters.dial_failures, 1);
            Err(format!("Unable to connect to specified port: {error}"))
        }
    }
}

fn spawn_reader(
    stream: TcpStream,
    settings: &PortSettings,
    output: mpsc::Sender<PortOutput>,
) -> Connection {
    let (reader, writer) = stream.into_split();
    let reader = tokio::spawn(pump_to_agent(
        reader,
        output,
        settings.chunk_size,
        settings.pacing,
    ));
    Connection { writer, reader }
}
