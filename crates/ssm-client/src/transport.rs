//! Opening the data-channel WebSocket.
//!
//! The stream URL is used byte for byte (its `cell-number` query holds
//! `+`, `/` and `=`). `wss://` goes through rustls with the webpki root
//! store and the ring provider; plain `ws://` is refused unless the host
//! is loopback. An HTTP proxy from the environment ([`crate::proxy`]:
//! `HTTPS_PROXY` for `wss://`, `HTTP_PROXY` for `ws://`, `NO_PROXY`,
//! Basic authentication from the URL) is used through a CONNECT tunnel.
//! Every step (TCP, the proxy's CONNECT,
//! TLS, the WebSocket upgrade) has its deadline ([`ConnectDeadlines`]).

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::debug;

use crate::config::ConnectDeadlines;
use crate::error::{ConnectError, ConnectStep, Error, ErrorSource, ProxyError};
use crate::proxy::Proxy;

/// The socket type of a data channel.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest answer to CONNECT (status line and headers) we read.
const MAX_PROXY_ANSWER: u64 = 16 * 1024;

/// Largest WebSocket message we accept from the gateway.
pub(crate) const MAX_WS_MESSAGE: usize = 2 << 20;

/// Installs rustls' ring provider as the process default (once; later
/// calls and an already installed provider are fine).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Checks the URL scheme and host against the transport policy.
pub(crate) fn check_url(url: &str, allow_insecure_ws: bool) -> Result<Uri, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::InsecureUrl(format!("not a valid URL: {url}")))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("wss") => Ok(uri),
        Some("ws") if allow_insecure_ws || is_loopback(host) => Ok(uri),
        Some("ws") => Err(Error::InsecureUrl(format!(
            "plain ws:// to non-loopback host {host}"
        ))),
        _ => Err(Error::InsecureUrl(format!("unsupported scheme in {url}"))),
    }
}

fn is_loopback(host: &str) -> bool {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    trimmed.eq_ignore_ascii_case("localhost")
        || trimmed.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Opens the WebSocket (no subprotocol, no extra headers, as the plugin),
/// each step under its deadline.
pub(crate) async fn connect(
    url: &str,
    allow_insecure_ws: bool,
    deadlines: &ConnectDeadlines,
) -> Result<WsStream, Error> {
    let uri = check_url(url, allow_insecure_ws)?;
    install_crypto_provider();
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE));
    let request = url
        .into_client_request()
        .map_err(|e| Error::InsecureUrl(format!("not a valid URL: {e}")))?;
    let host = uri.host().unwrap_or_default().to_owned();
    let secure = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let proxy = Proxy::for_host(&host, secure, |name| std::env::var(name).ok())
        .map_err(ConnectError::Proxy)?;
    let stream = match proxy {
        Some(proxy) => {
            debug!(proxy = %proxy.address(), "tunnelling through the proxy");
            tunnel(&proxy, &host, port, deadlines).await?
        }
        None => within(deadlines.tcp, ConnectStep::Tcp, dial(&host, port)).await?,
    };
    let _ = stream.set_nodelay(true);
    let stream = if secure {
        let tls = within(deadlines.tls, ConnectStep::Tls, tls(&host, stream)).await?;
        MaybeTlsStream::Rustls(tls)
    } else {
        MaybeTlsStream::Plain(stream)
    };
    let upgrade = tokio_tungstenite::client_async_with_config(request, stream, Some(config));
    let (ws, response) = within(deadlines.upgrade, ConnectStep::Upgrade, async {
        upgrade.await.map_err(upgrade_failure)
    })
    .await?;
    debug!(status = %response.status(), "data channel socket open");
    Ok(ws)
}

/// How [`reach_gateway`] reached a data-channel host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayReach {
    /// The proxy tunnelled through (`host:port`, never its credentials).
    pub proxy: Option<String>,
    /// True when TLS was completed (`wss://`); false for a plain
    /// loopback `ws://` URL, where a TCP connect is all there is.
    pub tls: bool,
}

