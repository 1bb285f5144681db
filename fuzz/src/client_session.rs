//! Harness of the `client_session` target: one `ClientSession` and a scripted agent.

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use serde_json::json;
use ssm_proto::channel::{ChannelConfig, DataChannel};
use ssm_proto::payload::{ChannelClosed, Flag, HandshakeComplete};
use ssm_proto::session::{ClientSession, PORT_SESSION_TYPE, SessionConfig, SessionEvent};
use ssm_proto::{ClientMessage, MessageType, PayloadType, SendError};

use crate::seed::{Encode, Encoder};

const UNIX_MS: u64 = 1_700_000_000_000;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// One step.
#[derive(Debug, Arbitrary)]
pub enum Op {
    /// The agent sends a sequenced message; its frames reach the client
    /// unless `lose` (a later `Timeout` makes the agent resend).
    AgentSend {
        /// What it sends.
        payload: Payload,
        /// The first transmission is lost.
        lose: bool,
    },
    /// A one-off message with chosen header fields, not sequenced by the agent.
    Crafted {
        /// The message type.
        kind: Kind,
        /// The sequence number.
        seq: i8,
        /// The payload.
        payload: Payload,
    },
    /// Arbitrary bytes as a frame.
    Raw(Vec<u8>),
    /// The gateway ends the channel.
    Closed(String),
    /// The client's pending frames reach the agent.
    ClientToAgent,
    /// The agent's pending frames are lost.
    DropAgentFrames,
    /// Virtual time advances by this many milliseconds.
    Advance(u16),
    /// Jump to the earliest deadline of either side and run both timers.
    Timeout,
    /// The client's socket was replaced.
    Reconnect,
    /// The client stops or resumes accepting in-order data.
    SetAccepting(bool),
    /// The application sends Output bytes.
    SendOutput(Vec<u8>),
    /// The application sends a flag.
    SendFlag(u32),
    /// The application pulls up to this many Output payloads.
    PollOutput(u8),
}

/// The MessageType of a crafted message.
#[derive(Debug, Arbitrary)]
pub enum Kind {
    /// `output_stream_data`.
    Output,
    /// `input_stream_data` (wrong direction).
    Input,
    /// `acknowledge`.
    Ack,
    /// `pause_publication`.
    Pause,
    /// `start_publication`.
    Start,
    /// Any name.
    Other(String),
}

/// A payload and its PayloadType.
#[derive(Debug, Arbitrary)]
pub enum Payload {
    /// A well-formed HandshakeRequest.
    Request {
        /// `AgentVersion`.
        agent_version: Version,
        /// The SessionType action, if any.
        session_type: SessionType,
        /// Add a KMSEncryption action.
        kms: bool,
        /// Add an action with this name.
        extra_action: Option<String>,
        /// The `type` property (default `LocalPortForwarding`).
        port_type: Option<String>,
    },
    /// A HandshakeComplete.
    Complete {
        /// `HandshakeTimeToComplete`.
        nanos: i64,
        /// `CustomerMessage`.
        message: String,
    },
    /// A flag.
    Flag(u32),
    /// Output bytes.
    Output(Vec<u8>),
    /// Any bytes under PayloadType `payload_type % 16`.
    Any {
        /// Selects the PayloadType.
        payload_type: u8,
        /// The payload.
        bytes: Vec<u8>,
    },
}

/// The agent's version string.
#[derive(Debug, Arbitrary)]
pub enum Version {
    /// Mux mode, no smux keepalive.
    Mux,
    /// Basic mode.
    Basic,
    /// Mux mode with smux keepalive.
    Keepalive,
    /// Anything.
    Any(String),
}

/// The session type the agent asks for.
#[derive(Debug, Arbitrary)]
pub enum SessionType {
    /// `Port`.
    Port,
    /// `Standard_Stream` (refused).
    Shell,
    /// No SessionType action at all.
    Missing,
    /// Anything.
    Any(String),
}

