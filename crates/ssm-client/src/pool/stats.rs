//! Counters of a pool and of each of its sessions.

use std::time::Duration;

use crate::stats::SessionStats;

/// A snapshot of a [`super::SessionPool`], from [`super::SessionPool::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Each live session, oldest first.
    pub sessions: Vec<PooledSessionStats>,
    /// A start is under way.
    pub starting: bool,
    /// Callers of `open_stream` waiting for a session.
    pub waiting: usize,
    /// Sessions started so far.
    pub started: u64,
    /// Starts that failed.
    pub start_failures: u64,
    /// Sessions that ended (idle closes included).
    pub ended: u64,
    /// Sessions closed for idleness.
    pub idle_closed: u64,
    /// Streams opened so far.
    pub streams_opened: u64,
    /// Streams moved to another session because theirs ended before the
    /// agent had seen anything of them (their bytes were sent again).
    pub streams_moved: u64,
}

impl PoolStats {
    /// Streams open now, over all sessions.
    pub fn open_streams(&self) -> usize {
        self.sessions.iter().map(|s| s.open_streams).sum()
    }
}

/// One session of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PooledSessionStats {
    /// Its number in the pool.
    pub number: u64,
    /// The session id.
    pub session_id: String,
    /// Streams the pool placed on it that are open.
    pub open_streams: usize,
    /// Streams the pool placed on it so far.
    pub streams_opened: u64,
    /// Its socket is lost and it is resuming.
    pub resuming: bool,
    /// It is ending (closed for idle, or found dead).
    pub ending: bool,
    /// How long it has been up.
    pub up_for: Duration,
    /// The session's own counters.
    pub session: SessionStats,
}
