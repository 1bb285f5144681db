//! A scripted client for driving ssm-sim in tests: our sans-IO protocol
//! core and smux client, pumped by hand over a real WebSocket.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use ssm_mux::{ReadOutcome, StreamId};
use ssm_proto::channel::ChannelConfig;
use ssm_proto::message::{ClientMessage, MessageType, PayloadType};
use ssm_proto::payload::{
    AcknowledgeContent, ActionStatus, ActionType, ChannelClosed, HandshakeResponse,
    OpenDataChannel, ProcessedClientAction,
};
use ssm_proto::session::{ClientSession, SessionConfig, SessionEvent};
use ssm_sim::service::{
    PORT_DOCUMENT, REMOTE_HOST_DOCUMENT, Service, StartSessionInput, StartSessionOutput,
};
use ssm_sim::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
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

/// Parameters of the remote-host port document.
pub fn remote_params(host: &str, port: u16) -> BTreeMap<String, Vec<String>> {
    [
        ("host", host.to_owned()),
        ("portNumber", port.to_string()),
        ("localPortNumber", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), vec![v]))
    .collect()
}

/// A remote-host port session to `host:port` on `target`.
pub fn start_remote_session(
    sim: &Simulator,
    target: &str,
    host: &str,
    port: u16,
) -> StartSessionOutput {
    sim.service()
        .start_session(StartSessionInput {
            target: target.into(),
            document_name: Some(REMOTE_HOST_DOCUMENT.into()),
            parameters: remote_params(host, port),
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
    /// Largest Output payload received from the agent.
    pub max_output_payload: usize,
    /// Output messages received from the agent (in order, once each).
    pub output_messages: u64,
    /// One entry per lost socket: its close frame, or `None` when it
    /// went away without one (abrupt close).
    pub disconnects: Vec<Option<CloseFrame>>,
    /// When set, [`Self::pump_until`] resumes the session and reconnects
    /// as soon as the socket is lost (unless the channel was closed).
    pub auto_resume: Option<AutoResume>,
}

/// What [`TestClient`] needs to resume its session on its own.
pub struct AutoResume {
    pub service: Service,
    pub session_id: String,
    pub stream_url: String,
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
            max_output_payload: 0,
            output_messages: 0,
            disconnects: Vec::new(),
            auto_resume: None,
        }
    }

    /// Makes [`Self::pump_until`] call ResumeSession and reconnect after
    /// every lost socket.
    pub fn resume_automatically(&mut self, sim: &Simulator, start: &StartSessionOutput) {
        self.auto_resume = Some(AutoResume {
            service: sim.service().clone(),
            session_id: start.session_id.clone(),
            stream_url: start.stream_url.clone(),
        });
    }

    /// ResumeSession plus a new socket, as a real client does after a loss.
    pub async fn resume(&mut self, sim: &Simulator, start: &StartSessionOutput) {
        let resumed = sim
            .service()
            .resume_session(&start.session_id)
            .expect("resume succeeds");
        let token = resumed.token_value.expect("session is still live");
        self.reconnect(&start.stream_url, &token).await;
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
            self.maybe_resume().await;
            self.pump_once(deadline).await;
        }
    }

    async fn maybe_resume(&mut self) {
        if !self.socket_gone || self.closed.is_some() {
            return;
        }
        let Some(auto) = &self.auto_resume else {
            return;
        };
        let token = auto
            .service
            .resume_session(&auto.session_id)
            .ok()
            .and_then(|resumed| resumed.token_value);
        if let Some(token) = token {
            let url = auto.stream_url.clone();
            self.reconnect(&url, &token).await;
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
                self.disconnects.push(frame.clone());
                self.close_frame = frame;
                self.socket_gone = true;
            }
            Some(None) | Some(Some(Err(_))) => {
                self.disconnects.push(None);
                self.socket_gone = true;
            }
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
            self.output_messages += 1;
            self.max_output_payload = self.max_output_payload.max(bytes.len());
            match &mut self.mux {
                Some(mux) => {
                    let used = mux.handle_input(&bytes).expect("mux input");
                    assert_eq!(used, bytes.len(), "test mux budget exhausted");
                }
                None => self.raw_output.extend_from_slice(&bytes),
            }
        }
    }

    /// Moves smux output into the session and writes pending frames
    /// (only the first step while the socket is gone).
    pub async fn flush(&mut self) {
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
                // The read side reports the loss (and any close frame
                // already received); the frame stays unacked and is resent.
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

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |elapsed| elapsed.as_millis() as u64)
}