/// Connects to the host of a data-channel URL as a session would (TCP,
/// through the environment's proxy when one applies, then TLS for `wss://`) and
/// closes again, without any WebSocket request: for checks such as
/// `ssm-forward doctor`. Each step has its deadline.
pub async fn reach_gateway(url: &str, deadlines: &ConnectDeadlines) -> Result<GatewayReach, Error> {
    let uri = check_url(url, false)?;
    install_crypto_provider();
    let host = uri.host().unwrap_or_default().to_owned();
    let secure = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let proxy = Proxy::for_host(&host, secure, |name| std::env::var(name).ok())
        .map_err(ConnectError::Proxy)?;
    let stream = match &proxy {
        Some(proxy) => tunnel(proxy, &host, port, deadlines).await?,
        None => within(deadlines.tcp, ConnectStep::Tcp, dial(&host, port)).await?,
    };
    if secure {
        within(deadlines.tls, ConnectStep::Tls, tls(&host, stream)).await?;
    }
    Ok(GatewayReach {
        proxy: proxy.map(|proxy| proxy.address()),
        tls: secure,
    })
}

/// `step`, failing with [`ConnectError::TimedOut`] after `limit`.
async fn within<T>(
    limit: Duration,
    step: ConnectStep,
    step_future: impl Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    tokio::time::timeout(limit, step_future)
        .await
        .unwrap_or(Err(ConnectError::TimedOut { step, limit }))
}

/// The TLS handshake with `host`, checked against the webpki roots.
async fn tls(host: &str, stream: TcpStream) -> Result<TlsStream<TcpStream>, ConnectError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    });
    let failure = |cause: ErrorSource| ConnectError::Tls {
        host: host.to_owned(),
        cause,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name =
        ServerName::try_from(bare.to_owned()).map_err(|error| failure(ErrorSource::new(error)))?;
    TlsConnector::from(config.clone())
        .connect(name, stream)
        .await
        .map_err(|error| failure(ErrorSource::new(error)))
}

/// Resolves `host` and connects to the first of its addresses that
/// answers, telling a name that does not resolve from a refused connect.
async fn dial(host: &str, port: u16) -> Result<TcpStream, ConnectError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let dns_failure = |cause: io::Error| ConnectError::Dns {
        host: host.to_owned(),
        cause: ErrorSource::new(cause),
    };
    let addrs = tokio::net::lookup_host((bare, port))
        .await
        .map_err(dns_failure)?;
    let mut last_failure = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(cause) => last_failure = Some((addr, cause)),
        }
    }
    let (addr, cause) = last_failure.ok_or_else(|| {
        dns_failure(io::Error::new(
            io::ErrorKind::NotFound,
            "the name has no addresses",
        ))
    })?;
    Err(ConnectError::Tcp {
        addr: addr.to_string(),
        cause: ErrorSource::new(cause),
    })
}

/// Sorts a failed WebSocket upgrade: refused with a status, or broken.
fn upgrade_failure(error: WsError) -> ConnectError {
    match error {
        WsError::Http(response) => ConnectError::Upgrade {
            status: response.status().as_u16(),
        },
        other => ConnectError::WebSocket {
            cause: ErrorSource::new(other),
        },
    }
}

/// Opens a TCP tunnel to `host:port` through an HTTP proxy (CONNECT).
async fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    deadlines: &ConnectDeadlines,
) -> Result<TcpStream, ConnectError> {
    let reach = async {
        TcpStream::connect((proxy.host(), proxy.port()))
            .await
            .map_err(|cause| {
                ConnectError::Proxy(ProxyError::Unreachable {
                    proxy: proxy.address(),
                    cause: ErrorSource::new(cause),
                })
            })
    };
    let mut stream = within(deadlines.tcp, ConnectStep::ProxyTcp, reach).await?;
    let exchange = async {
        proxy_connect(&mut stream, proxy, host, port)
            .await
            .map_err(ConnectError::Proxy)
    };
    within(deadlines.proxy_connect, ConnectStep::ProxyConnect, exchange).await?;
    Ok(stream)
}

