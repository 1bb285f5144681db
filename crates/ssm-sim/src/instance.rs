//! A managed instance as the simulator serves it: id, agent version,
//! ping status, tags and address. A leaf module: the fleet, the EKS
//! clusters and the configuration all use it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A managed instance the simulator serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// e.g. `i-0123456789abcdef0`.
    pub id: String,
    /// SSM agent version reported in the handshake and the API.
    #[serde(default = "default_agent_version")]
    pub agent_version: String,
    /// `Online`, `ConnectionLost` or `Inactive`.
    #[serde(default = "default_ping_status")]
    pub ping_status: String,
    /// EC2 tags (Name, eks:cluster-name, …).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Private IP shown by DescribeInstanceInformation.
    #[serde(default = "default_ip")]
    pub ip_address: String,
}

fn default_agent_version() -> String {
    "3.3.987.0".into()
}

fn default_ping_status() -> String {
    "Online".into()
}

fn default_ip() -> String {
    "10.0.0.10".into()
}

impl InstanceConfig {
    /// An online instance with the default agent and the given tags.
    pub fn new(id: &str, tags: &[(&str, &str)]) -> Self {
        Self {
            id: id.into(),
            agent_version: default_agent_version(),
            ping_status: default_ping_status(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ip_address: default_ip(),
        }
    }

    /// True when the agent is connected (sessions can start).
    pub fn is_online(&self) -> bool {
        self.ping_status == "Online"
    }
}
