//! The client against the agent as it really behaves (protocol.md §13,
//! issue 16 item 1): the send-before-buffer race, the gateway's unknown
//! choices after a TerminateSession flag and for output while the
//! client's socket is gone.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ssm_client::{ClientConfig, EndReason, Session};
use ssm_sim::{
    DetachedOutput, GatewayPolicy, Injection, RealismConfig, SessionStatus, SimConfig,
    TerminateNotice,
};

const KIB: usize = 1024;

fn with(realism: RealismConfig, gateway: GatewayPolicy) -> SimConfig {
    SimConfig {
        realism,
        gateway,
        ..SimConfig::default()
    }
}

/// Echoes `len` bytes while the socket is aborted once mid-transfer;
/// returns the session for its counters.
async fn echo_across_an_abort(sim: &ssm_sim::Simulator, len: usize, seed: u64) -> Session {
    let session = echo_session(sim, TARGET, ClientConfig::default()).await;
    let data = Arc::new(pattern(len, seed));
    let stream = session.open_stream().await.unwrap();
    let transfer = tokio::spawn(echo_through(stream, data.clone(), Duration::from_secs(300)));
    // Mid-transfer: wait for some echo first.
    let id = session.session_id().to_owned();
    let flowing = sim
        .wait_for(&id, Duration::from_secs(30), |s| {
            s.stats.agent_bytes >= len as u64 / 4
        })
        .await;
    assert!(flowing.is_some(), "transfer never got going");
    assert!(sim.inject(&id, Injection::Abort));
    let resumed = sim
        .wait_for(&id, Duration::from_secs(10), |s| s.stats.reconnects() >= 1)
        .await;
    assert!(resumed.is_some(), "no resume after the abort");
    assert!(transfer.await.unwrap() == *data, "echo differs");
    session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_before_buffer_race_keeps_transfers_byte_exact_across_a_resume() {
    let realism = RealismConfig {
        send_before_buffer: 0.05,
        ..RealismConfig::realistic()
    };
    let sim = sim(with(realism, GatewayPolicy::default())).await;
    let session = echo_across_an_abort(&sim, 512 * KIB, 21).await;
    let stats = sim.session(session.session_id()).unwrap().stats;
    assert!(
        stats.race_lost_acks > 0,
        "the race never happened: {stats:?}"
    );
    assert!(stats.agent_retransmits > 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_is_byte_exact_when_the_gateway_buffers_detached_output() {
    let gateway = GatewayPolicy {
        detached_output: DetachedOutput::Buffer,
        ..GatewayPolicy::default()
    };
    let sim = sim(with(RealismConfig::realistic(), gateway)).await;
    let session = echo_across_an_abort(&sim, 512 * KIB, 22).await;
    let stats = sim.session(session.session_id()).unwrap().stats;
    assert_eq!(stats.detached_dropped, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_is_byte_exact_when_the_gateway_drops_detached_output() {
    let gateway = GatewayPolicy {
        detached_output: DetachedOutput::Drop,
        ..GatewayPolicy::default()
    };
    // The race too, as in the realistic profile: a raced message must not
    // block the agent's recovery of what the gateway dropped.
    let sim = sim(with(RealismConfig::realistic(), gateway)).await;
    let session = echo_across_an_abort(&sim, 512 * KIB, 23).await;
    let stats = sim.session(session.session_id()).unwrap().stats;
    assert!(stats.agent_retransmits > 0, "{stats:?}");
}

/// Terminates a session with traffic on it; checks that `terminate`
/// returns promptly, the session ends as terminated, and the client never
/// tried to resume (one token: StartSession's).
async fn terminate_cleanly_when(notice: TerminateNotice) {
    let gateway = GatewayPolicy {
        on_terminate: notice,
        ..GatewayPolicy::default()
    };
    let sim = sim(with(RealismConfig::default(), gateway)).await;
    let session = echo_session(&sim, TARGET, fast_config()).await;
    let id = session.session_id().to_owned();
    let data = Arc::new(pattern(64 * KIB, 24));
    let stream = session.open_stream().await.unwrap();
    let echoed = echo_through(stream, data.clone(), Duration::from_secs(30)).await;
    assert!(echoed == *data);
    let began = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), session.terminate())
        .await
        .unwrap_or_else(|_| panic!("{notice:?}: terminate hung"));
    eprintln!("{notice:?}: terminate took {:?}", began.elapsed());
    assert_eq!(
        session.end_reason(),
        Some(EndReason::Terminated),
        "{notice:?}"
    );
    let summary = sim
        .wait_for(&id, Duration::from_secs(5), |s| s.status.is_over())
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Terminated, "{notice:?}");
    assert_eq!(summary.stats.terminate_flags, 1, "{notice:?}");
    // Give a stray resume the time it would need, then count tokens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.issued_tokens(&id).len(), 1, "{notice:?}: resumed");
    assert_eq!(session.stats().reconnects, 0, "{notice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_ends_cleanly_when_the_gateway_sends_channel_closed() {
    terminate_cleanly_when(TerminateNotice::ChannelClosed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_ends_cleanly_when_the_gateway_only_closes_the_socket() {
    terminate_cleanly_when(TerminateNotice::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_ends_cleanly_when_the_gateway_does_nothing() {
    terminate_cleanly_when(TerminateNotice::Nothing).await;
}

/// How long a full-speed download stalls after a socket loss: from the
/// abort until reads run at full speed again (32 KiB within 100 ms; the
/// agent sends about 90 KiB per 100 ms). A trickle of one message per
/// 100 ms tick, the agent's front-only recovery, counts as stalled.
async fn stall_after_socket_loss(detached_output: DetachedOutput) -> Duration {
    let gateway = GatewayPolicy {
        detached_output,
        ..GatewayPolicy::default()
    };
    let sim = sim(with(RealismConfig::realistic(), gateway)).await;
    let session = echo_session(&sim, TARGET, ClientConfig::default()).await;
    let id = session.session_id().to_owned();
    let len = 4 * 1024 * KIB;
    let data = Arc::new(pattern(len, 25));
    let (mut reader, mut writer) = tokio::io::split(session.open_stream().await.unwrap());
    let upload = {
        let data = data.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            writer.write_all(&data).await.unwrap();
            writer
        })
    };
    let mut received = Vec::with_capacity(len);
    let mut buffer = vec![0u8; 64 * KIB];
    let mut aborted_at = None;
    let mut recovered_after = None;
    let mut recent: std::collections::VecDeque<(Instant, usize)> = Default::default();
    while received.len() < len {
        use tokio::io::AsyncReadExt;
        let n = tokio::time::timeout(Duration::from_secs(120), reader.read(&mut buffer))
            .await
            .expect("download stalled for two minutes")
            .unwrap();
        assert!(n > 0, "EOF");
        let now = Instant::now();
        received.extend_from_slice(&buffer[..n]);
        recent.push_back((now, n));
        while recent
            .front()
            .is_some_and(|(at, _)| now - *at > Duration::from_millis(100))
        {
            recent.pop_front();
        }
        match aborted_at {
            None if received.len() >= len / 4 => {
                assert!(sim.inject(&id, Injection::Abort));
                aborted_at = Some(now);
                recent.clear();
            }
            Some(at)
                if recovered_after.is_none()
                    && recent.iter().map(|(_, n)| n).sum::<usize>() >= 32 * KIB =>
            {
                recovered_after = Some(now - at);
            }
            _ => {}
        }
    }
    let _writer = upload.await.unwrap();
    assert!(received == *data, "echo differs");
    let stats = sim.session(&id).unwrap().stats;
    let stall = recovered_after.expect("full speed again before the end");
    eprintln!(
        "{detached_output:?}: full speed again {stall:?} after the abort; \
         {} agent resends, {} frames dropped while detached, {} reconnects",
        stats.agent_retransmits,
        stats.detached_dropped,
        stats.reconnects()
    );
    stall
}
/// The stall figures of RELIABILITY.md: run by hand with `--ignored
/// --nocapture`. Prints, asserts nothing about time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand: prints the stall after a socket loss"]
async fn measure_stall_after_socket_loss_at_full_speed() {
    for mode in [DetachedOutput::Buffer, DetachedOutput::Drop] {
        for _ in 0..3 {
            stall_after_socket_loss(mode).await;
        }
    }
}
