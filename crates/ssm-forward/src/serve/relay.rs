//! The one copy between a local connection and the stream that carries
//! it, with half-close done right.
//!
//! A local client may send its request and then shut down its write side
//! (HTTP/1.0 clients, `nc -N`, scripts using `shutdown(SHUT_WR)`). smux v1
//! and basic mode have no half-close: closing the stream makes the agent
//! close the destination, which throws the response away. So a local EOF
//! closes nothing; the stream stays open until the remote side ends
//! (mux: the agent's FIN) or no data came from it for the linger time
//! (basic mode, where a remote close is invisible). Only then is the
//! stream closed (FIN / DisconnectToPort) and the local write side shut.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::debug;

/// How long a half-closed connection waits for more data from a mux
/// stream before closing it anyway; the agent's FIN normally ends it long
/// before (this only guards against a destination that never closes).
pub const MUX_LINGER: Duration = Duration::from_secs(30);

/// How long a half-closed connection waits for more data in basic mode,
/// where the destination's close cannot be seen; every byte that arrives
/// starts the wait again. Basic mode serves one connection at a time, so
/// this is also how long the next connection may wait after a
/// half-closed one.
pub const BASIC_LINGER: Duration = Duration::from_secs(3);

const BUFFER: usize = 32 * 1024;

/// Copies a local connection to and from the stream that carries it until
/// both directions are done, then closes the stream. After a local EOF the
/// stream is kept open for the answer: until the remote side ends, or
/// until no data arrived from it for `linger`. After the remote side ends,
/// the local side gets `linger` to finish sending. An error of kind
/// `ConnectionRefused` means the far end could not reach the destination.
pub async fn relay<S>(socket: &mut TcpStream, stream: &mut S, linger: Duration) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + ?Sized,
{
    let (mut local_in, mut local_out) = socket.split();
    let (mut remote_in, mut remote_out) = tokio::io::split(stream);
    let (local_ended, local_ended_rx) = watch::channel(false);
    let (up, down) = {
        let up = async {
            let sent = tokio::io::copy(&mut local_in, &mut remote_out).await;
            let _ = local_ended.send(true);
            sent
        };
        let down = copy_lingering(&mut remote_in, &mut local_out, local_ended_rx, linger);
        tokio::pin!(up, down);
        tokio::select! {
            up = &mut up => (up?, down.await?),
            down = &mut down => {
                let received = down?;
                // The remote side is gone: what the local side still sends
                // has nowhere to go, so its errors no longer matter.
                let sent = tokio::time::timeout(linger, up).await;
                (sent.ok().and_then(Result::ok).unwrap_or_default(), received)
            }
        }
    };
    let _ = remote_out.shutdown().await;
    debug!(up, down, "connection closed");
    Ok(())
}

/// Copies `from` to `to` until `from` ends, or, once `local_ended` is
/// true, until nothing arrived for `linger`; then shuts `to` down.
async fn copy_lingering<R, W>(
    from: &mut R,
    to: &mut W,
    mut local_ended: watch::Receiver<bool>,
    linger: Duration,
) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buffer = vec![0u8; BUFFER];
    let mut copied = 0u64;
    loop {
        let idle = async {
            let _ = local_ended.wait_for(|ended| *ended).await;
            tokio::time::sleep(linger).await;
        };
        let read = tokio::select! {
            read = from.read(&mut buffer) => read?,
            () = idle => {
                debug!(?linger, "half-closed connection idle: closing it");
                break;
            }
        };
        if read == 0 {
            break;
        }
        to.write_all(&buffer[..read]).await?;
        copied += read as u64;
    }
    to.shutdown().await?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    /// A local connection relayed into one end of a duplex pipe; the
    /// other end plays the remote side.
    async fn relayed(
        linger: Duration,
    ) -> (
        TcpStream,
        tokio::io::DuplexStream,
        tokio::task::JoinHandle<io::Result<()>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut socket, _) = listener.accept().await.unwrap();
        let (mut near, far) = tokio::io::duplex(1024);
        let task = tokio::spawn(async move { relay(&mut socket, &mut near, linger).await });
        (client, far, task)
    }

    #[tokio::test]
    async fn a_local_eof_keeps_the_stream_open_for_the_answer() {
        let (mut client, mut remote, relay) = relayed(Duration::from_secs(30)).await;
        client.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        client.shutdown().await.unwrap();
        let mut request = [0u8; 18];
        remote.read_exact(&mut request).await.unwrap();
        let answer: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        remote.write_all(&answer).await.unwrap();
        drop(remote);
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert!(
            back == answer,
            "got {} of {} bytes",
            back.len(),
            answer.len()
        );
        relay.await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_closed_connection_closes_after_the_linger_time_without_data() {
        let linger = Duration::from_secs(3);
        let (mut client, mut remote, relay) = relayed(linger).await;
        client.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        remote.write_all(b"late").await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!relay.is_finished(), "data restarted the linger time");
        let mut back = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut back))
            .await
            .expect("closed after the linger time")
            .unwrap();
        assert_eq!(back, b"late");
        relay.await.unwrap().unwrap();
        let mut rest = Vec::new();
        remote.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the stream is closed");
    }

    #[tokio::test]
    async fn a_remote_end_closes_the_local_connection() {
        let (mut client, remote, relay) = relayed(Duration::from_secs(30)).await;
        drop(remote);
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert!(back.is_empty());
        drop(client);
        relay.await.unwrap().unwrap();
    }
}
