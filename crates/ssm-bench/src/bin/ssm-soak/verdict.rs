//! The soak's report and its pass/fail checks.

use std::fmt::Write as _;
use std::time::Duration;

use ssm_sim::SessionStats;

use crate::daemon::Sample;
use tokio::time::Instant;

use crate::stalls::{Classified, episodes};
use crate::traffic::Outcome;

/// Resident memory may grow this much from the second quarter of the run
/// to the last (or 25 % of it, whichever is more) and still count as flat.
const RSS_SLACK: u64 = 4 << 20;
/// Open files may be this many more at the quietest moment of the last
/// quarter than at the quietest moment of the second.
const FILES_SLACK: usize = 4;
/// Fewer samples per window than this and flatness is not judged.
const MIN_SAMPLES: usize = 3;

/// Everything the soak saw.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) started: Instant,
    pub(crate) ran: Duration,
    pub(crate) outcome: Outcome,
    pub(crate) stalls: Classified,
    /// Time in which the agent held a lost message, and in how many spans.
    pub(crate) recovery_time: Duration,
    pub(crate) recovery_windows: usize,
    pub(crate) samples: Vec<Sample>,
    pub(crate) session: Option<SessionStats>,
    pub(crate) daemon_exit: String,
}

/// A duration in minutes and seconds.
pub(crate) fn minutes(duration: Duration) -> String {
    let seconds = duration.as_secs();
    format!("{}m{:02}s", seconds / 60, seconds % 60)
}

/// Memory and file descriptors, second quarter against last quarter.
#[derive(Debug, PartialEq, Eq)]
struct Flatness {
    rss_before: u64,
    rss_after: u64,
    files_before: usize,
    files_after: usize,
}

impl Flatness {
    fn judge(samples: &[Sample], ran: Duration) -> Option<Self> {
        let window = |from: f64, to: f64| -> Vec<&Sample> {
            samples
                .iter()
                .filter(|s| s.at >= ran.mul_f64(from) && s.at < ran.mul_f64(to))
                .collect()
        };
        let (before, after) = (window(0.25, 0.5), window(0.75, 1.01));
        if before.len() < MIN_SAMPLES || after.len() < MIN_SAMPLES {
            return None;
        }
        Some(Self {
            rss_before: before.iter().map(|s| s.rss).max()?,
            rss_after: after.iter().map(|s| s.rss).max()?,
            files_before: before.iter().map(|s| s.files).min()?,
            files_after: after.iter().map(|s| s.files).min()?,
        })
    }

    fn rss_flat(&self) -> bool {
        let slack = RSS_SLACK.max(self.rss_before / 4);
        self.rss_after <= self.rss_before + slack
    }

    fn files_flat(&self) -> bool {
        self.files_after <= self.files_before + FILES_SLACK
    }
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * share).round() as usize;
    sorted[index]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

impl Report {
    fn flatness(&self) -> Option<Flatness> {
        Flatness::judge(&self.samples, self.ran)
    }

    /// Every check passed.
    pub(crate) fn passed(&self) -> bool {
        self.outcome.errors.is_empty()
            && self.stalls.unexplained.is_empty()
            && self
                .flatness()
                .is_some_and(|f| f.rss_flat() && f.files_flat())
            && self.daemon_exit == "exit status: 0"
    }

