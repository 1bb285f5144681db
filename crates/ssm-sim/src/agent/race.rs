//! The agent's send-before-buffer race (protocol.md §13).
//!
//! The real agent writes a stream message to its socket first and adds it
//! to its outgoing buffer afterwards (`SendStreamDataMessage`, then
//! `AddDataToOutgoingMessageBuffer`). An ack that arrives in between finds
//! nothing and is ignored; the message then stays unacked and is resent
//! every RTO until the client acks one of its repeats. Here the race is
//! decided per message when it is queued, and the first ack for a raced
//! message is the one that loses it.

use std::collections::BTreeSet;

use ssm_proto::message::{ClientMessage, MessageType};
use ssm_proto::payload::AcknowledgeContent;

/// Messages whose first ack the agent will miss.
#[derive(Debug)]
pub(super) struct SendBeforeBuffer {
    probability: f64,
    dice: fastrand::Rng,
    raced: BTreeSet<i64>,
}

impl SendBeforeBuffer {
    pub(super) fn new(probability: f64, seed: u64) -> Self {
        Self {
            probability,
            dice: fastrand::Rng::with_seed(seed),
            raced: BTreeSet::new(),
        }
    }

    /// A stream message was queued under `seq`: does it lose the race?
    pub(super) fn on_queued(&mut self, seq: i64) {
        if self.probability > 0.0 && self.dice.f64() < self.probability {
            self.raced.insert(seq);
        }
    }

    /// True when `message` is the first ack of a raced message: the agent
    /// must ignore it.
    pub(super) fn loses_ack(&mut self, message: &ClientMessage) -> bool {
        if self.raced.is_empty() || message.message_type != MessageType::Acknowledge {
            return false;
        }
        AcknowledgeContent::from_bytes(&message.payload)
            .is_ok_and(|ack| self.raced.remove(&ack.acknowledged_message_sequence_number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssm_proto::message::{FLAGS_ACK, PayloadType};

    fn ack(seq: i64) -> ClientMessage {
        let content = AcknowledgeContent {
            acknowledged_message_type: "output_stream_data".into(),
            acknowledged_message_id: "00000000-0000-0000-0000-000000000000".into(),
            acknowledged_message_sequence_number: seq,
            is_sequential_message: true,
        };
        ClientMessage::new(
            MessageType::Acknowledge,
            1,
            0,
            FLAGS_ACK,
            uuid::Uuid::nil(),
            PayloadType::Undefined,
            content.to_bytes(),
        )
    }

    #[test]
    fn only_the_first_ack_of_a_raced_message_is_lost() {
        let mut race = SendBeforeBuffer::new(1.0, 7);
        race.on_queued(3);
        assert!(!race.loses_ack(&ack(2)));
        assert!(race.loses_ack(&ack(3)));
        assert!(!race.loses_ack(&ack(3)), "the repeat's ack counts");
    }

    #[test]
    fn off_at_probability_zero() {
        let mut race = SendBeforeBuffer::new(0.0, 7);
        for seq in 0..100 {
            race.on_queued(seq);
            assert!(!race.loses_ack(&ack(seq)));
        }
    }
}
