//! Harness of the `client_driver` target: the whole client session core of
//! `ssm-client` (protocol core, smux client, stream slots, basic mode,
//! upload and download pumping, receive caps) driven the way its driver
//! task and streams drive it, against a scripted agent and gateway, in
//! virtual time.
//!
//! The agent is a real agent-role `DataChannel` from `ssm-proto` with a
//! real server-role smux `Session` from `ssm-mux` behind it (mux mode) or
//! a raw byte stream (basic mode); the fuzzer chooses what it sends and
//! when, and mixes in hostile gateway traffic (crafted and raw frames,
//! fake acks, replays, reordering, pause/start, channel_closed), socket
//! losses, timers and the application's stream operations. Application
//! tasks are modelled by wakers that record whether they were woken.
//!
//! The driver's connection rules (pings, dead-socket detection, resume
//! backoff, the terminate grace) are the client's own, carried out as its
//! driver does: the gateway answers every ping, and every resume attempt
//! succeeds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use serde_json::json;
use ssm_client::fuzzing::{Action, Client, Limits, StreamRef, WRITER_QUEUE};
use ssm_client::{ClientConfig, EndReason, PortMode};
use ssm_mux::frame::{Cmd, FrameHeader, MAX_PAYLOAD_LEN, UPD_PAYLOAD_LEN};
use ssm_mux::{KeepAlive, ReadOutcome, Role, SessionError, StreamId};
use ssm_proto::channel::{ChannelConfig, DataChannel, PacingConfig};
use ssm_proto::payload::{AcknowledgeContent, ChannelClosed, Flag, HandshakeComplete};
use ssm_proto::session::PORT_SESSION_TYPE;
use ssm_proto::version::client_port_mode;
use ssm_proto::{ClientMessage, MessageType, PayloadType};

use crate::client_session::{Kind, SessionType, Version};
use crate::seed::{Encode, Encoder};
use crate::smux_session::FrameCmd;

const UNIX_MS: u64 = 1_700_000_000_000;
/// Most bytes one `Write`/`AgentWrite`/`AgentBytes` adds.
const MAX_OP_BYTES: usize = 1 << 16;
/// Streams the application keeps handles to.
const MAX_STREAMS: usize = 16;
/// Rounds of `Settle` before giving up on quiescence.
const SETTLE_ROUNDS: usize = 256;
/// Buffer of a reader task woken during `Settle`.
const SETTLE_READ: usize = 4096;
/// Rounds of exchange and timers at the end before giving up on delivery.
const DRAIN_ROUNDS: usize = 64;
/// ... or rounds in a row that move nothing.
const IDLE_ROUNDS: usize = 4;
/// Most messages one op makes a side send (each costs a SHA-256).
const MAX_MESSAGES: usize = 256;

/// One fuzz case: the client's limits, then the operations.
#[derive(Debug, Arbitrary)]
pub struct Input {
    /// The limits.
    pub setup: Setup,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

/// Limits of the client and the agent.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Setup {
    /// Largest Output payload the client sends: this % 1024 + 1.
    pub chunk_size: u16,
    /// The client's window: this % 32 + 1 messages.
    pub max_unacked: u8,
    /// Pace the client's data messages (900/s).
    pub paced: bool,
    /// Session-wide receive cap: this + 1 bytes.
    pub session_receive: u16,
    /// Per-stream receive cap: this + 1 bytes (at most the session's).
    pub stream_receive: u16,
    /// The client's delivery queue: this + 1 bytes.
    pub max_delivery: u16,
    /// The agent's smux `max_frame_size`: this % 4096 + 1.
    pub agent_frame: u16,
}

/// The `type` property of the agent's port document.
#[derive(Debug, Arbitrary)]
pub enum PortType {
    /// `LocalPortForwarding` (mux or basic mode by version).
    Local,
    /// None (stream mode).
    Missing,
    /// Anything.
    Any(String),
}

