//! Session pools (`ssm-forward --sessions N`, daemon mode): 1, 4 and 16
//! parallel connections each downloading, then uploading, 8 MiB through
//! pools of 1, 2 and 4 sessions, with the realistic profile (each
//! session paced by its own simulated agent and gateway limit). Figures:
//! aggregate MB/s each way, the time until the last connection finished,
//! and ssm-forward's CPU per MB for each pool size. Then the burst of the
//! concurrency scenario through a pool of 4, with the plugin's single
//! session alongside, five rounds each (the median is the figure; also
//! the scenario `pool-burst` on its own).
//!
//! Each pool is warmed first: a pool grows only while its sessions are
//! busy, so connections opened at the same instant share the sessions up
//! at that instant. The warm-up holds connections open until the pool has
//! all its sessions, then resets them and waits until the sessions stop
//! carrying what the agent still had queued for them; the measured
//! connections find the sessions idle (pooled sessions close after a
//! minute idle).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use ssm_sim::targets::ECHO_HOST;
use ssm_sim::{SessionStatus, Simulator};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::latency::ECHO_PORT;
use super::{Context, failed, stop};
use crate::lab::{Profile, SINK_HOST, SOURCE_HOST};
use crate::metrics;
use crate::net;
use crate::report::Report;
use crate::subject::{self, Kind, Running, Subject};

/// Port in the session parameters; the host overrides carry the real one.
const ANY_PORT: u16 = 9;
/// How long the warm-up waits for the pool to grow after each held
/// connection.
const GROWTH_WAIT: Duration = Duration::from_secs(3);
/// After the warm-up, the held connections' data still on its way must
/// drain before the measurement: the agent kept reading the source while
/// the unread streams blocked the session, and that backlog (measured: up
/// to 7 MB on one session) still crosses after the reset. The sessions
/// count as drained once their byte counters stand still this long ...
const DRAINED_AFTER: Duration = Duration::from_millis(600);
/// ... but never sooner than this (acks and closes in flight) ...
const DRAIN_AT_LEAST: Duration = Duration::from_secs(1);
/// ... and the measurement starts anyway after this (and says so).
const DRAIN_AT_MOST: Duration = Duration::from_secs(60);
/// How often the drain looks at the counters.
const DRAIN_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Download,
    Upload,
}

/// One cell of the table: `connections` in parallel through a pool.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Bytes that arrived, over all connections.
    bytes: u64,
    /// Until the last connection finished (or the time limit).
    last: Duration,
    /// Every byte arrived within the time limit.
    complete: bool,
}

impl Cell {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.last.as_secs_f64()
    }
}

/// The measurements of one pool size.
#[derive(Debug, Default)]
struct PoolRow {
    sessions: usize,
    /// (connections, download, upload) per connection count.
    cells: Vec<(usize, Option<Cell>, Option<Cell>)>,
    cpu: Duration,
    bytes: u64,
}

/// Runs the grid and the burst.
pub(super) async fn run(context: &Context<'_>, report: &mut Report) -> anyhow::Result<()> {
    let Some(ours) = context.subjects.iter().find(|s| s.kind == Kind::Ours) else {
        report.note("pool: needs ssm-forward (not run with --no-ours)");
        return Ok(());
    };
    let plan = context.plan;
    report.note(format!(
        "pool: {} KiB per connection and direction, realistic profile, pools warmed first; \
         time limit {} s per cell",
        plan.pool_bytes >> 10,
        plan.pool_cap.as_secs()
    ));
    let mut rows = Vec::new();
    for &sessions in &plan.pool_sessions {
        let mut row = PoolRow {
            sessions,
            ..PoolRow::default()
        };
        for &connections in &plan.pool_connections {
            let down = cell(
                context,
                ours,
                sessions,
                connections,
                Direction::Download,
                &mut row,
                report,
            )
            .await;
            let up = cell(
                context,
                ours,
                sessions,
                connections,
                Direction::Upload,
                &mut row,
                report,
            )
            .await;
            row.cells.push((connections, down, up));
        }
        rows.push(row);
    }
    record_targets(report, &rows);
    report.table(render(&rows, plan.pool_cap));
    burst(context, report).await;
    Ok(())
}

/// Measures one cell, noting a failure in the report.
async fn cell(
    context: &Context<'_>,
    ours: &Subject,
    sessions: usize,
    connections: usize,
    direction: Direction,
    row: &mut PoolRow,
    report: &mut Report,
) -> Option<Cell> {
    let what =
        format!("pool of {sessions}, {connections} connections, {direction:?}").to_lowercase();
    eprintln!("   {what}");
    match measure(context, ours, (sessions, connections), direction, report).await {
        Ok((cell, cpu)) => {
            row.cpu += cpu;
            row.bytes += cell.bytes;
            if !cell.complete {
                report.note(format!(
                    "{what}: stopped at the time limit after {:.1} MB",
                    cell.bytes as f64 / 1e6
                ));
            }
            Some(cell)
        }
        Err(error) => {
            failed(report, &what, ours, &error);
            None
        }
    }
}

