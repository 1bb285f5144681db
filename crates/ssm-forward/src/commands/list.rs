//! `ssm-forward list`: the forwards of the configuration file, as an
//! aligned table on stdout.

use std::path::Path;

use clap::Args as ClapArgs;

use crate::cli::ConfigArgs;
use crate::config_file::{self, NamedForward};
use crate::errors::Fatal;

/// Arguments of `ssm-forward list`.
#[derive(Debug, Clone, ClapArgs)]
pub struct Args {
    /// Configuration file location.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only the forward names, one per line (for shell completion).
    #[arg(long)]
    pub names: bool,
}

/// `ssm-forward list`: the configuration file's forwards on stdout.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let path = config_file::locate(args.config.config.as_deref()).map_err(Fatal::from)?;
    let forwards = config_file::load(&path).map_err(Fatal::from)?;
    if args.names {
        forwards
            .iter()
            .for_each(|forward| println!("{}", forward.name));
        return Ok(());
    }
    print!("{}", list_table(&path, &forwards));
    Ok(())
}

/// The `list` output: a header comment and one aligned row per forward
/// (a forward with `kubeconfig` shows its cluster endpoint or proxy and
/// its context as REMOTE).
pub fn list_table(path: &Path, forwards: &[NamedForward]) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "LOCAL".into(),
        "TARGET".into(),
        "REMOTE".into(),
    ]];
    rows.extend(forwards.iter().map(|f| {
        [
            f.name.clone(),
            f.bind.to_string(),
            f.target.to_string(),
            f.remote_label(),
        ]
    }));
    let width = |column: usize| rows.iter().map(|r| r[column].len()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut out = format!("# {} ({} forwards)\n", path.display(), forwards.len());
    for [name, local, target, remote] in &rows {
        out.push_str(&format!(
            "{name:<w0$}  {local:<w1$}  {target:<w2$}  {remote}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_aligned() {
        let forwards = config_file::parse(
            "[forwards.db]\ntarget = \"name:bastion\"\nremote_host = \"db.internal\"\nremote_port = 5432\n\
             [forwards.privoxy]\neks_cluster = \"prod\"\nremote_host = \"privoxy.example.com\"\nremote_port = 8118\n",
            "f",
        )
        .unwrap();
        let table = list_table(Path::new("/c.toml"), &forwards);
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines[0], "# /c.toml (2 forwards)");
        assert_eq!(
            lines[1],
            "NAME     LOCAL           TARGET            REMOTE"
        );
        assert_eq!(
            lines[2],
            "db       127.0.0.1:5432  name:bastion      db.internal:5432"
        );
        assert_eq!(
            lines[3],
            "privoxy  127.0.0.1:8118  eks-cluster:prod  privoxy.example.com:8118"
        );
    }

    #[test]
    fn a_kubeconfig_forward_shows_its_endpoint_and_context() {
        let forwards = config_file::parse(
            "[forwards.prod]\neks_cluster = \"prod\"\nkubeconfig = true\nlocal_port = 0\n",
            "f",
        )
        .unwrap();
        let table = list_table(Path::new("/c.toml"), &forwards);
        assert_eq!(
            table.lines().nth(2).unwrap(),
            "prod  127.0.0.1:0  eks-cluster:prod  eks:prod endpoint:443 (context ssm-prod)"
        );
    }
}
