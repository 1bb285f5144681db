//! Harness of the `smux_session` target: one server-role `ssm_mux::Session`
//! fed arbitrary transport bytes, checked against a reference parser of
//! the byte stream it consumed and a record of what the application wrote.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use ssm_mux::frame::{Cmd, Frame, FrameHeader, HEADER_LEN, MAX_PAYLOAD_LEN, UPD_PAYLOAD_LEN};
use ssm_mux::{
    Config, Event, KeepAlive, ReadOutcome, Role, Session, SessionError, StreamError, StreamId,
};

use crate::seed::{Encode, Encoder};

/// One fuzz case: the session's limits, then the operations.
#[derive(Debug, Arbitrary)]
pub struct Input {
    /// `max_frame_size` is this, at least 1.
    pub max_frame_size: u16,
    /// `max_receive_buffer` is this + 1.
    pub max_receive_buffer: u16,
    /// `max_stream_write_buffer` is this + 1.
    pub max_stream_write_buffer: u16,
    /// `max_accept_backlog` is this % 8.
    pub max_accept_backlog: u8,
    /// Keepalive interval and extra timeout, in milliseconds.
    pub keep_alive: Option<(u16, u16)>,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

/// One step.
#[derive(Debug, Arbitrary)]
pub enum Op {
    /// Queue a well-formed version-1 frame on the peer's byte stream.
    Frame {
        /// Its command.
        cmd: FrameCmd,
        /// Its stream id.
        sid: u8,
        /// Its payload (`PSH`; `UPD` uses 8 bytes of it).
        payload: Vec<u8>,
    },
    /// Queue raw bytes on the peer's byte stream.
    Raw(Vec<u8>),
    /// Offer up to this many queued bytes to `handle_input`.
    Feed(u16),
    /// Open a stream.
    Open,
    /// Accept a peer-opened stream.
    Accept,
    /// Read up to `len` bytes from a live stream (picked by index).
    Read {
        /// Which live stream.
        stream: u8,
        /// Buffer size.
        len: u16,
    },
    /// Write to a live stream.
    Write {
        /// Which live stream.
        stream: u8,
        /// The data.
        data: Vec<u8>,
        /// Write it this many times over (fills buffers quickly).
        repeat: u8,
    },
    /// Close a live stream.
    Close {
        /// Which live stream.
        stream: u8,
    },
    /// Virtual time advances by this many milliseconds.
    Advance(u16),
    /// Jump to the session's deadline, if any, and run its timers.
    Timeout,
    /// Drain `poll_transmit`.
    Poll,
    /// The transport ended.
    TransportClosed,
    /// The application ends the session.
    CloseSession,
    /// Accept every pending stream and read every live stream dry.
    DrainAll,
}

/// A frame command.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum FrameCmd {
    /// `SYN`.
    Syn,
    /// `FIN`.
    Fin,
    /// `PSH`.
    Psh,
    /// `NOP`.
    Nop,
    /// `UPD`.
    Upd,
}

/// The reference parser's position in the consumed byte stream.
#[derive(Debug, Clone, Copy)]
enum Parse {
    Header {
        buf: [u8; HEADER_LEN],
        filled: usize,
    },
    Body {
        sid: u32,
        remaining: usize,
        data: bool,
    },
}

/// What the peer's consumed bytes said about one stream id.
#[derive(Debug, Default)]
struct Peer {
    /// Every `PSH` byte sent on this id, in order.
    data: Vec<u8>,
    /// `(frame number, data.len())` at each `SYN`.
    syns: Vec<(u64, usize)>,
    /// Frame numbers of each `FIN`.
    fins: Vec<u64>,
}

/// A stream the application holds (opened or accepted, not closed).
#[derive(Debug)]
struct Live {
    /// Where its received data may start in `Peer::data`: the positions of
    /// the SYNs that may have created it (one position for our own opens).
    starts: Vec<(u64, usize)>,
    /// Everything read from it so far.
    read: Vec<u8>,
}

/// What we wrote on one stream and how much of it went out.
#[derive(Debug, Default)]
struct Outgoing {
    local: bool,
    syn_sent: bool,
    written: Vec<u8>,
    transmitted: usize,
    closed: bool,
    fin_sent: bool,
}

