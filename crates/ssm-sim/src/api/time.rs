//! Timestamps on the wire: AWS JSON sends epoch seconds as numbers, and
//! DescribeSessions' `InvokedAfter`/`InvokedBefore` filters take ISO 8601
//! text such as `2018-08-29T00:00:00Z`.

use std::time::{Duration, SystemTime};

/// Epoch seconds with millisecond precision, as AWS JSON sends dates.
pub(crate) fn epoch_seconds(time: SystemTime) -> f64 {
    let millis = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    millis as f64 / 1000.0
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (no
/// zone means UTC). `None` for anything else or a time before 1970.
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let days = parse_date(date)?;
    let (seconds, nanos) = time.map_or(Some((0, 0)), parse_time)?;
    let total = u64::try_from(days * 86_400 + seconds).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(total, nanos))
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let year = fixed_digits(parts.next()?, 4)?;
    let month = fixed_digits(parts.next()?, 2)?;
    let day = fixed_digits(parts.next()?, 2)?;
    if parts.next().is_some()
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Seconds into the (UTC) day, possibly outside 0..86400 after applying
/// the zone offset, and the fractional nanoseconds.
fn parse_time(text: &str) -> Option<(i64, u32)> {
    let (clock, offset) = split_zone(text)?;
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let mut parts = hms.split(':');
    let hour = fixed_digits(parts.next()?, 2)?;
    let minute = fixed_digits(parts.next()?, 2)?;
    let second = parts.next().map_or(Some(0), |part| fixed_digits(part, 2))?;
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let nanos = fraction.map_or(Some(0), parse_fraction)?;
    Some((hour * 3600 + minute * 60 + second - offset, nanos))
}

/// Splits a trailing `Z` or `±HH:MM`/`±HHMM` zone off; its offset in seconds.
fn split_zone(text: &str) -> Option<(&str, i64)> {
    if let Some(clock) = text.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let Some(at) = text.rfind(['+', '-']) else {
        return Some((text, 0));
    };
    let (clock, zone) = text.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits = zone[1..].replace(':', "");
    let hours = fixed_digits(digits.get(..2)?, 2)?;
    let minutes = fixed_digits(digits.get(2..)?, 2)?;
    Some((clock, sign * (hours * 3600 + minutes * 60)))
}

fn parse_fraction(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    format!("{digits:0<9}").parse().ok()
}

fn fixed_digits(text: &str, width: usize) -> Option<i64> {
    if text.len() != width || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since the epoch of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(text: &str) -> Option<f64> {
        parse_timestamp(text).map(epoch_seconds)
    }

    #[test]
    fn parses_iso_8601_forms() {
        assert_eq!(epoch("1970-01-01"), Some(0.0));
        assert_eq!(epoch("2018-08-29T00:00:00Z"), Some(1_535_500_800.0));
        assert_eq!(epoch("2024-11-28T10:53:54.567Z"), Some(1_732_791_234.567));
        assert_eq!(epoch("2024-11-28T11:53:54+01:00"), Some(1_732_791_234.0));
        assert_eq!(epoch("2024-11-28T05:53:54-0500"), Some(1_732_791_234.0));
        assert_eq!(epoch("2024-02-29T00:00"), Some(1_709_164_800.0));
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for text in [
            "",
            "yesterday",
            "2018-8-29",
            "2023-02-29",
            "2018-13-01",
            "2018-08-29T24:00:00Z",
            "2018-08-29T00:00:00.Z",
            "1969-12-31T00:00:00Z",
            "2018-08-29T00:00:00+1",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn epoch_seconds_keeps_milliseconds() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_micros(1_732_791_234_567_891);
        assert_eq!(epoch_seconds(time), 1_732_791_234.567);
    }
}
