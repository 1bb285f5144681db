//! STS, as far as `ssm-forward doctor` needs it: `GetCallerIdentity` in
//! the AWS Query protocol, on the same listener and endpoint URL as the
//! SSM API. A request is `POST /` with the form body
//! `Action=GetCallerIdentity&Version=2011-06-15` (the SDKs), or the same
//! parameters in the query string of a `GET /` (presigned URLs, as in EKS
//! tokens). The answer is XML.
//!
//! Signatures are not checked, but the caller is the access key the
//! request was signed with (`Credential=AKID/…` in the `Authorization`
//! header, or `X-Amz-Credential`): see [`CallerIdentity::for_access_key`].
//! An unsigned request fails with `MissingAuthenticationToken` (403).
//! Credentials of the SSO portal ([`crate::sso`]) must be live: expired
//! ones fail with `ExpiredToken` (400), unknown or revoked ones with
//! `InvalidClientTokenId` (403); live ones are the assumed role of their
//! permission set ([`CallerIdentity::for_sso`]).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::form;
use crate::service::Service;
use crate::sso::{CredentialRejection, Sso, SsoIdentity};

/// The AWS account of every simulated identity and resource.
pub const ACCOUNT_ID: &str = "123456789012";
/// The role temporary (`ASIA…`) access keys stand for.
pub const ASSUMED_ROLE_NAME: &str = "ssm-sim";
/// The STS API version the SDKs send.
const VERSION: &str = "2011-06-15";
/// XML namespace of STS answers.
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Who a request's access key stands for, as GetCallerIdentity says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The account id.
    pub account: String,
    /// The user or assumed-role ARN.
    pub arn: String,
    /// The unique id (`AIDA…`, or `AROA…:session` for a role).
    pub user_id: String,
}

impl CallerIdentity {
    /// The identity of `access_key_id`, in account [`ACCOUNT_ID`]:
    /// a temporary key (`ASIA…`) is role [`ASSUMED_ROLE_NAME`] assumed
    /// with the key as session name
    /// (`arn:aws:sts::123456789012:assumed-role/ssm-sim/ASIA…`); any other
    /// key is the IAM user named like the key
    /// (`arn:aws:iam::123456789012:user/AKIA…`). The unique id is `AIDA`
    /// or `AROA` followed by the key's upper-case letters and digits
    /// after its `AKIA`/`ASIA` prefix.
    pub fn for_access_key(access_key_id: &str) -> Self {
        let name: String = access_key_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
            .collect();
        let name = if name.is_empty() {
            "ssm-sim".to_owned()
        } else {
            name
        };
        let tail = access_key_id
            .strip_prefix("AKIA")
            .or_else(|| access_key_id.strip_prefix("ASIA"))
            .filter(|tail| !tail.is_empty())
            .unwrap_or(access_key_id);
        let mut unique: String = tail
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if unique.is_empty() {
            unique = "SIMULATOR".into();
        }
        if access_key_id.starts_with("ASIA") {
            Self {
                account: ACCOUNT_ID.into(),
                arn: format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ASSUMED_ROLE_NAME}/{name}"),
                user_id: format!("AROA{unique}:{name}"),
            }
        } else {
            Self {
                account: ACCOUNT_ID.into(),
                arn: format!("arn:aws:iam::{ACCOUNT_ID}:user/{name}"),
                user_id: format!("AIDA{unique}"),
            }
        }
    }

    /// The identity of SSO portal credentials: the role IAM Identity
    /// Center creates for the permission set
    /// (`AWSReservedSSO_{role}_{16 hex digits}`), assumed with the user
    /// name as session name.
    pub fn for_sso(identity: &SsoIdentity) -> Self {
        let digest: u64 = identity
            .role_name
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        let role = format!("AWSReservedSSO_{}_{digest:016x}", identity.role_name);
        let account = &identity.account_id;
        let user = &identity.user_name;
        let unique: String = format!("{digest:016X}")
            .chars()
            .chain(identity.role_name.chars())
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .take(17)
            .collect();
        Self {
            account: account.clone(),
            arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{user}"),
            user_id: format!("AROA{unique}:{user}"),
        }
    }
}

/// Why an STS call failed; all are the caller's to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
enum StsError {
    /// The request is not signed: sign it (403).
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// Expired or unknown SSO credentials: sign in again.
    #[error(transparent)]
    Credentials(#[from] CredentialRejection),
    /// No `Action` parameter: name the operation (400).
    #[error("Missing Action")]
    MissingAction,
    /// An operation or version this simulator does not serve (400).
    #[error("Could not find operation {action} for version {version}")]
    InvalidAction {
        /// The `Action` sent.
        action: String,
        /// The `Version` sent.
        version: String,
    },
}

impl StsError {
    fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::Credentials(rejection) => rejection.query_code(),
            Self::MissingAction => "MissingAction",
            Self::InvalidAction { .. } => "InvalidAction",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::MissingAuthenticationToken
            | Self::Credentials(CredentialRejection::Unrecognized) => StatusCode::FORBIDDEN,
            Self::Credentials(CredentialRejection::Expired) => StatusCode::BAD_REQUEST,
            Self::MissingAction | Self::InvalidAction { .. } => StatusCode::BAD_REQUEST,
        }
    }
}

