//! The token: `k8s-aws-v1.` + unpadded base64url of
//! `https://sts.{region}.{suffix}/?Action=GetCallerIdentity&Version=2011-06-15`
//! presigned with SigV4 in the query (`X-Amz-Expires=60`, the session
//! token in `X-Amz-Security-Token` when there is one), the header
//! `x-k8s-aws-id: CLUSTER` signed along with `host`, the payload hash that
//! of the empty body — byte for byte what `aws eks get-token` makes.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::PresignError;
use crate::partition::sts_host;

/// What every EKS token starts with.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header naming the cluster the token is for.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// `X-Amz-Expires` of the presigned URL, as the AWS CLI sets it.
pub const PRESIGNED_URL_EXPIRES: Duration = Duration::from_secs(60);
/// The STS call the URL makes.
const QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// The signing name of STS.
const SERVICE: &str = "sts";
/// The query parameter carrying the signature.
const SIGNATURE_PARAM: &str = "X-Amz-Signature";
/// The longest EKS cluster name.
const MAX_CLUSTER_NAME: usize = 100;
/// Query values are escaped as SigV4 does: all but `A-Za-z0-9-_.~`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A bearer token for an EKS cluster (`k8s-aws-v1.…`). It is a
/// credential: `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct EksToken(String);

impl EksToken {
    /// The token, for an `Authorization: Bearer` header or an
    /// `ExecCredential`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for EksToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EksToken(** redacted **)")
    }
}

/// The token for `cluster` in `region` signed with `credentials` at
/// `now` (pass `SystemTime::now()` outside tests). Local: no network call.
pub fn token(
    credentials: &Credentials,
    cluster: &str,
    region: &str,
    now: SystemTime,
) -> Result<EksToken, PresignError> {
    let url = presigned_url(credentials, cluster, region, now)?;
    tracing::debug!(cluster, region, "presigned an EKS token");
    Ok(EksToken(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(url)
    )))
}

/// The presigned STS URL inside [`token`] (as secret as the token: it
/// carries the session token and the signature).
pub fn presigned_url(
    credentials: &Credentials,
    cluster: &str,
    region: &str,
    now: SystemTime,
) -> Result<String, PresignError> {
    check_region(region)?;
    check_cluster(cluster)?;
    let url = format!("https://{}/?{QUERY}", sts_host(region));
    let identity = Identity::from(credentials.clone());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(presign_settings())
        .build()
        .map_err(signing_failed)?
        .into();
    let headers = [(CLUSTER_ID_HEADER, cluster)];
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(signing_failed)?;
    let (instructions, _signature) = sign(request, &params).map_err(signing_failed)?.into_parts();
    Ok(with_query(url, instructions.params()))
}

fn presign_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGNED_URL_EXPIRES);
    settings
}

/// Appends the signing parameters in the AWS CLI's order: algorithm,
/// credential, date, expires, signed headers, security token, and the
/// signature last (`aws-sigv4` gives it before the security token).
fn with_query<V: AsRef<str>>(mut url: String, params: &[(&str, V)]) -> String {
    let mut params: Vec<_> = params.iter().collect();
    params.sort_by_key(|(name, _)| *name == SIGNATURE_PARAM);
    for (name, value) in params {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.extend(utf8_percent_encode(value.as_ref(), QUERY_VALUE));
    }
    url
}

fn signing_failed(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> PresignError {
    PresignError::Signing(error.into())
}

/// A region name is lower-case letters, digits and inner hyphens: it
/// becomes part of a host name.
fn check_region(region: &str) -> Result<(), PresignError> {
    let valid = !region.is_empty()
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(PresignError::InvalidRegion {
            region: region.to_owned(),
        })
    }
}

/// EKS cluster names (and Outposts cluster ids) are 1 to 100 letters,
/// digits, `-` and `_`: safe as a header value.
fn check_cluster(cluster: &str) -> Result<(), PresignError> {
    let valid = !cluster.is_empty()
        && cluster.len() <= MAX_CLUSTER_NAME
        && cluster
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(PresignError::InvalidClusterName {
            cluster: cluster.to_owned(),
        })
    }
}

#[cfg(test)]
#[path = "presign_tests.rs"]
mod tests;
