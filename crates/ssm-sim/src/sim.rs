//! The whole simulator on loopback: API, gateway and built-in targets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use ssm_proto::message::MessageType;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::gateway::network::{Network, NetworkGate};
use crate::gateway::{self, publication_notice};
use crate::hostile::Hostile;
use crate::messages::{AgentInput, ToClient};
use crate::registry::{EndCause, Registry, SessionSummary};
use crate::service::Service;
use crate::{api, targets};

/// Something to do to a live session's client socket, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// Send `pause_publication`.
    PausePublication,
    /// Send `start_publication`.
    StartPublication,
    /// Close with a close frame (1000 "Bye" is the hourly recycle).
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// Drop the TCP connection without a close frame.
    Abort,
    /// Stop serving the socket without closing it: nothing is read, sent
    /// or answered (no pongs), like a dead NAT mapping. The client has to
    /// notice by itself and resume on a new socket.
    Freeze,
    /// Send these bytes as one binary frame (hostile-peer tests).
    RawFrame(Bytes),
    /// Misbehave like a hostile peer (see [`Hostile`]): a malformed
    /// frame, or sequenced agent output a client must process. Kinds that
    /// need the port plugin (smux frames, flood) are ignored until the
    /// handshake is complete; the smux kinds also in basic mode.
    Hostile(Hostile),
}

/// What automation needs to know once the simulator listens; written to
/// `--ready-file` and printed on one stdout line by the binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadyInfo {
    /// SSM API endpoint URL (`http://127.0.0.1:PORT`).
    pub endpoint_url: String,
    /// Base URL of the data-channel gateway.
    pub gateway_url: String,
    /// Region the simulator claims.
    pub region: String,
    /// Instance ids it serves.
    pub instances: Vec<String>,
    /// EKS cluster names it serves.
    pub clusters: Vec<String>,
    /// Address of the built-in echo target.
    pub echo_addr: String,
    /// Address of the built-in HTTP proxy target.
    pub proxy_addr: String,
    /// IAM Identity Center start URL to configure (`sso_start_url`); the
    /// SSO OIDC and portal endpoints are `endpoint_url`.
    pub sso_start_url: String,
}

/// A running simulator. Dropping it stops every listener.
#[derive(Debug)]
pub struct Simulator {
    service: Service,
    api_addr: SocketAddr,
    gateway_addr: SocketAddr,
    echo_addr: SocketAddr,
    proxy_addr: SocketAddr,
    network: Arc<NetworkGate>,
    tasks: Vec<JoinHandle<()>>,
    api_shutdown: Option<oneshot::Sender<()>>,
}

impl Simulator {
    /// Binds the listeners (port 0 picks free ports) and starts serving.
    ///
    /// The built-in echo and HTTP proxy targets are reachable from
    /// sessions as [`targets::ECHO_HOST`] and [`targets::PROXY_HOST`].
    /// Fails with `InvalidInput` when a cluster's configuration is bad or
    /// its `ca_file` unreadable ([`crate::eks::prepare_clusters`]).
    pub async fn start(mut config: SimConfig) -> std::io::Result<Self> {
        crate::eks::prepare_clusters(&mut config.clusters)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let (echo_addr, echo_task) = targets::spawn_echo_server().await?;
        let overrides = &mut config.destinations.host_overrides;
        overrides
            .entry(targets::ECHO_HOST.into())
            .or_insert_with(|| echo_addr.to_string());
        let (proxy_addr, proxy_task) =
            targets::spawn_http_proxy(config.destinations.clone()).await?;
        let overrides = &mut config.destinations.host_overrides;
        overrides
            .entry(targets::PROXY_HOST.into())
            .or_insert_with(|| proxy_addr.to_string());
        let gateway_listener = TcpListener::bind(&config.gateway_addr).await?;
        let api_listener = TcpListener::bind(&config.api_addr).await?;
        let gateway_addr = gateway_listener.local_addr()?;
        let api_addr = api_listener.local_addr()?;
        let config = Arc::new(config);
        let registry = Arc::new(Registry::default());
        let service = Service::new(
            config.clone(),
            registry.clone(),
            format!("ws://{gateway_addr}"),
        );
        let (api_shutdown, api_stop) = oneshot::channel::<()>();
        let api_service = service.clone();
        let network = Arc::new(NetworkGate::default());
        let gateway = gateway::serve(gateway_listener, config, registry, network.clone());
        let tasks = vec![
            echo_task,
            proxy_task,
            tokio::spawn(gateway),
            tokio::spawn(async move {
                let stop = async move {
                    let _ = api_stop.await;
                };
                if let Err(error) = api::serve(api_listener, api_service, stop).await {
                    tracing::warn!(%error, "API server stopped");
                }
            }),
        ];
        tracing::info!(%api_addr, %gateway_addr, "ssm-sim listening");
        Ok(Self {
            service,
            api_addr,
            gateway_addr,
            echo_addr,
            proxy_addr,
            network,
            tasks,
            api_shutdown: Some(api_shutdown),
        })
    }

