//! The forward's side of its session pool: the start function the pool
//! calls (the start deadline, and a new target when the current one
//! stops taking sessions) and the reporter that turns the pool's events
//! into [`ForwardEvent`]s and the forward's health (failing, recovered).

use std::sync::{Arc, Mutex, PoisonError};

use ssm_client::{EndReason, LinkStatus, PoolEvent, Session};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info_span};

use super::live::LiveForward;
use super::supervisor::{
    EventSink, ForwardEvent, ForwardSpec, Health, Retarget, Service, StartError, stopped,
};

/// Starts the forward's sessions (the pool calls it, one start at a time).
#[derive(Debug, Clone)]
pub(crate) struct Starter {
    inner: Arc<StarterInner>,
}

#[derive(Debug)]
struct StarterInner {
    /// The spec; its target changes when the forward is retargeted.
    spec: Mutex<ForwardSpec>,
    service: Service,
    events: EventSink,
}

impl Starter {
    pub(crate) fn new(spec: &ForwardSpec, service: Service, events: EventSink) -> Self {
        let inner = StarterInner {
            spec: Mutex::new(spec.clone()),
            service,
            events,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// One session start within the start deadline; when the target
    /// stops taking sessions and another is found, straight on with that
    /// one.
    pub(crate) async fn start(self) -> Result<Session, StartError> {
        let service = &self.inner.service;
        let deadline = service.restart.start_deadline;
        loop {
            let request = self.spec().request();
            let start = Session::start(service.api.clone(), request, service.config.clone());
            let error = match tokio::time::timeout(deadline, start).await {
                Ok(Ok(session)) => return Ok(session),
                Ok(Err(error)) => StartError::Failed(error),
                Err(_) => StartError::TimedOut(deadline),
            };
            let retarget = service.retarget.as_deref();
            if error.kind() == crate::errors::FailureKind::Target && self.retarget(retarget).await {
                continue;
            }
            return Err(error);
        }
    }

    fn spec(&self) -> std::sync::MutexGuard<'_, ForwardSpec> {
        self.inner
            .spec
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Chooses the target again; true when a different instance was found.
    async fn retarget(&self, retarget: Option<&dyn Retarget>) -> bool {
        let Some(retarget) = retarget else {
            return false;
        };
        match retarget.resolve().await {
            Ok(target) => {
                let mut spec = self.spec();
                if target == spec.target {
                    return false;
                }
                let from = std::mem::replace(&mut spec.target, target.clone());
                let _ = self.inner.events.send(ForwardEvent::Retargeted {
                    name: spec.name.clone(),
                    from,
                    to: target,
                });
                true
            }
            Err(error) => {
                debug!(%error, "could not choose another target");
                false
            }
        }
    }
}

/// Reports the pool's events as [`ForwardEvent`]s and keeps the
/// forward's [`Health`]: failed starts and sessions that failed before
/// they proved healthy count against it; a healthy session, or one the
/// service ended normally, resets it. Ends when the pool is gone.
pub(crate) async fn report(
    mut pool: mpsc::UnboundedReceiver<PoolEvent<StartError>>,
    name: String,
    max: usize,
    events: EventSink,
    health: Arc<Health>,
    registry: Arc<LiveForward>,
    shutdown: watch::Receiver<bool>,
) {
    let mut last_failure: Option<String> = None;
    // `status` lists a session while it is up (a registration holds a
    // clone of it: dropped when the session ends).
    let mut listed = std::collections::HashMap::new();
    while let Some(event) = pool.recv().await {
        match event {
            PoolEvent::Up { session, live, .. } => {
                last_failure = None;
                announce_up(&name, &session, live, max, &events);
                listed.insert(session.session_id().to_owned(), registry.register(&session));
                let watch = watch_link(name.clone(), session, events.clone(), shutdown.clone());
                tokio::spawn(watch.in_current_span());
            }
            PoolEvent::StartFailed { error, retry_in } => {
                let text = error.text();
                let kind = error.kind();
                let repeated = last_failure.as_deref() == Some(text.as_str());
                last_failure = Some(text.clone());
                let _ = events.send(ForwardEvent::StartFailed {
                    name: name.clone(),
                    error: text.clone(),
                    kind,
                    retry_in,
                    repeated,
                });
                health.failed(kind, &text, &events);
            }
            PoolEvent::Healthy { .. } => health.worked(&events),
            PoolEvent::Ended {
                session_id,
                reason,
                failed_early,
                live,
                ..
            } => {
                let kind = match &reason {
                    EndReason::Failed(error) => crate::errors::kind(error),
                    _ => crate::errors::FailureKind::Transient,
                };
                let reason = reason.to_string();
                listed.remove(&session_id);
                let _ = events.send(ForwardEvent::SessionEnded {
                    name: name.clone(),
                    session_id,
                    reason: reason.clone(),
                    live,
                    max,
                });
                if failed_early {
                    health.failed(kind, &reason, &events);
                } else {
                    health.worked(&events);
                }
            }
            PoolEvent::IdleClosed {
                session_id, live, ..
            } => {
                listed.remove(&session_id);
                let _ = events.send(ForwardEvent::SessionIdleClosed {
                    name: name.clone(),
                    session_id,
                    live,
                    max,
                });
            }
            _ => {}
        }
    }
}

fn announce_up(name: &str, session: &Session, live: usize, max: usize, events: &EventSink) {
    let info = session.info();
    let mode = match info.as_ref().map(|i| i.mode) {
        Some(ssm_client::PortMode::Mux { .. }) => "mux",
        Some(ssm_client::PortMode::Basic) => "basic",
        _ => "stream",
    };
    let _ = events.send(ForwardEvent::SessionUp {
        name: name.to_owned(),
        session_id: session.session_id().to_owned(),
        mode: mode.to_owned(),
        agent_version: info.map(|i| i.agent_version).unwrap_or_default(),
        live,
        max,
    });
}

/// Reports a session's socket losses and resumes until it ends (or the
/// forward shuts down).
async fn watch_link(
    name: String,
    session: Session,
    events: EventSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let span = info_span!("session", id = %session.session_id());
    let mut link = session.link_status();
    let mut lost_at = None;
    let watch = async {
        loop {
            tokio::select! {
                _ = session.closed() => return,
                changed = link.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let status = link.borrow_and_update().clone();
                    report_link(&name, &session, &status, &mut lost_at, &events);
                }
            }
        }
    };
    tokio::select! {
        () = watch.instrument(span) => {}
        () = stopped(&mut shutdown) => {}
    }
}

/// One status line per socket loss and per resume.
fn report_link(
    name: &str,
    session: &Session,
    status: &LinkStatus,
    lost_at: &mut Option<tokio::time::Instant>,
    events: &EventSink,
) {
    let name = name.to_owned();
    let session_id = session.session_id().to_owned();
    match (status.connected, *lost_at) {
        (false, None) => {
            *lost_at = Some(tokio::time::Instant::now());
            let reason = status.last_loss.clone();
            let _ = events.send(ForwardEvent::SocketLost {
                name,
                session_id,
                reason,
            });
        }
        (true, Some(at)) => {
            *lost_at = None;
            let outage = at.elapsed();
            let _ = events.send(ForwardEvent::Resumed {
                name,
                session_id,
                outage,
            });
        }
        _ => {}
    }
}
