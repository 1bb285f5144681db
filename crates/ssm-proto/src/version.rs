//! Version comparison rules and the port-forwarding mode decisions
//! (protocol.md §7.1, §7.2).
//!
//! The plugin and the agent decide the session mode independently, each
//! with its own comparison rule, and must agree. This module implements
//! both rules exactly so a client (and the simulator's agent) reach the
//! same answer as the official components.

use std::cmp::Ordering;

/// The version we report as `ClientVersion`: four numeric parts, above
/// 1.2.331.0 so agents disable smux keepalive, above 1.1.70 for mux mode.
pub const CLIENT_VERSION: &str = "1.2.677.0";
/// Agents strictly newer than this support smux multiplexing.
pub const MUX_AFTER_AGENT_VERSION: &str = "3.0.196.0";
/// Agents strictly newer than this run smux with keepalive disabled.
pub const SMUX_KEEPALIVE_OFF_AFTER_AGENT_VERSION: &str = "3.1.1511.0";
/// Agents strictly newer than this honour the TerminateSession flag.
pub const TERMINATE_FLAG_AFTER_AGENT_VERSION: &str = "2.3.722.0";
/// The agent uses mux when the client version is at least this.
pub const AGENT_MUX_MIN_CLIENT_VERSION: &str = "1.1.70";
/// The agent disables smux keepalive when the client is strictly newer.
pub const AGENT_KEEPALIVE_OFF_AFTER_CLIENT_VERSION: &str = "1.2.331.0";

/// The plugin's rule: true iff `version` is strictly greater than
/// `baseline`, both having the same number of dot-separated parts and
/// every part an integer. Anything else (empty, mismatched part counts,
/// non-numeric parts) counts as "not supported" and returns false.
pub fn plugin_is_newer(version: &str, baseline: &str) -> bool {
    let (Some(ours), Some(theirs)) = (numeric_parts(version), numeric_parts(baseline)) else {
        return false;
    };
    ours.len() == theirs.len() && ours > theirs
}

fn numeric_parts(version: &str) -> Option<Vec<u64>> {
    if version.is_empty() {
        return None;
    }
    version.split('.').map(|part| part.parse().ok()).collect()
}

/// The agent's rule (`versionutil.Compare` in strict mode).
///
/// If both strings are semantic versions (exactly `major.minor.patch`,
/// optional `-prerelease` and `+build`), semver ordering applies.
/// Otherwise the strings are compared part by part, numerically when both
/// parts are integers and bytewise otherwise; when all shared parts are
/// equal the string with more parts is greater.
pub fn agent_compare(left: &str, right: &str) -> Ordering {
    match (SemVer::parse(left), SemVer::parse(right)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => compare_parts(left, right),
    }
}

fn compare_parts(left: &str, right: &str) -> Ordering {
    let mut a = left.split('.');
    let mut b = right.split('.');
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) => match compare_part(x, y) {
                Ordering::Equal => {}
                unequal => return unequal,
            },
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (None, None) => return Ordering::Equal,
        }
    }
}

fn compare_part(x: &str, y: &str) -> Ordering {
    match (x.parse::<i64>(), y.parse::<i64>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => x.as_bytes().cmp(y.as_bytes()),
    }
}

/// A parsed semantic version, as coreos/go-semver reads one.
#[derive(Debug, PartialEq, Eq)]
struct SemVer<'a> {
    core: [i64; 3],
    pre_release: Option<&'a str>,
}

impl<'a> SemVer<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let without_build = text.split_once('+').map_or(text, |(head, _)| head);
        let (core, pre_release) = match without_build.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (without_build, None),
        };
        let mut parts = core.split('.');
        let mut numbers = [0i64; 3];
        for slot in &mut numbers {
            *slot = parts.next()?.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            core: numbers,
            pre_release,
        })
    }
}

impl Ord for SemVer<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre_release, other.pre_release) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => compare_parts(a, b),
            })
    }
}

impl PartialOrd for SemVer<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// How port data travels once the handshake is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortMode {
    /// smux v1 over the Output byte stream; many connections per session.
    Mux {
        /// Whether smux NOP keepalives (10 s) and the 30 s dead-peer
        /// timeout must run, because the peer runs them.
        smux_keepalive: bool,
    },
    /// Raw bytes, one local connection at a time, DisconnectToPort on close.
    Basic,
    /// The document is not a port-forwarding document (e.g. the SSH
    /// document): raw bytes to stdin/stdout in the official plugin.
    StandardStream,
}

/// The plugin's mode decision from the document `type` and agent version.
pub fn client_port_mode(port_type: Option<&str>, agent_version: &str) -> PortMode {
    if port_type != Some(crate::payload::PortProperties::LOCAL_PORT_FORWARDING) {
        return PortMode::StandardStream;
    }
    if !plugin_is_newer(agent_version, MUX_AFTER_AGENT_VERSION) {
        return PortMode::Basic;
    }
    PortMode::Mux {
        smux_keepalive: !plugin_is_newer(agent_version, SMUX_KEEPALIVE_OFF_AFTER_AGENT_VERSION),
    }
}

