//! What `eks connect` changed in a kubeconfig, kept so that `eks
//! disconnect` (or Ctrl-C with `--cleanup`) takes back exactly that.
//!
//! The record holds the kubeconfig's bytes before the change and a digest
//! of the bytes written. When the file still holds what we wrote, the old
//! bytes go back as they were (comments and all; a file that did not
//! exist is removed); when something else changed it since, only our
//! entries come out (see [`Replaced::restore`]). Records live in the
//! user's state directory (`$XDG_STATE_HOME/ssm-forward/eks`, else
//! `~/.local/state/ssm-forward/eks`; `%LOCALAPPDATA%` on Windows), mode
//! 0600 in a 0700 directory, because the old bytes may hold other
//! contexts' credentials; `disconnect` deletes them.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::entries::Replaced;
use crate::atomic_file::{PRIVATE_MODE, file_mode, write_atomically};
use crate::kubeconfig::{Kubeconfig, KubeconfigError};

/// Mode of record files (they may hold credentials).
const RECORD_MODE: u32 = PRIVATE_MODE;

/// One `eks connect`'s change to one kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The kubeconfig written (its real path).
    pub kubeconfig: PathBuf,
    /// The context (and cluster and user) name written.
    pub context: String,
    /// The EKS cluster.
    pub cluster: String,
    /// The file's text before (`None`: it did not exist).
    pub original: Option<String>,
    /// The file's mode before.
    pub original_mode: Option<u32>,
    /// SHA-256 (hex) of the text written.
    pub written_sha256: String,
    /// The entries replaced, for a structural undo.
    pub replaced: Replaced,
}

/// Why the kubeconfig could not be restored.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// No record for this context: nothing was connected (or it was
    /// disconnected already).
    #[error(
        "ssm-forward has no record of connecting context {context:?} in {}: nothing to undo \
         (already disconnected?)", kubeconfig.display()
    )]
    NotFound {
        /// The context asked for.
        context: String,
        /// The kubeconfig asked for.
        kubeconfig: PathBuf,
    },
    /// Neither `XDG_STATE_HOME` nor `HOME` (`LOCALAPPDATA` on Windows)
    /// says where records are kept.
    #[error("no state directory: set HOME (or XDG_STATE_HOME)")]
    NoStateDir,
    /// The state directory or a file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A record or the kubeconfig is not what it should be.
    #[error("cannot undo the change to {}: {source}", path.display())]
    Kubeconfig {
        /// The kubeconfig.
        path: PathBuf,
        /// Why.
        source: KubeconfigError,
    },
    /// A record file is damaged.
    #[error("the record {} is damaged ({source}); remove it and the entries by hand", path.display())]
    Damaged {
        /// The record file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// How a disconnect undid the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undone {
    /// The file held what we wrote: its old bytes are back (or, when it
    /// did not exist before, it is gone).
    Restored,
    /// The file changed since: our entries came out, the rest stays.
    EntriesRemoved,
    /// The file is gone already.
    FileGone,
}

/// SHA-256 of `text`, as hex.
pub fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The file a kubeconfig path really is (symlinks followed), so that
/// writing replaces the file and not the link.
pub fn real_path(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// `eks disconnect` and `--cleanup`: undoes what `eks connect` recorded
/// for `context` in `kubeconfig` and deletes the record. Returns the
/// kubeconfig's real path and what was done.
pub fn disconnect(kubeconfig: &Path, context: &str) -> Result<(PathBuf, Undone), RecordError> {
    let state = state_dir().ok_or(RecordError::NoStateDir)?;
    let kubeconfig = real_path(kubeconfig);
    let (record_path, record) = Record::find(&state, &kubeconfig, context)?;
    let undone = record.undo()?;
    fs::remove_file(&record_path).map_err(|source| RecordError::Io {
        what: "cannot remove the record",
        path: record_path,
        source,
    })?;
    Ok((kubeconfig, undone))
}

/// Where records are kept.
pub fn state_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else {
        var("XDG_STATE_HOME").or_else(|| var("HOME").map(|home| home.join(".local").join("state")))
    };
    base.map(|base| base.join("ssm-forward").join("eks"))
}

