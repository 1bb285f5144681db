//! What the gateway does where the real one's behaviour is not public
//! (protocol.md §12, §13): each choice is a knob, so tests can check the
//! client against every plausible answer.

use serde::{Deserialize, Serialize};

/// What the client sees after the agent ends a session on the client's
/// TerminateSession flag. The agent itself closes its socket with no
/// close frame and sends no `channel_closed` (protocol.md §13); the rest
/// is up to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TerminateNotice {
    /// `channel_closed`, then close 1000.
    #[default]
    ChannelClosed,
    /// Close 1000 with no `channel_closed`.
    Close,
    /// Nothing: the socket stays open and silent.
    Nothing,
}

/// What happens to agent output while the client has no socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetachedOutput {
    /// Held and delivered in order on the next socket; whatever was handed
    /// to the lost socket is delivered again (the client re-acks
    /// duplicates).
    #[default]
    Buffer,
    /// Dropped, like whatever was in flight on the lost socket. The agent
    /// never sees the client reconnect, so it recovers with its front-only
    /// resend: one message per RTO, checked every 100 ms.
    Drop,
}

/// The gateway's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayPolicy {
    /// After a TerminateSession flag.
    pub on_terminate: TerminateNotice,
    /// Agent output while no client socket is attached.
    pub detached_output: DetachedOutput,
}
