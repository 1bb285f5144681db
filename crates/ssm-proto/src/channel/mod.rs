//! The reliable data channel (protocol.md §5), for either end.
//!
//! [`DataChannel`] turns an unreliable, possibly reordering and
//! duplicating sequence of WebSocket frames into an exactly-once, in-order
//! stream of messages in each direction:
//!
//! * every sequenced message we send carries the next sequence number
//!   (from 0) and stays buffered until the peer acks that number;
//! * every sequenced message we accept is acked, buffered when early,
//!   re-acked when it is a duplicate, and delivered in order;
//! * overdue messages are resent with an RFC 6298 timeout (1 s cap, the
//!   agent's); the client backs the RTO off only while no valid sample
//!   comes, the agent never;
//! * `pause_publication` stops stream transmissions until
//!   `start_publication` or any stream data or ack arrives, or the socket
//!   is replaced;
//! * an ack for a message never sent is a protocol violation: counted
//!   ([`ChannelStats::acks_for_unsent`]) and otherwise ignored.
//!
//! # Driving it
//! Inputs: [`DataChannel::handle_frame`] for each received binary frame,
//! [`DataChannel::handle_timeout`] when the instant from
//! [`DataChannel::poll_timeout`] passes, [`DataChannel::send`] for data,
//! [`DataChannel::handle_reconnect`] after a new socket is up.
//! After any input, call [`DataChannel::poll_transmit`] until `None` and
//! write each frame to the socket, drain [`DataChannel::poll_event`], pull
//! data with [`DataChannel::poll_delivery`] (stop pulling to apply
//! backpressure: the channel then stops acking new data), and re-arm the
//! timer from [`DataChannel::poll_timeout`].

mod ids;
mod incoming;
mod outgoing;
mod pacer;
#[cfg(test)]
mod rto_tests;
mod rtt;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, trace};

use crate::error::{DecodeError, ReceiveError, SendError};
use crate::message::{
    ClientMessage, FLAGS_ACK, FLAGS_SYN, MAX_PAYLOAD_SIZE, MessageType, PayloadType,
};
use crate::payload::{AcknowledgeContent, ChannelClosed};
use ids::{IdGenerator, WallClock};
use incoming::{Incoming, IncomingCaps, Verdict};
pub use outgoing::RetransmitPolicy;
use outgoing::{AckOutcome, Outgoing};
use pacer::Pacer;
pub use pacer::PacingConfig;
use rtt::RttEstimator;
pub use rtt::{ResendBackoff, RtoConfig};

/// Which end of the channel this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends `input_stream_data`, receives `output_stream_data`.
    Client,
    /// Sends `output_stream_data`, receives `input_stream_data`.
    Agent,
}

impl Role {
    /// The stream message type this end sends.
    pub fn outgoing_type(self) -> MessageType {
        match self {
            Self::Client => MessageType::InputStreamData,
            Self::Agent => MessageType::OutputStreamData,
        }
    }

    /// The stream message type this end receives.
    pub fn incoming_type(self) -> MessageType {
        match self {
            Self::Client => MessageType::OutputStreamData,
            Self::Agent => MessageType::InputStreamData,
        }
    }
}

/// Limits and policies of a [`DataChannel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Which end we are.
    pub role: Role,
    /// Most messages sent but not yet acked (and queued unsent); beyond
    /// it [`DataChannel::send`] returns [`SendError::WindowFull`].
    pub max_unacked: usize,
    /// Most early messages held while waiting for a gap to fill; beyond
    /// it (or [`ChannelConfig::max_reorder_bytes`]) early messages are
    /// refused (not acked).
    pub max_reorder: usize,
    /// Most bytes (payloads plus 64 per message) held ahead of order.
    pub max_reorder_bytes: usize,
    /// Bytes of in-order data waiting for [`DataChannel::poll_delivery`];
    /// beyond it new in-order data is refused (not acked).
    pub max_delivery_bytes: usize,
    /// Largest payload [`DataChannel::send`] accepts.
    pub max_payload: usize,
    /// Most acks waiting to be written; the oldest are dropped beyond it
    /// (safe: the peer resends and we re-ack duplicates).
    pub max_pending_control: usize,
    /// Retransmission timer tuning.
    pub rto: RtoConfig,
    /// Which overdue messages are resent.
    pub retransmit: RetransmitPolicy,
    /// Look for overdue messages at most once per tick (the service's
    /// resend loop ticks every 100 ms); `None` checks at each deadline.
    pub resend_tick: Option<Duration>,
    /// Optional pacing of stream-data transmissions.
    pub pacing: Option<PacingConfig>,
}

