//! Concurrency: many connections opened at once, one request each; the
//! time until all are answered and how many failed.

use ssm_sim::targets::ECHO_HOST;

use super::latency::ECHO_PORT;
use super::{Context, failed, stop};
use crate::lab::Profile;
use crate::metrics;
use crate::net::{self, Burst};
use crate::report::Report;
use crate::subject::Subject;

/// Runs the burst for every subject.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    report.note(format!(
        "concurrency: {} connections at once (realistic profile, echo target)",
        context.plan.connections
    ));
    for subject in context.subjects {
        match measure(context, subject, report).await {
            Ok(burst) => {
                let kind = subject.kind;
                report.record(metrics::BURST_TIME, kind, burst.elapsed.as_secs_f64());
                report.record(metrics::BURST_FAILURES, kind, burst.errors.len() as f64);
                if let Some(first) = burst.errors.first() {
                    report.fail(format!(
                        "concurrency, {}: {} connections failed, e.g. {first}",
                        kind.name(),
                        burst.errors.len()
                    ));
                }
            }
            Err(error) => failed(report, "concurrency", subject, &error),
        }
    }
    Ok(())
}

async fn measure(
    context: &Context<'_>,
    subject: &Subject,
    report: &mut Report,
) -> anyhow::Result<Burst> {
    let sim = context.lab.sim(Profile::Realistic);
    let running = context.session(subject, sim, ECHO_HOST, ECHO_PORT).await?;
    let burst = net::burst(running.addr(), context.plan.connections).await;
    drop(burst.streams);
    stop(report, "concurrency", subject, running).await;
    Ok(Burst {
        streams: Vec::new(),
        ..burst
    })
}
