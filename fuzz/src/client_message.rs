//! Checks for the `client_message` target: the binary message codec.

use ssm_proto::ClientMessage;
use ssm_proto::message::HEADER_SIZE;

/// SchemaVersion, CreatedDate, SequenceNumber, Flags and MessageId.
const FIXED_FIELDS: std::ops::Range<usize> = 36..80;
/// PayloadType.
const PAYLOAD_TYPE: std::ops::Range<usize> = 112..116;

/// Decodes `data`; if that succeeds, checks the re-encoding. Returns the
/// decoded message.
pub fn check(data: &[u8]) -> Option<ClientMessage> {
    let first = ClientMessage::decode(data).ok()?;
    let encoded = first.encode();
    assert_eq!(encoded.len(), HEADER_SIZE + first.payload.len());
    assert_eq!(encoded[FIXED_FIELDS], data[FIXED_FIELDS]);
    assert_eq!(encoded[PAYLOAD_TYPE], data[PAYLOAD_TYPE]);
    assert!(
        data.ends_with(&first.payload),
        "payload is the input's tail"
    );

    let second = match ClientMessage::decode(&encoded) {
        Ok(second) => second,
        Err(error) => panic!("re-encoded {first:?} does not decode: {error}"),
    };
    assert_eq!(second, first, "decode(encode(m)) != m");
    assert_eq!(second.encode(), encoded, "encoding is not canonical");
    Some(first)
}
