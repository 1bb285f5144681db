//! The daemon's side: a Unix socket (`PID.sock`, mode 0600, in the
//! private control directory) answering `status` and `stop` requests,
//! one request per connection, a few connections at a time; slow or
//! oversized requests are refused. Byte counts are sampled here for the
//! rates. The socket is removed when the server is closed or dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::ControlError;
use super::model::{SAMPLE_EVERY, StatusBoard, rfc3339};
use super::paths;
use super::protocol::{Action, Answer, DaemonStatus, MAX_REQUEST, Request, Response, VERSION};
use crate::forwarding::stops::ForwardStops;

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stop waits for the forward's sessions to be terminated.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Control connections served at once; more are closed at once.
const MAX_CLIENTS: usize = 8;
/// How long answers being written get when the daemon exits.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// A running control socket.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    task: Option<JoinHandle<()>>,
    closing: watch::Sender<bool>,
}

/// What requests are answered from.
#[derive(Debug)]
struct Daemon {
    board: Arc<StatusBoard>,
    stops: Arc<ForwardStops>,
    pid: u32,
    command: String,
    started_at: String,
}

impl ControlServer {
    /// Opens this process's socket in `dir` (made private first), after
    /// removing stale sockets of processes that are gone.
    pub fn open(
        dir: &Path,
        board: Arc<StatusBoard>,
        stops: Arc<ForwardStops>,
    ) -> Result<Self, ControlError> {
        paths::ensure_private_dir(dir)?;
        remove_stale(dir);
        let pid = std::process::id();
        let path = paths::socket_path(dir, pid);
        // A socket named after our pid is a dead process's.
        paths::remove_socket(&path);
        let listener = bind_private(&path)?;
        let daemon = Arc::new(Daemon {
            board,
            stops,
            pid,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            started_at: rfc3339(std::time::SystemTime::now()),
        });
        let (closing, closed) = watch::channel(false);
        let task = tokio::spawn(serve(listener, daemon, closed));
        debug!(path = %path.display(), "control socket open");
        Ok(Self {
            path,
            task: Some(task),
            closing,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, lets answers being written finish (briefly) and
    /// removes the socket.
    pub async fn close(mut self) {
        self.closing.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(CLOSE_GRACE * 2, task).await;
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        paths::remove_socket(&self.path);
    }
}

/// Binds the socket with mode 0600 (its directory is 0700 already).
fn bind_private(path: &Path) -> Result<UnixListener, ControlError> {
    use std::os::unix::fs::PermissionsExt as _;
    let bind_error = |source| ControlError::Bind {
        path: path.to_owned(),
        source,
    };
    let listener = UnixListener::bind(path).map_err(bind_error)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_error)?;
    Ok(listener)
}

/// Removes the sockets in `dir` that nobody listens on any more.
fn remove_stale(dir: &Path) {
    for socket in paths::sockets(dir).unwrap_or_default() {
        if paths::is_stale(&socket) {
            debug!(path = %socket.display(), "removing a stale control socket");
            paths::remove_socket(&socket);
        }
    }
}

/// Accepts until closed; samples rates meanwhile.
async fn serve(listener: UnixListener, daemon: Arc<Daemon>, mut closed: watch::Receiver<bool>) {
    let clients = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut answers = tokio::task::JoinSet::new();
    let mut sample = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let Ok(permit) = clients.clone().try_acquire_owned() else {
                    debug!("too many control clients; closing one");
                    continue;
                };
                let daemon = daemon.clone();
                answers.spawn(async move {
                    answer(stream, &daemon).await;
                    drop(permit);
                });
            }
            _ = sample.tick() => daemon.board.sample(Instant::now()),
            Some(_) = answers.join_next(), if !answers.is_empty() => {}
            _ = closed.wait_for(|closing| *closing) => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while answers.join_next().await.is_some() {}
    })
    .await;
}

/// Reads one request, writes one answer.
async fn answer(stream: UnixStream, daemon: &Daemon) {
    let (reader, mut writer) = stream.into_split();
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, read_request(reader)).await {
        Err(_) => Response::error(format!("no request within {}s", REQUEST_TIMEOUT.as_secs())),
        // A connection that only checked the socket is alive.
        Ok(Ok(None)) => return,
        Ok(Err(message)) => Response::error(message),
        Ok(Ok(Some(request))) => daemon.handle(request).await,
    };
    let mut line = serde_json::to_string(&response).unwrap_or_default();
    line.push('\n');
    let _ = writer.write_all(line.as_bytes()).await;
    let _ = writer.shutdown().await;
}

/// One request line of at most [`MAX_REQUEST`] bytes; `None` when the
/// client closed without sending anything.
async fn read_request(
    reader: impl tokio::io::AsyncRead + Unpin,
) -> Result<Option<Request>, String> {
    let mut limited = BufReader::new(reader.take(MAX_REQUEST as u64));
    let mut line = Vec::new();
    limited
        .read_until(b'\n', &mut line)
        .await
        .map_err(|error| format!("cannot read the request: {error}"))?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') && line.len() >= MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let value: serde_json::Value = serde_json::from_slice(&line)
        .map_err(|error| format!("the request is not JSON: {error}"))?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(VERSION)) {
        return Err(format!(
            "unsupported protocol version {version:?}: this ssm-forward speaks version {VERSION}"
        ));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|error| format!("unknown request: {error}"))
}

impl Daemon {
    async fn handle(&self, request: Request) -> Response {
        match request.action {
            Action::Status => Response::new(Answer::Status(self.status())),
            Action::Stop { name } => self.stop(name).await,
        }
    }

    fn status(&self) -> DaemonStatus {
        DaemonStatus {
            pid: self.pid,
            command: self.command.clone(),
            program_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.started_at.clone(),
            forwards: self.board.report(),
        }
    }

    /// Stops forward `name` and answers once its sessions are terminated.
    async fn stop(&self, name: String) -> Response {
        let Some(mut stopped) = self.stops.stop(&name) else {
            let running = self.stops.running().join(", ");
            return Response::error(format!(
                "no forward named {name:?} runs in process {} (it runs: {running})",
                self.pid
            ));
        };
        self.board.stopping(&name);
        info!(
            target: crate::output::TARGET, event = "stopping", forward = %name,
            "{name}: stopping, as `ssm-forward stop` asks: closing its listener and terminating its sessions"
        );
        let done = tokio::time::timeout(STOP_TIMEOUT, stopped.wait_for(|stopped| *stopped)).await;
        if done.is_err() {
            return Response::error(format!(
                "{name}: asked to stop, but its sessions were not terminated within {}s",
                STOP_TIMEOUT.as_secs()
            ));
        }
        self.board.remove(&name);
        let remaining = self.stops.running();
        Response::new(Answer::Stopped { name, remaining })
    }
}