/// What a run achieved, so seeds can be checked to reach deep states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes the application read.
    pub read: usize,
    /// Bytes transmitted in `PSH` frames.
    pub sent: usize,
    /// Streams accepted.
    pub accepted: usize,
    /// Times `handle_input` consumed less than offered.
    pub blocked: usize,
    /// Why the session died, if it did.
    pub dead: Option<SessionError>,
}

struct Harness {
    session: Session,
    config: Config,
    now: Instant,
    pending: Vec<u8>,
    parse: Parse,
    frames: u64,
    peer: HashMap<u32, Peer>,
    /// Frame number when each id was last closed by us.
    closed_at: HashMap<u32, u64>,
    live: Vec<(StreamId, Live)>,
    out: HashMap<u32, Outgoing>,
    dead: Option<SessionError>,
    outcome: Outcome,
}

const HEADER_START: Parse = Parse::Header {
    buf: [0; HEADER_LEN],
    filled: 0,
};

impl Harness {
    fn new(input: &Input, now: Instant) -> Self {
        let keep_alive = input.keep_alive.map(|(interval, extra)| {
            let interval = Duration::from_millis(u64::from(interval.max(1)));
            KeepAlive {
                interval,
                timeout: interval + Duration::from_millis(u64::from(extra)),
            }
        });
        let config = Config {
            keep_alive,
            max_frame_size: usize::from(input.max_frame_size.max(1)),
            max_receive_buffer: usize::from(input.max_receive_buffer) + 1,
            max_stream_receive_buffer: usize::from(input.max_receive_buffer) / 2 + 1,
            max_stream_write_buffer: usize::from(input.max_stream_write_buffer) + 1,
            max_accept_backlog: usize::from(input.max_accept_backlog % 8),
        };
        let session = Session::new(Role::Server, config, now).expect("valid config");
        Self {
            session,
            config,
            now,
            pending: Vec::new(),
            parse: HEADER_START,
            frames: 0,
            peer: HashMap::new(),
            closed_at: HashMap::new(),
            live: Vec::new(),
            out: HashMap::new(),
            dead: None,
            outcome: Outcome {
                read: 0,
                sent: 0,
                accepted: 0,
                blocked: 0,
                dead: None,
            },
        }
    }

    /// Runs the reference parser over consumed bytes. Returns the offset
    /// just past the first invalid header, if one is found.
    fn reference_parse(&mut self, mut bytes: &[u8]) -> Option<usize> {
        let total = bytes.len();
        while !bytes.is_empty() {
            match self.parse {
                Parse::Header { mut buf, filled } => {
                    let used = (HEADER_LEN - filled).min(bytes.len());
                    buf[filled..filled + used].copy_from_slice(&bytes[..used]);
                    bytes = &bytes[used..];
                    if filled + used < HEADER_LEN {
                        self.parse = Parse::Header {
                            buf,
                            filled: filled + used,
                        };
                        continue;
                    }
                    self.parse = HEADER_START;
                    if !self.on_reference_header(FrameHeader::from_bytes(&buf)) {
                        return Some(total - bytes.len());
                    }
                }
                Parse::Body {
                    sid,
                    remaining,
                    data,
                } => {
                    let used = remaining.min(bytes.len());
                    if data {
                        let peer = self.peer.entry(sid).or_default();
                        peer.data.extend_from_slice(&bytes[..used]);
                    }
                    bytes = &bytes[used..];
                    self.parse = if used == remaining {
                        HEADER_START
                    } else {
                        Parse::Body {
                            sid,
                            remaining: remaining - used,
                            data,
                        }
                    };
                }
            }
        }
        None
    }

