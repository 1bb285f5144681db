use proptest::prelude::*;

use super::*;
use crate::payload::{AcknowledgeContent, Flag};

const REF_ID: &str = "dd01e56b-ff48-483e-a508-b5f073f31b16";
const REF_DATE: u64 = 1_503_434_274_948;
const REF_ACK_PAYLOAD: &str = r#"{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":0,"IsSequentialMessage":true}"#;
const REF_ACK_HEADER: &str = concat!(
    "0000007461636b6e6f776c6564676520",
    "20202020202020202020202020202020",
    "2020202000000001 0000015e0baa7884",
    "0000000000000000 0000000000000003",
    "a508b5f073f31b16 dd01e56bff48483e",
    "713a0a17057de630213f7292907ce384",
    "62812ea213a29366f537f68c6ab60e85",
    "00000000000000b0"
);

fn reference_id() -> Uuid {
    Uuid::parse_str(REF_ID).unwrap()
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.replace(' ', "")).unwrap()
}

#[test]
fn reference_ack_vector() {
    let acked = ClientMessage::new(
        MessageType::OutputStreamData,
        REF_DATE,
        0,
        FLAGS_SYN,
        reference_id(),
        PayloadType::Output,
        Bytes::from_static(b"x"),
    );
    let content = AcknowledgeContent::for_message(&acked);
    assert_eq!(&content.to_bytes()[..], REF_ACK_PAYLOAD.as_bytes());
    let ack = ClientMessage::new(
        MessageType::Acknowledge,
        REF_DATE,
        0,
        FLAGS_ACK,
        reference_id(),
        PayloadType::Undefined,
        content.to_bytes(),
    );
    let wire = ack.encode();
    assert_eq!(wire.len(), 120 + 176);
    assert_eq!(&wire[..120], &unhex(REF_ACK_HEADER)[..]);
    assert_eq!(ClientMessage::decode(&wire), Ok(ack));
}

#[test]
fn reference_terminate_flag_vector() {
    let message = ClientMessage::new(
        MessageType::InputStreamData,
        REF_DATE,
        7,
        0,
        reference_id(),
        PayloadType::Flag,
        Flag::TerminateSession.to_bytes(),
    );
    let wire = message.encode();
    assert!(wire.ends_with(&[0, 0, 0, 0x0a, 0, 0, 0, 4, 0, 0, 0, 2]));
    assert_eq!(
        hex::encode(&wire[80..112]),
        "433ebf5bc03dffa38536673207a21281612cef5faa9bc7a4d5b9be2fdb12cf1a"
    );
    assert_eq!(&wire[48..56], &7i64.to_be_bytes());
}

fn sample(payload: &'static [u8]) -> ClientMessage {
    ClientMessage::new(
        MessageType::OutputStreamData,
        REF_DATE,
        3,
        0,
        reference_id(),
        PayloadType::Output,
        Bytes::from_static(payload),
    )
}

#[test]
fn rejects_short_and_truncated_frames() {
    let wire = sample(b"hello").encode();
    for len in [0, 1, 115, 116, 119] {
        assert_eq!(
            ClientMessage::decode(&wire[..len]),
            Err(DecodeError::TooShort { len })
        );
    }
    // Cutting the payload short makes the length and digest disagree.
    assert!(matches!(
        ClientMessage::decode(&wire[..122]),
        Err(DecodeError::PayloadLengthMismatch {
            declared: 5,
            actual: 2
        })
    ));
}

#[test]
fn rejects_header_length_out_of_range() {
    let mut wire = sample(b"hello").encode().to_vec();
    for bad in [0u32, 115, 122, u32::MAX] {
        wire[..4].copy_from_slice(&bad.to_be_bytes());
        assert!(matches!(
            ClientMessage::decode(&wire),
            Err(DecodeError::HeaderLengthOutOfRange { header_length, .. }) if header_length == bad
        ));
    }
}

