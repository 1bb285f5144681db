//! Typed payloads carried inside messages (protocol.md §2.3, §4, §6).
//!
//! JSON payloads use the service's exact field names and order; serde
//! keeps struct order, so our compact output matches the Go encoders'.

mod ack;
mod channel_closed;
mod flag;
mod handshake;
mod open_data_channel;
mod port;

pub use ack::AcknowledgeContent;
pub use channel_closed::ChannelClosed;
pub use flag::Flag;
pub use handshake::{
    ActionStatus, ActionType, EncryptionChallenge, HandshakeComplete, HandshakeRequest,
    HandshakeResponse, ProcessedClientAction, RequestedClientAction, SessionTypeRequest,
};
pub use open_data_channel::OpenDataChannel;
pub use port::PortProperties;

use crate::error::PayloadError;

/// Parses a JSON payload, naming it in the error.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, PayloadError> {
    serde_json::from_slice(bytes).map_err(|err| PayloadError::InvalidJson {
        what,
        reason: err.to_string(),
    })
}

/// Serializes a payload to compact JSON.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> bytes::Bytes {
    // Serializing these plain structs cannot fail: no maps with non-string
    // keys and no failing Serialize impls are involved.
    serde_json::to_vec(value)
        .map(bytes::Bytes::from)
        .unwrap_or_default()
}
