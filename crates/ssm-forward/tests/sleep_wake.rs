//! A laptop that sleeps or changes networks, played against the real
//! `ssm-forward` binary and an in-process ssm-sim with short timeouts.
//! The daemon is stopped with SIGSTOP past the gateway's ping timeout,
//! past the idle timeout and past a socket recycle, then continued; or
//! every socket of the client is reset at once and the network restored.
//! Each case checks that a new connection is served and that a connection
//! open across the event either still echoes or fails at once: the
//! deadlines below are hang detectors, not performance bounds. Measured
//! wake-up times are printed (`--nocapture`) for RELIABILITY.md.
#![cfg(unix)]

mod common;

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{BASTION, Child, Scratch, aws_flags, ready_forward, sim, ssm_forward};
use ssm_sim::{EndCause, Network, RealismConfig, SessionSummary, SimConfig, Simulator};

/// Longer than any wait the forward may need: past it, a connection hangs.
/// (The client gives up a socket that leaves data unanswered for 10 s.)
const HANG: Duration = Duration::from_secs(30);
/// How long a clean exit may take after SIGTERM.
const EXIT: Duration = Duration::from_secs(3);
const PROBE: &[u8] = b"are you there?";

/// What a connection did with one round trip.
#[derive(Debug)]
enum Outcome {
    /// Echoed back whole; the time to its first byte.
    Echoed(Duration),
    /// Closed or reset.
    Failed(String),
    /// Nothing within [`HANG`].
    Hung,
}

/// A destination on 127.0.0.1 that echoes every connection.
async fn echo_destination() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut from, mut to) = socket.split();
                let _ = tokio::io::copy(&mut from, &mut to).await;
            });
        }
    });
    port
}

/// `ssm-forward` to the echo destination, up: the child, its address and
/// the first session id.
async fn forward(scratch: &Scratch, sim: &Simulator) -> (Child, SocketAddr, String) {
    let port = echo_destination().await.to_string();
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(scratch)
            .args(["--target", BASTION, "--remote-host", "127.0.0.1"])
            .args(["--remote-port", &port, "--local-port", "0"])
            .arg("--ready-file")
            .arg(&ready_path)
            .args(aws_flags(sim)),
    );
    let ready = child.wait_ready(&ready_path).await;
    let (address, _, session) = ready_forward(&ready, 0);
    (child, address, session)
}

/// Sends [`PROBE`] and reads it back, timing from `since`.
fn round_trip(socket: &mut TcpStream, since: Instant) -> Outcome {
    socket.set_read_timeout(Some(HANG)).unwrap();
    if let Err(error) = socket.write_all(PROBE) {
        return Outcome::Failed(error.to_string());
    }
    let mut back = vec![0u8; PROBE.len()];
    let mut first_byte = None;
    let mut filled = 0;
    while filled < back.len() {
        match socket.read(&mut back[filled..]) {
            Ok(0) => return Outcome::Failed("closed".into()),
            Ok(n) => {
                first_byte.get_or_insert_with(|| since.elapsed());
                filled += n;
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Outcome::Hung;
            }
            Err(error) => return Outcome::Failed(error.to_string()),
        }
    }
    assert_eq!(back, PROBE, "echoed bytes differ");
    Outcome::Echoed(first_byte.unwrap_or_default())
}

/// A connection through the forward that has echoed once.
async fn open_connection(address: SocketAddr) -> TcpStream {
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).unwrap();
        let outcome = round_trip(&mut socket, Instant::now());
        assert!(matches!(outcome, Outcome::Echoed(_)), "{outcome:?}");
        socket
    })
    .await
    .unwrap()
}

/// After the event (at `since`): a new connection's round trip, then the
/// round trip of the connection that was open across it.
async fn after_event(
    address: SocketAddr,
    mut open: TcpStream,
    since: Instant,
) -> (Outcome, Outcome) {
    tokio::task::spawn_blocking(move || {
        let mut fresh = TcpStream::connect(address).unwrap();
        let new = round_trip(&mut fresh, since);
        let old = round_trip(&mut open, Instant::now());
        (new, old)
    })
    .await
    .unwrap()
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Self::Echoed(first_byte) => format!("echoed, first byte after {first_byte:.1?}"),
            Self::Failed(why) => format!("failed at once ({why})"),
            Self::Hung => format!("hung for {HANG:?}"),
        }
    }
}

