//! Hostile-peer behaviours: what a broken or malicious service side may
//! send a client, for robustness tests (issue #8).
//!
//! Two families:
//!
//! * **Frame-level** kinds ([`Hostile::is_raw_frame`]) are one binary
//!   WebSocket frame, sent as is, outside the agent's reliable channel.
//!   Each poses as the agent's *next* `output_stream_data` message (same
//!   sequence number, Output payload) carrying [`POISON`] bytes, so a
//!   client that wrongly accepted one would lose the real message behind
//!   it as a "duplicate" and feed poison to the stream: an echo afterwards
//!   shows it.
//! * **Sequenced** kinds go through the agent's real outgoing channel
//!   (sequence numbers, digests, retransmission), so a client processes
//!   them: an unknown PayloadType, smux frames with a bad version or an
//!   unknown command (spliced into the smux byte stream at a frame
//!   boundary, mux mode only), and a flood of stream data.
//!
//! Names (for `--hostile` and `faults.hostile`) are the kebab-case forms
//! of the variants; the flood takes an optional size, `flood:BYTES`.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use ssm_proto::message::{ClientMessage, HEADER_SIZE, MessageType, PayloadType};

use crate::limits::MAX_WS_MESSAGE;

/// Size of the [`Hostile::OversizeMessage`] frame: over the 2 MiB
/// WebSocket message cap of both the client (`ssm-client`) and the
/// gateway, so a client cannot even read it.
pub const OVERSIZE_LEN: usize = 3 << 20;
/// Size of the [`Hostile::OversizeWithinWsCap`] frame: within the 2 MiB
/// WebSocket caps, over `ssm_proto::message::MAX_MESSAGE_SIZE` (1 MiB).
pub const WITHIN_WS_CAP_LEN: usize = 3 << 19;
// The sizes sit where they must, against the caps they test.
const _: () = {
    assert!(OVERSIZE_LEN > MAX_WS_MESSAGE);
    assert!(WITHIN_WS_CAP_LEN < MAX_WS_MESSAGE);
    assert!(WITHIN_WS_CAP_LEN > ssm_proto::message::MAX_MESSAGE_SIZE);
};
/// Length of the [`Hostile::GarbageFrame`] frame.
pub const GARBAGE_LEN: usize = 256;
/// How much of a valid message [`Hostile::TruncatedHeader`] keeps (of
/// the 120-byte header).
pub const TRUNCATED_LEN: usize = 60;
/// The HeaderLength [`Hostile::HeaderLengthBeyondFrame`] claims.
pub const HOSTILE_HEADER_LENGTH: u32 = u32::MAX;
/// The PayloadLength [`Hostile::HugePayloadLength`] claims.
pub const HOSTILE_PAYLOAD_LENGTH: u32 = u32::MAX;
/// The MessageType name of [`Hostile::UnknownMessageType`].
pub const UNKNOWN_MESSAGE_TYPE: &str = "hostile_message_type";
/// The PayloadType of [`Hostile::UnknownPayloadType`].
pub const UNKNOWN_PAYLOAD_TYPE: u32 = 0x5EED;
/// The payload of the frame-level kinds and of the unknown payload type:
/// fed to smux it is a frame of version 0xEE (fatal); fed to a basic-mode
/// stream it is visible junk.
pub const POISON: &[u8; 32] = b"\xEE\xEEHOSTILE PEER: MUST NOT DELIVER";
/// An smux v2 NOP (version byte 2): [`Hostile::SmuxBadVersion`].
pub const SMUX_BAD_VERSION_FRAME: [u8; 8] = [2, 3, 0, 0, 0, 0, 0, 0];
/// An smux v1 frame with command 9: [`Hostile::SmuxUnknownCommand`].
pub const SMUX_UNKNOWN_COMMAND_FRAME: [u8; 8] = [1, 9, 0, 0, 0, 0, 0, 0];
/// Default size of a flood (`flood` without a size).
pub const DEFAULT_FLOOD_BYTES: u64 = 32 << 20;
/// Payload bytes per smux `PSH` frame of a flood (smux's default frame size).
pub const FLOOD_FRAME_LEN: usize = 32 * 1024;

