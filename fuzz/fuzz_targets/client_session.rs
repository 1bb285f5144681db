//! Arbitrary agent behaviour against one `ClientSession` in virtual time.
//!
//! A real agent-role `DataChannel` sends well-formed handshake requests,
//! completions, flags, output and arbitrary payloads under arbitrary
//! payload types; crafted out-of-band messages and raw bytes are mixed in,
//! with timeouts, reconnects and the client's own `send_output`/`send_flag`.
//!
//! Checks: nothing panics; every frame the client transmits decodes, and
//! its sequenced messages are the HandshakeResponse at 0 and nothing else
//! there; `send_output`/`send_flag` succeed only once a HandshakeComplete
//! event was seen and the session has not ended; `poll_output` yields data
//! only when ready; `is_ready`/`is_ended` agree with the events reported;
//! HandshakeComplete is reported at most once, for a `Port` session, and
//! the handshake deadline ends a session that is not ready.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ssm_forward_fuzz::client_session::{Op, run};

fuzz_target!(|ops: Vec<Op>| {
    let _ = run(ops);
});