impl ChannelConfig {
    /// Defaults for a client: 1024-message window, all overdue messages
    /// resent, 900 messages/s pacing. Up to 10000 messages or 8 MiB are
    /// held ahead of order: the agent has no send window and resends only
    /// its oldest unacked message, so an early message refused here costs
    /// a resend of its own, one per RTO (protocol.md §5.4).
    pub fn client() -> Self {
        Self {
            role: Role::Client,
            max_unacked: 1024,
            max_reorder: 10_000,
            max_reorder_bytes: 8 << 20,
            max_delivery_bytes: 1 << 20,
            max_payload: MAX_PAYLOAD_SIZE,
            max_pending_control: 4096,
            rto: RtoConfig::default(),
            retransmit: RetransmitPolicy::AllOverdue,
            resend_tick: None,
            pacing: Some(PacingConfig::default()),
        }
    }

    /// Defaults for an agent, as the real one behaves: large buffers,
    /// front-only retransmission checked every 100 ms with no backoff (the
    /// front message is resent every RTO), no pacing (the agent paces by
    /// sleeping).
    pub fn agent() -> Self {
        Self {
            role: Role::Agent,
            max_unacked: 100_000,
            max_reorder: 100_000,
            max_reorder_bytes: usize::MAX,
            retransmit: RetransmitPolicy::FrontOnly,
            rto: RtoConfig {
                backoff: ResendBackoff::None,
                ..RtoConfig::default()
            },
            resend_tick: Some(Duration::from_millis(100)),
            pacing: None,
            ..Self::client()
        }
    }
}

/// Something that happened on the channel other than data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The gateway closed the channel; the session is over.
    ChannelClosed(ChannelClosed),
    /// `pause_publication`: stream transmissions are held.
    Paused,
    /// Transmissions resumed.
    Resumed,
}

/// Counters, for tests, benchmarks and status lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Stream messages transmitted the first time.
    pub messages_sent: u64,
    /// Payload bytes of those.
    pub bytes_sent: u64,
    /// Stream messages resent.
    pub retransmits: u64,
    /// Stream messages accepted (in order or buffered).
    pub messages_received: u64,
    /// Payload bytes of those.
    pub bytes_received: u64,
    /// Stream messages received again.
    pub duplicates_received: u64,
    /// Stream messages received ahead of order.
    pub out_of_order_received: u64,
    /// Stream messages refused (busy receiver or full reorder buffer).
    pub refused: u64,
    /// Acks written.
    pub acks_sent: u64,
    /// Acks received that matched an unacked message.
    pub acks_received: u64,
    /// Acks received for a sequence number we never sent (not assigned
    /// yet, or still queued): a protocol violation by the peer. They are
    /// ignored; nothing is released or dropped.
    pub acks_for_unsent: u64,
    /// Frames dropped as undecodable.
    pub invalid_frames: u64,
    /// Smoothed round-trip time.
    pub srtt: Duration,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Messages waiting for an ack.
    pub unacked: usize,
}

/// One end of the reliable data channel. See the module docs for the
/// call order.
#[derive(Debug)]
pub struct DataChannel {
    config: ChannelConfig,
    clock: WallClock,
    ids: IdGenerator,
    outgoing: Outgoing,
    incoming: Incoming,
    rtt: RttEstimator,
    pacer: Option<Pacer>,
    control: VecDeque<Bytes>,
    events: VecDeque<Event>,
    paused: bool,
    accepting: bool,
    stats: ChannelStats,
}

