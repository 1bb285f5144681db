//! Helpers for the plugin-mode tests: the `session-manager-plugin` link,
//! a dummy AWS environment, and the plugin's stdout lines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
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
