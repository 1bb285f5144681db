//! The simulated message gateway: the data-channel WebSocket endpoint.
//!
//! Clients connect to `/v1/data-channel/<SessionId>` (any query string),
//! send the OpenDataChannel text frame with a token issued by
//! StartSession or ResumeSession (each token opens one socket), and then
//! exchange binary messages with the session's agent. A bad token or a
//! missing OpenDataChannel closes the socket with 1008. The gateway
//! answers nothing to OpenDataChannel, as the real service does.
//! Realism and fault knobs (latency, rate limit, recycling, drops…) are
//! applied here, per connection.

mod connection;
mod faults;
pub mod network;
pub mod policy;
mod rate;

pub(crate) use connection::publication_notice;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ssm_proto::payload::OpenDataChannel;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{Instrument, debug, debug_span, info};

use crate::config::SimConfig;
use crate::limits::MAX_WS_MESSAGE;
use crate::registry::Registry;
use network::NetworkGate;

/// How long a client has to send OpenDataChannel.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Path prefix of data-channel sockets.
const PATH_PREFIX: &str = "/v1/data-channel/";

/// Accepts data-channel sockets until the listener fails or the task is
/// dropped; `network` decides whether each new one gets through.
pub async fn serve(
    listener: TcpListener,
    config: Arc<SimConfig>,
    registry: Arc<Registry>,
    network: Arc<NetworkGate>,
) {
    while let Ok((socket, peer)) = listener.accept().await {
        let _ = socket.set_nodelay(true);
        let span = debug_span!("gateway", %peer);
        let config = config.clone();
        let registry = registry.clone();
        let network = network.clone();
        let connection = async move {
            if let Some(socket) = network.admit(socket).await {
                handle(socket, config, registry).await;
            }
        };
        tokio::spawn(connection.instrument(span));
    }
}

async fn handle(socket: TcpStream, config: Arc<SimConfig>, registry: Arc<Registry>) {
    let mut session_id = None;
    #[allow(clippy::result_large_err)] // the error type is tungstenite's callback contract
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        match request.uri().path().strip_prefix(PATH_PREFIX) {
            Some(id) if !id.is_empty() && !id.contains('/') => {
                session_id = Some(id.to_owned());
                Ok(response)
            }
            _ => {
                let mut refusal = ErrorResponse::new(Some("unknown path".into()));
                *refusal.status_mut() = StatusCode::NOT_FOUND;
                Err(refusal)
            }
        }
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE));
    let ws =
        match tokio_tungstenite::accept_hdr_async_with_config(socket, callback, Some(ws_config))
            .await
        {
            Ok(ws) => ws,
            Err(error) => return debug!(%error, "websocket upgrade failed"),
        };
    let Some(session_id) = session_id else { return };
    let span = debug_span!("channel", session = %session_id);
    authenticate_and_relay(ws, session_id, config, registry)
        .instrument(span)
        .await;
}

async fn authenticate_and_relay(
    mut ws: WebSocketStream<TcpStream>,
    session_id: String,
    config: Arc<SimConfig>,
    registry: Arc<Registry>,
) {
    let Some(open) = read_open_data_channel(&mut ws).await else {
        return refuse(ws, "expected OpenDataChannel").await;
    };
    if !registry.consume_token(&session_id, &open.token_value) {
        return refuse(ws, "authentication failed").await;
    }
    let Some((agent, counters)) =
        registry.with(&session_id, |r| (r.agent.clone(), r.counters.clone()))
    else {
        return refuse(ws, "no such session").await;
    };
    info!(client_id = %open.client_id, client_version = ?open.client_version, "client connected");
    connection::Connection::new(ws, agent, counters, &config)
        .run()
        .await;
}

/// Waits (up to [`OPEN_TIMEOUT`]) for the OpenDataChannel text frame.
/// Pings and pongs may come first: the official plugin sends its first
/// "keepalive" ping as soon as the socket opens, racing the token
/// (tungstenite answers the ping itself). Anything else first is refused.
async fn read_open_data_channel(ws: &mut WebSocketStream<TcpStream>) -> Option<OpenDataChannel> {
    let first_data = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return other,
            }
        }
    };
    match tokio::time::timeout(OPEN_TIMEOUT, first_data).await {
        Ok(Some(Ok(Message::Text(text)))) => OpenDataChannel::from_json(&text).ok(),
        _ => None,
    }
}

async fn refuse(mut ws: WebSocketStream<TcpStream>, reason: &str) {
    debug!(reason, "refusing data channel");
    let frame = CloseFrame {
        code: 1008.into(),
        reason: reason.into(),
    };
    let _ = ws.send(Message::Close(Some(frame))).await;
    let _ = ws.close(None).await;
}
