//! The session table shared by the API, the gateway and the agents.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;

pub use crate::lifecycle::{EndCause, SessionStatus};
use crate::messages::AgentInput;
use crate::starts::StartLog;
use crate::stats::{SessionCounters, SessionStats};

/// Everything known about one session.
#[derive(Debug)]
pub struct SessionRecord {
    /// The session id.
    pub session_id: String,
    /// Target instance id.
    pub target: String,
    /// SSM document name.
    pub document_name: String,
    /// Document parameters as given to StartSession.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Reason given to StartSession.
    pub reason: Option<String>,
    /// Owner ARN.
    pub owner: String,
    /// Lifecycle state.
    pub status: SessionStatus,
    /// Why it ended.
    pub end_cause: Option<EndCause>,
    /// When it started.
    pub started_at: SystemTime,
    /// When it ended.
    pub ended_at: Option<SystemTime>,
    /// Tokens issued but not yet used to open a socket.
    pub(crate) unused_tokens: Vec<String>,
    /// Every token issued (StartSession and ResumeSession), for tests
    /// that check a client never logs one.
    pub(crate) issued_tokens: Vec<String>,
    /// Live counters.
    pub counters: Arc<SessionCounters>,
    /// Inputs of the session's agent task.
    pub(crate) agent: mpsc::UnboundedSender<AgentInput>,
}

/// A copy of a session's public fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// The session id.
    pub session_id: String,
    /// Target instance id.
    pub target: String,
    /// SSM document name.
    pub document_name: String,
    /// Document parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// StartSession reason.
    pub reason: Option<String>,
    /// Owner ARN.
    pub owner: String,
    /// Lifecycle state.
    pub status: SessionStatus,
    /// Why it ended, if it did.
    pub end_cause: Option<EndCause>,
    /// Start time.
    pub started_at: SystemTime,
    /// End time.
    pub ended_at: Option<SystemTime>,
    /// Counters at the time of the copy.
    pub stats: SessionStats,
}

/// The shared session table.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: Mutex<HashMap<String, SessionRecord>>,
    starts: StartLog,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, SessionRecord>> {
        // A panic while holding the lock cannot leave the map half-updated
        // in a way that matters to a simulator; keep serving.
        self.sessions
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn insert(&self, record: SessionRecord) {
        self.starts.started(&record.session_id);
        self.lock().insert(record.session_id.clone(), record);
    }

    /// StartSession calls and sessions still starting.
    pub fn starts(&self) -> &StartLog {
        &self.starts
    }

    /// Runs `f` on a session, if it exists.
    pub(crate) fn with<T>(
        &self,
        session_id: &str,
        f: impl FnOnce(&mut SessionRecord) -> T,
    ) -> Option<T> {
        self.lock().get_mut(session_id).map(f)
    }

    /// Uses up a token for `session_id`; true if it was valid.
    pub(crate) fn consume_token(&self, session_id: &str, token: &str) -> bool {
        self.with(session_id, |record| {
            if record.status.is_over() {
                return false;
            }
            let before = record.unused_tokens.len();
            record.unused_tokens.retain(|candidate| candidate != token);
            record.unused_tokens.len() < before
        })
        .unwrap_or(false)
    }

    /// Marks a session ended (first cause wins).
    pub(crate) fn mark_ended(&self, session_id: &str, status: SessionStatus, cause: EndCause) {
        self.starts.settled(session_id);
        self.with(session_id, |record| {
            if !record.status.is_over() {
                record.status = status;
                record.end_cause = Some(cause);
                record.ended_at = Some(SystemTime::now());
                record.unused_tokens.clear();
            }
        });
    }

    /// A copy of one session.
    pub fn summary(&self, session_id: &str) -> Option<SessionSummary> {
        self.with(session_id, |record| summarize(record))
    }

    /// Copies of every session, oldest first.
    pub fn summaries(&self) -> Vec<SessionSummary> {
        let mut all: Vec<_> = self.lock().values().map(summarize).collect();
        all.sort_by(|a, b| {
            a.started_at
                .cmp(&b.started_at)
                .then(a.session_id.cmp(&b.session_id))
        });
        all
    }

    /// Agent inputs of every live session (for shutdown).
    pub(crate) fn live_agents(&self) -> Vec<mpsc::UnboundedSender<AgentInput>> {
        self.lock()
            .values()
            .filter(|record| !record.status.is_over())
            .map(|record| record.agent.clone())
            .collect()
    }
}

fn summarize(record: &SessionRecord) -> SessionSummary {
    SessionSummary {
        session_id: record.session_id.clone(),
        target: record.target.clone(),
        document_name: record.document_name.clone(),
        parameters: record.parameters.clone(),
        reason: record.reason.clone(),
        owner: record.owner.clone(),
        status: record.status,
        end_cause: record.end_cause.clone(),
        started_at: record.started_at,
        ended_at: record.ended_at,
        stats: record.counters.snapshot(),
    }
}
