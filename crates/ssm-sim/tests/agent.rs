//! Scripted-client tests of the simulated agent and gateway.

mod common;

use std::time::Duration;

use common::*;
use ssm_proto::payload::Flag;
use ssm_proto::session::SessionEvent;
use ssm_proto::version::PortMode;
use ssm_sim::{SessionStatus, SimConfig};

#[tokio::test]
async fn mux_session_echoes_through_the_agent() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    assert_eq!(
        client.session.info().unwrap().mode,
        PortMode::Mux {
            smux_keepalive: false
        }
    );
    let data = pattern(300_000, 1);
    assert_eq!(client.mux_echo(&data, Duration::from_secs(20)).await, data);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert!(stats.agent_bytes >= 300_000, "{stats:?}");
    assert_eq!(stats.streams_opened, 1);
}

#[tokio::test]
async fn old_agent_runs_basic_mode() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = TestClient::ready(&start).await;
    assert_eq!(client.session.info().unwrap().mode, PortMode::Basic);
    client.send_raw(b"hello basic");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.raw_output == b"hello basic")
            .await
    );
}

#[tokio::test]
async fn old_client_version_gets_basic_mode_from_the_agent() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::connect(&start, "1.1.0.0").await;
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.session.is_ready())
            .await
    );
    // Our client thinks mux (new agent) but the agent chose basic: raw bytes echo.
    client.send_raw(b"raw bytes");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.raw_output == b"raw bytes")
            .await
    );
}

#[tokio::test]
async fn bad_token_is_closed_with_1008() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut bogus = start.clone();
    bogus.token_value = "not-the-token".into();
    let mut client = TestClient::connect(&bogus, ssm_proto::version::CLIENT_VERSION).await;
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.socket_gone)
            .await
    );
    assert_eq!(client.close_frame.unwrap().code, 1008.into());
}

#[tokio::test]
async fn tokens_open_one_socket_each_and_resume_issues_new_ones() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    client.ws = None;
    client.socket_gone = true;
    let mut reuse = TestClient::connect(&start, "1.2.677.0").await;
    assert!(
        reuse
            .pump_until(Duration::from_secs(5), |c| c.socket_gone)
            .await,
        "old token refused"
    );
    let resumed = sim.service().resume_session(&start.session_id).unwrap();
    let token = resumed.token_value.unwrap();
    client.reconnect(&start.stream_url, &token).await;
    let data = pattern(5000, 2);
    assert_eq!(client.mux_echo(&data, Duration::from_secs(10)).await, data);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.reconnects(), 1);
}

#[tokio::test]
async fn dial_failure_sends_connect_to_port_error_then_fin() {
    let sim = sim(SimConfig::default()).await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let start = start_port_session(&sim, closed_port);
    let mut client = TestClient::ready(&start).await;
    let sid = client.open_stream();
    let mut sink = Vec::new();
    let saw = client
        .pump_until(Duration::from_secs(5), |c| {
            let eof = c.mux_read(sid, &mut sink);
            eof && c
                .events
                .contains(&SessionEvent::Flag(Flag::ConnectToPortError))
        })
        .await;
    assert!(saw, "events: {:?}", client.events);
    assert_eq!(
        sim.session(&start.session_id).unwrap().stats.dial_failures,
        1
    );
}

#[tokio::test]
async fn terminate_flag_ends_the_session_with_channel_closed() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    client
        .session
        .send_flag(std::time::Instant::now(), Flag::TerminateSession)
        .unwrap();
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.closed.is_some())
            .await
    );
    let summary = sim
        .wait_for(&start.session_id, Duration::from_secs(3), |s| {
            s.status.is_over()
        })
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Terminated);
    assert_eq!(summary.stats.terminate_flags, 1);
    assert!(
        sim.service()
            .resume_session(&start.session_id)
            .unwrap()
            .token_value
            .is_none()
    );
}

#[tokio::test]
async fn terminate_api_closes_the_channel() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    sim.service().terminate_session(&start.session_id);
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.closed.is_some())
            .await
    );
    assert_eq!(client.closed.as_ref().unwrap().session_id, start.session_id);
}
