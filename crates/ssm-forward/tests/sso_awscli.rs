//! The SSO token cache, checked against the AWS tools' own code: after
//! `ssm-forward login`, botocore (from PyPI) loads our cache file through
//! its SSO token provider and gets role credentials from ssm-sim's portal
//! with it, for an sso-session profile and a legacy one, and the AWS CLI
//! signs a call with the session; after botocore refreshed the token and
//! rewrote the file itself, ssm-forward uses that file. Needs the AWS
//! CLI's virtualenv with botocore installed:
//!
//! ```sh
//! crates/ssm-forward/tests/common/install-awscli.sh /tmp/awscli
//! SSM_FORWARD_AWSCLI=/tmp/awscli/bin/aws \
//!   cargo test -p ssm-forward --test sso_awscli -- --ignored --nocapture
//! ```

mod common;

use std::path::PathBuf;

use common::sso::{ACCOUNT, Lab, ROLE, seconds_from_now};
use common::{Child, run_to_end};
use serde_json::{Value, json};
use ssm_sim::SsoConfig;

/// Loads a profile's SSO token and credentials with botocore and prints
/// them as JSON; for a legacy profile the token comes from
/// botocore's SSOTokenLoader (keyed by start URL).
const BOTOCORE: &str = r#"
import json, os, sys
import botocore, botocore.session
from botocore.tokens import SSOTokenProvider
from botocore.utils import JSONFileCache, SSOTokenLoader

profile = sys.argv[1]
session = botocore.session.Session(profile=profile)
config = session.get_scoped_config()
if "sso_session" in config:
    token = SSOTokenProvider(session).load_token().get_frozen_token()
    access_token, expiration = token.token, token.expiration.isoformat()
else:
    cache = JSONFileCache(os.path.expanduser("~/.aws/sso/cache"))
    loaded = SSOTokenLoader(cache=cache)(config["sso_start_url"])
    access_token, expiration = loaded["accessToken"], loaded["expiresAt"]
credentials = session.get_credentials()
frozen = credentials.get_frozen_credentials()
print(json.dumps({
    "botocore": botocore.__version__,
    "access_token": access_token,
    "expiration": expiration,
    "method": credentials.method,
    "access_key": frozen.access_key,
}))
"#;

fn aws_cli() -> PathBuf {
    std::env::var_os("SSM_FORWARD_AWSCLI")
        .map(PathBuf::from)
        .expect("set SSM_FORWARD_AWSCLI to the aws executable of a venv with botocore")
}

fn python(aws: &std::path::Path) -> PathBuf {
    aws.with_file_name("python3")
}

/// Runs the botocore script for `profile` with the lab's environment.
async fn botocore(lab: &Lab, aws: &std::path::Path, profile: &str) -> Value {
    let mut python = lab.program(python(aws));
    python.arg("-c").arg(BOTOCORE).arg(profile);
    let (code, stdout, stderr) = run_to_end(&mut python).await;
    assert_eq!(code, 0, "botocore failed for {profile}:\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"))
}

#[tokio::test]
#[ignore = "needs the AWS CLI and botocore: SSM_FORWARD_AWSCLI=/path/to/venv/bin/aws"]
async fn botocore_and_the_aws_cli_use_our_login() {
    let aws = aws_cli();
    let lab = Lab::start(SsoConfig::default()).await;
    for profile in ["dev", "legacy"] {
        let (code, stderr) = lab.login(&["--profile", profile]).await;
        assert_eq!(code, 0, "{stderr}");
        let ours = lab.cached(if profile == "dev" {
            "corp"
        } else {
            lab.sim.sso().config().start_url.as_str()
        });
        let before = lab.sim.sso().stats().get_role_credentials;
        let loaded = botocore(&lab, &aws, profile).await;
        println!("--- botocore, profile {profile}: {}", redacted(&loaded));
        assert_eq!(
            loaded["access_token"], ours["accessToken"],
            "botocore read our token"
        );
        assert_eq!(loaded["method"], "sso");
        let issued = lab.sim.sso().issued_credentials();
        assert!(
            issued
                .iter()
                .any(|c| json!(c.access_key_id) == loaded["access_key"]
                    && c.account_id == ACCOUNT
                    && c.role_name == ROLE),
            "credentials from the sim's portal: {loaded} vs {issued:?}"
        );
        assert!(lab.sim.sso().stats().get_role_credentials > before);
    }

    // The AWS CLI itself, signing with the session.
    let mut cli = lab.program(&aws);
    cli.args([
        "sts",
        "get-caller-identity",
        "--profile",
        "dev",
        "--output",
        "json",
    ])
    .arg("--endpoint-url")
    .arg(lab.sim.endpoint_url());
    let (code, stdout, stderr) = run_to_end(&mut cli).await;
    assert_eq!(code, 0, "{stderr}");
    println!("--- aws sts get-caller-identity --profile dev\n{stdout}");
    let identity: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(identity["Account"], ACCOUNT, "{identity}");
}

#[tokio::test]
#[ignore = "needs the AWS CLI and botocore: SSM_FORWARD_AWSCLI=/path/to/venv/bin/aws"]
async fn a_token_botocore_refreshed_and_rewrote_serves_ssm_forward() {
    let aws = aws_cli();
    let lab = Lab::start(SsoConfig::default()).await;
    let (code, stderr) = lab.login(&["--profile", "dev"]).await;
    assert_eq!(code, 0, "{stderr}");
    // Within botocore's refresh window (15 min), so it renews the token
    // with the refresh token and writes the cache file itself.
    let mut token = lab.cached("corp");
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(5);
    token["expiresAt"] = json!(soon.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    std::fs::write(lab.cache_file("corp"), token.to_string()).unwrap();
    let loaded = botocore(&lab, &aws, "dev").await;
    assert_eq!(
        lab.sim.sso().stats().tokens_refreshed,
        1,
        "botocore refreshed"
    );
    let rewritten = lab.cached("corp");
    assert_eq!(rewritten["accessToken"], loaded["access_token"]);
    assert_ne!(rewritten["accessToken"], token["accessToken"]);
    assert!(seconds_from_now(rewritten["expiresAt"].as_str().unwrap()) > 3600);
    println!(
        "--- the cache file as botocore rewrote it: {}",
        redacted(&rewritten)
    );

    let ready = lab.home.join("ready.json");
    let mut forward = Child::spawn(&mut lab.forward(&ready));
    forward.wait_ready(&ready).await;
    assert_eq!(
        lab.sim.sso().stats().tokens_refreshed,
        1,
        "no second refresh"
    );
    forward.signal("INT");
    assert!(forward.exit(common::STARTUP).await.success());
}

fn redacted(token: &Value) -> Value {
    let mut shown = token.clone();
    for secret in [
        "accessToken",
        "access_token",
        "refreshToken",
        "clientSecret",
    ] {
        if shown.get(secret).is_some() {
            shown[secret] = json!("…");
        }
    }
    shown
}
