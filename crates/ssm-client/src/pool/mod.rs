//! [`SessionPool`]: spreads streams over several sessions of the same
//! target, to get past one session's throughput ceiling (the agent reads
//! the destination 1 KiB per millisecond for the whole session, and the
//! gateway limits each socket's message rate) and, in basic mode, to
//! carry more than one connection at a time.
//!
//! The pool is built from a start function (anything returning a future
//! of `Result<Session, E>`, e.g. [`Session::start`] with a request) and a
//! [`PoolPolicy`]. [`SessionPool::open_stream`] puts each stream on the
//! least-loaded live session; when every live session is busy and the
//! pool is below its maximum, one more session starts. A single starter
//! task starts sessions one after the other, so StartSession is never
//! called twice at once. Each session resumes on its own; one that ends
//! takes only its own streams with it. Sessions above the minimum close
//! after an idle time. The decisions themselves (the `policy` module) are
//! free of clock and IO.

mod error;
mod event;
pub(crate) mod policy;
mod state;
mod stats;
mod tasks;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tracing::debug;

pub use self::error::PoolError;
pub use self::event::PoolEvent;
pub use self::policy::PoolPolicy;
use self::state::Shared;
pub use self::stats::{PoolStats, PooledSessionStats};
use crate::api::{SessionApi, StartSessionRequest};
use crate::config::ClientConfig;
use crate::error::Error;
use crate::session::Session;
use crate::stream::Stream;

/// Attempts at opening a stream before giving up (a session found dead
/// on the way is replaced by the next least-loaded one).
const OPEN_ATTEMPTS: u32 = 3;
/// How long a stream open that failed waits for its session to say it
/// is over before trying another.
const END_NOTICE: Duration = Duration::from_secs(1);

/// Several sessions to the same destination behind one handle.
///
/// Cheap to clone. When the last clone is dropped (or [`Self::close`]
/// is called) the pool stops starting sessions and lets go of its own;
/// each session ends once its last [`PoolStream`] is gone too.
#[derive(Debug, Clone)]
pub struct SessionPool {
    shared: Arc<Shared>,
    _alive: Arc<Alive>,
}

/// Closes the pool when the last handle goes.
#[derive(Debug)]
struct Alive(Arc<Shared>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.closed.send_replace(true);
        let entries = std::mem::take(&mut self.0.lock().entries);
        drop(entries);
    }
}

impl SessionPool {
    /// A pool whose sessions come from `start`, sized by `policy`. Its
    /// `min_sessions` start at once (one at a time). The receiver gets
    /// every [`PoolEvent`]; drop it if you do not need them. Must be
    /// called inside a tokio runtime (it spawns the pool's tasks).
    pub fn new<F, Fut, E>(
        start: F,
        policy: PoolPolicy,
    ) -> (Self, mpsc::UnboundedReceiver<PoolEvent<E>>)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Session, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let shared = Arc::new(Shared::new(policy));
        let (events_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(tasks::run_starter(shared.clone(), start, events_tx.clone()));
        tokio::spawn(tasks::run_maintainer(shared.clone(), events_tx));
        let pool = Self {
            _alive: Arc::new(Alive(shared.clone())),
            shared,
        };
        (pool, events)
    }

    /// A pool of sessions started with [`Session::start`] from the same
    /// request.
    pub fn from_api(
        api: Arc<dyn SessionApi>,
        request: StartSessionRequest,
        config: ClientConfig,
        policy: PoolPolicy,
    ) -> (Self, mpsc::UnboundedReceiver<PoolEvent<Error>>) {
        let start = move || Session::start(api.clone(), request.clone(), config.clone());
        Self::new(start, policy)
    }

    /// The policy in force.
    pub fn policy(&self) -> &PoolPolicy {
        &self.shared.policy
    }

    /// Opens a stream on the least-loaded live session (fewest open
    /// streams, then fewest bytes lately; a resuming session only when no
    /// connected one can take it). When every live session is busy and
    /// the pool is below its maximum, another session starts; this waits
    /// for it only when no live session can take the stream at all.
    pub async fn open_stream(&self) -> Result<PoolStream, PoolError> {
        let deadline = Instant::now() + self.shared.policy.open_timeout;
        let mut last_error = None;
        for _ in 0..OPEN_ATTEMPTS {
            let (number, session) = self.place(deadline).await?;
            let slot = Slot {
                shared: self.shared.clone(),
                number,
            };
            match session.open_stream().await {
                Ok(stream) => {
                    debug!(number, id = %session.session_id(), stream = stream.id(), "stream placed");
                    return Ok(PoolStream {
                        stream,
                        session,
                        number,
                        _slot: slot,
                    });
                }
                Err(error) => {
                    debug!(number, id = %session.session_id(), %error, "stream open failed; trying another session");
                    self.set_aside(number);
                    drop(slot);
                    // Give the session a moment to say it is over, so the
                    // pool does not pick it again.
                    let _ = tokio::time::timeout(END_NOTICE, session.closed()).await;
                    last_error = Some((session.session_id().to_owned(), error));
                }
            }
        }
        let (session_id, error) = last_error.ok_or(PoolError::Closed)?;
        Err(PoolError::Stream { session_id, error })
    }

