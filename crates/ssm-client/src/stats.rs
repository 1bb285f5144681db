//! A snapshot of a session's counters.

use std::time::Duration;

/// The data-channel connection of a session, from
/// [`crate::Session::link_status`]: changes when a socket is lost and
/// when a resume succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStatus {
    /// A socket is open (false while resuming).
    pub connected: bool,
    /// Successful resumes so far.
    pub reconnects: u64,
    /// Why the latest socket was lost (empty before any loss).
    pub last_loss: String,
}

/// Counters of one session, from [`crate::Session::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Stream messages we sent (first transmissions).
    pub messages_sent: u64,
    /// Payload bytes of those (smux framing included in mux mode).
    pub bytes_sent: u64,
    /// Stream messages we accepted from the agent.
    pub messages_received: u64,
    /// Payload bytes of those.
    pub bytes_received: u64,
    /// Messages we resent.
    pub retransmits: u64,
    /// Duplicate messages received (and re-acked).
    pub duplicates_received: u64,
    /// Messages we refused while local readers were behind.
    pub refused: u64,
    /// Frames dropped as invalid (bad digest, malformed).
    pub invalid_frames: u64,
    /// Received bytes waiting for local streams to read them (each
    /// stream holds at most `max_stream_receive_buffer` plus one frame).
    pub unread_bytes: usize,
    /// Smoothed round-trip time.
    pub rtt: Duration,
    /// Messages waiting for an ack.
    pub unacked: usize,
    /// Successful resumes after a lost socket.
    pub reconnects: u64,
    /// Streams open now.
    pub open_streams: usize,
    /// True while the service has paused our sending.
    pub paused: bool,
}
