//! The realism knobs of `RealismConfig`, each seen from a scripted client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ssm_sim::{EndCause, RealismConfig, SessionStatus, SimConfig};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn with_realism(realism: RealismConfig) -> SimConfig {
    SimConfig {
        realism,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn agent_output_comes_in_1024_byte_payloads() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    let data = pattern(64 * 1024, 10);
    assert!(client.mux_echo(&data, Duration::from_secs(10)).await == data);
    assert_eq!(client.max_output_payload, 1024);
    // smux headers ride along, so the agent sent a bit more than the data.
    // (The agent publishes its counters one loop turn late; pump until
    // they catch up.)
    let caught_up = client
        .pump_until(Duration::from_secs(5), |_| {
            sim.session(&start.session_id).unwrap().stats.agent_bytes >= data.len() as u64
        })
        .await;
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert!(caught_up, "{stats:?}");
    assert!(
        stats.agent_messages >= stats.agent_bytes.div_ceil(1024),
        "{stats:?}"
    );
    assert!(client.output_messages >= (data.len() as u64).div_ceil(1024));
}

#[tokio::test]
async fn output_chunk_size_caps_agent_payloads() {
    let sim = sim(with_realism(RealismConfig {
        output_chunk_size: 300,
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    let data = pattern(30_000, 11);
    assert!(client.mux_echo(&data, Duration::from_secs(10)).await == data);
    assert_eq!(client.max_output_payload, 300);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert!(
        stats.agent_messages >= stats.agent_bytes.div_ceil(300),
        "{stats:?}"
    );
}

#[tokio::test]
async fn output_pacing_spaces_agent_messages_one_millisecond_apart() {
    let sim = sim(with_realism(RealismConfig {
        output_pacing: Duration::from_millis(1),
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    let data = pattern(256 * 1024, 12);
    let before = client.output_messages;
    let began = Instant::now();
    assert!(client.mux_echo(&data, Duration::from_secs(10)).await == data);
    let elapsed = began.elapsed();
    let messages = client.output_messages - before;
    assert!(messages >= 256, "{messages} messages");
    // Every message but the last is followed by a ≥ 1 ms sleep.
    let floor = Duration::from_millis(messages - 1);
    assert!(
        elapsed >= floor,
        "{messages} paced messages took only {elapsed:?}"
    );
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert!(
        stats.agent_messages >= stats.agent_bytes.div_ceil(1024),
        "{stats:?}"
    );
}

/// Sends `per_tick` one-byte Output messages every `tick` until the socket
/// goes away or `period` ends; returns how many were sent.
async fn send_steadily(
    client: &mut TestClient,
    per_tick: usize,
    tick: Duration,
    period: Duration,
) -> usize {
    let mut next = Instant::now();
    let mut sent = 0;
    client
        .pump_until(period, |c| {
            if Instant::now() >= next {
                for _ in 0..per_tick {
                    c.send_raw(b"x");
                    sent += 1;
                }
                next += tick;
            }
            c.socket_gone
        })
        .await;
    sent
}

#[tokio::test]
async fn client_over_the_rate_limit_is_closed_with_1008() {
    let sim = sim(with_realism(RealismConfig {
        client_rate_limit: Some(50),
        rate_limit_seconds: 2,
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let began = Instant::now();
    let mut client = TestClient::ready(&start).await;
    // 5 messages per 20 ms: about 250 messages/s.
    let sent = send_steadily(
        &mut client,
        5,
        Duration::from_millis(20),
        Duration::from_secs(5),
    )
    .await;
    assert!(client.socket_gone, "still open after {sent} messages");
    let frame = client.close_frame.clone().expect("close frame");
    assert_eq!(frame.code, CloseCode::Policy);
    // Two consecutive seconds over the limit are needed.
    assert!(began.elapsed() >= Duration::from_secs(1), "{sent} messages");
    let summary = sim.session(&start.session_id).unwrap();
    assert_eq!(summary.stats.rate_limit_closes, 1, "{:?}", summary.stats);
    assert_eq!(
        summary.status,
        SessionStatus::Connected,
        "socket, not session"
    );
}

#[tokio::test]
async fn client_under_the_rate_limit_is_not_closed() {
    let sim = sim(with_realism(RealismConfig {
        client_rate_limit: Some(50),
        rate_limit_seconds: 1,
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = TestClient::ready(&start).await;
    // 3 messages per 100 ms: at most 33 in any one-second bucket.
    let sent = send_steadily(
        &mut client,
        3,
        Duration::from_millis(100),
        Duration::from_millis(2200),
    )
    .await;
    assert!(!client.socket_gone, "closed after {sent} messages");
    assert!(sent >= 60, "{sent}");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.raw_output.len() == sent)
            .await,
        "echoed {} of {sent}",
        client.raw_output.len()
    );
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.rate_limit_closes, 0, "{stats:?}");
}

#[tokio::test]
async fn recycle_closes_with_1000_bye_and_the_session_resumes() {
    let recycle = Duration::from_millis(400);
    let sim = sim(with_realism(RealismConfig {
        recycle_after: Some(recycle),
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, TARGET);
    let began = Instant::now();
    let mut client = TestClient::ready(&start).await;
    let warmup = pattern(5000, 13);
    assert!(client.mux_echo(&warmup, Duration::from_secs(5)).await == warmup);
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.socket_gone)
            .await
    );
    assert!(began.elapsed() >= recycle);
    let frame = client.close_frame.clone().expect("close frame");
    assert_eq!(frame.code, CloseCode::Normal);
    assert_eq!(frame.reason.as_str(), "Bye");
    let summary = sim.session(&start.session_id).unwrap();
    assert_eq!(summary.stats.recycles, 1, "{:?}", summary.stats);
    assert_eq!(summary.status, SessionStatus::Connected);
    // Queue data while disconnected; it must flow after the resume.
    let data = pattern(20_000, 14);
    let sid = client.open_stream();
    assert_eq!(client.mux_write_all(sid, &data), data.len());
    client.flush().await;
    client.resume(&sim, &start).await;
    // Later recycles (every 400 ms) are survived the same way.
    client.resume_automatically(&sim, &start);
    let mut received = Vec::new();
    assert!(
        client
            .pump_until(Duration::from_secs(10), |c| {
                c.mux_read(sid, &mut received);
                received.len() >= data.len()
            })
            .await,
        "{} of {} bytes",
        received.len(),
        data.len()
    );
    assert!(received == data);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert!(stats.reconnects() >= 1, "{stats:?}");
}

#[tokio::test]
async fn idle_timeout_ends_a_quiet_session() {
    let idle = Duration::from_millis(300);
    let sim = sim(with_realism(RealismConfig {
        idle_timeout: Some(idle),
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, TARGET);
    let began = Instant::now();
    let mut client = TestClient::ready(&start).await;
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.closed.is_some())
            .await
    );
    assert!(began.elapsed() >= idle, "{:?}", began.elapsed());
    let closed = client.closed.clone().unwrap();
    assert!(
        closed.output.contains("timed out due to inactivity"),
        "{closed:?}"
    );
    let summary = sim
        .wait_for(&start.session_id, Duration::from_secs(3), |s| {
            s.status.is_over()
        })
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Terminated);
    assert_eq!(summary.end_cause, Some(EndCause::IdleTimeout));
}

#[tokio::test]
async fn activity_keeps_an_idle_timeout_session_alive() {
    let idle = Duration::from_millis(400);
    let sim = sim(with_realism(RealismConfig {
        idle_timeout: Some(idle),
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = TestClient::ready(&start).await;
    // Three idle periods with traffic every 100 ms.
    let mut next = Instant::now();
    let mut last_sent = Instant::now();
    let closed = client
        .pump_until(Duration::from_millis(1200), |c| {
            if Instant::now() >= next {
                c.send_raw(b"k");
                last_sent = Instant::now();
                next += Duration::from_millis(100);
            }
            c.closed.is_some()
        })
        .await;
    assert!(!closed, "closed despite activity: {:?}", client.closed);
    assert_eq!(
        sim.session(&start.session_id).unwrap().status,
        SessionStatus::Connected
    );
    // Quiet from now on: the timeout applies again, counted from the
    // last activity (which is no earlier than our last send).
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.closed.is_some())
            .await
    );
    assert!(last_sent.elapsed() >= idle, "{:?}", last_sent.elapsed());
    let closed = client.closed.clone().unwrap();
    assert!(closed.output.contains("inactivity"), "{closed:?}");
}

#[tokio::test]
async fn max_session_duration_ends_even_a_busy_session() {
    let max = Duration::from_millis(600);
    let sim = sim(with_realism(RealismConfig {
        max_session_duration: Some(max),
        ..RealismConfig::default()
    }))
    .await;
    let began = Instant::now();
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = TestClient::ready(&start).await;
    let mut next = Instant::now();
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| {
                if c.session.is_ready() && Instant::now() >= next {
                    c.send_raw(b"busy");
                    next += Duration::from_millis(50);
                }
                c.closed.is_some()
            })
            .await
    );
    assert!(began.elapsed() >= max);
    let closed = client.closed.clone().unwrap();
    assert!(
        closed.output.contains("maximum session duration"),
        "{closed:?}"
    );
    let summary = sim
        .wait_for(&start.session_id, Duration::from_secs(3), |s| {
            s.status.is_over()
        })
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Terminated);
    assert_eq!(summary.end_cause, Some(EndCause::MaxDuration));
}

#[tokio::test]
async fn latency_delays_every_message_both_ways() {
    let latency = Duration::from_millis(80);
    let sim = sim(with_realism(RealismConfig {
        latency,
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let began = Instant::now();
    let mut client = TestClient::ready(&start).await;
    // HandshakeRequest down, HandshakeResponse up, HandshakeComplete down.
    assert!(began.elapsed() >= latency * 3, "{:?}", began.elapsed());
    let sent_at = Instant::now();
    client.send_raw(b"ping");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.raw_output == b"ping")
            .await
    );
    let round_trip = sent_at.elapsed();
    assert!(round_trip >= latency * 2, "round trip {round_trip:?}");
}

#[tokio::test]
async fn port_start_delay_refuses_early_output_until_the_plugin_is_ready() {
    let delay = Duration::from_millis(400);
    let sim = sim(with_realism(RealismConfig {
        port_start_delay: delay,
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let began = Instant::now();
    let mut client = TestClient::ready(&start).await;
    client.send_raw(b"too soon");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.raw_output == b"too soon")
            .await
    );
    // Refused (not acked) until the delay after the handshake passed,
    // then retransmitted.
    assert!(began.elapsed() >= delay, "{:?}", began.elapsed());
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert!(stats.not_ready_refusals > 0, "{stats:?}");
    assert!(client.session.channel().stats().retransmits > 0);
}

#[tokio::test]
async fn latency_still_delivers_channel_closed_before_the_close() {
    let sim = sim(with_realism(RealismConfig {
        latency: Duration::from_millis(50),
        ..RealismConfig::default()
    }))
    .await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    sim.service().terminate_session(&start.session_id);
    assert!(
        client
            .pump_until(Duration::from_secs(3), |c| c.socket_gone)
            .await
    );
    assert!(
        client.closed.is_some(),
        "socket closed ({:?}) without channel_closed",
        client.close_frame
    );
}
