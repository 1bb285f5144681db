//! Code the `ssm-bench` and `ssm-soak` binaries share: reading a
//! process's CPU time, memory and open files from /proc, finding the
//! `ssm-forward` binary, and running a tool's async main. It is internal
//! to those two tools (hence `anyhow`), not a library for other crates;
//! the measurements themselves live in the binaries.

pub mod procfs;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

/// `ssm-forward` next to the running executable (target/release or
/// target/debug), where `cargo build -p ssm-forward` puts it.
pub fn sibling_ssm_forward() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let path = exe.with_file_name("ssm-forward");
    if !path.is_file() {
        bail!(
            "{} not found: build it (cargo build --release -p ssm-forward) or pass --ssm-forward PATH",
            path.display()
        );
    }
    Ok(path)
}

/// Runs `main` on a multi-threaded runtime: exit 0 when it returns true,
/// 1 when false or on an error (printed with the tool's `name`).
pub fn run_main(name: &str, main: impl Future<Output = anyhow::Result<bool>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("{name}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
