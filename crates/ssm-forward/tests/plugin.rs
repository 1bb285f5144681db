//! `ssm-forward` as `session-manager-plugin`: invoked by hand the way
//! the AWS CLI invokes the plugin, and (ignored unless
//! `SSM_FORWARD_AWSCLI` names an `aws` executable) by the real AWS CLI,
//! all against the in-process simulator.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::Child;
use common::plugin::{dummy_aws_env, echo_through, free_port, opened_port, plugin_link};
use serde_json::json;
use ssm_sim::service::{REMOTE_HOST_DOCUMENT, SHELL_DOCUMENT, StartSessionInput};
use ssm_sim::{EndCause, SessionStatus, SimConfig, Simulator};
use tokio::process::Command;

const INSTANCE: &str = "i-0123456789abcdef0";
const STARTUP: Duration = Duration::from_secs(30);

/// StartSession parameters for the echo target behind `local_port`.
fn echo_parameters(local_port: u16) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        ("host".to_owned(), vec!["echo.sim.internal".to_owned()]),
        ("portNumber".to_owned(), vec!["7".to_owned()]),
        ("localPortNumber".to_owned(), vec![local_port.to_string()]),
    ])
}

/// Calls StartSession on the simulator; returns the session id and the
/// plugin's first and fifth arguments (response and request JSON).
fn start_session(
    sim: &Simulator,
    document: &str,
    parameters: BTreeMap<String, Vec<String>>,
) -> (String, String, String) {
    start_session_on(sim, INSTANCE, document, parameters)
}

/// [`start_session`] on `target`.
fn start_session_on(
    sim: &Simulator,
    target: &str,
    document: &str,
    parameters: BTreeMap<String, Vec<String>>,
) -> (String, String, String) {
    let output = sim
        .service()
        .start_session(StartSessionInput {
            target: target.into(),
            document_name: Some(document.into()),
            parameters: parameters.clone(),
            reason: None,
        })
        .unwrap();
    let response = json!({
        "SessionId": output.session_id,
        "TokenValue": output.token_value,
        "StreamUrl": output.stream_url,
    });
    let request = json!({"Target": target, "DocumentName": document, "Parameters": parameters});
    (output.session_id, response.to_string(), request.to_string())
}

/// `session-manager-plugin RESPONSE us-east-1 StartSession "" REQUEST ENDPOINT`.
fn plugin_command(link: &Path, response: &str, request: &str, sim: &Simulator) -> Command {
    let mut command = Command::new(link);
    command.args([
        response,
        "us-east-1",
        "StartSession",
        "",
        request,
        &sim.endpoint_url(),
    ]);
    dummy_aws_env(&mut command);
    command
}

