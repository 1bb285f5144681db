//! The MessageId field: a UUID with its two 8-byte halves swapped.
//!
//! The canonical bytes `b[0..16]` travel as `b[8..16] ++ b[0..8]`
//! (protocol.md §3, "MessageId byte order").

use uuid::Uuid;

/// Width of the MessageId field on the wire.
pub const MESSAGE_ID_FIELD_LEN: usize = 16;

/// Encodes a UUID into the swapped wire order.
pub fn encode_message_id(id: &Uuid) -> [u8; MESSAGE_ID_FIELD_LEN] {
    let canonical = id.as_bytes();
    let mut wire = [0u8; MESSAGE_ID_FIELD_LEN];
    wire[..8].copy_from_slice(&canonical[8..]);
    wire[8..].copy_from_slice(&canonical[..8]);
    wire
}

/// Decodes the swapped wire order back into a UUID.
pub fn decode_message_id(wire: &[u8; MESSAGE_ID_FIELD_LEN]) -> Uuid {
    let mut canonical = [0u8; MESSAGE_ID_FIELD_LEN];
    canonical[..8].copy_from_slice(&wire[8..]);
    canonical[8..].copy_from_slice(&wire[..8]);
    Uuid::from_bytes(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_protocol_example() {
        let id = Uuid::parse_str("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        let wire = encode_message_id(&id);
        assert_eq!(
            wire,
            [
                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                0x66, 0x77
            ]
        );
        assert_eq!(decode_message_id(&wire), id);
    }
}
