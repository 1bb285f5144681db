//! StartSession accounting: when each call came and how many sessions
//! were starting at once, so tests can assert that a client never bursts
//! StartSession (the real API's rate limit is low) and never has two
//! starts in flight.
//!
//! A session counts as *starting* from its StartSession call until the
//! agent sends HandshakeComplete (or the session ends first). The agent
//! sends HandshakeComplete before the client can see it, so a client that
//! starts sessions one after the other never shows two starting at once.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The window [`StartStats::max_per_second`] is counted over.
const WINDOW: Duration = Duration::from_secs(1);

/// What the simulator saw of StartSession calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StartStats {
    /// StartSession calls that created a session.
    pub calls: u64,
    /// Most calls within any one-second window.
    pub max_per_second: u64,
    /// Most sessions starting at the same time (StartSession called,
    /// handshake not yet complete).
    pub max_starting: u64,
    /// Sessions starting now.
    pub starting: u64,
}

/// Records StartSession calls and handshake completions.
#[derive(Debug, Default)]
pub struct StartLog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<Instant>,
    starting: HashSet<String>,
    max_starting: usize,
}

impl StartLog {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A StartSession call created `session_id`.
    pub(crate) fn started(&self, session_id: &str) {
        let mut state = self.lock();
        state.calls.push(Instant::now());
        state.starting.insert(session_id.to_owned());
        state.max_starting = state.max_starting.max(state.starting.len());
    }

    /// `session_id` completed its handshake or ended: no longer starting.
    pub(crate) fn settled(&self, session_id: &str) {
        self.lock().starting.remove(session_id);
    }

    /// A copy of the counts.
    pub fn stats(&self) -> StartStats {
        let state = self.lock();
        StartStats {
            calls: state.calls.len() as u64,
            max_per_second: max_in_window(&state.calls, WINDOW) as u64,
            max_starting: state.max_starting as u64,
            starting: state.starting.len() as u64,
        }
    }
}

/// Most of the (sorted) `times` within any `window`-long span.
fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut first = 0;
    let mut best = 0;
    for (last, time) in times.iter().enumerate() {
        while *time - times[first] >= window {
            first += 1;
        }
        best = best.max(last + 1 - first);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_busiest_second() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let times = [at(0), at(100), at(1050), at(1100), at(1200), at(3000)];
        assert_eq!(max_in_window(&times, WINDOW), 3);
        assert_eq!(max_in_window(&[], WINDOW), 0);
    }

    #[test]
    fn starting_is_the_overlap_of_unsettled_sessions() {
        let log = StartLog::default();
        log.started("a");
        log.settled("a");
        log.started("b");
        log.started("c");
        log.settled("c");
        log.settled("c");
        let stats = log.stats();
        assert_eq!((stats.calls, stats.max_starting, stats.starting), (3, 2, 1));
    }
}
