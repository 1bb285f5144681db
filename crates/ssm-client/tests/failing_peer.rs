//! A peer that never stops failing (issue #16 item 3): when every new
//! socket of a session dies right away, the session is not resumed
//! forever: after `max_short_lived_sockets` in a row it ends with
//! `Error::SocketsKeepFailing`, and the TerminateSession call is made.
//! Three ways to kill every socket, all against ssm-sim: an oversize
//! message on each one, a gateway that closes each one shortly after it
//! opens, and resume tokens the gateway always refuses.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ssm_client::{
    ApiError, ClientConfig, EndReason, Error, SessionApi, StartSessionRequest, StartedSession,
};
use ssm_sim::{FaultConfig, Hostile, Injection, SessionStatus, SimConfig, Simulator};

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Generous: CI machines are slow and busy; the session's end ends it.
const WAIT: Duration = Duration::from_secs(20);
/// Short-lived sockets in a row before giving up, in these tests.
const LIMIT: u32 = 3;

fn config() -> ClientConfig {
    ClientConfig {
        short_lived_socket: Duration::from_secs(5),
        max_short_lived_sockets: LIMIT,
        reconnect_initial: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(200),
        ..fast_config()
    }
}

/// Asserts the session was given up for short-lived sockets, and that
/// the simulator saw it end (the TerminateSession call after a failure).
async fn assert_given_up(sim: &Simulator, reason: EndReason, session_id: &str) {
    let EndReason::Failed(Error::SocketsKeepFailing { sockets, last_loss }) = &reason else {
        panic!("expected SocketsKeepFailing, got {reason:?}");
    };
    assert_eq!(*sockets, LIMIT);
    assert!(!last_loss.is_empty());
    assert!(reason.to_string().contains("session given up"), "{reason}");
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            let status = sim.session(session_id).expect("known session").status;
            if status != SessionStatus::Connected {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the session is terminated at the service");
    assert_ne!(ended, SessionStatus::Connected);
}

#[tokio::test]
async fn an_oversize_message_on_every_socket_gives_the_session_up() {
    init_tracing();
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, config()).await;
    let id = session.session_id().to_owned();
    let link = session.link_status();
    let reason = tokio::time::timeout(WAIT, async {
        let closed = session.closed();
        tokio::pin!(closed);
        loop {
            // Every 100 ms: the gateway may not have attached a new socket
            // yet when the client sees it open.
            if link.borrow().connected {
                sim.inject(&id, Injection::Hostile(Hostile::OversizeMessage));
            }
            tokio::select! {
                reason = &mut closed => return reason,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
    .await
    .expect("the session is given up, not resumed forever");
    assert_given_up(&sim, reason, &id).await;
}

#[tokio::test]
async fn a_gateway_closing_every_socket_gives_the_session_up() {
    init_tracing();
    let faults = FaultConfig {
        close_after: Some(Duration::from_millis(400)),
        ..FaultConfig::default()
    };
    let sim = sim(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let session = echo_session(&sim, TARGET, config()).await;
    let id = session.session_id().to_owned();
    let reason = tokio::time::timeout(WAIT, session.closed())
        .await
        .expect("the session is given up, not resumed forever");
    assert_given_up(&sim, reason, &id).await;
    assert!(session.stats().reconnects >= u64::from(LIMIT - 1));
}

/// The simulator's API, except that ResumeSession hands out a token the
/// gateway does not know.
#[derive(Debug)]
struct RefusedTokens(Arc<dyn SessionApi>);

impl SessionApi for RefusedTokens {
    fn start_session(
        &self,
        request: StartSessionRequest,
    ) -> BoxFuture<'_, Result<StartedSession, ApiError>> {
        self.0.start_session(request)
    }

    fn resume_session(&self, _: String) -> BoxFuture<'_, Result<Option<String>, ApiError>> {
        Box::pin(async { Ok(Some("refused-token".to_owned())) })
    }

    fn terminate_session(&self, session_id: String) -> BoxFuture<'_, Result<(), ApiError>> {
        self.0.terminate_session(session_id)
    }
}

#[tokio::test]
async fn a_token_always_refused_gives_the_session_up() {
    init_tracing();
    let sim = sim(SimConfig::default()).await;
    let api = Arc::new(RefusedTokens(sdk_api(&sim)));
    let request =
        StartSessionRequest::port_forwarding(TARGET, Some(ssm_sim::targets::ECHO_HOST), 7, 0);
    let session = ssm_client::Session::start(api, request, config())
        .await
        .expect("session starts");
    let id = session.session_id().to_owned();
    // The first socket is good; kill it, then every resume is refused.
    assert!(sim.inject(&id, Injection::Abort));
    let reason = tokio::time::timeout(WAIT, session.closed())
        .await
        .expect("the session is given up, not resumed forever");
    assert_given_up(&sim, reason, &id).await;
}
