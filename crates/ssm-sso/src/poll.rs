//! When to ask for the token during a device authorization (RFC 8628
//! §3.5): every `interval`, five seconds more after each "slow down",
//! until the code expires. Pure: it takes `now` and says when to poll.

use std::time::{Duration, Instant};

/// The interval when the service names none (RFC 8628's default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// What RFC 8628 adds to the interval on every `slow_down`.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Never poll faster than this, whatever the service says.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The schedule of one device authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSchedule {
    interval: Duration,
    expires_at: Instant,
    polls: u32,
}

/// What a poll found, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollAnswer {
    /// Not approved yet.
    Pending,
    /// Polled too fast: wait longer from now on.
    SlowDown,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextPoll {
    /// Poll at this time.
    At(Instant),
    /// The code will have expired by the next poll: give up.
    Expired,
}

impl PollSchedule {
    /// A schedule for a code issued at `now` that expires after
    /// `expires_in`, polled every `interval` (none or zero: 5 s).
    pub fn new(now: Instant, interval: Option<Duration>, expires_in: Duration) -> Self {
        let interval = interval
            .filter(|interval| !interval.is_zero())
            .unwrap_or(DEFAULT_INTERVAL)
            .max(MIN_INTERVAL);
        Self {
            interval,
            expires_at: now + expires_in,
            polls: 0,
        }
    }

    /// When to poll first: one interval after `now`.
    pub fn first(&self, now: Instant) -> NextPoll {
        self.at(now + self.interval)
    }

    /// When to poll after `answer` arrived at `now`.
    pub fn after(&mut self, answer: PollAnswer, now: Instant) -> NextPoll {
        self.polls += 1;
        if answer == PollAnswer::SlowDown {
            self.interval += SLOW_DOWN_STEP;
        }
        self.at(now + self.interval)
    }

    /// The interval in force.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Polls answered so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// Time left before the code expires.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires_at.saturating_duration_since(now)
    }

    fn at(&self, when: Instant) -> NextPoll {
        if when >= self.expires_at {
            NextPoll::Expired
        } else {
            NextPoll::At(when)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_every_interval_until_expiry() {
        let start = Instant::now();
        let mut schedule =
            PollSchedule::new(start, Some(Duration::from_secs(2)), Duration::from_secs(7));
        assert_eq!(
            schedule.first(start),
            NextPoll::At(start + Duration::from_secs(2))
        );
        let t2 = start + Duration::from_secs(2);
        assert_eq!(
            schedule.after(PollAnswer::Pending, t2),
            NextPoll::At(t2 + Duration::from_secs(2))
        );
        let t4 = start + Duration::from_secs(4);
        assert_eq!(
            schedule.after(PollAnswer::Pending, t4),
            NextPoll::At(t4 + Duration::from_secs(2))
        );
        let t6 = start + Duration::from_secs(6);
        assert_eq!(schedule.after(PollAnswer::Pending, t6), NextPoll::Expired);
        assert_eq!(schedule.polls(), 3);
        assert_eq!(schedule.remaining(t6), Duration::from_secs(1));
    }

    #[test]
    fn slow_down_adds_five_seconds_for_good() {
        let start = Instant::now();
        let mut schedule = PollSchedule::new(
            start,
            Some(Duration::from_secs(1)),
            Duration::from_secs(600),
        );
        let t1 = start + Duration::from_secs(1);
        assert_eq!(
            schedule.after(PollAnswer::SlowDown, t1),
            NextPoll::At(t1 + Duration::from_secs(6))
        );
        assert_eq!(schedule.interval(), Duration::from_secs(6));
        let t7 = start + Duration::from_secs(7);
        assert_eq!(
            schedule.after(PollAnswer::Pending, t7),
            NextPoll::At(t7 + Duration::from_secs(6))
        );
        schedule.after(PollAnswer::SlowDown, t7);
        assert_eq!(schedule.interval(), Duration::from_secs(11));
    }

    #[test]
    fn a_missing_or_tiny_interval_is_made_sane() {
        let start = Instant::now();
        let expiry = Duration::from_secs(600);
        assert_eq!(
            PollSchedule::new(start, None, expiry).interval(),
            DEFAULT_INTERVAL
        );
        assert_eq!(
            PollSchedule::new(start, Some(Duration::ZERO), expiry).interval(),
            DEFAULT_INTERVAL
        );
        assert_eq!(
            PollSchedule::new(start, Some(Duration::from_millis(10)), expiry).interval(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_code_that_expires_before_the_first_poll_is_expired() {
        let start = Instant::now();
        let schedule =
            PollSchedule::new(start, Some(Duration::from_secs(5)), Duration::from_secs(3));
        assert_eq!(schedule.first(start), NextPoll::Expired);
    }
}
