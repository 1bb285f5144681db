//! The sans-IO session: state shared by the receive, send, stream and timer halves.

mod keepalive;
mod recv;
mod send;
mod streams;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::BytesMut;
use tracing::debug;

use crate::config::{Config, Role};
use crate::error::{ConfigError, SessionError};
use crate::event::{Event, Stats};
use crate::stream::{StreamId, StreamState};

use self::keepalive::KeepAliveTimer;
use self::recv::RecvState;

/// One end of an smux v1 session, without any I/O.
///
/// # Driving a session
///
/// The driver owns the transport (any ordered byte stream) and a timer:
///
/// 1. **Input.** Pass received transport bytes to [`handle_input`]. It
///    returns how many it consumed; keep the rest. It consumes less than
///    offered only when the receive budget is used up; feed the rest again
///    after [`Event::InputUnblocked`]. Chunk boundaries do not matter.
/// 2. **Output.** After *every* call into the session, drain
///    [`poll_transmit`] and write each returned frame whole and in order.
/// 3. **Events.** Drain [`poll_event`] and wake the tasks concerned.
/// 4. **Timer.** Arm a timer for [`poll_timeout`]; when it fires call
///    [`handle_timeout`]. `None` means no timer is needed.
/// 5. **End.** When the transport reports EOF or an error, call
///    [`handle_transport_closed`]. [`close_session`] ends the session from
///    this side.
///
/// Streams are plain ids: [`open`] or [`accept`] one, then [`read`],
/// [`write`] and [`close`] it. Nothing blocks: `read` reports
/// [`ReadOutcome::WouldBlock`](crate::ReadOutcome::WouldBlock) and `write`
/// may accept fewer bytes than offered; an event follows when progress is
/// possible.
///
/// [`handle_input`]: Self::handle_input
/// [`poll_transmit`]: Self::poll_transmit
/// [`poll_event`]: Self::poll_event
/// [`poll_timeout`]: Self::poll_timeout
/// [`handle_timeout`]: Self::handle_timeout
/// [`handle_transport_closed`]: Self::handle_transport_closed
/// [`close_session`]: Self::close_session
/// [`open`]: Self::open
/// [`accept`]: Self::accept
/// [`read`]: Self::read
/// [`write`]: Self::write
/// [`close`]: Self::close
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: Config,
    streams: HashMap<StreamId, StreamState>,
    /// The last stream id handed out (smux `nextStreamID`).
    last_local_id: u32,
    ids_exhausted: bool,
    accept_queue: VecDeque<StreamId>,
    events: VecDeque<Event>,
    incoming_queued: bool,
    unblocked_queued: bool,
    recv_state: RecvState,
    /// Bytes delivered to open streams and not yet read.
    unread: usize,
    /// `handle_input` stopped early because the budget was used up.
    input_blocked: bool,
    /// The stream whose full receive buffer holds up input (its `PSH`
    /// header waits in the parser).
    held_for: Option<StreamId>,
    /// Round-robin order of streams with frames to send.
    send_queue: VecDeque<StreamId>,
    /// `FIN`s answering refused `SYN`s.
    refusals: VecDeque<StreamId>,
    nop_pending: bool,
    keep_alive: Option<KeepAliveTimer>,
    /// A frame header arrived since the last keepalive check.
    frame_seen: bool,
    dead: Option<SessionError>,
    stats: Stats,
}

