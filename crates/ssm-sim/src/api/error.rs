//! API errors and their wire form: an HTTP 400 (500 for internal
//! failures) whose AWS JSON body is `{"__type": code, "message": text}`,
//! with the code repeated in the `x-amzn-ErrorType` header.

use std::fmt::Display;

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use super::AMZ_JSON;
use crate::fleet::FleetError;
use crate::service::ServiceError;
use crate::sso::CredentialRejection;

/// Header naming the error code, read by the AWS SDKs and botocore.
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ApiError {
    /// A session operation failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The request was signed with expired or unknown SSO credentials.
    #[error(transparent)]
    Credentials(#[from] CredentialRejection),
    /// An instance filter or page token was rejected.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// `X-Amz-Target` is missing or names no SSM operation we serve.
    #[error("{0}")]
    UnknownOperation(String),
    /// The body is not JSON of the operation's input shape.
    #[error("{0}")]
    Serialization(String),
    /// A member violates a constraint of the input shape.
    #[error("{0}")]
    Validation(String),
    /// The simulator itself failed.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The `__type` code AWS uses for this error.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Service(error) => error.code(),
            Self::Fleet(error) => error.code(),
            Self::Credentials(rejection) => rejection.json_code(),
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Serialization(_) => "SerializationException",
            Self::Validation(_) => "ValidationException",
            Self::Internal(_) => "InternalServerError",
        }
    }

    /// A required member is absent, worded as AWS does.
    pub(crate) fn missing(member: &str) -> Self {
        Self::Validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))
    }

    /// A member's value violates `constraint`, worded as AWS does.
    pub(crate) fn constraint(value: impl Display, member: &str, constraint: &str) -> Self {
        Self::Validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must {constraint}"
        ))
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let body = serde_json::json!({ "__type": code, "message": self.to_string() });
        let mut response = (self.status(), [AMZ_JSON], body.to_string()).into_response();
        response
            .headers_mut()
            .insert(ERROR_TYPE, HeaderValue::from_static(code));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_wrapped_errors() {
        assert_eq!(
            ApiError::from(ServiceError::TargetNotConnected("i-1".into())).code(),
            "TargetNotConnected"
        );
        assert_eq!(
            ApiError::from(FleetError::InvalidNextToken).code(),
            "InvalidNextToken"
        );
        assert_eq!(ApiError::missing("target").code(), "ValidationException");
    }

    #[test]
    fn response_carries_code_in_header_and_body() {
        let response = ApiError::Serialization("bad".into()).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[ERROR_TYPE], "SerializationException");
        assert_eq!(
            response.headers()["content-type"],
            "application/x-amz-json-1.1"
        );
    }
}
