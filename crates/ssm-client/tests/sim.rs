//! The client library against ssm-sim over loopback.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ssm_client::{EndReason, Error, PortMode, Session, StartSessionRequest};
use ssm_sim::{FaultConfig, Injection, RealismConfig, SessionStatus, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mib_each_way_in_mux_mode() {
    init_tracing();
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    assert_eq!(
        session.info().unwrap().mode,
        PortMode::Mux {
            smux_keepalive: false
        }
    );
    let data = Arc::new(pattern(50 * MIB, 1));
    let started = Instant::now();
    let echoed = echo_through(
        session.open_stream().await.unwrap(),
        data.clone(),
        Duration::from_secs(900),
    )
    .await;
    let took = started.elapsed();
    assert!(echoed == *data, "echo differs");
    eprintln!(
        "mux 50 MiB each way, unpaced: {:.2} s, {:.1} MB/s per direction",
        took.as_secs_f64(),
        50.0 * 1.048_576 / took.as_secs_f64()
    );
    session.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mib_each_way_in_basic_mode() {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, OLD_AGENT_TARGET, fast_config()).await;
    assert_eq!(session.info().unwrap().mode, PortMode::Basic);
    let data = Arc::new(pattern(50 * MIB, 2));
    let started = Instant::now();
    let echoed = echo_through(
        session.open_stream().await.unwrap(),
        data.clone(),
        Duration::from_secs(900),
    )
    .await;
    let took = started.elapsed();
    assert!(echoed == *data, "echo differs");
    eprintln!(
        "basic 50 MiB each way, unpaced: {:.2} s, {:.1} MB/s per direction",
        took.as_secs_f64(),
        50.0 * 1.048_576 / took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_streams() {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        let stream = session.open_stream().await.unwrap();
        let data = Arc::new(pattern(20_000, i));
        tasks.push(tokio::spawn(async move {
            echo_through(stream, data.clone(), Duration::from_secs(60)).await == *data
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let summary = sim.session(session.session_id()).unwrap();
    assert_eq!(summary.stats.streams_opened, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_mode_streams_take_turns_and_disconnect() {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, OLD_AGENT_TARGET, fast_config()).await;
    for round in 0..3u64 {
        let data = Arc::new(pattern(10_000, round));
        let stream = session.open_stream().await.unwrap();
        assert!(echo_through(stream, data.clone(), Duration::from_secs(10)).await == *data);
    }
    let summary = sim
        .wait_for(session.session_id(), Duration::from_secs(5), |s| {
            s.stats.disconnect_flags >= 3
        })
        .await
        .unwrap();
    assert_eq!(summary.stats.disconnect_flags, 3);
}

async fn transfer_across_forced_closes(injection: Injection, seed: u64) {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    let data = Arc::new(pattern(8 * MIB, seed));
    let stream = session.open_stream().await.unwrap();
    let transfer = tokio::spawn(echo_through(stream, data.clone(), Duration::from_secs(600)));
    for round in 1..=3u64 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(sim.inject(session.session_id(), injection.clone()));
        let resumed = sim
            .wait_for(session.session_id(), Duration::from_secs(10), |s| {
                s.stats.reconnects() >= round
            })
            .await;
        assert!(
            resumed.is_some_and(|s| s.stats.reconnects() >= round),
            "no resume after close {round}"
        );
    }
    assert!(
        transfer.await.unwrap() == *data,
        "echo differs after resumes"
    );
    let stats = session.stats();
    assert!(stats.reconnects >= 3, "{stats:?}");
    assert_eq!(
        sim.session(session.session_id())
            .unwrap()
            .stats
            .reconnects(),
        stats.reconnects
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_bye_mid_transfer() {
    transfer_across_forced_closes(
        Injection::Close {
            code: 1000,
            reason: "Bye".into(),
        },
        3,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_abrupt_socket_loss_mid_transfer() {
    transfer_across_forced_closes(Injection::Abort, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_five_percent_loss_duplication_and_reordering() {
    let faults = FaultConfig {
        drop: 0.05,
        duplicate: 0.05,
        reorder: 0.05,
        seed: 7,
        ..FaultConfig::default()
    };
    let sim = sim(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    // The agent resends only its oldest unacked message per 100 ms tick
    // (protocol.md §5.4), so every lost agent message costs up to an RTO:
    // keep the volume modest and the deadline generous for loaded CI.
    let data = Arc::new(pattern(MIB, 5));
    let echoed = echo_through(
        session.open_stream().await.unwrap(),
        data.clone(),
        Duration::from_secs(400),
    )
    .await;
    assert!(echoed == *data);
    let stats = sim.session(session.session_id()).unwrap().stats;
    assert!(
        stats.faults_dropped > 0 && stats.faults_duplicated > 0 && stats.faults_reordered > 0,
        "{stats:?}"
    );
    assert!(session.stats().retransmits > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_sending_and_start_resumes() {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    let mut stream = session.open_stream().await.unwrap();
    stream.write_all(b"before").await.unwrap();
    let mut buffer = [0u8; 6];
    stream.read_exact(&mut buffer).await.unwrap();
    assert!(sim.inject(session.session_id(), Injection::PausePublication));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(session.stats().paused);
    let before = sim
        .session(session.session_id())
        .unwrap()
        .stats
        .client_bytes;
    stream.write_all(b"held").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sim.session(session.session_id())
            .unwrap()
            .stats
            .client_bytes,
        before,
        "nothing sent while paused"
    );
    assert!(sim.inject(session.session_id(), Injection::StartPublication));
    let mut held = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut held))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&held, b"held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_port_error_fails_that_stream() {
    let sim = sim(SimConfig::default()).await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let request = StartSessionRequest::port_forwarding(TARGET, None, closed_port, 0);
    let session = Session::start(sdk_api(&sim), request, fast_config())
        .await
        .unwrap();
    let mut stream = session.open_stream().await.unwrap();
    let mut buffer = [0u8; 16];
    let error = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(session.end_reason().is_none(), "the session survives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_closed_ends_the_session_with_its_text() {
    let realism = RealismConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..RealismConfig::default()
    };
    let sim = sim(SimConfig {
        realism,
        ..SimConfig::default()
    })
    .await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    let reason = tokio::time::timeout(Duration::from_secs(5), session.closed())
        .await
        .unwrap();
    match reason {
        EndReason::ChannelClosed(text) => assert!(text.contains("inactivity"), "{text}"),
        other => panic!("unexpected end: {other:?}"),
    }
    assert!(matches!(
        session.open_stream().await,
        Err(Error::SessionEnded(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_sends_flag_and_calls_the_api() {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    let id = session.session_id().to_owned();
    session.terminate().await;
    assert_eq!(session.end_reason(), Some(EndReason::Terminated));
    let summary = sim
        .wait_for(&id, Duration::from_secs(5), |s| s.status.is_over())
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Terminated);
    assert_eq!(summary.stats.terminate_flags, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_terminates() {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    let id = session.session_id().to_owned();
    drop(session);
    let summary = sim
        .wait_for(&id, Duration::from_secs(5), |s| s.status.is_over())
        .await
        .unwrap();
    assert!(summary.status.is_over());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_session_ends_with_expired() {
    let sim = sim(SimConfig::default()).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    // The service ends the session behind our back, then drops the socket.
    sim.service().terminate_session(session.session_id());
    let reason = tokio::time::timeout(Duration::from_secs(10), session.closed())
        .await
        .unwrap();
    assert!(
        matches!(reason, EndReason::ChannelClosed(_) | EndReason::Expired),
        "{reason:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realistic_profile_paced_upload() {
    realistic_echo(MIB, Duration::from_secs(60)).await;
}

/// 50 MiB each way at the realistic profile's ~1 MB/s: about a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes a minute; run by hand for the throughput figure"]
async fn fifty_mib_each_way_realistic() {
    realistic_echo(50 * MIB, Duration::from_secs(600)).await;
}

/// Echoes `len` bytes through a paced session on the realistic profile
/// and checks the gateway's rate limit never tripped.
async fn realistic_echo(len: usize, limit: Duration) {
    let sim = sim(SimConfig {
        realism: RealismConfig::realistic(),
        ..SimConfig::default()
    })
    .await;
    let session = echo_session(&sim, TARGET, ssm_client::ClientConfig::default()).await;
    let data = Arc::new(pattern(len, 9));
    let started = Instant::now();
    let echoed = echo_through(session.open_stream().await.unwrap(), data.clone(), limit).await;
    assert!(echoed == *data);
    let took = started.elapsed().as_secs_f64();
    let stats = sim.session(session.session_id()).unwrap().stats;
    assert_eq!(
        stats.rate_limit_closes, 0,
        "pacing keeps us under the gateway limit"
    );
    let megabytes = len as f64 / 1e6;
    eprintln!(
        "realistic {megabytes:.1} MB echo: {took:.2} s ({:.3} MB/s per direction)",
        megabytes / took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_target_is_a_clear_error() {
    let sim = sim(SimConfig::default()).await;
    let request = StartSessionRequest::port_forwarding("i-00000000000000000", Some("x"), 80, 0);
    let error = Session::start(sdk_api(&sim), request, fast_config())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Api(api) if api.kind() == &ssm_client::ApiErrorKind::TargetNotConnected
                && api.code() == Some("TargetNotConnected")
        ),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_is_noticed_and_resumed() {
    let sim = sim(SimConfig::default()).await;
    let config = ssm_client::ClientConfig {
        ping_interval: Duration::from_millis(200),
        dead_after: Duration::from_millis(800),
        ..fast_config()
    };
    let session = echo_session(&sim, TARGET, config).await;
    let data = Arc::new(pattern(2 * MIB, 11));
    let stream = session.open_stream().await.unwrap();
    let transfer = tokio::spawn(echo_through(stream, data.clone(), Duration::from_secs(120)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let frozen_at = Instant::now();
    assert!(sim.inject(session.session_id(), Injection::Freeze));
    let resumed = sim
        .wait_for(session.session_id(), Duration::from_secs(20), |s| {
            s.stats.reconnects() >= 1
        })
        .await;
    assert!(
        resumed.is_some_and(|s| s.stats.reconnects() >= 1),
        "no resume after freeze"
    );
    let noticed_after = frozen_at.elapsed();
    assert!(
        transfer.await.unwrap() == *data,
        "echo differs after freeze"
    );
    assert_eq!(session.stats().reconnects, 1);
    eprintln!("silent socket noticed and resumed after {noticed_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_holds_at_most_its_cap_and_loses_nothing() {
    const CAP: usize = 128 * 1024;
    let sim = sim(SimConfig::default()).await;
    let config = ssm_client::ClientConfig {
        max_stream_receive_buffer: CAP,
        ..fast_config()
    };
    let session = echo_session(&sim, TARGET, config).await;
    let stream = session.open_stream().await.unwrap();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let data = Arc::new(pattern(3 * MIB, 12));
    let upload = data.clone();
    // No shutdown: closing an smux v1 stream ends both directions.
    let writing = tokio::spawn(async move {
        writer.write_all(&upload).await.unwrap();
        writer
    });
    // Nobody reads for a while: the echo piles up to the cap, no further.
    let mut peak = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        peak = peak.max(session.stats().unread_bytes);
    }
    let held = session.stats();
    assert!(peak >= CAP, "the stream buffer never filled: {held:?}");
    assert!(peak <= CAP + 64 * 1024, "held {peak} bytes, cap {CAP}");
    // Beyond the caps the driver stops reading the socket instead of
    // reading and refusing: nothing refused means no slow agent resends.
    assert_eq!(held.refused, 0, "{held:?}");
    let caught_up = Instant::now();
    let mut echoed = vec![0; data.len()];
    tokio::time::timeout(Duration::from_secs(120), reader.read_exact(&mut echoed))
        .await
        .expect("echo finishes")
        .unwrap();
    drop(writing.await.unwrap());
    eprintln!(
        "caught up in {:?}: {:?}",
        caught_up.elapsed(),
        session.stats()
    );
    assert!(
        echoed == *data,
        "echo differs after the slow reader caught up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_terminates_the_session_before_returning() {
    let sim = sim(SimConfig::default()).await;
    let request = StartSessionRequest {
        target: TARGET.into(),
        document_name: ssm_sim::service::SHELL_DOCUMENT.into(),
        parameters: Default::default(),
        reason: None,
    };
    let error = Session::start(sdk_api(&sim), request, fast_config())
        .await
        .expect_err("shell sessions are refused");
    assert!(
        matches!(
            &error,
            Error::Handshake(ssm_client::HandshakeError::UnsupportedSessionType(kind))
                if kind == "Standard_Stream"
        ),
        "{error:?}"
    );
    let sessions = sim.sessions();
    assert_eq!(sessions.len(), 1);
    assert_ne!(
        sessions[0].status,
        SessionStatus::Connected,
        "TerminateSession called before start returned: {:?}",
        sessions[0]
    );
}
