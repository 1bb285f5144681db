//! The real AWS CLI: `aws eks get-token` with static test credentials
//! (no config file, no instance metadata), its token verified by the same
//! verifier and compared with ours made from the same credentials at the
//! same second: same URL shape, then the very same URL. Both decoded URLs
//! are printed (signatures elided) for a human to read with --nocapture.

use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use ssm_eks_auth::{EksToken, ExecCredential, presign};
use ssm_tests::eks_token::verify;

use super::fixtures::{
    ACCESS_KEY, REGION, SECRET_KEY, SESSION_TOKEN, decode, expected, session_credentials,
};

#[test]
#[ignore = "needs the AWS CLI (SSM_FORWARD_AWSCLI); run by .ci/run"]
fn aws_cli_token_is_accepted_and_matches_ours() {
    let aws = std::env::var("SSM_FORWARD_AWSCLI").unwrap_or_else(|_| {
        panic!(
            "set SSM_FORWARD_AWSCLI to an aws executable: \
             crates/ssm-forward/tests/common/install-awscli.sh VENV_DIR installs one and prints its path"
        )
    });
    let document = aws_eks_get_token(&aws);
    let theirs = document["status"]["token"].as_str().expect("a token");
    let their_url = decode(theirs);
    let verified = verify(theirs, &expected("prod"), SystemTime::now()).unwrap_or_else(|reason| {
        panic!(
            "the AWS CLI's token was refused: {reason}\n{}",
            elide_signature(&their_url)
        )
    });
    let ours = presign::token(&session_credentials(), "prod", REGION, verified.signed_at).unwrap();
    let our_url = decode(ours.as_str());
    println!("aws eks get-token: {}", elide_signature(&their_url));
    println!("ssm-eks-auth:      {}", elide_signature(&our_url));
    assert_eq!(shape(&our_url), shape(&their_url), "URL shapes differ");
    assert_eq!(our_url, their_url, "same credentials and second, same URL");
    verify(ours.as_str(), &expected("prod"), SystemTime::now()).unwrap();
    check_exec_credential(&document, ours, verified.signed_at);
}

/// Runs `aws eks get-token --cluster-name prod --region eu-west-1` with
/// nothing but the test credentials in its environment.
fn aws_eks_get_token(aws: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let output = Command::new(aws)
        .args([
            "eks",
            "get-token",
            "--cluster-name",
            "prod",
            "--region",
            REGION,
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "aws eks get-token failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Scheme, host and path, query parameter names in order, and the values
/// that do not depend on time or secrets.
fn shape(url: &str) -> (String, Vec<String>, Vec<String>) {
    let (base, query) = url.split_once('?').unwrap();
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    let names = pairs.iter().map(|(name, _)| name.to_string()).collect();
    let fixed = [
        "Action",
        "Version",
        "X-Amz-Algorithm",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
    ];
    let values = pairs
        .iter()
        .filter(|(name, _)| fixed.contains(name))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    (base.to_owned(), names, values)
}

fn elide_signature(url: &str) -> String {
    match url.split_once("X-Amz-Signature=") {
        Some((head, signature)) => {
            let rest = signature.split_once('&').map_or("", |(_, rest)| rest);
            let tail = if rest.is_empty() {
                String::new()
            } else {
                format!("&{rest}")
            };
            format!("{head}X-Amz-Signature=(elided){tail}")
        }
        None => url.to_owned(),
    }
}

/// The CLI's ExecCredential has our keys and values, its expiry within a
/// couple of seconds of ours (it reads the clock again after signing).
fn check_exec_credential(theirs: &Value, token: EksToken, signed_at: SystemTime) {
    let made_at = |delay| ExecCredential::new(token.clone(), signed_at + delay).to_json();
    let ours: Value = serde_json::from_str(&made_at(Duration::ZERO)).unwrap();
    for key in ["kind", "apiVersion", "spec"] {
        assert_eq!(theirs[key], ours[key], "{key}");
    }
    assert_eq!(theirs["status"]["token"], ours["status"]["token"]);
    let their_expiry = theirs["status"]["expirationTimestamp"].as_str().unwrap();
    println!(
        "expirationTimestamp: aws {their_expiry}, ours {}",
        ours["status"]["expirationTimestamp"]
    );
    let close = (0..=2).any(|delay| made_at(Duration::from_secs(delay)).contains(their_expiry));
    assert!(close, "aws says {their_expiry}, ours {ours}");
}
