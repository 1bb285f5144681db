//! One forward: a local TCP listener whose connections become streams
//! of a Session Manager session, and the supervisor that keeps a session
//! available for it.
//!
//! The session starts eagerly. When it ends (idle timeout, maximum
//! duration, channel_closed, resume impossible) the listener stays up and
//! a new session starts: at once if connections are waiting, otherwise
//! on the next connection, with capped exponential backoff between
//! failed starts. Connections are accepted and copied by [`crate::serve`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use ssm_client::{ClientConfig, EndReason, LinkStatus, Session, SessionApi, StartSessionRequest};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tracing::{Instrument, debug, info_span};

use crate::serve;

/// How long a connection waits for a session before it is dropped.
const WAIT_FOR_SESSION: Duration = Duration::from_secs(60);
/// Longest pause between failed session starts.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);
/// First pause after a failed session start.
const FIRST_RESTART_DELAY: Duration = Duration::from_millis(500);

/// What to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSpec {
    /// Name shown in status lines (config-file name or `host:port`).
    pub name: String,
    /// Resolved instance id.
    pub target: String,
    /// Remote host as seen from the target; `None` forwards to the target itself.
    pub remote_host: Option<String>,
    /// Remote port.
    pub remote_port: u16,
    /// Local listen address; port 0 picks a free port.
    pub bind: SocketAddr,
    /// StartSession reason.
    pub reason: Option<String>,
    /// Most local connections served at once; more are closed at once.
    pub max_connections: usize,
}

impl ForwardSpec {
    /// The StartSession request for this forward.
    pub fn request(&self) -> StartSessionRequest {
        let mut request = StartSessionRequest::port_forwarding(
            &self.target,
            self.remote_host.as_deref(),
            self.remote_port,
            self.bind.port(),
        );
        request.reason = self.reason.clone();
        request
    }

    /// `host:port` as the target dials it (`localhost:port` for the
    /// target itself).
    pub fn remote(&self) -> String {
        match self.remote_host.as_deref() {
            Some(host) if host.contains(':') => format!("[{host}]:{}", self.remote_port),
            Some(host) => format!("{host}:{}", self.remote_port),
            None => format!("localhost:{}", self.remote_port),
        }
    }
}

/// Something worth a status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEvent {
    /// The listener is bound.
    Listening {
        /// Forward name.
        name: String,
        /// Bound address.
        address: SocketAddr,
    },
    /// A session is ready.
    SessionUp {
        /// Forward name.
        name: String,
        /// Session id.
        session_id: String,
        /// `mux` or `basic`.
        mode: String,
        /// Agent version.
        agent_version: String,
    },
    /// A session lost its data-channel socket and is resuming.
    SocketLost {
        /// Forward name.
        name: String,
        /// Session id.
        session_id: String,
        /// Why the socket went away.
        reason: String,
    },
    /// A session resumed on a new socket; its connections carried on.
    Resumed {
        /// Forward name.
        name: String,
        /// Session id.
        session_id: String,
        /// How long it was without a socket.
        outage: Duration,
    },
    /// A session ended.
    SessionEnded {
        /// Forward name.
        name: String,
        /// Session id.
        session_id: String,
        /// Why.
        reason: String,
    },
    /// Starting a session failed; retrying.
    StartFailed {
        /// Forward name.
        name: String,
        /// The error, phrased for users.
        error: String,
        /// What kind of failure (decides whether giving up is better).
        kind: crate::errors::FailureKind,
        /// When the next attempt is.
        retry_in: Duration,
        /// The same failure as the previous attempt's (reported quietly:
        /// a failure is said once, not every retry).
        repeated: bool,
    },
    /// The target stopped taking sessions and another was chosen.
    Retargeted {
        /// Forward name.
        name: String,
        /// The instance that stopped taking sessions.
        from: String,
        /// The instance now used.
        to: String,
    },
    /// The connection limit was reached: new connections are closed at
    /// once until some end (once per burst of refusals).
    ConnectionsRefused {
        /// Forward name.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// Sessions keep failing (`failures` starts or sessions in a row):
    /// new connections are closed at once while no session is up;
    /// starts go on with backoff.
    Failing {
        /// Forward name.
        name: String,
        /// Failed starts and sessions in a row.
        failures: u32,
        /// The latest failure, phrased for users.
        error: String,
        /// What kind of failure the latest was (the exit status when the
        /// forward is run with `--exit-when-failing`).
        kind: crate::errors::FailureKind,
    },
    /// A session worked again after [`ForwardEvent::Failing`].
    Recovered {
        /// Forward name.
        name: String,
    },
    /// A forwarded connection failed.
    ConnectionFailed {
        /// Forward name.
        name: String,
        /// Local peer.
        peer: SocketAddr,
        /// What went wrong.
        error: String,
    },
}

