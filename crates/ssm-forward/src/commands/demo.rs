//! `ssm-forward demo`: a complete port forward through Session Manager on
//! this machine, with no AWS account.
//!
//! It starts the service simulator (`ssm-sim`, realistic timing) and a
//! small web service reachable only through the simulator's HTTP proxy
//! (a privoxy stand-in next to the instance), forwards a local port to
//! that proxy through a real session ([`crate::forwarding::supervisor`]
//! with the normal client on the simulator's SSM API), then makes
//! requests through the tunnel the way `curl -x` and kubectl do and
//! reports timings and the simulator's counters. Unless `--once`, the
//! forward stays open for trying by hand until Ctrl-C, which terminates
//! the session cleanly.
//!
//! The SDK configuration is [`ssm_client::simulator_sdk_config`]: fixed
//! dummy credentials, no profile files, no instance metadata.

mod http;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ssm_client::{AwsSessionApi, ClientConfig, SessionApi, simulator_sdk_config};
use ssm_sim::{EndCause, RealismConfig, SessionStats, SimConfig, Simulator};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::forwarding::supervisor::{self, ForwardEvent, ForwardSpec};
use crate::signals::{Signals, StopSignal};
use http::SERVICE_HOST;

/// The simulated instance the demo goes through.
const INSTANCE: &str = "i-0123456789abcdef0";
/// The proxy's port as a user would give it (privoxy's usual port).
const PROXY_PORT: u16 = 8118;
/// How long the session may take to come up.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one request through the tunnel may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Arguments of `ssm-forward demo`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Make the requests, print the results and exit instead of keeping
    /// the forward open.
    #[arg(long)]
    pub once: bool,
    /// Local port of the forward (0 picks a free port).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,
}

/// Runs the demo, reporting on stdout.
pub async fn run(args: Args) -> anyhow::Result<()> {
    execute(args, &mut std::io::stdout()).await
}

/// Runs the demo, reporting to `out`.
pub async fn execute(args: Args, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let mut demo = Demo::start(args.port, out).await?;
    let result = demo.show(out, args.once).await;
    let stopped = demo.stop(out).await;
    result.and(stopped)
}

/// Everything the demo runs.
#[derive(Debug)]
struct Demo {
    sim: Simulator,
    web: JoinHandle<()>,
    local: SocketAddr,
    forward: JoinHandle<()>,
    shutdown: watch::Sender<bool>,
    events: mpsc::UnboundedReceiver<ForwardEvent>,
    started: Instant,
    session_id: Option<String>,
}

impl Demo {
    /// Starts the web service, the simulator and the forward.
    async fn start(port: u16, out: &mut (dyn Write + Send)) -> anyhow::Result<Self> {
        let (web_addr, web) = http::spawn_web_service()
            .await
            .context("cannot start the demo web service")?;
        let sim = start_simulator(web_addr).await?;
        intro(out, &sim)?;
        let spec = ForwardSpec {
            name: "demo".into(),
            target: INSTANCE.into(),
            remote_host: Some(ssm_sim::targets::PROXY_HOST.into()),
            remote_port: PROXY_PORT,
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            reason: Some("ssm-forward demo".into()),
            max_connections: crate::serve::DEFAULT_MAX_CONNECTIONS,
            sessions: 1,
            proxy: None,
        };
        let listener = supervisor::bind(&spec)
            .await
            .with_context(|| format!("cannot listen on {}: pick another --port", spec.bind))?;
        let local = listener.local_addr()?;
        writeln!(
            out,
            "Forwarding {local} → {}:{PROXY_PORT} through {INSTANCE}",
            ssm_sim::targets::PROXY_HOST
        )?;
        let api: Arc<dyn SessionApi> = Arc::new(AwsSessionApi::new(&simulator_sdk_config(
            &sim.endpoint_url(),
        )));
        let (events_tx, events) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let started = Instant::now();
        let service = supervisor::Service {
            api,
            config: ClientConfig::default(),
            retarget: None,
            live: Arc::default(),
            restart: supervisor::RestartPolicy::default(),
        };
        let forward = supervisor::run(listener, spec, service, events_tx, shutdown_rx);
        Ok(Self {
            sim,
            web,
            local,
            forward: tokio::spawn(forward),
            shutdown,
            events,
            started,
            session_id: None,
        })
    }

    /// Waits for the session, makes the requests, shows the counters and,
    /// unless `once`, waits for Ctrl-C.
    async fn show(&mut self, out: &mut (dyn Write + Send), once: bool) -> anyhow::Result<()> {
        self.wait_for_session(out).await?;
        self.requests(out).await?;
        self.counters(out)?;
        if !once {
            self.until_ctrl_c(out).await?;
        }
        Ok(())
    }

