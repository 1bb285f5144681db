//! The EKS API, as far as `ssm-forward eks` needs it: `DescribeCluster`
//! (`GET /clusters/{name}`) and `ListClusters` (`GET /clusters`, paged
//! with `maxResults`/`nextToken`), in the REST-JSON protocol the AWS SDKs
//! speak, on the same listener and endpoint URL as the SSM API.
//!
//! Answers are JSON with an `x-amzn-RequestId` header; failures carry
//! their code in `x-amzn-ErrorType`, a `{"message"}` body and the shape's
//! HTTP status (404 for `ResourceNotFoundException`). A SigV4
//! `Authorization` header is accepted and not verified, but credentials of
//! the SSO portal must be live ([`crate::sso::CredentialRejection`], 403).
//! The clusters are the
//! `[[clusters]]` of the configuration ([`ClusterConfig`]); nodes belong
//! to a cluster through their `eks:cluster-name` tag.

pub(crate) mod cluster;
mod error;
mod wire;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

pub use self::cluster::{
    CLUSTER_NAME_TAG, ClusterConfig, ClusterConfigError, ClusterStatus, SIM_CA_PEM,
    default_clusters, prepare_clusters,
};
use self::error::EksError;
use self::wire::{Cluster, DescribeClusterResponse, ListClustersResponse};
use crate::fleet;
use crate::form;
use crate::service::Service;

/// Header carrying the per-request UUID.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
/// ListClusters page size when `maxResults` is absent, and its range.
const CLUSTER_PAGE_RANGE: std::ops::RangeInclusive<usize> = 1..=100;

/// The EKS routes, to merge into the API router.
pub(crate) fn routes() -> Router<Service> {
    Router::new()
        .route("/clusters", get(list_clusters))
        .route("/clusters/{name}", get(describe_cluster))
}

async fn describe_cluster(
    State(service): State<Service>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let result = signed_in(&service, &headers).and_then(|()| describe(&service, &name));
    respond("DescribeCluster", result)
}

async fn list_clusters(
    State(service): State<Service>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let result =
        signed_in(&service, &headers).and_then(|()| list(&service, query.as_deref().unwrap_or("")));
    respond("ListClusters", result)
}

/// Refuses requests signed with expired or unknown SSO credentials.
fn signed_in(service: &Service, headers: &HeaderMap) -> Result<(), EksError> {
    service.sso().check_request(headers, &[])?;
    Ok(())
}

/// DescribeCluster: the cluster named `name`.
fn describe(service: &Service, name: &str) -> Result<DescribeClusterResponse, EksError> {
    let config = service.config();
    let cluster = config
        .clusters
        .iter()
        .find(|cluster| cluster.name == name)
        .ok_or_else(|| EksError::ClusterNotFound(name.to_owned()))?;
    Ok(DescribeClusterResponse {
        cluster: Cluster::new(cluster, &config.region),
    })
}

/// ListClusters: cluster names in name order, a page at a time.
fn list(service: &Service, query: &str) -> Result<ListClustersResponse, EksError> {
    let params = form::parse(query);
    let page_size = page_size(form::get(&params, "maxResults"))?;
    let names = service
        .config()
        .clusters
        .iter()
        .map(|cluster| cluster.name.clone())
        .collect();
    let page = fleet::paginate(
        names,
        String::clone,
        "clusters",
        page_size,
        form::get(&params, "nextToken"),
    )
    .map_err(|_| EksError::InvalidParameter("The nextToken is not valid.".into()))?;
    Ok(ListClustersResponse {
        clusters: page.items,
        next_token: page.next_token,
    })
}

fn page_size(max_results: Option<&str>) -> Result<usize, EksError> {
    let Some(text) = max_results else {
        return Ok(*CLUSTER_PAGE_RANGE.end());
    };
    text.parse()
        .ok()
        .filter(|n| CLUSTER_PAGE_RANGE.contains(n))
        .ok_or_else(|| {
            EksError::InvalidParameter(format!(
                "maxResults must be between {} and {}; got {text}.",
                CLUSTER_PAGE_RANGE.start(),
                CLUSTER_PAGE_RANGE.end()
            ))
        })
}

/// The JSON answer, or the error, with a request id.
fn respond(operation: &str, result: Result<impl Serialize, EksError>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    tracing::debug!(%request_id, operation, "EKS API request");
    let json = result.and_then(|output| {
        serde_json::to_vec(&output).map_err(|error| EksError::Server(error.to_string()))
    });
    let mut response = match json {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => {
            tracing::debug!(%request_id, code = error.code(), %error, "EKS API request failed");
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_to_100_and_stays_in_range() {
        assert_eq!(page_size(None).unwrap(), 100);
        assert_eq!(page_size(Some("1")).unwrap(), 1);
        for bad in ["0", "101", "-1", "ten"] {
            assert_eq!(
                page_size(Some(bad)).unwrap_err().code(),
                "InvalidParameterException",
                "{bad}"
            );
        }
    }
}
