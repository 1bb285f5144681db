//! Stream identifiers, read outcomes and the per-stream state a session keeps.

use std::fmt;

use bytes::{Buf, BytesMut};

/// An emptied receive buffer keeps at most this much capacity, so that a
/// burst on one stream does not pin memory after it has been read.
const RETAINED_RECV_CAPACITY: usize = 64 * 1024;

/// A smux stream id (the `sid` header field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub u32);

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u32> for StreamId {
    fn from(raw: u32) -> Self {
        Self(raw)
    }
}

/// What a [`Session::read`](crate::Session::read) call produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadOutcome {
    /// This many bytes were copied into the buffer (0 only for an empty buffer).
    Data(usize),
    /// Nothing buffered yet; wait for [`Event::StreamReadable`](crate::Event::StreamReadable).
    WouldBlock,
    /// The peer sent `FIN` and every byte before it has been read.
    Eof,
}

/// Everything a session knows about one stream.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// Received bytes not yet read by the application.
    pub(crate) recv: BytesMut,
    /// The peer sent `FIN`.
    pub(crate) fin_received: bool,
    /// Bytes written by the application, not yet framed.
    pub(crate) send: BytesMut,
    /// Our `SYN` has not been transmitted yet.
    pub(crate) syn_pending: bool,
    /// The application closed the stream; it only lingers to flush `send`.
    pub(crate) closed_locally: bool,
    /// Our `FIN` goes out once `send` is empty.
    pub(crate) fin_pending: bool,
    /// The stream sits in the session's round-robin send queue.
    pub(crate) in_send_queue: bool,
    /// A `write` was cut short; announce free space with an event.
    pub(crate) write_blocked: bool,
    /// An [`Event::StreamReadable`](crate::Event::StreamReadable) is queued.
    pub(crate) readable_queued: bool,
    /// An [`Event::StreamWritable`](crate::Event::StreamWritable) is queued.
    pub(crate) writable_queued: bool,
}

impl StreamState {
    /// A stream we opened: its `SYN` is still to be sent.
    pub(crate) fn opened_locally() -> Self {
        Self {
            syn_pending: true,
            ..Self::default()
        }
    }

    /// The application may still use this stream.
    pub(crate) fn is_open(&self) -> bool {
        !self.closed_locally
    }

    /// A frame (`SYN`, `PSH` or `FIN`) is waiting to be transmitted.
    pub(crate) fn has_output(&self) -> bool {
        self.syn_pending || !self.send.is_empty() || self.fin_pending
    }

    /// Copies buffered received bytes into `buf`; returns how many.
    pub(crate) fn take_received(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.recv.len());
        buf[..n].copy_from_slice(&self.recv[..n]);
        self.recv.advance(n);
        if self.recv.is_empty() && self.recv.capacity() > RETAINED_RECV_CAPACITY {
            self.recv = BytesMut::new();
        }
        n
    }
}
