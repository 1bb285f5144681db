//! Child processes for the kube_e2e test: the programs under test found
//! through environment variables, a clean environment for each, long
//! running children with their output collected (privoxy, ssm-forward,
//! a following kubectl), one-shot commands with a deadline, signals.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::Command;

/// The programs the test drives.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub(crate) privoxy: PathBuf,
    pub(crate) kubectl: PathBuf,
    pub(crate) curl: PathBuf,
    pub(crate) ssm_forward: PathBuf,
}

impl Tools {
    /// `SSM_E2E_PRIVOXY`, `SSM_E2E_KUBECTL`, `SSM_E2E_CURL` (default: the
    /// names, looked up on PATH) and `SSM_E2E_SSM_FORWARD` (required).
    pub(crate) fn from_env() -> Self {
        let ssm_forward = env_path("SSM_E2E_SSM_FORWARD").unwrap_or_else(|| {
            panic!(
                "SSM_E2E_SSM_FORWARD is not set: run `cargo build -p ssm-forward` and point it \
                 at target/debug/ssm-forward"
            )
        });
        Self {
            privoxy: env_path("SSM_E2E_PRIVOXY").unwrap_or_else(|| "privoxy".into()),
            kubectl: env_path("SSM_E2E_KUBECTL").unwrap_or_else(|| "kubectl".into()),
            curl: env_path("SSM_E2E_CURL").unwrap_or_else(|| "curl".into()),
            ssm_forward,
        }
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// `program` with an empty environment but PATH, HOME=`home` and LC_ALL=C:
/// no proxy variables, kubeconfig or AWS settings leak in from outside.
pub(crate) fn clean_command(program: &Path, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// A running child whose stdout and stderr are collected.
#[derive(Debug)]
pub(crate) struct Running {
    child: tokio::process::Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Spawns `command` with both outputs piped and collected.
    pub(crate) fn spawn(command: &mut Command) -> std::io::Result<Self> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        Ok(Self {
            child,
            stdout,
            stderr,
        })
    }

    pub(crate) fn stdout(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Both outputs, for failure messages.
    pub(crate) fn transcript(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }

    /// The exit status if it has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends `kill -SIGNAL` (`INT`, `TERM`); false if that failed.
    pub(crate) fn signal(&self, signal: &str) -> bool {
        let Some(pid) = self.child.id() else {
            return false;
        };
        std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Waits for the exit, at most `timeout`; `None` if still running.
    pub(crate) async fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = tokio::time::timeout(timeout, self.child.wait()).await;
        // Let the collectors read the last output.
        tokio::time::sleep(Duration::from_millis(100)).await;
        status.ok().and_then(Result::ok)
    }
}

fn collect(pipe: Option<impl AsyncRead + Unpin + Send + 'static>) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    if let Some(mut pipe) = pipe {
        tokio::spawn(async move {
            let mut buffer = [0u8; 8192];
            while let Ok(read) = pipe.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                if let Ok(mut sink) = sink.lock() {
                    sink.push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            }
        });
    }
    text
}

/// What a one-shot command did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Exit code; -1 for a signal, a time-out or a failed spawn.
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl Outcome {
    pub(crate) fn success(&self) -> bool {
        self.code == 0
    }

    /// Code and both outputs, for failure messages.
    pub(crate) fn transcript(&self) -> String {
        format!(
            "exit code {} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to the end, at most `timeout` (then it is killed).
pub(crate) async fn run(command: &mut Command, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let output = tokio::time::timeout(timeout, command.output()).await;
    let elapsed = started.elapsed();
    match output {
        Ok(Ok(output)) => Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed,
        },
        Ok(Err(error)) => Outcome {
            code: -1,
            stdout: String::new(),
            stderr: format!("cannot run: {error}"),
            elapsed,
        },
        Err(_) => Outcome {
            code: -1,
            stdout: String::new(),
            stderr: format!("no exit within {timeout:?} (killed)"),
            elapsed,
        },
    }
}

/// One summary line on stderr: `e2e: WHAT -> RESULT (N ms)`.
pub(crate) fn report(what: &str, result: &str, elapsed: Duration) {
    eprintln!("e2e: {what} -> {result} ({} ms)", elapsed.as_millis());
}
