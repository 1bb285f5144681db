//! A child process (`ssm-forward`, or the AWS CLI running it as its
//! plugin) with its stdout and stderr collected as they come.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::process::Command;

use super::STARTUP;

/// A running `ssm-forward` with its output collected.
#[derive(Debug)]
pub struct Child {
    child: tokio::process::Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Child {
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot spawn the child process");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// A child whose output is already being collected elsewhere (a
    /// pseudo-terminal, see `pty.rs`).
    pub fn from_parts(
        child: tokio::process::Child,
        stdout: Arc<Mutex<String>>,
        stderr: Arc<Mutex<String>>,
    ) -> Self {
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Collects an async pipe into a shared string.
    pub fn collect_pipe(pipe: impl AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
        collect(pipe)
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn transcript(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }

    /// Waits until stderr contains `needle`.
    pub async fn wait_stderr(&mut self, needle: &str) -> String {
        self.wait(
            |child| child.stderr().contains(needle).then(|| child.stderr()),
            needle,
        )
        .await
    }

    /// Waits until stderr contains `needle`; panics after `timeout`.
    pub async fn wait_stderr_within(&mut self, needle: &str, timeout: Duration) -> String {
        self.wait_within(
            |child| child.stderr().contains(needle).then(|| child.stderr()),
            needle,
            timeout,
        )
        .await
    }

    /// Waits until stdout contains `needle`.
    pub async fn wait_stdout(&mut self, needle: &str) -> String {
        self.wait(
            |child| child.stdout().contains(needle).then(|| child.stdout()),
            needle,
        )
        .await
    }

    /// Waits until the ready file exists; returns its JSON.
    pub async fn wait_ready(&mut self, path: &Path) -> Value {
        self.wait_ready_within(path, STARTUP).await
    }

    /// [`Self::wait_ready`] with a longer (or shorter) limit.
    pub async fn wait_ready_within(&mut self, path: &Path, timeout: Duration) -> Value {
        let what = format!("ready file {}", path.display());
        self.wait_within(
            |_| {
                std::fs::read(path)
                    .ok()
                    .map(|b| serde_json::from_slice(&b).unwrap())
            },
            &what,
            timeout,
        )
        .await
    }

    async fn wait<T>(&mut self, check: impl FnMut(&Self) -> Option<T>, what: &str) -> T {
        self.wait_within(check, what, STARTUP).await
    }

    /// Polls `check` until it yields; panics after `timeout`, or once the
    /// process has exited and its last output did not satisfy `check`.
    async fn wait_within<T>(
        &mut self,
        mut check: impl FnMut(&Self) -> Option<T>,
        what: &str,
        timeout: Duration,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = check(self) {
                return found;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Some(found) = check(self) {
                    return found;
                }
                panic!("exited ({status}) before {what}\n{}", self.transcript());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {what} within {timeout:?}\n{}",
                self.transcript()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until stdout contains `needle`; panics after `timeout`.
    pub async fn wait_stdout_within(&mut self, needle: &str, timeout: Duration) -> String {
        self.wait_until(needle, timeout, |text| text.contains(needle))
            .await
    }

    /// Waits until stdout satisfies `done`; panics (saying `what`) after
    /// `timeout`.
    pub async fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let what = format!("{what:?} on stdout");
        self.wait_within(
            |child| {
                let text = child.stdout();
                done(&text).then_some(text)
            },
            &what,
            timeout,
        )
        .await
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id().expect("already reaped")
    }

    /// Sends `signal` (`INT`, `TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("already reaped");
        kill(signal, &pid.to_string());
    }

    /// Sends `signal` to the process group the child leads.
    pub fn signal_group(&self, signal: &str) {
        let pid = self.child.id().expect("already reaped");
        kill(signal, &format!("-{pid}"));
    }

    /// Waits for the exit, at most `timeout`.
    pub async fn exit(&mut self, timeout: Duration) -> ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => {
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

fn kill(signal: &str, target: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), "--".into(), target.into()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {target} failed");
}
