//! A followed log stream (`kubectl logs -f`) across a WebSocket recycle,
//! for both scenarios: the session's socket is closed (1000 "Bye"),
//! ssm-forward resumes the session, and no line is lost or repeated.

use std::time::Instant;

use ssm_sim::{Injection, SessionStatus, Simulator};

use super::apiserver::LOG_INTERVAL;
use super::lab::STEP;
use super::process::Running;

/// Lines that must arrive after the recycle.
const LINES_AFTER_RECYCLE: usize = 5;

/// What the recycle looked like.
#[derive(Debug)]
pub(crate) struct Recycled {
    /// Lines received in all.
    pub(crate) total: usize,
    /// Of those, after the reconnect.
    pub(crate) after: usize,
    /// The session's reconnects.
    pub(crate) reconnects: u64,
}

/// Waits for 3 lines of `follow` (following `pod`), recycles `session`'s
/// WebSocket, waits for the reconnect and 5 more lines, and checks that
/// the lines are exactly `N POD log line N` for N = 1, 2, 3, …
/// `diagnostics` goes into failure messages.
pub(crate) async fn across_recycle(
    sim: &Simulator,
    session: &str,
    pod: &str,
    follow: &mut Running,
    diagnostics: &dyn Fn() -> String,
) -> Recycled {
    wait_lines(follow, 3, diagnostics).await;
    let close = Injection::Close {
        code: 1000,
        reason: "Bye".into(),
    };
    assert!(sim.inject(session, close), "session {session} is not live");
    let summary = sim
        .wait_for(session, STEP, |s| s.stats.reconnects() >= 1)
        .await
        .expect("session known");
    assert!(
        summary.stats.reconnects() >= 1 && summary.status == SessionStatus::Connected,
        "no reconnect after the recycle: {summary:?}\n{}",
        diagnostics()
    );
    let at_reconnect = line_count(follow);
    let total = wait_lines(follow, at_reconnect + LINES_AFTER_RECYCLE, diagnostics).await;
    assert_in_order(&follow.stdout(), pod);
    Recycled {
        total,
        after: total - at_reconnect,
        reconnects: summary.stats.reconnects(),
    }
}

fn line_count(follow: &Running) -> usize {
    follow.stdout().lines().count()
}

/// Waits until the follower printed `lines` lines; returns the count.
async fn wait_lines(follow: &mut Running, lines: usize, diagnostics: &dyn Fn() -> String) -> usize {
    let deadline = Instant::now() + STEP;
    loop {
        let count = line_count(follow);
        if count >= lines {
            return count;
        }
        let exited = follow.exited();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "kubectl logs -f: {count} of {lines} lines (exit: {exited:?})\n{}\n{}",
            follow.transcript(),
            diagnostics()
        );
        tokio::time::sleep(LOG_INTERVAL / 4).await;
    }
}

/// Lines are exactly `N POD log line N` for N = 1, 2, 3, …
fn assert_in_order(stdout: &str, pod: &str) {
    for (index, line) in stdout.lines().enumerate() {
        let n = index + 1;
        assert_eq!(
            line,
            format!("{n} {pod} log line {n}"),
            "line {n}\n{stdout}"
        );
    }
}