/// Sends CONNECT and reads the proxy's answer (at most
/// [`MAX_PROXY_ANSWER`] bytes of status line and headers).
async fn proxy_connect(
    stream: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), ProxyError> {
    let io_failure = |cause: io::Error| ProxyError::Io {
        cause: ErrorSource::new(cause),
    };
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let authorization = proxy.authorization_header().unwrap_or_default();
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{authorization}\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(io_failure)?;
    let mut reader = BufReader::new(stream);
    let mut answer = (&mut reader).take(MAX_PROXY_ANSWER);
    let mut status_line = String::new();
    answer
        .read_line(&mut status_line)
        .await
        .map_err(io_failure)?;
    let status = connect_status(&status_line)?;
    // 407 is the standard answer; some proxies (tinyproxy) say 401.
    if status == 407 || status == 401 {
        return Err(ProxyError::AuthenticationFailed {
            proxy: proxy.address(),
            status,
            with_credentials: proxy.has_credentials(),
        });
    }
    if !(200..300).contains(&status) {
        return Err(ProxyError::Refused {
            proxy: proxy.address(),
            status,
        });
    }
    loop {
        let mut line = String::new();
        let read = answer.read_line(&mut line).await.map_err(io_failure)?;
        if answer.limit() == 0 && !line.ends_with('\n') {
            return Err(ProxyError::BadAnswer(format!(
                "an answer to CONNECT longer than {MAX_PROXY_ANSWER} bytes"
            )));
        }
        if read == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    if !reader.buffer().is_empty() {
        return Err(ProxyError::BadAnswer(
            "data before the tunnel was up".into(),
        ));
    }
    Ok(())
}

/// The status code of the proxy's answer to CONNECT.
fn connect_status(status_line: &str) -> Result<u16, ProxyError> {
    let mut words = status_line.split_whitespace();
    let code = match (words.next(), words.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code.parse().ok(),
        _ => None,
    };
    code.ok_or_else(|| ProxyError::BadAnswer(format!("{:?}", status_line.trim_end())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_plain_ws_off_loopback() {
        assert!(check_url("ws://127.0.0.1:9/v1/data-channel/s", false).is_ok());
        assert!(check_url("ws://localhost:9/x", false).is_ok());
        assert!(check_url("ws://[::1]:9/x", false).is_ok());
        assert!(matches!(
            check_url("ws://10.0.0.1/x", false),
            Err(Error::InsecureUrl(_))
        ));
        assert!(matches!(
            check_url("ws://ssmmessages.us-east-1.amazonaws.com/x", false),
            Err(Error::InsecureUrl(_))
        ));
        assert!(check_url("ws://10.0.0.1/x", true).is_ok());
        assert!(check_url("wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s?role=publish_subscribe&cell-number=AB+/cd==", false).is_ok());
        assert!(matches!(
            check_url("http://x", false),
            Err(Error::InsecureUrl(_))
        ));
    }

    #[tokio::test]
    async fn reach_gateway_connects_and_says_how() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let deadlines = ConnectDeadlines::default();
        let reach = reach_gateway(&format!("ws://{addr}/"), &deadlines).await;
        assert_eq!(
            reach.unwrap(),
            GatewayReach {
                proxy: None,
                tls: false
            }
        );
        drop(listener);
        let refused = reach_gateway(&format!("ws://{addr}/"), &deadlines).await;
        assert!(
            matches!(refused, Err(Error::Connect(ConnectError::Tcp { .. }))),
            "{refused:?}"
        );
        let off_loopback = reach_gateway("ws://10.0.0.1/", &deadlines).await;
        assert!(matches!(off_loopback, Err(Error::InsecureUrl(_))));
    }

    #[tokio::test]
    async fn tunnels_through_an_http_proxy() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (echo, _echo_task) = ssm_sim::targets::spawn_echo_server().await.unwrap();
        let policy = ssm_sim::config::DestinationConfig::default();
        let (proxy, _proxy_task) = ssm_sim::targets::spawn_http_proxy(policy).await.unwrap();
        let deadlines = ConnectDeadlines::default();
        let proxy = Proxy::parse("HTTPS_PROXY", &format!("http://{proxy}")).unwrap();
        let mut stream = tunnel(&proxy, &echo.ip().to_string(), echo.port(), &deadlines)
            .await
            .unwrap();
        stream.write_all(b"through the proxy").await.unwrap();
        let mut reply = [0u8; 17];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"through the proxy");
        let refused = tunnel(&proxy, "10.9.9.9", 443, &deadlines).await;
        assert_eq!(
            refused.unwrap_err(),
            ConnectError::Proxy(ProxyError::Refused {
                proxy: proxy.address(),
                status: 502
            })
        );
        assert!(matches!(
            connect_status("SSH-2.0-OpenSSH_9.6\r\n"),
            Err(ProxyError::BadAnswer(_))
        ));
    }

    #[tokio::test]
    async fn a_proxy_asking_for_credentials_gets_them_and_a_refusal_names_the_proxy() {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requests = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (socket, _) = listener.accept().await.unwrap();
                let mut reader = BufReader::new(socket);
                let mut request = String::new();
                while !request.ends_with("\r\n\r\n") {
                    if reader.read_line(&mut request).await.unwrap() == 0 {
                        break;
                    }
                }
                let answer = "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
                reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
                seen.push(request);
            }
            seen
        });
        let deadlines = ConnectDeadlines::default();
        for url in [
            format!("http://al:pw@{address}"),
            format!("http://{address}"),
        ] {
            let proxy = Proxy::parse("HTTPS_PROXY", &url).unwrap();
            let error = tunnel(&proxy, "gateway.example", 443, &deadlines)
                .await
                .unwrap_err();
            let ConnectError::Proxy(error) = error else {
                panic!("{error:?}")
            };
            assert_eq!(
                error,
                ProxyError::AuthenticationFailed {
                    proxy: address.to_string(),
                    status: 407,
                    with_credentials: proxy.has_credentials(),
                }
            );
            assert!(!error.to_string().contains("pw"), "{error}");
        }
        let seen = requests.await.unwrap();
        // base64("al:pw")
        assert!(
            seen[0].contains("Proxy-Authorization: Basic YWw6cHc=\r\n"),
            "{seen:?}"
        );
        assert!(!seen[1].contains("Proxy-Authorization"), "{seen:?}");
        assert!(seen[0].starts_with("CONNECT gateway.example:443 HTTP/1.1\r\n"));
    }

    /// A TLS listener on loopback whose certificate no public root signed.
    async fn untrusted_tls_server() -> std::net::SocketAddr {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der_key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = acceptor.accept(socket).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn refuses_a_wss_server_with_an_untrusted_certificate() {
        install_crypto_provider();
        let addr = untrusted_tls_server().await;
        let url = format!("wss://{addr}/v1/data-channel/s?role=publish_subscribe");
        let error = connect(&url, false, &ConnectDeadlines::default())
            .await
            .expect_err("untrusted certificate");
        assert!(
            matches!(&error, Error::Connect(ConnectError::Tls { host, .. }) if host == "127.0.0.1"),
            "not a TLS error: {error:?}"
        );
        let text = error.to_string();
        assert!(text.to_lowercase().contains("certificate"), "{text}");
    }

    #[tokio::test]
    async fn tells_a_refused_connect_from_a_refused_upgrade() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let error = connect(
            &format!("ws://{addr}/x"),
            false,
            &ConnectDeadlines::default(),
        )
        .await
        .expect_err("nothing listens");
        assert!(
            matches!(&error, Error::Connect(ConnectError::Tcp { addr: a, .. }) if *a == addr.to_string()),
            "{error:?}"
        );

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let refusal = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n";
            let _ = socket.write_all(refusal).await;
        });
        let error = connect(
            &format!("ws://{addr}/x"),
            false,
            &ConnectDeadlines::default(),
        )
        .await
        .expect_err("upgrade refused");
        assert_eq!(
            error,
            Error::Connect(ConnectError::Upgrade { status: 403 }),
            "{error:?}"
        );
    }

    #[test]
    fn keeps_the_query_byte_for_byte() {
        let url = "wss://h/v1/data-channel/s?role=publish_subscribe&cell-number=AB+/cd==";
        let uri = check_url(url, false).unwrap();
        assert_eq!(
            uri.query(),
            Some("role=publish_subscribe&cell-number=AB+/cd==")
        );
        let request = url.into_client_request().unwrap();
        assert_eq!(request.uri().to_string(), url);
    }

    /// A listener on loopback that accepts every connection, reads and
    /// never answers (a black-holed gateway or proxy after the SYN).
    async fn silent_server() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        addr
    }

    /// A listener on loopback that never accepts: its backlog (0, which
    /// Linux rounds to one pending connection) is filled by connections
    /// made here, so the kernel drops further SYNs and a connect hangs as
    /// on a black-holed network. Uses real time (call before pausing).
    async fn full_backlog() -> (
        std::net::SocketAddr,
        Vec<TcpStream>,
        tokio::net::TcpListener,
    ) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        for _ in 0..16 {
            let attempt = TcpStream::connect(addr);
            match tokio::time::timeout(Duration::from_millis(300), attempt).await {
                Ok(Ok(stream)) => queued.push(stream),
                Ok(Err(error)) => panic!("connect failed: {error}"),
                Err(_) => return (addr, queued, listener),
            }
        }
        panic!("the backlog never filled");
    }

    fn timed_out(step: ConnectStep) -> Error {
        Error::Connect(ConnectError::TimedOut {
            step,
            limit: Duration::from_secs(10),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_gateway_times_out_in_the_websocket_upgrade_or_tls() {
        let deadlines = ConnectDeadlines::default();
        let addr = silent_server().await;
        let plain = connect(&format!("ws://{addr}/x"), false, &deadlines).await;
        assert_eq!(plain.unwrap_err(), timed_out(ConnectStep::Upgrade));
        let secure = connect(&format!("wss://{addr}/x"), false, &deadlines).await;
        assert_eq!(secure.unwrap_err(), timed_out(ConnectStep::Tls));
    }

    #[tokio::test]
    async fn a_gateway_that_never_accepts_times_out_in_tcp() {
        let (addr, _queued, _listener) = full_backlog().await;
        tokio::time::pause();
        let deadlines = ConnectDeadlines::default();
        let error = connect(&format!("ws://{addr}/x"), false, &deadlines).await;
        assert_eq!(error.unwrap_err(), timed_out(ConnectStep::Tcp));
    }

    #[tokio::test]
    async fn a_silent_or_unreachable_proxy_times_out_and_its_answer_is_capped() {
        let deadlines = ConnectDeadlines::default();
        let proxy = |addr| Proxy::parse("HTTPS_PROXY", &format!("http://{addr}")).unwrap();
        let (never_accepts, _queued, _listener) = full_backlog().await;
        tokio::time::pause();
        let silent = silent_server().await;
        let error = tunnel(&proxy(silent), "gateway.example", 443, &deadlines).await;
        assert_eq!(
            error.unwrap_err(),
            ConnectError::TimedOut {
                step: ConnectStep::ProxyConnect,
                limit: deadlines.proxy_connect
            }
        );
        let error = tunnel(&proxy(never_accepts), "gateway.example", 443, &deadlines).await;
        assert_eq!(
            error.unwrap_err(),
            ConnectError::TimedOut {
                step: ConnectStep::ProxyTcp,
                limit: deadlines.tcp
            }
        );
        tokio::time::resume();
        let endless = endless_header_proxy().await;
        let error = tunnel(&proxy(endless), "gateway.example", 443, &deadlines).await;
        assert!(
            matches!(&error, Err(ConnectError::Proxy(ProxyError::BadAnswer(text))) if text.contains("longer than")),
            "{error:?}"
        );
    }

    /// A proxy that answers CONNECT with 200 and then one header line that
    /// never ends.
    async fn endless_header_proxy() -> std::net::SocketAddr {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nX-Endless: ").await;
            let filler = vec![b'a'; 4096];
            while socket.write_all(&filler).await.is_ok() {}
        });
        addr
    }
}
