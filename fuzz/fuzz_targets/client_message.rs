//! `ClientMessage::decode` on arbitrary bytes: never panics, and whatever
//! it accepts re-encodes into a canonical frame that decodes to the same
//! message, keeps every fixed-offset field byte-for-byte, ends with the
//! same payload and is a fixpoint of encode∘decode.
//!
//! The input itself is not compared with the re-encoding: decode accepts
//! `start_publication`/`pause_publication` with loose fields, a
//! HeaderLength above 116 moves the payload start, and the type field may
//! be NUL- or space-padded.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ssm_forward_fuzz::client_message::check(data);
});
