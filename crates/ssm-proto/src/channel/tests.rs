//! Scripted-peer and virtual-time tests of the data channel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::message::ClientMessage;

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn unpaced(role: Role) -> ChannelConfig {
    let base = match role {
        Role::Client => ChannelConfig::client(),
        Role::Agent => ChannelConfig::agent(),
    };
    ChannelConfig {
        pacing: None,
        ..base
    }
}

fn channel(role: Role, now: Instant) -> DataChannel {
    DataChannel::new(unpaced(role), now, 1_700_000_000_000, 42)
}

fn drain(channel: &mut DataChannel, now: Instant) -> Vec<ClientMessage> {
    std::iter::from_fn(|| channel.poll_transmit(now))
        .map(|frame| ClientMessage::decode(&frame).unwrap())
        .collect()
}

/// A message as the peer (agent unless stated) would send it.
fn peer_message(
    kind: MessageType,
    seq: i64,
    payload_type: PayloadType,
    payload: &'static [u8],
) -> Bytes {
    let mut peer = DataChannel::new(unpaced(Role::Agent), Instant::now(), 1, 9);
    peer.build_message(
        Instant::now(),
        kind,
        seq,
        0,
        payload_type,
        Bytes::from_static(payload),
    )
    .encode()
}

fn output(seq: i64, payload: &'static [u8]) -> Bytes {
    peer_message(
        MessageType::OutputStreamData,
        seq,
        PayloadType::Output,
        payload,
    )
}

fn ack_for(seq: i64) -> Bytes {
    let content = AcknowledgeContent {
        acknowledged_message_type: "input_stream_data".into(),
        acknowledged_message_id: "00000000-0000-0000-0000-000000000000".into(),
        acknowledged_message_sequence_number: seq,
        is_sequential_message: true,
    };
    let mut peer = DataChannel::new(unpaced(Role::Agent), Instant::now(), 1, 9);
    peer.build_message(
        Instant::now(),
        MessageType::Acknowledge,
        0,
        FLAGS_ACK,
        PayloadType::Undefined,
        content.to_bytes(),
    )
    .encode()
}

fn acked_seqs(messages: &[ClientMessage]) -> Vec<i64> {
    messages
        .iter()
        .filter(|m| m.message_type == MessageType::Acknowledge)
        .map(|m| {
            AcknowledgeContent::from_bytes(&m.payload)
                .unwrap()
                .acknowledged_message_sequence_number
        })
        .collect()
}

fn delivered(channel: &mut DataChannel) -> Vec<Bytes> {
    std::iter::from_fn(|| channel.poll_delivery())
        .map(|m| m.payload)
        .collect()
}

#[test]
fn sends_sequenced_messages_from_zero() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    assert_eq!(
        client.send(now, PayloadType::Output, Bytes::from_static(b"a")),
        Ok(0)
    );
    assert_eq!(
        client.send(now, PayloadType::Output, Bytes::from_static(b"b")),
        Ok(1)
    );
    let sent = drain(&mut client, now);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].message_type, MessageType::InputStreamData);
    assert_eq!((sent[0].sequence_number, sent[0].flags), (0, 0));
    assert_eq!(sent[1].sequence_number, 1);
    assert_eq!(sent[0].created_date, 1_700_000_000_000);
    assert_eq!(client.unacked(), 2);
    client.handle_frame(now + ms(5), &ack_for(1)).unwrap();
    client.handle_frame(now + ms(5), &ack_for(0)).unwrap();
    assert_eq!(client.unacked(), 0);
    assert_eq!(client.stats().acks_received, 2);
}

#[test]
fn ack_for_a_message_still_queued_releases_nothing() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"queued"))
        .unwrap();
    client.handle_frame(now, &ack_for(0)).unwrap();
    assert_eq!(client.unacked(), 1, "the queued message is still held");
    assert_eq!(client.stats().acks_for_unsent, 1);
    assert_eq!(client.stats().acks_received, 0);
    let sent = drain(&mut client, now);
    assert_eq!(sent.len(), 1, "the queued message still goes out");
    assert_eq!(sent[0].sequence_number, 0);
    assert_eq!(sent[0].payload, Bytes::from_static(b"queued"));
    client.handle_frame(now + ms(5), &ack_for(0)).unwrap();
    assert_eq!(client.unacked(), 0, "once sent, its ack releases it");
    assert_eq!(client.stats().acks_received, 1);
    assert_eq!(client.stats().acks_for_unsent, 1);
}

