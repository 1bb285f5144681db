//! `--ready-file`: the bound addresses as JSON, written atomically
//! (temporary file with mode 0600 in the same directory, then rename;
//! [`crate::atomic_file::write_atomically`])
//! once the first session of every forward is up, and again whenever a
//! forward's pool of sessions grows or shrinks (`sessions`: the sessions
//! up, `max_sessions`: `--sessions`).
//!
//! ```json
//! {"forwards":[{"name":"db","address":"127.0.0.1:15432","target":"i-0123456789abcdef0","session_id":"alice-0a1b…","sessions":["alice-0a1b…"],"max_sessions":1}]}
//! ```

use std::io;
use std::path::Path;

use serde::Serialize;

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadyInfo {
    /// Every forward, in command-line / `up` order.
    pub forwards: Vec<ReadyForward>,
}

/// One forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadyForward {
    /// Forward name.
    pub name: String,
    /// Bound local address (`127.0.0.1:PORT`).
    pub address: String,
    /// Instance id.
    pub target: String,
    /// The first session's id.
    pub session_id: String,
    /// The sessions up when the file was written, oldest first.
    pub sessions: Vec<String>,
    /// The forward's most sessions (`--sessions`).
    pub max_sessions: usize,
}

/// Writes `info` to `path` atomically with mode 0600.
pub fn write(path: &Path, info: &ReadyInfo) -> io::Result<()> {
    let mut json = serde_json::to_string(info).map_err(io::Error::other)?;
    json.push('\n');
    crate::atomic_file::write_atomically(path, &json, 0o600)
}

/// Removes the file if it is there.
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_whole_and_private() {
        let dir = std::env::temp_dir().join(format!("ssm-forward-ready-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ready.json");
        let info = ReadyInfo {
            forwards: vec![ReadyForward {
                name: "db".into(),
                address: "127.0.0.1:1".into(),
                target: "i-1".into(),
                session_id: "s-1".into(),
                sessions: vec!["s-1".into()],
                max_sessions: 1,
            }],
        };
        write(&path, &info).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(r#"{"forwards":[{"name":"db","address":"127.0.0.1:1""#),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        remove(&path).unwrap();
        remove(&path).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }
}