async fn measure(
    context: &Context<'_>,
    ours: &Subject,
    (sessions, connections): (usize, usize),
    direction: Direction,
    report: &mut Report,
) -> anyhow::Result<(Cell, Duration)> {
    let plan = context.plan;
    let lab = context.lab;
    let sim = lab.sim(Profile::Realistic);
    let host = match direction {
        Direction::Download => SOURCE_HOST,
        Direction::Upload => SINK_HOST,
    };
    // Warm-up connections to the source hold a stream without reading.
    lab.source.set_amount(plan.pool_bytes);
    let earlier = session_ids(sim);
    let running = subject::launch_forward(ours, sim, host, ANY_PORT, sessions).await?;
    let result = async {
        warm_up(sim, &earlier, running.addr(), sessions).await?;
        let drained = drain_warm_up(sim, &earlier).await;
        let cpu_before = running.cpu()?;
        let before = per_session(sim, &earlier);
        let cell = match direction {
            Direction::Download => download(running.addr(), connections, plan).await?,
            Direction::Upload => upload(context, running.addr(), connections).await?,
        };
        let shares = shares_text(&before, &per_session(sim, &earlier));
        let cpu = running.cpu()?.saturating_sub(cpu_before);
        anyhow::Ok((cell, cpu, format!("{}; {shares}", drained.text())))
    }
    .await;
    stop(report, "pool", ours, running).await;
    let (cell, cpu, shares) = result?;
    let direction = format!("{direction:?}").to_lowercase();
    report.note(format!(
        "pool of {sessions}, {connections} connections, {direction}: {shares}"
    ));
    Ok((cell, cpu))
}

/// Bytes each way and streams opened so far, per session of this cell
/// (sessions of earlier cells left out).
fn per_session(sim: &Simulator, earlier: &HashSet<String>) -> Vec<(String, [u64; 3])> {
    let mut sessions: Vec<_> = sim
        .sessions()
        .into_iter()
        .filter(|s| !earlier.contains(&s.session_id))
        .map(|s| {
            let stats = s.stats;
            (
                s.session_id,
                [stats.agent_bytes, stats.client_bytes, stats.streams_opened],
            )
        })
        .collect();
    sessions.sort();
    sessions
}

/// What each session carried between two [`per_session`] samples: how
/// the pool spread the connections (a placement problem shows here).
fn shares_text(before: &[(String, [u64; 3])], after: &[(String, [u64; 3])]) -> String {
    let parts: Vec<String> = after
        .iter()
        .map(|(id, now)| {
            let then = before
                .iter()
                .find(|(earlier, _)| earlier == id)
                .map_or([0; 3], |(_, counts)| *counts);
            let delta = |i: usize| now[i].saturating_sub(then[i]);
            format!(
                "{:.1} MB down, {:.1} MB up, {} streams",
                delta(0) as f64 / 1e6,
                delta(1) as f64 / 1e6,
                delta(2)
            )
        })
        .collect();
    format!("per session: {}", parts.join("; "))
}

