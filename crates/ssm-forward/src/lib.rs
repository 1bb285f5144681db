//! ssm-forward: forward local TCP ports through AWS Session Manager with
//! a native client (no AWS CLI, no session-manager-plugin).
//!
//! The binary's pieces live here so tests can drive them. `main.rs` only
//! dispatches: it recognises the plugin name, parses [`cli::Cli`], sets
//! up logging and the runtime, runs [`commands::run`] and turns the
//! outcome into an exit status.
//!
//! - [`cli`]: the top-level `Cli`, the `Command` enum, the logging flags
//!   and the argument groups several commands share.
//! - [`commands`]: one module per command, each owning its `Args` and
//!   `run`: `forward` (no subcommand), `up`, `list`, `eks`,
//!   `kubeconfig`, `login`, `logout`, `demo`, `completions`, `man`,
//!   `plugin`, `status`, `stop`, `doctor`, `proxy`. A new subcommand is a new
//!   module there and a variant of `Command`.
//!
//! What every command can use:
//!
//! - [`aws_context`]: SDK configurations and SSM clients, loaded once per
//!   profile/region/endpoint, with the missing-region check.
//! - [`sign_in`]: IAM Identity Center sign-in at a terminal (the device
//!   login, the check before AWS calls that offers it, logout); the
//!   protocol and token cache are the `ssm-sso` crate's.
//! - [`targets`]: target discovery (id, Name tag, tag, EKS cluster) and
//!   its failures mapped to exit statuses.
//! - [`serve`]: the one serve loop (listen, accept, a task per
//!   connection, stop) and the one copy between a connection and its
//!   stream.
//! - [`signals`]: the stop signals (Ctrl-C, SIGTERM, …), watched from
//!   creation on.
//! - [`service_manager`]: `READY=1` / `STOPPING=1` for systemd
//!   `Type=notify` units.
//! - [`forwarding`]: from planned forwards to running ones: planning,
//!   target resolution and binding, one supervisor per forward (listener
//!   and session), the runner that watches them and the ready file.
//! - [`local_proxy`]: a forward that is a local HTTP and SOCKS5 proxy,
//!   with a session per destination (`ssm-forward proxy`,
//!   `[proxies.NAME]`).
//! - [`config_file`]: the named forwards of the configuration file.
//! - [`control`]: the control socket each forwarding run opens, for
//!   `status` and `stop`.
//! - [`doctor`]: the checks of `ssm-forward doctor`.
//! - [`output`]: status lines and logging (human or JSON).
//! - [`errors`]: exit statuses, the `Fatal` error that carries one, and
//!   error messages that say what to do.
//! - [`atomic_file`]: files written whole or not at all.

pub mod atomic_file;
pub mod aws_context;
pub mod cli;
pub mod commands;
pub mod config_file;
pub mod control;
pub mod doctor;
pub mod eks;
pub mod errors;
pub mod forwarding;
pub mod kubeconfig;
pub mod local_proxy;
pub mod output;
pub mod serve;
pub mod service_manager;
pub mod sign_in;
pub mod signals;
pub mod targets;
