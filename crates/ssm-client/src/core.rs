//! The session state shared by the driver task and the stream handles,
//! sans-IO: the protocol core, the smux client (mux mode) or the single
//! raw connection (basic mode), the connection rules ([`Connection`]) and
//! the wakers of the tasks waiting on them.
//!
//! Driven like quinn-proto's `Connection`: `handle_*` inputs with the
//! current instant, `poll_*` outputs ([`Core::poll_transmit`],
//! [`Core::poll_action`], [`Core::poll_timeout`]), and the stream
//! operations of [`crate::Stream`] and `Session::open_stream` (in
//! `streams`). No clock is read; no runtime is needed.

use std::collections::{HashMap, VecDeque};
use std::task::Waker;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ssm_mux::StreamId;
use ssm_proto::message::MAX_PAYLOAD_SIZE;
use ssm_proto::payload::Flag;
use ssm_proto::session::{ClientSession, SessionEvent, SessionInfo};
use ssm_proto::version::{PortMode, agent_honours_terminate_flag};
use ssm_proto::{ClientMessage, DecodeError, ReceiveError};
use tracing::{debug, info};

use crate::config::{ClientConfig, ReceiveCaps};
use crate::connection::Connection;
pub(crate) use crate::connection::{Action, LinkState};
use crate::error::{EndReason, Error};
use crate::stats::{LinkStatus, SessionStats};

mod pump;
mod streams;

pub(crate) use streams::StreamHandle;

/// Per-stream bookkeeping.
#[derive(Debug, Default)]
struct StreamSlot {
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
    /// Whether any byte (or FIN) arrived; ConnectToPortError is
    /// attributed to the newest stream that has heard nothing yet.
    heard_back: bool,
    error: Option<Error>,
    order: u64,
}

/// Basic mode: one raw connection at a time.
#[derive(Debug, Default)]
struct BasicState {
    /// Key of the stream that owns the connection.
    active: Option<u32>,
    /// Bytes received for the active stream, not yet read.
    inbox: VecDeque<Bytes>,
    inbox_bytes: usize,
    /// Tasks waiting to open a stream (one waker per task).
    openers: VecDeque<Waker>,
    next_key: u32,
}

/// Where the session stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Status {
    /// Waiting for the handshake.
    Connecting,
    /// Forwarding.
    Ready(Box<SessionInfo>),
    /// Over.
    Ended(EndReason),
}

/// Everything behind the session's mutex.
#[derive(Debug)]
pub(crate) struct Core {
    session: ClientSession,
    status: Status,
    mux: Option<ssm_mux::Session>,
    mux_backlog: Option<Bytes>,
    upload: BytesMut,
    streams: HashMap<u32, StreamSlot>,
    basic: BasicState,
    chunk_size: usize,
    receive_caps: ReceiveCaps,
    next_order: u64,
    status_changed: bool,
    link: Connection,
}

impl Core {
    /// A session whose first socket opened at `now`, waiting for the
    /// handshake. `receive_caps` are usually `config.receive_caps()`;
    /// `link_seed` drives the resume backoff jitter.
    pub(crate) fn new(
        session: ClientSession,
        config: &ClientConfig,
        receive_caps: ReceiveCaps,
        now: Instant,
        link_seed: u64,
    ) -> Self {
        Self {
            session,
            status: Status::Connecting,
            mux: None,
            mux_backlog: None,
            upload: BytesMut::new(),
            streams: HashMap::new(),
            basic: BasicState::default(),
            chunk_size: config.chunk_size.clamp(1, MAX_PAYLOAD_SIZE),
            receive_caps,
            next_order: 0,
            status_changed: false,
            link: Connection::new(config, now, link_seed),
        }
    }

    // ===== getters =====

    /// The port mode, once the handshake is done.
    pub(crate) fn mode(&self) -> Option<PortMode> {
        match &self.status {
            Status::Ready(info) => Some(info.mode),
            _ => None,
        }
    }