#[test]
fn acks_for_unassigned_sequence_numbers_are_counted_not_duplicates() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"a"))
        .unwrap();
    let _ = drain(&mut client, now);
    for seq in [1, 7, -1] {
        client.handle_frame(now, &ack_for(seq)).unwrap();
    }
    assert_eq!(client.stats().acks_for_unsent, 3);
    assert_eq!(client.unacked(), 1);
    client.handle_frame(now + ms(5), &ack_for(0)).unwrap();
    client.handle_frame(now + ms(6), &ack_for(0)).unwrap();
    let stats = client.stats();
    assert_eq!((stats.acks_received, stats.acks_for_unsent), (1, 3));
    assert_eq!(client.unacked(), 0);
}

#[test]
fn agent_marks_its_first_message_syn() {
    let now = Instant::now();
    let mut agent = channel(Role::Agent, now);
    agent
        .send(
            now,
            PayloadType::HandshakeRequest,
            Bytes::from_static(b"{}"),
        )
        .unwrap();
    agent
        .send(now, PayloadType::Output, Bytes::from_static(b"x"))
        .unwrap();
    let sent = drain(&mut agent, now);
    assert_eq!(sent[0].message_type, MessageType::OutputStreamData);
    assert_eq!((sent[0].flags, sent[1].flags), (1, 0));
}

#[test]
fn acks_and_delivers_in_order() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client.handle_frame(now, &output(0, b"zero")).unwrap();
    let acks = drain(&mut client, now);
    assert_eq!(acked_seqs(&acks), vec![0]);
    assert_eq!(acks[0].flags, 3);
    assert_eq!(acks[0].sequence_number, 0);
    assert_eq!(delivered(&mut client), vec![Bytes::from_static(b"zero")]);
}

#[test]
fn buffers_early_messages_and_acks_them() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client.handle_frame(now, &output(2, b"two")).unwrap();
    client.handle_frame(now, &output(1, b"one")).unwrap();
    assert!(delivered(&mut client).is_empty());
    client.handle_frame(now, &output(0, b"zero")).unwrap();
    assert_eq!(acked_seqs(&drain(&mut client, now)), vec![2, 1, 0]);
    assert_eq!(
        delivered(&mut client),
        [&b"zero"[..], b"one", b"two"].map(Bytes::from_static)
    );
    assert_eq!(client.stats().out_of_order_received, 2);
}

#[test]
fn re_acks_duplicates_unlike_the_plugin() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client.handle_frame(now, &output(0, b"zero")).unwrap();
    client.handle_frame(now, &output(2, b"two")).unwrap();
    client.handle_frame(now, &output(0, b"zero")).unwrap();
    client.handle_frame(now, &output(2, b"two")).unwrap();
    assert_eq!(acked_seqs(&drain(&mut client, now)), vec![0, 2, 0, 2]);
    assert_eq!(delivered(&mut client).len(), 1);
    assert_eq!(client.stats().duplicates_received, 2);
}

#[test]
fn refuses_without_ack_when_not_accepting() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client.set_accepting(false);
    client.handle_frame(now, &output(0, b"zero")).unwrap();
    assert!(drain(&mut client, now).is_empty());
    assert_eq!(client.expected_sequence(), 0);
    client.set_accepting(true);
    client.handle_frame(now, &output(0, b"zero")).unwrap();
    assert_eq!(acked_seqs(&drain(&mut client, now)), vec![0]);
}

#[test]
fn full_delivery_queue_refuses_new_data_but_keeps_accepted() {
    let now = Instant::now();
    let config = ChannelConfig {
        max_delivery_bytes: 200,
        ..unpaced(Role::Client)
    };
    let mut client = DataChannel::new(config, now, 1, 1);
    assert!(!client.is_delivery_full());
    client.handle_frame(now, &output(0, &[7; 150])).unwrap();
    assert!(
        client.is_delivery_full(),
        "150 bytes + per-message charge >= 200"
    );
    client.handle_frame(now, &output(1, &[8; 150])).unwrap();
    assert_eq!(acked_seqs(&drain(&mut client, now)), vec![0]);
    assert_eq!(client.stats().refused, 1);
    assert_eq!(client.poll_delivery().unwrap().payload.len(), 150);
    assert!(!client.is_delivery_full());
    client.handle_frame(now, &output(1, &[8; 150])).unwrap();
    assert_eq!(acked_seqs(&drain(&mut client, now)), vec![1]);
}

