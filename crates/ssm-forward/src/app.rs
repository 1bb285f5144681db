//! The commands, end to end: plan the forwards, load AWS settings,
//! resolve targets, bind every listener (so a busy port fails before any
//! session starts), run one [`forward::run`] per forward under a shared
//! shutdown, watch them, and stop cleanly on Ctrl-C or SIGTERM.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ssm_client::{AwsOptions, AwsSessionApi, ClientConfig};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, instrument, warn};

use crate::cli::{Cli, Command, ListArgs, RunArgs, UpArgs};
use crate::discovery::{self, Resolved, TargetSelector};
use crate::exit::{ExitStatus, Fatal};
use crate::forward::{self, ForwardSpec};
use crate::plan::{self, Planned};
use crate::runner::{self, Signals, Stop, Watched};
use crate::{config_file, demo, errors, kubeconfig, ready_file, status};

/// How long forwards get to terminate their sessions on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the command line (except `plugin`, which `main` runs itself).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => {
            let planned = plan::from_flags(&cli.forward)?;
            forward_all(planned, &cli.forward.run).await
        }
        Some(Command::Up(args)) => up(args).await,
        Some(Command::List(args)) => list(&args),
        Some(Command::Kubeconfig(args)) => kubeconfig::run(args),
        Some(Command::Demo(args)) => demo::run(args).await,
        Some(Command::Plugin(_)) => anyhow::bail!("plugin mode is run by main"),
    }
}

/// `ssm-forward up NAME…` / `up --all`.
async fn up(args: UpArgs) -> anyhow::Result<()> {
    let path = config_file::locate(args.config.config.as_deref()).map_err(usage)?;
    let forwards = config_file::load(&path).map_err(usage)?;
    if forwards.is_empty() {
        return Err(Fatal::usage(format!("{} defines no forwards", path.display())).into());
    }
    let chosen = config_file::select(forwards, &args.names, &path).map_err(usage)?;
    forward_all(plan::from_config(chosen, &args.run), &args.run).await
}

/// `ssm-forward list`: the configuration file's forwards on stdout.
fn list(args: &ListArgs) -> anyhow::Result<()> {
    let path = config_file::locate(args.config.config.as_deref()).map_err(usage)?;
    let forwards = config_file::load(&path).map_err(usage)?;
    let planned = plan::from_config(forwards, &RunArgs::default());
    print!("{}", list_table(&path, &planned));
    Ok(())
}

/// The `list` output: a header comment and one aligned row per forward.
pub fn list_table(path: &Path, forwards: &[Planned]) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "LOCAL".into(),
        "TARGET".into(),
        "REMOTE".into(),
    ]];
    rows.extend(forwards.iter().map(|f| {
        [
            f.name.clone(),
            f.bind.to_string(),
            f.target.to_string(),
            f.remote(),
        ]
    }));
    let width = |column: usize| rows.iter().map(|r| r[column].len()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut out = format!("# {} ({} forwards)\n", path.display(), forwards.len());
    for [name, local, target, remote] in &rows {
        out.push_str(&format!(
            "{name:<w0$}  {local:<w1$}  {target:<w2$}  {remote}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        ));
    }
    out
}

fn usage(error: config_file::ConfigError) -> Fatal {
    Fatal::usage(error.to_string())
}

/// One SSM client per distinct set of AWS options.
#[derive(Debug, Default)]
struct Clients {
    loaded: Vec<(AwsOptions, Arc<AwsSessionApi>)>,
}

impl Clients {
    /// The client for `options`, loading the SDK configuration once.
    async fn get(&mut self, options: &AwsOptions) -> Result<Arc<AwsSessionApi>, Fatal> {
        if let Some((_, api)) = self.loaded.iter().find(|(o, _)| o == options) {
            return Ok(api.clone());
        }
        let config = ssm_client::load_sdk_config(options).await;
        if config.region().is_none() {
            let hint = match &options.profile {
                Some(profile) => format!(" (is profile {profile:?} defined in ~/.aws/config?)"),
                None => String::new(),
            };
            return Err(Fatal::usage(format!(
                "no AWS region: pass --region, set AWS_REGION, or set region in your profile{hint}"
            )));
        }
        let api = Arc::new(AwsSessionApi::with_options(&config, options));
        self.loaded.push((options.clone(), api.clone()));
        Ok(api)
    }
}

/// A forward ready to run: its spec, bound listener and client.
#[derive(Debug)]
struct Prepared {
    spec: ForwardSpec,
    listener: TcpListener,
    api: Arc<AwsSessionApi>,
    retarget: Option<Arc<dyn forward::Retarget>>,
    destination: String,
}

/// Re-runs target discovery for a forward whose target was chosen by
/// name, tag or EKS cluster.
#[derive(Debug)]
struct Rediscover {
    client: aws_sdk_ssm::Client,
    selector: TargetSelector,
}

impl forward::Retarget for Rediscover {
    fn resolve(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            let resolved = discovery::resolve(&self.client, &self.selector)
                .await
                .map_err(|error| error.to_string())?;
            status::target_chosen(&self.selector, &resolved);
            Ok(resolved.instance_id)
        })
    }
}

