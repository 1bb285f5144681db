//! The `ssm-forward` daemon under test: started against the simulator
//! with a clean environment, its reconnect reports timed as they arrive,
//! its memory and open files sampled.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use ssm_bench::procfs;
use ssm_sim::Simulator;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::time::Instant;

/// The simulator's default bastion: agent 3.3.987.0, mux mode.
const INSTANCE: &str = "i-0123456789abcdef0";
/// How long the daemon may take to become ready.
const STARTUP: Duration = Duration::from_secs(30);

/// A window in which the daemon said its session was reconnecting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outage {
    pub(crate) lost: Instant,
    /// When it said the session resumed (`None`: not yet, or never).
    pub(crate) resumed: Option<Instant>,
}

/// The running daemon.
#[derive(Debug)]
pub(crate) struct Daemon {
    child: Child,
    scratch: PathBuf,
    outages: Arc<Mutex<Vec<Outage>>>,
    pub(crate) pid: u32,
    pub(crate) address: SocketAddr,
    pub(crate) session_id: String,
}

/// The ssm-forward binary: `explicit`, or the one beside this program.
pub(crate) fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    match explicit {
        Some(path) => Ok(path.to_path_buf()),
        None => ssm_bench::sibling_ssm_forward(),
    }
}

impl Daemon {
    /// Starts `ssm-forward --target … --remote-host echo.sim.internal
    /// --remote-port 7` and waits for its ready file.
    pub(crate) async fn start(program: &Path, sim: &Simulator) -> anyhow::Result<Self> {
        let scratch = std::env::temp_dir().join(format!("ssm-soak-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).context("creating the scratch directory")?;
        let ready_file = scratch.join("ready.json");
        let mut child = Command::new(program)
            .args(["--target", INSTANCE, "--remote-host", "echo.sim.internal"])
            .args([
                "--remote-port",
                "7",
                "--local-port",
                "0",
                "--region",
                "us-east-1",
            ])
            .arg("--endpoint-url")
            .arg(sim.endpoint_url())
            .arg("--ready-file")
            .arg(&ready_file)
            .env_clear()
            .env("AWS_ACCESS_KEY_ID", "AKIDSOAK")
            .env("AWS_SECRET_ACCESS_KEY", "soak")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                scratch.join("no-aws-credentials"),
            )
            .env("HOME", &scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let pid = child.id().context("the daemon has no process id")?;
        let outages = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().context("the daemon's stderr")?;
        tokio::spawn(watch_stderr(stderr, outages.clone()));
        let (address, session_id) = wait_ready(&mut child, &ready_file).await?;
        Ok(Self {
            child,
            scratch,
            outages,
            pid,
            address,
            session_id,
        })
    }

    /// Every reconnect window the daemon reported so far.
    pub(crate) fn outages(&self) -> Vec<Outage> {
        self.outages
            .lock()
            .map(|outages| outages.clone())
            .unwrap_or_default()
    }

    /// Stops the daemon with SIGINT; describes how it exited.
    pub(crate) async fn stop(mut self) -> String {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status();
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = std::fs::remove_dir_all(&self.scratch);
        match status {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(error)) => format!("unknown ({error})"),
            Err(_) => "still running 10 s after SIGINT".to_owned(),
        }
    }
}

/// Waits for the ready file; returns the forward's address and session.
async fn wait_ready(child: &mut Child, path: &Path) -> anyhow::Result<(SocketAddr, String)> {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            let ready: serde_json::Value =
                serde_json::from_slice(&bytes).context("parsing the ready file")?;
            let forward = &ready["forwards"][0];
            let address = forward["address"].as_str().context("no address")?;
            let session = forward["session_id"].as_str().context("no session_id")?;
            return Ok((address.parse()?, session.to_owned()));
        }
        if let Some(status) = child.try_wait()? {
            bail!("ssm-forward exited ({status}) before it was ready");
        }
        if Instant::now() > deadline {
            bail!("ssm-forward was not ready within {STARTUP:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Times the daemon's "lost its connection" and "resumed after" lines.
async fn watch_stderr(stderr: ChildStderr, outages: Arc<Mutex<Vec<Outage>>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let now = Instant::now();
        let Ok(mut outages) = outages.lock() else {
            return;
        };
        if line.contains("lost its connection") {
            outages.push(Outage {
                lost: now,
                resumed: None,
            });
        } else if line.contains("resumed after") {
            if let Some(open) = outages.iter_mut().rev().find(|o| o.resumed.is_none()) {
                open.resumed = Some(now);
            }
        } else if line.contains("ended") || line.contains("error") {
            eprintln!("ssm-soak: daemon: {line}");
        }
    }
}

/// One look at the daemon.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Since the traffic started.
    pub(crate) at: Duration,
    /// Resident memory, bytes.
    pub(crate) rss: u64,
    /// Open file descriptors.
    pub(crate) files: usize,
}

/// Samples the daemon about 120 times over `duration` (at most every
/// second, at least every 30 s) until `deadline`.
pub(crate) async fn sample(pid: u32, deadline: Instant, duration: Duration) -> Vec<Sample> {
    let every = (duration / 120).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut ticker = tokio::time::interval(every);
    while Instant::now() < deadline {
        ticker.tick().await;
        let (Ok(memory), Ok(files)) = (procfs::memory(pid), procfs::open_files(pid)) else {
            break;
        };
        samples.push(Sample {
            at: started.elapsed(),
            rss: memory.rss,
            files,
        });
    }
    samples
}