async fn run_to_end(command: &mut Command) -> (i32, String, String) {
    let output = tokio::time::timeout(STARTUP, command.output())
        .await
        .expect("took too long")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn version_and_bare_invocation_look_like_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let link = plugin_link(dir.path());
    let (code, stdout, _) = run_to_end(Command::new(&link).arg("--version")).await;
    assert_eq!((code, stdout.as_str()), (0, "1.2.764.0\n"));
    let (code, stdout, _) = run_to_end(&mut Command::new(&link)).await;
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_a_session_from_an_env_var_and_ends_it_on_sigint() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let link = plugin_link(dir.path());
    let (id, response, request) = start_session(&sim, REMOTE_HOST_DOCUMENT, echo_parameters(0));
    let variable = "AWS_SSM_START_SESSION_RESPONSE";
    let mut command = plugin_command(&link, variable, &request, &sim);
    command.env(variable, &response);
    let mut plugin = Child::spawn(&mut command);
    let stdout = plugin
        .wait_stdout_within("Waiting for connections...\n", STARTUP)
        .await;
    let port = opened_port(&stdout);
    assert!(
        stdout.starts_with(&format!(
            "\nStarting session with SessionId: {id}\nPort {port} opened for sessionId {id}.\n"
        )),
        "{stdout:?}"
    );
    echo_through(port, 200_000).await;
    echo_through(port, 1).await;
    plugin
        .wait_stdout_within(&format!("Connection accepted for session [{id}]"), STARTUP)
        .await;
    plugin.signal("INT");
    let status = plugin.exit(STARTUP).await;
    assert!(status.success(), "{status}\n{}", plugin.transcript());
    let stdout = plugin.stdout();
    assert!(
        stdout.contains("Terminate signal received, exiting.\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!("\n\nExiting session with sessionId: {id}.\n\n")),
        "{stdout:?}"
    );
    assert!(
        !plugin.transcript().contains(&response),
        "the response (token) is never printed"
    );
    let summary = sim
        .wait_for(&id, STARTUP, |s| s.status.is_over())
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Terminated);
    assert_eq!(summary.end_cause, Some(EndCause::TerminateFlag));
    assert_eq!(summary.stats.streams_opened, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_closed_ends_the_plugin_with_the_service_text() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let link = plugin_link(dir.path());
    let port = free_port();
    let (id, response, request) = start_session(&sim, REMOTE_HOST_DOCUMENT, echo_parameters(port));
    let mut plugin = Child::spawn(&mut plugin_command(&link, &response, &request, &sim));
    let stdout = plugin
        .wait_stdout_within("Waiting for connections...", STARTUP)
        .await;
    assert_eq!(
        opened_port(&stdout),
        port,
        "the handshake's localPortNumber is used"
    );
    echo_through(port, 10_000).await;
    sim.service().terminate_session(&id);
    let status = plugin.exit(STARTUP).await;
    assert!(status.success(), "{status}\n{}", plugin.transcript());
    let stdout = plugin.stdout();
    let plain = format!("Exiting session with sessionId: {id}.");
    let with_text = format!("SessionId: {id} : ");
    assert!(
        stdout.contains(&plain) || stdout.contains(&with_text),
        "{stdout}"
    );
    let summary = sim.session(&id).unwrap();
    assert_eq!(summary.end_cause, Some(EndCause::TerminateApi));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_mode_serves_connections_one_after_another() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let link = plugin_link(dir.path());
    let parameters = echo_parameters(0);
    let (id, response, request) = start_session_on(
        &sim,
        "i-0old000000000000b",
        REMOTE_HOST_DOCUMENT,
        parameters,
    );
    let mut plugin = Child::spawn(&mut plugin_command(&link, &response, &request, &sim));
    let port = opened_port(
        &plugin
            .wait_stdout_within("Waiting for connections...", STARTUP)
            .await,
    );
    for size in [50_000, 3] {
        echo_through(port, size).await;
    }
    let accepted = format!("Connection accepted for session {id}.\n");
    plugin
        .wait_until("two accepted lines", STARTUP, |text| {
            text.matches(&accepted).count() == 2
        })
        .await;
    // Each local close sends DisconnectToPort; wait for the second one to
    // reach the agent before interrupting, or the signal races it.
    let summary = sim
        .wait_for(&id, STARTUP, |s| s.stats.disconnect_flags == 2)
        .await
        .unwrap();
    assert_eq!(summary.stats.disconnect_flags, 2, "{summary:?}");
    // SIGTERM ends the plugin as Ctrl-C does (the other test sends SIGINT).
    plugin.signal("TERM");
    assert!(
        plugin.exit(STARTUP).await.success(),
        "{}",
        plugin.transcript()
    );
    let summary = sim
        .wait_for(&id, STARTUP, |s| s.status.is_over())
        .await
        .unwrap();
    assert_eq!(summary.stats.disconnect_flags, 2, "{summary:?}");
}

#[tokio::test]
async fn shell_sessions_are_refused() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let link = plugin_link(dir.path());
    let (id, response, request) = start_session(&sim, SHELL_DOCUMENT, BTreeMap::new());
    let (code, stdout, stderr) =
        run_to_end(&mut plugin_command(&link, &response, &request, &sim)).await;
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("Standard_Stream"), "{stderr}");
    assert!(
        stderr.contains("only runs port-forwarding sessions"),
        "{stderr}"
    );
    let summary = sim
        .wait_for(&id, STARTUP, |s| s.status.is_over())
        .await
        .unwrap();
    assert!(
        summary.status.is_over(),
        "the failed session is terminated: {summary:?}"
    );
}

