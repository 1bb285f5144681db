//! The shared memory of the simulated IAM Identity Center: registered
//! clients, device authorizations, access and refresh tokens, and the role
//! credentials the portal handed out; plus the test hooks ([`Sso`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::config::SsoConfig;

/// Prefix of every access key id the SSO portal issues. Requests signed
/// with a key of this prefix are checked against the issued credentials;
/// other keys are accepted as before.
pub const SSO_ACCESS_KEY_PREFIX: &str = "ASIASIMSSO";

/// Letters of user codes: no vowels or look-alikes (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// How a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    /// Waiting for the user.
    Pending,
    /// The user approved; the next poll gets tokens.
    Approved,
    /// The user denied; polls get `AccessDeniedException`.
    Denied,
    /// Tokens were issued; the device code is used up.
    Redeemed,
}

/// A device authorization as the hooks report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingAuthorization {
    /// The code the user confirms, `ABCD-EFGH`.
    pub user_code: String,
    /// The client that asked (RegisterClient's `clientName`).
    pub client_name: String,
    /// The `startUrl` it was started with.
    pub start_url: String,
    /// CreateToken calls made with its device code so far.
    pub polls: u32,
    /// When its device code expires.
    pub expires_at: SystemTime,
}

/// Role credentials the portal issued, as the hooks report them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedCredentials {
    /// The access key id (starts with [`SSO_ACCESS_KEY_PREFIX`]).
    pub access_key_id: String,
    /// The account they are for.
    pub account_id: String,
    /// The role they are for.
    pub role_name: String,
    /// When they expire.
    pub expiration: SystemTime,
    /// False once expired or revoked.
    pub valid: bool,
}

/// Counters of the simulated IAM Identity Center.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SsoStats {
    /// RegisterClient calls (failed ones too).
    pub register_client: u64,
    /// StartDeviceAuthorization calls.
    pub start_device_authorization: u64,
    /// CreateToken calls, every grant type and outcome.
    pub create_token: u64,
    /// `AuthorizationPendingException` answers.
    pub authorization_pending: u64,
    /// `SlowDownException` answers.
    pub slow_down: u64,
    /// `AccessDeniedException` answers.
    pub access_denied: u64,
    /// Access tokens issued for a device code.
    pub tokens_issued: u64,
    /// Access tokens issued for a refresh token.
    pub tokens_refreshed: u64,
    /// GetRoleCredentials calls.
    pub get_role_credentials: u64,
    /// Role credentials issued.
    pub role_credentials_issued: u64,
    /// ListAccounts calls.
    pub list_accounts: u64,
    /// ListAccountRoles calls.
    pub list_account_roles: u64,
    /// Logout calls.
    pub logout: u64,
    /// SSM, STS or EKS requests signed with issued credentials and accepted.
    pub credentials_accepted: u64,
    /// Requests signed with an issued-looking key refused (unknown,
    /// expired or revoked credentials).
    pub credentials_rejected: u64,
}

pub(super) struct Client {
    pub(super) secret: String,
    pub(super) name: String,
    pub(super) scopes: Vec<String>,
    pub(super) expires_at: SystemTime,
}

pub(super) struct Authorization {
    pub(super) user_code: String,
    pub(super) client_id: String,
    pub(super) start_url: String,
    pub(super) expires_at: SystemTime,
    pub(super) polls: u32,
    pub(super) pending_answers: u32,
    pub(super) last_poll: Option<Instant>,
    pub(super) decision: Decision,
}

pub(super) struct AccessToken {
    pub(super) expires_at: SystemTime,
    pub(super) revoked: bool,
    /// The refresh token issued with it (Logout revokes both).
    pub(super) refresh_token: Option<String>,
}

pub(super) struct RefreshToken {
    pub(super) client_id: String,
    pub(super) revoked: bool,
}

pub(super) struct RoleCredentials {
    pub(super) secret_access_key: String,
    pub(super) session_token: String,
    pub(super) account_id: String,
    pub(super) role_name: String,
    pub(super) access_token: String,
    pub(super) expires_at: SystemTime,
    pub(super) revoked: bool,
}

