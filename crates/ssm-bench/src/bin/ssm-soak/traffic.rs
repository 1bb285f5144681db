//! The three workloads, run side by side until the deadline: short
//! kubectl-like requests, one long stream and bulk transfers. Every byte
//! that comes back is compared with what was sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::stalls::Stalls;

/// A read that waits this long is a hang, not a stall: the workload fails.
const HANG: Duration = Duration::from_secs(60);
/// Length of each long-stream line.
const LINE: usize = 64;
/// Pause between bulk transfers.
const BULK_PAUSE: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) address: SocketAddr,
    pub(crate) deadline: Instant,
    pub(crate) burst: usize,
    pub(crate) bulk_bytes: usize,
    pub(crate) stalls: Arc<Stalls>,
}

/// What the workloads did.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Short requests answered byte-exact, and their latencies.
    pub(crate) requests: Vec<Duration>,
    /// Long-stream lines echoed byte-exact.
    pub(crate) lines: u64,
    /// How long each bulk transfer (echoed byte-exact) took.
    pub(crate) bulk_times: Vec<Duration>,
    /// Bytes each way of one bulk transfer.
    pub(crate) bulk_bytes: usize,
    /// Everything that went wrong (a mismatch, a hang, a refused connect).
    pub(crate) errors: Vec<String>,
}

/// Runs the workloads until the deadline.
pub(crate) async fn run(plan: Plan) -> Outcome {
    let requests = tokio::spawn(requests(plan.clone()));
    let stream = tokio::spawn(long_stream(plan.clone()));
    let bulk_bytes = plan.bulk_bytes;
    let bulk = tokio::spawn(bulk(plan));
    let mut outcome = Outcome {
        bulk_bytes,
        ..Outcome::default()
    };
    match requests.await {
        Ok((latencies, errors)) => {
            outcome.requests = latencies;
            outcome.errors.extend(errors);
        }
        Err(error) => outcome.errors.push(format!("requests task: {error}")),
    }
    match stream.await {
        Ok(Ok(lines)) => outcome.lines = lines,
        Ok(Err(error)) => outcome.errors.push(format!("long stream: {error:#}")),
        Err(error) => outcome.errors.push(format!("long stream task: {error}")),
    }
    match bulk.await {
        Ok(Ok(times)) => outcome.bulk_times = times,
        Ok(Err(error)) => outcome.errors.push(format!("bulk: {error:#}")),
        Err(error) => outcome.errors.push(format!("bulk task: {error}")),
    }
    outcome
}

/// Byte `index` of a transfer salted with `salt`.
fn pattern(salt: u64, index: u64) -> u8 {
    (index.wrapping_mul(31).wrapping_add(salt) % 251) as u8
}

/// Reads exactly `buffer.len()` bytes, noting each wait for data and
/// failing after [`HANG`] without any.
async fn read_due(
    reader: &mut (impl AsyncRead + Unpin),
    buffer: &mut [u8],
    stalls: &Stalls,
    what: &str,
) -> anyhow::Result<()> {
    let mut filled = 0;
    while filled < buffer.len() {
        let began = Instant::now();
        let read = tokio::time::timeout(HANG, reader.read(&mut buffer[filled..]))
            .await
            .with_context(|| format!("{what}: no data for {HANG:?}"))?
            .with_context(|| format!("{what}: read"))?;
        if read == 0 {
            bail!("{what}: closed after {filled} of {} bytes", buffer.len());
        }
        stalls.waited(began, || format!("{what}: {filled} bytes in"));
        filled += read;
    }
    Ok(())
}

/// Every second, a burst of short connections: one request each, echoed.
async fn requests(plan: Plan) -> (Vec<Duration>, Vec<String>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    let mut id = 0u64;
    while Instant::now() < plan.deadline {
        ticker.tick().await;
        for _ in 0..plan.burst {
            id += 1;
            let plan = plan.clone();
            tasks.push(tokio::spawn(async move { one_request(&plan, id).await }));
        }
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(latency)) => latencies.push(latency),
            Ok(Err(error)) => errors.push(format!("request: {error:#}")),
            Err(error) => errors.push(format!("request task: {error}")),
        }
    }
    (latencies, errors)
}

/// A request of 200 to 1200 bytes, like a kubectl GET with its headers.
fn request_bytes(id: u64) -> Vec<u8> {
    let mut text = format!(
        "GET /api/v1/namespaces/default/pods/web-{id} HTTP/1.1\r\nHost: kube-api\r\n\
         User-Agent: ssm-soak\r\nAccept: application/json\r\n"
    );
    let padding = (id * 97 % 1000) as usize;
    text.push_str(&format!("X-Pad: {}\r\n\r\n", "p".repeat(padding)));
    text.into_bytes()
}

