//! Receive half: an incremental frame parser that never buffers more than a
//! header. `PSH` payload bytes go straight into the stream's receive buffer
//! (or are skipped) as they arrive, so arbitrary chunking costs nothing.

use tracing::trace;

use super::{Session, notify_readable};
use crate::error::SessionError;
use crate::frame::{Cmd, FrameHeader, HEADER_LEN, UPD_PAYLOAD_LEN, VERSION_1};
use crate::stream::{StreamId, StreamState};

/// Most `FIN`s answering refused `SYN`s that may wait for transmission;
/// further refused `SYN`s are ignored without an answer.
const MAX_QUEUED_REFUSALS: usize = 1024;

/// Where the parser is within the current frame.
#[derive(Clone, Copy, Debug)]
pub(super) enum RecvState {
    /// Collecting the 8 header bytes.
    Header {
        /// Header bytes received so far.
        buf: [u8; HEADER_LEN],
        /// How many of `buf` are valid.
        filled: usize,
    },
    /// Inside a payload.
    Body {
        /// Stream the payload belongs to.
        sid: StreamId,
        /// Payload bytes still to come.
        remaining: usize,
        /// `PSH` data for the stream (`false`: a `UPD` payload, skipped).
        is_data: bool,
    },
}

impl Default for RecvState {
    fn default() -> Self {
        Self::Header {
            buf: [0; HEADER_LEN],
            filled: 0,
        }
    }
}