/// One step.
#[derive(Debug, Arbitrary)]
pub enum Op {
    /// The agent sends a HandshakeRequest.
    Request {
        /// `AgentVersion`.
        version: Version,
        /// The SessionType action.
        session_type: SessionType,
        /// Add a KMSEncryption action.
        kms: bool,
        /// The port `type` property.
        port_type: PortType,
    },
    /// The agent sends HandshakeComplete.
    Complete,
    /// The agent sends a flag.
    AgentFlag(u32),
    /// The agent sends any payload under PayloadType `payload_type % 16`.
    AgentPayload {
        /// Selects the PayloadType.
        payload_type: u8,
        /// The payload.
        bytes: Vec<u8>,
    },
    /// The agent's smux opens a stream (the client refuses it).
    AgentOpen,
    /// The agent's smux writes to one of its streams.
    AgentWrite {
        /// Which stream, by index.
        stream: u8,
        /// The data.
        data: Vec<u8>,
        /// Written this many more times.
        repeat: u8,
    },
    /// The agent's smux closes one of its streams.
    AgentClose {
        /// Which stream, by index.
        stream: u8,
    },
    /// A well-formed smux frame behind the agent's smux session's back.
    AgentFrame {
        /// Its command.
        cmd: FrameCmd,
        /// Its stream id.
        sid: u8,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// Raw bytes on the agent's Output stream (basic-mode data; garbage
    /// in mux mode).
    AgentBytes {
        /// The bytes.
        data: Vec<u8>,
        /// Added this many more times.
        repeat: u8,
    },
    /// The agent sends its pending Output in messages of `chunk % 1024 + 1` bytes.
    AgentFlush {
        /// Message size.
        chunk: u16,
    },
    /// The gateway closes the channel.
    Closed(String),
    /// The gateway pauses (false) or restarts (true) our publication.
    Publication(bool),
    /// An unsequenced message with chosen header fields.
    Crafted {
        /// MessageType.
        kind: Kind,
        /// Sequence number.
        seq: i8,
        /// PayloadType `payload_type % 16`.
        payload_type: u8,
        /// Payload.
        bytes: Vec<u8>,
    },
    /// An ack the agent never sent, for the client's message `seq`.
    FakeAck(i8),
    /// Arbitrary bytes as a binary message.
    Raw(Vec<u8>),
    /// One of the agent's recent frames again.
    Replay(u8),
    /// The driver reads up to `count` messages (it stops while input is
    /// held), each the one at index `skip` of those in flight.
    Deliver {
        /// How many.
        count: u8,
        /// Which one (reordering).
        skip: u8,
    },
    /// The messages in flight to the client are lost.
    DropToClient,
    /// The writer task sends up to this many queued frames to the agent.
    Flush(u8),
    /// Everything in flight both ways arrives, a few rounds.
    Exchange,
    /// The socket is lost (frames in flight both ways with it).
    SocketLost,
    /// The driver resumes on a new socket.
    Resume,
    /// Virtual time advances by this many milliseconds.
    Advance(u16),
    /// Jump to the earliest timer of the client or agent and run them.
    Timeout,
    /// A new task calls `Session::open_stream`.
    Open,
    /// Every task waiting in `open_stream` is polled again (woken or not).
    PollOpeners,
    /// A task waiting in `open_stream` drops the future.
    AbandonOpener(u8),
    /// A stream's reader task reads up to `len % 8192 + 1` bytes.
    Read {
        /// Which stream, by index.
        stream: u8,
        /// Buffer size.
        len: u16,
    },
    /// A stream's writer task writes (all of it, as `write_all`).
    Write {
        /// Which stream, by index.
        stream: u8,
        /// The data.
        data: Vec<u8>,
        /// Written this many more times.
        repeat: u8,
    },
    /// A stream is shut down (or dropped).
    Close {
        /// Which stream, by index.
        stream: u8,
    },
    /// Woken tasks run until none is; then no task that is waiting could
    /// make progress (no lost wakeup).
    Settle,
    /// `Session::terminate` (or the last handle dropped).
    Terminate,
}

/// A HandshakeRequest; `port_type: None` leaves the `type` property out.
fn request(version: &str, session_type: SessionType, kms: bool, port_type: Option<&str>) -> Bytes {
    let mut properties = json!({"portNumber": "8118", "localPortNumber": "0"});
    if let Some(port_type) = port_type {
        properties["type"] = json!(port_type);
    }
    let session_type = match session_type {
        SessionType::Port => Some(PORT_SESSION_TYPE.to_owned()),
        SessionType::Shell => Some("Standard_Stream".to_owned()),
        SessionType::Missing => None,
        SessionType::Any(text) => Some(text),
    };
    let mut actions = Vec::new();
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
    Bytes::from(json!({"AgentVersion": version, "RequestedClientActions": actions}).to_string())
}

/// Records whether a task was woken.
#[derive(Debug, Default)]
struct WakeFlag(AtomicBool);

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One application task: woken flag, and whether it waits (its last poll
/// returned `Pending`).
#[derive(Debug, Default)]
struct Task {
    flag: Arc<WakeFlag>,
    waiting: bool,
}

impl Task {
    /// The waker for a poll now (clears the woken flag).
    fn waker(&self) -> Waker {
        self.flag.0.store(false, Ordering::Relaxed);
        Waker::from(self.flag.clone())
    }

    fn woken(&self) -> bool {
        self.flag.0.load(Ordering::Relaxed)
    }

    /// Waiting and woken: an executor would poll it.
    fn runnable(&self) -> bool {
        self.waiting && self.woken()
    }
}

/// What one poll of a reader got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Data,
    /// EOF or an error.
    Done,
    Pending,
}

/// A stream handle of the application and its two tasks.
#[derive(Debug)]
struct AppStream {
    handle: StreamRef,
    reader: Task,
    writer: Task,
    /// What the writer still has to write.
    outbox: Vec<u8>,
    /// Bytes read (mux: position in the agent's data for this stream).
    read: usize,
}

/// The scripted agent.
#[derive(Debug)]
struct Agent {
    channel: DataChannel,
    mux: Option<ssm_mux::Session>,
    frame_size: usize,
    /// The port mode by the first HandshakeRequest.
    mode: Option<PortMode>,
    version: String,
    requested: bool,
    /// HandshakeComplete sent after a HandshakeRequest.
    ready: bool,
    /// Output bytes not sent yet.
    out: Vec<u8>,
    /// The client's smux bytes not consumed yet.
    mux_in: Vec<u8>,
    /// Our smux streams, for the ops' indexes.
    streams: Vec<u32>,
    /// Per stream: bytes our smux accepted for sending.
    sent: HashMap<u32, Vec<u8>>,
    /// Streams we closed.
    fin: HashSet<u32>,
    /// Per stream: bytes read from the client.
    received: HashMap<u32, Vec<u8>>,
    /// Basic mode: Output bytes sent after the handshake.
    basic_sent: Vec<u8>,
    /// Basic mode: Output bytes received.
    basic_received: Vec<u8>,
    /// Recent frames, for `Replay`.
    recent: VecDeque<Bytes>,
    terminate_flag: bool,
}

impl Agent {
    fn new(now: Instant, frame_size: usize) -> Self {
        let config = ChannelConfig {
            pacing: None,
            ..ChannelConfig::agent()
        };
        Self {
            channel: DataChannel::new(config, now, UNIX_MS, 5),
            mux: None,
            frame_size,
            mode: None,
            version: String::new(),
            requested: false,
            ready: false,
            out: Vec::new(),
            mux_in: Vec::new(),
            streams: Vec::new(),
            sent: HashMap::new(),
            fin: HashSet::new(),
            received: HashMap::new(),
            basic_sent: Vec::new(),
            basic_received: Vec::new(),
            recent: VecDeque::new(),
            terminate_flag: false,
        }
    }

    fn is_mux(&self) -> bool {
        matches!(self.mode, Some(PortMode::Mux { .. }))
    }

    fn stream(&self, index: u8) -> Option<u32> {
        match self.streams.len() {
            0 => None,
            len => Some(self.streams[usize::from(index) % len]),
        }
    }
}

/// What a run reached, so seeds can be checked to go deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The mode, if the handshake completed.
    pub mode: Option<PortMode>,
    /// The session ended.
    pub ended: bool,
    /// Streams opened.
    pub opened: usize,
    /// Bytes streams read.
    pub read: usize,
    /// Bytes of stream writes the agent received.
    pub uploaded: usize,
    /// Content checks were still on at the end (nothing corrupted).
    pub checked: bool,
}

#[derive(Debug)]
struct Harness {
    client: Client,
    agent: Agent,
    now: Instant,
    caps: (usize, usize),
    chunk_size: usize,
    // The driver.
    link: bool,
    pending: VecDeque<Bytes>,
    writer: VecDeque<Bytes>,
    to_client: VecDeque<Bytes>,
    driver_alive: bool,
    /// The driver's timer, as its last step set it.
    driver_deadline: Option<Instant>,
    /// The socket failed while the driver was not reading it: it notices
    /// at its next step (the writer fails).
    loss_unseen: bool,
    /// The driver does not read the socket (as its last step decided).
    input_held: bool,
    /// A stream operation notified the driver since its last step.
    notified: bool,
    terminate_requested: bool,
    mode: Option<PortMode>,
    // The application.
    attached: bool,
    streams: Vec<AppStream>,
    openers: Vec<Task>,
    opened: usize,
    read_total: usize,
    // What the checks may rely on.
    /// Agent-to-client stream content is unreliable for every stream.
    corrupt: bool,
    /// ... for these smux stream ids.
    corrupt_streams: HashSet<u32>,
    /// Client-to-agent content is unreliable (fake acks).
    upload_corrupt: bool,
    /// Stream errors other than the session's end may happen.
    stream_errors: bool,
    max_frame: usize,
    max_message: usize,
    /// Basic mode: bytes of `agent.basic_sent` read or discarded.
    basic_cursor: usize,
    /// Basic mode: bytes streams wrote.
    basic_written: Vec<u8>,
    /// Mux mode: bytes each stream wrote.
    written: HashMap<u32, Vec<u8>>,
}

