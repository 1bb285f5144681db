//! Drop-in `session-manager-plugin`: run port-forwarding sessions that
//! `aws ssm start-session` starts, with this crate's client instead of
//! the official plugin.
//!
//! The AWS CLI calls StartSession itself and then runs
//! `session-manager-plugin RESPONSE REGION StartSession PROFILE PARAMS
//! ENDPOINT` (protocol.md §2.1; [`invocation`] reads it). This module
//! attaches to that session, listens on the handshake's
//! `localPortNumber` (0 or empty: any free port) and forwards every
//! accepted connection as a stream of the session, printing what the
//! official plugin prints. Socket losses are repaired with ResumeSession
//! (against the CLI's endpoint, region and profile); Ctrl-C (also SIGTERM,
//! SIGQUIT, SIGHUP) sends the TerminateSession flag, calls
//! TerminateSession and exits 0; the service's `channel_closed` prints
//! its text and exits 0. One session, no restarts, like the plugin.
//! Shell sessions are refused with a message and a non-zero exit.
//!
//! The StartSession response may arrive in an environment variable;
//! it is read, never logged, and not passed on (nothing is spawned).

pub mod invocation;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use ssm_client::{
    AwsOptions, AwsSessionApi, ClientConfig, EndReason, Error, HandshakeError, PortMode, Session,
    SessionApi, load_sdk_config,
};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use crate::serve;
use crate::signals::{Signals, StopSignal};
use invocation::{Command, Invocation, InvocationError};

/// What `--version` prints: the official plugin release whose behaviour
/// the AWS CLI expects of us. The AWS CLI passes the StartSession response
/// in an environment variable to plugins above 1.2.497.0, and warns
/// ("An outdated SessionManagerPlugin version detected") below 1.2.764.0
/// (awscli 1.46). The data channel itself reports
/// [`ssm_proto::version::CLIENT_VERSION`], which decides the agent's mode.
pub const PLUGIN_VERSION: &str = "1.2.764.0";

/// `ssm-forward plugin ARGS…`: the drop-in plugin with explicit arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The arguments the AWS CLI passes to session-manager-plugin.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARG"
    )]
    pub args: Vec<String>,
}

/// The signals that end the session: SIGINT (Ctrl-C; the AWS CLI ignores
/// it and leaves it to the plugin), SIGTERM, SIGQUIT and SIGHUP.
const STOP_SIGNALS: [StopSignal; 4] = [
    StopSignal::Interrupt,
    StopSignal::Terminate,
    StopSignal::Quit,
    StopSignal::Hangup,
];

/// The exit status for a session that could not run.
const FAILED: i32 = 1;

/// Runs the plugin with its arguments (without the program name) and
/// returns the process exit status.
pub async fn run(argv: Vec<String>) -> anyhow::Result<i32> {
    let command = invocation::parse(&argv, |name| std::env::var(name).ok());
    match command {
        Ok(Command::Installed) => {
            say(
                "\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n\n",
            );
            Ok(0)
        }
        Ok(Command::Version) => {
            say(&format!("{PLUGIN_VERSION}\n"));
            Ok(0)
        }
        Ok(Command::Start(invocation)) => start(invocation).await,
        Err(error @ InvocationError::UnknownOperation(_)) => {
            say(&error.to_string());
            Ok(FAILED)
        }
        Err(error) => {
            eprintln!("Cannot perform start session: {error}");
            Ok(FAILED)
        }
    }
}

/// Attaches to the session, opens the local port and serves it.
async fn start(invocation: Invocation) -> anyhow::Result<i32> {
    // Listen for Ctrl-C from the start: a signal that comes early is
    // kept for `recv`, not lost (the AWS CLI leaves SIGINT ignored).
    let mut signals = Signals::new(&STOP_SIGNALS)?;
    let session_id = invocation.started.session_id.clone();
    say(&format!(
        "\nStarting session with SessionId: {session_id}\n"
    ));
    let options = AwsOptions {
        profile: invocation.profile,
        region: invocation.region,
        endpoint_url: invocation.endpoint_url,
    };
    let config = load_sdk_config(&options).await;
    let api: Arc<dyn SessionApi> = Arc::new(AwsSessionApi::with_options(&config, &options));
    let attach = Session::attach(api.clone(), invocation.started, ClientConfig::default());
    let session = tokio::select! {
        attached = attach => match attached {
            Ok(session) => session,
            Err(error) => {
                eprintln!("{}", attach_failure(&error));
                end_on_service(api.as_ref(), &session_id).await;
                return Ok(FAILED);
            }
        },
        _ = signals.recv() => {
            say("Terminate signal received, exiting.\n");
            end_on_service(api.as_ref(), &session_id).await;
            say(&format!("\n\nExiting session with sessionId: {session_id}.\n\n"));
            return Ok(0);
        }
    };
    let Some(listener) = listen(&session).await else {
        session.terminate().await;
        return Ok(FAILED);
    };
    let port = listener.local_addr()?.port();
    say(&format!(
        "Port {port} opened for sessionId {session_id}.\nWaiting for connections...\n"
    ));
    let code = serve(listener, &session, &mut signals).await;
    if code != 0 {
        end_on_service(api.as_ref(), &session_id).await;
    }
    Ok(code)
}

