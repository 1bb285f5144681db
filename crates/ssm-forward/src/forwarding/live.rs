//! What a running forward holds right now, for `ssm-forward status`:
//! its live sessions (with their counters) and its local connections.
//!
//! The supervisor registers each session once it is up
//! ([`LiveForward::register`]; the registration ends with the session)
//! and counts each accepted connection ([`LiveForward::connection`]).
//! The status model ([`crate::control::model`]) reads a
//! [`LiveSnapshot`] when asked. A forward with several sessions (a
//! pool) registers each one: the snapshot lists them all.
//!
//! A registered [`Session`] handle keeps its session alive, so every
//! registration must end with the session: drop the [`Registration`]
//! with the supervisor's own handle.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use ssm_client::{PortMode, Session};

/// The live part of one forward, shared by its supervisor, its
/// connection tasks and the status model.
#[derive(Debug, Default)]
pub struct LiveForward {
    sessions: Mutex<Vec<LiveSession>>,
    /// Bytes of sessions that ended (sent, received), so that totals
    /// survive restarts.
    ended_sent: AtomicU64,
    ended_received: AtomicU64,
    connections_open: AtomicUsize,
    connections_total: AtomicU64,
}

#[derive(Debug)]
struct LiveSession {
    session: Session,
    up_since: SystemTime,
}

/// One session as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// Session id.
    pub session_id: String,
    /// `mux`, `basic` or `stream`.
    pub mode: String,
    /// The agent's version.
    pub agent_version: String,
    /// When the session came up.
    pub up_since: SystemTime,
    /// A data-channel socket is open (false while resuming).
    pub connected: bool,
    /// Successful resumes of this session.
    pub resumes: u64,
    /// Streams open in it now.
    pub open_streams: usize,
    /// Payload bytes sent to the target (smux framing included).
    pub bytes_sent: u64,
    /// Payload bytes received from the target (smux framing included).
    pub bytes_received: u64,
}

/// A forward's live state at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    /// Sessions up now, oldest first.
    pub sessions: Vec<SessionSnapshot>,
    /// Local connections being served now.
    pub connections_open: usize,
    /// Local connections accepted since the forward started.
    pub connections_total: u64,
    /// Bytes sent to the target by every session, ended ones included.
    pub bytes_sent: u64,
    /// Bytes received from the target by every session, ended ones included.
    pub bytes_received: u64,
}

impl LiveForward {
    /// Lists `session` until the returned registration is dropped.
    pub fn register(self: &Arc<Self>, session: &Session) -> Registration {
        self.lock_sessions().push(LiveSession {
            session: session.clone(),
            up_since: SystemTime::now(),
        });
        Registration {
            live: self.clone(),
            session_id: session.session_id().to_owned(),
        }
    }

    /// Counts one accepted connection until the returned guard is dropped.
    pub fn connection(self: &Arc<Self>) -> OpenConnection {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        OpenConnection { live: self.clone() }
    }

    /// Sessions, connections and byte totals now.
    pub fn snapshot(&self) -> LiveSnapshot {
        let sessions: Vec<SessionSnapshot> = self.lock_sessions().iter().map(snapshot).collect();
        let live_sent: u64 = sessions.iter().map(|s| s.bytes_sent).sum();
        let live_received: u64 = sessions.iter().map(|s| s.bytes_received).sum();
        LiveSnapshot {
            connections_open: self.connections_open.load(Ordering::Relaxed),
            connections_total: self.connections_total.load(Ordering::Relaxed),
            bytes_sent: self.ended_sent.load(Ordering::Relaxed) + live_sent,
            bytes_received: self.ended_received.load(Ordering::Relaxed) + live_received,
            sessions,
        }
    }

    fn unregister(&self, session_id: &str) {
        let mut sessions = self.lock_sessions();
        if let Some(index) = sessions
            .iter()
            .position(|s| s.session.session_id() == session_id)
        {
            let ended = sessions.remove(index);
            let stats = ended.session.stats();
            self.ended_sent
                .fetch_add(stats.bytes_sent, Ordering::Relaxed);
            self.ended_received
                .fetch_add(stats.bytes_received, Ordering::Relaxed);
        }
    }

    fn lock_sessions(&self) -> MutexGuard<'_, Vec<LiveSession>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn snapshot(live: &LiveSession) -> SessionSnapshot {
    let session = &live.session;
    let stats = session.stats();
    let info = session.info();
    let link = session.link_status().borrow().clone();
    SessionSnapshot {
        session_id: session.session_id().to_owned(),
        mode: mode_name(info.as_ref().map(|i| i.mode)).to_owned(),
        agent_version: info.map(|i| i.agent_version).unwrap_or_default(),
        up_since: live.up_since,
        connected: link.connected,
        resumes: stats.reconnects,
        open_streams: stats.open_streams,
        bytes_sent: stats.bytes_sent,
        bytes_received: stats.bytes_received,
    }
}

/// How status lines and `status` name a session's mode.
pub fn mode_name(mode: Option<PortMode>) -> &'static str {
    match mode {
        Some(PortMode::Mux { .. }) => "mux",
        Some(PortMode::Basic) => "basic",
        _ => "stream",
    }
}

/// A session listed in a [`LiveForward`]; dropping it takes the session
/// off the list (its bytes stay in the forward's totals).
#[derive(Debug)]
#[must_use = "the session is listed only while the registration lives"]
pub struct Registration {
    live: Arc<LiveForward>,
    session_id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.live.unregister(&self.session_id);
    }
}

/// One connection counted as open in a [`LiveForward`] while it lives.
#[derive(Debug)]
pub struct OpenConnection {
    live: Arc<LiveForward>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.live.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_open_and_in_total() {
        let live = Arc::new(LiveForward::default());
        let first = live.connection();
        let second = live.connection();
        assert_eq!(live.snapshot().connections_open, 2);
        drop(first);
        let snapshot = live.snapshot();
        assert_eq!(
            (snapshot.connections_open, snapshot.connections_total),
            (1, 2)
        );
        drop(second);
        assert_eq!(live.snapshot().connections_open, 0);
        assert!(live.snapshot().sessions.is_empty());
    }
}
