//! The `ssm-sim` command: the whole simulator (SSM API, message gateway,
//! agent, built-in targets) as a standalone process, for the AWS CLI with
//! the official session-manager-plugin, other clients, demos and scripts.
//!
//! Once it listens it prints the [`ReadyInfo`] JSON on one stdout line
//! (and writes it to `--ready-file`). Logs go to stderr. On Ctrl-C or
//! SIGTERM it ends every live session, prints a per-session counters
//! table on stdout and exits 0. See `docs/ssm-sim.md`.

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Parser};
use serde_json::Value;
use ssm_sim::registry::Registry;
use ssm_sim::{
    DetachedOutput, Hostile, ReadyInfo, RealismConfig, SessionSummary, SimConfig, Simulator,
    SsoConfig, TerminateNotice,
};
use tracing_subscriber::EnvFilter;

/// Runs a local AWS Session Manager simulator: SSM API, message gateway
/// and SSM agent, with realism and fault knobs.
///
/// Flags override the `--config` file, which overrides the defaults.
#[derive(Debug, Parser)]
#[command(name = "ssm-sim", version)]
struct Args {
    /// Port of the SSM API endpoint (0 = any free port) [default: 0].
    #[arg(long, value_name = "PORT")]
    api_port: Option<u16>,
    /// Port of the data-channel gateway (0 = any free port) [default: 0].
    #[arg(long, value_name = "PORT")]
    gateway_port: Option<u16>,
    /// Address both listeners bind to; StreamUrls name it too [default: 127.0.0.1].
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    /// TOML configuration (fleet, realism, faults, destinations).
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Region reported in ARNs and the ready info.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,

    /// Realistic timing: 1024-byte agent output 1 ms apart, the 1000
    /// messages/s gateway limit, a 100 ms port-plugin start.
    #[arg(long)]
    realistic: bool,
    /// Close every client WebSocket with 1000 "Bye" after this long
    /// (the real service does it about every 60 min).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    recycle_after: Option<Duration>,
    /// End sessions without stream data for this long.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    idle_timeout: Option<Duration>,
    /// End sessions after this long regardless.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    max_session_duration: Option<Duration>,
    /// One-way latency added to every message, both directions.
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Sleep after each agent Output message (the real agent: 1 ms).
    #[arg(long, value_name = "MS")]
    output_pacing_ms: Option<u64>,
    /// Close a client socket that sends more than N input_stream_data
    /// messages per second for 2 consecutive seconds (real: 1000).
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Probability per agent message of the agent's send-before-buffer
    /// race: its first ack is ignored, so it is resent every RTO until the
    /// client acks a repeat (--realistic: 0.001).
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    send_before_buffer: Option<f64>,
    /// What the client sees after the agent ends a session on its
    /// TerminateSession flag: channel-closed, close or nothing.
    #[arg(long, value_name = "WHAT", value_parser = parse_terminate_notice)]
    on_terminate: Option<TerminateNotice>,
    /// Agent output while the client has no socket: buffer or drop.
    #[arg(long, value_name = "WHAT", value_parser = parse_detached_output)]
    detached_output: Option<DetachedOutput>,

