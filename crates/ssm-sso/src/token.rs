//! What the token cache holds: the AWS CLI's token file (access token,
//! its expiry and the registration it came from) and its client
//! registration file, with their exact JSON keys.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::time::format_utc;

/// Tokens this close to expiring count as expired: a command started now
/// should not fail halfway for want of a token (the SDKs refresh at 5
/// minutes before expiry; we leave the same room).
const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A token file, `~/.aws/sso/cache/<sha1>.json`, as the AWS CLI v2 writes
/// it. Secrets never appear in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedToken {
    /// The IAM Identity Center start URL.
    pub start_url: String,
    /// The region of IAM Identity Center.
    pub region: String,
    /// The bearer token for the SSO portal.
    pub access_token: String,
    /// When the access token expires (UTC, `…Z`).
    #[serde(with = "utc")]
    pub expires_at: SystemTime,
    /// The registered client, for refreshing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The registered client's secret, for refreshing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// When the client registration expires.
    #[serde(default, with = "utc_option", skip_serializing_if = "Option::is_none")]
    pub registration_expires_at: Option<SystemTime>,
    /// The refresh token, when the service gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// What a cached token is good for at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Usable until the given time.
    Valid(SystemTime),
    /// Expired (or about to), but a refresh may renew it without a login.
    Refreshable,
    /// Expired and not refreshable: a login is needed.
    Expired,
}

impl CachedToken {
    /// What this token is good for at `now`.
    pub fn state(&self, now: SystemTime) -> TokenState {
        if now + EXPIRY_MARGIN < self.expires_at {
            TokenState::Valid(self.expires_at)
        } else if self.refreshable(now) {
            TokenState::Refreshable
        } else {
            TokenState::Expired
        }
    }

    /// True when it carries a refresh token and a registration that has
    /// not expired (the SDKs' rule).
    fn refreshable(&self, now: SystemTime) -> bool {
        self.refresh_token.is_some()
            && self.client_id.is_some()
            && self.client_secret.is_some()
            && self.registration_expires_at.is_some_and(|at| at > now)
    }
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("start_url", &self.start_url)
            .field("region", &self.region)
            .field("access_token", &"** redacted **")
            .field("expires_at", &format_utc(self.expires_at))
            .field("client_id", &self.client_id)
            .field("has_client_secret", &self.client_secret.is_some())
            .field(
                "registration_expires_at",
                &self.registration_expires_at.map(format_utc),
            )
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish()
    }
}

/// A client registration file, as the AWS CLI v2 caches it next to the
/// tokens (`clientId`, `clientSecret`, `expiresAt`, `scopes`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The registered client id.
    pub client_id: String,
    /// The registered client's secret.
    pub client_secret: String,
    /// When the registration expires.
    #[serde(with = "utc")]
    pub expires_at: SystemTime,
    /// The scopes it was registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl Registration {
    /// True while it can still be used at `now` (with the same margin as
    /// tokens: a login can take minutes).
    pub fn usable(&self, now: SystemTime) -> bool {
        now + EXPIRY_MARGIN < self.expires_at
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field("client_secret", &"** redacted **")
            .field("expires_at", &format_utc(self.expires_at))
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Serde for required times in the AWS CLI's format.
mod utc {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(at: &SystemTime, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(&crate::time::format_utc(*at))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(input)?;
        crate::time::parse_utc(&text)
            .ok_or_else(|| D::Error::custom(format!("not an RFC 3339 time: {text:?}")))
    }
}

/// Serde for optional times in the AWS CLI's format.
mod utc_option {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        at: &Option<SystemTime>,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::utc::serialize(at, out),
            None => out.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        input: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        // An unreadable optional time is treated as absent, as the SDKs do.
        let text = Option::<String>::deserialize(input)?;
        Ok(text.as_deref().and_then(crate::time::parse_utc))
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn token(expires_in: u64, refresh: bool) -> CachedToken {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        CachedToken {
            start_url: "https://example.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            access_token: "secret-access".into(),
            expires_at: now + Duration::from_secs(expires_in),
            client_id: Some("client".into()),
            client_secret: Some("client-secret".into()),
            registration_expires_at: Some(now + Duration::from_secs(86_400)),
            refresh_token: refresh.then(|| "secret-refresh".into()),
        }
    }

    #[test]
    fn state_follows_expiry_margin_and_refreshability() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(matches!(
            token(3600, false).state(now),
            TokenState::Valid(_)
        ));
        assert_eq!(token(60, false).state(now), TokenState::Expired);
        assert_eq!(token(60, true).state(now), TokenState::Refreshable);
        let mut stale_registration = token(0, true);
        stale_registration.registration_expires_at = Some(now);
        assert_eq!(stale_registration.state(now), TokenState::Expired);
    }

    #[test]
    fn writes_the_aws_cli_keys_and_reads_them_back() {
        let token = token(3600, true);
        let json: serde_json::Value = serde_json::to_value(&token).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
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
        assert_eq!(json["expiresAt"], "2027-01-15T09:00:00Z");
        let back: CachedToken = serde_json::from_value(json).unwrap();
        assert_eq!(back, token);
    }

    #[test]
    fn reads_a_minimal_legacy_token() {
        let text = r#"{"startUrl":"https://x/start","region":"us-east-1","accessToken":"a","expiresAt":"2030-01-01T00:00:00UTC"}"#;
        // Older botocore wrote `%Z` ("UTC") instead of `Z`.
        let token: CachedToken = serde_json::from_str(text).unwrap();
        assert_eq!(format_utc(token.expires_at), "2030-01-01T00:00:00Z");
        assert_eq!(token.refresh_token, None);
        assert_eq!(token.registration_expires_at, None);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!("{:?}", token(1, true));
        for secret in ["secret-access", "secret-refresh", "client-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
