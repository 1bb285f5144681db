//! The `ssm-sim` binary end to end: it starts, announces itself in the
//! ready file and on stdout, serves the SSM API (and the EKS fake, from
//! the clusters of its config file) over real HTTP, and on SIGTERM shuts
//! down cleanly with a counters table.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ssm-sim");

/// A started `ssm-sim`, killed if the test fails half-way.
struct Sim {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ssm-sim");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self { child, stdout }
    }

    /// The first stdout line: the ready info.
    fn ready_line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read ready line");
        assert!(line.ends_with('\n'), "ready info not on one line: {line:?}");
        serde_json::from_str(&line).expect("ready line is JSON")
    }

    /// Sends `signal` with kill(1) and waits (bounded) for the exit.
    fn signal_and_wait(&mut self, signal: &str) -> (ExitStatus, String) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "ssm-sim did not exit on {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).expect("read stdout");
        (status, rest)
    }
}

fn temp_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("ssm-sim-bin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn wait_for_file(path: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).expect("ready file is JSON");
        }
        assert!(
            Instant::now() < deadline,
            "no ready file at {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A minimal AWS JSON 1.1 call over HTTP/1.1; returns (status, body).
fn call(endpoint: &str, operation: &str, body: &Value) -> (u16, Value) {
    let authority = endpoint.strip_prefix("http://").expect("http endpoint");
    let body = body.to_string();
    let mut socket = TcpStream::connect(authority).expect("connect to the API");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: AmazonSSM.{operation}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    socket.read_to_end(&mut response).expect("read response");
    let text = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "unexpected chunked response: {head}"
    );
    (status, serde_json::from_str(body).expect("JSON body"))
}

#[test]
fn serves_the_api_and_shuts_down_on_sigterm() {
    let ready_file = temp_path("ready.json");
    let ready_arg = ready_file.to_str().expect("utf-8 path");
    let mut sim = Sim::start(&[
        "--api-port",
        "0",
        "--bind",
        "127.0.0.1",
        "--ready-file",
        ready_arg,
        "--stats-interval",
        "0.2",
    ]);
    let ready = wait_for_file(&ready_file);
    assert_eq!(sim.ready_line(), ready, "stdout and the ready file differ");
    let endpoint = ready["endpoint_url"].as_str().expect("endpoint_url");
    let gateway = ready["gateway_url"].as_str().expect("gateway_url");
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{ready}");
    assert!(gateway.starts_with("ws://127.0.0.1:"), "{ready}");
    assert_eq!(ready["region"], "us-east-1");
    assert!(
        ready["instances"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id == "i-0123456789abcdef0")),
        "{ready}"
    );

    let (status, started) = call(
        endpoint,
        "StartSession",
        &json!({
            "Target": "i-0123456789abcdef0",
            "DocumentName": "AWS-StartPortForwardingSessionToRemoteHost",
            "Parameters": {"host": ["echo.sim.internal"], "portNumber": ["7"], "localPortNumber": ["0"]},
        }),
    );
    assert_eq!(status, 200, "{started}");
    let session_id = started["SessionId"].as_str().expect("SessionId");
    let stream_url = started["StreamUrl"].as_str().expect("StreamUrl");
    assert!(
        stream_url.starts_with(&format!("{gateway}/v1/data-channel/{session_id}?")),
        "{stream_url}"
    );
    assert!(
        stream_url.contains("role=publish_subscribe"),
        "{stream_url}"
    );
    assert!(
        started["TokenValue"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    let (status, error) = call(
        endpoint,
        "StartSession",
        &json!({"Target": "i-0off000000000000c"}),
    );
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["__type"], "TargetNotConnected");

    // A stats line names the live session.
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !line.contains(session_id) {
        assert!(Instant::now() < deadline, "no stats line for {session_id}");
        line.clear();
        sim.stdout.read_line(&mut line).expect("read stats line");
    }
    assert!(line.starts_with("stats "), "{line}");

    let (status, rest) = sim.signal_and_wait("TERM");
    assert!(status.success(), "exit status {status:?}\n{rest}");
    let table_start = rest
        .find("ssm-sim: 1 session(s)")
        .unwrap_or_else(|| panic!("no counters table in:\n{rest}"));
    let table: Vec<&str> = rest[table_start..].lines().collect();
    assert!(
        table[1].starts_with("session") && table[1].contains("connections"),
        "{rest}"
    );
    assert!(
        table[2].starts_with(session_id) && table[2].contains("Shutdown"),
        "{rest}"
    );
    let _ = std::fs::remove_file(&ready_file);
}

