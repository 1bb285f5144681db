//! Helpers for client tests against an in-process ssm-sim.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ssm_client::{
    AwsSessionApi, ClientConfig, PoolPolicy, Session, SessionApi, SessionPool, StartSessionRequest,
};
use ssm_sim::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const TARGET: &str = "i-0123456789abcdef0";
pub const OLD_AGENT_TARGET: &str = "i-0old000000000000b";

/// The AWS SDK pointed at the simulator with static test credentials.
pub fn sdk_api(sim: &Simulator) -> Arc<dyn SessionApi> {
    Arc::new(AwsSessionApi::new(&ssm_client::simulator_sdk_config(
        &sim.endpoint_url(),
    )))
}

pub fn fast_config() -> ClientConfig {
    ClientConfig {
        pacing: None,
        ..ClientConfig::default()
    }
}

pub async fn echo_session(sim: &Simulator, target: &str, config: ClientConfig) -> Session {
    let request =
        StartSessionRequest::port_forwarding(target, Some(ssm_sim::targets::ECHO_HOST), 7, 0);
    Session::start(sdk_api(sim), request, config)
        .await
        .expect("session starts")
}

pub fn policy(min_sessions: usize, max_sessions: usize) -> PoolPolicy {
    PoolPolicy {
        min_sessions,
        max_sessions,
        ..PoolPolicy::default()
    }
}

/// Waits (up to 20 s) until the pool has `count` live sessions.
pub async fn sessions(pool: &SessionPool, count: usize) {
    let reached = tokio::time::timeout(Duration::from_secs(20), async {
        while pool.sessions().len() != count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "pool never had {count} sessions: {:?}",
        pool.stats()
    );
}

pub async fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut data = vec![0u8; len];
    rng.fill(&mut data);
    data
}

/// Writes `data` through a stream to the echo target while reading the
/// echo back; returns what came back.
pub async fn echo_through<S>(stream: S, data: Arc<Vec<u8>>, timeout: Duration) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let expected = data.len();
    let write = tokio::spawn(async move {
        for chunk in data.chunks(64 * 1024) {
            writer.write_all(chunk).await.expect("write");
        }
        writer
    });
    let read = async {
        let mut received = Vec::with_capacity(expected);
        let mut buffer = vec![0u8; 64 * 1024];
        while received.len() < expected {
            let n = reader.read(&mut buffer).await.expect("read");
            assert!(n > 0, "EOF after {} of {expected} bytes", received.len());
            received.extend_from_slice(&buffer[..n]);
        }
        received
    };
    let received = tokio::time::timeout(timeout, read)
        .await
        .expect("echo finished in time");
    let _writer = write.await.expect("writer task");
    received
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