    /// Records one header; false if it kills the session.
    fn on_reference_header(&mut self, header: FrameHeader) -> bool {
        self.frames += 1;
        if header.version != 1 {
            return false;
        }
        let sid = header.sid.0;
        let frame = self.frames;
        match header.cmd {
            Cmd::Syn => {
                let peer = self.peer.entry(sid).or_default();
                peer.syns.push((frame, peer.data.len()));
            }
            Cmd::Fin => self.peer.entry(sid).or_default().fins.push(frame),
            Cmd::Psh if header.length > 0 => {
                self.parse = Parse::Body {
                    sid,
                    remaining: usize::from(header.length),
                    data: true,
                };
            }
            Cmd::Upd => {
                self.parse = Parse::Body {
                    sid,
                    remaining: UPD_PAYLOAD_LEN,
                    data: false,
                };
            }
            Cmd::Psh | Cmd::Nop => {}
            Cmd::Unknown(_) => return false,
        }
        true
    }

    /// Paused at a frame boundary with the session-wide budget used up.
    fn budget_full(&self) -> bool {
        self.session.stats().unread_bytes >= self.config.max_receive_buffer
            && matches!(self.parse, Parse::Header { filled: 0, .. })
    }

    /// Paused right after a `PSH` header whose stream holds its cap.
    fn held_for_full_stream(&self) -> bool {
        match self.parse {
            Parse::Body {
                sid, data: true, ..
            } => self.session.unread(StreamId(sid)) >= self.config.max_stream_receive_buffer,
            _ => false,
        }
    }

    fn feed(&mut self, max: u16) {
        let offered = usize::from(max).min(self.pending.len());
        let unread_before = self.session.stats().unread_bytes;
        let result = self.session.handle_input(&self.pending[..offered]);
        match result {
            Ok(consumed) => {
                assert!(self.dead.is_none(), "input accepted after death");
                assert!(consumed <= offered, "consumed {consumed} of {offered}");
                let pending = std::mem::take(&mut self.pending);
                let bad = self.reference_parse(&pending[..consumed]);
                assert_eq!(bad, None, "an invalid header was accepted");
                if consumed < offered {
                    self.outcome.blocked += 1;
                    assert!(
                        self.budget_full() || self.held_for_full_stream(),
                        "input refused below the receive budgets"
                    );
                }
                self.pending = pending;
                self.pending.drain(..consumed);
            }
            Err(reason) => {
                if let Some(earlier) = self.dead {
                    assert_eq!(reason, earlier);
                } else {
                    let pending = std::mem::take(&mut self.pending);
                    assert!(
                        self.reference_parse(&pending[..offered]).is_some(),
                        "{reason} without an invalid header"
                    );
                    assert!(matches!(
                        reason,
                        SessionError::InvalidVersion { .. } | SessionError::UnknownCommand { .. }
                    ));
                }
            }
        }
        let unread = self.session.stats().unread_bytes;
        if unread > unread_before {
            assert!(
                unread < self.config.max_receive_buffer + MAX_PAYLOAD_LEN,
                "{unread} unread bytes exceed the budget by more than a frame"
            );
        }
    }

    fn open(&mut self) {
        match self.session.open() {
            Ok(sid) => {
                assert!(self.dead.is_none());
                assert!(sid.0 >= 2 && sid.0 % 2 == 0, "server ids are even: {sid}");
                assert!(
                    self.live.iter().all(|(live, _)| *live != sid),
                    "{sid} opened twice"
                );
                if let Some(old) = self.out.get(&sid.0) {
                    assert!(old.closed && old.fin_sent, "{sid} reused before its FIN");
                }
                let peer = self.peer.entry(sid.0).or_default();
                let start = (self.frames, peer.data.len());
                self.live.push((
                    sid,
                    Live {
                        starts: vec![start],
                        read: Vec::new(),
                    },
                ));
                self.out.insert(
                    sid.0,
                    Outgoing {
                        local: true,
                        ..Outgoing::default()
                    },
                );
            }
            Err(StreamError::SessionDead(reason)) => assert_eq!(Some(reason), self.dead),
            Err(other) => panic!("open failed: {other}"),
        }
    }

