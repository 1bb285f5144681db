//! A pool stream whose session ends before the agent saw anything of it
//! moves to another session and sends its bytes again (the laptop that
//! wakes up to a session the service already ended); one the agent saw
//! never does, so the destination never gets a request twice.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use ssm_client::{Error, PoolEvent, PoolStream, REPLAY_LIMIT, SessionPool, StartSessionRequest};
use ssm_sim::{Network, SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

const WAIT: Duration = Duration::from_secs(20);
const HOST: &str = "counted.sim.internal";

/// A destination that counts its connections and the bytes they sent;
/// it echoes when `echo`, else it never answers.
#[derive(Clone, Default)]
struct Destination {
    connections: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
}

impl Destination {
    async fn spawn(echo: bool) -> (Self, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let counts = Self::default();
        let task_counts = counts.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                task_counts.connections.fetch_add(1, Ordering::SeqCst);
                let counts = task_counts.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    while let Ok(read) = socket.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        counts.received.fetch_add(read, Ordering::SeqCst);
                        if echo && socket.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (counts, address)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

async fn setup(
    echo: bool,
) -> (
    Simulator,
    Destination,
    SessionPool,
    UnboundedReceiver<PoolEvent<Error>>,
) {
    let (destination, address) = Destination::spawn(echo).await;
    let mut config = SimConfig::default();
    config
        .destinations
        .host_overrides
        .insert(HOST.to_owned(), address.to_string());
    let sim = sim(config).await;
    let request = StartSessionRequest::port_forwarding(TARGET, Some(HOST), 80, 0);
    let (pool, events) = SessionPool::from_api(sdk_api(&sim), request, fast_config(), policy(1, 2));
    sessions(&pool, 1).await;
    (sim, destination, pool, events)
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let reached = tokio::time::timeout(WAIT, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "never happened: {what}");
}

/// Silences the network, opens a stream and writes `request` on it, has
/// the service end the stream's session (the client cannot hear it) and
/// brings the network back; the stream and its first session's id.
async fn write_while_the_session_dies_unseen(
    sim: &Simulator,
    pool: &SessionPool,
    request: &[u8],
) -> (PoolStream, String) {
    sim.set_network(Network::Frozen);
    let mut stream = pool.open_stream().await.expect("a session takes it");
    let victim = stream.session().session_id().to_owned();
    tokio::time::timeout(WAIT, stream.write_all(request))
        .await
        .expect("the write fits the windows")
        .expect("written");
    sim.service().terminate_session(&victim);
    sim.set_network(Network::Up);
    (stream, victim)
}

/// The network goes silent, a stream opens and writes, the service ends
/// the session (the client cannot hear it), the network comes back: the
/// stream's session is found dead, and the stream goes on on a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_session_ended_unseen_moves_to_another_session() {
    init_tracing();
    let (sim, destination, pool, _events) = setup(true).await;
    let request = pattern(20 * 1024, 7);
    let (mut stream, victim) = write_while_the_session_dies_unseen(&sim, &pool, &request).await;

    let mut back = vec![0u8; request.len()];
    tokio::time::timeout(WAIT, stream.read_exact(&mut back))
        .await
        .expect("answered in time")
        .expect("the stream moved and was answered");
    assert!(back == request, "the echo differs");
    assert_eq!(stream.moves(), 1);
    assert_ne!(stream.session().session_id(), victim);
    assert_eq!(stream.session_number(), 2);
    assert_eq!(
        destination.connections(),
        1,
        "the old stream never got there"
    );
    assert_eq!(destination.received(), request.len(), "sent once");
    assert_eq!(pool.stats().streams_moved, 1);

    // Once answered it stays: the next session end fails it.
    stream.write_all(b"more").await.expect("written");
    let mut more = [0u8; 4];
    stream.read_exact(&mut more).await.expect("echoed");
    pool.close().await;
}

/// The agent acknowledged the stream's bytes (the destination has them)
/// and then the session ends before any answer: the stream fails, and the
/// destination is not sent the request again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_agent_saw_fails_rather_than_sending_twice() {
    init_tracing();
    let (sim, destination, pool, _events) = setup(false).await;
    let mut stream = pool.open_stream().await.expect("a session takes it");
    stream.write_all(b"POST /order").await.expect("written");
    until("the destination has the request", || {
        destination.received() == 11
    })
    .await;
    until("the agent acknowledged it", || {
        stream.session().stats().unacked == 0
    })
    .await;
    sim.service()
        .terminate_session(stream.session().session_id());

    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(WAIT, stream.read(&mut buffer))
        .await
        .expect("no hang");
    assert!(matches!(read, Err(_) | Ok(0)), "the stream ended: {read:?}");
    assert_eq!(stream.moves(), 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(destination.connections(), 1, "no second connection");
    assert_eq!(destination.received(), 11, "the request went once");
    assert_eq!(pool.stats().streams_moved, 0);
    pool.close().await;
}

/// More than [`REPLAY_LIMIT`] written before any answer: the copy is
/// gone, so the stream cannot move and fails like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_wrote_past_the_replay_limit_does_not_move() {
    init_tracing();
    let (sim, destination, pool, _events) = setup(true).await;
    let request = pattern(REPLAY_LIMIT + 1, 9);
    let (mut stream, _victim) = write_while_the_session_dies_unseen(&sim, &pool, &request).await;

    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(WAIT, stream.read(&mut buffer))
        .await
        .expect("no hang");
    assert!(matches!(read, Err(_) | Ok(0)), "the stream ended: {read:?}");
    assert_eq!(stream.moves(), 0);
    assert_eq!(destination.connections(), 0);
    pool.close().await;
}
