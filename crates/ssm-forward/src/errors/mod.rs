//! Failures, in one place: [`exit`] holds the exit statuses and
//! [`Fatal`], the error that carries one up to `main`; [`advice`] sorts
//! library errors by what the user has to do about them ([`FailureKind`],
//! [`kind`]) and phrases them so that they say it ([`explain`],
//! [`explain_lookup`], [`destination_failed`]). Both are re-exported here:
//! `crate::errors::X` is the path to use.

pub mod advice;
pub mod exit;

pub use advice::*;
pub use exit::{ExitStatus, Fatal, exit_status_of_api, status_of};