    /// Probability of dropping a stream-data message (each direction).
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    drop: Option<f64>,
    /// Probability of delivering a stream-data message twice.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    duplicate: Option<f64>,
    /// Probability of holding a stream-data message back behind the next.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    reorder: Option<f64>,
    /// Probability of dropping an acknowledge message.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    drop_acks: Option<f64>,
    /// Probability of corrupting a stream-data message's payload digest.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    corrupt_digest: Option<f64>,
    /// Send pause_publication, then start_publication, to clients every SECS.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pause_every: Option<Duration>,
    /// How long each injected pause lasts.
    #[arg(long, value_name = "MS")]
    pause_length_ms: Option<u64>,
    /// Drop each client socket (no close frame) this long after it connected.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    close_after: Option<Duration>,
    /// Drop each client socket after N relayed messages.
    #[arg(long, value_name = "N")]
    close_after_messages: Option<u64>,
    /// Delay before the agent sends its HandshakeRequest (over 15 s
    /// exercises nothing: the agent's own timeout starts when it sends).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    handshake_delay: Option<Duration>,
    /// Seed of the fault dice (same seed, same decisions).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Act as a hostile peer: do KIND to every session once it is ready
    /// (handshake complete, port plugin started). Repeatable; in order.
    /// KIND is one of garbage-frame, truncated-header,
    /// header-length-beyond-frame, huge-payload-length, oversize-message
    /// (3 MiB, over the 2 MiB WebSocket caps), oversize-within-ws-cap
    /// (1.5 MiB), unknown-message-type, unknown-payload-type,
    /// smux-bad-version, smux-unknown-command (mux mode only), flood or
    /// flood:BYTES (default 32M; stream data for the newest, or first,
    /// stream as fast as the client takes it).
    #[arg(long = "hostile", value_name = "KIND", value_parser = parse_hostile)]
    hostile: Vec<Hostile>,

    /// Agent version of every instance (e.g. 3.0.161.0 for basic mode).
    #[arg(long, value_name = "V", value_parser = parse_version)]
    agent_version: Option<String>,
    /// Let the agent dial destinations outside loopback (never the
    /// instance-metadata and other link-local service addresses).
    #[arg(long)]
    allow_nonlocal: bool,
    /// Map a destination host name to ADDR (`host` or `host:port`; a port
    /// here wins over the session's portNumber). Repeatable.
    #[arg(long = "host", value_name = "NAME=ADDR", value_parser = parse_host_override)]
    hosts: Vec<(String, String)>,

    /// IAM Identity Center: decide a device authorization after N
    /// AuthorizationPending answers [default: 2].
    #[arg(long, value_name = "N", conflicts_with = "sso_manual")]
    sso_approve_after: Option<u32>,
    /// IAM Identity Center: no automatic decision; approve or deny on the
    /// page at verificationUriComplete.
    #[arg(long)]
    sso_manual: bool,
    /// IAM Identity Center: the automatic decision is a denial.
    #[arg(long)]
    sso_deny: bool,
    /// IAM Identity Center: answer SlowDownException to poll N of each
    /// device code.
    #[arg(long, value_name = "N")]
    sso_slow_down_on_poll: Option<u32>,
    /// IAM Identity Center: polling interval told to clients and enforced
    /// with SlowDownException (0: none) [default: 1].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    sso_poll_interval: Option<Duration>,
    /// IAM Identity Center: device code lifetime [default: 600].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    sso_device_code_ttl: Option<Duration>,
    /// IAM Identity Center: access token lifetime [default: 28800].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    sso_token_ttl: Option<Duration>,
    /// IAM Identity Center: role credentials lifetime [default: 3600].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    sso_credentials_ttl: Option<Duration>,

    /// Write the ready info JSON here once listening.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Print one counters line per live session every SECS.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    stats_interval: Option<Duration>,
    /// More logging on stderr (-v debug, -vv trace); RUST_LOG wins.
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
}

fn parse_probability(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    check_probability(value)?;
    Ok(value)
}

fn parse_terminate_notice(text: &str) -> Result<TerminateNotice, String> {
    match text {
        "channel-closed" => Ok(TerminateNotice::ChannelClosed),
        "close" => Ok(TerminateNotice::Close),
        "nothing" => Ok(TerminateNotice::Nothing),
        _ => Err(format!(
            "{text:?}: expected channel-closed, close or nothing"
        )),
    }
}

fn parse_detached_output(text: &str) -> Result<DetachedOutput, String> {
    match text {
        "buffer" => Ok(DetachedOutput::Buffer),
        "drop" => Ok(DetachedOutput::Drop),
        _ => Err(format!("{text:?}: expected buffer or drop")),
    }
}