/// One hostile behaviour. See the module docs for the two families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Hostile {
    /// 256 bytes of seeded noise: not a message at all.
    GarbageFrame,
    /// The first 60 bytes of a valid message: the header is cut short.
    TruncatedHeader,
    /// A valid message whose HeaderLength says 4 GiB: the payload would
    /// start far beyond the frame (the Go decoders panic on this, §9).
    HeaderLengthBeyondFrame,
    /// A valid message (digest included) whose PayloadLength says 4 GiB.
    HugePayloadLength,
    /// A well-formed 3 MiB message: over the WebSocket message caps.
    OversizeMessage,
    /// A well-formed 1.5 MiB message: within the WebSocket caps, over the
    /// 1 MiB message cap of the protocol core.
    OversizeWithinWsCap,
    /// A well-formed message of a type nobody knows.
    UnknownMessageType,
    /// A sequenced agent message whose PayloadType (0x5EED) nobody knows.
    UnknownPayloadType,
    /// An smux frame with version 2 in the agent's Output (mux mode).
    SmuxBadVersion,
    /// An smux frame with command 9 in the agent's Output (mux mode).
    SmuxUnknownCommand,
    /// `bytes` of stream data as fast as the channel takes them: smux
    /// `PSH` frames for the newest stream (the first one to open, if none
    /// is open yet) in mux mode, raw Output in basic mode. The content is
    /// [`flood_byte`] from offset 0.
    Flood {
        /// How many stream bytes.
        bytes: u64,
    },
}

impl Hostile {
    /// Every kind, the flood at its default size.
    pub fn all() -> [Self; 11] {
        [
            Self::GarbageFrame,
            Self::TruncatedHeader,
            Self::HeaderLengthBeyondFrame,
            Self::HugePayloadLength,
            Self::OversizeMessage,
            Self::OversizeWithinWsCap,
            Self::UnknownMessageType,
            Self::UnknownPayloadType,
            Self::SmuxBadVersion,
            Self::SmuxUnknownCommand,
            Self::Flood {
                bytes: DEFAULT_FLOOD_BYTES,
            },
        ]
    }

