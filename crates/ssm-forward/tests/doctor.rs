//! `ssm-forward doctor` against the simulator: a healthy fleet (with
//! `--probe` and its timed steps), an offline instance, an old agent,
//! access denied (the missing permission named), no region, no
//! credentials, an SSO profile signed in and expired, an EKS cluster
//! (endpoint access, kubeconfig context), and the `--json` form.

mod common;

use common::sso::Lab;
use common::{BASTION, Scratch, aws_flags, refusing_endpoint, run_to_end, sim, ssm_forward};
use serde_json::Value;
use ssm_sim::{ClusterConfig, SimConfig, SsoConfig};

/// Runs `doctor ARGS` against the simulator: (exit code, stdout, stderr).
async fn doctor(sim: &ssm_sim::Simulator, args: &[&str]) -> (i32, String, String) {
    let scratch = Scratch::new();
    run_to_end(
        ssm_forward(&scratch)
            .arg("doctor")
            .args(args)
            .args(aws_flags(sim)),
    )
    .await
}

fn line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_setup_passes_every_check_and_the_probe_is_timed() {
    let sim = sim(SimConfig::default()).await;
    let args = [
        "--target",
        BASTION,
        "--remote-host",
        "echo.sim.internal",
        "--remote-port",
        "7",
        "--probe",
    ];
    let (code, stdout, stderr) = doctor(&sim, &args).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains('✘'), "{stdout}");
    assert_eq!(
        line(&stdout, "✔ region"),
        "✔ region: us-east-1 (from --region)"
    );
    assert_eq!(
        line(&stdout, "✔ credentials"),
        "✔ credentials: long-term, from EnvironmentVariable"
    );
    assert_eq!(
        line(&stdout, "✔ caller"),
        "✔ caller: arn:aws:iam::123456789012:user/AKIDTEST (account 123456789012)"
    );
    line(&stdout, "✔ ssm api: reachable");
    assert_eq!(
        line(&stdout, "✔ target online"),
        format!("✔ target online: {BASTION} is Online")
    );
    line(&stdout, "✔ agent: version 3.");
    line(&stdout, "✔ remote host: agent ");
    line(&stdout, "✔ smux: many connections per session");
    assert!(
        line(&stdout, "✔ data channel: 127.0.0.1:").contains("reachable over TCP"),
        "{stdout}"
    );
    for step in [
        "✔ probe start",
        "✔ probe channel",
        "✔ probe connect",
        "✔ probe terminate",
    ] {
        let found = line(&stdout, step);
        assert!(found.ends_with(" ms)"), "timed: {found}");
    }
    assert!(
        line(&stdout, "✔ probe connect").contains("echo.sim.internal:7"),
        "{stdout}"
    );
    // TerminateSession marks the session Terminating at once; the agent
    // finishes ending it a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sim.sessions()[0].status.is_over() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let session = sim.sessions();
    assert_eq!(session.len(), 1, "one probe session");
    assert!(session[0].status.is_over(), "terminated: {session:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_instance_and_an_old_agent_fail_with_their_fix() {
    let sim = sim(SimConfig::default()).await;
    let (code, stdout, _) = doctor(&sim, &["--target", "i-0off000000000000c"]).await;
    assert_eq!(code, 3, "{stdout}");
    let offline = line(&stdout, "✘ target online");
    assert!(
        offline.contains("i-0off000000000000c is ConnectionLost"),
        "{offline}"
    );
    assert!(offline.contains("; fix: start the instance"), "{offline}");

    let args = [
        "--target",
        "name:legacy",
        "--remote-host",
        "db.internal",
        "--remote-port",
        "5432",
    ];
    let (code, stdout, _) = doctor(&sim, &args).await;
    assert_eq!(code, 3, "{stdout}");
    line(
        &stdout,
        "✔ target: name:legacy → i-0old000000000000b (1 online match)",
    );
    let remote = line(&stdout, "✘ remote host");
    assert!(
        remote.contains("agent 3.0.161.0 is older than 3.1.1374.0"),
        "{remote}"
    );
    assert!(remote.contains("fix: update the SSM agent"), "{remote}");
    line(&stdout, "! smux: agent 3.0.161.0 has no smux");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_names_the_missing_permission() {
    let endpoint = refusing_endpoint(
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: \
         ssm:DescribeInstanceInformation on resource: arn:aws:ssm:us-east-1:123456789012:* \
         because no identity-based policy allows the ssm:DescribeInstanceInformation action",
    )
    .await;
    let scratch = Scratch::new();
    let (code, stdout, stderr) = run_to_end(
        ssm_forward(&scratch)
            .args(["doctor", "--target", BASTION])
            .args(["--endpoint-url", &endpoint, "--region", "us-east-1"]),
    )
    .await;
    assert_eq!(code, 4, "{stdout}{stderr}");
    let api = line(&stdout, "✘ ssm api");
    assert!(
        api.ends_with(
            "fix: ask for IAM permission ssm:DescribeInstanceInformation on \
             arn:aws:ssm:us-east-1:123456789012:*"
        ),
        "{api}"
    );
    assert!(
        !stdout.contains("target online"),
        "the walk stops: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_region_stops_at_once_and_json_is_one_object() {
    let scratch = Scratch::new();
    let (code, stdout, _) = run_to_end(ssm_forward(&scratch).arg("doctor")).await;
    assert_eq!(code, 2, "{stdout}");
    assert_eq!(
        stdout,
        "✘ region: no region configured; fix: pass --region, set AWS_REGION, or set region in \
         your profile\n"
    );

    let sim = sim(SimConfig::default()).await;
    let (code, stdout, _) = doctor(&sim, &["--json", "--target", "i-0off000000000000c"]).await;
    assert_eq!(code, 3);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["ok"], false);
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks[0]["check"], "region");
    assert_eq!(checks[0]["outcome"], "pass");
    let offline = checks
        .iter()
        .find(|c| c["check"] == "target online")
        .unwrap();
    assert_eq!(offline["outcome"], "fail");
    assert!(
        offline["fix"]
            .as_str()
            .unwrap()
            .starts_with("start the instance")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_stop_the_walk_with_what_to_set() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let (code, stdout, _) = run_to_end(
        ssm_forward(&scratch)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .arg("doctor")
            .args(aws_flags(&sim)),
    )
    .await;
    assert_eq!(code, 4, "{stdout}");
    let credentials = line(&stdout, "✘ credentials: none found");
    assert!(
        credentials.contains("fix: set AWS_PROFILE"),
        "{credentials}"
    );
    assert!(!stdout.contains("ssm api"), "the walk stops: {stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sso_session_is_checked_signed_in_and_expired() {
    let lab = Lab::start(SsoConfig::default()).await;
    let doctor = || {
        let mut command = lab.command();
        command
            .args(["doctor", "--profile", "dev", "--endpoint-url"])
            .arg(lab.sim.endpoint_url());
        command
    };
    lab.write_expired_token("corp", false);
    let (code, stdout, _) = run_to_end(&mut doctor()).await;
    assert_eq!(code, 4, "{stdout}");
    assert_eq!(
        line(&stdout, "✘ sso session"),
        "✘ sso session: profile dev: expired; fix: run `ssm-forward login --profile dev`"
    );

    let (code, stderr) = lab.login(&["--profile", "dev"]).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run_to_end(&mut doctor()).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        line(&stdout, "✔ region"),
        "✔ region: us-east-1 (from profile dev in the AWS config file)"
    );
    line(&stdout, "✔ sso session: profile dev: signed in until ");
    line(&stdout, "✔ credentials: temporary, from ");
    let caller = line(
        &stdout,
        "✔ caller: arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_",
    );
    assert!(caller.contains("ssm-forward-user"), "{caller}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eks_cluster_shows_its_endpoint_access_and_kubeconfig_context() {
    let config = SimConfig {
        clusters: vec![
            ClusterConfig::new("demo").with_access(false, true),
            ClusterConfig::new("public").with_access(true, false),
        ],
        ..SimConfig::default()
    };
    let sim = sim(config).await;
    let scratch = Scratch::new();
    let kubeconfig = scratch.join("kubeconfig");
    let doctor = |cluster: &str| {
        let mut command = ssm_forward(&scratch);
        command
            .env("KUBECONFIG", &kubeconfig)
            .args(["doctor", "--eks-cluster", cluster])
            .args(aws_flags(&sim));
        command
    };
    let (code, stdout, stderr) = run_to_end(&mut doctor("demo")).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    line(
        &stdout,
        "✔ eks cluster: demo: ACTIVE, endpoint access private",
    );
    let missing = line(&stdout, "! kubeconfig: ");
    assert!(
        missing.contains("does not exist yet; fix: run `ssm-forward eks connect demo`"),
        "{missing}"
    );
    line(&stdout, "✔ target: eks-cluster:demo → i-0eks");

    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: ssm-demo\nclusters: []\nusers: []\n\
         contexts:\n- name: ssm-demo\n  context: {cluster: ssm-demo, user: ssm-demo}\n",
    )
    .unwrap();
    let (code, stdout, _) = run_to_end(&mut doctor("demo")).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        line(&stdout, "✔ kubeconfig: ").ends_with("context ssm-demo (the current context)"),
        "{stdout}"
    );

    let (_, stdout, _) = run_to_end(&mut doctor("public")).await;
    line(
        &stdout,
        "! eks cluster: cluster \"public\" has no private endpoint access",
    );
}