#[test]
fn full_reorder_buffer_refuses() {
    let now = Instant::now();
    let config = ChannelConfig {
        max_reorder: 2,
        ..unpaced(Role::Client)
    };
    let mut client = DataChannel::new(config, now, 1, 1);
    for seq in [3, 4, 5] {
        client.handle_frame(now, &output(seq, b"x")).unwrap();
    }
    assert_eq!(acked_seqs(&drain(&mut client, now)), vec![3, 4]);
    assert_eq!(client.reorder_buffered(), 2);
}

#[test]
fn reorder_buffer_is_capped_in_bytes_too() {
    let now = Instant::now();
    let config = ChannelConfig {
        max_reorder_bytes: 2 * (100 + 64),
        ..unpaced(Role::Client)
    };
    let mut client = DataChannel::new(config, now, 1, 1);
    for seq in [3, 4, 5] {
        client.handle_frame(now, &output(seq, &[7; 100])).unwrap();
    }
    assert_eq!(acked_seqs(&drain(&mut client, now)), vec![3, 4]);
    assert_eq!(client.reorder_buffered_bytes(), 2 * (100 + 64));
    for seq in 0..3 {
        client.handle_frame(now, &output(seq, b"x")).unwrap();
    }
    assert_eq!(client.reorder_buffered(), 0);
    assert_eq!(client.reorder_buffered_bytes(), 0);
}

#[test]
fn retransmits_every_overdue_message_and_backs_off_without_samples() {
    let start = Instant::now();
    let mut client = channel(Role::Client, start);
    for byte in [b"a", b"b", b"c"] {
        client
            .send(start, PayloadType::Output, Bytes::from_static(byte))
            .unwrap();
    }
    let first = drain(&mut client, start);
    assert_eq!(client.poll_timeout(), Some(start + ms(200)));
    client.handle_timeout(start + ms(199));
    assert!(drain(&mut client, start + ms(199)).is_empty());
    let t1 = start + ms(200);
    client.handle_timeout(t1);
    let resent = drain(&mut client, t1);
    assert_eq!(resent, first, "same bytes, same ids, all three");
    // One doubling for the whole round, not one per message.
    assert_eq!(client.stats().rto, ms(400));
    assert_eq!(client.poll_timeout(), Some(t1 + ms(400)));
    assert_eq!(client.stats().retransmits, 3);
}

#[test]
fn a_valid_sample_ends_the_backoff_for_every_message() {
    let start = Instant::now();
    let mut client = channel(Role::Client, start);
    client
        .send(start, PayloadType::Output, Bytes::from_static(b"a"))
        .unwrap();
    let _ = drain(&mut client, start);
    let t1 = start + ms(200);
    client.handle_timeout(t1);
    let _ = drain(&mut client, t1);
    assert_eq!(client.poll_timeout(), Some(t1 + ms(400)));
    // A message sent once and acked 20 ms later: the estimate rules again,
    // also for the message resent before.
    client
        .send(t1, PayloadType::Output, Bytes::from_static(b"b"))
        .unwrap();
    let _ = drain(&mut client, t1);
    client.handle_frame(t1 + ms(20), &ack_for(1)).unwrap();
    assert_eq!(client.stats().rto, ms(170));
    assert_eq!(client.poll_timeout(), Some(t1 + ms(170)));
}

#[test]
fn front_only_policy_resends_just_the_oldest() {
    let start = Instant::now();
    let mut agent = channel(Role::Agent, start);
    for _ in 0..3 {
        agent
            .send(start, PayloadType::Output, Bytes::from_static(b"x"))
            .unwrap();
    }
    let _ = drain(&mut agent, start);
    agent.handle_timeout(start + ms(250));
    let resent = drain(&mut agent, start + ms(250));
    assert_eq!(
        resent.iter().map(|m| m.sequence_number).collect::<Vec<_>>(),
        vec![0]
    );
}

