//! The program name to write into files that another program runs later
//! (the kubeconfig's exec credential): `ssm-forward` when that name on
//! `PATH` is this very executable, else this executable's absolute path,
//! so the command keeps working whatever kubectl's `PATH` is.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The name users type.
pub const NAME: &str = "ssm-forward";

/// A program to write into a file, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// What to write: `ssm-forward` or an absolute path.
    pub command: String,
    /// True when `command` is the bare name found on `PATH`.
    pub on_path: bool,
}

impl Program {
    /// This executable, as another program should run it.
    pub fn current() -> Self {
        let exe = std::env::current_exe().ok();
        let path = std::env::var_os("PATH");
        Self::choose(exe.as_deref(), path.as_deref())
    }

    /// The choice for executable `exe` with search path `path`.
    pub fn choose(exe: Option<&Path>, path: Option<&OsStr>) -> Self {
        let exe = exe.map(|exe| canonical(exe).unwrap_or_else(|| exe.to_owned()));
        let on_path = find_on_path(path)
            .and_then(|found| canonical(&found))
            .is_some_and(|found| Some(&found) == exe.as_ref());
        match exe {
            Some(exe) if !on_path => Self {
                command: exe.to_string_lossy().into_owned(),
                on_path: false,
            },
            _ => Self {
                command: NAME.to_owned(),
                on_path: true,
            },
        }
    }

    /// A short note for status lines.
    pub fn describe(&self) -> String {
        if self.on_path {
            format!("kubectl will run `{NAME}` from PATH for tokens")
        } else {
            format!(
                "kubectl will run {} for tokens (`{NAME}` on PATH is not this binary)",
                self.command
            )
        }
    }
}

fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// The first `ssm-forward` (`ssm-forward.exe` on Windows) on `path`.
fn find_on_path(path: Option<&OsStr>) -> Option<PathBuf> {
    let file = format!("{NAME}{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(&file))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_name_only_when_path_finds_this_binary() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir
            .path()
            .join(format!("{NAME}{}", std::env::consts::EXE_SUFFIX));
        std::fs::write(&exe, b"").unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        let chosen = Program::choose(Some(&exe), Some(&path));
        assert_eq!(chosen.command, NAME);
        assert!(chosen.describe().contains("from PATH"));

        let elsewhere = tempfile::tempdir().unwrap();
        let other = elsewhere.path().join("ssm-forward-build");
        std::fs::write(&other, b"").unwrap();
        let chosen = Program::choose(Some(&other), Some(&path));
        assert!(!chosen.on_path);
        assert_eq!(
            PathBuf::from(&chosen.command),
            std::fs::canonicalize(&other).unwrap()
        );
        assert!(Path::new(&chosen.command).is_absolute());
        let chosen = Program::choose(Some(&other), None);
        assert!(!chosen.on_path);
    }
}
