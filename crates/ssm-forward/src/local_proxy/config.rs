//! `[proxies.NAME]` tables of the configuration file: the keys of
//! `ssm-forward proxy`, checked into a [`NamedForward`] that `up NAME`
//! starts like any other forward.
//!
//! ```toml
//! [proxies.vpc]
//! eks_cluster = "prod"                  # or: target = "i-…" | "name:NAME" | "tag:KEY=VALUE"
//! listen = "127.0.0.1:8118"             # default
//! allow = ["*.internal:443", "10.0.0.0/8"]   # default: anything not denied
//! deny = ["10.0.0.1"]
//! allow_client = ["172.17.0.0/16"]      # with a non-loopback listen address
//! max_destinations = 16                 # default
//! idle_close = 300                      # seconds; default 300
//! sessions = 1                          # per destination; profile, region, endpoint_url,
//!                                       # reason, max_connections as for forwards
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use ssm_client::AwsOptions;
use ssm_proxy_handshake::rules::{Rule, Rules};

use super::{DEFAULT_IDLE_CLOSE, DEFAULT_LISTEN, DEFAULT_MAX_DESTINATIONS, ProxySpec};
use crate::config_file::NamedForward;
use crate::forwarding::supervisor::MAX_SESSIONS;
use crate::targets::TargetSelector;

/// Most destinations `max_destinations` may allow.
pub const MAX_DESTINATIONS: u32 = 1024;

/// One `[proxies.NAME]` table, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyEntry {
    /// `i-…`, `mi-…`, `name:NAME` or `tag:KEY=VALUE`.
    pub target: Option<String>,
    /// An EKS cluster whose online node is the target.
    pub eks_cluster: Option<String>,
    /// Listen address; default 127.0.0.1:8118.
    pub listen: Option<String>,
    /// Destinations allowed (HOST[:PORTS]); none: all not denied.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Destinations denied.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Clients allowed on a non-loopback listen address (CIDRs).
    #[serde(default)]
    pub allow_client: Vec<String>,
    /// Most destinations with a session at once.
    pub max_destinations: Option<u32>,
    /// Seconds a destination's session stays without a connection.
    pub idle_close: Option<u64>,
    /// AWS profile.
    pub profile: Option<String>,
    /// AWS region.
    pub region: Option<String>,
    /// SSM endpoint override.
    pub endpoint_url: Option<String>,
    /// StartSession reason.
    pub reason: Option<String>,
    /// Most local connections served at once.
    pub max_connections: Option<u32>,
    /// Sessions per destination.
    pub sessions: Option<u32>,
}

/// Checks a `[proxies.NAME]` table.
pub fn validate(name: &str, entry: ProxyEntry) -> Result<NamedForward, String> {
    let target = match (&entry.target, &entry.eks_cluster) {
        (Some(target), None) => target.parse()?,
        (None, Some(cluster)) if !cluster.is_empty() => TargetSelector::EksCluster(cluster.clone()),
        (None, Some(_)) => return Err("eks_cluster is empty".into()),
        (Some(_), Some(_)) => return Err("set either target or eks_cluster, not both".into()),
        (None, None) => return Err("set target or eks_cluster".into()),
    };
    let listen = parse_listen(entry.listen.as_deref().unwrap_or(DEFAULT_LISTEN))
        .map_err(|error| format!("listen: {error}"))?;
    let proxy = ProxySpec {
        rules: Rules {
            allow: rules("allow", &entry.allow)?,
            deny: rules("deny", &entry.deny)?,
        },
        clients: rules("allow_client", &entry.allow_client)?,
        max_destinations: match entry.max_destinations {
            None => DEFAULT_MAX_DESTINATIONS,
            Some(n @ 1..=MAX_DESTINATIONS) => n as usize,
            Some(_) => return Err(format!("max_destinations must be 1 to {MAX_DESTINATIONS}")),
        },
        idle_close: match entry.idle_close {
            None => DEFAULT_IDLE_CLOSE,
            Some(0) => return Err("idle_close must be at least 1 (seconds)".into()),
            Some(seconds) => Duration::from_secs(seconds),
        },
    };
    Ok(NamedForward {
        name: name.to_owned(),
        target,
        remote_host: None,
        remote_port: 0,
        bind: listen,
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
            Some(n) if n == 0 || n > MAX_SESSIONS => {
                return Err(format!("sessions must be 1 to {MAX_SESSIONS}"));
            }
            other => other,
        },
        eks_context: None,
        proxy: Some(proxy),
    })
}

fn rules(key: &str, texts: &[String]) -> Result<Vec<Rule>, String> {
    texts
        .iter()
        .map(|text| Rule::parse(text).map_err(|error| format!("{key}: {error}")))
        .collect()
}

/// `ADDR:PORT` or `[V6]:PORT`; a bare port means 127.0.0.1.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("{text:?} is not ADDRESS:PORT (e.g. 127.0.0.1:8118, [::1]:8118 or 8118)")
    })
}

/// `--allow` / `--deny` / `--allow-client` values.
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    Rule::parse(text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(extra: &str) -> Result<NamedForward, String> {
        let text = format!("target = \"i-0123456789abcdef0\"\n{extra}");
        let entry: ProxyEntry = toml::from_str(&text).map_err(|e| e.to_string())?;
        validate("vpc", entry)
    }

    #[test]
    fn a_table_becomes_a_proxy_forward_with_defaults() {
        let forward = entry("").unwrap();
        assert_eq!(forward.bind, "127.0.0.1:8118".parse().unwrap());
        let proxy = forward.proxy.unwrap();
        assert_eq!(proxy.max_destinations, DEFAULT_MAX_DESTINATIONS);
        assert_eq!(proxy.idle_close, DEFAULT_IDLE_CLOSE);
        assert!(proxy.rules.allow.is_empty() && proxy.rules.deny.is_empty());
    }

    #[test]
    fn every_key_is_read_and_checked() {
        let forward = entry(
            "listen = \"127.0.0.1:0\"\nallow = [\"*.internal:443\"]\ndeny = [\"10.0.0.1\"]\n\
             allow_client = [\"172.17.0.0/16\"]\nmax_destinations = 4\nidle_close = 30\n\
             sessions = 2\nprofile = \"prod\"\n",
        )
        .unwrap();
        let proxy = forward.proxy.as_ref().unwrap();
        assert_eq!(
            (proxy.max_destinations, proxy.idle_close),
            (4, Duration::from_secs(30))
        );
        assert_eq!(proxy.rules.allow[0].to_string(), "*.internal:443");
        assert_eq!(proxy.clients.len(), 1);
        assert_eq!(forward.sessions, Some(2));
        assert_eq!(forward.aws.profile.as_deref(), Some("prod"));
        for (bad, says) in [
            ("allow = [\"a b\"]", "allow: invalid rule"),
            ("listen = \"localhost\"", "listen:"),
            ("max_destinations = 0", "max_destinations"),
            ("idle_close = 0", "idle_close"),
            ("remote_port = 1", "unknown field"),
        ] {
            let error = entry(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn listen_takes_an_address_or_a_port() {
        assert_eq!(
            parse_listen("9000").unwrap(),
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            parse_listen("[::1]:8118").unwrap(),
            "[::1]:8118".parse().unwrap()
        );
        assert!(parse_listen("nope").is_err());
    }
}
