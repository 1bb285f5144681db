//! ssm-bench: measures ssm-forward, and optionally the official
//! `session-manager-plugin`, against the in-process simulator (`ssm-sim`).
//!
//! Each implementation under test runs as its own process, started with the
//! argv the AWS CLI gives the plugin (StartSession response JSON, region,
//! `StartSession`, profile, request parameters JSON, endpoint URL). The
//! bench calls StartSession itself, waits for "Waiting for connections...",
//! drives the local port and reads the process's CPU time and memory from
//! `/proc`. Both implementations run in the same process against the same
//! simulators, one after the other, and the report is a markdown table
//! with the ratio ours/plugin for every figure.
//!
//! ```text
//! cargo build --release -p ssm-forward -p ssm-bench
//! target/release/ssm-bench all --plugin /usr/local/bin/session-manager-plugin
//! target/release/ssm-bench --smoke          # CI: tiny sizes, ours only
//! ```

mod cli;
mod lab;
mod machine;
mod metrics;
mod net;
mod plan;
use ssm_bench::procfs;
mod report;
mod scenario;
mod stats;
mod subject;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;

fn main() -> ExitCode {
    ssm_bench::run_main("ssm-bench", run(cli::Args::parse()))
}

/// Runs the selected scenarios and prints the report; false when a
/// measurement failed (the smoke test's verdict).
async fn run(args: cli::Args) -> anyhow::Result<bool> {
    let subjects = subject::from_args(&args)?;
    let plan = plan::Plan::new(args.smoke);
    let lab = lab::Lab::start().await.context("starting the simulators")?;
    let machine_before = machine::Machine::read();
    let mut report = report::Report::new(&subjects);
    let started = std::time::Instant::now();
    let context = scenario::Context {
        lab: &lab,
        plan: &plan,
        subjects: &subjects,
    };
    for scenario in args.selected() {
        eprintln!("== {}", scenario.name());
        if let Err(error) = scenario::run(scenario, &context, &mut report).await {
            report.fail(format!("{}: {error:#}", scenario.name()));
        }
    }
    let text = report.render(
        &machine_before,
        &machine::Machine::read(),
        started.elapsed(),
        &args.command_line(),
    );
    println!("{text}");
    if let Some(path) = &args.output {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    lab.shutdown().await;
    Ok(report.failures().is_empty())
}
