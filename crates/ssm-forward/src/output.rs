//! What the user sees on stderr: one concise status line per event
//! (target chosen, listening, session up, session ended, start failed,
//! connection failed), or one JSON object per line with `--json`.
//!
//! Status lines are tracing events with target [`TARGET`]; their fields
//! (`event`, `forward`, `address`, `session_id`, …) make the JSON form
//! useful to machines, and the human formatter prints just their message.
//! Warnings and errors from the libraries (ssm-client's "no traffic from
//! the service; reconnecting") read the same way; with `-v` every other
//! event uses tracing-subscriber's compact format. Nothing here ever sees
//! a session token.

use std::io::IsTerminal as _;

use tracing::{Level, debug, error, info, warn};
use tracing_subscriber::EnvFilter;

use crate::forwarding::supervisor::ForwardEvent;
use crate::targets::{Resolved, TargetSelector};
use human::Human;

mod human;

/// The tracing target of status lines. It keeps the name of this
/// module's former file (`status.rs`): `--json` output carries it and
/// docs/ssm-forward.md documents it.
pub const TARGET: &str = "ssm_forward::status";

/// Whether `init` chose JSON lines (for code that must not talk to a
/// person then, like the SSO login prompt).
static JSON_MODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True when status lines are JSON (`--json`).
pub fn is_json() -> bool {
    JSON_MODE.load(std::sync::atomic::Ordering::Relaxed)
}

/// How much to log and in which format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// 0 normal, 1 debug, 2+ trace.
    pub verbose: u8,
    /// Warnings and errors only.
    pub quiet: bool,
    /// JSON lines instead of text.
    pub json: bool,
}

/// The filter used when RUST_LOG is not set. Trace stays off for the AWS
/// SDK, whose wire logs could show credentials and session tokens.
pub fn default_filter(settings: LogSettings) -> &'static str {
    match (settings.quiet, settings.verbose) {
        (true, _) => "warn,aws_config=error,aws_runtime=error",
        // The SDK's own warnings repeat what our error messages say.
        (false, 0) => "warn,ssm_forward=info,aws_config=error,aws_runtime=error",
        (false, 1) => "warn,ssm_forward=debug,ssm_client=debug,ssm_sim=info",
        (false, _) => {
            "info,ssm_forward=trace,ssm_client=trace,ssm_mux=trace,ssm_proto=trace,ssm_sim=debug"
        }
    }
}

/// Libraries whose trace-level events show wire data: the AWS SDK logs
/// whole StartSession/ResumeSession responses (the session token) and
/// tungstenite logs every frame (OpenDataChannel carries the token).
const WIRE_LOGGING_TARGETS: [&str; 5] = [
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_sdk_ssm",
    "tungstenite",
    "tokio_tungstenite",
];