    fn accept(&mut self) -> bool {
        let Some(sid) = self.session.accept() else {
            return false;
        };
        assert!(self.dead.is_none(), "accept after death");
        self.outcome.accepted += 1;
        let since = self.closed_at.get(&sid.0).copied().unwrap_or(0);
        let starts: Vec<_> = self
            .peer
            .get(&sid.0)
            .map(|peer| {
                peer.syns
                    .iter()
                    .copied()
                    .filter(|(f, _)| *f > since)
                    .collect()
            })
            .unwrap_or_default();
        assert!(!starts.is_empty(), "accepted {sid} without a SYN");
        assert!(
            self.live.iter().all(|(live, _)| *live != sid),
            "{sid} accepted twice"
        );
        if let Some(old) = self.out.get(&sid.0) {
            assert!(old.closed && old.fin_sent, "{sid} reused before its FIN");
        }
        self.live.push((
            sid,
            Live {
                starts,
                read: Vec::new(),
            },
        ));
        self.out.insert(sid.0, Outgoing::default());
        true
    }

    fn pick(&self, index: u8) -> Option<usize> {
        (!self.live.is_empty()).then(|| usize::from(index) % self.live.len())
    }

    /// Reads once; returns false when nothing more can be read now.
    fn read(&mut self, index: usize, len: usize) -> bool {
        let (sid, _) = self.live[index];
        let mut buf = vec![0; len];
        let unread_before = self.session.stats().unread_bytes;
        let result = self.session.read(sid, &mut buf);
        let peer = self.peer.entry(sid.0).or_default();
        let (data, fins) = (&peer.data, &peer.fins);
        let live = &mut self.live[index].1;
        match result {
            Ok(ReadOutcome::Data(n)) => {
                assert!(n <= len && (n > 0 || len == 0));
                assert_eq!(self.session.stats().unread_bytes + n, unread_before);
                live.read.extend_from_slice(&buf[..n]);
                let read = &live.read;
                live.starts
                    .retain(|&(_, at)| data.get(at..at + read.len()) == Some(&read[..]));
                assert!(
                    !live.starts.is_empty(),
                    "{sid}: read data the peer never sent"
                );
                self.outcome.read += n;
                n > 0
            }
            Ok(ReadOutcome::Eof) => {
                let done = live.starts.iter().any(|&(frame, at)| {
                    at + live.read.len() == data.len() && fins.iter().any(|&f| f > frame)
                });
                assert!(done, "{sid}: EOF before the peer's FIN or with data unread");
                false
            }
            Ok(ReadOutcome::WouldBlock) => {
                assert!(self.dead.is_none(), "WouldBlock on a dead session");
                let drained = live
                    .starts
                    .iter()
                    .any(|&(_, at)| at + live.read.len() == data.len());
                assert!(drained, "{sid}: WouldBlock with data pending");
                false
            }
            Err(StreamError::SessionDead(reason)) => {
                assert_eq!(Some(reason), self.dead);
                false
            }
            Err(other) => panic!("read on live {sid}: {other}"),
        }
    }

    fn write(&mut self, index: usize, data: &[u8], repeat: u8) {
        let (sid, _) = self.live[index];
        for _ in 0..=repeat {
            let result = self.session.write(sid, data);
            let cap = self.config.max_stream_write_buffer;
            let out = self
                .out
                .get_mut(&sid.0)
                .expect("live streams have a record");
            let buffered = out.written.len() - out.transmitted;
            match result {
                Ok(n) => {
                    assert!(self.dead.is_none());
                    assert!(
                        n <= data.len() && buffered + n <= cap,
                        "write buffer overflow"
                    );
                    assert!(
                        n == data.len() || buffered + n == cap,
                        "short write with room left"
                    );
                    out.written.extend_from_slice(&data[..n]);
                }
                Err(StreamError::SessionDead(reason)) => assert_eq!(Some(reason), self.dead),
                Err(other) => panic!("write on live {sid}: {other}"),
            }
        }
    }

    fn close(&mut self, index: usize) {
        let (sid, _) = self.live.remove(index);
        assert_eq!(self.session.close(sid), Ok(()));
        self.closed_at.insert(sid.0, self.frames);
        if let Some(out) = self.out.get_mut(&sid.0) {
            out.closed = true;
        }
    }

