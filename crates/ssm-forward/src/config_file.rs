//! The configuration file of named forwards (`ssm-forward up NAME`).
//!
//! Location: `--config PATH`, else `$SSM_FORWARD_CONFIG`, else
//! `$XDG_CONFIG_HOME/ssm-forward/config.toml`, else
//! `~/.config/ssm-forward/config.toml`. Format (TOML, unknown keys are
//! errors):
//!
//! ```toml
//! [forwards.privoxy]
//! eks_cluster = "prod"               # or: target = "i-…" | "name:NAME" | "tag:KEY=VALUE"
//! remote_host = "privoxy.example.com" # omit to forward to the target itself
//! remote_port = 8118
//! local_port = 8118                  # default: remote_port; 0 = any free port
//! bind = "127.0.0.1"                 # default
//! profile = "prod"                   # region, endpoint_url, reason likewise
//! max_connections = 512              # default; beyond it new connections are closed
//! sessions = 4                       # default 1; sessions to spread connections over
//!
//! [forwards.prod]                    # `up prod` does what `eks connect prod` does
//! eks_cluster = "prod"
//! kubeconfig = true                  # or a context name; default ssm-CLUSTER
//! via_proxy = "10.100.37.12:8118"    # proxy mode; omit: the cluster endpoint:443
//! # via_local_proxy = true           # proxy mode through ssm-forward's own local proxy
//! kubeconfig_path = "~/.kube/prod"   # use_context = true, cleanup = true likewise
//! ```
//!
//! With `kubeconfig`, `remote_host` and `remote_port` are not given: the
//! forward goes to the cluster's endpoint (found by DescribeCluster when
//! `up` starts) or to `via_proxy`, and `local_port` defaults to the port
//! `eks connect` derives from the cluster name.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ssm_client::AwsOptions;
use thiserror::Error;

use crate::cli::parse_bind;
use crate::eks::connect_plan::{
    ENDPOINT_PORT, default_context, derived_local_port, parse_host_port,
};
use crate::errors::Fatal;
use crate::targets::TargetSelector;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Forwards by name.
    #[serde(default)]
    pub forwards: BTreeMap<String, ForwardEntry>,
    /// Local HTTP/SOCKS5 proxies by name (`ssm-forward proxy`'s keys;
    /// see [`crate::local_proxy::config`]).
    #[serde(default)]
    pub proxies: BTreeMap<String, crate::local_proxy::config::ProxyEntry>,
}

/// One `[forwards.NAME]` table, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardEntry {
    /// `i-…`, `mi-…`, `name:NAME` or `tag:KEY=VALUE`.
    pub target: Option<String>,
    /// An EKS cluster whose online node is the target.
    pub eks_cluster: Option<String>,
    /// Host to reach from the target; absent: the target itself.
    pub remote_host: Option<String>,
    /// Port to reach (required unless `kubeconfig` is set).
    pub remote_port: Option<u16>,
    /// Write a kubeconfig context for the EKS cluster (`true`, or the
    /// context's name), as `eks connect` does.
    pub kubeconfig: Option<KubeconfigKey>,
    /// With `kubeconfig`: the kubeconfig file to write.
    pub kubeconfig_path: Option<PathBuf>,
    /// With `kubeconfig`: proxy mode through this `HOST:PORT` in the VPC.
    pub via_proxy: Option<String>,
    /// With `kubeconfig`: proxy mode through ssm-forward's own local
    /// proxy (no proxy in the VPC).
    pub via_local_proxy: Option<bool>,
    /// With `kubeconfig`: make the context current.
    pub use_context: Option<bool>,
    /// With `kubeconfig`: take the context back out when `up` stops.
    pub cleanup: Option<bool>,
    /// Local port; default `remote_port`.
    pub local_port: Option<u16>,
    /// Listen address; default 127.0.0.1.
    pub bind: Option<String>,
    /// AWS profile.
    pub profile: Option<String>,
    /// AWS region.
    pub region: Option<String>,
    /// SSM endpoint override.
    pub endpoint_url: Option<String>,
    /// StartSession reason.
    pub reason: Option<String>,
    /// Most local connections served at once (default 512).
    pub max_connections: Option<u32>,
    /// Most sessions to spread connections over (default 1).
    pub sessions: Option<u32>,
}

