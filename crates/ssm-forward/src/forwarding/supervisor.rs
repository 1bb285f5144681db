//! One forward: a local TCP listener whose connections become streams
//! of Session Manager sessions, and the pool that keeps sessions
//! available for it.
//!
//! A forward keeps a [`SessionPool`] of up to `--sessions` sessions
//! (default 1): the first starts eagerly; more start, one at a time,
//! while every session is busy; those above one close after a minute
//! idle. Each connection goes to the least-loaded session. A session
//! that ends takes only its own connections with it: a failed one is
//! replaced at once (after the restart backoff), one the service ended
//! normally on the next connection. Failed starts are retried with
//! capped exponential backoff ([`pool_report`] reports all of it as
//! [`ForwardEvent`]s). Connections are accepted and copied by
//! [`crate::serve`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use ssm_client::{
    ClientConfig, PoolError, PoolPolicy, Session, SessionApi, SessionPool, StartSessionRequest,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info_span};

use super::pool_report;
use crate::serve;

/// How long a connection waits for a session before it is dropped.
const WAIT_FOR_SESSION: Duration = Duration::from_secs(60);
/// Longest pause between failed session starts.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);
/// First pause after a failed session start.
const FIRST_RESTART_DELAY: Duration = Duration::from_millis(500);
/// A pooled session beyond the first closes after this long without a
/// connection.
const POOL_IDLE_CLOSE: Duration = Duration::from_secs(60);
/// Most sessions `--sessions` may ask for.
pub const MAX_SESSIONS: u32 = 32;

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
    /// Most sessions the forward spreads its connections over (at least
    /// 1; `--sessions`); for a proxy, per destination.
    pub sessions: usize,
    /// A local HTTP/SOCKS5 proxy (`ssm-forward proxy`) instead of one
    /// remote port: `remote_host` and `remote_port` are then unused.
    pub proxy: Option<crate::local_proxy::ProxySpec>,
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
        if self.proxy.is_some() {
            return crate::local_proxy::REMOTE_LABEL.to_owned();
        }
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
        /// Sessions up now, this one included.
        live: usize,
        /// The forward's most sessions (`--sessions`).
        max: usize,
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
    /// A session ended; its connections failed, the other sessions'
    /// carry on.
    SessionEnded {
        /// Forward name.
        name: String,
        /// Session id.
        session_id: String,
        /// Why.
        reason: String,
        /// Sessions still up.
        live: usize,
        /// The forward's most sessions (`--sessions`).
        max: usize,
    },
    /// A pooled session beyond the first had no connection for a while
    /// and was terminated.
    SessionIdleClosed {
        /// Forward name.
        name: String,
        /// Session id.
        session_id: String,
        /// Sessions still up.
        live: usize,
        /// The forward's most sessions (`--sessions`).
        max: usize,
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
    /// Something that happened to one destination of a local proxy
    /// (`event` names the proxy and the destination, `PROXY → host:port`).
    Proxied {
        /// The proxy's name.
        name: String,
        /// The destination, `host:port`.
        destination: String,
        /// What happened there.
        event: Box<Self>,
    },
    /// A forwarded connection failed.
    ConnectionFailed {
        /// Forward name.
        name: String,
        /// Local peer.
        peer: SocketAddr,
        /// The session it was on, if it got one.
        session_id: Option<String>,
        /// What went wrong.
        error: String,
    },
}

