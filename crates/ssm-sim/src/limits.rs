//! Limits and constants shared by the gateway, the agent and the hostile
//! behaviours, kept in a leaf module so that none of them imports another
//! for a number.

use std::time::Duration;

/// Largest WebSocket message the gateway accepts.
pub const MAX_WS_MESSAGE: usize = 2 << 20;

/// A timer deadline that never comes, for `select!` loops with nothing
/// scheduled.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365);
