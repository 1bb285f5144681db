//! The connection rules in virtual time: no clock, no sleeping.

use std::time::{Duration, Instant};

use super::{Action, Connection, LinkState, Timer};
use crate::config::ClientConfig;

const SEC: Duration = Duration::from_secs(1);

fn config() -> ClientConfig {
    ClientConfig {
        ping_interval: 20 * SEC,
        dead_after: 60 * SEC,
        answer_timeout: 10 * SEC,
        reconnect_initial: Duration::from_millis(100),
        reconnect_max: 5 * SEC,
        max_resume_failures: 3,
        terminate_grace: SEC,
        ..ClientConfig::default()
    }
}

fn actions(connection: &mut Connection) -> Vec<Action> {
    std::iter::from_fn(|| connection.poll_action()).collect()
}

/// Jumps to the next timer and runs it; returns the new time.
fn fire_next(connection: &mut Connection) -> Instant {
    let at = connection.poll_timeout().expect("a timer is set");
    connection.handle_timeout(at);
    at
}

#[test]
fn pings_on_schedule_while_traffic_flows() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 1);
    assert_eq!(connection.poll_timeout(), Some(start + 20 * SEC));
    for round in 1..=5u32 {
        // Traffic keeps the socket alive; pings go every 20 s regardless.
        connection.handle_received(start + 20 * SEC * round - SEC);
        let at = fire_next(&mut connection);
        assert_eq!(at, start + 20 * SEC * round);
        assert_eq!(actions(&mut connection), [Action::Ping]);
    }
    assert_eq!(connection.state(), LinkState::Connected);
    // Nothing early: a timeout before the ping does nothing.
    connection.handle_timeout(start + 119 * SEC);
    assert!(actions(&mut connection).is_empty());
}

/// After a long sleep the socket may be dead without a word: data sent on
/// it and not answered within `answer_timeout` gives it up, long before
/// `dead_after`; anything received puts the long deadline back.
#[test]
fn unanswered_data_gives_up_the_socket_after_the_answer_timeout() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 4);
    connection.handle_awaiting_answer(start + SEC);
    assert_eq!(connection.timer(Timer::Dead), Some(start + 11 * SEC));
    // An ack arrives: back to the long deadline.
    connection.handle_received(start + 2 * SEC);
    assert_eq!(connection.timer(Timer::Dead), Some(start + 62 * SEC));
    // More data; calls on later pumps keep the earlier deadline.
    connection.handle_awaiting_answer(start + 3 * SEC);
    connection.handle_awaiting_answer(start + 8 * SEC);
    assert_eq!(connection.timer(Timer::Dead), Some(start + 13 * SEC));
    connection.handle_timeout(start + 13 * SEC);
    assert_eq!(actions(&mut connection), [Action::DropSocket]);
    assert_eq!(connection.last_loss(), "nothing received for 11s");
    // Without a socket there is nothing to wait for.
    connection.handle_awaiting_answer(start + 14 * SEC);
    assert_eq!(connection.timer(Timer::Dead), None);
}

#[test]
fn silent_socket_is_dropped_and_resumed() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 2);
    connection.handle_received(start + 5 * SEC);
    // Pings at 20 s and 40 s; then, 60 s after the last traffic, dead.
    assert_eq!(fire_next(&mut connection), start + 20 * SEC);
    assert_eq!(fire_next(&mut connection), start + 40 * SEC);
    assert_eq!(actions(&mut connection), [Action::Ping, Action::Ping]);
    assert_eq!(connection.timer(Timer::Dead), Some(start + 65 * SEC));
    assert_eq!(fire_next(&mut connection), start + 60 * SEC);
    assert_eq!(actions(&mut connection), [Action::Ping]);
    let dead = fire_next(&mut connection);
    assert_eq!(dead, start + 65 * SEC);
    assert_eq!(actions(&mut connection), [Action::DropSocket]);
    assert!(!connection.has_socket());
    assert!(connection.take_status_change());
    assert_eq!(connection.last_loss(), "nothing received for 60s");
    assert_eq!(connection.timer(Timer::Ping), None);
    // The socket had lived a minute: the first attempt follows at once.
    let resume_at = fire_next(&mut connection);
    assert_eq!(resume_at, dead);
    assert_eq!(actions(&mut connection), [Action::Resume]);
    assert!(matches!(
        connection.state(),
        LinkState::Resuming {
            in_flight: true,
            ..
        }
    ));
    assert_eq!(connection.poll_timeout(), None, "waits for the attempt");
}