/// Starts every planned forward and runs until a signal or a fatal error.
#[instrument(level = "debug", skip_all, fields(forwards = planned.len()))]
async fn forward_all(planned: Vec<Planned>, run: &RunArgs) -> anyhow::Result<()> {
    let mut signals = Signals::new().context("cannot watch for Ctrl-C and SIGTERM")?;
    if let Some(path) = &run.ready_file {
        ready_file::remove(path)
            .with_context(|| format!("cannot remove the old ready file {}", path.display()))?;
    }
    // Lookups can be slow (SDK retries): Ctrl-C must work meanwhile.
    let prepared = tokio::select! {
        prepared = prepare(planned) => prepared?,
        signal = signals.recv() => {
            status::shutting_down(signal);
            return Ok(());
        }
    };
    if let (true, Some(first)) = (run.print_env, prepared.first()) {
        print_env(first.spec.bind);
    }
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (events, events_rx) = mpsc::unbounded_channel();
    let (watched, tasks) = spawn_forwards(prepared, &events, &shutdown_rx);
    drop(events);
    let outcome = runner::watch(watched, events_rx, run.ready_file.clone(), &mut signals).await;
    if let Ok(Stop::Signal(signal)) = &outcome {
        status::shutting_down(signal);
    }
    let _ = shutdown.send(true);
    stop(tasks, &mut signals).await;
    if let Some(path) = &run.ready_file {
        let _ = ready_file::remove(path);
    }
    outcome.map(drop).map_err(Into::into)
}

