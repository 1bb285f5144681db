//! `eks connect` as a reusable piece: what `ssm-forward eks connect` and
//! a configuration-file forward with `eks_cluster` + `kubeconfig`
//! (`ssm-forward up NAME`) both do.
//!
//! [`ConnectPlan::prepare`] asks DescribeCluster for the endpoint and
//! plans the forward: direct mode forwards to `<endpoint host>:443`,
//! proxy mode to the given `HOST:PORT`. [`ContextHooks`] writes each
//! context into its kubeconfig once its port is bound, prints what to run
//! once every forward is ready, and [`ContextHooks::cleanup`] takes the
//! contexts with `cleanup` back out when the forwards stop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use ssm_client::AwsOptions;

use super::cluster::{self, ClusterError, ClusterInfo};
use super::context::{self, Written};
use super::entries::{Entries, Route, TokenCommand};
use super::program::Program;
use super::record;
use crate::aws_context::AwsContext;
use crate::errors::{ExitStatus, Fatal};
use crate::forwarding::{Hooks, plan::Planned};
use crate::output;
use crate::targets::TargetSelector;

/// The local proxy of `--via-local-proxy`: the cluster's endpoint and
/// nothing else.
fn endpoint_only_proxy(cluster: &ClusterInfo) -> crate::local_proxy::ProxySpec {
    let endpoint = format!("{}:{}", cluster.endpoint_host, cluster.endpoint_port);
    let allow = ssm_proxy_handshake::rules::Rule::parse(&endpoint)
        .map(|rule| vec![rule])
        .unwrap_or_default();
    crate::local_proxy::ProxySpec {
        rules: ssm_proxy_handshake::rules::Rules {
            allow,
            deny: Vec::new(),
        },
        ..crate::local_proxy::ProxySpec::default()
    }
}

/// Where default local ports are taken from (stable per cluster name).
pub const DEFAULT_PORTS: std::ops::Range<u16> = 20000..30000;

/// The port direct mode forwards to on the endpoint.
pub const ENDPOINT_PORT: u16 = 443;

/// What to connect, as the flags or the configuration file say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    /// The forward's name; `None`: the context's name.
    pub name: Option<String>,
    /// The EKS cluster.
    pub cluster: String,
    /// The context name; `None`: `ssm-CLUSTER`.
    pub context: Option<String>,
    /// The kubeconfig; `None`: `$KUBECONFIG`'s first file or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Listen address (the context always says 127.0.0.1).
    pub bind: IpAddr,
    /// Local port; `None`: [`default_local_port`].
    pub local_port: Option<u16>,
    /// Proxy mode: the proxy in the VPC; `None`: direct mode.
    pub via_proxy: Option<(String, u16)>,
    /// Proxy mode through ssm-forward's own local proxy (allowing only
    /// the endpoint) instead of a proxy in the VPC.
    pub via_local_proxy: bool,
    /// Make the context current.
    pub use_context: bool,
    /// Take the context back out when the forward stops.
    pub cleanup: bool,
    /// AWS profile, region, endpoint.
    pub aws: AwsOptions,
    /// StartSession reason.
    pub reason: Option<String>,
    /// Most local connections served at once.
    pub max_connections: usize,
    /// Most sessions to spread connections over.
    pub sessions: usize,
}

impl ConnectSpec {
    /// Direct mode for `cluster` with every default.
    pub fn new(cluster: &str) -> Self {
        Self {
            name: None,
            cluster: cluster.to_owned(),
            context: None,
            kubeconfig: None,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: None,
            via_proxy: None,
            via_local_proxy: false,
            use_context: false,
            cleanup: false,
            aws: AwsOptions::default(),
            reason: None,
            max_connections: crate::serve::DEFAULT_MAX_CONNECTIONS,
            sessions: 1,
        }
    }

    /// The context's name.
    pub fn context_name(&self) -> String {
        self.context
            .clone()
            .unwrap_or_else(|| default_context(&self.cluster))
    }
}

