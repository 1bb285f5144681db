//! Arbitrary operation sequences against one `DataChannel` (client or
//! agent role) in virtual time, with a scripted peer.
//!
//! Checks after every step: delivered messages come out in sequence order
//! from 0 with no gap or duplicate, each carrying a payload the peer sent
//! under that number; `send` numbers its messages 0, 1, 2, … and refuses
//! exactly when the window is full or the payload too large; `unacked()`
//! equals sent minus acknowledged, never exceeds `max_unacked`, and
//! `send_capacity() + unacked() == max_unacked`; every frame from
//! `poll_transmit` decodes, acks acknowledge something the peer sent,
//! stream frames are ours, unacked, byte-identical on retransmission and
//! never sent while paused; the reorder buffer stays within its limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ssm_forward_fuzz::channel_ops::{Input, run};

fuzz_target!(|input: Input| {
    let _ = run(input);
});
