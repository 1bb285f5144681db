//! The session state shared by the driver task and the stream handles:
//! the protocol core, the smux client (mux mode) or the single raw
//! connection (basic mode), and the wakers of the tasks waiting on them.

use std::collections::{HashMap, VecDeque};
use std::task::{Poll, Waker};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ssm_mux::{Event as MuxEvent, StreamId};
use ssm_proto::message::MAX_PAYLOAD_SIZE;
use ssm_proto::payload::Flag;
use ssm_proto::session::{ClientSession, SessionEvent, SessionInfo};
use ssm_proto::version::{PortMode, agent_honours_terminate_flag};
use tracing::{debug, info, warn};

use crate::config::ReceiveCaps;
use crate::error::{EndCause, EndReason, Error};
use crate::stream::StreamHandle;

/// Upload bytes pulled from smux ahead of the window, in chunks.
const UPLOAD_LOOKAHEAD_CHUNKS: usize = 8;

/// Per-stream bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct StreamSlot {
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
    /// Whether any byte (or FIN) arrived; ConnectToPortError is
    /// attributed to the newest stream that has heard nothing yet.
    pub(crate) heard_back: bool,
    pub(crate) error: Option<Error>,
    pub(crate) order: u64,
}

/// Basic mode: one raw connection at a time.
#[derive(Debug, Default)]
pub(crate) struct BasicState {
    /// Key of the stream that owns the connection.
    pub(crate) active: Option<u32>,
    /// Bytes received for the active stream, not yet read.
    pub(crate) inbox: VecDeque<Bytes>,
    pub(crate) inbox_bytes: usize,
    /// Tasks waiting to open a stream (one waker per task).
    pub(crate) openers: VecDeque<Waker>,
    pub(crate) next_key: u32,
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
    pub(crate) session: ClientSession,
    pub(crate) status: Status,
    pub(crate) mux: Option<ssm_mux::Session>,
    mux_backlog: Option<Bytes>,
    upload: BytesMut,
    pub(crate) streams: HashMap<u32, StreamSlot>,
    pub(crate) basic: BasicState,
    pub(crate) chunk_size: usize,
    pub(crate) receive_caps: ReceiveCaps,
    next_order: u64,
    pub(crate) reconnects: u64,
    pub(crate) status_changed: bool,
}

impl Core {
    pub(crate) fn new(
        session: ClientSession,
        chunk_size: usize,
        receive_caps: ReceiveCaps,
    ) -> Self {
        Self {
            session,
            status: Status::Connecting,
            mux: None,
            mux_backlog: None,
            upload: BytesMut::new(),
            streams: HashMap::new(),
            basic: BasicState::default(),
            chunk_size: chunk_size.clamp(1, MAX_PAYLOAD_SIZE),
            receive_caps,
            next_order: 0,
            reconnects: 0,
            status_changed: false,
        }
    }

    /// The port mode, once the handshake is done.
    pub(crate) fn mode(&self) -> Option<PortMode> {
        match &self.status {
            Status::Ready(info) => Some(info.mode),
            _ => None,
        }
    }

    /// Moves data between the protocol core, smux and the stream buffers,
    /// and wakes whoever can now make progress. Call after every input.
    pub(crate) fn pump(&mut self, now: Instant) {
        self.drain_session_events(now);
        match self.mode() {
            Some(PortMode::Mux { .. }) => {
                self.feed_mux(now);
                self.drain_mux_events();
                self.upload_mux(now);
                self.drain_mux_events();
            }
            Some(PortMode::Basic | PortMode::StandardStream) => self.pump_basic(now),
            None => {}
        }
    }

    /// The driver's pump: [`Self::pump`], then frames to send into
    /// `pending` until it holds one more than the writer has room for
    /// (`writer_room`; `None`: no socket, nothing is collected). The frame
    /// left over keeps the driver waiting for writer room: otherwise the
    /// rest (e.g. a backlog of acks after a flood, and data behind it)
    /// waited for the next unrelated wake-up, stalling for tens of seconds
    /// when the service only sent one resend per second. Twice:
    /// data held back while queued messages waited (see `upload_mux`) can
    /// go once those are handed to the writer.
    pub(crate) fn pump_transmit(
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
    }

