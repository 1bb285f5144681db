//! Writing `eks connect`'s context into a kubeconfig: read the file (or
//! start an empty one), apply the [`Entries`], write it atomically with
//! its mode (0600 for a new file), and save the [`Record`] that lets
//! `disconnect` undo it. `preview` shows the same change without writing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::entries::{Entries, Replaced};
use super::record::{self, Record, RecordError};
use crate::atomic_file::{PRIVATE_MODE, write_atomically};
use crate::kubeconfig::diff::unified;
use crate::kubeconfig::{Kubeconfig, KubeconfigError};

/// Why the context could not be written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The kubeconfig could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The kubeconfig is not one we can edit.
    #[error("cannot use {}: {source}", path.display())]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        source: KubeconfigError,
    },
    /// No kubeconfig was named and kubectl's default cannot be found.
    #[error("no kubeconfig: set HOME or KUBECONFIG, or pass --kubeconfig PATH")]
    NoKubeconfig,
    /// There is nowhere to keep the record for `disconnect`.
    #[error("no state directory for the disconnect record: set HOME (or XDG_STATE_HOME)")]
    NoStateDir,
    /// The record could not be saved.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// What writing the context did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The kubeconfig written (its real path).
    pub kubeconfig: PathBuf,
    /// Names of our entries that replaced existing ones (`clusters/x`).
    pub replaced: Vec<String>,
    /// The source had comments, which rewriting drops (disconnect brings
    /// them back if nothing else changes the file meanwhile).
    pub dropped_comments: bool,
}

/// The context name `eks connect` uses for `cluster` unless told.
pub fn default_context(cluster: &str) -> String {
    format!("ssm-{cluster}")
}

/// The kubeconfig to use: `given`, else kubectl's default (the first
/// file in `$KUBECONFIG`, else `~/.kube/config`).
pub fn kubeconfig_path(given: Option<&Path>) -> Result<PathBuf, ContextError> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    crate::kubeconfig::default_path(
        std::env::var_os("KUBECONFIG").as_deref(),
        std::env::var_os("HOME").as_deref().map(Path::new),
    )
    .ok_or(ContextError::NoKubeconfig)
}

pub use super::record::real_path;

/// Writes `entries` into the kubeconfig at `path` and saves the record.
pub fn write(
    path: &Path,
    entries: &Entries,
    cluster: &str,
    use_context: bool,
) -> Result<Written, ContextError> {
    let state = record::state_dir().ok_or(ContextError::NoStateDir)?;
    let Applied {
        path,
        original,
        config,
        replaced,
    } = Applied::new(path, entries, use_context)?;
    let yaml = config
        .to_yaml()
        .map_err(|source| ContextError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
    let original_mode = record::current_mode(&path);
    write_atomically(&path, &yaml, original_mode.unwrap_or(PRIVATE_MODE)).map_err(|source| {
        ContextError::Io {
            what: "cannot write",
            path: path.clone(),
            source,
        }
    })?;
    let written = Written {
        kubeconfig: path.clone(),
        replaced: replaced
            .entries
            .iter()
            .filter(|entry| entry.before.is_some())
            .map(|entry| format!("{}/{}", entry.list, entry.name))
            .collect(),
        dropped_comments: original
            .as_deref()
            .is_some_and(|text| text.lines().any(|line| line.trim_start().starts_with('#'))),
    };
    let record = Record {
        kubeconfig: path,
        context: entries.name.clone(),
        cluster: cluster.to_owned(),
        original,
        original_mode,
        written_sha256: record::digest(&yaml),
        replaced,
    };
    record.save(&state)?;
    Ok(written)
}

/// What `--dry-run` shows: the same-named entries as they are now (a
/// user entry only by name: it may hold credentials) and the entries as
/// they would be written, as a unified diff.
pub fn preview(path: &Path, entries: &Entries) -> Result<String, ContextError> {
    let Applied {
        path,
        original,
        replaced,
        ..
    } = Applied::new(path, entries, false)?;
    let before: String = replaced
        .entries
        .iter()
        .filter_map(|entry| {
            let yaml = entry.before.as_ref()?;
            Some(if entry.list == "users" {
                format!("# {}: {} (exists; not shown)\n", entry.list, entry.name)
            } else {
                format!("# {}:\n{yaml}", entry.list)
            })
        })
        .collect();
    let after = entries
        .to_yaml()
        .map_err(|source| ContextError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
    let shown = path.display();
    let old_label = if original.is_some() {
        format!("{shown} (entries named {:?} now)", entries.name)
    } else {
        format!("{shown} (does not exist yet)")
    };
    let new_label = format!("{shown} (after eks connect)");
    Ok(unified(&old_label, &new_label, &before, &after))
}

/// A kubeconfig read (or empty) with the entries applied in memory.
struct Applied {
    path: PathBuf,
    original: Option<String>,
    config: Kubeconfig,
    replaced: Replaced,
}

impl Applied {
    fn new(path: &Path, entries: &Entries, use_context: bool) -> Result<Self, ContextError> {
        let path = real_path(path);
        let original = read_existing(&path)?;
        let kubeconfig_error = |source| ContextError::Kubeconfig {
            path: path.clone(),
            source,
        };
        let mut config =
            Kubeconfig::parse(original.as_deref().unwrap_or_default()).map_err(kubeconfig_error)?;
        let replaced = entries
            .apply(&mut config, use_context)
            .map_err(kubeconfig_error)?;
        Ok(Self {
            path,
            original,
            config,
            replaced,
        })
    }
}

fn read_existing(path: &Path) -> Result<Option<String>, ContextError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ContextError::Io {
            what: "cannot read",
            path: path.to_owned(),
            source,
        }),
    }
}
