//! A corporate proxy in front of everything: the real binary with
//! `HTTP_PROXY=http://user:password@127.0.0.1:PORT` against ssm-sim,
//! through tinyproxy (Debian) with Basic authentication. The proxy's own
//! log must show both the API call and the data channel's CONNECT, and a
//! wrong password must end in an error that names the proxy, not a hang.
//!
//! The simulator's endpoints are plain `http://` and `ws://` on loopback,
//! so `HTTP_PROXY` is the variable that applies (`HTTPS_PROXY` does the
//! same for AWS's `https://` and `wss://` endpoints). Skipped when
//! tinyproxy is missing, unless `SSM_FORWARD_REQUIRE_SERVICE_TOOLS` is set
//! (`.ci/run` installs it).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Child, Scratch, echo, echo_forward, ready_forward, sim};
use ssm_sim::SimConfig;

const USER: &str = "alice";
const PASSWORD: &str = "s3cretPw";

/// A running tinyproxy and its log file.
struct Tinyproxy {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tinyproxy {
    /// Starts tinyproxy on a free loopback port with Basic authentication;
    /// `None` when it is not installed (and not required).
    fn start(dir: &Path) -> Option<Self> {
        if std::process::Command::new("tinyproxy")
            .arg("-v")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("SSM_FORWARD_REQUIRE_SERVICE_TOOLS").is_none(),
                "tinyproxy is required here"
            );
            println!("tinyproxy not found: skipped");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("tinyproxy.log");
        let config = dir.join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Connect\n\
                 MaxClients 100\nAllow 127.0.0.1\nBasicAuth {USER} {PASSWORD}\n",
                log.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let began = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "tinyproxy did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { child, port, log })
    }

    fn url(&self, password: &str) -> String {
        format!("http://{USER}:{password}@127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[tokio::test]
async fn api_calls_and_the_data_channel_go_through_an_authenticating_proxy() {
    let scratch = Scratch::new();
    let Some(proxy) = Tinyproxy::start(scratch.path()) else {
        return;
    };
    let sim = sim(SimConfig::default()).await;
    let sim_port = sim
        .endpoint_url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let (mut command, ready_path) = echo_forward(&scratch, &sim);
    let mut child = Child::spawn(command.env("HTTP_PROXY", proxy.url(PASSWORD)));
    let ready = child.wait_ready(&ready_path).await;
    let (address, _, _) = ready_forward(&ready, 0);
    echo(address, 100_000).await;
    let log = proxy.log();
    println!(
        "tinyproxy saw:\n{}",
        log.lines()
            .filter(|l| l.contains("Request"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        log.contains(&format!("POST http://127.0.0.1:{sim_port}/")),
        "the API calls went through the proxy:\n{log}"
    );
    assert!(
        log.contains("CONNECT 127.0.0.1:"),
        "the data channel was tunnelled through the proxy:\n{log}"
    );
    let stderr = child.stderr();
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    child.signal("TERM");
    assert_eq!(child.exit(Duration::from_secs(10)).await.code(), Some(0));
}

#[tokio::test]
async fn a_wrong_proxy_password_is_a_clear_error_naming_the_proxy() {
    let scratch = Scratch::new();
    let Some(proxy) = Tinyproxy::start(scratch.path()) else {
        return;
    };
    let sim = sim(SimConfig::default()).await;
    let (mut command, _) = echo_forward(&scratch, &sim);
    command.env("HTTP_PROXY", proxy.url("wrong-password"));
    let mut child = Child::spawn(&mut command);
    let stderr = child
        .wait_stderr_within(
            &format!("127.0.0.1:{}", proxy.port),
            Duration::from_secs(30),
        )
        .await;
    println!("{stderr}");
    assert!(!stderr.contains("wrong-password"), "{stderr}");
    assert!(
        stderr.contains(&format!("the proxy 127.0.0.1:{} (HTTP_PROXY)", proxy.port)),
        "{stderr}"
    );
}
