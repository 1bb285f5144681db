//! SSO OIDC and SSO portal errors and their REST-JSON wire form: the
//! shape's HTTP status, the code in `x-amzn-ErrorType`, and the body each
//! service sends (OAuth's `{"error", "error_description"}` for SSO OIDC,
//! `{"message"}` for the portal).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use thiserror::Error;

/// Header naming the error code, read by the AWS SDKs and botocore.
pub(super) const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// Why an SSO OIDC call (RegisterClient, StartDeviceAuthorization,
/// CreateToken) failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum OidcError {
    /// The user has not decided yet: poll again after the interval.
    #[error("Authorization is still pending.")]
    AuthorizationPending,
    /// Polled too fast: wait longer between polls (RFC 8628: add 5 s).
    #[error("Client is polling too fast.")]
    SlowDown,
    /// The user denied the request: stop polling, start over if wanted.
    #[error("Authorization was denied by the user.")]
    AccessDenied,
    /// The device code expired: start a new device authorization.
    #[error("The device code has expired.")]
    ExpiredToken,
    /// Unknown client, wrong secret or expired registration: register
    /// the client again.
    #[error("{0}")]
    InvalidClient(String),
    /// Unknown, used or foreign device code or refresh token: start over.
    #[error("{0}")]
    InvalidGrant(String),
    /// A member is missing or malformed: fix the request.
    #[error("{0}")]
    InvalidRequest(String),
    /// RegisterClient with metadata the service refuses: fix it.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// A grant type this simulator does not serve: use the device code or
    /// refresh token grant.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// The simulator itself failed: a bug here.
    #[error("{0}")]
    Internal(String),
}

impl OidcError {
    /// The error code (shape name) AWS uses.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::AuthorizationPending => "AuthorizationPendingException",
            Self::SlowDown => "SlowDownException",
            Self::AccessDenied => "AccessDeniedException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::InvalidClient(_) => "InvalidClientException",
            Self::InvalidGrant(_) => "InvalidGrantException",
            Self::InvalidRequest(_) => "InvalidRequestException",
            Self::InvalidClientMetadata(_) => "InvalidClientMetadataException",
            Self::UnsupportedGrantType(_) => "UnsupportedGrantTypeException",
            Self::Internal(_) => "InternalServerException",
        }
    }

    /// The OAuth 2.0 error string of the `error` member.
    fn oauth_error(&self) -> &'static str {
        match self {
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::Internal(_) => "server_error",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for OidcError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.oauth_error(),
            "error_description": self.to_string(),
        });
        json_error(self.status(), self.code(), &body)
    }
}

/// Why an SSO portal call (GetRoleCredentials, ListAccounts,
/// ListAccountRoles, Logout) failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum PortalError {
    /// The bearer token is missing, unknown, expired or logged out: sign
    /// in again.
    #[error("Session token not found or invalid")]
    Unauthorized,
    /// The role is not assigned to the user in that account: ask for the
    /// assignment or pick another role (AWS's `ForbiddenException`, which
    /// is not in the service model: SDKs see an unmodelled error).
    #[error("No access")]
    Forbidden,
    /// A member is missing or malformed: fix the request.
    #[error("{0}")]
    InvalidRequest(String),
}

impl PortalError {
    /// The error code AWS uses.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "UnauthorizedException",
            Self::Forbidden => "ForbiddenException",
            Self::InvalidRequest(_) => "InvalidRequestException",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let body = json!({ "message": self.to_string() });
        json_error(self.status(), self.code(), &body)
    }
}

fn json_error(status: StatusCode, code: &'static str, body: &serde_json::Value) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert(ERROR_TYPE, HeaderValue::from_static(code));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use serde_json::Value;

    async fn wire(response: Response) -> (StatusCode, String, Value) {
        let status = response.status();
        let code = response.headers()[ERROR_TYPE].to_str().unwrap().to_owned();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        (status, code, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn every_oidc_error_has_its_status_code_and_oauth_body() {
        let cases = [
            (
                OidcError::AuthorizationPending,
                400,
                "AuthorizationPendingException",
                "authorization_pending",
            ),
            (OidcError::SlowDown, 400, "SlowDownException", "slow_down"),
            (
                OidcError::AccessDenied,
                400,
                "AccessDeniedException",
                "access_denied",
            ),
            (
                OidcError::ExpiredToken,
                400,
                "ExpiredTokenException",
                "expired_token",
            ),
            (
                OidcError::InvalidClient("x".into()),
                401,
                "InvalidClientException",
                "invalid_client",
            ),
            (
                OidcError::InvalidGrant("x".into()),
                400,
                "InvalidGrantException",
                "invalid_grant",
            ),
            (
                OidcError::InvalidRequest("x".into()),
                400,
                "InvalidRequestException",
                "invalid_request",
            ),
            (
                OidcError::InvalidClientMetadata("x".into()),
                400,
                "InvalidClientMetadataException",
                "invalid_client_metadata",
            ),
            (
                OidcError::UnsupportedGrantType("x".into()),
                400,
                "UnsupportedGrantTypeException",
                "unsupported_grant_type",
            ),
            (
                OidcError::Internal("x".into()),
                500,
                "InternalServerException",
                "server_error",
            ),
        ];
        for (error, status, code, oauth) in cases {
            let description = error.to_string();
            let (got_status, got_code, body) = wire(error.into_response()).await;
            assert_eq!(got_status.as_u16(), status, "{code}");
            assert_eq!(got_code, code);
            assert_eq!(body["error"], oauth, "{code}");
            assert_eq!(body["error_description"], description.as_str(), "{code}");
        }
    }

    #[tokio::test]
    async fn every_portal_error_has_its_status_code_and_message() {
        let cases = [
            (PortalError::Unauthorized, 401, "UnauthorizedException"),
            (PortalError::Forbidden, 403, "ForbiddenException"),
            (
                PortalError::InvalidRequest("x".into()),
                400,
                "InvalidRequestException",
            ),
        ];
        for (error, status, code) in cases {
            let message = error.to_string();
            let (got_status, got_code, body) = wire(error.into_response()).await;
            assert_eq!(got_status.as_u16(), status, "{code}");
            assert_eq!(got_code, code);
            assert_eq!(body, json!({ "message": message }), "{code}");
        }
    }
}