fn check_probability(value: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("{value} is not a probability between 0 and 1"))
    }
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(value).map_err(|_| format!("{text} is not a valid duration"))
}

fn parse_hostile(text: &str) -> Result<Hostile, String> {
    text.parse()
}

fn parse_version(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('.').collect();
    let numeric = parts
        .iter()
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if numeric && (1..=4).contains(&parts.len()) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a version like 3.3.987.0 (up to 4 numeric parts)"
        ))
    }
}

fn parse_host_override(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, addr)) if !name.trim().is_empty() && !addr.trim().is_empty() => {
            Ok((name.trim().to_owned(), addr.trim().to_owned()))
        }
        _ => Err(format!(
            "`{text}` is not NAME=ADDR (e.g. db.internal=127.0.0.1:5432)"
        )),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    init_logging(args.verbose);
    let config = build_config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run(args, config))
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,ssm_sim=info",
        1 => "info,ssm_sim=debug",
        _ => "debug,ssm_sim=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

/// Defaults, then the config file, then the flags.
fn build_config(args: &Args) -> Result<SimConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut config = SimConfig::from_toml(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            resolve_ca_files(&mut config, path);
            config
        }
        None => SimConfig::default(),
    };
    config.api_addr = listen_addr(&config.api_addr, args.bind, args.api_port, "api_addr")?;
    config.gateway_addr = listen_addr(
        &config.gateway_addr,
        args.bind,
        args.gateway_port,
        "gateway_addr",
    )?;
    if let Some(region) = &args.region {
        config.region.clone_from(region);
    }

    let realism = &mut config.realism;
    if args.realistic {
        *realism = RealismConfig {
            recycle_after: realism.recycle_after,
            idle_timeout: realism.idle_timeout,
            max_session_duration: realism.max_session_duration,
            latency: realism.latency,
            resend_backoff: realism.resend_backoff,
            ..RealismConfig::realistic()
        };
    }
    if let Some(probability) = args.send_before_buffer {
        realism.send_before_buffer = probability;
    }
    if let Some(notice) = args.on_terminate {
        config.gateway.on_terminate = notice;
    }
    if let Some(detached) = args.detached_output {
        config.gateway.detached_output = detached;
    }
    let realism = &mut config.realism;
    if let Some(after) = args.recycle_after {
        realism.recycle_after = Some(after);
    }
    if let Some(idle) = args.idle_timeout {
        realism.idle_timeout = Some(idle);
    }
    if let Some(max) = args.max_session_duration {
        realism.max_session_duration = Some(max);
    }
    if let Some(ms) = args.latency_ms {
        realism.latency = Duration::from_millis(ms);
    }
    if let Some(ms) = args.output_pacing_ms {
        realism.output_pacing = Duration::from_millis(ms);
    }
    if let Some(limit) = args.rate_limit {
        realism.client_rate_limit = Some(limit);
    }

    let faults = &mut config.faults;
    let probabilities = [
        (&mut faults.drop, args.drop),
        (&mut faults.duplicate, args.duplicate),
        (&mut faults.reorder, args.reorder),
        (&mut faults.drop_acks, args.drop_acks),
        (&mut faults.corrupt_digest, args.corrupt_digest),
    ];
    for (slot, flag) in probabilities {
        if let Some(value) = flag {
            *slot = value;
        }
    }
    if let Some(every) = args.pause_every {
        faults.pause_every = Some(every);
    }
    if let Some(ms) = args.pause_length_ms {
        faults.pause_length = Duration::from_millis(ms);
    }
    if let Some(after) = args.close_after {
        faults.close_after = Some(after);
    }
    if let Some(count) = args.close_after_messages {
        faults.close_after_messages = Some(count);
    }
    if let Some(delay) = args.handshake_delay {
        faults.handshake_delay = delay;
    }
    if let Some(seed) = args.seed {
        faults.seed = seed;
    }
    faults.hostile.extend(args.hostile.iter().copied());

    if let Some(version) = &args.agent_version {
        for instance in &mut config.instances {
            instance.agent_version.clone_from(version);
        }
    }
    if args.allow_nonlocal {
        config.destinations.allow_nonlocal = true;
    }
    for (name, addr) in &args.hosts {
        config
            .destinations
            .host_overrides
            .insert(name.clone(), addr.clone());
    }
    apply_sso_flags(args, &mut config.sso);
    validate(&config)?;
    ssm_sim::eks::prepare_clusters(&mut config.clusters)?;
    warn_about_clusterless_nodes(&config);
    Ok(config)
}