/// Everything decided before the forward starts.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    /// The cluster as DescribeCluster tells it.
    pub cluster: ClusterInfo,
    /// The context (and its cluster and user entries) name.
    pub context: String,
    /// The kubeconfig to write.
    pub kubeconfig: PathBuf,
    /// The forward.
    pub planned: Planned,
    /// Proxy mode.
    pub via_proxy: bool,
    /// Make the context current.
    pub use_context: bool,
    /// Take the context out when the forward stops.
    pub cleanup: bool,
    /// What kubectl runs for a token.
    pub token: TokenCommand,
    /// The program name in `token` and how it was chosen.
    pub program: Program,
}

impl ConnectPlan {
    /// Looks the cluster up (DescribeCluster, warning when only the
    /// public endpoint exists) and plans the forward and the context.
    pub async fn prepare(spec: &ConnectSpec, aws: &mut AwsContext) -> anyhow::Result<Self> {
        let config = aws.sdk_config(&spec.aws).await?;
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        let eks = aws_sdk_eks::Client::new(&config);
        let cluster = cluster::describe(&eks, &spec.cluster, &region)
            .await
            .map_err(cluster_failure)?;
        if let Some(warning) = cluster.route_warning().map_err(cluster_failure)? {
            output::warning("eks_route", &warning);
        }
        let kubeconfig = context::kubeconfig_path(spec.kubeconfig.as_deref())
            .map_err(|error| Fatal::usage(error.to_string()))?;
        let token = TokenCommand::new(
            Program::current().command,
            &cluster.name,
            &region,
            // The profile in effect here, passed explicitly so that
            // kubectl's environment cannot pick another.
            spec.aws.effective_profile().as_deref(),
        );
        let local_port = spec
            .local_port
            .unwrap_or_else(|| default_local_port(&spec.cluster));
        Ok(Self::from_cluster(
            spec, cluster, kubeconfig, token, local_port,
        ))
    }

    /// The plan for `spec` once the cluster, kubeconfig, token command and
    /// local port are known.
    pub fn from_cluster(
        spec: &ConnectSpec,
        cluster: ClusterInfo,
        kubeconfig: PathBuf,
        token: TokenCommand,
        local_port: u16,
    ) -> Self {
        let (remote_host, remote_port) = match &spec.via_proxy {
            Some((host, port)) => (host.clone(), *port),
            None => (cluster.endpoint_host.clone(), cluster.endpoint_port),
        };
        let proxy = spec.via_local_proxy.then(|| endpoint_only_proxy(&cluster));
        let context = spec.context_name();
        let planned = Planned {
            name: spec.name.clone().unwrap_or_else(|| context.clone()),
            target: TargetSelector::EksCluster(spec.cluster.clone()),
            remote_host: proxy.is_none().then_some(remote_host),
            remote_port: if proxy.is_some() { 0 } else { remote_port },
            bind: SocketAddr::new(spec.bind, local_port),
            aws: spec.aws.clone(),
            reason: spec.reason.clone(),
            max_connections: spec.max_connections,
            sessions: spec.sessions,
            proxy,
        };
        Self {
            cluster,
            context,
            kubeconfig,
            planned,
            via_proxy: spec.via_proxy.is_some() || spec.via_local_proxy,
            use_context: spec.use_context,
            cleanup: spec.cleanup,
            token,
            program: Program::current(),
        }
    }

    /// The context's entries for a forward listening on `local_port`.
    pub fn entries(&self, local_port: u16) -> Entries {
        let route = if self.via_proxy {
            Route::Proxy {
                proxy_url: format!("http://127.0.0.1:{local_port}"),
            }
        } else {
            Route::Direct { local_port }
        };
        Entries::new(&self.context, &self.cluster, &route, &self.token)
    }

    /// Writes the context for a forward listening on `local_port`.
    fn write(&self, local_port: u16) -> Result<Written, Fatal> {
        let written = context::write(
            &self.kubeconfig,
            &self.entries(local_port),
            &self.cluster.name,
            self.use_context,
        )
        .map_err(|error| Fatal::new(ExitStatus::Runtime, error.to_string()))?;
        output::kubeconfig_written(&written, &self.context, &self.program.describe());
        Ok(written)
    }

