//! The `eks connect` lab: a stand-in API server that accepts only valid
//! EKS tokens for cluster [`CLUSTER`] (checked by the independent
//! verifier), ssm-sim serving that cluster from EKS DescribeCluster with
//! one online node, and optionally privoxy (proxy mode). The endpoint's
//! host name resolves only where the VPC would resolve it: in the
//! simulated agent (direct mode, by a host override) or in privoxy
//! (proxy mode, by its own /etc/hosts).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use ssm_sim::{ClusterConfig, RealismConfig, SimConfig, Simulator};
use ssm_tests::eks_token::Expected;
use tempfile::TempDir;
use tokio::process::Command;

use super::apiserver::ApiServer;
use super::pki::Pki;
use super::privoxy::Privoxy;
use super::process::{Running, Tools, clean_command, report};

/// The EKS cluster.
pub(crate) const CLUSTER: &str = "prod";
/// Its region.
pub(crate) const REGION: &str = "us-east-1";
/// The context `eks connect` writes by default.
pub(crate) const CONTEXT: &str = "ssm-prod";
/// The private endpoint's host name.
pub(crate) const EKS_HOST: &str =
    "0123456789abcdef0123456789abcdef.gr7.us-east-1.eks.amazonaws.com";
/// The only access key the API server's token check knows.
pub(crate) const KEY_ID: &str = "AKIAEKSE2ETESTKEY001";
/// Its secret.
pub(crate) const SECRET: &str = "eks-e2e-secret-key";
/// The privoxy name the agent resolves (proxy mode).
pub(crate) const PRIVOXY_HOST: &str = "privoxy.cluster.internal";
/// The cluster's node.
const NODE: &str = "i-0e2e0000000000001";
/// The longest one step may take.
pub(crate) const STEP: Duration = Duration::from_secs(60);

/// How kubectl reaches the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `eks connect` (tls-server-name).
    Direct,
    /// `eks connect --via-proxy` (privoxy, proxy-url).
    Proxy,
    /// `eks connect --via-local-proxy` (ssm-forward's own proxy is the
    /// proxy-url; nothing in the cluster).
    LocalProxy,
}

/// The running pieces; children are killed on drop.
#[derive(Debug)]
pub(crate) struct EksLab {
    pub(crate) tools: Tools,
    pub(crate) api: ApiServer,
    pub(crate) privoxy: Option<Privoxy>,
    pub(crate) sim: Simulator,
    pub(crate) pki: Pki,
    dir: TempDir,
}

impl EksLab {
    /// Starts the API server, privoxy (proxy mode) and ssm-sim.
    pub(crate) async fn start(mode: Mode) -> Self {
        let tools = Tools::from_env();
        let dir = tempfile::Builder::new()
            .prefix("ssm-eks-e2e-")
            .tempdir()
            .expect("scratch directory");
        let pki = Pki::generate(&[EKS_HOST]).expect("test certificates");
        let expected = Expected::new(CLUSTER, REGION, KEY_ID, SECRET);
        let api = ApiServer::start_for_eks(&pki, expected)
            .await
            .expect("API server starts");
        let privoxy = match mode {
            Mode::Direct | Mode::LocalProxy => None,
            Mode::Proxy => Some(start_privoxy(&tools, dir.path()).await),
        };
        let sim = start_sim(mode, &pki, &api).await.expect("simulator starts");
        Self {
            tools,
            api,
            privoxy,
            sim,
            pki,
            dir,
        }
    }

    /// The scratch directory (HOME of every child).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `command` with a clean environment plus the test's AWS identity,
    /// empty AWS files and no instance metadata: what both ssm-forward
    /// and kubectl (for the token plugin it runs) see.
    pub(crate) fn with_aws(&self, program: &Path) -> Command {
        let config = self.dir().join("aws-config");
        let credentials = self.dir().join("aws-credentials");
        std::fs::write(&config, "").expect("aws config");
        std::fs::write(&credentials, "").expect("aws credentials");
        let mut command = clean_command(program, self.dir());
        command
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", config)
            .env("AWS_SHARED_CREDENTIALS_FILE", credentials);
        command
    }

    /// kubectl on `kubeconfig` with the AWS identity (for `eks token`).
    pub(crate) fn kubectl(&self, kubeconfig: &Path) -> Command {
        let mut command = self.with_aws(&self.tools.kubectl);
        command.env("KUBECONFIG", kubeconfig);
        command
    }

    /// `ssm-forward ARGS…` against the simulator.
    pub(crate) fn ssm_forward(&self, args: &[&str]) -> Command {
        let mut command = self.with_aws(&self.tools.ssm_forward);
        command
            .args(args)
            .args(["--endpoint-url", &self.sim.endpoint_url()]);
        command
    }

