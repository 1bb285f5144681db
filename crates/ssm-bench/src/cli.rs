//! The command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Benchmarks ssm-forward (and the official session-manager-plugin, with
/// --plugin) against the local simulator and prints a markdown report.
#[derive(Debug, Parser)]
#[command(name = "ssm-bench", version)]
pub(crate) struct Args {
    /// Scenarios to run, in this order (default: all).
    #[arg(value_enum)]
    pub(crate) scenarios: Vec<Scenario>,
    /// The official session-manager-plugin to compare with.
    #[arg(long, value_name = "PATH")]
    pub(crate) plugin: Option<PathBuf>,
    /// The ssm-forward binary [default: ssm-forward next to ssm-bench].
    #[arg(long, value_name = "PATH")]
    pub(crate) ssm_forward: Option<PathBuf>,
    /// Leave ssm-forward out (to check the harness on the plugin alone).
    #[arg(long)]
    pub(crate) no_ours: bool,
    /// Tiny sizes and short windows; exits non-zero if any measurement
    /// fails. For CI.
    #[arg(long)]
    pub(crate) smoke: bool,
    /// What the plugin sees of /usr/local/sessionmanagerplugin/seelog.xml,
    /// which the release packages do not install (they ship a template)
    /// and which, when present, turns the plugin's file logging on.
    #[arg(long, value_enum, default_value_t = Seelog::Hide)]
    pub(crate) plugin_seelog: Seelog,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// A group of measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// Every scenario below.
    All,
    /// Bulk download and upload, realistic and with realism off.
    Throughput,
    /// Request/response round trips on a kept-open connection.
    Latency,
    /// Local connect to first response byte.
    Connect,
    /// Many connections at once, one request each.
    Concurrency,
    /// Idle CPU and peak memory.
    Cost,
    /// Process start to ready.
    Setup,
    /// Parallel transfers through pools of 1, 2 and 4 sessions
    /// (`--sessions`), and the burst through a pool of 4.
    Pool,
    /// The burst through a pool of 4 alone (part of `pool`).
    PoolBurst,
}

impl Scenario {
    /// Every concrete scenario, in report order.
    pub(crate) const EACH: [Self; 7] = [
        Self::Throughput,
        Self::Latency,
        Self::Connect,
        Self::Concurrency,
        Self::Cost,
        Self::Setup,
        Self::Pool,
    ];

    /// The name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Throughput => "throughput",
            Self::Latency => "latency",
            Self::Connect => "connect",
            Self::Concurrency => "concurrency",
            Self::Cost => "cost",
            Self::Setup => "setup",
            Self::Pool => "pool",
            Self::PoolBurst => "pool-burst",
        }
    }
}

/// How the plugin is run when a seelog.xml is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Seelog {
    /// Run it in a private mount namespace (`unshare -m`) where
    /// /usr/local/sessionmanagerplugin is empty, so it uses its built-in
    /// default (logging off), as a packaged install does.
    Hide,
    /// Run it as it is, with whatever logging seelog.xml asks for.
    Keep,
}

impl Args {
    /// The scenarios to run, `all` expanded, without repeats.
    pub(crate) fn selected(&self) -> Vec<Scenario> {
        let wanted = |scenario: Scenario| {
            self.scenarios.is_empty()
                || self.scenarios.contains(&Scenario::All)
                || self.scenarios.contains(&scenario)
        };
        let mut selected: Vec<Scenario> =
            Scenario::EACH.into_iter().filter(|s| wanted(*s)).collect();
        // Part of `pool`; alone only when named without it.
        if self.scenarios.contains(&Scenario::PoolBurst) && !selected.contains(&Scenario::Pool) {
            selected.push(Scenario::PoolBurst);
        }
        selected
    }

    /// How this run was invoked, for the report.
    pub(crate) fn command_line(&self) -> String {
        let args: Vec<String> = std::env::args().skip(1).collect();
        format!("ssm-bench {}", args.join(" "))
            .trim_end()
            .to_owned()
    }
}
