//! Keepalive timers in virtual time, as smux's `keepalive` goroutine does
//! with two tickers: one sends a `NOP` every interval, the other checks every
//! timeout period that some frame arrived since the previous check.

use std::time::{Duration, Instant};

use tracing::trace;

use super::Session;
use crate::config::KeepAlive;
use crate::error::SessionError;

/// The two keepalive deadlines. `None` means "never" (the deadline would not
/// fit in an `Instant`).
#[derive(Debug)]
pub(super) struct KeepAliveTimer {
    config: KeepAlive,
    next_ping: Option<Instant>,
    next_check: Option<Instant>,
}

impl KeepAliveTimer {
    /// Timers started at `now`.
    pub(super) fn new(config: KeepAlive, now: Instant) -> Self {
        Self {
            config,
            next_ping: now.checked_add(config.interval),
            next_check: now.checked_add(config.timeout),
        }
    }

    /// The earlier of the two deadlines.
    fn next_deadline(&self) -> Option<Instant> {
        match (self.next_ping, self.next_check) {
            (Some(ping), Some(check)) => Some(ping.min(check)),
            (ping, check) => ping.or(check),
        }
    }

    /// Whether a `NOP` is due at `now`; if so, moves to the next tick.
    fn ping_due(&mut self, now: Instant) -> bool {
        fire(&mut self.next_ping, self.config.interval, now)
    }

    /// Whether a liveness check is due at `now`; if so, moves to the next tick.
    fn check_due(&mut self, now: Instant) -> bool {
        fire(&mut self.next_check, self.config.timeout, now)
    }
}

/// Fires the ticker if `deadline` has passed. Like a Go ticker, missed ticks
/// are dropped rather than replayed.
fn fire(deadline: &mut Option<Instant>, period: Duration, now: Instant) -> bool {
    let Some(due) = *deadline else {
        return false;
    };
    if now < due {
        return false;
    }
    *deadline = next_tick_after(due, period, now).or_else(|| now.checked_add(period));
    true
}

/// The first tick of the ticker `due + k * period` that lies after `now`.
fn next_tick_after(due: Instant, period: Duration, now: Instant) -> Option<Instant> {
    let elapsed_ticks = now.duration_since(due).as_nanos() / period.as_nanos();
    let ticks = u32::try_from(elapsed_ticks + 1).ok()?;
    due.checked_add(period.checked_mul(ticks)?)
}

impl Session {
    /// When [`handle_timeout`](Self::handle_timeout) must be called next;
    /// `None` if keepalive is disabled or the session is dead.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead.is_some() {
            return None;
        }
        self.keep_alive.as_ref()?.next_deadline()
    }

    /// Runs the keepalive timers at `now` (calling early or twice is
    /// harmless). Queues a `NOP` every interval; at every timeout tick, if no
    /// frame arrived since the previous tick and input is not paused by the
    /// receive budget, the session dies with
    /// [`SessionError::KeepAliveTimeout`] (reported as
    /// [`Event::SessionDead`](crate::Event::SessionDead)).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead.is_some() {
            return;
        }
        let Some(timer) = self.keep_alive.as_mut() else {
            return;
        };
        let (ping_due, check_due) = (timer.ping_due(now), timer.check_due(now));
        if ping_due {
            trace!("keepalive nop queued");
            self.nop_pending = true;
        }
        if check_due {
            if self.frame_seen || self.receive_budget_exhausted() {
                self.frame_seen = false;
            } else {
                self.die(SessionError::KeepAliveTimeout);
            }
        }
    }
}
