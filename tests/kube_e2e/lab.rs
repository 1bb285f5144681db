//! Everything the kube_e2e test runs against, started in order on
//! 127.0.0.1: certificates, the stand-in API server, privoxy, ssm-sim
//! and `ssm-forward`; plus the commands and counters the steps use.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ssm_sim::Simulator;
use tempfile::TempDir;
use tokio::process::Command;

use super::apiserver::ApiServer;
use super::forward::{Forward, start_sim};
use super::pki::Pki;
use super::privoxy::Privoxy;
use super::process::{Tools, clean_command, report};

/// The longest any one step may take (generous: 2 loaded cores).
pub(crate) const STEP: Duration = Duration::from_secs(60);
/// The API server's private name: only privoxy resolves it, as only the
/// VPC resolves a private EKS endpoint, so kubectl cannot bypass the
/// tunnel. (Go never proxies 127.0.0.1 or `localhost` from HTTPS_PROXY.)
pub(crate) const API_HOST: &str = "kube-api.e2e.internal";

/// The running pieces, stopped (children killed) on drop.
#[derive(Debug)]
pub(crate) struct Lab {
    pub(crate) tools: Tools,
    pub(crate) pki: Pki,
    pub(crate) api: ApiServer,
    pub(crate) privoxy: Privoxy,
    pub(crate) sim: Simulator,
    pub(crate) forward: Forward,
    /// Scratch space: HOME of every child, kubeconfigs, privoxy's files.
    dir: TempDir,
}

impl Lab {
    /// Starts everything, reporting each piece; panics with the reason
    /// when something does not come up.
    pub(crate) async fn start() -> Self {
        let tools = Tools::from_env();
        let dir = tempfile::Builder::new()
            .prefix("ssm-kube-e2e-")
            .tempdir()
            .expect("scratch directory");
        let started = Instant::now();
        let pki = Pki::generate(&["127.0.0.1", API_HOST]).expect("test certificates");
        std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("write ca.pem");
        let api = ApiServer::start(&pki).await.expect("API server starts");
        let what = format!("stand-in API server https://{API_HOST}:{}", api.addr.port());
        report(
            &what,
            &format!("listening on {}", api.addr),
            started.elapsed(),
        );
        let privoxy = start_privoxy(&tools, dir.path()).await;
        let sim = start_sim().await.expect("simulator starts");
        let forward = start_forward(&tools, &sim, &privoxy, dir.path()).await;
        Self {
            tools,
            pki,
            api,
            privoxy,
            sim,
            forward,
            dir,
        }
    }

    /// The scratch directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate file.
    pub(crate) fn ca_file(&self) -> PathBuf {
        self.dir().join("ca.pem")
    }

    /// The API server's URL under its private name.
    pub(crate) fn server_url(&self) -> String {
        format!("https://{API_HOST}:{}", self.api.addr.port())
    }

    /// kubectl with a clean environment and this kubeconfig.
    pub(crate) fn kubectl(&self, kubeconfig: &Path) -> Command {
        let mut command = clean_command(&self.tools.kubectl, self.dir());
        command.env("KUBECONFIG", kubeconfig);
        command
    }

    /// A program with a clean environment (HOME in the scratch directory).
    pub(crate) fn command(&self, program: &Path) -> Command {
        clean_command(program, self.dir())
    }

    /// Connections the simulated agent opened to privoxy so far, over
    /// every session: how many went through the tunnel.
    pub(crate) fn tunnelled(&self) -> u64 {
        self.sim
            .sessions()
            .iter()
            .map(|session| session.stats.streams_opened)
            .sum()
    }

    /// The API server's requests, privoxy's log and ssm-forward's output
    /// (the last lines of each), for failure messages.
    pub(crate) fn diagnostics(&self) -> String {
        format!(
            "=== API server requests\n{}=== privoxy\n{}\n=== ssm-forward\n{}",
            tail(&self.api.transcript(), 60),
            tail(&self.privoxy.log(), 60),
            tail(&self.forward.transcript(), 60)
        )
    }
}

async fn start_privoxy(tools: &Tools, dir: &Path) -> Privoxy {
    let started = Instant::now();
    let privoxy_dir = dir.join("privoxy");
    std::fs::create_dir_all(&privoxy_dir).expect("privoxy directory");
    let hosts = format!("127.0.0.1 localhost\n127.0.0.1 {API_HOST}\n");
    let privoxy = Privoxy::start(&tools.privoxy, &privoxy_dir, &hosts, STEP)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let result = format!("listening on {}", privoxy.addr);
    report(
        &format!("{} (own /etc/hosts)", tools.privoxy.display()),
        &result,
        started.elapsed(),
    );
    privoxy
}

async fn start_forward(tools: &Tools, sim: &Simulator, privoxy: &Privoxy, dir: &Path) -> Forward {
    let started = Instant::now();
    let port = privoxy.addr.port();
    let forward = Forward::start(&tools.ssm_forward, sim, port, dir, STEP)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let what = format!(
        "ssm-forward --target {} --remote-host {} --remote-port {port} --local-port 0 (ssm-sim realistic)",
        super::forward::TARGET,
        super::forward::PRIVOXY_HOST
    );
    let result = format!("ready on {}, session {}", forward.addr, forward.session_id);
    report(&what, &result, started.elapsed());
    forward
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..]
        .iter()
        .map(|line| format!("{line}\n"))
        .collect()
}
