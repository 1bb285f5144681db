//! Harness of the `channel_ops` target: one `DataChannel` and a scripted peer.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use ssm_proto::channel::{ChannelConfig, DataChannel, PacingConfig, RetransmitPolicy, Role};
use ssm_proto::message::FLAGS_ACK;
use ssm_proto::payload::{AcknowledgeContent, ChannelClosed};
use ssm_proto::{ClientMessage, MessageType, PayloadType, SendError};

use crate::seed::{Encode, Encoder};

const UNIX_MS: u64 = 1_700_000_000_000;

/// One fuzz case: the channel's configuration, then the operations.
#[derive(Debug, Arbitrary)]
pub struct Input {
    /// Agent role instead of client.
    pub agent: bool,
    /// `max_unacked` is 1 + this % 16.
    pub max_unacked: u8,
    /// `max_reorder` is this % 16.
    pub max_reorder: u8,
    /// `max_delivery_bytes`.
    pub max_delivery_bytes: u16,
    /// `max_payload`.
    pub max_payload: u8,
    /// `RetransmitPolicy::FrontOnly` instead of `AllOverdue`.
    pub front_only: bool,
    /// Pace at 100 messages/s with a burst of 4.
    pub paced: bool,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

/// One step.
#[derive(Debug, Arbitrary)]
pub enum Op {
    /// Peer stream message with a chosen (small) sequence number.
    PeerStream {
        /// Its sequence number.
        seq: i8,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// Peer stream message with the peer's next sequence number.
    PeerNext(Vec<u8>),
    /// Peer acknowledges one of our sequence numbers.
    PeerAck {
        /// The acknowledged sequence number.
        seq: i8,
    },
    /// Arbitrary bytes as a received frame.
    PeerRaw(Vec<u8>),
    /// The gateway pauses our publication.
    PeerPause,
    /// The gateway resumes our publication.
    PeerStart,
    /// The gateway closes the channel with this output text.
    PeerClosed(String),
    /// We send a payload.
    Send(Vec<u8>),
    /// Virtual time advances by this many milliseconds.
    Advance(u16),
    /// Jump to the channel's own deadline (if any) and run timers.
    Timeout,
    /// A new socket replaced the old one.
    Reconnect,
    /// We stop or resume accepting in-order data.
    SetAccepting(bool),
    /// Drain `poll_transmit`.
    Poll,
    /// Pull up to this many delivered messages.
    Deliver(u8),
}

struct Harness {
    channel: DataChannel,
    peer: DataChannel,
    role: Role,
    max_unacked: usize,
    max_reorder: usize,
    max_payload: usize,
    now: Instant,
    /// Payloads the peer sent per sequence number (any of them may win).
    peer_sent: HashMap<i64, Vec<Bytes>>,
    peer_next: i64,
    /// Messages our channel accepted from `send` (next seq to expect).
    sent: i64,
    /// Our sequence numbers the peer acknowledged while unacked.
    acked: HashSet<i64>,
    /// The first transmission of each of our sequence numbers.
    transmitted: HashMap<i64, Bytes>,
    /// The next sequence number `poll_delivery` must produce.
    next_delivery: i64,
}

impl Harness {
    fn new(input: &Input, now: Instant) -> Self {
        let role = if input.agent {
            Role::Agent
        } else {
            Role::Client
        };
        let base = match role {
            Role::Client => ChannelConfig::client(),
            Role::Agent => ChannelConfig::agent(),
        };
        let config = ChannelConfig {
            max_unacked: usize::from(input.max_unacked % 16) + 1,
            max_reorder: usize::from(input.max_reorder % 16),
            max_delivery_bytes: usize::from(input.max_delivery_bytes),
            max_payload: usize::from(input.max_payload),
            retransmit: if input.front_only {
                RetransmitPolicy::FrontOnly
            } else {
                RetransmitPolicy::AllOverdue
            },
            pacing: input.paced.then_some(PacingConfig {
                messages_per_second: 100,
                burst: 4,
            }),
            ..base
        };
        let peer_config = ChannelConfig {
            role: match role {
                Role::Client => Role::Agent,
                Role::Agent => Role::Client,
            },
            pacing: None,
            ..ChannelConfig::agent()
        };
        Self {
            max_unacked: config.max_unacked,
            max_reorder: config.max_reorder,
            max_payload: config.max_payload,
            channel: DataChannel::new(config, now, UNIX_MS, 1),
            peer: DataChannel::new(peer_config, now, UNIX_MS, 2),
            role,
            now,
            peer_sent: HashMap::new(),
            peer_next: 0,
            sent: 0,
            acked: HashSet::new(),
            transmitted: HashMap::new(),
            next_delivery: 0,
        }
    }

    fn peer_frame(
        &mut self,
        kind: MessageType,
        seq: i64,
        flags: u64,
        payload_type: PayloadType,
        payload: Bytes,
    ) -> Bytes {
        self.peer
            .build_message(self.now, kind, seq, flags, payload_type, payload)
            .encode()
    }

