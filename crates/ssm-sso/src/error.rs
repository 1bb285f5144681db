//! What can go wrong, each variant saying what the caller (or its user)
//! should do about it.

use std::path::PathBuf;

use thiserror::Error;

/// `~/.aws/config` does not describe an SSO sign-in for what was asked.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// The config files could not be read or parsed: fix the file.
    #[error("cannot read the AWS config files: {0}")]
    Unreadable(String),
    /// No such profile: check the name, or add it to `~/.aws/config`.
    #[error("profile {profile:?} is not in the AWS config file{}", known_list(.known))]
    ProfileNotFound {
        /// The profile asked for.
        profile: String,
        /// The profiles that exist.
        known: Vec<String>,
    },
    /// The profile signs in some other way (keys, roles, processes): no
    /// SSO login applies; use its own way, or pick an SSO profile.
    #[error(
        "profile {profile:?} does not use IAM Identity Center (it has neither sso_session nor sso_start_url)"
    )]
    NotSso {
        /// The profile asked for.
        profile: String,
    },
    /// The `[sso-session NAME]` section is missing: add it, or fix the
    /// profile's `sso_session`.
    #[error("there is no [sso-session {name}] section in the AWS config file{}", known_list(.known))]
    SessionNotFound {
        /// The session asked for.
        name: String,
        /// The sessions that exist.
        known: Vec<String>,
    },
    /// A required key is missing: add it to the named section.
    #[error("{section} has no {key}: add it to the AWS config file")]
    MissingKey {
        /// The section, as the config file names it.
        section: String,
        /// The missing key.
        key: &'static str,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

/// The token cache could not be used.
#[derive(Debug, Error)]
pub enum CacheError {
    /// No home directory to find `~/.aws` in: set HOME (USERPROFILE on
    /// Windows).
    #[error("no home directory: set HOME (or USERPROFILE on Windows) to find ~/.aws")]
    NoHome,
    /// Reading or writing a cache file failed: check the path's
    /// permissions and free space.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot write", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A cache file is not what the AWS CLI writes: log in again (which
    /// rewrites it), or delete it.
    #[error("{path} is not a token cache file the AWS CLI would write: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A sign-in, refresh or logout did not work.
#[derive(Debug, Error)]
pub enum LoginError {
    /// See [`ProfileError`].
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// See [`CacheError`].
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The request was denied in the browser: sign in again and approve
    /// it, or ask an administrator for access.
    #[error("the sign-in request was denied: run the login again and approve it in the browser")]
    Denied,
    /// The code expired before it was approved: sign in again, and
    /// approve within the time shown.
    #[error(
        "the sign-in code expired before it was approved: run the login again and approve it sooner"
    )]
    CodeExpired,
    /// The refresh token was refused (revoked, expired, or the session
    /// was ended by an administrator): sign in again.
    #[error("the SSO session could not be renewed: sign in again ({0})")]
    RefreshRefused(String),
    /// The portal refused the access token: sign in again.
    #[error("IAM Identity Center refused the access token (expired or signed out): sign in again")]
    Unauthorized,
    /// The account or role is not assigned to this user: check
    /// `sso_account_id` and `sso_role_name`, or ask for the assignment.
    #[error(
        "role {role:?} in account {account} is not assigned to you: check sso_account_id and sso_role_name ({message})"
    )]
    RoleNotAssigned {
        /// The account id.
        account: String,
        /// The role name.
        role: String,
        /// The service's words.
        message: String,
    },
    /// IAM Identity Center refused the request for another reason: the
    /// code and message say which (a wrong start URL or region is the
    /// usual cause).
    #[error("IAM Identity Center refused {operation}: {code}: {message}")]
    Refused {
        /// The API operation.
        operation: &'static str,
        /// The AWS error code.
        code: String,
        /// The service's words.
        message: String,
    },
    /// IAM Identity Center could not be reached: check the network (and
    /// `sso_region`), then retry.
    #[error("IAM Identity Center could not be reached for {operation}: {detail}")]
    Unreachable {
        /// The API operation.
        operation: &'static str,
        /// What failed.
        detail: String,
    },
}
