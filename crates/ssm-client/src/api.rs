//! The SSM API calls a session needs, behind a small trait so callers
//! can use aws-sdk-ssm ([`crate::AwsSessionApi`]), their own client, or
//! a test double.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use thiserror::Error;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What StartSession needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartSessionRequest {
    /// Instance (or managed node) id.
    pub target: String,
    /// SSM document, e.g. `AWS-StartPortForwardingSessionToRemoteHost`.
    pub document_name: String,
    /// Document parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Optional reason, recorded by the service.
    pub reason: Option<String>,
}

impl StartSessionRequest {
    /// A port-forwarding request: to `remote_host:remote_port` through the
    /// target when a host is given, else to the target's own port.
    pub fn port_forwarding(
        target: &str,
        remote_host: Option<&str>,
        remote_port: u16,
        local_port: u16,
    ) -> Self {
        let mut parameters = BTreeMap::new();
        parameters.insert("portNumber".to_owned(), vec![remote_port.to_string()]);
        parameters.insert("localPortNumber".to_owned(), vec![local_port.to_string()]);
        let document_name = match remote_host {
            Some(host) => {
                parameters.insert("host".to_owned(), vec![host.to_owned()]);
                "AWS-StartPortForwardingSessionToRemoteHost"
            }
            None => "AWS-StartPortForwardingSession",
        };
        Self {
            target: target.to_owned(),
            document_name: document_name.to_owned(),
            parameters,
            reason: None,
        }
    }
}

/// A StartSession response: all that is needed to attach.
#[derive(Clone, PartialEq, Eq)]
pub struct StartedSession {
    /// The session id.
    pub session_id: String,
    /// The token for OpenDataChannel.
    pub token_value: String,
    /// The data-channel URL, used byte for byte.
    pub stream_url: String,
}

impl fmt::Debug for StartedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartedSession")
            .field("session_id", &self.session_id)
            .field("token_value", &"<redacted>")
            .field("stream_url", &self.stream_url)
            .finish()
    }
}

/// An SSM API failure, classified by what the caller should do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The target is not connected to SSM (agent offline, wrong id or
    /// region). Check the instance and its SSM agent.
    #[error("target not connected: {0}")]
    TargetNotConnected(String),
    /// Not allowed (AccessDenied, expired or missing credentials). Fix
    /// the credentials or IAM policy; `aws sso login` for SSO.
    #[error("not authorized: {0}")]
    Auth(String),
    /// The request is wrong (bad document, parameters, unknown session).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Network trouble, throttling or a service error: retry later.
    #[error("temporary failure: {0}")]
    Transient(String),
}

impl ApiError {
    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// The three SSM operations a session uses.
pub trait SessionApi: Send + Sync + fmt::Debug {
    /// StartSession.
    fn start_session(
        &self,
        request: StartSessionRequest,
    ) -> BoxFuture<'_, Result<StartedSession, ApiError>>;
    /// ResumeSession: a fresh token, or `None` when the session is over.
    fn resume_session(&self, session_id: String)
    -> BoxFuture<'_, Result<Option<String>, ApiError>>;
    /// TerminateSession.
    fn terminate_session(&self, session_id: String) -> BoxFuture<'_, Result<(), ApiError>>;
}
