//! Stream ids, sending, backpressure, close semantics and the accept backlog.

use super::*;
use crate::error::{SessionError, StreamError};

#[test]
fn client_ids_are_odd_from_three_and_server_ids_even_from_two() {
    let mut client = client();
    let mut server = server();
    let client_ids: Vec<u32> = (0..4).map(|_| client.open().unwrap().0).collect();
    let server_ids: Vec<u32> = (0..4).map(|_| server.open().unwrap().0).collect();
    assert_eq!(client_ids, [3, 5, 7, 9]);
    assert_eq!(server_ids, [2, 4, 6, 8]);
}

#[test]
fn id_exhaustion_is_a_sticky_error() {
    let mut client = client();
    client.last_local_id = u32::MAX - 2;
    assert_eq!(client.open(), Ok(StreamId(u32::MAX)));
    assert_eq!(client.open(), Err(StreamError::StreamIdsExhausted));
    assert_eq!(client.open(), Err(StreamError::StreamIdsExhausted));
    let mut server = server();
    server.last_local_id = u32::MAX - 3;
    assert_eq!(server.open(), Ok(StreamId(u32::MAX - 1)));
    assert_eq!(server.open(), Err(StreamError::StreamIdsExhausted));
}

#[test]
fn open_skips_an_id_the_peer_already_uses() {
    let mut client = client();
    feed(&mut client, &frame(Cmd::Syn, 3, b""));
    assert_eq!(client.open(), Ok(StreamId(5)));
    assert_eq!(client.accept(), Some(StreamId(3)));
}

#[test]
fn psh_frames_are_at_most_max_frame_size() {
    let config = Config {
        max_stream_write_buffer: 100_000,
        ..Config::default()
    };
    let mut client = session(Role::Client, config);
    let sid = client.open().unwrap();
    assert_eq!(client.write(sid, &[7; 70_000]), Ok(70_000));
    let frames = parse_frames(&transmit_all(&mut client));
    assert_eq!(
        frames,
        [
            (Cmd::Syn, 3, 0),
            (Cmd::Psh, 3, 32_768),
            (Cmd::Psh, 3, 32_768),
            (Cmd::Psh, 3, 4_464),
        ]
    );
}

#[test]
fn streams_are_interleaved_round_robin() {
    let config = Config {
        max_frame_size: 10,
        ..Config::default()
    };
    let mut client = session(Role::Client, config);
    let (a, b) = (client.open().unwrap(), client.open().unwrap());
    client.write(a, &[1; 30]).unwrap();
    client.write(b, &[2; 15]).unwrap();
    let order: Vec<(Cmd, u32)> = parse_frames(&transmit_all(&mut client))
        .into_iter()
        .map(|(cmd, sid, _)| (cmd, sid))
        .collect();
    assert_eq!(
        order,
        [
            (Cmd::Syn, 3),
            (Cmd::Syn, 5),
            (Cmd::Psh, 3),
            (Cmd::Psh, 5),
            (Cmd::Psh, 3),
            (Cmd::Psh, 5),
            (Cmd::Psh, 3),
        ]
    );
}

#[test]
fn full_write_buffer_applies_backpressure_until_writable() {
    let config = Config {
        max_stream_write_buffer: 100,
        max_frame_size: 60,
        ..Config::default()
    };
    let mut client = session(Role::Client, config);
    let sid = client.open().unwrap();
    assert_eq!(client.write(sid, &[1; 150]), Ok(100));
    assert_eq!(client.write(sid, &[1; 10]), Ok(0));
    assert_eq!(drain_events(&mut client), []);
    let _syn = client.poll_transmit().unwrap();
    let psh = client.poll_transmit().unwrap();
    assert_eq!(psh.len(), 8 + 60);
    assert_eq!(drain_events(&mut client), [Event::StreamWritable(sid)]);
    assert_eq!(client.write(sid, &[1; 100]), Ok(60));
}

#[test]
fn close_flushes_buffered_data_then_sends_fin_and_forgets_the_stream() {
    let mut client = client();
    let sid = client.open().unwrap();
    client.write(sid, b"bye").unwrap();
    client.close(sid).unwrap();
    assert_eq!(client.stats().open_streams, 0);
    assert_eq!(
        client.write(sid, b"x"),
        Err(StreamError::UnknownStream(sid))
    );
    assert_eq!(
        client.read(sid, &mut [0; 1]),
        Err(StreamError::UnknownStream(sid))
    );
    assert_eq!(client.close(sid), Err(StreamError::UnknownStream(sid)));
    let frames = parse_frames(&transmit_all(&mut client));
    assert_eq!(
        frames,
        [(Cmd::Syn, 3, 0), (Cmd::Psh, 3, 3), (Cmd::Fin, 3, 0)]
    );
    assert!(client.streams.is_empty());
}

