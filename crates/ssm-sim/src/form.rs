//! `application/x-www-form-urlencoded` text, as AWS Query bodies and REST
//! query strings carry it: `name=value` pairs joined by `&`, `+` for a
//! space and `%XX` escapes. Malformed escapes are kept as they are, the
//! way lenient servers do; invalid UTF-8 is replaced.

/// The pairs of `text` in order; a pair without `=` has an empty value.
pub(crate) fn parse(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The first value of `name` among `pairs`.
pub(crate) fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// Decodes `+` and `%XX` escapes.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' => {
                if let Some(byte) = text.get(at + 1..at + 3).and_then(hex_byte) {
                    out.push(byte);
                    at += 3;
                    continue;
                }
                out.push(b'%');
            }
            byte => out.push(byte),
        }
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(pair: &str) -> Option<u8> {
    if !pair.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(pair, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_in_order() {
        let pairs = parse(
            "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Credential=AKID%2F2024%2Fsts&flag&a+b=c%20d",
        );
        assert_eq!(get(&pairs, "Action"), Some("GetCallerIdentity"));
        assert_eq!(get(&pairs, "X-Amz-Credential"), Some("AKID/2024/sts"));
        assert_eq!(get(&pairs, "flag"), Some(""));
        assert_eq!(get(&pairs, "a b"), Some("c d"));
        assert_eq!(get(&pairs, "missing"), None);
        assert!(parse("").is_empty());
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%+1"), "% 1");
        assert_eq!(decode("%C3%A9"), "é");
    }
}
