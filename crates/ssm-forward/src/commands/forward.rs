//! `ssm-forward [FLAGS]` without a subcommand: forward what the flags
//! describe (`--remote-port` and/or `-L`) through one target.

use std::net::IpAddr;

use clap::Args as ClapArgs;

use crate::cli::{LocalForward, RunArgs, parse_bind};
use crate::forwarding::{self, plan};
use crate::targets::TargetSelector;

/// Forwards described by flags (the top-level flags of `ssm-forward`).
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// Instance: an id (i-…, mi-…), name:NAME (the Name tag) or tag:KEY=VALUE.
    #[arg(short, long, value_name = "TARGET", conflicts_with = "eks_cluster")]
    pub target: Option<TargetSelector>,
    /// Use an online node of this EKS cluster as the target.
    #[arg(long, value_name = "NAME")]
    pub eks_cluster: Option<String>,
    /// Host to reach from the target (default: the target itself).
    #[arg(long, value_name = "HOST", requires = "remote_port")]
    pub remote_host: Option<String>,
    /// Port to reach (on --remote-host, or on the target).
    #[arg(long, value_name = "PORT")]
    pub remote_port: Option<u16>,
    /// Local port (default: the remote port; 0 picks a free one).
    #[arg(long, value_name = "PORT", requires = "remote_port")]
    pub local_port: Option<u16>,
    /// Local listen address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1", value_parser = parse_bind)]
    pub bind: IpAddr,
    /// SSH-style forward `[BIND:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT`; repeatable.
    #[arg(short = 'L', value_name = "SPEC")]
    pub local_forward: Vec<LocalForward>,
    /// AWS settings and outputs.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Forwards what the flags describe until Ctrl-C or SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let planned = plan::from_flags(&args)?;
    forwarding::run(planned, &args.run).await
}
