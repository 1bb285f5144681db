//! HTTP proxy requests: `CONNECT host:port HTTP/1.1` (a tunnel) and
//! absolute-form requests for plain HTTP (`GET http://host/path
//! HTTP/1.1`), whose head is rewritten to origin form (`GET /path`), with
//! a `Host` header, without `Proxy-*` headers and with `Connection: close`
//! (the next request on the client's connection may be for another
//! host). Heads end with an empty line and are capped at [`MAX_HEAD`].

use crate::{Destination, HandshakeError, MAX_HEAD, Parsed};

/// The answer to a CONNECT that succeeded.
pub const CONNECT_ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

/// A parsed proxy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `CONNECT`: answer [`CONNECT_ESTABLISHED`], then relay both ways.
    Connect {
        /// Where to.
        destination: Destination,
    },
    /// An absolute-form request: send `head` to the destination, then
    /// relay both ways (the body follows the head on the client side).
    Forward {
        /// Where to.
        destination: Destination,
        /// The rewritten request head, ending with the empty line.
        head: Vec<u8>,
    },
}

impl Request {
    /// Where the request goes.
    pub fn destination(&self) -> &Destination {
        match self {
            Self::Connect { destination } | Self::Forward { destination, .. } => destination,
        }
    }
}

/// Parses a proxy request from the start of `input`.
pub fn parse(input: &[u8]) -> Result<Parsed<Request>, HandshakeError> {
    let Some(end) = head_end(input) else {
        return if input.len() > MAX_HEAD {
            Err(HandshakeError::TooLarge)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    if end > MAX_HEAD {
        return Err(HandshakeError::TooLarge);
    }
    let head = std::str::from_utf8(&input[..end])
        .map_err(|_| HandshakeError::BadRequest("the head is not UTF-8"))?;
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(HandshakeError::BadRequest(
            "the request line is not METHOD TARGET VERSION",
        ));
    };
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
        return Err(HandshakeError::BadRequest("not HTTP/1.0 or HTTP/1.1"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HandshakeError::BadRequest(
            "the method is not an HTTP token",
        ));
    }
    let headers: Vec<(&str, &str)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split_once(':')
                .map(|(name, value)| (name.trim(), value.trim()))
                .ok_or(HandshakeError::BadRequest("a header line has no colon"))
        })
        .collect::<Result<_, _>>()?;
    let value = if method == "CONNECT" {
        Request::Connect {
            destination: Destination::parse(target, None)?,
        }
    } else {
        forward(method, target, version, &headers)?
    };
    Ok(Parsed::Complete {
        value,
        consumed: end,
    })
}

/// The end of the head (after its empty line), if it is all there.
fn head_end(input: &[u8]) -> Option<usize> {
    let window = &input[..input.len().min(MAX_HEAD + 4)];
    let crlf = window
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = window.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An absolute-form request rewritten to origin form.
fn forward(
    method: &str,
    target: &str,
    version: &str,
    headers: &[(&str, &str)],
) -> Result<Request, HandshakeError> {
    let Some((scheme, rest)) = target.split_once("://") else {
        return Err(HandshakeError::Unsupported(
            "not a proxy request (an absolute http:// URL or CONNECT is needed)",
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(HandshakeError::Unsupported(
            "only http:// URLs are fetched; https goes through CONNECT",
        ));
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.contains('@') {
        return Err(HandshakeError::Unsupported("credentials in the URL"));
    }
    let destination = Destination::parse(authority, Some(80))?;
    let path = match path {
        "" => "/".to_owned(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    let mut head = format!("{method} {path} {version}\r\nHost: {authority}\r\n");
    for (name, value) in headers {
        let dropped = [
            "host",
            "connection",
            "proxy-connection",
            "proxy-authorization",
            "keep-alive",
        ];
        if !dropped.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    Ok(Request::Forward {
        destination,
        head: head.into_bytes(),
    })
}

/// A complete plain-text answer that closes the connection (`403`,
/// `502`, …); `body` says why, for a person or a log.
pub fn response(status: u16, reason: &str, body: &str) -> Vec<u8> {
    let body = format!("{body}\n");
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Host;

    fn complete(input: &[u8]) -> (Request, usize) {
        match parse(input).unwrap() {
            Parsed::Complete { value, consumed } => (value, consumed),
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn connect_gives_the_destination_and_leaves_the_rest() {
        let input = b"CONNECT api.internal:443 HTTP/1.1\r\nHost: api.internal:443\r\n\r\n\x16\x03";
        let (request, consumed) = complete(input);
        assert_eq!(request.destination().to_string(), "api.internal:443");
        assert_eq!(&input[consumed..], b"\x16\x03");
        let (v6, _) = complete(b"CONNECT [fd00::1]:22 HTTP/1.1\r\n\r\n");
        assert_eq!(v6.destination().host, Host::V6("fd00::1".parse().unwrap()));
    }

    #[test]
    fn absolute_form_is_rewritten_to_origin_form() {
        let input = b"GET http://web.internal:8080/a/b?c=d HTTP/1.1\r\nHost: web.internal:8080\r\n\
                      Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nAccept: */*\r\n\r\nBODY";
        let (request, consumed) = complete(input);
        let Request::Forward { destination, head } = request else {
            panic!("not forwarded")
        };
        assert_eq!(destination.to_string(), "web.internal:8080");
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /a/b?c=d HTTP/1.1\r\nHost: web.internal:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(&input[consumed..], b"BODY");
        let (plain, _) = complete(b"GET http://web.internal HTTP/1.0\n\n");
        assert_eq!(plain.destination().port, 80);
    }

    #[test]
    fn partial_heads_wait_and_oversized_or_wrong_ones_fail() {
        assert_eq!(
            parse(b"CONNECT a:1 HTTP/1.1\r\n").unwrap(),
            Parsed::Incomplete
        );
        assert_eq!(parse(b"").unwrap(), Parsed::Incomplete);
        let huge = [
            b"GET http://a/ HTTP/1.1\r\nX: ".as_slice(),
            &[b'x'; MAX_HEAD],
        ]
        .concat();
        assert_eq!(parse(&huge), Err(HandshakeError::TooLarge));
        for bad in [
            b"GET /index.html HTTP/1.1\r\n\r\n".as_slice(),
            b"GET https://a/ HTTP/1.1\r\n\r\n",
            b"CONNECT a HTTP/1.1\r\n\r\n",
            b"CONNECT a:1 HTTP/2\r\n\r\n",
            b"CONNECT a:1\r\n\r\n",
            b"CONNECT a:1 HTTP/1.1\r\nno colon\r\n\r\n",
            b"get http://a/ HTTP/1.1\r\n\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn responses_are_complete_and_close() {
        let text = String::from_utf8(response(
            403,
            "Forbidden",
            "db.internal:5432 is not allowed",
        ))
        .unwrap();
        assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(text.contains("Content-Length: 32\r\n") && text.contains("Connection: close"));
        assert!(text.ends_with("\r\n\r\ndb.internal:5432 is not allowed\n"));
    }
}
