//! The real scenario end to end, all on 127.0.0.1: real kubectl and curl
//! → a real privoxy (the pod in the VPC) → the `ssm-forward` binary →
//! ssm-sim with realistic timing (the AWS side) → a stand-in Kubernetes
//! API server over TLS. kubectl reaches the API server by a private name
//! only privoxy resolves, first through `proxy-url` set by `ssm-forward
//! kubeconfig`, then through `HTTPS_PROXY`. A followed log stream
//! survives a WebSocket recycle, 50 kubectls run at once, and Ctrl-C ends
//! the session cleanly.
//!
//! Needs privoxy, curl, kubectl and root (privoxy runs in its own mount
//! namespace); `tests/kube_e2e.ci.sh` installs them and runs it:
//!
//! ```sh
//! cargo build -p ssm-forward
//! SSM_E2E_SSM_FORWARD=target/debug/ssm-forward \
//!   cargo test -p ssm-tests --test kube_e2e -- --ignored --nocapture
//! ```

#[path = "kube_e2e/mod.rs"]
mod e2e;
#[path = "kube_e2e/eks_steps.rs"]
mod eks_steps;

use std::time::{Duration, Instant};

use e2e::follow;
use e2e::kubeconfig;
use e2e::lab::{API_HOST, Lab, STEP};
use e2e::objects::{GIT_VERSION, PODS};
use e2e::process::{Outcome, Running, report, run};
use futures_util::future::join_all;
use serde_json::Value;
use ssm_sim::{EndCause, SessionStatus};

/// kubectl processes started at once.
const PARALLEL: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs privoxy, curl and kubectl; run by .ci/run"]
async fn kubectl_through_privoxy_over_ssm_forward() {
    let started = Instant::now();
    let mut lab = Lab::start().await;
    curl_version(&lab).await;
    let proxied = kubeconfig_with_proxy_url(&lab).await;
    kubectl_version(&lab, &proxied).await;
    kubectl_healthz(&lab, &proxied).await;
    kubectl_get_pods(&lab, &proxied).await;
    kubectl_with_https_proxy(&lab).await;
    follow_across_recycle(&lab, &proxied).await;
    parallel_kubectl(&lab, &proxied).await;
    ctrl_c_terminates(&mut lab).await;
    report("all steps", "passed", started.elapsed());
}

/// Runs `command`, reports it and checks it went through the tunnel
/// (the agent opened at least `connections` connections to privoxy);
/// panics with everything known when it failed.
async fn checked(lab: &Lab, what: &str, command: &mut tokio::process::Command) -> Outcome {
    let before = lab.tunnelled();
    let outcome = run(command, STEP).await;
    let through = lab.tunnelled() - before;
    assert!(
        outcome.success(),
        "{what} failed\n{}\n{}",
        outcome.transcript(),
        lab.diagnostics()
    );
    assert!(
        through >= 1,
        "{what} did not go through the tunnel\n{}\n{}",
        outcome.transcript(),
        lab.diagnostics()
    );
    outcome
}

fn parse_json(what: &str, outcome: &Outcome) -> Value {
    serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|error| panic!("{what}: not JSON ({error})\n{}", outcome.transcript()))
}

async fn curl_version(lab: &Lab) {
    let url = format!("https://127.0.0.1:{}/version", lab.api.addr.port());
    let what = format!("curl --proxy {} {url}", lab.forward.proxy_url());
    let mut command = lab.command(&lab.tools.curl);
    command
        .args(["--silent", "--show-error", "--fail", "--max-time", "60"])
        .args(["--proxy", &lab.forward.proxy_url(), "--cacert"])
        .arg(lab.ca_file())
        .arg(&url);
    let outcome = checked(lab, &what, &mut command).await;
    let version = parse_json(&what, &outcome);
    assert_eq!(version["gitVersion"], GIT_VERSION, "{}", outcome.stdout);
    report(&what, &format!("gitVersion {GIT_VERSION}"), outcome.elapsed);
}

/// Writes a kubeconfig and sets its `proxy-url` with `ssm-forward
/// kubeconfig`; returns its path.
async fn kubeconfig_with_proxy_url(lab: &Lab) -> std::path::PathBuf {
    let path = kubeconfig::write(lab.dir(), "kubeconfig", &lab.server_url(), &lab.pki.ca_pem)
        .expect("write kubeconfig");
    let proxy = lab.forward.proxy_url();
    let what = format!("ssm-forward kubeconfig --proxy-url {proxy}");
    let mut command = lab.command(&lab.tools.ssm_forward);
    command
        .args(["kubeconfig", "--proxy-url", &proxy, "--kubeconfig"])
        .arg(&path);
    let outcome = run(&mut command, STEP).await;
    assert!(outcome.success(), "{what}\n{}", outcome.transcript());
    let written = std::fs::read_to_string(&path).expect("read kubeconfig");
    assert!(
        written.contains(&format!("proxy-url: {proxy}")),
        "{written}"
    );
    report(
        &what,
        &format!("proxy-url set on {}", kubeconfig::CLUSTER),
        outcome.elapsed,
    );
    path
}

async fn kubectl_version(lab: &Lab, kubeconfig: &std::path::Path) {
    let what = "kubectl version -o json (proxy-url)";
    let mut command = lab.kubectl(kubeconfig);
    command.args(["version", "-o", "json"]);
    let outcome = checked(lab, what, &mut command).await;
    let version = parse_json(what, &outcome);
    let server = version["serverVersion"]["gitVersion"]
        .as_str()
        .unwrap_or("?");
    assert_eq!(server, GIT_VERSION, "{}", outcome.stdout);
    let client = version["clientVersion"]["gitVersion"]
        .as_str()
        .unwrap_or("?");
    report(
        what,
        &format!("client {client}, server {server}"),
        outcome.elapsed,
    );
}

