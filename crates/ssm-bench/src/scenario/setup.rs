//! Session setup: from spawning the process to its "Waiting for
//! connections..." line, which both implementations print once the local
//! port is bound and the session handshake is done.

use std::time::Duration;

use ssm_sim::targets::ECHO_HOST;

use super::latency::ECHO_PORT;
use super::{Context, failed, stop};
use crate::lab::Profile;
use crate::metrics;
use crate::report::Report;
use crate::stats::{ms, percentile};
use crate::subject::{self, Kind};

/// Starts every subject `plan.setups` times, alternating subjects.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    let sim = context.lab.sim(Profile::Realistic);
    let mut samples: Vec<(Kind, Duration)> = Vec::new();
    for _ in 0..context.plan.setups {
        for subject in context.subjects {
            match subject::launch(subject, sim, ECHO_HOST, ECHO_PORT).await {
                Ok(running) => {
                    samples.push((subject.kind, running.setup));
                    stop(report, "setup", subject, running).await;
                }
                Err(error) => failed(report, "setup", subject, &error),
            }
        }
    }
    for subject in context.subjects {
        let times: Vec<Duration> = samples
            .iter()
            .filter(|(kind, _)| *kind == subject.kind)
            .map(|(_, time)| *time)
            .collect();
        if let (Some(median), Some(max)) = (percentile(&times, 50.0), times.iter().max()) {
            report.record(metrics::SETUP_MEDIAN, subject.kind, ms(median));
            report.record(metrics::SETUP_MAX, subject.kind, ms(*max));
        }
    }
    Ok(())
}
