//! New-connection latency: from the local connect to the first byte of
//! the answer to a 64-byte request, one fresh connection at a time.

use std::time::Duration;

use ssm_sim::targets::ECHO_HOST;

use super::latency::{ECHO_PORT, record};
use super::{Context, failed, stop};
use crate::lab::Profile;
use crate::metrics;
use crate::net;
use crate::report::Report;
use crate::subject::Subject;

/// Pause between connections.
const GAP: Duration = Duration::from_millis(10);

/// Measures both latency profiles for every subject.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    let cases = [
        (
            Profile::Realistic,
            context.plan.connects,
            metrics::CONNECT_FIRST_BYTE,
        ),
        (
            Profile::Delayed,
            context.plan.connects_delayed,
            metrics::CONNECT_FIRST_BYTE_DELAYED,
        ),
    ];
    for (profile, count, figures) in cases {
        for subject in context.subjects {
            let what = format!("connect, {}", profile.label());
            match measure(context, subject, profile, count, report).await {
                Ok(samples) => record(report, subject, &figures, &samples),
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
    count: usize,
    report: &mut Report,
) -> anyhow::Result<Vec<Duration>> {
    let sim = context.lab.sim(profile);
    let running = context.session(subject, sim, ECHO_HOST, ECHO_PORT).await?;
    let result = async {
        // One connection first, so the session's own start is not timed.
        net::first_byte(running.addr()).await?;
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            tokio::time::sleep(GAP).await;
            samples.push(net::first_byte(running.addr()).await?);
        }
        anyhow::Ok(samples)
    }
    .await;
    stop(report, "connect", subject, running).await;
    result
}
