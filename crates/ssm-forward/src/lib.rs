//! ssm-forward: forward local TCP ports through AWS Session Manager with
//! a native client (no AWS CLI, no session-manager-plugin).
//!
//! The binary's pieces live here so tests can drive them: [`forward`]
//! (listener + session supervisor), [`discovery`] (target by id, Name
//! tag, tag or EKS cluster), [`config_file`] (named forwards),
//! [`output`] (status lines, JSON logs), [`ready_file`], [`plan`] (from
//! flags or file to forwards), [`runner`] (watching them), [`exit`]
//! (exit statuses), [`app`] (the commands end to end), [`kubeconfig`]
//! (proxy-url for EKS users), [`demo`] (everything on the embedded
//! simulator) and [`plugin`] (drop-in for `session-manager-plugin`).

pub mod atomic_file;
pub mod aws_context;
pub mod cli;
pub mod commands;
pub mod config_file;
pub mod errors;
pub mod forwarding;
pub mod output;
pub mod serve;
pub mod signals;
pub mod targets;