/// Picks the target again when the current one stops taking sessions
/// (an EKS node replaced, an instance behind a Name tag rebuilt).
pub trait Retarget: Send + Sync + std::fmt::Debug {
    /// The instance id to use now, or why none could be chosen.
    fn resolve(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
}

/// Where events go (status printer, tests).
pub type EventSink = mpsc::UnboundedSender<ForwardEvent>;

/// Binds the listener, so that "port in use" is reported before any
/// session starts.
pub async fn bind(spec: &ForwardSpec) -> std::io::Result<TcpListener> {
    serve::listen(spec.bind)
}

/// The session currently serving a forward, shared with connection tasks.
#[derive(Debug, Clone)]
struct SessionSlot {
    current: watch::Receiver<Option<Session>>,
    demand: Arc<Notify>,
    health: Arc<Health>,
}

impl SessionSlot {
    /// The forward is failing and no session is up: a new connection is
    /// closed at once rather than left waiting.
    fn refuses(&self) -> bool {
        self.health.is_failing()
            && self
                .current
                .borrow()
                .as_ref()
                .is_none_or(|s| s.end_reason().is_some())
    }

    /// The live session, waiting (and asking for one) if there is none.
    async fn get(&mut self) -> Option<Session> {
        let wait = async {
            loop {
                if let Some(session) = self
                    .current
                    .borrow()
                    .clone()
                    .filter(|s| s.end_reason().is_none())
                {
                    return Some(session);
                }
                self.demand.notify_one();
                if self.current.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(WAIT_FOR_SESSION, wait)
            .await
            .ok()
            .flatten()
    }
}

/// How a forward reaches the service.
#[derive(Debug, Clone)]
pub struct Service {
    /// StartSession, ResumeSession, TerminateSession.
    pub api: Arc<dyn SessionApi>,
    /// Session tuning.
    pub config: ClientConfig,
    /// Chooses the target again when it stops taking sessions (`None`
    /// for an instance id given as is).
    pub retarget: Option<Arc<dyn Retarget>>,
    /// When to give a start up, and when the forward counts as failing.
    pub restart: RestartPolicy,
    /// Where the forward's sessions and connections are listed for
    /// `ssm-forward status` (a fresh one when nothing reads it).
    pub live: Arc<super::live::LiveForward>,
}

/// How the supervisor judges starts and sessions that fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Longest a whole session start (StartSession, the socket, the
    /// handshake) may take before it is abandoned and retried with the
    /// restart backoff. Default 30 s: far above a healthy start, short
    /// enough that a black-holed network is retried soon.
    pub start_deadline: Duration,
    /// Failed starts and failed sessions in a row (a session fails when
    /// it ends with an error before it was up `healthy_after`) before
    /// the forward is reported failing ([`ForwardEvent::Failing`]): new
    /// connections are then closed at once while no session is up.
    /// Default 5; at least 1.
    pub max_failed_sessions: u32,
    /// A session up this long counts as working: the failure count
    /// starts over (and a failing forward recovers). Default 30 s.
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            start_deadline: Duration::from_secs(30),
            max_failed_sessions: 5,
            healthy_after: Duration::from_secs(30),
        }
    }
}

