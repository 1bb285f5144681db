//! Finding what a login needs (start URL, region, scopes, and the
//! account and role for a check) in `~/.aws/config`, through aws-config's
//! own parser so that every quirk of the file is read as the SDK reads it.

use aws_config::profile::ProfileSet;
use aws_runtime::env_config::file::EnvConfigFiles as ProfileFiles;
use aws_types::os_shim_internal::{Env, Fs};

use crate::ACCOUNT_ACCESS_SCOPE;
use crate::error::ProfileError;

/// What to sign in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoSelector {
    /// A profile with `sso_session` or (legacy) `sso_start_url`.
    Profile(String),
    /// An `[sso-session NAME]` section.
    Session(String),
}

/// The IAM Identity Center settings of one profile or sso-session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoProfile {
    /// The profile they came from (none for `--sso-session`).
    pub profile: Option<String>,
    /// The sso-session name; none for a legacy profile.
    pub session_name: Option<String>,
    /// The start URL.
    pub start_url: String,
    /// The region of IAM Identity Center.
    pub region: String,
    /// `sso_registration_scopes` as the AWS CLI parses it; none when the
    /// key is absent.
    pub scopes: Option<Vec<String>>,
    /// The profile's `sso_account_id`.
    pub account_id: Option<String>,
    /// The profile's `sso_role_name`.
    pub role_name: Option<String>,
}

impl SsoProfile {
    /// Reads the AWS config files (honouring `AWS_CONFIG_FILE`) and finds
    /// `selector` in them.
    pub async fn load(selector: &SsoSelector) -> Result<Self, ProfileError> {
        let set =
            aws_config::profile::load(&Fs::real(), &Env::real(), &ProfileFiles::default(), None)
                .await
                .map_err(|error| ProfileError::Unreadable(error.to_string()))?;
        Self::from_set(&set, selector)
    }

    /// Finds `selector` in parsed config files.
    pub fn from_set(set: &ProfileSet, selector: &SsoSelector) -> Result<Self, ProfileError> {
        match selector {
            SsoSelector::Profile(name) => from_profile(set, name),
            SsoSelector::Session(name) => from_session(set, name, None),
        }
    }

    /// The name the token cache file is derived from: the session name,
    /// or the start URL for a legacy profile (the AWS CLI's rule).
    pub fn cache_identifier(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.start_url)
    }

    /// The scopes to register with: the configured ones, else
    /// `sso:account:access` (which also brings refresh tokens).
    pub fn registration_scopes(&self) -> Vec<String> {
        match &self.scopes {
            Some(scopes) if !scopes.is_empty() => scopes.clone(),
            _ => vec![ACCOUNT_ACCESS_SCOPE.to_owned()],
        }
    }

    /// How to name this sign-in to a person: the profile, else the session.
    pub fn describe(&self) -> String {
        match (&self.profile, &self.session_name) {
            (Some(profile), _) => format!("profile {profile}"),
            (None, Some(session)) => format!("sso-session {session}"),
            (None, None) => self.start_url.clone(),
        }
    }
}

/// How many `source_profile` links are followed before giving up (a loop
/// in the config file).
const MAX_SOURCE_PROFILES: usize = 8;

/// The SSO settings of profile `name`, or of the profile it takes its
/// credentials from (`source_profile`, followed as the SDKs do), so that
/// a role-chaining profile signs in through its SSO source.
fn from_profile(set: &ProfileSet, name: &str) -> Result<SsoProfile, ProfileError> {
    let mut current = name;
    for _ in 0..MAX_SOURCE_PROFILES {
        match sso_of_profile(set, current) {
            Err(ProfileError::NotSso { .. }) => {
                let source = set
                    .get_profile(current)
                    .and_then(|p| p.get("source_profile"));
                match source {
                    Some(source) if source != current => current = source,
                    _ => break,
                }
            }
            found => {
                return found.map(|mut found| {
                    found.profile = Some(name.to_owned());
                    found
                });
            }
        }
    }
    Err(ProfileError::NotSso {
        profile: name.to_owned(),
    })
}

fn sso_of_profile(set: &ProfileSet, name: &str) -> Result<SsoProfile, ProfileError> {
    let profile = set
        .get_profile(name)
        .ok_or_else(|| ProfileError::ProfileNotFound {
            profile: name.to_owned(),
            known: sorted(set.profiles()),
        })?;
    let account_id = profile.get("sso_account_id").map(str::to_owned);
    let role_name = profile.get("sso_role_name").map(str::to_owned);
    let mut found = if let Some(session) = profile.get("sso_session") {
        from_session(set, session, Some(name))?
    } else if let Some(start_url) = profile.get("sso_start_url") {
        let region = profile
            .get("sso_region")
            .ok_or_else(|| missing(&format!("[profile {name}]"), "sso_region"))?;
        SsoProfile {
            profile: Some(name.to_owned()),
            session_name: None,
            start_url: start_url.to_owned(),
            region: region.to_owned(),
            scopes: None,
            account_id: None,
            role_name: None,
        }
    } else {
        return Err(ProfileError::NotSso {
            profile: name.to_owned(),
        });
    };
    found.account_id = account_id;
    found.role_name = role_name;
    Ok(found)
}