    /// Reserves a place for a stream on a session, waiting (until
    /// `deadline`) while none can take it.
    async fn place(&self, deadline: Instant) -> Result<(u64, Session), PoolError> {
        let started = Instant::now();
        let mut waiting = None;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.is_closed() {
                return Err(PoolError::Closed);
            }
            if let Some(placed) = self.try_place(&mut waiting) {
                return Ok(placed);
            }
            let timed_out = tokio::select! {
                () = notified => false,
                () = tokio::time::sleep_until(deadline.into()) => true,
                () = self.shared.until_closed() => return Err(PoolError::Closed),
            };
            if timed_out {
                let last_start_error = self.shared.lock().last_start_error.clone();
                return Err(PoolError::NoSession {
                    waited: started.elapsed(),
                    last_start_error,
                });
            }
        }
    }

    /// One placement attempt under the lock; counts this caller as
    /// waiting (through `waiting`'s guard) when it has to wait.
    fn try_place(&self, waiting: &mut Option<Waiting>) -> Option<(u64, Session)> {
        let mut state = self.shared.lock();
        let placement = self.shared.policy.place(&state.views());
        if placement.grow {
            state.grow_wanted = true;
        }
        let placed = placement.session.map(|index| {
            let entry = &mut state.entries[index];
            entry.open += 1;
            entry.opened += 1;
            entry.idle_since = None;
            (entry.number, entry.session.clone())
        });
        if placed.is_some() {
            state.totals.streams_opened += 1;
        } else if waiting.is_none() {
            state.waiting += 1;
            *waiting = Some(Waiting(self.shared.clone()));
        }
        drop(state);
        if placement.grow || placed.is_none() {
            self.shared.wake_starter.notify_one();
        }
        placed
    }

    /// Session `number` refused a stream: take it out of placement.
    fn set_aside(&self, number: u64) {
        if let Some(entry) = self.shared.lock().entry_mut(number) {
            entry.ending = true;
        }
        self.shared.wake_all();
    }

    /// A snapshot of the pool's counters and of each session's.
    pub fn stats(&self) -> PoolStats {
        self.shared.lock().stats(Instant::now())
    }

    /// The live sessions (not ending), oldest first.
    pub fn sessions(&self) -> Vec<Session> {
        let state = self.shared.lock();
        state
            .entries
            .iter()
            .filter(|e| !e.ending && e.session.end_reason().is_none())
            .map(|e| e.session.clone())
            .collect()
    }

    /// Stops starting sessions and terminates every session of the pool
    /// (flag and API), waiting for them; their streams fail.
    pub async fn close(&self) {
        self.shared.closed.send_replace(true);
        let entries = std::mem::take(&mut self.shared.lock().entries);
        let mut ending = tokio::task::JoinSet::new();
        for entry in entries {
            ending.spawn(async move { entry.session.terminate().await });
        }
        while ending.join_next().await.is_some() {}
        self.shared.wake_all();
    }
}

/// Counts an `open_stream` caller as waiting until dropped.
#[derive(Debug)]
struct Waiting(Arc<Shared>);

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.waiting = state.waiting.saturating_sub(1);
    }
}

/// A stream's place on its session, given back when dropped.
#[derive(Debug)]
struct Slot {
    shared: Arc<Shared>,
    number: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.release(self.number);
    }
}

/// A [`Stream`] of a pool's session: `AsyncRead + AsyncWrite` like the
/// stream itself, and says which session carries it.
#[derive(Debug)]
pub struct PoolStream {
    // Declared first so the stream closes before its place is given back
    // (a basic-mode session takes the next stream only then).
    stream: Stream,
    session: Session,
    number: u64,
    _slot: Slot,
}

impl PoolStream {
    /// The session carrying this stream.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session's number in the pool (1, 2, ...).
    pub fn session_number(&self) -> u64 {
        self.number
    }

    /// The smux stream id (mux mode), for logs.
    pub fn id(&self) -> u32 {
        self.stream.id()
    }
}

impl AsyncRead for PoolStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for PoolStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
