//! The send side: sequence numbers, the unacked window and retransmission.
//!
//! Every sequenced message stays here, encoded once, until the peer acks
//! its sequence number after it went on the wire (an ack for a message
//! still queued is a protocol violation and releases nothing). Nothing is
//! ever evicted: when the window is full, [`Outgoing::capacity`] is 0 and
//! the caller must wait (backpressure).

use std::collections::btree_map::Entry as Slot;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::rtt::RttEstimator;

/// Which overdue messages are resent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetransmitPolicy {
    /// Every message whose timer expired (our client's choice: recovery
    /// after a burst loss is not throttled to one message per tick).
    #[default]
    AllOverdue,
    /// Only the oldest unacked message, like the official plugin and agent.
    /// The simulator uses this to reproduce the real agent.
    FrontOnly,
}

/// What an ack did to the send window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// The message was unacked and is now released. `rtt_sample` is set
    /// when it was sent exactly once (Karn's rule), `None` when resent.
    Released {
        /// How long the ack took, for the RTT estimate.
        rtt_sample: Option<Duration>,
    },
    /// The message was acked before: a duplicate ack, harmless.
    AlreadyAcked,
    /// No message with this sequence number ever went on the wire (not
    /// assigned yet, negative, or still queued): the peer broke the
    /// protocol. Nothing was released.
    NeverSent,
}

#[derive(Debug)]
struct Entry {
    frame: Bytes,
    payload_len: usize,
    first_sent: Option<Instant>,
    retries: u32,
    /// Last transmission, while on the wire and not queued for a resend.
    last_sent: Option<Instant>,
}

/// A frame handed out for transmission.
#[derive(Debug)]
pub(crate) struct Transmission {
    pub(crate) frame: Bytes,
    pub(crate) payload_len: usize,
    pub(crate) is_retransmit: bool,
}

/// Unacked messages in sequence order, with their timers.
///
/// A message on the wire is due for a resend once the *current* RTO has
/// passed since its last transmission (the agent's rule, protocol.md
/// §5.4), so a change of the RTO applies to every message at once. Since
/// the RTO is the same for all, the oldest last transmission is always
/// the first due.
#[derive(Debug)]
pub(crate) struct Outgoing {
    next_seq: i64,
    max_unacked: usize,
    entries: BTreeMap<i64, Entry>,
    /// (last transmission, seq) of every message on the wire.
    on_wire: BTreeSet<(Instant, i64)>,
    unsent: VecDeque<i64>,
    resend: BTreeSet<i64>,
    tick: Option<Duration>,
    next_check: Option<Instant>,
}

impl Outgoing {
    /// `tick`: when set, overdue messages are looked for at most once per
    /// tick, like the service's 100 ms resend loop.
    pub(crate) fn new(max_unacked: usize, tick: Option<Duration>) -> Self {
        Self {
            next_seq: 0,
            max_unacked: max_unacked.max(1),
            entries: BTreeMap::new(),
            on_wire: BTreeSet::new(),
            unsent: VecDeque::new(),
            resend: BTreeSet::new(),
            tick,
            next_check: None,
        }
    }

    /// The sequence number the next message will carry.
    pub(crate) fn next_seq(&self) -> i64 {
        self.next_seq
    }

    /// How many more messages fit in the window.
    pub(crate) fn capacity(&self) -> usize {
        self.max_unacked.saturating_sub(self.entries.len())
    }

    /// Messages not yet acknowledged (sent or waiting to be sent).
    pub(crate) fn unacked(&self) -> usize {
        self.entries.len()
    }

    /// Whether the peer acknowledged any message numbered `from` or
    /// later (acks are per message, so a gap in the buffer from there on
    /// is an ack).
    pub(crate) fn acked_any_from(&self, from: i64) -> bool {
        let from = from.max(0);
        let assigned = usize::try_from(self.next_seq.saturating_sub(from)).unwrap_or(0);
        self.entries.range(from..).count() < assigned
    }

