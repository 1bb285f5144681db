//! What the benchmark ran on: cores, CPU model, load.

use std::fmt;

/// The machine at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// Cores this process may use.
    pub(crate) cores: usize,
    /// `model name` from /proc/cpuinfo.
    pub(crate) model: String,
    /// 1-, 5- and 15-minute load averages from /proc/loadavg.
    pub(crate) load: String,
}

impl Machine {
    /// Reads the machine's description now.
    pub(crate) fn read() -> Self {
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            model: cpu_model().unwrap_or_else(|| "unknown CPU".into()),
            load: load_average().unwrap_or_else(|| "?".into()),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cores, {}", self.cores, self.model)
    }
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == "model name")
        .map(|(_, value)| value.trim().to_owned())
}

fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}
