//! The command line: flags, subcommands and the SSH-style `-L` syntax.
//!
//! Without a subcommand `ssm-forward` forwards what its flags describe
//! (`--remote-port` and/or `-L`); `up` forwards named entries of the
//! configuration file, `list` shows them. `kubeconfig`, `demo` and
//! `plugin` are described in their own modules. `docs/ssm-forward.md`
//! documents every flag.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use clap::{ArgAction, Args, Parser, Subcommand};
use ssm_client::AwsOptions;

use crate::targets::TargetSelector;

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
    pub forward: ForwardArgs,
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
    Up(UpArgs),
    /// List the forwards of the configuration file.
    List(ListArgs),
    /// Point a kubeconfig cluster at a forwarded HTTP proxy (proxy-url).
    Kubeconfig(crate::commands::kubeconfig::KubeconfigArgs),
    /// Run a complete forward against a local simulator (no AWS account).
    Demo(crate::commands::demo::DemoArgs),
    /// Act as `session-manager-plugin` (see docs/plugin-mode.md).
    Plugin(PluginArgs),
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

/// Forwards described by flags.
#[derive(Debug, Clone, Args)]
pub struct ForwardArgs {
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

impl ForwardArgs {
    /// True when any forwarding flag was given (`--bind` only if not the
    /// default).
    pub fn is_given(&self) -> bool {
        let run = &self.run;
        self.target.is_some()
            || self.eks_cluster.is_some()
            || self.remote_host.is_some()
            || self.remote_port.is_some()
            || self.local_port.is_some()
            || self.bind != IpAddr::V4(Ipv4Addr::LOCALHOST)
            || !self.local_forward.is_empty()
            || run.aws.profile.is_some()
            || run.aws.region.is_some()
            || run.aws.endpoint_url.is_some()
            || run.reason.is_some()
            || run.print_env
            || run.ready_file.is_some()
    }
}

/// `ssm-forward up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
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

/// `ssm-forward list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Configuration file location.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Where the configuration file is.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Configuration file [default: $XDG_CONFIG_HOME/ssm-forward/config.toml
    /// or ~/.config/ssm-forward/config.toml].
    #[arg(long, value_name = "PATH", env = "SSM_FORWARD_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `ssm-forward plugin ARGS…`: the drop-in plugin with explicit arguments.
#[derive(Debug, Clone, Args)]
pub struct PluginArgs {
    /// The arguments the AWS CLI passes to session-manager-plugin.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARG"
    )]
    pub args: Vec<String>,
}

/// One `-L [BIND:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalForward {
    /// Listen address; `None` uses `--bind`.
    pub bind: Option<IpAddr>,
    /// Local port (0 picks a free one).
    pub local_port: u16,
    /// Host to reach from the target.
    pub remote_host: String,
    /// Port on that host.
    pub remote_port: u16,
}

impl LocalForward {
    /// The listen address, falling back to `default_bind`.
    pub fn address(&self, default_bind: IpAddr) -> SocketAddr {
        SocketAddr::new(self.bind.unwrap_or(default_bind), self.local_port)
    }
}

impl FromStr for LocalForward {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fields = split_fields(text)?;
        let (bind, rest) = match fields.as_slice() {
            [bind, rest @ ..] if fields.len() == 4 => (Some(parse_bind(bind)?), rest),
            rest if fields.len() == 3 => (None, rest),
            _ => {
                return Err(
                    "expected [BIND:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT, e.g. 8118:privoxy.example.com:8118"
                        .into(),
                );
            }
        };
        let [local, host, remote] = rest else {
            unreachable!("three fields")
        };
        if host.is_empty() {
            return Err("the remote host is empty".into());
        }
        Ok(Self {
            bind,
            local_port: parse_port(local, "local port")?,
            remote_host: host.clone(),
            remote_port: parse_port(remote, "remote port")?,
        })
    }
}

impl fmt::Display for LocalForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bind {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        let host = &self.remote_host;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        write!(f, "{}:{host}:{}", self.local_port, self.remote_port)
    }
}

/// Splits on `:` outside `[...]`, dropping the brackets (IPv6 literals).
fn split_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = vec![String::new()];
    let mut in_brackets = false;
    for c in text.chars() {
        match c {
            '[' if !in_brackets => in_brackets = true,
            ']' if in_brackets => in_brackets = false,
            ':' if !in_brackets => fields.push(String::new()),
            c => fields.last_mut().expect("never empty").push(c),
        }
    }
    if in_brackets {
        return Err("unbalanced '[' in the forward".into());
    }
    Ok(fields)
}

fn parse_port(text: &str, what: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("the {what} {text:?} is not a number from 0 to 65535"))
}

/// A listen address: an IP, `localhost` or `*` (every interface).
pub fn parse_bind(text: &str) -> Result<IpAddr, String> {
    match text {
        "localhost" => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "*" => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        _ => text.trim_matches(['[', ']']).parse().map_err(|_| {
            format!("{text:?} is not an IP address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0)")
        }),
    }
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
    fn local_forward_forms() {
        let plain: LocalForward = "8118:privoxy.example.com:8118".parse().unwrap();
        assert_eq!(plain.bind, None);
        assert_eq!((plain.local_port, plain.remote_port), (8118, 8118));
        assert_eq!(plain.remote_host, "privoxy.example.com");
        let bound: LocalForward = "0.0.0.0:0:db:5432".parse().unwrap();
        assert_eq!(bound.bind, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        let v6: LocalForward = "[::1]:80:[fd00::1]:8080".parse().unwrap();
        assert_eq!(v6.bind, Some("::1".parse().unwrap()));
        assert_eq!(v6.remote_host, "fd00::1");
        assert_eq!(v6.to_string(), "[::1]:80:[fd00::1]:8080");
        assert_eq!(plain.to_string(), "8118:privoxy.example.com:8118");
    }

    #[test]
    fn bad_local_forwards_say_why() {
        assert!(
            "8118:host"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("LOCAL_PORT")
        );
        assert!(
            "x:host:1"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("local port")
        );
        assert!(
            "1:host:70000"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("remote port")
        );
        assert!(
            "1::2"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            "nope:1:h:2"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("IP address")
        );
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
            Some(Command::Up(UpArgs { all: true, .. }))
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
