//! Signing in with IAM Identity Center, for people at a terminal: the
//! interactive device login behind `ssm-forward login` ([`login`]), the
//! check every AWS-using command makes first ([`preflight`]: refresh a
//! stale token, or offer the login when the SSO session is missing or
//! expired), and `logout`. The protocol and the AWS CLI-compatible
//! token cache are the `ssm-sso` crate's; this module does the talking:
//! the URL and code ([`report`]), the browser ([`browser`]), a progress
//! line ([`progress`]) and the yes/no prompt ([`terminal`]).

pub mod browser;
pub mod preflight;
pub mod progress;
pub mod report;
pub mod terminal;

use aws_config::BehaviorVersion;
use ssm_sso::{
    CachedToken, DeviceLogin, LoginError, SsoProfile, SsoSelector, TokenCache, check_role,
};

use crate::errors::{ExitStatus, Fatal};

/// How a login talks to the user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginStyle {
    /// Never start a browser (print the URL only).
    pub no_browser: bool,
    /// `--json`: machine-readable lines, no progress line.
    pub json: bool,
}

/// What to sign in to: an sso-session by name, else a profile (the
/// given one, else `AWS_PROFILE`, else `default`).
pub fn selector(profile: Option<&str>, sso_session: Option<&str>) -> SsoSelector {
    match (sso_session, profile) {
        (Some(session), _) => SsoSelector::Session(session.to_owned()),
        (None, Some(profile)) => SsoSelector::Profile(profile.to_owned()),
        (None, None) => SsoSelector::Profile(default_profile()),
    }
}

/// `AWS_PROFILE`, else `default`, as the SDK picks it.
pub fn default_profile() -> String {
    std::env::var("AWS_PROFILE")
        .ok()
        .filter(|profile| !profile.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// Finds `selector` in ~/.aws/config; a usage error naming what to fix.
pub async fn find(selector: &SsoSelector) -> Result<SsoProfile, Fatal> {
    SsoProfile::load(selector)
        .await
        .map_err(|error| Fatal::usage(error.to_string()))
}

/// The SDK configuration for IAM Identity Center calls: no credentials
/// (they are the thing being obtained), the region `region`, and the
/// endpoint overrides of the environment and config file
/// (`AWS_ENDPOINT_URL_SSO_OIDC`, `AWS_ENDPOINT_URL_SSO`, `services`).
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    ssm_client::install_crypto_provider();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(ssm_client::https_client())
        .no_credentials()
        .region(aws_config::Region::new(region.to_owned()))
        .load()
        .await
}

/// The token cache in ~/.aws/sso/cache.
pub fn cache() -> Result<TokenCache, Fatal> {
    TokenCache::from_env().map_err(fatal_cache)
}

/// Runs the device login for `profile`: shows the URL and code, opens
/// the browser, waits for approval, caches the token and checks the
/// profile's role with it. Returns the token.
pub async fn login(profile: SsoProfile, style: LoginStyle) -> Result<CachedToken, Fatal> {
    let config = sdk_config(&profile.region).await;
    let flow = DeviceLogin::new(&config, profile, cache()?);
    let authorization = flow.authorize().await.map_err(fatal)?;
    report::code(flow.profile(), &authorization);
    if !style.no_browser {
        browser::offer(authorization.url());
    }
    let mut on_progress = progress::log;
    let waiting = flow.wait_for_approval(&authorization, &mut on_progress);
    let token = progress::while_waiting(style, authorization.expires_in, waiting)
        .await
        .map_err(fatal)?;
    let role = match (&flow.profile().account_id, &flow.profile().role_name) {
        (Some(account), Some(role)) => Some(
            check_role(&config, &token, account, role)
                .await
                .map_err(fatal)?,
        ),
        _ => None,
    };
    report::signed_in(
        flow.profile(),
        &token,
        role.as_ref(),
        &flow.cache().token_path(flow.profile()),
    );
    Ok(token)
}

/// A login failure with its exit status: access problems are 4, a
/// broken config or cache 2, the network 1.
pub fn fatal(error: LoginError) -> Fatal {
    let status = match &error {
        LoginError::Profile(_) | LoginError::Cache(_) => ExitStatus::Usage,
        LoginError::Unreachable { .. } => ExitStatus::Runtime,
        _ => ExitStatus::Access,
    };
    Fatal::new(status, error.to_string())
}

/// A token cache failure (a usage error: fix the path or permissions).
pub fn fatal_cache(error: ssm_sso::CacheError) -> Fatal {
    Fatal::usage(error.to_string())
}

/// The command that signs `profile` in, to print for the user.
pub fn login_command(profile: &SsoProfile) -> String {
    match (&profile.profile, &profile.session_name) {
        (None, Some(session)) => format!("ssm-forward login --sso-session {session}"),
        (named, _) => crate::errors::login_command(named.as_deref()),
    }
}
