//! `ssm-forward up NAME` for a configuration-file forward with
//! `eks_cluster` + `kubeconfig`, end to end against ssm-sim (which
//! serves DescribeCluster): next to a plain forward, the context is
//! written with the port bound for it, the next step is printed once
//! ready, and `cleanup = true` gives the kubeconfig back byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{BASTION, Child, Scratch, ready_forward, sim, ssm_forward};
use ssm_sim::{SimConfig, Simulator};
use yaml_serde::Value;

/// How long a clean exit may take after a signal.
const EXIT: Duration = Duration::from_secs(3);

/// A kubeconfig the user already had, comments included.
const ORIGINAL: &str = "\
# my clusters
apiVersion: v1
kind: Config
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:6443
contexts:
- name: kind-dev
  context: {cluster: kind-dev, user: kind-dev}
current-context: kind-dev
users:
- name: kind-dev
  user: {token: abc}
";

/// A plain forward through the bastion and the `demo` cluster's context
/// forward, in that order.
fn write_config(scratch: &Scratch, sim: &Simulator, kubeconfig: &Path) -> PathBuf {
    let endpoint = sim.endpoint_url();
    let aws = format!("endpoint_url = \"{endpoint}\"\nregion = \"us-east-1\"");
    let text = format!(
        "[forwards.echo]\ntarget = \"name:bastion\"\nremote_host = \"echo.sim.internal\"\n\
         remote_port = 7\nlocal_port = 0\n{aws}\n\n\
         [forwards.demo]\neks_cluster = \"demo\"\nkubeconfig = true\nkubeconfig_path = \"{}\"\n\
         local_port = 0\ncleanup = true\n{aws}\n",
        kubeconfig.display()
    );
    let path = scratch.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The entry named `name` of the kubeconfig list `list`.
fn entry<'a>(config: &'a Value, list: &str, name: &str) -> &'a Value {
    config[list]
        .as_sequence()
        .unwrap_or_else(|| panic!("no {list} in {config:?}"))
        .iter()
        .find(|entry| entry["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {list}/{name} in {config:?}"))
}

/// The host name the simulator reports for the `demo` cluster.
fn demo_endpoint_host() -> String {
    SimConfig::default()
        .clusters
        .iter()
        .find(|cluster| cluster.name == "demo")
        .expect("the default simulator has cluster demo")
        .endpoint_host("us-east-1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_writes_the_eks_context_for_its_port_and_cleanup_restores_the_kubeconfig() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let kubeconfig = scratch.join("kube-config");
    std::fs::write(&kubeconfig, ORIGINAL).unwrap();
    let config = write_config(&scratch, &sim, &kubeconfig);
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args(["up", "echo", "demo", "--config"])
            .arg(&config)
            .arg("--ready-file")
            .arg(&ready_path),
    );
    let ready = child.wait_ready(&ready_path).await;
    let (echo_address, echo_target, _) = ready_forward(&ready, 0);
    let (demo_address, demo_target, demo_session) = ready_forward(&ready, 1);
    assert_eq!(echo_target, BASTION);
    assert!(demo_target.starts_with("i-0eks"), "{ready}");
    assert_ne!(echo_address.port(), demo_address.port());
    let host = demo_endpoint_host();
    let summary = sim.session(&demo_session).expect("session known");
    assert_eq!(summary.target, demo_target);
    child
        .wait_stdout("Ready. In another terminal:\n  kubectl --context ssm-demo get nodes\n")
        .await;

    let written: Value = yaml_serde::from_str(&std::fs::read_to_string(&kubeconfig).unwrap())
        .expect("the kubeconfig is YAML");
    let cluster = &entry(&written, "clusters", "ssm-demo")["cluster"];
    assert_eq!(
        cluster["server"].as_str(),
        Some(format!("https://127.0.0.1:{}", demo_address.port()).as_str()),
        "{written:?}"
    );
    assert_eq!(cluster["tls-server-name"].as_str(), Some(host.as_str()));
    assert!(cluster["certificate-authority-data"].as_str().is_some());
    let context = &entry(&written, "contexts", "ssm-demo")["context"];
    assert_eq!(context["cluster"].as_str(), Some("ssm-demo"));
    assert_eq!(context["user"].as_str(), Some("ssm-demo"));
    let exec = &entry(&written, "users", "ssm-demo")["user"]["exec"];
    let args: Vec<&str> = exec["args"]
        .as_sequence()
        .expect("exec args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        args,
        ["eks", "token", "--cluster", "demo", "--region", "us-east-1"]
    );
    assert!(exec["command"].as_str().is_some(), "{exec:?}");
    entry(&written, "contexts", "kind-dev");
    assert_eq!(written["current-context"].as_str(), Some("kind-dev"));

    // Service managers stop it with SIGTERM: the same clean exit as Ctrl-C.
    child.signal("TERM");
    assert_eq!(
        child.exit(EXIT).await.code(),
        Some(0),
        "{}",
        child.transcript()
    );
    assert_eq!(
        std::fs::read_to_string(&kubeconfig).unwrap(),
        ORIGINAL,
        "{}",
        child.transcript()
    );
    assert!(
        child.stderr().contains("context ssm-demo removed"),
        "{}",
        child.transcript()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_cluster_fails_before_anything_is_written() {
    let sim = sim(SimConfig::default()).await;
    let scratch = Scratch::new();
    let kubeconfig = scratch.join("kube-config");
    std::fs::write(&kubeconfig, ORIGINAL).unwrap();
    let config = write_config(&scratch, &sim, &kubeconfig);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("eks_cluster = \"demo\"", "eks_cluster = \"nope\"");
    std::fs::write(&config, text).unwrap();
    let (code, _, stderr) = common::run_to_end(
        ssm_forward(&scratch)
            .args(["up", "demo", "--config"])
            .arg(&config),
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no EKS cluster named \"nope\""), "{stderr}");
    assert_eq!(std::fs::read_to_string(&kubeconfig).unwrap(), ORIGINAL);
    assert!(sim.sessions().is_empty());
}