    /// Local readers are behind (the delivery queue is full): the driver
    /// stops reading the socket.
    pub(crate) fn input_held(&self) -> bool {
        self.session.channel().is_delivery_full()
    }

    /// A new socket replaced a lost one.
    pub(crate) fn handle_reconnect(&mut self) {
        self.session.handle_reconnect();
        self.reconnects += 1;
    }

    /// Queues the TerminateSession flag if the agent honours it; true if queued.
    pub(crate) fn send_terminate_flag(&mut self, now: Instant) -> bool {
        let honours = match &self.status {
            Status::Ready(info) => agent_honours_terminate_flag(&info.agent_version),
            _ => false,
        };
        honours && self.session.send_flag(now, Flag::TerminateSession).is_ok()
    }

    /// Runs protocol and smux timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
        if let Some(mux) = &mut self.mux {
            mux.handle_timeout(now);
        }
    }

    /// The earliest timer.
    pub(crate) fn next_timeout(&mut self) -> Option<Instant> {
        let mux = self.mux.as_ref().and_then(ssm_mux::Session::poll_timeout);
        // A partial chunk waits for the next pacing slot (see `upload_mux`).
        let partial = if self.upload.is_empty() {
            None
        } else {
            self.session.channel_mut().next_data_slot()
        };
        [self.session.poll_timeout(), mux, partial]
            .into_iter()
            .flatten()
            .min()
    }

    /// Received bytes that local streams have not read yet.
    pub(crate) fn unread_bytes(&self) -> usize {
        let in_mux = self.mux.as_ref().map_or(0, |mux| mux.stats().unread_bytes);
        in_mux + self.basic.inbox_bytes
    }

    /// Bytes of an Output message smux has not consumed yet.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn mux_backlog_len(&self) -> usize {
        self.mux_backlog.as_ref().map_or(0, Bytes::len)
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

    pub(crate) fn ended(&self) -> Option<&EndReason> {
        match &self.status {
            Status::Ended(reason) => Some(reason),
            _ => None,
        }
    }

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
        warn!("agent could not connect to the destination");
        let newest = self
            .streams
            .iter_mut()
            .filter(|(_, slot)| !slot.heard_back && slot.error.is_none())
            .max_by_key(|(_, slot)| slot.order);
        if let Some((_, slot)) = newest {
            slot.error = Some(Error::ConnectToPort);
            wake(&mut slot.read_waker);
            wake(&mut slot.write_waker);
        }
    }

    /// Registers a new stream handle.
    pub(crate) fn add_stream(&mut self, key: u32) {
        self.next_order += 1;
        let slot = StreamSlot {
            order: self.next_order,
            ..StreamSlot::default()
        };
        self.streams.insert(key, slot);
    }

    // ===== mux =====

    fn feed_mux(&mut self, now: Instant) {
        let Some(mux) = self.mux.as_mut() else { return };
        loop {
            let bytes = match self.mux_backlog.take() {
                Some(bytes) => bytes,
                None => match self.session.poll_output(now) {
                    Some(bytes) => bytes,
                    None => return,
                },
            };
            match mux.handle_input(&bytes) {
                Ok(used) if used < bytes.len() => {
                    self.mux_backlog = Some(bytes.slice(used..));
                    return;
                }
                Ok(_) => {}
                Err(error) => {
                    warn!(%error, "smux session failed");
                    return;
                }
            }
        }
    }

    fn drain_mux_events(&mut self) {
        let Some(mux) = self.mux.as_mut() else { return };
        let mut dead = None;
        while let Some(event) = mux.poll_event() {
            match event {
                MuxEvent::StreamReadable(sid) => {
                    if let Some(slot) = self.streams.get_mut(&sid.0) {
                        slot.heard_back = true;
                        wake(&mut slot.read_waker);
                    }
                }
                MuxEvent::StreamWritable(sid) => {
                    if let Some(slot) = self.streams.get_mut(&sid.0) {
                        wake(&mut slot.write_waker);
                    }
                }
                MuxEvent::IncomingStream => {
                    while let Some(sid) = mux.accept() {
                        debug!(sid = sid.0, "refusing stream opened by the agent");
                        let _ = mux.close(sid);
                    }
                }
                MuxEvent::InputUnblocked => {}
                MuxEvent::SessionDead(error) => dead = Some(error),
                _ => {}
            }
        }
        if let Some(error) = dead {
            self.end(EndReason::Failed(Error::SessionEnded(EndCause::Smux(
                error,
            ))));
        }
    }

    fn upload_mux(&mut self, now: Instant) {
        let Some(mux) = self.mux.as_mut() else { return };
        while self.session.channel().send_capacity() > 0 {
            while self.upload.len() < self.chunk_size * UPLOAD_LOOKAHEAD_CHUNKS {
                let Some(frame) = mux.poll_transmit() else {
                    break;
                };
                self.upload.extend_from_slice(&frame);
            }
            if self.upload.is_empty() {
                return;
            }
            // A full chunk is queued at once; a partial one only when it
            // would go out now. Otherwise it waits and fills up (a burst of
            // new streams becomes a few full messages, not hundreds of tiny
            // ones queued behind the pacer).
            if self.upload.len() < self.chunk_size
                && !self.session.channel_mut().can_send_data_now(now)
            {
                return;
            }
            let take = self.chunk_size.min(self.upload.len());
            let chunk = self.upload.split_to(take).freeze();
            if let Err(error) = self.session.send_output(now, chunk) {
                warn!(%error, "could not queue output");
                return;
            }
        }
    }

    /// Opens a stream: at once in mux mode; in basic mode when the
    /// connection is free, else `waker` is queued for the next release.
    pub(crate) fn poll_open_stream(&mut self, waker: &Waker) -> Poll<Result<StreamHandle, Error>> {
        if let Some(reason) = self.ended() {
            return Poll::Ready(Err(reason.to_error()));
        }
        match self.mode() {
            Some(PortMode::Mux { .. }) => {
                Poll::Ready(self.open_mux_stream().map(StreamHandle::mux))
            }
            Some(_) if self.basic.active.is_none() => {
                self.basic.next_key = self.basic.next_key.wrapping_add(1);
                let key = self.basic.next_key;
                self.basic.active = Some(key);
                self.add_stream(key);
                Poll::Ready(Ok(StreamHandle::basic(key)))
            }
            _ => {
                if !self.basic.openers.iter().any(|w| w.will_wake(waker)) {
                    self.basic.openers.push_back(waker.clone());
                }
                Poll::Pending
            }
        }
    }

    /// Opens an smux stream.
    fn open_mux_stream(&mut self) -> Result<StreamId, Error> {
        let mux = self.mux.as_mut().ok_or(Error::SessionEnded(EndCause::Smux(
            ssm_mux::SessionError::Closed,
        )))?;
        let sid = mux
            .open()
            .map_err(|e| Error::SessionEnded(EndCause::SmuxOpen(e)))?;
        self.add_stream(sid.0);
        Ok(sid)
    }

    // ===== basic =====

    fn pump_basic(&mut self, now: Instant) {
        if self.basic.active.is_none() {
            return;
        }
        let mut woke = false;
        while self.basic.inbox_bytes < self.receive_caps.stream {
            let Some(bytes) = self.session.poll_output(now) else {
                break;
            };
            if bytes.is_empty() {
                // A reader would take an empty chunk for EOF.
                continue;
            }
            self.basic.inbox_bytes += bytes.len();
            self.basic.inbox.push_back(bytes);
            woke = true;
        }
        if let Some(slot) = self.basic.active.and_then(|key| self.streams.get_mut(&key)) {
            if woke {
                slot.heard_back = true;
                wake(&mut slot.read_waker);
            }
            if self.session.channel().send_capacity() > 0 {
                wake(&mut slot.write_waker);
            }
        }
    }

    /// Releases the basic-mode connection held by `key`, telling the agent.
    pub(crate) fn release_basic(&mut self, key: u32, now: Instant) {
        if self.basic.active != Some(key) {
            return;
        }
        self.basic.active = None;
        self.basic.inbox.clear();
        self.basic.inbox_bytes = 0;
        if matches!(self.mode(), Some(PortMode::Basic))
            && let Err(error) = self.session.send_flag(now, Flag::DisconnectToPort)
        {
            debug!(%error, "could not send DisconnectToPort");
        }
        // Every waiting opener: one of them gets the connection, the rest
        // wait again. Waking only the first lost the connection to a task
        // that had stopped waiting (a dropped or already woken future).
        for opener in self.basic.openers.drain(..) {
            opener.wake();
        }
    }
}

pub(crate) fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}
