//! AWS Signature Version 4 for a presigned GET, by hand from the
//! specification: canonical request, string to sign, signing key,
//! signature. Only `hmac` and `sha2`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2_011::{Digest, Sha256};

use super::query::sigv4_encode;

type HmacSha256 = Hmac<Sha256>;

/// The payload hash of a presigned GET as the AWS CLI and the Go SDKs
/// sign it: SHA-256 of the empty body.
const EMPTY_BODY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The query parameter that carries the signature (not signed itself).
pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// What a signature covers, besides the secret key.
#[derive(Debug)]
pub(crate) struct Signed<'a> {
    /// The decoded query parameters (the signature among them is skipped).
    pub(crate) params: &'a [(String, String)],
    /// Signed header names (`X-Amz-SignedHeaders` split on `;`) with the
    /// values the server supplies.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// `X-Amz-SignedHeaders` as sent.
    pub(crate) signed_headers: &'a str,
    /// `X-Amz-Date`.
    pub(crate) amz_date: &'a str,
    /// The credential scope `DATE/REGION/SERVICE/aws4_request`.
    pub(crate) scope: &'a str,
}

/// The canonical request of a GET to `/`.
pub(crate) fn canonical_request(signed: &Signed<'_>) -> String {
    let headers: String = signed
        .headers
        .iter()
        .map(|(name, value)| format!("{}:{}\n", name.to_ascii_lowercase(), value.trim()))
        .collect();
    format!(
        "GET\n/\n{}\n{headers}\n{}\n{EMPTY_BODY_SHA256}",
        canonical_query(signed.params),
        signed.signed_headers
    )
}

/// Every parameter but the signature, names and values SigV4-encoded,
/// sorted by encoded name then value, joined by `&`.
fn canonical_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name != SIGNATURE_PARAM)
        .map(|(name, value)| (sigv4_encode(name), sigv4_encode(value)))
        .collect();
    encoded.sort();
    let pairs: Vec<String> = encoded
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.join("&")
}

/// The string to sign for `signed`.
pub(crate) fn string_to_sign(signed: &Signed<'_>) -> String {
    let digest = hex::encode(Sha256::digest(canonical_request(signed).as_bytes()));
    format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{digest}",
        signed.amz_date, signed.scope
    )
}

/// Whether `signature` (hex) is the signature of `signed` under `secret`
/// (compared in constant time).
pub(crate) fn signature_matches(signed: &Signed<'_>, secret: &str, signature: &[u8]) -> bool {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in signed.scope.split('/') {
        key = hmac(&key, part.as_bytes()).finalize().into_bytes().to_vec();
    }
    hmac(&key, string_to_sign(signed).as_bytes())
        .verify_slice(signature)
        .is_ok()
}

fn hmac(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// `YYYYMMDDTHHMMSSZ` as a time.
pub(crate) fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes[..8]
            .iter()
            .chain(&bytes[9..15])
            .all(u8::is_ascii_digit);
    if !well_formed {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u64>().ok();
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days from 1970-01-01 to a proleptic Gregorian date on or after it.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amz_dates() {
        let at = |seconds| Some(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(parse_amz_date("19700101T000000Z"), at(0));
        assert_eq!(parse_amz_date("20000229T235959Z"), at(951_868_799));
        assert_eq!(parse_amz_date("20261203T071730Z"), at(1_796_282_250));
        for bad in [
            "20261203T071730",
            "2026-12-03T07:17:30Z",
            "20261303T071730Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    /// The GET-with-query-parameters example of the SigV4 documentation
    /// (`get-vanilla-query-order-key-case` of the AWS test suite), as a
    /// known answer for the canonical request and the signing key chain.
    #[test]
    fn known_answer() {
        let params = [("Param2", "value2"), ("Param1", "value1")]
            .map(|(name, value)| (name.to_owned(), value.to_owned()));
        let signed = Signed {
            params: &params,
            headers: &[
                ("host", "example.amazonaws.com"),
                ("x-amz-date", "20150830T123600Z"),
            ],
            signed_headers: "host;x-amz-date",
            amz_date: "20150830T123600Z",
            scope: "20150830/us-east-1/service/aws4_request",
        };
        assert_eq!(
            canonical_request(&signed),
            "GET\n/\nParam1=value1&Param2=value2\n\
             host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let signature =
            hex::decode("b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
                .unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert!(signature_matches(&signed, secret, &signature));
        assert!(!signature_matches(&signed, "other", &signature));
    }
}
