//! A server-role `ssm_mux::Session` fed arbitrary transport bytes (well-formed
//! frames and raw bytes, offered in arbitrary chunks) interleaved with
//! open/accept/read/write/close, timers and session ends.
//!
//! A reference parser follows exactly the bytes `handle_input` consumed.
//! Checks: nothing panics; `handle_input` never consumes more than offered,
//! stops early only at a frame boundary with the receive budget used up,
//! fails exactly at the first invalid header and keeps unread data below
//! the budget plus one maximal frame; reads return, per stream, exactly the
//! peer's `PSH` bytes since the `SYN` (or our open), EOF only after the
//! peer's `FIN` with everything read, and WouldBlock only when nothing is
//! pending; accepted streams were SYNed; writes never overfill a stream's
//! buffer; every transmitted frame decodes whole, and per stream they are
//! our SYN first, then exactly the written bytes in `PSH` frames of at most
//! `max_frame_size`, then a FIN only after `close`; after a full drain
//! nothing written is left behind; reading everything returns the whole
//! receive budget; the session's death is reported once and is final.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ssm_forward_fuzz::smux_session::{Input, run};

fuzz_target!(|input: Input| {
    let _ = run(input);
});
