//! Pure smux frame codec: no session state, no allocation.
//!
//! A frame is an 8-byte header followed by a payload whose wire length
//! depends on the command (see [`FrameHeader::payload_len`]):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | version (1) |
//! | 1 | command ([`Cmd`]) |
//! | 2–3 | length, `u16` little-endian |
//! | 4–7 | stream id, `u32` little-endian |
//!
//! The codec accepts any version byte and any command byte so that callers
//! (and fuzz targets) can see exactly what arrived; the session decides what
//! is a protocol error.

use std::fmt;

use bytes::BufMut;

use crate::error::FrameError;
use crate::stream::StreamId;

/// Length of a frame header on the wire.
pub const HEADER_LEN: usize = 8;

/// The only protocol version this crate speaks.
pub const VERSION_1: u8 = 1;

/// Largest payload a frame can carry (the length field is a `u16`).
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize;

/// Wire length of a `UPD` payload (consumed `u32` LE + window `u32` LE).
pub const UPD_PAYLOAD_LEN: usize = 8;

/// A frame command byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmd {
    /// `0`: open a stream.
    Syn,
    /// `1`: close a stream (end of data).
    Fin,
    /// `2`: stream data.
    Psh,
    /// `3`: keepalive, sent with stream id 0.
    Nop,
    /// `4`: window update (protocol v2 only; parsed and ignored in v1).
    Upd,
    /// Any other byte (never 0–4 when produced by [`Cmd::from_byte`]).
    /// Receiving one kills a session.
    Unknown(u8),
}

impl Cmd {
    /// Maps a wire byte to a command; never fails.
    #[must_use]
    pub const fn from_byte(byte: u8) -> Self {
        match byte {
            0 => Self::Syn,
            1 => Self::Fin,
            2 => Self::Psh,
            3 => Self::Nop,
            4 => Self::Upd,
            other => Self::Unknown(other),
        }
    }

    /// The wire byte of this command.
    #[must_use]
    pub const fn to_byte(self) -> u8 {
        match self {
            Self::Syn => 0,
            Self::Fin => 1,
            Self::Psh => 2,
            Self::Nop => 3,
            Self::Upd => 4,
            Self::Unknown(other) => other,
        }
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Protocol version byte as received (1 for every frame this crate sends).
    pub version: u8,
    /// Command.
    pub cmd: Cmd,
    /// The raw length field. Only meaningful for `PSH`; see [`Self::payload_len`].
    pub length: u16,
    /// Stream id (0 for `NOP`).
    pub sid: StreamId,
}

impl FrameHeader {
    /// A version-1 header.
    #[must_use]
    pub const fn new(cmd: Cmd, sid: StreamId, length: u16) -> Self {
        Self {
            version: VERSION_1,
            cmd,
            length,
            sid,
        }
    }

    /// Decodes the first [`HEADER_LEN`] bytes of `buf`; extra bytes are ignored.
    ///
    /// # Errors
    /// [`FrameError::Incomplete`] if `buf` is shorter than a header.
    pub fn decode(buf: &[u8]) -> Result<Self, FrameError> {
        match buf.first_chunk::<HEADER_LEN>() {
            Some(raw) => Ok(Self::from_bytes(raw)),
            None => Err(FrameError::Incomplete {
                needed: HEADER_LEN - buf.len(),
            }),
        }
    }

    /// Decodes exactly one header; cannot fail.
    #[must_use]
    pub fn from_bytes(raw: &[u8; HEADER_LEN]) -> Self {
        Self {
            version: raw[0],
            cmd: Cmd::from_byte(raw[1]),
            length: u16::from_le_bytes([raw[2], raw[3]]),
            sid: StreamId(u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]])),
        }
    }

    /// Appends the 8 header bytes to `out`.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_slice(&self.to_bytes());
    }

    /// The 8 header bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let length = self.length.to_le_bytes();
        let sid = self.sid.0.to_le_bytes();
        [
            self.version,
            self.cmd.to_byte(),
            length[0],
            length[1],
            sid[0],
            sid[1],
            sid[2],
            sid[3],
        ]
    }

    /// How many payload bytes follow this header on the wire, as smux
    /// v1.5.15/16 reads them: `length` for `PSH`, 8 for `UPD` (whatever the
    /// length field says), and 0 for every other command (`SYN`, `FIN` and
    /// `NOP` ignore the length field).
    #[must_use]
    pub const fn payload_len(&self) -> usize {
        match self.cmd {
            Cmd::Psh => self.length as usize,
            Cmd::Upd => UPD_PAYLOAD_LEN,
            Cmd::Syn | Cmd::Fin | Cmd::Nop | Cmd::Unknown(_) => 0,
        }
    }
}

impl fmt::Display for FrameHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ver={} cmd={:?} len={} sid={}",
            self.version, self.cmd, self.length, self.sid
        )
    }
}

/// The payload of a `UPD` frame (protocol v2 window update).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpdPayload {
    /// Bytes the peer has consumed on this stream.
    pub consumed: u32,
    /// The peer's receive window for this stream.
    pub window: u32,
}

impl UpdPayload {
    /// Decodes the first [`UPD_PAYLOAD_LEN`] bytes of `buf`.
    ///
    /// # Errors
    /// [`FrameError::Incomplete`] if `buf` is shorter than 8 bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, FrameError> {
        let Some(raw) = buf.first_chunk::<UPD_PAYLOAD_LEN>() else {
            return Err(FrameError::Incomplete {
                needed: UPD_PAYLOAD_LEN - buf.len(),
            });
        };
        Ok(Self {
            consumed: u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]),
            window: u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]),
        })
    }

    /// Appends the 8 payload bytes to `out`.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32_le(self.consumed);
        out.put_u32_le(self.window);
    }
}

