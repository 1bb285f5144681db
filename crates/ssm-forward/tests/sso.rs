//! `ssm-forward login`/`logout` and the SSO check before AWS calls,
//! end to end: the real binary against ssm-sim's IAM Identity Center
//! (SSO OIDC device flow and portal) and SSM API, with the AWS config
//! and token cache in a scratch HOME. The token cache is then read by
//! the AWS SDK inside ssm-forward (the SSM calls carry credentials the
//! simulator's portal issued); tests/sso_awscli.rs checks it with
//! botocore and the AWS CLI.

mod common;

use std::time::Duration;

use common::sso::{ACCOUNT, LOGIN, Lab, ROLE, seconds_from_now};
use common::{Child, ready_forward, run_to_end};
use serde_json::json;
use ssm_sim::SsoConfig;

#[tokio::test]
async fn login_writes_the_aws_cli_cache_and_forwards_use_it() {
    let lab = Lab::start(SsoConfig::default()).await;
    let (code, stderr) = lab.login(&["--profile", "dev"]).await;
    assert_eq!(code, 0, "{stderr}");
    println!("--- ssm-forward login --profile dev --no-browser\n{stderr}");
    let (code, again) = lab.login(&["--profile", "dev"]).await;
    assert_eq!(code, 0, "{again}");
    assert_eq!(
        lab.sim.sso().stats().register_client,
        1,
        "the registration is reused"
    );
    assert!(stderr.contains("confirm the code"), "{stderr}");
    assert!(
        stderr.contains(&lab.sim.endpoint_url()),
        "the sim's approval URL: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "signed in (profile dev): account {ACCOUNT}, role {ROLE}"
        )),
        "{stderr}"
    );

    let token = lab.cached("corp");
    let keys: Vec<&str> = token
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "startUrl",
            "region",
            "accessToken",
            "expiresAt",
            "clientId",
            "clientSecret",
            "registrationExpiresAt",
            "refreshToken"
        ]
    );
    let expires_at = token["expiresAt"].as_str().unwrap();
    assert!(
        expires_at.ends_with('Z') && !expires_at.contains('.'),
        "{expires_at}"
    );
    let left = seconds_from_now(expires_at);
    assert!(
        (8 * 3600 - 60..=8 * 3600).contains(&left),
        "8 h token, {left} s left"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(lab.cache_file("corp"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stats = lab.sim.sso().stats();
    assert_eq!(stats.tokens_issued, 2, "{stats:?}");
    assert!(stats.authorization_pending >= 1, "{stats:?}");

    // The SDK inside ssm-forward now signs SSM calls with role
    // credentials from the portal: the simulator checks they are its own.
    let ready = lab.home.join("ready.json");
    let mut forward = Child::spawn(&mut lab.forward(&ready));
    let ready = forward.wait_ready(&ready).await;
    let (address, _, _) = ready_forward(&ready, 0);
    common::echo(address, 64 * 1024).await;
    let stats = lab.sim.sso().stats();
    assert!(stats.credentials_accepted > 0, "{stats:?}");
    assert_eq!(stats.credentials_rejected, 0, "{stats:?}");
    forward.signal("INT");
    assert!(forward.exit(common::STARTUP).await.success());
}

#[tokio::test]
async fn a_legacy_profile_is_cached_under_its_start_url() {
    let lab = Lab::start(SsoConfig::default()).await;
    let (code, stderr) = lab.login(&["--profile", "legacy"]).await;
    assert_eq!(code, 0, "{stderr}");
    let start_url = lab.sim.sso().config().start_url.clone();
    let token = lab.cached(&start_url);
    assert_eq!(token["startUrl"], start_url.as_str());
    assert_eq!(token["region"], "us-east-1");
    assert!(!lab.cache_file("corp").exists());
}

#[tokio::test]
async fn slow_down_adds_five_seconds_and_the_login_still_succeeds() {
    let lab = Lab::start(SsoConfig {
        slow_down_on_poll: Some(1),
        ..SsoConfig::default()
    })
    .await;
    let started = std::time::Instant::now();
    let (code, stderr) = lab.login(&["--sso-session", "corp"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("signed in (sso-session corp)"), "{stderr}");
    let stats = lab.sim.sso().stats();
    assert_eq!(stats.slow_down, 1, "{stats:?}");
    // The polls after the slow-down came 6 s apart (1 s + 5 s).
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

/// A login of `dev` that the simulator does not let through: it fails
/// with exit 4 and caches nothing; returns what it said.
async fn refused_login(sso: SsoConfig) -> String {
    let lab = Lab::start(sso).await;
    let (code, stderr) = lab.login(&["--profile", "dev"]).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(!lab.cache_file("corp").exists());
    stderr
}

#[tokio::test]
async fn a_denied_request_fails_with_the_access_status() {
    let stderr = refused_login(SsoConfig {
        deny: true,
        ..SsoConfig::default()
    })
    .await;
    assert!(
        stderr.contains("the sign-in request was denied"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_code_nobody_approves_expires_with_clear_words() {
    let stderr = refused_login(SsoConfig {
        approve_after_polls: None,
        device_code_ttl: Duration::from_secs(3),
        ..SsoConfig::default()
    })
    .await;
    assert!(
        stderr.contains("expired before it was approved"),
        "{stderr}"
    );
}

#[tokio::test]
async fn approval_in_the_browser_is_what_completes_the_login() {
    let lab = Lab::start(SsoConfig {
        approve_after_polls: None,
        ..SsoConfig::default()
    })
    .await;
    let mut command = lab.command();
    command.args(["login", "--profile", "dev", "--no-browser"]);
    let mut child = Child::spawn(&mut command);
    child.wait_stderr("confirm the code").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!lab.cache_file("corp").exists(), "not before approval");
    let pending = lab.sim.sso().pending();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let user_code = pending[0].user_code.clone();
    assert!(child.stderr().contains(&user_code), "the code is shown");
    assert!(lab.sim.sso().approve(&user_code));
    assert!(child.exit(LOGIN).await.success(), "{}", child.transcript());
    assert!(lab.cache_file("corp").exists());
}

/// `$BROWSER` (a shell script here) gets the page with the code.
#[cfg(unix)]
#[tokio::test]
async fn the_browser_is_started_on_the_verification_url() {
    let lab = Lab::start(SsoConfig::default()).await;
    let opened = lab.home.join("opened-url");
    let browser = lab.home.join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut command = lab.command();
    command
        .env("BROWSER", &browser)
        .args(["login", "--profile", "dev"]);
    let mut child = Child::spawn(&mut command);
    assert!(child.exit(LOGIN).await.success(), "{}", child.transcript());
    let url = std::fs::read_to_string(&opened).expect("the browser was started");
    assert!(url.starts_with(&lab.sim.endpoint_url()), "{url}");
    assert!(url.contains("user_code="), "{url}");
}

#[tokio::test]
async fn an_expired_session_without_a_terminal_is_refused_at_once() {
    let lab = Lab::start(SsoConfig::default()).await;
    lab.write_expired_token("corp", false);
    let ready = lab.home.join("ready.json");
    let (code, _, stderr) = run_to_end(&mut lab.forward(&ready)).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(
            "the SSO session for profile dev has expired: run `ssm-forward login --profile dev`"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("[Y/n]"), "{stderr}");
    assert_eq!(lab.sim.sso().stats().register_client, 0, "no login started");
}

#[tokio::test]
async fn a_stale_token_with_a_refresh_token_is_renewed_silently() {
    let lab = Lab::start(SsoConfig::default()).await;
    let (code, stderr) = lab.login(&["--profile", "dev"]).await;
    assert_eq!(code, 0, "{stderr}");
    // Age the cached token past its expiry, keeping its refresh token.
    let mut token = lab.cached("corp");
    token["expiresAt"] = json!("2026-01-01T00:00:00Z");
    std::fs::write(lab.cache_file("corp"), token.to_string()).unwrap();
    let ready = lab.home.join("ready.json");
    let mut forward = Child::spawn(&mut lab.forward(&ready));
    forward.wait_ready(&ready).await;
    assert_eq!(lab.sim.sso().stats().tokens_refreshed, 1);
    let renewed = lab.cached("corp");
    assert!(seconds_from_now(renewed["expiresAt"].as_str().unwrap()) > 3600);
    assert_eq!(
        renewed["refreshToken"].as_str().map(str::is_empty),
        Some(false)
    );
    forward.signal("INT");
    assert!(forward.exit(common::STARTUP).await.success());
}

#[tokio::test]
async fn eks_token_never_prompts_and_names_the_login_to_run() {
    let lab = Lab::start(SsoConfig::default()).await;
    lab.write_expired_token("corp", false);
    let mut command = lab.command();
    command.args(["eks", "token", "--cluster", "demo", "--profile", "dev"]);
    let (code, stdout, stderr) = run_to_end(&mut command).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("run `ssm-forward login --profile dev`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn logout_ends_one_session_and_leaves_the_others() {
    let lab = Lab::start(SsoConfig::default()).await;
    for profile in ["dev", "other"] {
        let (code, stderr) = lab.login(&["--profile", profile]).await;
        assert_eq!(code, 0, "{stderr}");
    }
    let mut command = lab.command();
    command.args(["logout", "--profile", "dev"]);
    let (code, _, stderr) = run_to_end(&mut command).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("signed out (profile dev)"), "{stderr}");
    assert!(!lab.cache_file("corp").exists());
    assert!(lab.cache_file("second").exists(), "the other session stays");
    assert_eq!(lab.sim.sso().stats().logout, 1);
    let (code, _, stderr) = run_to_end(&mut command).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("not signed in (profile dev)"), "{stderr}");
}

#[tokio::test]
async fn login_errors_name_what_to_fix_in_the_config() {
    let lab = Lab::start(SsoConfig::default()).await;
    let (code, stderr) = lab.login(&["--profile", "nope"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("profile \"nope\" is not in the AWS config file"),
        "{stderr}"
    );
    let (code, stderr) = lab.login(&["--sso-session", "missing"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no [sso-session missing] section"),
        "{stderr}"
    );
}

/// On a terminal, an expired session is offered a login (Enter means
/// yes) and the forward then starts as if nothing had happened.
#[cfg(unix)]
#[tokio::test]
async fn on_a_terminal_an_expired_session_offers_the_login_and_carries_on() {
    let lab = Lab::start(SsoConfig::default()).await;
    lab.write_expired_token("corp", false);
    let ready_path = lab.home.join("ready.json");
    let mut forward = lab.forward(&ready_path);
    forward.env("BROWSER", "true");
    let (mut child, mut keyboard) = common::pty::spawn_on_pty(&mut forward);
    child
        .wait_stderr("the SSO session for profile dev has expired. Sign in now? [Y/n]")
        .await;
    keyboard.type_text("\n");
    child.wait_stderr("signed in (profile dev)").await;
    let ready = child.wait_ready_within(&ready_path, LOGIN).await;
    let (address, _, _) = ready_forward(&ready, 0);
    common::echo(address, 1024).await;
    println!("--- the terminal\n{}", child.stderr());
    child.signal("INT");
    assert!(child.exit(common::STARTUP).await.success());
}

/// Answering no ends the command with the refusal; `--json` and
/// `eks token` never ask, even on a terminal.
#[cfg(unix)]
#[tokio::test]
async fn on_a_terminal_no_means_no_and_eks_token_never_asks() {
    let lab = Lab::start(SsoConfig::default()).await;
    lab.write_expired_token("corp", false);
    let ready_path = lab.home.join("ready.json");
    let (mut child, mut keyboard) = common::pty::spawn_on_pty(&mut lab.forward(&ready_path));
    child.wait_stderr("Sign in now? [Y/n]").await;
    keyboard.type_text("n\n");
    assert_eq!(child.exit(common::STARTUP).await.code(), Some(4));
    assert!(
        child
            .stderr()
            .contains("run `ssm-forward login --profile dev`")
    );

    let mut json = lab.forward(&ready_path);
    json.arg("--json");
    let (mut child, _keyboard) = common::pty::spawn_on_pty(&mut json);
    assert_eq!(
        child.exit(common::STARTUP).await.code(),
        Some(4),
        "{}",
        child.transcript()
    );
    assert!(!child.stderr().contains("[Y/n]"), "{}", child.stderr());
    assert!(
        child.stderr().contains(r#""event":"fatal""#),
        "{}",
        child.stderr()
    );

    let mut command = lab.command();
    command.args(["eks", "token", "--cluster", "demo", "--profile", "dev"]);
    let (mut child, _keyboard) = common::pty::spawn_on_pty(&mut command);
    assert_eq!(
        child.exit(common::STARTUP).await.code(),
        Some(4),
        "{}",
        child.transcript()
    );
    assert!(!child.stderr().contains("[Y/n]"), "{}", child.stderr());
    assert_eq!(lab.sim.sso().stats().register_client, 0, "no login started");
}
