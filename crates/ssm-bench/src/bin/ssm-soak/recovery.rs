//! When the simulated agent was holding a lost message: its oldest
//! unacknowledged message had been waiting for an ack for longer than
//! [`LOST_AFTER`]. The client acks everything it receives at once, so in
//! those windows it lacks that message, and every stream behind it waits
//! for the agent's front-only resend (one message per 100 ms tick,
//! protocol.md §5.4). No client can shorten these waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ssm_sim::Simulator;
use tokio::time::Instant;

/// An agent message unacked this long was lost, not in flight.
const LOST_AFTER: Duration = Duration::from_millis(500);
/// How often the simulator's gauge is read.
const EVERY: Duration = Duration::from_millis(100);

/// A time span during which the agent held a lost message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) from: Instant,
    pub(crate) to: Instant,
}

/// Reads the agent's oldest-unacked gauge until `stop` is set; returns
/// the windows in which it was older than [`LOST_AFTER`], merged.
pub(crate) async fn watch(
    sim: Arc<Simulator>,
    session_id: String,
    stop: Arc<AtomicBool>,
) -> Vec<Window> {
    let mut windows: Vec<Window> = Vec::new();
    let mut ticker = tokio::time::interval(EVERY);
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        let Some(summary) = sim.session(&session_id) else {
            break;
        };
        let since_ms = summary.stats.agent_oldest_unacked_unix_ms;
        let Some(age) = age_of(since_ms) else {
            continue;
        };
        if age > LOST_AFTER {
            let now = Instant::now();
            add(
                &mut windows,
                Window {
                    from: now - age,
                    to: now,
                },
            );
        }
    }
    windows
}

/// How long ago a Unix-ms time was (`None` for 0, "nothing waits").
fn age_of(unix_ms: u64) -> Option<Duration> {
    if unix_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    Some(Duration::from_millis(now_ms.saturating_sub(unix_ms)))
}

/// Adds a window, merging it with the last one when they touch.
fn add(windows: &mut Vec<Window>, window: Window) {
    match windows.last_mut() {
        Some(last) if window.from <= last.to + EVERY * 2 => {
            last.from = last.from.min(window.from);
            last.to = last.to.max(window.to);
        }
        _ => windows.push(window),
    }
}

/// Total time covered by the windows.
pub(crate) fn total(windows: &[Window]) -> Duration {
    windows.iter().map(|w| w.to - w.from).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_windows_merge_and_others_do_not() {
        let base = Instant::now();
        let at = |ms: u64| base + Duration::from_millis(ms);
        let mut windows = Vec::new();
        add(
            &mut windows,
            Window {
                from: at(0),
                to: at(600),
            },
        );
        add(
            &mut windows,
            Window {
                from: at(100),
                to: at(700),
            },
        );
        add(
            &mut windows,
            Window {
                from: at(5000),
                to: at(5600),
            },
        );
        assert_eq!(
            windows,
            [
                Window {
                    from: at(0),
                    to: at(700)
                },
                Window {
                    from: at(5000),
                    to: at(5600)
                }
            ]
        );
        assert_eq!(total(&windows), Duration::from_millis(1300));
        assert_eq!(age_of(0), None);
        assert!(age_of(1).is_some_and(|age| age > Duration::from_secs(1)));
    }
}
