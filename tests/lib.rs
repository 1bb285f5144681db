//! Shared helpers for the workspace-level tests.

#[path = "eks_token/mod.rs"]
pub mod eks_token;
