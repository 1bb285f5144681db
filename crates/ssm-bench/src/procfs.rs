//! CPU time, memory and open files of one process, from /proc (Linux).

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// User plus system CPU time the process has used so far (all threads).
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may hold spaces and parentheses: fields start
    // after the last ')'. utime and stime are fields 14 and 15, i.e. the
    // 12th and 13th after the name.
    let (_, rest) = text
        .rsplit_once(')')
        .with_context(|| format!("malformed {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |index: usize| -> anyhow::Result<u64> {
        let field = fields.get(index).with_context(|| format!("short {path}"))?;
        Ok(field.parse()?)
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// CPU time of each live thread, from /proc/PID/task/*/schedstat
/// (nanoseconds, where /proc/PID/stat counts 10 ms ticks).
pub fn thread_times(pid: u32) -> anyhow::Result<BTreeMap<u32, Duration>> {
    let dir = format!("/proc/{pid}/task");
    let mut times = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let entry = entry?;
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        // A thread may exit between the listing and the read.
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        let nanos: u64 = text
            .split_whitespace()
            .next()
            .and_then(|field| field.parse().ok())
            .with_context(|| format!("malformed schedstat of thread {tid}"))?;
        times.insert(tid, Duration::from_nanos(nanos));
    }
    Ok(times)
}

/// CPU time used between two [`thread_times`] samples: what live threads
/// added plus all of new threads (threads that exited in between are
/// missed, which matters little for an idle process).
pub fn cpu_between(before: &BTreeMap<u32, Duration>, after: &BTreeMap<u32, Duration>) -> Duration {
    after
        .iter()
        .map(|(tid, time)| time.saturating_sub(before.get(tid).copied().unwrap_or_default()))
        .sum()
}

/// Resident memory now and at its peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS, bytes.
    pub rss: u64,
    /// VmHWM (peak resident set), bytes.
    pub peak: u64,
}

/// Reads VmRSS and VmHWM from /proc/PID/status.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let Some(line) = text.lines().find(|line| line.starts_with(name)) else {
            bail!("{path} has no {name}");
        };
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("parsing {line:?}"))?;
        Ok(kib * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// How many file descriptors the process has open (/proc/PID/fd).
pub fn open_files(pid: u32) -> anyhow::Result<usize> {
    let dir = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))?;
    Ok(entries.filter(Result::is_ok).count())
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 if that fails).
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|ticks| *ticks > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_time(pid).is_ok());
        let memory = memory(pid).unwrap();
        let files = open_files(pid).unwrap();
        let extra = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(open_files(pid).unwrap(), files + 1);
        drop(extra);
        assert!(memory.rss > 0 && memory.peak >= memory.rss);
        let before = thread_times(pid).unwrap();
        assert!(!before.is_empty());
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {}
        let used = cpu_between(&before, &thread_times(pid).unwrap());
        assert!(used >= Duration::from_millis(5), "{used:?}");
    }
}