/// True for events that may carry a session token or credentials. They
/// are dropped whatever RUST_LOG says.
pub fn may_show_secrets(metadata: &tracing::Metadata<'_>) -> bool {
    *metadata.level() == Level::TRACE
        && WIRE_LOGGING_TARGETS.iter().any(|prefix| {
            metadata
                .target()
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// Installs the global subscriber (stderr). RUST_LOG, when set, wins
/// over `-v`/`-q`, except that wire-level traces that could show a
/// session token are never printed. Safe to call more than once (later
/// calls do nothing).
pub fn init(settings: LogSettings) {
    use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
    use tracing_subscriber::util::SubscriberInitExt as _;
    JSON_MODE.store(settings.json, std::sync::atomic::Ordering::Relaxed);
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter(settings)));
    let no_secrets = tracing_subscriber::filter::filter_fn(|metadata| !may_show_secrets(metadata));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry();
    let result = if settings.json {
        let layer = layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .with_filter(no_secrets);
        registry.with(layer).try_init()
    } else {
        let ansi = std::io::stderr().is_terminal();
        let layer = layer
            .with_ansi(ansi)
            .event_format(Human::new(settings.verbose > 0))
            .with_filter(filter)
            .with_filter(no_secrets);
        registry.with(layer).try_init()
    };
    drop(result);
}

/// "target name:bastion: using i-… (agent …; 2 online matches)".
pub fn target_chosen(selector: &TargetSelector, resolved: &Resolved) {
    let id = &resolved.instance_id;
    let agent = &resolved.agent_version;
    let matches = resolved.matches;
    info!(
        target: TARGET,
        event = "target_chosen",
        selector = %selector,
        instance_id = %id,
        agent_version = %agent,
        matches,
        "target {selector}: using {id} (agent {agent}; {matches} online match{})",
        if matches == 1 { "" } else { "es" }
    );
}

/// One line per forward event; `destination` describes where the forward
/// leads (e.g. `i-… → db.internal:5432`).
pub fn forward_event(event: &ForwardEvent, destination: &str) {
    match event {
        // The inner event's name says `PROXY → host:port`.
        ForwardEvent::Proxied { event, .. } => forward_event(event, destination),
        ForwardEvent::Listening { name, address } => info!(
            target: TARGET, event = "listening", forward = %name, address = %address,
            destination,
            "{name}: listening on {address} → {destination}"
        ),
        ForwardEvent::SessionUp {
            name,
            session_id,
            mode,
            agent_version,
            live,
            max,
        } if *max > 1 => info!(
            target: TARGET, event = "session_up", forward = %name, session_id = %session_id,
            mode = %mode, agent_version = %agent_version, sessions = live, max_sessions = max,
            "{name}: session {live} of {max} up: {session_id} ({mode}, agent {agent_version})"
        ),
        ForwardEvent::SessionUp {
            name,
            session_id,
            mode,
            agent_version,
            ..
        } => info!(
            target: TARGET, event = "session_up", forward = %name, session_id = %session_id,
            mode = %mode, agent_version = %agent_version,
            "{name}: session {session_id} up ({mode}, agent {agent_version})"
        ),
        ForwardEvent::SessionEnded {
            name,
            session_id,
            reason,
            live,
            max,
        } if *max > 1 => info!(
            target: TARGET, event = "session_ended", forward = %name, session_id = %session_id,
            reason = %reason, sessions = live, max_sessions = max,
            "{name}: session {session_id} ended ({reason}); its connections failed, the others \
             carry on ({live} of {max} sessions up)"
        ),
        ForwardEvent::SessionEnded {
            name,
            session_id,
            reason,
            ..
        } => info!(
            target: TARGET, event = "session_ended", forward = %name, session_id = %session_id,
            reason = %reason,
            "{name}: session {session_id} ended ({reason}); a new one starts with the next \
             connection (at once, after the backoff, when it failed)"
        ),
        ForwardEvent::SessionIdleClosed {
            name,
            session_id,
            live,
            max,
        } => info!(
            target: TARGET, event = "session_idle_closed", forward = %name,
            session_id = %session_id, sessions = live, max_sessions = max,
            "{name}: session {session_id} closed after idle ({live} of {max} sessions up)"
        ),
        ForwardEvent::StartFailed {
            name,
            error,
            retry_in,
            repeated: true,
            ..
        } => debug!(
            target: TARGET, event = "start_failed", forward = %name, error = %error,
            retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX), repeated = true,
            "{name}: still failing, retrying in {retry_in:.1?}"
        ),
        ForwardEvent::StartFailed {
            name,
            error,
            retry_in,
            ..
        } => warn!(
            target: TARGET, event = "start_failed", forward = %name, error = %error,
            retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            "{name}: could not start a session: {error}; retrying in {retry_in:.1?}"
        ),
        ForwardEvent::SocketLost {
            name,
            session_id,
            reason,
        } => info!(
            target: TARGET, event = "socket_lost", forward = %name, session = %session_id,
            reason = %reason,
            "{name}: session {session_id} lost its connection ({reason}); resuming"
        ),
        ForwardEvent::Resumed {
            name,
            session_id,
            outage,
        } => info!(
            target: TARGET, event = "resumed", forward = %name, session = %session_id,
            outage_ms = u64::try_from(outage.as_millis()).unwrap_or(u64::MAX),
            "{name}: session {session_id} resumed after {outage:.1?}; connections kept"
        ),
        ForwardEvent::Retargeted { name, from, to } => warn!(
            target: TARGET, event = "retargeted", forward = %name, from = %from, to = %to,
            "{name}: {from} no longer takes sessions; switched to {to}"
        ),
        ForwardEvent::ConnectionsRefused { name, limit } => warn!(
            target: TARGET, event = "connections_refused", forward = %name, limit,
            "{name}: {limit} connections open, the limit: closing new ones until some end \
             (raise it with --max-connections or max_connections)"
        ),
        ForwardEvent::Failing {
            name,
            failures,
            error,
            ..
        } => error!(
            target: TARGET, event = "failing", forward = %name, failures, error = %error,
            "{name}: failing: {failures} sessions in a row could not start or died at once \
             (latest: {error}); new connections are closed until a session works; still retrying"
        ),
        ForwardEvent::Recovered { name } => info!(
            target: TARGET, event = "recovered", forward = %name,
            "{name}: recovered: a session works again"
        ),
        ForwardEvent::ConnectionFailed {
            name,
            peer,
            session_id: Some(session_id),
            error,
        } => warn!(
            target: TARGET, event = "connection_failed", forward = %name, peer = %peer,
            session_id = %session_id, error = %error,
            "{name}: connection from {peer} failed on session {session_id}: {error}"
        ),
        ForwardEvent::ConnectionFailed {
            name, peer, error, ..
        } => warn!(
            target: TARGET, event = "connection_failed", forward = %name, peer = %peer,
            error = %error,
            "{name}: connection from {peer} failed: {error}"
        ),
    }
}

