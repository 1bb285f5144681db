//! Simulator configuration: the fleet, the EKS clusters, the simulated
//! IAM Identity Center, the realism profile, fault injection and
//! destination policy. Everything can come from TOML.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::eks::cluster::{ClusterConfig, default_clusters};
pub use crate::gateway::policy::{DetachedOutput, GatewayPolicy, TerminateNotice};
use crate::hostile::Hostile;
pub use crate::instance::InstanceConfig;
use crate::sso::SsoConfig;

/// How close to the real service the timing is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealismConfig {
    /// Largest agent Output payload (the real agent reads 1024 bytes).
    pub output_chunk_size: usize,
    /// Sleep after each agent Output message (the real agent sleeps 1 ms).
    #[serde(with = "duration_ms")]
    pub output_pacing: Duration,
    /// Close a client socket that sends more than this many
    /// input_stream_data messages per second ...
    pub client_rate_limit: Option<u32>,
    /// ... for this many consecutive seconds.
    pub rate_limit_seconds: u32,
    /// Close every client WebSocket with 1000 "Bye" after this long.
    #[serde(with = "opt_duration_ms")]
    pub recycle_after: Option<Duration>,
    /// End a session with no stream data in either direction for this long.
    #[serde(with = "opt_duration_ms")]
    pub idle_timeout: Option<Duration>,
    /// Drop (no close frame) a client socket from which nothing arrived,
    /// not even a WebSocket ping, for this long: the gateway's view of a
    /// client that stopped pinging (a sleeping laptop).
    #[serde(with = "opt_duration_ms")]
    pub ping_timeout: Option<Duration>,
    /// End a session after this long regardless.
    #[serde(with = "opt_duration_ms")]
    pub max_session_duration: Option<Duration>,
    /// One-way delay added to every message in both directions.
    #[serde(with = "duration_ms")]
    pub latency: Duration,
    /// How long client Output is refused (not acked) while the port
    /// plugin starts after the handshake.
    #[serde(with = "duration_ms")]
    pub port_start_delay: Duration,
    /// Probability per agent stream message of the agent's send-before-
    /// buffer race (protocol.md §13): it writes the message before adding
    /// it to its resend buffer, so the client's ack of it is ignored and
    /// it is resent every RTO until the client acks a repeat.
    pub send_before_buffer: f64,
    /// How the agent's resend interval grows: not at all (the real
    /// agent's front message is resent every RTO) or doubling.
    pub resend_backoff: AgentBackoff,
}

/// The agent's retransmission backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentBackoff {
    /// The front message is resent every RTO, like the real agent.
    #[default]
    None,
    /// The RTO doubles (up to 1 s) while resends fall due without a valid
    /// RTT sample, as our client does.
    Doubling,
}

impl Default for RealismConfig {
    /// Realism off: no pacing, no limits, no recycling.
    fn default() -> Self {
        Self {
            output_chunk_size: 1024,
            output_pacing: Duration::ZERO,
            client_rate_limit: None,
            rate_limit_seconds: 2,
            recycle_after: None,
            idle_timeout: None,
            ping_timeout: None,
            max_session_duration: None,
            latency: Duration::ZERO,
            port_start_delay: Duration::from_millis(20),
            send_before_buffer: 0.0,
            resend_backoff: AgentBackoff::None,
        }
    }
}

impl RealismConfig {
    /// The realistic profile: 1024-byte agent output 1 ms apart, the
    /// 1000 messages/s gateway limit and the send-before-buffer race on
    /// 0.1 % of agent messages. Recycling, timeouts and latency stay off
    /// unless set: they depend on what a test wants to see.
    ///
    /// The race rate is an estimate. On the real service the client's ack
    /// needs a whole network round trip to reach the agent, so the race
    /// needs the agent's goroutine to stall that long between two
    /// statements: rare. It cannot be much higher either without the
    /// agent falling behind for good: its front-only resend clears at most
    /// ten raced or lost messages a second (one per 100 ms tick), and at
    /// 1 % of a full-speed download (about 9 a second) plus 1 % loss the
    /// backlog only grows (RELIABILITY.md, "The agent's recovery rate").
    pub fn realistic() -> Self {
        Self {
            output_pacing: Duration::from_millis(1),
            client_rate_limit: Some(1000),
            port_start_delay: Duration::from_millis(100),
            send_before_buffer: 0.001,
            ..Self::default()
        }
    }
}