async fn one_request(plan: &Plan, id: u64) -> anyhow::Result<Duration> {
    let began = Instant::now();
    let what = format!("request {id}");
    let mut socket = TcpStream::connect(plan.address)
        .await
        .with_context(|| format!("{what}: connect"))?;
    let request = request_bytes(id);
    socket.write_all(&request).await?;
    let mut answer = vec![0; request.len()];
    read_due(&mut socket, &mut answer, &plan.stalls, &what).await?;
    if answer != request {
        bail!("{what}: the answer differs from the request");
    }
    let latency = began.elapsed();
    plan.stalls
        .waited(began, || format!("{what}: whole request"));
    Ok(latency)
}

/// The text of long-stream line `index`: exactly [`LINE`] bytes.
fn line(index: u64) -> [u8; LINE] {
    let mut bytes = [b'.'; LINE];
    let text = format!("line {index:>12} of the long stream");
    bytes[..text.len()].copy_from_slice(text.as_bytes());
    bytes[LINE - 1] = b'\n';
    bytes
}

/// One connection for the whole run: a line every 100 ms, each echoed.
async fn long_stream(plan: Plan) -> anyhow::Result<u64> {
    let socket = TcpStream::connect(plan.address).await.context("connect")?;
    let (mut reader, mut writer) = socket.into_split();
    let (sent_at, mut sent) = mpsc::unbounded_channel();
    let deadline = plan.deadline;
    let write = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        let mut index = 0u64;
        while Instant::now() < deadline {
            ticker.tick().await;
            writer.write_all(&line(index)).await?;
            let _ = sent_at.send(Instant::now());
            index += 1;
        }
        // No half-close: smux v1 has none, and an agent closes the
        // destination connection on the stream's FIN, cutting the echo.
        anyhow::Ok((index, writer))
    });
    let mut echoed = 0u64;
    while let Some(when) = sent.recv().await {
        let mut back = [0; LINE];
        let what = format!("long stream line {echoed}");
        read_due(&mut reader, &mut back, &plan.stalls, &what).await?;
        if back != line(echoed) {
            bail!("{what} differs");
        }
        plan.stalls.waited(when, || format!("{what}: echo latency"));
        echoed += 1;
    }
    let (written, _writer) = write.await.context("writer task")??;
    if written != echoed {
        bail!("{written} lines written, {echoed} echoed");
    }
    Ok(echoed)
}

/// Bulk transfers one after another, each `bulk_bytes` each way.
async fn bulk(plan: Plan) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::new();
    while Instant::now() < plan.deadline {
        let began = Instant::now();
        one_bulk(&plan, times.len() as u64).await?;
        times.push(began.elapsed());
        tokio::time::sleep(BULK_PAUSE).await;
    }
    Ok(times)
}

async fn one_bulk(plan: &Plan, salt: u64) -> anyhow::Result<()> {
    let what = format!("bulk transfer {salt}");
    let socket = TcpStream::connect(plan.address)
        .await
        .with_context(|| format!("{what}: connect"))?;
    let (mut reader, mut writer) = socket.into_split();
    let size = plan.bulk_bytes as u64;
    let write = tokio::spawn(async move {
        let data: Vec<u8> = (0..size).map(|index| pattern(salt, index)).collect();
        writer.write_all(&data).await?;
        std::io::Result::Ok(writer)
    });
    let mut offset = 0u64;
    let mut chunk = vec![0; 64 * 1024];
    while offset < size {
        let want = chunk.len().min((size - offset) as usize);
        let part = &mut chunk[..want];
        read_due(&mut reader, part, &plan.stalls, &what).await?;
        let expected = (offset..offset + want as u64).map(|index| pattern(salt, index));
        if !part.iter().copied().eq(expected) {
            bail!(
                "{what}: differs within bytes {offset}..{}",
                offset + want as u64
            );
        }
        offset += want as u64;
    }
    let _writer = write.await.context("writer task")??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_requests_have_their_shape() {
        assert_eq!(line(7).len(), LINE);
        assert_eq!(line(7)[LINE - 1], b'\n');
        assert_ne!(line(7), line(8));
        let request = request_bytes(3);
        assert!(request.ends_with(b"\r\n\r\n"));
        assert!((200..1300).contains(&request.len()));
        assert_ne!(pattern(1, 5), pattern(2, 5));
    }
}
