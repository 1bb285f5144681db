//! Helpers for the end-to-end tests of the `ssm-forward` binary against
//! an in-process simulator: a scratch directory, the child process with
//! its output collected, the ready file, signals, an echo check.

#![allow(dead_code, unreachable_pub, missing_docs)]

mod child;
pub mod plugin;
#[cfg(unix)]
pub mod pty;
pub mod sso;

pub use child::Child;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use ssm_sim::{SimConfig, Simulator};
use tokio::io::AsyncReadExt as _;
use tokio::process::Command;

/// The default fleet's bastion (mux mode).
pub const BASTION: &str = "i-0123456789abcdef0";
/// How long anything may take to come up.
pub const STARTUP: Duration = Duration::from_secs(10);

pub async fn sim(config: SimConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

/// A scratch directory, removed on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ssm-forward-cli-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ssm-forward` with a clean environment: dummy credentials, no AWS
/// files or instance metadata, HOME and XDG_CONFIG_HOME in `scratch`.
pub fn ssm_forward(scratch: &Scratch) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ssm-forward"));
    command
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            scratch.join("no-aws-credentials"),
        )
        .env("HOME", scratch.path())
        .env("XDG_CONFIG_HOME", scratch.join("xdg"));
    command
}

/// `ssm-forward --target BASTION --remote-host echo.sim.internal
/// --remote-port 7 --local-port 0 --ready-file SCRATCH/ready.json` against
/// `sim` (the simulator's echo service); add flags and environment, then
/// spawn it. Returns the command and the ready file's path.
pub fn echo_forward(scratch: &Scratch, sim: &Simulator) -> (Command, PathBuf) {
    let ready_path = scratch.join("ready.json");
    let mut command = ssm_forward(scratch);
    command
        .args(["--target", BASTION, "--remote-host", "echo.sim.internal"])
        .args(["--remote-port", "7", "--local-port", "0", "--ready-file"])
        .arg(&ready_path)
        .args(aws_flags(sim));
    (command, ready_path)
}

/// `--endpoint-url URL --region us-east-1` for the simulator.
pub fn aws_flags(sim: &Simulator) -> Vec<String> {
    vec![
        "--endpoint-url".into(),
        sim.endpoint_url(),
        "--region".into(),
        "us-east-1".into(),
    ]
}

/// Runs `command` to completion (10 s at most): (exit code, stdout, stderr).
pub async fn run_to_end(command: &mut Command) -> (i32, String, String) {
    let output = tokio::time::timeout(STARTUP, command.stdin(Stdio::null()).output())
        .await
        .expect("finished in time")
        .expect("ran");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `index`th forward of a ready file: (address, target, session id).
pub fn ready_forward(ready: &Value, index: usize) -> (SocketAddr, String, String) {
    let forward = &ready["forwards"][index];
    let text = |key: &str| {
        forward[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} in {ready}"))
            .to_owned()
    };
    (
        text("address").parse().unwrap(),
        text("target"),
        text("session_id"),
    )
}

/// Connects to `address` with a plain std socket, sends `size` bytes and
/// checks they all come back unchanged (through the echo target).
pub async fn echo(address: SocketAddr, size: usize) {
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).expect("connect to the forward");
        socket.set_read_timeout(Some(STARTUP)).unwrap();
        echo_on(&mut socket, size);
    })
    .await
    .unwrap();
}

/// Sends `size` patterned bytes on `socket` and reads them back.
pub fn echo_on(socket: &mut TcpStream, size: usize) {
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let mut writer = socket.try_clone().unwrap();
    let sent = data.clone();
    let write = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    let mut back = vec![0u8; size];
    socket.read_exact(&mut back).expect("echo comes back");
    write.join().unwrap();
    assert!(back == data, "echo differs");
}

/// A stand-in SSM endpoint that answers every request with HTTP 400 and
/// this AWS JSON error (`__type`, `message`); returns its URL.
pub async fn refusing_endpoint(error_type: &'static str, message: &'static str) -> String {
    use tokio::io::AsyncWriteExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                if read_request(&mut socket).await.is_none() {
                    return;
                }
                let body =
                    serde_json::json!({"__type": error_type, "message": message}).to_string();
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n\
                     x-amzn-errortype: {error_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

/// Reads one HTTP request (headers and Content-Length body).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<()> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buffer[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let headers = String::from_utf8_lossy(&data[..header_end]).to_ascii_lowercase();
    let length: usize = headers
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < header_end + length {
        let n = socket.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buffer[..n]);
    }
    Some(())
}
