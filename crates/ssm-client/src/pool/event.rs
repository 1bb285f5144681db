//! What a pool reports as it grows, shrinks and loses sessions.

use std::time::Duration;

use crate::error::EndReason;
use crate::session::Session;

/// Something that happened to a [`super::SessionPool`], from the
/// receiver [`super::SessionPool::new`] returns (drop it if you do not
/// care). `E` is the error type of the pool's start function.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolEvent<E> {
    /// A session started and takes streams.
    Up {
        /// Its number in this pool (1, 2, ...; never reused).
        number: u64,
        /// The session.
        session: Session,
        /// Live sessions now, this one included.
        live: usize,
        /// The pool's maximum.
        max: usize,
    },
    /// A start failed; the next one waits `retry_in` (and only happens
    /// if a session is still wanted then).
    StartFailed {
        /// What the start function returned.
        error: E,
        /// Pause before the next start.
        retry_in: Duration,
    },
    /// A session has been up [`super::PoolPolicy::healthy_after`]: it
    /// counts as working.
    Healthy {
        /// Its number in this pool.
        number: u64,
        /// Its session id.
        session_id: String,
    },
    /// A session ended; the streams on it failed, the others go on.
    Ended {
        /// Its number in this pool.
        number: u64,
        /// Its session id.
        session_id: String,
        /// Why it ended.
        reason: EndReason,
        /// It failed before it was up [`super::PoolPolicy::healthy_after`].
        failed_early: bool,
        /// Live sessions left.
        live: usize,
    },
    /// A session above the minimum was idle for
    /// [`super::PoolPolicy::idle_close`] and is being terminated.
    IdleClosed {
        /// Its number in this pool.
        number: u64,
        /// Its session id.
        session_id: String,
        /// Live sessions left.
        live: usize,
    },
}
