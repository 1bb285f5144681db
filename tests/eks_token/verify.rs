//! [`verify`]: every check EKS and STS make on a token, each failure a
//! [`Rejection`] naming what was wrong.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::query::{PresignedUrl, parse_url};
use super::sigv4::{SIGNATURE_PARAM, Signed, parse_amz_date, signature_matches};

/// What every token starts with.
const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// aws-iam-authenticator refuses longer tokens.
const MAX_TOKEN_LENGTH: usize = 4096;
/// The header naming the cluster, signed but not sent.
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long EKS honours a token after its `X-Amz-Date`.
const EKS_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The largest `X-Amz-Expires` aws-iam-authenticator accepts.
const MAX_EXPIRES: u64 = 900;
/// How far ahead of the server's clock a signature date may be (SigV4's
/// allowed clock skew).
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// The query parameters a token URL may carry (aws-iam-authenticator's
/// list).
const ALLOWED_PARAMS: &[&str] = &[
    "Action",
    "Version",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    SIGNATURE_PARAM,
];

/// Until when a token is good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Validity {
    /// 15 minutes after `X-Amz-Date`, whatever `X-Amz-Expires` says (if
    /// at most 900): what EKS does, and what kubectl relies on when it
    /// reuses a token for the 14 minutes the AWS CLI announces.
    #[default]
    Eks,
    /// `X-Amz-Date + X-Amz-Expires`, the presigned URL's own expiry (60
    /// seconds for the AWS CLI's tokens).
    UrlExpires,
}

/// The cluster a server is, and the one key it knows.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The cluster name, the value of the signed `x-k8s-aws-id` header.
    pub cluster: String,
    /// The cluster's region: the token must be for `sts.REGION.amazonaws.com`.
    pub region: String,
    /// The access key id the token must be signed with.
    pub access_key_id: String,
    /// Its secret key.
    pub secret_access_key: String,
    /// The lifetime rule.
    pub validity: Validity,
}

impl Expected {
    /// `cluster` in `region`, tokens signed with the given key pair,
    /// lifetime as on EKS.
    pub fn new(cluster: &str, region: &str, access_key_id: &str, secret_access_key: &str) -> Self {
        Self {
            cluster: cluster.to_owned(),
            region: region.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            validity: Validity::Eks,
        }
    }

    /// The same with another lifetime rule.
    pub fn with_validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }
}

