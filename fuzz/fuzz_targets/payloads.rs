//! The payload parsers on arbitrary bytes; the first byte picks the parser.
//!
//! Checks: no parser panics; every JSON payload that parses re-serializes
//! into bytes that parse to an equal value, and that serialization is a
//! fixpoint; a 4-byte flag re-encodes to exactly its input; the
//! `OpenDataChannel` text frame round-trips the same way; and
//! `PortProperties` read from any JSON value survive a trip through the
//! string-valued object a well-behaved agent would send.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ssm_forward_fuzz::payloads::check(data);
});
