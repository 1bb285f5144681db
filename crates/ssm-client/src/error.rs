//! Errors of the client library.

use std::io;

use thiserror::Error;

use crate::api::ApiError;

/// Why a session could not start or stopped working.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// An SSM API call failed. See [`ApiError`] for what to do.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The stream URL is not acceptable (bad syntax, or plain `ws://` to a
    /// host that is not loopback). Check where the URL came from.
    #[error("refusing stream URL: {0}")]
    InsecureUrl(String),
    /// The WebSocket could not be opened. Usually network or TLS trouble;
    /// retrying later may work.
    #[error("could not open the data channel: {0}")]
    Connect(String),
    /// The handshake failed (e.g. the document is a shell session, or the
    /// agent asked for KMS encryption). The session cannot be used.
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The session ended; the text says why (the gateway's channel_closed
    /// output, an expired session, a terminate). Start a new session.
    #[error("session ended: {0}")]
    SessionEnded(String),
    /// The agent could not connect to the destination for this stream
    /// (ConnectToPortError). Check the remote host and port.
    #[error("the agent could not connect to the destination")]
    ConnectToPort,
}

impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::ConnectToPort => io::ErrorKind::ConnectionRefused,
            Error::SessionEnded(_) => io::ErrorKind::ConnectionAborted,
            Error::Connect(_) => io::ErrorKind::NotConnected,
            _ => io::ErrorKind::Other,
        };
        Self::new(kind, error)
    }
}

/// Why a session ended, as [`crate::Session::closed`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// We terminated it ([`crate::Session::terminate`] or the last handle
    /// was dropped).
    Terminated,
    /// The gateway closed the channel; the text is its `Output`
    /// (e.g. an idle timeout), or the plugin-style default message.
    ChannelClosed(String),
    /// ResumeSession returned no token: the service already ended it.
    Expired,
    /// Something failed for good; the error says what.
    Failed(Error),
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Terminated => f.write_str("terminated"),
            Self::ChannelClosed(text) => write!(f, "closed by the service: {text}"),
            Self::Expired => f.write_str("the session expired or was terminated by the service"),
            Self::Failed(error) => write!(f, "{error}"),
        }
    }
}

impl EndReason {
    /// The matching [`Error::SessionEnded`].
    pub fn to_error(&self) -> Error {
        match self {
            Self::Failed(error) => error.clone(),
            other => Error::SessionEnded(other.to_string()),
        }
    }
}
