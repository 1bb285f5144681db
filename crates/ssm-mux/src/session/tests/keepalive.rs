//! Keepalive in virtual time.

use std::time::{Duration, Instant};

use super::*;
use crate::config::KeepAlive;
use crate::error::SessionError;

const SECOND: Duration = Duration::from_secs(1);

fn with_keepalive(role: Role, start: Instant) -> Session {
    Session::new(role, Config::default(), start).unwrap()
}

#[test]
fn disabled_keepalive_sends_nothing_and_never_times_out() {
    let start = Instant::now();
    let mut server = session(Role::Server, Config::default());
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(start + 3600 * SECOND);
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.dead_reason(), None);
}

#[test]
fn a_nop_goes_out_every_interval() {
    let start = Instant::now();
    let mut client = with_keepalive(Role::Client, start);
    assert_eq!(client.poll_timeout(), Some(start + 10 * SECOND));
    client.handle_timeout(start + 9 * SECOND);
    assert_eq!(client.poll_transmit(), None);
    client.handle_timeout(start + 10 * SECOND);
    assert_eq!(hex(&transmit_all(&mut client)), "01 03 00 00 00 00 00 00");
    assert_eq!(client.poll_timeout(), Some(start + 20 * SECOND));
    client.handle_timeout(start + 10 * SECOND);
    assert_eq!(client.poll_transmit(), None, "calling twice is harmless");
}

#[test]
fn silence_for_a_whole_timeout_period_kills_the_session() {
    let start = Instant::now();
    let mut client = with_keepalive(Role::Client, start);
    client.handle_timeout(start + 10 * SECOND);
    client.handle_timeout(start + 20 * SECOND);
    assert_eq!(client.dead_reason(), None);
    client.handle_timeout(start + 30 * SECOND);
    assert_eq!(client.dead_reason(), Some(SessionError::KeepAliveTimeout));
    let events = drain_events(&mut client);
    assert_eq!(events, [Event::SessionDead(SessionError::KeepAliveTimeout)]);
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn any_frame_per_period_keeps_the_session_alive() {
    let start = Instant::now();
    let mut client = with_keepalive(Role::Client, start);
    for period in 1..=5 {
        feed(&mut client, &frame(Cmd::Nop, 0, b""));
        client.handle_timeout(start + 30 * period * SECOND);
        assert_eq!(client.dead_reason(), None);
    }
    client.handle_timeout(start + 180 * SECOND);
    assert_eq!(client.dead_reason(), Some(SessionError::KeepAliveTimeout));
}

#[test]
fn paused_input_does_not_count_as_silence() {
    let start = Instant::now();
    let config = Config {
        max_receive_buffer: 4,
        ..Config::default()
    };
    let mut server = Session::new(Role::Server, config, start).unwrap();
    feed(
        &mut server,
        &[frame(Cmd::Syn, 3, b""), frame(Cmd::Psh, 3, b"full")].concat(),
    );
    for period in 1..=3 {
        server.handle_timeout(start + 30 * period * SECOND);
    }
    assert_eq!(server.dead_reason(), None);
}

#[test]
fn missed_ticks_are_dropped_not_replayed() {
    let start = Instant::now();
    let config = Config {
        keep_alive: Some(KeepAlive {
            interval: 10 * SECOND,
            timeout: 3600 * SECOND,
        }),
        ..Config::default()
    };
    let mut client = Session::new(Role::Client, config, start).unwrap();
    client.handle_timeout(start + 95 * SECOND);
    assert_eq!(parse_frames(&transmit_all(&mut client)), [(Cmd::Nop, 0, 0)]);
    assert_eq!(client.poll_timeout(), Some(start + 100 * SECOND));
}
