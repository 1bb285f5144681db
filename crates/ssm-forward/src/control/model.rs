//! The daemon's status model: one record per forward, fed by the
//! [`ForwardEvent`]s the forwards emit (mode, agent, resumes, restarts,
//! errors, failing) and read together with each forward's
//! [`LiveForward`] (sessions, connections, bytes) when `status` asks.
//! Rates come from byte counts sampled every [`SAMPLE_EVERY`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::control::protocol::{ForwardStatus, LastError, SessionStatus};
use crate::forwarding::live::{LiveForward, LiveSnapshot, SessionSnapshot};
use crate::forwarding::supervisor::ForwardEvent;

/// How often byte counts are sampled for the rates.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// What is known about a forward before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardIdentity {
    /// Forward name.
    pub name: String,
    /// Bound local address.
    pub local_address: SocketAddr,
    /// Instance id.
    pub target: String,
    /// How the target was chosen (`name:bastion`, …).
    pub target_selector: String,
    /// `host:port` as the target dials it.
    pub remote: String,
    /// Its sessions start only with connections (a local proxy's, per
    /// destination): none up yet is not "starting".
    pub sessions_on_demand: bool,
}

/// Every forward of this daemon.
#[derive(Debug, Default)]
pub struct StatusBoard {
    forwards: Mutex<Vec<Record>>,
}

#[derive(Debug)]
struct Record {
    identity: ForwardIdentity,
    live: Arc<LiveForward>,
    up_since: SystemTime,
    mode: String,
    agent_version: String,
    sessions_started: u64,
    resumes: u64,
    failing: bool,
    stopping: bool,
    last_error: Option<(String, SystemTime)>,
    rate: Rate,
}

/// Bytes per second each way, from the two latest samples.
#[derive(Debug, Default, Clone, Copy)]
struct Rate {
    last: Option<(Instant, u64, u64)>,
    sent: u64,
    received: u64,
}

impl StatusBoard {
    /// Adds a forward that is about to run.
    pub fn add(&self, identity: ForwardIdentity, live: Arc<LiveForward>) {
        self.lock().push(Record {
            identity,
            live,
            up_since: SystemTime::now(),
            mode: String::new(),
            agent_version: String::new(),
            sessions_started: 0,
            resumes: 0,
            failing: false,
            stopping: false,
            last_error: None,
            rate: Rate::default(),
        });
    }

    /// Records what `event` says about its forward.
    pub fn apply(&self, event: &ForwardEvent) {
        let mut forwards = self.lock();
        let Some(record) = forwards
            .iter_mut()
            .find(|r| r.identity.name == event.forward_name())
        else {
            return;
        };
        record.apply(event);
    }

    /// Marks forward `name` as stopping.
    pub fn stopping(&self, name: &str) {
        if let Some(record) = self.lock().iter_mut().find(|r| r.identity.name == name) {
            record.stopping = true;
        }
    }

    /// Takes forward `name` off the board (it has stopped).
    pub fn remove(&self, name: &str) {
        self.lock().retain(|r| r.identity.name != name);
    }

    /// Samples every forward's byte counts at `now` to update the rates.
    pub fn sample(&self, now: Instant) {
        for record in self.lock().iter_mut() {
            let live = record.live.snapshot();
            record
                .rate
                .sample(now, live.bytes_sent, live.bytes_received);
        }
    }