#[test]
fn resend_tick_limits_front_only_resends_to_one_per_tick() {
    let start = Instant::now();
    let mut agent = channel(Role::Agent, start);
    for _ in 0..3 {
        agent
            .send(start, PayloadType::Output, Bytes::from_static(b"x"))
            .unwrap();
    }
    let _ = drain(&mut agent, start);
    let t1 = start + ms(250);
    agent.handle_timeout(t1);
    assert_eq!(drain(&mut agent, t1).len(), 1);
    // Seq 0 acked late: seq 1 is long overdue, but waits for the next tick.
    agent.handle_frame(t1 + ms(1), &ack_for(0)).unwrap();
    agent.handle_timeout(t1 + ms(2));
    assert!(drain(&mut agent, t1 + ms(2)).is_empty());
    assert_eq!(agent.poll_timeout(), Some(t1 + ms(100)));
    agent.handle_timeout(t1 + ms(100));
    let resent = drain(&mut agent, t1 + ms(100));
    assert_eq!(
        resent.iter().map(|m| m.sequence_number).collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn rtt_samples_only_from_messages_sent_once() {
    let start = Instant::now();
    let mut client = channel(Role::Client, start);
    client
        .send(start, PayloadType::Output, Bytes::from_static(b"a"))
        .unwrap();
    let _ = drain(&mut client, start);
    client.handle_timeout(start + ms(200));
    let _ = drain(&mut client, start + ms(200));
    client.handle_frame(start + ms(210), &ack_for(0)).unwrap();
    assert_eq!(client.rtt_samples(), 0);
    client
        .send(start, PayloadType::Output, Bytes::from_static(b"b"))
        .unwrap();
    let _ = drain(&mut client, start + ms(300));
    client.handle_frame(start + ms(320), &ack_for(1)).unwrap();
    assert_eq!(client.rtt_samples(), 1);
    assert_eq!(client.stats().rto, ms(170));
}

#[test]
fn full_window_applies_backpressure_and_never_evicts() {
    let now = Instant::now();
    let config = ChannelConfig {
        max_unacked: 2,
        ..unpaced(Role::Client)
    };
    let mut client = DataChannel::new(config, now, 1, 1);
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"a"))
        .unwrap();
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"b"))
        .unwrap();
    assert_eq!(
        client.send(now, PayloadType::Output, Bytes::from_static(b"c")),
        Err(SendError::WindowFull)
    );
    assert_eq!(client.send_capacity(), 0);
    let _ = drain(&mut client, now);
    client.handle_frame(now, &ack_for(0)).unwrap();
    assert_eq!(client.send_capacity(), 1);
    assert_eq!(
        client.send(now, PayloadType::Output, Bytes::from_static(b"c")),
        Ok(2)
    );
}

#[test]
fn rejects_oversize_payloads() {
    let now = Instant::now();
    let config = ChannelConfig {
        max_payload: 4,
        ..unpaced(Role::Client)
    };
    let mut client = DataChannel::new(config, now, 1, 1);
    assert_eq!(
        client.send(now, PayloadType::Output, Bytes::from_static(b"12345")),
        Err(SendError::PayloadTooLarge { len: 5, max: 4 })
    );
}

#[test]
fn pause_holds_data_but_not_acks() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client
        .handle_frame(
            now,
            &peer_message(
                MessageType::PausePublication,
                0,
                PayloadType::Undefined,
                b"",
            ),
        )
        .unwrap();
    assert_eq!(client.poll_event(), Some(Event::Paused));
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"held"))
        .unwrap();
    assert!(drain(&mut client, now).is_empty());
    client
        .handle_frame(
            now,
            &peer_message(
                MessageType::StartPublication,
                0,
                PayloadType::Undefined,
                b"",
            ),
        )
        .unwrap();
    assert_eq!(client.poll_event(), Some(Event::Resumed));
    assert_eq!(drain(&mut client, now).len(), 1);
}

#[test]
fn incoming_stream_data_ends_a_pause() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client
        .handle_frame(
            now,
            &peer_message(
                MessageType::PausePublication,
                0,
                PayloadType::Undefined,
                b"",
            ),
        )
        .unwrap();
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"held"))
        .unwrap();
    client.handle_frame(now, &output(0, b"hi")).unwrap();
    let sent = drain(&mut client, now);
    assert_eq!(sent.len(), 2, "the ack and the held message");
}

#[test]
fn channel_closed_becomes_an_event() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    let closed = ChannelClosed {
        session_id: "s-1".into(),
        output: "idle timeout".into(),
        ..Default::default()
    };
    let mut peer = channel(Role::Agent, now);
    let frame = peer
        .build_message(
            now,
            MessageType::ChannelClosed,
            0,
            0,
            PayloadType::Undefined,
            closed.to_bytes(),
        )
        .encode();
    client.handle_frame(now, &frame).unwrap();
    assert_eq!(client.poll_event(), Some(Event::ChannelClosed(closed)));
}

