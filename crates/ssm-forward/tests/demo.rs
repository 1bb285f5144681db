//! `ssm-forward demo --once`: in-process through the library, and as
//! the built binary, with no AWS configuration reachable.

use std::process::Stdio;
use std::time::Duration;

use ssm_forward::commands::demo::{Args as DemoArgs, execute};

/// What a successful run prints, whichever way it runs.
fn assert_transcript(text: &str) {
    for expected in [
        "Forwarding 127.0.0.1:",
        "ready in",
        "Request 1: curl -x http://127.0.0.1:",
        "http://api.demo.internal/version",
        "HTTP/1.1 200 OK in",
        "\"service\":\"api.demo.internal\"",
        "Request 2: CONNECT api.demo.internal:80",
        "Hello from api.demo.internal!",
        "proxied connections   2",
        "(the client sent the TerminateSession flag)",
        "Demo finished",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_in_process() {
    let mut out = Vec::new();
    let args = DemoArgs {
        once: true,
        port: 0,
    };
    tokio::time::timeout(Duration::from_secs(60), execute(args, &mut out))
        .await
        .expect("demo took too long")
        .expect("demo failed");
    assert_transcript(&String::from_utf8(out).unwrap());
}

#[tokio::test]
async fn busy_port_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut out = Vec::new();
    let error = execute(DemoArgs { once: true, port }, &mut out)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("pick another --port"),
        "{error:#}"
    );
}

#[tokio::test]
async fn demo_binary_once() {
    let home = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ssm-forward"));
    command
        .args(["demo", "--once"])
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("ssm-forward demo --once took too long")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {}\n{stdout}\n{stderr}",
        output.status
    );
    assert_transcript(&stdout);
}
