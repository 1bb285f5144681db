//! Receiver rules of smux v1.5.15/16 `recvLoop` and the example frames.

use super::*;
use crate::error::SessionError;

#[test]
fn open_write_close_emit_the_example_frames() {
    let mut client = client();
    let sid = client.open().unwrap();
    assert_eq!(hex(&transmit_all(&mut client)), "01 00 00 00 03 00 00 00");
    assert_eq!(client.write(sid, b"hello"), Ok(5));
    assert_eq!(
        hex(&transmit_all(&mut client)),
        "01 02 05 00 03 00 00 00 68 65 6c 6c 6f"
    );
    client.close(sid).unwrap();
    assert_eq!(hex(&transmit_all(&mut client)), "01 01 00 00 03 00 00 00");
}

#[test]
fn wrong_version_kills_the_session() {
    let mut server = server();
    let mut bad = frame(Cmd::Syn, 3, b"");
    bad[0] = 2;
    let dead = SessionError::InvalidVersion { version: 2 };
    assert_eq!(server.handle_input(&bad), Err(dead));
    assert_eq!(server.dead_reason(), Some(dead));
    assert_eq!(drain_events(&mut server), [Event::SessionDead(dead)]);
    assert_eq!(server.handle_input(&frame(Cmd::Nop, 0, b"")), Err(dead));
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.accept(), None);
}

#[test]
fn unknown_command_kills_the_session() {
    let mut server = server();
    let mut bad = frame(Cmd::Syn, 3, b"");
    bad[1] = 5;
    let dead = SessionError::UnknownCommand { cmd: 5 };
    assert_eq!(server.handle_input(&bad), Err(dead));
    assert_eq!(server.open(), Err(dead.into()));
}

#[test]
fn data_before_a_bad_header_stays_readable() {
    let mut server = server();
    feed(&mut server, &frame(Cmd::Syn, 3, b""));
    let sid = server.accept().unwrap();
    let mut input = frame(Cmd::Psh, 3, b"kept");
    input.extend([9; 8]);
    let dead = SessionError::InvalidVersion { version: 9 };
    assert_eq!(server.handle_input(&input), Err(dead));
    let mut buf = [0; 8];
    assert_eq!(server.read(sid, &mut buf), Ok(ReadOutcome::Data(4)));
    assert_eq!(&buf[..4], b"kept");
    assert_eq!(server.read(sid, &mut buf), Err(dead.into()));
    assert_eq!(server.write(sid, b"x"), Err(dead.into()));
    assert_eq!(server.close(sid), Ok(()));
    assert_eq!(server.stats().open_streams, 0);
}

#[test]
fn syn_fin_and_nop_ignore_the_length_field() {
    let mut server = server();
    let mut input = Vec::new();
    for (cmd, sid) in [(Cmd::Syn, 3), (Cmd::Nop, 0), (Cmd::Fin, 99)] {
        let mut header = frame(cmd, sid, b"");
        header[2..4].copy_from_slice(&0xffff_u16.to_le_bytes());
        input.extend(header);
    }
    input.extend(frame(Cmd::Psh, 3, b"hi"));
    feed(&mut server, &input);
    let sid = server.accept().unwrap();
    assert_eq!(
        read_available(&mut server, sid),
        (b"hi".to_vec(), ReadOutcome::WouldBlock)
    );
    assert_eq!(server.stats().frames_in, 4);
}

#[test]
fn syn_for_a_known_stream_is_ignored() {
    let mut server = server();
    feed(
        &mut server,
        &[frame(Cmd::Syn, 3, b""), frame(Cmd::Syn, 3, b"")].concat(),
    );
    assert_eq!(server.accept(), Some(StreamId(3)));
    assert_eq!(server.accept(), None);
    assert_eq!(drain_events(&mut server), [Event::IncomingStream]);
}

#[test]
fn fin_for_an_unknown_stream_is_ignored() {
    let mut server = server();
    feed(&mut server, &frame(Cmd::Fin, 7, b""));
    assert_eq!(drain_events(&mut server), []);
    assert_eq!(server.dead_reason(), None);
    assert!(transmit_all(&mut server).is_empty());
}

