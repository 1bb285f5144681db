//! The 32-byte `MessageType` header field.

use std::fmt;

/// Width of the MessageType field on the wire.
pub const MESSAGE_TYPE_FIELD_LEN: usize = 32;

/// The kind of a data-channel message (protocol.md §4.1).
///
/// Unknown names decode to [`MessageType::Unknown`] so that new service
/// message types never break decoding; receivers ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Client → agent stream data (sequenced).
    InputStreamData,
    /// Agent → client stream data (sequenced).
    OutputStreamData,
    /// Acknowledgement of one sequenced message.
    Acknowledge,
    /// The gateway closed the channel; payload is [`crate::payload::ChannelClosed`].
    ChannelClosed,
    /// The gateway asks the receiver to resume sending.
    StartPublication,
    /// The gateway asks the receiver to stop sending.
    PausePublication,
    /// Agent → gateway session state report.
    AgentSessionState,
    /// Any other name, kept as received (trimmed, at most 32 bytes).
    Unknown(String),
}

impl MessageType {
    /// The wire name of this message type.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InputStreamData => "input_stream_data",
            Self::OutputStreamData => "output_stream_data",
            Self::Acknowledge => "acknowledge",
            Self::ChannelClosed => "channel_closed",
            Self::StartPublication => "start_publication",
            Self::PausePublication => "pause_publication",
            Self::AgentSessionState => "agent_session_state",
            Self::Unknown(name) => name,
        }
    }

    /// Maps a trimmed wire name to a message type.
    pub fn from_name(name: &str) -> Self {
        match name {
            "input_stream_data" => Self::InputStreamData,
            "output_stream_data" => Self::OutputStreamData,
            "acknowledge" => Self::Acknowledge,
            "channel_closed" => Self::ChannelClosed,
            "start_publication" => Self::StartPublication,
            "pause_publication" => Self::PausePublication,
            "agent_session_state" => Self::AgentSessionState,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// True for the two sequenced stream-data types.
    pub fn is_stream_data(&self) -> bool {
        matches!(self, Self::InputStreamData | Self::OutputStreamData)
    }

    /// True for the gateway's flow-control notices, which real gateways are
    /// reported to send with loose header fields (protocol.md §3, landscape.md).
    pub fn is_publication_notice(&self) -> bool {
        matches!(self, Self::StartPublication | Self::PausePublication)
    }

    /// Writes the name space-padded into the 32-byte field.
    ///
    /// Names longer than 32 bytes are truncated (only possible for
    /// hand-built [`MessageType::Unknown`] values).
    pub(crate) fn encode_field(&self) -> [u8; MESSAGE_TYPE_FIELD_LEN] {
        let mut field = [b' '; MESSAGE_TYPE_FIELD_LEN];
        let name = self.as_str().as_bytes();
        let len = name.len().min(MESSAGE_TYPE_FIELD_LEN);
        field[..len].copy_from_slice(&name[..len]);
        field
    }

    /// Reads the field the way both Go decoders do: strip NULs at both
    /// ends, then whitespace. Returns `None` when nothing is left.
    ///
    /// Invalid UTF-8 becomes U+FFFD and the result is cut back to 32
    /// bytes (at a character boundary) and trimmed again, so an
    /// [`MessageType::Unknown`] name always re-encodes to itself.
    pub(crate) fn decode_field(field: &[u8]) -> Option<Self> {
        let text = String::from_utf8_lossy(field);
        let padding = |c: char| c == '\0' || c.is_whitespace();
        let name = text.trim_matches(padding);
        let mut end = name.len().min(MESSAGE_TYPE_FIELD_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let name = name[..end].trim_end_matches(padding);
        if name.is_empty() {
            None
        } else {
            Some(Self::from_name(name))
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_with_spaces() {
        let field = MessageType::Acknowledge.encode_field();
        assert_eq!(&field[..11], b"acknowledge");
        assert!(field[11..].iter().all(|&b| b == b' '));
    }

    #[test]
    fn strips_nuls_and_spaces() {
        let mut field = [0u8; 32];
        field[2..13].copy_from_slice(b"acknowledge");
        field[13] = b' ';
        assert_eq!(
            MessageType::decode_field(&field),
            Some(MessageType::Acknowledge)
        );
        assert_eq!(MessageType::decode_field(&[b' '; 32]), None);
        assert_eq!(MessageType::decode_field(&[0; 32]), None);
    }

    #[test]
    fn odd_names_re_encode_to_themselves() {
        for field in [
            {
                let mut f = [0xffu8; 32];
                f[0] = b'a';
                f
            },
            {
                let mut f = [b' '; 32];
                f[..6].copy_from_slice(b"\0 \0ack");
                f
            },
        ] {
            let decoded = MessageType::decode_field(&field).unwrap();
            assert!(decoded.as_str().len() <= MESSAGE_TYPE_FIELD_LEN);
            assert_eq!(
                MessageType::decode_field(&decoded.encode_field()),
                Some(decoded)
            );
        }
    }

    #[test]
    fn unknown_names_survive() {
        let field = MessageType::from_name("agent_job").encode_field();
        assert_eq!(
            MessageType::decode_field(&field),
            Some(MessageType::Unknown("agent_job".into()))
        );
    }
}
