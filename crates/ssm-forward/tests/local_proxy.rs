//! `ssm-forward proxy` end to end: the binary against ssm-sim, with
//! destinations that are real servers on 127.0.0.1 behind the simulated
//! instance (host names mapped by the simulator). curl through the HTTP
//! proxy and SOCKS5 to two destinations, a session per destination
//! counted by ssm-sim, a denied destination, one the instance cannot
//! reach, one IAM does not allow, 50 connections to 5 destinations, and
//! idle sessions closed.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use ssm_sim::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(20);

/// An HTTP server that answers every request with `NAME PATH` and
/// closes; counts its connections.
async fn web_server(name: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head);
                let path = text.split(' ').nth(1).unwrap_or("?").to_owned();
                let body = format!("{name} {path}");
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (address, connections)
}

/// An echo server.
async fn echo_server() -> SocketAddr {
    let (address, _task) = ssm_sim::targets::spawn_echo_server().await.unwrap();
    address
}

/// A port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

struct Lab {
    sim: Simulator,
    scratch: Scratch,
}

impl Lab {
    async fn start(hosts: &[(&str, SocketAddr)], iam_denied: &[&str]) -> Self {
        let mut config = SimConfig::default();
        for (host, address) in hosts {
            config
                .destinations
                .host_overrides
                .insert((*host).to_owned(), address.to_string());
        }
        config.destinations.iam_denied_hosts = iam_denied.iter().map(|h| (*h).to_owned()).collect();
        Self {
            sim: sim(config).await,
            scratch: Scratch::new(),
        }
    }

    /// `ssm-forward proxy` on a free port, with `extra` flags; returns the
    /// child and the proxy's address.
    async fn proxy(&self, extra: &[&str]) -> (Child, SocketAddr) {
        let ready: PathBuf = self.scratch.join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let mut command = ssm_forward(&self.scratch);
        command
            .args(["proxy", "--target", BASTION, "--listen", "127.0.0.1:0"])
            .arg("--ready-file")
            .arg(&ready)
            .args(aws_flags(&self.sim))
            .args(extra);
        let mut child = Child::spawn(&mut command);
        let ready = child.wait_ready(&ready).await;
        let (address, _, _) = ready_forward(&ready, 0);
        (child, address)
    }

    /// Sessions the simulator started, by their `host` parameter.
    fn sessions_by_host(&self) -> BTreeMap<String, usize> {
        let mut hosts = BTreeMap::new();
        for session in self.sim.sessions() {
            let host = session
                .parameters
                .get("host")
                .and_then(|h| h.first())
                .cloned()
                .unwrap_or_default();
            *hosts.entry(host).or_default() += 1;
        }
        hosts
    }
}