/// Calls TerminateSession directly. The session's own clean-up runs in a
/// background task, which would not finish once the process exits.
async fn end_on_service(api: &dyn SessionApi, session_id: &str) {
    let call = api.terminate_session(session_id.to_owned());
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => debug!(%error, "TerminateSession failed"),
        Err(_) => debug!("TerminateSession took too long"),
    }
}

/// Why attaching failed, for the user; shell sessions get their own text.
fn attach_failure(error: &Error) -> String {
    match error {
        Error::Handshake(shell @ HandshakeError::UnsupportedSessionType(_)) => format!(
            "Cannot perform start session: {shell}.\nssm-forward's session-manager-plugin mode only runs \
             port-forwarding sessions (AWS-StartPortForwardingSession, \
             AWS-StartPortForwardingSessionToRemoteHost); use the official \
             session-manager-plugin for shell and command sessions."
        ),
        other => format!(
            "Cannot perform start session: {}",
            crate::errors::explain(other)
        ),
    }
}

/// Binds the local port the handshake asked for, on loopback like the
/// official plugin (`localhost`); `None` (after saying why) for port
/// sessions that do not listen locally.
async fn listen(session: &Session) -> Option<TcpListener> {
    let properties = session
        .info()
        .map(|info| info.properties)
        .unwrap_or_default();
    if !properties.is_local_port_forwarding() {
        eprintln!(
            "Cannot perform start session: this port session (type {:?}, e.g. AWS-StartSSHSession) \
             forwards standard input and output, which ssm-forward's session-manager-plugin mode \
             does not support; use the official plugin for it.",
            properties.port_type.as_deref().unwrap_or_default()
        );
        return None;
    }
    if properties.local_connection_type.as_deref() == Some("unix") {
        eprintln!(
            "Cannot perform start session: forwarding to a unix socket (localConnectionType \
             \"unix\") is not supported by ssm-forward; use a TCP localPortNumber."
        );
        return None;
    }
    let port = properties.local_port().unwrap_or(0);
    match serve::listen(std::net::SocketAddr::from(([127, 0, 0, 1], port))) {
        Ok(listener) => Some(listener),
        Err(error) => {
            eprintln!("Cannot perform start session: cannot listen on localhost:{port}: {error}");
            None
        }
    }
}

/// Accepts connections until a signal or the end of the session; the
/// exit status.
async fn serve(listener: TcpListener, session: &Session, signals: &mut Signals) -> i32 {
    let session_id = session.session_id().to_owned();
    let mux = matches!(session.info().map(|i| i.mode), Some(PortMode::Mux { .. }));
    let mut announced = false;
    let handle = |socket, _peer| {
        // The official plugin says so once in mux mode, every time in basic mode.
        if !mux {
            say(&format!("Connection accepted for session {session_id}.\n"));
        } else if !announced {
            say(&format!(
                "\nConnection accepted for session [{session_id}]\n"
            ));
        }
        announced = true;
        forward_connection(session.clone(), socket)
    };
    let stop = async {
        tokio::select! {
            _ = signals.recv() => None,
            reason = session.closed() => Some(reason),
        }
    };
    let limit = serve::ConnectionLimit::unreported(serve::DEFAULT_MAX_CONNECTIONS);
    match serve::accept_until(&listener, limit, handle, stop).await {
        None => {
            say("Terminate signal received, exiting.\n");
            session.terminate().await;
            say(&format!(
                "\n\nExiting session with sessionId: {session_id}.\n\n"
            ));
            0
        }
        Some(reason) => report_end(&session_id, reason),
    }
}

/// Prints why the session ended, as the plugin does; the exit status.
fn report_end(session_id: &str, reason: EndReason) -> i32 {
    match reason {
        // The client's text is the plugin's ("SessionId: X : …" or
        // "Exiting session with sessionId: X.").
        EndReason::ChannelClosed(text) => say(&format!("\n\n{text}\n\n")),
        EndReason::Expired => say(&format!("Session: {session_id} timed out.\n")),
        EndReason::Terminated => say(&format!(
            "\n\nExiting session with sessionId: {session_id}.\n\n"
        )),
        EndReason::Failed(error) => {
            eprintln!(
                "Session {session_id} failed: {}",
                crate::errors::explain(&error)
            );
            return FAILED;
        }
        other => say(&format!("\n\nSessionId: {session_id} : {other}\n\n")),
    }
    0
}

/// Copies one local connection to and from a new stream of the session.
async fn forward_connection(session: Session, mut socket: TcpStream) {
    let mut stream = match session.open_stream().await {
        Ok(stream) => stream,
        Err(error) => {
            debug!(%error, "cannot open a stream");
            return;
        }
    };
    let linger = crate::forwarding::supervisor::linger(&session);
    match serve::relay(&mut socket, &mut stream, linger).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
            say("\nConnection to destination port failed, check SSM Agent logs.\n");
        }
        Err(error) => debug!(%error, "connection failed"),
    }
}

/// Writes to stdout and flushes (the AWS CLI's user sees it at once).
fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // Nothing useful can be done when stdout is gone; the session goes on.
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
