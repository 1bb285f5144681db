//! The receive side: expected sequence number, reordering and delivery.

use std::collections::{BTreeMap, VecDeque};

use crate::message::ClientMessage;

/// Bytes charged per delivered message on top of its payload, so that a
/// flood of empty messages is bounded too.
const PER_MESSAGE_CHARGE: usize = 64;

/// What a message costs against the byte caps.
fn charge(message: &ClientMessage) -> usize {
    message.payload.len() + PER_MESSAGE_CHARGE
}

/// The limits of one direction's receive buffers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncomingCaps {
    pub(crate) max_reorder: usize,
    pub(crate) max_reorder_bytes: usize,
    pub(crate) max_delivery_bytes: usize,
}

/// What to do with a received stream message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// In order: acknowledge it; it (and any buffered successors) are
    /// now queued for delivery.
    Accepted,
    /// Ahead of order and stored: acknowledge it.
    Buffered,
    /// Seen before (already delivered or already buffered): acknowledge again.
    Duplicate,
    /// Not taken (receiver busy or reorder buffer full): no ack, the peer resends.
    Refused,
}

/// Reorder buffer and delivery queue for one direction.
#[derive(Debug)]
pub(crate) struct Incoming {
    expected: i64,
    reorder: BTreeMap<i64, ClientMessage>,
    reorder_bytes: usize,
    delivery: VecDeque<ClientMessage>,
    delivery_bytes: usize,
    max_reorder: usize,
    max_reorder_bytes: usize,
    max_delivery_bytes: usize,
}

impl Incoming {
    pub(crate) fn new(caps: IncomingCaps) -> Self {
        Self {
            expected: 0,
            reorder: BTreeMap::new(),
            reorder_bytes: 0,
            delivery: VecDeque::new(),
            delivery_bytes: 0,
            max_reorder: caps.max_reorder,
            max_reorder_bytes: caps.max_reorder_bytes,
            max_delivery_bytes: caps.max_delivery_bytes,
        }
    }

    /// The next sequence number we wait for.
    pub(crate) fn expected(&self) -> i64 {
        self.expected
    }

    /// Messages held ahead of order.
    pub(crate) fn reorder_len(&self) -> usize {
        self.reorder.len()
    }

    /// Bytes held ahead of order (payloads plus a per-message charge).
    pub(crate) fn reorder_bytes(&self) -> usize {
        self.reorder_bytes
    }

    /// Classifies and stores one stream message.
    pub(crate) fn on_message(&mut self, message: ClientMessage, accepting: bool) -> Verdict {
        let seq = message.sequence_number;
        if seq < self.expected {
            return Verdict::Duplicate;
        }
        if seq > self.expected {
            return self.buffer_ahead(message);
        }
        if !accepting || self.delivery_bytes >= self.max_delivery_bytes {
            return Verdict::Refused;
        }
        self.deliver(message);
        while let Some(next) = self.reorder.remove(&self.expected) {
            self.reorder_bytes -= charge(&next);
            self.deliver(next);
        }
        Verdict::Accepted
    }

    fn buffer_ahead(&mut self, message: ClientMessage) -> Verdict {
        let seq = message.sequence_number;
        if self.reorder.contains_key(&seq) {
            return Verdict::Duplicate;
        }
        let full = self.reorder.len() >= self.max_reorder
            || self.reorder_bytes.saturating_add(charge(&message)) > self.max_reorder_bytes;
        if full {
            return Verdict::Refused;
        }
        self.reorder_bytes += charge(&message);
        self.reorder.insert(seq, message);
        Verdict::Buffered
    }

    fn deliver(&mut self, message: ClientMessage) {
        self.delivery_bytes += charge(&message);
        self.delivery.push_back(message);
        self.expected += 1;
    }

    /// No in-order message would be accepted now.
    pub(crate) fn is_delivery_full(&self) -> bool {
        self.delivery_bytes >= self.max_delivery_bytes
    }

    /// The next in-order message, if any, without removing it.
    pub(crate) fn peek(&self) -> Option<&ClientMessage> {
        self.delivery.front()
    }

    /// Removes the next in-order message.
    pub(crate) fn pop(&mut self) -> Option<ClientMessage> {
        let message = self.delivery.pop_front()?;
        self.delivery_bytes -= charge(&message);
        Some(message)
    }
}
