//! The binary ClientMessage/AgentMessage framing (protocol.md §3).
//!
//! One WebSocket binary frame carries exactly one message: a 120-byte
//! big-endian header followed by the payload. [`ClientMessage::decode`]
//! checks every bound before it reads, and [`ClientMessage::encode`] always
//! writes HeaderLength 116, a space-padded type, the swapped-halves
//! MessageId and the SHA-256 digest of the payload.

mod message_id;
mod message_type;
mod payload_type;

use byteorder::{BigEndian, ByteOrder};
use bytes::{BufMut, Bytes, BytesMut};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::DecodeError;
pub use message_id::{MESSAGE_ID_FIELD_LEN, decode_message_id, encode_message_id};
pub use message_type::{MESSAGE_TYPE_FIELD_LEN, MessageType};
pub use payload_type::PayloadType;

/// The HeaderLength value every sender writes: the offset of PayloadLength.
pub const HEADER_LENGTH: u32 = 116;
/// Bytes before the payload: HeaderLength plus the 4-byte PayloadLength.
pub const HEADER_SIZE: usize = 120;
/// Largest message (header + payload) [`ClientMessage::decode`] accepts.
///
/// Real data payloads are at most 1024 bytes and control payloads a few
/// hundred; 1 MiB leaves room for any plausible service message while
/// capping what a hostile peer can make us hold.
pub const MAX_MESSAGE_SIZE: usize = 1 << 20;
/// Largest payload that fits in [`MAX_MESSAGE_SIZE`].
pub const MAX_PAYLOAD_SIZE: usize = MAX_MESSAGE_SIZE - HEADER_SIZE;
/// The SchemaVersion every sender writes.
pub const SCHEMA_VERSION: u32 = 1;
/// Flags value for acks and agent_session_state (SYN | FIN).
pub const FLAGS_ACK: u64 = 3;
/// Flags value the agent puts on its first stream message (SYN).
pub const FLAGS_SYN: u64 = 1;

mod offset {
    pub(super) const HEADER_LENGTH: usize = 0;
    pub(super) const MESSAGE_TYPE: usize = 4;
    pub(super) const SCHEMA_VERSION: usize = 36;
    pub(super) const CREATED_DATE: usize = 40;
    pub(super) const SEQUENCE_NUMBER: usize = 48;
    pub(super) const FLAGS: usize = 56;
    pub(super) const MESSAGE_ID: usize = 64;
    pub(super) const PAYLOAD_DIGEST: usize = 80;
    pub(super) const PAYLOAD_TYPE: usize = 112;
    pub(super) const PAYLOAD_LENGTH: usize = 116;
}

/// One decoded data-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    /// What kind of message this is.
    pub message_type: MessageType,
    /// Always 1 when we send; never checked on receive.
    pub schema_version: u32,
    /// Unix epoch milliseconds; never 0 on a valid message.
    pub created_date: u64,
    /// Stream sequence number for stream data, 0 otherwise.
    pub sequence_number: i64,
    /// SYN/FIN bits; informational, receivers never act on them.
    pub flags: u64,
    /// Random v4 id of this message.
    pub message_id: Uuid,
    /// What the payload carries.
    pub payload_type: PayloadType,
    /// The payload bytes.
    pub payload: Bytes,
}

impl ClientMessage {
    /// A message with schema version 1 and the given fields.
    pub fn new(
        message_type: MessageType,
        created_date: u64,
        sequence_number: i64,
        flags: u64,
        message_id: Uuid,
        payload_type: PayloadType,
        payload: Bytes,
    ) -> Self {
        Self {
            message_type,
            schema_version: SCHEMA_VERSION,
            created_date,
            sequence_number,
            flags,
            message_id,
            payload_type,
            payload,
        }
    }

