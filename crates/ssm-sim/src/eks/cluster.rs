//! The EKS clusters the simulator serves, as configured: the
//! `[[clusters]]` tables of the fleet file and their builder for tests.
//! Nodes belong to a cluster through their `eks:cluster-name` tag.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::instance::InstanceConfig;

/// The tag tying an instance to its EKS cluster, as EKS managed node
/// groups set it.
pub const CLUSTER_NAME_TAG: &str = "eks:cluster-name";

/// The CA certificate served for clusters configured without one: a fixed
/// self-signed `CN=kubernetes` certificate (P-256, valid until 2126) whose
/// private key was not kept. Configure `ca_pem` or `ca_file` to talk TLS
/// to a stand-in API server.
pub const SIM_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBkDCCATegAwIBAgIUQ+0197P/uVcztYiy5d1zc4+1MGUwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa3ViZXJuZXRlczAgFw0yNjEyMDMwNzE3NTVaGA8yMTI2MTEw
OTA3MTc1NVowFTETMBEGA1UEAwwKa3ViZXJuZXRlczBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABCVJyy+Zr6A5BgUhzVc8q9sAg29/LQgcwHYKTTl8P8cSZPwBEA49
eNk//299skYsbwjR1kTkOD5YXdkQ1GMGbnOjYzBhMB0GA1UdDgQWBBRlBiAa7Blb
KssCfMbb510h/UAWxTAfBgNVHSMEGDAWgBRlBiAa7BlbKssCfMbb510h/UAWxTAP
BgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICpDAKBggqhkjOPQQDAgNHADBE
AiBquL6LA0efXzMYgmGKDi1GNLsJdzV1JXw9beBCigSczgIgI8I9x6dUF/4aFMF9
H3E7J0b8O8ptBka6Co7kx/0ypEg=
-----END CERTIFICATE-----
";

/// A cluster's lifecycle state, spelled as the EKS API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    /// Being created: no endpoint and no CA data yet.
    Creating,
    /// Serving.
    Active,
    /// Being deleted.
    Deleting,
    /// Creation or an update failed.
    Failed,
    /// An update is in progress; the endpoint keeps serving.
    Updating,
    /// A registered (connected) cluster not yet connected: no endpoint.
    Pending,
}

impl ClusterStatus {
    /// False while the cluster has no API server endpoint to report.
    pub fn has_endpoint(self) -> bool {
        !matches!(self, Self::Creating | Self::Pending)
    }
}

/// One EKS cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster name (`eks:cluster-name` tags refer to it).
    pub name: String,
    /// Host name of the API server endpoint (reported as
    /// `https://HOST`); derived from the name and region when absent, in
    /// the real `<32 hex>.gr7.<region>.eks.amazonaws.com` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_host: Option<String>,
    /// The cluster CA certificate, PEM (at most one of `ca_pem`, `ca_file`;
    /// neither means [`SIM_CA_PEM`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// A file holding the cluster CA certificate, PEM; read when the
    /// simulator starts (the binary resolves it against the config file's
    /// directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Lifecycle state.
    #[serde(default = "default_status")]
    pub status: ClusterStatus,
    /// Whether the endpoint is reachable from the internet.
    #[serde(default = "default_true")]
    pub endpoint_public_access: bool,
    /// Whether the endpoint is reachable from inside the VPC.
    #[serde(default)]
    pub endpoint_private_access: bool,
    /// CIDR blocks allowed to reach the public endpoint.
    #[serde(default = "default_public_access_cidrs")]
    pub public_access_cidrs: Vec<String>,
    /// Kubernetes version (`1.33`).
    #[serde(default = "default_version")]
    pub version: String,
    /// EKS platform version (`eks.9`).
    #[serde(default = "default_platform_version")]
    pub platform_version: String,
    /// `API`, `API_AND_CONFIG_MAP` or `CONFIG_MAP`.
    #[serde(default = "default_authentication_mode")]
    pub authentication_mode: String,
    /// The cluster VPC.
    #[serde(default = "default_vpc_id")]
    pub vpc_id: String,
    /// The cluster subnets.
    #[serde(default = "default_subnet_ids")]
    pub subnet_ids: Vec<String>,
}

