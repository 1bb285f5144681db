//! How much each scenario does: full sizes for a recorded run, tiny ones
//! for the CI smoke test.

use std::time::Duration;

const MIB: u64 = 1 << 20;

/// Sizes, sample counts and time limits.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Bytes per direction with the realistic profile (~1 MB/s).
    pub(crate) realistic_bytes: u64,
    /// Time limit of one realistic transfer.
    pub(crate) realistic_cap: Duration,
    /// Bytes per direction with realism off.
    pub(crate) unpaced_bytes: u64,
    /// Time limit of one unpaced transfer (the plugin is slow).
    pub(crate) unpaced_cap: Duration,
    /// Round trips measured at 0 ms emulated latency.
    pub(crate) round_trips: usize,
    /// Round trips measured at 20 ms emulated one-way latency.
    pub(crate) round_trips_delayed: usize,
    /// New connections timed at 0 ms.
    pub(crate) connects: usize,
    /// New connections timed at 20 ms.
    pub(crate) connects_delayed: usize,
    /// Connections opened at once.
    pub(crate) connections: usize,
    /// How long idle CPU is measured.
    pub(crate) idle_window: Duration,
    /// Process starts timed.
    pub(crate) setups: usize,
    /// Pause between ready and the first measurement, longer than the
    /// simulated port plugin's start (100 ms realistic).
    pub(crate) settle: Duration,
    /// Bytes per connection and direction of the pool scenario.
    pub(crate) pool_bytes: u64,
    /// Time limit of one cell of the pool scenario.
    pub(crate) pool_cap: Duration,
    /// Pool sizes (`--sessions`) measured.
    pub(crate) pool_sessions: Vec<usize>,
    /// Parallel connections measured per pool size.
    pub(crate) pool_connections: Vec<usize>,
}

impl Plan {
    /// The full plan, or the smoke plan.
    pub(crate) fn new(smoke: bool) -> Self {
        if smoke { Self::smoke() } else { Self::full() }
    }

    fn full() -> Self {
        Self {
            realistic_bytes: 8 * MIB,
            realistic_cap: Duration::from_secs(20),
            unpaced_bytes: 64 * MIB,
            unpaced_cap: Duration::from_secs(15),
            round_trips: 500,
            round_trips_delayed: 150,
            connects: 50,
            connects_delayed: 20,
            connections: 200,
            idle_window: Duration::from_secs(10),
            setups: 5,
            settle: Duration::from_millis(300),
            pool_bytes: 8 * MIB,
            pool_cap: Duration::from_secs(180),
            pool_sessions: vec![1, 2, 4],
            pool_connections: vec![1, 4, 16],
        }
    }

    fn smoke() -> Self {
        Self {
            realistic_bytes: MIB / 4,
            realistic_cap: Duration::from_secs(10),
            unpaced_bytes: 2 * MIB,
            unpaced_cap: Duration::from_secs(10),
            round_trips: 20,
            round_trips_delayed: 5,
            connects: 5,
            connects_delayed: 2,
            connections: 20,
            idle_window: Duration::from_secs(1),
            setups: 2,
            settle: Duration::from_millis(300),
            pool_bytes: MIB / 4,
            pool_cap: Duration::from_secs(20),
            pool_sessions: vec![1, 2],
            pool_connections: vec![1, 2],
        }
    }
}
