//! The acknowledge payload (protocol.md §4.3).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::PayloadError;
use crate::message::ClientMessage;

/// Body of an `acknowledge` message. Receivers act only on the sequence
/// number; type and id are informational.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AcknowledgeContent {
    /// Wire name of the acknowledged message's type.
    pub acknowledged_message_type: String,
    /// Acknowledged MessageId, lowercase hyphenated.
    pub acknowledged_message_id: String,
    /// Acknowledged sequence number.
    pub acknowledged_message_sequence_number: i64,
    /// Always true.
    pub is_sequential_message: bool,
}

impl AcknowledgeContent {
    /// The ack for a received stream message.
    pub fn for_message(message: &ClientMessage) -> Self {
        Self {
            acknowledged_message_type: message.message_type.as_str().to_owned(),
            acknowledged_message_id: message.message_id.hyphenated().to_string(),
            acknowledged_message_sequence_number: message.sequence_number,
            is_sequential_message: true,
        }
    }

    /// Compact JSON.
    pub fn to_bytes(&self) -> Bytes {
        super::to_json(self)
    }

    /// Parses an ack body.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        super::from_json("acknowledge", bytes)
    }
}