    fn poll(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            assert!(self.dead.is_none(), "transmitted after death");
            self.on_transmit(&frame);
        }
        if self.dead.is_some() {
            return;
        }
        for (sid, out) in &self.out {
            if out.fin_sent {
                continue;
            }
            assert_eq!(
                out.transmitted,
                out.written.len(),
                "{sid}: data left behind"
            );
            assert!(out.syn_sent || !out.local, "{sid}: SYN never sent");
            assert!(!out.closed, "{sid}: closed but no FIN sent");
        }
    }

    fn on_transmit(&mut self, bytes: &[u8]) {
        let (frame, used) = Frame::decode(bytes).expect("transmitted frames decode");
        assert_eq!(used, bytes.len(), "one whole frame per transmit");
        let header = frame.header;
        assert_eq!(header.version, 1);
        let sid = header.sid.0;
        match header.cmd {
            Cmd::Nop => assert_eq!(sid, 0, "NOP on a stream"),
            Cmd::Syn => {
                let out = self.out.get_mut(&sid).expect("SYN for a stream we opened");
                assert!(out.local && !out.syn_sent, "{sid}: unexpected SYN");
                out.syn_sent = true;
            }
            Cmd::Psh => {
                let max = self.config.max_frame_size;
                let out = self.out.get_mut(&sid).expect("PSH for a stream we hold");
                assert!(out.syn_sent || !out.local, "{sid}: PSH before SYN");
                assert!(!out.fin_sent, "{sid}: PSH after FIN");
                let len = frame.payload.len();
                assert!((1..=max).contains(&len), "{sid}: PSH of {len} bytes");
                let end = out.transmitted + len;
                assert_eq!(
                    out.written.get(out.transmitted..end),
                    Some(frame.payload),
                    "{sid}: transmitted data differs from what was written"
                );
                out.transmitted = end;
                self.outcome.sent += len;
            }
            Cmd::Fin => {
                let refusable = self
                    .peer
                    .get(&sid)
                    .is_some_and(|peer| !peer.syns.is_empty());
                // A stream's FIN comes after its SYN and data. Any other FIN
                // must refuse a peer SYN (a peer that uses our id parity can
                // make such a refusal share an id with a stream we open).
                match self.out.get_mut(&sid) {
                    Some(out)
                        if out.closed
                            && !out.fin_sent
                            && out.transmitted == out.written.len()
                            && (out.syn_sent || !out.local) =>
                    {
                        out.fin_sent = true;
                    }
                    _ => assert!(refusable, "{sid}: FIN without close or peer SYN"),
                }
            }
            Cmd::Upd | Cmd::Unknown(_) => panic!("sent {:?}", header.cmd),
        }
    }

    /// Accepts and reads everything, feeding held-back input again as
    /// reads free room, until nothing moves; then no budget may be left.
    fn drain_all(&mut self) {
        loop {
            while self.accept() {}
            for index in 0..self.live.len() {
                while self.read(index, 4096) {}
            }
            let pending = self.pending.len();
            if pending == 0 || self.dead.is_some() {
                break;
            }
            self.feed(u16::MAX);
            self.drain_events();
            if self.pending.len() == pending {
                break;
            }
        }
        assert_eq!(self.session.stats().unread_bytes, 0, "budget leaked");
    }

    fn queue_frame(&mut self, cmd: FrameCmd, sid: u8, payload: &[u8]) {
        let (cmd, payload) = match cmd {
            FrameCmd::Syn => (Cmd::Syn, &[][..]),
            FrameCmd::Fin => (Cmd::Fin, &[][..]),
            FrameCmd::Nop => (Cmd::Nop, &[][..]),
            FrameCmd::Psh => (Cmd::Psh, &payload[..payload.len().min(MAX_PAYLOAD_LEN)]),
            FrameCmd::Upd => {
                let mut upd = [0; UPD_PAYLOAD_LEN];
                let n = payload.len().min(UPD_PAYLOAD_LEN);
                upd[..n].copy_from_slice(&payload[..n]);
                self.pending.extend_from_slice(
                    &FrameHeader::new(Cmd::Upd, StreamId(u32::from(sid)), 0).to_bytes(),
                );
                self.pending.extend_from_slice(&upd);
                return;
            }
        };
        let length = u16::try_from(payload.len()).expect("capped above");
        let header = FrameHeader::new(cmd, StreamId(u32::from(sid)), length);
        self.pending.extend_from_slice(&header.to_bytes());
        self.pending.extend_from_slice(payload);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Frame { cmd, sid, payload } => self.queue_frame(cmd, sid, &payload),
            Op::Raw(bytes) => self.pending.extend_from_slice(&bytes),
            Op::Feed(max) => self.feed(max),
            Op::Open => self.open(),
            Op::Accept => {
                let _ = self.accept();
            }
            Op::Read { stream, len } => {
                if let Some(index) = self.pick(stream) {
                    let _ = self.read(index, usize::from(len));
                }
            }
            Op::Write {
                stream,
                data,
                repeat,
            } => {
                if let Some(index) = self.pick(stream) {
                    self.write(index, &data, repeat);
                }
            }
            Op::Close { stream } => {
                if let Some(index) = self.pick(stream) {
                    self.close(index);
                }
            }
            Op::Advance(ms) => self.now += Duration::from_millis(u64::from(ms)),
            Op::Timeout => {
                if let Some(deadline) = self.session.poll_timeout() {
                    assert!(self.dead.is_none());
                    self.now = self.now.max(deadline);
                }
                self.session.handle_timeout(self.now);
            }
            Op::Poll => self.poll(),
            Op::TransportClosed => self.session.handle_transport_closed(),
            Op::CloseSession => self.session.close_session(),
            Op::DrainAll => self.drain_all(),
        }
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.session.poll_event() {
            if let Event::SessionDead(reason) = event {
                assert_eq!(self.dead, None, "SessionDead reported twice");
                self.dead = Some(reason);
            }
        }
        assert_eq!(self.session.dead_reason(), self.dead);
    }
}

