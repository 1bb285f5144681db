//! Watches running forwards: prints their events, writes the ready file
//! once every forward's first session is up, and decides when to give
//! up (a forward whose first session fails for a reason retrying cannot
//! fix) or stop (Ctrl-C, SIGTERM).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::errors::{ExitStatus, Fatal};
use crate::forwarding::ready_file::{self, ReadyForward, ReadyInfo};
use crate::forwarding::supervisor::ForwardEvent;
use tokio::sync::mpsc;

use crate::output;
use crate::signals::Signals;

/// What the runner knows about one forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// Forward name.
    pub name: String,
    /// Instance id.
    pub target: String,
    /// Bound address.
    pub address: SocketAddr,
    /// `i-… → host:port`, for status lines.
    pub destination: String,
    /// The first session's id, once it is up.
    pub first_session: Option<String>,
    /// The sessions up now, oldest first.
    pub sessions: Vec<String>,
    /// The forward's most sessions (`--sessions`).
    pub max_sessions: usize,
    /// A local proxy: ready once it listens (its sessions start with
    /// each destination's first connection), and one destination's
    /// failure is never fatal to it.
    pub proxy: bool,
}

/// Why the runner stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A signal asked for it (its name).
    Signal(&'static str),
    /// Every forward ended on its own.
    Finished,
}

/// What the runner does besides printing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Where to write the ready file once every first session is up.
    pub ready_file: Option<PathBuf>,
    /// Stop with an error as soon as a forward is failing
    /// ([`ForwardEvent::Failing`]) instead of leaving it retrying.
    pub exit_when_failing: bool,
}

/// Runs until a signal, until a forward's first session fails for good,
/// or (with [`Options::exit_when_failing`]) until a forward is failing;
/// the error says why, with its exit status. Once every forward's first
/// session is up, writes the ready file and calls `on_ready`.
pub async fn watch(
    mut forwards: Vec<Watched>,
    mut events: mpsc::UnboundedReceiver<ForwardEvent>,
    options: Options,
    signals: &mut Signals,
    on_ready: &mut (dyn FnMut() + Send),
) -> Result<Stop, Fatal> {
    let mut ready_written = false;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            signal = signals.recv() => return Ok(Stop::Signal(signal)),
        };
        let Some(event) = event else {
            return Ok(Stop::Finished);
        };
        let Some(index) = forwards.iter().position(|f| f.name == event.forward_name()) else {
            continue;
        };
        // A fatal first failure is reported once, as the exit error.
        check_first_start(&mut forwards[index], &event)?;
        let pool_changed = track_sessions(&mut forwards[index], &event);
        output::forward_event(&event, &forwards[index].destination);
        if options.exit_when_failing {
            check_failing(&event)?;
        }
        if !ready_written && forwards.iter().all(|f| f.first_session.is_some()) {
            ready_written = true;
            if let Some(path) = &options.ready_file {
                write_ready(path, &forwards)?;
            }
            on_ready();
        } else if ready_written
            && pool_changed
            && let Some(path) = &options.ready_file
        {
            // The file shows the pools as they are.
            write_ready(path, &forwards)?;
        }
    }
}

/// Records the first session; fails when the first start fails for a
/// reason retrying cannot fix.
fn check_first_start(forward: &mut Watched, event: &ForwardEvent) -> Result<(), Fatal> {
    if forward.first_session.is_some() {
        return Ok(());
    }
    if forward.proxy {
        if let ForwardEvent::Listening { .. } = event {
            forward.first_session = Some(String::new());
        }
        return Ok(());
    }
    match event {
        ForwardEvent::SessionUp { session_id, .. } => {
            forward.first_session = Some(session_id.clone());
            Ok(())
        }
        ForwardEvent::StartFailed { error, kind, .. } if !kind.is_transient() => Err(Fatal::new(
            ExitStatus::from(*kind),
            format!("{}: {error}", forward.name),
        )),
        _ => Ok(()),
    }
}

/// Fails when `event` says a forward is failing, with the exit status of
/// its latest failure (the status line was printed already).
fn check_failing(event: &ForwardEvent) -> Result<(), Fatal> {
    match event {
        ForwardEvent::Failing {
            name, error, kind, ..
        } => Err(Fatal::new(
            ExitStatus::from(*kind),
            format!("{name}: failing, exiting as --exit-when-failing asks: {error}"),
        )),
        _ => Ok(()),
    }
}

/// Keeps the forward's list of sessions up; true when it changed.
fn track_sessions(forward: &mut Watched, event: &ForwardEvent) -> bool {
    match event {
        ForwardEvent::Proxied { event, .. } => track_sessions(forward, event),
        ForwardEvent::SessionUp { session_id, .. } => {
            forward.sessions.push(session_id.clone());
            true
        }
        ForwardEvent::SessionEnded { session_id, .. }
        | ForwardEvent::SessionIdleClosed { session_id, .. } => {
            let before = forward.sessions.len();
            forward.sessions.retain(|id| id != session_id);
            forward.sessions.len() != before
        }
        _ => false,
    }
}

fn write_ready(path: &std::path::Path, forwards: &[Watched]) -> Result<(), Fatal> {
    let info = ReadyInfo {
        forwards: forwards
            .iter()
            .map(|f| ReadyForward {
                name: f.name.clone(),
                address: f.address.to_string(),
                target: f.target.clone(),
                session_id: f.first_session.clone().unwrap_or_default(),
                sessions: f.sessions.clone(),
                max_sessions: f.max_sessions,
            })
            .collect(),
    };
    ready_file::write(path, &info).map_err(|error| {
        Fatal::new(
            ExitStatus::Runtime,
            format!("cannot write the ready file {}: {error}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::errors::FailureKind;

    fn watched() -> Watched {
        Watched {
            name: "db".into(),
            target: "i-1".into(),
            address: "127.0.0.1:1".parse().unwrap(),
            destination: "i-1 → db:5432".into(),
            first_session: None,
            sessions: Vec::new(),
            max_sessions: 1,
            proxy: false,
        }
    }

    fn failed(kind: FailureKind) -> ForwardEvent {
        ForwardEvent::StartFailed {
            name: "db".into(),
            error: "nope".into(),
            kind,
            retry_in: Duration::from_secs(1),
            repeated: false,
        }
    }

    #[test]
    fn only_a_first_permanent_failure_is_fatal() {
        let mut forward = watched();
        assert!(check_first_start(&mut forward, &failed(FailureKind::Transient)).is_ok());
        let fatal = check_first_start(&mut forward, &failed(FailureKind::Target)).unwrap_err();
        assert_eq!(fatal.status, ExitStatus::Target);
        let up = ForwardEvent::SessionUp {
            name: "db".into(),
            session_id: "s-1".into(),
            mode: "mux".into(),
            agent_version: "3".into(),
            live: 1,
            max: 1,
        };
        check_first_start(&mut forward, &up).unwrap();
        assert_eq!(forward.first_session.as_deref(), Some("s-1"));
        assert!(check_first_start(&mut forward, &failed(FailureKind::Access)).is_ok());
    }
}