impl Session {
    /// Creates a session; `now` starts the keepalive timers.
    ///
    /// # Errors
    /// [`ConfigError`] if `config` fails [`Config::validate`].
    pub fn new(role: Role, config: Config, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            role,
            config,
            streams: HashMap::new(),
            last_local_id: match role {
                Role::Client => 1,
                Role::Server => 0,
            },
            ids_exhausted: false,
            accept_queue: VecDeque::new(),
            events: VecDeque::new(),
            incoming_queued: false,
            unblocked_queued: false,
            recv_state: RecvState::default(),
            unread: 0,
            input_blocked: false,
            held_for: None,
            send_queue: VecDeque::new(),
            refusals: VecDeque::new(),
            nop_pending: false,
            keep_alive: config.keep_alive.map(|ka| KeepAliveTimer::new(ka, now)),
            frame_seen: false,
            dead: None,
            stats: Stats::default(),
        })
    }

    /// This session's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration the session was created with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Why the session died, or `None` while it is alive.
    #[must_use]
    pub fn dead_reason(&self) -> Option<SessionError> {
        self.dead
    }

    /// The next event for the driver, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        match event {
            Event::IncomingStream => self.incoming_queued = false,
            Event::InputUnblocked => self.unblocked_queued = false,
            Event::StreamReadable(sid) => {
                if let Some(stream) = self.streams.get_mut(&sid) {
                    stream.readable_queued = false;
                }
            }
            Event::StreamWritable(sid) => {
                if let Some(stream) = self.streams.get_mut(&sid) {
                    stream.writable_queued = false;
                }
            }
            Event::SessionDead(_) => {}
        }
        Some(event)
    }

    /// Current counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        Stats {
            open_streams: self.streams.values().filter(|s| s.is_open()).count(),
            unread_bytes: self.unread,
            ..self.stats
        }
    }

    /// The driver saw EOF or an error on the transport. The session dies with
    /// [`SessionError::TransportClosed`]; buffered stream data stays readable.
    pub fn handle_transport_closed(&mut self) {
        self.die(SessionError::TransportClosed);
    }

    /// Ends the session from this side (smux `Session.Close`; v1 sends no
    /// frame for it). The session dies with [`SessionError::Closed`];
    /// buffered stream data stays readable. Close the transport afterwards.
    pub fn close_session(&mut self) {
        self.die(SessionError::Closed);
    }

    /// Marks the session dead (first reason wins) and drops everything that
    /// can no longer be delivered. Returns the reason in force.
    fn die(&mut self, reason: SessionError) -> SessionError {
        if let Some(earlier) = self.dead {
            return earlier;
        }
        debug!(%reason, role = ?self.role, "session dead");
        self.dead = Some(reason);
        for sid in std::mem::take(&mut self.accept_queue) {
            if let Some(stream) = self.streams.remove(&sid) {
                self.unread -= stream.recv.len();
            }
        }
        self.streams.retain(|_, stream| stream.is_open());
        for stream in self.streams.values_mut() {
            stream.send = BytesMut::new();
            stream.syn_pending = false;
            stream.in_send_queue = false;
        }
        self.send_queue.clear();
        self.refusals.clear();
        self.nop_pending = false;
        self.events.push_back(Event::SessionDead(reason));
        reason
    }

    /// The receive budget is used up: no new frame may be read.
    fn receive_budget_exhausted(&self) -> bool {
        self.unread >= self.config.max_receive_buffer
    }

    /// The stream holding up input still has a full receive buffer.
    fn held_stream_full(&self) -> bool {
        self.held_for
            .and_then(|sid| self.streams.get(&sid))
            .is_some_and(|stream| stream.recv.len() >= self.config.max_stream_receive_buffer)
    }

    /// Returns `freed` bytes to the receive budget and reports
    /// [`Event::InputUnblocked`] if input was waiting for them.
    fn release_budget(&mut self, freed: usize) {
        self.unread -= freed;
        if self.input_blocked && !self.receive_budget_exhausted() && !self.held_stream_full() {
            self.input_blocked = false;
            if !self.unblocked_queued {
                self.unblocked_queued = true;
                self.events.push_back(Event::InputUnblocked);
            }
        }
    }

    /// Queues [`Event::IncomingStream`] unless one is already queued.
    fn notify_incoming(&mut self) {
        if !self.incoming_queued {
            self.incoming_queued = true;
            self.events.push_back(Event::IncomingStream);
        }
    }
}

/// Queues [`Event::StreamReadable`] for `sid` unless one is already queued.
fn notify_readable(events: &mut VecDeque<Event>, sid: StreamId, stream: &mut StreamState) {
    if !stream.readable_queued {
        stream.readable_queued = true;
        events.push_back(Event::StreamReadable(sid));
    }
}

/// Queues [`Event::StreamWritable`] for `sid` unless one is already queued.
fn notify_writable(events: &mut VecDeque<Event>, sid: StreamId, stream: &mut StreamState) {
    if !stream.writable_queued {
        stream.writable_queued = true;
        events.push_back(Event::StreamWritable(sid));
    }
}

/// Puts `sid` at the back of the round-robin send queue unless it is queued.
fn schedule_send(send_queue: &mut VecDeque<StreamId>, sid: StreamId, stream: &mut StreamState) {
    if !stream.in_send_queue && stream.has_output() {
        stream.in_send_queue = true;
        send_queue.push_back(sid);
    }
}