impl DataChannel {
    /// A fresh channel. `unix_ms_at_now` anchors CreatedDate dates to the
    /// wall clock; `id_seed` seeds MessageId generation (drivers pass real
    /// randomness, tests a constant).
    pub fn new(config: ChannelConfig, now: Instant, unix_ms_at_now: u64, id_seed: u64) -> Self {
        Self {
            clock: WallClock::new(now, unix_ms_at_now),
            ids: IdGenerator::new(id_seed),
            outgoing: Outgoing::new(config.max_unacked, config.resend_tick),
            incoming: Incoming::new(IncomingCaps {
                max_reorder: config.max_reorder,
                max_reorder_bytes: config.max_reorder_bytes,
                max_delivery_bytes: config.max_delivery_bytes,
            }),
            rtt: RttEstimator::new(config.rto),
            pacer: config.pacing.map(|pacing| Pacer::new(pacing, now)),
            control: VecDeque::new(),
            events: VecDeque::new(),
            paused: false,
            accepting: true,
            stats: ChannelStats::default(),
            config,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// Decodes and processes one received binary frame.
    ///
    /// Errors are per frame and never fatal: the frame is dropped (not
    /// acked, so a sequenced message will be resent) and the channel
    /// carries on.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), ReceiveError> {
        self.handle_decoded(now, ClientMessage::decode(frame))
    }

    /// [`Self::handle_frame`] for a frame already decoded with
    /// [`ClientMessage::decode`] (e.g. outside a lock held around the
    /// channel): a decode error is counted and returned.
    pub fn handle_decoded(
        &mut self,
        now: Instant,
        decoded: Result<ClientMessage, DecodeError>,
    ) -> Result<(), ReceiveError> {
        match decoded {
            Ok(message) => self.handle_message(now, message),
            Err(error) => {
                self.stats.invalid_frames += 1;
                debug!(%error, "dropping undecodable frame");
                Err(error.into())
            }
        }
    }

    /// Processes one decoded message.
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: ClientMessage,
    ) -> Result<(), ReceiveError> {
        match &message.message_type {
            kind if *kind == self.config.role.incoming_type() => {
                self.resume_if_paused();
                self.on_stream_message(now, message);
                Ok(())
            }
            MessageType::Acknowledge => {
                self.resume_if_paused();
                self.on_ack(now, &message.payload)
            }
            MessageType::ChannelClosed => {
                let closed = ChannelClosed::from_bytes(&message.payload).unwrap_or_default();
                debug!(output = %closed.output, "channel closed by gateway");
                self.events.push_back(Event::ChannelClosed(closed));
                Ok(())
            }
            MessageType::PausePublication => {
                self.set_paused(true);
                Ok(())
            }
            MessageType::StartPublication => {
                self.set_paused(false);
                Ok(())
            }
            other => {
                trace!(message_type = %other, "ignoring message");
                Ok(())
            }
        }
    }

    fn on_stream_message(&mut self, now: Instant, message: ClientMessage) {
        let seq = message.sequence_number;
        let ack = AcknowledgeContent::for_message(&message);
        let payload_len = message.payload.len() as u64;
        let verdict = self.incoming.on_message(message, self.accepting);
        trace!(
            seq,
            ?verdict,
            expected = self.incoming.expected(),
            "stream message"
        );
        match verdict {
            Verdict::Accepted | Verdict::Buffered => {
                self.stats.messages_received += 1;
                self.stats.bytes_received += payload_len;
                if verdict == Verdict::Buffered {
                    self.stats.out_of_order_received += 1;
                }
                self.queue_ack(now, &ack);
            }
            Verdict::Duplicate => {
                self.stats.duplicates_received += 1;
                self.queue_ack(now, &ack);
            }
            Verdict::Refused => self.stats.refused += 1,
        }
    }

    fn queue_ack(&mut self, now: Instant, content: &AcknowledgeContent) {
        let ack = self.build_message(
            now,
            MessageType::Acknowledge,
            0,
            FLAGS_ACK,
            PayloadType::Undefined,
            content.to_bytes(),
        );
        if self.control.len() >= self.config.max_pending_control {
            self.control.pop_front();
        }
        self.control.push_back(ack.encode());
    }

