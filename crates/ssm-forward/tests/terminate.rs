//! Ctrl-C against each answer the gateway may give to our TerminateSession
//! flag (issue 16, item 1): the real agent closes its socket with no close
//! frame and sends no `channel_closed`; whether the gateway then sends
//! `channel_closed`, closes the client's socket or does nothing is
//! unknown. In each case `ssm-forward` must exit 0 promptly, with no
//! error line and no resume attempt.

mod common;

use std::time::Duration;

use common::{BASTION, Child, Scratch, aws_flags, echo, ready_forward, sim, ssm_forward};
use ssm_sim::{GatewayPolicy, SessionStatus, SimConfig, TerminateNotice};

/// How long a clean exit may take after a signal.
const EXIT: Duration = Duration::from_secs(3);

async fn ctrl_c_exits_cleanly_when(notice: TerminateNotice) {
    let sim = sim(SimConfig {
        gateway: GatewayPolicy {
            on_terminate: notice,
            ..GatewayPolicy::default()
        },
        ..SimConfig::default()
    })
    .await;
    let scratch = Scratch::new();
    let ready_path = scratch.join("ready.json");
    let mut child = Child::spawn(
        ssm_forward(&scratch)
            .args(["--target", BASTION, "--remote-host", "echo.sim.internal"])
            .args(["--remote-port", "7", "--local-port", "0", "--ready-file"])
            .arg(&ready_path)
            .args(aws_flags(&sim)),
    );
    let ready = child.wait_ready(&ready_path).await;
    let (address, _, session) = ready_forward(&ready, 0);
    echo(address, 100_000).await;

    child.signal("INT");
    let status = child.exit(EXIT).await;
    let transcript = child.transcript();
    assert_eq!(status.code(), Some(0), "{notice:?}\n{transcript}");
    let summary = sim
        .wait_for(&session, Duration::from_secs(2), |s| s.status.is_over())
        .await
        .expect("session known");
    assert_eq!(summary.status, SessionStatus::Terminated, "{notice:?}");
    assert_eq!(summary.stats.terminate_flags, 1, "{notice:?}");
    let stderr = child.stderr();
    assert!(!stderr.contains("error:"), "{notice:?}\n{transcript}");
    assert!(!stderr.contains("resum"), "{notice:?}\n{transcript}");
    assert_eq!(sim.issued_tokens(&session).len(), 1, "{notice:?}: resumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_0_when_the_gateway_sends_channel_closed() {
    ctrl_c_exits_cleanly_when(TerminateNotice::ChannelClosed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_0_when_the_gateway_only_closes_the_socket() {
    ctrl_c_exits_cleanly_when(TerminateNotice::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_0_when_the_gateway_does_nothing() {
    ctrl_c_exits_cleanly_when(TerminateNotice::Nothing).await;
}