impl Harness {
    fn new(setup: Setup, now: Instant) -> Self {
        let chunk_size = usize::from(setup.chunk_size % 1024) + 1;
        let config = ClientConfig {
            chunk_size,
            pacing: setup.paced.then(PacingConfig::default),
            max_unacked: usize::from(setup.max_unacked % 32) + 1,
            ..ClientConfig::default()
        };
        let limits = Limits {
            session_receive: usize::from(setup.session_receive) + 1,
            stream_receive: usize::from(setup.stream_receive) + 1,
            max_delivery_bytes: Some(usize::from(setup.max_delivery) + 1),
        };
        let client = Client::new(&config, Some(limits), now, UNIX_MS, 3);
        let caps = client.receive_caps();
        let frame_size = usize::from(setup.agent_frame % 4096) + 1;
        Self {
            client,
            agent: Agent::new(now, frame_size),
            now,
            caps,
            chunk_size,
            link: true,
            pending: VecDeque::new(),
            writer: VecDeque::new(),
            to_client: VecDeque::new(),
            driver_alive: true,
            driver_deadline: None,
            loss_unseen: false,
            input_held: false,
            notified: false,
            terminate_requested: false,
            mode: None,
            attached: false,
            streams: Vec::new(),
            openers: Vec::new(),
            opened: 0,
            read_total: 0,
            corrupt: false,
            corrupt_streams: HashSet::new(),
            upload_corrupt: false,
            stream_errors: false,
            max_frame: frame_size,
            max_message: 0,
            basic_cursor: 0,
            basic_written: Vec::new(),
            written: HashMap::new(),
        }
    }

    fn ended(&self) -> bool {
        self.client.end_reason().is_some()
    }

    // ===== the driver =====

    /// What the driver does after every event that wakes it: pump, hand
    /// frames to the writer, carry out the client's actions, stop when the
    /// session ended; then it waits for a message (unless input is held), a
    /// notification, writer room (if frames wait for it) or its timer.
    fn step(&mut self) {
        self.notified = false;
        if !self.driver_alive {
            return;
        }
        if std::mem::take(&mut self.loss_unseen) {
            self.client
                .handle_socket_lost(self.now, "the socket writer failed");
        }
        // A resume makes the driver pump again at once (a bounded number
        // of times: each needs a new resume attempt).
        for _ in 0..4 {
            self.pump();
            self.input_held = self.client.input_held();
            if !self.perform_actions() {
                break;
            }
        }
        self.driver_deadline = self.client.poll_timeout();
        if self.ended() {
            // `shut_down`: one more pump, hand over, close the socket.
            self.pump();
            self.driver_alive = false;
        }
    }

    /// Carries out what the client asks for; true if a socket opened.
    fn perform_actions(&mut self) -> bool {
        let mut resumed = false;
        while let Some(action) = self.client.poll_action() {
            match action {
                // The gateway answers (unless the driver does not read).
                Action::Ping => {
                    if self.link && !self.input_held {
                        self.client.handle_received(self.now);
                    }
                }
                Action::DropSocket => self.lose_socket(),
                // ResumeSession and the new socket succeed at once.
                Action::Resume => {
                    self.client.handle_resumed(self.now);
                    self.link = true;
                    resumed = true;
                }
                // TerminateSession returns; the session is over.
                Action::CallTerminate => self.client.end(EndReason::Terminated),
                // Short-lived sockets in a row: the session is given up.
                Action::GiveUp { sockets } => {
                    let last_loss = String::from("fuzzed socket loss");
                    let error = ssm_client::Error::SocketsKeepFailing { sockets, last_loss };
                    self.client.end(EndReason::Failed(error));
                }
            }
        }
        resumed
    }

    /// The socket is gone, with the frames in flight both ways.
    fn lose_socket(&mut self) {
        self.link = false;
        self.writer.clear();
        self.to_client.clear();
    }

    /// The driver resumes: time passes until the next attempt, which succeeds.
    fn resume(&mut self) {
        if self.link || !self.driver_alive {
            return;
        }
        if self.loss_unseen {
            self.step();
        }
        if let Some(due) = self.client.resume_due() {
            self.now = self.now.max(due);
            self.client.handle_timeout(self.now);
            self.step();
        }
    }

    /// Runs the driver if a stream operation notified it.
    fn wake(&mut self) {
        if self.notified {
            self.step();
        }
    }

    fn pump(&mut self) {
        let room = self.link.then(|| WRITER_QUEUE - self.writer.len());
        let before = self.pending.len();
        self.client.poll_transmit(self.now, room, &mut self.pending);
        let paused = self.client.session().channel().is_paused();
        for frame in self.pending.iter().skip(before) {
            let message = self.check_client_frame(frame);
            if paused {
                assert_eq!(
                    message.message_type,
                    MessageType::Acknowledge,
                    "stream message sent while paused"
                );
            }
        }
        if self.link {
            while self.writer.len() < WRITER_QUEUE {
                let Some(frame) = self.pending.pop_front() else {
                    break;
                };
                self.writer.push_back(frame);
            }
        }
        if let Some(info) = self.client.info() {
            let mode = info.mode;
            if self.mode.is_none() {
                self.mode = Some(mode);
                self.attached = true;
            }
            assert_eq!(self.mode, Some(mode), "mode changed");
            if !self.corrupt {
                assert_eq!(Some(mode), self.agent.mode, "client and agent modes differ");
            }
        }
    }

    /// Every frame the client transmits decodes and is one it may send.
    fn check_client_frame(&self, frame: &[u8]) -> ClientMessage {
        let message = match ClientMessage::decode(frame) {
            Ok(message) => message,
            Err(error) => panic!("client frame does not decode: {error}"),
        };
        match message.message_type {
            MessageType::Acknowledge => {}
            MessageType::InputStreamData => {
                assert_eq!(
                    message.sequence_number == 0,
                    message.payload_type == PayloadType::HandshakeResponse,
                    "seq 0 is the handshake response and only it: {message:?}"
                );
                assert!(
                    matches!(
                        message.payload_type,
                        PayloadType::HandshakeResponse | PayloadType::Output | PayloadType::Flag
                    ),
                    "client sent {message:?}"
                );
                if message.payload_type == PayloadType::Output {
                    assert!(
                        message.payload.len() <= self.chunk_size,
                        "Output larger than chunk_size"
                    );
                }
            }
            _ => panic!("client sent {message:?}"),
        }
        message
    }

    // ===== the agent =====

    fn agent_transmit(&mut self) {
        while let Some(frame) = self.agent.channel.poll_transmit(self.now) {
            if self.agent.recent.len() == 16 {
                self.agent.recent.pop_front();
            }
            self.agent.recent.push_back(frame.clone());
            self.to_client.push_back(frame);
        }
    }

    fn agent_send(&mut self, payload_type: PayloadType, payload: Bytes) -> bool {
        let sent = self
            .agent
            .channel
            .send(self.now, payload_type, payload)
            .is_ok();
        self.agent_transmit();
        sent
    }

    /// Sends Output; `framed` when it is smux frames of our session (or
    /// basic data), not garbage for the client's smux.
    fn agent_output(&mut self, bytes: &[u8], framed: bool) {
        let mux = self.agent.is_mux() || self.agent.mode.is_none();
        if !bytes.is_empty() && mux && (!framed || !self.agent.ready) {
            // Garbage for smux, or frames the client drops before the
            // handshake completes.
            self.corrupt = true;
        }
        if !self.agent_send(PayloadType::Output, Bytes::copy_from_slice(bytes)) {
            return;
        }
        self.max_message = self.max_message.max(bytes.len());
        if !mux && self.agent.ready {
            self.agent.basic_sent.extend_from_slice(bytes);
        }
    }