fn default_status() -> ClusterStatus {
    ClusterStatus::Active
}

fn default_true() -> bool {
    true
}

fn default_public_access_cidrs() -> Vec<String> {
    vec!["0.0.0.0/0".into()]
}

fn default_version() -> String {
    "1.33".into()
}

fn default_platform_version() -> String {
    "eks.9".into()
}

fn default_authentication_mode() -> String {
    "API_AND_CONFIG_MAP".into()
}

fn default_vpc_id() -> String {
    "vpc-0sim0000000000001".into()
}

fn default_subnet_ids() -> Vec<String> {
    vec![
        "subnet-0sim000000000000a".into(),
        "subnet-0sim000000000000b".into(),
    ]
}

/// Authentication modes the EKS API knows.
const AUTHENTICATION_MODES: &[&str] = &["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"];
/// Longest cluster name EKS accepts.
const MAX_NAME_LEN: usize = 100;

/// A cluster configuration the simulator cannot serve.
#[derive(Debug, Error)]
pub enum ClusterConfigError {
    /// Two clusters share a name: rename one.
    #[error("cluster {0}: configured twice")]
    Duplicate(String),
    /// The name breaks the EKS naming rule: use letters, digits, `-` and
    /// `_`, starting with a letter or digit, at most 100 characters.
    #[error("cluster {0:?}: not a valid EKS cluster name (letters, digits, - and _, at most 100)")]
    BadName(String),
    /// A value is out of its domain: fix the named key.
    #[error("cluster {cluster}: {message}")]
    Invalid {
        /// The cluster.
        cluster: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// `ca_file` could not be read: fix the path or its permissions.
    #[error("cluster {cluster}: reading ca_file {path}: {source}")]
    CaFile {
        /// The cluster.
        cluster: String,
        /// The file.
        path: String,
        /// Why reading failed.
        source: std::io::Error,
    },
}

impl ClusterConfig {
    /// An `ACTIVE` cluster with a public endpoint, the derived endpoint
    /// host, the built-in CA and the defaults of every other key.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            endpoint_host: None,
            ca_pem: None,
            ca_file: None,
            status: default_status(),
            endpoint_public_access: true,
            endpoint_private_access: false,
            public_access_cidrs: default_public_access_cidrs(),
            version: default_version(),
            platform_version: default_platform_version(),
            authentication_mode: default_authentication_mode(),
            vpc_id: default_vpc_id(),
            subnet_ids: default_subnet_ids(),
        }
    }

    /// Sets the endpoint host name.
    #[must_use]
    pub fn with_endpoint_host(mut self, host: &str) -> Self {
        self.endpoint_host = Some(host.into());
        self
    }

    /// Sets the CA certificate (PEM).
    #[must_use]
    pub fn with_ca_pem(mut self, pem: &str) -> Self {
        self.ca_pem = Some(pem.into());
        self.ca_file = None;
        self
    }

    /// Sets the lifecycle state.
    #[must_use]
    pub fn with_status(mut self, status: ClusterStatus) -> Self {
        self.status = status;
        self
    }

    /// Sets public and private endpoint access.
    #[must_use]
    pub fn with_access(mut self, public: bool, private: bool) -> Self {
        self.endpoint_public_access = public;
        self.endpoint_private_access = private;
        self
    }

    /// Sets the Kubernetes version.
    #[must_use]
    pub fn with_version(mut self, version: &str) -> Self {
        self.version = version.into();
        self
    }

    /// An online instance tagged as a node of this cluster (`Name`,
    /// `eks:cluster-name`, `kubernetes.io/cluster/NAME`).
    pub fn node(&self, id: &str) -> InstanceConfig {
        let owned = format!("kubernetes.io/cluster/{}", self.name);
        let name = format!("{}-node", self.name);
        InstanceConfig::new(
            id,
            &[
                ("Name", &name),
                (CLUSTER_NAME_TAG, &self.name),
                (&owned, "owned"),
            ],
        )
    }

    /// The instances of `fleet` tagged as nodes of this cluster.
    pub fn nodes<'a>(
        &'a self,
        fleet: &'a [InstanceConfig],
    ) -> impl Iterator<Item = &'a InstanceConfig> + 'a {
        fleet
            .iter()
            .filter(|instance| instance.tags.get(CLUSTER_NAME_TAG) == Some(&self.name))
    }

    /// The endpoint host: the configured one or the derived one.
    pub fn endpoint_host(&self, region: &str) -> String {
        match &self.endpoint_host {
            Some(host) => host.clone(),
            None => format!("{}.gr7.{region}.eks.amazonaws.com", name_digest(&self.name)),
        }
    }

    /// The CA certificate (PEM) served for this cluster.
    pub fn ca_pem(&self) -> &str {
        self.ca_pem.as_deref().unwrap_or(SIM_CA_PEM)
    }

    /// Checks the values serde cannot (name, host, CA, mode).
    fn check(&self) -> Result<(), ClusterConfigError> {
        if !is_valid_name(&self.name) {
            return Err(ClusterConfigError::BadName(self.name.clone()));
        }
        let invalid = |message: String| ClusterConfigError::Invalid {
            cluster: self.name.clone(),
            message,
        };
        if let Some(host) = &self.endpoint_host
            && !is_host_with_optional_port(host)
        {
            return Err(invalid(format!(
                "endpoint_host {host:?} must be a host name, optionally with :PORT for a \
                 stand-in API server not on 443 (no scheme or path)"
            )));
        }
        if self.ca_pem.is_some() && self.ca_file.is_some() {
            return Err(invalid("set ca_pem or ca_file, not both".into()));
        }
        if let Some(pem) = &self.ca_pem
            && !pem.contains("-----BEGIN CERTIFICATE-----")
        {
            return Err(invalid("the CA is not a PEM certificate".into()));
        }
        if !AUTHENTICATION_MODES.contains(&self.authentication_mode.as_str()) {
            return Err(invalid(format!(
                "authentication_mode {:?} is not one of {}",
                self.authentication_mode,
                AUTHENTICATION_MODES.join(", ")
            )));
        }
        Ok(())
    }
}