async fn kubectl_healthz(lab: &Lab, kubeconfig: &std::path::Path) {
    let what = "kubectl get --raw /healthz (proxy-url)";
    let mut command = lab.kubectl(kubeconfig);
    command.args(["get", "--raw", "/healthz"]);
    let outcome = checked(lab, what, &mut command).await;
    assert_eq!(outcome.stdout.trim(), "ok", "{}", outcome.transcript());
    report(what, "ok", outcome.elapsed);
}

async fn kubectl_get_pods(lab: &Lab, kubeconfig: &std::path::Path) {
    let what = "kubectl get pods (proxy-url)";
    let mut command = lab.kubectl(kubeconfig);
    command.args(["get", "pods"]);
    let outcome = checked(lab, what, &mut command).await;
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    let header: Vec<&str> = lines
        .first()
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{}",
        outcome.stdout
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, PODS, "{}", outcome.stdout);
    let table = lab.api.requests().iter().any(|seen| {
        seen.uri.starts_with("/api/v1/namespaces/default/pods") && seen.accept.contains("as=Table")
    });
    assert!(
        table,
        "kubectl did not ask for a Table\n{}",
        lab.api.transcript()
    );
    report(
        what,
        &format!("{} pods in a server-side Table", names.len()),
        outcome.elapsed,
    );
}

/// A kubeconfig without `proxy-url`, the proxy from `HTTPS_PROXY`.
async fn kubectl_with_https_proxy(lab: &Lab) {
    let path = kubeconfig::write(
        lab.dir(),
        "kubeconfig-plain",
        &lab.server_url(),
        &lab.pki.ca_pem,
    )
    .expect("write kubeconfig");
    let what = format!(
        "HTTPS_PROXY={} kubectl get --raw /version",
        lab.forward.proxy_url()
    );
    let mut command = lab.kubectl(&path);
    command
        .env("HTTPS_PROXY", lab.forward.proxy_url())
        .args(["get", "--raw", "/version"]);
    let outcome = checked(lab, &what, &mut command).await;
    let version = parse_json(&what, &outcome);
    assert_eq!(version["gitVersion"], GIT_VERSION, "{}", outcome.stdout);
    report(&what, &format!("gitVersion {GIT_VERSION}"), outcome.elapsed);
}

/// `kubectl logs -f` keeps streaming while the simulator recycles the
/// session's WebSocket (close 1000 "Bye"): ssm-forward resumes the
/// session and no line is lost or repeated.
async fn follow_across_recycle(lab: &Lab, kubeconfig: &std::path::Path) {
    let what = format!("kubectl logs -f {} across a WebSocket recycle", PODS[0]);
    let started = Instant::now();
    let mut follow = Running::spawn(lab.kubectl(kubeconfig).args(["logs", "-f", PODS[0]]))
        .expect("spawn kubectl logs -f");
    let session = &lab.forward.session_id;
    let recycled = follow::across_recycle(&lab.sim, session, PODS[0], &mut follow, &|| {
        lab.diagnostics()
    })
    .await;
    drop(follow);
    let result = format!(
        "{} lines in order, {} after the reconnect; session {session} reconnects {}",
        recycled.total, recycled.after, recycled.reconnects
    );
    report(&what, &result, started.elapsed());
}

async fn parallel_kubectl(lab: &Lab, kubeconfig: &std::path::Path) {
    let what = format!("{PARALLEL} x kubectl get --raw /version at once (proxy-url)");
    let started = Instant::now();
    let before = lab.tunnelled();
    let runs = (0..PARALLEL).map(|_| async {
        let mut command = lab.kubectl(kubeconfig);
        command.args(["get", "--raw", "/version"]);
        run(&mut command, 2 * STEP).await
    });
    let outcomes = join_all(runs).await;
    let through = lab.tunnelled() - before;
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !o.success() || !o.stdout.contains(GIT_VERSION))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {PARALLEL} failed; first:\n{}\n{}",
        failed.len(),
        failed[0].transcript(),
        lab.diagnostics()
    );
    assert!(
        through >= PARALLEL as u64,
        "only {through} connections tunnelled"
    );
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default();
    let result = format!(
        "{PARALLEL} ok, {through} tunnelled connections, slowest {} ms",
        slowest.as_millis()
    );
    report(&what, &result, started.elapsed());
}

/// SIGINT: exit 0 within seconds, every session terminated by the
/// client's TerminateSession flag, the ready file gone.
async fn ctrl_c_terminates(lab: &mut Lab) {
    let started = Instant::now();
    let code = lab.forward.interrupt(Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    assert_eq!(code, Ok(0), "{}", lab.diagnostics());
    assert!(!lab.forward.ready_file.exists(), "ready file left behind");
    assert!(
        lab.forward
            .stderr()
            .contains("SIGINT: terminating sessions")
    );
    let sessions = lab.sim.sessions();
    for session in &sessions {
        let summary = lab
            .sim
            .wait_for(&session.session_id, Duration::from_secs(10), |s| {
                s.status.is_over()
            })
            .await
            .expect("session known");
        assert_eq!(summary.status, SessionStatus::Terminated, "{summary:?}");
        assert_eq!(
            summary.end_cause,
            Some(EndCause::TerminateFlag),
            "{summary:?}"
        );
    }
    assert_eq!(
        sessions.len(),
        1,
        "one session for everything: {sessions:?}"
    );
    let result = format!(
        "exit 0; {} session Terminated by the TerminateSession flag; {} connections through it, \
         {} CONNECTs to {API_HOST} in privoxy's log",
        sessions.len(),
        lab.tunnelled(),
        lab.privoxy.connects_to(API_HOST)
    );
    report("kill -INT ssm-forward", &result, elapsed);
}
