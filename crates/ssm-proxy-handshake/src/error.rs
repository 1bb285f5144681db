//! Why a handshake failed. Each variant maps to a reply: a `400` / SOCKS
//! general failure for malformed input, `405` / "command not supported"
//! for what this proxy does not do.

use thiserror::Error;

/// A handshake the proxy cannot serve; answer it (see [`crate::http`],
/// [`crate::socks5`]) and close the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// The request head is longer than [`crate::MAX_HEAD`].
    #[error("the request head is longer than {} bytes", crate::MAX_HEAD)]
    TooLarge,
    /// Not an HTTP/1.x proxy request (bad request line or headers).
    #[error("malformed HTTP request: {0}")]
    BadRequest(&'static str),
    /// A method other than CONNECT with an origin-form target (this is a
    /// proxy, not a web server), or a scheme other than `http://`.
    #[error("unsupported request: {0}")]
    Unsupported(&'static str),
    /// The host is neither an address nor a valid name.
    #[error("invalid host {0:?}")]
    BadHost(String),
    /// The port is missing, 0 or not a number.
    #[error("invalid port {0:?}")]
    BadPort(String),
    /// Not SOCKS version 5, or a malformed SOCKS5 message.
    #[error("malformed SOCKS5 message: {0}")]
    BadSocks(&'static str),
    /// The SOCKS5 client offered no method this proxy accepts (only "no
    /// authentication").
    #[error("the SOCKS5 client offers no method without authentication")]
    NoAcceptableMethod,
    /// A SOCKS5 command other than CONNECT (BIND, UDP ASSOCIATE).
    #[error("SOCKS5 command {0} is not supported (only CONNECT)")]
    SocksCommand(u8),
    /// A SOCKS5 address type other than IPv4, name and IPv6.
    #[error("SOCKS5 address type {0} is not supported")]
    SocksAddressType(u8),
}
