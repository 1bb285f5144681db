//! A scripted client for driving ssm-sim in tests: our sans-IO protocol
//! core and smux client, pumped by hand over a real WebSocket.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use ssm_mux::{ReadOutcome, StreamId};
use ssm_proto::channel::ChannelConfig;
use ssm_proto::payload::{ChannelClosed, OpenDataChannel};
use ssm_proto::session::{ClientSession, SessionConfig, SessionEvent};
use ssm_sim::service::{
    PORT_DOCUMENT, REMOTE_HOST_DOCUMENT, StartSessionInput, StartSessionOutput,
};
use ssm_sim::{SimConfig, Simulator};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const TARGET: &str = "i-0123456789abcdef0";
pub const OLD_AGENT_TARGET: &str = "i-0old000000000000b";

pub async fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

pub fn echo_params() -> BTreeMap<String, Vec<String>> {
    [
        ("host", "echo.sim.internal"),
        ("portNumber", "7"),
        ("localPortNumber", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
    .collect()
}

pub fn start_echo_session(sim: &Simulator, target: &str) -> StartSessionOutput {
    sim.service()
        .start_session(StartSessionInput {
            target: target.into(),
            document_name: Some(REMOTE_HOST_DOCUMENT.into()),
            parameters: echo_params(),
            reason: None,
        })
        .expect("session starts")
}

pub fn start_port_session(sim: &Simulator, port: u16) -> StartSessionOutput {
    let parameters = [("portNumber".to_owned(), vec![port.to_string()])]
        .into_iter()
        .collect();
    sim.service()
        .start_session(StartSessionInput {
            target: TARGET.into(),
            document_name: Some(PORT_DOCUMENT.into()),
            parameters,
            reason: None,
        })
        .expect("session starts")
}

pub async fn open_socket(stream_url: &str, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(stream_url)
        .await
        .expect("websocket connects");
    let open = OpenDataChannel {
        message_schema_version: "1.0".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        token_value: token.into(),
        client_id: "test-client".into(),
        client_version: Some(ssm_proto::version::CLIENT_VERSION.into()),
    };
    ws.send(Message::Text(open.to_json().into()))
        .await
        .expect("open sent");
    ws
}

/// The client end: session core, optional smux client, socket.
pub struct TestClient {
    pub ws: Option<Ws>,
    pub session: ClientSession,
    pub mux: Option<ssm_mux::Session>,
    pub events: Vec<SessionEvent>,
    pub raw_output: Vec<u8>,
    pub closed: Option<ChannelClosed>,
    pub close_frame: Option<CloseFrame>,
    pub socket_gone: bool,
    pub chunk: usize,
}

impl TestClient {
    pub async fn connect(start: &StartSessionOutput, client_version: &str) -> Self {
        let ws = open_socket(&start.stream_url, &start.token_value).await;
        let config = SessionConfig {
            channel: ChannelConfig {
                pacing: None,
                ..ChannelConfig::client()
            },
            client_version: client_version.into(),
            ..SessionConfig::default()
        };
        let session =
            ClientSession::new(config, Instant::now(), 1_700_000_000_000, fastrand::u64(..));
        Self {
            ws: Some(ws),
            session,
            mux: None,
            events: Vec::new(),
            raw_output: Vec::new(),
            closed: None,
            close_frame: None,
            socket_gone: false,
            chunk: 1024,
        }
    }

    /// Connects and completes the handshake; starts an smux client in mux mode.
    pub async fn ready(start: &StartSessionOutput) -> Self {
        let mut client = Self::connect(start, ssm_proto::version::CLIENT_VERSION).await;
        assert!(
            client
                .pump_until(Duration::from_secs(10), |c| c.session.is_ready())
                .await,
            "handshake"
        );
        if let ssm_proto::version::PortMode::Mux { .. } = client.session.info().unwrap().mode {
            let config = ssm_mux::Config {
                keep_alive: None,
                ..ssm_mux::Config::default()
            };
            client.mux =
                Some(ssm_mux::Session::new(ssm_mux::Role::Client, config, Instant::now()).unwrap());
        }
        client
    }

    pub async fn reconnect(&mut self, stream_url: &str, token: &str) {
        self.ws = Some(open_socket(stream_url, token).await);
        self.socket_gone = false;
        self.close_frame = None;
        self.session.handle_reconnect();
    }

    /// Pumps until `done` or the timeout; returns whether `done` held.
    pub async fn pump_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            self.pump_once(deadline).await;
        }
    }

    async fn pump_once(&mut self, deadline: Instant) {
        self.flush().await;
        let wake = self
            .session
            .poll_timeout()
            .map_or(deadline, |t| t.min(deadline));
        let wake = wake.min(Instant::now() + Duration::from_millis(20));
        let message = match self.ws.as_mut() {
            Some(ws) if !self.socket_gone => {
                tokio::time::timeout_at(wake.into(), ws.next()).await.ok()
            }
            _ => {
                tokio::time::sleep_until(wake.into()).await;
                None
            }
        };
        let now = Instant::now();
        match message {
            Some(Some(Ok(Message::Binary(frame)))) => {
                let _ = self.session.handle_frame(now, &frame);
            }
            Some(Some(Ok(Message::Close(frame)))) => {
                self.close_frame = frame;
                self.socket_gone = true;
            }
            Some(None) | Some(Some(Err(_))) => self.socket_gone = true,
            _ => {}
        }
        self.session.handle_timeout(now);
        self.drain(now);
    }

    fn drain(&mut self, now: Instant) {
        while let Some(event) = self.session.poll_event() {
            if let SessionEvent::ChannelClosed(closed) = &event {
                self.closed = Some(closed.clone());
            }
            self.events.push(event);
        }
        while let Some(bytes) = self.session.poll_output(now) {
            match &mut self.mux {
                Some(mux) => {
                    let used = mux.handle_input(&bytes).expect("mux input");
                    assert_eq!(used, bytes.len(), "test mux budget exhausted");
                }
                None => self.raw_output.extend_from_slice(&bytes),
            }
        }
    }

    async fn flush(&mut self) {
        let now = Instant::now();
        if let Some(mux) = &mut self.mux {
            let mut pending = Vec::new();
            while let Some(frame) = mux.poll_transmit() {
                pending.extend_from_slice(&frame);
            }
            for chunk in pending.chunks(self.chunk) {
                self.session
                    .send_output(now, Bytes::copy_from_slice(chunk))
                    .expect("window");
            }
        }
        if self.socket_gone {
            return;
        }
        let Some(ws) = self.ws.as_mut() else { return };
        while let Some(frame) = self.session.poll_transmit(now) {
            if ws.send(Message::Binary(frame)).await.is_err() {
                self.socket_gone = true;
                return;
            }
        }
    }

    pub fn send_raw(&mut self, data: &[u8]) {
        for chunk in data.chunks(self.chunk) {
            self.session
                .send_output(Instant::now(), Bytes::copy_from_slice(chunk))
                .expect("window");
        }
    }

    pub fn open_stream(&mut self) -> StreamId {
        self.mux
            .as_mut()
            .expect("mux mode")
            .open()
            .expect("stream opens")
    }

    pub fn mux_write_all(&mut self, sid: StreamId, mut data: &[u8]) -> usize {
        let mux = self.mux.as_mut().expect("mux mode");
        let mut written = 0;
        while !data.is_empty() {
            let n = mux.write(sid, data).expect("write");
            if n == 0 {
                break;
            }
            written += n;
            data = &data[n..];
        }
        written
    }

    /// Reads what is available; Some(true) at EOF.
    pub fn mux_read(&mut self, sid: StreamId, into: &mut Vec<u8>) -> bool {
        let mux = self.mux.as_mut().expect("mux mode");
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match mux.read(sid, &mut buffer) {
                Ok(ReadOutcome::Data(n)) => into.extend_from_slice(&buffer[..n]),
                Ok(ReadOutcome::WouldBlock) => return false,
                Ok(ReadOutcome::Eof) | Err(_) => return true,
            }
        }
    }

    /// Echo through a new smux stream; returns what came back.
    pub async fn mux_echo(&mut self, data: &[u8], timeout: Duration) -> Vec<u8> {
        let sid = self.open_stream();
        let mut offset = 0;
        let mut received = Vec::new();
        let ok = self
            .pump_until(timeout, |c| {
                if offset < data.len() {
                    offset += c.mux_write_all(sid, &data[offset..]);
                }
                c.mux_read(sid, &mut received);
                received.len() >= data.len()
            })
            .await;
        assert!(
            ok,
            "echo timed out: {} of {} bytes",
            received.len(),
            data.len()
        );
        let _ = self.mux.as_mut().unwrap().close(sid);
        received
    }
}

pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}
