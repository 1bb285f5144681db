//! Request latency: 64-byte requests echoed back over one kept-open
//! connection, at 0 ms and at 20 ms emulated one-way latency.

use std::time::Duration;

use ssm_sim::targets::ECHO_HOST;

use super::{Context, failed, stop};
use crate::lab::Profile;
use crate::metrics;
use crate::net;
use crate::report::{Metric, Report};
use crate::stats::{ms, percentile};
use crate::subject::Subject;

/// Port of the echo target.
pub(super) const ECHO_PORT: u16 = 7;
/// Round trips before measuring (the session and stream warm up).
const WARM_UP: usize = 5;
/// Pause between requests, so each is independent of the 1 ms pacing
/// of the one before.
const GAP: Duration = Duration::from_millis(5);
const PERCENTILES: [f64; 3] = [50.0, 90.0, 99.0];

/// Measures both latency profiles for every subject.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    let cases = [
        (Profile::Realistic, context.plan.round_trips, metrics::RTT),
        (
            Profile::Delayed,
            context.plan.round_trips_delayed,
            metrics::RTT_DELAYED,
        ),
    ];
    for (profile, count, figures) in cases {
        for subject in context.subjects {
            let what = format!("latency, {}", profile.label());
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
        let mut stream = net::connect(running.addr()).await?;
        for _ in 0..WARM_UP {
            net::round_trip(&mut stream).await?;
        }
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            tokio::time::sleep(GAP).await;
            samples.push(net::round_trip(&mut stream).await?);
        }
        anyhow::Ok(samples)
    }
    .await;
    stop(report, "latency", subject, running).await;
    result
}

/// Records the percentiles of `samples` as `figures`.
pub(super) fn record(
    report: &mut Report,
    subject: &Subject,
    figures: &[Metric],
    samples: &[Duration],
) {
    for (figure, p) in figures.iter().zip(PERCENTILES) {
        if let Some(value) = percentile(samples, p) {
            report.record(*figure, subject.kind, ms(value));
        }
    }
}