    /// The report as markdown.
    pub(crate) fn render(&self) -> String {
        let mut out = format!("## ssm-soak: {}\n\n", minutes(self.ran));
        self.render_traffic(&mut out);
        self.render_stalls(&mut out);
        self.render_resources(&mut out);
        self.render_service(&mut out);
        let _ = writeln!(out, "- ssm-forward exit on SIGINT: {}", self.daemon_exit);
        for error in &self.outcome.errors {
            let _ = writeln!(out, "- **error**: {error}");
        }
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "\n**{verdict}**");
        out
    }

    fn render_traffic(&self, out: &mut String) {
        let outcome = &self.outcome;
        let mut latencies = outcome.requests.clone();
        latencies.sort();
        let _ = writeln!(
            out,
            "- short requests: {} echoed byte-exact; latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "- long stream: {} lines echoed byte-exact on one connection",
            outcome.lines
        );
        let times = &outcome.bulk_times;
        let rate = |took: Duration| outcome.bulk_bytes as f64 / 1e6 / took.as_secs_f64();
        let _ = writeln!(
            out,
            "- bulk: {} transfers of {:.0} MiB each way, byte-exact; {:.2} to {:.2} MB/s each way",
            times.len(),
            mib(outcome.bulk_bytes as u64),
            times.iter().copied().max().map_or(0.0, rate),
            times.iter().copied().min().map_or(0.0, rate)
        );
    }

    fn render_stalls(&self, out: &mut String) {
        let stalls = &self.stalls;
        let _ = writeln!(
            out,
            "- longest wait for due data: {:.2?}; waits over {:?}: {} during a reconnect, {} while the agent held a lost message, {} unexplained",
            stalls.longest_wait,
            stalls.limit,
            stalls.excused.len(),
            stalls.agent_recovery.len(),
            stalls.unexplained.len()
        );
        let _ = writeln!(
            out,
            "- the agent held a lost message (oldest unacked > 0.5 s) for {} in {} spans ({:.1} % of the run); its front-only resend recovers one per 100 ms",
            minutes(self.recovery_time),
            self.recovery_windows,
            100.0 * self.recovery_time.as_secs_f64() / self.ran.as_secs_f64().max(1e-9)
        );
        let recovered = episodes(&stalls.agent_recovery);
        if let Some(longest) = recovered.iter().map(|e| e.ended - e.began).max() {
            let _ = writeln!(
                out,
                "- waits over {:?} explained by the agent's recovery: {} episodes, longest {:.2?}",
                stalls.limit,
                recovered.len(),
                longest
            );
        }
        let _ = writeln!(
            out,
            "- reconnects reported by ssm-forward: {}, longest {:.0?}",
            stalls.outages, stalls.longest_outage
        );
        let episodes = episodes(&stalls.unexplained);
        if !episodes.is_empty() {
            let _ = writeln!(
                out,
                "- unexplained stalls come in {} episodes (overlapping waits merged)",
                episodes.len()
            );
        }
        for episode in episodes.iter().take(10) {
            let _ = writeln!(
                out,
                "- **stall** at {} for {:.2?}: {} waits, first {}",
                minutes(episode.began.saturating_duration_since(self.started)),
                episode.ended - episode.began,
                episode.waits,
                episode.first
            );
        }
    }

    fn render_resources(&self, out: &mut String) {
        let first = self.samples.first();
        let last = self.samples.last();
        let _ = writeln!(
            out,
            "- ssm-forward RSS: {:.1} MiB first sample, {:.1} MiB last, {:.1} MiB peak ({} samples)",
            mib(first.map_or(0, |s| s.rss)),
            mib(last.map_or(0, |s| s.rss)),
            mib(self.samples.iter().map(|s| s.rss).max().unwrap_or(0)),
            self.samples.len()
        );
        match self.flatness() {
            Some(f) => {
                let _ = writeln!(
                    out,
                    "- flat? RSS max {:.1} MiB in the 2nd quarter, {:.1} MiB in the 4th: {}; open files min {} then {}: {}",
                    mib(f.rss_before),
                    mib(f.rss_after),
                    if f.rss_flat() { "flat" } else { "**GREW**" },
                    f.files_before,
                    f.files_after,
                    if f.files_flat() { "flat" } else { "**GREW**" }
                );
            }
            None => {
                let _ = writeln!(out, "- **too few samples to judge memory and files**");
            }
        }
    }

    fn render_service(&self, out: &mut String) {
        let Some(s) = &self.session else {
            let _ = writeln!(out, "- **the simulator no longer knows the session**");
            return;
        };
        let _ = writeln!(
            out,
            "- service side: {} sockets ({} recycles), {} streams, {} messages dropped by the fault injector, {} agent retransmits, {} client resends seen, {} rate-limit closes",
            s.connections,
            s.recycles,
            s.streams_opened,
            s.faults_dropped,
            s.agent_retransmits,
            s.client_duplicates,
            s.rate_limit_closes
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(rss: &[u64], files: &[usize]) -> Vec<Sample> {
        rss.iter()
            .zip(files)
            .enumerate()
            .map(|(i, (rss, files))| Sample {
                at: Duration::from_secs(i as u64),
                rss: *rss << 20,
                files: *files,
            })
            .collect()
    }

    #[test]
    fn flat_and_growing_series_are_told_apart() {
        let ran = Duration::from_secs(16);
        let flat = samples(&[10; 16], &[9; 16]);
        let judged = Flatness::judge(&flat, ran).unwrap();
        assert!(judged.rss_flat() && judged.files_flat());
        let growing: Vec<u64> = (0..16).map(|i| 10 + i * 2).collect();
        let leaking: Vec<usize> = (0..16).map(|i| 9 + i).collect();
        let judged = Flatness::judge(&samples(&growing, &leaking), ran).unwrap();
        assert!(!judged.rss_flat() && !judged.files_flat());
        assert_eq!(Flatness::judge(&flat[..3], ran), None);
    }

    #[test]
    fn percentiles_pick_from_the_sorted_list() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
