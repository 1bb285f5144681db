//! Errors of the client library.

mod connect;
mod source;

use std::io;

use ssm_proto::session::HandshakeError;
use thiserror::Error;

use crate::api::ApiError;

pub use self::connect::{ConnectError, ConnectStep, ProxyError};
pub use self::source::ErrorSource;

/// Why a session could not start or stopped working.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// An SSM API call failed. See [`ApiError::kind`] for what to do.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The stream URL is not acceptable (bad syntax, or plain `ws://` to a
    /// host that is not loopback). Check where the URL came from.
    #[error("refusing stream URL: {0}")]
    InsecureUrl(String),
    /// The WebSocket could not be opened. See [`ConnectError`]: usually
    /// network, proxy or TLS trouble; retrying later may work.
    #[error("could not open the data channel: {0}")]
    Connect(ConnectError),
    /// The handshake failed (e.g. the document is a shell session, or the
    /// agent asked for KMS encryption). The session cannot be used; the
    /// [`HandshakeError`] variant says why.
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    /// The client configuration is out of range (smux buffer sizes). Fix
    /// the [`crate::ClientConfig`]; retrying will not help.
    #[error("invalid client configuration: {0}")]
    Config(ssm_mux::ConfigError),
    /// The session ended; the [`EndCause`] says why. Start a new session.
    #[error("session ended: {0}")]
    SessionEnded(EndCause),
    /// The session's data-channel sockets kept dying right after they
    /// opened (`sockets` in a row, each within
    /// [`crate::ClientConfig::short_lived_socket`]): the service, a proxy
    /// or the agent drops them, so the session was given up. Start a new
    /// session; if those fail the same way, check the network path.
    #[error(
        "the data channel kept failing right after every reconnect ({sockets} sockets in a row; last: {last_loss}); session given up"
    )]
    SocketsKeepFailing {
        /// Short-lived sockets in a row.
        sockets: u32,
        /// Why the last one was lost.
        last_loss: String,
    },
    /// The agent could not connect to the destination for this stream
    /// (ConnectToPortError). Check the remote host and port.
    #[error("the agent could not connect to the destination")]
    ConnectToPort,
}

impl From<ConnectError> for Error {
    fn from(error: ConnectError) -> Self {
        Self::Connect(error)
    }
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

/// Why a session is over, for [`Error::SessionEnded`]. Whatever the cause,
/// the session cannot be used again: start a new one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EndCause {
    /// We terminated it ([`crate::Session::terminate`] or the last handle
    /// was dropped).
    #[error("terminated")]
    Terminated,
    /// The gateway closed the channel; the text is its `Output` (e.g. an
    /// idle timeout), or the plugin-style default message.
    #[error("closed by the service: {0}")]
    ChannelClosed(String),
    /// ResumeSession returned no token: the service already ended it.
    #[error("the session expired or was terminated by the service")]
    Expired,
    /// The smux session over the data channel failed (a protocol violation
    /// by the agent, or its keepalive timed out).
    #[error("smux session failed: {0}")]
    Smux(ssm_mux::SessionError),
    /// No new smux stream could be opened (stream ids exhausted, or the
    /// smux session is dead).
    #[error("could not open an smux stream: {0}")]
    SmuxOpen(ssm_mux::StreamError),
    /// The task driving the session stopped without saying why (a panic,
    /// or the runtime shutting down).
    #[error("the session driver stopped")]
    DriverStopped,
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
        match self.cause() {
            Ok(cause) => write!(f, "{cause}"),
            Err(error) => write!(f, "{error}"),
        }
    }
}

impl EndReason {
    /// The matching [`Error`]: the failure itself, or
    /// [`Error::SessionEnded`] with the cause.
    pub fn to_error(&self) -> Error {
        self.cause().map_or_else(Clone::clone, Error::SessionEnded)
    }

    /// The cause of an end that is not a failure, else the failure.
    fn cause(&self) -> Result<EndCause, &Error> {
        match self {
            Self::Terminated => Ok(EndCause::Terminated),
            Self::ChannelClosed(text) => Ok(EndCause::ChannelClosed(text.clone())),
            Self::Expired => Ok(EndCause::Expired),
            Self::Failed(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_reasons_become_typed_causes_with_the_same_text() {
        let closed = EndReason::ChannelClosed("idle timeout".into());
        assert_eq!(
            closed.to_error(),
            Error::SessionEnded(EndCause::ChannelClosed("idle timeout".into()))
        );
        assert_eq!(closed.to_string(), "closed by the service: idle timeout");
        assert_eq!(
            EndReason::Expired.to_error(),
            Error::SessionEnded(EndCause::Expired)
        );
        let failed = EndReason::Failed(Error::ConnectToPort);
        assert_eq!(failed.to_error(), Error::ConnectToPort);
        assert_eq!(
            Error::SessionEnded(EndCause::Smux(ssm_mux::SessionError::KeepAliveTimeout))
                .to_string(),
            "session ended: smux session failed: keepalive timeout: no frame received for a whole timeout period"
        );
    }
}
