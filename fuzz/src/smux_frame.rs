//! Checks for the `smux_frame` target: the smux v1 frame codec.

use ssm_mux::frame::{Cmd, Frame, FrameHeader, HEADER_LEN, UPD_PAYLOAD_LEN, UpdPayload};

/// Decodes a header, a whole frame and a `UPD` payload from `data` and
/// checks each against its re-encoding. Returns the decoded frame's length.
pub fn check(data: &[u8]) -> Option<usize> {
    let header = match FrameHeader::decode(data) {
        Ok(header) => header,
        Err(error) => {
            assert!(data.len() < HEADER_LEN, "{error} on {} bytes", data.len());
            assert!(Frame::decode(data).is_err());
            return None;
        }
    };
    assert_eq!(header.to_bytes()[..], data[..HEADER_LEN]);
    assert_eq!(Cmd::from_byte(header.cmd.to_byte()), header.cmd);
    let mut encoded = Vec::new();
    header.encode(&mut encoded);
    assert_eq!(encoded[..], data[..HEADER_LEN]);
    let expected_payload = match header.cmd {
        Cmd::Psh => usize::from(header.length),
        Cmd::Upd => UPD_PAYLOAD_LEN,
        _ => 0,
    };
    assert_eq!(header.payload_len(), expected_payload);

    let total = HEADER_LEN + header.payload_len();
    let (frame, used) = match Frame::decode(data) {
        Ok(decoded) => decoded,
        Err(ssm_mux::FrameError::Incomplete { needed }) => {
            assert!(data.len() < total);
            assert_eq!(data.len() + needed, total, "needed is exact");
            return None;
        }
        Err(other) => panic!("unexpected {other:?}"),
    };
    assert_eq!(used, total);
    assert_eq!(frame.header, header);
    assert_eq!(frame.payload, &data[HEADER_LEN..used]);
    let mut encoded = Vec::new();
    frame.encode(&mut encoded);
    assert_eq!(encoded[..], data[..used], "frame re-encodes to its input");

    if header.cmd == Cmd::Upd {
        let upd = UpdPayload::decode(frame.payload).expect("8-byte UPD payload decodes");
        let mut encoded = Vec::new();
        upd.encode(&mut encoded);
        assert_eq!(encoded[..], frame.payload[..]);
    }
    Some(used)
}