    /// Starts `eks connect` with `extra` flags; returns it once its ready
    /// file is there and it said what to run next.
    pub(crate) async fn connect(&self, kubeconfig: &Path, extra: &[&str]) -> Connected {
        let ready_file = self.dir().join("eks-ready.json");
        let _ = std::fs::remove_file(&ready_file);
        let started = Instant::now();
        let mut args = vec![
            "eks",
            "connect",
            CLUSTER,
            "--region",
            REGION,
            "--local-port",
            "0",
        ];
        args.extend_from_slice(extra);
        let mut command = self.ssm_forward(&args);
        command
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--ready-file")
            .arg(&ready_file);
        let mut process = Running::spawn(&mut command).expect("spawn ssm-forward eks connect");
        let next = format!("kubectl --context {CONTEXT} get nodes");
        let deadline = Instant::now() + STEP;
        let ready = loop {
            if let Some(ready) = read_json(&ready_file)
                && process.stdout().contains(&next)
            {
                break ready;
            }
            if let Some(status) = process.exited() {
                panic!(
                    "eks connect exited ({status}) before it was ready\n{}",
                    process.transcript()
                );
            }
            assert!(
                Instant::now() < deadline,
                "eks connect not ready\n{}",
                process.transcript()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let session_id = ready["forwards"][0]["session_id"]
            .as_str()
            .expect("session id in the ready file")
            .to_owned();
        report(
            &format!("ssm-forward eks connect {CLUSTER} {}", extra.join(" ")),
            &format!("ready; it says: {next}"),
            started.elapsed(),
        );
        Connected {
            process,
            session_id,
        }
    }

    /// API server requests, privoxy's log, for failure messages.
    pub(crate) fn diagnostics(&self, connect: &Connected) -> String {
        format!(
            "=== API server requests\n{}=== privoxy\n{}\n=== ssm-forward\n{}",
            self.api.transcript(),
            self.privoxy.as_ref().map(Privoxy::log).unwrap_or_default(),
            connect.process.transcript()
        )
    }
}

/// A running `eks connect`.
#[derive(Debug)]
pub(crate) struct Connected {
    pub(crate) process: Running,
    pub(crate) session_id: String,
}

impl Connected {
    /// SIGINT; the exit code.
    pub(crate) async fn interrupt(&mut self) -> i32 {
        assert!(self.process.signal("INT"), "kill -INT failed");
        let status =
            self.process.wait(STEP).await.unwrap_or_else(|| {
                panic!("still running after SIGINT\n{}", self.process.transcript())
            });
        status.code().unwrap_or(-1)
    }
}

/// A kubeconfig as a user might have it before `eks connect`: another
/// cluster, a comment, mode 0640.
pub(crate) fn existing_kubeconfig(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("kubeconfig");
    let text = "\
# my own clusters; ssm-forward must give this file back as it was
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://staging.example:6443
  name: staging
contexts:
- context:
    cluster: staging
    user: staging
  name: staging
current-context: staging
preferences: {}
users:
- name: staging
  user:
    token: staging-token
";
    std::fs::write(&path, text).expect("write kubeconfig");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))
            .expect("chmod kubeconfig");
    }
    (path, text.to_owned())
}

/// The `server:` of the context `eks connect` wrote into `kubeconfig`.
pub(crate) fn written_server(kubeconfig: &Path) -> String {
    let text = std::fs::read_to_string(kubeconfig).expect("read kubeconfig");
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("server: "))
        .find(|server| server.starts_with("https://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no server on 127.0.0.1 in\n{text}"))
        .to_owned()
}

/// A kubeconfig like the direct-mode context but with a fixed `token`
/// instead of the exec plugin: for tokens the server must refuse.
pub(crate) fn with_static_token(lab: &EksLab, server: &str, name: &str, token: &str) -> PathBuf {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(&lab.pki.ca_pem);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n    \
         certificate-authority-data: {ca}\n    tls-server-name: {EKS_HOST}\n  name: c\n\
         contexts:\n- context: {{cluster: c, user: u}}\n  name: c\ncurrent-context: c\n\
         users:\n- name: u\n  user:\n    token: {token}\n"
    );
    let path = lab.dir().join(name);
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// A token for `cluster` signed with the test key at `signed_at`.
pub(crate) fn token_for(cluster: &str, signed_at: SystemTime) -> String {
    let credentials = aws_credential_types::Credentials::new(KEY_ID, SECRET, None, None, "e2e");
    ssm_eks_auth::presign::token(&credentials, cluster, REGION, signed_at)
        .expect("token")
        .into_string()
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

async fn start_privoxy(tools: &Tools, dir: &Path) -> Privoxy {
    let privoxy_dir = dir.join("privoxy");
    std::fs::create_dir_all(&privoxy_dir).expect("privoxy directory");
    let hosts = format!("127.0.0.1 localhost\n127.0.0.1 {EKS_HOST}\n");
    Privoxy::start(&tools.privoxy, &privoxy_dir, &hosts, STEP)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

/// ssm-sim with the cluster and its node. Direct mode: the endpoint is
/// `EKS_HOST` (port 443), which the agent maps to the API server. Proxy
/// mode: the endpoint names the API server's port, privoxy resolves the
/// host, and the agent maps `PRIVOXY_HOST` to loopback.
async fn start_sim(mode: Mode, pki: &Pki, api: &ApiServer) -> std::io::Result<Simulator> {
    let endpoint = match mode {
        Mode::Direct => EKS_HOST.to_owned(),
        Mode::Proxy | Mode::LocalProxy => format!("{EKS_HOST}:{}", api.addr.port()),
    };
    let cluster = ClusterConfig::new(CLUSTER)
        .with_endpoint_host(&endpoint)
        .with_ca_pem(&pki.ca_pem);
    let mut config = SimConfig {
        realism: RealismConfig::realistic(),
        region: REGION.into(),
        ..SimConfig::default()
    };
    config.instances.push(cluster.node(NODE));
    config.clusters = vec![cluster];
    let overrides = &mut config.destinations.host_overrides;
    match mode {
        Mode::Direct => overrides.insert(EKS_HOST.into(), api.addr.to_string()),
        Mode::Proxy => overrides.insert(PRIVOXY_HOST.into(), "127.0.0.1".into()),
        // The agent resolves the endpoint's name (to the API server here).
        Mode::LocalProxy => overrides.insert(EKS_HOST.into(), "127.0.0.1".into()),
    };
    Simulator::start(config).await
}