    /// The kebab-case name (without the flood's size).
    pub fn name(&self) -> &'static str {
        match self {
            Self::GarbageFrame => "garbage-frame",
            Self::TruncatedHeader => "truncated-header",
            Self::HeaderLengthBeyondFrame => "header-length-beyond-frame",
            Self::HugePayloadLength => "huge-payload-length",
            Self::OversizeMessage => "oversize-message",
            Self::OversizeWithinWsCap => "oversize-within-ws-cap",
            Self::UnknownMessageType => "unknown-message-type",
            Self::UnknownPayloadType => "unknown-payload-type",
            Self::SmuxBadVersion => "smux-bad-version",
            Self::SmuxUnknownCommand => "smux-unknown-command",
            Self::Flood { .. } => "flood",
        }
    }

    /// True for the kinds sent as one raw frame ([`Self::raw_frame`]).
    pub fn is_raw_frame(&self) -> bool {
        matches!(
            self,
            Self::GarbageFrame
                | Self::TruncatedHeader
                | Self::HeaderLengthBeyondFrame
                | Self::HugePayloadLength
                | Self::OversizeMessage
                | Self::OversizeWithinWsCap
                | Self::UnknownMessageType
        )
    }

    /// True for the kinds the port plugin produces (smux frames, flood).
    pub fn is_plugin_output(&self) -> bool {
        matches!(
            self,
            Self::SmuxBadVersion | Self::SmuxUnknownCommand | Self::Flood { .. }
        )
    }

    /// The frame of a frame-level kind, posing as the agent's next
    /// `output_stream_data` message `next_seq`, dated `created` (Unix ms).
    /// `None` for the sequenced kinds.
    pub fn raw_frame(&self, next_seq: i64, created: u64) -> Option<Bytes> {
        let message = |message_type: MessageType, payload: Bytes| {
            ClientMessage::new(
                message_type,
                created,
                next_seq,
                0,
                uuid::Uuid::new_v4(),
                PayloadType::Output,
                payload,
            )
            .encode()
        };
        let poison = || Bytes::from_static(POISON);
        let patched = |offset: usize, value: u32| {
            let mut frame = BytesMut::from(&message(MessageType::OutputStreamData, poison())[..]);
            frame[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
            frame.freeze()
        };
        let sized = |len: usize| {
            let payload: Vec<u8> = POISON
                .iter()
                .copied()
                .cycle()
                .take(len - HEADER_SIZE)
                .collect();
            message(MessageType::OutputStreamData, payload.into())
        };
        Some(match self {
            Self::GarbageFrame => {
                let mut noise = BytesMut::with_capacity(GARBAGE_LEN);
                let mut state = 0x6A09_E667_F3BC_C908;
                while noise.len() < GARBAGE_LEN {
                    noise.put_u64(splitmix64(&mut state));
                }
                noise.freeze()
            }
            Self::TruncatedHeader => {
                message(MessageType::OutputStreamData, poison()).slice(..TRUNCATED_LEN)
            }
            Self::HeaderLengthBeyondFrame => patched(0, HOSTILE_HEADER_LENGTH),
            Self::HugePayloadLength => patched(HEADER_SIZE - 4, HOSTILE_PAYLOAD_LENGTH),
            Self::OversizeMessage => sized(OVERSIZE_LEN),
            Self::OversizeWithinWsCap => sized(WITHIN_WS_CAP_LEN),
            Self::UnknownMessageType => {
                message(MessageType::from_name(UNKNOWN_MESSAGE_TYPE), poison())
            }
            _ => return None,
        })
    }
}

impl fmt::Display for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flood { bytes } if *bytes != DEFAULT_FLOOD_BYTES => write!(f, "flood:{bytes}"),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Hostile {
    type Err = String;

    /// A kind's name; the flood also as `flood:BYTES` (with an optional
    /// `K`/`M`/`G` binary suffix, e.g. `flood:16M`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Some(size) = text.strip_prefix("flood:") {
            return parse_size(size).map(|bytes| Self::Flood { bytes });
        }
        Self::all()
            .into_iter()
            .find(|kind| kind.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::all().iter().map(Self::name).collect();
                format!(
                    "unknown hostile behaviour `{text}`; one of: {}, flood:BYTES",
                    names.join(", ")
                )
            })
    }
}

