//! The pool's tasks: one starter (the only place sessions start, so
//! never two StartSession calls in flight), one watcher per session, and
//! a maintainer that samples traffic and closes idle sessions.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span};

use super::event::PoolEvent;
use super::state::{Entry, Shared};
use crate::error::EndReason;
use crate::session::Session;

/// How often the maintainer samples each session's bytes.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

pub(super) type Events<E> = mpsc::UnboundedSender<PoolEvent<E>>;

/// Starts sessions one at a time, whenever [`super::state::PoolState::wants_start`]
/// says so and the retry pause allows, until the pool closes.
pub(super) async fn run_starter<F, Fut, E>(shared: Arc<Shared>, start: F, events: Events<E>)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Session, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    while wait_for_start(&shared).await {
        shared.lock().starting = true;
        let result = tokio::select! {
            result = start() => result,
            () = shared.until_closed() => return,
        };
        shared.lock().starting = false;
        match result {
            Ok(session) => admit(&shared, session, &events),
            Err(error) => start_failed(&shared, error, &events),
        }
        shared.wake_all();
    }
}

/// Waits until a start is wanted and allowed; false once the pool closed.
async fn wait_for_start(shared: &Shared) -> bool {
    loop {
        let notified = shared.wake_starter.notified();
        if shared.is_closed() {
            return false;
        }
        let (wanted, not_before) = {
            let state = shared.lock();
            (state.wants_start(&shared.policy), state.not_before)
        };
        let pause = not_before.filter(|at| *at > Instant::now());
        match (wanted, pause) {
            (true, None) => return true,
            (true, Some(at)) => tokio::select! {
                () = tokio::time::sleep_until(at.into()) => {}
                () = shared.until_closed() => return false,
            },
            (false, _) => tokio::select! {
                () = notified => {}
                () = shared.until_closed() => return false,
            },
        }
    }
}

/// A started session joins the pool and gets its watcher.
fn admit<E: Send + 'static>(shared: &Arc<Shared>, session: Session, events: &Events<E>) {
    let now = Instant::now();
    let mut state = shared.lock();
    let number = state.next_number;
    state.next_number += 1;
    state.totals.started += 1;
    state.grow_wanted = false;
    state.last_start_error = None;
    let bytes_seen = total_bytes(&session);
    state.entries.push(Entry {
        number,
        session: session.clone(),
        open: 0,
        opened: 0,
        idle_since: Some(now),
        bytes_seen,
        recent_bytes: 0,
        up_at: now,
        ending: false,
        idle_closed: false,
    });
    let live = state.live();
    drop(state);
    let span = info_span!("pool_session", number, id = %session.session_id());
    span.in_scope(|| debug!(live, "session joined the pool"));
    let _ = events.send(PoolEvent::Up {
        number,
        session: session.clone(),
        live,
        max: shared.policy.max_sessions.max(1),
    });
    let watcher = watch_session(shared.clone(), number, session, events.clone());
    tokio::spawn(watcher.instrument(span));
}

fn start_failed<E>(shared: &Shared, error: E, events: &Events<E>)
where
    E: std::fmt::Display,
{
    let mut state = shared.lock();
    state.totals.start_failures += 1;
    state.last_start_error = Some(error.to_string());
    state.keep_min = true;
    let retry_in = state.back_off(&shared.policy, Instant::now());
    drop(state);
    debug!(%error, ?retry_in, "session start failed");
    let _ = events.send(PoolEvent::StartFailed { error, retry_in });
}

/// Waits for session `number` to end, saying when it has been up long
/// enough to count as working; then removes it from the pool.
async fn watch_session<E>(shared: Arc<Shared>, number: u64, session: Session, events: Events<E>) {
    let healthy = tokio::time::sleep(shared.policy.healthy_after);
    tokio::pin!(healthy);
    let closed = session.closed();
    tokio::pin!(closed);
    let mut proven = false;
    let reason = loop {
        tokio::select! {
            reason = &mut closed => break reason,
            // The pool's own handle goes; streams keep theirs.
            () = shared.until_closed() => return,
            () = &mut healthy, if !proven => {
                proven = true;
                shared.lock().retry_delay = shared.policy.retry_initial;
                let session_id = session.session_id().to_owned();
                let _ = events.send(PoolEvent::Healthy { number, session_id });
            }
        }
    };
    remove(&shared, number, &session, reason, proven, &events);
}

/// Takes an ended session out of the pool and says so.
fn remove<E>(
    shared: &Shared,
    number: u64,
    session: &Session,
    reason: EndReason,
    proven: bool,
    events: &Events<E>,
) {
    let failed_early = matches!(reason, EndReason::Failed(_)) && !proven;
    let mut state = shared.lock();
    let idle_closed = state.entry_mut(number).is_some_and(|e| e.idle_closed);
    state.entries.retain(|e| e.number != number);
    state.totals.ended += 1;
    if failed_early {
        state.keep_min = true;
        state.back_off(&shared.policy, Instant::now());
    } else if !idle_closed {
        state.keep_min = matches!(reason, EndReason::Failed(_));
        if !state.keep_min {
            state.retry_delay = shared.policy.retry_initial;
        }
    }
    let live = state.live();
    drop(state);
    debug!(%reason, live, "session left the pool");
    shared.wake_all();
    if idle_closed {
        return;
    }
    let _ = events.send(PoolEvent::Ended {
        number,
        session_id: session.session_id().to_owned(),
        reason,
        failed_early,
        live,
    });
}

/// Samples each session's traffic and closes sessions idle for the
/// policy's `idle_close`, until the pool closes.
pub(super) async fn run_maintainer<E: Send + 'static>(shared: Arc<Shared>, events: Events<E>) {
    loop {
        let next_idle = {
            let state = shared.lock();
            shared.policy.next_idle_check(&state.views())
        };
        let sample_at = Instant::now() + SAMPLE_INTERVAL;
        let wake = next_idle.map_or(sample_at, |idle| idle.min(sample_at));
        tokio::select! {
            () = tokio::time::sleep_until(wake.into()) => {}
            () = shared.until_closed() => return,
        }
        sample(&shared);
        close_idle(&shared, &events);
    }
}

fn total_bytes(session: &Session) -> u64 {
    let stats = session.stats();
    stats.bytes_sent + stats.bytes_received
}

/// Updates each session's recent bytes.
fn sample(shared: &Shared) {
    let mut state = shared.lock();
    for entry in &mut state.entries {
        let total = total_bytes(&entry.session);
        entry.recent_bytes = total.saturating_sub(entry.bytes_seen);
        entry.bytes_seen = total;
    }
}

/// Terminates the sessions the policy finds idle too long.
fn close_idle<E: Send + 'static>(shared: &Shared, events: &Events<E>) {
    let mut state = shared.lock();
    let chosen = shared.policy.idle_to_close(&state.views(), Instant::now());
    let mut closing = Vec::new();
    for index in chosen {
        let entry = &mut state.entries[index];
        entry.ending = true;
        entry.idle_closed = true;
        closing.push((entry.number, entry.session.clone()));
    }
    state.totals.idle_closed += closing.len() as u64;
    let live = state.live();
    drop(state);
    for (number, session) in closing {
        let session_id = session.session_id().to_owned();
        debug!(number, id = %session_id, live, "closing idle session");
        let _ = events.send(PoolEvent::IdleClosed {
            number,
            session_id,
            live,
        });
        tokio::spawn(async move { session.terminate().await });
    }
}
