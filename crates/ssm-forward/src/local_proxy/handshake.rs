//! The IO around `ssm-proxy-handshake`: read a client's request (HTTP
//! `CONNECT`, an absolute-form HTTP request, or SOCKS5's greeting and
//! CONNECT), and write the reply that fits the protocol: success, or a
//! refusal with its reason. What a client can make us hold is bounded:
//! an HTTP head by `MAX_HEAD` (plus one read), SOCKS5 messages by their
//! format (at most 262 bytes).

use std::io;

use ssm_proxy_handshake::{Destination, HandshakeError, Parsed, Protocol, detect, http, socks5};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A request read from a client.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) protocol: Protocol,
    pub(super) destination: Destination,
    /// Bytes for the destination before anything the client sends next:
    /// the rewritten head of an absolute-form request, then whatever the
    /// client sent after its request.
    pub(super) first_bytes: Vec<u8>,
    /// An absolute-form HTTP request (no reply of ours on success: the
    /// destination's response is the reply).
    pub(super) forwarded: bool,
}

/// Why no request could be read.
#[derive(Debug)]
pub(super) enum ReadFailure {
    /// The client closed or the socket failed: nothing to answer.
    Gone(io::Error),
    /// The client spoke neither HTTP nor SOCKS5 (its first byte).
    UnknownProtocol(u8),
    /// A malformed or unsupported request, already answered.
    Refused(HandshakeError),
}

/// How a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The allow/deny rules (or the client's address) forbid it: `403`,
    /// SOCKS `0x02`.
    NotAllowed(String),
    /// Too many destinations at once: `503`, SOCKS `0x01`.
    Busy(String),
    /// No session could carry it (access denied, target offline): `502`,
    /// SOCKS `0x01`.
    NoSession(String),
    /// The instance could not connect to the destination: `502`, SOCKS
    /// `0x05`.
    Unreachable(String),
}

impl Refusal {
    /// The reason, for the body and the status line.
    pub(super) fn text(&self) -> &str {
        match self {
            Self::NotAllowed(text)
            | Self::Busy(text)
            | Self::NoSession(text)
            | Self::Unreachable(text) => text,
        }
    }

    fn http(&self) -> Vec<u8> {
        let (status, reason) = match self {
            Self::NotAllowed(_) => (403, "Forbidden"),
            Self::Busy(_) => (503, "Service Unavailable"),
            Self::NoSession(_) | Self::Unreachable(_) => (502, "Bad Gateway"),
        };
        http::response(
            status,
            reason,
            &format!("ssm-forward proxy: {}", self.text()),
        )
    }

    fn socks(&self) -> socks5::Reply {
        match self {
            Self::NotAllowed(_) => socks5::Reply::NotAllowed,
            Self::Busy(_) | Self::NoSession(_) => socks5::Reply::GeneralFailure,
            Self::Unreachable(_) => socks5::Reply::ConnectionRefused,
        }
    }
}

/// Reads one request. SOCKS5's method negotiation is answered on the
/// way; a malformed request is answered (`400` / `405`, a SOCKS error
/// reply) before this returns [`ReadFailure::Refused`].
pub(super) async fn read_request(socket: &mut TcpStream) -> Result<Request, ReadFailure> {
    let mut buffer = Vec::with_capacity(1024);
    read_more(socket, &mut buffer).await?;
    match detect(buffer[0]) {
        Some(Protocol::Http) => read_http(socket, buffer).await,
        Some(Protocol::Socks5) => read_socks(socket, buffer).await,
        None => Err(ReadFailure::UnknownProtocol(buffer[0])),
    }
}

/// Reads what is there (at least one byte) onto `buffer`.
async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), ReadFailure> {
    let mut chunk = [0u8; 4096];
    let read = socket.read(&mut chunk).await.map_err(ReadFailure::Gone)?;
    if read == 0 {
        return Err(ReadFailure::Gone(io::ErrorKind::UnexpectedEof.into()));
    }
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}

async fn read_http(socket: &mut TcpStream, mut buffer: Vec<u8>) -> Result<Request, ReadFailure> {
    loop {
        match http::parse(&buffer) {
            Ok(Parsed::Incomplete) => read_more(socket, &mut buffer).await?,
            Ok(Parsed::Complete { value, consumed }) => {
                let rest = buffer.split_off(consumed);
                let destination = value.destination().clone();
                let (mut first_bytes, forwarded) = match value {
                    http::Request::Connect { .. } => (Vec::new(), false),
                    http::Request::Forward { head, .. } => (head, true),
                };
                first_bytes.extend_from_slice(&rest);
                return Ok(Request {
                    protocol: Protocol::Http,
                    destination,
                    first_bytes,
                    forwarded,
                });
            }
            Err(error) => {
                let (status, reason) = match error {
                    HandshakeError::TooLarge => (431, "Request Header Fields Too Large"),
                    HandshakeError::Unsupported(_) => (405, "Method Not Allowed"),
                    _ => (400, "Bad Request"),
                };
                let body = format!("ssm-forward proxy: {error}");
                let _ = socket
                    .write_all(&http::response(status, reason, &body))
                    .await;
                return Err(ReadFailure::Refused(error));
            }
        }
    }
}

async fn read_socks(socket: &mut TcpStream, mut buffer: Vec<u8>) -> Result<Request, ReadFailure> {
    let consumed = loop {
        match socks5::parse_greeting(&buffer) {
            Ok(Parsed::Incomplete) => read_more(socket, &mut buffer).await?,
            Ok(Parsed::Complete { consumed, .. }) => break consumed,
            Err(error) => {
                if error == HandshakeError::NoAcceptableMethod {
                    let _ = socket.write_all(&socks5::METHOD_REFUSED).await;
                }
                return Err(ReadFailure::Refused(error));
            }
        }
    };
    buffer.drain(..consumed);
    socket
        .write_all(&socks5::METHOD_ACCEPTED)
        .await
        .map_err(ReadFailure::Gone)?;
    loop {
        match socks5::parse_request(&buffer) {
            Ok(Parsed::Incomplete) => read_more(socket, &mut buffer).await?,
            Ok(Parsed::Complete { value, consumed }) => {
                return Ok(Request {
                    protocol: Protocol::Socks5,
                    destination: value,
                    first_bytes: buffer.split_off(consumed),
                    forwarded: false,
                });
            }
            Err(error) => {
                let reply = socks5::Reply::for_error(&error);
                let _ = socket.write_all(&reply.to_bytes()).await;
                return Err(ReadFailure::Refused(error));
            }
        }
    }
}

/// Answers `request` with `refusal`.
pub(super) async fn refuse(socket: &mut TcpStream, request: &Request, refusal: &Refusal) {
    let reply = match request.protocol {
        Protocol::Http => refusal.http(),
        Protocol::Socks5 => refusal.socks().to_bytes().to_vec(),
    };
    let _ = socket.write_all(&reply).await;
    let _ = socket.shutdown().await;
}

/// Tells the client its tunnel is up (nothing for an absolute-form
/// request: the destination's response follows).
pub(super) async fn accept(socket: &mut TcpStream, request: &Request) -> io::Result<()> {
    match (request.protocol, request.forwarded) {
        (Protocol::Http, true) => Ok(()),
        (Protocol::Http, false) => socket.write_all(http::CONNECT_ESTABLISHED).await,
        (Protocol::Socks5, _) => socket.write_all(&socks5::Reply::Succeeded.to_bytes()).await,
    }
}
