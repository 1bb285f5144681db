//! The check the other fakes (SSM, STS, EKS) make on every request: one
//! signed with an access key of [`SSO_ACCESS_KEY_PREFIX`] must carry live
//! credentials the portal issued, with their session token; any other key
//! passes, as before.

use std::time::SystemTime;

use axum::http::HeaderMap;
use thiserror::Error;

use super::state::{SSO_ACCESS_KEY_PREFIX, Sso};
use crate::form;

/// Header carrying the session token of temporary credentials.
const SECURITY_TOKEN: &str = "x-amz-security-token";
/// The same in a presigned URL's query string.
const SECURITY_TOKEN_PARAM: &str = "X-Amz-Security-Token";

/// Why a request's credentials are refused. The caller should get new
/// credentials: sign in again (`ssm-forward login`, `aws sso login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CredentialRejection {
    /// The credentials were issued but have expired.
    #[error("The security token included in the request is expired")]
    Expired,
    /// No such credentials were issued, the session token does not match,
    /// or they were revoked.
    #[error("The security token included in the request is invalid.")]
    Unrecognized,
}

impl CredentialRejection {
    /// The code of an AWS JSON or REST-JSON service (SSM, EKS).
    pub fn json_code(self) -> &'static str {
        match self {
            Self::Expired => "ExpiredTokenException",
            Self::Unrecognized => "UnrecognizedClientException",
        }
    }

    /// The code of an AWS Query service (STS).
    pub fn query_code(self) -> &'static str {
        match self {
            Self::Expired => "ExpiredToken",
            Self::Unrecognized => "InvalidClientTokenId",
        }
    }
}

/// The account and role that accepted SSO credentials stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    /// The account the credentials are for.
    pub account_id: String,
    /// The role (permission set) they are for.
    pub role_name: String,
    /// The signed-in user (`user_name` of the configuration).
    pub user_name: String,
}

impl Sso {
    /// Checks the credentials a request was signed with (the SigV4
    /// `Authorization` header and `X-Amz-Security-Token` header, or a
    /// presigned URL's parameters in `params`). `Ok(None)` for keys the
    /// portal did not issue, `Ok(Some(identity))` for live issued ones.
    pub(crate) fn check_request(
        &self,
        headers: &HeaderMap,
        params: &[(String, String)],
    ) -> Result<Option<SsoIdentity>, CredentialRejection> {
        let Some(access_key) = crate::sts::signing_access_key(headers, params) else {
            return Ok(None);
        };
        if !access_key.starts_with(SSO_ACCESS_KEY_PREFIX) {
            return Ok(None);
        }
        let session_token = headers
            .get(SECURITY_TOKEN)
            .and_then(|value| value.to_str().ok())
            .or_else(|| form::get(params, SECURITY_TOKEN_PARAM));
        let result = self.check_credentials(&access_key, session_token, SystemTime::now());
        let mut registry = self.lock();
        match &result {
            Ok(_) => registry.stats.credentials_accepted += 1,
            Err(rejection) => {
                registry.stats.credentials_rejected += 1;
                tracing::debug!(%rejection, "request signed with refused SSO credentials");
            }
        }
        result.map(Some)
    }

    fn check_credentials(
        &self,
        access_key: &str,
        session_token: Option<&str>,
        now: SystemTime,
    ) -> Result<SsoIdentity, CredentialRejection> {
        let registry = self.lock();
        let credentials = registry
            .credentials
            .get(access_key)
            .filter(|credentials| {
                !credentials.revoked && session_token == Some(credentials.session_token.as_str())
            })
            .ok_or(CredentialRejection::Unrecognized)?;
        if credentials.expires_at <= now {
            return Err(CredentialRejection::Expired);
        }
        Ok(SsoIdentity {
            account_id: credentials.account_id.clone(),
            role_name: credentials.role_name.clone(),
            user_name: self.config().user_name.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sso::SsoConfig;
    use crate::sso::state::RoleCredentials;
    use axum::http::HeaderValue;
    use std::time::Duration;

    fn signed(access_key: &str, session_token: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/20261203/us-east-1/ssm/aws4_request, \
             SignedHeaders=host, Signature=00"
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&authorization).unwrap(),
        );
        if let Some(token) = session_token {
            headers.insert(SECURITY_TOKEN, HeaderValue::from_str(token).unwrap());
        }
        headers
    }

    fn sso_with_key(expires_in: Duration, revoked: bool) -> Sso {
        let sso = Sso::new(SsoConfig::default());
        sso.lock().credentials.insert(
            "ASIASIMSSOAAAAAAAAAA".into(),
            RoleCredentials {
                secret_access_key: "s".into(),
                session_token: "tok".into(),
                account_id: "123456789012".into(),
                role_name: "r".into(),
                access_token: "a".into(),
                expires_at: SystemTime::now() + expires_in,
                revoked,
            },
        );
        sso
    }

    #[test]
    fn other_keys_and_unsigned_requests_pass_unchecked() {
        let sso = Sso::new(SsoConfig::default());
        assert_eq!(sso.check_request(&HeaderMap::new(), &[]), Ok(None));
        assert_eq!(sso.check_request(&signed("AKIATEST", None), &[]), Ok(None));
        assert_eq!(sso.check_request(&signed("ASIATEMP", None), &[]), Ok(None));
        assert_eq!(sso.stats().credentials_rejected, 0);
    }

    #[test]
    fn issued_keys_need_their_session_token_and_to_be_live() {
        let sso = sso_with_key(Duration::from_secs(60), false);
        let key = "ASIASIMSSOAAAAAAAAAA";
        let identity = sso.check_request(&signed(key, Some("tok")), &[]).unwrap();
        assert_eq!(identity.unwrap().role_name, "r");
        assert_eq!(
            sso.check_request(&signed(key, Some("other")), &[]),
            Err(CredentialRejection::Unrecognized)
        );
        assert_eq!(
            sso.check_request(&signed(key, None), &[]),
            Err(CredentialRejection::Unrecognized)
        );
        assert_eq!(
            sso.check_request(&signed("ASIASIMSSOBBBBBBBBBB", Some("tok")), &[]),
            Err(CredentialRejection::Unrecognized)
        );
        let presigned = form::parse(
            "X-Amz-Credential=ASIASIMSSOAAAAAAAAAA%2F20261203%2Fus-east-1%2Fsts%2Faws4_request\
             &X-Amz-Security-Token=tok",
        );
        assert!(sso.check_request(&HeaderMap::new(), &presigned).is_ok());
        assert_eq!(sso.stats().credentials_accepted, 2);
        assert_eq!(sso.stats().credentials_rejected, 3);
    }

    #[test]
    fn expired_and_revoked_keys_are_refused_with_their_codes() {
        let key = "ASIASIMSSOAAAAAAAAAA";
        let expired = sso_with_key(Duration::ZERO, false);
        let rejection = expired
            .check_request(&signed(key, Some("tok")), &[])
            .unwrap_err();
        assert_eq!(rejection, CredentialRejection::Expired);
        assert_eq!(rejection.json_code(), "ExpiredTokenException");
        assert_eq!(rejection.query_code(), "ExpiredToken");
        let revoked = sso_with_key(Duration::from_secs(60), true);
        let rejection = revoked
            .check_request(&signed(key, Some("tok")), &[])
            .unwrap_err();
        assert_eq!(rejection.json_code(), "UnrecognizedClientException");
        assert_eq!(rejection.query_code(), "InvalidClientTokenId");
    }
}