fn from_session(
    set: &ProfileSet,
    name: &str,
    profile: Option<&str>,
) -> Result<SsoProfile, ProfileError> {
    let session = set
        .sso_session(name)
        .ok_or_else(|| ProfileError::SessionNotFound {
            name: name.to_owned(),
            known: sorted(set.sso_sessions()),
        })?;
    let section = format!("[sso-session {name}]");
    let start_url = session
        .get("sso_start_url")
        .ok_or_else(|| missing(&section, "sso_start_url"))?;
    let region = session
        .get("sso_region")
        .ok_or_else(|| missing(&section, "sso_region"))?;
    Ok(SsoProfile {
        profile: profile.map(str::to_owned),
        session_name: Some(name.to_owned()),
        start_url: start_url.to_owned(),
        region: region.to_owned(),
        scopes: session.get("sso_registration_scopes").map(parse_scopes),
        account_id: None,
        role_name: None,
    })
}

/// The AWS CLI's `parse_sso_registration_scopes`: comma-separated,
/// trimmed, empties dropped.
fn parse_scopes(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect()
}

fn missing(section: &str, key: &'static str) -> ProfileError {
    ProfileError::MissingKey {
        section: section.to_owned(),
        key,
    }
}

fn sorted<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = names.map(str::to_owned).collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer
region = eu-west-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-central-1
sso_registration_scopes = sso:account:access , ,other:scope

[profile old]
sso_start_url = https://old.awsapps.com/start
sso_region = us-east-1
sso_account_id = 444455556666
sso_role_name = Admin

[profile keys]
aws_access_key_id = AKIDEXAMPLE

[profile broken]
sso_session = nowhere

[profile chained]
role_arn = arn:aws:iam::999988887777:role/Deploy
source_profile = dev

[profile looped]
role_arn = arn:aws:iam::999988887777:role/Deploy
source_profile = looped2

[profile looped2]
role_arn = arn:aws:iam::999988887777:role/Deploy
source_profile = looped

[sso-session half]
sso_start_url = https://half.awsapps.com/start
";

    async fn parsed() -> ProfileSet {
        let fs = Fs::from_slice(&[("/config", CONFIG)]);
        let env = Env::from_slice(&[("AWS_CONFIG_FILE", "/config"), ("HOME", "/home")]);
        aws_config::profile::load(&fs, &env, &ProfileFiles::default(), None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_profile_with_an_sso_session() {
        let found = SsoProfile::from_set(&parsed().await, &SsoSelector::Profile("dev".into()));
        let found = found.unwrap();
        assert_eq!(found.session_name.as_deref(), Some("corp"));
        assert_eq!(found.start_url, "https://corp.awsapps.com/start");
        assert_eq!(found.region, "eu-central-1");
        assert_eq!(
            found.scopes,
            Some(vec!["sso:account:access".into(), "other:scope".into()])
        );
        assert_eq!(found.account_id.as_deref(), Some("111122223333"));
        assert_eq!(found.role_name.as_deref(), Some("Developer"));
        assert_eq!(found.cache_identifier(), "corp");
        assert_eq!(found.describe(), "profile dev");
    }

    #[tokio::test]
    async fn a_legacy_profile_is_keyed_by_its_start_url() {
        let found = SsoProfile::from_set(&parsed().await, &SsoSelector::Profile("old".into()));
        let found = found.unwrap();
        assert_eq!(found.session_name, None);
        assert_eq!(found.cache_identifier(), "https://old.awsapps.com/start");
        assert_eq!(found.registration_scopes(), ["sso:account:access"]);
        assert_eq!(found.role_name.as_deref(), Some("Admin"));
    }

    #[tokio::test]
    async fn a_role_chaining_profile_signs_in_through_its_source() {
        let set = parsed().await;
        let found = SsoProfile::from_set(&set, &SsoSelector::Profile("chained".into())).unwrap();
        assert_eq!(found.session_name.as_deref(), Some("corp"));
        assert_eq!(found.profile.as_deref(), Some("chained"));
        let looped = SsoProfile::from_set(&set, &SsoSelector::Profile("looped".into()));
        assert!(
            matches!(looped, Err(ProfileError::NotSso { .. })),
            "{looped:?}"
        );
    }

    #[tokio::test]
    async fn a_session_by_name() {
        let found = SsoProfile::from_set(&parsed().await, &SsoSelector::Session("corp".into()));
        let found = found.unwrap();
        assert_eq!(found.profile, None);
        assert_eq!(found.describe(), "sso-session corp");
    }

    #[tokio::test]
    async fn clear_errors_for_what_is_not_there() {
        let set = parsed().await;
        let error = |selector| {
            SsoProfile::from_set(&set, &selector)
                .unwrap_err()
                .to_string()
        };
        let missing = error(SsoSelector::Profile("nope".into()));
        assert!(
            missing.contains("\"nope\"")
                && missing.contains("broken, chained, dev, keys, looped, looped2, old"),
            "{missing}"
        );
        let keys = error(SsoSelector::Profile("keys".into()));
        assert!(keys.contains("does not use IAM Identity Center"), "{keys}");
        let broken = error(SsoSelector::Profile("broken".into()));
        assert!(broken.contains("[sso-session nowhere]"), "{broken}");
        let half = error(SsoSelector::Session("half".into()));
        assert_eq!(
            half,
            "[sso-session half] has no sso_region: add it to the AWS config file"
        );
    }
}
