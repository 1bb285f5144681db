//! The smux v1 frame codec on arbitrary bytes: never panics; a decoded
//! header re-encodes to exactly the 8 input bytes and reports the payload
//! length smux reads for its command; `Frame::decode` either returns a
//! frame of exactly header + payload bytes that re-encodes to the input
//! prefix, or `Incomplete` with the exact number of missing bytes; a `UPD`
//! payload round-trips too.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ssm_forward_fuzz::smux_frame::check(data);
});
