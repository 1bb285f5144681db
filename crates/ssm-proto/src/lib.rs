//! Sans-IO core of the AWS Session Manager data channel.
//!
//! This crate knows the wire protocol that `session-manager-plugin` and the
//! SSM agent speak through the message gateway: the 120-byte binary message
//! framing ([`message`]), the JSON and flag payloads ([`payload`]), the
//! reliable channel with sequence numbers, acknowledgements, reordering and
//! retransmission ([`channel`]), the client handshake and the
//! port-forwarding mode rules ([`session`], [`version`]).
//!
//! It does **no** I/O: no sockets, no tasks, no clock reads. Time comes in
//! as an [`std::time::Instant`] argument, bytes come in through `handle_*`
//! methods and go out through `poll_*` methods, in the style of
//! `quinn-proto`. That makes every behaviour testable in virtual time and
//! fuzzable. WebSockets, the AWS API and smux multiplexing live in other
//! crates; KMS encryption is not implemented (port sessions never use it,
//! and the handshake refuses it clearly).

pub mod channel;
pub mod error;
pub mod message;
pub mod payload;
pub mod session;
pub mod version;

pub use error::{DecodeError, PayloadError, ReceiveError, SendError};
pub use message::{ClientMessage, MessageType, PayloadType};
