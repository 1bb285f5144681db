//! Why the data-channel WebSocket could not be opened.

use std::time::Duration;

use thiserror::Error;

use super::ErrorSource;

/// The data-channel WebSocket could not be opened, by the step that
/// failed. All of these may pass on a later attempt except where the
/// variant says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The gateway's host name did not resolve. Check DNS and the network.
    #[error("could not resolve {host}: {cause}")]
    Dns {
        /// The host from the stream URL.
        host: String,
        /// The resolver's error (an `io::Error`).
        cause: ErrorSource,
    },
    /// No TCP connection to the gateway (refused, unreachable, timed out).
    /// Check the network and firewalls; retry later.
    #[error("could not connect to {addr}: {cause}")]
    Tcp {
        /// `host:port` that was dialled.
        addr: String,
        /// The socket error (an `io::Error`).
        cause: ErrorSource,
    },
    /// The TLS handshake failed (e.g. a certificate no trusted root signed,
    /// as a TLS-intercepting proxy presents). Retrying will not help;
    /// check the network path to the gateway.
    #[error("TLS with {host} failed: {cause}")]
    Tls {
        /// The host whose certificate was checked.
        host: String,
        /// The TLS error (usually a `rustls::Error` inside an `io::Error`).
        cause: ErrorSource,
    },
    /// The gateway answered the WebSocket upgrade with an HTTP status
    /// instead of switching protocols (403 for a token it does not accept).
    /// Start a new session if it persists.
    #[error("the gateway refused the WebSocket upgrade with HTTP {status}")]
    Upgrade {
        /// The HTTP status code.
        status: u16,
    },
    /// The WebSocket handshake failed otherwise (the connection dropped, or
    /// the answer was not a WebSocket handshake).
    #[error("WebSocket handshake failed: {cause}")]
    WebSocket {
        /// tungstenite's error.
        cause: ErrorSource,
    },
    /// The `HTTPS_PROXY` tunnel could not be set up. See [`ProxyError`].
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The socket closed before OpenDataChannel could be sent.
    #[error("the socket closed before OpenDataChannel was sent")]
    Closed,
    /// One step of opening the socket got no answer in time (a black-holed
    /// network, a captive portal, a proxy or gateway that accepts and never
    /// answers). Retry later; check the network path if it persists.
    #[error("{step} got no answer within {limit:?}")]
    TimedOut {
        /// The step that timed out.
        step: ConnectStep,
        /// Its deadline ([`crate::ConnectDeadlines`]).
        limit: Duration,
    },
}

/// The steps of opening the data-channel socket, each with its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectStep {
    /// Resolving the gateway's name and connecting TCP to it.
    Tcp,
    /// Connecting TCP to the `HTTPS_PROXY`.
    ProxyTcp,
    /// The proxy's answer to CONNECT.
    ProxyConnect,
    /// The TLS handshake with the gateway.
    Tls,
    /// The WebSocket upgrade (HTTP request and answer).
    Upgrade,
}

impl std::fmt::Display for ConnectStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "the TCP connection to the gateway",
            Self::ProxyTcp => "the TCP connection to the proxy",
            Self::ProxyConnect => "the proxy's CONNECT",
            Self::Tls => "the TLS handshake",
            Self::Upgrade => "the WebSocket upgrade",
        })
    }
}

/// The HTTP CONNECT tunnel through `HTTPS_PROXY` could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy variable is not a URL (its value is not repeated: it may
    /// hold a password). Fix the variable; retrying will not help.
    #[error("{0} is not a valid proxy URL (expected http://[user:password@]host:port)")]
    BadUrl(String),
    /// The proxy URL is `https://`: TLS to the proxy itself is not
    /// supported for the data channel. Use the proxy's `http://` address
    /// (the tunnel inside is TLS to AWS all the same).
    #[error(
        "{variable} names an https:// proxy ({proxy}); use its http:// address: the tunnel through it is TLS to AWS either way"
    )]
    HttpsProxy {
        /// The environment variable.
        variable: String,
        /// `host:port` of the proxy.
        proxy: String,
    },
    /// No TCP connection to the proxy. Check `HTTPS_PROXY` and the proxy.
    #[error("could not connect to proxy {proxy}: {cause}")]
    Unreachable {
        /// `host:port` of the proxy.
        proxy: String,
        /// The socket error (an `io::Error`).
        cause: ErrorSource,
    },
    /// The proxy answered CONNECT with a status other than 2xx (403 or
    /// 502 are its policy or its own connect failing). Check the proxy or
    /// `NO_PROXY`.
    #[error("proxy {proxy} refused CONNECT with HTTP {status}")]
    Refused {
        /// `host:port` of the proxy.
        proxy: String,
        /// The proxy's status code.
        status: u16,
    },
    /// The proxy wants credentials (407, or 401 from some proxies) and
    /// those in the proxy URL are missing or wrong. Fix `user:password@`
    /// in the proxy variable.
    #[error("proxy {proxy} refused the user and password{given} (HTTP {status}): check user:password@ in HTTPS_PROXY / HTTP_PROXY", given = if *with_credentials { " given" } else { ": none were given" })]
    AuthenticationFailed {
        /// `host:port` of the proxy.
        proxy: String,
        /// The proxy's status code.
        status: u16,
        /// Whether the URL carried credentials.
        with_credentials: bool,
    },
    /// The proxy's answer was not an HTTP status line, or the proxy sent
    /// data before the tunnel was up. Check that `HTTPS_PROXY` is an HTTP proxy.
    #[error("unexpected answer from the proxy: {0}")]
    BadAnswer(String),
    /// Reading or writing the CONNECT exchange failed.
    #[error("proxy connection failed: {cause}")]
    Io {
        /// The socket error (an `io::Error`).
        cause: ErrorSource,
    },
}
