//! The whole client session core of `ssm-client` (`ssm_client::fuzzing`:
//! protocol core, smux client, stream slots, basic mode, pumping, receive
//! caps) driven as its driver task and streams drive it, against a
//! scripted agent (a real agent-role `DataChannel` with a real server-role
//! smux session behind it) and a hostile gateway, in virtual time:
//! handshakes with arbitrary versions and port types, smux data and
//! garbage, flags, acks and fake acks, replays, reordering, pause/start,
//! channel_closed, socket losses and resumes, timers, terminate, and the
//! application opening, reading, writing, closing and abandoning streams
//! from separate tasks.
//!
//! Checks: nothing panics; every frame the client transmits decodes, is an
//! ack or a sequenced HandshakeResponse (seq 0 only), Output of at most
//! `chunk_size` bytes or a flag it may send (DisconnectToPort in basic
//! mode, TerminateSession after a terminate), and no stream message goes
//! out while paused; received bytes held stay below the session and
//! per-stream receive caps plus one frame (smux) or message (basic); bytes
//! a stream reads are exactly, in order, what the agent sent on it (mux:
//! per smux stream; basic: the agent's byte stream, minus what a closed
//! stream dropped) unless corruption was injected there, and EOF comes only
//! after the agent's FIN and all its data; the agent receives exactly what
//! the streams wrote; the client's mode matches the agent's; stream
//! operations fail only after the end or a ConnectToPortError, and after
//! the end every operation fails (reads return buffered data first) and
//! none waits; no task waiting in open, read or write is left unwoken
//! when it could proceed; and at the end, once the socket is back,
//! publication is on and every stream is read and written, everything
//! either side sent arrives (unless the session ended) and nothing stalls.
//! The driver runs only when the real one would wake (a message while it
//! reads, a stream's notification, writer room while frames wait for it,
//! its own timer; pings left out), so a stall means a missed wake-up.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ssm_forward_fuzz::client_driver::{Input, run};

fuzz_target!(|input: Input| {
    let _ = run(input);
});
