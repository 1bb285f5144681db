//! The state a pool's handles and tasks share: its sessions and what
//! its starter should do next.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use super::policy::{Condition, PoolPolicy, SessionView};
use super::stats::{PoolStats, PooledSessionStats};
use crate::session::Session;
use ssm_proto::version::PortMode;

/// Shared by the pool handles, its streams and its tasks.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) policy: PoolPolicy,
    state: Mutex<PoolState>,
    /// Wakes `open_stream` callers: a session came up or ended, a
    /// stream closed (`notify_waiters`).
    pub(super) changed: Notify,
    /// Wakes the starter: a start may be wanted (`notify_one`).
    pub(super) wake_starter: Notify,
    /// True once the pool is closed.
    pub(super) closed: watch::Sender<bool>,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(super) struct PoolState {
    pub(super) entries: Vec<Entry>,
    pub(super) starting: bool,
    pub(super) waiting: usize,
    /// A placement found every session busy: start another if they
    /// still are.
    pub(super) grow_wanted: bool,
    /// Keep `min_sessions` up (false after the service ended a session
    /// normally: it is then replaced on demand).
    pub(super) keep_min: bool,
    pub(super) last_start_error: Option<String>,
    /// Pause before the next start after a failure.
    pub(super) retry_delay: Duration,
    /// No start before this (set by failures).
    pub(super) not_before: Option<Instant>,
    pub(super) next_number: u64,
    pub(super) totals: Totals,
}

/// Lifetime counters.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Totals {
    pub(super) started: u64,
    pub(super) start_failures: u64,
    pub(super) ended: u64,
    pub(super) idle_closed: u64,
    pub(super) streams_opened: u64,
    pub(super) streams_moved: u64,
}

/// One live session of the pool.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) number: u64,
    pub(super) session: Session,
    pub(super) open: usize,
    pub(super) opened: u64,
    pub(super) idle_since: Option<Instant>,
    /// Bytes sent and received at the latest sample.
    pub(super) bytes_seen: u64,
    /// Bytes moved in the latest sample interval.
    pub(super) recent_bytes: u64,
    pub(super) up_at: Instant,
    /// Closed for idle or found dead: takes no more streams.
    pub(super) ending: bool,
    /// Closed for idle (its end is reported as such, not as a failure).
    pub(super) idle_closed: bool,
}

impl Entry {
    pub(super) fn view(&self) -> SessionView {
        let condition = if self.ending || self.session.end_reason().is_some() {
            Condition::Ending
        } else if self.session.is_connected() {
            Condition::Ready
        } else {
            Condition::Resuming
        };
        let basic = self
            .session
            .info()
            .is_some_and(|info| !matches!(info.mode, PortMode::Mux { .. }));
        SessionView {
            condition,
            open_streams: self.open,
            capacity: basic.then_some(1),
            recent_bytes: self.recent_bytes,
            idle_since: self.idle_since,
        }
    }

    fn stats(&self, now: Instant) -> PooledSessionStats {
        PooledSessionStats {
            number: self.number,
            session_id: self.session.session_id().to_owned(),
            open_streams: self.open,
            streams_opened: self.opened,
            resuming: !self.session.is_connected(),
            ending: self.ending || self.session.end_reason().is_some(),
            up_for: now.saturating_duration_since(self.up_at),
            session: self.session.stats(),
        }
    }
}

impl PoolState {
    pub(super) fn views(&self) -> Vec<SessionView> {
        self.entries.iter().map(Entry::view).collect()
    }

    /// Sessions that take streams (not ending).
    pub(super) fn live(&self) -> usize {
        self.views()
            .iter()
            .filter(|v| v.condition != Condition::Ending)
            .count()
    }

    pub(super) fn entry_mut(&mut self, number: u64) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.number == number)
    }

    /// Whether the starter should start a session now (ignoring the
    /// retry pause).
    pub(super) fn wants_start(&self, policy: &PoolPolicy) -> bool {
        let views = self.views();
        let live = views
            .iter()
            .filter(|v| v.condition != Condition::Ending)
            .count();
        live < policy.max_sessions.max(1)
            && (self.waiting > 0
                || (self.grow_wanted && policy.wants_growth(&views))
                || (self.keep_min && live < policy.min_sessions))
    }

    /// A start or a young session failed: the next start waits.
    pub(super) fn back_off(&mut self, policy: &PoolPolicy, now: Instant) -> Duration {
        let delay = self.retry_delay;
        self.not_before = Some(now + delay);
        self.retry_delay = (delay * 2).min(policy.retry_max);
        delay
    }

    pub(super) fn stats(&self, now: Instant) -> PoolStats {
        PoolStats {
            sessions: self.entries.iter().map(|e| e.stats(now)).collect(),
            starting: self.starting,
            waiting: self.waiting,
            started: self.totals.started,
            start_failures: self.totals.start_failures,
            ended: self.totals.ended,
            idle_closed: self.totals.idle_closed,
            streams_opened: self.totals.streams_opened,
            streams_moved: self.totals.streams_moved,
        }
    }
}

impl Shared {
    pub(super) fn new(policy: PoolPolicy) -> Self {
        let (closed, _) = watch::channel(false);
        Self {
            policy,
            state: Mutex::new(PoolState {
                entries: Vec::new(),
                starting: false,
                waiting: 0,
                grow_wanted: false,
                keep_min: true,
                last_start_error: None,
                retry_delay: policy.retry_initial,
                not_before: None,
                next_number: 1,
                totals: Totals::default(),
            }),
            changed: Notify::new(),
            wake_starter: Notify::new(),
            closed,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Every update leaves the state consistent before anything that
        // can panic; keep serving after a poisoning panic elsewhere.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once the pool is closed.
    pub(super) async fn until_closed(&self) {
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(|closed| *closed).await;
    }

    /// Something changed that `open_stream` callers and the starter may
    /// care about.
    pub(super) fn wake_all(&self) {
        self.changed.notify_waiters();
        self.wake_starter.notify_one();
    }

    /// A stream placed on session `number` closed.
    pub(super) fn release(&self, number: u64) {
        let mut state = self.lock();
        if let Some(entry) = state.entry_mut(number) {
            entry.open = entry.open.saturating_sub(1);
            if entry.open == 0 {
                entry.idle_since = Some(Instant::now());
            }
        }
        drop(state);
        self.wake_all();
    }
}
