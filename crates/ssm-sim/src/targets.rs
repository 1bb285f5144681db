//! Destinations the simulated agent connects to: the dial policy and two
//! built-in targets (an echo server and a minimal HTTP proxy standing in
//! for the privoxy pod of the EKS recipe).

use std::net::{IpAddr, SocketAddr};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, debug_span};

use crate::config::DestinationConfig;

/// Host name of the built-in echo target.
pub const ECHO_HOST: &str = "echo.sim.internal";
/// Host name of the built-in HTTP proxy target.
pub const PROXY_HOST: &str = "proxy.sim.internal";

/// Addresses the real agent refuses to forward to (instance metadata,
/// DNS, time sync; protocol.md §7.4).
const DENIED: [&str; 9] = [
    "169.254.169.254",
    "fd00:ec2::254",
    "169.254.169.253",
    "fd00:ec2::253",
    "169.254.169.123",
    "fd00:ec2::123",
    "169.254.169.250",
    "169.254.169.251",
    "fd00:ec2::240",
];

/// Why a destination could not be reached; the text is what the agent
/// would log and what basic mode reports in channel_closed.
#[derive(Debug, Error)]
pub enum DialError {
    /// The name did not resolve.
    #[error("dial tcp {0}: lookup failed: {1}")]
    Resolve(String, std::io::Error),
    /// The name resolved to nothing.
    #[error("dial tcp {0}: missing address")]
    NoAddress(String),
    /// Forwarding there is forbidden.
    #[error("Forwarding to IP address {0} is forbidden.")]
    Forbidden(IpAddr),
    /// Connecting failed.
    #[error("dial tcp {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    /// Connecting took too long.
    #[error("dial tcp {0}: i/o timeout")]
    Timeout(String),
}

/// Connects to `host:port` under the destination policy. An empty host
/// means the instance itself (`localhost`). Host overrides may carry
/// their own port (`127.0.0.1:18118`), which then wins.
pub async fn dial(
    policy: &DestinationConfig,
    host: &str,
    port: u16,
) -> Result<TcpStream, DialError> {
    let host = if host.is_empty() { "localhost" } else { host };
    let target = match policy.host_overrides.get(host) {
        Some(mapped) if mapped.contains(':') && mapped.parse::<SocketAddr>().is_ok() => {
            mapped.clone()
        }
        Some(mapped) => format!("{mapped}:{port}"),
        None => format!("{host}:{port}"),
    };
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host(&target)
        .await
        .map_err(|err| DialError::Resolve(target.clone(), err))?
        .collect();
    let first = *addresses
        .first()
        .ok_or_else(|| DialError::NoAddress(target.clone()))?;
    for address in &addresses {
        check_allowed(policy, address.ip())?;
    }
    match tokio::time::timeout(policy.dial_timeout, TcpStream::connect(first)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(err)) => Err(DialError::Connect(first, err)),
        Err(_) => Err(DialError::Timeout(target)),
    }
}

fn check_allowed(policy: &DestinationConfig, ip: IpAddr) -> Result<(), DialError> {
    let denied = DENIED
        .iter()
        .any(|text| text.parse::<IpAddr>().ok() == Some(ip));
    if denied || (!policy.allow_nonlocal && !ip.is_loopback()) {
        return Err(DialError::Forbidden(ip));
    }
    Ok(())
}

/// Starts the echo target on `127.0.0.1:0`; returns its address and task.
pub async fn spawn_echo_server() -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = socket.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    Ok((address, task))
}

/// Starts the built-in HTTP proxy on `127.0.0.1:0`; returns its address and task.
///
/// It understands `CONNECT host:port` (what curl and kubectl send for
/// https URLs) and absolute-form requests (`GET http://host/path`), and
/// connects only where `policy` allows, like a locked-down privoxy.
pub async fn spawn_http_proxy(
    policy: DestinationConfig,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((socket, peer)) = listener.accept().await {
            let policy = policy.clone();
            let span = debug_span!("proxy", %peer);
            tokio::spawn(
                async move {
                    if let Err(error) = proxy_one(socket, &policy).await {
                        debug!(%error, "proxy connection ended");
                    }
                }
                .instrument(span),
            );
        }
    });
    Ok((address, task))
}

