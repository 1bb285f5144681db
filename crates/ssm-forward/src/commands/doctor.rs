//! `ssm-forward doctor`: checks everything a forward needs, one line per
//! check (✔ or ✘ with the fix), exit status 0 when none failed
//! ([`crate::doctor`]).

use clap::Args as ClapArgs;

use crate::cli::AwsArgs;
use crate::doctor::{self, Check, Inputs};
use crate::errors::{ExitStatus, Fatal};
use crate::targets::TargetSelector;

/// Arguments of `ssm-forward doctor`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// Check this instance: an id (i-…, mi-…), name:NAME or tag:KEY=VALUE.
    #[arg(short, long, value_name = "TARGET", conflicts_with = "eks_cluster")]
    pub target: Option<TargetSelector>,
    /// Check this EKS cluster (its endpoint access, the kubeconfig
    /// context, and an online node as the target).
    #[arg(long, value_name = "NAME")]
    pub eks_cluster: Option<String>,
    /// Host the forward reaches from the target.
    #[arg(long, value_name = "HOST", requires = "remote_port")]
    pub remote_host: Option<String>,
    /// Port the forward reaches.
    #[arg(long, value_name = "PORT")]
    pub remote_port: Option<u16>,
    /// Also start a real session to the destination, connect through it
    /// and terminate it, timing each step.
    #[arg(long, requires = "remote_port")]
    pub probe: bool,
    /// AWS profile, region and endpoint.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// `ssm-forward doctor`; `json` is the global `--json`.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let target = match (args.target, args.eks_cluster) {
        (Some(target), _) => Some(target),
        (None, Some(cluster)) => Some(TargetSelector::EksCluster(cluster)),
        (None, None) => None,
    };
    let inputs = Inputs {
        aws: args.aws.options(),
        target,
        remote_host: args.remote_host,
        remote_port: args.remote_port,
        probe: args.probe,
    };
    let checks = doctor::run(&inputs).await;
    print!("{}", doctor::report::render(&checks, json));
    let failed = checks.iter().filter(|check| !check.passed()).count();
    if failed == 0 {
        return Ok(());
    }
    let status = first_failure_status(&checks);
    Err(Fatal::new(status, format!("{failed} check(s) failed")).into())
}

/// The exit status of the first failed check: 4 for identity and
/// access, 3 for the target, 1 otherwise.
fn first_failure_status(checks: &[Check]) -> ExitStatus {
    let Some(failed) = checks.iter().find(|check| !check.passed()) else {
        return ExitStatus::Ok;
    };
    match failed.check.as_str() {
        "region" => ExitStatus::Usage,
        "sso session" | "credentials" | "caller" => ExitStatus::Access,
        "target" | "target online" | "remote host" => ExitStatus::Target,
        _ if failed
            .fix
            .as_deref()
            .is_some_and(|fix| fix.starts_with("ask for IAM permission")) =>
        {
            ExitStatus::Access
        }
        _ => ExitStatus::Runtime,
    }
}
