//! Every figure the report can hold, in report order within a section.

use crate::report::Better::{self, Higher, Lower, Neither};
use crate::report::Metric;

const fn metric(
    section: &'static str,
    name: &'static str,
    better: Better,
    decimals: usize,
) -> Metric {
    Metric {
        section,
        name,
        better,
        decimals,
    }
}

const THROUGHPUT: &str = "Throughput, one forwarded connection (MB = 10^6 bytes)";
const LATENCY: &str = "Request latency: 64-byte echo on a kept-open connection";
const CONNECT: &str = "New connection: local connect to first response byte";
const CONCURRENCY: &str = "Concurrency: connections opened at once, one request each";
const COST: &str = "Cost";
const SETUP: &str = "Session setup: exec to \"Waiting for connections...\"";
const POOL: &str = "Session pools (--sessions): parallel 8 MiB transfers, realistic profile";

/// Download with the realistic profile.
pub(crate) const DOWN_REALISTIC: Metric =
    metric(THROUGHPUT, "download, realistic (MB/s)", Higher, 3);
/// What the simulated agent sent during that download.
pub(crate) const DOWN_AGENT: Metric = metric(
    THROUGHPUT,
    "download realistic: agent emitted meanwhile (MB/s)",
    Neither,
    3,
);
/// That download against what the agent emitted meanwhile.
pub(crate) const DOWN_SHARE: Metric = metric(
    THROUGHPUT,
    "download realistic / agent emitted (%)",
    Higher,
    1,
);
/// That download against the agent's nominal pace of 1024 bytes per ms.
pub(crate) const DOWN_PACE: Metric = metric(
    THROUGHPUT,
    "download realistic / agent nominal pace of 1024 B per ms (%)",
    Higher,
    1,
);
/// Upload with the realistic profile.
pub(crate) const UP_REALISTIC: Metric = metric(THROUGHPUT, "upload, realistic (MB/s)", Higher, 3);
/// Highest input_stream_data rate seen by the gateway over 1 s.
pub(crate) const UP_PEAK_RATE: Metric = metric(
    THROUGHPUT,
    "upload realistic: peak client messages/s over 1 s (limit 1000)",
    Neither,
    0,
);
/// Sockets the gateway closed for exceeding 1000 messages/s.
pub(crate) const UP_RATE_CLOSES: Metric =
    metric(THROUGHPUT, "upload realistic: rate-limit closes", Lower, 0);
/// Download with realism off.
pub(crate) const DOWN_UNPACED: Metric =
    metric(THROUGHPUT, "download, realism off (MB/s)", Higher, 2);
/// Upload with realism off.
pub(crate) const UP_UNPACED: Metric = metric(THROUGHPUT, "upload, realism off (MB/s)", Higher, 2);

/// Round-trip percentiles at 0 ms emulated latency.
pub(crate) const RTT: [Metric; 3] = [
    metric(LATENCY, "p50, 0 ms emulated (ms)", Lower, 2),
    metric(LATENCY, "p90, 0 ms emulated (ms)", Lower, 2),
    metric(LATENCY, "p99, 0 ms emulated (ms)", Lower, 2),
];
/// Round-trip percentiles at 20 ms one-way latency.
pub(crate) const RTT_DELAYED: [Metric; 3] = [
    metric(LATENCY, "p50, 20 ms one-way (ms)", Lower, 2),
    metric(LATENCY, "p90, 20 ms one-way (ms)", Lower, 2),
    metric(LATENCY, "p99, 20 ms one-way (ms)", Lower, 2),
];

/// Connect-to-first-byte percentiles at 0 ms.
pub(crate) const CONNECT_FIRST_BYTE: [Metric; 2] = [
    metric(CONNECT, "p50, 0 ms emulated (ms)", Lower, 2),
    metric(CONNECT, "p90, 0 ms emulated (ms)", Lower, 2),
];
/// Connect-to-first-byte percentiles at 20 ms one-way.
pub(crate) const CONNECT_FIRST_BYTE_DELAYED: [Metric; 2] = [
    metric(CONNECT, "p50, 20 ms one-way (ms)", Lower, 2),
    metric(CONNECT, "p90, 20 ms one-way (ms)", Lower, 2),
];

/// Time until every connection of the burst has its answer.
pub(crate) const BURST_TIME: Metric = metric(CONCURRENCY, "time until all answered (s)", Lower, 3);
/// Connections of the burst that failed.
pub(crate) const BURST_FAILURES: Metric = metric(CONCURRENCY, "failed connections", Lower, 0);

/// Stream-data messages the client sent for the burst.
pub(crate) const BURST_MESSAGES: Metric =
    metric(CONCURRENCY, "client data messages sent for it", Lower, 0);
