//! The client against a hostile service side (issue #8 item 3): every
//! `ssm_sim::Hostile` behaviour, in mux mode and (where the mode matters)
//! basic mode. The client must not panic, must not grow its buffers
//! beyond its caps, and must either carry on (an echo afterwards is
//! byte-exact on the same stream) or end the session with a typed error
//! that says what happened.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ssm_client::{ClientConfig, EndCause, EndReason, Error, PortMode, Session, Stream};
use ssm_sim::hostile::{self, FLOOD_FRAME_LEN, Hostile};
use ssm_sim::{Injection, SessionStatus, SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generous: CI machines are slow and busy; conditions end the waits.
const WAIT: Duration = Duration::from_secs(20);

/// A session on the echo target with one stream that has echoed once.
struct Rig {
    sim: Simulator,
    session: Session,
    stream: Stream,
    seed: u64,
}

impl Rig {
    async fn new(target: &str, config: ClientConfig) -> Self {
        init_tracing();
        let sim = sim(SimConfig::default()).await;
        let session = echo_session(&sim, target, config).await;
        let stream = session.open_stream().await.expect("stream opens");
        let mut rig = Self {
            sim,
            session,
            stream,
            seed: 0,
        };
        rig.echo().await;
        rig
    }

    async fn mux() -> Self {
        let rig = Self::new(TARGET, fast_config()).await;
        assert!(matches!(rig.mode(), PortMode::Mux { .. }));
        rig
    }

    async fn basic() -> Self {
        let rig = Self::new(OLD_AGENT_TARGET, fast_config()).await;
        assert_eq!(rig.mode(), PortMode::Basic);
        rig
    }

    fn mode(&self) -> PortMode {
        self.session.info().expect("ready").mode
    }

    fn id(&self) -> String {
        self.session.session_id().to_owned()
    }

    fn inject(&self, kind: Hostile) {
        assert!(
            self.sim.inject(&self.id(), Injection::Hostile(kind)),
            "session is live"
        );
    }

    fn sim_stats(&self) -> ssm_sim::SessionStats {
        self.sim.session(&self.id()).expect("known session").stats
    }

    /// 32 KiB through the rig's stream and back, byte-exact.
    async fn echo(&mut self) {
        self.seed += 1;
        let data = pattern(32 * 1024, self.seed);
        let stream = &mut self.stream;
        let round = async {
            stream.write_all(&data).await.expect("write");
            let mut echoed = vec![0u8; data.len()];
            stream.read_exact(&mut echoed).await.expect("read");
            echoed
        };
        let echoed = tokio::time::timeout(WAIT, round)
            .await
            .expect("echo in time");
        assert!(echoed == data, "echo {} differs", self.seed);
    }

    /// The session carries on: an echo works, nothing ended or resumed.
    async fn assert_carries_on(&mut self, kind: Hostile) {
        self.echo().await;
        assert_eq!(self.session.end_reason(), None, "{kind}");
        assert_eq!(self.session.stats().reconnects, 0, "{kind}");
        assert_eq!(self.sim_stats().hostile_injections, 1, "{kind}");
    }
}

/// Polls `condition` every 10 ms until it holds; panics after [`WAIT`].
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Frames the protocol core cannot decode: each is counted as invalid,
/// dropped without an ack, and the session carries on. Each poses as
/// the agent's next message, so accepting one would corrupt the echo.
async fn undecodable_frames_are_dropped(mut rig: Rig) {
    for kind in [
        Hostile::GarbageFrame,
        Hostile::TruncatedHeader,
        Hostile::HeaderLengthBeyondFrame,
        Hostile::HugePayloadLength,
        Hostile::OversizeWithinWsCap,
    ] {
        let before = rig.session.stats().invalid_frames;
        let injected = rig.sim_stats().hostile_injections;
        rig.inject(kind);
        wait_until(&format!("{kind} counted as invalid"), || {
            rig.session.stats().invalid_frames > before
        })
        .await;
        rig.echo().await;
        let stats = rig.session.stats();
        assert_eq!(stats.invalid_frames, before + 1, "{kind}: {stats:?}");
        assert_eq!(rig.sim_stats().hostile_injections, injected + 1, "{kind}");
        assert_eq!(rig.session.end_reason(), None, "{kind}");
        assert_eq!(stats.reconnects, 0, "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_frames_are_dropped_in_mux_mode() {
    undecodable_frames_are_dropped(Rig::mux().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_frames_are_dropped_in_basic_mode() {
    undecodable_frames_are_dropped(Rig::basic().await).await;
}

/// A well-formed message of an unknown type is ignored: not invalid,
/// not taken for stream data (it carries the next sequence number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_message_type_is_ignored() {
    let mut rig = Rig::mux().await;
    let before = rig.session.stats();
    rig.inject(Hostile::UnknownMessageType);
    // The gateway relays in order: once an echo sent after the injection
    // is back, the client has seen the unknown message.
    wait_until("the frame sent", || rig.sim_stats().hostile_injections == 1).await;
    rig.assert_carries_on(Hostile::UnknownMessageType).await;
    let after = rig.session.stats();
    assert_eq!(after.invalid_frames, before.invalid_frames);
    assert_eq!(after.duplicates_received, before.duplicates_received);
}

/// A sequenced agent message with an unknown PayloadType is acked and
/// skipped; its payload never reaches a stream (it would poison smux or
/// show up in a basic-mode echo).
async fn unknown_payload_type_is_skipped(mut rig: Rig) {
    let before = rig.session.stats().messages_received;
    rig.inject(Hostile::UnknownPayloadType);
    wait_until("the message received", || {
        rig.session.stats().messages_received > before
    })
    .await;
    let stats = rig.session.stats();
    assert_eq!(stats.messages_received, before + 1, "{stats:?}");
    assert_eq!(stats.unread_bytes, 0, "nothing for the stream: {stats:?}");
    rig.assert_carries_on(Hostile::UnknownPayloadType).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_payload_type_is_skipped_in_mux_mode() {
    unknown_payload_type_is_skipped(Rig::mux().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_payload_type_is_skipped_in_basic_mode() {
    unknown_payload_type_is_skipped(Rig::basic().await).await;
}

/// A message over the WebSocket cap cannot even be read: the socket is
/// given up with a clear reason and the session resumes on a new one;
/// the stream survives.
async fn an_oversize_message_costs_one_resume(mut rig: Rig) {
    let mut link = rig.session.link_status();
    rig.inject(Hostile::OversizeMessage);
    let resumed = tokio::time::timeout(
        WAIT,
        link.wait_for(|status| status.connected && status.reconnects == 1),
    )
    .await
    .expect("resumed in time")
    .expect("session alive")
    .clone();
    let reason = resumed.last_loss.to_lowercase();
    assert!(
        reason.contains("too long") && reason.contains(&hostile::OVERSIZE_LEN.to_string()),
        "unclear reason: {}",
        resumed.last_loss
    );
    rig.echo().await;
    assert_eq!(rig.session.end_reason(), None);
    assert_eq!(rig.session.stats().reconnects, 1);
    assert_eq!(rig.sim_stats().reconnects(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_costs_one_resume_in_mux_mode() {
    an_oversize_message_costs_one_resume(Rig::mux().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_costs_one_resume_in_basic_mode() {
    an_oversize_message_costs_one_resume(Rig::basic().await).await;
}

/// smux v1 cannot resynchronise after a bad frame header (its length is
/// untrusted), so the session ends, with the smux error in the reason,
/// the stream reads fail with it, and the service session is terminated.
async fn smux_violation_ends_the_session(kind: Hostile, expected: &str) {
    let mut rig = Rig::mux().await;
    rig.inject(kind);
    let reason = tokio::time::timeout(WAIT, rig.session.closed())
        .await
        .expect("session ends in time");
    let text = match &reason {
        EndReason::Failed(Error::SessionEnded(cause @ EndCause::Smux(_))) => cause.to_string(),
        other => panic!("{kind}: unexpected end {other:?}"),
    };
    assert_eq!(text, format!("smux session failed: {expected}"), "{kind}");
    assert_eq!(
        reason.to_string(),
        format!("session ended: smux session failed: {expected}")
    );
    let mut buffer = [0u8; 16];
    let error = rig.stream.read(&mut buffer).await.expect_err("read fails");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionAborted);
    assert!(error.to_string().contains(expected), "{error}");
    assert!(matches!(
        rig.session.open_stream().await,
        Err(Error::SessionEnded(_))
    ));
    let summary = rig
        .sim
        .wait_for(&rig.id(), WAIT, |s| s.status.is_over())
        .await
        .expect("known session");
    assert_eq!(summary.status, SessionStatus::Terminated, "{summary:?}");
    assert_eq!(summary.stats.hostile_injections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smux_frame_with_a_bad_version_ends_the_session() {
    smux_violation_ends_the_session(
        Hostile::SmuxBadVersion,
        "invalid protocol: frame version 2, expected 1",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smux_frame_with_an_unknown_command_ends_the_session() {
    smux_violation_ends_the_session(
        Hostile::SmuxUnknownCommand,
        "invalid protocol: unknown command 9",
    )
    .await;
}

const FLOOD: u64 = 32 << 20;
const STREAM_CAP: usize = 256 * 1024;
/// In-order messages the protocol core holds for delivery at most
/// (`ChannelConfig::client().max_delivery_bytes`).
const DELIVERY_CAP: u64 = 1 << 20;

/// The agent sends far more than the reader takes: what the client holds
/// for the stream stays within its cap (plus one smux frame, or one
/// Output message in basic mode), everything else waits on the service
/// side (we stop reading the socket rather than refuse messages), and
/// every byte arrives in order once the reader drains.
async fn a_flood_is_held_to_the_cap(target: &str, overshoot: usize) {
    let config = ClientConfig {
        max_stream_receive_buffer: STREAM_CAP,
        max_receive_buffer: 4 * STREAM_CAP,
        ..fast_config()
    };
    let mut rig = Rig::new(target, config).await;
    let bound = STREAM_CAP + overshoot;
    let accepted_before = rig.session.stats().bytes_received;
    rig.inject(Hostile::Flood { bytes: FLOOD });
    let mut peak = 0;
    wait_until("the stream buffer to fill", || {
        peak = peak.max(rig.session.stats().unread_bytes);
        peak >= STREAM_CAP
    })
    .await;
    // Nobody reads for a while: the stream buffer stays at its cap.
    let held_since = Instant::now();
    while held_since.elapsed() < Duration::from_millis(500) {
        peak = peak.max(rig.session.stats().unread_bytes);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let held = rig.session.stats();
    assert!(peak <= bound, "held {peak} bytes, bound {bound}: {held:?}");
    // All the client took in: the stream buffer, the protocol core's
    // delivery queue and part of one message (plus smux headers).
    let accepted = held.bytes_received - accepted_before;
    let limit = (bound + 4096) as u64 + DELIVERY_CAP;
    assert!(
        accepted <= limit,
        "took in {accepted} bytes, limit {limit}: {held:?}"
    );
    assert_eq!(held.refused, 0, "held back, not refused: {held:?}");
    let sent = rig.sim_stats().agent_bytes;
    assert!(sent < FLOOD, "the flood was never held back: {held:?}");
    let started = Instant::now();
    let mut received = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut expected = vec![0u8; buffer.len()];
    let drain = async {
        while received < FLOOD {
            let n = rig.stream.read(&mut buffer).await.expect("read");
            assert!(n > 0, "EOF after {received} of {FLOOD} bytes");
            hostile::fill_flood(received, &mut expected[..n]);
            assert!(
                buffer[..n] == expected[..n],
                "flood differs within bytes {received}..{}",
                received + n as u64
            );
            received += n as u64;
            peak = peak.max(rig.session.stats().unread_bytes);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), drain)
        .await
        .expect("flood drained in time");
    assert!(peak <= bound, "held {peak} bytes, bound {bound}");
    let stats = rig.session.stats();
    eprintln!(
        "{target}: {} MiB flood drained in {:?}, peak unread {peak}: {stats:?}",
        FLOOD >> 20,
        started.elapsed()
    );
    assert_eq!(stats.unread_bytes, 0);
    assert_eq!(rig.sim_stats().hostile_flood_bytes, FLOOD);
    rig.assert_carries_on(Hostile::Flood { bytes: FLOOD }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_held_to_the_cap_in_mux_mode() {
    a_flood_is_held_to_the_cap(TARGET, FLOOD_FRAME_LEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_held_to_the_cap_in_basic_mode() {
    a_flood_is_held_to_the_cap(OLD_AGENT_TARGET, 1024).await;
}

/// `faults.hostile` (the binary's `--hostile`) applies to every session
/// once it is ready, before any stream exists: frame-level kinds and an
/// unknown payload type are survived, and a flood waits for the first
/// stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_hostile_kinds_hit_every_session_once_ready() {
    init_tracing();
    let mut config = SimConfig::default();
    config.faults.hostile = vec![
        Hostile::GarbageFrame,
        Hostile::UnknownMessageType,
        Hostile::UnknownPayloadType,
        Hostile::Flood { bytes: 100_000 },
    ];
    let sim = sim(config).await;
    for _ in 0..2 {
        let session = echo_session(&sim, TARGET, fast_config()).await;
        let id = session.session_id().to_owned();
        wait_until("the hostile kinds applied", || {
            sim.session(&id).unwrap().stats.hostile_injections == 4
        })
        .await;
        wait_until("the garbage counted", || {
            session.stats().invalid_frames == 1
        })
        .await;
        let mut stream = session.open_stream().await.unwrap();
        let mut flood = vec![0u8; 100_000];
        tokio::time::timeout(WAIT, stream.read_exact(&mut flood))
            .await
            .expect("flood in time")
            .unwrap();
        let mut expected = vec![0u8; flood.len()];
        hostile::fill_flood(0, &mut expected);
        assert!(flood == expected, "flood differs");
        let data = Arc::new(pattern(10_000, 99));
        assert!(echo_through(stream, data.clone(), WAIT).await == *data);
        assert_eq!(session.end_reason(), None);
        session.terminate().await;
    }
}
