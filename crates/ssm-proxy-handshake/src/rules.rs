//! Which destinations the proxy may open: `--allow` and `--deny` rules,
//! each `HOST[:PORTS]`. HOST is `*`, a name glob (`*.internal`,
//! `db-?.corp`; `*` spans dots; case does not matter), an address or a
//! CIDR block (`10.0.0.0/8`, `[fd00::/8]` with ports); PORTS is a port, a
//! range `8000-8999` or `*` (the default). A deny rule wins; with any
//! allow rule, what no allow rule names is denied. Names are not
//! resolved here: a CIDR matches destinations given as addresses only.

use std::net::IpAddr;

use thiserror::Error;

use crate::{Destination, Host};

/// A rule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid rule {rule:?}: {reason} (expected HOST[:PORTS], e.g. *.internal:443, 10.0.0.0/8, [fd00::/8]:22, db.corp:5432-5433)"
)]
pub struct RuleError {
    /// The rule as given.
    pub rule: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// One allow or deny rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    text: String,
    host: HostPattern,
    ports: (u16, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Glob(String),
    Network { base: IpAddr, prefix: u8 },
}

impl Rule {
    /// Parses `HOST[:PORTS]`.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let error = |reason| RuleError {
            rule: text.to_owned(),
            reason,
        };
        let (host, ports) = split_rule(text).ok_or_else(|| error("unbalanced brackets"))?;
        let ports = match ports {
            None | Some("*") => (1, u16::MAX),
            Some(ports) => parse_ports(ports).ok_or_else(|| error("bad port or port range"))?,
        };
        let host = parse_host(host).ok_or_else(|| error("bad host pattern or network"))?;
        Ok(Self {
            text: text.to_owned(),
            host,
            ports,
        })
    }

    /// True when the rule names `destination`.
    pub fn matches(&self, destination: &Destination) -> bool {
        let port_matches = (self.ports.0..=self.ports.1).contains(&destination.port);
        port_matches
            && match (&self.host, &destination.host) {
                (HostPattern::Glob(glob), Host::Name(name)) => glob_matches(glob, name),
                (HostPattern::Glob(glob), host) => {
                    let text = host.ip().map(|ip| ip.to_string()).unwrap_or_default();
                    glob_matches(glob, &text)
                }
                (HostPattern::Network { base, prefix }, host) => {
                    host.ip().is_some_and(|ip| in_network(ip, *base, *prefix))
                }
            }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The allow and deny rules of one proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `--allow`: when any is given, only what they name.
    pub allow: Vec<Rule>,
    /// `--deny`: never what they name.
    pub deny: Vec<Rule>,
}

impl Rules {
    /// `Ok` when `destination` may be opened, else why not (for the
    /// `403` body or the status line).
    pub fn check(&self, destination: &Destination) -> Result<(), String> {
        if let Some(rule) = self.deny.iter().find(|rule| rule.matches(destination)) {
            return Err(format!("{destination} is denied by --deny {rule}"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|rule| rule.matches(destination)) {
            return Err(format!("{destination} matches no --allow rule"));
        }
        Ok(())
    }
}

/// `(host, ports)`: `[v6 or v6/len]:ports`, or `host:ports` split at the
/// last colon when the host part has none (`fd00::1` alone is a host).
fn split_rule(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')));
    }
    Some(match text.rsplit_once(':') {
        Some((host, ports)) if !host.contains(':') => (host, Some(ports)),
        _ => (text, None),
    })
}

fn parse_ports(text: &str) -> Option<(u16, u16)> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    let (low, high): (u16, u16) = (low.parse().ok()?, high.parse().ok()?);
    (low >= 1 && low <= high).then_some((low, high))
}

