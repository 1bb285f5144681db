//! Stream operations on the core: opening, reading, writing and closing
//! the streams of [`crate::Stream`] (the sans-IO part of it).

use std::io;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use ssm_mux::{ReadOutcome, StreamError, StreamId};
use ssm_proto::version::PortMode;
use tracing::debug;

use super::{Core, StreamSlot, wake};
use crate::error::{EndCause, Error};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Mux(StreamId),
    Basic,
}

/// What a stream handle knows of itself; its operations are on [`Core`].
#[derive(Debug)]
pub(crate) struct StreamHandle {
    key: u32,
    kind: Kind,
    closed: bool,
    /// The data channel's next sequence number when the stream opened:
    /// everything of this stream travels in messages from there on.
    opened_at: i64,
}

impl StreamHandle {
    fn mux(sid: StreamId, opened_at: i64) -> Self {
        Self {
            key: sid.0,
            kind: Kind::Mux(sid),
            closed: false,
            opened_at,
        }
    }

    fn basic(key: u32, opened_at: i64) -> Self {
        Self {
            key,
            kind: Kind::Basic,
            closed: false,
            opened_at,
        }
    }

    /// The smux stream id (mux mode) or the basic-mode key.
    pub(crate) fn key(&self) -> u32 {
        self.key
    }

    /// Closed by [`Core::close_stream`].
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }
}

impl Core {
    /// Opens a stream: at once in mux mode; in basic mode when the
    /// connection is free, else `waker` is queued for the next release.
    pub(crate) fn poll_open_stream(&mut self, waker: &Waker) -> Poll<Result<StreamHandle, Error>> {
        if let Some(reason) = self.ended() {
            return Poll::Ready(Err(reason.to_error()));
        }
        let opened_at = self.session.channel().next_sequence();
        match self.mode() {
            Some(PortMode::Mux { .. }) => Poll::Ready(
                self.open_mux_stream()
                    .map(|sid| StreamHandle::mux(sid, opened_at)),
            ),
            Some(_) if self.basic.active.is_none() => {
                self.basic.next_key = self.basic.next_key.wrapping_add(1);
                let key = self.basic.next_key;
                self.basic.active = Some(key);
                self.add_stream(key);
                Poll::Ready(Ok(StreamHandle::basic(key, opened_at)))
            }
            _ => {
                if !self.basic.openers.iter().any(|w| w.will_wake(waker)) {
                    self.basic.openers.push_back(waker.clone());
                }
                Poll::Pending
            }
        }
    }

    /// Whether the agent acknowledged any message sent since `stream`
    /// opened. While false, nothing of the stream (its open, its data) is
    /// known to have reached the agent, so the destination has not seen
    /// it either.
    pub(crate) fn stream_reached_agent(&self, stream: &StreamHandle) -> bool {
        self.session.channel().acknowledged_since(stream.opened_at)
    }

    /// Reads into `buf`; `Ready(Ok(0))` is EOF (or an empty `buf`).
    pub(crate) fn poll_read(
        &mut self,
        stream: &StreamHandle,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if stream.closed {
            return Poll::Ready(Ok(0));
        }
        match stream.kind {
            Kind::Mux(sid) => self.read_mux(stream.key, sid, cx, buf),
            Kind::Basic => self.read_basic(stream.key, cx, buf),
        }
    }

