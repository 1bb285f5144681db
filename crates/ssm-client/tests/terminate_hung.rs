//! `Session::terminate()` while a resume hangs on a gateway that accepts
//! and never answers (issue #16 item 5): it returns promptly, and the
//! TerminateSession call is still made.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use ssm_client::{ApiError, EndReason, SessionApi, StartSessionRequest, StartedSession};
use ssm_sim::{Injection, SessionStatus, SimConfig};
use tokio::net::{TcpListener, TcpStream};

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The simulator's API with the data-channel URL pointed at `gateway`
/// (the test's relay); counts TerminateSession calls.
#[derive(Debug)]
struct ThroughRelay {
    api: Arc<dyn SessionApi>,
    gateway: String,
    terminates: AtomicU32,
}

impl SessionApi for ThroughRelay {
    fn start_session(
        &self,
        request: StartSessionRequest,
    ) -> BoxFuture<'_, Result<StartedSession, ApiError>> {
        Box::pin(async move {
            let mut started = self.api.start_session(request).await?;
            started.stream_url = replace_authority(&started.stream_url, &self.gateway);
            Ok(started)
        })
    }

    fn resume_session(&self, id: String) -> BoxFuture<'_, Result<Option<String>, ApiError>> {
        self.api.resume_session(id)
    }

    fn terminate_session(&self, id: String) -> BoxFuture<'_, Result<(), ApiError>> {
        self.terminates.fetch_add(1, Ordering::Relaxed);
        self.api.terminate_session(id)
    }
}

/// The `host:port` of a URL.
fn authority(url: &str) -> String {
    let (_, rest) = url.split_once("://").expect("a URL");
    rest.split('/').next().expect("authority").to_owned()
}

/// `ws://host:port/path` with `authority` in place of `host:port`.
fn replace_authority(url: &str, authority: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    format!("{scheme}://{authority}{path}")
}

/// Relays the first connection to `upstream`; accepts every later one
/// and never answers it (a black-holed gateway).
async fn relay_once_then_black_hole(listener: TcpListener, upstream: String) {
    let mut held = Vec::new();
    let Ok((mut first, _)) = listener.accept().await else {
        return;
    };
    tokio::spawn(async move {
        let mut gateway = TcpStream::connect(upstream).await.expect("sim gateway");
        let _ = tokio::io::copy_bidirectional(&mut first, &mut gateway).await;
    });
    while let Ok((socket, _)) = listener.accept().await {
        held.push(socket);
    }
}

#[tokio::test]
async fn terminate_during_a_hung_resume_returns_promptly_and_calls_the_api() {
    init_tracing();
    let sim = sim(SimConfig::default()).await;
    let relay = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = relay.local_addr().unwrap().to_string();
    let upstream = authority(&sim.gateway_url());
    let relay_task = tokio::spawn(relay_once_then_black_hole(relay, upstream));
    let api = Arc::new(ThroughRelay {
        api: sdk_api(&sim),
        gateway,
        terminates: AtomicU32::new(0),
    });
    let request =
        StartSessionRequest::port_forwarding(TARGET, Some(ssm_sim::targets::ECHO_HOST), 7, 0);
    let session = ssm_client::Session::start(api.clone(), request, fast_config())
        .await
        .expect("session starts through the relay");
    let id = session.session_id().to_owned();
    let mut link = session.link_status();
    assert!(sim.inject(&id, Injection::Abort));
    // Lost; the resume now hangs in the upgrade (deadline 10 s).
    tokio::time::timeout(Duration::from_secs(10), link.wait_for(|s| !s.connected))
        .await
        .expect("the loss is seen")
        .expect("session alive");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(session.end_reason().is_none(), "still resuming");
    let asked = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), session.terminate())
        .await
        .expect("terminate returns promptly during a hung resume");
    assert!(asked.elapsed() < Duration::from_secs(3));
    assert_eq!(session.end_reason(), Some(EndReason::Terminated));
    assert_eq!(api.terminates.load(Ordering::Relaxed), 1);
    // The service got the call (it may still wait for the agent's output
    // to drain, which the lost socket cannot do).
    let status = sim.session(&id).expect("known session").status;
    assert!(
        matches!(
            status,
            SessionStatus::Terminating | SessionStatus::Terminated
        ),
        "{status:?}"
    );
    relay_task.abort();
}
