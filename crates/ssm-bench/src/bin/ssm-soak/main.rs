//! ssm-soak: a long run of mixed traffic through the `ssm-forward` daemon
//! against the in-process simulator, with WebSocket recycles and message
//! loss, checking that nothing is lost, nothing stalls and nothing leaks.
//!
//! The workload, all on one forward (one session, mux mode) to an echo
//! service:
//! * kubectl-like requests: every second a burst of short connections,
//!   each sending one request and reading its echo;
//! * a long stream: one connection open for the whole run, a line every
//!   100 ms;
//! * bulk transfers: a few MiB each way, one after another with a pause.
//!
//! Every byte is checked. A wait of more than `--stall-limit` for data
//! that is due is a stall, excused only if it overlaps a reconnect the
//! daemon reported. The daemon's resident memory and open files are
//! sampled and must stay flat. Exit status 0 means every check passed.
//!
//! ```text
//! cargo build --release -p ssm-forward -p ssm-bench
//! target/release/ssm-soak --duration 30m          # the full soak
//! target/debug/ssm-soak --duration 60s --recycle-every 15s   # CI
//! ```
//!
//! It does not measure throughput (see `ssm-bench`) and does not compare
//! with the official plugin.

mod daemon;
mod recovery;
mod stalls;
mod traffic;
mod verdict;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use ssm_sim::{FaultConfig, RealismConfig, SimConfig, Simulator};
use tokio::time::Instant;

/// Soak test: mixed traffic through ssm-forward and ssm-sim with recycles
/// and loss; checks byte-exactness, stalls, memory and file descriptors.
#[derive(Debug, Parser)]
#[command(name = "ssm-soak", version)]
struct Args {
    /// How long to run the traffic (e.g. 30m, 60s).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    duration: Duration,
    /// The simulator closes the data-channel WebSocket this often (1000 "Bye").
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    recycle_every: Duration,
    /// Share of stream-data messages the simulator drops, each direction.
    #[arg(long, default_value_t = 0.01)]
    loss: f64,
    /// Longest acceptable wait for due data outside a reconnect.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    stall_limit: Duration,
    /// Short connections per burst (one burst per second).
    #[arg(long, default_value_t = 8)]
    burst: usize,
    /// Bytes each way per bulk transfer.
    #[arg(long, default_value_t = 4 << 20)]
    bulk_bytes: usize,
    /// Share of agent messages that lose the agent's send-before-buffer
    /// race (their first ack is ignored; protocol.md §13).
    #[arg(long, default_value_t = RealismConfig::realistic().send_before_buffer)]
    send_before_buffer: f64,
    /// Seed of the simulator's fault injection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The ssm-forward binary [default: ssm-forward next to ssm-soak].
    #[arg(long, value_name = "PATH")]
    ssm_forward: Option<PathBuf>,
}

/// Parses `90`, `90s`, `15m`, `1h` or `250ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with s, m, h or ms"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "ms" => return Ok(Duration::from_millis(number)),
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (s, m, h or ms)")),
    };
    Ok(Duration::from_secs(seconds))
}

fn main() -> ExitCode {
    ssm_bench::run_main("ssm-soak", run(Args::parse()))
}

fn sim_config(args: &Args) -> SimConfig {
    SimConfig {
        realism: RealismConfig {
            recycle_after: Some(args.recycle_every),
            send_before_buffer: args.send_before_buffer,
            ..RealismConfig::realistic()
        },
        faults: FaultConfig {
            drop: args.loss,
            seed: args.seed,
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    }
}

/// Runs the soak; true when every check passed.
async fn run(args: Args) -> anyhow::Result<bool> {
    let sim = Arc::new(
        Simulator::start(sim_config(&args))
            .await
            .context("starting the simulator")?,
    );
    let program = daemon::locate(args.ssm_forward.as_deref())?;
    let daemon = daemon::Daemon::start(&program, &sim).await?;
    eprintln!(
        "ssm-soak: {} of traffic through {} on {} (session {}), recycle every {:?}, {}% loss, \
         {}% send-before-buffer race",
        verdict::minutes(args.duration),
        program.display(),
        daemon.address,
        daemon.session_id,
        args.recycle_every,
        args.loss * 100.0,
        args.send_before_buffer * 100.0
    );
    let stalls = Arc::new(stalls::Stalls::new(args.stall_limit));
    let started = Instant::now();
    let deadline = started + args.duration;
    let sampler = tokio::spawn(daemon::sample(daemon.pid, deadline, args.duration));
    let traffic_done = Arc::new(AtomicBool::new(false));
    let recovery = tokio::spawn(recovery::watch(
        sim.clone(),
        daemon.session_id.clone(),
        traffic_done.clone(),
    ));
    let plan = traffic::Plan {
        address: daemon.address,
        deadline,
        burst: args.burst,
        bulk_bytes: args.bulk_bytes,
        stalls: stalls.clone(),
    };
    let outcome = traffic::run(plan).await;
    traffic_done.store(true, Ordering::Relaxed);
    let samples = sampler.await.context("the sampler task")?;
    let recovery = recovery.await.context("the recovery watcher")?;
    let reconnects = daemon.outages();
    let session = sim.session(&daemon.session_id).map(|summary| summary.stats);
    let exited = daemon.stop().await;
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    let report = verdict::Report {
        started,
        ran: started.elapsed(),
        outcome,
        stalls: stalls.classify(&reconnects, &recovery),
        recovery_time: recovery::total(&recovery),
        recovery_windows: recovery.len(),
        samples,
        session,
        daemon_exit: exited,
    };
    println!("{}", report.render());
    Ok(report.passed())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }
}
