//! `ssm-forward man [--dir DIR]`: the manual page, generated from the
//! command line definition (clap_mangen). Without `--dir`, the page of
//! `ssm-forward` itself on stdout (`ssm-forward man | man -l -`); with
//! it, one page per command (`ssm-forward.1`, `ssm-forward-eks-connect.1`,
//! …) written into DIR, ready for a `man1` directory.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args as ClapArgs, CommandFactory as _};

use crate::cli::Cli;

/// Arguments of `ssm-forward man`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// Write a page per command into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Writes the page(s).
pub fn run(args: &Args) -> anyhow::Result<()> {
    let command = Cli::command();
    match &args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .context("cannot write the manual page")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("cannot write the manual pages into {}", dir.display()))
        }
    }
}

/// The page of `ssm-forward` itself, as text.
pub fn page() -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(Cli::command()).render(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_roff_with_the_commands() {
        let page = super::page();
        assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
        assert!(page.contains("ssm\\-forward"), "{page}");
        assert!(page.contains("login"), "{page}");
    }
}
