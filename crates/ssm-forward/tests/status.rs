//! `ssm-forward status` and `stop` against real daemons (the binary and
//! the simulator over loopback): two daemons listed with the right
//! numbers after traffic, the JSON shape, the table, `--watch`, stopping
//! one forward while the others go on, the last one ending its daemon
//! with status 0, stale sockets removed, the directory and socket modes,
//! and the socket removed on exit.

#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    BASTION, Child, Scratch, aws_flags, echo, ready_forward, run_to_end, sim, ssm_forward,
};
use serde_json::Value;
use ssm_sim::SimConfig;
use tokio::process::Command;

const EXIT: Duration = Duration::from_secs(5);

/// `ssm-forward` with its control directory under `scratch/run`.
fn command(scratch: &Scratch) -> Command {
    let mut command = ssm_forward(scratch);
    command.env("XDG_RUNTIME_DIR", runtime_dir(scratch));
    command
}

fn runtime_dir(scratch: &Scratch) -> PathBuf {
    let dir = scratch.join("run");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn control_dir(scratch: &Scratch) -> PathBuf {
    runtime_dir(scratch).join("ssm-forward")
}

/// A daemon forwarding `-L` specs to the echo host; returns it and its
/// ready file.
async fn daemon(
    scratch: &Scratch,
    sim: &ssm_sim::Simulator,
    name: &str,
    forwards: usize,
) -> (Child, Value) {
    let ready_path = scratch.join(&format!("{name}.json"));
    let mut command = command(scratch);
    command.args(["--target", BASTION]);
    for _ in 0..forwards {
        command.args(["-L", "0:echo.sim.internal:7"]);
    }
    command
        .arg("--ready-file")
        .arg(&ready_path)
        .args(aws_flags(sim));
    let mut child = Child::spawn(&mut command);
    let ready = child.wait_ready(&ready_path).await;
    (child, ready)
}

async fn status_json(scratch: &Scratch) -> Value {
    let (code, stdout, stderr) = run_to_end(command(scratch).args(["status", "--json"])).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

fn daemon_of(status: &Value, pid: u32) -> &Value {
    status["daemons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} in {status}"))
}

/// Polls `status --json` until `done` holds for it.
async fn status_until(scratch: &Scratch, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = status_json(scratch).await;
        if done(&status) {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A socket file nobody listens on, as a crashed daemon leaves it.
fn stale_socket(dir: &Path, pid: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.join(format!("{pid}.sock"));
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    path
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_two_daemons_with_their_traffic() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let crashed = stale_socket(&control_dir(&scratch), 999_998);
    let (mut one, one_ready) = daemon(&scratch, &sim, "one", 1).await;
    let (mut two, _) = daemon(&scratch, &sim, "two", 2).await;
    assert!(!crashed.exists(), "a starting daemon removes stale sockets");
    let one_pid = one.id();
    let two_pid = two.id();
    let dir = control_dir(&scratch);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(format!("{one_pid}.sock"))), 0o600);
    assert_eq!(mode(&dir.join(format!("{two_pid}.sock"))), 0o600);

    let (address, _, session_id) = ready_forward(&one_ready, 0);
    echo(address, 100_000).await;
    echo(address, 50_000).await;
    let status = status_until(&scratch, "connections closed", |status| {
        daemon_of(status, one_pid)["forwards"][0]["connections_open"] == 0
    })
    .await;
    assert_eq!(status["version"], 1);
    assert_eq!(status["daemons"].as_array().unwrap().len(), 2, "{status}");
    let forward = &daemon_of(&status, one_pid)["forwards"][0];
    assert_eq!(forward["name"], "echo.sim.internal:7");
    assert_eq!(forward["local_address"], address.to_string());
    assert_eq!(forward["target"], BASTION);
    assert_eq!(forward["target_selector"], BASTION);
    assert_eq!(forward["remote"], "echo.sim.internal:7");
    assert_eq!(forward["state"], "running");
    assert_eq!(forward["mode"], "mux");
    assert_eq!(forward["connections_total"], 2);
    assert_eq!(forward["restarts"], 0);
    assert_eq!(forward["resumes"], 0);
    assert_eq!(forward["failing"], false);
    assert!(forward["last_error"].is_null(), "{forward}");
    for direction in ["bytes_sent", "bytes_received"] {
        let bytes = forward[direction].as_u64().unwrap();
        // smux framing adds a little on top of the payload.
        assert!(
            (150_000..170_000).contains(&bytes),
            "{direction}: {forward}"
        );
    }
    for key in ["rate_sent", "rate_received", "up_since", "agent_version"] {
        assert!(!forward[key].is_null(), "{key}: {forward}");
    }
    let sessions = forward["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{forward}");
    assert_eq!(sessions[0]["session_id"], session_id.as_str());
    assert_eq!(sessions[0]["connected"], true);
    let other = &daemon_of(&status, two_pid)["forwards"];
    let names: Vec<&str> = other
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo.sim.internal:7", "echo.sim.internal:7#2"]);
    assert_eq!(other[0]["connections_total"], 0);

    let (code, table, stderr) = run_to_end(command(&scratch).arg("status")).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(table.starts_with("NAME "), "{table}");
    assert_eq!(
        table.matches("echo.sim.internal:7 ").count(),
        5,
        "names and remotes: {table}"
    );
    assert!(
        table.contains(&format!("echo.sim.internal:7#2  {two_pid} ")),
        "{table}"
    );
    assert!(
        table.contains(&format!("sessions: {session_id} (agent ")),
        "{table}"
    );

    one.signal("TERM");
    two.signal("INT");
    assert_eq!(one.exit(EXIT).await.code(), Some(0), "{}", one.transcript());
    assert_eq!(two.exit(EXIT).await.code(), Some(0), "{}", two.transcript());
    assert!(
        !dir.join(format!("{one_pid}.sock")).exists(),
        "removed on SIGTERM"
    );
    assert!(
        !dir.join(format!("{two_pid}.sock")).exists(),
        "removed on Ctrl-C"
    );
    let (code, table, _) = run_to_end(command(&scratch).arg("status")).await;
    assert_eq!((code, table.as_str()), (0, "no forwards running\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_one_forward_and_the_last_one_ends_the_daemon() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let (mut one, _) = daemon(&scratch, &sim, "one", 1).await;
    let (mut two, two_ready) = daemon(&scratch, &sim, "two", 2).await;
    let two_pid = two.id().to_string();

    let (code, _, stderr) =
        run_to_end(command(&scratch).args(["stop", "echo.sim.internal:7"])).await;
    assert_eq!(code, 2, "ambiguous: {stderr}");
    assert!(stderr.contains("add --pid"), "{stderr}");
    let (code, _, stderr) = run_to_end(command(&scratch).args(["stop", "nothing-here"])).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no running forward is named \"nothing-here\""),
        "{stderr}"
    );

    let (stopped_address, _, stopped_session) = ready_forward(&two_ready, 1);
    let (kept_address, _, _) = ready_forward(&two_ready, 0);
    let (code, stdout, stderr) =
        run_to_end(command(&scratch).args(["stop", "echo.sim.internal:7#2"])).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "echo.sim.internal:7#2: stopped; process {two_pid} goes on with echo.sim.internal:7\n"
        )
    );
    let summary = sim
        .wait_for(&stopped_session, Duration::from_secs(2), |s| {
            s.status.is_over()
        })
        .await
        .unwrap();
    assert!(summary.status.is_over(), "session terminated: {summary:?}");
    assert!(
        std::net::TcpStream::connect(stopped_address).is_err(),
        "listener closed"
    );
    echo(kept_address, 10_000).await;
    two.wait_stderr("echo.sim.internal:7#2: stopping").await;

    let status = status_json(&scratch).await;
    let names: Vec<&str> = daemon_of(&status, two.id())["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo.sim.internal:7"]);

    let (code, stdout, stderr) =
        run_to_end(command(&scratch).args(["stop", "echo.sim.internal:7", "--pid", &two_pid]))
            .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("it was the last forward of process"),
        "{stdout}"
    );
    assert_eq!(two.exit(EXIT).await.code(), Some(0), "{}", two.transcript());
    assert!(
        !control_dir(&scratch)
            .join(format!("{two_pid}.sock"))
            .exists()
    );
    let status = status_json(&scratch).await;
    assert_eq!(status["daemons"].as_array().unwrap().len(), 1, "{status}");
    one.signal("TERM");
    assert_eq!(one.exit(EXIT).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_sockets_are_removed_and_watch_refreshes() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let (mut one, _) = daemon(&scratch, &sim, "one", 1).await;
    let crashed = stale_socket(&control_dir(&scratch), 999_997);
    let status = status_json(&scratch).await;
    assert!(!crashed.exists(), "status removes a stale socket");
    assert_eq!(status["daemons"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["unanswered"], serde_json::json!([]));

    let mut watch = Child::spawn(command(&scratch).args(["status", "--watch", "1"]));
    watch
        .wait_until("two refreshes", Duration::from_secs(10), |text| {
            text.matches("NAME ").count() >= 2
        })
        .await;
    watch.signal("INT");
    assert_eq!(watch.exit(EXIT).await.code(), Some(0));
    one.signal("TERM");
    assert_eq!(one.exit(EXIT).await.code(), Some(0));
}
