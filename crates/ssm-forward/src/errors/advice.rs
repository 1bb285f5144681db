//! Error messages that tell users what to do, chosen by the error's kind.

use ssm_client::{ApiError, ApiErrorKind, Error};

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
        Error::Api(api) => api_kind(api.kind()),
        Error::Handshake(_) | Error::InsecureUrl(_) | Error::Config(_) => FailureKind::Invalid,
        _ => FailureKind::Transient,
    }
}

fn api_kind(kind: &ApiErrorKind) -> FailureKind {
    match kind {
        ApiErrorKind::TargetNotConnected => FailureKind::Target,
        kind if kind.is_auth() => FailureKind::Access,
        kind if kind.is_transient() => FailureKind::Transient,
        _ => FailureKind::Invalid,
    }
}

/// What StartSession and its follow-ups need.
const SESSION_NEEDS: &str = "your IAM identity needs ssm:StartSession on the document and \
     instance, plus ssm:ResumeSession and ssm:TerminateSession";

/// What target discovery needs.
const LOOKUP_NEEDS: &str = "your IAM identity needs ssm:DescribeInstanceInformation to find \
     instances by tag (or give an instance id to --target)";

/// Phrases a library error for a person at a terminal.
pub fn explain(error: &Error) -> String {
    let Error::Api(api) = error else {
        return error.to_string();
    };
    match api.kind() {
        ApiErrorKind::TargetNotConnected => {
            "the target is not connected to Session Manager: check the instance id and region, \
             that the instance is running, and that its SSM agent is online"
                .into()
        }
        kind if kind.is_transient() => {
            format!(
                "AWS could not be reached (will retry): {}{}",
                detail(api),
                proxy_hint()
            )
        }
        _ => explain_api(api, SESSION_NEEDS),
    }
}

/// When a proxy is set, unreachable AWS may be the proxy's doing: say
/// which proxy (never its credentials) and what to check.
fn proxy_hint() -> String {
    let proxies = ssm_client::environment_proxies();
    if proxies.is_empty() {
        return String::new();
    }
    format!(
        "; the calls go through the proxy {}: check that it is up and that the user:password@ \
         in its URL is right",
        proxies.join(" and ")
    )
}

/// Phrases a failed DescribeInstanceInformation (target discovery).
pub fn explain_lookup(error: &ApiError) -> String {
    if error.is_transient() {
        format!(
            "AWS could not be reached: {}{}",
            detail(error),
            proxy_hint()
        )
    } else {
        explain_api(error, LOOKUP_NEEDS)
    }
}

/// Credentials and permission problems, with what to do (`needs` says
/// which permissions); anything else as refused.
fn explain_api(error: &ApiError, needs: &str) -> String {
    let text = detail(error);
    match error.kind() {
        ApiErrorKind::SsoExpired { profile } => format!(
            "your SSO session has expired or is missing: run `{}` and try again ({text})",
            login_command(profile.as_deref())
        ),
        ApiErrorKind::NoCredentials | ApiErrorKind::InvalidCredentials => format!(
            "no usable AWS credentials: set a --profile (`ssm-forward login --profile NAME` signs an SSO profile in), or export AWS_ACCESS_KEY_ID ({text})"
        ),
        ApiErrorKind::CredentialsExpired => format!(
            "your AWS credentials have expired: refresh them (for an SSO profile, `ssm-forward login --profile NAME`) and try again ({text})"
        ),
        ApiErrorKind::AccessDenied { .. } => format!("access denied: {needs} ({text})"),
        _ => format!("the request was refused: {text}"),
    }
}

/// `ssm-forward login`, with `--profile` when one is known.
pub fn login_command(profile: Option<&str>) -> String {
    match profile {
        Some(profile) => format!("ssm-forward login --profile {profile}"),
        None => "ssm-forward login".to_owned(),
    }
}

/// The AWS error code and message, without the kind's own words.
fn detail(error: &ApiError) -> String {
    match (error.code(), error.message()) {
        (Some(code), "") => code.to_owned(),
        (Some(code), message) => format!("{code}: {message}"),
        (None, "") => error.kind().to_string(),
        (None, message) => message.to_owned(),
    }
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

    fn api(kind: ApiErrorKind, code: &str, message: &str) -> Error {
        Error::Api(ApiError::new(kind, message).with_code(code))
    }

    #[test]
    fn auth_failures_say_what_to_do() {
        let sso = explain(&Error::Api(ApiError::new(
            ApiErrorKind::SsoExpired { profile: None },
            "the SSO token has expired and cannot be refreshed",
        )));
        assert!(sso.contains("run `ssm-forward login` and"), "{sso}");
        let named = explain(&Error::Api(ApiError::new(
            ApiErrorKind::SsoExpired {
                profile: Some("dev".into()),
            },
            "expired",
        )));
        assert!(
            named.contains("`ssm-forward login --profile dev`"),
            "{named}"
        );
        assert!(
            sso.ends_with("(the SSO token has expired and cannot be refreshed)"),
            "{sso}"
        );
        let none = explain(&Error::Api(ApiError::new(
            ApiErrorKind::NoCredentials,
            "no providers in chain provided credentials",
        )));
        assert!(none.starts_with("no usable AWS credentials"), "{none}");
        let message = "User: u is not authorized to perform: ssm:StartSession";
        let denied = ApiError::new(ApiErrorKind::access_denied(message), message)
            .with_code("AccessDeniedException");
        let text = explain(&Error::Api(denied.clone()));
        assert!(text.contains("ssm:ResumeSession"), "{text}");
        assert!(text.contains("(AccessDeniedException: User: u"), "{text}");
        assert_eq!(kind(&Error::Api(denied.clone())), FailureKind::Access);
        let lookup = explain_lookup(&denied);
        assert!(
            lookup.contains("ssm:DescribeInstanceInformation"),
            "{lookup}"
        );
        let expired = explain(&api(
            ApiErrorKind::CredentialsExpired,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ));
        assert!(expired.contains("have expired"), "{expired}");
    }

    #[test]
    fn the_kind_decides_not_the_text() {
        // A message full of alarming words does not change the kind.
        let misleading = api(
            ApiErrorKind::InvalidRequest,
            "InvalidDocument",
            "the SSO credential document expired",
        );
        assert_eq!(kind(&misleading), FailureKind::Invalid);
        assert_eq!(
            explain(&misleading),
            "the request was refused: InvalidDocument: the SSO credential document expired"
        );
        let throttled = api(
            ApiErrorKind::Throttled,
            "ThrottlingException",
            "Rate exceeded",
        );
        assert_eq!(kind(&throttled), FailureKind::Transient);
        assert_eq!(
            explain(&throttled),
            "AWS could not be reached (will retry): ThrottlingException: Rate exceeded"
        );
        let offline = api(
            ApiErrorKind::TargetNotConnected,
            "TargetNotConnected",
            "i-1",
        );
        assert_eq!(kind(&offline), FailureKind::Target);
    }

    #[test]
    fn client_errors_are_sorted_by_variant() {
        let shell = Error::Handshake(ssm_client::HandshakeError::UnsupportedSessionType(
            "Standard_Stream".into(),
        ));
        assert_eq!(kind(&shell), FailureKind::Invalid);
        let dropped = Error::Connect(ssm_client::ConnectError::Closed);
        assert_eq!(kind(&dropped), FailureKind::Transient);
        assert_eq!(explain(&dropped), dropped.to_string());
    }
}