impl Payload {
    fn build(self) -> (PayloadType, Bytes) {
        match self {
            Self::Request {
                agent_version,
                session_type,
                kms,
                extra_action,
                port_type,
            } => (
                PayloadType::HandshakeRequest,
                request(agent_version, session_type, kms, extra_action, port_type),
            ),
            Self::Complete { nanos, message } => {
                let complete = HandshakeComplete {
                    handshake_time_to_complete: nanos,
                    customer_message: message,
                };
                (PayloadType::HandshakeComplete, complete.to_bytes())
            }
            Self::Flag(value) => (PayloadType::Flag, Flag::from_u32(value).to_bytes()),
            Self::Output(bytes) => (PayloadType::Output, Bytes::from(bytes)),
            Self::Any {
                payload_type,
                bytes,
            } => (
                PayloadType::from_u32(u32::from(payload_type % 16)),
                Bytes::from(bytes),
            ),
        }
    }
}

impl Version {
    /// The `AgentVersion` string.
    pub(crate) fn text(&self) -> &str {
        match self {
            Self::Mux => "3.3.987.0",
            Self::Basic => "3.0.196.0",
            Self::Keepalive => "3.1.1511.0",
            Self::Any(text) => text,
        }
    }
}

fn request(
    version: Version,
    session_type: SessionType,
    kms: bool,
    extra_action: Option<String>,
    port_type: Option<String>,
) -> Bytes {
    let version = version.text();
    let mut actions = Vec::new();
    let properties = json!({
        "portNumber": "8118",
        "localPortNumber": "0",
        "type": port_type.unwrap_or_else(|| "LocalPortForwarding".to_owned()),
    });
    let session_type = match session_type {
        SessionType::Port => Some(PORT_SESSION_TYPE.to_owned()),
        SessionType::Shell => Some("Standard_Stream".to_owned()),
        SessionType::Missing => None,
        SessionType::Any(text) => Some(text),
    };
    if let Some(session_type) = session_type {
        actions.push(json!({
            "ActionType": "SessionType",
            "ActionParameters": {"SessionType": session_type, "Properties": properties},
        }));
    }
    if kms {
        actions.push(json!({
            "ActionType": "KMSEncryption",
            "ActionParameters": {"KMSKeyId": "k"},
        }));
    }
    if let Some(name) = extra_action {
        actions.push(json!({"ActionType": name, "ActionParameters": null}));
    }
    Bytes::from(json!({"AgentVersion": version, "RequestedClientActions": actions}).to_string())
}

struct Harness {
    client: ClientSession,
    agent: DataChannel,
    start: Instant,
    now: Instant,
    complete_seen: bool,
    ended_seen: bool,
    outputs: usize,
    agent_received: usize,
}

impl Harness {
    fn new(now: Instant) -> Self {
        let config = SessionConfig {
            channel: ChannelConfig {
                pacing: None,
                max_unacked: 8,
                ..ChannelConfig::client()
            },
            handshake_timeout: HANDSHAKE_TIMEOUT,
            ..SessionConfig::default()
        };
        let agent_config = ChannelConfig {
            pacing: None,
            ..ChannelConfig::agent()
        };
        Self {
            client: ClientSession::new(config, now, UNIX_MS, 3),
            agent: DataChannel::new(agent_config, now, UNIX_MS, 5),
            start: now,
            now,
            complete_seen: false,
            ended_seen: false,
            outputs: 0,
            agent_received: 0,
        }
    }

    fn agent_to_client(&mut self) {
        while let Some(frame) = self.agent.poll_transmit(self.now) {
            let _ = self.client.handle_frame(self.now, &frame);
        }
    }

    fn client_to_agent(&mut self) {
        while let Some(frame) = self.client.poll_transmit(self.now) {
            let message = match ClientMessage::decode(&frame) {
                Ok(message) => message,
                Err(error) => panic!("client frame does not decode: {error}"),
            };
            if message.message_type == MessageType::InputStreamData {
                assert_eq!(
                    message.sequence_number == 0,
                    message.payload_type == PayloadType::HandshakeResponse,
                    "seq 0 is the handshake response and only it: {message:?}"
                );
            } else {
                assert_eq!(message.message_type, MessageType::Acknowledge);
            }
            let _ = self.agent.handle_frame(self.now, &frame);
        }
        while self.agent.poll_delivery().is_some() {
            self.agent_received += 1;
        }
    }