    /// When the oldest unacked message was first sent (`None`: nothing
    /// unacked, or the oldest not sent yet).
    pub(crate) fn oldest_first_sent(&self) -> Option<Instant> {
        self.entries
            .values()
            .next()
            .and_then(|entry| entry.first_sent)
    }

    /// Queues an encoded message under the next sequence number.
    pub(crate) fn push(&mut self, frame: Bytes, payload_len: usize) -> i64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            frame,
            payload_len,
            first_sent: None,
            retries: 0,
            last_sent: None,
        };
        self.entries.insert(seq, entry);
        self.unsent.push_back(seq);
        seq
    }

    /// True when something waits to go on the wire.
    pub(crate) fn has_pending(&mut self) -> bool {
        self.drop_stale_queue_heads();
        !self.resend.is_empty() || !self.unsent.is_empty()
    }

    fn drop_stale_queue_heads(&mut self) {
        while let Some(seq) = self.unsent.front() {
            if self.entries.contains_key(seq) {
                break;
            }
            self.unsent.pop_front();
        }
    }

    /// Hands out the next frame: due retransmissions first (oldest first),
    /// then never-sent messages, and arms its timer.
    pub(crate) fn next_transmission(&mut self, now: Instant) -> Option<Transmission> {
        self.drop_stale_queue_heads();
        let seq = match self.resend.pop_first() {
            Some(seq) => seq,
            None => self.unsent.pop_front()?,
        };
        let entry = self.entries.get_mut(&seq)?;
        let is_retransmit = entry.first_sent.is_some();
        if is_retransmit {
            entry.retries = entry.retries.saturating_add(1);
        } else {
            entry.first_sent = Some(now);
        }
        if let Some(old) = entry.last_sent.replace(now) {
            self.on_wire.remove(&(old, seq));
        }
        self.on_wire.insert((now, seq));
        Some(Transmission {
            frame: entry.frame.clone(),
            payload_len: entry.payload_len,
            is_retransmit,
        })
    }

    /// Applies the peer's ack of `seq`. Only a message that went on the
    /// wire is released; an ack for anything else changes nothing.
    pub(crate) fn on_ack(&mut self, seq: i64, now: Instant) -> AckOutcome {
        let entry = match self.entries.entry(seq) {
            Slot::Occupied(slot) if slot.get().first_sent.is_some() => slot.remove(),
            Slot::Occupied(_) => return AckOutcome::NeverSent,
            Slot::Vacant(_) if (0..self.next_seq).contains(&seq) => {
                return AckOutcome::AlreadyAcked;
            }
            Slot::Vacant(_) => return AckOutcome::NeverSent,
        };
        if let Some(sent) = entry.last_sent {
            self.on_wire.remove(&(sent, seq));
        }
        self.resend.remove(&seq);
        let rtt_sample = match (entry.first_sent, entry.retries) {
            (Some(sent), 0) => Some(now.saturating_duration_since(sent)),
            _ => None,
        };
        AckOutcome::Released { rtt_sample }
    }

    /// Moves messages on the wire for at least the current RTO into the
    /// resend queue; tells the estimator when any fell due (it may back
    /// off).
    pub(crate) fn on_timeout(
        &mut self,
        now: Instant,
        policy: RetransmitPolicy,
        rtt: &mut RttEstimator,
    ) {
        if let Some(tick) = self.tick {
            if self.next_check.is_some_and(|check| now < check) {
                return;
            }
            self.next_check = Some(now + tick);
        }
        let rto = rtt.rto();
        let mut expired = false;
        match policy {
            RetransmitPolicy::AllOverdue => {
                while let Some(&(sent, seq)) = self.on_wire.first() {
                    if sent + rto > now {
                        break;
                    }
                    self.on_wire.pop_first();
                    self.queue_resend(seq);
                    expired = true;
                }
            }
            RetransmitPolicy::FrontOnly => {
                if let Some((sent, seq)) = self.front_on_wire()
                    && sent + rto <= now
                {
                    self.on_wire.remove(&(sent, seq));
                    self.queue_resend(seq);
                    expired = true;
                }
            }
        }
        if expired {
            rtt.on_expiry(now);
        }
    }

    fn queue_resend(&mut self, seq: i64) {
        if let Some(entry) = self.entries.get_mut(&seq) {
            entry.last_sent = None;
            self.resend.insert(seq);
        }
    }

    fn front_on_wire(&self) -> Option<(Instant, i64)> {
        let (&seq, entry) = self.entries.first_key_value()?;
        Some((entry.last_sent?, seq))
    }

    /// When the next resend falls due under `policy` with this RTO.
    pub(crate) fn next_deadline(&self, policy: RetransmitPolicy, rto: Duration) -> Option<Instant> {
        let sent = match policy {
            RetransmitPolicy::AllOverdue => self.on_wire.first().map(|&(at, _)| at),
            RetransmitPolicy::FrontOnly => self.front_on_wire().map(|(at, _)| at),
        }?;
        let due = sent + rto;
        Some(self.next_check.map_or(due, |check| due.max(check)))
    }

    /// After a reconnect: everything already sent is resent now, since
    /// whatever was in flight on the old socket may be lost.
    pub(crate) fn requeue_in_flight(&mut self) {
        let in_flight: Vec<(Instant, i64)> =
            std::mem::take(&mut self.on_wire).into_iter().collect();
        for (_, seq) in in_flight {
            self.queue_resend(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent_once(outgoing: &mut Outgoing, now: Instant) -> i64 {
        let seq = outgoing.push(Bytes::from_static(b"m"), 1);
        let sent = outgoing.next_transmission(now).expect("queued");
        assert!(!sent.is_retransmit);
        seq
    }

    #[test]
    fn ack_of_a_message_sent_once_gives_an_rtt_sample() {
        let now = Instant::now();
        let mut outgoing = Outgoing::new(8, None);
        let seq = sent_once(&mut outgoing, now);
        let later = now + Duration::from_millis(30);
        assert_eq!(
            outgoing.on_ack(seq, later),
            AckOutcome::Released {
                rtt_sample: Some(Duration::from_millis(30))
            }
        );
        assert_eq!(outgoing.on_ack(seq, later), AckOutcome::AlreadyAcked);
        assert_eq!(outgoing.unacked(), 0);
    }

    #[test]
    fn ack_of_a_resent_message_gives_no_sample() {
        let now = Instant::now();
        let mut outgoing = Outgoing::new(8, None);
        let seq = sent_once(&mut outgoing, now);
        outgoing.requeue_in_flight();
        assert!(outgoing.next_transmission(now).unwrap().is_retransmit);
        assert_eq!(
            outgoing.on_ack(seq, now),
            AckOutcome::Released { rtt_sample: None }
        );
    }

    #[test]
    fn acked_any_from_sees_only_acks_at_or_after_the_mark() {
        let now = Instant::now();
        let mut outgoing = Outgoing::new(8, None);
        let early = sent_once(&mut outgoing, now);
        let mark = outgoing.next_seq();
        assert!(
            !outgoing.acked_any_from(mark),
            "nothing sent since the mark"
        );
        let first = sent_once(&mut outgoing, now);
        let second = sent_once(&mut outgoing, now);
        outgoing.on_ack(early, now);
        assert!(!outgoing.acked_any_from(mark), "an ack before the mark");
        outgoing.on_ack(second, now);
        assert!(outgoing.acked_any_from(mark), "a later message was acked");
        outgoing.on_ack(first, now);
        assert!(outgoing.acked_any_from(mark));
        assert!(!outgoing.acked_any_from(outgoing.next_seq()));
    }

    #[test]
    fn ack_of_a_message_never_sent_keeps_it() {
        let now = Instant::now();
        let mut outgoing = Outgoing::new(8, None);
        let queued = outgoing.push(Bytes::from_static(b"q"), 1);
        assert_eq!(outgoing.on_ack(queued, now), AckOutcome::NeverSent);
        assert_eq!(outgoing.on_ack(queued + 1, now), AckOutcome::NeverSent);
        assert_eq!(outgoing.on_ack(-1, now), AckOutcome::NeverSent);
        assert_eq!(outgoing.unacked(), 1);
        assert!(outgoing.has_pending());
    }
}
