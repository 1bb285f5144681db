//! The `ssm-forward` binary against an in-process ssm-sim, at the edges
//! of local connections: half-closed clients get their whole answer (mux
//! and basic mode), closed connections free their place promptly, the
//! connection limit refuses quickly and recovers, and a lingering
//! connection does not hold up SIGTERM.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{BASTION, Child, Scratch, aws_flags, ready_forward, sim, ssm_forward};
use ssm_sim::{EndCause, SessionStatus, SimConfig, Simulator};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The simulator's instance whose agent only speaks basic mode.
const BASIC: &str = "i-0old000000000000b";
/// An answer bigger than every buffer on the way (socket buffers, the
/// client's 4 MiB receive cap, the agent's windows).
const ANSWER: usize = 6 * 1024 * 1024;
/// How long a clean exit may take after a signal.
const EXIT: Duration = Duration::from_secs(3);

fn answer() -> Vec<u8> {
    (0..ANSWER).map(|i| (i * 13 % 251) as u8).collect()
}

/// A destination on 127.0.0.1 that reads a request up to its blank line,
/// then (if `answers`) sends [`answer`] and closes; otherwise it holds
/// the connection open without a word.
async fn destination(answers: bool) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") {
                    if socket.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    request.push(byte[0]);
                }
                if answers {
                    let _ = socket.write_all(&answer()).await;
                } else {
                    let mut rest = Vec::new();
                    let _ = socket.read_to_end(&mut rest).await;
                }
            });
        }
    });
    port
}

/// `ssm-forward --target TARGET --remote-host 127.0.0.1 --remote-port
/// PORT` (plus `extra`), up; the child, its address and session id.
async fn forward(
    scratch: &Scratch,
    sim: &Simulator,
    target: &str,
    port: u16,
    extra: &[&str],
) -> (Child, SocketAddr, String) {
    let ready_path = scratch.join("ready.json");
    let port = port.to_string();
    let mut child = Child::spawn(
        ssm_forward(scratch)
            .args(["--target", target, "--remote-host", "127.0.0.1"])
            .args(["--remote-port", &port, "--local-port", "0"])
            .args(extra)
            .arg("--ready-file")
            .arg(&ready_path)
            .args(aws_flags(sim)),
    );
    let ready = child.wait_ready(&ready_path).await;
    let (address, _, session) = ready_forward(&ready, 0);
    (child, address, session)
}

/// Sends a request, shuts down the write side (as `nc -N` or an HTTP/1.0
/// client does) and reads until EOF.
async fn half_closed_request(address: SocketAddr) -> Vec<u8> {
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        socket.write_all(b"GET /big HTTP/1.0\r\n\r\n").unwrap();
        socket.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        socket.read_to_end(&mut back).expect("the answer, then EOF");
        back
    })
    .await
    .unwrap()
}

/// Connects and tells whether the forward served the connection: it
/// sends a request and waits for the first byte of the answer (false:
/// closed at once, refused by the connection limit).
fn served(address: SocketAddr) -> bool {
    let mut socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = socket.write_all(b"GET /big HTTP/1.0\r\n\r\n");
    let mut byte = [0u8; 1];
    matches!(socket.read(&mut byte), Ok(1))
}

async fn assert_terminated_by_flag(sim: &Simulator, session: &str) {
    let summary = sim
        .wait_for(session, Duration::from_secs(2), |s| s.status.is_over())
        .await
        .expect("session known");
    assert_eq!(summary.status, SessionStatus::Terminated, "{summary:?}");
    assert_eq!(
        summary.end_cause,
        Some(EndCause::TerminateFlag),
        "{summary:?}"
    );
}

async fn half_close_gets_the_whole_answer(target: &str, mode: &str) {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let port = destination(true).await;
    let (mut child, address, session) = forward(&scratch, &sim, target, port, &[]).await;
    child
        .wait_stderr(&format!("session {session} up ({mode}"))
        .await;
    for _ in 0..2 {
        let back = half_closed_request(address).await;
        assert_eq!(back.len(), ANSWER, "{}", child.transcript());
        assert!(back == answer(), "the answer differs");
    }
    child.signal("TERM");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
    assert_terminated_by_flag(&sim, &session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_connection_gets_the_whole_answer_in_mux_mode() {
    half_close_gets_the_whole_answer(BASTION, "mux").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_connection_gets_the_whole_answer_in_basic_mode() {
    half_close_gets_the_whole_answer(BASIC, "basic").await;
}

/// With room for one connection, a finished one must free its place well
/// before the linger time (mux: the agent's FIN ends it), and a second
/// one meanwhile is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_refuses_at_once_and_a_closed_connection_frees_its_place() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let port = destination(true).await;
    let extra = ["--max-connections", "1"];
    let (mut child, address, _) = forward(&scratch, &sim, BASTION, port, &extra).await;
    let outcome = tokio::task::spawn_blocking(move || {
        // Connection 1 is served; while it is open, others are refused.
        let mut first = TcpStream::connect(address).unwrap();
        first.write_all(b"GET /big HTTP/1.0\r\n\r\n").unwrap();
        let mut head = [0u8; 16];
        first.read_exact(&mut head).unwrap();
        let refused = (0..3).filter(|_| !served(address)).count();
        // Read the rest and close: the place must come back.
        let mut rest = Vec::new();
        first.read_to_end(&mut rest).unwrap();
        drop(first);
        let closed = Instant::now();
        while !served(address) {
            assert!(
                closed.elapsed() < Duration::from_secs(10),
                "the place never came back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        (refused, head.len() + rest.len())
    })
    .await
    .unwrap();
    assert_eq!(outcome, (3, ANSWER), "{}", child.transcript());
    child
        .wait_stderr("1 connections open, the limit: closing new ones")
        .await;
    let lines = child
        .stderr()
        .matches("the limit: closing new ones")
        .count();
    assert_eq!(
        lines,
        1,
        "one status line per burst: {}",
        child.transcript()
    );
    child.signal("INT");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
}

/// A half-closed connection whose destination never answers lingers for
/// 30 s; SIGTERM must not wait for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_forward_with_a_lingering_connection_at_once() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let port = destination(false).await;
    let (mut child, address, session) = forward(&scratch, &sim, BASTION, port, &[]).await;
    let mut socket = TcpStream::connect(address).unwrap();
    socket.write_all(b"GET /big HTTP/1.0\r\n\r\n").unwrap();
    socket.shutdown(Shutdown::Write).unwrap();
    sim.wait_for(&session, Duration::from_secs(5), |s| {
        s.stats.streams_opened > 0
    })
    .await
    .expect("the stream is open");
    child.signal("TERM");
    let status = child.exit(EXIT).await;
    assert_eq!(status.code(), Some(0), "{}", child.transcript());
    assert_terminated_by_flag(&sim, &session).await;
    assert!(
        child.stderr().contains("SIGTERM: terminating sessions"),
        "{}",
        child.transcript()
    );
}
