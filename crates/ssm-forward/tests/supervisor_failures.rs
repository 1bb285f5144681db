//! How a running forward reports a session start that keeps failing:
//! once, in words that say what to do, then quietly at every retry; an
//! expired SSO session says that open connections keep running and
//! which login lets the next retry through. Driven with an SSM API that
//! always refuses (restarts back off 1, 2, 4 s: 8 s see four starts).
//! A start that hangs (a gateway black hole) is abandoned after the
//! forward's start deadline and retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ssm_client::{
    ApiError, ApiErrorKind, ClientConfig, SessionApi, StartSessionRequest, StartedSession,
};
use ssm_forward::forwarding::supervisor::{self, ForwardEvent, ForwardSpec, Service};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// The forward of `db`'s port 5432 (through `remote_host`, else on the
/// target itself) on `listener`.
fn spec(listener: &TcpListener, remote_host: Option<&str>) -> ForwardSpec {
    ForwardSpec {
        name: "db".into(),
        target: "i-0123456789abcdef0".into(),
        remote_host: remote_host.map(str::to_owned),
        remote_port: 5432,
        bind: listener.local_addr().unwrap(),
        reason: None,
        max_connections: 16,
        sessions: 1,
        proxy: None,
    }
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// StartSession always fails: the nth time with `kinds[n]` (the last
/// one from then on).
#[derive(Debug)]
struct Refusing {
    kinds: Vec<ApiErrorKind>,
    starts: AtomicU32,
}

impl SessionApi for Refusing {
    fn start_session(
        &self,
        _: StartSessionRequest,
    ) -> BoxFuture<'_, Result<StartedSession, ApiError>> {
        let n = self.starts.fetch_add(1, Ordering::Relaxed) as usize;
        let kind = &self.kinds[n.min(self.kinds.len() - 1)];
        let error = ApiError::new(kind.clone(), "refused");
        Box::pin(async move { Err(error) })
    }

    fn resume_session(&self, _: String) -> BoxFuture<'_, Result<Option<String>, ApiError>> {
        Box::pin(async { Ok(None) })
    }

    fn terminate_session(&self, _: String) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Runs a forward against an API failing with `kinds` for 8 seconds; returns its start failures as (text, repeated) and the
/// number of starts tried.
async fn failures(kinds: Vec<ApiErrorKind>) -> (Vec<(String, bool)>, u32) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let spec = spec(&listener, Some("db.internal"));
    let api = Arc::new(Refusing {
        kinds,
        starts: AtomicU32::new(0),
    });
    let service = Service {
        api: api.clone(),
        config: ClientConfig::default(),
        retarget: None,
        live: Arc::default(),
        restart: supervisor::RestartPolicy::default(),
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let (stop, shutdown) = watch::channel(false);
    let forward = tokio::spawn(supervisor::run(listener, spec, service, events, shutdown));
    tokio::time::sleep(Duration::from_millis(7_500)).await;
    stop.send(true).unwrap();
    forward.await.unwrap();
    let mut seen = Vec::new();
    while let Ok(event) = received.try_recv() {
        if let ForwardEvent::StartFailed {
            error, repeated, ..
        } = event
        {
            seen.push((error, repeated));
        }
    }
    (seen, api.starts.load(Ordering::Relaxed))
}

#[tokio::test]
async fn an_expired_sso_session_is_said_once_with_the_login_to_run() {
    let (seen, starts) = failures(vec![ApiErrorKind::SsoExpired {
        profile: Some("prod".into()),
    }])
    .await;
    assert!(starts >= 4, "kept retrying: {starts} starts");
    assert_eq!(seen.len(), starts as usize);
    let (first, repeated) = &seen[0];
    assert!(!repeated);
    assert_eq!(
        first,
        "the SSO session has expired: connections already open keep running, but no new \
         session can start until you run `ssm-forward login --profile prod`"
    );
    assert!(
        seen[1..]
            .iter()
            .all(|(text, repeated)| *repeated && text == first),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_new_failure_is_said_again() {
    let sso = ApiErrorKind::SsoExpired { profile: None };
    let (seen, _) = failures(vec![ApiErrorKind::Throttled, ApiErrorKind::Throttled, sso]).await;
    let repeated: Vec<bool> = seen.iter().map(|(_, repeated)| *repeated).collect();
    assert_eq!(repeated[..4], [false, true, false, true], "{seen:?}");
    assert!(seen[0].0.contains("could not be reached"), "{seen:?}");
    assert!(seen[2].0.contains("run `ssm-forward login`"), "{seen:?}");
}

/// StartSession answers with a data-channel URL on a listener that
/// accepts TCP and never answers (a black-holed gateway); counts starts.
#[derive(Debug)]
struct BlackHole {
    url: String,
    starts: AtomicU32,
}

impl SessionApi for BlackHole {
    fn start_session(
        &self,
        _: StartSessionRequest,
    ) -> BoxFuture<'_, Result<StartedSession, ApiError>> {
        let n = self.starts.fetch_add(1, Ordering::Relaxed);
        let started = StartedSession {
            session_id: format!("black-hole-{n}"),
            token_value: "token".into(),
            stream_url: self.url.clone(),
        };
        Box::pin(async move { Ok(started) })
    }

    fn resume_session(&self, _: String) -> BoxFuture<'_, Result<Option<String>, ApiError>> {
        Box::pin(async { Ok(None) })
    }

    fn terminate_session(&self, _: String) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_start_that_hangs_on_a_black_hole_is_retried() {
    let hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "ws://{}/v1/data-channel/black-hole",
        hole.local_addr().unwrap()
    );
    // Accept and hold every connection: no byte is ever answered.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hole.accept().await {
            held.push(socket);
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let spec = spec(&listener, None);
    let api = Arc::new(BlackHole {
        url,
        starts: AtomicU32::new(0),
    });
    // The per-step deadlines (10 s each) would not end the start in
    // time: the forward's overall start deadline does.
    let service = Service {
        api: api.clone(),
        config: ClientConfig::default(),
        retarget: None,
        live: Arc::default(),
        restart: supervisor::RestartPolicy {
            start_deadline: Duration::from_millis(300),
            ..Default::default()
        },
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let (stop, shutdown) = watch::channel(false);
    let forward = tokio::spawn(supervisor::run(listener, spec, service, events, shutdown));
    // Starts at about 0, 0.8 and 2.1 s (deadline 0.3 s, backoff 0.5, 1 s).
    let mut failures = Vec::new();
    while failures.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a hung start is abandoned")
            .expect("the forward runs");
        if let ForwardEvent::StartFailed { error, .. } = event {
            failures.push(error);
        }
    }
    stop.send(true).unwrap();
    forward.await.unwrap();
    holder.abort();
    assert!(api.starts.load(Ordering::Relaxed) >= 2);
    assert!(
        failures[0].contains("did not start within 0.3s"),
        "{failures:?}"
    );
}

