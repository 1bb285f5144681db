//! The control socket: how `ssm-forward status` and `ssm-forward stop`
//! reach running forwards.
//!
//! Each daemon run (`ssm-forward --target …`, `up`, `eks connect`) opens
//! a Unix socket named by its pid in a private directory
//! ([`paths`]: `$XDG_RUNTIME_DIR/ssm-forward/`, else
//! `ssm-forward-$UID` in the temporary directory; 0700, socket 0600)
//! and removes it on exit; stale sockets of crashed processes are
//! removed by the next daemon or client that finds them. The
//! [`protocol`] is one JSON request line and one JSON answer line,
//! versioned; only `stop NAME` changes anything.
//!
//! - [`model`]: the per-forward status, fed by the forwards' events and
//!   their live sessions and connections.
//! - [`server`]: the daemon's side; [`Daemon::open`] ties it to a run.
//! - [`client`]: asks every daemon of this user.
//! - [`table`]: the human form of the answers.
//!
//! Without Unix sockets (Windows) there is no control socket yet: the
//! daemon runs without one and `status`/`stop` say
//! [`ControlError::Unsupported`].

#[cfg(unix)]
pub mod client;
pub mod model;
#[cfg(unix)]
pub mod paths;
pub mod protocol;
#[cfg(unix)]
pub mod server;
pub mod table;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;

use crate::forwarding::stops::ForwardStops;
use crate::forwarding::supervisor::ForwardEvent;
use model::StatusBoard;
use protocol::{Action, Response};

/// Why the control socket cannot be used.
#[derive(Debug, Error)]
pub enum ControlError {
    /// No Unix sockets here: use the status lines (or `--json` logs)
    /// instead, and Ctrl-C to stop.
    #[error("`ssm-forward status` and `stop` are not supported on this platform yet")]
    Unsupported,
    /// The control directory cannot be created or read: fix its
    /// permissions, or point `XDG_RUNTIME_DIR` elsewhere.
    #[error(
        "cannot use the control directory {}: {source}; check its permissions or set \
         XDG_RUNTIME_DIR to a private directory", path.display()
    )]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The control directory is not safe to use (someone else's, a
    /// link, a file): remove it or set `XDG_RUNTIME_DIR`.
    #[error(
        "refusing the control directory {}: {reason}; remove it, or set XDG_RUNTIME_DIR to a \
         private directory", path.display()
    )]
    UnsafeDirectory {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The socket cannot be created: check the directory's free space
    /// and permissions.
    #[error("cannot open the control socket {}: {source}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// What a daemon run shares with its control socket.
#[derive(Debug)]
pub struct Daemon {
    /// The forwards' status.
    pub board: Arc<StatusBoard>,
    /// The forwards' stop switches.
    pub stops: Arc<ForwardStops>,
    #[cfg(unix)]
    server: Option<server::ControlServer>,
}

impl Daemon {
    /// A status board and stop switches, no socket yet.
    pub fn new() -> Self {
        Self {
            board: Arc::default(),
            stops: Arc::default(),
            #[cfg(unix)]
            server: None,
        }
    }

    /// Opens the control socket. A failure is a warning: the forwards
    /// run anyway, without `status` and `stop`.
    pub fn open_socket(&mut self) {
        #[cfg(unix)]
        {
            let dir = paths::control_dir();
            match server::ControlServer::open(&dir, self.board.clone(), self.stops.clone()) {
                Ok(server) => self.server = Some(server),
                Err(error) => crate::output::warning(
                    "control_socket",
                    &format!("{error} (`ssm-forward status` will not list this process)"),
                ),
            }
        }
        #[cfg(not(unix))]
        tracing::debug!("no control socket on this platform");
    }

    /// Applies every event to the board on its way to `events`' reader:
    /// returns the receiver to read instead.
    pub fn tee(
        &self,
        mut events: mpsc::UnboundedReceiver<ForwardEvent>,
    ) -> mpsc::UnboundedReceiver<ForwardEvent> {
        let (forward, teed) = mpsc::unbounded_channel();
        let board = self.board.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                board.apply(&event);
                if forward.send(event).is_err() {
                    break;
                }
            }
        });
        teed
    }

    /// Closes the socket (answers being written get a moment) and
    /// removes it.
    pub async fn close(self) {
        #[cfg(unix)]
        if let Some(server) = self.server {
            server.close().await;
        }
    }
}

impl Default for Daemon {
    fn default() -> Self {
        Self::new()
    }
}

/// One daemon's answer, or why there is none.
#[derive(Debug)]
pub struct Reply {
    /// The daemon's process id.
    pub pid: u32,
    /// Its answer, or what went wrong asking.
    pub answer: Result<Response, String>,
}

/// Sends `action` to every running daemon of this user (stale sockets
/// are removed on the way), waiting at most `timeout` for each.
pub async fn ask_all(action: &Action, timeout: Duration) -> Result<Vec<Reply>, ControlError> {
    #[cfg(unix)]
    {
        client::ask_all(action, timeout).await
    }
    #[cfg(not(unix))]
    {
        let _ = (action, timeout);
        Err(ControlError::Unsupported)
    }
}

/// Sends `action` to the daemon with process id `pid` only; `None` when
/// it does not run (any more).
pub async fn ask_one(
    action: &Action,
    pid: u32,
    timeout: Duration,
) -> Result<Option<Reply>, ControlError> {
    #[cfg(unix)]
    {
        Ok(client::ask_one(action, pid, timeout).await)
    }
    #[cfg(not(unix))]
    {
        let _ = (action, pid, timeout);
        Err(ControlError::Unsupported)
    }
}