impl Session {
    /// Consumes transport bytes and returns how many were used.
    ///
    /// Fewer than `data.len()` are consumed only when the receive budget
    /// ([`Config::max_receive_buffer`](crate::Config::max_receive_buffer)) is
    /// used up at a frame boundary, or a `PSH` arrives for a stream whose
    /// unread data is at
    /// [`Config::max_stream_receive_buffer`](crate::Config::max_stream_receive_buffer)
    /// (its header is held inside); keep the rest and offer it again after
    /// [`Event::InputUnblocked`](crate::Event::InputUnblocked). As in smux, a
    /// frame that has started is always consumed whole, so unread data may
    /// exceed the budget by up to one frame.
    ///
    /// # Errors
    /// The [`SessionError`] that killed the session (now or earlier): a wrong
    /// version byte or an unknown command. Data of frames before the bad
    /// header has been delivered and stays readable.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<usize, SessionError> {
        if let Some(reason) = self.dead {
            return Err(reason);
        }
        let mut consumed = 0;
        let result = loop {
            if consumed == data.len() {
                break Ok(consumed);
            }
            match self.parse_step(&data[consumed..]) {
                Ok(0) if self.input_blocked => break Ok(consumed),
                Ok(used) => consumed += used,
                Err(reason) => break Err(reason),
            }
        };
        self.stats.bytes_in += consumed as u64;
        result
    }

    /// Advances the parser over a prefix of `input` (non-empty); returns how
    /// many bytes it used: 0 with `input_blocked` set when a budget forbids
    /// going on, 0 without it when a held header was just acted on.
    fn parse_step(&mut self, input: &[u8]) -> Result<usize, SessionError> {
        match self.recv_state {
            RecvState::Header { buf, filled } => self.parse_header(buf, filled, input),
            RecvState::Body {
                sid,
                remaining,
                is_data,
            } => Ok(self.parse_body(sid, remaining, is_data, input)),
        }
    }

    /// Collects header bytes and acts on the header once it is complete.
    fn parse_header(
        &mut self,
        mut buf: [u8; HEADER_LEN],
        filled: usize,
        input: &[u8],
    ) -> Result<usize, SessionError> {
        if filled == 0 && self.receive_budget_exhausted() {
            self.input_blocked = true;
            trace!(
                unread = self.unread,
                "receive budget exhausted, input paused"
            );
            return Ok(0);
        }
        let used = (HEADER_LEN - filled).min(input.len());
        buf[filled..filled + used].copy_from_slice(&input[..used]);
        let filled = filled + used;
        if filled < HEADER_LEN {
            self.recv_state = RecvState::Header { buf, filled };
            return Ok(used);
        }
        let header = FrameHeader::from_bytes(&buf);
        if let Some(sid) = self.full_stream_of(&header) {
            self.recv_state = RecvState::Header { buf, filled };
            self.held_for = Some(sid);
            self.input_blocked = true;
            trace!(sid = sid.0, "stream receive buffer full, input paused");
            return Ok(used);
        }
        self.held_for = None;
        self.input_blocked = false;
        self.recv_state = RecvState::default();
        self.on_header(header)?;
        Ok(used)
    }

    /// Delivers (`PSH`) or skips (`UPD`) payload bytes of the current frame.
    fn parse_body(
        &mut self,
        sid: StreamId,
        remaining: usize,
        is_data: bool,
        input: &[u8],
    ) -> usize {
        let used = remaining.min(input.len());
        self.recv_state = match remaining - used {
            0 => RecvState::default(),
            remaining => RecvState::Body {
                sid,
                remaining,
                is_data,
            },
        };
        if is_data {
            self.deliver(sid, &input[..used]);
        }
        used
    }

    /// The stream a `PSH` header is for, when that stream's unread data is
    /// already at [`Config::max_stream_receive_buffer`](crate::Config).
    fn full_stream_of(&self, header: &FrameHeader) -> Option<StreamId> {
        if header.version != VERSION_1 || header.cmd != Cmd::Psh || header.length == 0 {
            return None;
        }
        let stream = self.streams.get(&header.sid).filter(|s| s.is_open())?;
        (stream.recv.len() >= self.config.max_stream_receive_buffer).then_some(header.sid)
    }

    /// Acts on a complete header (smux `recvLoop`).
    fn on_header(&mut self, header: FrameHeader) -> Result<(), SessionError> {
        self.stats.frames_in += 1;
        self.frame_seen = true;
        if header.version != VERSION_1 {
            let version = header.version;
            return Err(self.die(SessionError::InvalidVersion { version }));
        }
        let sid = header.sid;
        match header.cmd {
            Cmd::Nop => trace!("nop received"),
            Cmd::Syn => self.on_syn(sid),
            Cmd::Fin => self.on_fin(sid),
            Cmd::Psh => {
                trace!(sid = sid.0, len = header.length, "psh received");
                self.expect_body(sid, usize::from(header.length), true);
            }
            Cmd::Upd => {
                trace!(sid = sid.0, "upd received, ignored in v1");
                self.expect_body(sid, UPD_PAYLOAD_LEN, false);
            }
            Cmd::Unknown(cmd) => return Err(self.die(SessionError::UnknownCommand { cmd })),
        }
        Ok(())
    }

    /// The next `len` input bytes are the payload of the current frame.
    fn expect_body(&mut self, sid: StreamId, len: usize, is_data: bool) {
        if len > 0 {
            self.recv_state = RecvState::Body {
                sid,
                remaining: len,
                is_data,
            };
        }
    }

    /// Peer opened `sid`: queue it for `accept`, or refuse it when the
    /// backlog is full. A `SYN` for a known id is ignored.
    fn on_syn(&mut self, sid: StreamId) {
        if self.streams.contains_key(&sid) {
            trace!(sid = sid.0, "syn for known stream ignored");
        } else if self.accept_queue.len() < self.config.max_accept_backlog {
            trace!(sid = sid.0, "syn received");
            self.streams.insert(sid, StreamState::default());
            self.accept_queue.push_back(sid);
            self.notify_incoming();
        } else if self.refusals.len() < MAX_QUEUED_REFUSALS {
            trace!(sid = sid.0, "accept backlog full, syn refused with fin");
            self.refusals.push_back(sid);
        } else {
            trace!(sid = sid.0, "accept backlog full, syn ignored");
        }
    }

    /// Peer closed `sid`: reads return buffered data, then EOF.
    fn on_fin(&mut self, sid: StreamId) {
        match self.streams.get_mut(&sid).filter(|s| s.is_open()) {
            Some(stream) => {
                trace!(sid = sid.0, "fin received");
                stream.fin_received = true;
                notify_readable(&mut self.events, sid, stream);
            }
            None => trace!(sid = sid.0, "fin for unknown stream ignored"),
        }
    }

    /// Appends payload bytes to an open stream, or drops them.
    fn deliver(&mut self, sid: StreamId, bytes: &[u8]) {
        match self.streams.get_mut(&sid).filter(|s| s.is_open()) {
            Some(stream) => {
                stream.recv.extend_from_slice(bytes);
                self.unread += bytes.len();
                notify_readable(&mut self.events, sid, stream);
            }
            None => trace!(
                sid = sid.0,
                len = bytes.len(),
                "data for unknown stream discarded"
            ),
        }
    }
}