/// What an accepted token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id that signed it.
    pub access_key_id: String,
    /// Whether it carries a session token (temporary credentials).
    pub has_session_token: bool,
    /// Its `X-Amz-Date`.
    pub signed_at: SystemTime,
    /// When it stops being accepted.
    pub valid_until: SystemTime,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Longer than any real token.
    #[error("the token is {0} bytes long, more than {MAX_TOKEN_LENGTH}")]
    TooLong(usize),
    /// Not `k8s-aws-v1.…`.
    #[error("the token does not start with {TOKEN_PREFIX}")]
    MissingPrefix,
    /// The part after the prefix is not unpadded base64url of UTF-8.
    #[error("the token is not unpadded base64url of a URL")]
    NotBase64Url,
    /// The decoded URL is not `https://HOST/?QUERY`.
    #[error("the presigned URL is malformed: {0}")]
    MalformedUrl(&'static str),
    /// The URL is not for an STS endpoint.
    #[error("the presigned URL is for {0}, not STS")]
    WrongHost(String),
    /// The URL or its credential scope is for another region.
    #[error("the token is for region {0}, not this cluster's")]
    WrongRegion(String),
    /// A query parameter no token carries.
    #[error("unexpected query parameter {0}")]
    UnexpectedParameter(String),
    /// A query parameter given twice.
    #[error("query parameter {0} is repeated")]
    RepeatedParameter(String),
    /// A required query parameter is absent.
    #[error("query parameter {0} is missing")]
    MissingParameter(&'static str),
    /// Not `Action=GetCallerIdentity&Version=2011-06-15`.
    #[error("the URL calls {0}, not GetCallerIdentity 2011-06-15")]
    WrongAction(String),
    /// Not `AWS4-HMAC-SHA256`.
    #[error("unsupported signing algorithm {0}")]
    WrongAlgorithm(String),
    /// `X-Amz-Credential` is not `KEY/DATE/REGION/sts/aws4_request` with
    /// the date of `X-Amz-Date`.
    #[error("bad credential scope {0}")]
    BadCredentialScope(String),
    /// Signed with an access key the server does not know.
    #[error("unknown access key id {0}")]
    UnknownAccessKey(String),
    /// `host` or `x-k8s-aws-id` is not among the signed headers.
    #[error("the {0} header is not signed")]
    HeaderNotSigned(&'static str),
    /// A signed header whose value the server cannot know.
    #[error("signed header {0} cannot be verified")]
    UnverifiableSignedHeader(String),
    /// `X-Amz-Date` is not `YYYYMMDDTHHMMSSZ`.
    #[error("bad X-Amz-Date {0}")]
    BadDate(String),
    /// `X-Amz-Expires` is not a number of seconds up to 900.
    #[error("bad X-Amz-Expires {0}")]
    BadExpires(String),
    /// Past its lifetime.
    #[error("the token signed at {signed_at} expired {late_by:?} ago")]
    Expired {
        /// Its `X-Amz-Date`.
        signed_at: String,
        /// How long ago it expired.
        late_by: Duration,
    },
    /// Signed more than the allowed clock skew in the future.
    #[error("the token is dated {0}, in the future")]
    NotYetValid(String),
    /// `X-Amz-Signature` is not 64 hex digits.
    #[error("the signature is not 64 hex digits")]
    MalformedSignature,
    /// The signature does not match: the token was made for another
    /// cluster, with another secret key, or altered.
    #[error("the signature does not match (another cluster, another key, or altered)")]
    SignatureMismatch,
}

/// Checks `token` as this cluster's API server would at `now`.
pub fn verify(token: &str, expected: &Expected, now: SystemTime) -> Result<Verified, Rejection> {
    let url = decode_token(token)?;
    let url = parse_url(&url).map_err(Rejection::MalformedUrl)?;
    check_host(&url.host, &expected.region)?;
    let params = Params::check(&url)?;
    params.check_action()?;
    let scope = params.check_credential(expected)?;
    let signed_headers = params.get("X-Amz-SignedHeaders")?;
    let headers = signed_header_values(signed_headers, &url.host, &expected.cluster)?;
    let (signed_at, valid_until) = params.check_time(expected.validity, now)?;
    let signature = hex::decode(params.get(SIGNATURE_PARAM)?)
        .ok()
        .filter(|bytes| bytes.len() == 32)
        .ok_or(Rejection::MalformedSignature)?;
    let signed = Signed {
        params: &url.params,
        headers: &headers,
        signed_headers,
        amz_date: params.get("X-Amz-Date")?,
        scope: &scope,
    };
    if !signature_matches(&signed, &expected.secret_access_key, &signature) {
        return Err(Rejection::SignatureMismatch);
    }
    Ok(Verified {
        access_key_id: expected.access_key_id.clone(),
        has_session_token: params.get("X-Amz-Security-Token").is_ok(),
        signed_at,
        valid_until,
    })
}

fn decode_token(token: &str) -> Result<String, Rejection> {
    if token.len() > MAX_TOKEN_LENGTH {
        return Err(Rejection::TooLong(token.len()));
    }
    let encoded = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(Rejection::MissingPrefix)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| Rejection::NotBase64Url)?;
    String::from_utf8(bytes).map_err(|_| Rejection::NotBase64Url)
}

/// The host must be `sts.REGION.amazonaws.com`; another region's STS
/// host is a wrong region, anything else a wrong host.
fn check_host(host: &str, region: &str) -> Result<(), Rejection> {
    let found_region = host
        .strip_prefix("sts.")
        .and_then(|rest| rest.strip_suffix(".amazonaws.com"))
        .filter(|region| !region.is_empty() && !region.contains('.'))
        .ok_or_else(|| Rejection::WrongHost(host.to_owned()))?;
    if found_region == region {
        Ok(())
    } else {
        Err(Rejection::WrongRegion(found_region.to_owned()))
    }
}

/// The values of the signed headers, in the order signed: `host` from the
/// URL and `x-k8s-aws-id` the cluster's own name; both must be signed and
/// nothing else can be.
fn signed_header_values<'a>(
    signed_headers: &str,
    host: &'a str,
    cluster: &'a str,
) -> Result<Vec<(&'static str, &'a str)>, Rejection> {
    let values = signed_headers
        .split(';')
        .map(|name| match name {
            "host" => Ok(("host", host)),
            CLUSTER_ID_HEADER => Ok((CLUSTER_ID_HEADER, cluster)),
            other => Err(Rejection::UnverifiableSignedHeader(other.to_owned())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    for required in ["host", CLUSTER_ID_HEADER] {
        if !values.iter().any(|(name, _)| *name == required) {
            return Err(Rejection::HeaderNotSigned(required));
        }
    }
    Ok(values)
}

/// The query parameters, known and each given once.
struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    fn check(url: &'a PresignedUrl) -> Result<Self, Rejection> {
        for (index, (name, _)) in url.params.iter().enumerate() {
            if !ALLOWED_PARAMS.contains(&name.as_str()) {
                return Err(Rejection::UnexpectedParameter(name.clone()));
            }
            if url.params[..index].iter().any(|(seen, _)| seen == name) {
                return Err(Rejection::RepeatedParameter(name.clone()));
            }
        }
        Ok(Self(&url.params))
    }

    fn get(&self, name: &'static str) -> Result<&'a str, Rejection> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .ok_or(Rejection::MissingParameter(name))
    }

    fn check_action(&self) -> Result<(), Rejection> {
        let action = self.get("Action")?;
        let version = self.get("Version")?;
        if action != "GetCallerIdentity" || version != "2011-06-15" {
            return Err(Rejection::WrongAction(format!("{action} {version}")));
        }
        let algorithm = self.get("X-Amz-Algorithm")?;
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(Rejection::WrongAlgorithm(algorithm.to_owned()));
        }
        Ok(())
    }

    /// Checks `KEY/DATE/REGION/sts/aws4_request` and returns the scope
    /// (all but the key).
    fn check_credential(&self, expected: &Expected) -> Result<String, Rejection> {
        let credential = self.get("X-Amz-Credential")?;
        let bad_scope = || Rejection::BadCredentialScope(credential.to_owned());
        let (key, scope) = credential.split_once('/').ok_or_else(bad_scope)?;
        let parts: Vec<&str> = scope.split('/').collect();
        let [date, region, service, terminator] = parts[..] else {
            return Err(bad_scope());
        };
        let amz_date = self.get("X-Amz-Date")?;
        if !amz_date.starts_with(date) || date.len() != 8 {
            return Err(bad_scope());
        }
        if service != "sts" || terminator != "aws4_request" {
            return Err(bad_scope());
        }
        if region != expected.region {
            return Err(Rejection::WrongRegion(region.to_owned()));
        }
        if key != expected.access_key_id {
            return Err(Rejection::UnknownAccessKey(key.to_owned()));
        }
        Ok(scope.to_owned())
    }

    /// Returns when the token was signed and until when it is good.
    fn check_time(
        &self,
        validity: Validity,
        now: SystemTime,
    ) -> Result<(SystemTime, SystemTime), Rejection> {
        let amz_date = self.get("X-Amz-Date")?;
        let signed_at =
            parse_amz_date(amz_date).ok_or_else(|| Rejection::BadDate(amz_date.to_owned()))?;
        let expires = self.get("X-Amz-Expires")?;
        let expires_seconds = expires
            .parse::<u64>()
            .ok()
            .filter(|seconds| *seconds <= MAX_EXPIRES)
            .ok_or_else(|| Rejection::BadExpires(expires.to_owned()))?;
        let lifetime = match validity {
            Validity::Eks => EKS_LIFETIME,
            Validity::UrlExpires => Duration::from_secs(expires_seconds),
        };
        let valid_until = signed_at + lifetime;
        if let Ok(late_by) = now.duration_since(valid_until)
            && !late_by.is_zero()
        {
            let signed_at = amz_date.to_owned();
            return Err(Rejection::Expired { signed_at, late_by });
        }
        if signed_at > now + CLOCK_SKEW {
            return Err(Rejection::NotYetValid(amz_date.to_owned()));
        }
        Ok((signed_at, valid_until))
    }
}
