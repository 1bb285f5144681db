//! `ssm-forward --sessions 3` against an in-process ssm-sim: parallel
//! connections spread over three sessions (counted in the simulator),
//! the status lines and the ready file show the pool, and a killed
//! session fails only its own connection while the others carry on and
//! new connections go to the surviving sessions.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{
    BASTION, Child, STARTUP, Scratch, aws_flags, echo_on, ready_forward, sim, ssm_forward,
};
use ssm_sim::{SessionSummary, SimConfig, Simulator};

/// Bytes echoed per round on each connection.
const ROUND: usize = 128 * 1024;

/// A destination on 127.0.0.1 that echoes whatever it gets.
async fn echo_destination() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = socket.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    port
}

/// A connection through the forward that has echoed one round (so its
/// stream is placed on a session).
async fn connect(address: SocketAddr) -> TcpStream {
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).expect("connect to the forward");
        socket.set_read_timeout(Some(STARTUP)).unwrap();
        echo_on(&mut socket, ROUND);
        socket
    })
    .await
    .unwrap()
}

/// One more echo round on every connection, at the same time.
async fn echo_all(sockets: Vec<TcpStream>) -> Vec<TcpStream> {
    let rounds: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            std::thread::spawn(move || {
                echo_on(&mut socket, ROUND);
                socket
            })
        })
        .collect();
    rounds.into_iter().map(|t| t.join().unwrap()).collect()
}

fn live(sim: &Simulator) -> Vec<SessionSummary> {
    sim.sessions()
        .into_iter()
        .filter(|s| !s.status.is_over())
        .collect()
}

/// Waits until the simulator has `count` live sessions.
async fn live_sessions(sim: &Simulator, count: usize, child: &Child) -> Vec<SessionSummary> {
    let deadline = Instant::now() + STARTUP;
    loop {
        let sessions = live(sim);
        if sessions.len() == count {
            return sessions;
        }
        assert!(
            Instant::now() < deadline,
            "never {count} live sessions: {sessions:?}\n{}",
            child.transcript()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the transcript has `needle`.
async fn said(child: &Child, needle: &str) {
    let deadline = Instant::now() + STARTUP;
    while !child.transcript().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "never said {needle:?}:\n{}",
            child.transcript()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ready file's session list once `wanted` holds for it.
async fn ready_sessions(path: &std::path::Path, wanted: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + STARTUP;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let ready: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let sessions: Vec<String> = ready["forwards"][0]["sessions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if wanted(&sessions) {
            assert_eq!(ready["forwards"][0]["max_sessions"], 3, "{text}");
            return sessions;
        }
        assert!(
            Instant::now() < deadline,
            "the ready file never showed the pool: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True once the connection is closed or broken by the forward.
fn is_cut(socket: &mut TcpStream) -> bool {
    let _ = socket.write_all(&[1u8; 1024]);
    let mut buffer = [0u8; 4096];
    loop {
        match socket.read(&mut buffer) {
            Ok(0) | Err(_) => return true,
            Ok(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_three_sessions_and_a_killed_one_takes_only_its_own() {
    let sim = sim(SimConfig::default()).await;
    let port = echo_destination().await.to_string();
    let scratch = Scratch::new();
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args(["--target", BASTION, "--remote-host", "127.0.0.1"])
            .args([
                "--remote-port",
                &port,
                "--local-port",
                "0",
                "--sessions",
                "3",
            ])
            .arg("--ready-file")
            .arg(&ready_path)
            .args(aws_flags(&sim)),
    );
    let ready = child.wait_ready(&ready_path).await;
    let (address, _, _) = ready_forward(&ready, 0);
    // The pool grows only while every session is busy: the second
    // connection shares the first session and starts a second one, the
    // fourth starts the third.
    let mut sockets = vec![connect(address).await, connect(address).await];
    live_sessions(&sim, 2, &child).await;
    said(&child, "session 2 of 3 up").await;
    sockets.push(connect(address).await);
    sockets.push(connect(address).await);
    live_sessions(&sim, 3, &child).await;
    sockets.push(connect(address).await);
    let sessions = live_sessions(&sim, 3, &child).await;
    let streams: Vec<u64> = sessions.iter().map(|s| s.stats.streams_opened).collect();
    assert_eq!(streams, [2, 2, 1], "connections per session");
    assert_eq!(sim.start_stats().max_starting, 1, "{:?}", sim.start_stats());
    let listed = ready_sessions(&ready_path, |list| list.len() == 3).await;
    assert!(
        sessions.iter().all(|s| listed.contains(&s.session_id)),
        "{listed:?}"
    );

    let victim = sessions[2].session_id.clone();
    sim.service().terminate_session(&victim);
    live_sessions(&sim, 2, &child).await;
    said(&child, &format!("session {victim} ended")).await;
    let mut lost = sockets.pop().unwrap();
    let cut = tokio::task::spawn_blocking(move || is_cut(&mut lost));
    assert!(
        cut.await.unwrap(),
        "the killed session's connection still works"
    );
    // The other four carry on, byte exact, at the same time.
    let sockets = echo_all(sockets).await;
    let mut fresh = connect(address).await;
    echo_on(&mut fresh, ROUND);
    let after: Vec<SessionSummary> = live(&sim);
    assert!(
        after.iter().all(|s| s.session_id != victim),
        "the new connection went to the killed session"
    );
    let opened: u64 = after.iter().map(|s| s.stats.streams_opened).sum();
    assert!(
        opened >= 5,
        "the new connection went to a live session: {after:?}"
    );
    ready_sessions(&ready_path, |list| {
        list.len() >= 2 && !list.contains(&victim)
    })
    .await;
    drop((sockets, fresh));
    child.signal("INT");
    assert!(child.exit(Duration::from_secs(5)).await.success());
}
