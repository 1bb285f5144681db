//! Who and where: the region and where it came from, the IAM Identity
//! Center session when the profile is an SSO profile, the credentials
//! and their provider, and the caller (STS GetCallerIdentity).

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials as _;
use ssm_client::{ApiErrorKind, AwsOptions};
use ssm_sso::{SsoProfile, SsoSelector, TokenState};

use super::denied;
use super::report::Check;
use crate::errors::login_command;

/// The region check, and the configuration the other checks use (none
/// without a region: nothing else can be checked).
pub async fn region(options: &AwsOptions) -> (Check, Option<SdkConfig>) {
    let config = ssm_client::load_sdk_config(options).await;
    let Some(region) = config.region().map(ToString::to_string) else {
        let fix = "pass --region, set AWS_REGION, or set region in your profile";
        return (Check::fail("region", "no region configured", fix), None);
    };
    let detail = format!("{region} (from {})", region_source(options));
    (Check::pass("region", detail), Some(config))
}

/// Where the SDK found the region, by its own order.
fn region_source(options: &AwsOptions) -> String {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.is_empty());
    if options.region.is_some() {
        "--region".into()
    } else if set("AWS_REGION") {
        "AWS_REGION".into()
    } else if set("AWS_DEFAULT_REGION") {
        "AWS_DEFAULT_REGION".into()
    } else {
        let profile = options
            .effective_profile()
            .unwrap_or_else(|| "default".into());
        format!("profile {profile} in the AWS config file")
    }
}

/// The SSO session's expiry, when the profile in use is an SSO profile
/// and no environment credentials come first (`None` otherwise).
pub async fn sso_session(options: &AwsOptions) -> Option<Check> {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|key| !key.is_empty()) {
        return None;
    }
    let name = options
        .effective_profile()
        .unwrap_or_else(|| "default".into());
    let profile = match SsoProfile::load(&SsoSelector::Profile(name)).await {
        Ok(profile) => profile,
        Err(
            ssm_sso::ProfileError::NotSso { .. } | ssm_sso::ProfileError::ProfileNotFound { .. },
        ) => {
            return None;
        }
        Err(error) => {
            let fix = "fix the profile in ~/.aws/config";
            return Some(Check::fail("sso session", error.to_string(), fix));
        }
    };
    Some(token_check(&profile))
}

fn token_check(profile: &SsoProfile) -> Check {
    let who = profile.describe();
    let login = format!("run `{}`", login_command(profile.profile.as_deref()));
    let token = crate::sign_in::cache()
        .ok()
        .and_then(|cache| cache.read_token(profile).ok().flatten());
    let Some(token) = token else {
        return Check::fail("sso session", format!("{who}: not signed in"), login);
    };
    match token.state(SystemTime::now()) {
        TokenState::Valid(until) => {
            let until = ssm_sso::format_utc(until);
            Check::pass("sso session", format!("{who}: signed in until {until}"))
        }
        TokenState::Refreshable => Check::pass(
            "sso session",
            format!("{who}: expired, renewed with its refresh token on the next call"),
        ),
        TokenState::Expired => Check::fail("sso session", format!("{who}: expired"), login),
    }
}

/// The credentials check: found, and by which provider.
pub async fn credentials(config: &SdkConfig) -> Check {
    let fix = "set AWS_PROFILE (or --profile), run `ssm-forward login` for an SSO profile, \
               or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
    let Some(provider) = config.credentials_provider() else {
        return Check::fail("credentials", "no credential provider configured", fix);
    };
    match provider.provide_credentials().await {
        Ok(credentials) => {
            let temporary = if credentials.expiry().is_some() {
                "temporary"
            } else {
                "long-term"
            };
            let provider = provider_name(&credentials);
            Check::pass("credentials", format!("{temporary}, from {provider}"))
        }
        Err(error) => Check::fail(
            "credentials",
            format!("none found: {}", ssm_client::ErrorSource::new(error)),
            fix,
        ),
    }
}

/// The provider that gave `credentials` (the SDK shows it only in the
/// credentials' `Debug` form, which hides the secret).
fn provider_name(credentials: &aws_credential_types::Credentials) -> String {
    let debug = format!("{credentials:?}");
    debug
        .split_once("provider_name: \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(
            || "an unnamed provider".to_owned(),
            |(name, _)| name.to_owned(),
        )
}

/// The caller's ARN, from STS GetCallerIdentity.
pub async fn caller(config: &SdkConfig) -> Check {
    let sts = aws_sdk_sts::Client::new(config);
    match sts.get_caller_identity().send().await {
        Ok(identity) => {
            let arn = identity.arn().unwrap_or("(no ARN)");
            let account = identity.account().unwrap_or("?");
            Check::pass("caller", format!("{arn} (account {account})"))
        }
        Err(error) => {
            let error = ssm_client::classify_sdk_error(error);
            let fix = match error.kind() {
                ApiErrorKind::AccessDenied { .. } => {
                    denied::fix(error.kind(), "sts:GetCallerIdentity")
                }
                ApiErrorKind::Network => "check the network (and HTTPS_PROXY) to STS".into(),
                _ => "check the credentials above".into(),
            };
            Check::fail(
                "caller",
                format!("STS GetCallerIdentity failed: {error}"),
                fix,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_name_comes_from_the_credentials() {
        let credentials =
            aws_credential_types::Credentials::new("AKID", "secret", None, None, "Environment");
        assert_eq!(provider_name(&credentials), "Environment");
    }
}
