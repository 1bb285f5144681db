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
//! ```

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ssm_client::AwsOptions;
use thiserror::Error;

use crate::cli::parse_bind;
use crate::errors::Fatal;
use crate::targets::TargetSelector;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Forwards by name.
    #[serde(default)]
    pub forwards: BTreeMap<String, ForwardEntry>,
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
    /// Port to reach.
    pub remote_port: u16,
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
}

/// A validated entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedForward {
    /// The table's name.
    pub name: String,
    /// Which instance.
    pub target: TargetSelector,
    /// Host to reach from the target.
    pub remote_host: Option<String>,
    /// Port to reach.
    pub remote_port: u16,
    /// Listen address and port.
    pub bind: SocketAddr,
    /// AWS profile, region, endpoint (unset fields: the usual chain).
    pub aws: AwsOptions,
    /// StartSession reason.
    pub reason: Option<String>,
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
    file.forwards
        .into_iter()
        .map(|(name, entry)| {
            validate(&name, entry).map_err(|error| ConfigError::Entry {
                path: path.into(),
                name,
                error,
            })
        })
        .collect()
}

fn validate(name: &str, entry: ForwardEntry) -> Result<NamedForward, String> {
    let target = match (entry.target, entry.eks_cluster) {
        (Some(target), None) => target.parse()?,
        (None, Some(cluster)) if !cluster.is_empty() => TargetSelector::EksCluster(cluster),
        (None, Some(_)) => return Err("eks_cluster is empty".into()),
        (Some(_), Some(_)) => return Err("set either target or eks_cluster, not both".into()),
        (None, None) => return Err("set target or eks_cluster".into()),
    };
    let ip = match entry.bind.as_deref() {
        Some(text) => parse_bind(text)?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    Ok(NamedForward {
        name: name.to_owned(),
        target,
        remote_host: entry.remote_host.filter(|host| !host.is_empty()),
        remote_port: entry.remote_port,
        bind: SocketAddr::new(ip, entry.local_port.unwrap_or(entry.remote_port)),
        aws: AwsOptions {
            profile: entry.profile,
            region: entry.region,
            endpoint_url: entry.endpoint_url,
        },
        reason: entry.reason,
    })
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
    fn selection_keeps_order_and_names_unknowns() {
        let forwards = parse(SAMPLE, "f").unwrap();
        let names = ["privoxy".to_owned(), "db".to_owned()];
        let chosen = select(forwards.clone(), &names, Path::new("f")).unwrap();
        assert_eq!(chosen[0].name, "privoxy");
        let error = select(forwards, &["nope".into()], Path::new("f")).unwrap_err();
        assert!(error.to_string().contains("it has: db, privoxy"), "{error}");
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