/// A whole frame borrowed from an input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: FrameHeader,
    /// The payload, [`FrameHeader::payload_len`] bytes long.
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Decodes one frame from the start of `buf` and returns it together with
    /// the number of bytes it occupies.
    ///
    /// # Errors
    /// [`FrameError::Incomplete`] with the number of missing bytes if `buf`
    /// does not hold a whole frame yet.
    pub fn decode(buf: &'a [u8]) -> Result<(Self, usize), FrameError> {
        let header = FrameHeader::decode(buf)?;
        let total = HEADER_LEN + header.payload_len();
        let Some(payload) = buf.get(HEADER_LEN..total) else {
            return Err(FrameError::Incomplete {
                needed: total - buf.len(),
            });
        };
        Ok((Self { header, payload }, total))
    }

    /// Appends the header followed by the payload to `out`.
    pub fn encode(&self, out: &mut impl BufMut) {
        self.header.encode(out);
        out.put_slice(self.payload);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn encoded(header: FrameHeader, payload: &[u8]) -> String {
        let mut out = Vec::new();
        Frame { header, payload }.encode(&mut out);
        hex(&out)
    }

    #[test]
    fn example_frames_match_protocol_notes() {
        let sid3 = StreamId(3);
        assert_eq!(
            encoded(FrameHeader::new(Cmd::Syn, sid3, 0), b""),
            "01 00 00 00 03 00 00 00"
        );
        assert_eq!(
            encoded(FrameHeader::new(Cmd::Psh, sid3, 5), b"hello"),
            "01 02 05 00 03 00 00 00 68 65 6c 6c 6f"
        );
        assert_eq!(
            encoded(FrameHeader::new(Cmd::Fin, sid3, 0), b""),
            "01 01 00 00 03 00 00 00"
        );
        assert_eq!(
            encoded(FrameHeader::new(Cmd::Nop, StreamId(0), 0), b""),
            "01 03 00 00 00 00 00 00"
        );
    }

    #[test]
    fn fields_are_little_endian() {
        let header = FrameHeader::decode(&[1, 2, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12]).unwrap();
        assert_eq!(header.length, 0x1234);
        assert_eq!(header.sid, StreamId(0x1234_5678));
    }

    #[test]
    fn short_header_reports_missing_bytes() {
        assert_eq!(
            FrameHeader::decode(&[1, 2, 3]),
            Err(FrameError::Incomplete { needed: 5 })
        );
    }

    #[test]
    fn control_frames_ignore_length_field() {
        for cmd in [Cmd::Syn, Cmd::Fin, Cmd::Nop, Cmd::Unknown(9)] {
            assert_eq!(FrameHeader::new(cmd, StreamId(3), 500).payload_len(), 0);
        }
        assert_eq!(FrameHeader::new(Cmd::Upd, StreamId(3), 0).payload_len(), 8);
        assert_eq!(
            FrameHeader::new(Cmd::Psh, StreamId(3), 500).payload_len(),
            500
        );
    }

    #[test]
    fn truncated_psh_payload_is_incomplete() {
        let bytes = [1, 2, 5, 0, 3, 0, 0, 0, b'h', b'e'];
        assert_eq!(
            Frame::decode(&bytes),
            Err(FrameError::Incomplete { needed: 3 })
        );
    }

    #[test]
    fn upd_payload_decodes_little_endian() {
        let upd = UpdPayload::decode(&[1, 0, 0, 0, 0, 0, 4, 0]).unwrap();
        assert_eq!(
            upd,
            UpdPayload {
                consumed: 1,
                window: 262_144
            }
        );
        let mut out = Vec::new();
        upd.encode(&mut out);
        assert_eq!(out, [1, 0, 0, 0, 0, 0, 4, 0]);
    }

    fn any_header() -> impl Strategy<Value = FrameHeader> {
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u32>()).prop_map(
            |(version, cmd, length, sid)| FrameHeader {
                version,
                cmd: Cmd::from_byte(cmd),
                length,
                sid: StreamId(sid),
            },
        )
    }

    proptest! {
        #[test]
        fn header_round_trips(header in any_header()) {
            let bytes = header.to_bytes();
            prop_assert_eq!(FrameHeader::decode(&bytes), Ok(header));
        }

        #[test]
        fn cmd_byte_round_trips(byte in any::<u8>()) {
            prop_assert_eq!(Cmd::from_byte(byte).to_byte(), byte);
        }

        #[test]
        fn frame_round_trips(
            header in any_header(),
            body in proptest::collection::vec(any::<u8>(), 0..600),
            trailing in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut header = header;
            if header.cmd == Cmd::Psh {
                header.length = u16::try_from(body.len()).unwrap();
            }
            let payload = &body[..header.payload_len().min(body.len())];
            prop_assume!(payload.len() == header.payload_len());
            let mut wire = Vec::new();
            Frame { header, payload }.encode(&mut wire);
            wire.extend_from_slice(&trailing);
            let (frame, used) = Frame::decode(&wire).unwrap();
            prop_assert_eq!(used, HEADER_LEN + payload.len());
            prop_assert_eq!(frame, Frame { header, payload });
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok((frame, used)) = Frame::decode(&bytes) {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(frame.payload.len(), frame.header.payload_len());
            }
        }
    }
}
