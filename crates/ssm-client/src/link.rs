//! One WebSocket connection of a session: a reader half polled by the
//! driver and a writer task fed through a bounded queue, so the driver
//! never blocks on a slow socket.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use ssm_proto::payload::OpenDataChannel;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tracing::debug;

use crate::config::{ClientConfig, WRITER_QUEUE};
use crate::error::{ConnectError, Error};
use crate::transport::{self, WsStream};

/// What the writer task sends.
#[derive(Debug)]
pub(crate) enum WsOut {
    Frame(Bytes),
    Text(String),
    Ping,
    Close,
}

/// A live data-channel socket.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) writer: mpsc::Sender<WsOut>,
    pub(crate) reader: SplitStream<WsStream>,
    writer_task: Option<JoinHandle<()>>,
}

impl Link {
    /// Connects and sends OpenDataChannel (fresh RequestId, our ClientId).
    pub(crate) async fn open(
        url: &str,
        token: &str,
        client_id: &str,
        config: &ClientConfig,
    ) -> Result<Self, Error> {
        let ws =
            transport::connect(url, config.allow_insecure_ws, &config.connect_deadlines).await?;
        let (sink, reader) = ws.split();
        let (writer, queue) = mpsc::channel(WRITER_QUEUE);
        let writer_task = tokio::spawn(write_loop(sink, queue));
        let open = OpenDataChannel {
            message_schema_version: OpenDataChannel::SCHEMA_VERSION.to_owned(),
            request_id: uuid::Uuid::new_v4().to_string(),
            token_value: token.to_owned(),
            client_id: client_id.to_owned(),
            client_version: Some(config.client_version.clone()),
        };
        writer
            .send(WsOut::Text(open.to_json()))
            .await
            .map_err(|_| Error::Connect(ConnectError::Closed))?;
        debug!(request_id = %open.request_id, "sent OpenDataChannel");
        Ok(Self {
            writer,
            reader,
            writer_task: Some(writer_task),
        })
    }

    /// True when the writer task has stopped (the socket failed).
    pub(crate) fn writer_gone(&self) -> bool {
        self.writer.is_closed()
    }

    /// Sends a close frame (best effort); the writer gets two seconds to
    /// deliver it before it is stopped.
    pub(crate) fn close(mut self) {
        let _ = self.writer.try_send(WsOut::Close);
        if let Some(task) = self.writer_task.take() {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                task.abort();
            });
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(task) = self.writer_task.take() {
            task.abort();
        }
    }
}

async fn write_loop(mut sink: SplitSink<WsStream, Message>, mut queue: mpsc::Receiver<WsOut>) {
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            let message = match item {
                WsOut::Frame(frame) => Message::Binary(frame),
                WsOut::Text(text) => Message::Text(text.into()),
                WsOut::Ping => Message::Ping(Bytes::from_static(b"keepalive")),
                WsOut::Close => {
                    let _ = sink.close().await;
                    return;
                }
            };
            if sink.feed(message).await.is_err() {
                return;
            }
            next = queue.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _ = sink.close().await;
}
