//! The `ssm-forward` binary end to end against an in-process ssm-sim:
//! forwards by flags, `-L` and configuration file, discovery, restarts
//! after an idle timeout, clean termination on signals, exit statuses
//! and the outputs scripts rely on (ready file, --print-env, --json).

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use common::{
    BASTION, Child, Scratch, aws_flags, echo, echo_on, ready_forward, refusing_endpoint,
    run_to_end, sim, ssm_forward,
};
use serde_json::Value;
use ssm_sim::{EndCause, RealismConfig, SessionStatus, SimConfig, Simulator};

/// How long a clean exit may take after a signal.
const EXIT: Duration = Duration::from_secs(3);

/// Waits until the simulator saw `session` terminated by our flag.
async fn assert_terminated_by_flag(sim: &Simulator, session: &str) {
    let summary = sim
        .wait_for(session, Duration::from_secs(2), |s| s.status.is_over())
        .await
        .expect("session known");
    assert_eq!(summary.status, SessionStatus::Terminated, "{summary:?}");
    assert_eq!(
        summary.end_cause,
        Some(EndCause::TerminateFlag),
        "{summary:?}"
    );
    assert_eq!(summary.stats.terminate_flags, 1, "{summary:?}");
}

/// Starts `ssm-forward ARGS --ready-file … <simulator flags>` and waits
/// until every forward is up; the child and the ready file's contents.
async fn start_ready(scratch: &Scratch, sim: &Simulator, args: &[&str]) -> (Child, Value) {
    start_ready_with(&mut ssm_forward(scratch), scratch, sim, args).await
}

/// [`start_ready`] on a prepared `command` (extra environment).
async fn start_ready_with(
    command: &mut tokio::process::Command,
    scratch: &Scratch,
    sim: &Simulator,
    args: &[&str],
) -> (Child, Value) {
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        command
            .args(args)
            .arg("--ready-file")
            .arg(&ready_path)
            .args(aws_flags(sim)),
    );
    let ready = child.wait_ready(&ready_path).await;
    (child, ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_forward_echoes_and_ctrl_c_terminates_the_session() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args([
                "--target",
                BASTION,
                "--remote-host",
                "echo.sim.internal",
                "--remote-port",
                "7",
            ])
            .args(["--local-port", "0", "--reason", "cli test", "--ready-file"])
            .arg(&ready_path)
            .args(aws_flags(&sim)),
    );
    let ready = child.wait_ready(&ready_path).await;
    let (address, target, session) = ready_forward(&ready, 0);
    assert_eq!(ready["forwards"][0]["name"], "echo.sim.internal:7");
    assert_eq!(target, BASTION);
    assert!(address.ip().is_loopback() && address.port() != 0, "{ready}");
    assert_private(&ready_path);
    echo(address, 100_000).await;
    echo(address, 10).await;

    let summary = sim.session(&session).expect("session known");
    assert_eq!(summary.reason.as_deref(), Some("cli test"));
    assert_eq!(summary.parameters["host"], ["echo.sim.internal"]);
    child
        .wait_stderr(&format!(
            "listening on {address} → {BASTION} → echo.sim.internal:7"
        ))
        .await;
    child
        .wait_stderr(&format!("session {session} up (mux"))
        .await;

    child.signal("INT");
    let status = child.exit(EXIT).await;
    assert_eq!(status.code(), Some(0), "{}", child.transcript());
    assert_terminated_by_flag(&sim, &session).await;
    assert!(!ready_path.exists(), "the ready file is removed on exit");
    assert!(
        child.stderr().contains("SIGINT: terminating sessions"),
        "{}",
        child.transcript()
    );
}

#[cfg(unix)]
fn assert_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "ready file mode {mode:o}");
}