#[test]
fn reconnect_resends_in_flight_at_once() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"a"))
        .unwrap();
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"b"))
        .unwrap();
    let _ = drain(&mut client, now);
    client.handle_reconnect();
    let later = now + ms(1);
    assert_eq!(drain(&mut client, later).len(), 2);
}

#[test]
fn reconnect_ends_a_pause_with_a_resumed_event() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    client.handle_reconnect();
    assert_eq!(client.poll_event(), None, "no pause, nothing to resume");
    let pause = peer_message(
        MessageType::PausePublication,
        0,
        PayloadType::Undefined,
        b"",
    );
    client.handle_frame(now, &pause).unwrap();
    assert_eq!(client.poll_event(), Some(Event::Paused));
    client
        .send(now, PayloadType::Output, Bytes::from_static(b"held"))
        .unwrap();
    assert!(drain(&mut client, now).is_empty());
    client.handle_reconnect();
    assert_eq!(client.poll_event(), Some(Event::Resumed));
    assert_eq!(client.poll_event(), None);
    assert!(!client.is_paused());
    assert_eq!(drain(&mut client, now).len(), 1);
}

#[test]
fn pacing_limits_stream_messages_not_acks() {
    let start = Instant::now();
    let config = ChannelConfig {
        pacing: Some(PacingConfig {
            messages_per_second: 100,
            burst: 2,
        }),
        ..ChannelConfig::client()
    };
    let mut client = DataChannel::new(config, start, 1, 1);
    for _ in 0..5 {
        client
            .send(start, PayloadType::Output, Bytes::from_static(b"x"))
            .unwrap();
    }
    client.handle_frame(start, &output(0, b"y")).unwrap();
    assert_eq!(
        drain(&mut client, start).len(),
        3,
        "one ack plus a burst of two"
    );
    let next = client.poll_timeout().unwrap();
    assert_eq!(next, start + ms(10));
    assert_eq!(drain(&mut client, next).len(), 1);
}

#[test]
fn garbage_frames_are_typed_errors() {
    let now = Instant::now();
    let mut client = channel(Role::Client, now);
    assert!(client.handle_frame(now, b"hello").is_err());
    let mut corrupt = output(0, b"data").to_vec();
    *corrupt.last_mut().unwrap() ^= 0xff;
    assert!(matches!(
        client.handle_frame(now, &corrupt),
        Err(ReceiveError::Decode(DecodeError::DigestMismatch))
    ));
    let bad_ack = peer_message(MessageType::Acknowledge, 0, PayloadType::Undefined, b"{]");
    assert!(matches!(
        client.handle_frame(now, &bad_ack),
        Err(ReceiveError::Payload(_))
    ));
    assert!(drain(&mut client, now).is_empty());
    assert_eq!(client.stats().invalid_frames, 2);
}

// ===== virtual-time lossy link =====

/// A small deterministic PRNG for the link simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Copy)]
struct Faults {
    drop: u64,
    duplicate: u64,
    reorder: u64,
}

/// One direction of an unreliable link with latency and jitter.
struct Link {
    queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    counter: u64,
    faults: Faults,
}

impl Link {
    fn new(faults: Faults) -> Self {
        Self {
            queue: BinaryHeap::new(),
            counter: 0,
            faults,
        }
    }

    fn send(&mut self, rng: &mut Rng, now: Instant, frame: Bytes) {
        if rng.chance(self.faults.drop) {
            return;
        }
        let copies = if rng.chance(self.faults.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if rng.chance(self.faults.reorder) {
                rng.next() % 30
            } else {
                0
            };
            self.counter += 1;
            self.queue.push(Reverse((
                now + ms(5 + jitter),
                self.counter,
                frame.to_vec(),
            )));
        }
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, _, _))| *at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.next_arrival()? <= now {
            self.queue.pop().map(|Reverse((_, _, frame))| frame)
        } else {
            None
        }
    }
}

struct Endpoint {
    channel: DataChannel,
    to_send: Vec<u8>,
    offset: usize,
    received: Vec<u8>,
}

impl Endpoint {
    fn new(config: ChannelConfig, now: Instant, data: Vec<u8>, seed: u64) -> Self {
        Self {
            channel: DataChannel::new(config, now, 1_700_000_000_000, seed),
            to_send: data,
            offset: 0,
            received: Vec::new(),
        }
    }

