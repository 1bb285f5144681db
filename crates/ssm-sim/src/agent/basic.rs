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

use super::PortSettings;
use super::port::{PortHandle, PortInput, PortOutput, port_queues, pump_to_agent};
use crate::stats::SessionCounters;
use crate::targets;

/// Starts the basic plugin.
pub(crate) fn start(settings: PortSettings) -> PortHandle {
    let (input_tx, input_rx, output_tx, output_rx) = port_queues();
    let task = tokio::spawn(run(settings, input_rx, output_tx));
    PortHandle {
        input: input_tx,
        output: output_rx,
        tasks: vec![task],
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
    output: mpsc::Sender<PortOutput>,
) {
    let mut connection = match connect(&settings, &output).await {
        Ok(connection) => Some(connection),
        Err(text) => {
            let _ = output.send(PortOutput::Failed(text)).await;
            return;
        }
    };
    while let Some(item) = input.recv().await {
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
