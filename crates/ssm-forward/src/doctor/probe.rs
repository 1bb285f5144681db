//! `--probe`: a real session to the destination, step by step, each
//! step timed: StartSession, the data channel and handshake, a
//! connection to the destination through the target, TerminateSession.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ssm_client::{ApiErrorKind, ClientConfig, Session, SessionApi, StartSessionRequest};

use super::denied;
use super::report::Check;
use crate::serve::settle::{Settled, settle};

/// Longest the probe's connection waits for the agent to take it (see
/// [`settle`]: once it did and no refusal followed, it counts as
/// connected; many protocols wait for the client to speak first).
const CONNECT_VERDICT: Duration = Duration::from_secs(5);

/// Where the probe goes.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Instance id.
    pub instance_id: String,
    /// Host to reach from the target (`None`: the target itself).
    pub remote_host: Option<String>,
    /// Port to reach.
    pub remote_port: u16,
}

impl Destination {
    fn describe(&self) -> String {
        let host = self.remote_host.as_deref().unwrap_or("localhost");
        format!("{host}:{}", self.remote_port)
    }
}

/// Runs the probe; stops at the first step that fails.
pub async fn run(api: Arc<dyn SessionApi>, destination: &Destination) -> Vec<Check> {
    let mut checks = Vec::new();
    let request = StartSessionRequest::port_forwarding(
        &destination.instance_id,
        destination.remote_host.as_deref(),
        destination.remote_port,
        0,
    );
    let document = request.document_name.clone();
    let started_at = Instant::now();
    let started = match api.start_session(request).await {
        Ok(started) => started,
        Err(error) => {
            let fix = match error.kind() {
                ApiErrorKind::AccessDenied { .. } => denied::fix(error.kind(), "ssm:StartSession"),
                _ => "see the checks above (target online, agent version)".into(),
            };
            let detail = format!("StartSession ({document}) failed: {error}");
            checks.push(Check::fail("probe start", detail, fix).took(started_at.elapsed()));
            return checks;
        }
    };
    let session_id = started.session_id.clone();
    let detail = format!("StartSession ({document}): session {session_id}");
    checks.push(Check::pass("probe start", detail).took(started_at.elapsed()));
    let attach_at = Instant::now();
    let session = match Session::attach(api.clone(), started, ClientConfig::default()).await {
        Ok(session) => session,
        Err(error) => {
            let detail = format!("data channel or handshake failed: {error}");
            let fix = "see the data channel check above";
            checks.push(Check::fail("probe channel", detail, fix).took(attach_at.elapsed()));
            let _ = api.terminate_session(session_id.clone()).await;
            return checks;
        }
    };
    let mode = crate::forwarding::live::mode_name(session.info().map(|info| info.mode));
    let detail = format!("data channel open, handshake done ({mode})");
    checks.push(Check::pass("probe channel", detail).took(attach_at.elapsed()));
    checks.push(connect(&session, destination).await);
    let terminate_at = Instant::now();
    session.terminate().await;
    let detail = format!("session {session_id} terminated");
    checks.push(Check::pass("probe terminate", detail).took(terminate_at.elapsed()));
    checks
}

/// Opens a connection to the destination through the session.
async fn connect(session: &Session, destination: &Destination) -> Check {
    let remote = destination.describe();
    let at = Instant::now();
    let mut stream = match session.open_stream().await {
        Ok(stream) => stream,
        Err(error) => {
            let detail = format!("no connection to {remote}: {error}");
            return Check::fail("probe connect", detail, "retry; if it persists, report it")
                .took(at.elapsed());
        }
    };
    let verdict = settle(&mut stream, CONNECT_VERDICT).await;
    let elapsed = at.elapsed();
    let refused = |why: String| {
        Check::fail(
            "probe connect",
            format!("{remote} {why}"),
            format!(
                "check that something listens on {remote} and that the target may reach it \
                 (security groups, network ACLs)"
            ),
        )
        .took(elapsed)
    };
    match verdict {
        Settled::Failed(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            refused("refused the target's connection".into())
        }
        Settled::Failed(error) => refused(format!("failed: {error}")),
        Settled::Answered(first) if first.is_empty() => {
            refused("closed the connection at once".into())
        }
        Settled::Answered(_) | Settled::Quiet => Check::pass(
            "probe connect",
            format!("connected to {remote} through the target"),
        )
        .took(elapsed),
    }
}
