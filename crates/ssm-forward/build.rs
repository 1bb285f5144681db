//! Puts the git commit this binary is built from into
//! `SSM_FORWARD_COMMIT`, for `ssm-forward --version` ("commit unknown"
//! outside a git checkout, e.g. from a source archive).

use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let text = commit.map_or_else(|| "commit unknown".to_owned(), |c| format!("commit {c}"));
    println!("cargo:rustc-env=SSM_FORWARD_COMMIT={text}");
    // Build again when HEAD moves: HEAD itself (a checkout), the branch it
    // names (a commit) and packed-refs (after `git gc`).
    for path in ["HEAD", "packed-refs"] {
        rerun_on_git_path(path);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        rerun_on_git_path(&branch);
    }
}

fn rerun_on_git_path(path: &str) {
    if let Some(file) = git(&["rev-parse", "--git-path", path]) {
        println!("cargo:rerun-if-changed={file}");
    }
}

/// `git ARGS` from this package's directory; its trimmed output when it
/// succeeded.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
