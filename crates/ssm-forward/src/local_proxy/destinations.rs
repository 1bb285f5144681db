//! The proxy's destinations: one session pool per `host:port`, started on
//! first use and shared by every connection to it.
//!
//! A pool keeps no session while idle (`min_sessions` 0): its session
//! starts with the first connection and closes after `idle_close` without
//! one. A destination whose sessions cannot start (access denied, target
//! offline) answers new connections with that failure at once for
//! [`FAILURE_MEMORY`], then the next connection tries again; one failure
//! never touches another destination's sessions. At most
//! `max_destinations` have a pool at once: the least recently used one
//! with no connection makes room, else the connection is refused. Each
//! pool reports through the forward's own reporter
//! ([`crate::forwarding::pool_report`]); its events reach the status
//! lines wrapped as [`ForwardEvent::Proxied`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ssm_client::{PoolError, PoolPolicy, PoolStream, SessionPool};
use ssm_proxy_handshake::{Destination, Host};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info_span};

use super::ProxySpec;
use super::handshake::Refusal;
use crate::forwarding::pool_report::{Starter, report};
use crate::forwarding::supervisor::{
    EventSink, ForwardEvent, ForwardSpec, Health, Service, pool_policy, stopped,
};

/// How long a destination whose session could not start answers new
/// connections with that failure before trying again.
pub(super) const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// Every destination of one proxy.
#[derive(Debug)]
pub(super) struct Destinations {
    /// The proxy's own spec: target, reason, sessions per destination.
    template: ForwardSpec,
    policy: PoolPolicy,
    service: Service,
    events: EventSink,
    shutdown: watch::Receiver<bool>,
    max: usize,
    table: Mutex<HashMap<Destination, Entry>>,
}

#[derive(Debug)]
struct Entry {
    pool: SessionPool,
    /// The latest start failure while no session is up.
    failure: watch::Receiver<Option<Failure>>,
    leases: usize,
    last_used: Instant,
}

/// A failed start, and when.
#[derive(Debug, Clone)]
struct Failure {
    at: Instant,
    text: String,
}

/// A connection's hold on a destination: keeps its pool from being
/// closed as idle or evicted.
#[derive(Debug)]
pub(super) struct Lease {
    pool: SessionPool,
    failure: watch::Receiver<Option<Failure>>,
    destination: Destination,
    owner: Arc<Destinations>,
}

