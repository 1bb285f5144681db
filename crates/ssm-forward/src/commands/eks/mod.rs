//! `ssm-forward eks …`: kubectl on a private EKS cluster with nothing but
//! ssm-forward installed. [`connect`] forwards a local port to the
//! cluster's API endpoint (or to a proxy in the VPC) through one of its
//! nodes and writes a kubeconfig context for it; [`disconnect`] takes
//! that context back out; [`token`] is the exec credential plugin that
//! context runs; [`list`] shows the clusters of a region.

pub mod connect;
pub mod disconnect;
pub mod list;
pub mod token;

use clap::Subcommand;

/// `ssm-forward eks`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: EksCommand,
}

/// The `eks` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum EksCommand {
    /// Forward to a cluster's API server and write a kubeconfig context
    /// for it (until Ctrl-C).
    Connect(connect::Args),
    /// Remove what `eks connect` wrote into the kubeconfig.
    Disconnect(disconnect::Args),
    /// Print an EKS token as kubectl's exec credential plugin (what the
    /// context written by `eks connect` runs).
    Token(token::Args),
    /// List the region's clusters, their endpoint access and online nodes.
    List(list::Args),
}

/// Runs an `eks` subcommand; `json` is the global `--json`.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    match args.command {
        EksCommand::Connect(args) => connect::run(args, json).await,
        EksCommand::Disconnect(args) => disconnect::run(&args, json),
        EksCommand::Token(args) => token::run(args).await,
        EksCommand::List(args) => list::run(args, json).await,
    }
}
