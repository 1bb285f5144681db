//! Concurrency: many connections opened at once, one request each; the
//! time until all are answered, how many failed, and how many data
//! messages the client needed for them.

use std::time::Duration;

use ssm_sim::targets::ECHO_HOST;

use super::latency::ECHO_PORT;
use super::{Context, failed, session_stats, stop};
use crate::lab::Profile;
use crate::metrics;
use crate::net;
use crate::report::Report;
use crate::subject::Subject;

/// What one burst showed.
#[derive(Debug)]
struct Outcome {
    elapsed: Duration,
    errors: Vec<String>,
    messages: u64,
}

/// Runs the burst for every subject.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    report.note(format!(
        "concurrency: {} connections at once (realistic profile, echo target)",
        context.plan.connections
    ));
    for subject in context.subjects {
        match measure(context, subject, report).await {
            Ok(outcome) => record(report, subject, &outcome),
            Err(error) => failed(report, "concurrency", subject, &error),
        }
    }
    Ok(())
}

async fn measure(
    context: &Context<'_>,
    subject: &Subject,
    report: &mut Report,
) -> anyhow::Result<Outcome> {
    let sim = context.lab.sim(Profile::Realistic);
    let running = context.session(subject, sim, ECHO_HOST, ECHO_PORT).await?;
    let before = session_stats(sim, &running.session_id).client_messages;
    let burst = net::burst(running.addr(), context.plan.connections).await;
    let after = session_stats(sim, &running.session_id).client_messages;
    drop(burst.streams);
    stop(report, "concurrency", subject, running).await;
    Ok(Outcome {
        elapsed: burst.elapsed,
        errors: burst.errors,
        messages: after - before,
    })
}

fn record(report: &mut Report, subject: &Subject, outcome: &Outcome) {
    let kind = subject.kind;
    report.record(metrics::BURST_TIME, kind, outcome.elapsed.as_secs_f64());
    report.record(metrics::BURST_FAILURES, kind, outcome.errors.len() as f64);
    report.record(metrics::BURST_MESSAGES, kind, outcome.messages as f64);
    if let Some(first) = outcome.errors.first() {
        report.fail(format!(
            "concurrency, {}: {} connections failed, e.g. {first}",
            kind.name(),
            outcome.errors.len()
        ));
    }
}
