//! Files written whole or not at all: a temporary file in the same
//! directory, created with the final mode and flushed to disk, then
//! renamed over the target. Used for kubeconfigs (`kubeconfig`) and the
//! ready file (`--ready-file`), which other programs read while we run.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

/// Mode of a new file that may hold credentials (kubeconfigs, records).
pub const PRIVATE_MODE: u32 = 0o600;

/// The permission bits of `path`, or `None` if it does not exist (where
/// files have no mode bits, an existing file reports [`PRIVATE_MODE`]).
pub fn file_mode(path: &Path) -> io::Result<Option<u32>> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some(permission_bits(&meta))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(unix)]
fn permission_bits(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permission_bits(_meta: &fs::Metadata) -> u32 {
    PRIVATE_MODE
}

/// Writes `contents` to a temporary file next to `path` with `mode`,
/// flushes it to disk and renames it over `path`.
pub fn write_atomically(path: &Path, contents: &str, mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_else(|| OsStr::new("file"));
    let temp = dir.join(format!(
        ".{}.{}-{:08x}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        fastrand::u32(..)
    ));
    let written = write_new_file(&temp, contents, mode).and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

fn write_new_file(path: &Path, contents: &str, mode: u32) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        // The umask may have narrowed the mode given to open.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