/// CPU per MB moved, for each throughput transfer.
pub(crate) const CPU_PER_MB: [Metric; 4] = [
    metric(COST, "CPU s per MB, download realistic", Lower, 4),
    metric(COST, "CPU s per MB, upload realistic", Lower, 4),
    metric(COST, "CPU s per MB, download realism off", Lower, 4),
    metric(COST, "CPU s per MB, upload realism off", Lower, 4),
];
/// CPU of the bench process (simulator and client) during the unpaced
/// transfers: shows when the simulator, not the subject, is the limit.
pub(crate) const BENCH_CPU_UNPACED: [Metric; 2] = [
    metric(
        COST,
        "simulator + client CPU during download realism off (% of a core)",
        Neither,
        0,
    ),
    metric(
        COST,
        "simulator + client CPU during upload realism off (% of a core)",
        Neither,
        0,
    ),
];
/// CPU of an idle process with a session open.
pub(crate) const IDLE_CPU: Metric = metric(COST, "idle CPU, session open (% of a core)", Lower, 3);
/// Peak resident memory of an idle process with a session open.
pub(crate) const RSS_IDLE: Metric = metric(COST, "peak RSS, session open, idle (MB)", Lower, 1);
/// Peak resident memory once the burst's streams are all open.
pub(crate) const RSS_STREAMS: Metric =
    metric(COST, "peak RSS, burst of streams open (MB)", Lower, 1);

/// Median process start to ready.
pub(crate) const SETUP_MEDIAN: Metric = metric(SETUP, "median (ms)", Lower, 1);
/// Slowest process start to ready.
pub(crate) const SETUP_MAX: Metric = metric(SETUP, "slowest (ms)", Lower, 1);

/// Aggregate download of a pool of 4 over a pool of 1, for 4 and 16
/// parallel connections.
pub(crate) const POOL_GAIN_DOWN: [Metric; 2] = [
    metric(
        POOL,
        "download, 4 connections: 4 sessions / 1 session (×)",
        Higher,
        2,
    ),
    metric(
        POOL,
        "download, 16 connections: 4 sessions / 1 session (×)",
        Higher,
        2,
    ),
];
/// The same for uploads.
pub(crate) const POOL_GAIN_UP: [Metric; 2] = [
    metric(
        POOL,
        "upload, 4 connections: 4 sessions / 1 session (×)",
        Higher,
        2,
    ),
    metric(
        POOL,
        "upload, 16 connections: 4 sessions / 1 session (×)",
        Higher,
        2,
    ),
];
/// CPU per MB over every transfer of a pool of 1 and of 4.
pub(crate) const POOL_CPU_PER_MB: [Metric; 2] = [
    metric(POOL, "CPU s per MB, pool of 1", Lower, 4),
    metric(POOL, "CPU s per MB, pool of 4", Lower, 4),
];
/// The concurrency burst through a pool of 4 (ours) or one session (plugin).
pub(crate) const POOL_BURST_TIME: Metric = metric(
    POOL,
    "burst, ours with a pool of 4: time until all answered (s)",
    Lower,
    3,
);
/// Its failed connections.
pub(crate) const POOL_BURST_FAILURES: Metric = metric(
    POOL,
    "burst, ours with a pool of 4: failed connections",
    Lower,
    0,
);

/// Every figure, in report order.
pub(crate) const ALL: &[Metric] = &[
    DOWN_REALISTIC,
    DOWN_AGENT,
    DOWN_SHARE,
    DOWN_PACE,
    UP_REALISTIC,
    UP_PEAK_RATE,
    UP_RATE_CLOSES,
    DOWN_UNPACED,
    UP_UNPACED,
    RTT[0],
    RTT[1],
    RTT[2],
    RTT_DELAYED[0],
    RTT_DELAYED[1],
    RTT_DELAYED[2],
    CONNECT_FIRST_BYTE[0],
    CONNECT_FIRST_BYTE[1],
    CONNECT_FIRST_BYTE_DELAYED[0],
    CONNECT_FIRST_BYTE_DELAYED[1],
    BURST_TIME,
    BURST_FAILURES,
    BURST_MESSAGES,
    CPU_PER_MB[0],
    CPU_PER_MB[1],
    CPU_PER_MB[2],
    CPU_PER_MB[3],
    BENCH_CPU_UNPACED[0],
    BENCH_CPU_UNPACED[1],
    IDLE_CPU,
    RSS_IDLE,
    RSS_STREAMS,
    SETUP_MEDIAN,
    SETUP_MAX,
    POOL_GAIN_DOWN[0],
    POOL_GAIN_DOWN[1],
    POOL_GAIN_UP[0],
    POOL_GAIN_UP[1],
    POOL_CPU_PER_MB[0],
    POOL_CPU_PER_MB[1],
    POOL_BURST_TIME,
    POOL_BURST_FAILURES,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_listed_once() {
        for (i, metric) in ALL.iter().enumerate() {
            assert!(!ALL[i + 1..].contains(metric), "{} twice", metric.name);
        }
        let listed = |metric: &Metric| ALL.contains(metric);
        let singles = [
            DOWN_REALISTIC,
            UP_UNPACED,
            BURST_FAILURES,
            IDLE_CPU,
            SETUP_MAX,
        ];
        assert!(singles.iter().all(listed));
        assert!(
            RTT.iter()
                .chain(&RTT_DELAYED)
                .chain(&CPU_PER_MB)
                .chain(&BENCH_CPU_UNPACED)
                .chain(&POOL_GAIN_DOWN)
                .chain(&POOL_GAIN_UP)
                .chain(&POOL_CPU_PER_MB)
                .all(listed)
        );
    }
}