/// A hand-driven client that builds every message itself, for tests that
/// need to break the rules (early data, duplicates, gaps) or to look at
/// raw frames. Sequence numbers are chosen by the test.
pub struct RawClient {
    pub ws: Ws,
    /// Every binary frame received, undecoded.
    pub frames: Vec<Bytes>,
    /// Sequence numbers the agent acknowledged, in arrival order.
    pub acks: Vec<i64>,
    /// Agent stream messages by sequence number (first copy of each).
    pub stream: BTreeMap<i64, ClientMessage>,
    /// The raw channel_closed frame, once received.
    pub closed_frame: Option<Bytes>,
    pub socket_gone: bool,
    /// Ack every agent stream message (as a real client does).
    pub auto_ack: bool,
}

impl RawClient {
    pub async fn connect(start: &StartSessionOutput) -> Self {
        Self {
            ws: open_socket(&start.stream_url, &start.token_value).await,
            frames: Vec::new(),
            acks: Vec::new(),
            stream: BTreeMap::new(),
            closed_frame: None,
            socket_gone: false,
            auto_ack: true,
        }
    }

    /// An `input_stream_data` message with the given fields, encoded.
    pub fn data_frame(seq: i64, payload_type: PayloadType, payload: &[u8]) -> Bytes {
        ClientMessage::new(
            MessageType::InputStreamData,
            unix_ms(),
            seq,
            0,
            uuid::Uuid::new_v4(),
            payload_type,
            Bytes::copy_from_slice(payload),
        )
        .encode()
    }

    pub async fn send_frame(&mut self, frame: Bytes) {
        self.ws
            .send(Message::Binary(frame))
            .await
            .expect("frame sent");
    }

    /// Sends one stream message; returns its frame (to send it again).
    pub async fn send_data(
        &mut self,
        seq: i64,
        payload_type: PayloadType,
        payload: &[u8],
    ) -> Bytes {
        let frame = Self::data_frame(seq, payload_type, payload);
        self.send_frame(frame.clone()).await;
        frame
    }

    /// Sends a successful HandshakeResponse with `seq`.
    pub async fn send_handshake_response(&mut self, seq: i64, client_version: &str) {
        let response = HandshakeResponse {
            client_version: client_version.into(),
            processed_client_actions: vec![ProcessedClientAction {
                action_type: ActionType::SessionType,
                action_status: ActionStatus::Success,
                action_result: serde_json::Value::Null,
                error: String::new(),
            }],
            errors: None,
        };
        self.send_data(seq, PayloadType::HandshakeResponse, &response.to_bytes())
            .await;
    }

    async fn ack(&mut self, message: &ClientMessage) {
        let content = AcknowledgeContent::for_message(message);
        let ack = ClientMessage::new(
            MessageType::Acknowledge,
            unix_ms(),
            0,
            ssm_proto::message::FLAGS_ACK,
            uuid::Uuid::new_v4(),
            PayloadType::Undefined,
            content.to_bytes(),
        );
        let _ = self.ws.send(Message::Binary(ack.encode())).await;
    }