#[test]
fn config_file_and_flags_combine() {
    let config = temp_path("config.toml");
    std::fs::write(
        &config,
        r#"
region = "eu-west-1"
[[instances]]
id = "i-0aaaaaaaaaaaaaaa1"
agent_version = "3.3.987.0"
tags = { Name = "one" }
[faults]
drop = 0.5
"#,
    )
    .expect("write config");
    let mut sim = Sim::start(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "--agent-version",
        "3.0.161.0",
        "--drop",
        "0",
    ]);
    let ready = sim.ready_line();
    assert_eq!(ready["region"], "eu-west-1");
    assert_eq!(ready["instances"], json!(["i-0aaaaaaaaaaaaaaa1"]));
    let endpoint = ready["endpoint_url"].as_str().expect("endpoint_url");
    let (status, described) = call(endpoint, "DescribeInstanceInformation", &json!({}));
    assert_eq!(status, 200, "{described}");
    assert_eq!(
        described["InstanceInformationList"][0]["AgentVersion"],
        "3.0.161.0"
    );
    let (status, rest) = sim.signal_and_wait("INT");
    assert!(status.success(), "exit status {status:?}\n{rest}");
    assert!(rest.contains("ssm-sim: 0 session(s)"), "{rest}");
    let _ = std::fs::remove_file(&config);
}

/// A `GET` over HTTP/1.1; returns (status, body).
fn get(endpoint: &str, path: &str) -> (u16, Value) {
    let authority = endpoint.strip_prefix("http://").expect("http endpoint");
    let mut socket = TcpStream::connect(authority).expect("connect to the API");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).expect("send request");
    let mut response = String::new();
    socket.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    (status, serde_json::from_str(body).expect("JSON body"))
}

#[test]
fn clusters_come_from_the_config_file() {
    let ca = temp_path("ca.pem");
    let pem = "-----BEGIN CERTIFICATE-----\nU0lNIENB\n-----END CERTIFICATE-----\n";
    std::fs::write(&ca, pem).expect("write CA");
    let config = temp_path("clusters.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[clusters]]
name = "prod"
endpoint_host = "prod.k8s.example"
ca_file = "{}"
endpoint_public_access = false
endpoint_private_access = true
version = "1.31"

[[clusters]]
name = "staging"
status = "CREATING"
"#,
            ca.file_name()
                .and_then(|name| name.to_str())
                .expect("file name")
        ),
    )
    .expect("write config");
    let mut sim = Sim::start(&["--config", config.to_str().expect("utf-8 path")]);
    let ready = sim.ready_line();
    assert_eq!(ready["clusters"], json!(["prod", "staging"]));
    let endpoint = ready["endpoint_url"].as_str().expect("endpoint_url");

    let (status, described) = get(endpoint, "/clusters/prod");
    assert_eq!(status, 200, "{described}");
    let cluster = &described["cluster"];
    assert_eq!(cluster["endpoint"], "https://prod.k8s.example");
    assert_eq!(cluster["status"], "ACTIVE");
    assert_eq!(cluster["version"], "1.31");
    assert_eq!(cluster["resourcesVpcConfig"]["endpointPublicAccess"], false);
    assert_eq!(cluster["resourcesVpcConfig"]["endpointPrivateAccess"], true);
    // base64 of the PEM written above.
    assert_eq!(
        cluster["certificateAuthority"]["data"],
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClUwbE5JRU5CCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
    );
    let (status, staging) = get(endpoint, "/clusters/staging");
    assert_eq!(status, 200, "{staging}");
    assert_eq!(staging["cluster"]["status"], "CREATING");
    assert!(staging["cluster"].get("endpoint").is_none(), "{staging}");
    let (status, listed) = get(endpoint, "/clusters?maxResults=1");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["clusters"], json!(["prod"]));
    assert!(listed["nextToken"].is_string(), "{listed}");
    let (status, missing) = get(endpoint, "/clusters/demo");
    assert_eq!(status, 404, "{missing}");

    let (status, rest) = sim.signal_and_wait("TERM");
    assert!(status.success(), "exit status {status:?}\n{rest}");
    let _ = std::fs::remove_file(&config);
    let _ = std::fs::remove_file(&ca);
}

#[test]
fn bad_flags_and_config_values_are_refused_clearly() {
    let output = Command::new(BIN)
        .args(["--drop", "1.5"])
        .output()
        .expect("run ssm-sim");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--drop") && stderr.contains("not a probability"),
        "{stderr}"
    );

    let config = temp_path("bad.toml");
    std::fs::write(&config, "[faults]\nreorder = 2.0\n").expect("write config");
    let output = Command::new(BIN)
        .args(["--config", config.to_str().expect("utf-8 path")])
        .output()
        .expect("run ssm-sim");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("faults.reorder") && stderr.contains("not a probability"),
        "{stderr}"
    );

    std::fs::write(
        &config,
        "[[clusters]]\nname = \"x\"\nca_file = \"missing.pem\"\n",
    )
    .expect("write config");
    let output = Command::new(BIN)
        .args(["--config", config.to_str().expect("utf-8 path")])
        .output()
        .expect("run ssm-sim");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cluster x: reading ca_file") && stderr.contains("missing.pem"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&config);
}