    fn peer_stream(&mut self, seq: i64, payload: Vec<u8>) {
        let payload = Bytes::from(payload);
        self.peer_sent.entry(seq).or_default().push(payload.clone());
        let kind = self.role.incoming_type();
        let frame = self.peer_frame(kind, seq, 0, PayloadType::Output, payload);
        self.receive(&frame);
    }

    fn peer_ack(&mut self, seq: i64) {
        let content = AcknowledgeContent {
            acknowledged_message_type: self.role.outgoing_type().as_str().to_owned(),
            acknowledged_message_id: "00000000-0000-0000-0000-000000000000".to_owned(),
            acknowledged_message_sequence_number: seq,
            is_sequential_message: true,
        };
        let frame = self.peer_frame(
            MessageType::Acknowledge,
            0,
            FLAGS_ACK,
            PayloadType::Undefined,
            content.to_bytes(),
        );
        self.receive(&frame);
    }

    fn notice(&mut self, kind: MessageType, payload: Bytes) {
        let frame = self.peer_frame(kind, 0, 0, PayloadType::Undefined, payload);
        self.receive(&frame);
    }

    /// Feeds one frame, mirroring its effect on the model.
    fn receive(&mut self, frame: &[u8]) {
        let decoded = ClientMessage::decode(frame);
        let unacked_before = self.channel.unacked();
        let acks_for_unsent_before = self.channel.stats().acks_for_unsent;
        let result = self.channel.handle_frame(self.now, frame);
        let Ok(message) = decoded else {
            assert!(result.is_err(), "undecodable frame accepted");
            return;
        };
        if message.message_type == self.role.incoming_type() {
            let payloads = self.peer_sent.entry(message.sequence_number).or_default();
            if !payloads.contains(&message.payload) {
                payloads.push(message.payload);
            }
        } else if message.message_type == MessageType::Acknowledge {
            let Ok(content) = AcknowledgeContent::from_bytes(&message.payload) else {
                assert!(result.is_err(), "malformed ack accepted");
                return;
            };
            let seq = content.acknowledged_message_sequence_number;
            let never_sent = !self.transmitted.contains_key(&seq);
            if !never_sent && self.acked.insert(seq) {
                assert_eq!(self.channel.unacked() + 1, unacked_before, "ack of {seq}");
            } else {
                assert_eq!(self.channel.unacked(), unacked_before, "stray ack {seq}");
            }
            assert_eq!(
                self.channel.stats().acks_for_unsent,
                acks_for_unsent_before + u64::from(never_sent),
                "ack of {seq} counted as for a message never sent"
            );
        }
    }

    fn send(&mut self, payload: Vec<u8>) {
        let len = payload.len();
        let capacity = self.channel.send_capacity();
        match self
            .channel
            .send(self.now, PayloadType::Output, Bytes::from(payload))
        {
            Ok(seq) => {
                assert_eq!(seq, self.sent, "sequence numbers are consecutive");
                assert!(capacity > 0 && len <= self.max_payload);
                self.sent += 1;
            }
            Err(SendError::PayloadTooLarge { .. }) => assert!(len > self.max_payload),
            Err(SendError::WindowFull) => {
                assert_eq!(capacity, 0);
                assert!(len <= self.max_payload);
            }
            Err(other) => panic!("unexpected send error {other:?}"),
        }
    }

    fn poll(&mut self) {
        loop {
            let paused = self.channel.is_paused();
            let Some(frame) = self.channel.poll_transmit(self.now) else {
                break;
            };
            let message = match ClientMessage::decode(&frame) {
                Ok(message) => message,
                Err(error) => panic!("transmitted frame does not decode: {error}"),
            };
            if message.message_type == MessageType::Acknowledge {
                let content = AcknowledgeContent::from_bytes(&message.payload)
                    .expect("our ack payload parses");
                let seq = content.acknowledged_message_sequence_number;
                assert!(
                    self.peer_sent.contains_key(&seq),
                    "ack for {seq}, which the peer never sent"
                );
                continue;
            }
            assert!(!paused, "stream data sent while paused");
            assert_eq!(message.message_type, self.role.outgoing_type());
            let seq = message.sequence_number;
            assert!((0..self.sent).contains(&seq), "unknown seq {seq}");
            assert!(!self.acked.contains(&seq), "acked seq {seq} transmitted");
            let first = self.transmitted.entry(seq).or_insert_with(|| frame.clone());
            assert_eq!(*first, frame, "retransmission of {seq} differs");
        }
    }

    fn deliver(&mut self, max: u8) {
        for _ in 0..max {
            let Some(message) = self.channel.poll_delivery() else {
                break;
            };
            assert_eq!(message.message_type, self.role.incoming_type());
            let seq = message.sequence_number;
            assert_eq!(seq, self.next_delivery, "delivery out of order");
            self.next_delivery += 1;
            let sent = self.peer_sent.get(&seq).map(Vec::as_slice).unwrap_or(&[]);
            assert!(
                sent.contains(&message.payload),
                "seq {seq}: foreign payload"
            );
        }
    }

