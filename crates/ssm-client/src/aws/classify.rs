//! Sorting aws-sdk errors into [`ApiErrorKind`]s.
//!
//! A service answer is sorted by its error code (and HTTP status). Any
//! other failure is sorted by walking its `source()` chain and
//! downcasting the links to the SDK's public types: a credentials
//! provider's `CredentialsError`, the SSO token provider's `TokenError`,
//! the STS and SSO calls that credential providers make, and the HTTP
//! connector's `ConnectorError`.

use std::error::Error as StdError;
use std::iter::successors;

use aws_credential_types::provider::error::{CredentialsError, TokenError};
use aws_sdk_ssm::error::{ConnectorError, ProvideErrorMetadata, SdkError};
use aws_sdk_sso::operation::get_role_credentials::GetRoleCredentialsError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::api::{ApiError, ApiErrorKind};

/// Sorts an aws-sdk error by what the caller should do about it, keeping
/// the AWS error code, the service's message and the error itself (as
/// the source).
pub fn classify_sdk_error<E>(error: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    classify_for_profile(error, None)
}

/// [`classify_sdk_error`], naming `profile` in [`ApiErrorKind::SsoExpired`].
pub(crate) fn classify_for_profile<E>(
    error: SdkError<E, HttpResponse>,
    profile: Option<&str>,
) -> ApiError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let mut verdict = verdict(&error);
    if let ApiErrorKind::SsoExpired { profile: named } = &mut verdict.kind {
        *named = profile.map(str::to_owned);
    }
    let message = verdict.message.unwrap_or_else(|| chain_text(&error));
    let api_error = ApiError::new(verdict.kind, message);
    match verdict.code {
        Some(code) => api_error.with_code(code),
        None => api_error,
    }
    .with_source(error)
}

/// What a classification found.
#[derive(Debug)]
struct Verdict {
    kind: ApiErrorKind,
    code: Option<String>,
    message: Option<String>,
}

impl From<ApiErrorKind> for Verdict {
    fn from(kind: ApiErrorKind) -> Self {
        Self {
            kind,
            code: None,
            message: None,
        }
    }
}

fn verdict<E>(error: &SdkError<E, HttpResponse>) -> Verdict
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match error {
        SdkError::ServiceError(service) => from_service(
            service.err(),
            service.raw().status().as_u16(),
            ApiErrorKind::InvalidRequest,
        ),
        SdkError::TimeoutError(_) => ApiErrorKind::Network.into(),
        SdkError::ResponseError(_) => ApiErrorKind::Service.into(),
        SdkError::ConstructionFailure(_) => {
            from_chain(error).unwrap_or_else(|| ApiErrorKind::InvalidRequest.into())
        }
        // DispatchFailure: credential loading happens in this phase too.
        _ => from_chain(error).unwrap_or_else(|| ApiErrorKind::Network.into()),
    }
}

/// A service's error answer; `fallback` for codes that say nothing here.
fn from_service<E>(error: &E, status: u16, fallback: ApiErrorKind) -> Verdict
where
    E: ProvideErrorMetadata + StdError,
{
    let message = error
        .message()
        .map_or_else(|| error.to_string(), str::to_owned);
    let kind = error
        .code()
        .and_then(|code| kind_for_code(code, &message))
        .unwrap_or(match status {
            429 => ApiErrorKind::Throttled,
            500..=599 => ApiErrorKind::Service,
            _ => fallback,
        });
    Verdict {
        kind,
        code: error.code().map(str::to_owned),
        message: Some(message),
    }
}

/// The kinds AWS error codes (SSM's, STS's, the common ones) stand for.
fn kind_for_code(code: &str, message: &str) -> Option<ApiErrorKind> {
    Some(match code {
        "TargetNotConnected" | "InvalidTarget" => ApiErrorKind::TargetNotConnected,
        "AccessDeniedException" | "AccessDenied" => ApiErrorKind::access_denied(message),
        "ExpiredTokenException" | "ExpiredToken" => ApiErrorKind::CredentialsExpired,
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "InvalidIdentityToken" => ApiErrorKind::InvalidCredentials,
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => ApiErrorKind::Throttled,
        "InternalServerError"
        | "InternalFailure"
        | "InternalServerException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => ApiErrorKind::Service,
        "RequestTimeout" | "RequestTimeoutException" => ApiErrorKind::Network,
        _ => return None,
    })
}

