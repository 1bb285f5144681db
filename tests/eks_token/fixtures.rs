//! Test credentials, clock and token helpers shared by the `eks_token`
//! tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ssm_eks_auth::presign;
use ssm_tests::eks_token::Expected;

/// The test key pair (the SigV4 documentation's example).
pub(crate) const ACCESS_KEY: &str = "AKIDEXAMPLE";
pub(crate) const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// A session token with characters that need escaping.
pub(crate) const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLE/token+with=chars";
/// The cluster's region in every test.
pub(crate) const REGION: &str = "eu-west-1";

/// What `aws eks get-token --cluster-name prod --region eu-west-1`
/// (aws-cli 1.46.3) printed for the credentials above at
/// [`aws_cli_token_time`].
pub(crate) const AWS_CLI_TOKEN: &str = "k8s-aws-v1.\
    aHR0cHM6Ly9zdHMuZXUtd2VzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9u\
    PTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BS0lERVhB\
    TVBMRSUyRjIwMjYxMjAzJTJGZXUtd2VzdC0xJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNjEyMDNU\
    MDcxNzMwWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFt\
    ei1TZWN1cml0eS1Ub2tlbj1Gd29HWlhJdllYZHpFWEFNUExFJTJGdG9rZW4lMkJ3aXRoJTNEY2hhcnMmWC1BbXotU2ln\
    bmF0dXJlPWQ4ZWQxOWY3ZDA4Yjg4M2U0ZmFmNTE5YjQ2ZGRiNDFjOGMwMGQxYmYwZTM5YTEyMGEwMjc5ZWE1YmM2MmYy\
    Y2U";
/// 2026-12-03T07:17:30Z, when the AWS CLI made [`AWS_CLI_TOKEN`].
pub(crate) fn aws_cli_token_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_282_250)
}

/// The tests' clock: 2026-12-03T07:12:00Z.
pub(crate) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_281_920)
}

/// A server for `cluster` in [`REGION`] that knows the test key.
pub(crate) fn expected(cluster: &str) -> Expected {
    Expected::new(cluster, REGION, ACCESS_KEY, SECRET_KEY)
}

pub(crate) fn session_credentials() -> Credentials {
    Credentials::new(
        ACCESS_KEY,
        SECRET_KEY,
        Some(SESSION_TOKEN.into()),
        None,
        "test",
    )
}

/// `ssm-eks-auth`'s token for `cluster` in `region` at [`now`].
pub(crate) fn our_token(cluster: &str, region: &str) -> String {
    presign::token(&session_credentials(), cluster, region, now())
        .unwrap()
        .into_string()
}

/// The same with long-term credentials (no session token).
pub(crate) fn our_token_without_session(cluster: &str) -> String {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
    presign::token(&credentials, cluster, REGION, now())
        .unwrap()
        .into_string()
}

/// The URL inside a token.
pub(crate) fn decode(token: &str) -> String {
    let encoded = token.strip_prefix("k8s-aws-v1.").unwrap();
    String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
}

/// The token of a URL.
pub(crate) fn encode(url: &str) -> String {
    format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(url))
}
