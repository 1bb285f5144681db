//! What the gateway and the agent tasks send each other.
//!
//! The gateway hands each authenticated socket and its frames to the
//! session's agent as [`AgentInput`]s (the session table keeps the
//! sender); the agent answers with [`ToClient`] items on the socket's
//! queue. These types live apart from both so that neither side, nor the
//! session table, has to import the other.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::hostile::Hostile;
use crate::lifecycle::EndCause;

/// Frames and notices the agent sends to the client socket.
#[derive(Debug, Clone)]
pub enum ToClient {
    /// A binary frame.
    Frame(Bytes),
    /// Close the socket with this code and reason.
    Close(u16, String),
    /// Drop the socket without a close frame.
    Abort,
    /// Stop serving the socket without closing it (see [`crate::Injection::Freeze`]).
    Freeze,
}

/// Inputs of an agent task.
#[derive(Debug)]
pub enum AgentInput {
    /// The instance went away: end the session as failed.
    Lost,
    /// A client socket authenticated; frames for it go to `sender`.
    /// A newer socket replaces an older one.
    Attached {
        /// Identifies the socket (unique per simulator).
        connection: u64,
        /// Where frames for the client go.
        sender: mpsc::Sender<ToClient>,
    },
    /// The client socket `connection` went away (ignored if a newer
    /// socket replaced it already).
    Detached {
        /// The socket that went away.
        connection: u64,
    },
    /// A binary frame from the client.
    Frame(Bytes),
    /// End the session.
    Terminate(EndCause),
    /// Pass something straight to the client socket (fault injection).
    Inject(ToClient),
    /// Misbehave like a hostile peer.
    Hostile(Hostile),
}