    fn agent_request(
        &mut self,
        version: Version,
        session_type: SessionType,
        kms: bool,
        port_type: PortType,
    ) {
        let port_type = match port_type {
            PortType::Local => Some("LocalPortForwarding".to_owned()),
            PortType::Missing => None,
            PortType::Any(text) => Some(text),
        };
        if !self.agent.requested {
            self.agent.requested = true;
            self.agent.version = version.text().to_owned();
            let mode = client_port_mode(port_type.as_deref(), &self.agent.version);
            self.agent.mode = Some(mode);
            if let PortMode::Mux { smux_keepalive } = mode {
                let config = ssm_mux::Config {
                    keep_alive: smux_keepalive.then(KeepAlive::default),
                    max_frame_size: self.agent.frame_size,
                    max_receive_buffer: 1 << 30,
                    max_stream_receive_buffer: 1 << 30,
                    ..ssm_mux::Config::default()
                };
                let mux = ssm_mux::Session::new(Role::Server, config, self.now);
                self.agent.mux = Some(mux.expect("valid agent smux config"));
            }
        }
        let payload = request(version.text(), session_type, kms, port_type.as_deref());
        self.agent_send(PayloadType::HandshakeRequest, payload);
    }

    fn agent_complete(&mut self) {
        let complete = HandshakeComplete {
            handshake_time_to_complete: 1_500_000,
            customer_message: String::new(),
        };
        if self.agent_send(PayloadType::HandshakeComplete, complete.to_bytes())
            && self.agent.requested
        {
            self.agent.ready = true;
        }
    }

    /// Moves the agent smux's frames to its Output and sends it all.
    fn agent_flush(&mut self, chunk: u16) {
        if let Some(mux) = &mut self.agent.mux {
            while let Some(frame) = mux.poll_transmit() {
                self.agent.out.extend_from_slice(&frame);
            }
        }
        let out = std::mem::take(&mut self.agent.out);
        // At most `MAX_MESSAGES` messages per flush (each costs a digest).
        let size = (usize::from(chunk % 1024) + 1).max(out.len().div_ceil(MAX_MESSAGES));
        for piece in out.chunks(size) {
            self.agent_output(piece, true);
        }
    }

    fn agent_frame(&mut self, cmd: FrameCmd, sid: u8, payload: &[u8]) {
        let sid = StreamId(u32::from(sid));
        let (cmd, body): (Cmd, Vec<u8>) = match cmd {
            FrameCmd::Syn => (Cmd::Syn, Vec::new()),
            FrameCmd::Fin => (Cmd::Fin, Vec::new()),
            FrameCmd::Nop => (Cmd::Nop, Vec::new()),
            FrameCmd::Psh => (
                Cmd::Psh,
                payload[..payload.len().min(MAX_PAYLOAD_LEN)].to_vec(),
            ),
            FrameCmd::Upd => {
                let mut upd = vec![0; UPD_PAYLOAD_LEN];
                let n = payload.len().min(UPD_PAYLOAD_LEN);
                upd[..n].copy_from_slice(&payload[..n]);
                (Cmd::Upd, upd)
            }
        };
        let length = if cmd == Cmd::Psh {
            u16::try_from(body.len()).expect("capped above")
        } else {
            0
        };
        // Between whole frames of our own session.
        if let Some(mux) = &mut self.agent.mux {
            while let Some(frame) = mux.poll_transmit() {
                self.agent.out.extend_from_slice(&frame);
            }
        }
        self.agent
            .out
            .extend_from_slice(&FrameHeader::new(cmd, sid, length).to_bytes());
        self.agent.out.extend_from_slice(&body);
        self.max_frame = self.max_frame.max(body.len());
        self.corrupt_streams.insert(sid.0);
    }

