//! Agent behaviours beyond tests/agent.rs: the rules of protocol.md §5
//! and §8.3 seen from a hand-driven client, basic-mode redialling, the
//! smux keepalive rule, channel_closed framing and injections.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use ssm_proto::message::{ClientMessage, MessageType, PayloadType};
use ssm_proto::payload::{ChannelClosed, Flag};
use ssm_proto::session::SessionEvent;
use ssm_proto::version::CLIENT_VERSION;
use ssm_sim::{Injection, SessionStatus, SimConfig};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// smux v1 NOP: version 1, cmd 3, length 0, stream id 0.
const SMUX_NOP: [u8; 8] = [1, 3, 0, 0, 0, 0, 0, 0];

#[tokio::test]
async fn data_before_handshake_complete_is_acked_and_discarded() {
    let sim = sim(SimConfig::default()).await;
    let mut dest = TestDestination::start(None).await;
    let start = start_remote_session(&sim, OLD_AGENT_TARGET, "127.0.0.1", dest.port());
    let mut client = RawClient::connect(&start).await;
    client.await_handshake_request().await;
    // Output with seq 1 while the handshake is unanswered: buffered ahead
    // of order and acked at once.
    client.send_data(1, PayloadType::Output, b"early").await;
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.acks_for(1) == 1)
            .await,
        "early data acked"
    );
    client.send_handshake_response(0, CLIENT_VERSION).await;
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c
                .has(PayloadType::HandshakeComplete))
            .await
    );
    let summary = sim
        .wait_for(&start.session_id, Duration::from_secs(5), |s| {
            s.stats.early_data_discarded == 1
        })
        .await
        .unwrap();
    assert_eq!(summary.stats.early_data_discarded, 1, "{:?}", summary.stats);
    // Basic mode dialled right after the handshake; the next Output is
    // the first thing the destination sees.
    client.send_data(2, PayloadType::Output, b"late").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while dest.poll().first().is_none_or(|c| c.data.len() < 4) && Instant::now() < deadline {
        client.recv(Duration::from_millis(20)).await;
    }
    assert_eq!(dest.poll()[0].data, b"late");
    assert_eq!(client.acks_for(2), 1);
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.client_bytes, 4, "{stats:?}");
}

#[tokio::test]
async fn duplicate_client_messages_are_re_acked_and_delivered_once() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    let frame = client.send_data(1, PayloadType::Output, b"dup").await;
    client.send_frame(frame).await;
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.acks_for(1) == 2)
            .await,
        "acks: {:?}",
        client.acks
    );
    client.send_data(2, PayloadType::Output, b"end").await;
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c
                .output_bytes()
                .ends_with(b"end"))
            .await
    );
    assert_eq!(client.output_bytes(), b"dupend");
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.client_duplicates, 1, "{stats:?}");
    assert_eq!(stats.client_bytes, 6, "{stats:?}");
}

#[tokio::test]
async fn out_of_order_client_messages_are_buffered_acked_and_delivered_in_order() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    client.send_data(2, PayloadType::Output, b"second").await;
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.acks_for(2) == 1)
            .await,
        "seq 2 acked while 1 is missing"
    );
    assert_eq!(client.acks_for(1), 0);
    assert!(
        client.output_bytes().is_empty(),
        "nothing delivered past the gap"
    );
    client.send_data(1, PayloadType::Output, b"first").await;
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.acks_for(1) == 1
                && c.output_bytes().len() >= 11)
            .await
    );
    assert_eq!(client.output_bytes(), b"firstsecond");
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.client_duplicates, 0, "{stats:?}");
}

#[tokio::test]
async fn client_version_1_2_331_gets_smux_keepalive_nops() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    // No smux client: raw_output collects the agent's smux bytes verbatim.
    let mut client = TestClient::connect(&start, "1.2.331.0").await;
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.session.is_ready())
            .await
    );
    let saw_nop = client
        .pump_until(Duration::from_secs(11), |c| c.raw_output.len() >= 8)
        .await;
    assert!(saw_nop, "no smux output within 11 s");
    assert_eq!(&client.raw_output[..8], SMUX_NOP);
}

/// The agent's smux runs without keepalive for our client version. The
/// simulator's smux sends its first NOP at once when keepalive is on (see
/// the test above), so 1.5 s of silence is already telling; the slow
/// variant below waits the whole 10 s interval.
#[tokio::test]
async fn default_client_version_gets_no_smux_keepalive() {
    assert_no_nop_for(Duration::from_millis(1500)).await;
}

#[tokio::test]
#[ignore = "slow: waits a full 11 s smux keepalive interval"]
async fn default_client_version_gets_no_smux_keepalive_for_a_full_interval() {
    assert_no_nop_for(Duration::from_secs(11)).await;
}