    /// The handshake result, once ready (and not ended).
    pub(crate) fn info(&self) -> Option<&SessionInfo> {
        match &self.status {
            Status::Ready(info) => Some(info),
            _ => None,
        }
    }

    pub(crate) fn ended(&self) -> Option<&EndReason> {
        match &self.status {
            Status::Ended(reason) => Some(reason),
            _ => None,
        }
    }

    /// Local readers are behind (the delivery queue is full): the driver
    /// stops reading the socket.
    pub(crate) fn input_held(&self) -> bool {
        self.session.channel().is_delivery_full()
    }

    /// Received bytes that local streams have not read yet.
    pub(crate) fn unread_bytes(&self) -> usize {
        let in_mux = self.mux.as_ref().map_or(0, |mux| mux.stats().unread_bytes);
        in_mux + self.basic.inbox_bytes
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> SessionStats {
        let channel = self.session.channel();
        let stats = channel.stats();
        SessionStats {
            messages_sent: stats.messages_sent,
            bytes_sent: stats.bytes_sent,
            messages_received: stats.messages_received,
            bytes_received: stats.bytes_received,
            retransmits: stats.retransmits,
            duplicates_received: stats.duplicates_received,
            refused: stats.refused,
            invalid_frames: stats.invalid_frames,
            unread_bytes: self.unread_bytes(),
            rtt: stats.srtt,
            unacked: stats.unacked,
            reconnects: self.link.reconnects(),
            open_streams: self.streams.len(),
            paused: channel.is_paused(),
        }
    }

    /// The new status, once after every change.
    pub(crate) fn take_status_change(&mut self) -> Option<Status> {
        std::mem::take(&mut self.status_changed).then(|| self.status.clone())
    }

    /// The new link status, once after every change.
    pub(crate) fn take_link_change(&mut self) -> Option<LinkStatus> {
        self.link.take_status_change().then(|| LinkStatus {
            connected: self.link.has_socket(),
            reconnects: self.link.reconnects(),
            last_loss: self.link.last_loss().to_owned(),
        })
    }

    /// Why the latest socket was lost (empty before any loss).
    pub(crate) fn link_last_loss(&self) -> &str {
        self.link.last_loss()
    }

    // ===== inputs =====

    /// A binary message from the socket, decoded (and digest-checked) by
    /// [`ClientMessage::decode`] before the lock was taken.
    ///
    /// # Errors
    /// The frame was dropped (the driver logs this and carries on).
    pub(crate) fn handle_frame(
        &mut self,
        now: Instant,
        decoded: Result<ClientMessage, DecodeError>,
    ) -> Result<(), ReceiveError> {
        self.link.handle_received(now);
        self.session.handle_decoded(now, decoded)
    }

    /// Anything else (a pong, a text message) arrived on the socket.
    pub(crate) fn handle_received(&mut self, now: Instant) {
        self.link.handle_received(now);
    }

    /// The socket failed or closed; `reason` goes to the link status.
    pub(crate) fn handle_socket_lost(&mut self, now: Instant, reason: String) {
        self.link.handle_socket_lost(now, reason);
    }

    /// Runs the timers due at `now`: protocol and smux timers while a
    /// socket is open, and the connection rules.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.link.has_socket() {
            self.session.handle_timeout(now);
            if let Some(mux) = &mut self.mux {
                mux.handle_timeout(now);
            }
        }
        self.link.handle_timeout(now);
    }

    /// [`Action::Resume`] succeeded: a new socket replaced the lost one.
    pub(crate) fn handle_resumed(&mut self, now: Instant) {
        if matches!(self.link.state(), LinkState::Resuming { .. }) {
            self.session.handle_reconnect();
            self.link.handle_resumed(now);
        }
    }

    /// [`Action::Resume`] failed; `transient` when retrying may help. True
    /// when the rules give up: the caller ends the session.
    pub(crate) fn handle_resume_failed(&mut self, now: Instant, transient: bool) -> bool {
        self.link.handle_resume_failed(now, transient)
    }

    /// Terminate was asked for: queues the TerminateSession flag (when the
    /// agent honours it) and gives the agent a moment to acknowledge it,
    /// then [`Action::CallTerminate`].
    pub(crate) fn handle_terminate(&mut self, now: Instant) {
        if matches!(self.link.state(), LinkState::Terminating { .. }) {
            return;
        }
        let honours = self
            .info()
            .is_some_and(|info| agent_honours_terminate_flag(&info.agent_version));
        let sent = honours && self.session.send_flag(now, Flag::TerminateSession).is_ok();
        self.link.handle_terminate(now, sent);
    }

    /// Ends the session (first reason wins) and wakes everyone.
    pub(crate) fn end(&mut self, reason: EndReason) {
        if matches!(self.status, Status::Ended(_)) {
            return;
        }
        info!(%reason, "session ended");
        self.status = Status::Ended(reason);
        self.status_changed = true;
        self.wake_all();
    }

    // ===== outputs =====

    /// The driver's pump: [`Self::pump`], then frames to send into
    /// `pending` until it holds one more than the writer has room for
    /// (`writer_room`; `None`: no socket, nothing is collected). The frame
    /// left over keeps the driver waiting for writer room: otherwise the
    /// rest (e.g. a backlog of acks after a flood, and data behind it)
    /// waited for the next unrelated wake-up, stalling for tens of seconds
    /// when the service only sent one resend per second. Twice:
    /// data held back while queued messages waited (see `upload_mux`) can
    /// go once those are handed to the writer.
    pub(crate) fn poll_transmit(
        &mut self,
        now: Instant,
        writer_room: Option<usize>,
        pending: &mut VecDeque<Bytes>,
    ) {
        for _ in 0..2 {
            self.pump(now);
            let Some(room) = writer_room else { break };
            for _ in pending.len()..=room {
                let Some(frame) = self.session.poll_transmit(now) else {
                    break;
                };
                pending.push_back(frame);
            }
        }
        self.link.handle_reading(now, !self.input_held());
        let channel = self.session.channel();
        if channel.unacked() == 0 {
            self.link.handle_all_acked();
        } else if !channel.is_paused() {
            self.link.handle_awaiting_answer(now);
        }
    }

    /// What the driver must do next.
    #[must_use]
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.link.poll_action()
    }

    /// The earliest timer: the connection rules', and while a socket is
    /// open the protocol core's, smux's and a partial chunk's.
    #[must_use]
    pub(crate) fn poll_timeout(&mut self) -> Option<Instant> {
        let link = self.link.poll_timeout();
        if !self.link.has_socket() {
            return link;
        }
        let mux = self.mux.as_ref().and_then(ssm_mux::Session::poll_timeout);
        // A partial chunk waits for the next pacing slot (see `upload_mux`);
        // with the window full it waits for an ack instead, and a pacing
        // slot already passed would be a deadline that never moves.
        let partial = if self.upload.is_empty() || self.session.channel().send_capacity() == 0 {
            None
        } else {
            self.session.channel_mut().next_data_slot()
        };
        [self.session.poll_timeout(), mux, partial, link]
            .into_iter()
            .flatten()
            .min()
    }

    // ===== session events =====

    fn wake_all(&mut self) {
        for slot in self.streams.values_mut() {
            wake(&mut slot.read_waker);
            wake(&mut slot.write_waker);
        }
        for opener in self.basic.openers.drain(..) {
            opener.wake();
        }
    }

    fn drain_session_events(&mut self, now: Instant) {
        while let Some(event) = self.session.poll_event() {
            match event {
                SessionEvent::HandshakeComplete(info) => self.on_ready(info, now),
                SessionEvent::HandshakeFailed(error) => {
                    self.end(EndReason::Failed(Error::Handshake(error)))
                }
                SessionEvent::Flag(Flag::ConnectToPortError) => self.on_connect_error(),
                SessionEvent::Flag(other) => debug!(?other, "ignoring flag from agent"),
                SessionEvent::ChannelClosed(closed) => {
                    self.end(EndReason::ChannelClosed(closed.describe()))
                }
                SessionEvent::Paused => info!("service paused our sending"),
                SessionEvent::Resumed => info!("service resumed our sending"),
            }
        }
    }

    fn on_ready(&mut self, info: SessionInfo, now: Instant) {
        info!(mode = ?info.mode, agent_version = %info.agent_version, "session ready");
        if let PortMode::Mux { smux_keepalive } = info.mode {
            let config = ssm_mux::Config {
                keep_alive: smux_keepalive.then(ssm_mux::KeepAlive::default),
                max_receive_buffer: self.receive_caps.session,
                max_stream_receive_buffer: self.receive_caps.stream,
                ..ssm_mux::Config::default()
            };
            match ssm_mux::Session::new(ssm_mux::Role::Client, config, now) {
                Ok(mux) => self.mux = Some(mux),
                Err(error) => {
                    return self.end(EndReason::Failed(Error::Config(error)));
                }
            }
        }
        self.status = Status::Ready(Box::new(info));
        self.status_changed = true;
    }

    fn on_connect_error(&mut self) {
        debug!("agent could not connect to the destination");
        let newest = self
            .streams
            .iter_mut()
            .filter(|(_, slot)| !slot.heard_back && slot.error.is_none())
            .max_by_key(|(_, slot)| slot.order);
        let Some((&key, slot)) = newest else {
            return;
        };
        slot.error = Some(Error::ConnectToPort);
        wake(&mut slot.read_waker);
        wake(&mut slot.write_waker);
        // The agent gave that stream up: close it here too, so whatever
        // still arrives for it is dropped instead of holding the session's
        // receive budget until the application drops its handle. (In mux
        // mode a stream's key is its smux id.)
        if let Some(mux) = self.mux.as_mut() {
            let _ = mux.close(StreamId(key));
        }
    }
}