impl ForwardEvent {
    /// The name of the forward the event is about.
    pub fn forward_name(&self) -> &str {
        match self {
            Self::Listening { name, .. }
            | Self::SessionUp { name, .. }
            | Self::SessionEnded { name, .. }
            | Self::SessionIdleClosed { name, .. }
            | Self::StartFailed { name, .. }
            | Self::Retargeted { name, .. }
            | Self::SocketLost { name, .. }
            | Self::Resumed { name, .. }
            | Self::ConnectionsRefused { name, .. }
            | Self::Failing { name, .. }
            | Self::Recovered { name, .. }
            | Self::Proxied { name, .. }
            | Self::ConnectionFailed { name, .. } => name,
        }
    }
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

/// Runs a forward until `shutdown` becomes true: keeps a pool of
/// `spec.sessions` sessions at most (one up from the start, more while
/// every session is busy) and forwards every accepted connection through
/// the least-loaded one. On shutdown every session is terminated (flag
/// and API) before returning.
pub async fn run(
    listener: TcpListener,
    spec: ForwardSpec,
    service: Service,
    events: EventSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let spec = listening(&listener, spec, &events);
    let health = Arc::new(Health::new(&spec.name, &service.restart));
    let span = info_span!("forward", name = %spec.name);
    let policy = pool_policy(&spec, &service.restart);
    let live = service.live.clone();
    let starter = pool_report::Starter::new(&spec, service, events.clone());
    let (pool, pool_events) = SessionPool::new(move || starter.clone().start(), policy);
    let report = pool_report::report(
        pool_events,
        spec.name.clone(),
        policy.max_sessions,
        events.clone(),
        health.clone(),
        live.clone(),
        shutdown.clone(),
    );
    let report = tokio::spawn(report.instrument(span));
    let limit = connection_limit(&spec, &events);
    let handle = |socket, peer| {
        let open = live.connection();
        let connection = connection(socket, peer, &spec, &pool, &health, events.clone());
        async move {
            connection.await;
            drop(open);
        }
    };
    serve::accept_until(&listener, limit, handle, stopped(&mut shutdown)).await;
    drop(listener);
    pool.close().await;
    drop(pool);
    let _ = report.await;
}

/// Says the forward listens ([`ForwardEvent::Listening`]); the spec with
/// the bound address (port 0 resolved).
pub(crate) fn listening(
    listener: &TcpListener,
    spec: ForwardSpec,
    events: &EventSink,
) -> ForwardSpec {
    let address = listener.local_addr().unwrap_or(spec.bind);
    let _ = events.send(ForwardEvent::Listening {
        name: spec.name.clone(),
        address,
    });
    ForwardSpec {
        bind: address,
        ..spec
    }
}

/// The pool a forward keeps: `spec.sessions` at most, one kept up, the
/// others closed after [`POOL_IDLE_CLOSE`]; failed starts retried with
/// the restart backoff.
pub(crate) fn pool_policy(spec: &ForwardSpec, restart: &RestartPolicy) -> PoolPolicy {
    PoolPolicy {
        min_sessions: 1,
        max_sessions: spec.sessions.max(1),
        idle_close: POOL_IDLE_CLOSE,
        busy_streams: 1,
        retry_initial: FIRST_RESTART_DELAY,
        retry_max: MAX_RESTART_DELAY,
        healthy_after: restart.healthy_after,
        open_timeout: WAIT_FOR_SESSION,
    }
}

/// The forward's connection limit, reported as [`ForwardEvent::ConnectionsRefused`].
pub(crate) fn connection_limit(spec: &ForwardSpec, events: &EventSink) -> serve::ConnectionLimit {
    let name = spec.name.clone();
    let events = events.clone();
    serve::ConnectionLimit::new(spec.max_connections, move |limit| {
        let name = name.clone();
        let _ = events.send(ForwardEvent::ConnectionsRefused { name, limit });
    })
}

/// One accepted connection, forwarded through a session of the pool; a
/// failure becomes a [`ForwardEvent::ConnectionFailed`] naming the
/// session it hit.
fn connection(
    socket: TcpStream,
    peer: SocketAddr,
    spec: &ForwardSpec,
    pool: &SessionPool,
    health: &Arc<Health>,
    events: EventSink,
) -> impl Future<Output = ()> + Send + 'static {
    let name = spec.name.clone();
    let remote = spec.remote();
    let span = info_span!("conn", forward = %name, %peer);
    let pool = pool.clone();
    let health = health.clone();
    async move {
        // The forward is failing and no session is up: close the
        // connection at once rather than leave it waiting.
        if health.is_failing() && pool.sessions().is_empty() {
            debug!("forward failing; connection closed at once");
            return;
        }
        if let Err((session_id, error)) = forward_connection(socket, &pool, &remote).await {
            debug!(%error, "connection failed");
            let _ = events.send(ForwardEvent::ConnectionFailed {
                name,
                peer,
                session_id,
                error,
            });
        }
    }
    .instrument(span)
}

/// Relays one connection through a pool stream; on failure, the session
/// it was on (if it got one) and what went wrong.
async fn forward_connection(
    mut socket: TcpStream,
    pool: &SessionPool,
    remote: &str,
) -> Result<(), (Option<String>, String)> {
    let mut stream = pool.open_stream().await.map_err(|error| match error {
        PoolError::NoSession { .. } => (None, "no session became available".to_owned()),
        PoolError::Stream { session_id, error } => (Some(session_id), error.to_string()),
        other => (None, other.to_string()),
    })?;
    let session_id = stream.session().session_id().to_owned();
    debug!(stream = stream.id(), session = %session_id, "forwarding");
    let linger = linger(stream.session());
    match serve::relay(&mut socket, &mut stream, linger).await {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err((Some(session_id), crate::errors::destination_failed(remote)))
        }
        Err(error) => Err((Some(session_id), error.to_string())),
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

/// Failed starts and sessions in a row, and whether the forward was
/// reported failing (shared with the connection tasks, which then close
/// new connections at once while no session is up).
#[derive(Debug)]
pub(crate) struct Health {
    name: String,
    limit: u32,
    failures: AtomicU32,
    failing: AtomicBool,
}

impl Health {
    pub(crate) fn new(name: &str, policy: &RestartPolicy) -> Self {
        Self {
            name: name.to_owned(),
            limit: policy.max_failed_sessions.max(1),
            failures: AtomicU32::new(0),
            failing: AtomicBool::new(false),
        }
    }

    /// A start or a fresh session failed with `error`, of `kind`.
    pub(super) fn failed(&self, kind: crate::errors::FailureKind, error: &str, events: &EventSink) {
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
    pub(super) fn worked(&self, events: &EventSink) {
        self.failures.store(0, Ordering::Relaxed);
        if self.failing.swap(false, Ordering::Relaxed) {
            let _ = events.send(ForwardEvent::Recovered {
                name: self.name.clone(),
            });
        }
    }

    pub(super) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

/// Why a session start failed.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The start failed.
    Failed(ssm_client::Error),
    /// The start took longer than [`RestartPolicy::start_deadline`].
    TimedOut(Duration),
}

impl StartError {
    pub(super) fn kind(&self) -> crate::errors::FailureKind {
        match self {
            Self::Failed(error) => crate::errors::kind(error),
            Self::TimedOut(_) => crate::errors::FailureKind::Transient,
        }
    }

    pub(super) fn text(&self) -> String {
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

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
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

/// Resolves once shutdown is requested (or its sender is gone). Holds no
/// borrow of the channel afterwards, so the caller's future stays `Send`.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