#[tokio::test]
async fn bad_arguments_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let link = plugin_link(dir.path());
    let (code, stdout, _) = run_to_end(Command::new(&link).arg("start")).await;
    assert_ne!(code, 0);
    assert!(stdout.contains("Unknown operation start."), "{stdout}");
    let mut command = Command::new(&link);
    command.args([
        "AWS_SSM_START_SESSION_RESPONSE_GONE",
        "us-east-1",
        "StartSession",
    ]);
    let (code, _, stderr) = run_to_end(&mut command).await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("AWS_SSM_START_SESSION_RESPONSE_GONE"),
        "{stderr}"
    );
}

/// The real `aws ssm start-session` with ssm-forward as its plugin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the AWS CLI; run by .ci/run"]
async fn aws_cli_start_session_runs_ssm_forward() {
    let aws = std::env::var("SSM_FORWARD_AWSCLI").unwrap_or_else(|_| {
        panic!(
            "set SSM_FORWARD_AWSCLI to an aws executable: \
             crates/ssm-forward/tests/common/install-awscli.sh VENV_DIR installs one and prints its path"
        )
    });
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    plugin_link(dir.path());
    let port = free_port();
    let aws_dir = Path::new(&aws).parent().unwrap().to_owned();
    let path = std::env::join_paths([dir.path().to_owned(), aws_dir].into_iter().chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let parameters = json!({
        "host": ["echo.sim.internal"], "portNumber": ["7"], "localPortNumber": [port.to_string()]
    });
    let mut command = Command::new(&aws);
    command
        .args([
            "ssm",
            "start-session",
            "--endpoint-url",
            &sim.endpoint_url(),
        ])
        .args(["--region", "us-east-1", "--target", INSTANCE])
        .args(["--document-name", REMOTE_HOST_DOCUMENT])
        .args(["--parameters", &parameters.to_string()])
        .env("PATH", path)
        .process_group(0);
    dummy_aws_env(&mut command);
    let mut cli = Child::spawn(&mut command);
    let stdout = cli
        .wait_stdout_within("Waiting for connections...", Duration::from_secs(60))
        .await;
    let id = common::plugin::session_id(&stdout);
    assert!(
        !stdout.contains("outdated"),
        "the CLI accepts our version: {stdout}"
    );
    assert!(
        stdout.contains(&format!("Port {port} opened for sessionId {id}.")),
        "{stdout}"
    );
    echo_through(port, 200_000).await;
    echo_through(port, 5_000).await;
    // Ctrl-C at a terminal: SIGINT to the whole foreground group. The
    // CLI ignores it while the plugin runs; the plugin ends the session.
    cli.signal_group("INT");
    let status = cli.exit(STARTUP).await;
    assert!(status.success(), "{status}\n{}", cli.transcript());
    assert!(
        cli.stdout()
            .contains(&format!("Exiting session with sessionId: {id}.")),
        "{}",
        cli.transcript()
    );
    let summary = sim
        .wait_for(&id, STARTUP, |s| s.status.is_over())
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Terminated, "{summary:?}");
    assert_eq!(summary.end_cause, Some(EndCause::TerminateFlag));
    assert_eq!(summary.stats.terminate_flags, 1);
    assert_eq!(summary.stats.streams_opened, 2);
}

/// A gateway that closes every socket 300 ms after it opens: plugin mode
/// (one session, no restarts, like the plugin) gives the session up after
/// its short-lived sockets instead of resuming forever, and exits 1 with
/// the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_sockets_keep_dying_ends_the_plugin_with_status_1() {
    let sim = Simulator::start(SimConfig {
        faults: ssm_sim::FaultConfig {
            close_after: Some(Duration::from_millis(300)),
            ..ssm_sim::FaultConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let link = plugin_link(dir.path());
    let (id, response, request) = start_session(&sim, REMOTE_HOST_DOCUMENT, echo_parameters(0));
    let (code, _, stderr) = run_to_end(&mut plugin_command(&link, &response, &request, &sim)).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("Session {id} failed"))
            && stderr.contains("kept failing right after every reconnect"),
        "{stderr}"
    );
}
