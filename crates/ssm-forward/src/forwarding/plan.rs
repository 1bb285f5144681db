//! From the command line or the configuration file to a list of planned
//! forwards: names, targets (still to be resolved), addresses, AWS
//! settings, and the `eks connect` settings of forwards that write a
//! kubeconfig context. Pure functions; nothing is bound or called here.

use std::net::SocketAddr;

use ssm_client::AwsOptions;

use crate::cli::RunArgs;
use crate::commands::forward;
use crate::config_file::NamedForward;
use crate::eks::connect_plan::ConnectSpec;
use crate::errors::Fatal;
use crate::targets::TargetSelector;

/// One forward to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Unique name (status lines, ready file).
    pub name: String,
    /// Which instance.
    pub target: TargetSelector,
    /// Host to reach from the target; `None`: the target itself.
    pub remote_host: Option<String>,
    /// Port to reach.
    pub remote_port: u16,
    /// Listen address.
    pub bind: SocketAddr,
    /// AWS profile, region, endpoint.
    pub aws: AwsOptions,
    /// StartSession reason.
    pub reason: Option<String>,
    /// Most local connections served at once.
    pub max_connections: usize,
    /// Most sessions to spread connections over (a proxy: per
    /// destination).
    pub sessions: usize,
    /// A local HTTP/SOCKS5 proxy instead of one remote port.
    pub proxy: Option<crate::local_proxy::ProxySpec>,
}

impl Planned {
    /// `host:port` as seen from the target (`localhost:port` for the
    /// target itself).
    pub fn remote(&self) -> String {
        if self.proxy.is_some() {
            return crate::local_proxy::REMOTE_LABEL.to_owned();
        }
        let host = self.remote_host.as_deref().unwrap_or("localhost");
        if host.contains(':') {
            format!("[{host}]:{}", self.remote_port)
        } else {
            format!("{host}:{}", self.remote_port)
        }
    }
}

/// The forwards the flags describe: `--remote-port` (if given) first,
/// then every `-L` in order.
pub fn from_flags(args: &forward::Args) -> Result<Vec<Planned>, Fatal> {
    if args.remote_port.is_none() && args.local_forward.is_empty() {
        return Err(Fatal::usage(
            "nothing to forward: give --remote-port (with --target or --eks-cluster), -L, \
             or use `ssm-forward up NAME` (see --help)",
        ));
    }
    let target = target_of(args.target.as_ref(), args.eks_cluster.as_deref())?;
    let planned = |remote_host: Option<String>, remote_port: u16, bind: SocketAddr| Planned {
        name: String::new(),
        target: target.clone(),
        remote_host,
        remote_port,
        bind,
        aws: args.run.aws.options(),
        reason: args.run.reason.clone(),
        max_connections: args.run.max_connections_or(None),
        sessions: args.run.sessions_or(None),
        proxy: None,
    };
    let mut forwards = Vec::new();
    if let Some(remote_port) = args.remote_port {
        let local = args.local_port.unwrap_or(remote_port);
        let bind = SocketAddr::new(args.bind, local);
        forwards.push(planned(args.remote_host.clone(), remote_port, bind));
    }
    for forward in &args.local_forward {
        let bind = forward.address(args.bind);
        forwards.push(planned(
            Some(forward.remote_host.clone()),
            forward.remote_port,
            bind,
        ));
    }
    name_by_remote(&mut forwards);
    Ok(forwards)
}

/// The target `--target` or `--eks-cluster` names (one of them is needed).
pub fn target_of(
    target: Option<&TargetSelector>,
    eks_cluster: Option<&str>,
) -> Result<TargetSelector, Fatal> {
    match (target, eks_cluster) {
        (Some(target), _) => Ok(target.clone()),
        (None, Some(cluster)) => Ok(TargetSelector::EksCluster(cluster.to_owned())),
        (None, None) => Err(Fatal::usage(
            "which instance? give --target (i-…, name:NAME, tag:KEY=VALUE) or --eks-cluster NAME",
        )),
    }
}

/// Names forwards after their remote `host:port`, made unique with `#2`,
/// `#3`, ….
fn name_by_remote(forwards: &mut [Planned]) {
    let mut taken: Vec<String> = Vec::new();
    for forward in forwards {
        let base = forward.remote();
        let mut name = base.clone();
        let mut n = 1;
        while taken.contains(&name) {
            n += 1;
            name = format!("{base}#{n}");
        }
        taken.push(name.clone());
        forward.name = name;
    }
}

/// Configuration-file forwards; `--profile`, `--region`,
/// `--endpoint-url` and `--reason` given to `up` override the file.
pub fn from_config(forwards: Vec<NamedForward>, run: &RunArgs) -> Vec<Planned> {
    forwards
        .into_iter()
        .map(|forward| Planned {
            aws: AwsOptions {
                profile: run.aws.profile.clone().or(forward.aws.profile),
                region: run.aws.region.clone().or(forward.aws.region),
                endpoint_url: run.aws.endpoint_url.clone().or(forward.aws.endpoint_url),
            },
            reason: run.reason.clone().or(forward.reason),
            max_connections: run.max_connections_or(forward.max_connections),
            sessions: run.sessions_or(forward.sessions),
            name: forward.name,
            target: forward.target,
            remote_host: forward.remote_host,
            remote_port: forward.remote_port,
            bind: forward.bind,
            proxy: forward.proxy,
        })
        .collect()
}