/// Checks both outcomes, prints them, and stops the forward cleanly.
async fn conclude(case: &str, mut child: Child, new: Outcome, old: Outcome) {
    println!(
        "{case}: new connection {} (timed from the event); open connection {}",
        new.describe(),
        old.describe()
    );
    assert!(
        matches!(new, Outcome::Echoed(_)),
        "{case}: new connection {new:?}\n{}",
        child.transcript()
    );
    assert!(
        !matches!(old, Outcome::Hung),
        "{case}: the open connection hangs\n{}",
        child.transcript()
    );
    child.signal("TERM");
    let status = child.exit(EXIT).await;
    assert_eq!(status.code(), Some(0), "{}", child.transcript());
}

/// Stops the forward with SIGSTOP for `pause`, continues it, and checks
/// what the simulator saw of the session with `saw`.
async fn sleep_through(
    case: &str,
    realism: RealismConfig,
    pause: Duration,
    saw: impl Fn(&SessionSummary) -> bool,
) {
    let sim = sim(SimConfig {
        realism,
        ..SimConfig::default()
    })
    .await;
    let scratch = Scratch::new();
    let (child, address, session) = forward(&scratch, &sim).await;
    let open = open_connection(address).await;
    child.signal("STOP");
    tokio::time::sleep(pause).await;
    let slept = sim.session(&session).expect("session known");
    child.signal("CONT");
    let woke = Instant::now();
    let (new, old) = after_event(address, open, woke).await;
    assert!(saw(&slept), "{case}: the sleep did not do it: {slept:?}");
    conclude(case, child, new, old).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_woken_past_the_ping_timeout_serves_at_once() {
    let realism = RealismConfig {
        ping_timeout: Some(Duration::from_secs(2)),
        ..RealismConfig::default()
    };
    let dropped = |s: &SessionSummary| s.stats.ping_timeouts >= 1 && !s.status.is_over();
    sleep_through("ping timeout", realism, Duration::from_secs(3), dropped).await;
}

// The first connection after the wake may land on the session the
// service ended (the daemon has not read its end yet): nothing of it has
// reached the agent, so the pool moves it to a new session
// (`PoolStream`), and it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_woken_past_the_idle_timeout_starts_a_new_session() {
    let realism = RealismConfig {
        idle_timeout: Some(Duration::from_secs(2)),
        ..RealismConfig::default()
    };
    let ended = |s: &SessionSummary| s.end_cause == Some(EndCause::IdleTimeout);
    sleep_through("idle timeout", realism, Duration::from_secs(3), ended).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_woken_past_a_socket_recycle_serves_at_once() {
    let realism = RealismConfig {
        recycle_after: Some(Duration::from_secs(2)),
        ..RealismConfig::default()
    };
    let recycled = |s: &SessionSummary| s.stats.recycles >= 1 && !s.status.is_over();
    sleep_through("recycle", realism, Duration::from_secs(3), recycled).await;
}

/// Every socket reset at once (`Reset`) or silenced (`Frozen`) and new
/// ones treated the same for 2 s, then the network is back: the same
/// process, the same session, serving again.
async fn network_change(case: &str, change: Network) {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let (child, address, session) = forward(&scratch, &sim).await;
    let open = open_connection(address).await;
    sim.set_network(change);
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim.set_network(Network::Up);
    let restored = Instant::now();
    let (new, old) = after_event(address, open, restored).await;
    let summary = sim.session(&session).expect("session known");
    assert!(
        !summary.status.is_over() && summary.stats.reconnects() >= 1,
        "{case}: not resumed on the same session: {summary:?}"
    );
    conclude(case, child, new, old).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_recovers_from_a_network_reset_without_a_restart() {
    network_change("network reset", Network::Reset).await;
}

/// The frozen socket says nothing: the forward must notice that the data
/// it sends goes unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_recovers_from_a_frozen_network_without_a_restart() {
    network_change("network frozen", Network::Frozen).await;
}
