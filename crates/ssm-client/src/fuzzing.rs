//! Entry points for the `client_driver` fuzz target (feature `fuzzing`):
//! the session core, connection rules included, driven the way the
//! driver task and the [`Stream`]s drive it, with every instant passed in
//! (virtual time), no runtime and no socket. Not a stable API.
//!
//! [`Client`] mirrors the driver: [`Client::handle_frame`] is a received
//! binary message, [`Client::handle_received`] any other socket traffic
//! (a pong), [`Client::handle_socket_lost`] a failed socket,
//! [`Client::handle_timeout`] a timer (due at [`Client::poll_timeout`]),
//! [`Client::poll_transmit`] the pump after every event (frames to send go
//! to `pending`, as the driver queues them for its writer task), and
//! [`Client::poll_action`] what the driver must then do (ping, drop the
//! socket, resume, call TerminateSession), answered with
//! [`Client::handle_resumed`] / [`Client::handle_resume_failed`] and
//! [`Client::end`]. [`Client::input_held`] says the driver stops reading
//! the socket and [`Client::handle_terminate`] is a terminate request. The
//! stream operations are those of [`crate::Session`] and [`Stream`]
//! without the lock.
//!
//! [`Stream`]: crate::Stream

use std::collections::VecDeque;
use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ssm_proto::session::{ClientSession, SessionInfo};
use ssm_proto::version::PortMode;
use ssm_proto::{ClientMessage, ReceiveError};

use crate::config::{ClientConfig, ReceiveCaps};
use crate::connection::Timer;
use crate::core::{self, Core, StreamHandle};
use crate::error::{EndReason, Error};
use crate::stats::SessionStats;

/// Frames the driver's writer queue holds (the room [`Client::pump`] fills, plus one).
pub const WRITER_QUEUE: usize = crate::config::WRITER_QUEUE;

/// What the driver must do ([`Client::poll_action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send a WebSocket ping.
    Ping,
    /// Give up the socket; resuming follows.
    DropSocket,
    /// Call ResumeSession and open a new socket; report the outcome with
    /// [`Client::handle_resumed`] or [`Client::handle_resume_failed`].
    Resume,
    /// Call TerminateSession, then [`Client::end`] with
    /// [`EndReason::Terminated`].
    CallTerminate,
    /// Short-lived sockets in a row reached the limit: [`Client::end`]
    /// with [`EndReason::Failed`].
    GiveUp {
        /// Short-lived sockets in a row.
        sockets: u32,
    },
}

impl From<core::Action> for Action {
    fn from(action: core::Action) -> Self {
        match action {
            core::Action::Ping => Self::Ping,
            core::Action::DropSocket => Self::DropSocket,
            core::Action::Resume => Self::Resume,
            core::Action::CallTerminate => Self::CallTerminate,
            core::Action::GiveUp { sockets } => Self::GiveUp { sockets },
        }
    }
}

/// Limits that [`ClientConfig`] clamps or does not expose, so that a
/// fuzzer reaches them with little data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Session-wide receive cap (at least 1; not clamped to 64 KiB).
    pub session_receive: usize,
    /// Per-stream receive cap (at least 1, at most `session_receive`).
    pub stream_receive: usize,
    /// The data channel's delivery queue, in bytes (`None`: the default).
    pub max_delivery_bytes: Option<usize>,
}

/// Buffered received bytes, per place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffered {
    /// Unread bytes in the smux session (all streams).
    pub mux_unread: usize,
    /// Bytes of an Output message that smux has not consumed yet.
    pub mux_backlog: usize,
    /// Unread bytes of the basic-mode connection.
    pub basic_inbox: usize,
}

/// The core of one session.
#[derive(Debug)]
pub struct Client {
    core: Core,
}

/// A stream opened with [`Client::poll_open_stream`].
#[derive(Debug)]
pub struct StreamRef(StreamHandle);

impl StreamRef {
    /// The smux stream id (mux mode) or the basic-mode key.
    pub fn id(&self) -> u32 {
        self.0.key()
    }

    /// Closed with [`Client::close`].
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl Client {
    /// A session as [`crate::Session::attach`] creates it, its first socket
    /// open at `now`, waiting for the handshake; `limits` overrides the
    /// receive limits when given. `seed` drives message ids and the resume
    /// backoff jitter.
    pub fn new(
        config: &ClientConfig,
        limits: Option<Limits>,
        now: Instant,
        unix_ms: u64,
        seed: u64,
    ) -> Self {
        let mut session_config = config.session_config();
        let mut caps = config.receive_caps();
        if let Some(limits) = limits {
            let session = limits.session_receive.max(1);
            caps = ReceiveCaps {
                session,
                stream: limits.stream_receive.clamp(1, session),
            };
            if let Some(bytes) = limits.max_delivery_bytes {
                session_config.channel.max_delivery_bytes = bytes;
            }
        }
        let session = ClientSession::new(session_config, now, unix_ms, seed);
        Self {
            core: Core::new(session, config, caps, now, seed),
        }
    }

    /// A binary message from the socket (decoded first, as the driver
    /// does outside the lock).
    ///
    /// # Errors
    /// The frame was dropped (the driver logs this and carries on).
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), ReceiveError> {
        self.core.handle_frame(now, ClientMessage::decode(frame))
    }

