//! The far ends of sessions: an echo server for requests, and for bulk
//! transfers a source that sends a set number of bytes to every
//! connection as fast as it can and a sink that counts what it receives.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const CHUNK: usize = 64 * 1024;
/// Listen backlog of every endpoint: a burst of hundreds of dials must not
/// overflow the accept queue (the kernel would retry a dropped SYN only
/// after 1 s; tokio's `TcpListener::bind` uses 128).
const BACKLOG: u32 = 4096;

/// A loopback listener on a free port with a deep accept queue.
fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    socket.listen(BACKLOG)
}

/// Echoes every byte back to each connection.
#[derive(Debug)]
pub(crate) struct Echo {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Echo {
    /// Listens on a free loopback port.
    pub(crate) fn start() -> std::io::Result<Self> {
        let listener = listen()?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve_echo(listener));
        Ok(Self { addr, task })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_echo(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let (mut reader, mut writer) = stream.into_split();
            let _ = tokio::io::copy(&mut reader, &mut writer).await;
        });
    }
}

/// Sends [`Source::set_amount`] bytes to each connection, then closes it.
#[derive(Debug)]
pub(crate) struct Source {
    addr: SocketAddr,
    amount: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Source {
    /// Listens on a free loopback port.
    pub(crate) fn start() -> std::io::Result<Self> {
        let listener = listen()?;
        let addr = listener.local_addr()?;
        let amount = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(serve_source(listener, amount.clone()));
        Ok(Self { addr, amount, task })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many bytes the next connections get.
    pub(crate) fn set_amount(&self, bytes: u64) {
        self.amount.store(bytes, Ordering::Relaxed);
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_source(listener: TcpListener, amount: Arc<AtomicU64>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(send(stream, amount.load(Ordering::Relaxed)));
    }
}

async fn send(mut stream: TcpStream, mut left: u64) {
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    while left > 0 {
        let n = usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK));
        if stream.write_all(&chunk[..n]).await.is_err() {
            return;
        }
        left -= n as u64;
    }
    let _ = stream.shutdown().await;
}

/// Counts the bytes every connection sends it.
#[derive(Debug)]
pub(crate) struct Sink {
    addr: SocketAddr,
    received: Arc<watch::Sender<u64>>,
    task: JoinHandle<()>,
}

impl Sink {
    /// Listens on a free loopback port.
    pub(crate) fn start() -> std::io::Result<Self> {
        let listener = listen()?;
        let addr = listener.local_addr()?;
        let received = Arc::new(watch::Sender::new(0));
        let task = tokio::spawn(serve_sink(listener, received.clone()));
        Ok(Self {
            addr,
            received,
            task,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the count back to zero.
    pub(crate) fn reset(&self) {
        self.received.send_replace(0);
    }

    /// Bytes received since the last reset.
    pub(crate) fn received(&self) -> u64 {
        *self.received.borrow()
    }

    /// Waits until `bytes` have been received or `deadline` passes;
    /// returns the count then.
    pub(crate) async fn wait_for(&self, bytes: u64, deadline: Instant) -> u64 {
        let mut watcher = self.received.subscribe();
        let reached = watcher.wait_for(|count| *count >= bytes);
        let _ = tokio::time::timeout_at(deadline, reached).await;
        self.received()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_sink(listener: TcpListener, received: Arc<watch::Sender<u64>>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(drain(stream, received.clone()));
    }
}

async fn drain(mut stream: TcpStream, received: Arc<watch::Sender<u64>>) {
    let mut buffer = vec![0; CHUNK];
    while let Ok(n @ 1..) = stream.read(&mut buffer).await {
        received.send_modify(|count| *count += n as u64);
    }
}
