//! The `ssm-forward` binary against a gateway that closes every data
//! channel socket shortly after it opens (issue 16, item 3): each session
//! is given up after a bounded number of short-lived sockets, the forward
//! starts fresh sessions with backoff, and after `--max-failed-sessions`
//! of them it says it is failing. Its listener stays up and closes new
//! connections quickly instead of leaving them hanging; with
//! `--exit-when-failing` the process exits with status 1 instead.

mod common;

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Child, Scratch, echo_forward, ready_forward, sim};
use ssm_sim::{FaultConfig, SimConfig, Simulator};

/// Generous bound for the forward to be called failing: two sessions of
/// six short-lived sockets each, with reconnect and restart backoff, on a
/// busy CI machine.
const FAILING_WITHIN: Duration = Duration::from_secs(60);
/// A connection to a failing forward must end within this (it would wait
/// 60 s for a session if the forward did not refuse it).
const CLOSED_WITHIN: Duration = Duration::from_secs(15);

/// A simulator whose gateway closes every socket 300 ms after it opens.
async fn closing_gateway() -> Simulator {
    sim(SimConfig {
        faults: FaultConfig {
            close_after: Some(Duration::from_millis(300)),
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    })
    .await
}

/// The forward to the simulator's echo service with
/// `--max-failed-sessions 2` and `extra` flags; the child and its address.
async fn forward(scratch: &Scratch, sim: &Simulator, extra: &[&str]) -> (Child, SocketAddr) {
    let (mut command, ready_path) = echo_forward(scratch, sim);
    command.args(["--max-failed-sessions", "2"]).args(extra);
    let mut child = Child::spawn(&mut command);
    let ready = child.wait_ready(&ready_path).await;
    let (address, _, _) = ready_forward(&ready, 0);
    (child, address)
}

/// Connects and waits for the connection to end (EOF or reset); how long
/// that took.
fn time_until_closed(address: SocketAddr) -> Duration {
    let began = Instant::now();
    let mut socket = TcpStream::connect(address).expect("the listener stays up");
    socket.set_read_timeout(Some(CLOSED_WITHIN)).unwrap();
    let mut buffer = [0u8; 64];
    loop {
        match socket.read(&mut buffer) {
            Ok(0) | Err(_) if began.elapsed() < CLOSED_WITHIN => return began.elapsed(),
            Ok(_) => continue,
            _ => panic!("the connection hung for {CLOSED_WITHIN:?}"),
        }
    }
}

#[tokio::test]
async fn a_forward_whose_sockets_keep_dying_is_failing_and_closes_connections_quickly() {
    let sim = closing_gateway().await;
    let scratch = Scratch::new();
    let (mut child, address) = forward(&scratch, &sim, &[]).await;
    let stderr = child
        .wait_stderr_within("failing: 2 sessions in a row", FAILING_WITHIN)
        .await;
    assert!(
        stderr.contains("kept failing right after every reconnect"),
        "the given-up session says why:\n{stderr}"
    );
    eprintln!("XXSTDERR\n{stderr}");
    let starts_when_failing = sim.sessions().len();
    // Blocking sockets off the runtime, which also runs the simulator.
    let mut waits = Vec::new();
    for _ in 0..3 {
        let wait = tokio::task::spawn_blocking(move || time_until_closed(address));
        waits.push(wait.await.unwrap());
    }
    println!("connections to the failing forward ended after {waits:.1?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sim.sessions().len() > starts_when_failing,
        "starts go on (with backoff) while failing"
    );
    child.signal("TERM");
    assert_eq!(child.exit(Duration::from_secs(10)).await.code(), Some(0));
}

#[tokio::test]
async fn exit_when_failing_ends_the_process_with_status_1() {
    let sim = closing_gateway().await;
    let scratch = Scratch::new();
    let (mut child, _) = forward(&scratch, &sim, &["--exit-when-failing"]).await;
    let status = child.exit(FAILING_WITHIN).await;
    let stderr = child.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failing, exiting as --exit-when-failing asks"),
        "{stderr}"
    );
}
