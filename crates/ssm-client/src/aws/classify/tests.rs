//! Classification of SDK errors built the way the SDK builds them.

use std::fmt;
use std::time::Duration;

use aws_sdk_ssm::error::ErrorMetadata;
use aws_sdk_ssm::operation::start_session::StartSessionError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::*;

type SsmError = SdkError<StartSessionError, HttpResponse>;

fn response(status: u16) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
}

fn metadata(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn service(code: &str, message: &str, status: u16) -> SsmError {
    SdkError::service_error(
        StartSessionError::generic(metadata(code, message)),
        response(status),
    )
}

/// What the orchestrator makes of a failed identity resolution: a
/// dispatch failure around the credentials provider's error.
fn credentials_failure(error: CredentialsError) -> SsmError {
    SdkError::dispatch_failure(ConnectorError::other(Box::new(error), None))
}

/// A stand-in for aws-config's private SSO error types.
#[derive(Debug)]
struct Private(&'static str);

impl fmt::Display for Private {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Private {}

#[test]
fn service_codes_become_kinds_with_code_and_message() {
    let error = classify_sdk_error(service("TargetNotConnected", "i-1 is not connected.", 400));
    assert_eq!(error.kind(), &ApiErrorKind::TargetNotConnected);
    assert_eq!(error.code(), Some("TargetNotConnected"));
    assert_eq!(error.message(), "i-1 is not connected.");
    let cases = [
        (
            "ExpiredTokenException",
            400,
            ApiErrorKind::CredentialsExpired,
        ),
        (
            "UnrecognizedClientException",
            400,
            ApiErrorKind::InvalidCredentials,
        ),
        ("ThrottlingException", 400, ApiErrorKind::Throttled),
        ("InternalServerError", 500, ApiErrorKind::Service),
        ("SomethingNew", 503, ApiErrorKind::Service),
        ("SomethingNew", 429, ApiErrorKind::Throttled),
        ("InvalidDocument", 400, ApiErrorKind::InvalidRequest),
        ("DoesNotExistException", 400, ApiErrorKind::InvalidRequest),
    ];
    for (code, status, kind) in cases {
        assert_eq!(
            classify_sdk_error(service(code, "m", status)).kind(),
            &kind,
            "{code} {status}"
        );
    }
}

#[test]
fn access_denied_carries_action_and_resource() {
    let message = "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: \
        ssm:StartSession on resource: arn:aws:ec2:eu-west-1:123456789012:instance/i-1 \
        because no identity-based policy allows the ssm:StartSession action";
    let error = classify_sdk_error(service("AccessDeniedException", message, 400));
    assert_eq!(
        error.kind(),
        &ApiErrorKind::AccessDenied {
            action: Some("ssm:StartSession".into()),
            resource: Some("arn:aws:ec2:eu-west-1:123456789012:instance/i-1".into()),
        }
    );
    assert!(error.kind().is_auth());
    assert!(!error.is_transient());
    assert_eq!(
        error.to_string(),
        format!("access denied (AccessDeniedException): {message}")
    );
}

#[test]
fn the_sdk_error_stays_reachable_as_the_source() {
    let error = classify_sdk_error(service("TargetNotConnected", "gone", 400));
    let source = error.source().expect("a source");
    let sdk = source
        .downcast_ref::<SsmError>()
        .expect("the SdkError itself");
    assert_eq!(sdk.code(), Some("TargetNotConnected"));
}

#[test]
fn no_credentials_in_the_chain_is_no_credentials() {
    let error = classify_sdk_error(credentials_failure(CredentialsError::not_loaded(
        "no providers in chain provided credentials",
    )));
    assert_eq!(error.kind(), &ApiErrorKind::NoCredentials);
    assert_eq!(error.code(), None);
    assert!(!error.message().contains("dispatch failure"), "{error}");
    assert!(
        error
            .message()
            .contains("no providers in chain provided credentials"),
        "{error}"
    );
    let broken = classify_sdk_error(credentials_failure(
        CredentialsError::invalid_configuration("profile `x` forms a loop"),
    ));
    assert_eq!(broken.kind(), &ApiErrorKind::NoCredentials);
}

#[test]
fn an_sso_token_error_is_sso_expired_naming_the_profile() {
    // Profile provider → SSO provider → SSO token provider.
    let chain = CredentialsError::provider_error(CredentialsError::provider_error(
        TokenError::provider_error(Private("the SSO token has expired and cannot be refreshed")),
    ));
    let error = classify_for_profile(credentials_failure(chain), Some("dev"));
    assert_eq!(
        error.kind(),
        &ApiErrorKind::SsoExpired {
            profile: Some("dev".into())
        }
    );
    assert!(error.kind().is_auth());
}

#[test]
fn a_missing_legacy_sso_cache_file_is_sso_expired() {
    let chain = CredentialsError::provider_error(CredentialsError::provider_error(Private(
        "failed to read `/home/u/.aws/sso/cache/0a1b.json`",
    )));
    let error = classify_sdk_error(credentials_failure(chain));
    assert_eq!(error.kind(), &ApiErrorKind::SsoExpired { profile: None });
}

#[test]
fn sso_only_counts_as_a_word_and_only_while_loading_credentials() {
    let chain = CredentialsError::provider_error(Private("associationstatus lookup failed"));
    let error = classify_sdk_error(credentials_failure(chain));
    assert_eq!(error.kind(), &ApiErrorKind::NoCredentials);
    let outside = SsmError::dispatch_failure(ConnectorError::other(
        Box::new(Private("SSO mentioned outside credentials")),
        None,
    ));
    assert_eq!(classify_sdk_error(outside).kind(), &ApiErrorKind::Network);
}

#[test]
fn sso_refusing_the_access_token_is_sso_expired() {
    use aws_sdk_sso::types::error::UnauthorizedException;
    let refused = SdkError::<GetRoleCredentialsError, HttpResponse>::service_error(
        GetRoleCredentialsError::UnauthorizedException(
            UnauthorizedException::builder()
                .message("Session token not found or invalid")
                .meta(metadata(
                    "UnauthorizedException",
                    "Session token not found or invalid",
                ))
                .build(),
        ),
        response(401),
    );
    let chain = CredentialsError::provider_error(CredentialsError::provider_error(refused));
    let error = classify_sdk_error(credentials_failure(chain));
    assert_eq!(error.kind(), &ApiErrorKind::SsoExpired { profile: None });
    assert_eq!(error.code(), Some("UnauthorizedException"));
}

#[test]
fn a_refused_assume_role_is_access_denied_on_the_role() {
    let message = "User: arn:aws:iam::1:user/bob is not authorized to perform: sts:AssumeRole \
        on resource: arn:aws:iam::2:role/Deploy";
    let refused = SdkError::<AssumeRoleError, HttpResponse>::service_error(
        AssumeRoleError::generic(metadata("AccessDenied", message)),
        response(403),
    );
    let chain = CredentialsError::provider_error(CredentialsError::provider_error(refused));
    let error = classify_sdk_error(credentials_failure(chain));
    assert_eq!(
        error.kind(),
        &ApiErrorKind::AccessDenied {
            action: Some("sts:AssumeRole".into()),
            resource: Some("arn:aws:iam::2:role/Deploy".into()),
        }
    );
    assert_eq!(error.code(), Some("AccessDenied"));
    assert_eq!(error.message(), message);
}

#[test]
fn network_failures_are_transient() {
    let refused = SsmError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::from(
        std::io::ErrorKind::ConnectionRefused,
    ))));
    let error = classify_sdk_error(refused);
    assert_eq!(error.kind(), &ApiErrorKind::Network);
    assert!(error.is_transient());
    let timeout = classify_sdk_error(SsmError::timeout_error("operation timed out"));
    assert_eq!(timeout.kind(), &ApiErrorKind::Network);
    let slow_provider = classify_sdk_error(credentials_failure(
        CredentialsError::provider_timed_out(Duration::from_secs(5)),
    ));
    assert_eq!(slow_provider.kind(), &ApiErrorKind::Network);
    let garbled = classify_sdk_error(SsmError::response_error("not JSON", response(200)));
    assert_eq!(garbled.kind(), &ApiErrorKind::Service);
}

#[test]
fn a_request_that_cannot_be_built_is_invalid() {
    let error = classify_sdk_error(SsmError::construction_failure("missing target"));
    assert_eq!(error.kind(), &ApiErrorKind::InvalidRequest);
    assert!(!error.is_transient());
}
