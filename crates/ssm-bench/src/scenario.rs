//! The scenarios: each measures every subject in turn and records its
//! figures; a subject that fails is reported and the others go on.

mod concurrency;
mod connect;
mod cost;
mod latency;
mod pool;
mod setup;
mod throughput;

use ssm_sim::{SessionStats, Simulator};

use crate::cli::Scenario;
use crate::lab::Lab;
use crate::plan::Plan;
use crate::report::Report;
use crate::subject::{self, Running, Subject};

/// What every scenario works with.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    /// Simulators, source and sink.
    pub(crate) lab: &'a Lab,
    /// Sizes and counts.
    pub(crate) plan: &'a Plan,
    /// Implementations under test.
    pub(crate) subjects: &'a [Subject],
}

/// Runs one scenario.
pub(crate) async fn run(
    scenario: Scenario,
    context: &Context<'_>,
    report: &mut Report,
) -> anyhow::Result<()> {
    match scenario {
        Scenario::All => Ok(()),
        Scenario::Throughput => throughput::run(context, report).await,
        Scenario::Latency => latency::run(context, report).await,
        Scenario::Connect => connect::run(context, report).await,
        Scenario::Concurrency => concurrency::run(context, report).await,
        Scenario::Cost => cost::run(context, report).await,
        Scenario::Setup => setup::run(context, report).await,
        Scenario::Pool => pool::run(context, report).await,
        Scenario::PoolBurst => {
            pool::burst(context, report).await;
            Ok(())
        }
    }
}

impl Context<'_> {
    /// Starts a subject with a session to `host:port` and lets the
    /// simulated port plugin finish starting.
    async fn session(
        &self,
        subject: &Subject,
        sim: &Simulator,
        host: &str,
        port: u16,
    ) -> anyhow::Result<Running> {
        let running = subject::launch(subject, sim, host, port).await?;
        tokio::time::sleep(self.plan.settle).await;
        Ok(running)
    }
}

/// Records the failure of one subject in one scenario.
fn failed(report: &mut Report, what: &str, subject: &Subject, error: &anyhow::Error) {
    report.fail(format!("{what}, {}: {error:#}", subject.kind.name()));
}

/// Stops a process and notes an unclean exit.
async fn stop(report: &mut Report, what: &str, subject: &Subject, running: Running) {
    match running.stop().await {
        Ok(status) if status.success() => {}
        Ok(status) => report.note(format!(
            "{what}, {}: exited with {status} after SIGINT",
            subject.kind.name()
        )),
        Err(error) => failed(report, what, subject, &error),
    }
}

/// The simulator's counters of a session (zeros if it is unknown).
fn session_stats(sim: &Simulator, session_id: &str) -> SessionStats {
    sim.session(session_id)
        .map(|summary| summary.stats)
        .unwrap_or_default()
}
