//! `ssm-forward stop NAME`: stops one forward of a running ssm-forward
//! (closes its listener, terminates its sessions); its other forwards go
//! on, and a process whose last forward stopped exits with status 0.

use std::time::Duration;

use clap::Args as ClapArgs;

use crate::control::protocol::{Action, Answer};
use crate::control::{self, Reply};
use crate::errors::{ExitStatus, Fatal};

/// How long a daemon gets to stop the forward and answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// Arguments of `ssm-forward stop`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// The forward's name, as `ssm-forward status` shows it.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Only in this process (when several run a forward of that name).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
}

/// `ssm-forward stop NAME [--pid PID]`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let owners = owners(&args).await?;
    let pid = match owners.as_slice() {
        [] => {
            return Err(Fatal::usage(format!(
                "no running forward is named {:?}; `ssm-forward status` lists them",
                args.name
            ))
            .into());
        }
        [pid] => *pid,
        several => {
            let pids: Vec<String> = several.iter().map(u32::to_string).collect();
            return Err(Fatal::usage(format!(
                "processes {} each run a forward named {:?}: add --pid",
                pids.join(", "),
                args.name
            ))
            .into());
        }
    };
    let stop = Action::Stop {
        name: args.name.clone(),
    };
    let reply = control::ask_one(&stop, pid, ANSWER_TIMEOUT)
        .await
        .map_err(|error| Fatal::new(ExitStatus::Runtime, error.to_string()))?;
    report(&args.name, pid, reply)
}

/// The processes running a forward named `args.name` (only `--pid`'s
/// when given).
async fn owners(args: &Args) -> Result<Vec<u32>, Fatal> {
    let replies = control::ask_all(&Action::Status, Duration::from_secs(3))
        .await
        .map_err(|error| Fatal::new(ExitStatus::Runtime, error.to_string()))?;
    Ok(replies
        .into_iter()
        .filter(|reply| args.pid.is_none_or(|pid| pid == reply.pid))
        .filter_map(|reply| match reply.answer.ok()?.answer {
            Answer::Status(status) => status
                .forwards
                .iter()
                .any(|f| f.name == args.name)
                .then_some(reply.pid),
            _ => None,
        })
        .collect())
}

/// Prints what the process did; an error when it did not stop the forward.
fn report(name: &str, pid: u32, reply: Option<Reply>) -> anyhow::Result<()> {
    let failed = |message: String| Fatal::new(ExitStatus::Runtime, message);
    let reply = reply.ok_or_else(|| failed(format!("process {pid} exited before it answered")))?;
    match reply
        .answer
        .map_err(|error| failed(format!("process {pid}: {error}")))?
        .answer
    {
        Answer::Stopped { remaining, .. } if remaining.is_empty() => {
            println!("{name}: stopped; it was the last forward of process {pid}, which exits");
            Ok(())
        }
        Answer::Stopped { remaining, .. } => {
            println!(
                "{name}: stopped; process {pid} goes on with {}",
                remaining.join(", ")
            );
            Ok(())
        }
        Answer::Error { message } => Err(failed(format!("process {pid}: {message}")).into()),
        Answer::Status(_) => Err(failed(format!("process {pid} answered with a status")).into()),
    }
}