/// Everything the services remember, behind one lock.
#[derive(Default)]
pub(super) struct Registry {
    pub(super) clients: HashMap<String, Client>,
    /// By device code.
    pub(super) authorizations: HashMap<String, Authorization>,
    pub(super) access_tokens: HashMap<String, AccessToken>,
    pub(super) refresh_tokens: HashMap<String, RefreshToken>,
    /// By access key id.
    pub(super) credentials: HashMap<String, RoleCredentials>,
    pub(super) stats: SsoStats,
}

/// The simulated IAM Identity Center: its configuration and memory,
/// shared by the SSO OIDC and portal handlers, the credential checks of
/// the other fakes, and the test hooks below. Cheap to clone.
#[derive(Clone)]
pub struct Sso {
    config: Arc<SsoConfig>,
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The registry holds secrets and tokens: never print it.
        f.debug_struct("Sso").field("config", &self.config).finish()
    }
}

impl Sso {
    /// An identity center with nothing registered yet.
    pub fn new(config: SsoConfig) -> Self {
        Self {
            config: Arc::new(config),
            registry: Arc::default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &SsoConfig {
        &self.config
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Approves the authorization of `user_code` (case and dash do not
    /// matter), as the user would in the browser. False when no pending
    /// authorization has that code.
    pub fn approve(&self, user_code: &str) -> bool {
        self.decide(user_code, Decision::Approved)
    }

    /// Denies the authorization of `user_code`. False when no pending
    /// authorization has that code.
    pub fn deny(&self, user_code: &str) -> bool {
        self.decide(user_code, Decision::Denied)
    }

    fn decide(&self, user_code: &str, decision: Decision) -> bool {
        let wanted = normalize_user_code(user_code);
        let now = SystemTime::now();
        let mut registry = self.lock();
        let found = registry.authorizations.values_mut().find(|authorization| {
            normalize_user_code(&authorization.user_code) == wanted
                && authorization.decision == Decision::Pending
                && authorization.expires_at > now
        });
        match found {
            Some(authorization) => {
                authorization.decision = decision;
                tracing::debug!(user_code = %authorization.user_code, ?decision, "device authorization decided");
                true
            }
            None => false,
        }
    }

    /// The authorizations waiting for a decision (not expired), oldest
    /// expiry first.
    pub fn pending(&self) -> Vec<PendingAuthorization> {
        let now = SystemTime::now();
        let registry = self.lock();
        let mut pending: Vec<_> = registry
            .authorizations
            .values()
            .filter(|authorization| {
                authorization.decision == Decision::Pending && authorization.expires_at > now
            })
            .map(|authorization| PendingAuthorization {
                user_code: authorization.user_code.clone(),
                client_name: registry
                    .clients
                    .get(&authorization.client_id)
                    .map(|client| client.name.clone())
                    .unwrap_or_default(),
                start_url: authorization.start_url.clone(),
                polls: authorization.polls,
                expires_at: authorization.expires_at,
            })
            .collect();
        pending.sort_by_key(|authorization| authorization.expires_at);
        pending
    }

    /// Expires every device code now; returns how many were live.
    pub fn expire_device_codes(&self) -> usize {
        let now = SystemTime::now();
        let mut registry = self.lock();
        expire_all(
            registry
                .authorizations
                .values_mut()
                .map(|authorization| &mut authorization.expires_at),
            now,
        )
    }

    /// Expires every access token now (the portal then answers
    /// `UnauthorizedException`; refresh tokens still work); returns how
    /// many were live.
    pub fn expire_access_tokens(&self) -> usize {
        let now = SystemTime::now();
        let mut registry = self.lock();
        expire_all(
            registry
                .access_tokens
                .values_mut()
                .map(|token| &mut token.expires_at),
            now,
        )
    }

    /// Expires every issued role credential now (SSM, STS and EKS then
    /// answer `ExpiredTokenException`); returns how many were live.
    pub fn expire_role_credentials(&self) -> usize {
        let now = SystemTime::now();
        let mut registry = self.lock();
        expire_all(
            registry
                .credentials
                .values_mut()
                .map(|credentials| &mut credentials.expires_at),
            now,
        )
    }

    /// Every role credential issued so far, oldest expiry first.
    pub fn issued_credentials(&self) -> Vec<IssuedCredentials> {
        let now = SystemTime::now();
        let registry = self.lock();
        let mut issued: Vec<_> = registry
            .credentials
            .iter()
            .map(|(access_key_id, credentials)| IssuedCredentials {
                access_key_id: access_key_id.clone(),
                account_id: credentials.account_id.clone(),
                role_name: credentials.role_name.clone(),
                expiration: credentials.expires_at,
                valid: !credentials.revoked && credentials.expires_at > now,
            })
            .collect();
        issued.sort_by_key(|credentials| credentials.expiration);
        issued
    }

    /// The counters so far.
    pub fn stats(&self) -> SsoStats {
        self.lock().stats.clone()
    }
}

/// Moves every future expiry to just before `now`; counts them.
fn expire_all<'a>(expiries: impl Iterator<Item = &'a mut SystemTime>, now: SystemTime) -> usize {
    let past = now
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(UNIX_EPOCH);
    let mut count = 0;
    for expiry in expiries {
        if *expiry > now {
            *expiry = past;
            count += 1;
        }
    }
    count
}

/// `abcd-efgh`, `ABCDEFGH` and ` ABCD-EFGH ` are the same user code.
pub(super) fn normalize_user_code(user_code: &str) -> String {
    user_code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A fresh user code, `ABCD-EFGH`.
pub(super) fn new_user_code() -> String {
    let letter = || char::from(USER_CODE_ALPHABET[fastrand::usize(..USER_CODE_ALPHABET.len())]);
    let half = || (0..4).map(|_| letter()).collect::<String>();
    format!("{}-{}", half(), half())
}

/// `prefix` followed by `length` random characters of `alphabet`.
pub(super) fn random_string(prefix: &str, alphabet: &[u8], length: usize) -> String {
    let mut text = String::with_capacity(prefix.len() + length);
    text.push_str(prefix);
    text.extend((0..length).map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())])));
    text
}

