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

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{
    ArgAction, ArgMatches, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand,
};
use ssm_client::AwsOptions;

use crate::commands::{
    completions, demo, doctor, eks, forward, kubeconfig, list, login, logout, man, plugin, proxy,
    status, stop, up,
};
use crate::forwarding::supervisor::RestartPolicy;
pub use local_forward::{LocalForward, parse_bind};

/// Forward local TCP ports through AWS Session Manager, natively (no AWS
/// CLI, no session-manager-plugin).
#[derive(Debug, Parser)]
#[command(name = "ssm-forward", version = VERSION, after_help = AFTER_HELP)]
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

/// `--version`: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SSM_FORWARD_COMMIT"),
    ")"
);

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
    /// kubectl on a private EKS cluster: connect, disconnect, token, list.
    Eks(eks::Args),
    /// Point a kubeconfig cluster at a forwarded HTTP proxy (proxy-url).
    Kubeconfig(kubeconfig::Args),
    /// Sign in with IAM Identity Center (SSO), like `aws sso login`.
    Login(login::Args),
    /// Sign out of IAM Identity Center (SSO), like `aws sso logout`.
    Logout(logout::Args),
    /// Show what every running ssm-forward of this user is doing.
    Status(status::Args),
    /// Stop one forward of a running ssm-forward (the others go on).
    Stop(stop::Args),
    /// Check credentials, region, target, agent and network, with fixes.
    Doctor(doctor::Args),
    /// A local HTTP and SOCKS5 proxy to any host the target can reach.
    Proxy(proxy::Args),
    /// Run a complete forward against a local simulator (no AWS account).
    Demo(demo::Args),
    /// Act as `session-manager-plugin` (see docs/plugin-mode.md).
    Plugin(plugin::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
    /// Print the manual page (or write one per command with --dir).
    Man(man::Args),
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
    /// Reads the command line (program name first) like
    /// [`Parser::parse_from`], and refuses top-level flags given with a
    /// subcommand; on a usage error it prints it and exits with status 2.
    pub fn parse_args<I, T>(argv: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Self::try_parse_args(argv).unwrap_or_else(|error| error.exit())
    }

    /// [`Self::parse_args`], returning the usage error. Use these two,
    /// not [`Parser`]'s own methods, which would not refuse the flags.
    pub fn try_parse_args<I, T>(argv: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(argv)?;
        refuse_flags_before_subcommand(&mut command, &matches)?;
        Self::from_arg_matches(&matches).map_err(|error| error.format(&mut command))
    }
}

/// Refuses `ssm-forward --target x up db`: the top-level flags describe
/// the forward run without a subcommand, and would otherwise be ignored
/// silently. Clap says which arguments are top-level (every argument of
/// the top-level command that is not global, like the logging flags) and
/// which were given on the command line, so no list is kept by hand.
fn refuse_flags_before_subcommand(
    command: &mut clap::Command,
    matches: &ArgMatches,
) -> Result<(), clap::Error> {
    let Some((name, _)) = matches.subcommand() else {
        return Ok(());
    };
    let given: Vec<String> = command
        .get_arguments()
        .filter(|arg| !arg.is_global_set())
        .filter(|arg| matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|arg| format!("'{arg}'"))
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(command.error(
        ErrorKind::ArgumentConflict,
        format!(
            "{} cannot be combined with `{name}`: forwarding flags go without a subcommand; \
             put the subcommand's own flags after it",
            given.join(", ")
        ),
    ))
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
    /// Most local connections each forward serves at once; beyond it new
    /// connections are closed at once [default: 512, or the file's
    /// max_connections].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// When a forward gives a start up and counts as failing.
    #[command(flatten)]
    pub failures: FailureArgs,
    /// Most Session Manager sessions each forward spreads its connections
    /// over (each session carries about 1 MB/s; more start while all are
    /// busy, one at a time, and close after a minute idle) [default: 1,
    /// or the file's sessions].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::forwarding::supervisor::MAX_SESSIONS)))]
    pub sessions: Option<u32>,
}

impl RunArgs {
    /// `--max-connections`, else `configured`, else the default.
    pub fn max_connections_or(&self, configured: Option<u32>) -> usize {
        self.max_connections
            .or(configured)
            .map_or(crate::serve::DEFAULT_MAX_CONNECTIONS, |n| n as usize)
    }

    /// `--sessions`, else `configured`, else 1.
    pub fn sessions_or(&self, configured: Option<u32>) -> usize {
        self.sessions.or(configured).map_or(1, |n| n as usize)
    }
}

/// How forwards treat sessions that keep failing (`--start-timeout`,
/// `--max-failed-sessions`, `--exit-when-failing`).
#[derive(Debug, Clone, Args)]
pub struct FailureArgs {
    /// Give a session start (StartSession, the data channel, the
    /// handshake) this many seconds before it is abandoned and retried.
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=3600), help_heading = "Failures")]
    pub start_timeout: u32,
    /// Failed starts and sessions in a row after which a forward counts
    /// as failing: new connections are then closed at once while no
    /// session is up (starts go on, with backoff).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..), help_heading = "Failures")]
    pub max_failed_sessions: u32,
    /// Exit (status 1, 3 or 4, by the latest failure) as soon as a forward
    /// is failing, instead of retrying: for scripts and for service
    /// managers that restart on failure.
    #[arg(long, help_heading = "Failures")]
    pub exit_when_failing: bool,
}

