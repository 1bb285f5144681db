use std::time::{Duration, UNIX_EPOCH};

use super::*;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLE/token+with=chars";
/// 2026-12-03T07:17:30Z.
const NOW_SECONDS: u64 = 1_796_282_250;

/// What `aws eks get-token --cluster-name prod --region eu-west-1`
/// (aws-cli 1.46.3, botocore 1.43.62) printed, decoded, for the
/// credentials above at `NOW_SECONDS`.
const AWS_CLI_URL: &str = "https://sts.eu-west-1.amazonaws.com/\
    ?Action=GetCallerIdentity&Version=2011-06-15\
    &X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIDEXAMPLE%2F20261203%2Feu-west-1%2Fsts%2Faws4_request\
    &X-Amz-Date=20261203T071730Z&X-Amz-Expires=60\
    &X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\
    &X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE%2Ftoken%2Bwith%3Dchars\
    &X-Amz-Signature=d8ed19f7d08b883e4faf519b46ddb41c8c00d1bf0e39a120a0279ea5bc62f2ce";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECONDS)
}

fn session_credentials() -> Credentials {
    Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        Some(SESSION_TOKEN.into()),
        None,
        "test",
    )
}

fn long_term_credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test")
}

fn url(credentials: &Credentials, cluster: &str, region: &str) -> String {
    presigned_url(credentials, cluster, region, now()).unwrap()
}

fn query_value<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

fn query_keys(url: &str) -> Vec<&str> {
    let (_, query) = url.split_once('?').unwrap();
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap().0)
        .collect()
}

#[test]
fn same_url_as_the_aws_cli() {
    assert_eq!(
        url(&session_credentials(), "prod", "eu-west-1"),
        AWS_CLI_URL
    );
}

#[test]
fn url_shape_and_query_keys() {
    let url = url(&session_credentials(), "prod", "eu-west-1");
    assert!(
        url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ),
        "{url}"
    );
    let expected = [
        "Action",
        "Version",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ];
    assert_eq!(query_keys(&url), expected);
    assert_eq!(query_value(&url, "X-Amz-Expires"), Some("60"));
    assert_eq!(query_value(&url, "X-Amz-Date"), Some("20261203T071730Z"));
    assert_eq!(
        query_value(&url, "X-Amz-Credential"),
        Some("AKIDEXAMPLE%2F20261203%2Feu-west-1%2Fsts%2Faws4_request")
    );
}

#[test]
fn signs_host_and_cluster_header() {
    let url = url(&long_term_credentials(), "prod", "eu-west-1");
    assert_eq!(
        query_value(&url, "X-Amz-SignedHeaders"),
        Some("host%3Bx-k8s-aws-id")
    );
}

#[test]
fn no_security_token_without_session() {
    let url = url(&long_term_credentials(), "prod", "eu-west-1");
    assert_eq!(query_value(&url, "X-Amz-Security-Token"), None);
    assert!(query_value(&url, "X-Amz-Signature").is_some(), "{url}");
}

#[test]
fn cluster_name_is_signed() {
    let prod = url(&session_credentials(), "prod", "eu-west-1");
    let staging = url(&session_credentials(), "staging", "eu-west-1");
    assert_ne!(
        query_value(&prod, "X-Amz-Signature"),
        query_value(&staging, "X-Amz-Signature")
    );
    assert!(
        !prod.contains("prod"),
        "the name travels as a header: {prod}"
    );
}

#[test]
fn regional_endpoint_in_every_partition() {
    let cases = [
        ("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn/?"),
        ("us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com/?"),
        ("us-iso-east-1", "https://sts.us-iso-east-1.c2s.ic.gov/?"),
        (
            "us-isob-east-1",
            "https://sts.us-isob-east-1.sc2s.sgov.gov/?",
        ),
        ("us-east-1", "https://sts.us-east-1.amazonaws.com/?"),
    ];
    for (region, start) in cases {
        let url = url(&session_credentials(), "prod", region);
        assert!(url.starts_with(start), "{region}: {url}");
        let scope = format!("%2F20261203%2F{region}%2Fsts%2Faws4_request");
        assert!(url.contains(&scope), "{region}: {url}");
    }
}

#[test]
fn token_is_unpadded_base64url_of_the_url() {
    // Lengths 0, 1 and 2 mod 3 (the 2 and 1 would pad): "prod" and the
    // other names shift the URL length through all three.
    for cluster in ["prod", "prod1", "prod12"] {
        let token = token(&session_credentials(), cluster, "eu-west-1", now()).unwrap();
        let encoded = token.as_str().strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(
            encoded
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'),
            "{encoded}"
        );
        let decoded = URL_SAFE_NO_PAD.decode(encoded).unwrap();
        let expected = url(&session_credentials(), cluster, "eu-west-1");
        assert_eq!(String::from_utf8(decoded).unwrap(), expected);
    }
}

#[test]
fn debug_hides_the_token() {
    let token = token(&session_credentials(), "prod", "eu-west-1", now()).unwrap();
    let shown = format!("{token:?}");
    assert!(!shown.contains(TOKEN_PREFIX), "{shown}");
}

#[test]
fn refuses_bad_region_and_cluster() {
    let credentials = session_credentials();
    for region in ["", "EU-WEST-1", "eu-west-1.evil.example", "-eu"] {
        let error = presigned_url(&credentials, "prod", region, now()).unwrap_err();
        assert!(
            matches!(error, PresignError::InvalidRegion { .. }),
            "{region}: {error:?}"
        );
    }
    let long = "c".repeat(101);
    for cluster in ["", "prod\r\nx-evil: 1", "a b", long.as_str()] {
        let error = presigned_url(&credentials, cluster, "eu-west-1", now()).unwrap_err();
        assert!(
            matches!(error, PresignError::InvalidClusterName { .. }),
            "{cluster}: {error:?}"
        );
    }
}