    /// Undoes the kubeconfig change (warnings when it cannot).
    pub fn undo(&self) {
        match record::disconnect(&self.kubeconfig, &self.context) {
            Ok((path, undone)) => output::context_removed(&self.context, &path, undone),
            Err(error) => output::warning("eks_cleanup", &error.to_string()),
        }
    }
}

pub use super::context::default_context;

/// The port in [`DEFAULT_PORTS`] derived from the cluster name (FNV-1a).
pub fn derived_local_port(cluster: &str) -> u16 {
    let hash = cluster.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let span = u32::from(DEFAULT_PORTS.end - DEFAULT_PORTS.start);
    DEFAULT_PORTS.start + u16::try_from(hash % span).unwrap_or(0)
}

/// [`derived_local_port`], or 0 (any free port) when that one is taken.
pub fn default_local_port(cluster: &str) -> u16 {
    let port = derived_local_port(cluster);
    match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => port,
        Err(_) => 0,
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

/// `HOST:PORT` (`[v6]:PORT` for IPv6 literals), as `--via-proxy` and
/// `via_proxy` take it.
pub fn parse_host_port(text: &str) -> Result<(String, u16), String> {
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

/// The hooks that write contexts around forwards: some of the forwards
/// (by index in the plan) carry a context.
#[derive(Debug)]
pub struct ContextHooks<'a> {
    contexts: Vec<(usize, &'a ConnectPlan)>,
    json: bool,
    written: Vec<bool>,
}

impl<'a> ContextHooks<'a> {
    /// Hooks for `contexts`: (index of the forward, its plan); `json` is
    /// the global `--json`.
    pub fn new(contexts: Vec<(usize, &'a ConnectPlan)>, json: bool) -> Self {
        let written = vec![false; contexts.len()];
        Self {
            contexts,
            json,
            written,
        }
    }

    /// Takes out the contexts written with `cleanup` set.
    pub fn cleanup(&self) {
        for ((_, plan), written) in self.contexts.iter().zip(&self.written) {
            if *written && plan.cleanup {
                plan.undo();
            }
        }
    }

    /// What Ctrl-C will do to the contexts, for the ready message.
    fn ctrl_c_note(&self) -> &'static str {
        let cleaned = self.contexts.iter().filter(|(_, p)| p.cleanup).count();
        match (cleaned, self.contexts.len()) {
            (0, 1) => "; `ssm-forward eks disconnect` removes the context",
            (0, _) => "; `ssm-forward eks disconnect` removes a context",
            (1, 1) => " and removes the context",
            (c, n) if c == n => " and removes the contexts",
            _ => " and removes the contexts with cleanup",
        }
    }
}

impl Hooks for ContextHooks<'_> {
    fn bound(&mut self, addresses: &[SocketAddr]) -> anyhow::Result<()> {
        for ((index, plan), written) in self.contexts.iter().zip(&mut self.written) {
            let port = addresses.get(*index).map_or(0, SocketAddr::port);
            plan.write(port)?;
            *written = true;
        }
        Ok(())
    }

    fn ready(&mut self) {
        if self.contexts.is_empty() {
            return;
        }
        if self.json {
            for (_, plan) in &self.contexts {
                output::next_step_json(&plan.context);
            }
        } else {
            let commands: String = self
                .contexts
                .iter()
                .map(|(_, plan)| format!("  kubectl --context {} get nodes\n", plan.context))
                .collect();
            println!(
                "Ready. In another terminal:\n{commands}(Ctrl-C here ends the connection{}.)",
                self.ctrl_c_note()
            );
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> ClusterInfo {
        cluster::sample("ABC.gr7.eu-west-1.eks.amazonaws.com")
    }

    fn token() -> TokenCommand {
        TokenCommand::new("ssm-forward".into(), "prod", "eu-west-1", None)
    }

    #[test]
    fn default_ports_are_stable_and_in_range() {
        let port = default_local_port("prod");
        assert!(port == 0 || DEFAULT_PORTS.contains(&port));
        assert_eq!(default_local_port("prod"), port);
        assert!(DEFAULT_PORTS.contains(&derived_local_port("prod")));
        assert_ne!(derived_local_port("prod"), derived_local_port("dev"));
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

    #[test]
    fn direct_mode_forwards_to_the_endpoint_and_names_the_forward_after_the_context() {
        let spec = ConnectSpec::new("prod");
        let plan = ConnectPlan::from_cluster(&spec, cluster(), "/k".into(), token(), 21000);
        assert_eq!(plan.context, "ssm-prod");
        assert_eq!(plan.planned.name, "ssm-prod");
        assert_eq!(
            plan.planned.remote(),
            "ABC.gr7.eu-west-1.eks.amazonaws.com:443"
        );
        assert_eq!(plan.planned.bind, "127.0.0.1:21000".parse().unwrap());
        assert_eq!(
            plan.planned.target,
            TargetSelector::EksCluster("prod".into())
        );
        let yaml = plan.entries(21000).to_yaml().unwrap();
        assert!(yaml.contains("server: https://127.0.0.1:21000"), "{yaml}");
        assert!(yaml.contains("tls-server-name: ABC.gr7"), "{yaml}");
    }

    #[test]
    fn proxy_mode_forwards_to_the_proxy_and_keeps_the_server_url() {
        let spec = ConnectSpec {
            name: Some("prod-api".into()),
            context: Some("prod".into()),
            via_proxy: Some(("10.100.37.12".into(), 8118)),
            use_context: true,
            cleanup: true,
            ..ConnectSpec::new("prod")
        };
        let plan = ConnectPlan::from_cluster(&spec, cluster(), "/k".into(), token(), 0);
        assert_eq!(plan.planned.name, "prod-api");
        assert_eq!(plan.context, "prod");
        assert_eq!(plan.planned.remote(), "10.100.37.12:8118");
        assert!(plan.via_proxy && plan.use_context && plan.cleanup);
        let yaml = plan.entries(8118).to_yaml().unwrap();
        assert!(
            yaml.contains("server: https://ABC.gr7.eu-west-1.eks.amazonaws.com"),
            "{yaml}"
        );
        assert!(yaml.contains("proxy-url: http://127.0.0.1:8118"), "{yaml}");
    }

    #[test]
    fn local_proxy_mode_allows_only_the_endpoint_and_sets_proxy_url() {
        let spec = ConnectSpec {
            via_local_proxy: true,
            ..ConnectSpec::new("prod")
        };
        let plan = ConnectPlan::from_cluster(&spec, cluster(), "/k".into(), token(), 0);
        let proxy = plan.planned.proxy.as_ref().expect("a local proxy");
        let endpoint = ssm_proxy_handshake::Destination::parse(
            "ABC.gr7.eu-west-1.eks.amazonaws.com:443",
            None,
        )
        .unwrap();
        assert!(proxy.rules.check(&endpoint).is_ok());
        let elsewhere = ssm_proxy_handshake::Destination::parse("10.0.0.1:443", None).unwrap();
        assert!(proxy.rules.check(&elsewhere).is_err(), "only the endpoint");
        assert!(plan.via_proxy);
        let yaml = plan.entries(8118).to_yaml().unwrap();
        assert!(yaml.contains("proxy-url: http://127.0.0.1:8118"), "{yaml}");
        assert!(
            yaml.contains("server: https://ABC.gr7.eu-west-1.eks.amazonaws.com"),
            "{yaml}"
        );
    }

    #[test]
    fn the_ready_note_follows_the_cleanup_settings() {
        let with = |cleanup: bool| {
            let spec = ConnectSpec {
                cleanup,
                ..ConnectSpec::new("prod")
            };
            ConnectPlan::from_cluster(&spec, cluster(), "/k".into(), token(), 1)
        };
        let (kept, removed) = (with(false), with(true));
        let note = |plans: Vec<&ConnectPlan>| {
            ContextHooks::new(plans.into_iter().enumerate().collect(), false).ctrl_c_note()
        };
        assert!(note(vec![&kept]).contains("eks disconnect"));
        assert_eq!(note(vec![&removed]), " and removes the context");
        assert_eq!(note(vec![&removed, &removed]), " and removes the contexts");
        assert!(note(vec![&kept, &removed]).contains("with cleanup"));
    }
}