/// Runs a forward until `shutdown` becomes true: keeps a session
/// available and forwards every accepted connection through it. On
/// shutdown the session is terminated (flag and API) before returning.
pub async fn run(
    listener: TcpListener,
    spec: ForwardSpec,
    service: Service,
    events: EventSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let address = listener.local_addr().unwrap_or(spec.bind);
    let _ = events.send(ForwardEvent::Listening {
        name: spec.name.clone(),
        address,
    });
    let mut spec = spec;
    spec.bind = address;
    let (current_tx, current) = watch::channel(None);
    let demand = Arc::new(Notify::new());
    let health = Arc::new(Health::new(&spec.name, &service.restart));
    let live = service.live.clone();
    let slot = SessionSlot {
        current,
        demand: demand.clone(),
        health: health.clone(),
    };
    let supervisor = supervise(
        spec.clone(),
        service,
        events.clone(),
        current_tx,
        demand,
        health,
        shutdown.clone(),
    );
    let supervisor = tokio::spawn(supervisor.instrument(info_span!("forward", name = %spec.name)));
    let limit = connection_limit(&spec, &events);
    let handle = |socket, peer| {
        let open = live.connection();
        let connection = connection(socket, peer, &spec, slot.clone(), events.clone());
        async move {
            connection.await;
            drop(open);
        }
    };
    serve::accept_until(&listener, limit, handle, stopped(&mut shutdown)).await;
    drop(listener);
    let _ = supervisor.await;
}

/// The forward's connection limit, reported as [`ForwardEvent::ConnectionsRefused`].
fn connection_limit(spec: &ForwardSpec, events: &EventSink) -> serve::ConnectionLimit {
    let name = spec.name.clone();
    let events = events.clone();
    serve::ConnectionLimit::new(spec.max_connections, move |limit| {
        let name = name.clone();
        let _ = events.send(ForwardEvent::ConnectionsRefused { name, limit });
    })
}

/// One accepted connection, forwarded through the forward's session; a
/// failure becomes a [`ForwardEvent::ConnectionFailed`].
fn connection(
    socket: TcpStream,
    peer: SocketAddr,
    spec: &ForwardSpec,
    mut slot: SessionSlot,
    events: EventSink,
) -> impl Future<Output = ()> + Send + 'static {
    let name = spec.name.clone();
    let remote = spec.remote();
    let span = info_span!("conn", forward = %name, %peer);
    async move {
        if slot.refuses() {
            debug!("forward failing; connection closed at once");
            return;
        }
        if let Err(error) = forward_connection(socket, &mut slot, &remote).await {
            debug!(%error, "connection failed");
            let _ = events.send(ForwardEvent::ConnectionFailed { name, peer, error });
        }
    }
    .instrument(span)
}

/// How long a connection waits for a session that refused a stream to
/// say it is over, before asking the slot again.
const SESSION_END_NOTICE: Duration = Duration::from_secs(1);

async fn forward_connection(
    mut socket: TcpStream,
    slot: &mut SessionSlot,
    remote: &str,
) -> Result<(), String> {
    let mut attempts = 0;
    let (session, mut stream) = loop {
        let session = slot.get().await.ok_or("no session became available")?;
        match session.open_stream().await {
            Ok(stream) => break (session, stream),
            Err(error) if attempts < 2 => {
                debug!(%error, "session unusable; waiting for a new one");
                attempts += 1;
                // The session may not have said yet that it is over (a
                // wake from sleep finds it dead): wait for that, briefly,
                // so the slot does not hand the same session out again.
                let _ = tokio::time::timeout(SESSION_END_NOTICE, session.closed()).await;
            }
            Err(error) => return Err(error.to_string()),
        }
    };
    debug!(stream = stream.id(), "forwarding");
    match serve::relay(&mut socket, &mut stream, linger(&session)).await {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(crate::errors::destination_failed(remote))
        }
        Err(error) => Err(error.to_string()),
    }
}

/// How long a half-closed connection waits for the rest of its answer
/// ([`serve::relay`]): mux streams see the agent's FIN, basic mode does not.
pub fn linger(session: &Session) -> Duration {
    match session.info().map(|info| info.mode) {
        Some(ssm_client::PortMode::Basic) => serve::BASIC_LINGER,
        _ => serve::MUX_LINGER,
    }
}

