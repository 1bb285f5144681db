//! `ssm-forward up NAME…` / `up --all`: start named forwards of the
//! configuration file. A forward with `eks_cluster` and `kubeconfig`
//! does what `eks connect` does: its plan comes from DescribeCluster and
//! its context is written once its port is bound (see
//! [`crate::eks::connect_plan`]).

use clap::Args as ClapArgs;

use crate::aws_context::AwsContext;
use crate::cli::{ConfigArgs, RunArgs};
use crate::config_file;
use crate::eks::connect_plan::{ConnectPlan, ContextHooks};
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

/// `ssm-forward up NAME…` / `up --all`; `json` is the global `--json`.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let path = config_file::locate(args.config.config.as_deref()).map_err(Fatal::from)?;
    let forwards = config_file::load(&path).map_err(Fatal::from)?;
    if forwards.is_empty() {
        return Err(Fatal::usage(format!("{} defines no forwards", path.display())).into());
    }
    let chosen = config_file::select(forwards, &args.names, &path).map_err(Fatal::from)?;
    let mut planned = plan::from_config(chosen.clone(), &args.run);
    let mut contexts = Vec::new();
    let mut aws = AwsContext::default();
    for (index, spec) in plan::connect_specs(&chosen, &planned) {
        let context = ConnectPlan::prepare(&spec, &mut aws).await?;
        planned[index] = context.planned.clone();
        contexts.push((index, context));
    }
    let mut hooks = ContextHooks::new(
        contexts
            .iter()
            .map(|(index, plan)| (*index, plan))
            .collect(),
        json,
    );
    let outcome = forwarding::run_with(planned, &args.run, &mut hooks).await;
    hooks.cleanup();
    outcome
}
