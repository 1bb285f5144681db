//! The AWS CLI's time format for cache files: UTC, whole seconds, `Z`
//! (`2026-12-03T18:04:05Z`, Python's `%Y-%m-%dT%H:%M:%SZ`).

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

/// `at` as the AWS CLI writes it, truncated to whole seconds.
pub fn format_utc(at: SystemTime) -> String {
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let whole = Timestamp::from_second(i64::try_from(seconds).unwrap_or(i64::MAX))
        .unwrap_or(Timestamp::MAX);
    whole.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 time as the AWS CLI and the SDKs write it (`Z` or
/// an offset, with or without fractions, or older botocore's `UTC`);
/// `None` when it is not one.
pub fn parse_utc(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    // Older botocore wrote Python's `%Z` ("UTC") where `Z` belongs.
    let text = match text.strip_suffix("UTC") {
        Some(head) => format!("{head}Z"),
        None => text.to_owned(),
    };
    let parsed: Timestamp = text.parse().ok()?;
    Some(SystemTime::from(parsed))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_like_the_aws_cli() {
        let at = UNIX_EPOCH + Duration::new(1_796_292_245, 987_000_000);
        assert_eq!(format_utc(at), "2026-12-03T10:04:05Z");
    }

    #[test]
    fn parses_what_it_writes_and_other_rfc3339_forms() {
        let at = UNIX_EPOCH + Duration::from_secs(1_796_292_245);
        assert_eq!(parse_utc(&format_utc(at)), Some(at));
        assert_eq!(parse_utc("2026-12-03T10:04:05+00:00"), Some(at));
        assert_eq!(
            parse_utc("2026-12-03T10:04:05.5Z"),
            Some(at + Duration::from_millis(500))
        );
        assert_eq!(parse_utc("2026-12-03T11:04:05+01:00"), Some(at));
        assert_eq!(parse_utc("2026-12-03T10:04:05UTC"), Some(at));
        assert_eq!(parse_utc("yesterday"), None);
        assert_eq!(parse_utc(""), None);
    }
}
