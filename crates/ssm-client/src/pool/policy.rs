//! The pool's decisions, without clock or IO: which session takes the
//! next stream, when to start another session and which idle sessions to
//! close. The async pool ([`super::SessionPool`]) describes its sessions
//! as [`SessionView`]s and passes the time in, so every rule here is
//! tested in virtual time.

use std::time::{Duration, Instant};

/// How a [`super::SessionPool`] sizes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolPolicy {
    /// Sessions started with the pool and kept open while idle (a
    /// session the service ends normally, e.g. for its idle timeout, is
    /// replaced when a stream needs it; one that fails, at once).
    /// Default 1.
    pub min_sessions: usize,
    /// Most sessions open at once. Default 1; at least 1.
    pub max_sessions: usize,
    /// A session above `min_sessions` with no stream for this long is
    /// terminated. Default 60 s.
    pub idle_close: Duration,
    /// Open streams at which a mux session counts as busy: when every
    /// live session is busy, the pool starts another (below
    /// `max_sessions`). Default 1, since one stream can use a whole
    /// session's throughput. A basic-mode session carries one stream and
    /// is always busy while it does.
    pub busy_streams: usize,
    /// Pause after the first failed start (or a session that failed
    /// before `healthy_after`); doubles per failure up to
    /// `retry_max`. Default 500 ms.
    pub retry_initial: Duration,
    /// Longest pause between failed starts. Default 30 s.
    pub retry_max: Duration,
    /// A session up this long counts as working: the retry pause starts
    /// over. Default 30 s.
    pub healthy_after: Duration,
    /// Longest [`super::SessionPool::open_stream`] waits for a session
    /// that can take the stream. Default 60 s.
    pub open_timeout: Duration,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        Self {
            min_sessions: 1,
            max_sessions: 1,
            idle_close: Duration::from_secs(60),
            busy_streams: 1,
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(30),
            open_timeout: Duration::from_secs(60),
        }
    }
}

/// Whether a session can take streams now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Connected and ready.
    Ready,
    /// Its socket was lost and it is resuming (streams opened now wait
    /// for the new socket).
    Resuming,
    /// Ending (closed for idle, or a stream open failed on it): never
    /// used again.
    Ending,
}

/// What the policy knows of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionView {
    pub(crate) condition: Condition,
    /// Streams the pool placed on it that are still open.
    pub(crate) open_streams: usize,
    /// Most streams it can carry at once (`Some(1)` in basic mode).
    pub(crate) capacity: Option<usize>,
    /// Bytes it moved in the latest sample interval.
    pub(crate) recent_bytes: u64,
    /// Since when it has had no stream (`None` while it has one).
    pub(crate) idle_since: Option<Instant>,
}

impl SessionView {
    fn has_room(&self) -> bool {
        self.condition != Condition::Ending
            && self.capacity.is_none_or(|cap| self.open_streams < cap)
    }

    /// Busy: full, at `busy_streams`, or resuming (it moves no data
    /// until its new socket is up).
    fn is_busy(&self, busy_streams: usize) -> bool {
        self.condition != Condition::Ready
            || !self.has_room()
            || self.open_streams >= busy_streams.max(1)
    }

    fn is_live(&self) -> bool {
        self.condition != Condition::Ending
    }
}

/// Where the next stream goes, and whether to start another session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The session (index into the views) to open it on; `None`: wait
    /// for a session to start or a place to free.
    pub(crate) session: Option<usize>,
    /// Start another session.
    pub(crate) grow: bool,
}

impl PoolPolicy {
    /// The placement of a new stream: the least-loaded ready session
    /// that is not busy (fewest streams, then fewest recent bytes); else
    /// the least-loaded ready one with room (and grow); else a resuming
    /// one with room (and grow); else wait (and grow).
    pub(crate) fn place(&self, sessions: &[SessionView]) -> Placement {
        let grow = self.wants_growth(sessions);
        let least_loaded = |condition: Condition, idle_only: bool| {
            sessions
                .iter()
                .enumerate()
                .filter(|(_, s)| s.condition == condition && s.has_room())
                .filter(|(_, s)| !idle_only || !s.is_busy(self.busy_streams))
                .min_by_key(|(_, s)| (s.open_streams, s.recent_bytes))
                .map(|(index, _)| index)
        };
        let session = least_loaded(Condition::Ready, true)
            .or_else(|| least_loaded(Condition::Ready, false))
            .or_else(|| least_loaded(Condition::Resuming, false));
        Placement { session, grow }
    }

    /// Every live session is busy (or there is none) and the pool is
    /// below its maximum.
    pub(crate) fn wants_growth(&self, sessions: &[SessionView]) -> bool {
        let live = sessions.iter().filter(|s| s.is_live()).count();
        live < self.max_sessions.max(1)
            && sessions
                .iter()
                .filter(|s| s.is_live())
                .all(|s| s.is_busy(self.busy_streams))
    }

