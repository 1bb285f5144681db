//! What can go wrong making a token, each variant saying what to do.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;

/// Why [`crate::presign::token`] made no token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PresignError {
    /// The region is not a region name; pass one such as `eu-west-1`.
    #[error("{region:?} is not an AWS region name: pass one such as eu-west-1")]
    InvalidRegion {
        /// What was given.
        region: String,
    },
    /// The cluster name cannot be an EKS cluster name or id; pass the
    /// name the cluster has in EKS (letters, digits, `-` and `_`).
    #[error(
        "{cluster:?} is not an EKS cluster name: pass the cluster's name \
         (1 to 100 letters, digits, '-' or '_')"
    )]
    InvalidClusterName {
        /// What was given.
        cluster: String,
    },
    /// `aws-sigv4` refused to sign (a bug here: report it with the source).
    #[error("SigV4 presigning failed (a bug in ssm-eks-auth: please report it)")]
    Signing(#[source] Box<dyn StdError + Send + Sync>),
}

/// Why [`crate::exec_credential_from_config`] made no token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The `SdkConfig` has no credentials provider; load it with
    /// `aws_config::defaults(..).load()` or set one.
    #[error(
        "the AWS SDK configuration has no credentials provider: \
         load it with aws_config::defaults or set one"
    )]
    NoCredentialsProvider,
    /// No credentials anywhere the provider looked: name a profile
    /// (`--profile`, `AWS_PROFILE`) or configure one (`aws configure`).
    #[error(
        "no AWS credentials found: choose a profile with --profile or AWS_PROFILE, \
         or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials(#[source] CredentialsError),
    /// The profile signs in through IAM Identity Center (SSO) and its
    /// session has expired or never started: run `ssm-forward login` (or `aws sso login`) for it.
    #[error(
        "the SSO session of this profile has expired or was never started: \
         run `ssm-forward login --profile PROFILE` and try again"
    )]
    SsoExpired(#[source] CredentialsError),
    /// The credentials provider failed otherwise (bad profile, failed
    /// role assumption, network): the source says why; fix that.
    #[error("could not load AWS credentials (see the cause)")]
    Provider(#[source] CredentialsError),
    /// The token could not be made from the credentials.
    #[error(transparent)]
    Presign(#[from] PresignError),
}

impl TokenError {
    /// Sorts a credentials provider failure by what the user should do.
    pub(crate) fn from_credentials(error: CredentialsError) -> Self {
        if matches!(error, CredentialsError::CredentialsNotLoaded(_)) {
            Self::NoCredentials(error)
        } else if mentions_expired_sso(&error) {
            Self::SsoExpired(error)
        } else {
            Self::Provider(error)
        }
    }
}

/// Whether the error chain reads like aws-config's SSO provider failing
/// for want of a valid SSO session: a cached token that expired and
/// cannot be refreshed, a cache file that is missing (never logged in),
/// or the SSO portal refusing the token (`UnauthorizedException`).
/// aws-config keeps those error types private, so their messages are
/// all there is to go by.
fn mentions_expired_sso(error: &CredentialsError) -> bool {
    const SIGNS: &[&str] = &[
        "SSO token has expired",
        "cached SSO token",
        "UnauthorizedException",
    ];
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(error) = current {
        let message = error.to_string();
        if SIGNS.iter().any(|sign| message.contains(sign)) {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_loaded_means_no_credentials() {
        let error = TokenError::from_credentials(CredentialsError::not_loaded("nothing in env"));
        assert!(matches!(error, TokenError::NoCredentials(_)), "{error:?}");
        assert!(error.to_string().contains("--profile"), "{error}");
    }

    #[test]
    fn expired_sso_token_means_sso_login() {
        // aws-config's message for a cached token that cannot be refreshed.
        let cause = "the SSO token has expired and cannot be refreshed";
        let error = TokenError::from_credentials(CredentialsError::provider_error(cause));
        assert!(matches!(error, TokenError::SsoExpired(_)), "{error:?}");
        assert!(error.to_string().contains("ssm-forward login"), "{error}");
    }

    #[test]
    fn missing_sso_cache_means_sso_login() {
        let cause = "failed to load the cached SSO token";
        let error = TokenError::from_credentials(CredentialsError::provider_error(cause));
        assert!(matches!(error, TokenError::SsoExpired(_)), "{error:?}");
    }

    #[test]
    fn other_failures_are_provider_errors() {
        let cause = "profile `prod` did not contain credential information";
        let error = TokenError::from_credentials(CredentialsError::invalid_configuration(cause));
        assert!(matches!(error, TokenError::Provider(_)), "{error:?}");
    }
}
