//! Hostile input: arbitrary bytes and frames mixed with arbitrary
//! application calls must never panic, and memory stays within the limits.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use ssm_mux::frame::{Cmd, Frame, FrameHeader};
use ssm_mux::{Config, KeepAlive, Role, Session, StreamId};

const MAX_RECEIVE_BUFFER: usize = 1000;
const MAX_FRAME_SIZE: usize = 100;

#[derive(Debug, Clone)]
enum Op {
    /// Raw transport bytes.
    Bytes(Vec<u8>),
    /// A well-formed-looking frame (any command byte, small ids).
    Frame {
        cmd: u8,
        sid: u32,
        payload: Vec<u8>,
    },
    Open,
    Accept,
    Read {
        sid: u32,
        len: usize,
    },
    Write {
        sid: u32,
        len: usize,
    },
    Close {
        sid: u32,
    },
    Transmit,
    Timeout {
        secs: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let payload = proptest::collection::vec(any::<u8>(), 0..300);
    let cmd = prop_oneof![19 => 0..5_u8, 1 => any::<u8>()];
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Bytes),
        6 => (cmd, 0..12_u32, payload)
            .prop_map(|(cmd, sid, payload)| Op::Frame { cmd, sid, payload }),
        1 => Just(Op::Open),
        1 => Just(Op::Accept),
        2 => (0..12_u32, 0..500_usize).prop_map(|(sid, len)| Op::Read { sid, len }),
        1 => (0..12_u32, 0..500_usize).prop_map(|(sid, len)| Op::Write { sid, len }),
        1 => (0..12_u32).prop_map(|sid| Op::Close { sid }),
        1 => Just(Op::Transmit),
        1 => (0..40_u64).prop_map(|secs| Op::Timeout { secs }),
    ]
}

fn frame_bytes(cmd: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len()).unwrap();
    let mut out = FrameHeader::new(Cmd::from_byte(cmd), StreamId(sid), length)
        .to_bytes()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

/// Every frame the session emits is a valid v1 frame within the limits.
fn check_transmitted(session: &mut Session) -> Result<(), TestCaseError> {
    while let Some(wire) = session.poll_transmit() {
        let (frame, used) = Frame::decode(&wire).unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(frame.header.version, 1);
        prop_assert!(frame.payload.len() <= MAX_FRAME_SIZE);
        prop_assert!(matches!(
            frame.header.cmd,
            Cmd::Syn | Cmd::Fin | Cmd::Psh | Cmd::Nop
        ));
    }
    Ok(())
}

/// Performs `op`, ignoring the (expected) errors; only panics would fail.
fn apply(session: &mut Session, op: Op, start: Instant) -> Result<(), TestCaseError> {
    match op {
        Op::Bytes(bytes) => {
            let _ = session.handle_input(&bytes);
        }
        Op::Frame { cmd, sid, payload } => {
            let _ = session.handle_input(&frame_bytes(cmd, sid, &payload));
        }
        Op::Open => {
            let _ = session.open();
        }
        Op::Accept => {
            let _ = session.accept();
        }
        Op::Read { sid, len } => {
            let _ = session.read(StreamId(sid), &mut vec![0; len]);
        }
        Op::Write { sid, len } => {
            let _ = session.write(StreamId(sid), &vec![7; len]);
        }
        Op::Close { sid } => {
            let _ = session.close(StreamId(sid));
        }
        Op::Transmit => check_transmitted(session)?,
        Op::Timeout { secs } => session.handle_timeout(start + Duration::from_secs(secs)),
    }
    while session.poll_event().is_some() {}
    let stats = session.stats();
    prop_assert!(stats.unread_bytes <= MAX_RECEIVE_BUFFER + usize::from(u16::MAX));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_input_and_calls_never_panic(
        role in prop_oneof![Just(Role::Client), Just(Role::Server)],
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        let config = Config {
            keep_alive: Some(KeepAlive::default()),
            max_frame_size: MAX_FRAME_SIZE,
            max_receive_buffer: MAX_RECEIVE_BUFFER,
            max_stream_receive_buffer: MAX_RECEIVE_BUFFER / 3,
            max_stream_write_buffer: 300,
            max_accept_backlog: 3,
        };
        let start = Instant::now();
        let mut session = Session::new(role, config, start).unwrap();
        for op in ops {
            apply(&mut session, op, start)?;
        }
        check_transmitted(&mut session)?;
    }
}
