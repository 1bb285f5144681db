//! Tuning of a client session.

use std::time::Duration;

use ssm_proto::channel::{ChannelConfig, PacingConfig};
use ssm_proto::session::SessionConfig;

/// Smallest receive cap we accept: one full smux frame and change.
const MIN_RECEIVE_BUFFER: usize = 64 * 1024;

/// Frames queued for the writer task. Kept short: a frame counts as sent
/// (its retransmission timer runs) once it leaves the protocol core, and
/// acks queue behind data here, so a long local queue inflates RTT.
pub(crate) const WRITER_QUEUE: usize = 32;

/// Receive caps of a session, already clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceiveCaps {
    /// All streams together.
    pub(crate) session: usize,
    /// Each stream.
    pub(crate) stream: usize,
}

/// Settings of a [`crate::Session`]. `Default` is right for real AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Largest Output payload we send (the service's proven size is 1024);
    /// clamped to 1 ..= `ssm_proto::message::MAX_PAYLOAD_SIZE`.
    pub chunk_size: usize,
    /// Pacing of our stream-data messages; `None` sends as fast as the
    /// window allows. Default 900 messages/s, under the gateway's
    /// reported 1000/s limit.
    pub pacing: Option<PacingConfig>,
    /// Most unacked messages in flight; beyond it writers wait.
    pub max_unacked: usize,
    /// Bytes received but not yet read by local streams, across the
    /// session, before we stop accepting data (the agent then resends).
    pub max_receive_buffer: usize,
    /// Bytes received for one stream and not yet read by it before we stop
    /// accepting data (a slow reader holds at most this much, plus one
    /// smux frame; the agent resends what we did not accept).
    pub max_stream_receive_buffer: usize,
    /// Our plugin-style version string.
    pub client_version: String,
    /// How long to wait for the handshake.
    pub handshake_timeout: Duration,
    /// WebSocket ping interval.
    pub ping_interval: Duration,
    /// Declare the socket dead when nothing arrived for this long.
    pub dead_after: Duration,
    /// Declare the socket dead when we have unacknowledged data on it and
    /// nothing arrived for this long (the agent acknowledges every message
    /// at once): a socket that died silently, after a laptop slept or
    /// changed networks, is replaced as soon as it is used, not after
    /// `dead_after`. At least 1 s.
    pub answer_timeout: Duration,
    /// First reconnect delay; doubles per failed attempt.
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Consecutive ResumeSession failures that are not network trouble
    /// (e.g. AccessDenied, expired credentials) before giving up.
    pub max_resume_failures: u32,
    /// A socket that dies sooner than this after opening is short-lived.
    /// Default 1 s: "right away" (a socket closed after the handshake, an
    /// oversize first message, a refused token), well below the sockets
    /// of a flaky but working network, which each carry traffic a while.
    pub short_lived_socket: Duration,
    /// Consecutive short-lived sockets (the first one included) before
    /// the session is given up with [`crate::Error::SocketsKeepFailing`]:
    /// a peer that kills every new socket (oversize messages, a gateway
    /// closing each one) is not resumed forever. At least 1.
    pub max_short_lived_sockets: u32,
    /// How long [`crate::Session::terminate`] waits for the agent to
    /// acknowledge the TerminateSession flag before closing anyway.
    pub terminate_grace: Duration,
    /// Allow plain `ws://` URLs to hosts that are not loopback (never
    /// needed with real AWS; only for unusual test rigs).
    pub allow_insecure_ws: bool,
    /// Deadlines of the steps that open a data-channel socket (first open
    /// and every resume).
    pub connect_deadlines: ConnectDeadlines,
}

/// How long each step of opening a data-channel socket may take before it
/// fails with [`crate::ConnectError::TimedOut`] (and, on a resume, the
/// next attempt starts). Default 10 s each: far above a healthy network's
/// round trips, well below a user's patience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectDeadlines {
    /// Resolving the gateway's name and connecting TCP (to the gateway,
    /// or to the `HTTPS_PROXY`).
    pub tcp: Duration,
    /// The proxy's answer to CONNECT (request sent, status line and
    /// headers read).
    pub proxy_connect: Duration,
    /// The TLS handshake.
    pub tls: Duration,
    /// The WebSocket upgrade request and its answer.
    pub upgrade: Duration,
}

impl Default for ConnectDeadlines {
    fn default() -> Self {
        let each = Duration::from_secs(10);
        Self {
            tcp: each,
            proxy_connect: each,
            tls: each,
            upgrade: each,
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            chunk_size: 1024,
            pacing: Some(PacingConfig::default()),
            max_unacked: 1024,
            max_receive_buffer: 4 * 1024 * 1024,
            max_stream_receive_buffer: 1024 * 1024,
            client_version: ssm_proto::version::CLIENT_VERSION.to_owned(),
            handshake_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(20),
            dead_after: Duration::from_secs(60),
            answer_timeout: Duration::from_secs(10),
            reconnect_initial: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            max_resume_failures: 8,
            short_lived_socket: Duration::from_secs(1),
            max_short_lived_sockets: 6,
            terminate_grace: Duration::from_secs(1),
            allow_insecure_ws: false,
            connect_deadlines: ConnectDeadlines::default(),
        }
    }
}

impl ClientConfig {
    /// The receive caps in force: (session-wide, per stream), each at
    /// least 64 KiB and the stream cap no larger than the session's.
    pub(crate) fn receive_caps(&self) -> ReceiveCaps {
        let session = self.max_receive_buffer.max(MIN_RECEIVE_BUFFER);
        let stream = self
            .max_stream_receive_buffer
            .clamp(MIN_RECEIVE_BUFFER, session);
        ReceiveCaps { session, stream }
    }

    /// The protocol-core configuration this implies.
    pub(crate) fn session_config(&self) -> SessionConfig {
        SessionConfig {
            channel: ChannelConfig {
                max_unacked: self.max_unacked.max(1),
                // Not `chunk_size`: that cuts stream data only (in the
                // core); control payloads such as the HandshakeResponse
                // are larger than a small chunk.
                pacing: self.pacing,
                ..ChannelConfig::client()
            },
            client_version: self.client_version.clone(),
            handshake_timeout: self.handshake_timeout,
        }
    }
}
