//! ssm-sim in-process with the realistic profile, and the `ssm-forward`
//! binary as a child forwarding a local port, through a simulated
//! session, to privoxy (`privoxy.cluster.internal`, which the simulated
//! agent resolves to 127.0.0.1 by a host override).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use ssm_sim::{RealismConfig, SimConfig, Simulator};

use super::process::{Running, clean_command};

/// The default fleet's bastion (mux mode).
pub(crate) const TARGET: &str = "i-0123456789abcdef0";
/// The name the forward asks the agent to reach.
pub(crate) const PRIVOXY_HOST: &str = "privoxy.cluster.internal";

/// The simulator, realistic timing, `PRIVOXY_HOST` → 127.0.0.1.
pub(crate) async fn start_sim() -> std::io::Result<Simulator> {
    let mut config = SimConfig {
        realism: RealismConfig::realistic(),
        ..SimConfig::default()
    };
    config
        .destinations
        .host_overrides
        .insert(PRIVOXY_HOST.into(), "127.0.0.1".into());
    Simulator::start(config).await
}

/// The running `ssm-forward` once its ready file is there.
#[derive(Debug)]
pub(crate) struct Forward {
    /// The local end of the tunnel.
    pub(crate) addr: SocketAddr,
    /// The first session's id.
    pub(crate) session_id: String,
    /// The ready file (removed again on exit).
    pub(crate) ready_file: PathBuf,
    process: Running,
}

impl Forward {
    /// `ssm-forward --target TARGET --remote-host PRIVOXY_HOST
    /// --remote-port PORT --local-port 0 --ready-file ...` with dummy
    /// credentials and empty AWS files in `dir`.
    pub(crate) async fn start(
        program: &Path,
        sim: &Simulator,
        privoxy_port: u16,
        dir: &Path,
        timeout: Duration,
    ) -> Result<Self, String> {
        let ready_file = dir.join("ready.json");
        let mut command = ssm_forward(program, dir).map_err(|e| format!("AWS files: {e}"))?;
        command
            .args([
                "--endpoint-url",
                &sim.endpoint_url(),
                "--region",
                "us-east-1",
            ])
            .args(["--target", TARGET, "--remote-host", PRIVOXY_HOST])
            .args([
                "--remote-port",
                &privoxy_port.to_string(),
                "--local-port",
                "0",
            ])
            .arg("--ready-file")
            .arg(&ready_file);
        let process =
            Running::spawn(&mut command).map_err(|e| format!("cannot run ssm-forward: {e}"))?;
        wait_ready(process, ready_file, timeout).await
    }

    /// ssm-forward's output, for failure messages.
    pub(crate) fn transcript(&self) -> String {
        self.process.transcript()
    }

    pub(crate) fn stderr(&self) -> String {
        self.process.stderr()
    }

    /// `HTTPS_PROXY` for clients.
    pub(crate) fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends SIGINT and waits (at most `timeout`) for the exit code.
    pub(crate) async fn interrupt(&mut self, timeout: Duration) -> Result<i32, String> {
        if !self.process.signal("INT") {
            return Err("kill -INT failed".into());
        }
        match self.process.wait(timeout).await {
            Some(status) => status.code().ok_or_else(|| format!("killed: {status}")),
            None => Err(format!("still running {timeout:?} after SIGINT")),
        }
    }
}

/// The binary with an empty environment plus dummy static credentials,
/// no instance metadata and empty AWS config and credentials files.
fn ssm_forward(program: &Path, dir: &Path) -> std::io::Result<tokio::process::Command> {
    let config = dir.join("aws-config");
    let credentials = dir.join("aws-credentials");
    std::fs::write(&config, "")?;
    std::fs::write(&credentials, "")?;
    let mut command = clean_command(program, dir);
    command
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", credentials);
    Ok(command)
}

async fn wait_ready(
    mut process: Running,
    ready_file: PathBuf,
    timeout: Duration,
) -> Result<Forward, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(ready) = read_ready(&ready_file) {
            let (addr, session_id) =
                first_forward(&ready).ok_or_else(|| format!("unexpected ready file: {ready}"))?;
            return Ok(Forward {
                addr,
                session_id,
                ready_file,
                process,
            });
        }
        if let Some(status) = process.exited() {
            return Err(format!(
                "ssm-forward exited ({status}) before it was ready\n{}",
                process.transcript()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "ssm-forward not ready within {timeout:?}\n{}",
                process.transcript()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ready file's JSON once it is there (it is renamed into place).
fn read_ready(path: &Path) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `forwards[0]`: (address, session id).
fn first_forward(ready: &Value) -> Option<(SocketAddr, String)> {
    let forward = &ready["forwards"][0];
    let addr = forward["address"].as_str()?.parse().ok()?;
    let session_id = forward["session_id"].as_str()?.to_owned();
    Some((addr, session_id))
}
