//! `ssm-forward kubeconfig`: point kubectl at a forwarded HTTP proxy by
//! setting `proxy-url` on a cluster entry of a kubeconfig.
//!
//! The typical EKS setup forwards a local port to a privoxy (or any
//! HTTP CONNECT proxy) inside the VPC; with `proxy-url` set, kubectl
//! reaches the private API endpoint through it, and the cluster's
//! certificate and server name stay exactly as `aws eks
//! update-kubeconfig` wrote them.
//!
//! The file is edited as generic YAML ([`Kubeconfig`]), so entries and
//! fields this code does not know are kept; it is written atomically
//! (temporary file in the same directory, then rename) with the original
//! file's mode, or 0600 for a new file. YAML comments and anchors are not
//! kept when a file is rewritten (kubectl does not keep them either);
//! `--dry-run` shows the change first, `--output` leaves the original
//! alone.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::atomic_file::{PRIVATE_MODE, file_mode, write_atomically};

use crate::kubeconfig::diff;
pub use crate::kubeconfig::{
    Kubeconfig, KubeconfigError, ProxyChange, default_path, validate_proxy_url,
};

/// Arguments of `ssm-forward kubeconfig`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Proxy for kubectl: the local end of a forward to an HTTP proxy in
    /// the VPC, e.g. http://127.0.0.1:8118.
    #[arg(long, value_name = "URL")]
    pub proxy_url: String,
    /// Kubeconfig to read [default: the first file in $KUBECONFIG, else
    /// ~/.kube/config].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Cluster entry to change [default: the current context's cluster].
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Write a separate kubeconfig holding just this cluster, the contexts
    /// that use it and their users, instead of editing in place.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Show the change to the cluster entry and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs the command, reporting on stdout.
pub fn run(args: Args) -> anyhow::Result<()> {
    execute(&args, &mut io::stdout().lock())
}

/// Runs the command, reporting to `out`.
pub fn execute(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let source = match &args.kubeconfig {
        Some(path) => path.clone(),
        None => default_path(
            std::env::var_os("KUBECONFIG").as_deref(),
            std::env::var_os("HOME").as_deref().map(Path::new),
        )
        .context("no kubeconfig to edit: set HOME or KUBECONFIG, or pass --kubeconfig PATH")?,
    };
    let plan = Plan::new(args, &source)?;
    if args.dry_run {
        return plan.show(out);
    }
    plan.apply(out)
}

/// What the command will do.
#[derive(Debug)]
struct Plan {
    /// The file that will be written.
    target: PathBuf,
    /// Its new content.
    config: Kubeconfig,
    /// The change to the cluster entry.
    change: ProxyChange,
    /// The proxy URL set.
    proxy_url: String,
    /// Mode of the written file.
    mode: u32,
    /// A separate file rather than an in-place edit.
    separate: bool,
    /// The source had comments, which rewriting drops.
    had_comments: bool,
}

impl Plan {
    fn new(args: &Args, source: &Path) -> anyhow::Result<Self> {
        validate_proxy_url(&args.proxy_url)?;
        let text = read_source(source)?;
        let config =
            Kubeconfig::parse(&text).with_context(|| format!("cannot use {}", source.display()))?;
        let cluster = match &args.cluster {
            Some(name) => name.clone(),
            None => config
                .default_cluster()
                .with_context(|| source.display().to_string())?,
        };
        match &args.output {
            Some(output) => Self::separate(config, &cluster, args, source, output),
            None => {
                let had_comments = text.lines().any(|line| line.trim_start().starts_with('#'));
                Self::in_place(config, &cluster, args, source, had_comments)
            }
        }
    }

    /// A new file with just the cluster, its contexts and users.
    fn separate(
        config: Kubeconfig,
        cluster: &str,
        args: &Args,
        source: &Path,
        output: &Path,
    ) -> anyhow::Result<Self> {
        refuse_same_file(source, output)?;
        let mut extract = config
            .extract(cluster)
            .with_context(|| source.display().to_string())?;
        let change = extract.set_proxy_url(cluster, &args.proxy_url)?;
        Ok(Self {
            mode: existing_mode(output)?.unwrap_or(PRIVATE_MODE),
            target: output.to_owned(),
            config: extract,
            change,
            proxy_url: args.proxy_url.clone(),
            separate: true,
            had_comments: false,
        })
    }