#[test]
fn writes_after_the_peer_fin_are_still_sent() {
    let mut server = server();
    feed(
        &mut server,
        &[frame(Cmd::Syn, 3, b""), frame(Cmd::Fin, 3, b"")].concat(),
    );
    let sid = server.accept().unwrap();
    assert_eq!(server.read(sid, &mut [0; 4]), Ok(ReadOutcome::Eof));
    assert_eq!(server.write(sid, b"late"), Ok(4));
    assert_eq!(parse_frames(&transmit_all(&mut server)), [(Cmd::Psh, 3, 4)]);
}

#[test]
fn full_accept_backlog_refuses_streams_with_fin() {
    let config = Config {
        max_accept_backlog: 2,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let syns: Vec<u8> = [3, 5, 7]
        .iter()
        .flat_map(|&sid| frame(Cmd::Syn, sid, b""))
        .collect();
    feed(&mut server, &syns);
    feed(&mut server, &frame(Cmd::Psh, 7, b"refused data"));
    assert_eq!(parse_frames(&transmit_all(&mut server)), [(Cmd::Fin, 7, 0)]);
    assert_eq!(server.stats().unread_bytes, 0);
    assert_eq!(server.accept(), Some(StreamId(3)));
    feed(&mut server, &frame(Cmd::Syn, 9, b""));
    assert_eq!(server.accept(), Some(StreamId(5)));
    assert_eq!(server.accept(), Some(StreamId(9)));
}

#[test]
fn queued_refusals_are_capped() {
    let config = Config {
        max_accept_backlog: 0,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let syns: Vec<u8> = (0..3000)
        .flat_map(|i| frame(Cmd::Syn, 2 * i + 3, b""))
        .collect();
    feed(&mut server, &syns);
    assert_eq!(parse_frames(&transmit_all(&mut server)).len(), 1024);
    assert!(server.streams.is_empty());
}

#[test]
fn closing_an_unaccepted_stream_removes_it_from_the_backlog() {
    let mut server = server();
    feed(
        &mut server,
        &[frame(Cmd::Syn, 3, b""), frame(Cmd::Syn, 5, b"")].concat(),
    );
    server.close(StreamId(3)).unwrap();
    assert_eq!(server.accept(), Some(StreamId(5)));
    assert_eq!(server.accept(), None);
}

#[test]
fn dead_session_fails_stream_operations_but_keeps_buffered_data() {
    let mut client = client();
    let sid = client.open().unwrap();
    let _ = transmit_all(&mut client);
    feed(&mut client, &frame(Cmd::Psh, 3, b"tail"));
    client.write(sid, b"never sent").unwrap();
    client.handle_transport_closed();
    let dead = SessionError::TransportClosed;
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(
        read_available_or_err(&mut client, sid),
        (b"tail".to_vec(), Err(dead.into()))
    );
    assert_eq!(client.open(), Err(dead.into()));
    assert_eq!(client.write(sid, b"x"), Err(dead.into()));
    assert_eq!(client.handle_input(b"x"), Err(dead));
    client.close_session();
    assert_eq!(client.dead_reason(), Some(dead), "first reason wins");
    let events = drain_events(&mut client);
    assert_eq!(events.last(), Some(&Event::SessionDead(dead)));
    assert_eq!(client.close(sid), Ok(()));
    assert_eq!(client.stats().open_streams, 0);
}

#[test]
fn close_session_reports_closed() {
    let mut server = server();
    server.close_session();
    assert_eq!(
        drain_events(&mut server),
        [Event::SessionDead(SessionError::Closed)]
    );
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn stats_count_bytes_frames_and_streams() {
    let mut client = client();
    let sid = client.open().unwrap();
    client.write(sid, b"hello").unwrap();
    let sent = transmit_all(&mut client);
    feed(&mut client, &frame(Cmd::Psh, 3, b"abc"));
    let stats = client.stats();
    assert_eq!((stats.bytes_out, stats.frames_out), (sent.len() as u64, 2));
    assert_eq!((stats.bytes_in, stats.frames_in), (11, 1));
    assert_eq!((stats.open_streams, stats.unread_bytes), (1, 3));
}

/// Like `read_available`, but ends with the error instead of panicking.
fn read_available_or_err(
    session: &mut Session,
    sid: StreamId,
) -> (Vec<u8>, Result<ReadOutcome, StreamError>) {
    let mut data = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match session.read(sid, &mut buf) {
            Ok(ReadOutcome::Data(n)) => data.extend_from_slice(&buf[..n]),
            other => return (data, other),
        }
    }
}