async fn assert_no_nop_for(period: Duration) {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::connect(&start, CLIENT_VERSION).await;
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.session.is_ready())
            .await
    );
    let got_output = client
        .pump_until(period, |c| !c.raw_output.is_empty())
        .await;
    assert!(
        !got_output,
        "unexpected smux bytes: {:?}",
        client.raw_output
    );
}

#[tokio::test]
async fn basic_mode_disconnect_to_port_closes_and_the_next_output_redials() {
    let sim = sim(SimConfig::default()).await;
    let mut dest = TestDestination::start(None).await;
    let start = start_remote_session(&sim, OLD_AGENT_TARGET, "127.0.0.1", dest.port());
    let mut client = TestClient::ready(&start).await;
    assert!(client.mux.is_none(), "basic mode");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |_| dest.poll().len() == 1)
            .await,
        "agent dials right after the handshake"
    );
    client.send_raw(b"one");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |_| dest.poll()[0].data == b"one")
            .await
    );
    client
        .session
        .send_flag(Instant::now(), Flag::DisconnectToPort)
        .unwrap();
    assert!(
        client
            .pump_until(Duration::from_secs(5), |_| dest.poll()[0].eof)
            .await,
        "DisconnectToPort closes the destination connection"
    );
    assert_eq!(dest.poll().len(), 1, "no redial before the next Output");
    client.send_raw(b"two");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |_| dest
                .poll()
                .get(1)
                .is_some_and(|c| c.data == b"two"))
            .await,
        "{:?}",
        dest.poll()
    );
    assert_eq!(dest.poll()[0].data, b"one");
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.disconnect_flags, 1, "{stats:?}");
    assert_eq!(stats.streams_opened, 2, "{stats:?}");
}

#[tokio::test]
async fn basic_mode_destination_close_then_next_output_redials() {
    let sim = sim(SimConfig::default()).await;
    let mut dest = TestDestination::start(Some(b"reply".to_vec())).await;
    let start = start_remote_session(&sim, OLD_AGENT_TARGET, "127.0.0.1", dest.port());
    let mut client = TestClient::ready(&start).await;
    client.send_raw(b"one");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.raw_output == b"reply")
            .await,
        "destination reply relayed"
    );
    client.send_raw(b"two");
    assert!(
        client
            .pump_until(Duration::from_secs(5), |_| dest
                .poll()
                .get(1)
                .is_some_and(|c| c.data == b"two"))
            .await,
        "{:?}",
        dest.poll()
    );
    assert_eq!(dest.poll()[0].data, b"one");
    let summary = sim.session(&start.session_id).unwrap();
    assert_eq!(summary.status, SessionStatus::Connected);
    assert_eq!(summary.stats.streams_opened, 2, "{:?}", summary.stats);
}

#[tokio::test]
async fn channel_closed_frame_has_a_valid_header_and_digest() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    sim.service().terminate_session(&start.session_id);
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.closed_frame.is_some())
            .await
    );
    let frame = client.closed_frame.clone().unwrap();
    let message = ClientMessage::decode(&frame).expect("channel_closed decodes (digest checked)");
    assert_eq!(message.message_type, MessageType::ChannelClosed);
    assert_eq!(message.sequence_number, 0);
    assert!(!message.payload.is_empty());
    let closed = ChannelClosed::from_bytes(&message.payload).unwrap();
    assert_eq!(closed.session_id, start.session_id);
    assert_eq!(closed.message_type, "channel_closed");
    assert_eq!(closed.destination_id, TARGET);
}

#[tokio::test]
async fn injected_pause_and_start_publication_reach_the_client() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    assert!(sim.inject(&start.session_id, Injection::PausePublication));
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.session.channel().is_paused())
            .await
    );
    assert!(client.events.contains(&SessionEvent::Paused));
    assert!(sim.inject(&start.session_id, Injection::StartPublication));
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| !c.session.channel().is_paused())
            .await
    );
    assert!(client.events.contains(&SessionEvent::Resumed));
    let data = pattern(4000, 3);
    assert_eq!(client.mux_echo(&data, Duration::from_secs(5)).await, data);
}

#[tokio::test]
async fn injected_close_sends_the_close_frame_and_the_session_resumes() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    let injection = Injection::Close {
        code: 4001,
        reason: "test close".into(),
    };
    assert!(sim.inject(&start.session_id, injection));
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.socket_gone)
            .await
    );
    let frame = client.close_frame.clone().expect("close frame");
    assert_eq!(frame.code, CloseCode::from(4001));
    assert_eq!(frame.reason.as_str(), "test close");
    client.resume(&sim, &start).await;
    let data = pattern(4000, 4);
    assert_eq!(client.mux_echo(&data, Duration::from_secs(5)).await, data);
    assert_eq!(
        sim.session(&start.session_id).unwrap().stats.reconnects(),
        1
    );
}

