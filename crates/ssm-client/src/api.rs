//! The SSM API calls a session needs, behind a small trait so callers
//! can use aws-sdk-ssm ([`crate::AwsSessionApi`]), their own client, or
//! a test double.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

mod error;

pub use self::error::{ApiError, ApiErrorKind};

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
