//! The check every AWS-using command makes before its first call: when
//! the credentials come from an IAM Identity Center profile, its token
//! must be usable. A fresh token passes; a stale one with a refresh
//! token is renewed; a missing or expired one is offered a login right
//! there when a person is at the terminal (and not in `--json` mode),
//! and otherwise refused with the exact command to run. Profiles that
//! are not SSO profiles, and environment credentials, are left to the
//! SDK.

use std::time::SystemTime;

use ssm_client::AwsOptions;
use ssm_sso::{LoginError, SsoProfile, SsoSelector, TokenState};
use tracing::debug;

use super::{LoginStyle, login_command, terminal};
use crate::errors::{ExitStatus, Fatal};

/// Whether a login may be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompting {
    /// Ask on a terminal (never when stdin or stderr is not one).
    OnTerminal,
    /// Never ask (`--json`, kubectl exec plugins): say what to run.
    Never,
}

/// Why no usable token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Missing {
    NeverSignedIn,
    Expired,
    NotRenewed(String),
}

/// Makes sure the SSO session behind `options` is usable (see the
/// module documentation).
pub async fn ensure_signed_in(options: &AwsOptions, prompting: Prompting) -> Result<(), Fatal> {
    if environment_credentials() {
        return Ok(());
    }
    let Some(profile) = sso_profile(options).await? else {
        return Ok(());
    };
    let Err(missing) = usable_token(&profile).await? else {
        return Ok(());
    };
    let json = crate::output::is_json();
    if prompting == Prompting::OnTerminal && !json && terminal::interactive() {
        let question = format!("{}. Sign in now?", describe(&profile, &missing));
        if terminal::ask_yes(question).await {
            let style = LoginStyle {
                no_browser: false,
                json,
            };
            super::login(profile, style).await?;
            return Ok(());
        }
    }
    Err(needs_login(&profile, &missing))
}

/// The refusal for a session that needs a login, with what to run.
fn needs_login(profile: &SsoProfile, missing: &Missing) -> Fatal {
    Fatal::new(
        ExitStatus::Access,
        format!(
            "{}: run `{}` and try again",
            describe(profile, missing),
            login_command(profile)
        ),
    )
}

fn describe(profile: &SsoProfile, missing: &Missing) -> String {
    let who = profile.describe();
    match missing {
        Missing::NeverSignedIn => format!("no SSO session for {who} (not signed in)"),
        Missing::Expired => format!("the SSO session for {who} has expired"),
        Missing::NotRenewed(why) => {
            format!("the SSO session for {who} has expired and could not be renewed ({why})")
        }
    }
}

/// AWS_ACCESS_KEY_ID in the environment: the SDK uses it before any
/// profile.
fn environment_credentials() -> bool {
    std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|key| !key.is_empty())
}

/// The SSO settings of the profile the SDK will use, if it is an SSO
/// profile; a usage error when it names a missing or incomplete
/// sso-session.
async fn sso_profile(options: &AwsOptions) -> Result<Option<SsoProfile>, Fatal> {
    let name = options
        .effective_profile()
        .unwrap_or_else(|| "default".to_owned());
    match SsoProfile::load(&SsoSelector::Profile(name)).await {
        Ok(profile) => Ok(Some(profile)),
        Err(
            ssm_sso::ProfileError::NotSso { .. } | ssm_sso::ProfileError::ProfileNotFound { .. },
        ) => Ok(None),
        Err(error) => Err(Fatal::usage(error.to_string())),
    }
}

/// Ok when the cached token is usable (renewing it if it can); else why
/// not.
async fn usable_token(profile: &SsoProfile) -> Result<Result<(), Missing>, Fatal> {
    let cache = super::cache()?;
    let token = match cache.read_token(profile) {
        Ok(Some(token)) => token,
        Ok(None) => return Ok(Err(Missing::NeverSignedIn)),
        Err(error) => {
            debug!(%error, "unreadable SSO token cache file; a login rewrites it");
            return Ok(Err(Missing::NeverSignedIn));
        }
    };
    match token.state(SystemTime::now()) {
        TokenState::Valid(_) => Ok(Ok(())),
        TokenState::Expired => Ok(Err(Missing::Expired)),
        TokenState::Refreshable => {
            let config = super::sdk_config(&profile.region).await;
            let flow = ssm_sso::DeviceLogin::new(&config, profile.clone(), cache);
            match flow.refresh(&token).await {
                Ok(_) => Ok(Ok(())),
                // Offline: let the command try (and report the network).
                Err(LoginError::Unreachable { .. }) => Ok(Ok(())),
                Err(error) => Ok(Err(Missing::NotRenewed(error.to_string()))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> SsoProfile {
        SsoProfile {
            profile: Some("dev".into()),
            session_name: Some("corp".into()),
            start_url: "https://corp.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            scopes: None,
            account_id: None,
            role_name: None,
        }
    }

    #[test]
    fn the_refusal_names_the_command_to_run() {
        let fatal = needs_login(&profile(), &Missing::Expired);
        assert_eq!(fatal.status, ExitStatus::Access);
        assert_eq!(
            fatal.message,
            "the SSO session for profile dev has expired: run `ssm-forward login --profile dev` and try again"
        );
        let never = needs_login(&profile(), &Missing::NeverSignedIn).message;
        assert!(
            never.starts_with("no SSO session for profile dev (not signed in)"),
            "{never}"
        );
    }
}
