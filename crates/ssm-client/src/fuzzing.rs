//! Entry points for the `client_driver` fuzz target (feature `fuzzing`):
//! the session core, driven the way the driver task and the [`Stream`]s
//! drive it, with every instant passed in (virtual time), no runtime and
//! no socket. Not a stable API.
//!
//! [`Client`] mirrors the driver: [`Client::handle_frame`] is a received
//! binary message, [`Client::handle_timeout`] a timer, [`Client::pump`]
//! the pump after every event (frames to send go to `pending`, as the
//! driver queues them for its writer task), [`Client::input_held`] says
//! the driver stops reading the socket, [`Client::handle_reconnect`] a
//! resumed socket and [`Client::send_terminate_flag`] / [`Client::end`]
//! a terminate. The stream operations are those of [`crate::Session`]
//! and [`Stream`] without the lock.
//!
//! [`Stream`]: crate::Stream

use std::collections::VecDeque;
use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ssm_mux::StreamId;
use ssm_proto::ReceiveError;
use ssm_proto::session::{ClientSession, SessionInfo};
use ssm_proto::version::PortMode;
use tokio::io::ReadBuf;

use crate::config::{ClientConfig, ReceiveCaps};
use crate::core::{Core, Status};
use crate::error::{EndReason, Error};
use crate::stats::SessionStats;
use crate::stream::StreamHandle;

/// Frames the driver's writer queue holds (the room [`Client::pump`] fills, plus one).
pub const WRITER_QUEUE: usize = crate::config::WRITER_QUEUE;

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
    /// A session as [`crate::Session::attach`] creates it, waiting for the
    /// handshake; `limits` overrides the receive limits when given.
    pub fn new(
        config: &ClientConfig,
        limits: Option<Limits>,
        now: Instant,
        unix_ms: u64,
        id_seed: u64,
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
        let session = ClientSession::new(session_config, now, unix_ms, id_seed);
        Self {
            core: Core::new(session, config.chunk_size, caps),
        }
    }

    /// A binary message from the socket.
    ///
    /// # Errors
    /// The frame was dropped (the driver logs this and carries on).
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), ReceiveError> {
        self.core.session.handle_frame(now, frame)
    }

    /// The driver's timer fired.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// When the driver's timer is due (besides pings and terminate).
    pub fn next_timeout(&mut self) -> Option<Instant> {
        self.core.next_timeout()
    }

    /// The driver's pump: moves data and collects frames into `pending`
    /// until it holds one more than `writer_room` (`None`: no socket); the
    /// extra frame keeps the driver waiting for writer room.
    pub fn pump(
        &mut self,
        now: Instant,
        writer_room: Option<usize>,
        pending: &mut VecDeque<Bytes>,
    ) {
        self.core.pump_transmit(now, writer_room, pending);
    }

    /// The driver does not read the socket now.
    pub fn input_held(&self) -> bool {
        self.core.input_held()
    }

    /// The driver resumed on a new socket.
    pub fn handle_reconnect(&mut self) {
        self.core.handle_reconnect();
    }

    /// The first step of a terminate; true if the flag was queued.
    pub fn send_terminate_flag(&mut self, now: Instant) -> bool {
        self.core.send_terminate_flag(now)
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
        let mut buf = ReadBuf::new(buf);
        match stream.0.poll_read(&mut self.core, cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// `AsyncWrite::poll_write` of the stream.
    pub fn poll_write(
        &mut self,
        stream: &mut StreamRef,
        cx: &mut Context<'_>,
        data: &[u8],
        now: Instant,
    ) -> Poll<io::Result<usize>> {
        stream.0.poll_write(&mut self.core, cx, data, now)
    }

    /// Shutting down or dropping the stream; false if it was closed already.
    pub fn close(&mut self, stream: &mut StreamRef, now: Instant) -> bool {
        stream.0.close(&mut self.core, now)
    }

    /// The handshake result, once the session is ready (and not ended).
    pub fn info(&self) -> Option<&SessionInfo> {
        match &self.core.status {
            Status::Ready(info) => Some(info),
            _ => None,
        }
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
        &self.core.session
    }

    /// The receive caps in force: (session-wide, per stream).
    pub fn receive_caps(&self) -> (usize, usize) {
        (
            self.core.receive_caps.session,
            self.core.receive_caps.stream,
        )
    }

    /// Received bytes not read yet, per place.
    pub fn buffered(&self) -> Buffered {
        Buffered {
            mux_unread: self
                .core
                .mux
                .as_ref()
                .map_or(0, |mux| mux.stats().unread_bytes),
            mux_backlog: self.core.mux_backlog_len(),
            basic_inbox: self.core.basic.inbox_bytes,
        }
    }

    /// Received bytes of one stream not read yet.
    pub fn stream_unread(&self, stream: &StreamRef) -> usize {
        let key = stream.id();
        match &self.core.mux {
            Some(mux) => mux.unread(StreamId(key)),
            None if self.core.basic.active == Some(key) => self.core.basic.inbox_bytes,
            None => 0,
        }
    }

    /// The stream holding the basic-mode connection.
    pub fn basic_active(&self) -> Option<u32> {
        self.core.basic.active
    }

    /// [`crate::Session::stats`].
    pub fn stats(&self) -> SessionStats {
        SessionStats::from_core(&self.core)
    }
}
