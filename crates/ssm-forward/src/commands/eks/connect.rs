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
//!
//! The planning and the hooks live in [`crate::eks::connect_plan`], which
//! `ssm-forward up` uses for configuration-file forwards with
//! `kubeconfig`.

use std::path::PathBuf;

use crate::aws_context::AwsContext;
use crate::cli::AwsArgs;
use crate::eks::connect_plan::{ConnectPlan, ConnectSpec, ContextHooks, parse_host_port};
use crate::eks::context;
use crate::forwarding;

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
    /// Proxy mode without a proxy in the cluster: ssm-forward itself is
    /// kubectl's proxy-url (a local proxy that allows only the endpoint).
    #[arg(long, conflicts_with = "via_proxy")]
    pub via_local_proxy: bool,
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
    /// When the forward gives a start up and counts as failing.
    #[command(flatten)]
    pub failures: crate::cli::FailureArgs,
    /// Most Session Manager sessions to spread kubectl's connections over
    /// (more start while all are busy; see `ssm-forward --help`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::forwarding::supervisor::MAX_SESSIONS)))]
    pub sessions: u32,
}

/// Connects until Ctrl-C or SIGTERM.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let mut aws = AwsContext::default();
    let plan = ConnectPlan::prepare(&spec(&args), &mut aws).await?;
    if args.dry_run {
        return dry_run(&plan);
    }
    let mut hooks = ContextHooks::new(vec![(0, &plan)], json);
    let run = crate::cli::RunArgs {
        aws: args.aws.clone(),
        reason: args.reason.clone(),
        print_env: false,
        ready_file: args.ready_file.clone(),
        max_connections: None,
        failures: args.failures.clone(),
        sessions: None,
    };
    let outcome = forwarding::run_with(vec![plan.planned.clone()], &run, &mut hooks).await;
    hooks.cleanup();
    outcome
}

/// What the flags ask for.
fn spec(args: &Args) -> ConnectSpec {
    ConnectSpec {
        context: args.context.clone(),
        kubeconfig: args.kubeconfig.clone(),
        local_port: args.local_port,
        via_proxy: args.via_proxy.clone(),
        via_local_proxy: args.via_local_proxy,
        use_context: args.use_context,
        cleanup: args.cleanup,
        aws: args.aws.options(),
        reason: args.reason.clone(),
        sessions: args.sessions as usize,
        ..ConnectSpec::new(&args.cluster)
    }
}

/// `--dry-run`: the entries that would be written, and where.
fn dry_run(plan: &ConnectPlan) -> anyhow::Result<()> {
    let port = plan.planned.bind.port();
    let diff = context::preview(&plan.kubeconfig, &plan.entries(port))?;
    println!(
        "Would write to {} (context {:?}{}):\n",
        plan.kubeconfig.display(),
        plan.context,
        if plan.use_context {
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
