//! Failures, in one place: what a library error means for the user
//! ([`FailureKind`], [`kind`]) and how it is phrased so that it says what
//! to do ([`explain`], [`explain_lookup`], [`destination_failed`]); the
//! advice lives in `errors/advice.rs`.

mod advice;

pub use advice::*;