    /// Writes a prefix of `data`; `Pending` when nothing could be taken.
    pub(crate) fn poll_write(
        &mut self,
        stream: &StreamHandle,
        cx: &Context<'_>,
        data: &[u8],
        now: Instant,
    ) -> Poll<io::Result<usize>> {
        if stream.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if let Some(error) = self.stream_failure(stream.key) {
            return Poll::Ready(Err(error));
        }
        let written = match stream.kind {
            Kind::Mux(sid) => match self.mux.as_mut().map(|mux| mux.write(sid, data)) {
                Some(Ok(n)) => n,
                Some(Err(error)) => return Poll::Ready(Err(error.into())),
                None => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            },
            Kind::Basic => self.write_basic(data, now)?,
        };
        if written == 0 && !data.is_empty() {
            if let Some(slot) = self.streams.get_mut(&stream.key) {
                slot.write_waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        Poll::Ready(Ok(written))
    }

    /// Closes the stream (smux `FIN`, or DisconnectToPort in basic mode);
    /// false if it was closed already.
    pub(crate) fn close_stream(&mut self, stream: &mut StreamHandle, now: Instant) -> bool {
        if stream.closed {
            return false;
        }
        stream.closed = true;
        match stream.kind {
            Kind::Mux(sid) => {
                if let Some(mux) = self.mux.as_mut() {
                    let _ = mux.close(sid);
                }
            }
            Kind::Basic => self.release_basic(stream.key, now),
        }
        // A task of the other half (e.g. after `tokio::io::split`) may wait
        // on it: it sees the stream closed now.
        if let Some(mut slot) = self.streams.remove(&stream.key) {
            wake(&mut slot.read_waker);
            wake(&mut slot.write_waker);
        }
        debug!(stream = stream.key, "stream closed");
        true
    }

    /// Registers a new stream handle.
    fn add_stream(&mut self, key: u32) {
        self.next_order += 1;
        let slot = StreamSlot {
            order: self.next_order,
            ..StreamSlot::default()
        };
        self.streams.insert(key, slot);
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

    fn stream_failure(&self, key: u32) -> Option<io::Error> {
        if let Some(error) = self.streams.get(&key).and_then(|slot| slot.error.clone()) {
            return Some(error.into());
        }
        self.ended().map(|reason| reason.to_error().into())
    }

    fn read_mux(
        &mut self,
        key: u32,
        sid: StreamId,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(error) = self.streams.get(&key).and_then(|slot| slot.error.clone()) {
            return Poll::Ready(Err(error.into()));
        }
        let Some(mux) = self.mux.as_mut() else {
            return Poll::Ready(Err(self
                .stream_failure(key)
                .unwrap_or_else(|| io::ErrorKind::NotConnected.into())));
        };
        match mux.read(sid, buf) {
            Ok(ReadOutcome::Data(n)) => Poll::Ready(Ok(n)),
            Ok(ReadOutcome::Eof) | Err(StreamError::UnknownStream(_)) => Poll::Ready(Ok(0)),
            Ok(ReadOutcome::WouldBlock) => match self.stream_failure(key) {
                Some(error) => Poll::Ready(Err(error)),
                None => {
                    if let Some(slot) = self.streams.get_mut(&key) {
                        slot.read_waker = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
            },
            Err(error) => Poll::Ready(Err(self
                .stream_failure(key)
                .unwrap_or_else(|| error.into()))),
        }
    }

    fn read_basic(
        &mut self,
        key: u32,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.basic.active != Some(key) {
            return Poll::Ready(Ok(0));
        }
        if let Some(front) = self.basic.inbox.front_mut() {
            let n = front.len().min(buf.len());
            buf[..n].copy_from_slice(&front[..n]);
            *front = front.slice(n..);
            if front.is_empty() {
                self.basic.inbox.pop_front();
            }
            self.basic.inbox_bytes -= n;
            return Poll::Ready(Ok(n));
        }
        if let Some(error) = self.stream_failure(key) {
            return Poll::Ready(Err(error));
        }
        if let Some(slot) = self.streams.get_mut(&key) {
            slot.read_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    fn write_basic(&mut self, data: &[u8], now: Instant) -> io::Result<usize> {
        if self.session.channel().send_capacity() == 0 {
            return Ok(0);
        }
        let n = data.len().min(self.chunk_size);
        self.session
            .send_output(now, Bytes::copy_from_slice(&data[..n]))
            .map_err(|error| io::Error::other(error.to_string()))?;
        Ok(n)
    }
}
