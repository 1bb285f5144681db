//! Running as a service: the systemd unit and launchd plist of
//! docs/services/ pass their tools' checks (`systemd-analyze verify`, a
//! plist parser) where those exist, and the daemon speaks sd_notify:
//! `READY=1` once its forward is up, `STOPPING=1` on SIGTERM.
//!
//! `.ci/run` sets `SSM_FORWARD_REQUIRE_SERVICE_TOOLS=1`, which makes a
//! missing `systemd-analyze` or `python3` a failure instead of a skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Scratch;

const BINARY: &str = env!("CARGO_BIN_EXE_ssm-forward");

fn docs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/services")
        .join(name)
}

/// True when `tool` runs; false (after saying so) when it is missing and
/// not required.
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("SSM_FORWARD_REQUIRE_SERVICE_TOOLS").is_none(),
            "{tool} is required here"
        );
        println!("{tool} not found: skipped");
    }
    found
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    if !have("systemd-analyze") {
        return;
    }
    let scratch = Scratch::new();
    let unit = std::fs::read_to_string(docs("ssm-forward@.service")).unwrap();
    assert!(unit.contains("Type=notify"), "the unit waits for READY=1");
    // An instance of the template, with the binary where the unit expects it.
    let instance = scratch.join("ssm-forward@prod.service");
    std::fs::write(&instance, unit.replace("%h/.cargo/bin/ssm-forward", BINARY)).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&instance)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("prod.service"),
        "no warnings about the unit: {stderr}"
    );
}

#[test]
fn the_launchd_plist_parses_and_runs_up() {
    if !have("python3") {
        return;
    }
    let program = "import plistlib, sys, json; \
                   print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))";
    let output = Command::new("python3")
        .args(["-c", program])
        .arg(docs("com.github.ssm-forward.prod.plist"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let plist: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plist["Label"], "com.github.ssm-forward.prod");
    assert_eq!(plist["ProgramArguments"][1], "up");
    assert_eq!(plist["ProgramArguments"][2], "prod");
    assert_eq!(plist["KeepAlive"]["SuccessfulExit"], false);
}

#[cfg(unix)]
#[tokio::test]
async fn the_daemon_notifies_ready_and_stopping() {
    use std::time::Duration;

    use common::{Child, echo_forward, sim};
    use ssm_sim::SimConfig;

    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let socket_path = scratch.join("notify.sock");
    let notifications = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let (mut command, ready_path) = echo_forward(&scratch, &sim);
    let mut child = Child::spawn(command.env("NOTIFY_SOCKET", &socket_path));
    let ready = next_notification(&notifications).await;
    assert!(ready.starts_with("READY=1"), "{ready:?}");
    assert!(ready_path.exists(), "READY=1 comes once the forward is up");
    child.signal("TERM");
    assert_eq!(next_notification(&notifications).await, "STOPPING=1");
    assert_eq!(child.exit(Duration::from_secs(10)).await.code(), Some(0));
}

/// The next datagram on `socket`, as text (20 s at most).
#[cfg(unix)]
async fn next_notification(socket: &tokio::net::UnixDatagram) -> String {
    let mut buffer = [0u8; 256];
    let received =
        tokio::time::timeout(std::time::Duration::from_secs(20), socket.recv(&mut buffer));
    let length = received.await.expect("a notification in time").unwrap();
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}
