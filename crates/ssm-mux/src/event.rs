//! What a session reports to its driver: events and counters.

use crate::error::SessionError;
use crate::stream::StreamId;

/// A notification from [`Session::poll_event`](crate::Session::poll_event).
///
/// Events are hints for waking tasks, coalesced so that at most one of each
/// kind is queued per stream (or per session). A stream event may refer to a
/// stream that has been closed since; the next operation on it then returns
/// [`StreamError::UnknownStream`](crate::StreamError::UnknownStream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// The peer opened one or more streams; call
    /// [`Session::accept`](crate::Session::accept) until it returns `None`.
    IncomingStream,
    /// Data or the peer's `FIN` arrived on this stream; `read` will make progress.
    StreamReadable(StreamId),
    /// A `write` on this stream was cut short earlier and its buffer has
    /// free space again.
    StreamWritable(StreamId),
    /// `handle_input` stopped consuming because the receive budget was used
    /// up, and reads have freed budget since: feed the retained input again.
    InputUnblocked,
    /// The session died; wake every stream task. Reported once.
    SessionDead(SessionError),
}

/// Counters of a session, from [`Session::stats`](crate::Session::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Transport bytes consumed by `handle_input` (headers included).
    pub bytes_in: u64,
    /// Transport bytes returned by `poll_transmit` (headers included).
    pub bytes_out: u64,
    /// Frame headers received.
    pub frames_in: u64,
    /// Frames transmitted.
    pub frames_out: u64,
    /// Streams the application can use (including ones waiting for `accept`).
    pub open_streams: usize,
    /// Received bytes waiting to be read, counted against the receive budget.
    pub unread_bytes: usize,
}
