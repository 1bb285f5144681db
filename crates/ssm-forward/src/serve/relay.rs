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
//! A local EOF after the remote side has answered what was last sent
//! (request/response clients that close when done: nothing more is
//! coming) waits only [`ANSWERED_GRACE`] for trailing data, so closed
//! connections do not hold streams for the whole linger time.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// How long a local EOF waits for more remote data when the remote side
/// has already answered everything the local side sent: a request/response
/// client that closed when done would otherwise hold its stream and socket
/// for the whole linger time (the soak's 8 connections a second held
/// about 240 of them).
pub(super) const ANSWERED_GRACE: Duration = Duration::from_secs(1);

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
    // True until the remote side has answered the last data sent (and
    // before it said anything at all).
    let awaiting_answer = AtomicBool::new(true);
    let (up, down) = {
        let up = async {
            let sent = copy_noting(&mut local_in, &mut remote_out, &awaiting_answer).await;
            let _ = local_ended.send(true);
            sent
        };
        let down = copy_lingering(
            &mut remote_in,
            &mut local_out,
            local_ended_rx,
            &awaiting_answer,
            linger,
        );
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

/// Copies the local side to the stream until the local EOF, noting that
/// an answer is awaited after every chunk sent.
async fn copy_noting<R, W>(
    from: &mut R,
    to: &mut W,
    awaiting_answer: &AtomicBool,
) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buffer = vec![0u8; BUFFER];
    let mut copied = 0u64;
    loop {
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            return Ok(copied);
        }
        awaiting_answer.store(true, Ordering::Relaxed);
        to.write_all(&buffer[..read]).await?;
        to.flush().await?;
        copied += read as u64;
    }
}

/// Copies `from` to `to` until `from` ends, or, once `local_ended` is
/// true, until nothing arrived for `linger` ([`ANSWERED_GRACE`] when the
/// last data sent was answered already); then shuts `to` down.
async fn copy_lingering<R, W>(
    from: &mut R,
    to: &mut W,
    mut local_ended: watch::Receiver<bool>,
    awaiting_answer: &AtomicBool,
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
            let wait = if awaiting_answer.load(Ordering::Relaxed) {
                linger
            } else {
                linger.min(ANSWERED_GRACE)
            };
            tokio::time::sleep(wait).await;
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
        awaiting_answer.store(false, Ordering::Relaxed);
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
    async fn a_half_closed_connection_waits_for_its_answer_then_the_grace() {
        let linger = Duration::from_secs(3);
        let (mut client, mut remote, relay) = relayed(linger).await;
        client.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!relay.is_finished(), "still waiting for an answer");
        remote.write_all(b"late").await.unwrap();
        tokio::time::sleep(ANSWERED_GRACE / 2).await;
        assert!(!relay.is_finished(), "the answer gets its grace");
        let mut back = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut back))
            .await
            .expect("closed after the grace")
            .unwrap();
        assert_eq!(back, b"late");
        relay.await.unwrap().unwrap();
        let mut rest = Vec::new();
        remote.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the stream is closed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_closed_connection_without_an_answer_closes_after_the_linger_time() {
        let linger = Duration::from_secs(3);
        let (mut client, _remote, relay) = relayed(linger).await;
        client.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        client.shutdown().await.unwrap();
        let started = tokio::time::Instant::now();
        relay.await.unwrap().unwrap();
        assert!(started.elapsed() >= linger, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_connection_whose_request_was_answered_ends_after_the_grace() {
        let (mut client, mut remote, relay) = relayed(Duration::from_secs(30)).await;
        client.write_all(b"ping").await.unwrap();
        let mut request = [0u8; 4];
        remote.read_exact(&mut request).await.unwrap();
        remote.write_all(b"pong").await.unwrap();
        let mut answer = [0u8; 4];
        client.read_exact(&mut answer).await.unwrap();
        drop(client);
        let started = tokio::time::Instant::now();
        relay.await.unwrap().unwrap();
        assert_eq!(started.elapsed(), ANSWERED_GRACE, "not the 30 s linger");
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
