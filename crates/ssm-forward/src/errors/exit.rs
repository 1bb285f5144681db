//! Exit statuses, and the error that carries one up to `main`.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | stopped by Ctrl-C / SIGTERM (or a subcommand finished) |
//! | 1 | runtime error (AWS unreachable, invalid request, …) |
//! | 2 | usage or configuration error |
//! | 3 | target not found, offline or not connected to Session Manager |
//! | 4 | credentials missing or expired, or access denied |
//! | 5 | a local port is already in use (or cannot be bound) |

use thiserror::Error;

use crate::errors::FailureKind;

/// Why the process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything went as asked.
    Ok = 0,
    /// Something failed at run time.
    Runtime = 1,
    /// The command line or configuration file is wrong.
    Usage = 2,
    /// The target does not exist or is not connected.
    Target = 3,
    /// Credentials or permissions.
    Access = 4,
    /// A local listen address is taken.
    PortInUse = 5,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<FailureKind> for ExitStatus {
    fn from(kind: FailureKind) -> Self {
        match kind {
            FailureKind::Target => Self::Target,
            FailureKind::Access => Self::Access,
            FailureKind::Invalid | FailureKind::Transient => Self::Runtime,
        }
    }
}

/// An error with a message for the user and an exit status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct Fatal {
    /// The exit status.
    pub status: ExitStatus,
    /// What went wrong and what to do.
    pub message: String,
}

impl Fatal {
    /// A fatal error with `status`.
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A usage or configuration error (status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitStatus::Usage, message)
    }
}

/// The exit status for a failed AWS API call (DescribeCluster,
/// ListClusters, …): 4 for credentials and access, 3 for a target that
/// is not connected, else 1.
pub fn exit_status_of_api(error: &ssm_client::ApiError) -> ExitStatus {
    ExitStatus::from(crate::errors::kind(&ssm_client::Error::Api(error.clone())))
}

/// The exit status for an error: the first [`Fatal`] in its chain, else 1.
pub fn status_of(error: &anyhow::Error) -> ExitStatus {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Fatal>())
        .map_or(ExitStatus::Runtime, |fatal| fatal.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn status_is_found_through_context() {
        let error = Err::<(), _>(Fatal::new(ExitStatus::PortInUse, "busy"))
            .context("starting")
            .unwrap_err();
        assert_eq!(status_of(&error), ExitStatus::PortInUse);
        assert_eq!(status_of(&anyhow::anyhow!("other")), ExitStatus::Runtime);
        assert_eq!(ExitStatus::from(FailureKind::Access).code(), 4);
    }
}
