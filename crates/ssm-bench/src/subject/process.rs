//! One implementation process with one session: StartSession, spawn with
//! the plugin argv, wait for "Waiting for connections...", stop.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::json;
use ssm_sim::Simulator;
use ssm_sim::service::{REMOTE_HOST_DOCUMENT, StartSessionInput};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{EXEC_MARKER, Subject};
use crate::lab::INSTANCE;
use crate::procfs::{self, Memory};

/// What both implementations print once the port is open and the session
/// handshake is done.
const READY_LINE: &str = "Waiting for connections";
/// How long a process may take to get ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process may take to exit after SIGINT.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A started implementation, ready for connections on `addr()`.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    pid: u32,
    port: u16,
    /// The simulator's session id.
    pub(crate) session_id: String,
    /// From the exec of the program to its ready line.
    pub(crate) setup: Duration,
    log: PathBuf,
    stdout: JoinHandle<()>,
}

/// Starts a session to `host:port` on `sim` and the subject's process for
/// it, and waits until it is ready.
pub(crate) async fn launch(
    subject: &Subject,
    sim: &Simulator,
    host: &str,
    port: u16,
) -> anyhow::Result<Running> {
    let local_port = free_port()?;
    let parameters: BTreeMap<String, Vec<String>> = [
        ("host", host.to_owned()),
        ("portNumber", port.to_string()),
        ("localPortNumber", local_port.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), vec![value]))
    .collect();
    let input = StartSessionInput {
        target: INSTANCE.into(),
        document_name: Some(REMOTE_HOST_DOCUMENT.into()),
        parameters: parameters.clone(),
        reason: None,
    };
    let output = sim.service().start_session(input)?;
    let response = json!({
        "SessionId": output.session_id,
        "TokenValue": output.token_value,
        "StreamUrl": output.stream_url,
    });
    let request = json!({
        "Target": INSTANCE,
        "DocumentName": REMOTE_HOST_DOCUMENT,
        "Parameters": parameters,
    });
    let log = log_path(subject);
    let mut command = subject.command(&log)?;
    command.args([
        response.to_string(),
        sim.service().config().region.clone(),
        "StartSession".into(),
        String::new(),
        request.to_string(),
        sim.endpoint_url(),
    ]);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", subject.kind.name()))?;
    let pid = child.id().context("no pid")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut running = Running {
        child,
        pid,
        port: local_port,
        session_id: output.session_id,
        setup: Duration::ZERO,
        log,
        stdout: tokio::spawn(async {}),
    };
    match tokio::time::timeout(READY_TIMEOUT, wait_ready(stdout)).await {
        Ok(Ok((rest, setup))) => {
            running.setup = setup;
            running.stdout = tokio::spawn(drain(rest));
            Ok(running)
        }
        Ok(Err(error)) => Err(running.failed(error).await),
        Err(_) => Err(running
            .failed(anyhow::anyhow!("not ready after 30 s"))
            .await),
    }
}

/// Starts ssm-forward in daemon mode (ours only): a forward to
/// `host:port` through up to `sessions` sessions, and waits for its
/// ready file. `session_id` is the pool's first session.
pub(crate) async fn launch_forward(
    subject: &Subject,
    sim: &Simulator,
    host: &str,
    port: u16,
    sessions: usize,
) -> anyhow::Result<Running> {
    let local_port = free_port()?;
    let log = log_path(subject);
    let ready = log.with_extension("ready.json");
    let _ = std::fs::remove_file(&ready);
    let mut command = subject.daemon_command(&log)?;
    command
        .args(["--target", INSTANCE, "--remote-host", host])
        .args(["--remote-port", &port.to_string()])
        .args(["--local-port", &local_port.to_string()])
        .args(["--sessions", &sessions.to_string()])
        .args(["--endpoint-url", &sim.endpoint_url()])
        .args(["--region", &sim.service().config().region])
        .arg("--ready-file")
        .arg(&ready);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", subject.kind.name()))?;
    let pid = child.id().context("no pid")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut running = Running {
        child,
        pid,
        port: local_port,
        session_id: String::new(),
        setup: Duration::ZERO,
        log,
        stdout: tokio::spawn(drain(BufReader::new(stdout))),
    };
    match tokio::time::timeout(READY_TIMEOUT, first_session(&ready)).await {
        Ok(session_id) => {
            running.session_id = session_id;
            running.setup = started.elapsed();
            Ok(running)
        }
        Err(_) => Err(running
            .failed(anyhow::anyhow!("no ready file after 30 s"))
            .await),
    }
}

