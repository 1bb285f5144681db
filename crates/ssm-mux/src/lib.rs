//! Sans-IO implementation of the smux protocol, version 1, wire- and
//! behaviour-compatible with xtaci/smux v1.5.15/16 — the multiplexer both
//! ends of AWS Session Manager port forwarding run over the data channel.
//!
//! [`Session`] multiplexes streams over one ordered byte stream whose chunk
//! boundaries carry no meaning. It takes transport bytes through
//! [`Session::handle_input`], hands out whole frames through
//! [`Session::poll_transmit`], reports wake-ups through
//! [`Session::poll_event`] and runs its keepalive timers on the [`Instant`]s
//! passed to [`Session::handle_timeout`]. Streams are ids used with
//! [`Session::open`], [`Session::accept`], [`Session::read`],
//! [`Session::write`] and [`Session::close`]. Every buffer is capped: the
//! session-wide receive budget pauses input like smux's `MaxReceiveBuffer`,
//! each stream's write buffer is bounded, the parser holds at most one
//! header, and the accept backlog refuses excess streams. The [`frame`]
//! module is a pure codec usable on its own (for example by fuzz targets).
//!
//! It does **not** do I/O, spawn tasks, read the clock or implement
//! `AsyncRead`/`AsyncWrite` (a driver does that on top). It does not speak
//! smux v2: `UPD` frames are parsed and ignored, never sent, and there is no
//! per-stream window. Like smux v1.5.16 there is no half-close: `close` ends
//! both directions of a stream.
//!
//! ```
//! use std::time::Instant;
//! use ssm_mux::{Config, Event, ReadOutcome, Role, Session};
//!
//! let now = Instant::now();
//! let mut client = Session::new(Role::Client, Config::default(), now)?;
//! let mut server = Session::new(Role::Server, Config::default(), now)?;
//!
//! let sid = client.open()?;
//! assert_eq!(client.write(sid, b"hello")?, 5);
//! while let Some(frame) = client.poll_transmit() {
//!     assert_eq!(server.handle_input(&frame)?, frame.len());
//! }
//! assert_eq!(server.poll_event(), Some(Event::IncomingStream));
//! let accepted = server.accept().expect("stream 3 is waiting");
//! assert_eq!(accepted.0, 3);
//! let mut buf = [0; 16];
//! assert_eq!(server.read(accepted, &mut buf)?, ReadOutcome::Data(5));
//! assert_eq!(&buf[..5], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Instant`]: std::time::Instant

mod config;
mod error;
mod event;
pub mod frame;
mod session;
mod stream;

pub use config::{Config, KeepAlive, Role};
pub use error::{ConfigError, FrameError, SessionError, StreamError};
pub use event::{Event, Stats};
pub use session::Session;
pub use stream::{ReadOutcome, StreamId};
