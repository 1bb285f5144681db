//! Errors of [`super::SessionPool::open_stream`].

use std::time::Duration;

use thiserror::Error;

/// Why the pool could not open a stream.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PoolError {
    /// No session could take the stream within the policy's
    /// `open_timeout`: sessions fail to start (`last_start_error`), or
    /// every session is at its limit (basic mode) and the pool at its
    /// maximum. Retry later; raise `max_sessions` if the pool was full.
    #[error("no session could take the stream within {}s{}", waited.as_secs_f32(), last_start_error.as_ref().map(|e| format!(" (last start failure: {e})")).unwrap_or_default())]
    NoSession {
        /// How long it waited.
        waited: Duration,
        /// The latest start failure, if starts were failing.
        last_start_error: Option<String>,
    },
    /// Opening the stream failed on every session tried (the last error
    /// is given). The sessions concerned are being replaced; retry.
    #[error("could not open a stream on session {session_id}: {error}")]
    Stream {
        /// The session of the last attempt.
        session_id: String,
        /// What it said.
        error: crate::Error,
    },
    /// The pool was closed ([`super::SessionPool::close`]). Make a new
    /// pool.
    #[error("the session pool is closed")]
    Closed,
}