    fn crafted(&mut self, kind: Kind, seq: i8, payload: Payload) {
        let kind = match kind {
            Kind::Output => MessageType::OutputStreamData,
            Kind::Input => MessageType::InputStreamData,
            Kind::Ack => MessageType::Acknowledge,
            Kind::Pause => MessageType::PausePublication,
            Kind::Start => MessageType::StartPublication,
            Kind::Other(name) => MessageType::from_name(&name),
        };
        let (payload_type, bytes) = payload.build();
        let message =
            self.agent
                .build_message(self.now, kind, i64::from(seq), 0, payload_type, bytes);
        let _ = self.client.handle_frame(self.now, &message.encode());
    }

    fn send(&mut self, result: Result<i64, SendError>) {
        match result {
            Ok(_) => assert!(
                self.complete_seen && !self.ended_seen,
                "sent before the handshake completed or after the end"
            ),
            Err(SendError::HandshakeIncomplete) => {
                assert!(!self.complete_seen && !self.ended_seen);
            }
            Err(SendError::SessionEnded) => assert!(self.ended_seen),
            Err(_) => assert!(self.client.is_ready()),
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::AgentSend { payload, lose } => {
                let (payload_type, bytes) = payload.build();
                let _ = self.agent.send(self.now, payload_type, bytes);
                if lose {
                    while self.agent.poll_transmit(self.now).is_some() {}
                }
                self.agent_to_client();
            }
            Op::Crafted { kind, seq, payload } => self.crafted(kind, seq, payload),
            Op::Raw(bytes) => {
                let _ = self.client.handle_frame(self.now, &bytes);
            }
            Op::Closed(output) => {
                let closed = ChannelClosed {
                    output,
                    ..ChannelClosed::default()
                };
                let message = self.agent.build_message(
                    self.now,
                    MessageType::ChannelClosed,
                    0,
                    0,
                    PayloadType::Undefined,
                    closed.to_bytes(),
                );
                let _ = self.client.handle_frame(self.now, &message.encode());
            }
            Op::ClientToAgent => self.client_to_agent(),
            Op::DropAgentFrames => while self.agent.poll_transmit(self.now).is_some() {},
            Op::Advance(ms) => self.now += Duration::from_millis(u64::from(ms)),
            Op::Timeout => {
                let deadline = match (self.client.poll_timeout(), self.agent.poll_timeout()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if let Some(deadline) = deadline {
                    self.now = self.now.max(deadline);
                }
                self.client.handle_timeout(self.now);
                self.agent.handle_timeout(self.now);
                self.agent_to_client();
            }
            Op::Reconnect => self.client.handle_reconnect(),
            Op::SetAccepting(accepting) => self.client.channel_mut().set_accepting(accepting),
            Op::SendOutput(data) => {
                let result = self.client.send_output(self.now, Bytes::from(data));
                self.send(result);
            }
            Op::SendFlag(value) => {
                let result = self.client.send_flag(self.now, Flag::from_u32(value));
                self.send(result);
            }
            Op::PollOutput(max) => {
                for _ in 0..max {
                    let ready = self.client.is_ready();
                    if self.client.poll_output(self.now).is_none() {
                        break;
                    }
                    assert!(ready, "output handed out before the handshake completed");
                    self.outputs += 1;
                }
            }
        }
        self.drain_events();
        self.check();
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.client.poll_event() {
            match event {
                SessionEvent::HandshakeComplete(info) => {
                    assert!(!self.complete_seen, "second HandshakeComplete");
                    assert!(!self.ended_seen, "HandshakeComplete after the end");
                    assert_eq!(info.session_type, PORT_SESSION_TYPE);
                    self.complete_seen = true;
                }
                SessionEvent::HandshakeFailed(_) | SessionEvent::ChannelClosed(_) => {
                    self.ended_seen = true;
                }
                SessionEvent::Flag(_) | SessionEvent::Paused | SessionEvent::Resumed => {}
            }
        }
    }

    fn check(&self) {
        assert_eq!(self.client.is_ended(), self.ended_seen);
        assert_eq!(
            self.client.is_ready(),
            self.complete_seen && !self.ended_seen
        );
        assert_eq!(self.client.info().is_some(), self.client.is_ready());
        let channel = self.client.channel();
        assert_eq!(
            channel.send_capacity() + channel.unacked(),
            channel.config().max_unacked
        );
    }

    fn check_deadline(&self) {
        if self.now >= self.start + HANDSHAKE_TIMEOUT && !self.complete_seen {
            assert!(
                self.client.is_ended(),
                "handshake deadline passed unnoticed"
            );
        }
    }
}

/// What a run achieved, so seeds can be checked to reach deep states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// A HandshakeComplete event was reported.
    pub completed: bool,
    /// The session ended (failed handshake or channel_closed).
    pub ended: bool,
    /// Output payloads handed to the application.
    pub outputs: usize,
    /// Sequenced messages the agent received from the client.
    pub agent_received: usize,
}

