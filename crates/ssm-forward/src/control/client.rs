//! The client's side, for `ssm-forward status` and `stop`: asks every
//! daemon of this user (every socket in the control directory) and
//! removes the sockets of processes that are gone.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;
use tracing::debug;

use super::paths;
use super::protocol::{Action, Request, Response, VERSION};
use super::{ControlError, Reply};

/// Longest answer read (bytes): a status of many forwards fits.
const MAX_ANSWER: u64 = 4 * 1024 * 1024;

/// Sends `action` to every daemon of this user, waiting `timeout` for
/// each; daemons are asked one after the other, in pid order.
pub async fn ask_all(action: &Action, timeout: Duration) -> Result<Vec<Reply>, ControlError> {
    let dir = paths::control_dir();
    if dir.exists() {
        paths::check_private_dir(&dir)?;
    }
    let sockets = paths::sockets(&dir).map_err(|source| ControlError::Directory {
        path: dir.clone(),
        source,
    })?;
    let request = Request {
        version: VERSION,
        action: action.clone(),
    };
    let mut replies = Vec::new();
    for socket in sockets {
        if let Some(reply) = ask_socket(&socket, &request, timeout).await {
            replies.push(reply);
        }
    }
    Ok(replies)
}

/// Sends `action` to the daemon with process id `pid` only; `None` when
/// it does not run (any more).
pub async fn ask_one(action: &Action, pid: u32, timeout: Duration) -> Option<Reply> {
    let request = Request {
        version: VERSION,
        action: action.clone(),
    };
    let socket = paths::socket_path(&paths::control_dir(), pid);
    ask_socket(&socket, &request, timeout).await
}

/// Asks one socket; `None` (and the socket removed) when its process is
/// gone.
async fn ask_socket(socket: &Path, request: &Request, timeout: Duration) -> Option<Reply> {
    let pid = paths::socket_pid(socket)?;
    let answer = match tokio::time::timeout(timeout, ask(socket, request)).await {
        Ok(Err(Asked::Gone)) => {
            debug!(path = %socket.display(), "removing a stale control socket");
            paths::remove_socket(socket);
            return None;
        }
        Ok(Err(Asked::Failed(message))) => Err(message),
        Ok(Ok(response)) => Ok(response),
        Err(_) => Err(format!("no answer within {}s", timeout.as_secs())),
    };
    Some(Reply { pid, answer })
}

/// Why a daemon gave no answer.
enum Asked {
    /// Nobody listens: the process is gone.
    Gone,
    /// Something else went wrong.
    Failed(String),
}

async fn ask(socket: &Path, request: &Request) -> Result<Response, Asked> {
    let stream = UnixStream::connect(socket).await.map_err(|error| {
        if matches!(
            error.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
        ) {
            Asked::Gone
        } else {
            Asked::Failed(format!("cannot connect: {error}"))
        }
    })?;
    exchange(stream, request).await.map_err(Asked::Failed)
}

/// Writes the request line, reads the answer line.
async fn exchange(stream: UnixStream, request: &Request) -> Result<Response, String> {
    let (reader, mut writer) = stream.into_split();
    let mut line = serde_json::to_string(request).map_err(|error| error.to_string())?;
    line.push('\n');
    writer
        .write_all(line.as_bytes())
        .await
        .map_err(|error| format!("cannot send the request: {error}"))?;
    let mut answer = Vec::new();
    BufReader::new(reader.take(MAX_ANSWER))
        .read_until(b'\n', &mut answer)
        .await
        .map_err(|error| format!("cannot read the answer: {error}"))?;
    let value: serde_json::Value = serde_json::from_slice(&answer)
        .map_err(|error| format!("the answer is not JSON: {error}"))?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(VERSION)) {
        return Err(format!(
            "it speaks control protocol version {version:?}, this ssm-forward {VERSION}: \
             run the same ssm-forward version"
        ));
    }
    serde_json::from_value(value).map_err(|error| format!("unexpected answer: {error}"))
}
