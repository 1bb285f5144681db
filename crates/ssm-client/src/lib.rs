//! Async AWS Session Manager port-forwarding client.
//!
//! [`Session::start`] calls StartSession (through [`AwsSessionApi`] on
//! aws-sdk-ssm, or any [`SessionApi`]), opens the data-channel WebSocket,
//! completes the handshake and then hands out [`Stream`]s, each an
//! `AsyncRead + AsyncWrite` connection to the remote destination:
//! multiplexed with smux in mux mode, one at a time in basic mode (old
//! agents). [`Session::attach`] does the same for a session started
//! elsewhere.
//!
//! Behind the handle one driver task owns the socket: it paces our
//! messages under the service's rate limit, keeps a bounded window of
//! unacked data (writers wait when it is full), stops accepting data when
//! local readers fall behind (it stops reading the socket; nothing accepted
//! is ever dropped), pings the gateway and detects dead sockets, and resumes
//! after any socket loss with ResumeSession for as long as the session
//! exists. [`Session::terminate`] ends it with the TerminateSession flag
//! and API call.
//!
//! This crate never logs the session token. Two of its dependencies do at
//! trace level: `aws_smithy_runtime` (whole StartSession/ResumeSession
//! responses) and `tungstenite` (every frame, OpenDataChannel included).
//! Keep those targets at `debug` or below in your subscriber, as the
//! `ssm-forward` binary does whatever `RUST_LOG` says.
//!
//! [`SessionPool`] spreads streams over several sessions of one target
//! (each session has its own agent loop and gateway limit, so N sessions
//! carry up to N times as much; in basic mode the pool is what allows
//! more than one connection at a time).
//!
//! Not included: shell sessions and KMS encryption (port sessions never
//! use it); the protocol itself lives in `ssm-proto` and `ssm-mux`.

// Without `net` only the `fuzzing` facade (if any) uses the session core.
#![cfg_attr(not(feature = "net"), allow(dead_code, unused_imports))]

pub mod api;
#[cfg(feature = "aws")]
mod aws;
mod config;
mod connection;
mod core;
#[cfg(feature = "net")]
mod driver;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod inner;
#[cfg(feature = "net")]
mod link;
#[cfg(feature = "net")]
mod proxy;
#[cfg(feature = "net")]
pub use proxy::environment_proxies;
#[cfg(feature = "net")]
mod pool;
#[cfg(feature = "net")]
mod session;
mod stats;
mod stream;
#[cfg(feature = "net")]
mod transport;

pub use api::{ApiError, ApiErrorKind, SessionApi, StartSessionRequest, StartedSession};
#[cfg(feature = "aws")]
pub use aws::{
    AwsOptions, AwsSessionApi, classify_sdk_error, https_client, load_sdk_config,
    simulator_sdk_config,
};
pub use config::{ClientConfig, ConnectDeadlines};
pub use error::{ConnectError, ConnectStep, EndCause, EndReason, Error, ErrorSource, ProxyError};
#[cfg(feature = "net")]
pub use pool::{
    PoolError, PoolEvent, PoolPolicy, PoolStats, PoolStream, PooledSessionStats, REPLAY_LIMIT,
    SessionPool,
};
#[cfg(feature = "net")]
pub use session::Session;
pub use ssm_proto::session::{HandshakeError, SessionInfo};
pub use ssm_proto::version::PortMode;
pub use stats::{LinkStatus, SessionStats};
pub use stream::Stream;
#[cfg(feature = "net")]
pub use transport::{GatewayReach, install_crypto_provider, reach_gateway};
