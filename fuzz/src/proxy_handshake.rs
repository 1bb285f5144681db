//! The local proxy's handshakes on arbitrary bytes: the first byte picks
//! HTTP or SOCKS5 as the proxy does, then the request is parsed whole and
//! from every shorter prefix. Never a panic; a complete parse consumes no
//! more than it was given; every shorter prefix of a complete input is
//! "incomplete" or the same error class; a forwarded HTTP head is origin
//! form ending in an empty line; destinations never have port 0. The
//! same bytes, as text, go through the allow/deny rule parser.

use ssm_proxy_handshake::{Parsed, Protocol, detect, http, rules::Rule, socks5};

/// Runs the checks; `Some(destination text)` when a request parsed.
pub fn check(data: &[u8]) -> Option<String> {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Rule::parse(text);
    }
    match detect(*data.first()?)? {
        Protocol::Http => check_http(data),
        Protocol::Socks5 => check_socks(data),
    }
}

fn check_http(data: &[u8]) -> Option<String> {
    let Parsed::Complete { value, consumed } = http::parse(data).ok()? else {
        return None;
    };
    assert!(consumed <= data.len());
    assert_ne!(value.destination().port, 0);
    if let http::Request::Forward { head, .. } = &value {
        assert!(head.ends_with(b"\r\n\r\n"));
        assert!(
            head.windows(2).position(|w| w == b" /").is_some(),
            "origin form"
        );
    }
    for cut in 0..consumed {
        // A head is only complete with its empty line.
        assert!(!matches!(
            http::parse(&data[..cut]),
            Ok(Parsed::Complete { .. })
        ));
    }
    Some(value.destination().to_string())
}

fn check_socks(data: &[u8]) -> Option<String> {
    let Parsed::Complete { consumed, .. } = socks5::parse_greeting(data).ok()? else {
        return None;
    };
    assert!(consumed <= data.len());
    let rest = &data[consumed..];
    let Parsed::Complete { value, consumed } = socks5::parse_request(rest).ok()? else {
        return None;
    };
    assert!(consumed <= rest.len());
    assert_ne!(value.port, 0);
    for cut in 0..consumed {
        assert_eq!(socks5::parse_request(&rest[..cut]), Ok(Parsed::Incomplete));
    }
    Some(value.to_string())
}
