//! A client and a server session piped into each other through the public
//! API, with random chunk splitting, small random limits and many streams.
//! Every byte must arrive exactly once, in order, on the right stream, and
//! `FIN` must surface as EOF.

use std::time::Instant;

use proptest::prelude::*;
use ssm_mux::{Config, ReadOutcome, Role, Session, StreamId};

/// A tiny deterministic generator for chunk and buffer sizes.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % max as u64).unwrap() + 1
    }
}

/// One side's view of one stream.
#[derive(Debug, Default)]
struct Endpoint {
    sid: Option<StreamId>,
    outgoing: Vec<u8>,
    written: usize,
    incoming: Vec<u8>,
    /// Closes after writing everything and reading `expect` bytes; the other
    /// side reads until EOF and then closes.
    is_closer: bool,
    expect: usize,
    eof: bool,
    closed: bool,
}

impl Endpoint {
    /// Writes, reads and closes as far as the session allows.
    fn step(&mut self, session: &mut Session, dice: &mut Dice) {
        let Some(sid) = self.sid.filter(|_| !self.closed) else {
            return;
        };
        self.write_some(session, sid, dice);
        self.read_available(session, sid, dice);
        let done_writing = self.written == self.outgoing.len();
        let done_reading = if self.is_closer {
            self.incoming.len() >= self.expect
        } else {
            self.eof
        };
        if done_writing && done_reading {
            session.close(sid).unwrap();
            self.closed = true;
        }
    }

    /// Writes random-sized pieces until the write buffer is full.
    fn write_some(&mut self, session: &mut Session, sid: StreamId, dice: &mut Dice) {
        while self.written < self.outgoing.len() {
            let end = (self.written + dice.roll(5000)).min(self.outgoing.len());
            let accepted = session
                .write(sid, &self.outgoing[self.written..end])
                .unwrap();
            self.written += accepted;
            if accepted == 0 {
                break;
            }
        }
    }

    /// Reads with a random buffer size until blocked or at EOF.
    fn read_available(&mut self, session: &mut Session, sid: StreamId, dice: &mut Dice) {
        let mut buf = vec![0; dice.roll(3000)];
        while !self.eof {
            match session.read(sid, &mut buf).unwrap() {
                ReadOutcome::Data(n) => self.incoming.extend_from_slice(&buf[..n]),
                ReadOutcome::Eof => self.eof = true,
                ReadOutcome::WouldBlock => break,
            }
        }
    }
}