/// Deliberate misbehaviour, applied by the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Probability (0..1) of dropping a stream-data message, each direction.
    pub drop: f64,
    /// Probability of delivering a message twice.
    pub duplicate: f64,
    /// Probability of holding a message back behind the next one.
    pub reorder: f64,
    /// Probability of dropping an acknowledge message.
    pub drop_acks: f64,
    /// Probability of corrupting a message's payload digest.
    pub corrupt_digest: f64,
    /// Send pause_publication then start_publication to the client every interval.
    #[serde(with = "opt_duration_ms")]
    pub pause_every: Option<Duration>,
    /// How long each injected pause lasts.
    #[serde(with = "duration_ms")]
    pub pause_length: Duration,
    /// Close the client socket abruptly (no close frame) after this many
    /// messages relayed on one connection.
    pub close_after_messages: Option<u64>,
    /// Close the client socket abruptly this long after it connected.
    #[serde(with = "opt_duration_ms")]
    pub close_after: Option<Duration>,
    /// Delay before the agent sends its HandshakeRequest.
    #[serde(with = "duration_ms")]
    pub handshake_delay: Duration,
    /// Seed of the fault dice (same seed, same decisions).
    pub seed: u64,
    /// Hostile behaviours done to every session once it is ready (the
    /// handshake complete and the port plugin started), in order.
    pub hostile: Vec<Hostile>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            drop_acks: 0.0,
            corrupt_digest: 0.0,
            pause_every: None,
            pause_length: Duration::from_millis(200),
            close_after_messages: None,
            close_after: None,
            handshake_delay: Duration::ZERO,
            seed: 1,
            hostile: Vec::new(),
        }
    }
}

impl FaultConfig {
    /// True when any per-message fault is enabled.
    pub fn has_message_faults(&self) -> bool {
        self.drop > 0.0
            || self.duplicate > 0.0
            || self.reorder > 0.0
            || self.drop_acks > 0.0
            || self.corrupt_digest > 0.0
    }
}

/// Where the agent may connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DestinationConfig {
    /// Allow destinations outside 127.0.0.0/8 and ::1.
    pub allow_nonlocal: bool,
    /// Host names mapped to loopback addresses (e.g. a fake
    /// `privoxy.example.com` → `127.0.0.1:PORT`), checked before DNS.
    pub host_overrides: BTreeMap<String, String>,
    /// How long a dial may take before ConnectToPortError.
    #[serde(with = "duration_ms")]
    pub dial_timeout: Duration,
    /// Hosts the caller's IAM policy does not allow as the `host` of
    /// AWS-StartPortForwardingSessionToRemoteHost (a condition on the
    /// document's parameters): StartSession answers AccessDeniedException.
    pub iam_denied_hosts: Vec<String>,
}

impl Default for DestinationConfig {
    fn default() -> Self {
        Self {
            allow_nonlocal: false,
            host_overrides: BTreeMap::new(),
            dial_timeout: Duration::from_secs(5),
            iam_denied_hosts: Vec::new(),
        }
    }
}

/// Everything the simulator needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Address of the SSM API listener (port 0 = any free port).
    pub api_addr: String,
    /// Address of the message gateway listener.
    pub gateway_addr: String,
    /// Region reported in ARNs and URLs.
    pub region: String,
    /// The managed instances.
    pub instances: Vec<InstanceConfig>,
    /// The EKS clusters (their nodes are the instances tagged
    /// `eks:cluster-name`).
    pub clusters: Vec<ClusterConfig>,
    /// IAM Identity Center: accounts, roles and the device flow's knobs.
    pub sso: SsoConfig,
    /// Timing realism.
    pub realism: RealismConfig,
    /// Fault injection.
    pub faults: FaultConfig,
    /// Destination policy.
    pub destinations: DestinationConfig,
    /// The gateway's choices where the real one's are unknown.
    pub gateway: GatewayPolicy,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            api_addr: "127.0.0.1:0".into(),
            gateway_addr: "127.0.0.1:0".into(),
            region: "us-east-1".into(),
            instances: default_fleet(),
            clusters: default_clusters(),
            sso: SsoConfig::default(),
            realism: RealismConfig::default(),
            faults: FaultConfig::default(),
            destinations: DestinationConfig::default(),
            gateway: GatewayPolicy::default(),
        }
    }
}

