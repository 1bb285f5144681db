//! Where control sockets live: `$XDG_RUNTIME_DIR/ssm-forward/`, else
//! `ssm-forward-$UID` in the temporary directory; one socket per
//! daemon, `PID.sock`. The directory is private (0700, ours): in a
//! shared temporary directory a directory someone else made is refused.

use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::ControlError;

/// Socket file names end with this.
const SOCKET_SUFFIX: &str = ".sock";

/// The control directory for this user (not created).
pub fn control_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(runtime) if runtime.is_absolute() => runtime.join("ssm-forward"),
        _ => std::env::temp_dir().join(format!("ssm-forward-{}", uid())),
    }
}

/// The socket of the daemon with process id `pid`.
pub fn socket_path(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("{pid}{SOCKET_SUFFIX}"))
}

/// The process id a socket path names, if it is a control socket's.
pub fn socket_pid(path: &Path) -> Option<u32> {
    path.file_name()?
        .to_str()?
        .strip_suffix(SOCKET_SUFFIX)?
        .parse()
        .ok()
}

/// Creates `dir` (mode 0700) or checks the one there: a directory, not
/// a link, ours; a wider mode is narrowed to 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<(), ControlError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(ControlError::Directory {
                path: dir.to_owned(),
                source,
            });
        }
    }
    check_private_dir(dir)
}

/// Checks that `dir` is a directory (not a link) owned by this user,
/// and narrows its mode to 0700 if needed.
pub fn check_private_dir(dir: &Path) -> Result<(), ControlError> {
    let io_error = |source| ControlError::Directory {
        path: dir.to_owned(),
        source,
    };
    let metadata = std::fs::symlink_metadata(dir).map_err(io_error)?;
    if !metadata.is_dir() {
        return Err(ControlError::UnsafeDirectory {
            path: dir.to_owned(),
            reason: "it is not a directory",
        });
    }
    if metadata.uid() != uid() {
        return Err(ControlError::UnsafeDirectory {
            path: dir.to_owned(),
            reason: "it belongs to another user",
        });
    }
    if metadata.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error)?;
    }
    Ok(())
}

/// Every control socket in `dir` (none when it does not exist).
pub fn sockets(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut sockets: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| socket_pid(path).is_some())
        .collect();
    sockets.sort_by_key(|path| socket_pid(path));
    Ok(sockets)
}

/// Removes a socket file; one already gone is fine.
pub fn remove_socket(path: &Path) {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            tracing::debug!(path = %path.display(), %error, "cannot remove a control socket");
        }
        _ => {}
    }
}

/// True when nothing listens on the socket at `path` any more (its
/// process crashed or was killed): connecting is refused.
pub fn is_stale(path: &Path) -> bool {
    matches!(
        std::os::unix::net::UnixStream::connect(path),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused
    )
}

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_named_by_pid() {
        let dir = Path::new("/run/user/1000/ssm-forward");
        let path = socket_path(dir, 4242);
        assert_eq!(path, dir.join("4242.sock"));
        assert_eq!(socket_pid(&path), Some(4242));
        assert_eq!(socket_pid(&dir.join("notes.txt")), None);
        assert_eq!(socket_pid(&dir.join("x.sock")), None);
    }

    #[test]
    fn the_directory_is_made_private_and_a_wide_one_narrowed() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("ssm-forward");
        ensure_private_dir(&dir).unwrap();
        let mode = |dir: &Path| std::fs::metadata(dir).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = scratch.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(ControlError::UnsafeDirectory { .. })
        ));
        let link = scratch.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        assert!(matches!(
            ensure_private_dir(&link),
            Err(ControlError::UnsafeDirectory { .. })
        ));
    }

    #[test]
    fn a_socket_nobody_listens_on_is_stale() {
        let scratch = tempfile::tempdir().unwrap();
        let path = scratch.path().join("1.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert!(!is_stale(&path));
        drop(listener);
        assert!(is_stale(&path), "the file stays, nobody listens");
        remove_socket(&path);
        remove_socket(&path);
        assert!(!path.exists());
    }
}