/// Reads every `ca_file` into `ca_pem` and checks the clusters: unique
/// valid names, bare endpoint hosts, PEM certificates. Idempotent.
pub fn prepare_clusters(clusters: &mut [ClusterConfig]) -> Result<(), ClusterConfigError> {
    for cluster in clusters.iter_mut() {
        if cluster.ca_pem.is_none()
            && let Some(path) = cluster.ca_file.take()
        {
            let pem =
                std::fs::read_to_string(&path).map_err(|source| ClusterConfigError::CaFile {
                    cluster: cluster.name.clone(),
                    path: path.display().to_string(),
                    source,
                })?;
            cluster.ca_pem = Some(pem);
        }
        cluster.check()?;
    }
    let mut names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(ClusterConfigError::Duplicate(pair[0].to_owned()));
    }
    Ok(())
}

/// The built-in clusters: `demo`, whose nodes are in the built-in fleet.
pub fn default_clusters() -> Vec<ClusterConfig> {
    vec![ClusterConfig::new("demo")]
}

/// `HOST` or `HOST:PORT`: real endpoints are bare hosts on 443; a port
/// lets a test point the endpoint at a stand-in API server elsewhere.
fn is_host_with_optional_port(text: &str) -> bool {
    let (host, port) = text.split_once(':').unwrap_or((text, "443"));
    !host.is_empty() && !host.contains(['/', ' ']) && port.parse::<u16>().is_ok_and(|p| p > 0)
}

/// EKS names: `^[0-9A-Za-z][A-Za-z0-9\-_]*`, 1 to 100 characters.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= MAX_NAME_LEN
}

