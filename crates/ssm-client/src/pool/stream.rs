//! [`PoolStream`]: a stream of one of the pool's sessions that, until the
//! destination first answers, can move to another session.
//!
//! A connection opened just as its session dies (the service ended it
//! while the laptop slept, and the end is still on its way) would
//! otherwise fail although nothing of it ever reached the agent. Until
//! the first byte comes back, the stream keeps a copy of what was written
//! (at most [`REPLAY_LIMIT`]). If the session then ends and the agent
//! acknowledged nothing sent since the stream opened
//! ([`Stream::reached_agent`]), the stream is opened again on another
//! session (one more may start) and the copy is sent there. Anything the
//! agent may have seen is never sent twice: the stream fails instead.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tracing::debug;

use super::error::PoolError;
use super::open::{self, Placed};
use super::state::Shared;
use crate::session::Session;

/// The most a stream keeps of what was written before the first answer;
/// a stream that wrote more cannot move any more.
pub const REPLAY_LIMIT: usize = 64 * 1024;

/// How many times one stream may move to another session.
const MAX_MOVES: u32 = 2;

type Reopening = Pin<Box<dyn Future<Output = Result<Placed, PoolError>> + Send>>;

/// A [`crate::Stream`] of a pool's session: `AsyncRead + AsyncWrite` like
/// the stream itself, and says which session carries it.
pub struct PoolStream {
    current: Placed,
    moves: u32,
    /// Until the first answer (or the replay limit): what is needed to move.
    early: Option<Box<Early>>,
}

impl std::fmt::Debug for PoolStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolStream")
            .field("current", &self.current)
            .field("moves", &self.moves)
            .field("answered", &self.early.is_none())
            .finish()
    }
}

/// What a stream keeps before the first answer.
struct Early {
    shared: Arc<Shared>,
    /// Everything written so far (all of it is on the current stream once
    /// `replayed == sent.len()`).
    sent: Vec<u8>,
    replayed: usize,
    reopening: Option<Reopening>,
    /// The error that started the move, returned if the move fails.
    failure: Option<io::Error>,
    wakers: Arc<BothSides>,
}

/// Which half of the stream is polling.
#[derive(Debug, Clone, Copy)]
enum Side {
    Read,
    Write,
}

/// Wakes both the reading and the writing task: a move is driven by
/// whichever polls, and both wait on it.
#[derive(Debug, Default)]
struct BothSides {
    read: Mutex<Option<Waker>>,
    write: Mutex<Option<Waker>>,
}

impl BothSides {
    fn register(&self, side: Side, waker: &Waker) {
        let slot = match side {
            Side::Read => &self.read,
            Side::Write => &self.write,
        };
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

impl Wake for BothSides {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.read, &self.write] {
            if let Some(waker) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                waker.wake();
            }
        }
    }
}

impl PoolStream {
    pub(super) fn new(placed: Placed, shared: &Arc<Shared>) -> Self {
        let early = Early {
            shared: shared.clone(),
            sent: Vec::new(),
            replayed: 0,
            reopening: None,
            failure: None,
            wakers: Arc::default(),
        };
        Self {
            current: placed,
            moves: 0,
            early: Some(Box::new(early)),
        }
    }

    /// The session carrying this stream.
    pub fn session(&self) -> &Session {
        &self.current.session
    }

    /// The session's number in the pool (1, 2, ...).
    pub fn session_number(&self) -> u64 {
        self.current.number
    }

    /// The smux stream id (mux mode), for logs.
    pub fn id(&self) -> u32 {
        self.current.stream.id()
    }

    /// Whether the agent acknowledged anything sent on the current
    /// session since the stream opened there ([`crate::Stream::reached_agent`]).
    pub fn reached_agent(&self) -> bool {
        self.current.stream.reached_agent()
    }

    /// How many times this stream moved to another session.
    pub fn moves(&self) -> u32 {
        self.moves
    }

    /// Whether a failure of the current stream may be mended by moving:
    /// nothing answered yet, the copy complete, moves left, the session
    /// over, and nothing sent since the stream opened acknowledged.
    fn may_move(&self) -> bool {
        self.early.is_some()
            && self.moves < MAX_MOVES
            && self.current.session.end_reason().is_some()
            && !self.current.stream.reached_agent()
    }

