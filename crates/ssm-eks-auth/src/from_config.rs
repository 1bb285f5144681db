//! Tokens from an `SdkConfig`: its credentials provider (profiles, SSO,
//! process credentials, the environment, whatever the caller loaded)
//! gives the credentials, [`crate::presign::token`] the token.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_types::SdkConfig;

use crate::error::TokenError;
use crate::exec_credential::ExecCredential;
use crate::presign;

/// Credentials from `config`'s credentials provider, its failures sorted
/// by what to do ([`TokenError`]).
pub async fn credentials_from_config(config: &SdkConfig) -> Result<Credentials, TokenError> {
    let provider = config
        .credentials_provider()
        .ok_or(TokenError::NoCredentialsProvider)?;
    provider
        .provide_credentials()
        .await
        .map_err(TokenError::from_credentials)
}

/// The `ExecCredential` for `cluster` in `region`, signed at `now` (pass
/// `SystemTime::now()` outside tests) with the credentials of `config`.
/// The region is the cluster's, whatever `config`'s region is.
pub async fn exec_credential_from_config(
    config: &SdkConfig,
    cluster: &str,
    region: &str,
    now: SystemTime,
) -> Result<ExecCredential, TokenError> {
    let credentials = credentials_from_config(config).await?;
    let token = presign::token(&credentials, cluster, region, now)?;
    Ok(ExecCredential::new(token, now))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::{SharedCredentialsProvider, future};

    use super::*;
    use crate::error::PresignError;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_281_920)
    }

    fn config_with(provider: impl ProvideCredentials + 'static) -> SdkConfig {
        SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build()
    }

    /// A provider that fails as aws-config's SSO provider does when the
    /// cached SSO token has expired.
    #[derive(Debug)]
    struct ExpiredSso;

    impl ProvideCredentials for ExpiredSso {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err(CredentialsError::provider_error(
                "the SSO token has expired and cannot be refreshed",
            )))
        }
    }

    #[tokio::test]
    async fn signs_with_the_config_credentials() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let config = config_with(credentials.clone());
        let credential = exec_credential_from_config(&config, "prod", "eu-west-1", now())
            .await
            .unwrap();
        let direct = presign::token(&credentials, "prod", "eu-west-1", now()).unwrap();
        assert_eq!(credential.token(), &direct);
        assert_eq!(credential.expires_at(), now() + crate::TOKEN_LIFETIME);
    }

    #[tokio::test]
    async fn no_provider_is_its_own_error() {
        let config = SdkConfig::builder().build();
        let error = exec_credential_from_config(&config, "prod", "eu-west-1", now())
            .await
            .unwrap_err();
        assert!(
            matches!(error, TokenError::NoCredentialsProvider),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn expired_sso_says_sso_login() {
        let config = config_with(ExpiredSso);
        let error = exec_credential_from_config(&config, "prod", "eu-west-1", now())
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::SsoExpired(_)), "{error:?}");
    }

    #[tokio::test]
    async fn bad_cluster_is_a_presign_error() {
        let config = config_with(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ));
        let error = exec_credential_from_config(&config, "no spaces", "eu-west-1", now())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                TokenError::Presign(PresignError::InvalidClusterName { .. })
            ),
            "{error:?}"
        );
    }
}