/// Runs curl with `args`; (exit code, stdout, stderr). `None` when curl
/// is not installed (CI installs it).
async fn curl(args: &[String]) -> Option<(i32, String, String)> {
    let output = tokio::process::Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "15"])
        .args(args)
        .env_clear()
        .output()
        .await;
    match output {
        Ok(output) => Some((
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("SSM_FORWARD_REQUIRE_SERVICE_TOOLS").is_none(),
                "curl is required here"
            );
            eprintln!("skipped: curl is not installed");
            None
        }
        Err(error) => panic!("curl: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reaches_two_destinations_through_http_and_socks5_on_a_session_each() {
    let (web_a, _) = web_server("a").await;
    let (web_b, _) = web_server("b").await;
    let lab = Lab::start(&[("web-a.internal", web_a), ("web-b.internal", web_b)], &[]).await;
    let (mut child, proxy) = lab.proxy(&[]).await;
    let http = format!("http://{proxy}");
    let socks = proxy.to_string();
    let cases: [(Vec<String>, &str); 4] = [
        // Absolute-form GET through the HTTP proxy.
        (
            vec![
                "--proxy".into(),
                http.clone(),
                "http://web-a.internal/one".into(),
            ],
            "a /one",
        ),
        // CONNECT through the HTTP proxy.
        (
            vec![
                "--proxytunnel".into(),
                "--proxy".into(),
                http,
                "http://web-b.internal/two".into(),
            ],
            "b /two",
        ),
        // SOCKS5 with the name resolved on the far side.
        (
            vec![
                "--socks5-hostname".into(),
                socks.clone(),
                "http://web-a.internal/three".into(),
            ],
            "a /three",
        ),
        (
            vec![
                "--socks5-hostname".into(),
                socks,
                "http://web-b.internal:80/four".into(),
            ],
            "b /four",
        ),
    ];
    for (args, expected) in cases {
        let Some((code, body, stderr)) = curl(&args).await else {
            return;
        };
        assert_eq!(
            (code, body.as_str()),
            (0, expected),
            "curl {args:?}: {stderr}\n{}",
            child.transcript()
        );
    }
    let sessions = lab.sessions_by_host();
    assert_eq!(
        sessions,
        BTreeMap::from([
            ("web-a.internal".to_owned(), 1),
            ("web-b.internal".to_owned(), 1)
        ]),
        "one session per destination, shared by its connections"
    );
    child
        .wait_stderr("proxy → web-b.internal:80: session")
        .await;
    stop(child).await;
}

/// Sends a SOCKS5 CONNECT for `host:port`; returns the reply code and
/// the socket.
async fn socks_connect(proxy: SocketAddr, host: &str, port: u16) -> (u8, TcpStream) {
    let mut socket = TcpStream::connect(proxy).await.unwrap();
    socket.write_all(&[5, 1, 0]).await.unwrap();
    let mut method = [0u8; 2];
    socket.read_exact(&mut method).await.unwrap();
    assert_eq!(method, [5, 0], "no authentication accepted");
    let mut request = vec![5, 1, 0, 3, u8::try_from(host.len()).unwrap()];
    request.extend_from_slice(host.as_bytes());
    request.extend_from_slice(&port.to_be_bytes());
    socket.write_all(&request).await.unwrap();
    let mut reply = [0u8; 10];
    tokio::time::timeout(WAIT, socket.read_exact(&mut reply))
        .await
        .expect("a reply in time")
        .expect("a reply");
    (reply[1], socket)
}

/// `GET PATH` from `host:80` through the proxy's SOCKS5 side; the whole
/// answer.
async fn get_via_socks(proxy: SocketAddr, host: &str, path: &str) -> String {
    let (code, mut socket) = socks_connect(proxy, host, 80).await;
    assert_eq!(code, 0, "{host}");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    answer
}

/// SIGTERM, then exit status 0.
async fn stop(mut child: Child) {
    child.signal("TERM");
    assert_eq!(
        child.exit(WAIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
}

/// Sends `CONNECT host:port`; returns the whole answer (the proxy closes
/// after a refusal) or its first line and the socket.
async fn http_connect(proxy: SocketAddr, target: &str) -> String {
    let mut socket = TcpStream::connect(proxy).await.unwrap();
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, socket.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_get_the_reply_their_protocol_has_for_them() {
    let (web_a, _) = web_server("a").await;
    let closed = closed_port().await;
    let lab = Lab::start(
        &[
            ("web-a.internal", web_a),
            ("closed.internal", closed),
            ("secret.internal", web_a),
        ],
        &["forbidden.internal"],
    )
    .await;
    let (mut child, proxy) = lab.proxy(&["--deny", "secret.internal"]).await;

    // Denied by the rules: 403 / 0x02, and no session is started.
    let denied = http_connect(proxy, "secret.internal:80").await;
    assert!(denied.starts_with("HTTP/1.1 403"), "{denied}");
    assert!(
        denied.contains("denied by --deny secret.internal"),
        "{denied}"
    );
    assert_eq!(socks_connect(proxy, "secret.internal", 80).await.0, 0x02);
    assert!(
        lab.sim.sessions().is_empty(),
        "a denied destination started a session"
    );

    // The instance cannot connect: 502 / 0x05, with the reason.
    let refused = http_connect(proxy, "closed.internal:80").await;
    assert!(refused.starts_with("HTTP/1.1 502"), "{refused}");
    assert!(
        refused.contains("could not connect to closed.internal:80"),
        "{refused}"
    );
    assert_eq!(socks_connect(proxy, "closed.internal", 80).await.0, 0x05);

    // IAM does not allow the host: 502 / 0x01 with AWS's reason.
    let forbidden = http_connect(proxy, "forbidden.internal:443").await;
    assert!(forbidden.starts_with("HTTP/1.1 502"), "{forbidden}");
    assert!(forbidden.contains("not authorized"), "{forbidden}");
    assert_eq!(
        socks_connect(proxy, "forbidden.internal", 443).await.0,
        0x01
    );
    child.wait_stderr("forbidden.internal:443").await;

    // The other destinations' sessions are not touched: web-a works.
    let answer = get_via_socks(proxy, "web-a.internal", "/after").await;
    assert!(answer.ends_with("a /after"), "{answer}");
    let closed_sessions = lab
        .sim
        .sessions()
        .into_iter()
        .filter(|s| {
            s.parameters
                .get("host")
                .is_some_and(|h| h[0] == "closed.internal")
        })
        .collect::<Vec<_>>();
    assert_eq!(
        closed_sessions.len(),
        1,
        "the refused destination kept one session"
    );
    assert!(
        !closed_sessions[0].status.is_over(),
        "a refused dial does not end the destination's session"
    );

    // Not a proxy request at all.
    let mut socket = TcpStream::connect(proxy).await.unwrap();
    socket.write_all(b"\x16\x03\x01 hello").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, socket.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "closed without an answer");
    child.wait_stderr("speaks neither HTTP nor SOCKS5").await;
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_connections_to_five_destinations_share_five_sessions() {
    let mut hosts = Vec::new();
    for n in 0..5 {
        hosts.push((format!("d{n}.internal"), echo_server().await));
    }
    let named: Vec<(&str, SocketAddr)> = hosts.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let lab = Lab::start(&named, &[]).await;
    let (child, proxy) = lab.proxy(&[]).await;
    let mut connections = tokio::task::JoinSet::new();
    for n in 0..50u32 {
        let host = format!("d{}.internal", n % 5);
        connections.spawn(async move {
            let (code, mut socket) = socks_connect(proxy, &host, 7).await;
            assert_eq!(code, 0, "{host}");
            let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 + n) as u8).collect();
            let (mut read, mut write) = socket.split();
            let mut back = vec![0u8; data.len()];
            let (written, echoed) =
                tokio::join!(write.write_all(&data), read.read_exact(&mut back));
            written.unwrap();
            echoed.unwrap();
            assert!(back == data, "{host}: the echo differs");
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(done) = connections.join_next().await {
            done.expect("a connection failed");
        }
    })
    .await;
    assert!(
        all.is_ok(),
        "50 connections did not finish\n{}",
        child.transcript()
    );
    let sessions = lab.sessions_by_host();
    assert_eq!(sessions.len(), 5, "{sessions:?}");
    assert!(
        sessions.values().all(|n| *n == 1),
        "5 sessions, not 50: {sessions:?}"
    );
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_destinations_close_their_sessions() {
    let (web_a, _) = web_server("a").await;
    let lab = Lab::start(&[("web-a.internal", web_a)], &[]).await;
    let (mut child, proxy) = lab.proxy(&["--idle-close", "1"]).await;
    let answer = get_via_socks(proxy, "web-a.internal", "/").await;
    assert!(answer.ends_with("a /"), "{answer}");
    let session = lab.sim.sessions()[0].session_id.clone();
    let ended = lab
        .sim
        .wait_for(&session, WAIT, |s| s.status.is_over())
        .await
        .expect("known");
    assert!(
        ended.status.is_over(),
        "the idle session was not closed: {ended:?}"
    );
    child.wait_stderr("closed after idle").await;

    // The next connection starts a new one.
    let answer = get_via_socks(proxy, "web-a.internal", "/again").await;
    assert!(answer.ends_with("a /again"), "{answer}");
    assert_eq!(lab.sim.sessions().len(), 2);
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_env_names_the_proxy_for_http_and_socks() {
    let lab = Lab::start(&[], &[]).await;
    let (mut child, proxy) = lab.proxy(&["--print-env"]).await;
    let line = child.wait_stdout("export").await;
    assert!(
        line.contains(&format!(
            "export HTTPS_PROXY=http://{proxy} ALL_PROXY=socks5h://{proxy}"
        )),
        "{line}"
    );
    stop(child).await;
}
