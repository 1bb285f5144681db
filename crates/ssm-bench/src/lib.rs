//! Code the `ssm-bench` and `ssm-soak` binaries share: reading a
//! process's CPU time, memory and open files from /proc. It is internal
//! to those two tools (hence `anyhow`), not a library for other crates;
//! the measurements themselves live in the binaries.

pub mod procfs;