#[test]
fn psh_for_an_unknown_stream_is_read_and_discarded() {
    let mut server = server();
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Psh, 9, b"lost"),
        frame(Cmd::Psh, 3, b"kept"),
    ]
    .concat();
    feed(&mut server, &input);
    let sid = server.accept().unwrap();
    assert_eq!(read_available(&mut server, sid).0, b"kept");
    assert_eq!(server.stats().unread_bytes, 0);
}

#[test]
fn psh_for_a_locally_closed_stream_is_discarded() {
    let mut client = client();
    let sid = client.open().unwrap();
    client.close(sid).unwrap();
    feed(&mut client, &frame(Cmd::Psh, 3, b"late"));
    assert_eq!(client.stats().unread_bytes, 0);
    assert_eq!(
        client.read(sid, &mut [0; 4]),
        Err(crate::StreamError::UnknownStream(sid))
    );
}

#[test]
fn zero_length_psh_is_a_no_op() {
    let mut server = server();
    feed(
        &mut server,
        &[frame(Cmd::Syn, 3, b""), frame(Cmd::Psh, 3, b"")].concat(),
    );
    let sid = server.accept().unwrap();
    drain_events(&mut server);
    assert_eq!(server.read(sid, &mut [0; 4]), Ok(ReadOutcome::WouldBlock));
    feed(&mut server, &frame(Cmd::Psh, 3, b"x"));
    assert_eq!(read_available(&mut server, sid).0, b"x");
}

#[test]
fn upd_is_parsed_and_ignored_in_v1() {
    let mut server = server();
    let mut upd = frame(Cmd::Upd, 3, b"");
    upd.extend([0, 0, 0, 0, 0, 0, 4, 0]);
    let input = [frame(Cmd::Syn, 3, b""), upd, frame(Cmd::Psh, 3, b"ok")].concat();
    feed(&mut server, &input);
    let sid = server.accept().unwrap();
    assert_eq!(read_available(&mut server, sid).0, b"ok");
    assert!(transmit_all(&mut server).is_empty());
}

#[test]
fn input_split_into_single_bytes_parses_the_same() {
    let mut server = server();
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Psh, 3, b"hello"),
        frame(Cmd::Fin, 3, b""),
    ]
    .concat();
    for byte in &input {
        feed(&mut server, std::slice::from_ref(byte));
    }
    let sid = server.accept().unwrap();
    assert_eq!(
        read_available(&mut server, sid),
        (b"hello".to_vec(), ReadOutcome::Eof)
    );
    assert_eq!(server.stats().bytes_in, input.len() as u64);
}

#[test]
fn fin_makes_reads_return_buffered_data_then_eof() {
    let mut server = server();
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Psh, 3, b"abc"),
        frame(Cmd::Fin, 3, b""),
    ]
    .concat();
    feed(&mut server, &input);
    let sid = server.accept().unwrap();
    let mut buf = [0; 2];
    assert_eq!(server.read(sid, &mut buf), Ok(ReadOutcome::Data(2)));
    assert_eq!(server.read(sid, &mut buf), Ok(ReadOutcome::Data(1)));
    assert_eq!(server.read(sid, &mut buf), Ok(ReadOutcome::Eof));
    assert_eq!(server.read(sid, &mut buf), Ok(ReadOutcome::Eof));
}

#[test]
fn readable_events_are_coalesced_per_stream() {
    let mut server = server();
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Psh, 3, b"a"),
        frame(Cmd::Psh, 3, b"b"),
        frame(Cmd::Fin, 3, b""),
    ]
    .concat();
    feed(&mut server, &input);
    assert_eq!(
        drain_events(&mut server),
        [Event::IncomingStream, Event::StreamReadable(StreamId(3))]
    );
    feed(&mut server, &frame(Cmd::Psh, 3, b"c"));
    assert_eq!(
        drain_events(&mut server),
        [Event::StreamReadable(StreamId(3))]
    );
}
