//! Error types of the protocol core.

use thiserror::Error;

/// Why a received frame could not be decoded as a data-channel message.
///
/// Every variant means "drop this one frame and keep the session": the
/// peer retransmits sequenced messages we do not acknowledge, and nothing
/// else is worth tearing a session down for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than the 120-byte header.
    #[error("message of {len} bytes is shorter than the 120-byte header")]
    TooShort {
        /// Received length.
        len: usize,
    },
    /// Longer than [`crate::message::MAX_MESSAGE_SIZE`].
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Received length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// HeaderLength below 116 or pointing past the end of the frame.
    #[error("header length {header_length} is out of range for a {len}-byte message")]
    HeaderLengthOutOfRange {
        /// The HeaderLength field.
        header_length: u32,
        /// Received length.
        len: usize,
    },
    /// MessageType is blank.
    #[error("message type is empty")]
    EmptyMessageType,
    /// CreatedDate is zero.
    #[error("created date is zero")]
    ZeroCreatedDate,
    /// PayloadLength disagrees with the bytes actually present.
    #[error("payload length field says {declared} bytes but {actual} are present")]
    PayloadLengthMismatch {
        /// The PayloadLength field.
        declared: u32,
        /// Bytes after the header.
        actual: usize,
    },
    /// SHA-256 of the payload differs from PayloadDigest: corrupted in transit.
    #[error("payload digest does not match the payload")]
    DigestMismatch,
}

/// Why a payload (JSON or flag) could not be parsed.
///
/// The message itself was well formed; the caller drops the payload and,
/// for handshake payloads, fails the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The JSON did not match the expected schema.
    #[error("invalid {what} payload: {reason}")]
    InvalidJson {
        /// Which payload was being parsed.
        what: &'static str,
        /// serde_json's description.
        reason: String,
    },
    /// A flag payload was not exactly 4 bytes.
    #[error("flag payload must be 4 bytes, got {len}")]
    FlagLength {
        /// Received length.
        len: usize,
    },
}

/// Why [`crate::channel::DataChannel::send`] refused a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendError {
    /// The unacked window is full: wait until acks free space
    /// ([`crate::channel::DataChannel::send_capacity`]) and try again.
    #[error("send window is full; wait for acknowledgements")]
    WindowFull,
    /// The payload exceeds the configured maximum: split it.
    #[error("payload of {len} bytes exceeds the {max}-byte limit")]
    PayloadTooLarge {
        /// Offered length.
        len: usize,
        /// The configured cap.
        max: usize,
    },
    /// Data was offered before the handshake completed; the agent would
    /// acknowledge and discard it. Wait for the handshake event.
    #[error("the handshake has not completed yet")]
    HandshakeIncomplete,
    /// The session already ended; nothing more can be sent.
    #[error("the session has ended")]
    SessionEnded,
}

/// Why a received frame was not processed.
///
/// Non-fatal: log it and keep driving the session.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// The frame is not a valid message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The message was valid but its payload was not.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}