    fn check(&self) {
        let unacked = self.channel.unacked();
        assert!(unacked <= self.max_unacked);
        assert_eq!(self.channel.send_capacity() + unacked, self.max_unacked);
        assert_eq!(unacked as i64, self.sent - self.acked.len() as i64);
        assert_eq!(self.channel.stats().unacked, unacked);
        assert!(self.channel.reorder_buffered() <= self.max_reorder);
        assert!(self.channel.expected_sequence() >= self.next_delivery);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::PeerStream { seq, payload } => self.peer_stream(i64::from(seq), payload),
            Op::PeerNext(payload) => {
                self.peer_next += 1;
                self.peer_stream(self.peer_next - 1, payload);
            }
            Op::PeerAck { seq } => self.peer_ack(i64::from(seq)),
            Op::PeerRaw(bytes) => self.receive(&bytes),
            Op::PeerPause => {
                self.notice(MessageType::PausePublication, Bytes::new());
                assert!(self.channel.is_paused());
            }
            Op::PeerStart => {
                self.notice(MessageType::StartPublication, Bytes::new());
                assert!(!self.channel.is_paused());
            }
            Op::PeerClosed(output) => {
                let closed = ChannelClosed {
                    output,
                    ..ChannelClosed::default()
                };
                self.notice(MessageType::ChannelClosed, closed.to_bytes());
            }
            Op::Send(payload) => self.send(payload),
            Op::Advance(ms) => self.now += Duration::from_millis(u64::from(ms)),
            Op::Timeout => {
                if let Some(deadline) = self.channel.poll_timeout() {
                    self.now = self.now.max(deadline);
                }
                self.channel.handle_timeout(self.now);
            }
            Op::Reconnect => {
                self.channel.handle_reconnect();
                assert!(!self.channel.is_paused());
            }
            Op::SetAccepting(accepting) => self.channel.set_accepting(accepting),
            Op::Poll => self.poll(),
            Op::Deliver(max) => self.deliver(max),
        }
        while self.channel.poll_event().is_some() {}
        self.check();
    }
}

/// What a run achieved, so seeds can be checked to reach deep states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Messages delivered in order.
    pub delivered: i64,
    /// Messages we sent.
    pub sent: i64,
    /// Of those, acknowledged by the peer.
    pub acked: usize,
    /// Stream frames resent.
    pub retransmits: u64,
}

/// Runs one case, panicking on any broken invariant.
pub fn run(input: Input) -> Outcome {
    let mut harness = Harness::new(&input, Instant::now());
    for op in input.ops {
        harness.apply(op);
    }
    harness.poll();
    harness.deliver(u8::MAX);
    harness.check();
    Outcome {
        delivered: harness.next_delivery,
        sent: harness.sent,
        acked: harness.acked.len(),
        retransmits: harness.channel.stats().retransmits,
    }
}

impl Encode for Input {
    fn encode(&self, e: &mut Encoder) {
        self.agent.encode(e);
        self.max_unacked.encode(e);
        self.max_reorder.encode(e);
        self.max_delivery_bytes.encode(e);
        self.max_payload.encode(e);
        self.front_only.encode(e);
        self.paced.encode(e);
        e.rest(&self.ops);
    }
}

impl Encode for Op {
    fn encode(&self, e: &mut Encoder) {
        const COUNT: u32 = 14;
        match self {
            Self::PeerStream { seq, payload } => {
                e.variant(0, COUNT);
                seq.encode(e);
                payload.encode(e);
            }
            Self::PeerNext(payload) => {
                e.variant(1, COUNT);
                payload.encode(e);
            }
            Self::PeerAck { seq } => {
                e.variant(2, COUNT);
                seq.encode(e);
            }
            Self::PeerRaw(bytes) => {
                e.variant(3, COUNT);
                bytes.encode(e);
            }
            Self::PeerPause => e.variant(4, COUNT),
            Self::PeerStart => e.variant(5, COUNT),
            Self::PeerClosed(output) => {
                e.variant(6, COUNT);
                output.encode(e);
            }
            Self::Send(payload) => {
                e.variant(7, COUNT);
                payload.encode(e);
            }
            Self::Advance(ms) => {
                e.variant(8, COUNT);
                ms.encode(e);
            }
            Self::Timeout => e.variant(9, COUNT),
            Self::Reconnect => e.variant(10, COUNT),
            Self::SetAccepting(accepting) => {
                e.variant(11, COUNT);
                accepting.encode(e);
            }
            Self::Poll => e.variant(12, COUNT),
            Self::Deliver(max) => {
                e.variant(13, COUNT);
                max.encode(e);
            }
        }
    }
}
