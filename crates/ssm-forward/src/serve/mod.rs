//! The one serve loop: listen, accept, hand each connection to its own
//! task, stop when told; and the one copy between a local connection and
//! the stream that carries it. Forwards ([`crate::forwarding::supervisor`]),
//! the plugin and the demo's web service all serve through here, so
//! accepting, copying and stopping behave the same everywhere. Local
//! resource limits are in `admission`, the copy (and its half-close
//! rules) in `relay`, and whether a new stream reached its destination in
//! [`settle`].

mod admission;
mod relay;
pub mod settle;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tracing::{debug, warn};

pub use admission::{ConnectionLimit, DEFAULT_MAX_CONNECTIONS, accept_backoff};
pub use relay::{BASIC_LINGER, MUX_LINGER, relay};

/// Accept queue of every listener. Tokio (like std) asks for 128, and a
/// burst beyond the queue loses SYNs that the kernel retries only after a
/// second: kubectl or a browser opening hundreds of connections at once
/// would see 1 s stalls. Linux caps this at `net.core.somaxconn` (4096).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `address` with a deep accept queue ([`LISTEN_BACKLOG`]).
pub fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Accepts connections on `listener` until `stop` completes, and returns
/// what `stop` returned. Every accepted connection gets TCP_NODELAY (what
/// it sends is forwarded at once) and its own task, running the future
/// `handle(socket, peer)` makes, unless `limit` is reached: then it is
/// closed at once. A failed accept (e.g. out of file descriptors) is
/// retried after a pause that grows with each failure in a row
/// ([`accept_backoff`]).
pub async fn accept_until<H, F, S>(
    listener: &TcpListener,
    mut limit: ConnectionLimit,
    mut handle: H,
    stop: S,
) -> S::Output
where
    H: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
    S: Future,
{
    tokio::pin!(stop);
    let mut failures = 0u32;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            output = &mut stop => return output,
        };
        match accepted {
            Ok((socket, peer)) => {
                failures = 0;
                let Some(permit) = limit.admit() else {
                    debug!(%peer, "connection refused: too many at once");
                    drop(socket);
                    continue;
                };
                debug!(%peer, "connection accepted");
                let _ = socket.set_nodelay(true);
                let served = handle(socket, peer);
                tokio::spawn(async move {
                    served.await;
                    drop(permit);
                });
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let pause = accept_backoff(failures);
                if failures == 1 {
                    warn!(%error, "accept failed");
                } else {
                    debug!(%error, failures, ?pause, "accept failed again");
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    output = &mut stop => return output,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test]
    async fn connections_are_served_until_stop_and_relayed_both_ways() {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let address = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<&str>();
        let served = tokio::spawn(async move {
            let echo = |mut socket: TcpStream, _peer| async move {
                assert!(socket.nodelay().unwrap(), "TCP_NODELAY is set");
                let (mut near, far) = tokio::io::duplex(64);
                let echo = tokio::spawn(echo_one_line(far));
                relay(&mut socket, &mut near, MUX_LINGER).await.unwrap();
                let _ = echo.await;
            };
            let limit = ConnectionLimit::unreported(DEFAULT_MAX_CONNECTIONS);
            accept_until(&listener, limit, echo, stop_rx).await
        });
        for text in ["first\n", "second\n"] {
            let mut client = TcpStream::connect(address).await.unwrap();
            client.write_all(text.as_bytes()).await.unwrap();
            client.shutdown().await.unwrap();
            let mut back = String::new();
            client.read_to_string(&mut back).await.unwrap();
            assert_eq!(back, text);
        }
        stop_tx.send("stopped").unwrap();
        assert_eq!(served.await.unwrap(), Ok("stopped"));
    }

    /// The remote side of a request/response exchange: reads one line,
    /// sends it back and closes.
    async fn echo_one_line(mut far: tokio::io::DuplexStream) {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while far.read_exact(&mut byte).await.is_ok() {
            line.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
        let _ = far.write_all(&line).await;
    }

    /// Connects and waits until the server answers or closes; true when
    /// it closed without a byte (refused by the limit).
    async fn closed_at_once(address: SocketAddr) -> bool {
        let mut client = TcpStream::connect(address).await.unwrap();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), client.read(&mut byte))
            .await
            .expect("the server answers or closes");
        matches!(read, Ok(0) | Err(_))
    }

    #[tokio::test]
    async fn beyond_the_limit_connections_are_closed_at_once_until_room_is_made() {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let address = listener.local_addr().unwrap();
        let reports = Arc::new(AtomicUsize::new(0));
        let counted = reports.clone();
        let limit = ConnectionLimit::new(2, move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        // Each admitted connection says "hi" and stays until its client goes.
        let hold = |mut socket: TcpStream, _peer| async move {
            let _ = socket.write_all(b"hi").await;
            let mut rest = Vec::new();
            let _ = socket.read_to_end(&mut rest).await;
        };
        let serving = tokio::spawn(async move {
            accept_until(&listener, limit, hold, std::future::pending::<()>()).await;
        });
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut client = TcpStream::connect(address).await.unwrap();
            let mut hi = [0u8; 2];
            client.read_exact(&mut hi).await.unwrap();
            held.push(client);
        }
        for _ in 0..3 {
            assert!(closed_at_once(address).await, "refused beyond the limit");
        }
        assert_eq!(reports.load(Ordering::Relaxed), 1, "one report per burst");
        held.pop();
        let served = async {
            loop {
                if !closed_at_once(address).await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), served)
            .await
            .expect("served again once a connection closed");
        serving.abort();
    }
}
