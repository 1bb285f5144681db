//! The SSH-style `-L [BIND:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT` syntax
//! and listen addresses (`--bind`, the configuration file's `bind`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

/// One `-L [BIND:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalForward {
    /// Listen address; `None` uses `--bind`.
    pub bind: Option<IpAddr>,
    /// Local port (0 picks a free one).
    pub local_port: u16,
    /// Host to reach from the target.
    pub remote_host: String,
    /// Port on that host.
    pub remote_port: u16,
}

impl LocalForward {
    /// The listen address, falling back to `default_bind`.
    pub fn address(&self, default_bind: IpAddr) -> SocketAddr {
        SocketAddr::new(self.bind.unwrap_or(default_bind), self.local_port)
    }
}

impl FromStr for LocalForward {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fields = split_fields(text)?;
        let (bind, rest) = match fields.as_slice() {
            [bind, rest @ ..] if fields.len() == 4 => (Some(parse_bind(bind)?), rest),
            rest if fields.len() == 3 => (None, rest),
            _ => {
                return Err(
                    "expected [BIND:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT, e.g. 8118:privoxy.example.com:8118"
                        .into(),
                );
            }
        };
        let [local, host, remote] = rest else {
            unreachable!("three fields")
        };
        if host.is_empty() {
            return Err("the remote host is empty".into());
        }
        Ok(Self {
            bind,
            local_port: parse_port(local, "local port")?,
            remote_host: host.clone(),
            remote_port: parse_port(remote, "remote port")?,
        })
    }
}

impl fmt::Display for LocalForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bind {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        let host = &self.remote_host;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        write!(f, "{}:{host}:{}", self.local_port, self.remote_port)
    }
}

/// Splits on `:` outside `[...]`, dropping the brackets (IPv6 literals).
fn split_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = vec![String::new()];
    let mut in_brackets = false;
    for c in text.chars() {
        match c {
            '[' if !in_brackets => in_brackets = true,
            ']' if in_brackets => in_brackets = false,
            ':' if !in_brackets => fields.push(String::new()),
            c => fields.last_mut().expect("never empty").push(c),
        }
    }
    if in_brackets {
        return Err("unbalanced '[' in the forward".into());
    }
    Ok(fields)
}

fn parse_port(text: &str, what: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("the {what} {text:?} is not a number from 0 to 65535"))
}

/// A listen address: an IP, `localhost` or `*` (every interface).
pub fn parse_bind(text: &str) -> Result<IpAddr, String> {
    match text {
        "localhost" => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "*" => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        _ => text.trim_matches(['[', ']']).parse().map_err(|_| {
            format!("{text:?} is not an IP address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0)")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_forward_forms() {
        let plain: LocalForward = "8118:privoxy.example.com:8118".parse().unwrap();
        assert_eq!(plain.bind, None);
        assert_eq!((plain.local_port, plain.remote_port), (8118, 8118));
        assert_eq!(plain.remote_host, "privoxy.example.com");
        let bound: LocalForward = "0.0.0.0:0:db:5432".parse().unwrap();
        assert_eq!(bound.bind, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        let v6: LocalForward = "[::1]:80:[fd00::1]:8080".parse().unwrap();
        assert_eq!(v6.bind, Some("::1".parse().unwrap()));
        assert_eq!(v6.remote_host, "fd00::1");
        assert_eq!(v6.to_string(), "[::1]:80:[fd00::1]:8080");
        assert_eq!(plain.to_string(), "8118:privoxy.example.com:8118");
    }

    #[test]
    fn bad_local_forwards_say_why() {
        assert!(
            "8118:host"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("LOCAL_PORT")
        );
        assert!(
            "x:host:1"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("local port")
        );
        assert!(
            "1:host:70000"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("remote port")
        );
        assert!(
            "1::2"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            "nope:1:h:2"
                .parse::<LocalForward>()
                .unwrap_err()
                .contains("IP address")
        );
    }
}
