//! The handshakes of a local proxy that speaks HTTP and SOCKS5 on one
//! port, without IO: bytes in, a parsed request (or "need more") out, and
//! the bytes of the reply to send. [`detect`] tells the protocols apart by
//! the first byte; [`http::parse`] reads a `CONNECT host:port` or an
//! absolute-form `GET http://host/…` head (capped at [`MAX_HEAD`]);
//! [`socks5`] reads the greeting and the CONNECT request (no
//! authentication; domain names are kept as names, for the far side to
//! resolve); [`rules`] decides whether a destination is allowed (host
//! globs, CIDRs, ports).
//!
//! It does not open sockets, resolve names, copy data or start sessions:
//! the caller does, with what it gets here.

pub mod destination;
pub mod error;
pub mod http;
pub mod rules;
pub mod socks5;

pub use destination::{Destination, Host};
pub use error::HandshakeError;

/// Longest HTTP request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Which protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// An HTTP proxy request (`CONNECT …` or `GET http://…`).
    Http,
    /// SOCKS version 5.
    Socks5,
}

/// The protocol a connection speaks, from its first byte: 0x05 is
/// SOCKS5, an ASCII letter an HTTP method; anything else (SOCKS4's 0x04
/// included) is not spoken here.
pub fn detect(first: u8) -> Option<Protocol> {
    match first {
        0x05 => Some(Protocol::Socks5),
        byte if byte.is_ascii_alphabetic() => Some(Protocol::Http),
        _ => None,
    }
}

/// A parse that may need more bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// Not enough bytes yet; read more and call again with all of them.
    Incomplete,
    /// Parsed from the first `consumed` bytes; the rest belongs to the
    /// stream that follows.
    Complete {
        /// What was parsed.
        value: T,
        /// Bytes used.
        consumed: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_byte_tells_the_protocol() {
        assert_eq!(detect(0x05), Some(Protocol::Socks5));
        assert_eq!(detect(b'C'), Some(Protocol::Http));
        assert_eq!(detect(b'g'), Some(Protocol::Http));
        assert_eq!(detect(0x04), None);
        assert_eq!(
            detect(0x16),
            None,
            "a TLS ClientHello is not a proxy request"
        );
    }
}
