//! The gateway's message-rate limit on client stream data.

use std::time::{Duration, Instant};

/// Counts messages in one-second buckets and reports a violation when
/// `seconds` consecutive buckets each exceed `limit`.
#[derive(Debug)]
pub(crate) struct RateMeter {
    limit: u32,
    seconds: u32,
    bucket_start: Instant,
    count: u32,
    full_buckets_over: u32,
}

impl RateMeter {
    pub(crate) fn new(limit: u32, seconds: u32, now: Instant) -> Self {
        Self {
            limit,
            seconds: seconds.max(1),
            bucket_start: now,
            count: 0,
            full_buckets_over: 0,
        }
    }

    /// Records one message; true when the limit is now violated.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        while now >= self.bucket_start + Duration::from_secs(1) {
            self.full_buckets_over = if self.count > self.limit {
                self.full_buckets_over + 1
            } else {
                0
            };
            self.count = 0;
            self.bucket_start += Duration::from_secs(1);
        }
        self.count = self.count.saturating_add(1);
        self.count > self.limit && self.full_buckets_over + 1 >= self.seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(meter: &mut RateMeter, start: Instant, per_second: u32, seconds: u32) -> bool {
        let mut violated = false;
        for second in 0..seconds {
            for i in 0..per_second {
                let at = start
                    + Duration::from_secs(u64::from(second))
                    + Duration::from_secs(1) * i / per_second;
                violated |= meter.record(at);
            }
        }
        violated
    }

    #[test]
    fn tolerates_the_limit_and_short_bursts() {
        let start = Instant::now();
        assert!(!run(&mut RateMeter::new(1000, 2, start), start, 1000, 5));
        let mut meter = RateMeter::new(1000, 2, start);
        assert!(!run(&mut meter, start, 1500, 1));
    }

    #[test]
    fn trips_after_two_seconds_over() {
        let start = Instant::now();
        assert!(run(&mut RateMeter::new(1000, 2, start), start, 1100, 2));
    }
}