/// Holds connections open until the simulator has `sessions` live
/// sessions (the pool grows only while every session is busy), then
/// closes them.
async fn warm_up(
    sim: &Simulator,
    earlier: &HashSet<String>,
    addr: SocketAddr,
    sessions: usize,
) -> anyhow::Result<()> {
    let live_sessions = |sim: &Simulator| live_sessions(sim, earlier);
    let mut held = Vec::new();
    // Each growth needs every session busy: 2 connections per new
    // session are always enough.
    for _ in 0..sessions * 2 {
        if live_sessions(sim) >= sessions {
            break;
        }
        let before = live_sessions(sim);
        let mut stream = TcpStream::connect(addr).await.context("warm-up connect")?;
        stream.write_all(b"warm-up").await?;
        held.push(stream);
        let deadline = Instant::now() + GROWTH_WAIT;
        while live_sessions(sim) == before && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Reset rather than close: a closed (half-closed) connection whose
    // destination never answers (the sink) keeps its stream for the
    // forward's linger time, and the pool would count it as busy.
    for stream in held {
        stream.set_zero_linger()?;
    }
    anyhow::ensure!(
        live_sessions(sim) >= sessions,
        "the pool did not grow to {sessions} sessions ({} live)",
        live_sessions(sim)
    );
    Ok(())
}

/// What the warm-up left to drain, and how long it took.
struct Drained {
    bytes: u64,
    took: Duration,
    settled: bool,
}

impl Drained {
    fn text(&self) -> String {
        let state = if self.settled {
            ""
        } else {
            " (still moving: measured anyway)"
        };
        format!(
            "warm-up drained {:.1} MB in {:.1} s{state}",
            self.bytes as f64 / 1e6,
            self.took.as_secs_f64()
        )
    }
}

/// Waits until this cell's sessions stop carrying the warm-up's leftovers
/// (see [`DRAINED_AFTER`]).
async fn drain_warm_up(sim: &Simulator, earlier: &HashSet<String>) -> Drained {
    let total = |sim: &Simulator| -> u64 {
        per_session(sim, earlier)
            .iter()
            .map(|(_, [down, up, _])| down + up)
            .sum()
    };
    let started = Instant::now();
    let first = total(sim);
    let mut last = first;
    let mut still_since = Instant::now();
    loop {
        tokio::time::sleep(DRAIN_POLL).await;
        let now = total(sim);
        if now != last {
            last = now;
            still_since = Instant::now();
        }
        let took = started.elapsed();
        let settled = still_since.elapsed() >= DRAINED_AFTER && took >= DRAIN_AT_LEAST;
        if settled || took >= DRAIN_AT_MOST {
            return Drained {
                bytes: last - first,
                took,
                settled,
            };
        }
    }
}

/// Sessions up now that were not there before (earlier runs' sessions
/// may still be ending).
fn live_sessions(sim: &Simulator, earlier: &HashSet<String>) -> usize {
    sim.sessions()
        .iter()
        .filter(|s| s.status == SessionStatus::Connected && !earlier.contains(&s.session_id))
        .count()
}

/// Every session the simulator knows now.
fn session_ids(sim: &Simulator) -> HashSet<String> {
    sim.sessions().into_iter().map(|s| s.session_id).collect()
}

/// `connections` downloads at once; the last one's finish.
async fn download(
    addr: SocketAddr,
    connections: usize,
    plan: &crate::plan::Plan,
) -> anyhow::Result<Cell> {
    let (size, cap) = (plan.pool_bytes, plan.pool_cap);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        tasks.spawn(net::download(addr, size, cap));
    }
    let mut cell = Cell {
        bytes: 0,
        last: Duration::ZERO,
        complete: true,
    };
    while let Some(joined) = tasks.join_next().await {
        let transfer = joined??;
        cell.bytes += transfer.bytes;
        cell.last = cell.last.max(transfer.elapsed);
        cell.complete &= transfer.bytes >= size;
    }
    Ok(cell)
}

/// `connections` uploads at once; until the sink has every byte.
async fn upload(
    context: &Context<'_>,
    addr: SocketAddr,
    connections: usize,
) -> anyhow::Result<Cell> {
    let plan = context.plan;
    let sink = &context.lab.sink;
    let size = plan.pool_bytes;
    let total = size * connections as u64;
    sink.reset();
    let started = Instant::now();
    let deadline = started + plan.pool_cap;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        tasks.spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            let chunk = vec![0x5a; 64 * 1024];
            let mut sent = 0;
            while sent < size {
                let n =
                    usize::try_from(size - sent).map_or(chunk.len(), |left| left.min(chunk.len()));
                stream.write_all(&chunk[..n]).await?;
                sent += n as u64;
            }
            // Hold the connection until the bench is done with it.
            anyhow::Ok(stream)
        });
    }
    let bytes = sink.wait_for(total, deadline).await;
    let last = started.elapsed().min(plan.pool_cap);
    tasks.abort_all();
    Ok(Cell {
        bytes,
        last,
        complete: bytes >= total,
    })
}

/// Rounds of the burst per subject; the median is the figure (one burst
/// takes a few tens of milliseconds, so one round is mostly noise).
const BURST_ROUNDS: usize = 5;
/// Pause between rounds, for the previous round's connections to close.
const BURST_PAUSE: Duration = Duration::from_secs(1);

/// The burst of the concurrency scenario, `BURST_ROUNDS` times: ours
/// through a pool of 4 (warmed), the plugin through its one session.
/// Also a scenario of its own (`pool-burst`).
pub(super) async fn burst(context: &Context<'_>, report: &mut Report) {
    let sessions = *context.plan.pool_sessions.iter().max().unwrap_or(&1);
    for subject in context.subjects {
        match burst_rounds(context, subject, sessions, report).await {
            Ok(rounds) => record_burst(report, subject, context.plan.connections, &rounds),
            Err(error) => failed(report, "pool burst", subject, &error),
        }
    }
}

