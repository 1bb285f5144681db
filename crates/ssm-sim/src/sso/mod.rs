//! IAM Identity Center (SSO), as far as a sign-in without the AWS CLI
//! needs it, on the same listener and endpoint URL as the SSM API:
//!
//! * **SSO OIDC** ([`oidc`]): RegisterClient, StartDeviceAuthorization and
//!   CreateToken, the OAuth 2.0 device authorization flow
//!   (`AWS_ENDPOINT_URL_SSO_OIDC`);
//! * the **SSO portal** ([`portal`]): GetRoleCredentials, ListAccounts,
//!   ListAccountRoles and Logout (`AWS_ENDPOINT_URL_SSO`);
//! * an **approval page** at `/sso/device` for a human in a browser.
//!
//! The role credentials the portal issues have access keys starting with
//! [`SSO_ACCESS_KEY_PREFIX`]; the SSM, STS and EKS fakes accept them while
//! they are live and refuse them, as AWS does, once expired
//! ([`CredentialRejection`]). [`Sso`] holds the state and the test hooks;
//! [`SsoConfig`] the accounts, roles and knobs.

mod config;
mod credentials;
mod error;
pub mod oidc;
mod page;
pub mod portal;
mod state;

use std::fmt::Display;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use self::config::{
    DEFAULT_ACCOUNT_NAME, DEFAULT_ROLE_NAME, DEFAULT_START_URL, SsoAccount, SsoConfig,
};
pub use self::credentials::{CredentialRejection, SsoIdentity};
pub use self::state::{
    Decision, IssuedCredentials, PendingAuthorization, SSO_ACCESS_KEY_PREFIX, Sso, SsoStats,
};
use crate::service::Service;

/// Header carrying the per-request UUID.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// The SSO OIDC, portal and approval page routes, to merge into the API
/// router. None overlaps another fake's: SSM and STS are `/`, EKS is
/// under `/clusters`.
pub(crate) fn routes() -> Router<Service> {
    oidc::routes().merge(portal::routes()).merge(page::routes())
}

/// What the error enums of this module share for logging.
trait ErrorCode: Display + IntoResponse {
    fn code(&self) -> &'static str;
}

impl ErrorCode for error::OidcError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

impl ErrorCode for error::PortalError {
    fn code(&self) -> &'static str {
        Self::code(self)
    }
}

/// The JSON answer, or the error, with a request id.
fn respond<O: Serialize, E: ErrorCode>(operation: &str, result: Result<O, E>) -> Response {
    let response = match result.map(|output| serde_json::to_vec(&output)) {
        Ok(Ok(json)) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Ok(Err(error)) => {
            let error = error::OidcError::Internal(error.to_string());
            tracing::debug!(operation, %error, "SSO request failed");
            error.into_response()
        }
        Err(error) => {
            tracing::debug!(operation, code = error.code(), %error, "SSO request failed");
            error.into_response()
        }
    };
    with_request_id(operation, response)
}

fn with_request_id(operation: &str, mut response: Response) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    tracing::debug!(%request_id, operation, status = %response.status(), "SSO request");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