/// The `--sso-*` flags over the `[sso]` table.
fn apply_sso_flags(args: &Args, sso: &mut SsoConfig) {
    if let Some(polls) = args.sso_approve_after {
        sso.approve_after_polls = Some(polls);
    }
    if args.sso_manual {
        sso.approve_after_polls = None;
    }
    if args.sso_deny {
        sso.deny = true;
    }
    if let Some(poll) = args.sso_slow_down_on_poll {
        sso.slow_down_on_poll = Some(poll);
    }
    let durations = [
        (&mut sso.poll_interval, args.sso_poll_interval),
        (&mut sso.device_code_ttl, args.sso_device_code_ttl),
        (&mut sso.access_token_ttl, args.sso_token_ttl),
        (&mut sso.role_credentials_ttl, args.sso_credentials_ttl),
    ];
    for (slot, flag) in durations {
        if let Some(value) = flag {
            *slot = value;
        }
    }
}

/// Warns about nodes tagged with a cluster that is not configured.
fn warn_about_clusterless_nodes(config: &SimConfig) {
    for instance in &config.instances {
        let Some(cluster) = instance.tags.get(ssm_sim::eks::CLUSTER_NAME_TAG) else {
            continue;
        };
        if !config.clusters.iter().any(|c| &c.name == cluster) {
            tracing::warn!(
                instance = %instance.id,
                cluster = %cluster,
                "instance is tagged as a node of a cluster that is not configured \
                 (DescribeCluster will not find it): add a [[clusters]] entry"
            );
        }
    }
}

/// Makes relative cluster `ca_file` paths relative to the config file.
fn resolve_ca_files(config: &mut SimConfig, config_file: &Path) {
    let dir = config_file.parent().unwrap_or_else(|| Path::new("."));
    for cluster in &mut config.clusters {
        if let Some(path) = &mut cluster.ca_file
            && path.is_relative()
        {
            *path = dir.join(&*path);
        }
    }
}

/// The configured listen address with the flags' address and port applied.
fn listen_addr(
    configured: &str,
    bind: Option<IpAddr>,
    port: Option<u16>,
    key: &str,
) -> Result<String> {
    if bind.is_none() && port.is_none() {
        return Ok(configured.to_owned());
    }
    let mut addr = match configured.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) if bind.is_some() && port.is_some() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
        }
        Err(_) => bail!("{key} = {configured:?} in the config file is not IP:PORT"),
    };
    if let Some(ip) = bind {
        addr.set_ip(ip);
    }
    if let Some(port) = port {
        addr.set_port(port);
    }
    Ok(addr.to_string())
}

