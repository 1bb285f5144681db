//! `ssm-forward eks disconnect CLUSTER`: take out of the kubeconfig what
//! `eks connect` put in, and nothing else. When the file still holds
//! exactly what connect wrote, its earlier bytes come back unchanged
//! (comments included; a file connect created is removed); otherwise only
//! the context, cluster and user entries connect wrote come out (entries
//! they replaced are put back). A running `eks connect` is not stopped:
//! Ctrl-C ends it.

use std::path::PathBuf;

use crate::eks::context::{default_context, kubeconfig_path};
use crate::eks::record::{self, RecordError};
use crate::errors::{ExitStatus, Fatal};
use crate::output;

/// `ssm-forward eks disconnect`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The EKS cluster's name.
    #[arg(value_name = "CLUSTER")]
    pub cluster: String,
    /// The context `eks connect` wrote [default: ssm-CLUSTER].
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig it wrote [default: the first file in $KUBECONFIG,
    /// else ~/.kube/config].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
}

/// Undoes the kubeconfig change.
pub fn run(args: &Args, _json: bool) -> anyhow::Result<()> {
    let context = args
        .context
        .clone()
        .unwrap_or_else(|| default_context(&args.cluster));
    let kubeconfig = kubeconfig_path(args.kubeconfig.as_deref())
        .map_err(|error| Fatal::usage(error.to_string()))?;
    let (kubeconfig, undone) = record::disconnect(&kubeconfig, &context).map_err(failure)?;
    output::context_removed(&context, &kubeconfig, undone);
    Ok(())
}

fn failure(error: RecordError) -> Fatal {
    let status = match error {
        RecordError::NotFound { .. } | RecordError::NoStateDir => ExitStatus::Usage,
        _ => ExitStatus::Runtime,
    };
    Fatal::new(status, error.to_string())
}
