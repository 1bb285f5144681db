//! The commands, one module each, every one owning its `Args` and `run`:
//! [`forward`] (no subcommand: the top-level flags), [`up`], [`list`],
//! [`eks`], [`kubeconfig`], [`login`], [`logout`], [`status`], [`stop`], [`doctor`],
//! [`proxy`], [`demo`], [`completions`], [`man`] and [`plugin`] (which `main` runs
//! itself, with its own logging and exit statuses).

pub mod completions;
pub mod demo;
pub mod doctor;
pub mod eks;
pub mod forward;
pub mod kubeconfig;
pub mod list;
pub mod login;
pub mod logout;
pub mod man;
pub mod plugin;
pub mod proxy;
pub mod status;
pub mod stop;
pub mod up;

use crate::cli::{Cli, Command};

/// Runs the command the command line names (all but `plugin`).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => forward::run(cli.forward).await,
        Some(Command::Up(args)) => up::run(args, cli.log.json).await,
        Some(Command::List(args)) => list::run(&args),
        Some(Command::Eks(args)) => eks::run(args, cli.log.json).await,
        Some(Command::Kubeconfig(args)) => kubeconfig::run(args),
        Some(Command::Login(args)) => login::run(args, cli.log.json).await,
        Some(Command::Logout(args)) => logout::run(args).await,
        Some(Command::Status(args)) => status::run(args, cli.log.json).await,
        Some(Command::Stop(args)) => stop::run(args).await,
        Some(Command::Doctor(args)) => doctor::run(args, cli.log.json).await,
        Some(Command::Proxy(args)) => proxy::run(args).await,
        Some(Command::Demo(args)) => demo::run(args).await,
        Some(Command::Completions(args)) => completions::run(&args),
        Some(Command::Man(args)) => man::run(&args),
        Some(Command::Plugin(_)) => anyhow::bail!("plugin mode is run by main"),
    }
}
