//! Bulk throughput through one forwarded connection, download and upload
//! separately, with the realistic profile and with realism off; also the
//! CPU each transfer cost.

use std::pin::pin;
use std::time::Duration;

use ssm_sim::{SessionStats, Simulator};
use tokio::time::Instant;

use super::{Context, failed, session_stats, stop};
use crate::lab::{Profile, SINK_HOST, SOURCE_HOST};
use crate::metrics;
use crate::net::{self, Transfer};
use crate::procfs;
use crate::report::Report;
use crate::stats::RateWindow;
use crate::subject::{Kind, Subject};

/// Port in the session parameters; the host overrides carry the real one.
const ANY_PORT: u16 = 9;
/// The simulated agent's realistic pace: 1024 bytes per millisecond.
const AGENT_PACE_MB_S: f64 = 1.024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Download,
    Upload,
}

/// What one transfer showed.
#[derive(Debug)]
struct Measured {
    transfer: Transfer,
    complete: bool,
    cpu: Duration,
    bench_cpu: Duration,
    stats: SessionStats,
    peak_rate: Option<f64>,
}

/// Runs every transfer for every subject.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    let transfers = [
        (Profile::Realistic, Direction::Download),
        (Profile::Realistic, Direction::Upload),
        (Profile::Unpaced, Direction::Download),
        (Profile::Unpaced, Direction::Upload),
    ];
    for (index, (profile, direction)) in transfers.into_iter().enumerate() {
        for subject in context.subjects {
            let what = format!("{direction:?} {}", profile.label()).to_lowercase();
            match measure(context, subject, profile, direction, report).await {
                Ok(measured) => {
                    record(report, subject.kind, profile, direction, &measured);
                    report.record(
                        metrics::CPU_PER_MB[index],
                        subject.kind,
                        cpu_per_mb(&measured),
                    );
                    if !measured.complete {
                        report.note(format!(
                            "{what}, {}: stopped at the time limit after {:.1} MB",
                            subject.kind.name(),
                            measured.transfer.bytes as f64 / 1e6
                        ));
                    }
                }
                Err(error) => failed(report, &what, subject, &error),
            }
        }
    }
    Ok(())
}

async fn measure(
    context: &Context<'_>,
    subject: &Subject,
    profile: Profile,
    direction: Direction,
    report: &mut Report,
) -> anyhow::Result<Measured> {
    let plan = context.plan;
    let (size, cap) = match profile {
        Profile::Unpaced => (plan.unpaced_bytes, plan.unpaced_cap),
        _ => (plan.realistic_bytes, plan.realistic_cap),
    };
    let host = match direction {
        Direction::Download => {
            context.lab.source.set_amount(size);
            SOURCE_HOST
        }
        Direction::Upload => SINK_HOST,
    };
    let sim = context.lab.sim(profile);
    let running = context.session(subject, sim, host, ANY_PORT).await?;
    let before = session_stats(sim, &running.session_id);
    let cpu_before = running.cpu()?;
    let bench_before = procfs::cpu_time(std::process::id())?;
    let sampled = sample_while(sim, &running.session_id, async {
        match direction {
            Direction::Download => net::download(running.addr(), size, cap).await,
            Direction::Upload => net::upload(running.addr(), size, cap, &context.lab.sink).await,
        }
    })
    .await;
    let cpu = running.cpu()?.saturating_sub(cpu_before);
    let bench_cpu = procfs::cpu_time(std::process::id())?.saturating_sub(bench_before);
    let after = session_stats(sim, &running.session_id);
    stop(report, "throughput", subject, running).await;
    let (transfer, window) = sampled;
    let transfer = transfer?;
    Ok(Measured {
        complete: transfer.bytes >= size,
        transfer,
        cpu,
        bench_cpu,
        stats: difference(&before, &after),
        peak_rate: window.peak_rate(Duration::from_secs(1)),
    })
}

/// Runs `work` while sampling the session's client message count every
/// 100 ms.
async fn sample_while<T>(
    sim: &Simulator,
    session_id: &str,
    work: impl Future<Output = T>,
) -> (T, RateWindow) {
    let origin = Instant::now();
    let mut window = RateWindow::default();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut work = pin!(work);
    loop {
        tokio::select! {
            output = &mut work => return (output, window),
            _ = ticker.tick() => {
                let stats = session_stats(sim, session_id);
                window.record(origin.elapsed(), stats.client_messages);
            }
        }
    }
}

/// The counters that matter here, as increases.
fn difference(before: &SessionStats, after: &SessionStats) -> SessionStats {
    SessionStats {
        agent_bytes: after.agent_bytes - before.agent_bytes,
        client_messages: after.client_messages - before.client_messages,
        rate_limit_closes: after.rate_limit_closes - before.rate_limit_closes,
        ..SessionStats::default()
    }
}

fn cpu_per_mb(measured: &Measured) -> f64 {
    measured.cpu.as_secs_f64() / (measured.transfer.bytes as f64 / 1e6)
}

fn record(
    report: &mut Report,
    kind: Kind,
    profile: Profile,
    direction: Direction,
    measured: &Measured,
) {
    let rate = measured.transfer.mb_per_s();
    let bench_cpu = measured.bench_cpu.as_secs_f64() / measured.transfer.elapsed.as_secs_f64();
    match (profile, direction) {
        (Profile::Unpaced, Direction::Download) => {
            report.record(metrics::DOWN_UNPACED, kind, rate);
            report.record(metrics::BENCH_CPU_UNPACED[0], kind, bench_cpu * 100.0);
        }
        (Profile::Unpaced, Direction::Upload) => {
            report.record(metrics::UP_UNPACED, kind, rate);
            report.record(metrics::BENCH_CPU_UNPACED[1], kind, bench_cpu * 100.0);
        }
        (_, Direction::Download) => {
            let seconds = measured.transfer.elapsed.as_secs_f64();
            let emitted = measured.stats.agent_bytes as f64 / 1e6 / seconds;
            report.record(metrics::DOWN_REALISTIC, kind, rate);
            report.record(metrics::DOWN_AGENT, kind, emitted);
            report.record(metrics::DOWN_SHARE, kind, rate / emitted * 100.0);
            report.record(metrics::DOWN_PACE, kind, rate / AGENT_PACE_MB_S * 100.0);
        }
        (_, Direction::Upload) => {
            report.record(metrics::UP_REALISTIC, kind, rate);
            if let Some(peak) = measured.peak_rate {
                report.record(metrics::UP_PEAK_RATE, kind, peak);
            }
            let closes = measured.stats.rate_limit_closes as f64;
            report.record(metrics::UP_RATE_CLOSES, kind, closes);
        }
    }
}
