//! The implementations under test and how they are started: the argv the
//! AWS CLI hands session-manager-plugin (protocol.md §2.1).
//!
//! Every subject runs under a small `sh` wrapper that prints
//! [`EXEC_MARKER`] and then execs the program, so the process id is the
//! program's and setup is timed from the exec on, without the wrapper's
//! own start (or the `unshare` below) in it.

mod process;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::cli::{Args, Seelog};
pub(crate) use process::{Running, launch, launch_forward};

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// ssm-forward in plugin mode.
    Ours,
    /// The official session-manager-plugin.
    Plugin,
}

impl Kind {
    /// Name in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ours => "ssm-forward",
            Self::Plugin => "plugin",
        }
    }
}

/// An implementation under test: what to execute before the plugin argv.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// Which one.
    pub(crate) kind: Kind,
    /// The program to execute.
    program: PathBuf,
    /// Arguments before the six plugin arguments.
    leading: Vec<String>,
    /// The implementation's executable.
    pub(crate) path: PathBuf,
    /// What `--version` printed.
    pub(crate) version: String,
}

/// Where the plugin looks for its logging configuration.
const SEELOG_DIR: &str = "/usr/local/sessionmanagerplugin";
/// The line the wrapper prints just before it execs the program.
pub(crate) const EXEC_MARKER: &str = "ssm-bench: exec";
/// The wrapper: `$0` is the program, `$@` its arguments.
const EXEC_SCRIPT: &str = "echo 'ssm-bench: exec' && exec \"$0\" \"$@\"";

/// The subjects the command line asks for, ours first.
pub(crate) fn from_args(args: &Args) -> anyhow::Result<Vec<Subject>> {
    let mut subjects = Vec::new();
    if !args.no_ours {
        let path = match &args.ssm_forward {
            Some(path) => path.clone(),
            None => ssm_bench::sibling_ssm_forward()?,
        };
        subjects.push(ours(&path)?);
    }
    if let Some(path) = &args.plugin {
        subjects.push(plugin(path, args.plugin_seelog)?);
    }
    if subjects.is_empty() {
        bail!("nothing to measure: --no-ours needs --plugin");
    }
    Ok(subjects)
}

fn ours(path: &Path) -> anyhow::Result<Subject> {
    let path = absolute(path)?;
    wrapped(Kind::Ours, None, &path, &["plugin"]).checked()
}

fn plugin(path: &Path, seelog: Seelog) -> anyhow::Result<Subject> {
    let path = absolute(path)?;
    let installed = Path::new(SEELOG_DIR).join("seelog.xml").exists();
    if seelog == Seelog::Keep || !installed {
        return wrapped(Kind::Plugin, None, &path, &[]).checked();
    }
    let empty = std::env::temp_dir().join("ssm-bench-empty");
    std::fs::create_dir_all(&empty)?;
    let mount = format!("mount --bind '{}' '{SEELOG_DIR}'", empty.display());
    wrapped(Kind::Plugin, Some(&mount), &path, &[])
        .checked()
        .with_context(|| {
            format!(
                "{SEELOG_DIR}/seelog.xml would turn the plugin's logging on, and hiding it \
                 with `unshare -m` failed: run as root, or pass --plugin-seelog keep"
            )
        })
}

/// `sh -c EXEC_SCRIPT program args…`, or with `mount`, the same under
/// `unshare -m` with `mount` run first (a private mount namespace).
fn wrapped(kind: Kind, mount: Option<&str>, program: &Path, args: &[&str]) -> Subject {
    let (shell, mut leading) = match mount {
        None => ("sh".into(), vec!["-c".into(), EXEC_SCRIPT.into()]),
        Some(mount) => (
            "unshare".into(),
            vec![
                "-m".into(),
                "sh".into(),
                "-c".into(),
                format!("{mount} && {EXEC_SCRIPT}"),
            ],
        ),
    };
    leading.push(program.display().to_string());
    leading.extend(args.iter().map(|arg| (*arg).to_owned()));
    Subject {
        kind,
        program: shell,
        leading,
        path: program.to_owned(),
        version: String::new(),
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    path.canonicalize()
        .with_context(|| format!("{} not found", path.display()))
}

impl Subject {
    /// Runs it with `--version` (after the leading arguments, so ours
    /// must know the `plugin` subcommand) and keeps the answer.
    fn checked(mut self) -> anyhow::Result<Self> {
        let shown = format!(
            "{} {} --version",
            self.program.display(),
            self.leading.join(" ")
        );
        let output = std::process::Command::new(&self.program)
            .args(&self.leading)
            .arg("--version")
            .output()
            .with_context(|| format!("running {shown}"))?;
        if !output.status.success() {
            bail!(
                "{shown} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        self.version = stdout
            .lines()
            .filter(|line| *line != EXEC_MARKER && !line.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(self)
    }
}