#[tokio::test]
async fn injected_abort_drops_the_socket_without_a_close_frame() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    assert!(sim.inject(&start.session_id, Injection::Abort));
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c.socket_gone)
            .await
    );
    assert_eq!(client.disconnects.len(), 1);
    assert!(client.disconnects[0].is_none(), "{:?}", client.disconnects);
    client.resume(&sim, &start).await;
    let data = pattern(4000, 5);
    assert_eq!(client.mux_echo(&data, Duration::from_secs(5)).await, data);
}

#[tokio::test]
async fn injected_raw_frame_reaches_the_client_verbatim() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    let garbage = Bytes::from_static(b"definitely not a message");
    assert!(sim.inject(&start.session_id, Injection::RawFrame(garbage.clone())));
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.frames.contains(&garbage))
            .await
    );
    // Unknown sessions are refused.
    assert!(!sim.inject("sim-nope", Injection::Abort));
}

#[tokio::test]
async fn injected_garbage_is_dropped_by_the_client_and_the_session_carries_on() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    let garbage = Bytes::from_static(&[0u8; 200]);
    assert!(sim.inject(&start.session_id, Injection::RawFrame(garbage)));
    assert!(
        client
            .pump_until(Duration::from_secs(5), |c| c
                .session
                .channel()
                .stats()
                .invalid_frames
                == 1)
            .await
    );
    let data = pattern(4000, 6);
    assert_eq!(client.mux_echo(&data, Duration::from_secs(5)).await, data);
}

/// A client that gives up on a socket it believes dead (say, a read
/// deadline on a half-open connection) resumes and connects a new one
/// while the gateway still holds the old one. The new socket must work,
/// and the old one going away later must not disturb it.
#[tokio::test]
async fn resume_while_the_old_socket_is_still_open_keeps_the_new_one() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = TestClient::ready(&start).await;
    let stale = client.ws.take();
    client.resume(&sim, &start).await;
    let data = pattern(5000, 7);
    let sid = client.open_stream();
    let mut received = Vec::new();
    let mut offset = 0;
    let echoed = client
        .pump_until(Duration::from_secs(5), |c| {
            if offset < data.len() {
                offset += c.mux_write_all(sid, &data[offset..]);
            }
            c.mux_read(sid, &mut received);
            received.len() >= data.len() || c.socket_gone
        })
        .await;
    assert!(
        echoed && !client.socket_gone,
        "new socket lost: {:?}; {} of {} bytes echoed",
        client.disconnects,
        received.len(),
        data.len()
    );
    assert!(received == data);
    drop(stale);
    let more = pattern(5000, 8);
    assert_eq!(client.mux_echo(&more, Duration::from_secs(5)).await, more);
    assert!(client.disconnects.is_empty(), "{:?}", client.disconnects);
}

/// Counters should describe what the client can already see: once an
/// agent message has reached the client, `agent_messages`/`agent_bytes`
/// include it.
#[tokio::test]
async fn agent_counters_include_messages_the_client_already_has() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, OLD_AGENT_TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    // No ack from now on, so nothing wakes the agent after it sends the echo.
    client.auto_ack = false;
    client.send_data(1, PayloadType::Output, b"ping").await;
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.output_bytes() == b"ping")
            .await
    );
    let stats = sim.session(&start.session_id).unwrap().stats;
    assert_eq!(stats.agent_bytes, 4, "{stats:?}");
    assert_eq!(
        stats.agent_messages, 3,
        "request, complete, echo: {stats:?}"
    );
}

#[tokio::test]
async fn a_lost_instance_fails_its_sessions_and_refuses_new_ones() {
    let sim = sim(SimConfig::default()).await;
    let start = start_echo_session(&sim, TARGET);
    let mut client = RawClient::connect(&start).await;
    client.handshake(CLIENT_VERSION).await;
    assert!(sim.set_instance_online(TARGET, false));
    assert!(
        client
            .recv_until(Duration::from_secs(5), |c| c.closed_frame.is_some())
            .await,
        "channel_closed after the instance went away"
    );
    let summary = sim
        .wait_for(&start.session_id, Duration::from_secs(5), |s| {
            s.status.is_over()
        })
        .await
        .unwrap();
    assert_eq!(summary.status, SessionStatus::Failed);
    assert_eq!(summary.end_cause, Some(ssm_sim::EndCause::InstanceLost));
    let refused = sim
        .service()
        .start_session(ssm_sim::service::StartSessionInput {
            target: TARGET.into(),
            document_name: None,
            parameters: Default::default(),
            reason: None,
        })
        .expect_err("a lost instance takes no sessions");
    assert_eq!(refused.code(), "TargetNotConnected");
    let lost = sim.service().instances();
    let lost = lost.iter().find(|i| i.id == TARGET).unwrap();
    assert_eq!(lost.ping_status, "ConnectionLost");
    assert!(sim.set_instance_online(TARGET, true));
    assert!(!sim.set_instance_online("i-does-not-exist", true));
    let _again = start_echo_session(&sim, TARGET);
}