    async fn wait_for_session(&mut self, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SESSION_TIMEOUT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .context("the session did not come up in time")?
                .context("the forward stopped")?;
            match event {
                ForwardEvent::SessionUp {
                    session_id, mode, ..
                } => {
                    writeln!(
                        out,
                        "  session {session_id} ready in {} ({mode} mode; StartSession, \
                         data-channel WebSocket and handshake)\n",
                        millis(self.started.elapsed())
                    )?;
                    self.session_id = Some(session_id);
                    return Ok(());
                }
                ForwardEvent::StartFailed { error, .. } => {
                    bail!("the session did not start: {error}")
                }
                _ => {}
            }
        }
    }

    async fn requests(&mut self, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
        let proxy = self.local;
        writeln!(
            out,
            "Request 1: curl -x http://{proxy} http://{SERVICE_HOST}/version"
        )?;
        let started = Instant::now();
        let response = within(http::get_via_proxy(proxy, SERVICE_HOST, "/version")).await?;
        let note = self
            .refused_at_start()
            .then_some("includes waiting for the agent's port plugin to start");
        report_response(out, &response, started.elapsed(), note)?;
        writeln!(
            out,
            "Request 2: CONNECT {SERVICE_HOST}:80, then GET / in the tunnel \
             (what https clients and kubectl do)"
        )?;
        let started = Instant::now();
        let response = within(http::get_via_connect(proxy, SERVICE_HOST, "/")).await?;
        report_response(out, &response, started.elapsed(), None)
    }

    /// True when the simulated agent refused early data (its port plugin
    /// starts ~100 ms after the handshake in the realistic profile).
    fn refused_at_start(&self) -> bool {
        self.session_id
            .as_deref()
            .and_then(|id| self.sim.session(id))
            .is_some_and(|summary| summary.stats.not_ready_refusals > 0)
    }

    fn counters(&self, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
        let Some(id) = &self.session_id else {
            return Ok(());
        };
        let Some(summary) = self.sim.session(id) else {
            return Ok(());
        };
        writeln!(out, "What the simulated service counted for {id}:")?;
        write_stats(out, &summary.stats)?;
        writeln!(out)?;
        Ok(())
    }

    async fn until_ctrl_c(&mut self, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
        let proxy = format!("http://{}", self.local);
        writeln!(out, "The forward stays open. Try it from another terminal:")?;
        writeln!(out, "  curl -x {proxy} http://{SERVICE_HOST}/")?;
        writeln!(
            out,
            "  export HTTPS_PROXY={proxy}   # https clients and kubectl read this"
        )?;
        writeln!(
            out,
            "  export http_proxy={proxy}    # curl reads this one for http:// URLs"
        )?;
        writeln!(out, "  curl http://{SERVICE_HOST}/version")?;
        writeln!(out, "Press Ctrl-C to end the session and stop.")?;
        out.flush()?;
        let mut ctrl_c =
            Signals::new(&[StopSignal::Interrupt]).context("cannot listen for Ctrl-C")?;
        loop {
            tokio::select! {
                _ = ctrl_c.recv() => {
                    writeln!(out)?;
                    return Ok(());
                }
                Some(event) = self.events.recv() => {
                    if let Some(line) = describe(&event) {
                        writeln!(out, "  {line}")?;
                        out.flush()?;
                    }
                }
            }
        }
    }

    /// Ends the session (TerminateSession flag and API), then stops the
    /// simulator and the web service.
    async fn stop(self, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
        let Self {
            sim,
            web,
            local,
            mut forward,
            shutdown,
            session_id,
            ..
        } = self;
        let _ = shutdown.send(true);
        if tokio::time::timeout(Duration::from_secs(10), &mut forward)
            .await
            .is_err()
        {
            forward.abort();
        }
        if let Some(id) = &session_id {
            let ended = sim
                .wait_for(id, Duration::from_secs(3), |s| s.status.is_over())
                .await;
            if let Some(summary) = ended {
                let how = summary.end_cause.as_ref().map_or("", ending);
                writeln!(out, "Session {id}: {}{how}.", summary.status.as_str())?;
            }
        }
        sim.shutdown().await;
        web.abort();
        writeln!(
            out,
            "Demo finished: simulator stopped, port {} closed.",
            local.port()
        )?;
        out.flush()?;
        Ok(())
    }
}

/// The simulator with realistic timing, its proxy able to reach the web
/// service as [`SERVICE_HOST`].
async fn start_simulator(web_addr: SocketAddr) -> anyhow::Result<Simulator> {
    let mut config = SimConfig {
        realism: RealismConfig::realistic(),
        ..SimConfig::default()
    };
    config
        .destinations
        .host_overrides
        .insert(SERVICE_HOST.into(), web_addr.to_string());
    Simulator::start(config)
        .await
        .context("cannot start the simulator")
}

