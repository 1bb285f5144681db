//! Forwarding, from plan to shutdown: [`plan`] turns flags or the
//! configuration file into forwards; [`run`] resolves their targets and
//! binds every listener ([`prepare`], so a busy port fails before any
//! session starts), runs one [`supervisor::run`] per forward, each with
//! its own stop switch ([`stops`]), watches them ([`runner`], which also
//! writes the [`ready_file`]) and stops cleanly on Ctrl-C or SIGTERM.
//! Each run opens a control socket ([`crate::control`]) so that
//! `ssm-forward status` sees its forwards ([`live`]) and `ssm-forward
//! stop NAME` can stop one of them; when the last one has stopped, the
//! run ends with status 0.

pub mod live;
pub mod plan;
pub(crate) mod pool_report;
pub mod prepare;
pub mod ready_file;
pub mod runner;
pub mod stops;
pub mod supervisor;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context as _;
use ssm_client::ClientConfig;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, instrument, warn};

use crate::cli::RunArgs;
use crate::control::{self, model::ForwardIdentity};
use crate::output;
use crate::signals::{self, Signals};
use plan::Planned;
use prepare::Prepared;
use runner::{Stop, Watched};

/// How long forwards get to terminate their sessions on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a command does around its forwards (`eks connect` writes a
/// kubeconfig once the port is known and says what to run once ready).
pub trait Hooks: Send {
    /// Every listener is bound (their addresses, in plan order) and no
    /// session has started; an error stops the command.
    fn bound(&mut self, _addresses: &[SocketAddr]) -> anyhow::Result<()> {
        Ok(())
    }

    /// Every forward's first session is up (after the ready file).
    fn ready(&mut self) {}
}

/// No hooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// Starts every planned forward and runs until a signal or a fatal error.
pub async fn run(planned: Vec<Planned>, run: &RunArgs) -> anyhow::Result<()> {
    run_with(planned, run, &mut NoHooks).await
}

/// [`run`], with `hooks` called when the listeners are bound and when the
/// forwards are ready.
#[instrument(level = "debug", skip_all, fields(forwards = planned.len()))]
pub async fn run_with(
    planned: Vec<Planned>,
    run: &RunArgs,
    hooks: &mut dyn Hooks,
) -> anyhow::Result<()> {
    let mut signals = Signals::new(signals::INTERRUPT_OR_TERMINATE)
        .context("cannot watch for Ctrl-C and SIGTERM")?;
    if let Some(path) = &run.ready_file {
        ready_file::remove(path)
            .with_context(|| format!("cannot remove the old ready file {}", path.display()))?;
    }
    let selectors: Vec<String> = planned.iter().map(|p| p.target.to_string()).collect();
    // Lookups can be slow (SDK retries): Ctrl-C must work meanwhile.
    let prepared = tokio::select! {
        prepared = prepare::prepare(planned) => prepared?,
        signal = signals.recv() => {
            output::shutting_down(signal);
            return Ok(());
        }
    };
    let addresses: Vec<SocketAddr> = prepared.iter().map(|p| p.spec.bind).collect();
    hooks.bound(&addresses)?;
    if let (true, Some(first)) = (run.print_env, prepared.first()) {
        print_env(first.spec.bind, first.spec.proxy.is_some());
    }
    let mut daemon = control::Daemon::new();
    let (events, events_rx) = mpsc::unbounded_channel();
    let (watched, tasks) = spawn_forwards(
        prepared,
        &selectors,
        run.failures.restart_policy(),
        &events,
        &daemon,
    );
    drop(events);
    daemon.open_socket();
    let events_rx = daemon.tee(events_rx);
    let mut on_ready = || {
        crate::service_manager::ready();
        hooks.ready();
    };
    let outcome = runner::watch(
        watched,
        events_rx,
        runner::Options {
            ready_file: run.ready_file.clone(),
            exit_when_failing: run.failures.exit_when_failing,
        },
        &mut signals,
        &mut on_ready,
    )
    .await;
    if let Ok(Stop::Signal(signal)) = &outcome {
        crate::service_manager::stopping();
        output::shutting_down(signal);
    }
    daemon.stops.stop_all();
    stop(tasks, &mut signals).await;
    daemon.close().await;
    if let Some(path) = &run.ready_file {
        let _ = ready_file::remove(path);
    }
    outcome.map(drop).map_err(Into::into)
}

/// One [`supervisor::run`] task per forward, each under its own stop
/// switch and listed on the daemon's status board; `selectors` says how
/// each forward's target was chosen, in plan order.
fn spawn_forwards(
    prepared: Vec<Prepared>,
    selectors: &[String],
    restart: supervisor::RestartPolicy,
    events: &supervisor::EventSink,
    daemon: &control::Daemon,
) -> (Vec<Watched>, JoinSet<()>) {
    let mut watched = Vec::new();
    let mut tasks = JoinSet::new();
    for (
        Prepared {
            spec,
            listener,
            api,
            retarget,
            destination,
        },
        selector,
    ) in prepared.into_iter().zip(selectors)
    {
        watched.push(Watched {
            name: spec.name.clone(),
            target: spec.target.clone(),
            address: spec.bind,
            destination,
            first_session: None,
            sessions: Vec::new(),
            max_sessions: spec.sessions.max(1),
            proxy: spec.proxy.is_some(),
        });
        let live = Arc::new(live::LiveForward::default());
        daemon.board.add(
            ForwardIdentity {
                name: spec.name.clone(),
                local_address: spec.bind,
                target: spec.target.clone(),
                target_selector: selector.clone(),
                remote: spec.remote(),
                sessions_on_demand: spec.proxy.is_some(),
            },
            live.clone(),
        );
        let stop = daemon.stops.add(&spec.name);
        let service = supervisor::Service {
            api,
            config: ClientConfig::default(),
            retarget,
            restart,
            live,
        };
        let events = events.clone();
        tasks.spawn(async move {
            match spec.proxy.clone() {
                Some(proxy) => {
                    crate::local_proxy::run(listener, spec, proxy, service, events, stop.shutdown)
                        .await;
                }
                None => supervisor::run(listener, spec, service, events, stop.shutdown).await,
            }
            stop.stopped.send_replace(true);
        });
    }
    (watched, tasks)
}

/// Waits for the forwards to terminate their sessions; a second signal
/// or the grace period cuts it short.
async fn stop(mut tasks: JoinSet<()>, signals: &mut Signals) {
    let all_done = async { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        () = all_done => debug!("every forward stopped"),
        signal = signals.recv() => warn!(signal, "second signal: exiting without waiting"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => warn!("forwards did not stop in time"),
    }
}

/// `export HTTPS_PROXY=http://ADDR` for the first forward, on stdout
/// (and `ALL_PROXY=socks5h://ADDR` for a local proxy, which speaks both).
fn print_env(bound: SocketAddr, proxy: bool) {
    let host = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let address = SocketAddr::new(host, bound.port());
    if proxy {
        println!("export HTTPS_PROXY=http://{address} ALL_PROXY=socks5h://{address}");
    } else {
        println!("export HTTPS_PROXY=http://{address}");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}
