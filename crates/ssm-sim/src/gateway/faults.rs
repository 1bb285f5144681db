//! Per-direction fault injection on relayed frames.

use bytes::{Bytes, BytesMut};
use ssm_proto::message::{MessageType, peek_message_type};

use crate::config::FaultConfig;
use crate::stats::SessionCounters;

/// Offset of the PayloadDigest field in a message.
const DIGEST_OFFSET: usize = 80;

/// Decides, frame by frame, whether to drop, duplicate, reorder or
/// corrupt. Only stream data is dropped, duplicated, reordered or
/// corrupted; acks are only dropped (with their own probability);
/// everything else passes untouched.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    config: FaultConfig,
    rng: fastrand::Rng,
    held: Option<Bytes>,
}

impl FaultInjector {
    pub(crate) fn new(config: &FaultConfig, salt: u64) -> Self {
        Self {
            config: config.clone(),
            rng: fastrand::Rng::with_seed(config.seed ^ salt),
            held: None,
        }
    }

    fn roll(&mut self, probability: f64) -> bool {
        probability > 0.0 && self.rng.f64() < probability
    }

    /// The frames to pass on, in order, for one relayed frame.
    pub(crate) fn apply(&mut self, frame: Bytes, counters: &SessionCounters) -> Vec<Bytes> {
        match peek_message_type(&frame) {
            Some(kind) if kind.is_stream_data() => self.apply_to_data(frame, counters),
            Some(MessageType::Acknowledge) if self.roll(self.config.drop_acks) => {
                SessionCounters::add(&counters.faults_dropped, 1);
                self.release_with(Vec::new())
            }
            _ => self.release_with(vec![frame]),
        }
    }

    fn apply_to_data(&mut self, mut frame: Bytes, counters: &SessionCounters) -> Vec<Bytes> {
        if self.roll(self.config.drop) {
            SessionCounters::add(&counters.faults_dropped, 1);
            return self.release_with(Vec::new());
        }
        if self.roll(self.config.corrupt_digest) {
            SessionCounters::add(&counters.faults_corrupted, 1);
            frame = corrupt_digest(&frame);
        }
        if self.held.is_none() && self.roll(self.config.reorder) {
            SessionCounters::add(&counters.faults_reordered, 1);
            self.held = Some(frame);
            return Vec::new();
        }
        let mut out = vec![frame.clone()];
        if self.roll(self.config.duplicate) {
            SessionCounters::add(&counters.faults_duplicated, 1);
            out.push(frame);
        }
        self.release_with(out)
    }

    /// Appends a held-back frame after `frames`, completing a reorder.
    fn release_with(&mut self, mut frames: Vec<Bytes>) -> Vec<Bytes> {
        if let Some(held) = self.held.take() {
            frames.push(held);
        }
        frames
    }
}

fn corrupt_digest(frame: &Bytes) -> Bytes {
    let mut copy = BytesMut::from(&frame[..]);
    if let Some(byte) = copy.get_mut(DIGEST_OFFSET) {
        *byte ^= 0x55;
    }
    copy.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssm_proto::message::{ClientMessage, PayloadType};

    fn data_frame(seq: i64) -> Bytes {
        ClientMessage::new(
            MessageType::InputStreamData,
            1,
            seq,
            0,
            uuid::Uuid::nil(),
            PayloadType::Output,
            Bytes::from_static(b"x"),
        )
        .encode()
    }

    #[test]
    fn reorder_swaps_with_the_next_frame() {
        let config = FaultConfig {
            reorder: 1.0,
            ..FaultConfig::default()
        };
        let counters = SessionCounters::default();
        let mut faults = FaultInjector::new(&config, 0);
        assert!(faults.apply(data_frame(0), &counters).is_empty());
        let out = faults.apply(data_frame(1), &counters);
        let seqs: Vec<i64> = out
            .iter()
            .map(|f| ClientMessage::decode(f).unwrap().sequence_number)
            .collect();
        assert_eq!(seqs, vec![1, 0]);
    }

    #[test]
    fn corruption_breaks_the_digest_only() {
        let config = FaultConfig {
            corrupt_digest: 1.0,
            ..FaultConfig::default()
        };
        let counters = SessionCounters::default();
        let mut faults = FaultInjector::new(&config, 0);
        let out = faults.apply(data_frame(0), &counters);
        assert_eq!(
            ClientMessage::decode(&out[0]),
            Err(ssm_proto::DecodeError::DigestMismatch)
        );
    }

    #[test]
    fn drop_and_duplicate_are_counted() {
        let counters = SessionCounters::default();
        let mut dropper = FaultInjector::new(
            &FaultConfig {
                drop: 1.0,
                ..FaultConfig::default()
            },
            0,
        );
        assert!(dropper.apply(data_frame(0), &counters).is_empty());
        let mut duplicator = FaultInjector::new(
            &FaultConfig {
                duplicate: 1.0,
                ..FaultConfig::default()
            },
            0,
        );
        assert_eq!(duplicator.apply(data_frame(0), &counters).len(), 2);
        let snapshot = counters.snapshot();
        assert_eq!(
            (snapshot.faults_dropped, snapshot.faults_duplicated),
            (1, 1)
        );
    }
}