/// The record file for `context` in `kubeconfig`, inside `dir`.
pub fn record_path(dir: &Path, kubeconfig: &Path, context: &str) -> PathBuf {
    let key = digest(&format!("{}\0{context}", kubeconfig.display()));
    let safe: String = context
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    dir.join(format!("{safe}-{}.json", &key[..16]))
}

impl Record {
    /// Saves the record (replacing an older one for the same context
    /// unless that one still holds an earlier original: reconnecting
    /// keeps the first original, so disconnect goes back to before the
    /// first connect).
    pub fn save(mut self, dir: &Path) -> Result<PathBuf, RecordError> {
        let path = record_path(dir, &self.kubeconfig, &self.context);
        if let Ok(previous) = Self::load(&path)
            && previous.written_sha256 == digest(self.original.as_deref().unwrap_or_default())
        {
            self.original = previous.original;
            self.original_mode = previous.original_mode;
            self.replaced = previous.replaced;
        }
        create_private_dir(dir)?;
        let json = serde_json::to_string_pretty(&self).expect("a record serializes");
        write_atomically(&path, &json, RECORD_MODE).map_err(|source| RecordError::Io {
            what: "cannot write",
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Reads the record at `path`.
    pub fn load(path: &Path) -> Result<Self, RecordError> {
        let text = fs::read_to_string(path).map_err(|source| RecordError::Io {
            what: "cannot read",
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| RecordError::Damaged {
            path: path.to_owned(),
            source,
        })
    }

    /// Finds the record for `context` in `kubeconfig`.
    pub fn find(
        dir: &Path,
        kubeconfig: &Path,
        context: &str,
    ) -> Result<(PathBuf, Self), RecordError> {
        let path = record_path(dir, kubeconfig, context);
        if !path.exists() {
            return Err(RecordError::NotFound {
                context: context.to_owned(),
                kubeconfig: kubeconfig.to_owned(),
            });
        }
        Ok((path.clone(), Self::load(&path)?))
    }

    /// Undoes the change in the kubeconfig (not the record file).
    pub fn undo(&self) -> Result<Undone, RecordError> {
        let path = &self.kubeconfig;
        let current = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Undone::FileGone),
            Err(source) => {
                return Err(RecordError::Io {
                    what: "cannot read",
                    path: path.clone(),
                    source,
                });
            }
        };
        if digest(&current) == self.written_sha256 {
            self.put_back_original()?;
            return Ok(Undone::Restored);
        }
        let kubeconfig_error = |source| RecordError::Kubeconfig {
            path: path.clone(),
            source,
        };
        let mut config = Kubeconfig::parse(&current).map_err(kubeconfig_error)?;
        self.replaced
            .restore(&mut config)
            .map_err(kubeconfig_error)?;
        let yaml = config.to_yaml().map_err(kubeconfig_error)?;
        let mode = current_mode(path).unwrap_or(RECORD_MODE);
        write_atomically(path, &yaml, mode).map_err(|source| RecordError::Io {
            what: "cannot write",
            path: path.clone(),
            source,
        })?;
        Ok(Undone::EntriesRemoved)
    }

    fn put_back_original(&self) -> Result<(), RecordError> {
        let path = &self.kubeconfig;
        let result = match &self.original {
            Some(text) => write_atomically(path, text, self.original_mode.unwrap_or(RECORD_MODE)),
            None => fs::remove_file(path),
        };
        result.map_err(|source| RecordError::Io {
            what: "cannot restore",
            path: path.clone(),
            source,
        })
    }
}

/// Creates `dir` (and parents) with mode 0700 where that means something.
fn create_private_dir(dir: &Path) -> Result<(), RecordError> {
    let error = |source| RecordError::Io {
        what: "cannot create",
        path: dir.to_owned(),
        source,
    };
    fs::create_dir_all(dir).map_err(error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(error)?;
    }
    Ok(())
}

/// The permission bits of an existing file (`None`: missing or unreadable).
pub fn current_mode(path: &Path) -> Option<u32> {
    file_mode(path).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::cluster::ClusterInfo;
    use crate::eks::entries::{Entries, Route, TokenCommand};

    const ORIGINAL: &str =
        "# my clusters\napiVersion: v1\nclusters: []\ncontexts: []\nkind: Config\nusers: []\n";

    fn cluster() -> ClusterInfo {
        crate::eks::cluster::sample("abc.eks.amazonaws.com")
    }

    /// Connects `prod` in `kubeconfig` as `eks connect` does.
    fn connect(dir: &Path, kubeconfig: &Path) -> Record {
        let original = fs::read_to_string(kubeconfig).ok();
        let mut config = Kubeconfig::parse(original.as_deref().unwrap_or_default()).unwrap();
        let token = TokenCommand::new("ssm-forward".into(), "prod", "eu-west-1", None);
        let entries = Entries::new("prod", &cluster(), &Route::Direct { local_port: 9 }, &token);
        let replaced = entries.apply(&mut config, true).unwrap();
        let yaml = config.to_yaml().unwrap();
        let record = Record {
            kubeconfig: kubeconfig.to_owned(),
            context: "prod".into(),
            cluster: "prod".into(),
            original_mode: current_mode(kubeconfig),
            original,
            written_sha256: digest(&yaml),
            replaced,
        };
        write_atomically(kubeconfig, &yaml, 0o600).unwrap();
        record.clone().save(dir).unwrap();
        record
    }

    #[test]
    fn an_untouched_file_comes_back_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        fs::write(&kubeconfig, ORIGINAL).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&kubeconfig, fs::Permissions::from_mode(0o640)).unwrap();
        }
        connect(dir.path(), &kubeconfig);
        assert_ne!(fs::read_to_string(&kubeconfig).unwrap(), ORIGINAL);
        let (_, record) = Record::find(dir.path(), &kubeconfig, "prod").unwrap();
        assert_eq!(record.undo().unwrap(), Undone::Restored);
        assert_eq!(fs::read_to_string(&kubeconfig).unwrap(), ORIGINAL);
        #[cfg(unix)]
        assert_eq!(current_mode(&kubeconfig), Some(0o640));
    }

    #[test]
    fn a_file_that_did_not_exist_is_removed_again() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("new-config");
        let record = connect(dir.path(), &kubeconfig);
        assert!(kubeconfig.exists());
        assert_eq!(record.undo().unwrap(), Undone::Restored);
        assert!(!kubeconfig.exists());
    }

    #[test]
    fn a_file_changed_since_loses_only_our_entries() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        fs::write(&kubeconfig, ORIGINAL).unwrap();
        let record = connect(dir.path(), &kubeconfig);
        let mut config = Kubeconfig::parse(&fs::read_to_string(&kubeconfig).unwrap()).unwrap();
        let added: yaml_serde::Value =
            yaml_serde::from_str("name: later\ncluster: {server: https://later.example}").unwrap();
        config.upsert_entry("clusters", added).unwrap();
        fs::write(&kubeconfig, config.to_yaml().unwrap()).unwrap();
        assert_eq!(record.undo().unwrap(), Undone::EntriesRemoved);
        let after = Kubeconfig::parse(&fs::read_to_string(&kubeconfig).unwrap()).unwrap();
        assert_eq!(after.cluster_names(), ["later"]);
        assert!(after.context_names().is_empty());
        assert_eq!(after.current_context(), None);
    }

    #[test]
    fn reconnecting_keeps_the_first_original() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        fs::write(&kubeconfig, ORIGINAL).unwrap();
        connect(dir.path(), &kubeconfig);
        connect(dir.path(), &kubeconfig);
        let (_, record) = Record::find(dir.path(), &kubeconfig, "prod").unwrap();
        assert_eq!(record.original.as_deref(), Some(ORIGINAL));
        assert_eq!(record.undo().unwrap(), Undone::Restored);
        assert_eq!(fs::read_to_string(&kubeconfig).unwrap(), ORIGINAL);
    }

    #[test]
    fn no_record_says_nothing_to_undo() {
        let dir = tempfile::tempdir().unwrap();
        let error = Record::find(dir.path(), Path::new("/nope"), "prod").unwrap_err();
        assert!(error.to_string().contains("nothing to undo"), "{error}");
    }
}