#[tokio::test]
async fn a_forward_whose_starts_keep_failing_is_failing_and_closes_connections_at_once() {
    use tokio::io::AsyncReadExt;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let spec = ForwardSpec {
        name: "db".into(),
        target: "i-0123456789abcdef0".into(),
        remote_host: None,
        remote_port: 5432,
        bind: address,
        reason: None,
        max_connections: 16,
        sessions: 1,
        proxy: None,
    };
    let api = Arc::new(Refusing {
        kinds: vec![ApiErrorKind::Throttled],
        starts: AtomicU32::new(0),
    });
    let service = Service {
        api: api.clone(),
        config: ClientConfig::default(),
        retarget: None,
        live: Arc::default(),
        restart: supervisor::RestartPolicy {
            max_failed_sessions: 2,
            ..Default::default()
        },
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let (stop, shutdown) = watch::channel(false);
    let forward = tokio::spawn(supervisor::run(listener, spec, service, events, shutdown));
    // Starts at 0 and 0.5 s: the second failure makes the forward failing.
    let failing = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the forward is reported failing")
            .expect("the forward runs");
        if let ForwardEvent::Failing {
            failures, error, ..
        } = event
        {
            break (failures, error);
        }
    };
    assert_eq!(failing.0, 2);
    assert!(failing.1.contains("could not be reached"), "{failing:?}");
    // The listener is up, and closes a new connection at once instead of
    // holding it for the 60 s a connection may wait for a session.
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut byte))
        .await
        .expect("closed at once, not left waiting");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    stop.send(true).unwrap();
    forward.await.unwrap();
    while let Ok(event) = received.try_recv() {
        assert!(
            !matches!(event, ForwardEvent::Failing { .. }),
            "said once: {event:?}"
        );
    }
}

/// The simulator's API, refusing the first `refusals` starts.
#[derive(Debug)]
struct RefuseThenWork {
    inner: Arc<dyn SessionApi>,
    refusals: AtomicU32,
}

impl SessionApi for RefuseThenWork {
    fn start_session(
        &self,
        request: StartSessionRequest,
    ) -> BoxFuture<'_, Result<StartedSession, ApiError>> {
        let refuse = self
            .refusals
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            let error = ApiError::new(ApiErrorKind::Throttled, "refused");
            return Box::pin(async move { Err(error) });
        }
        self.inner.start_session(request)
    }

    fn resume_session(&self, id: String) -> BoxFuture<'_, Result<Option<String>, ApiError>> {
        self.inner.resume_session(id)
    }

    fn terminate_session(&self, id: String) -> BoxFuture<'_, Result<(), ApiError>> {
        self.inner.terminate_session(id)
    }
}

#[tokio::test]
async fn a_failing_forward_recovers_once_a_session_works() {
    let sim = ssm_sim::Simulator::start(ssm_sim::SimConfig::default())
        .await
        .expect("simulator starts");
    let sdk = ssm_client::simulator_sdk_config(&sim.endpoint_url());
    let api = Arc::new(RefuseThenWork {
        inner: Arc::new(ssm_client::AwsSessionApi::new(&sdk)),
        refusals: AtomicU32::new(2),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let spec = ForwardSpec {
        name: "db".into(),
        target: "i-0123456789abcdef0".into(),
        remote_host: Some(ssm_sim::targets::ECHO_HOST.into()),
        remote_port: 7,
        bind: listener.local_addr().unwrap(),
        reason: None,
        max_connections: 16,
        sessions: 1,
        proxy: None,
    };
    let service = Service {
        api,
        config: ClientConfig::default(),
        retarget: None,
        live: Arc::default(),
        restart: supervisor::RestartPolicy {
            max_failed_sessions: 2,
            healthy_after: Duration::from_millis(300),
            ..Default::default()
        },
    };
    let (events, mut received) = mpsc::unbounded_channel();
    let (stop, shutdown) = watch::channel(false);
    let forward = tokio::spawn(supervisor::run(listener, spec, service, events, shutdown));
    // Two refusals (failing), then a session that works for 300 ms.
    let mut seen = Vec::new();
    while !seen.contains(&"recovered") {
        let event = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the forward recovers by itself")
            .expect("the forward runs");
        match event {
            ForwardEvent::Failing { .. } => seen.push("failing"),
            ForwardEvent::SessionUp { .. } => seen.push("up"),
            ForwardEvent::Recovered { .. } => seen.push("recovered"),
            _ => {}
        }
    }
    assert_eq!(seen, ["failing", "up", "recovered"]);
    stop.send(true).unwrap();
    forward.await.unwrap();
}
