//! Flag payloads: a big-endian u32 (protocol.md §4.5).

use bytes::Bytes;

use crate::error::PayloadError;

/// A control flag carried with PayloadType 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// 1, client → agent, basic mode: the local connection ended.
    DisconnectToPort,
    /// 2, client → agent: end the session.
    TerminateSession,
    /// 3, agent → client, mux mode: dialling the destination failed.
    ConnectToPortError,
    /// Any other value.
    Unknown(u32),
}

impl Flag {
    /// The wire value.
    pub fn to_u32(self) -> u32 {
        match self {
            Self::DisconnectToPort => 1,
            Self::TerminateSession => 2,
            Self::ConnectToPortError => 3,
            Self::Unknown(value) => value,
        }
    }

    /// Maps a wire value.
    pub fn from_u32(value: u32) -> Self {
        match value {
            1 => Self::DisconnectToPort,
            2 => Self::TerminateSession,
            3 => Self::ConnectToPortError,
            other => Self::Unknown(other),
        }
    }

    /// The 4-byte payload.
    pub fn to_bytes(self) -> Bytes {
        Bytes::copy_from_slice(&self.to_u32().to_be_bytes())
    }

    /// Parses a 4-byte payload.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        let raw: [u8; 4] = bytes
            .try_into()
            .map_err(|_| PayloadError::FlagLength { len: bytes.len() })?;
        Ok(Self::from_u32(u32::from_be_bytes(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminate_is_big_endian_two() {
        assert_eq!(&Flag::TerminateSession.to_bytes()[..], &[0, 0, 0, 2]);
        assert_eq!(
            Flag::from_bytes(&[0, 0, 0, 3]),
            Ok(Flag::ConnectToPortError)
        );
        assert_eq!(Flag::from_bytes(&[0, 0, 9, 0]), Ok(Flag::Unknown(0x900)));
        assert_eq!(
            Flag::from_bytes(&[0, 0, 2]),
            Err(PayloadError::FlagLength { len: 3 })
        );
    }
}
