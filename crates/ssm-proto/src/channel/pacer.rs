//! Token-bucket pacing of stream-data transmissions.
//!
//! The gateway is reported to close channels whose client sustains more
//! than 1000 data messages per second (landscape.md §4); pacing keeps
//! us under a configured rate without sleeping per message.

use std::time::{Duration, Instant};

/// Pacing limit for sequenced stream-data messages (acks are not paced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacingConfig {
    /// Sustained messages per second.
    pub messages_per_second: u32,
    /// Messages that may go out back to back after an idle period
    /// (default 8: enough for interactive traffic, small enough that a
    /// burst of new connections is coalesced into full messages rather
    /// than sent as dozens of tiny ones).
    pub burst: u32,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            messages_per_second: 900,
            burst: 8,
        }
    }
}

/// Token bucket in units of messages.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    interval: Duration,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl Pacer {
    pub(crate) fn new(config: PacingConfig, now: Instant) -> Self {
        let rate = config.messages_per_second.max(1);
        let burst = f64::from(config.burst.max(1));
        Self {
            interval: Duration::from_secs(1) / rate,
            burst,
            tokens: burst,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated);
        self.updated = self.updated.max(now);
        let earned = elapsed.as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(self.burst);
    }

    /// Whether a token is available now (none is taken).
    pub(crate) fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Takes one token if available.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token is (or was) available; absolute, so no clock
    /// is needed.
    pub(crate) fn next_token_at(&self) -> Instant {
        if self.tokens >= 1.0 {
            return self.updated;
        }
        self.updated
            + self
                .interval
                .mul_f64(1.0 - self.tokens)
                .max(Duration::from_nanos(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sustains_the_configured_rate() {
        let start = Instant::now();
        let config = PacingConfig {
            messages_per_second: 1000,
            burst: 10,
        };
        let mut pacer = Pacer::new(config, start);
        let mut sent = 0;
        let mut now = start;
        while now < start + Duration::from_secs(2) {
            if pacer.try_take(now) {
                sent += 1;
            } else {
                now = pacer.next_token_at().max(now);
            }
        }
        assert!((2000..=2011).contains(&sent), "sent {sent}");
    }

    #[test]
    fn burst_is_bounded() {
        let start = Instant::now();
        let mut pacer = Pacer::new(PacingConfig::default(), start);
        let later = start + Duration::from_secs(60);
        let burst = (0..100).filter(|_| pacer.try_take(later)).count();
        assert_eq!(burst, 8);
        assert!(pacer.next_token_at() > later);
    }
}
