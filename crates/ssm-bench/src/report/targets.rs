//! The targets, checked against the figures (measured, never
//! asserted: a miss is reported, not a failure).

use std::fmt::Write as _;

use super::{Metric, Report};
use crate::metrics;
use crate::subject::Kind::{Ours, Plugin};

/// One target: a description and how to judge it from the report.
struct Target {
    text: &'static str,
    judge: fn(&Report) -> Option<(String, bool)>,
}

const TARGETS: [Target; 12] = [
    Target {
        text: "upload, realistic ≥ 0.9 MB/s",
        judge: |r| at_least(r, metrics::UP_REALISTIC, 0.9, "MB/s"),
    },
    Target {
        text: "upload, realistic: the 1000 msg/s limit never tripped",
        judge: |r| {
            let closes = r.value(metrics::UP_RATE_CLOSES, Ours)?;
            let peak = r.value(metrics::UP_PEAK_RATE, Ours).unwrap_or(0.0);
            Some((
                format!("{closes:.0} closes, peak {peak:.0} msg/s"),
                closes == 0.0,
            ))
        },
    },
    Target {
        text: "download, realistic ≥ 95% of what the simulated agent emits",
        judge: |r| at_least(r, metrics::DOWN_SHARE, 95.0, "%"),
    },
    Target {
        text: "download, realism off ≥ 20× the plugin",
        judge: |r| ratio_at_least(r, metrics::DOWN_UNPACED, 20.0),
    },
    Target {
        text: "upload, realism off ≥ 20× the plugin",
        judge: |r| ratio_at_least(r, metrics::UP_UNPACED, 20.0),
    },
    Target {
        text: "idle CPU < 0.1% of a core",
        judge: |r| below(r, metrics::IDLE_CPU, 0.1, "%"),
    },
    Target {
        text: "peak RSS with the burst's streams open < 20 MB",
        judge: |r| below(r, metrics::RSS_STREAMS, 20.0, "MB"),
    },
    Target {
        text: "pool: 4 sessions ≥ 3.4× the aggregate of 1, 4 and 16 connections, download",
        judge: |r| pool_gain(r, metrics::POOL_GAIN_DOWN),
    },
    Target {
        text: "pool: 4 sessions ≥ 3.4× the aggregate of 1, 4 and 16 connections, upload",
        judge: |r| pool_gain(r, metrics::POOL_GAIN_UP),
    },
    Target {
        text: "pool: CPU per MB with 4 sessions no worse than with 1",
        judge: |r| {
            let one = r.value(metrics::POOL_CPU_PER_MB[0], Ours)?;
            let four = r.value(metrics::POOL_CPU_PER_MB[1], Ours)?;
            Some((format!("{four:.4} vs {one:.4} CPU s per MB"), four <= one))
        },
    },
    Target {
        text: "pool: the burst through a pool of 4 ≤ 0.8× the plugin's time",
        judge: |r| {
            let ratio = ratio(r, metrics::POOL_BURST_TIME)?;
            Some((format!("{ratio:.2}× the plugin's"), ratio <= 0.8))
        },
    },
    Target {
        text: "latency p50 no worse than the plugin's, 0 and 20 ms",
        judge: |r| {
            let zero = ratio(r, metrics::RTT[0])?;
            let delayed = ratio(r, metrics::RTT_DELAYED[0])?;
            Some((
                format!("{zero:.2}× and {delayed:.2}× the plugin's"),
                zero <= 1.0 && delayed <= 1.0,
            ))
        },
    },
];

/// Appends the targets table (those that can be judged from the figures).
pub(super) fn render(report: &Report, out: &mut String) {
    let rows: Vec<String> = TARGETS
        .iter()
        .filter_map(|target| {
            let (measured, met) = (target.judge)(report)?;
            let verdict = if met { "met" } else { "**missed**" };
            Some(format!("| {} | {measured} | {verdict} |", target.text))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "| target (ssm-forward) | measured | |\n|---|---|---|");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    out.push('\n');
}

fn at_least(report: &Report, metric: Metric, floor: f64, unit: &str) -> Option<(String, bool)> {
    let value = report.value(metric, Ours)?;
    Some((
        format!("{value:.*} {unit}", metric.decimals),
        value >= floor,
    ))
}

fn below(report: &Report, metric: Metric, ceiling: f64, unit: &str) -> Option<(String, bool)> {
    let value = report.value(metric, Ours)?;
    Some((
        format!("{value:.*} {unit}", metric.decimals),
        value < ceiling,
    ))
}

/// Both connection counts' gains at least 3.4.
fn pool_gain(report: &Report, metrics: [Metric; 2]) -> Option<(String, bool)> {
    let four = report.value(metrics[0], Ours)?;
    let sixteen = report.value(metrics[1], Ours)?;
    Some((
        format!("{four:.2}× (4 connections), {sixteen:.2}× (16)"),
        four >= 3.4 && sixteen >= 3.4,
    ))
}

fn ratio(report: &Report, metric: Metric) -> Option<f64> {
    let plugin = report.value(metric, Plugin)?;
    (plugin > 0.0).then(|| report.value(metric, Ours).map(|ours| ours / plugin))?
}

fn ratio_at_least(report: &Report, metric: Metric, floor: f64) -> Option<(String, bool)> {
    let ratio = ratio(report, metric)?;
    Some((format!("{ratio:.1}×"), ratio >= floor))
}