#[test]
fn payload_starts_at_header_length_plus_four() {
    // A larger HeaderLength moves the payload start, as in both Go decoders.
    let mut wire = sample(b"").encode().to_vec();
    wire[..4].copy_from_slice(&118u32.to_be_bytes());
    wire.extend_from_slice(b"abcd");
    // payload = bytes from 122: "cd"; length field says 0 -> mismatch.
    assert_eq!(
        ClientMessage::decode(&wire),
        Err(DecodeError::PayloadLengthMismatch {
            declared: 0,
            actual: 2
        })
    );
}

#[test]
fn rejects_empty_type_zero_date_and_bad_digest() {
    let good = sample(b"hello").encode().to_vec();
    let mut empty_type = good.clone();
    empty_type[4..36].fill(b' ');
    assert_eq!(
        ClientMessage::decode(&empty_type),
        Err(DecodeError::EmptyMessageType)
    );
    let mut zero_date = good.clone();
    zero_date[40..48].fill(0);
    assert_eq!(
        ClientMessage::decode(&zero_date),
        Err(DecodeError::ZeroCreatedDate)
    );
    let mut corrupt = good.clone();
    *corrupt.last_mut().unwrap() ^= 1;
    assert_eq!(
        ClientMessage::decode(&corrupt),
        Err(DecodeError::DigestMismatch)
    );
}

#[test]
fn rejects_oversize_before_reading() {
    let huge = vec![0u8; MAX_MESSAGE_SIZE + 1];
    assert_eq!(
        ClientMessage::decode(&huge),
        Err(DecodeError::TooLarge {
            len: MAX_MESSAGE_SIZE + 1,
            max: MAX_MESSAGE_SIZE
        })
    );
}

#[test]
fn publication_notices_skip_content_checks() {
    let mut notice = ClientMessage::new(
        MessageType::PausePublication,
        0,
        0,
        0,
        reference_id(),
        PayloadType::Undefined,
        Bytes::from_static(b"{}"),
    )
    .encode()
    .to_vec();
    notice[80..112].fill(0); // wrong digest
    notice[116..120].copy_from_slice(&99u32.to_be_bytes()); // wrong length
    let decoded = ClientMessage::decode(&notice).unwrap();
    assert_eq!(decoded.message_type, MessageType::PausePublication);
}

#[test]
fn peeks_the_type_without_decoding() {
    let wire = sample(b"hi").encode();
    assert_eq!(
        peek_message_type(&wire),
        Some(MessageType::OutputStreamData)
    );
    assert_eq!(peek_message_type(&wire[..20]), None);
}

#[test]
fn unknown_types_decode() {
    let mut message = sample(b"x");
    message.message_type = MessageType::Unknown("agent_job".into());
    message.payload_type = PayloadType::Unknown(77);
    assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
}

fn any_message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        Just(MessageType::InputStreamData),
        Just(MessageType::OutputStreamData),
        Just(MessageType::Acknowledge),
        Just(MessageType::ChannelClosed),
        Just(MessageType::AgentSessionState),
        "[a-z_]{1,32}".prop_map(|name| MessageType::from_name(&name)),
    ]
}

prop_compose! {
    fn any_message()(
        message_type in any_message_type(),
        created_date in 1u64..,
        sequence_number in any::<i64>(),
        flags in any::<u64>(),
        id in any::<u128>(),
        payload_type in any::<u32>(),
        payload in proptest::collection::vec(any::<u8>(), 0..2048),
    ) -> ClientMessage {
        ClientMessage::new(
            message_type, created_date, sequence_number, flags,
            Uuid::from_u128(id), PayloadType::from_u32(payload_type), Bytes::from(payload),
        )
    }
}

proptest! {
    #[test]
    fn encode_decode_round_trip(message in any_message()) {
        let wire = message.encode();
        prop_assert_eq!(wire.len(), HEADER_SIZE + message.payload.len());
        prop_assert_eq!(ClientMessage::decode(&wire), Ok(message));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = ClientMessage::decode(&bytes);
    }

    #[test]
    fn single_bit_flips_never_panic(message in any_message(), bit in 0usize..(120 * 8)) {
        let mut wire = message.encode().to_vec();
        wire[bit / 8] ^= 1 << (bit % 8);
        let _ = ClientMessage::decode(&wire);
    }
}