/// Walks the source chain, outermost first, to the first link that says
/// what went wrong.
fn from_chain(error: &(dyn StdError + 'static)) -> Option<Verdict> {
    let mut loading_credentials = false;
    for link in successors(Some(error), |&link| link.source()) {
        if let Some(verdict) = typed_link(link, &mut loading_credentials) {
            return Some(verdict);
        }
        // Text fallback, the only one: aws-config's SSO token errors
        // (`SsoTokenProviderError`: expired, not loadable) and the legacy
        // SSO cache errors (`CachedSsoTokenError`: no cache file) are
        // private types, so inside a credentials error a link whose own
        // text names SSO is taken as the SSO session being unusable.
        if loading_credentials && mentions_sso(&link.to_string()) {
            return Some(ApiErrorKind::SsoExpired { profile: None }.into());
        }
    }
    loading_credentials.then(|| ApiErrorKind::NoCredentials.into())
}

/// The verdict a link of a known type gives, if it is decisive. Notes
/// when the chain has entered credential loading.
fn typed_link(link: &(dyn StdError + 'static), loading_credentials: &mut bool) -> Option<Verdict> {
    if let Some(error) = link.downcast_ref::<CredentialsError>() {
        *loading_credentials = true;
        return match error {
            CredentialsError::CredentialsNotLoaded(_)
            | CredentialsError::InvalidConfiguration(_) => Some(ApiErrorKind::NoCredentials.into()),
            CredentialsError::ProviderTimedOut(_) => Some(ApiErrorKind::Network.into()),
            // ProviderError, Unhandled: the cause is further down.
            _ => None,
        };
    }
    if let Some(error) = link.downcast_ref::<TokenError>() {
        // Credential providers only use a token provider for SSO.
        return Some(match error {
            TokenError::ProviderTimedOut(_) => ApiErrorKind::Network.into(),
            _ => ApiErrorKind::SsoExpired { profile: None }.into(),
        });
    }
    if let Some(verdict) = credential_call(link, sso_unauthorized) {
        return Some(verdict);
    }
    if let Some(verdict) = credential_call::<AssumeRoleError>(link, |_| false) {
        return Some(verdict);
    }
    if let Some(verdict) = credential_call::<AssumeRoleWithWebIdentityError>(link, |_| false) {
        return Some(verdict);
    }
    let connector = link.downcast_ref::<ConnectorError>()?;
    (connector.is_io() || connector.is_timeout()).then(|| ApiErrorKind::Network.into())
}

/// The answer of an SSO or STS call a credential provider made, when the
/// service answered (a failure to reach it is found further down).
/// `needs_sso_login` picks the answers that mean the SSO session is over.
fn credential_call<E>(
    link: &(dyn StdError + 'static),
    needs_sso_login: fn(&E) -> bool,
) -> Option<Verdict>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let error = link.downcast_ref::<SdkError<E, HttpResponse>>()?;
    let service = error.as_service_error()?;
    let status = error.raw_response().map_or(0, |raw| raw.status().as_u16());
    let mut verdict = from_service(service, status, ApiErrorKind::NoCredentials);
    if needs_sso_login(service) {
        verdict.kind = ApiErrorKind::SsoExpired { profile: None };
    }
    Some(verdict)
}

/// SSO's GetRoleCredentials refuses an access token that has expired or
/// was revoked: a new login (`ssm-forward login` or `aws sso login`) fixes it.
fn sso_unauthorized(error: &GetRoleCredentialsError) -> bool {
    matches!(error, GetRoleCredentialsError::UnauthorizedException(_))
}

/// "sso" at the start of a word (`SSO token`, `/sso/cache`), not inside
/// one (`association`).
fn mentions_sso(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower
        .match_indices("sso")
        .any(|(at, _)| !lower[..at].ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// The texts of the error's causes, joined, without the SDK's wrappers
/// ("dispatch failure", "other").
fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for link in successors(error.source(), |&link| link.source()) {
        if link.is::<ConnectorError>() && link.source().is_some() {
            continue;
        }
        let text = link.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests;
