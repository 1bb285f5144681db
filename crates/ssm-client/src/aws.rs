//! [`SessionApi`] on aws-sdk-ssm, and SDK configuration loading with the
//! ring TLS provider (no aws-lc-sys build, one crypto provider) and the
//! environment's HTTP proxy.

mod classify;

use aws_config::BehaviorVersion;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::api::{
    ApiError, ApiErrorKind, BoxFuture, SessionApi, StartSessionRequest, StartedSession,
};

pub use self::classify::classify_sdk_error;

/// Where and as whom to call AWS; every field is optional and falls back
/// to the usual chain (environment, profiles, SSO, IMDS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// Named profile (`--profile`).
    pub profile: Option<String>,
    /// Region (`--region`).
    pub region: Option<String>,
    /// SSM endpoint override (`--endpoint-url`), e.g. a local ssm-sim.
    pub endpoint_url: Option<String>,
}

/// An HTTPS client on rustls with the ring provider, through the proxy
/// the environment names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`, with `user:password@` as Basic authentication), as the
/// data channel does: a corporate proxy then carries the API calls too.
pub fn https_client() -> SharedHttpClient {
    // `Builder::build_https` takes no proxy setting; the connector does.
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = aws_smithy_http_client::Connector::builder()
            .proxy_config(aws_smithy_http_client::proxy::ProxyConfig::from_env());
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build()
    })
}

/// Loads an `SdkConfig` honouring `options`, with the ring HTTPS client.
pub async fn load_sdk_config(options: &AwsOptions) -> aws_config::SdkConfig {
    crate::transport::install_crypto_provider();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// An SDK configuration for a local ssm-sim at `endpoint_url`: fixed
/// dummy credentials and region, no credential chain (so nothing ever
/// reaches for instance metadata).
pub fn simulator_sdk_config(endpoint_url: &str) -> aws_config::SdkConfig {
    crate::transport::install_crypto_provider();
    let credentials =
        aws_credential_types::Credentials::new("AKIDSIMULATOR", "simulator", None, None, "ssm-sim");
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .endpoint_url(endpoint_url)
        .http_client(https_client())
        .build()
}

impl AwsOptions {
    /// The profile the SDK uses: `profile`, else `AWS_PROFILE`, else none
    /// named (the SDK then uses `default`).
    pub fn effective_profile(&self) -> Option<String> {
        self.profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok())
            .filter(|profile| !profile.is_empty())
    }
}

/// [`SessionApi`] backed by an `aws_sdk_ssm::Client`.
#[derive(Debug, Clone)]
pub struct AwsSessionApi {
    client: aws_sdk_ssm::Client,
    profile: Option<String>,
}

impl AwsSessionApi {
    /// Uses the caller's SDK configuration (credentials, region, endpoint).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self::from_client(aws_sdk_ssm::Client::new(config))
    }

    /// Uses `config`, loaded from `options`: errors then name the profile
    /// in [`ApiErrorKind::SsoExpired`].
    pub fn with_options(config: &aws_config::SdkConfig, options: &AwsOptions) -> Self {
        Self {
            profile: options.effective_profile(),
            ..Self::new(config)
        }
    }

    /// Wraps an existing client.
    pub fn from_client(client: aws_sdk_ssm::Client) -> Self {
        Self {
            client,
            profile: None,
        }
    }

    /// The underlying client (for DescribeInstanceInformation and friends).
    pub fn client(&self) -> &aws_sdk_ssm::Client {
        &self.client
    }

    /// Sorts a failed call ([`classify_sdk_error`], naming the profile).
    pub fn classify<E>(&self, error: SdkError<E, HttpResponse>) -> ApiError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify::classify_for_profile(error, self.profile.as_deref())
    }
}

impl SessionApi for AwsSessionApi {
    fn start_session(
        &self,
        request: StartSessionRequest,
    ) -> BoxFuture<'_, Result<StartedSession, ApiError>> {
        Box::pin(async move {
            let output = self
                .client
                .start_session()
                .target(&request.target)
                .document_name(&request.document_name)
                .set_parameters(Some(request.parameters.into_iter().collect()))
                .set_reason(request.reason)
                .send()
                .await
                .map_err(|error| self.classify(error))?;
            match (output.session_id, output.token_value, output.stream_url) {
                (Some(session_id), Some(token_value), Some(stream_url)) => Ok(StartedSession {
                    session_id,
                    token_value,
                    stream_url,
                }),
                _ => Err(ApiError::new(
                    ApiErrorKind::Service,
                    "StartSession returned an incomplete response",
                )),
            }
        })
    }

    fn resume_session(
        &self,
        session_id: String,
    ) -> BoxFuture<'_, Result<Option<String>, ApiError>> {
        Box::pin(async move {
            let output = self
                .client
                .resume_session()
                .session_id(session_id)
                .send()
                .await
                .map_err(|error| self.classify(error))?;
            Ok(output.token_value.filter(|token| !token.is_empty()))
        })
    }

    fn terminate_session(&self, session_id: String) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(async move {
            self.client
                .terminate_session()
                .session_id(session_id)
                .send()
                .await
                .map_err(|error| self.classify(error))?;
            Ok(())
        })
    }
}
