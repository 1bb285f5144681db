//! Stopping forwards one at a time (`ssm-forward stop NAME`) or all at
//! once (Ctrl-C, SIGTERM): each forward runs under its own shutdown
//! watch, and says when it has stopped (listener closed, sessions
//! terminated).

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// The stop switches of a daemon's forwards.
#[derive(Debug, Default)]
pub struct ForwardStops {
    forwards: Mutex<Vec<Switch>>,
}

#[derive(Debug)]
struct Switch {
    name: String,
    stop: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
}

/// What a forward's task holds: its shutdown watch and the sender that
/// says it has stopped.
#[derive(Debug)]
pub struct StopHandle {
    /// Becomes true when the forward must stop.
    pub shutdown: watch::Receiver<bool>,
    /// Set to true once the forward has stopped.
    pub stopped: watch::Sender<bool>,
}

impl ForwardStops {
    /// Adds the switch of forward `name`.
    pub fn add(&self, name: &str) -> StopHandle {
        let (stop, shutdown) = watch::channel(false);
        let (stopped_tx, stopped) = watch::channel(false);
        self.lock().push(Switch {
            name: name.to_owned(),
            stop,
            stopped,
        });
        StopHandle {
            shutdown,
            stopped: stopped_tx,
        }
    }

    /// Asks forward `name` to stop; `None` when no running forward has
    /// that name. The receiver turns true once it has stopped.
    pub fn stop(&self, name: &str) -> Option<watch::Receiver<bool>> {
        let forwards = self.lock();
        let switch = forwards
            .iter()
            .find(|s| s.name == name && !*s.stopped.borrow())?;
        switch.stop.send_replace(true);
        Some(switch.stopped.clone())
    }

    /// Asks every forward to stop.
    pub fn stop_all(&self) {
        for switch in self.lock().iter() {
            switch.stop.send_replace(true);
        }
    }

    /// Names of the forwards not stopped yet (nor asked to stop).
    pub fn running(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|s| !*s.stop.borrow() && !*s.stopped.borrow())
            .map(|s| s.name.clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Switch>> {
        self.forwards.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_forward_stops_and_the_others_keep_running() {
        let stops = ForwardStops::default();
        let db = stops.add("db");
        let web = stops.add("web");
        let stopped = stops.stop("db").expect("db runs");
        assert!(*db.shutdown.borrow());
        assert!(!*web.shutdown.borrow());
        assert_eq!(stops.running(), ["web"]);
        assert!(!*stopped.borrow());
        db.stopped.send_replace(true);
        assert!(*stopped.borrow());
        assert!(stops.stop("db").is_none(), "already stopped");
        assert!(stops.stop("nope").is_none());
        stops.stop_all();
        assert!(*web.shutdown.borrow());
        assert!(stops.running().is_empty());
    }
}