    /// Starts moving to another session after `failure`.
    fn start_move(&mut self, failure: io::Error) {
        let Some(early) = self.early.as_deref_mut() else {
            return;
        };
        let number = self.current.number;
        debug!(number, error = %failure, kept = early.sent.len(), "session ended before the agent saw the stream; moving it");
        open::set_aside(&early.shared, number);
        self.moves += 1;
        early.failure = Some(failure);
        let shared = early.shared.clone();
        early.reopening = Some(Box::pin(async move { open::open(&shared).await }));
    }

    /// Drives a move under way: the new stream, then the replay of the
    /// copy. Ready(Ok) when none is under way (or the stream answered).
    fn poll_move(&mut self, cx: &Context<'_>, side: Side) -> Poll<io::Result<()>> {
        loop {
            let Some(early) = self.early.as_deref_mut() else {
                return Poll::Ready(Ok(()));
            };
            if early.reopening.is_none() && early.replayed == early.sent.len() {
                return Poll::Ready(Ok(()));
            }
            early.wakers.register(side, cx.waker());
            let waker = Waker::from(early.wakers.clone());
            let mut both = Context::from_waker(&waker);
            if let Some(reopening) = early.reopening.as_mut() {
                let result = ready!(reopening.as_mut().poll(&mut both));
                early.reopening = None;
                match result {
                    Ok(placed) => {
                        debug!(number = placed.number, id = %placed.session.session_id(), "stream moved");
                        early.shared.lock().totals.streams_moved += 1;
                        early.replayed = 0;
                        self.current = placed;
                    }
                    Err(error) => {
                        debug!(%error, "no other session took the stream");
                        let failure = early.failure.take();
                        self.early = None;
                        return Poll::Ready(
                            Err(failure.unwrap_or_else(|| io::Error::other(error))),
                        );
                    }
                }
                continue;
            }
            let pending = &early.sent[early.replayed..];
            match Pin::new(&mut self.current.stream).poll_write(&mut both, pending) {
                Poll::Ready(Ok(written)) => early.replayed += written,
                Poll::Ready(Err(error)) => self.fail_or_move(error)?,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// After `error` on the current stream: starts a move when one may
    /// mend it, else gives the error back (and stops keeping the copy).
    fn fail_or_move(&mut self, error: io::Error) -> io::Result<()> {
        if self.may_move() {
            self.start_move(error);
            Ok(())
        } else {
            self.early = None;
            Err(error)
        }
    }

    /// Keeps `written` bytes in the copy, or drops the copy once it would
    /// pass [`REPLAY_LIMIT`] (the stream then stays where it is).
    fn keep(&mut self, written: &[u8]) {
        let Some(early) = self.early.as_deref_mut() else {
            return;
        };
        if early.sent.len() + written.len() > REPLAY_LIMIT {
            self.early = None;
            return;
        }
        early.sent.extend_from_slice(written);
        early.replayed = early.sent.len();
    }
}

impl AsyncRead for PoolStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_move(cx, Side::Read))?;
            let before = buf.filled().len();
            match ready!(Pin::new(&mut this.current.stream).poll_read(cx, buf)) {
                // An EOF from a session that ended is not the
                // destination's: it may be mended too.
                Ok(())
                    if buf.filled().len() == before && buf.remaining() > 0 && this.may_move() =>
                {
                    this.start_move(io::ErrorKind::ConnectionReset.into());
                }
                Ok(()) => {
                    // Answered (or closed by the destination): settled.
                    if buf.remaining() > 0 || buf.filled().len() > before {
                        this.early = None;
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(error) => this.fail_or_move(error)?,
            }
        }
    }
}

impl AsyncWrite for PoolStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_move(cx, Side::Write))?;
            match ready!(Pin::new(&mut this.current.stream).poll_write(cx, data)) {
                Ok(written) => {
                    this.keep(&data[..written]);
                    return Poll::Ready(Ok(written));
                }
                Err(error) => this.fail_or_move(error)?,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().current.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Closing ends the stream for good: nothing is left to move.
        this.early = None;
        Pin::new(&mut this.current.stream).poll_shutdown(cx)
    }
}