    fn agent_write(&mut self, index: u8, data: &[u8], repeat: u8) {
        let (Some(sid), Some(mux)) = (self.agent.stream(index), &mut self.agent.mux) else {
            return;
        };
        let mut total = 0;
        for _ in 0..=repeat {
            if data.is_empty() || total >= MAX_OP_BYTES {
                break;
            }
            match mux.write(StreamId(sid), data) {
                Ok(n) => {
                    self.agent
                        .sent
                        .entry(sid)
                        .or_default()
                        .extend_from_slice(&data[..n]);
                    total += n;
                    if n < data.len() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// The writer task's frames reach the agent; the room this makes wakes
    /// the driver if it has frames waiting for room.
    fn flush(&mut self, count: usize) {
        let waiting = !self.pending.is_empty() && !self.writer.is_empty();
        for _ in 0..count {
            let Some(frame) = self.writer.pop_front() else {
                break;
            };
            self.agent_receive(&frame);
        }
        self.agent_transmit();
        if waiting {
            self.step();
        }
    }

    fn agent_receive(&mut self, frame: &[u8]) {
        let _ = self.agent.channel.handle_frame(self.now, frame);
        while let Some(message) = self.agent.channel.poll_delivery() {
            match message.payload_type {
                PayloadType::HandshakeResponse => {}
                PayloadType::Output => self.agent_input(&message.payload),
                PayloadType::Flag => match Flag::from_bytes(&message.payload) {
                    Ok(Flag::DisconnectToPort) => {
                        assert_eq!(self.mode, Some(PortMode::Basic), "DisconnectToPort");
                    }
                    Ok(Flag::TerminateSession) => {
                        assert!(self.terminate_requested, "unrequested TerminateSession");
                        self.agent.terminate_flag = true;
                    }
                    other => panic!("client sent flag {other:?}"),
                },
                other => panic!("client sent payload type {other:?}"),
            }
        }
    }

    fn agent_input(&mut self, payload: &[u8]) {
        match self.agent.mode {
            Some(PortMode::Mux { .. }) => self.agent_mux_input(payload),
            Some(_) => {
                self.agent.basic_received.extend_from_slice(payload);
                if !self.upload_corrupt {
                    assert!(
                        self.basic_written.starts_with(&self.agent.basic_received),
                        "agent received basic data the client did not write"
                    );
                }
            }
            None => {}
        }
    }

    fn agent_mux_input(&mut self, payload: &[u8]) {
        let Some(mux) = &mut self.agent.mux else {
            return;
        };
        self.agent.mux_in.extend_from_slice(payload);
        match mux.handle_input(&self.agent.mux_in) {
            Ok(used) => {
                self.agent.mux_in.drain(..used);
            }
            Err(error) => {
                self.agent.mux_in.clear();
                let protocol = matches!(
                    error,
                    SessionError::InvalidVersion { .. } | SessionError::UnknownCommand { .. }
                );
                assert!(
                    !protocol || self.upload_corrupt,
                    "client sent invalid smux: {error}"
                );
            }
        }
        while let Some(sid) = mux.accept() {
            self.agent.streams.push(sid.0);
        }
        let mut buf = [0; 4096];
        for &sid in &self.agent.streams {
            while let Ok(ReadOutcome::Data(n)) = mux.read(StreamId(sid), &mut buf) {
                if n == 0 {
                    break;
                }
                let received = self.agent.received.entry(sid).or_default();
                received.extend_from_slice(&buf[..n]);
                if !self.upload_corrupt {
                    let written = self.written.get(&sid).map_or(&[][..], Vec::as_slice);
                    assert!(
                        written.starts_with(received),
                        "agent received data stream {sid} did not write"
                    );
                }
            }
        }
        while mux.poll_event().is_some() {}
    }

    fn agent_timeout(&mut self) {
        self.agent.channel.handle_timeout(self.now);
        if let Some(mux) = &mut self.agent.mux {
            mux.handle_timeout(self.now);
            while mux.poll_event().is_some() {}
        }
        self.agent_transmit();
    }

    // ===== the gateway =====

    fn inject(&mut self, kind: MessageType, seq: i64, payload_type: PayloadType, payload: Bytes) {
        let message =
            self.agent
                .channel
                .build_message(self.now, kind, seq, 0, payload_type, payload);
        self.inject_frame(message.encode());
    }

    /// An out-of-band frame: decide what the checks can still rely on.
    fn inject_frame(&mut self, frame: Bytes) {
        if let Ok(message) = ClientMessage::decode(&frame) {
            let expected = self.client.session().channel().expected_sequence();
            match message.message_type {
                MessageType::OutputStreamData if message.sequence_number >= expected => {
                    // It takes the place of the agent's message (maybe a flag).
                    self.corrupt = true;
                    self.stream_errors = true;
                    if !self.agent.ready {
                        // Maybe the agent's HandshakeRequest: the client
                        // may then pick another port mode than the agent,
                        // and read its uploads differently.
                        self.upload_corrupt = true;
                    }
                    self.max_message = self.max_message.max(message.payload.len());
                }
                MessageType::Acknowledge => self.upload_corrupt = true,
                _ => {}
            }
        }
        self.to_client.push_back(frame);
    }

    fn deliver(&mut self, count: u8, skip: u8) {
        for _ in 0..count.max(1) {
            if !self.driver_alive || !self.link || self.input_held {
                break;
            }
            let index = usize::from(skip) % self.to_client.len().max(1);
            let Some(frame) = self.to_client.remove(index) else {
                break;
            };
            let _ = self.client.handle_frame(self.now, &frame);
            self.step();
        }
    }

    /// Everything in flight arrives, a few rounds; the agent sends its
    /// pending Output (in 1 KiB messages) once its handshake is done.
    fn exchange(&mut self) {
        for _ in 0..8 {
            if self.agent.ready {
                self.agent_flush(1023);
            }
            let quiet = self.writer.is_empty() && self.to_client.is_empty();
            self.flush(WRITER_QUEUE);
            self.deliver(u8::MAX, 0);
            if quiet {
                break;
            }
        }
    }

    /// Jumps to the earliest timer of the driver or the agent; the
    /// driver runs if its timer is due.
    fn timeout(&mut self) {
        let driver = self.driver_deadline.filter(|_| self.driver_alive);
        let deadlines = [
            driver,
            self.agent.channel.poll_timeout(),
            self.agent
                .mux
                .as_ref()
                .and_then(ssm_mux::Session::poll_timeout),
        ];
        if let Some(deadline) = deadlines.into_iter().flatten().min() {
            self.now = self.now.max(deadline);
        }
        if driver.is_some_and(|deadline| self.now >= deadline) {
            self.client.handle_timeout(self.now);
            self.step();
        }
        self.agent_timeout();
    }

    // ===== the application =====

    fn open(&mut self) {
        if !self.attached {
            return;
        }
        if self.streams.len() >= MAX_STREAMS && self.gc_streams() {
            return;
        }
        let mut task = Task::default();
        if self.poll_opener(&mut task) {
            self.openers.push(task);
        }
    }

    /// Drops closed streams when there are too many; true if still full.
    fn gc_streams(&mut self) -> bool {
        if let Some(index) = self.streams.iter().position(|s| s.handle.is_closed()) {
            self.streams.remove(index);
        }
        self.streams.len() >= MAX_STREAMS
    }

    /// Polls an opener task; true if it still waits.
    fn poll_opener(&mut self, task: &mut Task) -> bool {
        let ended = self.ended();
        let waker = task.waker();
        let mut cx = Context::from_waker(&waker);
        match self.client.poll_open_stream(&mut cx) {
            Poll::Ready(Ok(handle)) => {
                assert!(!ended, "stream opened after the end");
                self.notified = true;
                self.opened += 1;
                task.waiting = false;
                if self.streams.len() >= MAX_STREAMS {
                    self.gc_streams();
                }
                self.streams.push(AppStream {
                    handle,
                    reader: Task::default(),
                    writer: Task::default(),
                    outbox: Vec::new(),
                    read: 0,
                });
                false
            }
            Poll::Ready(Err(_)) => {
                assert!(self.ended(), "open failed while the session lives");
                task.waiting = false;
                false
            }
            Poll::Pending => {
                assert!(!ended, "open_stream waits after the end");
                assert!(
                    !matches!(self.mode, Some(PortMode::Mux { .. })),
                    "open_stream waits in mux mode"
                );
                task.waiting = true;
                true
            }
        }
    }

    fn poll_openers(&mut self, only_woken: bool) -> bool {
        let mut openers = std::mem::take(&mut self.openers);
        let mut polled = false;
        openers.retain_mut(|task| {
            if only_woken && !task.woken() {
                return true;
            }
            polled = true;
            self.poll_opener(task)
        });
        self.openers.append(&mut openers);
        polled
    }

    fn stream_index(&self, index: u8) -> Option<usize> {
        match self.streams.len() {
            0 => None,
            len => Some(usize::from(index) % len),
        }
    }

    /// One poll of a stream's reader.
    fn read(&mut self, index: usize, len: usize) -> Read {
        let ended = self.ended();
        let mode = self.mode;
        let stream = &mut self.streams[index];
        let id = stream.handle.id();
        let closed = stream.handle.is_closed();
        let unread = self.client.stream_unread(&stream.handle);
        let waker = stream.reader.waker();
        let mut cx = Context::from_waker(&waker);
        let mut buf = vec![0; len];
        let result = self.client.poll_read(&mut stream.handle, &mut cx, &mut buf);
        stream.reader.waiting = result.is_pending();
        let n = match result {
            Poll::Pending => {
                assert!(!ended, "read waits after the end");
                assert!(!closed, "read waits on a closed stream");
                return Read::Pending;
            }
            Poll::Ready(Err(error)) => {
                assert!(!closed, "read error on a closed stream: {error}");
                assert!(
                    ended || self.stream_errors,
                    "read error while the session lives: {error}"
                );
                return Read::Done;
            }
            Poll::Ready(Ok(n)) => n,
        };
        // `Stream::poll_read` notifies the driver of a successful read.
        self.notified |= !closed;
        if closed {
            assert_eq!(n, 0, "data read from a closed stream");
            return Read::Done;
        }
        assert!(n <= unread, "read {n} bytes of {unread} buffered");
        let basic = !matches!(mode, Some(PortMode::Mux { .. }));
        if n == 0 {
            let clean = !self.corrupt && !self.corrupt_streams.contains(&id);
            if basic {
                assert!(
                    !clean,
                    "EOF on a basic-mode stream that holds the connection"
                );
            } else if clean {
                let sent = self.agent.sent.get(&id).map_or(0, Vec::len);
                assert!(
                    self.agent.fin.contains(&id) && stream.read == sent,
                    "EOF on stream {id} before the agent's FIN and all its data"
                );
            }
            return Read::Done;
        }
        let data = &buf[..n];
        self.read_total += n;
        if basic {
            if !self.corrupt {
                let sent = &self.agent.basic_sent;
                assert!(
                    sent.len() >= self.basic_cursor + n
                        && sent[self.basic_cursor..self.basic_cursor + n] == *data,
                    "basic stream read bytes the agent did not send there"
                );
            }
            self.basic_cursor += n;
        } else {
            if !self.corrupt && !self.corrupt_streams.contains(&id) {
                let sent = self.agent.sent.get(&id).map_or(&[][..], Vec::as_slice);
                assert!(
                    sent.len() >= stream.read + n && sent[stream.read..stream.read + n] == *data,
                    "stream {id} read bytes the agent did not send there"
                );
            }
            stream.read += n;
        }
        Read::Data
    }

    /// Polls a stream's writer until its outbox is empty or it waits;
    /// true if it made progress.
    fn write(&mut self, index: usize) -> bool {
        let mut progress = false;
        loop {
            let ended = self.ended();
            let now = self.now;
            let mode = self.mode;
            let stream = &mut self.streams[index];
            if stream.outbox.is_empty() {
                stream.writer.waiting = false;
                return progress;
            }
            let closed = stream.handle.is_closed();
            let id = stream.handle.id();
            let waker = stream.writer.waker();
            let mut cx = Context::from_waker(&waker);
            let result = self
                .client
                .poll_write(&mut stream.handle, &mut cx, &stream.outbox, now);
            stream.writer.waiting = result.is_pending();
            match result {
                Poll::Pending => {
                    assert!(!ended, "write waits after the end");
                    assert!(!closed, "write waits on a closed stream");
                    return progress;
                }
                Poll::Ready(Err(error)) => {
                    assert!(
                        closed || ended || self.stream_errors,
                        "write error while the session lives: {error}"
                    );
                    stream.outbox.clear();
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    self.notified = true;
                    assert!(!ended, "write accepted after the end");
                    assert!(!closed, "write accepted on a closed stream");
                    assert!(n > 0 && n <= stream.outbox.len(), "write returned {n}");
                    let data = stream.outbox.drain(..n);
                    match mode {
                        Some(PortMode::Mux { .. }) => {
                            self.written.entry(id).or_default().extend(data);
                        }
                        _ => self.basic_written.extend(data),
                    }
                    progress = true;
                }
            }
        }
    }

    fn close(&mut self, index: usize) {
        let stream = &mut self.streams[index];
        if self.client.basic_active() == Some(stream.handle.id())
            && !matches!(self.mode, Some(PortMode::Mux { .. }))
        {
            // Unread data of the connection is dropped with it.
            self.basic_cursor += self.client.buffered().basic_inbox;
        }
        let was_open = !stream.handle.is_closed();
        assert_eq!(self.client.close(&mut stream.handle, self.now), was_open);
        self.notified |= was_open;
    }

    fn terminate(&mut self) {
        if !self.attached || self.terminate_requested || !self.driver_alive {
            return;
        }
        self.terminate_requested = true;
        self.client.handle_terminate(self.now);
        self.step();
    }

    /// Runs woken tasks until none is woken, then checks that no waiting
    /// task could make progress: an executor would never poll it again.
    fn settle(&mut self) {
        let mut quiet = false;
        for _ in 0..SETTLE_ROUNDS {
            let mut polled = self.poll_openers(true);
            self.wake();
            for index in 0..self.streams.len() {
                if self.streams[index].reader.runnable() {
                    polled = true;
                    while self.read(index, SETTLE_READ) == Read::Data {
                        self.wake();
                    }
                    self.wake();
                }
                if self.streams[index].writer.runnable() {
                    polled = true;
                    self.write(index);
                    self.wake();
                }
            }
            if !polled {
                quiet = true;
                break;
            }
        }
        if !quiet {
            return;
        }
        self.check_no_lost_wakeup();
    }

    fn check_no_lost_wakeup(&mut self) {
        let mut openers = std::mem::take(&mut self.openers);
        for task in &mut openers {
            if task.waiting && !task.woken() {
                assert!(
                    self.poll_opener(task),
                    "lost wakeup: open_stream could proceed"
                );
            }
        }
        openers.retain(|task| task.waiting);
        self.openers = openers;
        for index in 0..self.streams.len() {
            let stream = &self.streams[index];
            if stream.reader.waiting && !stream.reader.woken() {
                let read = self.read(index, SETTLE_READ);
                assert_eq!(
                    read,
                    Read::Pending,
                    "lost wakeup: a waiting read could proceed"
                );
            }
            let stream = &self.streams[index];
            if stream.writer.waiting && !stream.writer.woken() {
                assert!(
                    !self.write(index),
                    "lost wakeup: a waiting write could proceed"
                );
            }
        }
    }

    /// At the end, with the network behaving (socket up, publication on)
    /// and every stream read and written: everything sent either way
    /// arrives, unless the session ended.
    fn drain(&mut self) {
        if !self.attached || !self.driver_alive {
            return;
        }
        self.resume();
        // Always, behind whatever is still in flight: a pause_publication
        // on its way would otherwise pause the client after this check
        // (the service always follows a pause with a start).
        let kind = MessageType::StartPublication;
        self.inject(kind, 0, PayloadType::Undefined, Bytes::new());
        let mut quiet_rounds = 0;
        let mut idle_rounds = 0;
        for _ in 0..DRAIN_ROUNDS {
            let before = self.motion();
            self.exchange();
            let mut progress = false;
            for index in 0..self.streams.len() {
                if self.streams[index].handle.is_closed() {
                    continue;
                }
                while self.read(index, SETTLE_READ) == Read::Data {
                    progress = true;
                    self.wake();
                }
                progress |= self.write(index);
                self.wake();
            }
            let quiet = !progress
                && self.writer.is_empty()
                && self.to_client.is_empty()
                && self.pending.is_empty()
                && self.client.upload_held() == 0
                && self.client.session().channel().unacked() == 0
                && self.agent.channel.unacked() == 0;
            quiet_rounds = if quiet { quiet_rounds + 1 } else { 0 };
            idle_rounds = if self.motion() == before {
                idle_rounds + 1
            } else {
                0
            };
            if quiet_rounds == 2 || idle_rounds == IDLE_ROUNDS || !self.driver_alive {
                break;
            }
            self.timeout();
        }
        if self.ended() {
            return;
        }
        if quiet_rounds == 2 {
            self.check_all_arrived();
        } else if idle_rounds == IDLE_ROUNDS {
            self.check_not_stalled();
        }
    }

    /// Nothing moves although the network behaves and every stream is
    /// read: only the agent's data waiting for a basic-mode stream (none is
    /// open) may be stuck; anything else means the driver was not woken.
    fn check_not_stalled(&self) {
        let basic = !matches!(self.mode, Some(PortMode::Mux { .. }));
        if basic && self.client.basic_active().is_none() {
            return;
        }
        panic!(
            "stalled: client unacked {}, agent unacked {}, pending {}, writer {}, in flight to the client {}; client {:?}; agent {:?}; client paused {}, agent paused {}",
            self.client.session().channel().unacked(),
            self.agent.channel.unacked(),
            self.pending.len(),
            self.writer.len(),
            self.to_client.len(),
            self.client.session().channel().stats(),
            self.agent.channel.stats(),
            self.client.session().channel().is_paused(),
            self.agent.channel.is_paused()
        );
    }

    /// Counts that grow while anything moves.
    fn motion(&self) -> (usize, u64, u64, usize) {
        let client = self.client.session().channel().stats();
        let agent = self.agent.channel.stats();
        let received = self.agent.basic_received.len()
            + self.agent.received.values().map(Vec::len).sum::<usize>();
        (
            self.read_total + received,
            client.messages_received + client.acks_received,
            agent.messages_received + agent.acks_received,
            self.client.session().channel().unacked() + self.agent.channel.unacked(),
        )
    }

    /// The agent's smux died (e.g. its keepalive timed out while the
    /// client was away): it neither sends what was still queued in it nor
    /// takes what arrives after. What did cross was checked as it came.
    fn agent_mux_dead(&self) -> bool {
        self.agent
            .mux
            .as_ref()
            .is_some_and(|mux| mux.dead_reason().is_some())
    }

    fn check_all_arrived(&self) {
        let mux = matches!(self.mode, Some(PortMode::Mux { .. }));
        let agent_mux_dead = self.agent_mux_dead();
        if !self.corrupt && !self.stream_errors {
            if mux && !agent_mux_dead {
                for stream in self.streams.iter().filter(|s| !s.handle.is_closed()) {
                    let id = stream.handle.id();
                    let sent = self.agent.sent.get(&id).map_or(0, Vec::len);
                    if !self.corrupt_streams.contains(&id) {
                        assert_eq!(
                            stream.read, sent,
                            "stream {id} did not get all the agent sent"
                        );
                    }
                }
            } else if !mux && self.client.basic_active().is_some() {
                assert_eq!(
                    self.basic_cursor,
                    self.agent.basic_sent.len(),
                    "the basic-mode stream did not get all the agent sent"
                );
            }
        }
        if self.upload_corrupt {
            return;
        }
        match &self.agent.mux {
            Some(_) if mux => {
                if agent_mux_dead {
                    return;
                }
                // The agent's smux drops what arrives after its own close.
                let open = self
                    .written
                    .iter()
                    .filter(|(id, _)| !self.agent.fin.contains(id));
                for (id, written) in open {
                    let received = self.agent.received.get(id).map_or(0, Vec::len);
                    assert_eq!(
                        received,
                        written.len(),
                        "the agent did not get all stream {id} wrote"
                    );
                }
            }
            _ => assert_eq!(
                self.agent.basic_received.len(),
                self.basic_written.len(),
                "the agent did not get all the basic-mode streams wrote"
            ),
        }
    }

    // ===== checks =====

    fn check(&mut self) {
        let (session_cap, stream_cap) = self.caps;
        let buffered = self.client.buffered();
        let frame = if self.corrupt {
            MAX_PAYLOAD_LEN
        } else {
            self.max_frame
        };
        assert!(
            buffered.mux_unread < session_cap + frame,
            "smux holds {} unread bytes; cap {session_cap} + frame {frame}",
            buffered.mux_unread
        );
        assert!(
            buffered.basic_inbox < stream_cap + self.max_message.max(1),
            "basic inbox holds {}; cap {stream_cap} + message {}",
            buffered.basic_inbox,
            self.max_message
        );
        assert!(buffered.mux_backlog <= self.max_message);
        // One smux frame, or one Output message in basic mode.
        let unit = match self.mode {
            Some(PortMode::Mux { .. }) => frame,
            _ => self.max_message.max(1),
        };
        for stream in &self.streams {
            let unread = self.client.stream_unread(&stream.handle);
            assert!(
                unread < stream_cap + unit,
                "stream {} holds {unread} unread bytes; cap {stream_cap} + {unit}",
                stream.handle.id()
            );
        }
        let stats = self.client.stats();
        assert_eq!(
            stats.unread_bytes,
            buffered.mux_unread + buffered.basic_inbox
        );
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Request {
                version,
                session_type,
                kms,
                port_type,
            } => self.agent_request(version, session_type, kms, port_type),
            Op::Complete => self.agent_complete(),
            Op::AgentFlag(value) => {
                let flag = Flag::from_u32(value);
                self.stream_errors |= flag == Flag::ConnectToPortError;
                self.agent_send(PayloadType::Flag, flag.to_bytes());
            }
            Op::AgentPayload {
                payload_type,
                bytes,
            } => match PayloadType::from_u32(u32::from(payload_type % 16)) {
                PayloadType::Output => self.agent_output(&bytes, false),
                other => {
                    self.stream_errors |= other == PayloadType::Flag;
                    self.agent_send(other, Bytes::from(bytes));
                }
            },
            Op::AgentOpen => {
                if let Some(mux) = &mut self.agent.mux
                    && let Ok(sid) = mux.open()
                {
                    self.agent.streams.push(sid.0);
                }
            }
            Op::AgentWrite {
                stream,
                data,
                repeat,
            } => self.agent_write(stream, &data, repeat),
            Op::AgentClose { stream } => {
                if let (Some(sid), Some(mux)) = (self.agent.stream(stream), &mut self.agent.mux)
                    && mux.close(StreamId(sid)).is_ok()
                {
                    self.agent.fin.insert(sid);
                }
            }
            Op::AgentFrame { cmd, sid, payload } => self.agent_frame(cmd, sid, &payload),
            Op::AgentBytes { data, repeat } => {
                for _ in 0..=repeat {
                    if self.agent.out.len() >= MAX_OP_BYTES {
                        break;
                    }
                    self.agent.out.extend_from_slice(&data);
                }
                if !data.is_empty()
                    && !matches!(
                        self.agent.mode,
                        Some(PortMode::Basic | PortMode::StandardStream)
                    )
                {
                    self.corrupt = true;
                }
            }
            Op::AgentFlush { chunk } => self.agent_flush(chunk),
            Op::Closed(output) => {
                let closed = ChannelClosed {
                    output,
                    ..ChannelClosed::default()
                };
                let kind = MessageType::ChannelClosed;
                self.inject(kind, 0, PayloadType::Undefined, closed.to_bytes());
            }
            Op::Publication(start) => {
                let kind = if start {
                    MessageType::StartPublication
                } else {
                    MessageType::PausePublication
                };
                self.inject(kind, 0, PayloadType::Undefined, Bytes::new());
            }
            Op::Crafted {
                kind,
                seq,
                payload_type,
                bytes,
            } => {
                let kind = match kind {
                    Kind::Output => MessageType::OutputStreamData,
                    Kind::Input => MessageType::InputStreamData,
                    Kind::Ack => MessageType::Acknowledge,
                    Kind::Pause => MessageType::PausePublication,
                    Kind::Start => MessageType::StartPublication,
                    Kind::Other(name) => MessageType::from_name(&name),
                };
                let payload_type = PayloadType::from_u32(u32::from(payload_type % 16));
                self.inject(kind, i64::from(seq), payload_type, Bytes::from(bytes));
            }
            Op::FakeAck(seq) => {
                let ack = AcknowledgeContent {
                    acknowledged_message_type: "input_stream_data".into(),
                    acknowledged_message_id: String::new(),
                    acknowledged_message_sequence_number: i64::from(seq),
                    is_sequential_message: true,
                };
                self.inject(
                    MessageType::Acknowledge,
                    0,
                    PayloadType::Undefined,
                    ack.to_bytes(),
                );
            }
            Op::Raw(bytes) => self.inject_frame(Bytes::from(bytes)),
            Op::Replay(index) => {
                if !self.agent.recent.is_empty() {
                    let index = usize::from(index) % self.agent.recent.len();
                    let frame = self.agent.recent[index].clone();
                    self.to_client.push_back(frame);
                }
            }
            Op::Deliver { count, skip } => self.deliver(count, skip),
            Op::DropToClient => self.to_client.clear(),
            Op::Flush(count) => self.flush(usize::from(count)),
            Op::Exchange => self.exchange(),
            Op::SocketLost => {
                if self.link {
                    self.lose_socket();
                    self.loss_unseen = true;
                    // Seen at once while reading; else at the next step
                    // (the writer fails).
                    if !self.input_held {
                        self.step();
                    }
                }
            }
            Op::Resume => self.resume(),
            Op::Advance(ms) => self.now += Duration::from_millis(u64::from(ms)),
            Op::Timeout => self.timeout(),
            Op::Open => self.open(),
            Op::PollOpeners => {
                self.poll_openers(false);
            }
            Op::AbandonOpener(index) => {
                if !self.openers.is_empty() {
                    let index = usize::from(index) % self.openers.len();
                    self.openers.remove(index);
                }
            }
            Op::Read { stream, len } => {
                if let Some(index) = self.stream_index(stream) {
                    self.read(index, usize::from(len % 8192) + 1);
                }
            }
            Op::Write {
                stream,
                data,
                repeat,
            } => {
                if let Some(index) = self.stream_index(stream) {
                    // At most about `MAX_MESSAGES` chunks of upload.
                    let limit = MAX_OP_BYTES.min(self.chunk_size * MAX_MESSAGES);
                    let outbox = &mut self.streams[index].outbox;
                    for _ in 0..=repeat {
                        if outbox.len() >= limit {
                            break;
                        }
                        outbox.extend_from_slice(&data);
                    }
                    self.write(index);
                }
            }
            Op::Close { stream } => {
                if let Some(index) = self.stream_index(stream) {
                    self.close(index);
                }
            }
            Op::Settle => self.settle(),
            Op::Terminate => self.terminate(),
        }
        self.wake();
        self.check();
    }

    fn outcome(&self) -> Outcome {
        let uploaded = self.agent.basic_received.len()
            + self.agent.received.values().map(Vec::len).sum::<usize>();
        Outcome {
            mode: self.mode,
            ended: self.ended(),
            opened: self.opened,
            read: self.read_total,
            uploaded,
            checked: !self.corrupt && !self.upload_corrupt,
        }
    }
}

/// Runs one case, panicking on any broken invariant.
pub fn run(input: Input) -> Outcome {
    let mut harness = Harness::new(input.setup, Instant::now());
    for op in input.ops {
        harness.apply(op);
    }
    harness.drain();
    harness.settle();
    harness.check();
    harness.outcome()
}

impl Encode for Input {
    fn encode(&self, e: &mut Encoder) {
        self.setup.encode(e);
        e.rest(&self.ops);
    }
}

impl Encode for Setup {
    fn encode(&self, e: &mut Encoder) {
        self.chunk_size.encode(e);
        self.max_unacked.encode(e);
        self.paced.encode(e);
        self.session_receive.encode(e);
        self.stream_receive.encode(e);
        self.max_delivery.encode(e);
        self.agent_frame.encode(e);
    }
}

impl Encode for PortType {
    fn encode(&self, e: &mut Encoder) {
        match self {
            Self::Local => e.variant(0, 3),
            Self::Missing => e.variant(1, 3),
            Self::Any(text) => {
                e.variant(2, 3);
                text.encode(e);
            }
        }
    }
}

impl Encode for Op {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 32;
        match self {
            Self::Request {
                version,
                session_type,
                kms,
                port_type,
            } => {
                e.variant(0, COUNT);
                version.encode(e);
                session_type.encode(e);
                kms.encode(e);
                port_type.encode(e);
            }
            Self::Complete => e.variant(1, COUNT),
            Self::AgentFlag(value) => {
                e.variant(2, COUNT);
                value.encode(e);
            }
            Self::AgentPayload {
                payload_type,
                bytes,
            } => {
                e.variant(3, COUNT);
                payload_type.encode(e);
                bytes.encode(e);
            }
            Self::AgentOpen => e.variant(4, COUNT),
            Self::AgentWrite {
                stream,
                data,
                repeat,
            } => {
                e.variant(5, COUNT);
                stream.encode(e);
                data.encode(e);
                repeat.encode(e);
            }
            Self::AgentClose { stream } => {
                e.variant(6, COUNT);
                stream.encode(e);
            }
            Self::AgentFrame { cmd, sid, payload } => {
                e.variant(7, COUNT);
                cmd.encode(e);
                sid.encode(e);
                payload.encode(e);
            }
            Self::AgentBytes { data, repeat } => {
                e.variant(8, COUNT);
                data.encode(e);
                repeat.encode(e);
            }
            Self::AgentFlush { chunk } => {
                e.variant(9, COUNT);
                chunk.encode(e);
            }
            Self::Closed(output) => {
                e.variant(10, COUNT);
                output.encode(e);
            }
            Self::Publication(start) => {
                e.variant(11, COUNT);
                start.encode(e);
            }
            Self::Crafted {
                kind,
                seq,
                payload_type,
                bytes,
            } => {
                e.variant(12, COUNT);
                kind.encode(e);
                seq.encode(e);
                payload_type.encode(e);
                bytes.encode(e);
            }
            Self::FakeAck(seq) => {
                e.variant(13, COUNT);
                seq.encode(e);
            }
            Self::Raw(bytes) => {
                e.variant(14, COUNT);
                bytes.encode(e);
            }
            Self::Replay(index) => {
                e.variant(15, COUNT);
                index.encode(e);
            }
            Self::Deliver { count, skip } => {
                e.variant(16, COUNT);
                count.encode(e);
                skip.encode(e);
            }
            Self::DropToClient => e.variant(17, COUNT),
            Self::Flush(count) => {
                e.variant(18, COUNT);
                count.encode(e);
            }
            Self::Exchange => e.variant(19, COUNT),
            Self::SocketLost => e.variant(20, COUNT),
            Self::Resume => e.variant(21, COUNT),
            Self::Advance(ms) => {
                e.variant(22, COUNT);
                ms.encode(e);
            }
            Self::Timeout => e.variant(23, COUNT),
            Self::Open => e.variant(24, COUNT),
            Self::PollOpeners => e.variant(25, COUNT),
            Self::AbandonOpener(index) => {
                e.variant(26, COUNT);
                index.encode(e);
            }
            Self::Read { stream, len } => {
                e.variant(27, COUNT);
                stream.encode(e);
                len.encode(e);
            }
            Self::Write {
                stream,
                data,
                repeat,
            } => {
                e.variant(28, COUNT);
                stream.encode(e);
                data.encode(e);
                repeat.encode(e);
            }
            Self::Close { stream } => {
                e.variant(29, COUNT);
                stream.encode(e);
            }
            Self::Settle => e.variant(30, COUNT),
            Self::Terminate => e.variant(31, COUNT),
        }
    }
}