impl TryFrom<String> for Hostile {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Hostile> for String {
    fn from(kind: Hostile) -> Self {
        kind.to_string()
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 10),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 20),
        Some(b'G' | b'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{text}` is not a flood size in bytes (e.g. 16M)"))
}

/// Byte `index` of a flood: 8-byte words of a splitmix64 sequence, so a
/// lost, repeated or reordered piece never lines up with the pattern.
pub fn flood_byte(index: u64) -> u8 {
    let mut state = index / 8;
    splitmix64(&mut state).to_le_bytes()[(index % 8) as usize]
}

/// Fills `out` with flood bytes from offset `start`.
pub fn fill_flood(start: u64, out: &mut [u8]) {
    let mut word = None;
    for (index, byte) in (start..).zip(out.iter_mut()) {
        let lane = (index % 8) as usize;
        let bytes = match word {
            Some(bytes) if lane != 0 => bytes,
            _ => {
                let mut state = index / 8;
                splitmix64(&mut state).to_le_bytes()
            }
        };
        word = Some(bytes);
        *byte = bytes[lane];
    }
}

/// The smux `PSH` frame carrying flood bytes `start..start + len` for `sid`.
pub(crate) fn flood_psh_frame(sid: u32, start: u64, len: usize) -> Vec<u8> {
    let len = len.min(FLOOD_FRAME_LEN);
    let mut frame = vec![0u8; 8 + len];
    frame[0] = 1;
    frame[1] = 2;
    frame[2..4].copy_from_slice(&(len as u16).to_le_bytes());
    frame[4..8].copy_from_slice(&sid.to_le_bytes());
    fill_flood(start, &mut frame[8..]);
    frame
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssm_proto::error::DecodeError;
    use ssm_proto::message::MAX_MESSAGE_SIZE;

    const SEQ: i64 = 7;
    const DATE: u64 = 1_700_000_000_000;

    fn frame(kind: Hostile) -> Bytes {
        kind.raw_frame(SEQ, DATE).expect("a frame-level kind")
    }

    #[test]
    fn garbage_is_not_a_message() {
        let garbage = frame(Hostile::GarbageFrame);
        assert_eq!(garbage.len(), GARBAGE_LEN);
        assert_eq!(garbage, frame(Hostile::GarbageFrame), "seeded, stable");
        let error = ClientMessage::decode(&garbage).unwrap_err();
        assert!(
            matches!(error, DecodeError::HeaderLengthOutOfRange { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn truncated_header_is_too_short() {
        let truncated = frame(Hostile::TruncatedHeader);
        assert_eq!(truncated.len(), TRUNCATED_LEN);
        assert_eq!(
            ClientMessage::decode(&truncated),
            Err(DecodeError::TooShort { len: TRUNCATED_LEN })
        );
        // It is the start of a real output_stream_data message.
        assert_eq!(&truncated[4..22], b"output_stream_data");
    }

    #[test]
    fn header_length_points_beyond_the_frame() {
        let bad = frame(Hostile::HeaderLengthBeyondFrame);
        assert_eq!(
            ClientMessage::decode(&bad),
            Err(DecodeError::HeaderLengthOutOfRange {
                header_length: HOSTILE_HEADER_LENGTH,
                len: HEADER_SIZE + POISON.len(),
            })
        );
        // Everything but the HeaderLength field is a valid message.
        let mut repaired = bad.to_vec();
        repaired[..4].copy_from_slice(&116u32.to_be_bytes());
        let message = ClientMessage::decode(&repaired).unwrap();
        assert_eq!(message.sequence_number, SEQ);
        assert_eq!(&message.payload[..], POISON);
    }

    #[test]
    fn huge_payload_length_is_refused() {
        let bad = frame(Hostile::HugePayloadLength);
        assert_eq!(
            ClientMessage::decode(&bad),
            Err(DecodeError::PayloadLengthMismatch {
                declared: HOSTILE_PAYLOAD_LENGTH,
                actual: POISON.len(),
            })
        );
        let mut repaired = bad.to_vec();
        repaired[116..120].copy_from_slice(&(POISON.len() as u32).to_be_bytes());
        assert!(ClientMessage::decode(&repaired).is_ok(), "digest is valid");
    }

    #[test]
    fn oversize_messages_are_well_formed_but_too_large() {
        let oversize = frame(Hostile::OversizeMessage);
        assert_eq!(oversize.len(), OVERSIZE_LEN);
        let within = frame(Hostile::OversizeWithinWsCap);
        assert_eq!(within.len(), WITHIN_WS_CAP_LEN);
        for (bytes, len) in [(oversize, OVERSIZE_LEN), (within, WITHIN_WS_CAP_LEN)] {
            assert_eq!(
                ClientMessage::decode(&bytes),
                Err(DecodeError::TooLarge {
                    len,
                    max: MAX_MESSAGE_SIZE
                })
            );
            // Only the size is wrong: length field and digest are right.
            let declared = u32::from_be_bytes(bytes[116..120].try_into().unwrap());
            assert_eq!(declared as usize, len - HEADER_SIZE);
            let digest = ssm_proto::message::payload_digest(&bytes[HEADER_SIZE..]);
            assert_eq!(&bytes[80..112], &digest[..]);
        }
    }

    #[test]
    fn unknown_message_type_decodes_as_unknown() {
        let message = ClientMessage::decode(&frame(Hostile::UnknownMessageType)).unwrap();
        assert_eq!(
            message.message_type,
            MessageType::Unknown(UNKNOWN_MESSAGE_TYPE.into())
        );
        assert_eq!(message.sequence_number, SEQ);
        assert_eq!(message.payload_type, PayloadType::Output);
    }

    #[test]
    fn sequenced_kinds_have_no_raw_frame() {
        for kind in Hostile::all() {
            assert_eq!(kind.raw_frame(SEQ, DATE).is_some(), kind.is_raw_frame());
            assert!(!(kind.is_raw_frame() && kind.is_plugin_output()));
        }
    }

    #[test]
    fn unknown_payload_type_is_unknown() {
        assert_eq!(
            PayloadType::from_u32(UNKNOWN_PAYLOAD_TYPE),
            PayloadType::Unknown(UNKNOWN_PAYLOAD_TYPE)
        );
    }

    fn smux_client() -> ssm_mux::Session {
        ssm_mux::Session::new(
            ssm_mux::Role::Client,
            ssm_mux::Config::default(),
            std::time::Instant::now(),
        )
        .unwrap()
    }

    #[test]
    fn smux_frames_kill_an_smux_session() {
        let mut session = smux_client();
        assert_eq!(
            session.handle_input(&SMUX_BAD_VERSION_FRAME),
            Err(ssm_mux::SessionError::InvalidVersion { version: 2 })
        );
        let mut session = smux_client();
        assert_eq!(
            session.handle_input(&SMUX_UNKNOWN_COMMAND_FRAME),
            Err(ssm_mux::SessionError::UnknownCommand { cmd: 9 })
        );
        // The poison payload too, should a client deliver it to smux.
        let mut session = smux_client();
        assert_eq!(
            session.handle_input(POISON),
            Err(ssm_mux::SessionError::InvalidVersion { version: 0xEE })
        );
    }

    #[test]
    fn flood_frames_carry_the_pattern_to_the_stream() {
        let mut session = smux_client();
        let sid = session.open().unwrap();
        let mut offset = 0u64;
        for len in [FLOOD_FRAME_LEN, 100, FLOOD_FRAME_LEN + 5] {
            let frame = flood_psh_frame(sid.0, offset, len);
            assert_eq!(session.handle_input(&frame), Ok(frame.len()));
            offset += (frame.len() - 8) as u64;
        }
        let mut received = vec![0u8; offset as usize];
        let mut filled = 0;
        while filled < received.len() {
            match session.read(sid, &mut received[filled..]).unwrap() {
                ssm_mux::ReadOutcome::Data(n) => filled += n,
                other => panic!("{other:?}"),
            }
        }
        let expected: Vec<u8> = (0..offset).map(flood_byte).collect();
        assert!(received == expected);
    }

    #[test]
    fn fill_flood_matches_flood_byte_at_any_offset() {
        for start in [0u64, 1, 7, 8, 9, 1_000_003] {
            let mut out = [0u8; 37];
            fill_flood(start, &mut out);
            let expected: Vec<u8> = (start..start + 37).map(flood_byte).collect();
            assert_eq!(&out[..], &expected[..], "start {start}");
        }
        // No short period: a slip by any small amount shows.
        let run: Vec<u8> = (0..4096).map(flood_byte).collect();
        for slip in 1..64 {
            assert_ne!(&run[..1024], &run[slip..1024 + slip], "slip {slip}");
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in Hostile::all() {
            assert_eq!(kind.to_string().parse::<Hostile>(), Ok(kind));
        }
        assert_eq!(
            "flood:16M".parse::<Hostile>(),
            Ok(Hostile::Flood { bytes: 16 << 20 })
        );
        assert_eq!(
            Hostile::Flood { bytes: 1000 }
                .to_string()
                .parse::<Hostile>(),
            Ok(Hostile::Flood { bytes: 1000 })
        );
        assert!("flood:0".parse::<Hostile>().is_err());
        assert!("flood:lots".parse::<Hostile>().is_err());
        let error = "nonsense".parse::<Hostile>().unwrap_err();
        assert!(error.contains("smux-bad-version"), "{error}");
    }
}
