//! `ssm-forward eks …` against an in-process ssm-sim (which serves EKS
//! DescribeCluster and ListClusters on the SSM endpoint): listing,
//! tokens, the dry run, and the errors a user meets first. The full
//! journey with real kubectl is tests/kube_e2e (eks_steps.rs).

#[allow(unused_imports)]
mod common;

use common::{Scratch, aws_flags, run_to_end, sim, ssm_forward};
use serde_json::Value;
use ssm_sim::{ClusterConfig, ClusterStatus, SimConfig};

#[tokio::test]
async fn eks_list_shows_clusters_access_and_online_nodes() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let (code, stdout, stderr) = run_to_end(
        ssm_forward(&scratch)
            .args(["eks", "list"])
            .args(aws_flags(&sim)),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "# EKS clusters in us-east-1 (1)", "{stdout}");
    assert!(lines[1].starts_with("NAME"), "{stdout}");
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(row[0], "demo", "{stdout}");
    assert_eq!(row[1], "ACTIVE", "{stdout}");
    assert_eq!(row.last(), Some(&"2"), "two online nodes: {stdout}");

    let (code, stdout, stderr) = run_to_end(
        ssm_forward(&scratch)
            .args(["--json", "eks", "list"])
            .args(aws_flags(&sim)),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let rows: Value = serde_json::from_str(&stdout).expect("JSON array");
    assert_eq!(rows[0]["name"], "demo");
    assert_eq!(rows[0]["nodes_online"], 2);
}

#[tokio::test]
async fn eks_token_prints_an_exec_credential_and_never_prompts() {
    let scratch = Scratch::new();
    let (code, stdout, stderr) = run_to_end(ssm_forward(&scratch).args([
        "eks",
        "token",
        "--cluster",
        "prod",
        "--region",
        "eu-west-1",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let credential: Value = serde_json::from_str(&stdout).expect("ExecCredential JSON");
    assert_eq!(credential["kind"], "ExecCredential");
    assert_eq!(
        credential["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    let token = credential["status"]["token"].as_str().expect("token");
    assert!(token.starts_with("k8s-aws-v1."), "{token}");
    assert!(!stderr.contains(token), "the token must not be logged");
    let expiry = credential["status"]["expirationTimestamp"]
        .as_str()
        .expect("expiry");
    assert!(expiry.ends_with('Z') && expiry.len() == 20, "{expiry}");

    // No credentials at all: a clear error and exit status 4, at once.
    let (code, stdout, stderr) = run_to_end(
        ssm_forward(&scratch)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(["eks", "token", "--cluster", "prod", "--region", "eu-west-1"]),
    )
    .await;
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
}

#[tokio::test]
async fn eks_connect_dry_run_shows_the_context_and_writes_nothing() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let kubeconfig = scratch.join("kubeconfig");
    let (code, stdout, stderr) = run_to_end(
        ssm_forward(&scratch)
            .args([
                "eks",
                "connect",
                "demo",
                "--dry-run",
                "--local-port",
                "41234",
            ])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(aws_flags(&sim)),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    for expected in [
        "server: https://127.0.0.1:41234",
        "tls-server-name: ",
        "certificate-authority-data: ",
        "name: ssm-demo",
        "- token",
        "interactiveMode: Never",
        "Dry run: nothing written",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
    assert!(!kubeconfig.exists(), "a dry run must not write");
    assert!(
        sim.sessions().is_empty(),
        "a dry run must not start sessions"
    );
}

#[tokio::test]
async fn eks_connect_says_what_is_wrong_with_the_cluster() {
    let mut config = SimConfig::default();
    config
        .clusters
        .push(ClusterConfig::new("building").with_status(ClusterStatus::Creating));
    let sim = sim(config).await;
    let scratch = Scratch::new();
    let connect = |cluster: &str| {
        let mut command = ssm_forward(&scratch);
        command
            .args(["eks", "connect", cluster, "--dry-run"])
            .arg("--kubeconfig")
            .arg(scratch.join("kubeconfig"))
            .args(aws_flags(&sim));
        command
    };
    let (code, _, stderr) = run_to_end(&mut connect("nope")).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no EKS cluster named \"nope\""), "{stderr}");
    assert!(stderr.contains("eks list"), "{stderr}");
    let (code, _, stderr) = run_to_end(&mut connect("building")).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("CREATING, not ACTIVE"), "{stderr}");
}
