//! Cost at rest and under many streams: idle CPU with a session open,
//! peak resident memory idle and with the burst's streams all open. (CPU
//! per MB comes from the throughput transfers.)
//!
//! The subjects idle side by side over the same window: idle processes do
//! not disturb each other, and it saves a window per subject.

use std::time::Duration;

use ssm_sim::targets::ECHO_HOST;

use super::latency::ECHO_PORT;
use super::{Context, failed, stop};
use crate::lab::Profile;
use crate::metrics;
use crate::net;
use crate::procfs;
use crate::report::Report;
use crate::subject::{Running, Subject};

/// Quiet time after the first request, before the idle window.
const QUIET: Duration = Duration::from_secs(1);

/// Measures every subject.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    let mut started = Vec::new();
    for subject in context.subjects {
        match open(context, subject).await {
            Ok(running) => started.push((subject, running)),
            Err(error) => failed(report, "cost", subject, &error),
        }
    }
    tokio::time::sleep(QUIET).await;
    idle(context, report, &started).await;
    for (subject, running) in started {
        if let Err(error) = streams(context, report, subject, &running).await {
            failed(report, "cost, streams", subject, &error);
        }
        stop(report, "cost", subject, running).await;
    }
    Ok(())
}

/// A subject with a session that has carried one request.
async fn open(context: &Context<'_>, subject: &Subject) -> anyhow::Result<Running> {
    let sim = context.lab.sim(Profile::Realistic);
    let running = context.session(subject, sim, ECHO_HOST, ECHO_PORT).await?;
    net::first_byte(running.addr()).await?;
    Ok(running)
}

/// CPU over the idle window, and peak memory after it.
async fn idle(context: &Context<'_>, report: &mut Report, started: &[(&Subject, Running)]) {
    let window = context.plan.idle_window;
    let before: Vec<_> = started
        .iter()
        .map(|(_, running)| procfs::thread_times(running.pid()))
        .collect();
    tokio::time::sleep(window).await;
    for ((subject, running), before) in started.iter().zip(before) {
        let measured = before.and_then(|before| {
            let after = procfs::thread_times(running.pid())?;
            anyhow::Ok((procfs::cpu_between(&before, &after), running.memory()?))
        });
        match measured {
            Ok((cpu, memory)) => {
                let percent = cpu.as_secs_f64() / window.as_secs_f64() * 100.0;
                report.record(metrics::IDLE_CPU, subject.kind, percent);
                report.record(metrics::RSS_IDLE, subject.kind, memory.peak as f64 / 1e6);
            }
            Err(error) => failed(report, "cost, idle", subject, &error),
        }
    }
}

/// Peak memory once the burst's connections are all open and answered.
async fn streams(
    context: &Context<'_>,
    report: &mut Report,
    subject: &Subject,
    running: &Running,
) -> anyhow::Result<()> {
    let burst = net::burst(running.addr(), context.plan.connections).await;
    let memory = running.memory()?;
    report.record(metrics::RSS_STREAMS, subject.kind, memory.peak as f64 / 1e6);
    if !burst.errors.is_empty() {
        report.note(format!(
            "cost, {}: {} of {} streams failed",
            subject.kind.name(),
            burst.errors.len(),
            context.plan.connections
        ));
    }
    Ok(())
}