/// Runs one case, panicking on any broken invariant.
pub fn run(ops: Vec<Op>) -> Outcome {
    let mut harness = Harness::new(Instant::now());
    for op in ops {
        let timeout = matches!(op, Op::Timeout);
        harness.apply(op);
        if timeout {
            harness.check_deadline();
        }
    }
    harness.client_to_agent();
    harness.drain_events();
    harness.check();
    Outcome {
        completed: harness.complete_seen,
        ended: harness.ended_seen,
        outputs: harness.outputs,
        agent_received: harness.agent_received,
    }
}

impl Encode for Op {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 13;
        match self {
            Self::AgentSend { payload, lose } => {
                e.variant(0, COUNT);
                payload.encode(e);
                lose.encode(e);
            }
            Self::Crafted { kind, seq, payload } => {
                e.variant(1, COUNT);
                kind.encode(e);
                seq.encode(e);
                payload.encode(e);
            }
            Self::Raw(bytes) => {
                e.variant(2, COUNT);
                bytes.encode(e);
            }
            Self::Closed(output) => {
                e.variant(3, COUNT);
                output.encode(e);
            }
            Self::ClientToAgent => e.variant(4, COUNT),
            Self::DropAgentFrames => e.variant(5, COUNT),
            Self::Advance(ms) => {
                e.variant(6, COUNT);
                ms.encode(e);
            }
            Self::Timeout => e.variant(7, COUNT),
            Self::Reconnect => e.variant(8, COUNT),
            Self::SetAccepting(accepting) => {
                e.variant(9, COUNT);
                accepting.encode(e);
            }
            Self::SendOutput(data) => {
                e.variant(10, COUNT);
                data.encode(e);
            }
            Self::SendFlag(value) => {
                e.variant(11, COUNT);
                value.encode(e);
            }
            Self::PollOutput(max) => {
                e.variant(12, COUNT);
                max.encode(e);
            }
        }
    }
}

impl Encode for Kind {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 6;
        match self {
            Self::Output => e.variant(0, COUNT),
            Self::Input => e.variant(1, COUNT),
            Self::Ack => e.variant(2, COUNT),
            Self::Pause => e.variant(3, COUNT),
            Self::Start => e.variant(4, COUNT),
            Self::Other(name) => {
                e.variant(5, COUNT);
                name.encode(e);
            }
        }
    }
}

impl Encode for Payload {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 5;
        match self {
            Self::Request {
                agent_version,
                session_type,
                kms,
                extra_action,
                port_type,
            } => {
                e.variant(0, COUNT);
                agent_version.encode(e);
                session_type.encode(e);
                kms.encode(e);
                extra_action.encode(e);
                port_type.encode(e);
            }
            Self::Complete { nanos, message } => {
                e.variant(1, COUNT);
                nanos.encode(e);
                message.encode(e);
            }
            Self::Flag(value) => {
                e.variant(2, COUNT);
                value.encode(e);
            }
            Self::Output(bytes) => {
                e.variant(3, COUNT);
                bytes.encode(e);
            }
            Self::Any {
                payload_type,
                bytes,
            } => {
                e.variant(4, COUNT);
                payload_type.encode(e);
                bytes.encode(e);
            }
        }
    }
}

impl Encode for Version {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 4;
        match self {
            Self::Mux => e.variant(0, COUNT),
            Self::Basic => e.variant(1, COUNT),
            Self::Keepalive => e.variant(2, COUNT),
            Self::Any(text) => {
                e.variant(3, COUNT);
                text.encode(e);
            }
        }
    }
}

impl Encode for SessionType {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 4;
        match self {
            Self::Port => e.variant(0, COUNT),
            Self::Shell => e.variant(1, COUNT),
            Self::Missing => e.variant(2, COUNT),
            Self::Any(text) => {
                e.variant(3, COUNT);
                text.encode(e);
            }
        }
    }
}
