//! The JSON an exec credential plugin prints for kubectl:
//! `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1",
//! "spec":{},"status":{"expirationTimestamp":"…Z","token":"k8s-aws-v1.…"}}`.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::presign::EksToken;
use crate::rfc3339::format_utc_seconds;

/// The `apiVersion` answered (the AWS CLI's default too).
pub const EXEC_CREDENTIAL_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";
/// How long after it was made kubectl may use a token: 14 minutes, as the
/// AWS CLI says, one minute short of the 15 STS honours it for.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// A token and when kubectl should fetch a new one. `Debug` hides the
/// token.
#[derive(Clone, PartialEq, Eq)]
pub struct ExecCredential {
    token: EksToken,
    expires_at: SystemTime,
}

impl ExecCredential {
    /// `token`, made at `now`, expiring [`TOKEN_LIFETIME`] later.
    pub fn new(token: EksToken, now: SystemTime) -> Self {
        Self {
            token,
            expires_at: now + TOKEN_LIFETIME,
        }
    }

    /// The bearer token.
    pub fn token(&self) -> &EksToken {
        &self.token
    }

    /// When kubectl stops using the token (`expirationTimestamp`, which
    /// drops the fraction of a second).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The JSON for kubectl, on one line.
    pub fn to_json(&self) -> String {
        let document = Document {
            kind: "ExecCredential",
            api_version: EXEC_CREDENTIAL_API_VERSION,
            spec: Spec {},
            status: Status {
                expiration_timestamp: format_utc_seconds(self.expires_at),
                token: self.token.as_str(),
            },
        };
        serde_json::to_string(&document).expect("strings and an empty object always serialize")
    }
}

impl fmt::Debug for ExecCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecCredential")
            .field("token", &self.token)
            .field("expires_at", &format_utc_seconds(self.expires_at))
            .finish()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    kind: &'static str,
    api_version: &'static str,
    spec: Spec,
    status: Status<'a>,
}

#[derive(Serialize)]
struct Spec {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    expiration_timestamp: String,
    token: &'a str,
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use aws_credential_types::Credentials;

    use super::*;
    use crate::presign;

    /// 2026-12-03T07:12:00Z.
    const NOW_SECONDS: u64 = 1_796_281_920;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_SECONDS)
    }

    fn credential() -> ExecCredential {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let token = presign::token(&credentials, "prod", "eu-west-1", now()).unwrap();
        ExecCredential::new(token, now())
    }

    #[test]
    fn json_is_what_kubectl_expects() {
        let credential = credential();
        let expected = format!(
            "{{\"kind\":\"ExecCredential\",\
             \"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\
             \"spec\":{{}},\
             \"status\":{{\"expirationTimestamp\":\"2026-12-03T07:26:00Z\",\
             \"token\":\"{}\"}}}}",
            credential.token().as_str()
        );
        assert_eq!(credential.to_json(), expected);
    }

    #[test]
    fn expires_fourteen_minutes_later_to_the_second() {
        let token = credential().token().clone();
        let credential = ExecCredential::new(token, now() + Duration::from_millis(750));
        assert!(credential.to_json().contains("\"2026-12-03T07:26:00Z\""));
        assert_eq!(
            credential.expires_at(),
            now() + Duration::from_millis(750) + TOKEN_LIFETIME
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let credential = credential();
        let shown = format!("{credential:?}");
        assert!(!shown.contains(credential.token().as_str()), "{shown}");
        assert!(shown.contains("2026-12-03T07:26:00Z"), "{shown}");
    }
}
