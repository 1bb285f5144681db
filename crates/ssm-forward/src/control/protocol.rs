//! The control protocol, version [`VERSION`]: the client writes one JSON
//! request on one line, the daemon answers with one JSON line and
//! closes the connection.
//!
//! ```json
//! {"version":1,"request":"status"}
//! {"version":1,"request":"stop","name":"db"}
//! ```
//!
//! Answers carry `answer`: `status` (the daemon and its forwards),
//! `stopped` (the forward stopped: listener closed, sessions
//! terminated; `remaining` forwards go on, none means the daemon exits)
//! or `error` (`message` says why). Only `stop` changes anything. A
//! field added later is optional, so readers ignore what they do not
//! know; a change that old readers would misread takes a new version.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// Longest request line a daemon reads (bytes, newline included).
pub const MAX_REQUEST: usize = 4096;

/// One request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// [`VERSION`].
    pub version: u32,
    /// What is asked.
    #[serde(flatten)]
    pub action: Action,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Action {
    /// The daemon and its forwards.
    Status,
    /// Stop one forward: close its listener, terminate its sessions.
    Stop {
        /// The forward's name.
        name: String,
    },
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// [`VERSION`].
    pub version: u32,
    /// The answer.
    #[serde(flatten)]
    pub answer: Answer,
}

/// What the daemon answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// The daemon and its forwards.
    Status(DaemonStatus),
    /// The forward stopped.
    Stopped {
        /// Its name.
        name: String,
        /// Forwards still running in this daemon (none: it exits).
        remaining: Vec<String>,
    },
    /// The request was refused.
    Error {
        /// Why, and what to do.
        message: String,
    },
}

impl Response {
    /// An answer in this version.
    pub fn new(answer: Answer) -> Self {
        Self {
            version: VERSION,
            answer,
        }
    }

    /// An error answer.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Answer::Error {
            message: message.into(),
        })
    }
}

/// One daemon (one `ssm-forward` process).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Process id.
    pub pid: u32,
    /// Its command line.
    pub command: String,
    /// Its version (`ssm-forward --version`).
    pub program_version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Its forwards, in start order.
    pub forwards: Vec<ForwardStatus>,
}

/// One forward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardStatus {
    /// Forward name (`ssm-forward stop NAME`).
    pub name: String,
    /// Bound local address.
    pub local_address: String,
    /// Instance id in use.
    pub target: String,
    /// How the target was chosen (`i-…`, `name:…`, `tag:…=…`, `eks-cluster:…`).
    pub target_selector: String,
    /// `host:port` as the target dials it.
    pub remote: String,
    /// `running`, `starting` (no session up yet), `failing` or `stopping`.
    pub state: String,
    /// True while sessions keep failing (new connections are closed).
    pub failing: bool,
    /// Mode of the latest session (`mux`, `basic`), empty before the first.
    pub mode: String,
    /// Agent version the latest session reported.
    pub agent_version: String,
    /// When the forward started listening (RFC 3339).
    pub up_since: String,
    /// Local connections being served.
    pub connections_open: usize,
    /// Local connections accepted since the start.
    pub connections_total: u64,
    /// Bytes sent to the target (smux framing included), ended sessions included.
    pub bytes_sent: u64,
    /// Bytes received from the target (smux framing included).
    pub bytes_received: u64,
    /// Bytes per second sent, over the last sampling interval.
    pub rate_sent: u64,
    /// Bytes per second received, over the last sampling interval.
    pub rate_received: u64,
    /// Sessions resumed on a new socket after a socket loss.
    pub resumes: u64,
    /// Sessions started after the first (a session ended or failed).
    pub restarts: u64,
    /// The latest error, if any.
    pub last_error: Option<LastError>,
    /// Sessions up now (one, or several for a pool).
    pub sessions: Vec<SessionStatus>,
}

/// The latest error of a forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// What happened, phrased for users.
    pub message: String,
    /// When (RFC 3339).
    pub at: String,
}

/// One session of a forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// Session id.
    pub session_id: String,
    /// `mux`, `basic` or `stream`.
    pub mode: String,
    /// The agent's version.
    pub agent_version: String,
    /// When it came up (RFC 3339).
    pub up_since: String,
    /// A data-channel socket is open (false while resuming).
    pub connected: bool,
    /// Resumes of this session.
    pub resumes: u64,
    /// Streams open in it.
    pub open_streams: usize,
    /// Bytes sent through it.
    pub bytes_sent: u64,
    /// Bytes received through it.
    pub bytes_received: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_small_json_object() {
        let stop = Request {
            version: VERSION,
            action: Action::Stop { name: "db".into() },
        };
        let text = serde_json::to_string(&stop).unwrap();
        assert_eq!(text, r#"{"version":1,"request":"stop","name":"db"}"#);
        let status: Request = serde_json::from_str(r#"{"version":1,"request":"status"}"#).unwrap();
        assert_eq!(status.action, Action::Status);
        assert!(serde_json::from_str::<Request>(r#"{"version":1,"request":"kill"}"#).is_err());
    }

    #[test]
    fn answers_say_which_kind_they_are() {
        let stopped = Response::new(Answer::Stopped {
            name: "db".into(),
            remaining: vec!["web".into()],
        });
        let text = serde_json::to_string(&stopped).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"answer":"stopped","name":"db","remaining":["web"]}"#
        );
        let error = serde_json::to_string(&Response::error("no")).unwrap();
        assert_eq!(error, r#"{"version":1,"answer":"error","message":"no"}"#);
        let back: Response = serde_json::from_str(&text).unwrap();
        assert_eq!(back, stopped);
    }
}