    fn on_ack(&mut self, now: Instant, payload: &[u8]) -> Result<(), ReceiveError> {
        let content = AcknowledgeContent::from_bytes(payload)?;
        let seq = content.acknowledged_message_sequence_number;
        match self.outgoing.on_ack(seq, now) {
            AckOutcome::Released { rtt_sample } => {
                self.stats.acks_received += 1;
                if let Some(sample) = rtt_sample {
                    self.rtt.on_sample(sample);
                }
                trace!(seq, rto_ms = self.rtt.rto().as_millis() as u64, "acked");
            }
            AckOutcome::AlreadyAcked => trace!(seq, "ack for an already acked message"),
            AckOutcome::NeverSent => {
                self.stats.acks_for_unsent += 1;
                debug!(
                    seq,
                    next_seq = self.outgoing.next_seq(),
                    acks_for_unsent = self.stats.acks_for_unsent,
                    "ignoring ack for a message never sent (protocol violation)"
                );
            }
        }
        Ok(())
    }

    fn set_paused(&mut self, paused: bool) {
        if self.paused == paused {
            return;
        }
        self.paused = paused;
        debug!(paused, "publication state changed");
        self.events.push_back(if paused {
            Event::Paused
        } else {
            Event::Resumed
        });
    }

    fn resume_if_paused(&mut self) {
        if self.paused {
            self.set_paused(false);
        }
    }