impl Default for FailureArgs {
    fn default() -> Self {
        let policy = RestartPolicy::default();
        Self {
            start_timeout: u32::try_from(policy.start_deadline.as_secs()).unwrap_or(30),
            max_failed_sessions: policy.max_failed_sessions,
            exit_when_failing: false,
        }
    }
}

impl FailureArgs {
    /// When the forwards' supervisors give a start up and call a forward
    /// failing.
    pub fn restart_policy(&self) -> RestartPolicy {
        RestartPolicy {
            start_deadline: std::time::Duration::from_secs(u64::from(self.start_timeout)),
            max_failed_sessions: self.max_failed_sessions,
            ..RestartPolicy::default()
        }
    }
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
        let global = Cli::try_parse_args(["ssm-forward", "-v", "list"]).unwrap();
        assert_eq!(global.log.verbose, 1);
        let misplaced =
            Cli::try_parse_args(["ssm-forward", "--region", "x", "up", "db"]).unwrap_err();
        assert_eq!(misplaced.kind(), ErrorKind::ArgumentConflict);
        assert!(misplaced.to_string().contains("`up`"), "{misplaced}");
    }

    /// A value each top-level flag accepts; a new flag that takes a value
    /// needs one here (the test below says so).
    fn sample_value(long: &str) -> Option<&'static str> {
        Some(match long {
            "target" => "name:bastion",
            "eks-cluster" => "prod",
            "remote-host" => "db.internal",
            "remote-port" | "local-port" => "5432",
            "bind" => "0.0.0.0",
            "profile" => "dev",
            "region" => "eu-west-1",
            "endpoint-url" => "http://127.0.0.1:1",
            "reason" => "test",
            "ready-file" => "/tmp/ready.json",
            "max-connections" => "64",
            "start-timeout" => "10",
            "max-failed-sessions" => "3",
            "sessions" => "4",
            _ => return None,
        })
    }

    /// The top-level flags as clap knows them, each with the arguments
    /// that give it (`-L` has no long name).
    fn top_level_flags() -> Vec<Vec<String>> {
        let command = Cli::command();
        command
            .get_arguments()
            .filter(|arg| !arg.is_global_set())
            .map(|arg| {
                let name = arg.get_long().map_or_else(
                    || format!("-{}", arg.get_short().expect("a short or long name")),
                    |long| format!("--{long}"),
                );
                let mut given = vec![name.clone()];
                if arg.get_action().takes_values() {
                    let value = match arg.get_short() {
                        Some('L') => "8118:privoxy.example.com:8118",
                        _ => sample_value(arg.get_long().unwrap_or_default())
                            .unwrap_or_else(|| panic!("add a sample value for {name}")),
                    };
                    given.push(value.to_owned());
                }
                given
            })
            .collect()
    }

    #[test]
    fn every_top_level_flag_is_refused_with_every_subcommand() {
        let flags = top_level_flags();
        assert!(flags.len() >= 13, "{flags:?}");
        let subcommands: [&[&str]; 5] = [
            &["up", "db"],
            &["list"],
            &["kubeconfig", "--proxy-url", "http://127.0.0.1:8118"],
            &["demo", "--once"],
            &["plugin", "--version"],
        ];
        for flag in &flags {
            // Valid on its own (with --remote-port, which some flags need),
            // so that the refusal below is the only error.
            let mut given = flag.clone();
            if given[0] != "--remote-port" {
                given.extend(["--remote-port".to_owned(), "5432".to_owned()]);
            }
            let given = given.iter().map(String::as_str);
            let alone = std::iter::once("ssm-forward").chain(given.clone());
            assert!(Cli::try_parse_args(alone).is_ok(), "{flag:?}");
            for subcommand in subcommands {
                let argv = std::iter::once("ssm-forward")
                    .chain(given.clone())
                    .chain(subcommand.iter().copied());
                let error = Cli::try_parse_args(argv).map(drop).unwrap_err();
                assert_eq!(
                    error.kind(),
                    ErrorKind::ArgumentConflict,
                    "{flag:?} {subcommand:?}: {error}"
                );
                assert!(error.to_string().contains(&flag[0]), "{error}");
                assert!(
                    error.to_string().contains(&format!("`{}`", subcommand[0])),
                    "{error}"
                );
            }
        }
    }

    #[test]
    fn logging_flags_stay_global_and_bind_defaults_are_not_given() {
        for argv in [
            ["ssm-forward", "-v", "list"],
            ["ssm-forward", "--json", "list"],
            ["ssm-forward", "list", "-q"],
        ] {
            let cli = Cli::try_parse_args(argv).unwrap();
            assert!(matches!(cli.command, Some(Command::List(_))));
        }
        let defaults = Cli::try_parse_args(["ssm-forward", "up", "--all"]).unwrap();
        assert_eq!(defaults.forward.bind.to_string(), "127.0.0.1");
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
