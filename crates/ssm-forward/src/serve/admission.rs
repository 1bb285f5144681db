//! Local resource limits of one listener: how many connections it
//! serves at once ([`ConnectionLimit`]) and how long it pauses after a
//! failed accept ([`accept_backoff`]), so that neither a local program
//! opening connections without end nor a lasting accept failure (out of
//! file descriptors) makes a forward use unbounded memory or a whole core.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Concurrent local connections per forward unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// First pause after a failed accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause after failed accepts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The pause before accepting again after `failures` consecutive failed
/// accepts (1 for the first): 10 ms, doubling, at most 1 s.
pub fn accept_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    ACCEPT_BACKOFF_MIN
        .saturating_mul(1 << doublings)
        .min(ACCEPT_BACKOFF_MAX)
}

/// At most `max` connections at once; beyond that a new connection is
/// closed at once, and the first refusal of each burst is reported.
pub struct ConnectionLimit {
    permits: Arc<Semaphore>,
    max: usize,
    refusing: bool,
    on_refusing: Box<dyn FnMut(usize) + Send>,
}

impl std::fmt::Debug for ConnectionLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLimit")
            .field("max", &self.max)
            .field("refusing", &self.refusing)
            .finish_non_exhaustive()
    }
}

impl ConnectionLimit {
    /// At most `max` (at least 1) connections; `on_refusing(max)` is called
    /// once when refusals start, and again only after a connection was
    /// admitted in between (one status line per burst).
    pub fn new(max: usize, on_refusing: impl FnMut(usize) + Send + 'static) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            refusing: false,
            on_refusing: Box::new(on_refusing),
        }
    }

    /// At most `max` connections, refusals not reported (the plugin and
    /// the demo, which have no status lines for them).
    pub fn unreported(max: usize) -> Self {
        Self::new(max, |_| {})
    }

    /// A permit for one more connection (held until it ends), or `None`
    /// when the limit is reached.
    pub fn admit(&mut self) -> Option<OwnedSemaphorePermit> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                self.refusing = false;
                Some(permit)
            }
            Err(_) => {
                if !self.refusing {
                    self.refusing = true;
                    (self.on_refusing)(self.max);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn accept_backoff_doubles_from_10_ms_up_to_1_s() {
        let pauses: Vec<u128> = (1..=10).map(|n| accept_backoff(n).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        assert_eq!(accept_backoff(0), Duration::from_millis(10));
        assert_eq!(accept_backoff(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn the_limit_refuses_beyond_max_and_reports_once_per_burst() {
        let reports = Arc::new(AtomicUsize::new(0));
        let counted = reports.clone();
        let mut limit = ConnectionLimit::new(2, move |max| {
            assert_eq!(max, 2);
            counted.fetch_add(1, Ordering::Relaxed);
        });
        let first = limit.admit().expect("first admitted");
        let _second = limit.admit().expect("second admitted");
        assert!(limit.admit().is_none());
        assert!(limit.admit().is_none());
        assert_eq!(reports.load(Ordering::Relaxed), 1, "one line per burst");
        drop(first);
        let _third = limit.admit().expect("room again once one ended");
        assert!(limit.admit().is_none());
        assert_eq!(reports.load(Ordering::Relaxed), 2, "a new burst");
    }
}
