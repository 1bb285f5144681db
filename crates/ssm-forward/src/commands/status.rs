//! `ssm-forward status`: what every running ssm-forward of this user is
//! doing, asked through their control sockets ([`crate::control`]): a
//! table on stdout, one JSON object with `--json`, refreshed with
//! `--watch`.

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::Args as ClapArgs;
use serde::Serialize;

use crate::control::protocol::{Action, Answer, DaemonStatus};
use crate::control::{self, table};
use crate::errors::{ExitStatus, Fatal};
use crate::signals::{self, Signals};

/// How long each daemon gets to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// Arguments of `ssm-forward status`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// Refresh every SECONDS (default 2) until Ctrl-C.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub watch: Option<u32>,
}

/// The `--json` form: every daemon that answered, and those that did not.
#[derive(Debug, Serialize)]
struct StatusJson {
    version: u32,
    daemons: Vec<DaemonStatus>,
    unanswered: Vec<Unanswered>,
}

#[derive(Debug, Serialize)]
struct Unanswered {
    pid: u32,
    error: String,
}

/// `ssm-forward status [--watch [SECONDS]]`; `json` is the global `--json`.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let Some(every) = args.watch else {
        return show(json, false).await;
    };
    let mut signals = Signals::new(signals::INTERRUPT_OR_TERMINATE).map_err(anyhow::Error::from)?;
    let clear = !json && std::io::stdout().is_terminal();
    loop {
        show(json, clear).await?;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(u64::from(every))) => {}
            _ = signals.recv() => return Ok(()),
        }
    }
}

/// Asks every daemon once and prints the answers.
async fn show(json: bool, clear: bool) -> anyhow::Result<()> {
    let (daemons, unanswered) = ask().await?;
    let text = if json {
        let all = StatusJson {
            version: control::protocol::VERSION,
            daemons,
            unanswered: unanswered
                .into_iter()
                .map(|(pid, error)| Unanswered { pid, error })
                .collect(),
        };
        serde_json::to_string(&all)? + "\n"
    } else {
        table::render(&daemons, &unanswered, jiff::Timestamp::now())
    };
    let clear = if clear { "\x1b[H\x1b[2J" } else { "" };
    print!("{clear}{text}");
    use std::io::Write as _;
    std::io::stdout().flush()?;
    Ok(())
}

/// Every daemon's status, and (pid, why) for those that gave none.
async fn ask() -> Result<(Vec<DaemonStatus>, Vec<(u32, String)>), Fatal> {
    let replies = control::ask_all(&Action::Status, ANSWER_TIMEOUT)
        .await
        .map_err(|error| Fatal::new(ExitStatus::Runtime, error.to_string()))?;
    let mut daemons = Vec::new();
    let mut unanswered = Vec::new();
    for reply in replies {
        match reply.answer.map(|response| response.answer) {
            Ok(Answer::Status(status)) => daemons.push(status),
            Ok(Answer::Error { message }) => unanswered.push((reply.pid, message)),
            Ok(other) => unanswered.push((reply.pid, format!("unexpected answer {other:?}"))),
            Err(error) => unanswered.push((reply.pid, error)),
        }
    }
    Ok((daemons, unanswered))
}