    /// Other traffic from the socket (a pong).
    pub fn handle_received(&mut self, now: Instant) {
        self.core.handle_received(now);
    }

    /// The socket failed or closed.
    pub fn handle_socket_lost(&mut self, now: Instant, reason: &str) {
        self.core.handle_socket_lost(now, reason.to_owned());
    }

    /// The driver's timer fired.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// When the driver's timer is due.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// When the next resume attempt is due, while resuming.
    pub fn resume_due(&self) -> Option<Instant> {
        self.core.link_timer(Timer::Backoff)
    }

    /// A socket is open.
    pub fn has_socket(&self) -> bool {
        matches!(
            self.core.link_state(),
            core::LinkState::Connected | core::LinkState::Terminating { socket: true, .. }
        )
    }

    /// The driver's pump: moves data and collects frames into `pending`
    /// until it holds one more than `writer_room` (`None`: no socket); the
    /// extra frame keeps the driver waiting for writer room.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        writer_room: Option<usize>,
        pending: &mut VecDeque<Bytes>,
    ) {
        self.core.poll_transmit(now, writer_room, pending);
    }

    /// What the driver must do next.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.core.poll_action().map(Action::from)
    }

    /// The driver does not read the socket now.
    pub fn input_held(&self) -> bool {
        self.core.input_held()
    }

    /// [`Action::Resume`] succeeded: a new socket is open.
    pub fn handle_resumed(&mut self, now: Instant) {
        self.core.handle_resumed(now);
    }

    /// [`Action::Resume`] failed; true when the session must end.
    pub fn handle_resume_failed(&mut self, now: Instant, transient: bool) -> bool {
        self.core.handle_resume_failed(now, transient)
    }

    /// `Session::terminate` (or the last handle dropped).
    pub fn handle_terminate(&mut self, now: Instant) {
        self.core.handle_terminate(now);
    }

    /// Ends the session (first reason wins), as the driver does.
    pub fn end(&mut self, reason: EndReason) {
        self.core.end(reason);
    }

    /// [`crate::Session::open_stream`], one poll.
    pub fn poll_open_stream(&mut self, cx: &mut Context<'_>) -> Poll<Result<StreamRef, Error>> {
        self.core.poll_open_stream(cx.waker()).map_ok(StreamRef)
    }

    /// `AsyncRead::poll_read` of the stream; `Ready(Ok(0))` is EOF.
    pub fn poll_read(
        &mut self,
        stream: &mut StreamRef,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.core.poll_read(&stream.0, cx, buf)
    }

    /// `AsyncWrite::poll_write` of the stream.
    pub fn poll_write(
        &mut self,
        stream: &mut StreamRef,
        cx: &mut Context<'_>,
        data: &[u8],
        now: Instant,
    ) -> Poll<io::Result<usize>> {
        self.core.poll_write(&stream.0, cx, data, now)
    }

    /// Shutting down or dropping the stream; false if it was closed already.
    pub fn close(&mut self, stream: &mut StreamRef, now: Instant) -> bool {
        self.core.close_stream(&mut stream.0, now)
    }

    /// The handshake result, once the session is ready (and not ended).
    pub fn info(&self) -> Option<&SessionInfo> {
        self.core.info()
    }

    /// The port mode, once ready.
    pub fn mode(&self) -> Option<PortMode> {
        self.core.mode()
    }

    /// Why the session ended, if it has.
    pub fn end_reason(&self) -> Option<&EndReason> {
        self.core.ended()
    }

    /// The protocol core.
    pub fn session(&self) -> &ClientSession {
        self.core.session()
    }

    /// The receive caps in force: (session-wide, per stream).
    pub fn receive_caps(&self) -> (usize, usize) {
        let caps = self.core.receive_caps();
        (caps.session, caps.stream)
    }

    /// Received bytes not read yet, per place.
    pub fn buffered(&self) -> Buffered {
        Buffered {
            mux_unread: self.core.mux_unread(),
            mux_backlog: self.core.mux_backlog_len(),
            basic_inbox: self.core.basic_inbox_bytes(),
        }
    }

    /// Bytes taken from smux for upload but not sent yet: a partial chunk
    /// waits up to one pacing interval, a full window for an ack.
    pub fn upload_held(&self) -> usize {
        self.core.upload_held()
    }

    /// Received bytes of one stream not read yet.
    pub fn stream_unread(&self, stream: &StreamRef) -> usize {
        self.core.stream_unread(stream.id())
    }

    /// The stream holding the basic-mode connection.
    pub fn basic_active(&self) -> Option<u32> {
        self.core.basic_active()
    }

    /// [`crate::Session::stats`].
    pub fn stats(&self) -> SessionStats {
        self.core.stats()
    }
}