/// Longest request head the proxy reads.
const MAX_HEAD: usize = 16 * 1024;

async fn proxy_one(socket: TcpStream, policy: &DestinationConfig) -> std::io::Result<()> {
    let mut reader = BufReader::new(socket);
    let head = read_head(&mut reader).await?;
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = split_host_port(target, 443);
        let Ok(mut upstream) = dial(policy, &host, port).await else {
            return respond(reader.get_mut(), "502 Bad Gateway").await;
        };
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        let buffered = reader.buffer().to_vec();
        upstream.write_all(&buffered).await?;
        let mut socket = reader.into_inner();
        tokio::io::copy_bidirectional(&mut socket, &mut upstream).await?;
        return Ok(());
    }
    let Some(rest) = target.strip_prefix("http://") else {
        return respond(reader.get_mut(), "400 Bad Request").await;
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (host, port) = split_host_port(authority, 80);
    let Ok(mut upstream) = dial(policy, &host, port).await else {
        return respond(reader.get_mut(), "502 Bad Gateway").await;
    };
    let version = parts.next().unwrap_or("HTTP/1.1");
    let mut forwarded = format!("{method} /{path} {version}\r\n");
    for line in lines.filter(|line| !line.to_ascii_lowercase().starts_with("proxy-")) {
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    forwarded.push_str("\r\n");
    upstream.write_all(forwarded.as_bytes()).await?;
    let buffered = reader.buffer().to_vec();
    upstream.write_all(&buffered).await?;
    let mut socket = reader.into_inner();
    tokio::io::copy_bidirectional(&mut socket, &mut upstream).await?;
    Ok(())
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let read = (&mut *reader)
            .take(MAX_HEAD as u64)
            .read_line(&mut line)
            .await?;
        if read == 0 || head.len() + line.len() > MAX_HEAD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad request head",
            ));
        }
        if line == "\r\n" || line == "\n" {
            return Ok(head);
        }
        head.push_str(line.trim_end_matches(['\r', '\n']));
        head.push('\n');
    }
}

async fn respond(socket: &mut TcpStream, status: &str) -> std::io::Result<()> {
    let body = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    socket.write_all(body.as_bytes()).await
}

fn split_host_port(authority: &str, default_port: u16) -> (String, u16) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, port)) = rest.split_once(']')
    {
        let port = port.trim_start_matches(':').parse().unwrap_or(default_port);
        return (host.to_owned(), port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(default_port)),
        None => (authority.to_owned(), default_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_authorities() {
        assert_eq!(
            split_host_port("example.com:8443", 443),
            ("example.com".into(), 8443)
        );
        assert_eq!(
            split_host_port("example.com", 443),
            ("example.com".into(), 443)
        );
        assert_eq!(split_host_port("[::1]:80", 443), ("::1".into(), 80));
    }

    #[tokio::test]
    async fn refuses_non_loopback_and_metadata() {
        let policy = DestinationConfig::default();
        assert!(matches!(
            dial(&policy, "10.1.2.3", 80).await,
            Err(DialError::Forbidden(_))
        ));
        let open = DestinationConfig {
            allow_nonlocal: true,
            ..DestinationConfig::default()
        };
        assert!(matches!(
            dial(&open, "169.254.169.254", 80).await,
            Err(DialError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn overrides_map_names_to_loopback() {
        let (echo, _echo_task) = spawn_echo_server().await.unwrap();
        let mut policy = DestinationConfig::default();
        policy
            .host_overrides
            .insert("db.internal".into(), echo.to_string());
        let mut stream = dial(&policy, "db.internal", 5432).await.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"ping");
    }

    #[tokio::test]
    async fn proxy_tunnels_connect() {
        let (echo, _echo_task) = spawn_echo_server().await.unwrap();
        let (proxy, _proxy_task) = spawn_http_proxy(DestinationConfig::default())
            .await
            .unwrap();
        let mut client = TcpStream::connect(proxy).await.unwrap();
        client
            .write_all(format!("CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut reply = vec![0u8; 39];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"HTTP/1.1 200 Connection established\r\n\r\n");
        client.write_all(b"hello").await.unwrap();
        let mut echoed = [0u8; 5];
        client.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"hello");
    }
}