/// Runs one case, panicking on any broken invariant.
pub fn run(input: Input) -> Outcome {
    let mut harness = Harness::new(&input, Instant::now());
    for op in input.ops {
        harness.apply(op);
    }
    harness.poll();
    harness.drain_all();
    harness.drain_events();
    Outcome {
        dead: harness.dead,
        ..harness.outcome
    }
}

impl Encode for Input {
    fn encode(&self, e: &mut Encoder) {
        self.max_frame_size.encode(e);
        self.max_receive_buffer.encode(e);
        self.max_stream_write_buffer.encode(e);
        self.max_accept_backlog.encode(e);
        self.keep_alive.is_some().encode(e);
        if let Some((interval, extra)) = self.keep_alive {
            interval.encode(e);
            extra.encode(e);
        }
        e.rest(&self.ops);
    }
}

impl Encode for FrameCmd {
    fn encode(&self, e: &mut Encoder) {
        let index = match self {
            Self::Syn => 0,
            Self::Fin => 1,
            Self::Psh => 2,
            Self::Nop => 3,
            Self::Upd => 4,
        };
        e.variant(index, 5);
    }
}

impl Encode for Op {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 14;
        match self {
            Self::Frame { cmd, sid, payload } => {
                e.variant(0, COUNT);
                cmd.encode(e);
                sid.encode(e);
                payload.encode(e);
            }
            Self::Raw(bytes) => {
                e.variant(1, COUNT);
                bytes.encode(e);
            }
            Self::Feed(max) => {
                e.variant(2, COUNT);
                max.encode(e);
            }
            Self::Open => e.variant(3, COUNT),
            Self::Accept => e.variant(4, COUNT),
            Self::Read { stream, len } => {
                e.variant(5, COUNT);
                stream.encode(e);
                len.encode(e);
            }
            Self::Write {
                stream,
                data,
                repeat,
            } => {
                e.variant(6, COUNT);
                stream.encode(e);
                data.encode(e);
                repeat.encode(e);
            }
            Self::Close { stream } => {
                e.variant(7, COUNT);
                stream.encode(e);
            }
            Self::Advance(ms) => {
                e.variant(8, COUNT);
                ms.encode(e);
            }
            Self::Timeout => e.variant(9, COUNT),
            Self::Poll => e.variant(10, COUNT),
            Self::TransportClosed => e.variant(11, COUNT),
            Self::CloseSession => e.variant(12, COUNT),
            Self::DrainAll => e.variant(13, COUNT),
        }
    }
}