#[test]
fn held_input_does_not_count_as_silence() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 3);
    connection.handle_reading(start + SEC, false);
    assert_eq!(connection.timer(Timer::Dead), None);
    // Readers catch up two minutes later: the dead timer restarts then.
    connection.handle_reading(start + 120 * SEC, true);
    assert_eq!(connection.timer(Timer::Dead), Some(start + 180 * SEC));
}

#[test]
fn a_socket_that_dies_young_is_resumed_after_the_backoff() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 5);
    let lost = start + Duration::from_millis(999);
    connection.handle_socket_lost(lost, String::new());
    let delay = connection.poll_timeout().unwrap() - lost;
    let ratio = delay.as_secs_f64() / 0.1;
    assert!((0.749..=1.251).contains(&ratio), "{delay:?}");
}

#[test]
fn resume_backoff_doubles_up_to_the_cap() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 4);
    connection.handle_socket_lost(start, "the socket closed".to_owned());
    assert_eq!(actions(&mut connection), [Action::DropSocket]);
    let mut now = start;
    let mut delays = Vec::new();
    for _ in 0..9 {
        let due = fire_next(&mut connection);
        delays.push(due - now);
        assert_eq!(actions(&mut connection), [Action::Resume]);
        now = due + SEC; // the attempt takes a second and fails
        assert!(!connection.handle_resume_failed(now, true));
    }
    // 0.1, 0.2, 0.4, ... 5 s (capped), each ±25 %.
    let bases = [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000];
    for (delay, base) in delays.iter().zip(bases) {
        let ratio = delay.as_secs_f64() * 1000.0 / f64::from(base);
        assert!((0.749..=1.251).contains(&ratio), "{delay:?} vs {base} ms");
    }
    assert!(matches!(
        connection.state(),
        LinkState::Resuming { attempt: 9, .. }
    ));
}

#[test]
fn backoff_jitter_follows_the_seed() {
    let run = |seed| {
        let start = Instant::now();
        let mut connection = Connection::new(&config(), start, seed);
        connection.handle_socket_lost(start, String::new());
        connection.poll_timeout().map(|at| at - start)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn refusals_end_the_session_after_the_limit() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 5);
    connection.handle_socket_lost(start, String::new());
    let now = fire_next(&mut connection);
    assert!(!connection.handle_resume_failed(now, false));
    let now = fire_next(&mut connection);
    // Network trouble in between does not count.
    assert!(!connection.handle_resume_failed(now, true));
    let now = fire_next(&mut connection);
    assert!(!connection.handle_resume_failed(now, false));
    let now = fire_next(&mut connection);
    assert!(connection.handle_resume_failed(now, false), "third refusal");
}

#[test]
fn a_new_socket_clears_the_resume() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 6);
    connection.handle_socket_lost(start, "socket error: reset".to_owned());
    let attempt = fire_next(&mut connection);
    connection.handle_resume_failed(attempt, true);
    assert!(connection.timer(Timer::Backoff).is_some());
    let attempt = fire_next(&mut connection);
    let opened = attempt + SEC;
    connection.handle_resumed(opened);
    assert_eq!(connection.state(), LinkState::Connected);
    assert!(connection.has_socket());
    assert_eq!(connection.reconnects(), 1);
    assert_eq!(connection.timer(Timer::Backoff), None);
    assert_eq!(connection.timer(Timer::Ping), Some(opened + 20 * SEC));
    assert_eq!(connection.timer(Timer::Dead), Some(opened + 60 * SEC));
    assert_eq!(connection.last_loss(), "socket error: reset");
    // A later loss starts over from the initial backoff.
    connection.handle_socket_lost(opened + SEC, String::new());
    let delay = connection.poll_timeout().unwrap() - (opened + SEC);
    assert!(delay <= Duration::from_millis(125), "{delay:?}");
    assert!(matches!(
        connection.state(),
        LinkState::Resuming {
            attempt: 0,
            refusals: 0,
            in_flight: false
        }
    ));
}

#[test]
fn terminate_waits_the_grace_then_calls() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 7);
    connection.handle_terminate(start + SEC, true);
    assert!(actions(&mut connection).is_empty());
    assert_eq!(connection.poll_timeout(), Some(start + 2 * SEC));
    // A second request changes nothing.
    connection.handle_terminate(start + SEC + SEC / 2, true);
    assert_eq!(fire_next(&mut connection), start + 2 * SEC);
    assert_eq!(actions(&mut connection), [Action::CallTerminate]);
    assert_eq!(connection.poll_timeout(), None);
    connection.handle_all_acked();
    assert!(actions(&mut connection).is_empty(), "called once");
}

