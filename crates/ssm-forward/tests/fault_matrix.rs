//! The fault matrix: for mux and basic mode and each fault ssm-sim can
//! inject, echo a transfer both ways through the `ssm-forward` binary and
//! check it byte-exact; prints one row per case (time, reconnects, the
//! agent's retransmits, what the faults did).
//!
//! Ignored by default (minutes at full size); run it with
//! `SSM_FAULT_MATRIX_MIB=5 cargo test -p ssm-forward --test fault_matrix --
//! --ignored --nocapture`. The size defaults to 1 MiB each way.

mod common;

use std::time::{Duration, Instant};

use common::{BASTION, Child, Scratch, aws_flags, echo, ready_forward, sim, ssm_forward};
use ssm_sim::{FaultConfig, SessionStats, SimConfig};

/// Old agent: basic mode.
const OLD_AGENT: &str = "i-0old000000000000b";

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
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready_path.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = child.wait_ready(&ready_path).await;
    let (address, _, session) = ready_forward(&ready, 0);
    let started = Instant::now();
    echo(address, size).await;
    let took = started.elapsed();
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

fn print_table(rows: &[Row], size: usize) {
    eprintln!(
        "\nfault matrix: {} MiB each way, echoed byte-exact through ssm-forward\n",
        size >> 20
    );
    eprintln!(
        "| mode | fault | time (s) | reconnects | agent retransmits | dropped | duplicated | reordered | corrupted | pauses |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let s = &row.stats;
        eprintln!(
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            row.mode,
            row.fault,
            row.took.as_secs_f64(),
            s.reconnects(),
            s.agent_retransmits,
            s.faults_dropped,
            s.faults_duplicated,
            s.faults_reordered,
            s.faults_corrupted,
            s.pauses_sent
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes at full size; run by hand (see the file's doc)"]
async fn every_fault_in_both_modes_echoes_byte_exact() {
    let mib: usize = std::env::var("SSM_FAULT_MATRIX_MIB")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1);
    let size = mib << 20;
    let mut rows = Vec::new();
    for (mode, target) in [("mux", BASTION), ("basic", OLD_AGENT)] {
        for fault in faults() {
            rows.push(run_case(mode, target, fault, size).await);
        }
    }
    print_table(&rows, size);
}
