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
mod open;
pub(crate) mod policy;
mod state;
mod stats;
mod stream;
mod tasks;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

pub use self::error::PoolError;
pub use self::event::PoolEvent;
pub use self::policy::PoolPolicy;
use self::state::Shared;
pub use self::stats::{PoolStats, PooledSessionStats};
pub use self::stream::{PoolStream, REPLAY_LIMIT};
use crate::api::{SessionApi, StartSessionRequest};
use crate::config::ClientConfig;
use crate::error::Error;
use crate::session::Session;

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
    ///
    /// Until the destination first answers, the stream keeps a copy of
    /// what was written (up to [`REPLAY_LIMIT`]): if its session ends
    /// before the agent acknowledged anything of it, it moves to another
    /// session and sends that again, so a connection made just as a
    /// session dies (a laptop waking up) does not fail.
    pub async fn open_stream(&self) -> Result<PoolStream, PoolError> {
        open::open(&self.shared)
            .await
            .map(|placed| PoolStream::new(placed, &self.shared))
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