/// Checks what the flag parsers cannot see (values from the config file).
fn validate(config: &SimConfig) -> Result<()> {
    let faults = &config.faults;
    let probabilities = [
        ("drop", faults.drop),
        ("duplicate", faults.duplicate),
        ("reorder", faults.reorder),
        ("drop_acks", faults.drop_acks),
        ("corrupt_digest", faults.corrupt_digest),
    ];
    for (name, value) in probabilities {
        check_probability(value).map_err(|error| anyhow::anyhow!("faults.{name}: {error}"))?;
    }
    check_probability(config.realism.send_before_buffer)
        .map_err(|error| anyhow::anyhow!("realism.send_before_buffer: {error}"))?;
    if config.instances.is_empty() {
        bail!("the fleet is empty: configure at least one [[instances]]");
    }
    for instance in &config.instances {
        parse_version(&instance.agent_version)
            .map_err(|error| anyhow::anyhow!("instance {}: {error}", instance.id))?;
    }
    if config.realism.output_chunk_size == 0 {
        bail!("realism.output_chunk_size must be at least 1");
    }
    for (name, addr) in &config.destinations.host_overrides {
        if addr.is_empty() {
            bail!("host override {name} has an empty address");
        }
    }
    Ok(())
}

async fn run(args: Args, config: SimConfig) -> Result<()> {
    let simulator = Simulator::start(config)
        .await
        .context("starting the simulator")?;
    // Handlers go in before the ready line: a signal sent as soon as a
    // script sees it must shut down cleanly, not kill the process.
    let mut signals = Signals::install()?;
    let ready = simulator.ready_info();
    announce(&ready, args.ready_file.as_deref())?;
    let registry = simulator.service().registry().clone();
    let stats = args
        .stats_interval
        .filter(|interval| !interval.is_zero())
        .map(|interval| tokio::spawn(print_stats_periodically(registry.clone(), interval)));

    let signal = signals.recv().await?;
    tracing::info!(signal, "shutting down");
    if let Some(task) = stats {
        task.abort();
    }
    simulator.shutdown().await;
    print_final_table(&registry.summaries());
    Ok(())
}

/// Prints the ready info on one stdout line and writes the ready file
/// (via a rename, so a reader never sees half of it).
fn announce(ready: &ReadyInfo, ready_file: Option<&Path>) -> Result<()> {
    let json = serde_json::to_string(ready).context("encoding the ready info")?;
    if let Some(path) = ready_file {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        std::fs::write(&partial, format!("{json}\n"))
            .with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, path)
            .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{json}").context("writing to stdout")?;
    stdout.flush().context("writing to stdout")?;
    Ok(())
}

/// Ctrl-C and (on Unix) SIGTERM, watched from creation on.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers.
    fn install() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())
                    .context("installing the SIGINT handler")?,
                terminate: signal(SignalKind::terminate())
                    .context("installing the SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next signal; returns its name.
    async fn recv(&mut self) -> Result<&'static str> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Ok("SIGINT"),
                _ = self.terminate.recv() => Ok("SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            Ok("Ctrl-C")
        }
    }
}

async fn print_stats_periodically(registry: std::sync::Arc<Registry>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let mut stdout = std::io::stdout().lock();
        for session in registry.summaries().iter().filter(|s| !s.status.is_over()) {
            let _ = writeln!(stdout, "{}", stats_line(session));
        }
        let _ = stdout.flush();
    }
}

/// `stats <id> <target> <status> name=value ...` with the non-zero counters.
fn stats_line(session: &SessionSummary) -> String {
    let mut line = format!(
        "stats {} {} {}",
        session.session_id,
        session.target,
        session.status.as_str()
    );
    for (name, value) in counters(session) {
        if value != 0 {
            line.push_str(&format!(" {name}={value}"));
        }
    }
    line
}

/// A session's counters, in declaration order.
fn counters(session: &SessionSummary) -> Vec<(String, u64)> {
    match serde_json::to_value(&session.stats) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(name, value)| (name, value.as_u64().unwrap_or(0)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Counters always shown in the final table, even when zero.
const CORE_COLUMNS: [&str; 5] = [
    "connections",
    "client_messages",
    "client_bytes",
    "agent_messages",
    "agent_bytes",
];

/// One row per session: id, target, status, end cause, then the core
/// counters and every other counter that is non-zero for some session.
fn print_final_table(sessions: &[SessionSummary]) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "ssm-sim: {} session(s)", sessions.len());
    if !sessions.is_empty() {
        let _ = write!(stdout, "{}", final_table(sessions));
    }
    let _ = stdout.flush();
}

