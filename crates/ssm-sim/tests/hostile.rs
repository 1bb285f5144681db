//! Hostile-peer behaviours (`Injection::Hostile`, `faults.hostile`) as a
//! client sees them on the wire.

mod common;

use std::time::Duration;

use common::*;
use ssm_proto::message::{ClientMessage, PayloadType};
use ssm_proto::version::CLIENT_VERSION;
use ssm_sim::hostile::{self, Hostile};
use ssm_sim::{Injection, SimConfig};

const WAIT: Duration = Duration::from_secs(10);

/// The sequence number field of an encoded message.
fn sequence_of(frame: &[u8]) -> i64 {
    i64::from_be_bytes(frame[48..56].try_into().unwrap())
}

#[tokio::test]
async fn raw_frames_pose_as_the_next_agent_message() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    // HandshakeRequest and HandshakeComplete were 0 and 1.
    for kind in Hostile::all().into_iter().filter(Hostile::is_raw_frame) {
        let seen = client.frames.len();
        assert!(sim.inject(&start.session_id, Injection::Hostile(kind)));
        assert!(
            client.recv_until(WAIT, |c| c.frames.len() > seen).await,
            "{kind} not received"
        );
        let frame = client.frames.last().unwrap().clone();
        assert_eq!(frame.len(), kind.raw_frame(2, 1).unwrap().len(), "{kind}");
        match kind {
            Hostile::GarbageFrame => assert_eq!(frame, kind.raw_frame(2, 1).unwrap()),
            Hostile::TruncatedHeader => assert_eq!(frame.len(), hostile::TRUNCATED_LEN),
            _ => assert_eq!(sequence_of(&frame), 2, "{kind}"),
        }
        let decoded = ClientMessage::decode(&frame);
        assert_eq!(
            decoded.is_ok(),
            kind == Hostile::UnknownMessageType,
            "{kind}"
        );
    }
    // None took a sequence number: the next real message is still 2.
    assert!(sim.inject(
        &start.session_id,
        Injection::Hostile(Hostile::UnknownPayloadType)
    ));
    assert!(client.recv_until(WAIT, |c| c.stream.contains_key(&2)).await);
    let message = &client.stream[&2];
    assert_eq!(
        message.payload_type,
        PayloadType::Unknown(hostile::UNKNOWN_PAYLOAD_TYPE)
    );
    assert_eq!(&message.payload[..], hostile::POISON);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.hostile_injections, 8);
}

/// After a flood the session works as before: the agent is not left
/// stuck behind it.
#[tokio::test]
async fn a_flood_then_an_echo_in_mux_mode() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    let before = pattern(5000, 1);
    assert_eq!(client.mux_echo(&before, WAIT).await, before);
    let sid = client.open_stream();
    let data = pattern(3000, 2);
    client.mux_write_all(sid, &data);
    let mut echoed = Vec::new();
    assert!(
        client
            .pump_until(WAIT, |c| {
                c.mux_read(sid, &mut echoed);
                echoed.len() >= data.len()
            })
            .await
    );
    const FLOOD: u64 = 24 << 20;
    assert!(sim.inject(
        &start.session_id,
        Injection::Hostile(Hostile::Flood { bytes: FLOOD })
    ));
    // A client that does not read for a while holds the agent back (the
    // outcome must not depend on how long).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut flood = Vec::new();
    assert!(
        client
            .pump_until(Duration::from_secs(60), |c| {
                c.mux_read(sid, &mut flood);
                flood.len() as u64 >= FLOOD
            })
            .await,
        "flood: {} of {FLOOD}",
        flood.len()
    );
    let mut expected = vec![0u8; flood.len()];
    hostile::fill_flood(0, &mut expected);
    assert!(flood == expected, "flood differs");
    let after = pattern(5000, 3);
    client.mux_write_all(sid, &after);
    let mut echoed = Vec::new();
    assert!(
        client
            .pump_until(WAIT, |c| {
                c.mux_read(sid, &mut echoed);
                echoed.len() >= after.len()
            })
            .await,
        "echo after the flood: {} of {}",
        echoed.len(),
        after.len()
    );
    assert_eq!(echoed, after);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.hostile_flood_bytes, FLOOD);
    assert_eq!(stats.hostile_injections, 1);
}

/// The smux kinds are whole frames in the agent's Output byte stream.
#[tokio::test]
async fn smux_frames_arrive_as_sequenced_output() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    for kind in [Hostile::SmuxBadVersion, Hostile::SmuxUnknownCommand] {
        assert!(sim.inject(&start.session_id, Injection::Hostile(kind)));
    }
    let expected = [
        hostile::SMUX_BAD_VERSION_FRAME,
        hostile::SMUX_UNKNOWN_COMMAND_FRAME,
    ]
    .concat();
    assert!(
        client
            .recv_until(WAIT, |c| c.output_bytes().len() >= expected.len())
            .await
    );
    assert_eq!(client.output_bytes(), expected);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.hostile_injections, 2);
}

/// Basic mode has no smux: the smux kinds are ignored, the flood is raw
/// Output.
#[tokio::test]
async fn basic_mode_floods_raw_bytes_and_ignores_smux_kinds() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    for kind in [
        Hostile::SmuxBadVersion,
        Hostile::SmuxUnknownCommand,
        Hostile::Flood { bytes: 100_000 },
    ] {
        assert!(sim.inject(&start.session_id, Injection::Hostile(kind)));
    }
    assert!(
        client
            .recv_until(WAIT, |c| c.output_bytes().len() >= 100_000)
            .await
    );
    let mut expected = vec![0u8; 100_000];
    hostile::fill_flood(0, &mut expected);
    assert!(client.output_bytes() == expected);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.hostile_injections, 1);
    assert_eq!(stats.hostile_flood_bytes, 100_000);
}

/// `faults.hostile` runs once the session is ready, without an injection.
#[tokio::test]
async fn configured_kinds_run_once_the_session_is_ready() {
    let mut config = SimConfig::default();
    config.faults.hostile = vec![Hostile::TruncatedHeader, Hostile::UnknownPayloadType];
    let sim = sim(config).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    assert!(client.recv_until(WAIT, |c| c.stream.contains_key(&2)).await);
    assert!(
        client
            .frames
            .iter()
            .any(|f| f.len() == hostile::TRUNCATED_LEN),
        "no truncated frame"
    );
    assert_eq!(
        client.stream[&2].payload_type,
        PayloadType::Unknown(hostile::UNKNOWN_PAYLOAD_TYPE)
    );
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.hostile_injections, 2);
}

/// Kinds that need the port plugin are ignored before the handshake.
#[tokio::test]
async fn plugin_kinds_before_the_handshake_are_ignored() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = RawClient::connect(&start).await;
    client.await_handshake_request().await;
    let early = Injection::Hostile(Hostile::SmuxBadVersion);
    assert!(sim.inject(&start.session_id, early));
    client.send_handshake_response(0, CLIENT_VERSION).await;
    assert!(
        client
            .recv_until(WAIT, |c| c.has(PayloadType::HandshakeComplete))
            .await
    );
    // A marker behind it: by the time it arrives, anything the early
    // injection produced would have too.
    let marker = Injection::Hostile(Hostile::UnknownPayloadType);
    assert!(sim.inject(&start.session_id, marker));
    assert!(client.recv_until(WAIT, |c| c.stream.contains_key(&2)).await);
    assert!(!client.has(PayloadType::Output));
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.hostile_injections, 1, "only the marker");
}