    /// Sessions to close at `now`: idle for `idle_close`, beyond the
    /// `min_sessions` live ones kept (the longest idle go first).
    pub(crate) fn idle_to_close(&self, sessions: &[SessionView], now: Instant) -> Vec<usize> {
        let live = sessions.iter().filter(|s| s.is_live()).count();
        let spare = live.saturating_sub(self.min_sessions);
        let mut idle: Vec<(usize, Instant)> = sessions
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_live())
            .filter_map(|(index, s)| s.idle_since.map(|since| (index, since)))
            .filter(|(_, since)| now.saturating_duration_since(*since) >= self.idle_close)
            .collect();
        idle.sort_by_key(|(_, since)| *since);
        idle.into_iter()
            .take(spare)
            .map(|(index, _)| index)
            .collect()
    }

    /// The next time [`Self::idle_to_close`] may close a session, if any
    /// live session is idle.
    pub(crate) fn next_idle_check(&self, sessions: &[SessionView]) -> Option<Instant> {
        sessions
            .iter()
            .filter(|s| s.is_live())
            .filter_map(|s| s.idle_since)
            .min()
            .map(|since| since + self.idle_close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(open_streams: usize, recent_bytes: u64) -> SessionView {
        SessionView {
            condition: Condition::Ready,
            open_streams,
            capacity: None,
            recent_bytes,
            idle_since: None,
        }
    }

    fn policy(min_sessions: usize, max_sessions: usize) -> PoolPolicy {
        PoolPolicy {
            min_sessions,
            max_sessions,
            ..PoolPolicy::default()
        }
    }

    #[test]
    fn an_empty_pool_waits_and_grows() {
        let placement = policy(0, 2).place(&[]);
        assert_eq!(
            placement,
            Placement {
                session: None,
                grow: true
            }
        );
    }

    #[test]
    fn the_stream_goes_to_the_session_with_fewest_streams_then_bytes() {
        let sessions = [view(2, 0), view(1, 900), view(1, 100), view(3, 0)];
        assert_eq!(policy(1, 4).place(&sessions).session, Some(2));
    }

    #[test]
    fn a_busy_pool_below_its_maximum_grows_but_still_places_the_stream() {
        let placement = policy(1, 2).place(&[view(1, 0)]);
        assert_eq!(
            placement,
            Placement {
                session: Some(0),
                grow: true
            }
        );
    }

    #[test]
    fn a_pool_with_an_idle_session_does_not_grow() {
        let placement = policy(1, 4).place(&[view(1, 0), view(0, 0)]);
        assert_eq!(
            placement,
            Placement {
                session: Some(1),
                grow: false
            }
        );
    }

    #[test]
    fn a_full_pool_does_not_grow() {
        let placement = policy(1, 2).place(&[view(5, 0), view(4, 0)]);
        assert_eq!(
            placement,
            Placement {
                session: Some(1),
                grow: false
            }
        );
    }

    #[test]
    fn a_resuming_session_is_used_only_when_no_ready_one_can_take_the_stream() {
        let resuming = SessionView {
            condition: Condition::Resuming,
            ..view(0, 0)
        };
        assert_eq!(policy(1, 2).place(&[resuming, view(3, 0)]).session, Some(1));
        let placement = policy(1, 2).place(&[resuming]);
        assert_eq!(
            placement,
            Placement {
                session: Some(0),
                grow: true
            }
        );
    }

    #[test]
    fn an_ending_session_is_never_used_and_does_not_count() {
        let ending = SessionView {
            condition: Condition::Ending,
            ..view(0, 0)
        };
        let placement = policy(1, 1).place(&[ending]);
        assert_eq!(
            placement,
            Placement {
                session: None,
                grow: true
            }
        );
    }

    #[test]
    fn basic_mode_carries_one_stream_per_session() {
        let basic = |open| SessionView {
            capacity: Some(1),
            ..view(open, 0)
        };
        let policy = PoolPolicy {
            busy_streams: 8,
            ..policy(1, 3)
        };
        assert_eq!(
            policy.place(&[basic(1), basic(0)]),
            Placement {
                session: Some(1),
                grow: false
            }
        );
        assert_eq!(
            policy.place(&[basic(1), basic(1)]),
            Placement {
                session: None,
                grow: true
            }
        );
        let full = policy.place(&[basic(1), basic(1), basic(1)]);
        assert_eq!(
            full,
            Placement {
                session: None,
                grow: false
            }
        );
    }

    #[test]
    fn busy_streams_sets_when_a_mux_session_counts_as_busy() {
        let policy = PoolPolicy {
            busy_streams: 3,
            ..policy(1, 2)
        };
        assert!(!policy.wants_growth(&[view(2, 0)]));
        assert!(policy.wants_growth(&[view(3, 0)]));
    }

    #[test]
    fn idle_sessions_above_the_minimum_close_after_idle_close() {
        let start = Instant::now();
        let idle = |secs| SessionView {
            idle_since: Some(start + Duration::from_secs(secs)),
            ..view(0, 0)
        };
        let policy = PoolPolicy {
            idle_close: Duration::from_secs(60),
            ..policy(1, 4)
        };
        let sessions = [idle(10), view(1, 0), idle(0), idle(30)];
        let at = |secs| start + Duration::from_secs(secs);
        assert_eq!(policy.idle_to_close(&sessions, at(59)), Vec::<usize>::new());
        assert_eq!(policy.idle_to_close(&sessions, at(70)), vec![2, 0]);
        assert_eq!(policy.idle_to_close(&sessions, at(100)), vec![2, 0, 3]);
        assert_eq!(policy.next_idle_check(&sessions), Some(at(60)));
        assert_eq!(policy.next_idle_check(&[view(1, 0)]), None);
    }

    #[test]
    fn the_minimum_stays_open_however_long_it_is_idle() {
        let start = Instant::now();
        let idle = SessionView {
            idle_since: Some(start),
            ..view(0, 0)
        };
        let later = start + Duration::from_secs(3600);
        assert!(policy(2, 4).idle_to_close(&[idle, idle], later).is_empty());
        assert_eq!(policy(1, 4).idle_to_close(&[idle, idle], later).len(), 1);
    }
}
