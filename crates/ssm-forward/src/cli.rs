//! The command line: [`Cli`] (the top-level flags and the [`Command`]s),
//! the logging flags every command takes, and the argument groups several
//! commands share ([`AwsArgs`], [`RunArgs`], [`ConfigArgs`], the `-L`
//! syntax in [`local_forward`]).
//!
//! Without a subcommand `ssm-forward` forwards what its flags describe
//! ([`crate::commands::forward`]); every subcommand owns its arguments in
//! its module under [`crate::commands`]. `docs/ssm-forward.md` documents
//! every flag.

pub mod local_forward;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use ssm_client::AwsOptions;

use crate::commands::{demo, forward, kubeconfig, list, plugin, up};
pub use local_forward::{LocalForward, parse_bind};

/// Forward local TCP ports through AWS Session Manager, natively (no AWS
/// CLI, no session-manager-plugin).
#[derive(Debug, Parser)]
#[command(name = "ssm-forward", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Logging flags (valid everywhere).
    #[command(flatten)]
    pub log: LogArgs,
    /// Forwards described on the command line.
    #[command(flatten)]
    pub forward: forward::Args,
    /// What to do instead of forwarding the command line's forwards.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Examples and exit statuses, shown after the flags in `--help`.
const AFTER_HELP: &str = "\
Examples:
  ssm-forward --target i-0123456789abcdef0 --remote-host db.internal --remote-port 5432
  ssm-forward --target name:bastion -L 8118:privoxy.example.com:8118 -L 15432:db.internal:5432
  ssm-forward --eks-cluster prod --remote-host privoxy.example.com --remote-port 8118 --print-env
  ssm-forward up privoxy db

Exit status: 0 stopped by Ctrl-C/SIGTERM, 1 runtime error, 2 usage or configuration error,
3 target not found or not connected, 4 credentials or access denied, 5 local port in use.
Documentation: docs/ssm-forward.md";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start named forwards from the configuration file.
    Up(up::Args),
    /// List the forwards of the configuration file.
    List(list::Args),
    /// Point a kubeconfig cluster at a forwarded HTTP proxy (proxy-url).
    Kubeconfig(kubeconfig::Args),
    /// Run a complete forward against a local simulator (no AWS account).
    Demo(demo::Args),
    /// Act as `session-manager-plugin` (see docs/plugin-mode.md).
    Plugin(plugin::Args),
}

/// Logging: human status lines by default, JSON on request.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// More detail (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true, help_heading = "Output")]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Output"
    )]
    pub quiet: bool,
    /// Logs as JSON, one object per line on stderr.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,
}

impl Cli {
    /// Refuses forwarding flags placed before a subcommand (`ssm-forward
    /// --target x up db`), which would otherwise be ignored silently.
    pub fn check(&self) -> Result<(), String> {
        match &self.command {
            Some(command) if self.forward.is_given() => Err(format!(
                "forwarding flags cannot be combined with `{}`; put the subcommand's own flags after it",
                command.name()
            )),
            _ => Ok(()),
        }
    }
}

impl Command {
    /// The subcommand's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Up(_) => "up",
            Self::List(_) => "list",
            Self::Kubeconfig(_) => "kubeconfig",
            Self::Demo(_) => "demo",
            Self::Plugin(_) => "plugin",
        }
    }
}

/// Where and as whom to call AWS (as in the AWS CLI).
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// Named profile from ~/.aws/config (SSO profiles included).
    #[arg(long, value_name = "NAME", help_heading = "AWS")]
    pub profile: Option<String>,
    /// AWS region, e.g. eu-west-1.
    #[arg(long, value_name = "REGION", help_heading = "AWS")]
    pub region: Option<String>,
    /// SSM API endpoint override (e.g. a VPC endpoint or a local ssm-sim).
    #[arg(long, value_name = "URL", help_heading = "AWS")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The options for `ssm_client::load_sdk_config`.
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// What every forwarding command shares: AWS settings and outputs.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// AWS profile, region and endpoint.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Reason recorded with each session (StartSession Reason).
    #[arg(long, value_name = "TEXT", help_heading = "AWS")]
    pub reason: Option<String>,
    /// Print `export HTTPS_PROXY=http://ADDR` for the first forward on
    /// stdout once it listens.
    #[arg(long, help_heading = "Output")]
    pub print_env: bool,
    /// Write the bound addresses as JSON here (mode 0600) once every
    /// forward's first session is up; removed on exit.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub ready_file: Option<PathBuf>,
}

/// Where the configuration file is.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Configuration file [default: $XDG_CONFIG_HOME/ssm-forward/config.toml
    /// or ~/.config/ssm-forward/config.toml].
    #[arg(long, value_name = "PATH", env = "SSM_FORWARD_CONFIG")]
    pub config: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from([
            "ssm-forward",
            "--target",
            "name:bastion",
            "--remote-port",
            "22",
            "-L",
            "1:h:2",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.log.verbose, 2);
        assert_eq!(cli.forward.remote_port, Some(22));
        assert_eq!(cli.forward.local_forward.len(), 1);
        let up = Cli::try_parse_from(["ssm-forward", "up", "--all", "--json"]).unwrap();
        assert!(matches!(
            up.command,
            Some(Command::Up(up::Args { all: true, .. }))
        ));
        assert!(Cli::try_parse_from(["ssm-forward", "up"]).is_err());
        assert!(
            Cli::try_parse_from(["ssm-forward", "--target", "i-1", "--eks-cluster", "x"]).is_err()
        );
        let global = Cli::try_parse_from(["ssm-forward", "-v", "list"]).unwrap();
        assert_eq!(global.check(), Ok(()));
        let misplaced = Cli::try_parse_from(["ssm-forward", "--region", "x", "up", "db"]).unwrap();
        assert!(misplaced.check().unwrap_err().contains("`up`"));
    }

    #[test]
    fn plugin_arguments_pass_through() {
        let cli = Cli::try_parse_from(["ssm-forward", "plugin", "--version"]).unwrap();
        let Some(Command::Plugin(plugin)) = cli.command else {
            panic!("plugin")
        };
        assert_eq!(plugin.args, ["--version"]);
    }
}