/// The `eks connect` settings of the configuration-file forwards with
/// `kubeconfig`, by index: `planned` is what [`from_config`] made of the
/// same `forwards` (so the command line's AWS overrides apply).
pub fn connect_specs(forwards: &[NamedForward], planned: &[Planned]) -> Vec<(usize, ConnectSpec)> {
    forwards
        .iter()
        .zip(planned)
        .enumerate()
        .filter_map(|(index, (forward, planned))| {
            let eks = forward.eks_context.as_ref()?;
            let spec = ConnectSpec {
                name: Some(planned.name.clone()),
                cluster: eks.cluster.clone(),
                context: eks.context.clone(),
                kubeconfig: eks.kubeconfig_path.clone(),
                bind: planned.bind.ip(),
                local_port: eks.local_port,
                via_proxy: eks.via_proxy.clone(),
                via_local_proxy: eks.via_local_proxy,
                use_context: eks.use_context,
                cleanup: eks.cleanup,
                aws: planned.aws.clone(),
                reason: planned.reason.clone(),
                max_connections: planned.max_connections,
                sessions: planned.sessions,
            };
            Some((index, spec))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser as _;

    fn flags(args: &[&str]) -> Result<Vec<Planned>, Fatal> {
        let cli = Cli::try_parse_from(std::iter::once("ssm-forward").chain(args.iter().copied()))
            .unwrap();
        from_flags(&cli.forward)
    }

    #[test]
    fn local_port_defaults_to_the_remote_port() {
        let forwards = flags(&[
            "--target",
            "i-1",
            "--remote-host",
            "privoxy.example.com",
            "--remote-port",
            "8118",
        ])
        .unwrap();
        assert_eq!(forwards.len(), 1);
        assert_eq!(forwards[0].bind, "127.0.0.1:8118".parse().unwrap());
        assert_eq!(forwards[0].name, "privoxy.example.com:8118");
        let own = flags(&[
            "--target",
            "i-1",
            "--remote-port",
            "22",
            "--local-port",
            "0",
        ])
        .unwrap();
        assert_eq!(own[0].remote_host, None);
        assert_eq!(own[0].name, "localhost:22");
        assert_eq!(own[0].bind.port(), 0);
    }

    #[test]
    fn every_dash_l_is_a_forward_with_a_unique_name() {
        let forwards = flags(&[
            "--eks-cluster",
            "demo",
            "--bind",
            "0.0.0.0",
            "-L",
            "0:echo:7",
            "-L",
            "127.0.0.2:0:echo:7",
        ])
        .unwrap();
        let names: Vec<_> = forwards.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["echo:7", "echo:7#2"]);
        assert_eq!(forwards[0].bind, "0.0.0.0:0".parse().unwrap());
        assert_eq!(forwards[1].bind, "127.0.0.2:0".parse().unwrap());
        assert_eq!(
            forwards[0].target,
            TargetSelector::EksCluster("demo".into())
        );
    }

    #[test]
    fn missing_pieces_are_usage_errors() {
        assert!(
            flags(&[])
                .unwrap_err()
                .message
                .contains("nothing to forward")
        );
        assert!(
            flags(&["-L", "1:h:2"])
                .unwrap_err()
                .message
                .contains("--target")
        );
    }

    #[test]
    fn command_line_overrides_the_file() {
        let forwards = crate::config_file::parse(
            "[forwards.db]\ntarget = \"i-1\"\nremote_port = 5432\nprofile = \"file\"\nregion = \"eu-west-1\"\n",
            "f",
        )
        .unwrap();
        let mut run = RunArgs::default();
        run.aws.profile = Some("flag".into());
        let planned = from_config(forwards, &run);
        assert_eq!(planned[0].aws.profile.as_deref(), Some("flag"));
        assert_eq!(planned[0].aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(planned[0].name, "db");
    }

    #[test]
    fn kubeconfig_forwards_get_connect_settings_with_the_overrides() {
        let forwards = crate::config_file::parse(
            "[forwards.db]\ntarget = \"i-1\"\nremote_port = 5432\n\
             [forwards.prod]\neks_cluster = \"prod\"\nkubeconfig = \"prod-ctx\"\n\
             local_port = 0\nbind = \"0.0.0.0\"\nvia_proxy = \"10.0.0.9:3128\"\n\
             cleanup = true\nprofile = \"file\"\n",
            "f",
        )
        .unwrap();
        let mut run = RunArgs::default();
        run.aws.region = Some("eu-west-1".into());
        let planned = from_config(forwards.clone(), &run);
        let specs = connect_specs(&forwards, &planned);
        assert_eq!(specs.len(), 1);
        let (index, spec) = &specs[0];
        assert_eq!(*index, 1);
        assert_eq!(spec.name.as_deref(), Some("prod"));
        assert_eq!(spec.context_name(), "prod-ctx");
        assert_eq!(spec.local_port, Some(0));
        assert_eq!(spec.bind, "0.0.0.0".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(spec.via_proxy, Some(("10.0.0.9".into(), 3128)));
        assert!(spec.cleanup && !spec.use_context);
        assert_eq!(spec.aws.profile.as_deref(), Some("file"));
        assert_eq!(spec.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(planned[1].remote(), "10.0.0.9:3128");
    }
}