/// `kubeconfig = true | false | "CONTEXT"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum KubeconfigKey {
    /// `true`: the default context name (`ssm-CLUSTER`); `false`: none.
    Enabled(bool),
    /// The context's name.
    Context(String),
}

/// What `kubeconfig = …` asks for: the settings of `eks connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EksContext {
    /// The EKS cluster.
    pub cluster: String,
    /// The context's name; `None`: `ssm-CLUSTER`.
    pub context: Option<String>,
    /// The kubeconfig file; `None`: `$KUBECONFIG`'s first or `~/.kube/config`.
    pub kubeconfig_path: Option<PathBuf>,
    /// Proxy mode's proxy; `None`: direct mode (the cluster endpoint).
    pub via_proxy: Option<(String, u16)>,
    /// Proxy mode through ssm-forward's own local proxy.
    pub via_local_proxy: bool,
    /// The `local_port` given; `None`: the port derived from the cluster
    /// name (a free one if it is taken).
    pub local_port: Option<u16>,
    /// Make the context current.
    pub use_context: bool,
    /// Take the context out when `up` stops.
    pub cleanup: bool,
}

/// A validated entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedForward {
    /// The table's name.
    pub name: String,
    /// Which instance.
    pub target: TargetSelector,
    /// Host to reach from the target (with a direct-mode `eks_context`:
    /// `None` until `up` asks DescribeCluster for the endpoint).
    pub remote_host: Option<String>,
    /// Port to reach.
    pub remote_port: u16,
    /// Listen address and port.
    pub bind: SocketAddr,
    /// AWS profile, region, endpoint (unset fields: the usual chain).
    pub aws: AwsOptions,
    /// StartSession reason.
    pub reason: Option<String>,
    /// Most local connections served at once; `None`: the default.
    pub max_connections: Option<u32>,
    /// Most sessions to spread connections over; `None`: the default (1).
    pub sessions: Option<u32>,
    /// `kubeconfig = …`: a context is written for this forward.
    pub eks_context: Option<EksContext>,
    /// A `[proxies.NAME]` table: a local HTTP/SOCKS5 proxy.
    pub proxy: Option<crate::local_proxy::ProxySpec>,
}

impl NamedForward {
    /// What `list` shows as the remote end: `host:port`, or for a forward
    /// with a context `eks:CLUSTER endpoint:443` / the proxy, and the
    /// context's name.
    pub fn remote_label(&self) -> String {
        if self.proxy.is_some() {
            return crate::local_proxy::REMOTE_LABEL.to_owned();
        }
        let remote = match (&self.eks_context, &self.remote_host) {
            (Some(eks), None) => format!("eks:{} endpoint:{}", eks.cluster, self.remote_port),
            (_, Some(host)) if host.contains(':') => format!("[{host}]:{}", self.remote_port),
            (_, Some(host)) => format!("{host}:{}", self.remote_port),
            (None, None) => format!("localhost:{}", self.remote_port),
        };
        match &self.eks_context {
            Some(eks) => format!(
                "{remote} (context {})",
                eks.context
                    .clone()
                    .unwrap_or_else(|| default_context(&eks.cluster))
            ),
            None => remote,
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// No path: neither XDG_CONFIG_HOME nor HOME is set.
    #[error("no configuration file location: set --config, SSM_FORWARD_CONFIG or HOME")]
    NoLocation,
    /// The file does not exist.
    #[error(
        "{path} does not exist: create it (see `ssm-forward list --help` and docs/ssm-forward.md) or pass --config"
    )]
    Missing {
        /// The path tried.
        path: String,
    },
    /// The file cannot be read.
    #[error("cannot read {path}: {error}")]
    Unreadable {
        /// The path.
        path: String,
        /// The I/O error.
        error: String,
    },
    /// Not valid TOML or not the expected shape.
    #[error("{path} is not a valid configuration: {error}")]
    Syntax {
        /// The path.
        path: String,
        /// What the parser said (with line and column).
        error: String,
    },
    /// An entry is inconsistent.
    #[error("{path}: forward {name:?}: {error}")]
    Entry {
        /// The path.
        path: String,
        /// The forward's name.
        name: String,
        /// What is wrong.
        error: String,
    },
    /// `up` named a forward that is not in the file.
    #[error("{path} has no forward named {name:?} (it has: {known})")]
    UnknownName {
        /// The path.
        path: String,
        /// The missing name.
        name: String,
        /// The names it has.
        known: String,
    },
}

