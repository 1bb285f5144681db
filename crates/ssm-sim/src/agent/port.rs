//! The interface between the agent task and its port plugin (mux, basic
//! or the shell stand-in), which runs as separate tasks.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::DestinationConfig;
use crate::hostile::{Hostile, fill_flood};
use crate::stats::SessionCounters;

/// Depth of the queues between agent and plugin, in messages.
pub(crate) const PORT_QUEUE: usize = 64;

/// Where a port session connects.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// What a port plugin needs.
#[derive(Debug)]
pub(crate) struct PortSettings {
    pub(crate) destination: Destination,
    pub(crate) policy: DestinationConfig,
    pub(crate) chunk_size: usize,
    pub(crate) pacing: Duration,
    pub(crate) counters: Arc<SessionCounters>,
}

/// What the agent hands to the plugin.
#[derive(Debug)]
pub(crate) enum PortInput {
    /// Output bytes from the client, in order.
    Data(Bytes),
    /// DisconnectToPort from the client (basic mode).
    Disconnect,
}

/// What the plugin hands to the agent.
#[derive(Debug)]
pub(crate) enum PortOutput {
    /// Bytes to send to the client as Output.
    Data(Bytes),
    /// A dial for a new smux stream failed: send ConnectToPortError.
    ConnectError,
    /// The plugin cannot go on; the session fails with this text.
    Failed(String),
}

/// A running plugin. Dropping it stops the plugin's tasks.
#[derive(Debug)]
pub(crate) struct PortHandle {
    pub(crate) input: mpsc::Sender<PortInput>,
    pub(crate) output: mpsc::Receiver<PortOutput>,
    pub(crate) tasks: Vec<JoinHandle<()>>,
    /// Hostile output to produce ([`Hostile::is_plugin_output`] kinds);
    /// `None` for plugins that produce none (the shell stand-in).
    pub(crate) hostile: Option<mpsc::UnboundedSender<Hostile>>,
}

impl Drop for PortHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Queues for a new plugin: the agent's ends and the plugin's ends.
pub(crate) fn port_queues() -> (
    mpsc::Sender<PortInput>,
    mpsc::Receiver<PortInput>,
    mpsc::Sender<PortOutput>,
    mpsc::Receiver<PortOutput>,
) {
    let (input_tx, input_rx) = mpsc::channel(PORT_QUEUE);
    let (output_tx, output_rx) = mpsc::channel(PORT_QUEUE);
    (input_tx, input_rx, output_tx, output_rx)
}

/// Reads `reader` in chunks of at most `chunk` bytes and forwards them
/// as [`PortOutput::Data`], at most one chunk per `pacing` interval (the
/// real agent sleeps 1 ms after each read). The schedule is kept on a
/// running deadline rather than by sleeping after every send, because
/// tokio's millisecond timer would otherwise stretch each 1 ms sleep to
/// nearly 2 ms; an idle reader earns no burst credit. Ends at EOF, on
/// error, or when the agent is gone.
pub(crate) async fn pump_to_agent<R: AsyncRead + Unpin>(
    mut reader: R,
    output: mpsc::Sender<PortOutput>,
    chunk: usize,
    pacing: Duration,
) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; chunk.max(1)];
    let mut next_send = tokio::time::Instant::now();
    loop {
        let read = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if !pacing.is_zero() {
            next_send = next_send.max(tokio::time::Instant::now());
            tokio::time::sleep_until(next_send).await;
            next_send += pacing;
        }
        let data = Bytes::copy_from_slice(&buffer[..read]);
        if output.send(PortOutput::Data(data)).await.is_err() {
            return;
        }
    }
}

/// The bytes of a hostile flood ([`crate::hostile::flood_byte`] from
/// offset 0), as a reader for [`pump_to_agent`].
#[derive(Debug)]
pub(crate) struct FloodReader {
    offset: u64,
    end: u64,
}

impl FloodReader {
    pub(crate) fn new(bytes: u64) -> Self {
        Self {
            offset: 0,
            end: bytes,
        }
    }
}

impl AsyncRead for FloodReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let left = usize::try_from(self.end - self.offset).unwrap_or(usize::MAX);
        let take = left.min(buf.remaining());
        fill_flood(self.offset, buf.initialize_unfilled_to(take));
        buf.advance(take);
        self.offset += take as u64;
        Poll::Ready(Ok(()))
    }
}
