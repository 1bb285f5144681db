//! The fault matrix: for mux and basic mode and each fault ssm-sim can
//! inject, echo a transfer both ways through the `ssm-forward` binary and
//! check it byte-exact; one row per case (time, reconnects, retransmits on
//! each side, what the faults did) goes to stderr and to
//! `$CARGO_TARGET_TMPDIR/fault-matrix.md`, which CI prints.
//!
//! Runs in CI at 5 MiB each way, six cases at a time (about two minutes).
//! `SSM_FAULT_MATRIX_MIB` changes the size, `SSM_FAULT_MATRIX_PARALLEL`
//! the number of cases run at once (1 gives undisturbed timings):
//! `SSM_FAULT_MATRIX_PARALLEL=1 cargo test -p ssm-forward --test
//! fault_matrix -- --nocapture`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{BASTION, Child, Scratch, aws_flags, echo, ready_forward, sim, ssm_forward};
use ssm_sim::{FaultConfig, SessionStats, SimConfig};
use tokio::sync::Semaphore;

/// Old agent: basic mode.
const OLD_AGENT: &str = "i-0old000000000000b";

/// The longest one case may take (its echo, not counting the start).
const CASE_LIMIT: Duration = Duration::from_secs(300);

/// One fault of the matrix.
struct Fault {
    name: &'static str,
    faults: FaultConfig,
}

fn fault(name: &'static str, change: impl FnOnce(&mut FaultConfig)) -> Fault {
    let mut faults = FaultConfig {
        seed: 11,
        ..FaultConfig::default()
    };
    change(&mut faults);
    Fault { name, faults }
}

fn faults() -> Vec<Fault> {
    vec![
        fault("none", |_| {}),
        fault("5% drop", |f| f.drop = 0.05),
        fault("5% duplicate", |f| f.duplicate = 0.05),
        fault("5% reorder", |f| f.reorder = 0.05),
        fault("5% dropped acks", |f| f.drop_acks = 0.05),
        fault("socket closed every 2 s", |f| {
            f.close_after = Some(Duration::from_secs(2));
        }),
        fault("pause 200 ms every 1 s", |f| {
            f.pause_every = Some(Duration::from_secs(1));
            f.pause_length = Duration::from_millis(200);
        }),
        fault("1% corrupted digests", |f| f.corrupt_digest = 0.01),
        fault("handshake delayed 12 s", |f| {
            f.handshake_delay = Duration::from_secs(12);
        }),
    ]
}

/// What one case showed.
struct Row {
    mode: &'static str,
    fault: &'static str,
    took: Duration,
    stats: SessionStats,
}

async fn run_case(mode: &'static str, target: &str, fault: Fault, size: usize) -> Row {
    let sim = sim(SimConfig {
        faults: fault.faults,
        ..SimConfig::default()
    })
    .await;
    let scratch = Scratch::new();
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args(["--target", target, "--remote-host", "echo.sim.internal"])
            .args(["--remote-port", "7", "--local-port", "0", "--ready-file"])
            .arg(&ready_path)
            .args(aws_flags(&sim)),
    );
    // The delayed handshake outlasts the helpers' usual 10 s wait.
    let ready = child
        .wait_ready_within(&ready_path, Duration::from_secs(60))
        .await;
    let (address, _, session) = ready_forward(&ready, 0);
    let started = Instant::now();
    let echoed = tokio::time::timeout(CASE_LIMIT, echo(address, size)).await;
    let took = started.elapsed();
    assert!(
        echoed.is_ok(),
        "{mode} / {}: no echo within {CASE_LIMIT:?}\n{}",
        fault.name,
        child.transcript()
    );
    child.signal("INT");
    assert_eq!(child.exit(Duration::from_secs(10)).await.code(), Some(0));
    let stats = sim.session(&session).expect("session known").stats;
    Row {
        mode,
        fault: fault.name,
        took,
        stats,
    }
}

fn table(rows: &[Row], size: usize) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "fault matrix: {:.2} MiB each way, echoed byte-exact through ssm-forward\n\n",
        size as f64 / f64::from(1 << 20)
    );
    out.push_str(
        "| mode | fault | time (s) | reconnects | client resends seen | agent retransmits | dropped | duplicated | reordered | corrupted | pauses |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for row in rows {
        let s = &row.stats;
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.mode,
            row.fault,
            row.took.as_secs_f64(),
            s.reconnects(),
            s.client_duplicates,
            s.agent_retransmits,
            s.faults_dropped,
            s.faults_duplicated,
            s.faults_reordered,
            s.faults_corrupted,
            s.pauses_sent
        );
    }
    out
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_in_both_modes_echoes_byte_exact() {
    let size = env_number("SSM_FAULT_MATRIX_MIB", 5) << 20;
    let parallel = Arc::new(Semaphore::new(
        env_number("SSM_FAULT_MATRIX_PARALLEL", 6).max(1),
    ));
    let mut cases = Vec::new();
    for (mode, target) in [("mux", BASTION), ("basic", OLD_AGENT)] {
        for fault in faults() {
            let parallel = parallel.clone();
            cases.push(tokio::spawn(async move {
                let _turn = parallel.acquire_owned().await.unwrap();
                run_case(mode, target, fault, size).await
            }));
        }
    }
    let mut rows = Vec::new();
    for case in cases {
        rows.push(case.await.expect("every case echoes byte-exact"));
    }
    let table = table(&rows, size);
    eprintln!("{table}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-matrix.md");
    std::fs::write(&path, &table).expect("write the matrix table");
}
