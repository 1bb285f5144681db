//! Error types, one per domain: codec, configuration, session, stream.

use std::io;

use crate::stream::StreamId;

/// The frame codec could not decode its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The buffer ends before the header or payload does. Wait for at least
    /// `needed` more bytes and decode again from the same start.
    #[error("incomplete frame: {needed} more bytes needed")]
    Incomplete {
        /// How many more bytes are required.
        needed: usize,
    },
}

/// A [`Config`](crate::Config) value is out of range. Fix the configuration;
/// no session was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_frame_size` must be between 1 and 65535 (the length field is a `u16`).
    #[error("max frame size {0} is not in 1..=65535")]
    MaxFrameSize(usize),
    /// `max_receive_buffer` must be positive.
    #[error("max receive buffer must be positive")]
    MaxReceiveBuffer,
    /// `max_stream_receive_buffer` must be positive.
    #[error("max_stream_receive_buffer must be positive")]
    MaxStreamReceiveBuffer,
    /// `max_stream_write_buffer` must be positive.
    #[error("max stream write buffer must be positive")]
    MaxStreamWriteBuffer,
    /// The keepalive interval must be positive.
    #[error("keepalive interval must be positive")]
    KeepAliveInterval,
    /// The keepalive timeout must not be shorter than the interval.
    #[error("keepalive timeout must be at least the keepalive interval")]
    KeepAliveTimeout,
}

/// Why a session is dead. Every variant is final: the session will not
/// consume input or produce output again. Close the underlying transport,
/// drain what the streams still hold with `read`, then drop the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The peer sent a frame whose version byte is not 1 (smux
    /// `ErrInvalidProtocol`). The peer speaks another protocol or the byte
    /// stream is corrupt; do not retry on the same transport.
    #[error("invalid protocol: frame version {version}, expected 1")]
    InvalidVersion {
        /// The version byte received.
        version: u8,
    },
    /// The peer sent an unknown command byte (smux `ErrInvalidProtocol`).
    /// Treat like [`Self::InvalidVersion`].
    #[error("invalid protocol: unknown command {cmd}")]
    UnknownCommand {
        /// The command byte received.
        cmd: u8,
    },
    /// Keepalive is enabled and no frame arrived during a whole timeout
    /// period. The peer or the transport is gone; open a new session.
    #[error("keepalive timeout: no frame received for a whole timeout period")]
    KeepAliveTimeout,
    /// The driver reported the end of the underlying transport with
    /// `handle_transport_closed`.
    #[error("underlying transport closed")]
    TransportClosed,
    /// The application closed the session with `close_session`.
    #[error("session closed locally")]
    Closed,
}

/// A per-stream operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// No open stream has this id: it was never opened or accepted, or it was
    /// already closed locally. The handle is stale; drop it.
    #[error("unknown or closed stream {0}")]
    UnknownStream(StreamId),
    /// Every stream id of this role has been used (smux `ErrGoAway`). Open a
    /// new session for further streams; existing streams keep working.
    #[error("stream ids exhausted, start a new session")]
    StreamIdsExhausted,
    /// The session is dead. Drain any buffered data, then drop the stream.
    #[error("session dead: {0}")]
    SessionDead(#[from] SessionError),
}

impl From<StreamError> for io::Error {
    fn from(err: StreamError) -> Self {
        let kind = match err {
            StreamError::UnknownStream(_) => io::ErrorKind::NotConnected,
            StreamError::StreamIdsExhausted => io::ErrorKind::ConnectionRefused,
            StreamError::SessionDead(SessionError::KeepAliveTimeout) => io::ErrorKind::TimedOut,
            StreamError::SessionDead(SessionError::InvalidVersion { .. })
            | StreamError::SessionDead(SessionError::UnknownCommand { .. }) => {
                io::ErrorKind::InvalidData
            }
            StreamError::SessionDead(_) => io::ErrorKind::ConnectionAborted,
        };
        Self::new(kind, err)
    }
}
