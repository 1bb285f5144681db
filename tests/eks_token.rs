//! EKS tokens from `ssm-eks-auth` judged by the independent verifier in
//! `eks_token/` (hand-written SigV4, no `aws-sigv4`): ours are accepted,
//! and a token for another cluster, an expired one, a tampered one, one
//! for another region and other malformed ones are refused with the
//! reason that fits. `aws_cli` cross-checks against the real AWS CLI:
//!
//! ```sh
//! crates/ssm-forward/tests/common/install-awscli.sh /tmp/awscli
//! SSM_FORWARD_AWSCLI=/tmp/awscli/bin/aws \
//!   cargo test -p ssm-tests --test eks_token -- --ignored --nocapture
//! ```

#[path = "eks_token/aws_cli.rs"]
mod aws_cli;
#[path = "eks_token/fixtures.rs"]
mod fixtures;

use std::time::Duration;

use fixtures::{
    ACCESS_KEY, AWS_CLI_TOKEN, SECRET_KEY, aws_cli_token_time, decode, encode, expected, now,
    our_token, our_token_without_session,
};
use ssm_tests::eks_token::{Rejection, Validity, verify};

#[test]
fn our_token_is_accepted() {
    let verified = verify(&our_token("prod", "eu-west-1"), &expected("prod"), now()).unwrap();
    assert_eq!(verified.access_key_id, ACCESS_KEY);
    assert!(verified.has_session_token);
    assert_eq!(verified.signed_at, now());
    assert_eq!(verified.valid_until, now() + Duration::from_secs(900));
}

#[test]
fn our_token_without_session_token_is_accepted() {
    let token = our_token_without_session("prod");
    let verified = verify(&token, &expected("prod"), now()).unwrap();
    assert!(!verified.has_session_token);
}

/// The verifier also accepts what the AWS CLI made (recorded), so it is
/// not merely agreeing with our signer.
#[test]
fn recorded_aws_cli_token_is_accepted() {
    let verified = verify(AWS_CLI_TOKEN, &expected("prod"), aws_cli_token_time()).unwrap();
    assert_eq!(verified.signed_at, aws_cli_token_time());
    let refused = verify(AWS_CLI_TOKEN, &expected("staging"), aws_cli_token_time());
    assert_eq!(refused, Err(Rejection::SignatureMismatch));
}

#[test]
fn token_for_another_cluster_is_refused() {
    let token = our_token("staging", "eu-west-1");
    assert!(verify(&token, &expected("staging"), now()).is_ok());
    assert_eq!(
        verify(&token, &expected("prod"), now()),
        Err(Rejection::SignatureMismatch)
    );
}

/// The rule: EKS honours a token 15 minutes after X-Amz-Date whatever
/// X-Amz-Expires says (kubectl reuses it for 14); `Validity::UrlExpires`
/// holds it to X-Amz-Expires (60 s).
#[test]
fn expired_token_is_refused() {
    let token = our_token("prod", "eu-west-1");
    let at = |seconds| now() + Duration::from_secs(seconds);
    assert!(verify(&token, &expected("prod"), at(61)).is_ok());
    assert!(verify(&token, &expected("prod"), at(900)).is_ok());
    assert_eq!(
        verify(&token, &expected("prod"), at(901)),
        Err(Rejection::Expired {
            signed_at: "20261203T071200Z".into(),
            late_by: Duration::from_secs(1),
        })
    );
    let strict = expected("prod").with_validity(Validity::UrlExpires);
    assert!(verify(&token, &strict, at(60)).is_ok());
    assert_eq!(
        verify(&token, &strict, at(61)),
        Err(Rejection::Expired {
            signed_at: "20261203T071200Z".into(),
            late_by: Duration::from_secs(1),
        })
    );
}

#[test]
fn token_from_the_future_is_refused() {
    let token = our_token("prod", "eu-west-1");
    let earlier = now() - Duration::from_secs(301);
    assert_eq!(
        verify(&token, &expected("prod"), earlier),
        Err(Rejection::NotYetValid("20261203T071200Z".into()))
    );
}

