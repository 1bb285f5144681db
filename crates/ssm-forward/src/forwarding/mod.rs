//! Forwarding, from plan to shutdown: [`plan`] turns flags or the
//! configuration file into forwards, [`supervisor`] runs one forward (its
//! listener and the session behind it), [`runner`] watches them all and
//! [`ready_file`] tells scripts they are up.

pub mod plan;
pub mod ready_file;
pub mod runner;
pub mod supervisor;