impl Destinations {
    pub(super) fn new(
        template: &ForwardSpec,
        proxy: &ProxySpec,
        service: Service,
        events: EventSink,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let policy = PoolPolicy {
            min_sessions: 0,
            idle_close: proxy.idle_close,
            ..pool_policy(template, &service.restart)
        };
        Self {
            template: template.clone(),
            policy,
            service,
            events,
            shutdown,
            max: proxy.max_destinations.max(1),
            table: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<Destination, Entry>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A lease on `destination`'s pool (made on first use), or why not.
    pub(super) fn lease(self: &Arc<Self>, destination: &Destination) -> Result<Lease, Refusal> {
        let mut table = self.table();
        if let Some(entry) = table.get(destination) {
            let failure = entry.failure.borrow().clone();
            match failure {
                Some(failure) if failure.at.elapsed() < FAILURE_MEMORY => {
                    return Err(Refusal::NoSession(failure.text));
                }
                Some(_) if entry.leases == 0 => {
                    // Remembered long enough: start over, fresh.
                    if let Some(stale) = table.remove(destination) {
                        close_in_background(stale.pool);
                    }
                }
                _ => {}
            }
        }
        if !table.contains_key(destination) {
            self.make_room(&mut table, destination)?;
            let entry = self.open_pool(destination);
            table.insert(destination.clone(), entry);
        }
        let entry = table.get_mut(destination).expect("inserted above");
        entry.leases += 1;
        entry.last_used = Instant::now();
        Ok(Lease {
            pool: entry.pool.clone(),
            failure: entry.failure.clone(),
            destination: destination.clone(),
            owner: self.clone(),
        })
    }

    /// Evicts the least recently used destination with no connection
    /// when the table is full; refuses when every one is in use.
    fn make_room(
        &self,
        table: &mut HashMap<Destination, Entry>,
        wanted: &Destination,
    ) -> Result<(), Refusal> {
        if table.len() < self.max {
            return Ok(());
        }
        let evict = table
            .iter()
            .filter(|(_, entry)| entry.leases == 0)
            .min_by_key(|(_, entry)| entry.last_used)
            .map(|(destination, _)| destination.clone());
        let Some(evict) = evict else {
            return Err(Refusal::Busy(format!(
                "{} destinations are in use at once (--max-destinations {}); {wanted} has to wait \
                 until one of them is idle",
                table.len(),
                self.max
            )));
        };
        debug!(%evict, "making room for a new destination");
        if let Some(entry) = table.remove(&evict) {
            close_in_background(entry.pool);
        }
        Ok(())
    }

    /// A pool for `destination`, reporting as `PROXY → host:port`.
    fn open_pool(&self, destination: &Destination) -> Entry {
        let label = destination.to_string();
        let spec = ForwardSpec {
            name: format!("{} → {label}", self.template.name),
            remote_host: Some(remote_host(&destination.host)),
            remote_port: destination.port,
            ..self.template.clone()
        };
        let (inner_events, inner_rx) = mpsc::unbounded_channel();
        let starter = Starter::new(&spec, self.service.clone(), inner_events.clone());
        let (pool, pool_events) = SessionPool::new(move || starter.clone().start(), self.policy);
        let health = Arc::new(Health::new(&spec.name, &self.service.restart));
        let reporter = report(
            pool_events,
            spec.name.clone(),
            self.policy.max_sessions,
            inner_events,
            health,
            self.service.live.clone(),
            self.shutdown.clone(),
        );
        let span = info_span!("destination", %label);
        tokio::spawn(reporter.instrument(span.clone()));
        let (failure_tx, failure) = watch::channel(None);
        let relay = relay_events(
            inner_rx,
            self.events.clone(),
            self.template.name.clone(),
            label,
            failure_tx,
        );
        tokio::spawn(relay.instrument(span));
        Entry {
            pool,
            failure,
            leases: 0,
            last_used: Instant::now(),
        }
    }

    fn release(&self, destination: &Destination) {
        if let Some(entry) = self.table().get_mut(destination) {
            entry.leases = entry.leases.saturating_sub(1);
            entry.last_used = Instant::now();
        }
    }

    /// Closes destinations idle for `idle_close` (their pools have closed
    /// their sessions by then) until shutdown.
    pub(super) async fn sweep(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let every =
            (self.policy.idle_close / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let sweeping = async {
            loop {
                tokio::time::sleep(every).await;
                self.close_idle();
            }
        };
        tokio::select! {
            () = sweeping => {}
            () = stopped(&mut shutdown) => {}
        }
    }

    fn close_idle(&self) {
        let mut table = self.table();
        let idle: Vec<Destination> = table
            .iter()
            .filter(|(_, e)| e.leases == 0 && e.last_used.elapsed() >= self.policy.idle_close)
            .map(|(destination, _)| destination.clone())
            .collect();
        for destination in idle {
            debug!(%destination, "destination idle; closed");
            if let Some(entry) = table.remove(&destination) {
                close_in_background(entry.pool);
            }
        }
    }

    /// Terminates every destination's sessions, waiting for them.
    pub(super) async fn close_all(&self) {
        let pools: Vec<SessionPool> = self.table().drain().map(|(_, e)| e.pool).collect();
        let mut closing = tokio::task::JoinSet::new();
        for pool in pools {
            closing.spawn(async move { pool.close().await });
        }
        while closing.join_next().await.is_some() {}
    }
}

impl Lease {
    /// A stream to the destination, or why there is none: the start
    /// failure that is current when no session is up (not after the
    /// whole wait for a session).
    pub(super) async fn open_stream(&mut self) -> Result<PoolStream, Refusal> {
        self.failure.borrow_and_update();
        let failed = async {
            loop {
                if self.failure.changed().await.is_err() {
                    return None;
                }
                if let Some(failure) = self.failure.borrow_and_update().clone() {
                    return Some(failure.text);
                }
            }
        };
        tokio::select! {
            opened = self.pool.open_stream() => opened.map_err(|error| no_stream(&error)),
            Some(text) = failed => Err(Refusal::NoSession(text)),
        }
    }

    /// The destination leased.
    pub(super) fn destination(&self) -> &Destination {
        &self.destination
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.owner.release(&self.destination);
    }
}

/// The host as StartSession's `host` parameter wants it (IPv6 without
/// brackets).
fn remote_host(host: &Host) -> String {
    match host {
        Host::Name(name) => name.clone(),
        Host::V4(ip) => ip.to_string(),
        Host::V6(ip) => ip.to_string(),
    }
}

fn no_stream(error: &PoolError) -> Refusal {
    Refusal::NoSession(match error {
        PoolError::NoSession {
            last_start_error: Some(error),
            ..
        } => error.clone(),
        other => other.to_string(),
    })
}

fn close_in_background(pool: SessionPool) {
    tokio::spawn(async move { pool.close().await });
}

/// Passes a destination's events on, wrapped as
/// [`ForwardEvent::Proxied`], and keeps its current start failure (set
/// by a failed start, cleared by a session up).
async fn relay_events(
    mut inner: mpsc::UnboundedReceiver<ForwardEvent>,
    outer: EventSink,
    proxy: String,
    destination: String,
    failure: watch::Sender<Option<Failure>>,
) {
    while let Some(event) = inner.recv().await {
        match &event {
            ForwardEvent::StartFailed { error, .. } => {
                failure.send_replace(Some(Failure {
                    at: Instant::now(),
                    text: error.clone(),
                }));
            }
            ForwardEvent::SessionUp { .. } => {
                failure.send_replace(None);
            }
            _ => {}
        }
        let _ = outer.send(ForwardEvent::Proxied {
            name: proxy.clone(),
            destination: destination.clone(),
            event: Box::new(event),
        });
    }
}