/// Moves every queued frame of `from` into `to` in random chunks; bytes `to`
/// does not consume (receive budget) stay in `wire` for the next round.
fn pump(from: &mut Session, to: &mut Session, wire: &mut Vec<u8>, dice: &mut Dice) {
    while let Some(frame) = from.poll_transmit() {
        wire.extend_from_slice(&frame);
    }
    while !wire.is_empty() {
        let chunk = dice.roll(wire.len().min(3000));
        let used = to.handle_input(&wire[..chunk]).unwrap();
        wire.drain(..used);
        if used < chunk {
            break;
        }
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    streams: Vec<(Vec<u8>, Vec<u8>, bool)>,
    max_frame_size: usize,
    max_receive_buffer: usize,
    max_stream_write_buffer: usize,
    seed: u64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let data = || proptest::collection::vec(any::<u8>(), 0..12_000);
    (
        proptest::collection::vec((data(), data(), any::<bool>()), 1..10),
        1..3000_usize,
        1..40_000_usize,
        1..9000_usize,
        1..u64::MAX,
    )
        .prop_map(|(streams, frame, recv, write, seed)| Scenario {
            streams,
            max_frame_size: frame,
            max_receive_buffer: recv,
            max_stream_write_buffer: write,
            seed,
        })
}

/// Both sessions, both views of every stream, and the bytes in flight.
struct Pair {
    client: Session,
    server: Session,
    client_ends: Vec<Endpoint>,
    server_ends: Vec<Endpoint>,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    dice: Dice,
}

impl Pair {
    /// Sessions with the scenario's limits; the client opens every stream.
    fn new(scenario: &Scenario) -> Self {
        let config = Config {
            keep_alive: None,
            max_frame_size: scenario.max_frame_size,
            max_receive_buffer: scenario.max_receive_buffer,
            max_stream_receive_buffer: (scenario.max_receive_buffer / 3).max(1),
            max_stream_write_buffer: scenario.max_stream_write_buffer,
            ..Config::default()
        };
        let now = Instant::now();
        let mut client = Session::new(Role::Client, config, now).unwrap();
        let (client_ends, server_ends) = open_streams(&mut client, scenario);
        Self {
            client,
            server: Session::new(Role::Server, config, now).unwrap(),
            client_ends,
            server_ends,
            to_server: Vec::new(),
            to_client: Vec::new(),
            dice: Dice(scenario.seed),
        }
    }

    /// One round: accept, let every endpoint act, move bytes both ways.
    fn round(&mut self) {
        while let Some(sid) = self.server.accept() {
            let index = usize::try_from((sid.0 - 3) / 2).unwrap();
            assert_eq!(self.server_ends[index].sid.replace(sid), None);
        }
        for end in &mut self.client_ends {
            end.step(&mut self.client, &mut self.dice);
        }
        for end in &mut self.server_ends {
            end.step(&mut self.server, &mut self.dice);
        }
        pump(
            &mut self.client,
            &mut self.server,
            &mut self.to_server,
            &mut self.dice,
        );
        pump(
            &mut self.server,
            &mut self.client,
            &mut self.to_client,
            &mut self.dice,
        );
        while self.client.poll_event().is_some() || self.server.poll_event().is_some() {}
    }

    fn finished(&self) -> bool {
        let all_closed = self
            .client_ends
            .iter()
            .chain(&self.server_ends)
            .all(|end| end.closed);
        all_closed && self.to_server.is_empty() && self.to_client.is_empty()
    }

    /// Every byte arrived once, in order, on its stream; FIN became EOF.
    fn verify(&self, scenario: &Scenario) -> Result<(), TestCaseError> {
        for (index, (up, down, client_closes)) in scenario.streams.iter().enumerate() {
            let (client_end, server_end) = (&self.client_ends[index], &self.server_ends[index]);
            let expected_sid = StreamId(3 + 2 * u32::try_from(index).unwrap());
            prop_assert_eq!(client_end.sid, Some(expected_sid));
            prop_assert!(
                client_end.closed && server_end.closed,
                "stream {} stuck",
                index
            );
            prop_assert!(
                &server_end.incoming == up,
                "upload of stream {} differs",
                index
            );
            prop_assert!(
                &client_end.incoming == down,
                "download of stream {} differs",
                index
            );
            let non_closer = if *client_closes {
                server_end
            } else {
                client_end
            };
            prop_assert!(non_closer.eof, "FIN of stream {} not seen as EOF", index);
        }
        for session in [&self.client, &self.server] {
            let stats = session.stats();
            prop_assert_eq!((stats.open_streams, stats.unread_bytes), (0, 0));
        }
        Ok(())
    }
}

/// Opens every stream on the client; returns the client's and the server's
/// view of each (the server learns its ids from `accept`).
fn open_streams(client: &mut Session, scenario: &Scenario) -> (Vec<Endpoint>, Vec<Endpoint>) {
    let (mut client_ends, mut server_ends) = (Vec::new(), Vec::new());
    for (up, down, client_closes) in &scenario.streams {
        client_ends.push(Endpoint {
            sid: Some(client.open().unwrap()),
            outgoing: up.clone(),
            is_closer: *client_closes,
            expect: down.len(),
            ..Endpoint::default()
        });
        server_ends.push(Endpoint {
            outgoing: down.clone(),
            is_closer: !client_closes,
            expect: up.len(),
            ..Endpoint::default()
        });
    }
    (client_ends, server_ends)
}

fn run(scenario: &Scenario) -> Result<(), TestCaseError> {
    let mut pair = Pair::new(scenario);
    for _round in 0..100_000 {
        if pair.finished() {
            break;
        }
        pair.round();
    }
    pair.verify(scenario)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_byte_arrives_once_in_order_on_its_stream(scenario in scenario()) {
        run(&scenario)?;
    }
}

#[test]
fn large_transfer_with_default_config() {
    let pattern = |seed: u8| {
        (0..300_000_u32)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    };
    let streams = (0..4)
        .map(|i| (pattern(i), pattern(i + 100), i % 2 == 0))
        .collect();
    let scenario = Scenario {
        streams,
        max_frame_size: 32_768,
        max_receive_buffer: 4 * 1024 * 1024,
        max_stream_write_buffer: 64 * 1024,
        seed: 7,
    };
    run(&scenario).unwrap();
}