/// 32 upper-case hex digits standing for the random part of real
/// endpoint hosts, stable per name (two FNV-1a passes).
pub(crate) fn name_digest(name: &str) -> String {
    let fnv = |seed: u64| {
        name.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "{:016X}{:016X}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_endpoint_hosts_look_real_and_are_stable() {
        let host = ClusterConfig::new("demo").endpoint_host("eu-west-1");
        let (digest, rest) = host.split_once('.').unwrap();
        assert_eq!(rest, "gr7.eu-west-1.eks.amazonaws.com");
        assert_eq!(digest.len(), 32);
        assert!(
            digest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
        assert_eq!(host, ClusterConfig::new("demo").endpoint_host("eu-west-1"));
        assert_ne!(host, ClusterConfig::new("prod").endpoint_host("eu-west-1"));
        let custom = ClusterConfig::new("demo").with_endpoint_host("k8s.example");
        assert_eq!(custom.endpoint_host("eu-west-1"), "k8s.example");
    }

    #[test]
    fn names_follow_the_eks_rule() {
        for good in ["demo", "a", "Prod_2-east", &"x".repeat(100)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "-demo", "de mo", "demo.x", &"x".repeat(101)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn prepare_reads_ca_files_and_refuses_bad_clusters() {
        let path = std::env::temp_dir().join(format!("ssm-sim-ca-{}.pem", std::process::id()));
        std::fs::write(&path, SIM_CA_PEM).unwrap();
        let mut clusters = vec![ClusterConfig {
            ca_file: Some(path.clone()),
            ..ClusterConfig::new("one")
        }];
        prepare_clusters(&mut clusters).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(clusters[0].ca_pem.as_deref(), Some(SIM_CA_PEM));
        assert_eq!(clusters[0].ca_file, None);
        prepare_clusters(&mut clusters).unwrap();

        let refused = |cluster: ClusterConfig| prepare_clusters(&mut [cluster]).unwrap_err();
        let missing = ClusterConfig {
            ca_file: Some(path),
            ..ClusterConfig::new("gone")
        };
        assert!(matches!(
            refused(missing),
            ClusterConfigError::CaFile { .. }
        ));
        let both = ClusterConfig {
            ca_file: Some("x.pem".into()),
            ..ClusterConfig::new("both").with_ca_pem(SIM_CA_PEM)
        };
        assert!(refused(both).to_string().contains("not both"));
        let not_pem = ClusterConfig::new("c").with_ca_pem("hello");
        assert!(refused(not_pem).to_string().contains("PEM"));
        let url = ClusterConfig::new("c").with_endpoint_host("https://x");
        assert!(refused(url).to_string().contains("endpoint_host"));
        let mode = ClusterConfig {
            authentication_mode: "OPEN".into(),
            ..ClusterConfig::new("c")
        };
        assert!(refused(mode).to_string().contains("authentication_mode"));
        assert!(matches!(
            refused(ClusterConfig::new("-x")),
            ClusterConfigError::BadName(_)
        ));
        let mut twins = vec![ClusterConfig::new("a"), ClusterConfig::new("a")];
        assert!(matches!(
            prepare_clusters(&mut twins),
            Err(ClusterConfigError::Duplicate(name)) if name == "a"
        ));
    }

    #[test]
    fn nodes_are_found_by_their_cluster_tag() {
        let demo = ClusterConfig::new("demo");
        let fleet = vec![
            demo.node("i-1"),
            ClusterConfig::new("other").node("i-2"),
            InstanceConfig::new("i-3", &[]),
        ];
        let ids: Vec<&str> = demo.nodes(&fleet).map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["i-1"]);
        assert_eq!(fleet[0].tags["kubernetes.io/cluster/demo"], "owned");
    }

    #[test]
    fn only_creating_and_pending_clusters_lack_an_endpoint() {
        assert!(ClusterStatus::Active.has_endpoint());
        assert!(ClusterStatus::Updating.has_endpoint());
        assert!(!ClusterStatus::Creating.has_endpoint());
        assert!(!ClusterStatus::Pending.has_endpoint());
    }
}