/// Polls the ready file until it names the first session.
async fn first_session(ready: &std::path::Path) -> String {
    loop {
        let text = std::fs::read_to_string(ready).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if let Some(id) = json["forwards"][0]["session_id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Subject {
    /// The daemon-mode command: ssm-forward itself (no wrapper, so
    /// the process id is its own), set up like [`Self::command`].
    fn daemon_command(&self, log: &PathBuf) -> anyhow::Result<Command> {
        let mut command = Command::new(&self.path);
        bench_io(&mut command, log)?;
        Ok(command)
    }

    /// The command before the six plugin arguments, with dummy AWS
    /// credentials (the plugin calls ResumeSession and TerminateSession on
    /// the endpoint; SigV4 is not checked) and stderr to `log`.
    fn command(&self, log: &PathBuf) -> anyhow::Result<Command> {
        let mut command = Command::new(&self.program);
        command.args(&self.leading);
        bench_io(&mut command, log)?;
        Ok(command)
    }
}

/// Dummy AWS credentials (the plugin calls ResumeSession and
/// TerminateSession on the endpoint; SigV4 is not checked), no AWS files
/// or instance metadata, stdout piped, stderr to `log`.
fn bench_io(command: &mut Command, log: &PathBuf) -> anyhow::Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let stderr =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    command
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true);
    Ok(())
}

impl Running {
    /// The local address to connect to.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// CPU time used so far.
    pub(crate) fn cpu(&self) -> anyhow::Result<Duration> {
        procfs::cpu_time(self.pid)
    }

    /// Resident memory now and at its peak.
    pub(crate) fn memory(&self) -> anyhow::Result<Memory> {
        procfs::memory(self.pid)
    }

    /// Sends SIGINT (Ctrl-C, as the AWS CLI's user would) and waits for
    /// the exit; kills the process if it lingers.
    pub(crate) async fn stop(mut self) -> anyhow::Result<ExitStatus> {
        interrupt(self.pid).await;
        let status = match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                self.child.kill().await?;
                bail!(
                    "did not exit within 5 s of SIGINT (log: {})",
                    self.log.display()
                );
            }
        };
        self.stdout.abort();
        Ok(status)
    }

    /// Kills the process and explains why with the end of its log.
    async fn failed(mut self, error: anyhow::Error) -> anyhow::Error {
        let _ = self.child.kill().await;
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        error.context(format!(
            "process failed (log {}):\n{}",
            self.log.display(),
            tail.join("\n")
        ))
    }
}

/// Reads stdout until the ready line; hands back the rest and the time
/// from the wrapper's exec marker to the ready line.
async fn wait_ready(stdout: ChildStdout) -> anyhow::Result<(BufReader<ChildStdout>, Duration)> {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let mut exec = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            bail!("stdout closed before {READY_LINE:?}");
        }
        if line.trim_end() == EXEC_MARKER {
            exec = Some(Instant::now());
        } else if line.contains(READY_LINE) {
            let exec = exec.context("no exec marker before the ready line")?;
            return Ok((reader, exec.elapsed()));
        }
    }
}

/// Keeps reading stdout so the process never blocks on a full pipe.
async fn drain(mut reader: BufReader<ChildStdout>) {
    let mut line = String::new();
    while reader.read_line(&mut line).await.is_ok_and(|n| n > 0) {
        line.clear();
    }
}

async fn interrupt(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .await;
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn log_path(subject: &Subject) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir()
        .join(format!("ssm-bench-{}", std::process::id()))
        .join(format!("{:02}-{}.log", n, subject.kind.name()))
}
