//! `ssm-forward up NAME…` / `up --all`: start named forwards of the
//! configuration file.

use clap::Args as ClapArgs;

use crate::cli::{ConfigArgs, RunArgs};
use crate::config_file;
use crate::errors::Fatal;
use crate::forwarding::{self, plan};

/// Arguments of `ssm-forward up`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// Names of forwards in the configuration file.
    #[arg(
        value_name = "NAME",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub names: Vec<String>,
    /// Start every forward of the configuration file.
    #[arg(long)]
    pub all: bool,
    /// Configuration file location.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// AWS settings (override the file's) and outputs.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `ssm-forward up NAME…` / `up --all`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let path = config_file::locate(args.config.config.as_deref()).map_err(Fatal::from)?;
    let forwards = config_file::load(&path).map_err(Fatal::from)?;
    if forwards.is_empty() {
        return Err(Fatal::usage(format!("{} defines no forwards", path.display())).into());
    }
    let chosen = config_file::select(forwards, &args.names, &path).map_err(Fatal::from)?;
    forwarding::run(plan::from_config(chosen, &args.run), &args.run).await
}