    fn push_data(&mut self, now: Instant, rng: &mut Rng) {
        while self.offset < self.to_send.len() && self.channel.send_capacity() > 0 {
            let len = (1 + rng.next() as usize % 1024).min(self.to_send.len() - self.offset);
            let chunk = Bytes::copy_from_slice(&self.to_send[self.offset..self.offset + len]);
            self.channel.send(now, PayloadType::Output, chunk).unwrap();
            self.offset += len;
        }
    }

    fn pull_data(&mut self) {
        while let Some(message) = self.channel.poll_delivery() {
            self.received.extend_from_slice(&message.payload);
        }
    }

    fn done(&self, expected: &[u8]) -> bool {
        self.received == expected && self.channel.unacked() == 0
    }
}

fn transfer_over_lossy_link(seed: u64, faults: Faults, size: usize) -> Duration {
    let start = Instant::now();
    let mut rng = Rng(seed | 1);
    let upload: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
    let download: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
    let client_config = ChannelConfig {
        max_unacked: 64,
        max_reorder: 32,
        ..ChannelConfig::client()
    };
    let agent_config = ChannelConfig {
        max_unacked: 64,
        max_reorder: 32,
        ..ChannelConfig::agent()
    };
    let mut client = Endpoint::new(client_config, start, upload.clone(), seed);
    let mut agent = Endpoint::new(agent_config, start, download.clone(), seed + 1);
    let mut up = Link::new(faults);
    let mut down = Link::new(faults);
    let mut now = start;
    while !(client.done(&download) && agent.done(&upload)) {
        assert!(
            now - start < Duration::from_secs(600),
            "stalled (seed {seed})"
        );
        client.push_data(now, &mut rng);
        agent.push_data(now, &mut rng);
        client.channel.handle_timeout(now);
        agent.channel.handle_timeout(now);
        while let Some(frame) = client.channel.poll_transmit(now) {
            up.send(&mut rng, now, frame);
        }
        while let Some(frame) = agent.channel.poll_transmit(now) {
            down.send(&mut rng, now, frame);
        }
        while let Some(frame) = up.pop_due(now) {
            let _ = agent.channel.handle_frame(now, &frame);
        }
        while let Some(frame) = down.pop_due(now) {
            let _ = client.channel.handle_frame(now, &frame);
        }
        client.pull_data();
        agent.pull_data();
        let next = [
            up.next_arrival(),
            down.next_arrival(),
            client.channel.poll_timeout(),
            agent.channel.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        now = next.map_or_else(
            || now + ms(1),
            |at| at.max(now + Duration::from_micros(100)),
        );
    }
    assert_eq!(client.received, download);
    assert_eq!(agent.received, upload);
    now - start
}

#[test]
fn exactly_once_in_order_over_a_hostile_link() {
    let faults = Faults {
        drop: 5,
        duplicate: 5,
        reorder: 5,
    };
    for seed in 1..=8 {
        let took = transfer_over_lossy_link(seed * 7919, faults, 200_000);
        assert!(took < Duration::from_secs(600));
    }
}

#[test]
fn heavy_loss_still_completes() {
    let faults = Faults {
        drop: 30,
        duplicate: 20,
        reorder: 40,
    };
    transfer_over_lossy_link(12345, faults, 50_000);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_links_deliver_exactly_once(
        seed in 1u64..u64::MAX,
        drop in 0u64..25,
        duplicate in 0u64..25,
        reorder in 0u64..50,
        size in 1usize..60_000,
    ) {
        transfer_over_lossy_link(seed, Faults { drop, duplicate, reorder }, size);
    }
}

#[test]
fn next_sequence_is_what_send_uses() {
    let now = Instant::now();
    let mut agent = channel(Role::Agent, now);
    assert_eq!(agent.next_sequence(), 0);
    for expected in 0..3 {
        let seq = agent
            .send(now, PayloadType::Output, Bytes::from_static(b"x"))
            .unwrap();
        assert_eq!(seq, expected);
        assert_eq!(agent.next_sequence(), expected + 1);
    }
    // Acks and other unsequenced traffic leave it alone.
    agent
        .handle_frame(
            now,
            &peer_message(
                MessageType::StartPublication,
                0,
                PayloadType::Undefined,
                b"",
            ),
        )
        .unwrap();
    assert_eq!(agent.next_sequence(), 3);
}
