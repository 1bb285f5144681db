//! Placing a stream: picking a session for it (waiting for one when none
//! can take it) and opening the stream there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::debug;

use super::error::PoolError;
use super::state::Shared;
use crate::session::Session;
use crate::stream::Stream;

/// Attempts at opening a stream before giving up (a session found dead
/// on the way is replaced by the next least-loaded one).
const OPEN_ATTEMPTS: u32 = 3;
/// How long a stream open that failed waits for its session to say it
/// is over before trying another.
const END_NOTICE: Duration = Duration::from_secs(1);

/// A stream opened on a session of the pool, holding its place there.
/// Fields drop in order: the stream closes before its place is given
/// back (a basic-mode session takes the next stream only then).
#[derive(Debug)]
pub(super) struct Placed {
    pub(super) stream: Stream,
    pub(super) session: Session,
    pub(super) number: u64,
    pub(super) _slot: Slot,
}

/// Opens a stream on the least-loaded live session of the pool behind
/// `shared` (see [`super::SessionPool::open_stream`]).
pub(super) async fn open(shared: &Arc<Shared>) -> Result<Placed, PoolError> {
    let deadline = Instant::now() + shared.policy.open_timeout;
    let mut last_error = None;
    for _ in 0..OPEN_ATTEMPTS {
        let (number, session) = place(shared, deadline).await?;
        let slot = Slot {
            shared: shared.clone(),
            number,
        };
        match session.open_stream().await {
            Ok(stream) => {
                debug!(number, id = %session.session_id(), stream = stream.id(), "stream placed");
                return Ok(Placed {
                    stream,
                    session,
                    number,
                    _slot: slot,
                });
            }
            Err(error) => {
                debug!(number, id = %session.session_id(), %error, "stream open failed; trying another session");
                set_aside(shared, number);
                drop(slot);
                // Give the session a moment to say it is over, so the
                // pool does not pick it again.
                let _ = tokio::time::timeout(END_NOTICE, session.closed()).await;
                last_error = Some((session.session_id().to_owned(), error));
            }
        }
    }
    let (session_id, error) = last_error.ok_or(PoolError::Closed)?;
    Err(PoolError::Stream { session_id, error })
}

/// Session `number` refused a stream or lost one: take it out of
/// placement.
pub(super) fn set_aside(shared: &Shared, number: u64) {
    if let Some(entry) = shared.lock().entry_mut(number) {
        entry.ending = true;
    }
    shared.wake_all();
}

/// Reserves a place for a stream on a session, waiting (until
/// `deadline`) while none can take it.
async fn place(shared: &Arc<Shared>, deadline: Instant) -> Result<(u64, Session), PoolError> {
    let started = Instant::now();
    let mut waiting = None;
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shared.is_closed() {
            return Err(PoolError::Closed);
        }
        if let Some(placed) = try_place(shared, &mut waiting) {
            return Ok(placed);
        }
        let timed_out = tokio::select! {
            () = notified => false,
            () = tokio::time::sleep_until(deadline.into()) => true,
            () = shared.until_closed() => return Err(PoolError::Closed),
        };
        if timed_out {
            let last_start_error = shared.lock().last_start_error.clone();
            return Err(PoolError::NoSession {
                waited: started.elapsed(),
                last_start_error,
            });
        }
    }
}

/// One placement attempt under the lock; counts this caller as waiting
/// (through `waiting`'s guard) when it has to wait.
fn try_place(shared: &Arc<Shared>, waiting: &mut Option<Waiting>) -> Option<(u64, Session)> {
    let mut state = shared.lock();
    let placement = shared.policy.place(&state.views());
    if placement.grow {
        state.grow_wanted = true;
    }
    let placed = placement.session.map(|index| {
        let entry = &mut state.entries[index];
        entry.open += 1;
        entry.opened += 1;
        entry.idle_since = None;
        (entry.number, entry.session.clone())
    });
    if placed.is_some() {
        state.totals.streams_opened += 1;
    } else if waiting.is_none() {
        state.waiting += 1;
        *waiting = Some(Waiting(shared.clone()));
    }
    drop(state);
    if placement.grow || placed.is_none() {
        shared.wake_starter.notify_one();
    }
    placed
}

/// Counts an `open_stream` caller as waiting until dropped.
#[derive(Debug)]
struct Waiting(Arc<Shared>);

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.waiting = state.waiting.saturating_sub(1);
    }
}

/// A stream's place on its session, given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    shared: Arc<Shared>,
    number: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.release(self.number);
    }
}