impl SimConfig {
    /// Parses a TOML document; absent keys take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Looks up an instance by id.
    pub fn instance(&self, id: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|instance| instance.id == id)
    }
}

/// The built-in fleet: a bastion, two nodes of EKS cluster `demo`
/// (different agent versions), an old agent that only speaks basic
/// mode, and an offline instance.
pub fn default_fleet() -> Vec<InstanceConfig> {
    let eks = |id: &str, name: &str, version: &str| InstanceConfig {
        agent_version: version.into(),
        ..InstanceConfig::new(
            id,
            &[
                ("Name", name),
                ("eks:cluster-name", "demo"),
                ("kubernetes.io/cluster/demo", "owned"),
            ],
        )
    };
    vec![
        InstanceConfig::new(
            "i-0123456789abcdef0",
            &[("Name", "bastion"), ("env", "dev")],
        ),
        eks("i-0eks0000000000001", "demo-node-a", "3.3.987.0"),
        eks("i-0eks0000000000002", "demo-node-b", "3.3.1142.0"),
        InstanceConfig {
            agent_version: "3.0.161.0".into(),
            ..InstanceConfig::new("i-0old000000000000b", &[("Name", "legacy")])
        },
        InstanceConfig {
            ping_status: "ConnectionLost".into(),
            ..InstanceConfig::new("i-0off000000000000c", &[("Name", "offline")])
        },
    ]
}

pub(crate) mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.as_millis() as u64)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// An optional count that TOML can spell both ways: a number, or
/// `"never"` for `None` (TOML has no null).
pub(crate) mod opt_u32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    const NEVER: &str = "never";

    pub(crate) fn serialize<S: Serializer>(value: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(count) => s.serialize_u32(*count),
            None => s.serialize_str(NEVER),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum CountOrWord {
            Count(u32),
            Word(String),
        }
        match CountOrWord::deserialize(d)? {
            CountOrWord::Count(count) => Ok(Some(count)),
            CountOrWord::Word(word) if word == NEVER => Ok(None),
            CountOrWord::Word(word) => Err(D::Error::custom(format!(
                "expected a count or \"{NEVER}\", got \"{word}\""
            ))),
        }
    }
}

mod opt_duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => s.serialize_some(&(duration.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults() {
        let config = SimConfig::from_toml(
            r#"
            region = "eu-west-1"
            [realism]
            output_pacing = 1
            recycle_after = 60000
            [[instances]]
            id = "i-1"
            tags = { Name = "web" }
            "#,
        )
        .unwrap();
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.realism.output_pacing, Duration::from_millis(1));
        assert_eq!(config.realism.recycle_after, Some(Duration::from_secs(60)));
        assert_eq!(config.instances.len(), 1);
        assert_eq!(config.instances[0].agent_version, "3.3.987.0");
        assert!(config.instances[0].is_online());
    }

    #[test]
    fn hostile_kinds_come_from_toml() {
        let config = SimConfig::from_toml(
            r#"
            [faults]
            hostile = ["unknown-payload-type", "flood:2048", "flood"]
            "#,
        )
        .unwrap();
        assert_eq!(
            config.faults.hostile,
            [
                Hostile::UnknownPayloadType,
                Hostile::Flood { bytes: 2048 },
                Hostile::Flood {
                    bytes: crate::hostile::DEFAULT_FLOOD_BYTES
                },
            ]
        );
        let error = SimConfig::from_toml("[faults]\nhostile = [\"rude\"]").unwrap_err();
        assert!(
            error.to_string().contains("unknown hostile behaviour"),
            "{error}"
        );
        let text = toml::to_string(&config).unwrap();
        assert_eq!(SimConfig::from_toml(&text).unwrap(), config);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(SimConfig::from_toml("bogus = 1").is_err());
    }

    #[test]
    fn default_fleet_has_eks_nodes_and_an_offline_instance() {
        let fleet = default_fleet();
        assert_eq!(
            fleet
                .iter()
                .filter(|i| i.tags.contains_key("eks:cluster-name"))
                .count(),
            2
        );
        assert!(fleet.iter().any(|i| !i.is_online()));
    }
}