    /// Moves overdue messages to the resend queue. Call when the instant
    /// from [`Self::poll_timeout`] has passed (calling early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.outgoing
            .on_timeout(now, self.config.retransmit, &mut self.rtt);
    }

    /// A new socket replaced a lost one: resend everything in flight now
    /// instead of waiting for timers. Sequence numbers are unchanged. A
    /// pause ends with the old socket ([`Event::Resumed`] if one was on).
    pub fn handle_reconnect(&mut self) {
        debug!(
            unacked = self.outgoing.unacked(),
            "reconnected; resending in-flight messages"
        );
        self.outgoing.requeue_in_flight();
        self.resume_if_paused();
    }

    /// Queues one sequenced stream message; returns its sequence number.
    pub fn send(
        &mut self,
        now: Instant,
        payload_type: PayloadType,
        payload: Bytes,
    ) -> Result<i64, SendError> {
        if payload.len() > self.config.max_payload.min(MAX_PAYLOAD_SIZE) {
            return Err(SendError::PayloadTooLarge {
                len: payload.len(),
                max: self.config.max_payload.min(MAX_PAYLOAD_SIZE),
            });
        }
        if self.outgoing.capacity() == 0 {
            return Err(SendError::WindowFull);
        }
        let seq = self.outgoing.next_seq();
        let flags = if self.config.role == Role::Agent && seq == 0 {
            FLAGS_SYN
        } else {
            0
        };
        let payload_len = payload.len();
        let kind = self.config.role.outgoing_type();
        let message = self.build_message(now, kind, seq, flags, payload_type, payload);
        let pushed = self.outgoing.push(message.encode(), payload_len);
        trace!(seq = pushed, len = payload_len, ?payload_type, "queued");
        Ok(pushed)
    }

    /// How many more messages [`Self::send`] accepts right now.
    pub fn send_capacity(&self) -> usize {
        self.outgoing.capacity()
    }

    /// A new stream message queued now would be transmitted at once: room
    /// in the window, not paused, nothing else waiting, and (with pacing)
    /// a token available. Senders that can wait use this to coalesce small
    /// writes into fuller messages instead of queueing many small ones
    /// behind the pacer.
    pub fn can_send_data_now(&mut self, now: Instant) -> bool {
        if self.paused || self.send_capacity() == 0 || self.outgoing.has_pending() {
            return false;
        }
        self.pacer.as_mut().is_none_or(|pacer| pacer.has_token(now))
    }

    /// When [`Self::can_send_data_now`] may next turn true because of
    /// pacing alone: `None` without pacing, or while queued messages wait
    /// (their transmission is what to wait for).
    pub fn next_data_slot(&mut self) -> Option<Instant> {
        if self.paused || self.outgoing.has_pending() {
            return None;
        }
        self.pacer.as_ref().map(Pacer::next_token_at)
    }

    /// Messages sent or queued but not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.outgoing.unacked()
    }

    /// Whether the peer acknowledged any message numbered `sequence` or
    /// later. Take [`Self::next_sequence`] before sending something: while
    /// this stays false, nothing sent since is known to have reached the
    /// peer.
    pub fn acknowledged_since(&self, sequence: i64) -> bool {
        self.outgoing.acked_any_from(sequence)
    }

    /// When the oldest unacknowledged message was first sent. Seconds ago
    /// means the peer never got it (or its ack was lost) and it waits for
    /// a resend; `None` when nothing sent is unacknowledged.
    pub fn oldest_unacked_since(&self) -> Option<Instant> {
        self.outgoing.oldest_first_sent()
    }

    /// Stops (false) or resumes (true) accepting new in-order stream data.
    /// Refused messages are not acked, so the peer resends them later.
    pub fn set_accepting(&mut self, accepting: bool) {
        self.accepting = accepting;
    }

    /// True while the gateway has paused our publication.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Builds a message with a fresh id and the current date. Used for
    /// the channel's own traffic and by gateways for unsequenced notices.
    pub fn build_message(
        &mut self,
        now: Instant,
        message_type: MessageType,
        sequence_number: i64,
        flags: u64,
        payload_type: PayloadType,
        payload: Bytes,
    ) -> ClientMessage {
        ClientMessage::new(
            message_type,
            self.clock.unix_ms(now),
            sequence_number,
            flags,
            self.ids.next_id(),
            payload_type,
            payload,
        )
    }

    /// The next frame to write to the socket: acks first, then (unless
    /// paused or held by pacing) due retransmissions, then new messages.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Bytes> {
        if let Some(frame) = self.control.pop_front() {
            self.stats.acks_sent += 1;
            return Some(frame);
        }
        if self.paused || !self.outgoing.has_pending() {
            return None;
        }
        if let Some(pacer) = &mut self.pacer
            && !pacer.try_take(now)
        {
            return None;
        }
        let transmission = self.outgoing.next_transmission(now)?;
        if transmission.is_retransmit {
            self.stats.retransmits += 1;
        } else {
            self.stats.messages_sent += 1;
            self.stats.bytes_sent += transmission.payload_len as u64;
        }
        Some(transmission.frame)
    }

    /// When [`Self::handle_timeout`] (or, for pacing, [`Self::poll_transmit`])
    /// next has work to do.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let retransmit = self
            .outgoing
            .next_deadline(self.config.retransmit, self.rtt.rto());
        let pacing = match &self.pacer {
            Some(pacer) if !self.paused && self.outgoing.has_pending() => {
                Some(pacer.next_token_at())
            }
            _ => None,
        };
        match (retransmit, pacing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next channel event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next in-order stream message (already acked).
    #[must_use]
    pub fn poll_delivery(&mut self) -> Option<ClientMessage> {
        self.incoming.pop()
    }

    /// The delivery queue is at [`ChannelConfig::max_delivery_bytes`]: the
    /// next in-order stream message would be refused. A driver that can
    /// apply backpressure upstream (stop reading its socket) should do so
    /// now rather than read messages only to refuse them, since the agent
    /// resends refused messages one at a time per 100 ms tick.
    #[must_use]
    pub fn is_delivery_full(&self) -> bool {
        self.incoming.is_delivery_full()
    }

    /// The next in-order stream message, left in place.
    pub fn peek_delivery(&self) -> Option<&ClientMessage> {
        self.incoming.peek()
    }

    /// The sequence number the next [`Self::send`] will use.
    pub fn next_sequence(&self) -> i64 {
        self.outgoing.next_seq()
    }

    /// The sequence number of the next message we expect from the peer.
    pub fn expected_sequence(&self) -> i64 {
        self.incoming.expected()
    }

    /// Early messages held in the reorder buffer.
    pub fn reorder_buffered(&self) -> usize {
        self.incoming.reorder_len()
    }

    /// Bytes held ahead of order (payloads plus 64 per message), bounded
    /// by [`ChannelConfig::max_reorder_bytes`].
    pub fn reorder_buffered_bytes(&self) -> usize {
        self.incoming.reorder_bytes()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ChannelStats {
        ChannelStats {
            srtt: self.rtt.srtt(),
            rto: self.rtt.rto(),
            unacked: self.outgoing.unacked(),
            ..self.stats.clone()
        }
    }

    /// Number of RTT samples taken so far.
    pub fn rtt_samples(&self) -> u64 {
        self.rtt.samples()
    }
}