#[cfg(not(unix))]
fn assert_private(_path: &std::path::Path) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_forwards_at_once_with_json_logs_and_sigterm() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let ready_path = scratch.join("ready.json");
    // The echo server's port "on the target itself" (the simulated agent
    // dials localhost), plus two -L through the target to the echo host.
    let own_port = sim.echo_addr().port().to_string();
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args(["--target", BASTION, "--json", "--remote-port", &own_port])
            .args(["--local-port", "0"])
            .args(["-L", "0:echo.sim.internal:7"])
            .args(["-L", "127.0.0.1:0:echo.sim.internal:7"])
            .arg("--ready-file")
            .arg(&ready_path)
            .args(aws_flags(&sim)),
    );
    let ready = child.wait_ready(&ready_path).await;
    let forwards: Vec<_> = (0..3).map(|i| ready_forward(&ready, i)).collect();
    let names: Vec<_> = (0..3)
        .map(|i| ready["forwards"][i]["name"].as_str().unwrap())
        .collect();
    let own_name = format!("localhost:{own_port}");
    assert_eq!(
        names,
        [
            own_name.as_str(),
            "echo.sim.internal:7",
            "echo.sim.internal:7#2"
        ]
    );
    let sessions: Vec<&str> = forwards.iter().map(|(_, _, s)| s.as_str()).collect();
    let distinct: std::collections::BTreeSet<_> = sessions.iter().collect();
    assert_eq!(distinct.len(), 3, "one session per forward: {ready}");
    let own = sim.session(sessions[0]).unwrap();
    assert_eq!(own.document_name, "AWS-StartPortForwardingSession");
    assert_eq!(
        sim.session(sessions[1]).unwrap().document_name,
        "AWS-StartPortForwardingSessionToRemoteHost"
    );
    tokio::join!(
        echo(forwards[0].0, 50_000),
        echo(forwards[1].0, 50_000),
        echo(forwards[2].0, 50_000)
    );

    child.signal("TERM");
    let status = child.exit(EXIT).await;
    assert_eq!(status.code(), Some(0), "{}", child.transcript());
    for session in sessions {
        assert_terminated_by_flag(&sim, session).await;
    }

    let lines: Vec<Value> = child
        .stderr()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let events = |name: &str| lines.iter().filter(|l| l["event"] == name).count();
    assert_eq!(events("listening"), 3, "{lines:?}");
    assert_eq!(events("session_up"), 3, "{lines:?}");
    assert_eq!(events("shutdown"), 1, "{lines:?}");
}