fn parse_host(text: &str) -> Option<HostPattern> {
    if let Some((base, prefix)) = text.split_once('/') {
        let base: IpAddr = base.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let bits = if base.is_ipv4() { 32 } else { 128 };
        return (prefix <= bits).then_some(HostPattern::Network { base, prefix });
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        return Some(HostPattern::Network { base: ip, prefix });
    }
    let valid = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*' | b'?'));
    valid.then(|| HostPattern::Glob(text.to_ascii_lowercase()))
}

/// `*` is any run of characters (dots included), `?` one character.
fn glob_matches(glob: &str, text: &str) -> bool {
    let (glob, text) = (glob.as_bytes(), text.as_bytes());
    let (mut g, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match glob.get(g) {
            Some(b'*') => {
                backtrack = Some((g, t));
                g += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&text[t]) => {
                g += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    g = star + 1;
                    t = from + 1;
                    backtrack = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|&c| c == b'*')
}

fn in_network(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    let (ip, base, bits) = match (ip, base) {
        (IpAddr::V4(ip), IpAddr::V4(base)) => {
            (u128::from(ip.to_bits()), u128::from(base.to_bits()), 32)
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) => (ip.to_bits(), base.to_bits(), 128),
        _ => return false,
    };
    let shift = bits - u32::from(prefix);
    shift >= bits || (ip >> shift) == (base >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(text: &str) -> Destination {
        Destination::parse(text, None).unwrap()
    }

    fn rules(allow: &[&str], deny: &[&str]) -> Rules {
        let parse = |list: &[&str]| list.iter().map(|r| Rule::parse(r).unwrap()).collect();
        Rules {
            allow: parse(allow),
            deny: parse(deny),
        }
    }

    #[test]
    fn globs_cidrs_and_ports_match() {
        let rule = Rule::parse("*.internal:443").unwrap();
        assert!(rule.matches(&dest("api.eks.internal:443")));
        assert!(!rule.matches(&dest("api.eks.internal:80")));
        assert!(!rule.matches(&dest("internal.example.com:443")));
        assert!(
            Rule::parse("DB-?.corp")
                .unwrap()
                .matches(&dest("db-1.corp:5432"))
        );
        let network = Rule::parse("10.0.0.0/8:8000-8999").unwrap();
        assert!(network.matches(&dest("10.2.3.4:8080")));
        assert!(!network.matches(&dest("11.2.3.4:8080")));
        assert!(
            !network.matches(&dest("ten.internal:8080")),
            "names are not resolved"
        );
        assert!(
            Rule::parse("[fd00::/8]:22")
                .unwrap()
                .matches(&dest("[fd12::1]:22"))
        );
        assert!(
            Rule::parse("fd00::1")
                .unwrap()
                .matches(&dest("[fd00::1]:9"))
        );
        assert!(Rule::parse("*").unwrap().matches(&dest("anything:1")));
        assert!(
            Rule::parse("0.0.0.0/0")
                .unwrap()
                .matches(&dest("1.2.3.4:1"))
        );
    }

    #[test]
    fn deny_wins_and_allow_lists_deny_the_rest() {
        let open = rules(&[], &[]);
        assert!(open.check(&dest("x:1")).is_ok());
        let listed = rules(&["*.internal", "10.0.0.0/8"], &["secrets.internal"]);
        assert!(listed.check(&dest("api.internal:443")).is_ok());
        assert!(listed.check(&dest("10.1.1.1:22")).is_ok());
        let denied = listed.check(&dest("secrets.internal:443")).unwrap_err();
        assert!(denied.contains("--deny secrets.internal"), "{denied}");
        let unlisted = listed.check(&dest("example.com:443")).unwrap_err();
        assert!(unlisted.contains("no --allow rule"), "{unlisted}");
    }

    #[test]
    fn bad_rules_say_why() {
        for bad in [
            "",
            "a b",
            "10.0.0.0/33",
            "host:0",
            "host:9-1",
            "[fd00::",
            "host:x",
        ] {
            let error = Rule::parse(bad).unwrap_err();
            assert!(error.to_string().contains("expected HOST[:PORTS]"), "{bad}");
        }
    }
}
