//! Unit tests of the session rules, driven through raw frames.

mod budget;
mod keepalive;
mod streams;
mod wire;

use std::time::Instant;

use bytes::BufMut;

use super::Session;
use crate::config::{Config, Role};
use crate::event::Event;
use crate::frame::{Cmd, Frame, FrameHeader};
use crate::stream::{ReadOutcome, StreamId};

/// A session without keepalive, created at `now`.
fn session(role: Role, config: Config) -> Session {
    Session::new(
        role,
        Config {
            keep_alive: None,
            ..config
        },
        Instant::now(),
    )
    .unwrap()
}

fn client() -> Session {
    session(Role::Client, Config::default())
}

fn server() -> Session {
    session(Role::Server, Config::default())
}

/// Encodes one version-1 frame; `length` is the payload length.
fn frame(cmd: Cmd, sid: u32, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len()).unwrap();
    let mut out = Vec::new();
    FrameHeader::new(cmd, StreamId(sid), length).encode(&mut out);
    out.put_slice(payload);
    out
}

/// Every byte `poll_transmit` has queued, concatenated.
fn transmit_all(session: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(frame) = session.poll_transmit() {
        out.extend_from_slice(&frame);
    }
    out
}

/// `(cmd, sid, payload length)` of every frame in `wire`.
fn parse_frames(mut wire: &[u8]) -> Vec<(Cmd, u32, usize)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (frame, used) = Frame::decode(wire).unwrap();
        frames.push((frame.header.cmd, frame.header.sid.0, frame.payload.len()));
        wire = &wire[used..];
    }
    frames
}

fn drain_events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

/// Feeds `bytes`, asserting all of it was consumed.
fn feed(session: &mut Session, bytes: &[u8]) {
    assert_eq!(session.handle_input(bytes), Ok(bytes.len()));
}

/// Reads until the stream would block or ends; returns data and last outcome.
fn read_available(session: &mut Session, sid: StreamId) -> (Vec<u8>, ReadOutcome) {
    let mut data = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match session.read(sid, &mut buf).unwrap() {
            ReadOutcome::Data(n) => data.extend_from_slice(&buf[..n]),
            other => return (data, other),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