#[test]
fn tampered_signature_is_refused() {
    let url = decode(&our_token("prod", "eu-west-1"));
    let (head, signature) = url.split_once("X-Amz-Signature=").unwrap();
    let (first, rest) = signature.split_at(1);
    let flipped = if first == "0" { "1" } else { "0" };
    let token = encode(&format!("{head}X-Amz-Signature={flipped}{rest}"));
    assert_eq!(
        verify(&token, &expected("prod"), now()),
        Err(Rejection::SignatureMismatch)
    );
}

#[test]
fn tampered_parameters_are_refused() {
    let url = decode(&our_token("prod", "eu-west-1"));
    let hour_later = now() + Duration::from_secs(3600);
    let cases = [
        // A later date (same day) would extend the token's life.
        (
            url.replace("X-Amz-Date=20261203T071200Z", "X-Amz-Date=20261203T081200Z"),
            hour_later,
        ),
        (
            url.replace("X-Amz-Security-Token=Fwo", "X-Amz-Security-Token=Xwo"),
            now(),
        ),
    ];
    for (tampered, at) in cases {
        assert_ne!(tampered, url);
        let result = verify(&encode(&tampered), &expected("prod"), at);
        assert_eq!(result, Err(Rejection::SignatureMismatch), "{tampered}");
    }
}

#[test]
fn token_for_another_region_is_refused() {
    let token = our_token("prod", "us-east-1");
    assert_eq!(
        verify(&token, &expected("prod"), now()),
        Err(Rejection::WrongRegion("us-east-1".into()))
    );
    // The right host but another region in the credential scope.
    let url = decode(&our_token("prod", "eu-west-1"));
    let token = encode(&url.replace("%2Feu-west-1%2F", "%2Fus-east-1%2F"));
    assert_eq!(
        verify(&token, &expected("prod"), now()),
        Err(Rejection::WrongRegion("us-east-1".into()))
    );
}

#[test]
fn other_key_is_refused() {
    let token = our_token("prod", "eu-west-1");
    let mut other_secret = expected("prod");
    other_secret.secret_access_key = format!("{SECRET_KEY}x");
    assert_eq!(
        verify(&token, &other_secret, now()),
        Err(Rejection::SignatureMismatch)
    );
    let mut other_key = expected("prod");
    other_key.access_key_id = "AKIDOTHER".into();
    assert_eq!(
        verify(&token, &other_key, now()),
        Err(Rejection::UnknownAccessKey(ACCESS_KEY.into()))
    );
}

#[test]
fn malformed_tokens_are_refused() {
    let token = our_token("prod", "eu-west-1");
    let url = decode(&token);
    let cases = [
        (
            token.replace("k8s-aws-v1.", "k8s-aws-v2."),
            Rejection::MissingPrefix,
        ),
        (format!("{token}="), Rejection::NotBase64Url),
        (
            encode(&url.replace("https://", "http://")),
            Rejection::MalformedUrl("the scheme is not https"),
        ),
        (
            encode(&url.replace("sts.eu-west-1.amazonaws.com", "sts.evil.example")),
            Rejection::WrongHost("sts.evil.example".into()),
        ),
        (
            encode(&format!("{url}&Foo=bar")),
            Rejection::UnexpectedParameter("Foo".into()),
        ),
        (
            encode(&format!("{url}&X-Amz-Expires=60")),
            Rejection::RepeatedParameter("X-Amz-Expires".into()),
        ),
        (
            encode(&url.replace("GetCallerIdentity", "AssumeRole")),
            Rejection::WrongAction("AssumeRole 2011-06-15".into()),
        ),
        (
            encode(&url.replace("host%3Bx-k8s-aws-id", "host")),
            Rejection::HeaderNotSigned("x-k8s-aws-id"),
        ),
        (
            encode(&url.replace("X-Amz-Expires=60", "X-Amz-Expires=901")),
            Rejection::BadExpires("901".into()),
        ),
        ("x".repeat(5000), Rejection::TooLong(5000)),
    ];
    for (token, rejection) in cases {
        assert_eq!(verify(&token, &expected("prod"), now()), Err(rejection));
    }
}
