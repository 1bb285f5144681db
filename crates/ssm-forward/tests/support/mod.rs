//! Helpers for tests that run the built `ssm-forward` binary: a child
//! process whose output is collected as it comes, signals, an echo check.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

/// A symlink named `session-manager-plugin` to the built binary, in `dir`.
pub fn plugin_link(dir: &Path) -> PathBuf {
    let link = dir.join("session-manager-plugin");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ssm-forward"), &link).unwrap();
    link
}

/// Dummy credentials and no AWS configuration files or instance metadata.
pub fn dummy_aws_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SSM")
}

/// A free loopback port (free when this returns, at least).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running child process with its stdout and stderr collected.
#[derive(Debug)]
pub struct Child {
    child: tokio::process::Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Child {
    /// Spawns `command` with piped output, killed if dropped.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot spawn");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Both, for failure messages.
    pub fn transcript(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        )
    }

    /// Waits until stdout contains `needle`; panics after `timeout`.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_until(needle, timeout, |text| text.contains(needle))
            .await
    }

    /// Waits until stdout satisfies `done`; panics (saying `what`) after
    /// `timeout`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let text = self.stdout();
            if done(&text) {
                return text;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("no {what:?} within {timeout:?}\n{}", self.transcript());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `signal` (e.g. `INT`) to the process, or to its process
    /// group when `group` (the child must lead one).
    pub fn signal(&self, signal: &str, group: bool) {
        let pid = self.child.id().expect("child already reaped");
        let target = if group {
            format!("-{pid}")
        } else {
            pid.to_string()
        };
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), "--".into(), target])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the exit; panics after `timeout`.
    pub async fn exit(&mut self, timeout: Duration) -> ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
                // Let the readers catch the last output.
                tokio::time::sleep(Duration::from_millis(100)).await;
                status.unwrap()
            }
            Err(_) => panic!("still running after {timeout:?}\n{}", self.transcript()),
        }
    }
}

fn collect(mut pipe: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    tokio::spawn(async move {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = pipe.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
    text
}

/// Sends `size` random bytes through the echo target behind local `port`
/// and checks that exactly the same bytes come back.
pub async fn echo_through(port: u16, size: usize) {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let data: Vec<u8> = (0..size).map(|_| fastrand::u8(..)).collect();
    let (mut reader, mut writer) = socket.split();
    let write = async { writer.write_all(&data).await.unwrap() };
    let read = async {
        let mut back = vec![0u8; size];
        reader.read_exact(&mut back).await.unwrap();
        back
    };
    let ((), back) =
        tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(write, read) })
            .await
            .expect("echo took too long");
    assert!(back == data, "echoed bytes differ");
}

/// The port in "Port N opened for sessionId X.".
pub fn opened_port(stdout: &str) -> u16 {
    let rest = stdout.split("Port ").nth(1).expect("no Port line");
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// The id in "Starting session with SessionId: X".
pub fn session_id(stdout: &str) -> String {
    let rest = stdout
        .split("Starting session with SessionId: ")
        .nth(1)
        .expect("no Starting line");
    rest.lines().next().unwrap().trim().to_owned()
}
