//! The channel_closed payload (protocol.md §4.4).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::PayloadError;

/// Body of a `channel_closed` message sent by the gateway.
///
/// Every field defaults when absent so a sparse or newer payload still
/// yields the `Output` text, which is what users need to see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ChannelClosed {
    /// Id of this notice.
    pub message_id: String,
    /// Creation time, a string (epoch millis in practice).
    pub created_date: String,
    /// The target instance.
    pub destination_id: String,
    /// The session that ended.
    pub session_id: String,
    /// `"channel_closed"`.
    pub message_type: String,
    /// Schema version, 1.
    pub schema_version: i64,
    /// Why the session ended; empty for a normal end.
    pub output: String,
}

impl ChannelClosed {
    /// Compact JSON.
    pub fn to_bytes(&self) -> Bytes {
        super::to_json(self)
    }

    /// Parses a channel_closed body.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        super::from_json("channel_closed", bytes)
    }

    /// The text the official plugin prints for this notice.
    pub fn describe(&self) -> String {
        if self.output.is_empty() {
            format!("Exiting session with sessionId: {}.", self.session_id)
        } else {
            format!("SessionId: {} : {}", self.session_id, self.output)
        }
    }
}