fn intro(out: &mut (dyn Write + Send), sim: &Simulator) -> anyhow::Result<()> {
    let instance = sim.service().config().instance(INSTANCE);
    let name = instance
        .and_then(|i| i.tags.get("Name"))
        .map_or(String::new(), |name| format!(" \"{name}\""));
    let agent = instance.map_or("?", |i| i.agent_version.as_str());
    writeln!(
        out,
        "ssm-forward demo: a port forward through AWS Session Manager, all on this machine."
    )?;
    writeln!(
        out,
        "The AWS side is simulated (ssm-sim, realistic timing): no account or credentials needed.\n"
    )?;
    writeln!(out, "  SSM API      {} (simulated)", sim.endpoint_url())?;
    writeln!(out, "  instance     {INSTANCE}{name}, SSM agent {agent}")?;
    writeln!(
        out,
        "  proxy        {}:{PROXY_PORT}, an HTTP proxy beside the instance (privoxy stand-in)",
        ssm_sim::targets::PROXY_HOST
    )?;
    writeln!(
        out,
        "  web service  http://{SERVICE_HOST}, reachable only through that proxy\n"
    )?;
    Ok(())
}

async fn within(
    request: impl Future<Output = std::io::Result<http::Response>>,
) -> anyhow::Result<http::Response> {
    tokio::time::timeout(REQUEST_TIMEOUT, request)
        .await
        .context("no response through the tunnel in time")?
        .context("the request through the tunnel failed")
}

fn report_response(
    out: &mut (dyn Write + Send),
    response: &http::Response,
    took: Duration,
    note: Option<&str>,
) -> anyhow::Result<()> {
    let note = note.map_or(String::new(), |note| format!(" ({note})"));
    writeln!(out, "  {} in {}{note}", response.status_line, millis(took))?;
    for line in response.body.lines() {
        writeln!(out, "  | {line}")?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_stats(out: &mut (dyn Write + Send), stats: &SessionStats) -> anyhow::Result<()> {
    let rows = [
        ("data-channel sockets", stats.connections.to_string()),
        (
            "client → agent",
            format!(
                "{} messages, {} bytes",
                stats.client_messages, stats.client_bytes
            ),
        ),
        (
            "agent → client",
            format!(
                "{} messages, {} bytes (handshake included)",
                stats.agent_messages, stats.agent_bytes
            ),
        ),
        (
            "acks",
            format!(
                "{} from the client, {} from the agent",
                stats.client_acks, stats.agent_acks
            ),
        ),
        (
            "proxied connections",
            format!("{} (one smux stream each)", stats.streams_opened),
        ),
    ];
    for (label, value) in rows {
        writeln!(out, "  {label:<22}{value}")?;
    }
    let extra = [
        ("resent by the agent", stats.agent_retransmits, ""),
        ("resent by the client", stats.client_duplicates, ""),
        (
            "refused at start",
            stats.not_ready_refusals,
            " (the agent's port plugin was still starting; the client resent)",
        ),
    ];
    for (label, count, why) in extra.into_iter().filter(|(_, count, _)| *count > 0) {
        let noun = if count == 1 { "message" } else { "messages" };
        writeln!(out, "  {label:<22}{count} {noun}{why}")?;
    }
    Ok(())
}

fn describe(event: &ForwardEvent) -> Option<String> {
    match event {
        ForwardEvent::SessionUp { session_id, .. } => {
            Some(format!("new session {session_id} ready"))
        }
        ForwardEvent::SessionEnded {
            session_id, reason, ..
        } => Some(format!(
            "session {session_id} ended ({reason}); the next connection starts a new one"
        )),
        ForwardEvent::StartFailed {
            error, retry_in, ..
        } => Some(format!(
            "session start failed: {error}; retrying in {}",
            millis(*retry_in)
        )),
        ForwardEvent::SocketLost { reason, .. } => Some(format!(
            "connection to the service lost ({reason}); resuming"
        )),
        ForwardEvent::Resumed { outage, .. } => Some(format!(
            "resumed after {}; connections kept",
            millis(*outage)
        )),
        ForwardEvent::Retargeted { from, to, .. } => {
            Some(format!("{from} no longer takes sessions; switched to {to}"))
        }
        ForwardEvent::ConnectionsRefused { limit, .. } => Some(format!(
            "{limit} connections open, the limit: closing new ones until some end"
        )),
        ForwardEvent::ConnectionFailed { peer, error, .. } => {
            Some(format!("connection from {peer} failed: {error}"))
        }
        _ => None,
    }
}

fn ending(cause: &EndCause) -> &'static str {
    match cause {
        EndCause::TerminateFlag => " (the client sent the TerminateSession flag)",
        EndCause::TerminateApi => " (TerminateSession API call)",
        EndCause::Shutdown => " (simulator shut down)",
        _ => "",
    }
}

fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}
