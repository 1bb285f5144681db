//! [`ApiError`]: a failed SSM API call, sorted by what the caller should do.

use std::error::Error as StdError;
use std::fmt;

use crate::error::ErrorSource;

/// What kind of failure an [`ApiError`] is; each variant says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// No credentials were found, or the profile that should provide them
    /// is unusable. Configure credentials (a profile, environment
    /// variables, an instance role).
    NoCredentials,
    /// The AWS SSO (IAM Identity Center) session behind the credentials
    /// has expired or was never started: log in again (`aws sso login`).
    SsoExpired {
        /// The profile in use, when known.
        profile: Option<String>,
    },
    /// The credentials (a session token, an assumed role's credentials)
    /// have expired. Refresh them.
    CredentialsExpired,
    /// The service does not recognise the credentials (unknown key id, bad
    /// signature, invalid token). Fix or replace them.
    InvalidCredentials,
    /// The caller is not allowed to do this. Grant the IAM permission; the
    /// service's message names it, when it says, in `action` and `resource`.
    AccessDenied {
        /// The denied action, e.g. `ssm:StartSession`.
        action: Option<String>,
        /// The resource it was denied on, e.g. a document or instance ARN.
        resource: Option<String>,
    },
    /// The target is not connected to SSM (agent offline, wrong id or
    /// region). Check the instance and its SSM agent.
    TargetNotConnected,
    /// AWS throttled the call. Retry later, more slowly.
    Throttled,
    /// The request cannot succeed as made (bad document or parameters, an
    /// unknown session, a request the SDK could not build). Fix the input.
    InvalidRequest,
    /// AWS failed (a 5xx answer, or one the SDK could not read). Retry later.
    Service,
    /// AWS could not be reached (DNS, connect, TLS, timeout). Retry later.
    Network,
}

impl ApiErrorKind {
    /// [`Self::AccessDenied`], with the action and resource read from an
    /// IAM message ("User: arn:… is not authorized to perform:
    /// ssm:StartSession on resource: arn:… because …").
    pub fn access_denied(message: &str) -> Self {
        Self::AccessDenied {
            action: word_after(message, "to perform:"),
            resource: word_after(message, "on resource:"),
        }
    }

    /// True when a credentials or permission problem: the call cannot
    /// succeed until the caller's identity or its policies change.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::NoCredentials
                | Self::SsoExpired { .. }
                | Self::CredentialsExpired
                | Self::InvalidCredentials
                | Self::AccessDenied { .. }
        )
    }

    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Throttled | Self::Service | Self::Network)
    }
}

impl fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoCredentials => "no usable AWS credentials",
            Self::SsoExpired { .. } => "the AWS SSO session has expired or is missing",
            Self::CredentialsExpired => "the AWS credentials have expired",
            Self::InvalidCredentials => "the AWS credentials were not accepted",
            Self::AccessDenied { .. } => "access denied",
            Self::TargetNotConnected => "target not connected",
            Self::Throttled => "throttled by AWS",
            Self::InvalidRequest => "invalid request",
            Self::Service => "AWS service error",
            Self::Network => "could not reach AWS",
        })
    }
}

/// The first word after `marker`, without trailing punctuation.
fn word_after(message: &str, marker: &str) -> Option<String> {
    let (_, rest) = message.split_once(marker)?;
    let word = rest.split_whitespace().next()?;
    let word = word.trim_end_matches(['.', ',', ';']);
    (!word.is_empty()).then(|| word.to_owned())
}

/// An SSM API failure: its [`ApiErrorKind`] (what to do), the AWS error
/// code and message when the service answered, and the underlying error.
///
/// Equality compares kind, code, message and the source's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    kind: ApiErrorKind,
    code: Option<String>,
    message: String,
    source: Option<ErrorSource>,
}

impl ApiError {
    /// An error of `kind`; `message` says what happened.
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
            source: None,
        }
    }

    /// With the AWS error code (`AccessDeniedException`).
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// With the underlying error, for `source()` chains and downcasting.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(ErrorSource::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> &ApiErrorKind {
        &self.kind
    }

    /// The AWS error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// What happened: the service's message, or the failing step's text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_ref().map(|source| source.get() as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_action_and_resource() {
        let message = "User: arn:aws:sts::123456789012:assumed-role/Dev/alice is not authorized \
            to perform: ssm:StartSession on resource: \
            arn:aws:ssm:eu-west-1::document/AWS-StartPortForwardingSession because no \
            identity-based policy allows the ssm:StartSession action";
        assert_eq!(
            ApiErrorKind::access_denied(message),
            ApiErrorKind::AccessDenied {
                action: Some("ssm:StartSession".into()),
                resource: Some(
                    "arn:aws:ssm:eu-west-1::document/AWS-StartPortForwardingSession".into()
                ),
            }
        );
        let bare = "User: arn:aws:iam::1:user/bob is not authorized to perform: ssm:ResumeSession.";
        assert_eq!(
            ApiErrorKind::access_denied(bare),
            ApiErrorKind::AccessDenied {
                action: Some("ssm:ResumeSession".into()),
                resource: None,
            }
        );
        assert_eq!(
            ApiErrorKind::access_denied("Access denied"),
            ApiErrorKind::AccessDenied {
                action: None,
                resource: None
            }
        );
    }

    #[test]
    fn display_reads_kind_code_and_message() {
        let error = ApiError::new(ApiErrorKind::TargetNotConnected, "i-0abc is not connected.")
            .with_code("TargetNotConnected");
        assert_eq!(
            error.to_string(),
            "target not connected (TargetNotConnected): i-0abc is not connected."
        );
        assert_eq!(
            ApiError::new(ApiErrorKind::Network, "").to_string(),
            "could not reach AWS"
        );
    }

    #[test]
    fn keeps_the_source_for_downcasting() {
        let error = ApiError::new(ApiErrorKind::Network, "connect failed")
            .with_source(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let source = error.source().expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error itself");
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
        assert!(error.is_transient());
        assert!(!error.kind().is_auth());
    }
}
