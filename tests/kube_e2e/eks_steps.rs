//! `eks connect` end to end with real kubectl: direct mode (TLS verified
//! through `tls-server-name` against the CA from DescribeCluster, tokens
//! from `ssm-forward eks token` checked by the API server) and proxy mode
//! (through a real privoxy with `proxy-url`); the kubeconfig given back
//! byte for byte by `--cleanup` and by `eks disconnect`.

use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;

use super::e2e::eks::{
    CLUSTER, CONTEXT, Connected, EKS_HOST, EksLab, Mode, PRIVOXY_HOST, STEP, existing_kubeconfig,
    token_for, with_static_token, written_server,
};
use super::e2e::follow;
use super::e2e::objects::{GIT_VERSION, NAMESPACES, PODS};
use super::e2e::process::{Outcome, Running, report, run};

/// kubectl processes at once.
const PARALLEL: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl; run by tests/kube_e2e.ci.sh"]
async fn eks_connect_direct_mode() {
    let started = Instant::now();
    let lab = EksLab::start(Mode::Direct).await;
    let (kubeconfig, original) = existing_kubeconfig(lab.dir());
    let mut connected = lab.connect(&kubeconfig, &["--cleanup"]).await;
    let written = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    for expected in [
        format!("tls-server-name: {EKS_HOST}"),
        "server: https://127.0.0.1:".to_owned(),
        "interactiveMode: Never".to_owned(),
        "client.authentication.k8s.io/v1beta1".to_owned(),
        "name: staging".to_owned(),
    ] {
        assert!(
            written.contains(&expected),
            "missing {expected:?} in\n{written}"
        );
    }
    assert!(!written.contains("insecure"), "{written}");
    assert!(written.contains("current-context: staging"), "{written}");
    let what = "kubectl --context ssm-prod get --raw /version";
    let outcome = kubectl(&lab, &connected, what, &["get", "--raw", "/version"]).await;
    assert!(
        outcome.stdout.contains(GIT_VERSION),
        "{}",
        outcome.transcript()
    );
    report(what, &format!("gitVersion {GIT_VERSION}"), outcome.elapsed);
    get_namespaces(&lab, &connected).await;
    parallel_kubectl(&lab, &connected).await;
    follow_across_recycle(&lab, &connected).await;
    refused_tokens(&lab, &connected).await;
    let code = connected.interrupt().await;
    assert_eq!(code, 0, "{}", connected.process.transcript());
    let after = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    assert_eq!(
        after, original,
        "--cleanup must give the file back byte for byte"
    );
    assert_mode(&kubeconfig, 0o640);
    report(
        "Ctrl-C with --cleanup",
        "exit 0; kubeconfig byte for byte as before, mode 0640",
        Duration::ZERO,
    );
    report("eks direct mode", "passed", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl and privoxy; run by tests/kube_e2e.ci.sh"]
async fn eks_connect_proxy_mode() {
    let started = Instant::now();
    let lab = EksLab::start(Mode::Proxy).await;
    let privoxy_port = lab
        .privoxy
        .as_ref()
        .expect("privoxy")
        .addr
        .port()
        .to_string();
    let via = format!("{PRIVOXY_HOST}:{privoxy_port}");
    let (kubeconfig, original) = existing_kubeconfig(lab.dir());
    let mut connected = lab.connect(&kubeconfig, &["--via-proxy", &via]).await;
    let written = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    let server = format!("server: https://{EKS_HOST}:{}", lab.api.addr.port());
    assert!(written.contains(&server), "{written}");
    assert!(
        written.contains("proxy-url: http://127.0.0.1:"),
        "{written}"
    );
    assert!(!written.contains("tls-server-name"), "{written}");
    get_namespaces(&lab, &connected).await;
    let privoxy = lab.privoxy.as_ref().expect("privoxy");
    assert!(
        privoxy.connects_to(EKS_HOST) >= 1,
        "privoxy saw no CONNECT to {EKS_HOST}\n{}",
        lab.diagnostics(&connected)
    );
    report(
        "privoxy",
        &format!("CONNECTs to {EKS_HOST}: {}", privoxy.connects_to(EKS_HOST)),
        Duration::ZERO,
    );
    let what = format!("ssm-forward eks disconnect {CLUSTER} (while connected)");
    let mut command = lab.with_aws(&lab.tools.ssm_forward);
    command
        .args(["eks", "disconnect", CLUSTER, "--kubeconfig"])
        .arg(&kubeconfig);
    let outcome = run(&mut command, STEP).await;
    assert!(outcome.success(), "{what}\n{}", outcome.transcript());
    let after = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    assert_eq!(
        after, original,
        "disconnect must give the file back byte for byte"
    );
    report(&what, "kubeconfig byte for byte as before", outcome.elapsed);
    let code = connected.interrupt().await;
    assert_eq!(code, 0, "{}", connected.process.transcript());
    report("eks proxy mode", "passed", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs kubectl; run by tests/kube_e2e.ci.sh"]
async fn eks_connect_via_local_proxy() {
    let started = Instant::now();
    let lab = EksLab::start(Mode::LocalProxy).await;
    let (kubeconfig, original) = existing_kubeconfig(lab.dir());
    let mut connected = lab.connect(&kubeconfig, &["--via-local-proxy"]).await;
    let written = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    let server = format!("server: https://{EKS_HOST}:{}", lab.api.addr.port());
    assert!(written.contains(&server), "{written}");
    assert!(
        written.contains("proxy-url: http://127.0.0.1:"),
        "{written}"
    );
    get_namespaces(&lab, &connected).await;
    parallel_kubectl(&lab, &connected).await;
    let sessions = lab.sim.sessions();
    let hosts: Vec<String> = sessions
        .iter()
        .filter_map(|s| s.parameters.get("host").and_then(|h| h.first()).cloned())
        .collect();
    assert!(
        !hosts.is_empty() && hosts.iter().all(|host| host == EKS_HOST),
        "sessions go to the endpoint only: {hosts:?}\n{}",
        lab.diagnostics(&connected)
    );
    report(
        "ssm-forward's local proxy",
        &format!(
            "{} session(s), all to {EKS_HOST}, for {} kubectl runs",
            hosts.len(),
            PARALLEL + 1
        ),
        Duration::ZERO,
    );
    let code = connected.interrupt().await;
    assert_eq!(code, 0, "{}", connected.process.transcript());
    let after = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    assert_ne!(after, original, "the context stays without --cleanup");
    report("eks local proxy mode", "passed", started.elapsed());
}

/// Runs kubectl on the connected context; panics with diagnostics when it
/// fails.
async fn kubectl(lab: &EksLab, connected: &Connected, what: &str, args: &[&str]) -> Outcome {
    let kubeconfig = lab.dir().join("kubeconfig");
    let mut command = lab.kubectl(&kubeconfig);
    command.args(["--context", CONTEXT]).args(args);
    let outcome = run(&mut command, STEP).await;
    assert!(
        outcome.success(),
        "{what} failed\n{}\n{}",
        outcome.transcript(),
        lab.diagnostics(connected)
    );
    outcome
}

async fn get_namespaces(lab: &EksLab, connected: &Connected) {
    let what = "kubectl --context ssm-prod get namespaces";
    let checked_before = checked_tokens(lab);
    let outcome = kubectl(lab, connected, what, &["get", "namespaces"]).await;
    for namespace in NAMESPACES {
        assert!(
            outcome.stdout.contains(namespace),
            "{}",
            outcome.transcript()
        );
    }
    assert!(
        checked_tokens(lab) > checked_before,
        "the API server saw no valid EKS token\n{}",
        lab.diagnostics(connected)
    );
    let first = outcome
        .stdout
        .lines()
        .take(3)
        .collect::<Vec<_>>()
        .join(" | ");
    report(
        what,
        &format!("{first} (token verified by the API server)"),
        outcome.elapsed,
    );
}

/// Requests whose EKS token the API server verified.
fn checked_tokens(lab: &EksLab) -> usize {
    lab.api
        .requests()
        .iter()
        .filter(|seen| seen.auth == "ok")
        .count()
}

async fn parallel_kubectl(lab: &EksLab, connected: &Connected) {
    let what = format!("{PARALLEL} x kubectl get namespaces at once");
    let started = Instant::now();
    let kubeconfig = lab.dir().join("kubeconfig");
    let runs = (0..PARALLEL).map(|_| {
        let mut command = lab.kubectl(&kubeconfig);
        command.args(["--context", CONTEXT, "get", "namespaces", "-o", "name"]);
        async move { run(&mut command, STEP).await }
    });
    let outcomes = join_all(runs).await;
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.success()).collect();
    assert!(
        failed.is_empty(),
        "{} of {PARALLEL} failed; first:\n{}\n{}",
        failed.len(),
        failed[0].transcript(),
        lab.diagnostics(connected)
    );
    report(&what, "all succeeded", started.elapsed());
}

async fn follow_across_recycle(lab: &EksLab, connected: &Connected) {
    let what = format!("kubectl logs -f {} across a WebSocket recycle", PODS[0]);
    let started = Instant::now();
    let kubeconfig = lab.dir().join("kubeconfig");
    let mut command = lab.kubectl(&kubeconfig);
    command.args(["--context", CONTEXT, "logs", "-f", PODS[0]]);
    let mut follow = Running::spawn(&mut command).expect("spawn kubectl logs -f");
    let diagnostics = || lab.diagnostics(connected);
    let recycled = follow::across_recycle(
        &lab.sim,
        &connected.session_id,
        PODS[0],
        &mut follow,
        &diagnostics,
    )
    .await;
    report(
        &what,
        &format!(
            "{} lines in order, {} after the reconnect",
            recycled.total, recycled.after
        ),
        started.elapsed(),
    );
}

/// A token for another cluster and an expired one get 401, which kubectl
/// reports as Unauthorized.
async fn refused_tokens(lab: &EksLab, connected: &Connected) {
    let server = written_server(&lab.dir().join("kubeconfig"));
    let now = SystemTime::now();
    let cases = [
        ("a token for cluster \"staging\"", token_for("staging", now)),
        (
            "a token signed 20 minutes ago",
            token_for(CLUSTER, now - Duration::from_secs(20 * 60)),
        ),
    ];
    for (index, (what, token)) in cases.iter().enumerate() {
        let kubeconfig = with_static_token(lab, &server, &format!("refused-{index}"), token);
        let mut command = lab.kubectl(&kubeconfig);
        command.args(["get", "namespaces"]);
        let outcome = run(&mut command, STEP).await;
        assert!(
            !outcome.success(),
            "{what} was accepted\n{}",
            outcome.transcript()
        );
        assert!(
            outcome.stderr.contains("Unauthorized"),
            "{what}: kubectl should say Unauthorized\n{}\n{}",
            outcome.transcript(),
            lab.diagnostics(connected)
        );
        let said = outcome.stderr.lines().last().unwrap_or_default().to_owned();
        report(
            &format!("kubectl with {what}"),
            &format!("refused: {said}"),
            outcome.elapsed,
        );
    }
}

#[cfg(unix)]
fn assert_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let actual = std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(actual, mode, "mode of {}", path.display());
}

#[cfg(not(unix))]
fn assert_mode(_path: &std::path::Path, _mode: u32) {}
