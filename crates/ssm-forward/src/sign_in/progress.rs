//! A one-line progress indicator while the login waits for approval:
//! on a terminal (and not with `--json`) a spinner with the time waited
//! and the time left, redrawn in place and erased at the end; elsewhere
//! nothing (the code line already said what to do).

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use ssm_sso::{CachedToken, LoginError, LoginProgress};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::debug;

use super::LoginStyle;

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
const REDRAW: Duration = Duration::from_millis(250);

/// Awaits `waiting` (the poll loop) with a spinner on stderr when a
/// person is watching.
pub async fn while_waiting(
    style: LoginStyle,
    expires_in: Duration,
    waiting: impl Future<Output = Result<CachedToken, LoginError>>,
) -> Result<CachedToken, LoginError> {
    let (stop, stopped) = watch::channel(false);
    let spinner = (!style.json && std::io::stderr().is_terminal())
        .then(|| tokio::spawn(spin(expires_in, stopped)));
    let result = waiting.await;
    let _ = stop.send(true);
    if let Some(spinner) = spinner {
        let _ = spinner.await;
    }
    result
}

/// The poll loop's progress callback: a debug line per event.
pub fn log(event: LoginProgress) {
    debug!(?event, "still waiting for approval");
}

async fn spin(expires_in: Duration, mut stopped: watch::Receiver<bool>) {
    let started = Instant::now();
    let mut frame = 0;
    loop {
        let waited = started.elapsed();
        let left = expires_in.saturating_sub(waited);
        eprint!(
            "\r{} waiting for approval in the browser: {}s (code valid {}:{:02} more) ",
            FRAMES[frame % FRAMES.len()],
            waited.as_secs(),
            left.as_secs() / 60,
            left.as_secs() % 60
        );
        let _ = std::io::stderr().flush();
        frame += 1;
        tokio::select! {
            () = tokio::time::sleep(REDRAW) => {}
            _ = stopped.changed() => break,
        }
    }
    // Erase the line so the next status line starts clean.
    eprint!("\r\x1b[2K");
    let _ = std::io::stderr().flush();
}
