//! Checks for the `payloads` target: JSON and flag payload parsers.

use std::fmt::Debug;

use serde_json::{Map, Value};
use ssm_proto::PayloadError;
use ssm_proto::payload::{
    AcknowledgeContent, ChannelClosed, EncryptionChallenge, Flag, HandshakeComplete,
    HandshakeRequest, HandshakeResponse, OpenDataChannel, PortProperties,
};

/// Parse, serialize, parse again: equal values, and serialization stable.
fn round_trip<T, S>(bytes: &[u8], parse: fn(&[u8]) -> Result<T, PayloadError>, serialize: S) -> bool
where
    T: PartialEq + Debug,
    S: Fn(&T) -> bytes::Bytes,
{
    let Ok(first) = parse(bytes) else {
        return false;
    };
    let encoded = serialize(&first);
    let second = match parse(&encoded) {
        Ok(second) => second,
        Err(error) => panic!("{first:?} serialized to unparsable {encoded:?}: {error}"),
    };
    assert_eq!(second, first, "parse(serialize(x)) != x");
    assert_eq!(serialize(&second), encoded, "serialization is not stable");
    true
}

fn flag(bytes: &[u8]) -> bool {
    match Flag::from_bytes(bytes) {
        Ok(flag) => {
            assert_eq!(&flag.to_bytes()[..], bytes);
            assert_eq!(Flag::from_u32(flag.to_u32()), flag);
            true
        }
        Err(_) => {
            assert_ne!(bytes.len(), 4, "a 4-byte flag was refused");
            false
        }
    }
}

fn open_data_channel(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Ok(first) = OpenDataChannel::from_json(&text) else {
        return false;
    };
    let json = first.to_json();
    let second = OpenDataChannel::from_json(&json).expect("to_json output parses");
    assert_eq!(second, first);
    assert_eq!(second.to_json(), json);
    true
}

fn port_properties(bytes: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    let first = PortProperties::from_value(&value);
    let _ = first.local_port();
    let _ = first.is_local_port_forwarding();
    let fields = [
        ("portNumber", &first.port_number),
        ("localPortNumber", &first.local_port_number),
        ("host", &first.host),
        ("type", &first.port_type),
        ("localConnectionType", &first.local_connection_type),
        ("localUnixSocket", &first.local_unix_socket),
    ];
    let object: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(key, field)| Some((key.to_owned(), Value::String(field.clone()?))))
        .collect();
    let reparsed: Value =
        serde_json::from_str(&Value::Object(object).to_string()).expect("serde_json output parses");
    assert_eq!(PortProperties::from_value(&reparsed), first);
    true
}

/// Runs the parser the first byte selects on the remaining bytes. Returns
/// true when the parse succeeded (and was checked).
pub fn check(data: &[u8]) -> bool {
    let Some((&selector, bytes)) = data.split_first() else {
        return false;
    };
    match selector % 9 {
        0 => round_trip(
            bytes,
            AcknowledgeContent::from_bytes,
            AcknowledgeContent::to_bytes,
        ),
        1 => round_trip(
            bytes,
            HandshakeRequest::from_bytes,
            HandshakeRequest::to_bytes,
        ),
        2 => round_trip(
            bytes,
            HandshakeResponse::from_bytes,
            HandshakeResponse::to_bytes,
        ),
        3 => round_trip(
            bytes,
            HandshakeComplete::from_bytes,
            HandshakeComplete::to_bytes,
        ),
        4 => round_trip(
            bytes,
            EncryptionChallenge::from_bytes,
            EncryptionChallenge::to_bytes,
        ),
        5 => round_trip(bytes, ChannelClosed::from_bytes, ChannelClosed::to_bytes),
        6 => flag(bytes),
        7 => open_data_channel(bytes),
        _ => port_properties(bytes),
    }
}
