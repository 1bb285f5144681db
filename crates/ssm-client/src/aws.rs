//! [`SessionApi`] on aws-sdk-ssm, and SDK configuration loading with the
//! ring TLS provider (no aws-lc-sys build, one crypto provider).

use aws_config::BehaviorVersion;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use crate::api::{ApiError, BoxFuture, SessionApi, StartSessionRequest, StartedSession};

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

/// An HTTPS client on rustls with the ring provider.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
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

/// [`SessionApi`] backed by an `aws_sdk_ssm::Client`.
#[derive(Debug, Clone)]
pub struct AwsSessionApi {
    client: aws_sdk_ssm::Client,
}

impl AwsSessionApi {
    /// Uses the caller's SDK configuration (credentials, region, endpoint).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_ssm::Client::new(config),
        }
    }

    /// Wraps an existing client.
    pub fn from_client(client: aws_sdk_ssm::Client) -> Self {
        Self { client }
    }

    /// The underlying client (for DescribeInstanceInformation and friends).
    pub fn client(&self) -> &aws_sdk_ssm::Client {
        &self.client
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
                .map_err(classify)?;
            match (output.session_id, output.token_value, output.stream_url) {
                (Some(session_id), Some(token_value), Some(stream_url)) => Ok(StartedSession {
                    session_id,
                    token_value,
                    stream_url,
                }),
                _ => Err(ApiError::Invalid(
                    "StartSession returned an incomplete response".into(),
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
                .map_err(classify)?;
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
                .map_err(classify)?;
            Ok(())
        })
    }
}

/// Sorts an SDK error into what the caller should do about it.
fn classify<E, R>(error: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(service) => {
            classify_code(service.err().code().unwrap_or_default(), text)
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            if mentions_credentials(&text) {
                ApiError::Auth(text)
            } else {
                ApiError::Transient(text)
            }
        }
        _ if mentions_credentials(&text) => ApiError::Auth(text),
        _ => ApiError::Invalid(text),
    }
}

fn classify_code(code: &str, text: String) -> ApiError {
    match code {
        "TargetNotConnected" | "InvalidTarget" => ApiError::TargetNotConnected(text),
        "AccessDeniedException"
        | "AccessDenied"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException" => ApiError::Auth(text),
        "ThrottlingException" | "InternalServerError" | "ServiceUnavailable" | "RequestTimeout" => {
            ApiError::Transient(text)
        }
        _ => ApiError::Invalid(text),
    }
}

fn mentions_credentials(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("credential") || lower.contains("sso") || lower.contains("token has expired")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_actions() {
        assert!(matches!(
            classify_code("TargetNotConnected", String::new()),
            ApiError::TargetNotConnected(_)
        ));
        assert!(matches!(
            classify_code("AccessDeniedException", String::new()),
            ApiError::Auth(_)
        ));
        assert!(classify_code("ThrottlingException", String::new()).is_transient());
        assert!(matches!(
            classify_code("InvalidDocument", String::new()),
            ApiError::Invalid(_)
        ));
    }
}
