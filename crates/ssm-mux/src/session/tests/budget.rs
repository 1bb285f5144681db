//! Session-wide receive budget (smux v1 `MaxReceiveBuffer` token bucket).

use super::*;

const FRAME_PAYLOAD: usize = 32_768;
const FRAME_WIRE: usize = 8 + FRAME_PAYLOAD;

/// `SYN 3` followed by `frames` full `PSH` frames on stream 3.
fn syn_and_data(frames: usize) -> Vec<u8> {
    let mut input = frame(Cmd::Syn, 3, b"");
    for i in 0..frames {
        let fill = u8::try_from(i % 251).unwrap();
        input.extend(frame(Cmd::Psh, 3, &[fill; FRAME_PAYLOAD]));
    }
    input
}

#[test]
fn input_stops_at_four_mib_unread_and_resumes_after_reads() {
    let config = Config {
        max_stream_receive_buffer: 8 * 1024 * 1024,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let input = syn_and_data(160); // 5 MiB of payload
    let consumed = server.handle_input(&input).unwrap();
    assert_eq!(
        consumed,
        8 + 128 * FRAME_WIRE,
        "stops at exactly 4 MiB unread"
    );
    assert_eq!(server.stats().unread_bytes, 4 * 1024 * 1024);
    assert_eq!(server.handle_input(&input[consumed..]), Ok(0));
    let sid = server.accept().unwrap();
    drain_events(&mut server);

    let mut one = [0; 1];
    assert_eq!(server.read(sid, &mut one), Ok(ReadOutcome::Data(1)));
    assert_eq!(drain_events(&mut server), [Event::InputUnblocked]);
    let more = server.handle_input(&input[consumed..]).unwrap();
    assert_eq!(more, FRAME_WIRE, "one whole frame fits, then paused again");

    let mut rest = consumed + more;
    let mut received = 1;
    while rest < input.len() {
        received += read_available(&mut server, sid).0.len();
        rest += server.handle_input(&input[rest..]).unwrap();
    }
    received += read_available(&mut server, sid).0.len();
    assert_eq!(received, 160 * FRAME_PAYLOAD);
}

#[test]
fn a_started_frame_is_consumed_whole_even_past_the_budget() {
    let config = Config {
        max_receive_buffer: 10,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Psh, 3, &[1; 9]),
        frame(Cmd::Psh, 3, &[2; 500]),
        frame(Cmd::Nop, 0, b""),
    ]
    .concat();
    let consumed = server.handle_input(&input).unwrap();
    assert_eq!(consumed, input.len() - 8, "the NOP waits for budget");
    assert_eq!(server.stats().unread_bytes, 509);
}

#[test]
fn closing_a_stream_returns_its_budget() {
    let config = Config {
        max_receive_buffer: 4,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Psh, 3, b"full"),
        frame(Cmd::Syn, 5, b""),
    ]
    .concat();
    assert_eq!(server.handle_input(&input), Ok(input.len() - 8));
    let sid = server.accept().unwrap();
    drain_events(&mut server);
    server.close(sid).unwrap();
    assert_eq!(drain_events(&mut server), [Event::InputUnblocked]);
    feed(&mut server, &input[input.len() - 8..]);
    assert_eq!(server.accept(), Some(StreamId(5)));
}

#[test]
fn data_for_unknown_streams_costs_no_budget() {
    let config = Config {
        max_receive_buffer: 4,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let input = [frame(Cmd::Psh, 3, &[0; 100]), frame(Cmd::Psh, 5, &[0; 100])].concat();
    feed(&mut server, &input);
    assert_eq!(server.stats().unread_bytes, 0);
}

#[test]
fn a_full_stream_holds_input_until_it_is_read() {
    let config = Config {
        max_stream_receive_buffer: 10,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Syn, 5, b""),
        frame(Cmd::Psh, 3, &[1; 10]),
        frame(Cmd::Psh, 3, &[2; 4]),
        frame(Cmd::Psh, 5, &[3; 4]),
    ]
    .concat();
    let held_at = 3 * 8 + 10;
    let consumed = server.handle_input(&input).unwrap();
    assert_eq!(
        consumed,
        held_at + 8,
        "the second PSH header is held inside"
    );
    assert_eq!(server.handle_input(&input[consumed..]), Ok(0));
    assert_eq!(server.stats().unread_bytes, 10);
    let first = server.accept().unwrap();
    let second = server.accept().unwrap();
    drain_events(&mut server);

    let mut some = [0; 3];
    assert_eq!(server.read(first, &mut some), Ok(ReadOutcome::Data(3)));
    assert_eq!(drain_events(&mut server), [Event::InputUnblocked]);
    feed(&mut server, &input[consumed..]);
    assert_eq!(
        read_available(&mut server, first).0,
        [[1; 7].as_slice(), &[2; 4]].concat()
    );
    assert_eq!(read_available(&mut server, second).0, [3; 4]);
}

#[test]
fn reading_another_stream_does_not_unblock_a_held_one() {
    let config = Config {
        max_stream_receive_buffer: 4,
        ..Config::default()
    };
    let mut server = session(Role::Server, config);
    let input = [
        frame(Cmd::Syn, 3, b""),
        frame(Cmd::Syn, 5, b""),
        frame(Cmd::Psh, 5, b"five"),
        frame(Cmd::Psh, 3, b"full"),
        frame(Cmd::Psh, 3, b"more"),
    ]
    .concat();
    let consumed = server.handle_input(&input).unwrap();
    assert_eq!(consumed, input.len() - 4);
    let first = server.accept().unwrap();
    let second = server.accept().unwrap();
    drain_events(&mut server);
    assert_eq!(read_available(&mut server, second).0, b"five");
    assert!(!drain_events(&mut server).contains(&Event::InputUnblocked));
    server.close(first).unwrap();
    assert!(drain_events(&mut server).contains(&Event::InputUnblocked));
    assert_eq!(
        server.handle_input(&input[consumed..]),
        Ok(4),
        "data of a closed stream is dropped"
    );
}