/// What the `client_driver` fuzz target inspects.
#[cfg(feature = "fuzzing")]
impl Core {
    /// The protocol core.
    pub(crate) fn session(&self) -> &ClientSession {
        &self.session
    }

    /// Where the link stands.
    pub(crate) fn link_state(&self) -> LinkState {
        self.link.state()
    }

    /// The receive caps in force.
    pub(crate) fn receive_caps(&self) -> ReceiveCaps {
        self.receive_caps
    }

    /// Unread bytes in the smux session (all streams).
    pub(crate) fn mux_unread(&self) -> usize {
        self.mux.as_ref().map_or(0, |mux| mux.stats().unread_bytes)
    }

    /// smux frames taken for upload but not yet sent as Output (a partial
    /// chunk waiting for its pacing slot, or anything waiting for room in
    /// the window).
    pub(crate) fn upload_held(&self) -> usize {
        self.upload.len()
    }

    /// Bytes of an Output message smux has not consumed yet.
    pub(crate) fn mux_backlog_len(&self) -> usize {
        self.mux_backlog.as_ref().map_or(0, Bytes::len)
    }

    /// Unread bytes of the basic-mode connection.
    pub(crate) fn basic_inbox_bytes(&self) -> usize {
        self.basic.inbox_bytes
    }

    /// The stream holding the basic-mode connection.
    pub(crate) fn basic_active(&self) -> Option<u32> {
        self.basic.active
    }

    /// Received bytes of one stream not read yet.
    pub(crate) fn stream_unread(&self, key: u32) -> usize {
        match &self.mux {
            Some(mux) => mux.unread(ssm_mux::StreamId(key)),
            None if self.basic.active == Some(key) => self.basic.inbox_bytes,
            None => 0,
        }
    }

    /// The deadline of one connection timer.
    pub(crate) fn link_timer(&self, timer: crate::connection::Timer) -> Option<Instant> {
        self.link.timer(timer)
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}
