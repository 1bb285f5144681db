//! State shared by the [`crate::Session`] handles, the streams and the driver.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::core::{Core, Status};
use crate::stats::LinkStatus;

/// Requests from handles to the driver task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Terminate the session; reply when done.
    Terminate(oneshot::Sender<()>),
    /// Every handle is gone: terminate quietly.
    Released,
}

#[derive(Debug)]
pub(crate) struct Inner {
    core: Mutex<Core>,
    /// Wakes the driver when a stream changed state.
    pub(crate) notify: Notify,
    pub(crate) session_id: String,
    pub(crate) status: watch::Sender<Status>,
    pub(crate) link: watch::Sender<LinkStatus>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl Inner {
    pub(crate) fn new(
        core: Core,
        session_id: String,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Self {
        let (status, _) = watch::channel(Status::Connecting);
        let (link, _) = watch::channel(LinkStatus {
            connected: true,
            ..LinkStatus::default()
        });
        Self {
            link,
            core: Mutex::new(core),
            notify: Notify::new(),
            session_id,
            status,
            commands,
        }
    }

    /// Locks the core. A panic while it was held poisons nothing we rely
    /// on: every operation leaves the core consistent before it can panic.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Publishes status and link changes made under the lock.
    pub(crate) fn publish(&self, core: &mut Core) {
        if let Some(status) = core.take_status_change() {
            self.status.send_replace(status);
        }
        if let Some(link) = core.take_link_change() {
            self.link.send_replace(link);
        }
    }
}

/// Held by every [`crate::Session`] clone and [`crate::Stream`]; when
/// the last one drops, the driver terminates the session.
#[derive(Debug)]
pub(crate) struct HandleGuard {
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl Drop for HandleGuard {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Released);
    }
}
