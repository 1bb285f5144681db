//! What the simulated IAM Identity Center offers and how its device flow
//! behaves: the `[sso]` table of the configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{duration_ms, opt_u32};
use crate::sts::ACCOUNT_ID;

/// The start URL announced in the ready info; any start URL is accepted.
pub const DEFAULT_START_URL: &str = "https://ssm-sim.awsapps.com/start";
/// The role of the built-in account.
pub const DEFAULT_ROLE_NAME: &str = "ssm-forward-user";
/// The name of the built-in account.
pub const DEFAULT_ACCOUNT_NAME: &str = "sim-account";

/// One AWS account the signed-in user is assigned to, with its roles
/// (permission sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoAccount {
    /// The 12-digit account id.
    pub account_id: String,
    /// The display name ListAccounts reports.
    #[serde(default)]
    pub account_name: String,
    /// The e-mail address ListAccounts reports.
    #[serde(default)]
    pub email_address: String,
    /// Role names the user may get credentials for.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl SsoAccount {
    /// An account with these roles, named `account_name`, whose e-mail
    /// address is derived from the name.
    pub fn new(account_id: &str, account_name: &str, roles: &[&str]) -> Self {
        Self {
            account_id: account_id.to_owned(),
            account_name: account_name.to_owned(),
            email_address: format!("{account_name}@example.com"),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        }
    }

    /// True when `role_name` is assigned in this account.
    pub fn has_role(&self, role_name: &str) -> bool {
        self.roles.iter().any(|role| role == role_name)
    }
}

/// The simulated IAM Identity Center (SSO OIDC and the SSO portal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsoConfig {
    /// The start URL announced in the ready info (any is accepted).
    pub start_url: String,
    /// The user name in the assumed-role ARN of issued credentials.
    pub user_name: String,
    /// The accounts and roles assigned to the user.
    pub accounts: Vec<SsoAccount>,
    /// The automatic decision comes after this many `AuthorizationPending`
    /// answers to one device code; `None`: only a hook or the approval
    /// page decides.
    #[serde(with = "opt_u32")]
    pub approve_after_polls: Option<u32>,
    /// The automatic decision is a denial (`AccessDeniedException`).
    pub deny: bool,
    /// Answer `SlowDownException` to this poll (1-based, every
    /// CreateToken call of a device code counts) of each device code.
    #[serde(with = "opt_u32")]
    pub slow_down_on_poll: Option<u32>,
    /// The polling interval clients are told (in whole seconds, rounded
    /// up) and held to: a poll sooner than this after the previous one is
    /// answered `SlowDownException`. Zero: no pace check.
    #[serde(with = "duration_ms")]
    pub poll_interval: Duration,
    /// How long a device code (and its user code) stays valid.
    #[serde(with = "duration_ms")]
    pub device_code_ttl: Duration,
    /// How long an access token is valid.
    #[serde(with = "duration_ms")]
    pub access_token_ttl: Duration,
    /// How long a client registration (its secret) is valid.
    #[serde(with = "duration_ms")]
    pub registration_ttl: Duration,
    /// How long role credentials from GetRoleCredentials are valid.
    #[serde(with = "duration_ms")]
    pub role_credentials_ttl: Duration,
    /// Logout also invalidates the role credentials obtained with the
    /// token. AWS does not (they live until they expire), hence off.
    pub revoke_credentials_on_logout: bool,
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            start_url: DEFAULT_START_URL.into(),
            user_name: "sim-user".into(),
            accounts: vec![SsoAccount::new(
                ACCOUNT_ID,
                DEFAULT_ACCOUNT_NAME,
                &[DEFAULT_ROLE_NAME],
            )],
            approve_after_polls: Some(2),
            deny: false,
            slow_down_on_poll: None,
            poll_interval: Duration::from_secs(1),
            device_code_ttl: Duration::from_secs(600),
            access_token_ttl: Duration::from_secs(8 * 3600),
            registration_ttl: Duration::from_secs(90 * 24 * 3600),
            role_credentials_ttl: Duration::from_secs(3600),
            revoke_credentials_on_logout: false,
        }
    }
}

impl SsoConfig {
    /// The account with id `account_id`.
    pub fn account(&self, account_id: &str) -> Option<&SsoAccount> {
        self.accounts
            .iter()
            .find(|account| account.account_id == account_id)
    }

    /// The interval clients are told, in whole seconds (rounded up).
    pub fn interval_secs(&self) -> u64 {
        self.poll_interval.as_millis().div_ceil(1000) as u64
    }
}

#[cfg(test)]
mod tests {
    use crate::SimConfig;

    #[test]
    fn defaults_have_one_account_and_approve_after_two_polls() {
        let config = SimConfig::from_toml("").unwrap().sso;
        assert_eq!(config.accounts.len(), 1);
        assert_eq!(config.accounts[0].account_id, "123456789012");
        assert!(config.accounts[0].has_role("ssm-forward-user"));
        assert_eq!(config.approve_after_polls, Some(2));
        assert_eq!(config.interval_secs(), 1);
    }

    #[test]
    fn toml_sets_accounts_and_knobs() {
        let config = SimConfig::from_toml(
            r#"
            [sso]
            approve_after_polls = 0
            deny = true
            poll_interval = 1500
            [[sso.accounts]]
            account_id = "111122223333"
            roles = ["admin", "dev"]
            "#,
        )
        .unwrap();
        let sso = &config.sso;
        assert_eq!(sso.approve_after_polls, Some(0));
        assert!(sso.deny);
        assert_eq!(sso.interval_secs(), 2);
        assert!(sso.account("111122223333").unwrap().has_role("dev"));
        let text = toml::to_string(&config).unwrap();
        assert_eq!(SimConfig::from_toml(&text).unwrap(), config);
        let manual = SimConfig::from_toml("[sso]\napprove_after_polls = \"never\"").unwrap();
        assert_eq!(manual.sso.approve_after_polls, None);
    }
}