/// A warning worth a status line (`event` names it in JSON logs).
pub fn warning(event: &str, text: &str) {
    warn!(target: TARGET, event, "{text}");
}

/// "kubeconfig …: context X written (…)", once `eks connect` wrote it.
pub fn kubeconfig_written(written: &crate::eks::context::Written, context: &str, program: &str) {
    let path = written.kubeconfig.display();
    info!(
        target: TARGET, event = "kubeconfig_written", context, kubeconfig = %path,
        "{path}: context {context} written; {program}"
    );
    if !written.replaced.is_empty() {
        let replaced = written.replaced.join(", ");
        warn!(
            target: TARGET, event = "kubeconfig_replaced", context, replaced = %replaced,
            "{path}: replaced existing {replaced} (`ssm-forward eks disconnect` puts them back)"
        );
    }
    if written.dropped_comments {
        warn!(
            target: TARGET, event = "kubeconfig_comments", kubeconfig = %path,
            "{path}: its comments are not kept while the context is in (disconnect restores the file as it was if nothing else changes it)"
        );
    }
}

/// `eks connect` is ready, for `--json`: the command to run next.
pub fn next_step_json(context: &str) {
    let next = format!("kubectl --context {context} get nodes");
    info!(target: TARGET, event = "ready", context, next = %next, "ready: {next}");
}

/// What `eks disconnect` (or `--cleanup`) did to the kubeconfig.
pub fn context_removed(context: &str, path: &std::path::Path, undone: crate::eks::record::Undone) {
    use crate::eks::record::Undone;
    let path = path.display();
    let what = match undone {
        Undone::Restored => "the file is back as it was before `eks connect`",
        Undone::EntriesRemoved => {
            "its entries were removed (the file changed since, so the rest stays)"
        }
        Undone::FileGone => "the file is gone already",
    };
    info!(
        target: TARGET, event = "context_removed", context, kubeconfig = %path,
        "{path}: context {context} removed; {what}"
    );
}

/// "shutting down (SIGTERM): terminating sessions".
pub fn shutting_down(signal: &str) {
    info!(target: TARGET, event = "shutdown", signal, "{signal}: terminating sessions and exiting");
}

/// The fatal error that ends the process, with what to do about it.
pub fn fatal(message: &str, json: bool) {
    if json {
        error!(target: TARGET, event = "fatal", "{message}");
    } else {
        eprintln!("ssm-forward: error: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_wins_and_sdk_never_traces() {
        let quiet = LogSettings {
            quiet: true,
            verbose: 2,
            json: false,
        };
        assert!(default_filter(quiet).starts_with("warn,"));
        let loud = default_filter(LogSettings {
            verbose: 3,
            ..LogSettings::default()
        });
        assert!(loud.starts_with("info,"));
        assert!(default_filter(LogSettings::default()).contains("ssm_forward=info"));
    }
}
