//! A session's lifecycle: its states and why it ended.
//!
//! A leaf module (no simulator imports): the session table, the agent
//! and the messages between gateway and agent all use these types.

use serde::Serialize;

/// Lifecycle state, named as DescribeSessions reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SessionStatus {
    /// Started; the client may be connected or reconnecting.
    Connected,
    /// Ending: waiting for outstanding output to be acknowledged.
    Terminating,
    /// Ended normally.
    Terminated,
    /// Ended by an error (handshake failure, dial failure in basic mode).
    Failed,
}

impl SessionStatus {
    /// The API's string for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "Connected",
            Self::Terminating => "Terminating",
            Self::Terminated => "Terminated",
            Self::Failed => "Failed",
        }
    }

    /// True for Terminated and Failed.
    pub fn is_over(self) -> bool {
        matches!(self, Self::Terminated | Self::Failed)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EndCause {
    /// TerminateSession API call.
    TerminateApi,
    /// TerminateSession flag from the client.
    TerminateFlag,
    /// No stream data for the idle timeout.
    IdleTimeout,
    /// Maximum session duration reached.
    MaxDuration,
    /// The client did not answer the handshake within 15 s.
    HandshakeTimeout,
    /// The client refused an action or sent a bad handshake.
    HandshakeFailed(String),
    /// The port plugin failed (e.g. basic-mode dial failure).
    PortFailed(String),
    /// The simulator shut down.
    Shutdown,
    /// The target lost its connection to the service
    /// ([`crate::Simulator::set_instance_online`]).
    InstanceLost,
}
