//! `ssm-forward eks connect CLUSTER`: one command from nothing to
//! `kubectl get nodes` on a private EKS cluster.
//!
//! DescribeCluster gives the endpoint, its certificate authority and
//! endpoint access; an online node of the cluster (as `--eks-cluster`
//! picks it) carries the forward. Direct mode (default) forwards a local
//! port to `<endpoint host>:443` (AWS-StartPortForwardingSessionToRemoteHost:
//! the node resolves the private endpoint inside the VPC) and writes a
//! context with `server: https://127.0.0.1:PORT`, the cluster's CA and
//! `tls-server-name: <endpoint host>`, so TLS is verified against the
//! real certificate. Proxy mode (`--via-proxy HOST:PORT`) forwards to an
//! HTTP proxy in the VPC (the in-cluster privoxy setup) and writes a
//! context that keeps the real server URL and sets `proxy-url`. The
//! context's user runs `ssm-forward eks token`. When the forward is
//! ready it prints exactly what to run next; it runs until Ctrl-C or
//! SIGTERM, and with `--cleanup` then takes the context back out.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use ssm_client::AwsOptions;

use crate::aws_context::AwsContext;
use crate::cli::AwsArgs;
use crate::eks::cluster::{self, ClusterError, ClusterInfo};
use crate::eks::context::{self, Written};
use crate::eks::entries::{Entries, Route, TokenCommand};
use crate::eks::program::Program;
use crate::eks::record::{self, Record};
use crate::errors::{ExitStatus, Fatal};
use crate::forwarding::{self, Hooks, plan::Planned};
use crate::output;
use crate::targets::TargetSelector;

/// Where default local ports are taken from (stable per cluster name).
const DEFAULT_PORTS: std::ops::Range<u16> = 20000..30000;

/// `ssm-forward eks connect`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The EKS cluster's name.
    #[arg(value_name = "CLUSTER")]
    pub cluster: String,
    /// Name of the kubeconfig context (and its cluster and user entries)
    /// [default: ssm-CLUSTER].
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Kubeconfig to write [default: the first file in $KUBECONFIG, else
    /// ~/.kube/config].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Local port on 127.0.0.1 [default: one derived from the cluster
    /// name, so the context stays valid across reconnects; a free one if
    /// that is taken].
    #[arg(long, value_name = "PORT")]
    pub local_port: Option<u16>,
    /// Proxy mode: forward to this HTTP proxy in the VPC (e.g. an
    /// in-cluster privoxy's service IP and port) and set kubectl's
    /// proxy-url, instead of forwarding to the endpoint itself.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub via_proxy: Option<(String, u16)>,
    /// Make the context kubectl's current context.
    #[arg(long)]
    pub use_context: bool,
    /// Show the kubeconfig entries that would be written; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// On Ctrl-C or SIGTERM, take the context back out of the kubeconfig.
    #[arg(long)]
    pub cleanup: bool,
    /// AWS profile, region and endpoint.
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Reason recorded with each session (StartSession Reason).
    #[arg(long, value_name = "TEXT", help_heading = "AWS")]
    pub reason: Option<String>,
    /// Write the bound address as JSON here (mode 0600) once the first
    /// session is up; removed on exit.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub ready_file: Option<PathBuf>,
}

/// Everything decided before the forward starts.
#[derive(Debug)]
struct Plan {
    cluster: ClusterInfo,
    context: String,
    kubeconfig: PathBuf,
    planned: Planned,
    /// Proxy mode (`--via-proxy`).
    via_proxy: bool,
    token: TokenCommand,
    program: Program,
}

/// Connects until Ctrl-C or SIGTERM.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let plan = prepare(&args).await?;
    if args.dry_run {
        return dry_run(&args, &plan);
    }
    let mut hooks = ConnectHooks {
        args: &args,
        plan: &plan,
        json,
        written: None,
    };
    let run = crate::cli::RunArgs {
        aws: args.aws.clone(),
        reason: args.reason.clone(),
        print_env: false,
        ready_file: args.ready_file.clone(),
    };
    let outcome = forwarding::run_with(vec![plan.planned.clone()], &run, &mut hooks).await;
    if args.cleanup && hooks.written.is_some() {
        cleanup(&plan);
    }
    outcome
}

/// Looks the cluster up and plans the forward and the context.
async fn prepare(args: &Args) -> anyhow::Result<Plan> {
    let options = args.aws.options();
    let mut aws = AwsContext::default();
    let config = aws.sdk_config(&options).await?;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let eks = aws_sdk_eks::Client::new(&config);
    let cluster = cluster::describe(&eks, &args.cluster, &region)
        .await
        .map_err(cluster_failure)?;
    if let Some(warning) = cluster.route_warning().map_err(cluster_failure)? {
        output::warning("eks_route", &warning);
    }
    let (remote_host, remote_port) = match &args.via_proxy {
        Some((host, port)) => (host.clone(), *port),
        None => (cluster.endpoint_host.clone(), cluster.endpoint_port),
    };
    let context = args
        .context
        .clone()
        .unwrap_or_else(|| context::default_context(&args.cluster));
    let local_port = args
        .local_port
        .unwrap_or_else(|| default_local_port(&args.cluster));
    let kubeconfig = context::kubeconfig_path(args.kubeconfig.as_deref()).map_err(usage)?;
    let program = Program::current();
    let token = TokenCommand::new(
        program.command.clone(),
        &cluster.name,
        &region,
        profile_for_token(&options).as_deref(),
    );
    let planned = Planned {
        name: context.clone(),
        target: TargetSelector::EksCluster(args.cluster.clone()),
        remote_host: Some(remote_host),
        remote_port,
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, local_port)),
        aws: options,
        reason: args.reason.clone(),
    };
    Ok(Plan {
        cluster,
        context,
        kubeconfig,
        planned,
        via_proxy: args.via_proxy.is_some(),
        token,
        program,
    })
}

