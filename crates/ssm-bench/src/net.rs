//! The client side: what the bench does on an implementation's local port.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::lab::Sink;

/// Size of the small requests (echoed back in full).
pub(crate) const REQUEST_SIZE: usize = 64;
/// Longest a single request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes moved and the time it took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    /// Bytes that arrived.
    pub(crate) bytes: u64,
    /// From connect to the last byte (or to the time limit).
    pub(crate) elapsed: Duration,
}

impl Transfer {
    /// Throughput in MB/s (10^6 bytes per second).
    pub(crate) fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }
}

/// Reads up to `size` bytes from the local port (the source sends them)
/// or until `cap` has passed.
pub(crate) async fn download(
    addr: SocketAddr,
    size: u64,
    cap: Duration,
) -> anyhow::Result<Transfer> {
    let started = Instant::now();
    let deadline = started + cap;
    let mut stream = TcpStream::connect(addr).await.context("connecting")?;
    let mut buffer = vec![0; 256 * 1024];
    let mut bytes = 0;
    while bytes < size {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => break,
            Ok(Ok(0)) => bail!("connection closed after {bytes} of {size} bytes"),
            Ok(Ok(n)) => bytes += n as u64,
            Ok(Err(error)) => return Err(error).context("reading"),
        }
    }
    Ok(Transfer {
        bytes,
        elapsed: started.elapsed().min(cap),
    })
}

/// Writes `size` bytes to the local port as fast as it takes them and
/// times their arrival at the sink, or stops at `cap`.
pub(crate) async fn upload(
    addr: SocketAddr,
    size: u64,
    cap: Duration,
    sink: &Sink,
) -> anyhow::Result<Transfer> {
    sink.reset();
    let started = Instant::now();
    let deadline = started + cap;
    let mut stream = TcpStream::connect(addr).await.context("connecting")?;
    let chunk = vec![0x5a; 64 * 1024];
    let mut sent = 0;
    while sent < size {
        let n = usize::try_from(size - sent).map_or(chunk.len(), |left| left.min(chunk.len()));
        match tokio::time::timeout_at(deadline, stream.write_all(&chunk[..n])).await {
            Err(_) => break,
            Ok(result) => result.context("writing")?,
        }
        sent += n as u64;
    }
    let bytes = sink.wait_for(size, deadline).await;
    Ok(Transfer {
        bytes,
        elapsed: started.elapsed().min(cap),
    })
}

/// Sends one request on `stream` and reads its echo; returns the round
/// trip.
pub(crate) async fn round_trip(stream: &mut TcpStream) -> anyhow::Result<Duration> {
    let request = request();
    let mut reply = [0; REQUEST_SIZE];
    let started = Instant::now();
    let exchange = async {
        stream.write_all(&request).await?;
        stream.read_exact(&mut reply).await?;
        anyhow::Ok(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .context("request timed out")??;
    let elapsed = started.elapsed();
    ensure!(reply == request, "echo differs from the request");
    Ok(elapsed)
}

/// Connects, sends one request and times the first byte of the answer
/// from the start of the connect; then reads the rest and checks it.
pub(crate) async fn first_byte(addr: SocketAddr) -> anyhow::Result<Duration> {
    let request = request();
    let mut reply = [0; REQUEST_SIZE];
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&request).await?;
        let mut got = stream.read(&mut reply).await?;
        let first = started.elapsed();
        ensure!(got > 0, "closed before answering");
        while got < REQUEST_SIZE {
            let n = stream.read(&mut reply[got..]).await?;
            ensure!(n > 0, "closed after {got} bytes");
            got += n;
        }
        Ok(first)
    };
    let first = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .context("request timed out")??;
    ensure!(reply == request, "echo differs from the request");
    Ok(first)
}

/// Opens a connection for round trips.
pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await.context("connecting")?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A request: recognisable bytes, never a lone newline (the plugin turns
/// a 1-byte "\n" payload into "\r").
fn request() -> [u8; REQUEST_SIZE] {
    let mut request = [0; REQUEST_SIZE];
    for (i, byte) in request.iter_mut().enumerate() {
        *byte = b'a' + (i % 26) as u8;
    }
    request
}

/// The outcome of [`burst`].
#[derive(Debug)]
pub(crate) struct Burst {
    /// Until the last connection had its answer (or failed).
    pub(crate) elapsed: Duration,
    /// Why connections failed.
    pub(crate) errors: Vec<String>,
    /// The connections that worked, still open.
    pub(crate) streams: Vec<TcpStream>,
}

/// Opens `count` connections at once, one request each, and keeps the
/// ones that worked open.
pub(crate) async fn burst(addr: SocketAddr, count: usize) -> Burst {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        tasks.spawn(async move {
            let mut stream = connect(addr).await?;
            round_trip(&mut stream).await?;
            anyhow::Ok(stream)
        });
    }
    let mut burst = Burst {
        elapsed: Duration::ZERO,
        errors: Vec::new(),
        streams: Vec::with_capacity(count),
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(stream)) => burst.streams.push(stream),
            Ok(Err(error)) => burst.errors.push(format!("{error:#}")),
            Err(error) => burst.errors.push(error.to_string()),
        }
    }
    burst.elapsed = started.elapsed();
    burst
}