    /// The source itself, changed.
    fn in_place(
        mut config: Kubeconfig,
        cluster: &str,
        args: &Args,
        source: &Path,
        had_comments: bool,
    ) -> anyhow::Result<Self> {
        let change = config
            .set_proxy_url(cluster, &args.proxy_url)
            .with_context(|| source.display().to_string())?;
        // Edit the real file, not a symlink pointing at it.
        let target = fs::canonicalize(source)
            .with_context(|| format!("cannot resolve {}", source.display()))?;
        Ok(Self {
            mode: existing_mode(&target)?.unwrap_or(PRIVATE_MODE),
            target,
            config,
            change,
            proxy_url: args.proxy_url.clone(),
            separate: false,
            had_comments,
        })
    }

    /// Prints the cluster entry before and after (user entries, which may
    /// hold credentials, are named but not shown).
    fn show(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        let path = self.target.display();
        let cluster = &self.change.cluster;
        let (before, label) = if self.separate {
            (String::new(), format!("{path} (new file)"))
        } else {
            let label = format!("{path} (cluster {cluster:?})");
            (self.change.before.clone(), label)
        };
        let after_label = format!("{path} (cluster {cluster:?}, proxy-url set)");
        let diff = diff::unified(&label, &after_label, &before, &self.change.after);
        write!(out, "{diff}")?;
        if self.separate {
            let contexts = self.config.context_names().join(", ");
            let users = self.config.user_names().join(", ");
            writeln!(
                out,
                "The new file would also hold contexts: {contexts}; users: {users}."
            )?;
        } else if !self.change.is_change() {
            writeln!(
                out,
                "proxy-url is already set to that; nothing would change."
            )?;
        }
        writeln!(out, "Dry run: nothing written.")?;
        Ok(())
    }

    fn apply(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        let path = self.target.display();
        let cluster = &self.change.cluster;
        if !self.separate && !self.change.is_change() {
            writeln!(
                out,
                "Cluster {cluster:?} in {path} already has proxy-url {}; nothing to change.",
                self.change.previous.as_deref().unwrap_or_default()
            )?;
            return Ok(());
        }
        let yaml = self.config.to_yaml()?;
        write_atomically(&self.target, &yaml, self.mode)
            .with_context(|| format!("cannot write {path}"))?;
        self.report(out)
    }

    fn report(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        let path = self.target.display();
        let cluster = &self.change.cluster;
        let url = &self.proxy_url;
        if self.separate {
            writeln!(
                out,
                "Wrote {path}: cluster {cluster:?} with proxy-url {url}"
            )?;
            writeln!(
                out,
                "  contexts: {}",
                self.config.context_names().join(", ")
            )?;
            writeln!(out, "  users:    {}", self.config.user_names().join(", "))?;
            writeln!(out, "Use it with: export KUBECONFIG={path}")?;
        } else {
            match &self.change.previous {
                Some(old) => writeln!(
                    out,
                    "Cluster {cluster:?} in {path}: proxy-url {old} → {url}"
                )?,
                None => writeln!(out, "Cluster {cluster:?} in {path}: set proxy-url {url}")?,
            }
            if self.had_comments {
                writeln!(out, "Note: the comments that were in {path} are not kept.")?;
            }
        }
        writeln!(
            out,
            "kubectl now goes through the proxy: keep the forward running while you use it."
        )?;
        Ok(())
    }
}

fn read_source(path: &Path) -> anyhow::Result<String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => bail!(
            "kubeconfig {} does not exist: pass --kubeconfig PATH, or create it first \
             (e.g. `aws eks update-kubeconfig --name CLUSTER`)",
            path.display()
        ),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn refuse_same_file(source: &Path, output: &Path) -> anyhow::Result<()> {
    let same = match (fs::canonicalize(source), fs::canonicalize(output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        bail!(
            "--output {} is the kubeconfig being read: leave out --output to edit it in place",
            output.display()
        );
    }
    Ok(())
}

/// The permission bits of `path`, or `None` if it does not exist.
fn existing_mode(path: &Path) -> anyhow::Result<Option<u32>> {
    file_mode(path).with_context(|| format!("cannot stat {}", path.display()))
}
