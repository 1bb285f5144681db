//! `ssm-forward status` for people: one row per forward (every daemon
//! of this user), columns aligned, then a line with its sessions, its
//! resumes and restarts and, when there is one, its latest error.

use std::fmt::Write as _;

use super::protocol::{DaemonStatus, ForwardStatus};

const HEADERS: [&str; 11] = [
    "NAME",
    "PID",
    "STATE",
    "LOCAL",
    "TARGET",
    "REMOTE",
    "MODE",
    "UP",
    "CONNS",
    "SENT/RECEIVED",
    "RATE OUT/IN",
];

/// The table of `daemons` (and the daemons that did not answer) at `now`.
pub fn render(
    daemons: &[DaemonStatus],
    unanswered: &[(u32, String)],
    now: jiff::Timestamp,
) -> String {
    let mut rows = vec![HEADERS.map(str::to_owned).to_vec()];
    let mut details = vec![Vec::new()];
    for daemon in daemons {
        for forward in &daemon.forwards {
            rows.push(row(daemon.pid, forward, now));
            details.push(detail(forward, now));
        }
    }
    let mut out = String::new();
    if rows.len() == 1 {
        out.push_str("no forwards running\n");
    } else {
        let widths = column_widths(&rows);
        for (row, detail) in rows.iter().zip(&details) {
            out.push_str(&aligned(row, &widths));
            for line in detail {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    for (pid, error) in unanswered {
        let _ = writeln!(out, "process {pid}: no status: {error}");
    }
    out
}

fn row(pid: u32, forward: &ForwardStatus, now: jiff::Timestamp) -> Vec<String> {
    let target = if forward.target_selector.is_empty() || forward.target_selector == forward.target
    {
        forward.target.clone()
    } else {
        format!("{} ({})", forward.target, forward.target_selector)
    };
    vec![
        forward.name.clone(),
        pid.to_string(),
        forward.state.clone(),
        forward.local_address.clone(),
        target,
        forward.remote.clone(),
        if forward.mode.is_empty() {
            "-".into()
        } else {
            forward.mode.clone()
        },
        since(&forward.up_since, now),
        format!("{}/{}", forward.connections_open, forward.connections_total),
        format!(
            "{}/{}",
            bytes(forward.bytes_sent),
            bytes(forward.bytes_received)
        ),
        format!(
            "{}/s / {}/s",
            bytes(forward.rate_sent),
            bytes(forward.rate_received)
        ),
    ]
}

/// The line under a row: sessions, resumes, restarts, latest error.
fn detail(forward: &ForwardStatus, now: jiff::Timestamp) -> Vec<String> {
    let sessions: Vec<String> = forward
        .sessions
        .iter()
        .map(|s| {
            let link = if s.connected { "connected" } else { "resuming" };
            let plural = if s.open_streams == 1 { "" } else { "s" };
            format!(
                "{} (agent {}, up {}, {link}, {} stream{plural})",
                s.session_id,
                s.agent_version,
                since(&s.up_since, now),
                s.open_streams
            )
        })
        .collect();
    let sessions = if sessions.is_empty() {
        "none up".to_owned()
    } else {
        sessions.join(", ")
    };
    let mut lines = vec![format!(
        "sessions: {sessions}; resumes {}, restarts {}",
        forward.resumes, forward.restarts
    )];
    if let Some(error) = &forward.last_error {
        lines.push(format!(
            "last error ({} ago): {}",
            since(&error.at, now),
            error.message
        ));
    }
    lines
}

fn column_widths(rows: &[Vec<String>]) -> Vec<usize> {
    (0..HEADERS.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect()
}

fn aligned(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (cell, width) in row.iter().zip(widths) {
        let _ = write!(line, "{cell:<width$}  ");
    }
    let mut line = line.trim_end().to_owned();
    line.push('\n');
    line
}

/// How long ago an RFC 3339 time was: `45s`, `12m05s`, `3h02m`, `2d04h`.
pub fn since(at: &str, now: jiff::Timestamp) -> String {
    let Ok(at) = at.parse::<jiff::Timestamp>() else {
        return "-".into();
    };
    let seconds = (now.as_second() - at.as_second()).max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3_600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3_600..86_400 => format!("{}h{:02}m", seconds / 3_600, seconds % 3_600 / 60),
        _ => format!("{}d{:02}h", seconds / 86_400, seconds % 86_400 / 3_600),
    }
}

/// `512 B`, `1.5 kB`, `20.0 MB`, `3.1 GB` (powers of 1000).
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if count < 1000 {
        return format!("{count} B");
    }
    let mut value = count;
    let mut unit = 0;
    while value >= 1_000_000 && unit + 1 < UNITS.len() {
        value /= 1000;
        unit += 1;
    }
    format!("{}.{} {}", value / 1000, value % 1000 / 100, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::{LastError, SessionStatus};

    fn forward() -> ForwardStatus {
        ForwardStatus {
            name: "db".into(),
            local_address: "127.0.0.1:15432".into(),
            target: "i-0123456789abcdef0".into(),
            target_selector: "name:bastion".into(),
            remote: "db.internal:5432".into(),
            state: "running".into(),
            failing: false,
            mode: "mux".into(),
            agent_version: "3.3.987.0".into(),
            up_since: "2026-12-03T15:00:00Z".into(),
            connections_open: 1,
            connections_total: 7,
            bytes_sent: 1_500,
            bytes_received: 20_000_000,
            rate_sent: 0,
            rate_received: 2_500,
            resumes: 1,
            restarts: 0,
            last_error: Some(LastError {
                message: "connection from 127.0.0.1:5: refused".into(),
                at: "2026-12-03T15:04:00Z".into(),
            }),
            sessions: vec![SessionStatus {
                session_id: "alice-0a1b".into(),
                mode: "mux".into(),
                agent_version: "3.3.987.0".into(),
                up_since: "2026-12-03T15:00:00Z".into(),
                connected: true,
                resumes: 1,
                open_streams: 1,
                bytes_sent: 1_500,
                bytes_received: 20_000_000,
            }],
        }
    }

    #[test]
    fn a_row_per_forward_with_its_sessions_and_latest_error() {
        let daemon = DaemonStatus {
            pid: 42,
            command: "ssm-forward up db".into(),
            program_version: "0.1.0".into(),
            started_at: "2026-12-03T15:00:00Z".into(),
            forwards: vec![forward()],
        };
        let now: jiff::Timestamp = "2026-12-03T15:05:05Z".parse().unwrap();
        let text = render(&[daemon], &[(7, "no answer within 3s".into())], now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME  PID  STATE"), "{text}");
        assert!(
            lines[1].starts_with("db    42   running  127.0.0.1:15432"),
            "{text}"
        );
        assert!(
            lines[1].contains("i-0123456789abcdef0 (name:bastion)"),
            "{text}"
        );
        assert!(
            lines[1].contains("5m05s  1/7    1.5 kB/20.0 MB  0 B/s / 2.5 kB/s"),
            "{text}"
        );
        assert!(
            lines[2].contains(
                "alice-0a1b (agent 3.3.987.0, up 5m05s, connected, 1 stream); resumes 1, restarts 0"
            ),
            "{text}"
        );
        assert_eq!(
            lines[3],
            "    last error (1m05s ago): connection from 127.0.0.1:5: refused"
        );
        assert_eq!(lines[4], "process 7: no status: no answer within 3s");
    }

    #[test]
    fn nothing_running_says_so() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert_eq!(render(&[], &[], now), "no forwards running\n");
    }

    #[test]
    fn sizes_and_durations_read_short() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_000), "1.0 kB");
        assert_eq!(bytes(123_456_789), "123.4 MB");
        let now: jiff::Timestamp = "2026-12-03T15:00:00Z".parse().unwrap();
        assert_eq!(since("2026-12-03T14:59:15Z", now), "45s");
        assert_eq!(since("2026-12-03T12:58:00Z", now), "2h02m");
        assert_eq!(since("2026-12-01T11:00:00Z", now), "2d04h");
        assert_eq!(since("garbage", now), "-");
    }
}