    /// Serializes the message, computing the digest and payload length.
    ///
    /// Payloads longer than [`MAX_PAYLOAD_SIZE`] produce a frame our own
    /// decoder (and a sane peer) refuses; senders check the size first.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(HEADER_SIZE + self.payload.len());
        self.encode_into(&mut out);
        out.freeze()
    }

    /// Appends the serialized message to `out`.
    pub fn encode_into(&self, out: &mut impl BufMut) {
        out.put_u32(HEADER_LENGTH);
        out.put_slice(&self.message_type.encode_field());
        out.put_u32(self.schema_version);
        out.put_u64(self.created_date);
        out.put_i64(self.sequence_number);
        out.put_u64(self.flags);
        out.put_slice(&encode_message_id(&self.message_id));
        out.put_slice(&payload_digest(&self.payload));
        out.put_u32(self.payload_type.to_u32());
        out.put_u32(u32::try_from(self.payload.len()).unwrap_or(u32::MAX));
        out.put_slice(&self.payload);
    }

    /// Decodes and validates one message.
    ///
    /// Checks, in order: size cap, minimum length, HeaderLength bounds,
    /// then (except for the gateway's start/pause publication notices,
    /// which the plugin accepts unchecked) non-empty type, non-zero date,
    /// PayloadLength matching the payload, and the SHA-256 digest of a
    /// non-empty payload.
    pub fn decode(input: &[u8]) -> Result<Self, DecodeError> {
        let message = Self::decode_fields(input)?;
        if message.message_type.is_publication_notice() {
            return Ok(message);
        }
        if message.created_date == 0 {
            return Err(DecodeError::ZeroCreatedDate);
        }
        let declared = BigEndian::read_u32(&input[offset::PAYLOAD_LENGTH..]);
        if declared as usize != message.payload.len() {
            return Err(DecodeError::PayloadLengthMismatch {
                declared,
                actual: message.payload.len(),
            });
        }
        if !message.payload.is_empty() {
            let expected = &input[offset::PAYLOAD_DIGEST..offset::PAYLOAD_TYPE];
            if payload_digest(&message.payload)[..] != *expected {
                return Err(DecodeError::DigestMismatch);
            }
        }
        Ok(message)
    }

    /// Structural decode: bounds, HeaderLength and field extraction.
    fn decode_fields(input: &[u8]) -> Result<Self, DecodeError> {
        if input.len() > MAX_MESSAGE_SIZE {
            return Err(DecodeError::TooLarge {
                len: input.len(),
                max: MAX_MESSAGE_SIZE,
            });
        }
        if input.len() < HEADER_SIZE {
            return Err(DecodeError::TooShort { len: input.len() });
        }
        let header_length = BigEndian::read_u32(&input[offset::HEADER_LENGTH..]);
        let payload_start = (header_length as usize).saturating_add(4);
        if header_length < HEADER_LENGTH || payload_start > input.len() {
            return Err(DecodeError::HeaderLengthOutOfRange {
                header_length,
                len: input.len(),
            });
        }
        let message_type =
            MessageType::decode_field(&input[offset::MESSAGE_TYPE..offset::SCHEMA_VERSION])
                .ok_or(DecodeError::EmptyMessageType)?;
        let mut id = [0u8; MESSAGE_ID_FIELD_LEN];
        id.copy_from_slice(&input[offset::MESSAGE_ID..offset::PAYLOAD_DIGEST]);
        Ok(Self {
            message_type,
            schema_version: BigEndian::read_u32(&input[offset::SCHEMA_VERSION..]),
            created_date: BigEndian::read_u64(&input[offset::CREATED_DATE..]),
            sequence_number: BigEndian::read_i64(&input[offset::SEQUENCE_NUMBER..]),
            flags: BigEndian::read_u64(&input[offset::FLAGS..]),
            message_id: decode_message_id(&id),
            payload_type: PayloadType::from_u32(BigEndian::read_u32(
                &input[offset::PAYLOAD_TYPE..],
            )),
            payload: Bytes::copy_from_slice(&input[payload_start..]),
        })
    }
}

/// Reads just the MessageType of a frame, without validating the rest.
/// Relays use it to classify traffic cheaply; `None` when the frame is
/// too short or the type is blank.
pub fn peek_message_type(frame: &[u8]) -> Option<MessageType> {
    MessageType::decode_field(frame.get(offset::MESSAGE_TYPE..offset::SCHEMA_VERSION)?)
}

/// SHA-256 of a payload, as carried in the PayloadDigest field.
pub fn payload_digest(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

#[cfg(test)]
mod tests;
