//! SOCKS5 (RFC 1928) without authentication, CONNECT only: the greeting
//! (the client's methods; "no authentication" must be among them), the
//! request (IPv4, IPv6 or a domain name, which stays a name for the far
//! side to resolve) and the replies.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{Destination, HandshakeError, Host, Parsed};

/// The answer to a greeting that offers "no authentication".
pub const METHOD_ACCEPTED: [u8; 2] = [0x05, 0x00];
/// The answer to a greeting that does not.
pub const METHOD_REFUSED: [u8; 2] = [0x05, 0xFF];

/// Parses the greeting: `VER NMETHODS METHODS…`. Complete (with `()`)
/// when it offers "no authentication"; answer [`METHOD_ACCEPTED`].
pub fn parse_greeting(input: &[u8]) -> Result<Parsed<()>, HandshakeError> {
    let [version, count, ..] = input else {
        return Ok(Parsed::Incomplete);
    };
    if *version != 0x05 {
        return Err(HandshakeError::BadSocks("not SOCKS version 5"));
    }
    let end = 2 + usize::from(*count);
    let Some(methods) = input.get(2..end) else {
        return Ok(Parsed::Incomplete);
    };
    if !methods.contains(&0x00) {
        return Err(HandshakeError::NoAcceptableMethod);
    }
    Ok(Parsed::Complete {
        value: (),
        consumed: end,
    })
}

/// Parses the request: `VER CMD RSV ATYP ADDR PORT`.
pub fn parse_request(input: &[u8]) -> Result<Parsed<Destination>, HandshakeError> {
    let [version, command, reserved, address_type, rest @ ..] = input else {
        return Ok(Parsed::Incomplete);
    };
    if *version != 0x05 || *reserved != 0x00 {
        return Err(HandshakeError::BadSocks(
            "bad version or reserved byte in the request",
        ));
    }
    if *command != 0x01 {
        return Err(HandshakeError::SocksCommand(*command));
    }
    let (host, address_len) = match *address_type {
        0x01 => match rest.get(..4) {
            Some(octets) => (
                Host::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])),
                4,
            ),
            None => return Ok(Parsed::Incomplete),
        },
        0x04 => match rest.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
            Some(octets) => (Host::V6(Ipv6Addr::from(octets)), 16),
            None => return Ok(Parsed::Incomplete),
        },
        0x03 => {
            let Some((&length, name)) = rest.split_first() else {
                return Ok(Parsed::Incomplete);
            };
            let Some(name) = name.get(..usize::from(length)) else {
                return Ok(Parsed::Incomplete);
            };
            let name = std::str::from_utf8(name)
                .map_err(|_| HandshakeError::BadHost(String::from_utf8_lossy(name).into()))?;
            (Host::parse(name)?, 1 + usize::from(length))
        }
        other => return Err(HandshakeError::SocksAddressType(other)),
    };
    let Some(port) = rest.get(address_len..address_len + 2) else {
        return Ok(Parsed::Incomplete);
    };
    let port = u16::from_be_bytes([port[0], port[1]]);
    if port == 0 {
        return Err(HandshakeError::BadPort("0".into()));
    }
    Ok(Parsed::Complete {
        value: Destination { host, port },
        consumed: 4 + address_len + 2,
    })
}

/// A reply code (RFC 1928 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 0x00: the tunnel is up.
    Succeeded = 0x00,
    /// 0x01: the session could not start (access denied, target offline).
    GeneralFailure = 0x01,
    /// 0x02: the allow/deny rules refuse the destination.
    NotAllowed = 0x02,
    /// 0x03: network unreachable.
    NetworkUnreachable = 0x03,
    /// 0x04: host unreachable.
    HostUnreachable = 0x04,
    /// 0x05: the far side could not connect to the destination.
    ConnectionRefused = 0x05,
    /// 0x07: not CONNECT.
    CommandNotSupported = 0x07,
    /// 0x08: unknown address type.
    AddressTypeNotSupported = 0x08,
}

impl Reply {
    /// The reply for a request that could not be parsed.
    pub fn for_error(error: &HandshakeError) -> Self {
        match error {
            HandshakeError::SocksCommand(_) => Self::CommandNotSupported,
            HandshakeError::SocksAddressType(_) => Self::AddressTypeNotSupported,
            _ => Self::GeneralFailure,
        }
    }

    /// The reply's bytes (bound address 0.0.0.0:0: the far side's is not
    /// known here).
    pub fn to_bytes(self) -> [u8; 10] {
        [0x05, self as u8, 0x00, 0x01, 0, 0, 0, 0, 0, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_greeting_needs_no_authentication_offered() {
        assert_eq!(
            parse_greeting(&[5, 2, 2, 0]).unwrap(),
            Parsed::Complete {
                value: (),
                consumed: 4
            }
        );
        assert_eq!(parse_greeting(&[5, 2, 2]).unwrap(), Parsed::Incomplete);
        assert_eq!(
            parse_greeting(&[5, 1, 2]),
            Err(HandshakeError::NoAcceptableMethod)
        );
        assert!(parse_greeting(&[4, 1, 0]).is_err());
    }

    #[test]
    fn requests_carry_names_and_addresses() {
        let mut name = vec![5, 1, 0, 3, 12];
        name.extend_from_slice(b"db.internal.");
        name.extend_from_slice(&5432u16.to_be_bytes());
        let Parsed::Complete { value, consumed } = parse_request(&name).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(
            (value.to_string(), consumed),
            ("db.internal.:5432".to_owned(), name.len())
        );
        for cut in 0..name.len() {
            assert_eq!(
                parse_request(&name[..cut]).unwrap(),
                Parsed::Incomplete,
                "{cut}"
            );
        }
        let v4 = [5, 1, 0, 1, 10, 0, 0, 7, 0, 80];
        assert!(
            matches!(parse_request(&v4).unwrap(), Parsed::Complete { value, .. } if value.to_string() == "10.0.0.7:80")
        );
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0, 22]);
        assert!(
            matches!(parse_request(&v6).unwrap(), Parsed::Complete { value, .. } if value.to_string() == "[::1]:22")
        );
    }

    #[test]
    fn unsupported_requests_map_to_their_replies() {
        let bind = parse_request(&[5, 2, 0, 1, 1, 2, 3, 4, 0, 80]).unwrap_err();
        assert_eq!(Reply::for_error(&bind), Reply::CommandNotSupported);
        let odd = parse_request(&[5, 1, 0, 9, 0]).unwrap_err();
        assert_eq!(Reply::for_error(&odd).to_bytes()[1], 0x08);
        assert!(
            parse_request(&[5, 1, 0, 1, 1, 2, 3, 4, 0, 0]).is_err(),
            "port 0"
        );
        assert!(
            parse_request(&[5, 1, 0, 3, 3, b'a', b' ', b'b', 0, 1]).is_err(),
            "bad name"
        );
        assert_eq!(Reply::NotAllowed.to_bytes(), [5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
    }
}
