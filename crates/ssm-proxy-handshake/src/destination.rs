//! Where a client wants to go: a host (name or address) and a port.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::HandshakeError;

/// The host part of a destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A DNS name, lower-cased, resolved by the far side.
    Name(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address.
    V6(Ipv6Addr),
}

impl Host {
    /// Parses a host as written in a request: `[v6]`, a v4 literal or a
    /// name (letters, digits, `-`, `.`, `_`; at most 253 bytes).
    pub fn parse(text: &str) -> Result<Self, HandshakeError> {
        let bad = || HandshakeError::BadHost(text.chars().take(64).collect());
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return inner.parse().map(Self::V6).map_err(|_| bad());
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self::from(ip));
        }
        let valid = !text.is_empty()
            && text.len() <= 253
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(bad());
        }
        Ok(Self::Name(text.to_ascii_lowercase()))
    }

    /// The address, for an IP host.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Name(_) => None,
            Self::V4(ip) => Some(IpAddr::V4(*ip)),
            Self::V6(ip) => Some(IpAddr::V6(*ip)),
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(ip) => Self::V4(ip),
            IpAddr::V6(ip) => Self::V6(ip),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::V4(ip) => write!(f, "{ip}"),
            Self::V6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination {
    /// The host.
    pub host: Host,
    /// The port (never 0).
    pub port: u16,
}

impl Destination {
    /// Parses `host:port` (`[v6]:port` for IPv6); `default_port` when the
    /// port is left out (`None`: the port is required).
    pub fn parse(text: &str, default_port: Option<u16>) -> Result<Self, HandshakeError> {
        let (host, port) = split(text);
        let port = match (port, default_port) {
            (Some(port), _) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| HandshakeError::BadPort(port.chars().take(16).collect()))?,
            (None, Some(port)) => port,
            (None, None) => return Err(HandshakeError::BadPort(String::new())),
        };
        Ok(Self {
            host: Host::parse(host)?,
            port,
        })
    }
}

/// `host` and the text after its port colon, if any.
fn split(text: &str) -> (&str, Option<&str>) {
    if text.starts_with('[') {
        return match text.find(']') {
            Some(end) => (&text[..=end], text[end + 1..].strip_prefix(':')),
            None => (text, None),
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (text, None),
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_addresses_and_ports_parse() {
        let name = Destination::parse("API.Example.internal:443", None).unwrap();
        assert_eq!(name.to_string(), "api.example.internal:443");
        let v6 = Destination::parse("[::1]:8080", None).unwrap();
        assert_eq!(v6.host, Host::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(v6.to_string(), "[::1]:8080");
        let v4 = Destination::parse("10.0.0.1", Some(80)).unwrap();
        assert_eq!(
            (v4.host.ip(), v4.port),
            (Some("10.0.0.1".parse().unwrap()), 80)
        );
    }

    #[test]
    fn bad_hosts_and_ports_are_errors() {
        for bad in [
            "host:0",
            "host:70000",
            "host:",
            "host",
            "a b:1",
            ":80",
            "[::1:80",
            "x/y:1",
        ] {
            assert!(Destination::parse(bad, None).is_err(), "{bad}");
        }
        assert!(Host::parse(&"a".repeat(254)).is_err());
    }
}