/// Keeps one session alive for the forward; restarts it on demand, and
/// at once (after the backoff) when it failed before it was healthy.
async fn supervise(
    mut spec: ForwardSpec,
    service: Service,
    events: EventSink,
    current: watch::Sender<Option<Session>>,
    demand: Arc<Notify>,
    health: Arc<Health>,
    mut shutdown: watch::Receiver<bool>,
) {
    let policy = service.restart;
    let mut delay = FIRST_RESTART_DELAY;
    let mut last_failure: Option<String> = None;
    loop {
        let start = Session::start(service.api.clone(), spec.request(), service.config.clone());
        let started = tokio::select! {
            started = tokio::time::timeout(policy.start_deadline, start) => started,
            () = stopped(&mut shutdown) => return,
        };
        let started = started.map_err(|_| StartError::TimedOut(policy.start_deadline));
        match started.and_then(|started| started.map_err(StartError::Failed)) {
            Ok(session) => {
                last_failure = None;
                announce_up(&spec, &session, &events);
                let listed = service.live.register(&session);
                current.send_replace(Some(session.clone()));
                let Some((reason, proven)) = run_session(
                    &spec.name,
                    &session,
                    &events,
                    &health,
                    policy,
                    &mut shutdown,
                )
                .await
                else {
                    current.send_replace(None);
                    session.terminate().await;
                    return;
                };
                if proven {
                    delay = FIRST_RESTART_DELAY;
                }
                current.send_replace(None);
                let _ = events.send(ForwardEvent::SessionEnded {
                    name: spec.name.clone(),
                    session_id: session.session_id().to_owned(),
                    reason: reason.to_string(),
                });
                drop(listed);
                drop(session);
                if let (false, EndReason::Failed(error)) = (proven, &reason) {
                    // A fresh session failed: retry with backoff, demand or not.
                    health.failed(crate::errors::kind(error), &reason.to_string(), &events);
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = stopped(&mut shutdown) => return,
                    }
                    delay = (delay * 2).min(MAX_RESTART_DELAY);
                    continue;
                }
                delay = FIRST_RESTART_DELAY;
                health.worked(&events);
                // Restart when a connection asks for it.
                tokio::select! {
                    () = demand.notified() => {}
                    () = stopped(&mut shutdown) => return,
                }
            }
            Err(error) => {
                let kind = error.kind();
                if kind == crate::errors::FailureKind::Target
                    && retarget(&mut spec, service.retarget.as_deref(), &events).await
                {
                    delay = FIRST_RESTART_DELAY;
                    continue;
                }
                let text = error.text();
                let repeated = last_failure.as_deref() == Some(text.as_str());
                last_failure = Some(text.clone());
                let _ = events.send(ForwardEvent::StartFailed {
                    name: spec.name.clone(),
                    error: text.clone(),
                    kind,
                    retry_in: delay,
                    repeated,
                });
                health.failed(kind, &text, &events);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stopped(&mut shutdown) => return,
                }
                delay = (delay * 2).min(MAX_RESTART_DELAY);
            }
        }
    }
}

