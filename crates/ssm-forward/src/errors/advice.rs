//! Error messages that tell users what to do.

use ssm_client::{ApiError, Error};

/// What a failure means for the user (and for the exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The target is unknown, offline or not connected to Session Manager.
    Target,
    /// Credentials are missing or expired, or access is denied.
    Access,
    /// The request cannot succeed as given (bad document or parameters,
    /// a handshake the client cannot complete).
    Invalid,
    /// Network trouble or a service hiccup: retrying may work.
    Transient,
}

impl FailureKind {
    /// True when retrying without changing anything may succeed.
    pub fn is_transient(self) -> bool {
        self == Self::Transient
    }
}

/// Sorts a library error by what the user has to do about it.
pub fn kind(error: &Error) -> FailureKind {
    match error {
        Error::Api(ApiError::TargetNotConnected(_)) => FailureKind::Target,
        Error::Api(ApiError::Auth(_)) => FailureKind::Access,
        Error::Api(ApiError::Invalid(_)) | Error::Handshake(_) | Error::InsecureUrl(_) => {
            FailureKind::Invalid
        }
        _ => FailureKind::Transient,
    }
}

/// Phrases a library error for a person at a terminal.
pub fn explain(error: &Error) -> String {
    match error {
        Error::Api(ApiError::TargetNotConnected(_)) => {
            "the target is not connected to Session Manager: check the instance id and region, \
             that the instance is running, and that its SSM agent is online"
                .into()
        }
        Error::Api(ApiError::Auth(text)) => explain_auth(
            text,
            "your IAM identity needs ssm:StartSession on the document and instance, \
             plus ssm:ResumeSession and ssm:TerminateSession",
        ),
        Error::Api(ApiError::Invalid(text)) => {
            format!("the request was refused: {}", concise(text))
        }
        Error::Api(ApiError::Transient(text)) => {
            format!("AWS could not be reached (will retry): {}", concise(text))
        }
        other => other.to_string(),
    }
}

/// Phrases a failed DescribeInstanceInformation (target discovery).
pub fn explain_lookup(error: &ApiError) -> String {
    match error {
        ApiError::Auth(text) => explain_auth(
            text,
            "your IAM identity needs ssm:DescribeInstanceInformation to find instances by tag \
             (or give an instance id to --target)",
        ),
        ApiError::Transient(text) => format!("AWS could not be reached: {}", concise(text)),
        other => format!("the request was refused: {}", concise(&other.to_string())),
    }
}

/// Missing or expired credentials, or access denied (`needs` says which
/// permissions).
fn explain_auth(text: &str, needs: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let text = concise(text);
    if mentions_sso(&lower) {
        format!(
            "your SSO session has expired or is missing: run `aws sso login` (with the same --profile) and try again ({text})"
        )
    } else if lower.contains("credential") && !lower.contains("accessdenied") {
        format!(
            "no usable AWS credentials: set a --profile, run `aws configure` or `aws sso login`, or export AWS_ACCESS_KEY_ID ({text})"
        )
    } else if lower.contains("expired") {
        format!(
            "your AWS credentials have expired: refresh them (e.g. `aws sso login`) and try again ({text})"
        )
    } else {
        format!("access denied: {needs} ({text})")
    }
}

/// "sso" as the start of a word (`/sso/cache`, `SsoTokenProvider`), not
/// inside one (`association`).
fn mentions_sso(lower: &str) -> bool {
    lower
        .match_indices("sso")
        .any(|(at, _)| !lower[..at].ends_with(|c: char| c.is_ascii_alphabetic()))
}

/// An SDK error text without the Debug dump `DisplayErrorContext`
/// appends (` (DispatchFailure(DispatchFailure { … }))`).
pub fn concise(text: &str) -> &str {
    const DUMPS: [&str; 5] = [
        " (DispatchFailure(",
        " (ServiceError(",
        " (TimeoutError(",
        " (ResponseError(",
        " (ConstructionFailure(",
    ];
    let cut = DUMPS.iter().filter_map(|dump| text.rfind(dump)).min();
    cut.map_or(text, |at| &text[..at]).trim_end()
}

/// The agent could not connect a forwarded connection to `remote`.
pub fn destination_failed(remote: &str) -> String {
    format!(
        "the target could not connect to {remote} (name not resolvable from the instance, \
         connection refused, or blocked by a security group): check --remote-host and --remote-port"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_debug_dumps_are_cut() {
        let text = "dispatch failure: other: no credentials found (DispatchFailure(DispatchFailure { source: X }))";
        assert_eq!(
            concise(text),
            "dispatch failure: other: no credentials found"
        );
        assert_eq!(concise("plain"), "plain");
    }

    #[test]
    fn auth_failures_say_what_to_do() {
        let sso = explain(&Error::Api(ApiError::Auth(
            "failed to read sso/cache/x.json".into(),
        )));
        assert!(sso.contains("aws sso login"), "{sso}");
        assert!(!mentions_sso("associationstatus credential"));
        let none = explain(&Error::Api(ApiError::Auth(
            "no credentials found in chain".into(),
        )));
        assert!(none.starts_with("no usable AWS credentials"), "{none}");
        let denied = explain(&Error::Api(ApiError::Auth(
            "AccessDeniedException: no".into(),
        )));
        assert!(denied.contains("ssm:StartSession"), "{denied}");
        let lookup = explain_lookup(&ApiError::Auth("AccessDeniedException: no".into()));
        assert!(
            lookup.contains("ssm:DescribeInstanceInformation"),
            "{lookup}"
        );
        let expired = explain(&Error::Api(ApiError::Auth(
            "ExpiredTokenException: The security token included in the request is expired".into(),
        )));
        assert!(expired.contains("have expired"), "{expired}");
    }
}
