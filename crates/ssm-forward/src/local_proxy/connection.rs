//! One client of the proxy: its request, the rules, a stream to the
//! destination, the reply, the copy.
//!
//! The reply waits until the instance has had its chance to refuse
//! ([`settle`]: the agent acknowledged the stream and no refusal came
//! within a short grace, or the destination spoke first), at most
//! [`SETTLE_LIMIT`]. A destination that cannot be reached is then a `502`
//! / SOCKS `0x05` with the reason instead of a tunnel that closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ssm_client::PoolStream;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tracing::debug;

use super::ProxySpec;
use super::destinations::Destinations;
use super::handshake::{self, ReadFailure, Refusal, Request};
use crate::forwarding::supervisor::{EventSink, ForwardEvent, linger};
use crate::serve;
use crate::serve::settle::{self, Settled};

/// Longest a client may take to send its request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the agent's acknowledgement before replying anyway.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// What every connection of one proxy shares.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) name: String,
    pub(super) listen: SocketAddr,
    pub(super) proxy: ProxySpec,
    pub(super) destinations: Arc<Destinations>,
    pub(super) events: EventSink,
}

impl Context {
    fn failed(&self, peer: SocketAddr, session_id: Option<String>, error: String) {
        let _ = self.events.send(ForwardEvent::ConnectionFailed {
            name: self.name.clone(),
            peer,
            session_id,
            error,
        });
    }
}

/// Serves one client connection to the end.
pub(super) async fn serve(mut socket: TcpStream, peer: SocketAddr, context: Arc<Context>) {
    if !context.proxy.client_allowed(context.listen.ip(), peer.ip()) {
        debug!("client not allowed; closed");
        context.failed(
            peer,
            None,
            format!(
                "clients from {} may not use this proxy (--allow-client)",
                peer.ip()
            ),
        );
        return;
    }
    let request =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake::read_request(&mut socket)).await {
            Ok(Ok(request)) => request,
            Ok(Err(failure)) => return report_read_failure(&context, peer, failure),
            Err(_) => return debug!("no request within the handshake timeout; closed"),
        };
    debug!(destination = %request.destination, protocol = ?request.protocol, "request");
    if let Err(refusal) = tunnel(&mut socket, peer, &request, &context).await {
        handshake::refuse(&mut socket, &request, &refusal).await;
        let error = format!("{}: {}", request.destination, refusal.text());
        context.failed(peer, None, error);
    }
}

fn report_read_failure(context: &Context, peer: SocketAddr, failure: ReadFailure) {
    match failure {
        ReadFailure::Gone(error) => debug!(%error, "client gone before its request"),
        ReadFailure::UnknownProtocol(byte) => context.failed(
            peer,
            None,
            format!(
                "the client speaks neither HTTP nor SOCKS5 (first byte {byte:#04x}); point it at \
                 this port as an HTTP proxy or a SOCKS5 proxy"
            ),
        ),
        ReadFailure::Refused(error) => context.failed(peer, None, format!("bad request: {error}")),
    }
}

/// Everything after the request: rules, stream, reply, copy. An error is
/// a refusal still to be answered.
async fn tunnel(
    socket: &mut TcpStream,
    peer: SocketAddr,
    request: &Request,
    context: &Context,
) -> Result<(), Refusal> {
    context
        .proxy
        .rules
        .check(&request.destination)
        .map_err(Refusal::NotAllowed)?;
    let mut lease = context.destinations.lease(&request.destination)?;
    let mut stream = lease.open_stream().await?;
    let destination = lease.destination().to_string();
    let early = settle(&mut stream, &request.first_bytes, &destination).await?;
    let session_id = stream.session().session_id().to_owned();
    debug!(session = %session_id, stream = stream.id(), "tunnel up");
    if handshake::accept(socket, request).await.is_err() || socket.write_all(&early).await.is_err()
    {
        return Ok(());
    }
    let linger = linger(stream.session());
    if let Err(error) = serve::relay(socket, &mut stream, linger).await {
        debug!(%error, "connection failed");
        context.failed(peer, Some(session_id), format!("{destination}: {error}"));
    }
    Ok(())
}

/// Sends the request's first bytes and waits until the destination is
/// known to be reached ([`settle`]); returns what the destination
/// already sent.
async fn settle(
    stream: &mut PoolStream,
    first_bytes: &[u8],
    destination: &str,
) -> Result<Vec<u8>, Refusal> {
    let lost = |error: std::io::Error| {
        if error.kind() == std::io::ErrorKind::ConnectionRefused {
            Refusal::Unreachable(format!(
                "the instance could not connect to {destination} (refused, unreachable or no such \
                 host)"
            ))
        } else {
            Refusal::NoSession(format!("the session to {destination} failed: {error}"))
        }
    };
    stream.write_all(first_bytes).await.map_err(lost)?;
    match settle::settle(stream, SETTLE_LIMIT).await {
        Settled::Answered(early) => Ok(early),
        Settled::Quiet => Ok(Vec::new()),
        Settled::Failed(error) => Err(lost(error)),
    }
}