    /// Reads one frame (up to `timeout`); false on timeout or a lost socket.
    pub async fn recv(&mut self, timeout: Duration) -> bool {
        if self.socket_gone {
            return false;
        }
        let frame = match tokio::time::timeout(timeout, self.ws.next()).await {
            Err(_) => return false,
            Ok(Some(Ok(Message::Binary(frame)))) => frame,
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                self.socket_gone = true;
                return false;
            }
            Ok(Some(Ok(_))) => return true,
        };
        self.frames.push(frame.clone());
        let Ok(message) = ClientMessage::decode(&frame) else {
            return true;
        };
        match message.message_type {
            MessageType::Acknowledge => {
                if let Ok(content) = AcknowledgeContent::from_bytes(&message.payload) {
                    self.acks.push(content.acknowledged_message_sequence_number);
                }
            }
            MessageType::OutputStreamData => {
                if self.auto_ack {
                    self.ack(&message).await;
                }
                self.stream
                    .entry(message.sequence_number)
                    .or_insert(message);
            }
            MessageType::ChannelClosed => self.closed_frame = Some(frame),
            _ => {}
        }
        true
    }

    /// Reads frames until `done` holds or `timeout` passes.
    pub async fn recv_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || (!self.recv(left).await && self.socket_gone) {
                return done(self);
            }
        }
    }

    /// True once an agent stream message with this payload type arrived.
    pub fn has(&self, payload_type: PayloadType) -> bool {
        self.stream.values().any(|m| m.payload_type == payload_type)
    }

    /// Waits for the HandshakeRequest (acking it when `auto_ack`).
    pub async fn await_handshake_request(&mut self) {
        assert!(
            self.recv_until(Duration::from_secs(5), |c| c
                .has(PayloadType::HandshakeRequest))
                .await,
            "no HandshakeRequest"
        );
    }

    /// Runs the handshake with our HandshakeResponse as seq 0; the next
    /// free sequence number is then 1.
    pub async fn handshake(&mut self, client_version: &str) {
        self.await_handshake_request().await;
        self.send_handshake_response(0, client_version).await;
        assert!(
            self.recv_until(Duration::from_secs(5), |c| c
                .has(PayloadType::HandshakeComplete))
                .await,
            "no HandshakeComplete"
        );
    }

    /// How many acks arrived for `seq`.
    pub fn acks_for(&self, seq: i64) -> usize {
        self.acks.iter().filter(|&&s| s == seq).count()
    }

    /// Output payload bytes of the contiguous in-order prefix of agent messages.
    pub fn output_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (expected, (&seq, message)) in self.stream.iter().enumerate() {
            if seq != expected as i64 {
                break;
            }
            if message.payload_type == PayloadType::Output {
                out.extend_from_slice(&message.payload);
            }
        }
        out
    }
}

/// What a [`TestDestination`] saw on one accepted connection.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DestConnection {
    pub data: Vec<u8>,
    pub eof: bool,
}

#[derive(Debug)]
enum DestEvent {
    Accepted(usize),
    Data(usize, Vec<u8>),
    Eof(usize),
}

/// A loopback TCP server that records every connection the agent makes.
/// With `first_reply`, it answers the first read of its first connection
/// with those bytes and then closes that connection.
pub struct TestDestination {
    pub addr: SocketAddr,
    pub connections: Vec<DestConnection>,
    events: mpsc::UnboundedReceiver<DestEvent>,
    task: JoinHandle<()>,
}

impl TestDestination {
    pub async fn start(first_reply: Option<Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut index = 0;
            while let Ok((socket, _)) = listener.accept().await {
                let _ = tx.send(DestEvent::Accepted(index));
                let reply = if index == 0 {
                    first_reply.clone()
                } else {
                    None
                };
                tokio::spawn(serve_destination(socket, index, reply, tx.clone()));
                index += 1;
            }
        });
        Self {
            addr,
            connections: Vec::new(),
            events,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Takes in what happened since the last call; returns the connections.
    pub fn poll(&mut self) -> &[DestConnection] {
        while let Ok(event) = self.events.try_recv() {
            match event {
                DestEvent::Accepted(i) => {
                    self.connections.resize_with(i + 1, DestConnection::default)
                }
                DestEvent::Data(i, bytes) => self.connections[i].data.extend_from_slice(&bytes),
                DestEvent::Eof(i) => self.connections[i].eof = true,
            }
        }
        &self.connections
    }
}

impl Drop for TestDestination {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_destination(
    mut socket: TcpStream,
    index: usize,
    mut reply: Option<Vec<u8>>,
    events: mpsc::UnboundedSender<DestEvent>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => {
                let _ = events.send(DestEvent::Eof(index));
                return;
            }
            Ok(n) => {
                let _ = events.send(DestEvent::Data(index, buffer[..n].to_vec()));
                if let Some(reply) = reply.take() {
                    let _ = socket.write_all(&reply).await;
                    return; // dropping the socket closes it
                }
            }
        }
    }
}
