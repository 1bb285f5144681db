//! Sign in with AWS IAM Identity Center (SSO) without the AWS CLI.
//!
//! This crate runs the OAuth 2.0 device authorization flow of IAM Identity
//! Center ([`DeviceLogin`]: RegisterClient, StartDeviceAuthorization, then
//! CreateToken polled at the interval the service asks for), refreshes
//! tokens, and reads and writes the AWS CLI's token cache
//! (`~/.aws/sso/cache/<sha1>.json`, [`TokenCache`]) with the same file
//! names, JSON keys and time format, so that a login here serves the AWS
//! CLI and the AWS SDKs and a login there serves us. [`SsoProfile`] finds
//! the start URL and region from `~/.aws/config` through aws-config's own
//! parser (`[sso-session NAME]` sections and legacy profiles alike).
//!
//! It does not fetch or cache role credentials for other programs (the
//! SDKs do that from the token), open browsers or draw progress: callers
//! get the verification URL and code and a progress callback, and do
//! their own talking to the user. The poll schedule ([`poll`]) is a pure
//! state machine that takes `now`, so it is tested in virtual time.

mod cache;
mod error;
mod flow;
mod portal;
mod profile;
mod time;
mod token;

pub mod poll;

pub use cache::{TokenCache, registration_cache_key, token_cache_key};
pub use error::{CacheError, LoginError, ProfileError};
pub use flow::{DeviceAuthorization, DeviceLogin, LoginProgress};
pub use portal::{RoleCheck, check_role, logout_remote};
pub use profile::{SsoProfile, SsoSelector};
pub use time::{format_utc, parse_utc};
pub use token::{CachedToken, Registration, TokenState};

/// The scope every registration asks for: access to AWS accounts.
pub const ACCOUNT_ACCESS_SCOPE: &str = "sso:account:access";
