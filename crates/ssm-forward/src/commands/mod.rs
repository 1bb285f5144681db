//! The subcommands, one module each.

pub mod demo;
pub mod kubeconfig;
pub mod plugin;