    /// Every forward as `status` shows it.
    pub fn report(&self) -> Vec<ForwardStatus> {
        self.lock().iter().map(Record::report).collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Record>> {
        self.forwards.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Record {
    fn apply(&mut self, event: &ForwardEvent) {
        match event {
            // A proxy's destination: its sessions and errors count for the
            // proxy; one failing destination does not make the proxy
            // failing.
            ForwardEvent::Proxied { event, .. } => match event.as_ref() {
                ForwardEvent::Failing { error, .. } => self.error(error.clone()),
                ForwardEvent::Recovered { .. } | ForwardEvent::Proxied { .. } => {}
                inner => self.apply(inner),
            },
            ForwardEvent::Listening { address, .. } => self.identity.local_address = *address,
            ForwardEvent::SessionUp {
                mode,
                agent_version,
                ..
            } => {
                mode.clone_into(&mut self.mode);
                agent_version.clone_into(&mut self.agent_version);
                self.sessions_started += 1;
            }
            ForwardEvent::Resumed { .. } => self.resumes += 1,
            ForwardEvent::Retargeted { to, .. } => to.clone_into(&mut self.identity.target),
            ForwardEvent::StartFailed { error, .. } => self.error(error.clone()),
            ForwardEvent::ConnectionsRefused { limit, .. } => {
                self.error(format!(
                    "{limit} connections open, the limit: new ones closed"
                ));
            }
            ForwardEvent::ConnectionFailed { peer, error, .. } => {
                self.error(format!("connection from {peer}: {error}"));
            }
            ForwardEvent::Failing { error, .. } => {
                self.failing = true;
                self.error(error.clone());
            }
            ForwardEvent::Recovered { .. } => self.failing = false,
            ForwardEvent::SocketLost { .. }
            | ForwardEvent::SessionEnded { .. }
            | ForwardEvent::SessionIdleClosed { .. } => {}
        }
    }

    fn error(&mut self, message: String) {
        self.last_error = Some((message, SystemTime::now()));
    }

    fn state(&self, live: &LiveSnapshot) -> &'static str {
        if self.stopping {
            "stopping"
        } else if self.failing {
            "failing"
        } else if !self.identity.sessions_on_demand
            && self.sessions_started == 0
            && live.sessions.is_empty()
        {
            "starting"
        } else {
            "running"
        }
    }

    fn report(&self) -> ForwardStatus {
        let live = self.live.snapshot();
        let identity = &self.identity;
        ForwardStatus {
            name: identity.name.clone(),
            local_address: identity.local_address.to_string(),
            target: identity.target.clone(),
            target_selector: identity.target_selector.clone(),
            remote: identity.remote.clone(),
            state: self.state(&live).to_owned(),
            failing: self.failing,
            mode: self.mode.clone(),
            agent_version: self.agent_version.clone(),
            up_since: rfc3339(self.up_since),
            connections_open: live.connections_open,
            connections_total: live.connections_total,
            bytes_sent: live.bytes_sent,
            bytes_received: live.bytes_received,
            rate_sent: self.rate.sent,
            rate_received: self.rate.received,
            resumes: self.resumes,
            restarts: self.sessions_started.saturating_sub(1),
            last_error: self.last_error.as_ref().map(|(message, at)| LastError {
                message: message.clone(),
                at: rfc3339(*at),
            }),
            sessions: live.sessions.iter().map(session_status).collect(),
        }
    }
}

impl Rate {
    fn sample(&mut self, now: Instant, sent: u64, received: u64) {
        if let Some((at, last_sent, last_received)) = self.last {
            let seconds = now.saturating_duration_since(at).as_secs_f64();
            if seconds < 0.1 {
                return;
            }
            self.sent = per_second(sent.saturating_sub(last_sent), seconds);
            self.received = per_second(received.saturating_sub(last_received), seconds);
        }
        self.last = Some((now, sent, received));
    }
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "a rate shown to people: rounding is fine"
)]
fn per_second(bytes: u64, seconds: f64) -> u64 {
    (bytes as f64 / seconds).round() as u64
}

fn session_status(session: &SessionSnapshot) -> SessionStatus {
    SessionStatus {
        session_id: session.session_id.clone(),
        mode: session.mode.clone(),
        agent_version: session.agent_version.clone(),
        up_since: rfc3339(session.up_since),
        connected: session.connected,
        resumes: session.resumes,
        open_streams: session.open_streams,
        bytes_sent: session.bytes_sent,
        bytes_received: session.bytes_received,
    }
}

/// `2026-12-03T15:04:05Z` (whole seconds, UTC).
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
        .map_or_else(String::new, |at| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::FailureKind;

    fn board() -> StatusBoard {
        board_with(false)
    }

    fn board_with(sessions_on_demand: bool) -> StatusBoard {
        let board = StatusBoard::default();
        board.add(
            ForwardIdentity {
                name: "db".into(),
                local_address: "127.0.0.1:5432".parse().unwrap(),
                target: "i-1".into(),
                target_selector: "name:bastion".into(),
                remote: "db.internal:5432".into(),
                sessions_on_demand,
            },
            Arc::default(),
        );
        board
    }

    #[test]
    fn a_forward_with_sessions_on_demand_runs_before_its_first_session() {
        assert_eq!(board_with(true).report()[0].state, "running");
        assert_eq!(board_with(false).report()[0].state, "starting");
    }

    fn up(session_id: &str) -> ForwardEvent {
        ForwardEvent::SessionUp {
            name: "db".into(),
            session_id: session_id.into(),
            mode: "mux".into(),
            agent_version: "3.3.987.0".into(),
            live: 1,
            max: 1,
        }
    }

    #[test]
    fn events_set_mode_restarts_resumes_and_failing() {
        let board = board();
        assert_eq!(board.report()[0].state, "starting");
        board.apply(&up("s-1"));
        board.apply(&ForwardEvent::Resumed {
            name: "db".into(),
            session_id: "s-1".into(),
            outage: Duration::from_secs(1),
        });
        board.apply(&up("s-2"));
        board.apply(&ForwardEvent::Failing {
            name: "db".into(),
            failures: 5,
            error: "target offline".into(),
            kind: FailureKind::Target,
        });
        board.apply(&ForwardEvent::Retargeted {
            name: "db".into(),
            from: "i-1".into(),
            to: "i-2".into(),
        });
        let report = &board.report()[0];
        assert_eq!(
            (report.mode.as_str(), report.resumes, report.restarts),
            ("mux", 1, 1)
        );
        assert_eq!((report.state.as_str(), report.failing), ("failing", true));
        assert_eq!(report.target, "i-2");
        assert_eq!(
            report.last_error.as_ref().unwrap().message,
            "target offline"
        );
        board.apply(&ForwardEvent::Recovered { name: "db".into() });
        assert_eq!(board.report()[0].state, "running");
        board.stopping("db");
        assert_eq!(board.report()[0].state, "stopping");
        board.remove("db");
        assert!(board.report().is_empty());
    }

    #[test]
    fn rates_come_from_the_bytes_between_two_samples() {
        let mut rate = Rate::default();
        let start = Instant::now();
        rate.sample(start, 0, 0);
        rate.sample(start + Duration::from_secs(2), 2_000, 500);
        assert_eq!((rate.sent, rate.received), (1_000, 250));
        rate.sample(start + Duration::from_secs(3), 2_000, 500);
        assert_eq!((rate.sent, rate.received), (0, 0));
    }

    #[test]
    fn times_are_whole_seconds_in_utc() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_774_245_500);
        assert_eq!(rfc3339(at), "2025-12-03T15:04:05Z");
    }
}
