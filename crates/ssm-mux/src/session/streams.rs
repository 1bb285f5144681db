//! Application-facing stream operations: open, accept, read, write, close.

use std::collections::HashMap;

use tracing::{debug, trace};

use super::{Session, schedule_send};
use crate::error::StreamError;
use crate::stream::{ReadOutcome, StreamId, StreamState};

impl Session {
    /// Opens a stream (smux `OpenStream`): allocates the next id of this
    /// role (client 3, 5, 7, …; server 2, 4, …) and queues its `SYN`.
    ///
    /// # Errors
    /// [`StreamError::StreamIdsExhausted`] once the id space is used up,
    /// [`StreamError::SessionDead`] after the session died.
    pub fn open(&mut self) -> Result<StreamId, StreamError> {
        self.check_alive()?;
        let sid = self.allocate_stream_id()?;
        let stream = self
            .streams
            .entry(sid)
            .or_insert_with(StreamState::opened_locally);
        schedule_send(&mut self.send_queue, sid, stream);
        debug!(sid = sid.0, "stream opened");
        Ok(sid)
    }

    /// Takes the oldest stream opened by the peer, if any. Both roles accept,
    /// as in smux. Returns `None` after the session died.
    #[must_use]
    pub fn accept(&mut self) -> Option<StreamId> {
        if self.dead.is_some() {
            return None;
        }
        let sid = self.accept_queue.pop_front()?;
        debug!(sid = sid.0, "stream accepted");
        Some(sid)
    }

    /// Received bytes of stream `sid` not yet read (0 for a stream that is
    /// not open).
    pub fn unread(&self, sid: StreamId) -> usize {
        self.streams
            .get(&sid)
            .filter(|stream| stream.is_open())
            .map_or(0, |stream| stream.recv.len())
    }

    /// Reads received data of stream `sid` into `buf`.
    ///
    /// Buffered data always comes first, then [`ReadOutcome::Eof`] if the
    /// peer sent `FIN`, then the session's death reason as an error;
    /// otherwise [`ReadOutcome::WouldBlock`]. Reading returns budget, which
    /// may produce [`Event::InputUnblocked`](crate::Event::InputUnblocked).
    ///
    /// # Errors
    /// [`StreamError::UnknownStream`] if `sid` is not open,
    /// [`StreamError::SessionDead`] once the session died and nothing is left.
    pub fn read(&mut self, sid: StreamId, buf: &mut [u8]) -> Result<ReadOutcome, StreamError> {
        let dead = self.dead;
        let stream = open_stream(&mut self.streams, sid)?;
        if buf.is_empty() {
            return Ok(ReadOutcome::Data(0));
        }
        if !stream.recv.is_empty() {
            let n = stream.take_received(buf);
            self.release_budget(n);
            return Ok(ReadOutcome::Data(n));
        }
        if stream.fin_received {
            return Ok(ReadOutcome::Eof);
        }
        match dead {
            Some(reason) => Err(reason.into()),
            None => Ok(ReadOutcome::WouldBlock),
        }
    }

    /// Buffers data for stream `sid` and returns how much was accepted: at
    /// most the free space of its write buffer, so possibly 0. After a short
    /// write, [`Event::StreamWritable`](crate::Event::StreamWritable) reports
    /// free space. Writing after the peer's `FIN` is allowed (smux v1 lets
    /// the peer discard it).
    ///
    /// # Errors
    /// [`StreamError::UnknownStream`] if `sid` is not open,
    /// [`StreamError::SessionDead`] after the session died.
    pub fn write(&mut self, sid: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        self.check_alive()?;
        let capacity = self.config.max_stream_write_buffer;
        let stream = open_stream(&mut self.streams, sid)?;
        let accepted = capacity.saturating_sub(stream.send.len()).min(data.len());
        stream.send.extend_from_slice(&data[..accepted]);
        if accepted < data.len() {
            stream.write_blocked = true;
        }
        schedule_send(&mut self.send_queue, sid, stream);
        trace!(sid = sid.0, offered = data.len(), accepted, "write");
        Ok(accepted)
    }

    /// Closes stream `sid` fully (smux v1 `Stream.Close`): its buffered
    /// outgoing data is still sent, followed by a `FIN`; unread received data
    /// is dropped (returning its budget) and later data for it is discarded.
    /// The id is invalid afterwards. After the session died this only
    /// releases the stream's buffers.
    ///
    /// # Errors
    /// [`StreamError::UnknownStream`] if `sid` is not open.
    pub fn close(&mut self, sid: StreamId) -> Result<(), StreamError> {
        let dead = self.dead.is_some();
        let stream = open_stream(&mut self.streams, sid)?;
        let discarded = std::mem::take(&mut stream.recv).len();
        stream.closed_locally = true;
        stream.fin_pending = true;
        if dead {
            self.streams.remove(&sid);
        } else {
            schedule_send(&mut self.send_queue, sid, stream);
            self.accept_queue.retain(|queued| *queued != sid);
        }
        self.release_budget(discarded);
        debug!(sid = sid.0, discarded, "stream closed");
        Ok(())
    }

    /// `Err(SessionDead)` once the session died.
    fn check_alive(&self) -> Result<(), StreamError> {
        match self.dead {
            Some(reason) => Err(reason.into()),
            None => Ok(()),
        }
    }

    /// The next free id of this role, skipping ids the peer already uses.
    fn allocate_stream_id(&mut self) -> Result<StreamId, StreamError> {
        loop {
            let next = self
                .last_local_id
                .checked_add(2)
                .filter(|_| !self.ids_exhausted);
            let Some(next) = next else {
                self.ids_exhausted = true;
                return Err(StreamError::StreamIdsExhausted);
            };
            self.last_local_id = next;
            if !self.streams.contains_key(&StreamId(next)) {
                return Ok(StreamId(next));
            }
        }
    }
}

/// The state of a stream the application may still use.
fn open_stream(
    streams: &mut HashMap<StreamId, StreamState>,
    sid: StreamId,
) -> Result<&mut StreamState, StreamError> {
    streams
        .get_mut(&sid)
        .filter(|stream| stream.is_open())
        .ok_or(StreamError::UnknownStream(sid))
}
