//! The URL inside a token: `https://HOST/?QUERY`, its query split and
//! percent-decoded (and re-encoded the SigV4 way for the canonical query).

use std::fmt::Write as _;

/// A presigned URL taken apart.
#[derive(Debug)]
pub(crate) struct PresignedUrl {
    /// Everything between `https://` and the path.
    pub(crate) host: String,
    /// The query parameters in URL order, names and values decoded.
    pub(crate) params: Vec<(String, String)>,
}

/// Why a URL could not be taken apart.
pub(crate) type UrlProblem = &'static str;

/// Splits `url`, which must be `https://HOST/?QUERY` (path `/`, no
/// fragment).
pub(crate) fn parse_url(url: &str) -> Result<PresignedUrl, UrlProblem> {
    let rest = url
        .strip_prefix("https://")
        .ok_or("the scheme is not https")?;
    let (host, path_and_query) = rest.split_once('/').ok_or("there is no path")?;
    let query = path_and_query
        .strip_prefix('?')
        .ok_or("the path is not / followed by a query")?;
    if query.contains('#') {
        return Err("the URL has a fragment");
    }
    let params = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(decode_pair)
        .collect::<Option<Vec<_>>>()
        .ok_or("a query parameter has a bad percent escape or is not UTF-8")?;
    Ok(PresignedUrl {
        host: host.to_owned(),
        params,
    })
}

fn decode_pair(pair: &str) -> Option<(String, String)> {
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    Some((percent_decode(name)?, percent_decode(value)?))
}

/// Decodes `%XX` escapes and `+` (a space, as in form encoding, which is
/// how Go's `url.ParseQuery` in aws-iam-authenticator reads it).
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'%' => {
                let hex = std::str::from_utf8(rest.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &rest[2..];
            }
            b'+' => bytes.push(b' '),
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).ok()
}

/// SigV4 URI encoding: every byte but `A-Z a-z 0-9 - _ . ~` as `%XX`
/// with upper-case hex.
pub(crate) fn sigv4_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            write!(encoded, "%{byte:02X}").expect("writing to a String cannot fail");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_decodes() {
        let url = parse_url("https://sts.x.amazonaws.com/?A=1&B=a%2Fb%3Dc&C=d+e&D").unwrap();
        assert_eq!(url.host, "sts.x.amazonaws.com");
        let expected = [("A", "1"), ("B", "a/b=c"), ("C", "d e"), ("D", "")];
        let expected: Vec<_> = expected
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        assert_eq!(url.params, expected);
    }

    #[test]
    fn refuses_other_shapes() {
        for url in [
            "http://sts.x.amazonaws.com/?A=1",
            "https://sts.x.amazonaws.com",
            "https://sts.x.amazonaws.com/path?A=1",
            "https://sts.x.amazonaws.com/?A=1#f",
            "https://sts.x.amazonaws.com/?A=%zz",
            "https://sts.x.amazonaws.com/?A=%2",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(sigv4_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(sigv4_encode("a/b+c=d e;"), "a%2Fb%2Bc%3Dd%20e%3B");
    }
}
