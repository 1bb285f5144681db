//! The SSM API over HTTP, speaking the AWS JSON 1.1 protocol as the AWS
//! SDKs, botocore and the AWS CLI expect: every call is `POST /` with an
//! `X-Amz-Target: AmazonSSM.<Operation>` header and a JSON body. Answers
//! are JSON with an `x-amzn-RequestId` header; failures are HTTP 400
//! with `{"__type", "message"}` and `x-amzn-ErrorType`. A SigV4
//! `Authorization` header is accepted and ignored.
//!
//! The same router serves the other faked services on the same endpoint
//! URL: [`crate::eks`] under `/clusters`, [`crate::sts`] for AWS Query
//! requests (a form body on `POST /`, or `GET /?Action=…`), and
//! [`crate::sso`] (`/client/register`, `/device_authorization`, `/token`,
//! `/federation/credentials`, `/assignment/…`, `/logout`, `/sso/device`).
//!
//! A request signed with credentials of the SSO portal's key prefix must
//! carry live issued credentials ([`crate::sso::CredentialRejection`]).

mod error;
mod instances;
mod sessions;
mod time;

use std::future::Future;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::error::ApiError;
use crate::service::Service;

/// The `Content-Type` of AWS JSON 1.1 bodies, both ways.
const AMZ_JSON: (HeaderName, HeaderValue) = (
    header::CONTENT_TYPE,
    HeaderValue::from_static("application/x-amz-json-1.1"),
);
/// Header carrying the operation, as `AmazonSSM.<Operation>`.
const TARGET: HeaderName = HeaderName::from_static("x-amz-target");
/// Header carrying the per-request UUID.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
/// The service prefix of every target.
const TARGET_PREFIX: &str = "AmazonSSM.";

/// The SSM API as an axum router, to mount or serve.
pub fn router(service: Service) -> Router {
    Router::new()
        .route("/", post(handle).get(crate::sts::handle_get))
        .merge(crate::eks::routes())
        .merge(crate::sso::routes())
        .fallback(unknown_route)
        .with_state(service)
}

/// Serves the SSM API on `listener` until `shutdown` completes, then
/// finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn handle(
    State(service): State<Service>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if crate::sts::is_query_request(&headers) {
        return crate::sts::handle(service.sso(), &headers, query.as_deref(), &body);
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let operation = operation(&headers);
    tracing::debug!(%request_id, operation = operation.unwrap_or("<none>"), "SSM API request");
    let result = service
        .sso()
        .check_request(&headers, &[])
        .map_err(ApiError::from)
        .and_then(|_| dispatch(&service, operation, &body));
    let mut response = match result {
        Ok(json) => ([AMZ_JSON], json).into_response(),
        Err(error) => {
            tracing::debug!(%request_id, code = error.code(), %error, "SSM API request failed");
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The operation named by `X-Amz-Target`, if it is an SSM one.
fn operation(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(TARGET)?
        .to_str()
        .ok()?
        .strip_prefix(TARGET_PREFIX)
}

/// Runs the operation on the request body; the response body on success.
fn dispatch(service: &Service, operation: Option<&str>, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match operation {
        Some("StartSession") => call(body, |input| sessions::start(service, input)),
        Some("ResumeSession") => call(body, |input| sessions::resume(service, input)),
        Some("TerminateSession") => call(body, |input| sessions::terminate(service, input)),
        Some("DescribeSessions") => call(body, |input| sessions::describe(service, input)),
        Some("DescribeInstanceInformation") => {
            call(body, |input| instances::describe(service, input))
        }
        Some(other) => Err(ApiError::UnknownOperation(format!(
            "Operation {TARGET_PREFIX}{other} is not supported by this simulator."
        ))),
        None => Err(ApiError::UnknownOperation(
            "X-Amz-Target must name an AmazonSSM operation.".into(),
        )),
    }
}

/// Decodes the input shape, runs `operation` and encodes its output.
fn call<I, O>(
    body: &[u8],
    operation: impl FnOnce(I) -> Result<O, ApiError>,
) -> Result<Vec<u8>, ApiError>
where
    I: DeserializeOwned,
    O: Serialize,
{
    // An empty body is an empty input, as for `aws ssm describe-*` calls
    // made without parameters.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let input =
        serde_json::from_slice(body).map_err(|error| ApiError::Serialization(error.to_string()))?;
    let output = operation(input)?;
    serde_json::to_vec(&output).map_err(|error| ApiError::Internal(error.to_string()))
}

async fn unknown_route() -> Response {
    let mut response =
        ApiError::UnknownOperation("SSM API calls are POST /.".into()).into_response();
    *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_needs_the_ssm_prefix() {
        let mut headers = HeaderMap::new();
        assert_eq!(operation(&headers), None);
        headers.insert(
            TARGET,
            HeaderValue::from_static("AmazonEC2.DescribeInstances"),
        );
        assert_eq!(operation(&headers), None);
        headers.insert(TARGET, HeaderValue::from_static("AmazonSSM.StartSession"));
        assert_eq!(operation(&headers), Some("StartSession"));
    }
}
