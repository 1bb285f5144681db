//! Fuzz harnesses for `ssm-proto`, `ssm-mux`, `ssm-client` and
//! `ssm-proxy-handshake`, shared by the
//! cargo-fuzz targets in `fuzz_targets/` and by the seed tests in
//! `tests/seeds.rs`. Each module panics on a broken invariant; the target
//! files document what each one checks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod channel_ops;
pub mod client_driver;
pub mod client_message;
pub mod client_session;
pub mod payloads;
pub mod proxy_handshake;
pub mod seed;
pub mod smux_frame;
pub mod smux_session;
