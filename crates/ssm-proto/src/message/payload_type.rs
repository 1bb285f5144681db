//! The `PayloadType` header field (protocol.md §4.2).

/// What the payload of a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// 0: acks, channel_closed and other control messages.
    Undefined,
    /// 1: stream bytes (port data, smux bytes) in both directions.
    Output,
    /// 2: defined by the service, unused.
    Error,
    /// 3: terminal size (shell sessions only).
    Size,
    /// 4: defined by the service, unused.
    Parameter,
    /// 5: agent → client handshake request.
    HandshakeRequest,
    /// 6: client → agent handshake response.
    HandshakeResponse,
    /// 7: agent → client handshake completion.
    HandshakeComplete,
    /// 8: agent → client KMS challenge.
    EncChallengeRequest,
    /// 9: client → agent KMS challenge answer.
    EncChallengeResponse,
    /// 10: a 4-byte control flag, see [`crate::payload::Flag`].
    Flag,
    /// 11: agent → client standard error (non-interactive commands).
    StdErr,
    /// 12: agent → client exit code (non-interactive commands).
    ExitCode,
    /// Any value this crate does not know.
    Unknown(u32),
}

impl PayloadType {
    /// The wire value.
    pub fn to_u32(self) -> u32 {
        match self {
            Self::Undefined => 0,
            Self::Output => 1,
            Self::Error => 2,
            Self::Size => 3,
            Self::Parameter => 4,
            Self::HandshakeRequest => 5,
            Self::HandshakeResponse => 6,
            Self::HandshakeComplete => 7,
            Self::EncChallengeRequest => 8,
            Self::EncChallengeResponse => 9,
            Self::Flag => 10,
            Self::StdErr => 11,
            Self::ExitCode => 12,
            Self::Unknown(value) => value,
        }
    }

    /// Maps a wire value; unknown values become [`PayloadType::Unknown`].
    pub fn from_u32(value: u32) -> Self {
        match value {
            0 => Self::Undefined,
            1 => Self::Output,
            2 => Self::Error,
            3 => Self::Size,
            4 => Self::Parameter,
            5 => Self::HandshakeRequest,
            6 => Self::HandshakeResponse,
            7 => Self::HandshakeComplete,
            8 => Self::EncChallengeRequest,
            9 => Self::EncChallengeResponse,
            10 => Self::Flag,
            11 => Self::StdErr,
            12 => Self::ExitCode,
            other => Self::Unknown(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for value in 0..40 {
            assert_eq!(PayloadType::from_u32(value).to_u32(), value);
        }
        assert_eq!(PayloadType::from_u32(99), PayloadType::Unknown(99));
    }
}