/// One [`forward::run`] task per forward, all under one shutdown watch.
fn spawn_forwards(
    prepared: Vec<Prepared>,
    events: &forward::EventSink,
    shutdown: &watch::Receiver<bool>,
) -> (Vec<Watched>, JoinSet<()>) {
    let mut watched = Vec::new();
    let mut tasks = JoinSet::new();
    for Prepared {
        spec,
        listener,
        api,
        retarget,
        destination,
    } in prepared
    {
        watched.push(Watched {
            name: spec.name.clone(),
            target: spec.target.clone(),
            address: spec.bind,
            destination,
            first_session: None,
        });
        let service = forward::Service {
            api,
            config: ClientConfig::default(),
            retarget,
        };
        tasks.spawn(forward::run(
            listener,
            spec,
            service,
            events.clone(),
            shutdown.clone(),
        ));
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

/// Resolves targets and binds listeners, in order.
async fn prepare(planned: Vec<Planned>) -> Result<Vec<Prepared>, Fatal> {
    let mut clients = Clients::default();
    let mut resolved: Vec<((AwsOptions, TargetSelector), Resolved)> = Vec::new();
    let mut prepared = Vec::new();
    for forward in planned {
        let api = clients.get(&forward.aws).await?;
        let key = (forward.aws.clone(), forward.target.clone());
        let target = match resolved.iter().find(|(k, _)| *k == key) {
            Some((_, target)) => target.clone(),
            None => {
                let target = resolve(&api, &forward.target).await?;
                resolved.push((key, target.clone()));
                target
            }
        };
        let spec = ForwardSpec {
            name: forward.name.clone(),
            target: target.instance_id.clone(),
            remote_host: forward.remote_host.clone(),
            remote_port: forward.remote_port,
            bind: forward.bind,
            reason: forward.reason.clone(),
        };
        let listener = bind(&spec).await?;
        let spec = ForwardSpec {
            bind: listener.local_addr().unwrap_or(spec.bind),
            ..spec
        };
        let destination = format!("{} → {}", spec.target, forward.remote());
        let retarget = (!matches!(forward.target, TargetSelector::Id(_))).then(|| {
            Arc::new(Rediscover {
                client: api.client().clone(),
                selector: forward.target.clone(),
            }) as Arc<dyn forward::Retarget>
        });
        prepared.push(Prepared {
            spec,
            listener,
            api,
            retarget,
            destination,
        });
    }
    Ok(prepared)
}

/// Resolves one selector, saying which instance it chose.
async fn resolve(api: &AwsSessionApi, selector: &TargetSelector) -> Result<Resolved, Fatal> {
    let resolved =
        discovery::resolve(api.client(), selector)
            .await
            .map_err(|error| match error {
                discovery::DiscoveryError::Api { selector, source } => {
                    let message = format!(
                        "could not look up {selector}: {}",
                        errors::explain_lookup(&source)
                    );
                    let status = ExitStatus::from(errors::kind(&ssm_client::Error::Api(source)));
                    Fatal::new(status, message)
                }
                other => Fatal::new(ExitStatus::Target, other.to_string()),
            })?;
    if !matches!(selector, TargetSelector::Id(_)) {
        status::target_chosen(selector, &resolved);
    }
    Ok(resolved)
}

/// Binds a forward's listener; a busy port says what to do.
async fn bind(spec: &ForwardSpec) -> Result<TcpListener, Fatal> {
    forward::bind(spec).await.map_err(|error| {
        let address = spec.bind;
        let message = match error.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "{address} is already in use; pick another --local-port or stop the other program"
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "not allowed to listen on {address} (ports below 1024 need privileges); \
                 pick another --local-port"
            ),
            std::io::ErrorKind::AddrNotAvailable => format!(
                "cannot listen on {address}: this machine has no such address; check --bind"
            ),
            _ => format!("cannot listen on {address}: {error}"),
        };
        Fatal::new(ExitStatus::PortInUse, message)
    })
}

/// `export HTTPS_PROXY=http://ADDR` for the first forward, on stdout.
fn print_env(bound: SocketAddr) {
    let host = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    println!(
        "export HTTPS_PROXY=http://{}",
        SocketAddr::new(host, bound.port())
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_aligned() {
        let forwards = config_file::parse(
            "[forwards.db]\ntarget = \"name:bastion\"\nremote_host = \"db.internal\"\nremote_port = 5432\n\
             [forwards.privoxy]\neks_cluster = \"prod\"\nremote_host = \"privoxy.example.com\"\nremote_port = 8118\n",
            "f",
        )
        .unwrap();
        let table = list_table(
            Path::new("/c.toml"),
            &plan::from_config(forwards, &RunArgs::default()),
        );
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines[0], "# /c.toml (2 forwards)");
        assert_eq!(
            lines[1],
            "NAME     LOCAL           TARGET            REMOTE"
        );
        assert_eq!(
            lines[2],
            "db       127.0.0.1:5432  name:bastion      db.internal:5432"
        );
        assert_eq!(
            lines[3],
            "privoxy  127.0.0.1:8118  eks-cluster:prod  privoxy.example.com:8118"
        );
    }
}