/// Watches a session that is up until it ends (`Some`: why, and whether
/// it was up `healthy_after` first, which counts as working) or shutdown
/// is asked for (`None`).
async fn run_session(
    name: &str,
    session: &Session,
    events: &EventSink,
    health: &Health,
    policy: RestartPolicy,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(EndReason, bool)> {
    let watch = watch_session(name, session, events);
    tokio::pin!(watch);
    let healthy = tokio::time::sleep(policy.healthy_after);
    tokio::pin!(healthy);
    let mut proven = false;
    loop {
        tokio::select! {
            reason = &mut watch => return Some((reason, proven)),
            () = &mut healthy, if !proven => {
                proven = true;
                health.worked(events);
            }
            () = stopped(shutdown) => return None,
        }
    }
}

/// Failed starts and sessions in a row, and whether the forward was
/// reported failing (shared with the connection tasks, which then close
/// new connections at once while no session is up).
#[derive(Debug)]
struct Health {
    name: String,
    limit: u32,
    failures: AtomicU32,
    failing: AtomicBool,
}

impl Health {
    fn new(name: &str, policy: &RestartPolicy) -> Self {
        Self {
            name: name.to_owned(),
            limit: policy.max_failed_sessions.max(1),
            failures: AtomicU32::new(0),
            failing: AtomicBool::new(false),
        }
    }

    /// A start or a fresh session failed with `error`, of `kind`.
    fn failed(&self, kind: crate::errors::FailureKind, error: &str, events: &EventSink) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.limit && !self.failing.swap(true, Ordering::Relaxed) {
            let _ = events.send(ForwardEvent::Failing {
                name: self.name.clone(),
                failures,
                error: error.to_owned(),
                kind,
            });
        }
    }

    /// A session worked: the count starts over.
    fn worked(&self, events: &EventSink) {
        self.failures.store(0, Ordering::Relaxed);
        if self.failing.swap(false, Ordering::Relaxed) {
            let _ = events.send(ForwardEvent::Recovered {
                name: self.name.clone(),
            });
        }
    }

    fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

/// Why a session start failed.
#[derive(Debug)]
enum StartError {
    /// The start failed.
    Failed(ssm_client::Error),
    /// The start took longer than [`RestartPolicy::start_deadline`].
    TimedOut(Duration),
}

impl StartError {
    fn kind(&self) -> crate::errors::FailureKind {
        match self {
            Self::Failed(error) => crate::errors::kind(error),
            Self::TimedOut(_) => crate::errors::FailureKind::Transient,
        }
    }

    fn text(&self) -> String {
        match self {
            Self::Failed(error) => start_failure_text(error),
            Self::TimedOut(deadline) => format!(
                "the session did not start within {}s (the network or the service does not \
                 answer; will retry)",
                deadline.as_secs_f32()
            ),
        }
    }
}

/// A failed start phrased for a forward that keeps retrying. An expired
/// SSO session gets its own words: what is up stays up, and a login
/// (in any terminal) lets the next retry through.
fn start_failure_text(error: &ssm_client::Error) -> String {
    if let ssm_client::Error::Api(api) = error
        && let ssm_client::ApiErrorKind::SsoExpired { profile } = api.kind()
    {
        return format!(
            "the SSO session has expired: connections already open keep running, but no new \
             session can start until you run `{}`",
            crate::errors::login_command(profile.as_deref())
        );
    }
    crate::errors::explain(error)
}

/// Waits for `session` to end, reporting socket losses and resumes on the
/// way; returns why it ended.
async fn watch_session(name: &str, session: &Session, events: &EventSink) -> EndReason {
    let mut link = session.link_status();
    let closed = session.closed();
    tokio::pin!(closed);
    let mut lost_at = None;
    loop {
        tokio::select! {
            reason = &mut closed => return reason,
            changed = link.changed() => {
                if changed.is_err() {
                    return closed.await;
                }
                let status = link.borrow_and_update().clone();
                report_link(name, session, &status, &mut lost_at, events);
            }
        }
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

/// Chooses the target again; true when a different instance was found.
async fn retarget(
    spec: &mut ForwardSpec,
    retarget: Option<&dyn Retarget>,
    events: &EventSink,
) -> bool {
    let Some(retarget) = retarget else {
        return false;
    };
    match retarget.resolve().await {
        Ok(target) if target != spec.target => {
            let from = std::mem::replace(&mut spec.target, target.clone());
            let _ = events.send(ForwardEvent::Retargeted {
                name: spec.name.clone(),
                from,
                to: target,
            });
            true
        }
        Ok(_) => false,
        Err(error) => {
            debug!(%error, "could not choose another target");
            false
        }
    }
}

/// Resolves once shutdown is requested (or its sender is gone). Holds no
/// borrow of the channel afterwards, so the caller's future stays `Send`.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn announce_up(spec: &ForwardSpec, session: &Session, events: &EventSink) {
    let info = session.info();
    let mode = match info.as_ref().map(|i| i.mode) {
        Some(ssm_client::PortMode::Mux { .. }) => "mux",
        Some(ssm_client::PortMode::Basic) => "basic",
        _ => "stream",
    };
    let _ = events.send(ForwardEvent::SessionUp {
        name: spec.name.clone(),
        session_id: session.session_id().to_owned(),
        mode: mode.to_owned(),
        agent_version: info.map(|i| i.agent_version).unwrap_or_default(),
    });
}