/// The median round's time and every round's failures, with a note of
/// each round.
fn record_burst(report: &mut Report, subject: &Subject, connections: usize, rounds: &[net::Burst]) {
    let mut times: Vec<f64> = rounds.iter().map(|b| b.elapsed.as_secs_f64()).collect();
    times.sort_by(f64::total_cmp);
    let Some(&median) = times.get(times.len() / 2) else {
        return;
    };
    let failures: usize = rounds.iter().map(|b| b.errors.len()).sum();
    report.record(metrics::POOL_BURST_TIME, subject.kind, median);
    report.record(metrics::POOL_BURST_FAILURES, subject.kind, failures as f64);
    let each: Vec<String> = rounds
        .iter()
        .map(|b| format!("{:.1}", b.elapsed.as_secs_f64() * 1e3))
        .collect();
    report.note(format!(
        "pool burst, {}: {connections} connections, rounds {} ms (median {:.1} ms)",
        subject.kind.name(),
        each.join(", "),
        median * 1e3
    ));
    if let Some(first) = rounds.iter().flat_map(|b| b.errors.iter()).next() {
        report.fail(format!(
            "pool burst, {}: {failures} connections failed, e.g. {first}",
            subject.kind.name()
        ));
    }
}

async fn burst_rounds(
    context: &Context<'_>,
    subject: &Subject,
    sessions: usize,
    report: &mut Report,
) -> anyhow::Result<Vec<net::Burst>> {
    let sim = context.lab.sim(Profile::Realistic);
    let running: Running = match subject.kind {
        Kind::Ours => {
            let earlier = session_ids(sim);
            let running =
                subject::launch_forward(subject, sim, ECHO_HOST, ECHO_PORT, sessions).await?;
            warm_up(sim, &earlier, running.addr(), sessions).await?;
            let drained = drain_warm_up(sim, &earlier).await;
            report.note(format!("pool burst, ours: {}", drained.text()));
            running
        }
        Kind::Plugin => context.session(subject, sim, ECHO_HOST, ECHO_PORT).await?,
    };
    let mut rounds = Vec::with_capacity(BURST_ROUNDS);
    for round in 0..BURST_ROUNDS {
        if round > 0 {
            tokio::time::sleep(BURST_PAUSE).await;
        }
        let mut burst = net::burst(running.addr(), context.plan.connections).await;
        // Closed before the pause, as a client finishing its requests.
        burst.streams.clear();
        rounds.push(burst);
    }
    stop(report, "pool burst", subject, running).await;
    Ok(rounds)
}

/// The ratios and costs the targets judge: 4 sessions against 1 for 4
/// and 16 connections, and CPU per MB of each pool size.
fn record_targets(report: &mut Report, rows: &[PoolRow]) {
    let find = |sessions: usize| rows.iter().find(|row| row.sessions == sessions);
    let rate = |row: &PoolRow, connections: usize, down: bool| {
        row.cells
            .iter()
            .find(|(n, ..)| *n == connections)
            .and_then(|(_, d, u)| if down { *d } else { *u })
            .map(|cell| cell.mb_per_s())
    };
    if let (Some(one), Some(four)) = (find(1), find(4)) {
        for (index, connections) in [4, 16].into_iter().enumerate() {
            for (down, metric) in [
                (true, metrics::POOL_GAIN_DOWN[index]),
                (false, metrics::POOL_GAIN_UP[index]),
            ] {
                if let (Some(base), Some(pooled)) =
                    (rate(one, connections, down), rate(four, connections, down))
                {
                    report.record(metric, Kind::Ours, pooled / base);
                }
            }
        }
    }
    for (index, sessions) in [1, 4].into_iter().enumerate() {
        if let Some(row) = find(sessions).filter(|row| row.bytes > 0) {
            let per_mb = row.cpu.as_secs_f64() / (row.bytes as f64 / 1e6);
            report.record(metrics::POOL_CPU_PER_MB[index], Kind::Ours, per_mb);
        }
    }
}

/// The grid as a markdown table.
fn render(rows: &[PoolRow], cap: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Session pools (ssm-forward --sessions N, realistic profile; MB = 10^6 bytes; \
         \"last\" is when the last connection finished, > {} s when it hit the time limit):\n",
        cap.as_secs()
    );
    let _ = writeln!(
        out,
        "| sessions | connections | download MB/s | download last (s) | upload MB/s | upload last (s) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for row in rows {
        for (connections, down, up) in &row.cells {
            let _ = writeln!(
                out,
                "| {} | {connections} | {} | {} | {} | {} |",
                row.sessions,
                rate_text(*down),
                last_text(*down, cap),
                rate_text(*up),
                last_text(*up, cap)
            );
        }
    }
    out
}

fn rate_text(cell: Option<Cell>) -> String {
    cell.map_or_else(|| "–".into(), |cell| format!("{:.2}", cell.mb_per_s()))
}

fn last_text(cell: Option<Cell>, cap: Duration) -> String {
    match cell {
        Some(cell) if cell.complete => format!("{:.1}", cell.last.as_secs_f64()),
        Some(_) => format!("> {}", cap.as_secs()),
        None => "–".into(),
    }
}
