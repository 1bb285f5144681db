//! EKS API errors and their REST-JSON wire form: the HTTP status of the
//! error shape, the code in `x-amzn-ErrorType`, and a JSON body with
//! `message` (plus `clusterName` where the shape has it).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use thiserror::Error;

use crate::sso::CredentialRejection;

/// Header naming the error code, read by the AWS SDKs and botocore.
const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// Why an EKS call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum EksError {
    /// No cluster of that name: the caller should check the name and
    /// region (`ResourceNotFoundException`, 404).
    #[error("No cluster found for name: {0}.")]
    ClusterNotFound(String),
    /// A parameter is out of range or a page token is not ours
    /// (`InvalidParameterException`, 400): the caller should fix it.
    #[error("{0}")]
    InvalidParameter(String),
    /// Expired or unknown SSO credentials (403): sign in again.
    #[error(transparent)]
    Credentials(#[from] CredentialRejection),
    /// The simulator itself failed (`ServerException`, 500): a bug here.
    #[error("{0}")]
    Server(String),
}

impl EksError {
    /// The error code AWS uses.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::ClusterNotFound(_) => "ResourceNotFoundException",
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::Credentials(rejection) => rejection.json_code(),
            Self::Server(_) => "ServerException",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::ClusterNotFound(_) => StatusCode::NOT_FOUND,
            Self::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            Self::Credentials(_) => StatusCode::FORBIDDEN,
            Self::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for EksError {
    fn into_response(self) -> Response {
        let code = self.code();
        let mut body = json!({ "message": self.to_string() });
        if let Self::ClusterNotFound(name) = &self {
            body["clusterName"] = name.as_str().into();
        }
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
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
    fn not_found_is_a_404_with_code_header_and_cluster_name() {
        let response = EksError::ClusterNotFound("prod".into()).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[ERROR_TYPE], "ResourceNotFoundException");
        let response = EksError::InvalidParameter("bad".into()).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[ERROR_TYPE], "InvalidParameterException");
    }
}