impl From<ConfigError> for Fatal {
    /// Every configuration problem is a usage error (exit status 2).
    fn from(error: ConfigError) -> Self {
        Self::usage(error.to_string())
    }
}

/// The default location from `XDG_CONFIG_HOME` and `HOME`.
pub fn default_path(xdg_config_home: Option<&OsStr>, home: Option<&OsStr>) -> Option<PathBuf> {
    let base = match xdg_config_home.filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(home.filter(|dir| !dir.is_empty())?).join(".config"),
    };
    Some(base.join("ssm-forward").join("config.toml"))
}

/// The file to use: the explicit one, else the default location.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME");
    let home = std::env::var_os("HOME");
    default_path(xdg.as_deref(), home.as_deref()).ok_or(ConfigError::NoLocation)
}

/// Reads and validates the file at `path`.
pub fn load(path: &Path) -> Result<Vec<NamedForward>, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => ConfigError::Missing {
            path: shown.clone(),
        },
        _ => ConfigError::Unreadable {
            path: shown.clone(),
            error: error.to_string(),
        },
    })?;
    parse(&text, &shown)
}

/// Parses and validates a configuration; `path` is only for messages.
pub fn parse(text: &str, path: &str) -> Result<Vec<NamedForward>, ConfigError> {
    let file: ConfigFile = toml::from_str(text).map_err(|error| ConfigError::Syntax {
        path: path.into(),
        error: error.to_string().trim_end().to_owned(),
    })?;
    if let Some(name) = file
        .proxies
        .keys()
        .find(|name| file.forwards.contains_key(*name))
    {
        return Err(ConfigError::Entry {
            path: path.into(),
            name: name.clone(),
            error: "the name is taken by both a forward and a proxy; `up NAME` needs one".into(),
        });
    }
    let forwards = file
        .forwards
        .into_iter()
        .map(|(name, entry)| (validate(&name, entry), name));
    let proxies = file
        .proxies
        .into_iter()
        .map(|(name, entry)| (crate::local_proxy::config::validate(&name, entry), name));
    let mut all = forwards
        .chain(proxies)
        .map(|(checked, name)| {
            checked.map_err(|error| ConfigError::Entry {
                path: path.into(),
                name,
                error,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

fn validate(name: &str, entry: ForwardEntry) -> Result<NamedForward, String> {
    let target = match (&entry.target, &entry.eks_cluster) {
        (Some(target), None) => target.parse()?,
        (None, Some(cluster)) if !cluster.is_empty() => TargetSelector::EksCluster(cluster.clone()),
        (None, Some(_)) => return Err("eks_cluster is empty".into()),
        (Some(_), Some(_)) => return Err("set either target or eks_cluster, not both".into()),
        (None, None) => return Err("set target or eks_cluster".into()),
    };
    let ip = match entry.bind.as_deref() {
        Some(text) => parse_bind(text)?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let eks_context = eks_context(&entry, ip)?;
    let (remote_host, remote_port, local_port) = match &eks_context {
        Some(eks) => {
            let local = eks
                .local_port
                .unwrap_or_else(|| derived_local_port(&eks.cluster));
            match &eks.via_proxy {
                Some((host, port)) => (Some(host.clone()), *port, local),
                None => (None, ENDPOINT_PORT, local),
            }
        }
        None => {
            let remote_port = entry
                .remote_port
                .ok_or("set remote_port (the port to reach from the target)")?;
            let host = entry.remote_host.clone().filter(|host| !host.is_empty());
            (host, remote_port, entry.local_port.unwrap_or(remote_port))
        }
    };
    Ok(NamedForward {
        name: name.to_owned(),
        target,
        remote_host,
        remote_port,
        bind: SocketAddr::new(ip, local_port),
        aws: AwsOptions {
            profile: entry.profile,
            region: entry.region,
            endpoint_url: entry.endpoint_url,
        },
        reason: entry.reason,
        max_connections: match entry.max_connections {
            Some(0) => return Err("max_connections must be at least 1".into()),
            other => other,
        },
        sessions: match entry.sessions {
            Some(n) if n == 0 || n > crate::forwarding::supervisor::MAX_SESSIONS => {
                return Err(format!(
                    "sessions must be 1 to {}",
                    crate::forwarding::supervisor::MAX_SESSIONS
                ));
            }
            other => other,
        },
        eks_context,
        proxy: None,
    })
}

/// The `eks connect` settings of an entry with `kubeconfig`, checked
/// (`None` without it, when none of its keys may appear).
fn eks_context(entry: &ForwardEntry, bind: IpAddr) -> Result<Option<EksContext>, String> {
    let context = match &entry.kubeconfig {
        None | Some(KubeconfigKey::Enabled(false)) => {
            return no_eks_keys(entry).map(|()| None);
        }
        Some(KubeconfigKey::Enabled(true)) => None,
        Some(KubeconfigKey::Context(name)) if name.is_empty() => {
            return Err(
                "kubeconfig: the context name is empty (or write kubeconfig = true)".into(),
            );
        }
        Some(KubeconfigKey::Context(name)) => Some(name.clone()),
    };
    let Some(cluster) = entry.eks_cluster.clone() else {
        return Err(
            "kubeconfig needs eks_cluster: the context is for an EKS cluster's API server".into(),
        );
    };
    if entry.remote_host.is_some() || entry.remote_port.is_some() {
        return Err(
            "remote_host and remote_port do not go with kubeconfig: the forward goes to \
                    the cluster's endpoint (port 443), or set via_proxy = \"HOST:PORT\" for a proxy"
                .into(),
        );
    }
    if !(bind.is_unspecified() || bind == IpAddr::V4(Ipv4Addr::LOCALHOST)) {
        return Err(format!(
            "bind = {bind:?} does not go with kubeconfig: the context points kubectl at \
             127.0.0.1 (bind 127.0.0.1 or 0.0.0.0)"
        ));
    }
    let via_proxy = match &entry.via_proxy {
        Some(text) => Some(parse_host_port(text).map_err(|error| format!("via_proxy: {error}"))?),
        None => None,
    };
    let via_local_proxy = entry.via_local_proxy.unwrap_or(false);
    if via_local_proxy && via_proxy.is_some() {
        return Err("set either via_proxy or via_local_proxy, not both".into());
    }
    Ok(Some(EksContext {
        cluster,
        context,
        kubeconfig_path: entry.kubeconfig_path.clone(),
        via_proxy,
        via_local_proxy,
        local_port: entry.local_port,
        use_context: entry.use_context.unwrap_or(false),
        cleanup: entry.cleanup.unwrap_or(false),
    }))
}

/// Without `kubeconfig`, its companion keys are mistakes.
fn no_eks_keys(entry: &ForwardEntry) -> Result<(), String> {
    let present = [
        ("kubeconfig_path", entry.kubeconfig_path.is_some()),
        ("via_proxy", entry.via_proxy.is_some()),
        ("via_local_proxy", entry.via_local_proxy.is_some()),
        ("use_context", entry.use_context.is_some()),
        ("cleanup", entry.cleanup.is_some()),
    ];
    match present.iter().find(|(_, set)| *set) {
        Some((key, _)) => Err(format!(
            "{key} only goes with kubeconfig = true (and eks_cluster)"
        )),
        None => Ok(()),
    }
}

/// The forwards `names` asks for, in that order (all of them if empty).
pub fn select(
    forwards: Vec<NamedForward>,
    names: &[String],
    path: &Path,
) -> Result<Vec<NamedForward>, ConfigError> {
    if names.is_empty() {
        return Ok(forwards);
    }
    names
        .iter()
        .map(|name| {
            forwards
                .iter()
                .find(|f| &f.name == name)
                .cloned()
                .ok_or_else(|| ConfigError::UnknownName {
                    path: path.display().to_string(),
                    name: name.clone(),
                    known: forwards
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
        [forwards.privoxy]
        eks_cluster = "prod"
        remote_host = "privoxy.example.com"
        remote_port = 8118

        [forwards.db]
        target = "name:bastion"
        remote_host = "db.internal"
        remote_port = 5432
        local_port = 15432
        bind = "0.0.0.0"
        profile = "dev"
        region = "eu-west-1"
        reason = "debugging"
    "#;

    #[test]
    fn sample_parses() {
        let forwards = parse(SAMPLE, "config.toml").unwrap();
        let names: Vec<_> = forwards.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["db", "privoxy"]);
        let privoxy = &forwards[1];
        assert_eq!(privoxy.target, TargetSelector::EksCluster("prod".into()));
        assert_eq!(privoxy.bind, "127.0.0.1:8118".parse().unwrap());
        let db = &forwards[0];
        assert_eq!(db.bind, "0.0.0.0:15432".parse().unwrap());
        assert_eq!(db.aws.profile.as_deref(), Some("dev"));
        assert_eq!(db.reason.as_deref(), Some("debugging"));
    }

    #[test]
    fn mistakes_are_named() {
        let both = "[forwards.x]\ntarget = \"i-1\"\neks_cluster = \"c\"\nremote_port = 1\n";
        assert!(
            parse(both, "f")
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
        let neither = "[forwards.x]\nremote_port = 1\n";
        assert!(
            parse(neither, "f")
                .unwrap_err()
                .to_string()
                .contains("\"x\": set target")
        );
        let typo = "[forwards.x]\ntarget = \"i-1\"\nremote_prot = 1\n";
        assert!(
            parse(typo, "f")
                .unwrap_err()
                .to_string()
                .contains("remote_prot")
        );
        let bad_target = "[forwards.x]\ntarget = \"bastion\"\nremote_port = 1\n";
        assert!(
            parse(bad_target, "f")
                .unwrap_err()
                .to_string()
                .contains("name:bastion")
        );
    }

    #[test]
    fn sessions_is_one_to_the_maximum() {
        let entry =
            |n: u32| format!("[forwards.x]\ntarget = \"i-1\"\nremote_port = 1\nsessions = {n}\n");
        assert_eq!(parse(&entry(4), "f").unwrap()[0].sessions, Some(4));
        assert_eq!(parse(SAMPLE, "f").unwrap()[0].sessions, None);
        assert!(entry_error(&entry(0)).contains("sessions must be 1 to 32"));
        assert!(entry_error(&entry(33)).contains("sessions must be 1 to 32"));
    }

    #[test]
    fn selection_keeps_order_and_names_unknowns() {
        let forwards = parse(SAMPLE, "f").unwrap();
        let names = ["privoxy".to_owned(), "db".to_owned()];
        let chosen = select(forwards.clone(), &names, Path::new("f")).unwrap();
        assert_eq!(chosen[0].name, "privoxy");
        let error = select(forwards, &["nope".into()], Path::new("f")).unwrap_err();
        assert!(error.to_string().contains("it has: db, privoxy"), "{error}");
    }

    fn entry_error(text: &str) -> String {
        parse(text, "f").unwrap_err().to_string()
    }

    #[test]
    fn kubeconfig_makes_the_remote_the_cluster_endpoint() {
        let forwards = parse(
            "[forwards.prod]\neks_cluster = \"prod\"\nkubeconfig = true\n\
             kubeconfig_path = \"/k/config\"\nuse_context = true\n",
            "f",
        )
        .unwrap();
        let prod = &forwards[0];
        let eks = prod.eks_context.as_ref().unwrap();
        assert_eq!(eks.cluster, "prod");
        assert_eq!(eks.context, None);
        assert_eq!(eks.kubeconfig_path.as_deref(), Some(Path::new("/k/config")));
        assert_eq!(eks.via_proxy, None);
        assert!(eks.use_context && !eks.cleanup);
        assert_eq!(eks.local_port, None);
        assert_eq!((prod.remote_host.as_deref(), prod.remote_port), (None, 443));
        assert_eq!(prod.bind.port(), derived_local_port("prod"));
        assert_eq!(
            prod.remote_label(),
            "eks:prod endpoint:443 (context ssm-prod)"
        );
    }

    #[test]
    fn kubeconfig_with_a_context_name_and_a_proxy() {
        let forwards = parse(
            "[forwards.p]\neks_cluster = \"prod\"\nkubeconfig = \"prod\"\n\
             via_proxy = \"10.100.37.12:8118\"\nlocal_port = 8118\ncleanup = true\n",
            "f",
        )
        .unwrap();
        let p = &forwards[0];
        let eks = p.eks_context.as_ref().unwrap();
        assert_eq!(eks.context.as_deref(), Some("prod"));
        assert_eq!(eks.via_proxy, Some(("10.100.37.12".into(), 8118)));
        assert_eq!(eks.local_port, Some(8118));
        assert!(eks.cleanup);
        assert_eq!(p.remote_host.as_deref(), Some("10.100.37.12"));
        assert_eq!(p.bind, "127.0.0.1:8118".parse().unwrap());
        assert_eq!(p.remote_label(), "10.100.37.12:8118 (context prod)");
    }

    #[test]
    fn kubeconfig_false_is_a_plain_forward() {
        let forwards = parse(
            "[forwards.x]\neks_cluster = \"c\"\nkubeconfig = false\nremote_port = 8118\n",
            "f",
        )
        .unwrap();
        assert_eq!(forwards[0].eks_context, None);
        assert_eq!(forwards[0].remote_label(), "localhost:8118");
    }

    #[test]
    fn kubeconfig_mistakes_are_named() {
        let without_cluster = "[forwards.x]\ntarget = \"i-1\"\nkubeconfig = true\n";
        assert!(
            entry_error(without_cluster).contains("kubeconfig needs eks_cluster"),
            "{}",
            entry_error(without_cluster)
        );
        let with_remote =
            "[forwards.x]\neks_cluster = \"c\"\nkubeconfig = true\nremote_port = 443\n";
        assert!(entry_error(with_remote).contains("via_proxy"));
        let empty_context = "[forwards.x]\neks_cluster = \"c\"\nkubeconfig = \"\"\n";
        assert!(entry_error(empty_context).contains("context name is empty"));
        let bad_proxy =
            "[forwards.x]\neks_cluster = \"c\"\nkubeconfig = true\nvia_proxy = \"privoxy\"\n";
        assert!(entry_error(bad_proxy).contains("via_proxy: \"privoxy\": write HOST:PORT"));
        let other_bind =
            "[forwards.x]\neks_cluster = \"c\"\nkubeconfig = true\nbind = \"10.0.0.1\"\n";
        assert!(entry_error(other_bind).contains("127.0.0.1 or 0.0.0.0"));
        let not_a_bool = "[forwards.x]\neks_cluster = \"c\"\nkubeconfig = 1\n";
        assert!(entry_error(not_a_bool).contains("not a valid configuration"));
    }

    #[test]
    fn eks_keys_without_kubeconfig_and_a_missing_remote_port_are_errors() {
        for key in [
            "cleanup = true",
            "use_context = false",
            "via_proxy = \"h:1\"",
            "kubeconfig_path = \"/k\"",
        ] {
            let text = format!("[forwards.x]\neks_cluster = \"c\"\nremote_port = 1\n{key}\n");
            let error = entry_error(&text);
            let name = key.split(' ').next().unwrap();
            assert!(
                error.contains(&format!("{name} only goes with kubeconfig")),
                "{error}"
            );
        }
        let no_port = "[forwards.x]\neks_cluster = \"c\"\nremote_host = \"h\"\n";
        assert!(entry_error(no_port).contains("\"x\": set remote_port"));
    }

    #[test]
    fn default_location_follows_xdg() {
        let xdg = default_path(Some(OsStr::new("/x")), Some(OsStr::new("/home/u")));
        assert_eq!(xdg.unwrap(), Path::new("/x/ssm-forward/config.toml"));
        let home = default_path(Some(OsStr::new("")), Some(OsStr::new("/home/u")));
        assert_eq!(
            home.unwrap(),
            Path::new("/home/u/.config/ssm-forward/config.toml")
        );
        assert_eq!(default_path(None, None), None);
    }
}