/// The agent's mode decision from the document `type` and client version.
///
/// The agent has no separate stream mode: anything that is not mux is basic.
pub fn agent_port_mode(port_type: Option<&str>, client_version: &str) -> PortMode {
    let local = port_type == Some(crate::payload::PortProperties::LOCAL_PORT_FORWARDING);
    if !local || agent_compare(client_version, AGENT_MUX_MIN_CLIENT_VERSION) == Ordering::Less {
        return PortMode::Basic;
    }
    PortMode::Mux {
        smux_keepalive: agent_compare(client_version, AGENT_KEEPALIVE_OFF_AFTER_CLIENT_VERSION)
            != Ordering::Greater,
    }
}

/// Whether the agent honours the TerminateSession flag (older agents need
/// the TerminateSession API call instead).
pub fn agent_honours_terminate_flag(agent_version: &str) -> bool {
    plugin_is_newer(agent_version, TERMINATE_FLAG_AFTER_AGENT_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LPF: Option<&str> = Some("LocalPortForwarding");

    #[test]
    fn plugin_rule_is_strict_and_needs_equal_part_counts() {
        assert!(plugin_is_newer("3.0.197.0", "3.0.196.0"));
        assert!(plugin_is_newer("3.10.0.0", "3.9.999.0"));
        assert!(!plugin_is_newer("3.0.196.0", "3.0.196.0"));
        assert!(!plugin_is_newer("3.1", "3.0.196.0"));
        assert!(!plugin_is_newer("", "3.0.196.0"));
        assert!(!plugin_is_newer("3.x.1.0", "3.0.196.0"));
    }

    #[test]
    fn agent_rule_examples_from_protocol_notes() {
        assert_eq!(agent_compare("1.2.677.0", "1.1.70"), Ordering::Greater);
        assert_eq!(agent_compare("", "1.1.70"), Ordering::Less);
        assert_eq!(agent_compare("1.2.331.0", "1.2.331.0"), Ordering::Equal);
        assert_eq!(agent_compare("1.1.70.0", "1.1.70"), Ordering::Greater);
        assert_eq!(agent_compare("1.1.70", "1.1.70"), Ordering::Equal);
        assert_eq!(agent_compare("1.1.70-beta", "1.1.70"), Ordering::Less);
        assert_eq!(agent_compare("1.2.a", "1.2.b"), Ordering::Less);
        assert_eq!(agent_compare("1.10.0", "1.9.0"), Ordering::Greater);
    }

    #[test]
    fn client_mode_thresholds() {
        assert_eq!(client_port_mode(LPF, "3.0.196.0"), PortMode::Basic);
        assert_eq!(
            client_port_mode(LPF, "3.0.197.0"),
            PortMode::Mux {
                smux_keepalive: true
            }
        );
        assert_eq!(
            client_port_mode(LPF, "3.1.1511.0"),
            PortMode::Mux {
                smux_keepalive: true
            }
        );
        assert_eq!(
            client_port_mode(LPF, "3.3.987.0"),
            PortMode::Mux {
                smux_keepalive: false
            }
        );
        assert_eq!(
            client_port_mode(None, "3.3.987.0"),
            PortMode::StandardStream
        );
    }

    #[test]
    fn agent_mode_thresholds() {
        assert_eq!(
            agent_port_mode(LPF, CLIENT_VERSION),
            PortMode::Mux {
                smux_keepalive: false
            }
        );
        assert_eq!(
            agent_port_mode(LPF, "1.2.331.0"),
            PortMode::Mux {
                smux_keepalive: true
            }
        );
        assert_eq!(agent_port_mode(LPF, "1.1.69"), PortMode::Basic);
        assert_eq!(agent_port_mode(LPF, ""), PortMode::Basic);
        assert_eq!(agent_port_mode(None, CLIENT_VERSION), PortMode::Basic);
    }

    #[test]
    fn our_client_version_satisfies_both_agent_rules() {
        assert_eq!(CLIENT_VERSION.split('.').count(), 4);
        assert!(CLIENT_VERSION.split('.').all(|p| p.parse::<u32>().is_ok()));
        assert_eq!(
            agent_compare(CLIENT_VERSION, AGENT_KEEPALIVE_OFF_AFTER_CLIENT_VERSION),
            Ordering::Greater
        );
    }

    #[test]
    fn terminate_flag_threshold() {
        assert!(!agent_honours_terminate_flag("2.3.722.0"));
        assert!(agent_honours_terminate_flag("2.3.756.0"));
    }

    proptest! {
        #[test]
        fn agent_compare_is_antisymmetric(a in "[0-9a-z.-]{0,12}", b in "[0-9a-z.-]{0,12}") {
            prop_assert_eq!(agent_compare(&a, &b), agent_compare(&b, &a).reverse());
        }

        #[test]
        fn plugin_rule_matches_tuple_order(a in proptest::array::uniform4(0u32..5), b in proptest::array::uniform4(0u32..5)) {
            let text = |v: [u32; 4]| v.map(|n| n.to_string()).join(".");
            prop_assert_eq!(plugin_is_newer(&text(a), &text(b)), a > b);
        }
    }
}