fn final_table(sessions: &[SessionSummary]) -> String {
    let per_session: Vec<Vec<(String, u64)>> = sessions.iter().map(counters).collect();
    let names: Vec<String> = per_session
        .first()
        .map(|first| first.iter().map(|(name, _)| name.clone()).collect())
        .unwrap_or_default();
    let shown: Vec<usize> = (0..names.len())
        .filter(|&i| {
            CORE_COLUMNS.contains(&names[i].as_str()) || per_session.iter().any(|row| row[i].1 != 0)
        })
        .collect();
    let mut header = vec![
        "session".to_owned(),
        "target".to_owned(),
        "status".to_owned(),
        "end_cause".to_owned(),
    ];
    header.extend(shown.iter().map(|&i| names[i].clone()));
    let mut rows = vec![header];
    for (session, values) in sessions.iter().zip(&per_session) {
        let cause = session
            .end_cause
            .as_ref()
            .map_or_else(|| "-".to_owned(), |cause| format!("{cause:?}"));
        let mut row = vec![
            session.session_id.clone(),
            session.target.clone(),
            session.status.as_str().to_owned(),
            cause,
        ];
        row.extend(shown.iter().map(|&i| values[i].1.to_string()));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|col| rows.iter().map(|row| row[col].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(col, (cell, width))| {
                if col < 4 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SimConfig> {
        let mut argv = vec!["ssm-sim"];
        argv.extend_from_slice(args);
        build_config(&Args::try_parse_from(argv)?)
    }

    #[test]
    fn flags_override_defaults() {
        let config = parse(&[
            "--api-port",
            "5000",
            "--drop",
            "0.25",
            "--recycle-after",
            "1.5",
            "--agent-version",
            "3.0.161.0",
            "--host",
            "db.internal=127.0.0.1:5432",
        ])
        .unwrap();
        assert_eq!(config.api_addr, "127.0.0.1:5000");
        assert_eq!(config.gateway_addr, "127.0.0.1:0");
        assert_eq!(config.faults.drop, 0.25);
        assert_eq!(
            config.realism.recycle_after,
            Some(Duration::from_millis(1500))
        );
        assert!(
            config
                .instances
                .iter()
                .all(|i| i.agent_version == "3.0.161.0")
        );
        assert_eq!(
            config.destinations.host_overrides["db.internal"],
            "127.0.0.1:5432"
        );
    }

    #[test]
    fn sso_flags_override_the_sso_table() {
        let defaults = parse(&[]).unwrap().sso;
        assert_eq!(defaults, SsoConfig::default());
        let config = parse(&[
            "--sso-manual",
            "--sso-deny",
            "--sso-slow-down-on-poll",
            "3",
            "--sso-poll-interval",
            "0",
            "--sso-token-ttl",
            "60",
            "--sso-credentials-ttl",
            "1.5",
            "--sso-device-code-ttl",
            "30",
        ])
        .unwrap()
        .sso;
        assert_eq!(config.approve_after_polls, None);
        assert!(config.deny);
        assert_eq!(config.slow_down_on_poll, Some(3));
        assert_eq!(config.poll_interval, Duration::ZERO);
        assert_eq!(config.access_token_ttl, Duration::from_secs(60));
        assert_eq!(config.role_credentials_ttl, Duration::from_millis(1500));
        assert_eq!(config.device_code_ttl, Duration::from_secs(30));
        let after = parse(&["--sso-approve-after", "0"]).unwrap().sso;
        assert_eq!(after.approve_after_polls, Some(0));
        assert!(parse(&["--sso-approve-after", "1", "--sso-manual"]).is_err());
    }

    #[test]
    fn hostile_kinds_add_to_the_config_file() {
        let config = parse(&["--hostile", "garbage-frame", "--hostile", "flood:1M"]).unwrap();
        assert_eq!(
            config.faults.hostile,
            [Hostile::GarbageFrame, Hostile::Flood { bytes: 1 << 20 }]
        );
        let error = Args::try_parse_from(["ssm-sim", "--hostile", "rude"]).unwrap_err();
        assert!(error.to_string().contains("smux-bad-version"), "{error}");
    }

    #[test]
    fn gateway_policy_and_race_come_from_flags() {
        let config = parse(&[
            "--realistic",
            "--on-terminate",
            "nothing",
            "--detached-output",
            "drop",
        ])
        .unwrap();
        assert_eq!(config.gateway.on_terminate, TerminateNotice::Nothing);
        assert_eq!(config.gateway.detached_output, DetachedOutput::Drop);
        assert!((config.realism.send_before_buffer - 0.001).abs() < 1e-9);
        let config = parse(&["--send-before-buffer", "0.5", "--realistic"]).unwrap();
        assert!((config.realism.send_before_buffer - 0.5).abs() < 1e-9);
        assert!(parse(&["--detached-output", "keep"]).is_err());
        assert!(parse(&["--send-before-buffer", "2"]).is_err());
    }

    #[test]
    fn realistic_keeps_configured_timeouts() {
        let config = parse(&["--idle-timeout", "60", "--realistic"]).unwrap();
        assert_eq!(config.realism.output_pacing, Duration::from_millis(1));
        assert_eq!(config.realism.client_rate_limit, Some(1000));
        assert_eq!(config.realism.idle_timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn clusters_come_from_the_config_file_with_ca_files_beside_it() {
        let dir = std::env::temp_dir().join(format!("ssm-sim-bin-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), ssm_sim::eks::SIM_CA_PEM).unwrap();
        let file = dir.join("fleet.toml");
        std::fs::write(
            &file,
            "[[clusters]]\nname = \"prod\"\nca_file = \"ca.pem\"\nstatus = \"UPDATING\"\n",
        )
        .unwrap();
        let config = parse(&["--config", file.to_str().unwrap()]);
        let twice = dir.join("twice.toml");
        std::fs::write(
            &twice,
            "[[clusters]]\nname = \"a\"\n[[clusters]]\nname = \"a\"\n",
        )
        .unwrap();
        let error = parse(&["--config", twice.to_str().unwrap()]).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let config = config.unwrap();
        assert_eq!(config.clusters.len(), 1);
        assert_eq!(config.clusters[0].status, ssm_sim::ClusterStatus::Updating);
        assert_eq!(config.clusters[0].ca_pem(), ssm_sim::eks::SIM_CA_PEM);
        assert!(
            error.to_string().contains("cluster a: configured twice"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["--drop", "1.5"]).is_err());
        assert!(parse(&["--reorder", "-0.1"]).is_err());
        assert!(parse(&["--drop", "NaN"]).is_err());
        assert!(parse(&["--agent-version", "latest"]).is_err());
        assert!(parse(&["--host", "nonsense"]).is_err());
        assert!(parse(&["--recycle-after", "-1"]).is_err());
    }

    #[test]
    fn final_table_shows_core_and_nonzero_columns() {
        let mut summary = SessionSummary {
            session_id: "sim-1".into(),
            target: "i-1".into(),
            document_name: "AWS-StartPortForwardingSession".into(),
            parameters: Default::default(),
            reason: None,
            owner: "o".into(),
            status: ssm_sim::SessionStatus::Terminated,
            end_cause: Some(ssm_sim::EndCause::Shutdown),
            started_at: std::time::SystemTime::now(),
            ended_at: None,
            stats: Default::default(),
        };
        summary.stats.recycles = 2;
        let table = final_table(&[summary]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("session"));
        assert!(lines[0].contains("agent_bytes") && lines[0].contains("recycles"));
        assert!(!lines[0].contains("dial_failures"));
        assert!(lines[1].contains("Shutdown"));
    }
}
