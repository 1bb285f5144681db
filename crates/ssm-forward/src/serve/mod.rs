//! The one serve loop: listen, accept, hand each connection to its own
//! task, stop when told; and the one copy between a local connection and
//! the stream that carries it. Forwards ([`crate::forwarding::supervisor`]),
//! the plugin and the demo's web service all serve through here, so
//! accepting, copying and stopping behave the same everywhere.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tracing::{debug, warn};

/// Accept queue of every listener. Tokio (like std) asks for 128, and a
/// burst beyond the queue loses SYNs that the kernel retries only after a
/// second: kubectl or a browser opening hundreds of connections at once
/// would see 1 s stalls. Linux caps this at `net.core.somaxconn` (4096).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Pause after a failed accept (e.g. out of file descriptors), so that a
/// lasting failure does not spin.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

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
/// `handle(socket, peer)` makes. A failed accept is logged and retried
/// after a short pause.
pub async fn accept_until<H, F, S>(listener: &TcpListener, mut handle: H, stop: S) -> S::Output
where
    H: FnMut(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
    S: Future,
{
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            output = &mut stop => return output,
        };
        match accepted {
            Ok((socket, peer)) => {
                debug!(%peer, "connection accepted");
                let _ = socket.set_nodelay(true);
                tokio::spawn(handle(socket, peer));
            }
            Err(error) => {
                warn!(%error, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_RETRY_PAUSE) => {}
                    output = &mut stop => return output,
                }
            }
        }
    }
}

/// Copies a local connection to and from the stream that carries it
/// until both directions are done. An error of kind `ConnectionRefused`
/// means the far end could not reach the destination.
pub async fn relay<S>(socket: &mut TcpStream, stream: &mut S) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let (up, down) = tokio::io::copy_bidirectional(socket, stream).await?;
    debug!(up, down, "connection closed");
    Ok(())
}

#[cfg(test)]
mod tests {
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
                let (mut near, mut far) = tokio::io::duplex(64);
                let echo = tokio::spawn(async move {
                    let (mut read, mut write) = tokio::io::split(&mut far);
                    tokio::io::copy(&mut read, &mut write).await
                });
                relay(&mut socket, &mut near).await.unwrap();
                let _ = echo.await;
            };
            accept_until(&listener, echo, stop_rx).await
        });
        for text in ["first", "second"] {
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
}