/// The profile kubectl's token command must use: the one given, else the
/// one in effect here (`AWS_PROFILE`), so kubectl's environment cannot
/// pick another.
fn profile_for_token(options: &AwsOptions) -> Option<String> {
    options.profile.clone().or_else(|| {
        std::env::var("AWS_PROFILE")
            .ok()
            .filter(|profile| !profile.is_empty())
    })
}

/// A port in [`DEFAULT_PORTS`] derived from the cluster name (FNV-1a),
/// or 0 (any free port) when that one is taken.
fn default_local_port(cluster: &str) -> u16 {
    let hash = cluster.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let span = u32::from(DEFAULT_PORTS.end - DEFAULT_PORTS.start);
    let port = DEFAULT_PORTS.start + u16::try_from(hash % span).unwrap_or(0);
    match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => port,
        Err(_) => 0,
    }
}

/// The context's entries for a forward listening on `local_port`.
fn entries(plan: &Plan, local_port: u16) -> Entries {
    let route = if plan.via_proxy {
        Route::Proxy {
            proxy_url: format!("http://127.0.0.1:{local_port}"),
        }
    } else {
        Route::Direct { local_port }
    };
    Entries::new(&plan.context, &plan.cluster, &route, &plan.token)
}

/// `--dry-run`: the entries that would be written, and where.
fn dry_run(args: &Args, plan: &Plan) -> anyhow::Result<()> {
    let port = plan.planned.bind.port();
    let diff = context::preview(&plan.kubeconfig, &entries(plan, port))?;
    println!(
        "Would write to {} (context {:?}{}):\n",
        plan.kubeconfig.display(),
        plan.context,
        if args.use_context {
            ", made current"
        } else {
            ""
        }
    );
    print!("{diff}");
    if port == 0 {
        println!("\n(127.0.0.1:0 stands for the free port chosen at start.)");
    }
    println!("\n{}", plan.program.describe());
    println!("Dry run: nothing written, no session started.");
    Ok(())
}

/// What `eks connect` does around the forward.
#[derive(Debug)]
struct ConnectHooks<'a> {
    args: &'a Args,
    plan: &'a Plan,
    json: bool,
    written: Option<Written>,
}

impl Hooks for ConnectHooks<'_> {
    fn bound(&mut self, addresses: &[SocketAddr]) -> anyhow::Result<()> {
        let port = addresses.first().map_or(0, SocketAddr::port);
        let entries = entries(self.plan, port);
        let written = context::write(
            &self.plan.kubeconfig,
            &entries,
            &self.plan.cluster.name,
            self.args.use_context,
        )
        .map_err(|error| Fatal::new(ExitStatus::Runtime, error.to_string()))?;
        output::kubeconfig_written(&written, &self.plan.context, &self.plan.program.describe());
        self.written = Some(written);
        Ok(())
    }

    fn ready(&mut self) {
        let context = &self.plan.context;
        if self.json {
            output::next_step_json(context);
        } else {
            println!(
                "Ready. In another terminal:\n  kubectl --context {context} get nodes\n\
                 (Ctrl-C here ends the connection{}.)",
                if self.args.cleanup {
                    " and removes the context"
                } else {
                    "; `ssm-forward eks disconnect` removes the context"
                }
            );
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
}

/// `--cleanup`: undo the kubeconfig change.
fn cleanup(plan: &Plan) {
    let Some(state) = record::state_dir() else {
        return;
    };
    let path = context::real_path(&plan.kubeconfig);
    match Record::find(&state, &path, &plan.context) {
        Ok((record_path, record)) => match record.undo() {
            Ok(undone) => {
                let _ = std::fs::remove_file(record_path);
                output::context_removed(&plan.context, &path, undone);
            }
            Err(error) => output::warning("eks_cleanup", &error.to_string()),
        },
        Err(error) => output::warning("eks_cleanup", &error.to_string()),
    }
}

/// A cluster lookup failure as a fatal error with its exit status.
pub fn cluster_failure(error: ClusterError) -> Fatal {
    let status = match &error {
        ClusterError::NotFound { .. } => ExitStatus::Target,
        ClusterError::Api { error, .. } => crate::errors::exit_status_of_api(error),
        _ => ExitStatus::Runtime,
    };
    Fatal::new(status, error.to_string())
}

fn usage(error: context::ContextError) -> Fatal {
    Fatal::usage(error.to_string())
}

/// `HOST:PORT` (`[v6]:PORT` for IPv6 literals).
fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?}: write HOST:PORT, e.g. 10.100.37.12:8118"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{text:?}: the host is empty"));
    }
    let port = port
        .parse()
        .map_err(|_| format!("{text:?}: {port:?} is not a port number"))?;
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_stable_and_in_range() {
        let port = default_local_port("prod");
        assert!(port == 0 || DEFAULT_PORTS.contains(&port));
        assert_eq!(default_local_port("prod"), port);
    }

    #[test]
    fn proxy_addresses() {
        assert_eq!(
            parse_host_port("10.100.37.12:8118").unwrap(),
            ("10.100.37.12".to_owned(), 8118)
        );
        assert_eq!(
            parse_host_port("[fd00::1]:3128").unwrap(),
            ("fd00::1".to_owned(), 3128)
        );
        assert!(parse_host_port("privoxy").is_err());
        assert!(parse_host_port(":1").is_err());
        assert!(parse_host_port("h:x").is_err());
    }
}