/// Letters and digits of opaque tokens.
pub(super) const TOKEN_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Upper-case letters and digits of access key ids.
pub(super) const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Seconds since the epoch (0 before it).
pub(super) fn epoch_secs(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

/// Milliseconds since the epoch (0 before it).
pub(super) fn epoch_millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_look_like_aws_ones_and_normalize() {
        let code = new_user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(
            code.chars()
                .all(|c| c == '-' || USER_CODE_ALPHABET.contains(&(c as u8)))
        );
        assert_eq!(normalize_user_code(" abcd-efgh "), "ABCDEFGH");
    }

    #[test]
    fn hooks_decide_only_pending_unexpired_codes() {
        let sso = Sso::new(SsoConfig::default());
        let now = SystemTime::now();
        let mut authorization = Authorization {
            user_code: "BCDF-GHJK".into(),
            client_id: "c".into(),
            start_url: "s".into(),
            expires_at: now + Duration::from_secs(60),
            polls: 0,
            pending_answers: 0,
            last_poll: None,
            decision: Decision::Pending,
        };
        sso.lock().authorizations.insert("dc".into(), authorization);
        assert_eq!(sso.pending().len(), 1);
        assert!(!sso.approve("XXXX-XXXX"));
        assert!(sso.approve("bcdfghjk"));
        assert!(!sso.deny("BCDF-GHJK"), "already decided");
        assert!(sso.pending().is_empty());
        authorization = Authorization {
            user_code: "LMNP-QRST".into(),
            decision: Decision::Pending,
            ..sso.lock().authorizations.remove("dc").unwrap()
        };
        sso.lock()
            .authorizations
            .insert("dc2".into(), authorization);
        assert_eq!(sso.expire_device_codes(), 1);
        assert!(!sso.deny("LMNP-QRST"), "expired");
    }
}