/// A configuration file with three forwards through the bastion (by Name
/// tag) and the basic-mode instance.
fn write_config(scratch: &Scratch, sim: &Simulator) -> std::path::PathBuf {
    let dir = scratch.join("xdg").join("ssm-forward");
    std::fs::create_dir_all(&dir).unwrap();
    let endpoint = sim.endpoint_url();
    let text = format!(
        r#"
        [forwards.echo]
        target = "name:bastion"
        remote_host = "echo.sim.internal"
        remote_port = 7
        local_port = 0
        endpoint_url = "{endpoint}"
        region = "us-east-1"

        [forwards.legacy]
        target = "i-0old000000000000b"
        remote_host = "echo.sim.internal"
        remote_port = 7
        local_port = 0
        endpoint_url = "{endpoint}"
        region = "us-east-1"
        reason = "from the file"

        [forwards.unused]
        eks_cluster = "demo"
        remote_port = 8118
        "#
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_up_resolves_name_tags_and_forwards() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    write_config(&scratch, &sim);
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args(["up", "echo", "legacy", "--ready-file"])
            .arg(&ready_path),
    );
    let ready = child.wait_ready(&ready_path).await;
    let (echo_address, echo_target, echo_session) = ready_forward(&ready, 0);
    let (legacy_address, legacy_target, legacy_session) = ready_forward(&ready, 1);
    assert_eq!(echo_target, BASTION);
    assert_eq!(legacy_target, "i-0old000000000000b");
    child
        .wait_stderr(&format!(
            "target name:bastion: using {BASTION} (agent 3.3.987.0; 1 online match)"
        ))
        .await;
    child
        .wait_stderr(&format!("session {legacy_session} up (basic"))
        .await;
    echo(echo_address, 20_000).await;
    echo(legacy_address, 20_000).await;
    assert_eq!(sim.session(&echo_session).unwrap().target, BASTION);
    assert_eq!(
        sim.session(&legacy_session).unwrap().reason.as_deref(),
        Some("from the file")
    );
    assert_eq!(
        sim.sessions().len(),
        2,
        "the unused forward started nothing"
    );

    child.signal("TERM");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
    assert_terminated_by_flag(&sim, &echo_session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_the_file_and_up_names_unknown_forwards() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let path = write_config(&scratch, &sim);

    let (code, stdout, stderr) = run_to_end(ssm_forward(&scratch).arg("list")).await;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("# {} (3 forwards)", path.display()));
    assert!(lines[1].starts_with("NAME "), "{stdout}");
    assert!(
        lines[2].starts_with("echo ") && lines[2].contains("name:bastion"),
        "{stdout}"
    );
    assert!(
        lines[4].contains("eks-cluster:demo") && lines[4].ends_with("localhost:8118"),
        "{stdout}"
    );

    let moved = scratch.join("elsewhere.toml");
    std::fs::rename(&path, &moved).unwrap();
    let (code, stdout, _) = run_to_end(
        ssm_forward(&scratch)
            .arg("list")
            .env("SSM_FORWARD_CONFIG", &moved),
    )
    .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("(3 forwards)"), "{stdout}");

    let (code, _, stderr) = run_to_end(
        ssm_forward(&scratch)
            .args(["up", "nope"])
            .arg("--config")
            .arg(&moved),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no forward named \"nope\" (it has: echo, legacy, unused)"),
        "{stderr}"
    );

    let (code, _, stderr) = run_to_end(ssm_forward(&scratch).arg("list")).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("config.toml does not exist"), "{stderr}");
    assert!(sim.sessions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_cluster_picks_the_newest_agent_and_print_env_points_at_the_proxy() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let args = [
        "--eks-cluster",
        "demo",
        "--remote-host",
        "proxy.sim.internal",
    ];
    let more = ["--remote-port", "8118", "--local-port", "0", "--print-env"];
    let (mut child, ready) = start_ready(&scratch, &sim, &[&args[..], &more].concat()).await;
    let (address, target, session) = ready_forward(&ready, 0);
    assert_eq!(target, "i-0eks0000000000002");
    assert_eq!(sim.session(&session).unwrap().target, "i-0eks0000000000002");
    child
        .wait_stderr(
            "target eks-cluster:demo: using i-0eks0000000000002 (agent 3.3.1142.0; 2 online matches)",
        )
        .await;
    let stdout = child.wait_stdout("\n").await;
    assert_eq!(stdout, format!("export HTTPS_PROXY=http://{address}\n"));

    // What kubectl does with HTTPS_PROXY: CONNECT, then talk through it.
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        socket
            .write_all(b"CONNECT echo.sim.internal:7 HTTP/1.1\r\nHost: echo.sim.internal:7\r\n\r\n")
            .unwrap();
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).unwrap();
            reply.push(byte[0]);
        }
        assert!(
            reply.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
        echo_on(&mut socket, 10_000);
    })
    .await
    .unwrap();

    child.signal("TERM");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
    assert_terminated_by_flag(&sim, &session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_by_idle_timeout_is_replaced_on_the_next_connection() {
    let config = SimConfig {
        realism: RealismConfig {
            idle_timeout: Some(Duration::from_millis(500)),
            ..RealismConfig::default()
        },
        ..SimConfig::default()
    };
    let sim = sim(config).await;
    let scratch = Scratch::new();
    let args = ["--target", BASTION, "--remote-host", "echo.sim.internal"];
    let more = ["--remote-port", "7", "--local-port", "0"];
    let (mut child, ready) = start_ready(&scratch, &sim, &[&args[..], &more].concat()).await;
    let (address, _, first) = ready_forward(&ready, 0);
    echo(address, 1_000).await;
    child.wait_stderr(&format!("session {first} ended")).await;
    let ended = sim.session(&first).unwrap();
    assert_eq!(ended.end_cause, Some(EndCause::IdleTimeout), "{ended:?}");

    // The new connection starts a new session (a slow machine may even
    // see that one time out too before the echo: then there are more).
    echo(address, 1_000).await;
    let sessions = sim.sessions();
    assert!(sessions.len() >= 2, "{sessions:?}");
    assert!(sessions.iter().all(|s| s.target == BASTION), "{sessions:?}");
    let latest = &sessions.last().unwrap().session_id;
    child.wait_stderr(&format!("session {latest} up")).await;

    child.signal("INT");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_eks_node_is_replaced_by_another_node_of_the_cluster() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let args = [
        "--eks-cluster",
        "demo",
        "--remote-host",
        "echo.sim.internal",
    ];
    let more = ["--remote-port", "7", "--local-port", "0"];
    let (mut child, ready) = start_ready(&scratch, &sim, &[&args[..], &more].concat()).await;
    let (address, first_target, first) = ready_forward(&ready, 0);
    assert_eq!(first_target, "i-0eks0000000000002");
    echo(address, 1_000).await;

    assert!(sim.set_instance_online(&first_target, false));
    child.wait_stderr(&format!("session {first} ended")).await;
    // The next connection finds the node gone and moves to the other one.
    echo(address, 1_000).await;
    child
        .wait_stderr(
            "i-0eks0000000000002 no longer takes sessions; switched to i-0eks0000000000001",
        )
        .await;
    let latest = sim.sessions().last().unwrap().clone();
    assert_eq!(latest.target, "i-0eks0000000000001", "{latest:?}");
    child
        .wait_stderr(&format!("session {} up", latest.session_id))
        .await;

    child.signal("INT");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
    assert_terminated_by_flag(&sim, &latest.session_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_local_port_exits_5_before_any_session_starts() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let (code, _, stderr) = run_to_end(
        ssm_forward(&scratch)
            .args([
                "-q",
                "--target",
                BASTION,
                "--remote-host",
                "echo.sim.internal",
                "--remote-port",
                "7",
            ])
            .args(["--local-port", &port.to_string()])
            .args(aws_flags(&sim)),
    )
    .await;
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "127.0.0.1:{port} is already in use; pick another --local-port or stop the other program"
        )),
        "{stderr}"
    );
    assert!(sim.sessions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_that_cannot_be_used_exit_3_with_the_reason() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let run = |target: &'static str| {
        let mut command = ssm_forward(&scratch);
        command
            .args([
                "--target",
                target,
                "--remote-port",
                "22",
                "--local-port",
                "0",
            ])
            .args(aws_flags(&sim));
        command
    };
    let (code, _, stderr) = run_to_end(&mut run("name:nope")).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("no managed instance matches name:nope"),
        "{stderr}"
    );

    let (code, _, stderr) = run_to_end(&mut run("name:offline")).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("matches i-0off000000000000c (ConnectionLost), but none is online"),
        "{stderr}"
    );

    let (code, _, stderr) = run_to_end(&mut run("i-0off000000000000c")).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("the target is not connected to Session Manager"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_remote_host_is_reported_per_connection() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args([
                "--target",
                BASTION,
                "--remote-host",
                "nope.invalid",
                "--remote-port",
                "80",
            ])
            .args(["--local-port", "0", "--ready-file"])
            .arg(&ready_path)
            .args(aws_flags(&sim)),
    );
    let (address, _, _) = ready_forward(&child.wait_ready(&ready_path).await, 0);
    tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest);
        assert!(rest.is_empty());
    })
    .await
    .unwrap();
    child
        .wait_stderr("the target could not connect to nope.invalid:80")
        .await;
    child.signal("TERM");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let scratch = Scratch::new();
    let (code, _, stderr) = run_to_end(&mut ssm_forward(&scratch)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to forward"), "{stderr}");

    let (code, _, stderr) = run_to_end(ssm_forward(&scratch).args(["-L", "1:h:2"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--eks-cluster"), "{stderr}");

    let (code, _, stderr) =
        run_to_end(ssm_forward(&scratch).args(["--target", "bastion", "--remote-port", "1"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("name:bastion"), "{stderr}");

    let (code, _, stderr) =
        run_to_end(ssm_forward(&scratch).args(["--target", "i-1", "--remote-port", "1"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no AWS region"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_flags_before_a_subcommand_exit_2_and_the_logging_flags_do_not() {
    let scratch = Scratch::new();
    let (code, _, stderr) =
        run_to_end(ssm_forward(&scratch).args(["--ready-file", "r.json", "list"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot be combined with `list`"),
        "{stderr}"
    );
    // `-v` before `list` is fine: list then fails on the missing file.
    let (code, _, stderr) = run_to_end(ssm_forward(&scratch).args(["-v", "list"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_exit_4_and_say_what_to_do() {
    let scratch = Scratch::new();
    let run = |endpoint: &str, target: &str| {
        let mut command = ssm_forward(&scratch);
        command
            .args([
                "--target",
                target,
                "--remote-port",
                "22",
                "--local-port",
                "0",
            ])
            .args(["--endpoint-url", endpoint, "--region", "us-east-1"]);
        command
    };
    let denied = refusing_endpoint(
        "AccessDeniedException",
        "User: arn:aws:iam::1:user/a is not authorized",
    )
    .await;
    let (code, _, stderr) = run_to_end(&mut run(&denied, BASTION)).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("access denied: your IAM identity needs ssm:StartSession"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("DispatchFailure") && !stderr.contains("ServiceError("),
        "{stderr}"
    );

    let (code, _, stderr) = run_to_end(&mut run(&denied, "name:bastion")).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("could not look up name:bastion: access denied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ssm:DescribeInstanceInformation"),
        "{stderr}"
    );

    let expired = refusing_endpoint(
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )
    .await;
    let (code, _, stderr) = run_to_end(&mut run(&expired, BASTION)).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("your AWS credentials have expired"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tokens_never_reach_the_logs_even_at_trace_level() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let args = [
        "-vv",
        "--target",
        BASTION,
        "--remote-host",
        "echo.sim.internal",
    ];
    let more = ["--remote-port", "7", "--local-port", "0"];
    let mut command = ssm_forward(&scratch);
    command.env("RUST_LOG", "trace");
    let (mut child, ready) =
        start_ready_with(&mut command, &scratch, &sim, &[&args[..], &more].concat()).await;
    let (address, _, session) = ready_forward(&ready, 0);
    echo(address, 1_000).await;
    // A resume fetches a second token through ResumeSession.
    let bye = ssm_sim::Injection::Close {
        code: 1000,
        reason: "Bye".into(),
    };
    assert!(sim.inject(&session, bye));
    let resumed = sim
        .wait_for(&session, Duration::from_secs(20), |s| {
            s.stats.reconnects() >= 1
        })
        .await
        .unwrap();
    assert!(resumed.stats.reconnects() >= 1, "{resumed:?}");
    echo(address, 1_000).await;
    child.signal("INT");
    assert_eq!(child.exit(EXIT).await.code(), Some(0));

    let tokens = sim.issued_tokens(&session);
    assert!(tokens.len() >= 2, "{tokens:?}");
    let logs = child.transcript();
    assert!(
        logs.contains("TRACE") && logs.contains("ResumeSession"),
        "trace logging of the AWS calls was on"
    );
    for token in &tokens {
        let leaks: Vec<&str> = logs
            .lines()
            .filter(|line| line.contains(token.as_str()))
            .collect();
        assert!(leaks.is_empty(), "a session token was logged: {leaks:#?}");
    }
}

/// `--version` names the commit the binary was built from (the checkout
/// the tests run in; "commit unknown" only without git).
#[tokio::test]
async fn version_names_the_git_commit() {
    let scratch = Scratch::new();
    let mut command = ssm_forward(&scratch);
    command.arg("--version");
    let (code, stdout, _) = run_to_end(&mut command).await;
    assert_eq!(code, 0);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    let expected = match head {
        Some(commit) => format!("commit {commit}"),
        None => "commit unknown".to_owned(),
    };
    assert_eq!(
        stdout.trim(),
        format!("ssm-forward {} ({expected})", env!("CARGO_PKG_VERSION"))
    );
}