/// True when a `POST /` is an AWS Query request (a form body), which STS
/// speaks, rather than AWS JSON.
pub(crate) fn is_query_request(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// `GET /`: parameters in the query string only.
pub(crate) async fn handle_get(
    State(service): State<Service>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    handle(service.sso(), &headers, query.as_deref(), &[])
}

/// Serves an AWS Query request whose parameters are in the query string
/// and the form body.
pub(crate) fn handle(sso: &Sso, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut params = form::parse(query.unwrap_or(""));
    params.extend(form::parse(&String::from_utf8_lossy(body)));
    let action = form::get(&params, "Action").unwrap_or("<none>");
    tracing::debug!(%request_id, action, "STS request");
    let mut response = match caller(sso, headers, &params) {
        Ok(identity) => xml_response(StatusCode::OK, identity_xml(&identity, &request_id)),
        Err(error) => {
            tracing::debug!(%request_id, code = error.code(), %error, "STS request failed");
            xml_response(error.status(), error_xml(&error, &request_id))
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// GetCallerIdentity, after the checks STS makes first.
fn caller(
    sso: &Sso,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<CallerIdentity, StsError> {
    let access_key =
        signing_access_key(headers, params).ok_or(StsError::MissingAuthenticationToken)?;
    let sso_identity = sso.check_request(headers, params)?;
    let action = form::get(params, "Action").ok_or(StsError::MissingAction)?;
    let version = form::get(params, "Version").unwrap_or("NO_VERSION_SPECIFIED");
    if action != "GetCallerIdentity" || version != VERSION {
        return Err(StsError::InvalidAction {
            action: action.to_owned(),
            version: version.to_owned(),
        });
    }
    Ok(match sso_identity {
        Some(identity) => CallerIdentity::for_sso(&identity),
        None => CallerIdentity::for_access_key(&access_key),
    })
}

/// The access key id of a SigV4 `Authorization` header
/// (`… Credential=AKID/date/region/service/aws4_request, …`) or of a
/// presigned request's `X-Amz-Credential` parameter.
pub(crate) fn signing_access_key(
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once("Credential=").map(|(_, rest)| rest));
    let credential = from_header.or_else(|| form::get(params, "X-Amz-Credential"))?;
    let access_key = credential.split(['/', ',', ' ']).next()?.trim();
    (!access_key.is_empty()).then(|| access_key.to_owned())
}

fn identity_xml(identity: &CallerIdentity, request_id: &str) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\">\n  <GetCallerIdentityResult>\n    \
         <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  \
         </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  \
         </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        escape(&identity.arn),
        escape(&identity.user_id),
        escape(&identity.account),
    )
}

fn error_xml(error: &StsError, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>Sender</Type>\n    \
         <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
         <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        error.code(),
        escape(&error.to_string()),
    )
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// Escapes text for an XML element.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_term_keys_are_users_and_temporary_keys_assumed_roles() {
        let user = CallerIdentity::for_access_key("AKIAEXAMPLE123");
        assert_eq!(user.arn, "arn:aws:iam::123456789012:user/AKIAEXAMPLE123");
        assert_eq!(user.user_id, "AIDAEXAMPLE123");
        assert_eq!(user.account, ACCOUNT_ID);
        let role = CallerIdentity::for_access_key("ASIATEMP1");
        assert_eq!(
            role.arn,
            "arn:aws:sts::123456789012:assumed-role/ssm-sim/ASIATEMP1"
        );
        assert_eq!(role.user_id, "AROATEMP1:ASIATEMP1");
        let odd = CallerIdentity::for_access_key("du<m>my");
        assert_eq!(odd.arn, "arn:aws:iam::123456789012:user/dummy");
        assert_eq!(odd.user_id, "AIDADUMMY");
    }

    #[test]
    fn access_key_comes_from_the_header_or_a_presigned_credential() {
        let mut headers = HeaderMap::new();
        let presigned =
            form::parse("X-Amz-Credential=AKIDQ%2F20241128%2Fus-east-1%2Fsts%2Faws4_request");
        assert_eq!(
            signing_access_key(&headers, &presigned).as_deref(),
            Some("AKIDQ")
        );
        assert_eq!(signing_access_key(&headers, &[]), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDH/20241128/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00",
            ),
        );
        assert_eq!(
            signing_access_key(&headers, &presigned).as_deref(),
            Some("AKIDH")
        );
    }

    #[test]
    fn checks_signature_then_action_then_version() {
        let signed = form::parse("X-Amz-Credential=AKID%2Fx");
        let with = |extra: &str| {
            let mut params = signed.clone();
            params.extend(form::parse(extra));
            caller(&Sso::new(Default::default()), &HeaderMap::new(), &params)
        };
        assert_eq!(
            caller(
                &Sso::new(Default::default()),
                &HeaderMap::new(),
                &form::parse("Action=GetCallerIdentity&Version=2011-06-15")
            ),
            Err(StsError::MissingAuthenticationToken)
        );
        assert_eq!(with(""), Err(StsError::MissingAction));
        assert_eq!(
            with("Action=AssumeRole&Version=2011-06-15")
                .unwrap_err()
                .code(),
            "InvalidAction"
        );
        let no_version = with("Action=GetCallerIdentity").unwrap_err();
        assert!(
            no_version.to_string().contains("NO_VERSION_SPECIFIED"),
            "{no_version}"
        );
        assert_eq!(
            with("Action=GetCallerIdentity&Version=2011-06-15")
                .unwrap()
                .user_id,
            "AIDAAKID"
        );
    }

    #[test]
    fn query_requests_are_told_by_their_content_type() {
        let mut headers = HeaderMap::new();
        assert!(!is_query_request(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        assert!(!is_query_request(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        assert!(is_query_request(&headers));
    }

    #[test]
    fn xml_escapes_text() {
        let xml = error_xml(
            &StsError::InvalidAction {
                action: "<x>&".into(),
                version: "1".into(),
            },
            "rid",
        );
        assert!(
            xml.contains(
                "<Message>Could not find operation &lt;x&gt;&amp; for version 1</Message>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<Code>InvalidAction</Code>"));
    }
}
