//! `ssm-forward proxy`: a local HTTP and SOCKS5 proxy to any host the
//! target can reach, with a session per destination (see
//! [`crate::local_proxy`]). Runs like any forward: status lines,
//! `status`, `stop`, `--ready-file`, `--print-env`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args as ClapArgs;
use ssm_proxy_handshake::rules::{Rule, Rules};

use crate::cli::RunArgs;
use crate::errors::Fatal;
use crate::forwarding::{self, plan, plan::Planned};
use crate::local_proxy::config::{MAX_DESTINATIONS, parse_listen, parse_rule};
use crate::local_proxy::{DEFAULT_LISTEN, ProxySpec};
use crate::targets::TargetSelector;

/// Arguments of `ssm-forward proxy`.
#[derive(Debug, Clone, ClapArgs)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Instance: an id (i-…, mi-…), name:NAME (the Name tag) or tag:KEY=VALUE.
    #[arg(short, long, value_name = "TARGET", conflicts_with = "eks_cluster")]
    pub target: Option<TargetSelector>,
    /// Use an online node of this EKS cluster as the target.
    #[arg(long, value_name = "NAME")]
    pub eks_cluster: Option<String>,
    /// Where the proxy listens (ADDRESS:PORT, or a port on 127.0.0.1).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Destinations allowed, HOST[:PORTS] (globs, CIDRs, port ranges); repeatable.
    /// With any, everything else is denied.
    #[arg(long, value_name = "PATTERN", value_parser = parse_rule)]
    pub allow: Vec<Rule>,
    /// Destinations denied, HOST[:PORTS]; repeatable; wins over --allow.
    #[arg(long, value_name = "PATTERN", value_parser = parse_rule)]
    pub deny: Vec<Rule>,
    /// Clients allowed when --listen is not a loopback address (CIDR); repeatable.
    #[arg(long, value_name = "CIDR", value_parser = parse_rule)]
    pub allow_client: Vec<Rule>,
    /// Most destinations with a session at once.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DESTINATIONS)))]
    pub max_destinations: u32,
    /// Seconds a destination's session stays up without a connection.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_close: u64,
    /// AWS settings and outputs (--sessions is per destination).
    #[command(flatten)]
    pub run: RunArgs,
}

const AFTER_HELP: &str = "\
Examples:
  ssm-forward proxy --eks-cluster prod --print-env
  HTTPS_PROXY=http://127.0.0.1:8118 curl https://internal-api.corp.example/health
  curl --socks5-hostname 127.0.0.1:8118 http://10.0.3.7:8080/
  ssm-forward proxy --target name:bastion --allow '*.internal:443' --allow 10.0.0.0/8 --deny 10.0.0.1

Every destination host:port gets its own session, started with its first connection
and closed after --idle-close seconds without one. Names are resolved by the instance.";

/// Runs the proxy until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let planned = plan(&args)?;
    forwarding::run(vec![planned], &args.run).await
}

/// The one forward the flags describe.
pub fn plan(args: &Args) -> Result<Planned, Fatal> {
    let target = plan::target_of(args.target.as_ref(), args.eks_cluster.as_deref())?;
    if !args.listen.ip().is_loopback() && args.allow_client.is_empty() {
        crate::output::warning(
            "proxy_exposed",
            &format!(
                "the proxy listens on {}: anyone who can reach it can use it, with your AWS \
                 identity; narrow it with --allow-client CIDR",
                args.listen
            ),
        );
    }
    Ok(Planned {
        name: "proxy".to_owned(),
        target,
        remote_host: None,
        remote_port: 0,
        bind: args.listen,
        aws: args.run.aws.options(),
        reason: args.run.reason.clone(),
        max_connections: args.run.max_connections_or(None),
        sessions: args.run.sessions_or(None),
        proxy: Some(ProxySpec {
            rules: Rules {
                allow: args.allow.clone(),
                deny: args.deny.clone(),
            },
            clients: args.allow_client.clone(),
            max_destinations: args.max_destinations as usize,
            idle_close: Duration::from_secs(args.idle_close),
        }),
    })
}
