//! Waits for due data that lasted longer than the limit, and whether a
//! reconnect the daemon reported explains them.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::daemon::Outage;
use crate::recovery::Window;

/// Slack around an agent recovery window: the data a wait was for
/// reaches the reader shortly after the lost message is recovered.
const RECOVERY_SLACK: Duration = Duration::from_millis(1500);

/// Slack around a reported outage: the report is read from the daemon's
/// stderr a little after the socket went, and data queued during the
/// outage drains a little after it resumed.
const OUTAGE_SLACK: Duration = Duration::from_secs(2);

/// One over-long wait.
#[derive(Debug, Clone)]
pub(crate) struct Stall {
    pub(crate) began: Instant,
    pub(crate) lasted: Duration,
    pub(crate) what: String,
}

/// Collects the stalls of every workload.
#[derive(Debug)]
pub(crate) struct Stalls {
    limit: Duration,
    seen: Mutex<Vec<Stall>>,
    longest: Mutex<Duration>,
}

/// Overlapping stalls, merged: one hold-up seen by several waits.
#[derive(Debug, Clone)]
pub(crate) struct Episode {
    pub(crate) began: Instant,
    pub(crate) ended: Instant,
    pub(crate) waits: usize,
    /// What the first wait of the episode was for.
    pub(crate) first: String,
}

/// Merges stalls whose intervals overlap into episodes, in time order.
pub(crate) fn episodes(stalls: &[Stall]) -> Vec<Episode> {
    let mut sorted: Vec<&Stall> = stalls.iter().collect();
    sorted.sort_by_key(|stall| stall.began);
    let mut merged: Vec<Episode> = Vec::new();
    for stall in sorted {
        let ended = stall.began + stall.lasted;
        match merged.last_mut() {
            Some(last) if stall.began <= last.ended => {
                last.ended = last.ended.max(ended);
                last.waits += 1;
            }
            _ => merged.push(Episode {
                began: stall.began,
                ended,
                waits: 1,
                first: stall.what.clone(),
            }),
        }
    }
    merged
}

/// Stalls sorted by cause.
#[derive(Debug, Default)]
pub(crate) struct Classified {
    pub(crate) limit: Duration,
    /// The longest wait of any kind, stall or not.
    pub(crate) longest_wait: Duration,
    /// Over the limit while the daemon was reconnecting.
    pub(crate) excused: Vec<Stall>,
    /// Over the limit, and wholly inside a window in which the agent held
    /// a lost message (see [`crate::recovery`]).
    pub(crate) agent_recovery: Vec<Stall>,
    /// Over the limit with neither to explain it: a failure.
    pub(crate) unexplained: Vec<Stall>,
    pub(crate) outages: usize,
    pub(crate) longest_outage: Duration,
}

impl Stalls {
    pub(crate) fn new(limit: Duration) -> Self {
        Self {
            limit,
            seen: Mutex::new(Vec::new()),
            longest: Mutex::new(Duration::ZERO),
        }
    }

    /// Notes a wait for data that began at `began` and ended now.
    pub(crate) fn waited(&self, began: Instant, what: impl FnOnce() -> String) {
        let lasted = began.elapsed();
        if let Ok(mut longest) = self.longest.lock() {
            *longest = (*longest).max(lasted);
        }
        if lasted > self.limit
            && let Ok(mut seen) = self.seen.lock()
        {
            seen.push(Stall {
                began,
                lasted,
                what: what(),
            });
        }
    }

    /// Splits the stalls into those a reported outage explains, those the
    /// agent's loss recovery explains, and the rest.
    pub(crate) fn classify(&self, outages: &[Outage], recovery: &[Window]) -> Classified {
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        let (excused, rest): (Vec<Stall>, Vec<Stall>) = seen
            .into_iter()
            .partition(|stall| outages.iter().any(|outage| overlaps(stall, outage)));
        let (agent_recovery, unexplained) = rest
            .into_iter()
            .partition(|stall| recovery.iter().any(|window| within(stall, window)));
        Classified {
            agent_recovery,
            limit: self.limit,
            longest_wait: self.longest.lock().map(|l| *l).unwrap_or_default(),
            excused,
            unexplained,
            outages: outages.len(),
            longest_outage: outages
                .iter()
                .filter_map(|o| o.resumed.map(|r| r - o.lost))
                .max()
                .unwrap_or_default(),
        }
    }
}

/// The stall lies inside the window (with slack): the agent held a lost
/// message from before the wait began until (nearly) the wait ended. A
/// wait that outlasts the window is not explained by it.
fn within(stall: &Stall, window: &Window) -> bool {
    let stall_end = stall.began + stall.lasted;
    stall.began + RECOVERY_SLACK >= window.from && stall_end <= window.to + RECOVERY_SLACK
}

fn overlaps(stall: &Stall, outage: &Outage) -> bool {
    let stall_end = stall.began + stall.lasted;
    let from = outage.lost.checked_sub(OUTAGE_SLACK).unwrap_or(outage.lost);
    let to = outage
        .resumed
        .map_or(stall_end, |resumed| resumed + OUTAGE_SLACK);
    stall.began <= to && stall_end >= from
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stall(began: Instant, seconds: u64) -> Stall {
        Stall {
            began,
            lasted: Duration::from_secs(seconds),
            what: "test".into(),
        }
    }

    #[test]
    fn only_stalls_overlapping_an_outage_are_excused() {
        let base = Instant::now();
        let outage = Outage {
            lost: base + Duration::from_secs(100),
            resumed: Some(base + Duration::from_secs(103)),
        };
        assert!(overlaps(&stall(base + Duration::from_secs(99), 6), &outage));
        assert!(overlaps(
            &stall(base + Duration::from_secs(104), 6),
            &outage
        ));
        assert!(!overlaps(
            &stall(base + Duration::from_secs(106), 6),
            &outage
        ));
        assert!(!overlaps(
            &stall(base + Duration::from_secs(90), 6),
            &outage
        ));
        let open = Outage {
            resumed: None,
            ..outage
        };
        assert!(overlaps(&stall(base + Duration::from_secs(200), 6), &open));
    }

    #[test]
    fn only_stalls_inside_a_recovery_window_are_explained_by_it() {
        let base = Instant::now();
        let at = |seconds: u64| base + Duration::from_secs(seconds);
        let window = Window {
            from: at(10),
            to: at(20),
        };
        assert!(within(&stall(at(11), 6), &window));
        assert!(within(&stall(at(10), 10), &window));
        assert!(!within(&stall(at(16), 6), &window), "outlasts the window");
        assert!(!within(&stall(at(5), 6), &window), "began well before it");
    }

    #[test]
    fn overlapping_stalls_merge_into_one_episode() {
        let base = Instant::now();
        let stalls = [
            stall(base + Duration::from_secs(10), 6),
            stall(base, 6),
            stall(base + Duration::from_secs(3), 6),
            stall(base + Duration::from_secs(20), 6),
        ];
        let merged = episodes(&stalls);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].waits, 2);
        assert_eq!(merged[0].ended, base + Duration::from_secs(9));
        assert_eq!(merged[2].began, base + Duration::from_secs(20));
    }
}