#[test]
fn terminate_calls_early_once_the_flag_is_acked() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 8);
    connection.handle_terminate(start, true);
    connection.handle_all_acked();
    assert_eq!(actions(&mut connection), [Action::CallTerminate]);
}

#[test]
fn terminate_without_flag_or_socket_calls_at_once() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 9);
    connection.handle_terminate(start, false);
    assert_eq!(actions(&mut connection), [Action::CallTerminate]);

    let mut resuming = Connection::new(&config(), start, 10);
    resuming.handle_socket_lost(start, String::new());
    fire_next(&mut resuming);
    assert_eq!(actions(&mut resuming), [Action::DropSocket, Action::Resume]);
    resuming.handle_terminate(start + SEC, true);
    assert_eq!(actions(&mut resuming), [Action::CallTerminate]);
    // The attempt that was under way no longer matters.
    resuming.handle_resumed(start + 2 * SEC);
    assert!(matches!(resuming.state(), LinkState::Terminating { .. }));
}

#[test]
fn losing_the_socket_during_the_grace_calls_at_once() {
    let start = Instant::now();
    let mut connection = Connection::new(&config(), start, 11);
    connection.handle_terminate(start, true);
    connection.handle_socket_lost(start + SEC / 2, "the socket closed".to_owned());
    assert_eq!(
        actions(&mut connection),
        [Action::DropSocket, Action::CallTerminate]
    );
    assert!(!connection.has_socket());
}

/// Loses the socket at `at`, runs the resume backoff and reports the
/// resume a success; returns when the new socket opened.
fn lose_and_resume(connection: &mut Connection, at: Instant) -> Instant {
    connection.handle_socket_lost(at, "closed by the gateway".into());
    assert_eq!(actions(connection), [Action::DropSocket]);
    let resume_at = fire_next(connection);
    assert_eq!(actions(connection), [Action::Resume]);
    connection.handle_resumed(resume_at);
    resume_at
}

#[test]
fn short_lived_sockets_in_a_row_give_the_session_up() {
    let config = ClientConfig {
        short_lived_socket: 10 * SEC,
        max_short_lived_sockets: 3,
        ..config()
    };
    let start = Instant::now();
    let mut connection = Connection::new(&config, start, 7);
    // The first socket counts too; each one dies 2 s after opening.
    let opened = lose_and_resume(&mut connection, start + 2 * SEC);
    let opened = lose_and_resume(&mut connection, opened + 2 * SEC);
    connection.handle_socket_lost(opened + 2 * SEC, "oversize message".into());
    assert_eq!(
        actions(&mut connection),
        [Action::DropSocket, Action::GiveUp { sockets: 3 }]
    );
    assert_eq!(connection.last_loss(), "oversize message");
    // Nothing is left to do: no resume, no timer.
    assert_eq!(connection.poll_timeout(), None);
    connection.handle_timeout(opened + 60 * SEC);
    assert!(actions(&mut connection).is_empty());
}

#[test]
fn a_socket_that_lived_resets_the_short_lived_count() {
    let config = ClientConfig {
        short_lived_socket: 10 * SEC,
        max_short_lived_sockets: 2,
        ..config()
    };
    let start = Instant::now();
    let mut connection = Connection::new(&config, start, 8);
    let mut opened = start;
    for _ in 0..5 {
        // Short-lived, then one that lived 10 s: never two short in a row.
        opened = lose_and_resume(&mut connection, opened + SEC);
        opened = lose_and_resume(&mut connection, opened + 10 * SEC);
    }
    assert_eq!(connection.state(), LinkState::Connected);
    assert_eq!(connection.reconnects(), 10);
}

#[test]
fn one_short_lived_socket_allowed_means_the_first_loss_gives_up() {
    let config = ClientConfig {
        max_short_lived_sockets: 0,
        ..config()
    };
    let start = Instant::now();
    let mut connection = Connection::new(&config, start, 9);
    connection.handle_socket_lost(start + Duration::from_millis(100), "reset".into());
    assert_eq!(
        actions(&mut connection),
        [Action::DropSocket, Action::GiveUp { sockets: 1 }]
    );
}