    /// The SSM API endpoint URL, for `--endpoint-url` / `AWS_ENDPOINT_URL_SSM`;
    /// it serves the EKS, STS and SSO fakes too (`AWS_ENDPOINT_URL_SSO_OIDC`,
    /// `AWS_ENDPOINT_URL_SSO`).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The gateway's base URL (`ws://127.0.0.1:PORT`).
    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.gateway_addr)
    }

    /// The built-in echo target.
    pub fn echo_addr(&self) -> SocketAddr {
        self.echo_addr
    }

    /// The built-in HTTP proxy target.
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    /// The simulated IAM Identity Center: approve or deny device
    /// authorizations, list pending ones, expire tokens and credentials,
    /// read its counters.
    pub fn sso(&self) -> &crate::sso::Sso {
        self.service.sso()
    }

    /// The session operations (StartSession etc. without HTTP).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Everything automation needs to connect.
    pub fn ready_info(&self) -> ReadyInfo {
        let config = self.service.config();
        ReadyInfo {
            endpoint_url: self.endpoint_url(),
            gateway_url: self.gateway_url(),
            region: config.region.clone(),
            instances: config.instances.iter().map(|i| i.id.clone()).collect(),
            clusters: config.clusters.iter().map(|c| c.name.clone()).collect(),
            echo_addr: self.echo_addr.to_string(),
            proxy_addr: self.proxy_addr.to_string(),
            sso_start_url: config.sso.start_url.clone(),
        }
    }

    /// One session's state and counters.
    pub fn session(&self, session_id: &str) -> Option<SessionSummary> {
        self.service.registry().summary(session_id)
    }

    /// Every token issued for a session (StartSession, then each
    /// ResumeSession), so tests can check that no client logs one.
    pub fn issued_tokens(&self, session_id: &str) -> Vec<String> {
        self.service
            .registry()
            .with(session_id, |record| record.issued_tokens.clone())
            .unwrap_or_default()
    }

    /// StartSession calls so far: how many, the most in any second and
    /// the most sessions starting at once (StartSession called, handshake
    /// not complete), to check that a client never bursts starts.
    pub fn start_stats(&self) -> crate::starts::StartStats {
        self.service.registry().starts().stats()
    }

    /// Every session, oldest first.
    pub fn sessions(&self) -> Vec<SessionSummary> {
        self.service.registry().summaries()
    }

    /// Waits until `condition` holds for the session (polling every
    /// 10 ms) or `timeout` passes; returns the last summary seen.
    pub async fn wait_for(
        &self,
        session_id: &str,
        timeout: Duration,
        condition: impl Fn(&SessionSummary) -> bool,
    ) -> Option<SessionSummary> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let summary = self.session(session_id);
            if summary.as_ref().is_some_and(&condition) || tokio::time::Instant::now() >= deadline {
                return summary;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Applies an injection to a live session; false if it is not live.
    pub fn inject(&self, session_id: &str, injection: Injection) -> bool {
        let item = match injection {
            Injection::PausePublication => {
                ToClient::Frame(publication_notice(MessageType::PausePublication))
            }
            Injection::StartPublication => {
                ToClient::Frame(publication_notice(MessageType::StartPublication))
            }
            Injection::Close { code, reason } => ToClient::Close(code, reason),
            Injection::Abort => ToClient::Abort,
            Injection::Freeze => ToClient::Freeze,
            Injection::RawFrame(bytes) => ToClient::Frame(bytes),
            Injection::Hostile(kind) => {
                return self.send_to_agent(session_id, AgentInput::Hostile(kind));
            }
        };
        self.send_to_agent(session_id, AgentInput::Inject(item))
    }

    /// Changes the network between the clients and the gateway, for
    /// every session at once (a laptop moving to another Wi-Fi):
    /// [`Network::Frozen`] freezes every live session's socket and holds
    /// new connections unanswered, [`Network::Reset`] aborts them all and
    /// resets new ones, [`Network::Up`] lets new connections through again
    /// (sockets frozen before stay frozen). The API is not affected.
    pub fn set_network(&self, network: Network) {
        self.network.set(network);
        let item = match network {
            Network::Up => return,
            Network::Frozen => ToClient::Freeze,
            Network::Reset => ToClient::Abort,
        };
        for agent in self.service.registry().live_agents() {
            let _ = agent.send(AgentInput::Inject(item.clone()));
        }
    }

    fn send_to_agent(&self, session_id: &str, input: AgentInput) -> bool {
        self.service
            .registry()
            .with(session_id, |record| record.agent.send(input).is_ok())
            .unwrap_or(false)
    }

    /// Takes an instance offline at run time (or back online): its live
    /// sessions fail with channel_closed, StartSession answers
    /// TargetNotConnected and DescribeInstanceInformation reports
    /// `ConnectionLost`. False for an unknown instance id.
    pub fn set_instance_online(&self, instance_id: &str, online: bool) -> bool {
        self.service.set_instance_online(instance_id, online)
    }

    /// Ends every live session (channel_closed to connected clients), then
    /// stops the listeners.
    pub async fn shutdown(mut self) {
        for agent in self.service.registry().live_agents() {
            let _ = agent.send(AgentInput::Terminate(EndCause::Shutdown));
        }
        let registry = self.service.registry().clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while !registry.live_agents().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(stop) = self.api_shutdown.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
