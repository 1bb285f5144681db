//! Scripted-agent tests of the client handshake and session.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::channel::ChannelConfig;
use crate::message::MessageType;
use crate::payload::AcknowledgeContent;

/// The agent side, scripted: a real agent-role channel whose frames we
/// feed to the client and whose received frames we inspect.
struct ScriptedAgent {
    channel: DataChannel,
    now: Instant,
}

impl ScriptedAgent {
    fn new(now: Instant) -> Self {
        let config = ChannelConfig {
            pacing: None,
            ..ChannelConfig::agent()
        };
        Self {
            channel: DataChannel::new(config, now, 1_700_000_000_000, 5),
            now,
        }
    }

    fn send(&mut self, client: &mut ClientSession, payload_type: PayloadType, payload: Bytes) {
        self.channel.send(self.now, payload_type, payload).unwrap();
        self.flush_to(client);
    }

    fn flush_to(&mut self, client: &mut ClientSession) {
        while let Some(frame) = self.channel.poll_transmit(self.now) {
            client.handle_frame(self.now, &frame).unwrap();
        }
    }

    /// Feeds the client's frames to the agent; returns the non-ack messages.
    fn receive_from(&mut self, client: &mut ClientSession) -> Vec<ClientMessage> {
        while let Some(frame) = client.poll_transmit(self.now) {
            self.channel.handle_frame(self.now, &frame).unwrap();
        }
        std::iter::from_fn(|| self.channel.poll_delivery()).collect()
    }

    fn request(&mut self, client: &mut ClientSession, request: Value) {
        self.send(
            client,
            PayloadType::HandshakeRequest,
            Bytes::from(request.to_string()),
        );
    }

    fn complete(&mut self, client: &mut ClientSession) {
        let complete = HandshakeComplete {
            handshake_time_to_complete: 2_000_000,
            customer_message: String::new(),
        };
        self.send(client, PayloadType::HandshakeComplete, complete.to_bytes());
    }
}

fn port_request(agent_version: &str) -> Value {
    json!({
        "AgentVersion": agent_version,
        "RequestedClientActions": [{
            "ActionType": "SessionType",
            "ActionParameters": {"SessionType": "Port", "Properties": {
                "host": "privoxy", "localPortNumber": "8118", "portNumber": "8118", "type": "LocalPortForwarding"
            }}
        }]
    })
}

fn new_client(now: Instant) -> ClientSession {
    let config = SessionConfig {
        channel: ChannelConfig {
            pacing: None,
            ..ChannelConfig::client()
        },
        ..SessionConfig::default()
    };
    ClientSession::new(config, now, 1_700_000_000_000, 3)
}

fn ready_pair(agent_version: &str) -> (ClientSession, ScriptedAgent) {
    let now = Instant::now();
    let mut client = new_client(now);
    let mut agent = ScriptedAgent::new(now);
    agent.request(&mut client, port_request(agent_version));
    let _ = agent.receive_from(&mut client);
    agent.complete(&mut client);
    let _ = agent.receive_from(&mut client);
    (client, agent)
}

#[test]
fn answers_port_request_and_completes_in_mux_mode() {
    let now = Instant::now();
    let mut client = new_client(now);
    let mut agent = ScriptedAgent::new(now);
    assert_eq!(
        client.send_output(now, Bytes::from_static(b"early")),
        Err(SendError::HandshakeIncomplete)
    );
    agent.request(&mut client, port_request("3.3.987.0"));
    let received = agent.receive_from(&mut client);
    assert_eq!(agent.channel.unacked(), 0, "client acked the request");
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].payload_type, PayloadType::HandshakeResponse);
    assert_eq!(received[0].sequence_number, 0);
    let response = HandshakeResponse::from_bytes(&received[0].payload).unwrap();
    assert_eq!(response.client_version, CLIENT_VERSION);
    assert_eq!(
        response.processed_client_actions[0].action_status,
        ActionStatus::Success
    );
    assert!(!client.is_ready());
    agent.complete(&mut client);
    let Some(SessionEvent::HandshakeComplete(info)) = client.poll_event() else {
        panic!("no completion")
    };
    assert_eq!(
        info.mode,
        PortMode::Mux {
            smux_keepalive: false
        }
    );
    assert_eq!(info.properties.host.as_deref(), Some("privoxy"));
    assert_eq!(info.handshake_time, Duration::from_millis(2));
    assert!(client.is_ready());
}

#[test]
fn old_agents_get_basic_mode_and_keepalive_rules() {
    let (client, _) = ready_pair("3.0.196.0");
    assert_eq!(client.info().unwrap().mode, PortMode::Basic);
    let (client, _) = ready_pair("3.1.1511.0");
    assert_eq!(
        client.info().unwrap().mode,
        PortMode::Mux {
            smux_keepalive: true
        }
    );
}

#[test]
fn output_flows_both_ways_after_handshake() {
    let (mut client, mut agent) = ready_pair("3.3.987.0");
    let now = agent.now;
    client
        .send_output(now, Bytes::from_static(b"ping"))
        .unwrap();
    let received = agent.receive_from(&mut client);
    assert_eq!(
        (received[0].sequence_number, &received[0].payload[..]),
        (1, &b"ping"[..])
    );
    agent.send(
        &mut client,
        PayloadType::Output,
        Bytes::from_static(b"pong"),
    );
    assert_eq!(client.poll_output(now), Some(Bytes::from_static(b"pong")));
    assert_eq!(client.poll_output(now), None);
}

#[test]
fn connect_to_port_error_flag_is_an_event() {
    let (mut client, mut agent) = ready_pair("3.3.987.0");
    let _ = client.poll_event();
    agent.send(
        &mut client,
        PayloadType::Flag,
        Flag::ConnectToPortError.to_bytes(),
    );
    assert_eq!(
        client.poll_event(),
        Some(SessionEvent::Flag(Flag::ConnectToPortError))
    );
}

#[test]
fn flags_behind_unread_output_wait_their_turn() {
    let (mut client, mut agent) = ready_pair("3.3.987.0");
    let _ = client.poll_event();
    agent.send(
        &mut client,
        PayloadType::Output,
        Bytes::from_static(b"data"),
    );
    agent.send(
        &mut client,
        PayloadType::Flag,
        Flag::ConnectToPortError.to_bytes(),
    );
    assert_eq!(client.poll_event(), None);
    assert!(client.poll_output(agent.now).is_some());
    assert_eq!(
        client.poll_event(),
        Some(SessionEvent::Flag(Flag::ConnectToPortError))
    );
}

#[test]
fn terminate_flag_goes_out_as_sequenced_flag() {
    let (mut client, mut agent) = ready_pair("3.3.987.0");
    client.send_flag(agent.now, Flag::TerminateSession).unwrap();
    let received = agent.receive_from(&mut client);
    assert_eq!(received[0].payload_type, PayloadType::Flag);
    assert_eq!(&received[0].payload[..], &[0, 0, 0, 2]);
}

#[test]
fn refuses_kms_encryption_clearly() {
    let now = Instant::now();
    let mut client = new_client(now);
    let mut agent = ScriptedAgent::new(now);
    let mut request = port_request("3.3.987.0");
    request["RequestedClientActions"].as_array_mut().unwrap().push(json!({
        "ActionType": "KMSEncryption", "ActionParameters": {"KMSKeyId": "k", "Challenge": "AA=="}
    }));
    agent.request(&mut client, request);
    let response =
        HandshakeResponse::from_bytes(&agent.receive_from(&mut client)[0].payload).unwrap();
    assert_eq!(
        response.processed_client_actions[1].action_status,
        ActionStatus::Failed
    );
    assert!(response.processed_client_actions[1].error.contains("KMS"));
    assert_eq!(
        client.poll_event(),
        Some(SessionEvent::HandshakeFailed(
            HandshakeError::EncryptionRequested
        ))
    );
    assert_eq!(
        client.send_output(now, Bytes::new()),
        Err(SendError::SessionEnded)
    );
}

#[test]
fn refuses_shell_sessions_and_unknown_actions() {
    let now = Instant::now();
    let mut client = new_client(now);
    let mut agent = ScriptedAgent::new(now);
    agent.request(&mut client, json!({"AgentVersion": "3.3.987.0", "RequestedClientActions": [
        {"ActionType": "SessionType", "ActionParameters": {"SessionType": "Standard_Stream", "Properties": {}}},
        {"ActionType": "Teleport", "ActionParameters": {}}
    ]}));
    let response =
        HandshakeResponse::from_bytes(&agent.receive_from(&mut client)[0].payload).unwrap();
    let statuses: Vec<_> = response
        .processed_client_actions
        .iter()
        .map(|a| a.action_status)
        .collect();
    assert_eq!(
        statuses,
        vec![ActionStatus::Failed, ActionStatus::Unsupported]
    );
    assert_eq!(
        client.poll_event(),
        Some(SessionEvent::HandshakeFailed(
            HandshakeError::UnsupportedSessionType("Standard_Stream".into())
        ))
    );
}

#[test]
fn complete_without_session_type_fails() {
    let now = Instant::now();
    let mut client = new_client(now);
    let mut agent = ScriptedAgent::new(now);
    agent.request(
        &mut client,
        json!({"AgentVersion": "3.3.987.0", "RequestedClientActions": []}),
    );
    agent.complete(&mut client);
    assert_eq!(
        client.poll_event(),
        Some(SessionEvent::HandshakeFailed(
            HandshakeError::MissingSessionType
        ))
    );
}

#[test]
fn handshake_times_out() {
    let now = Instant::now();
    let mut client = new_client(now);
    let deadline = client.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_secs(30));
    client.handle_timeout(deadline);
    assert!(matches!(
        client.poll_event(),
        Some(SessionEvent::HandshakeFailed(HandshakeError::TimedOut(_)))
    ));
    assert!(client.is_ended());
}

#[test]
fn output_before_handshake_is_dropped_not_delivered() {
    let now = Instant::now();
    let mut client = new_client(now);
    let mut agent = ScriptedAgent::new(now);
    agent.send(
        &mut client,
        PayloadType::Output,
        Bytes::from_static(b"too early"),
    );
    assert_eq!(client.poll_output(now), None);
    // It was still acked, like every accepted message.
    let _ = agent.receive_from(&mut client);
    assert_eq!(agent.channel.unacked(), 0);
}

#[test]
fn channel_closed_ends_the_session() {
    let (mut client, mut agent) = ready_pair("3.3.987.0");
    let _ = client.poll_event();
    let closed = ChannelClosed {
        session_id: "s".into(),
        output: "bye".into(),
        ..Default::default()
    };
    let frame = agent
        .channel
        .build_message(
            agent.now,
            MessageType::ChannelClosed,
            0,
            0,
            PayloadType::Undefined,
            closed.to_bytes(),
        )
        .encode();
    client.handle_frame(agent.now, &frame).unwrap();
    assert_eq!(
        client.poll_event(),
        Some(SessionEvent::ChannelClosed(closed))
    );
    assert!(client.is_ended());
}

#[test]
fn reconnect_that_ends_a_pause_reports_resumed() {
    let (mut client, mut agent) = ready_pair("3.3.987.0");
    let _ = client.poll_event();
    let pause = agent
        .channel
        .build_message(
            agent.now,
            MessageType::PausePublication,
            0,
            0,
            PayloadType::Undefined,
            Bytes::new(),
        )
        .encode();
    client.handle_frame(agent.now, &pause).unwrap();
    assert_eq!(client.poll_event(), Some(SessionEvent::Paused));
    client.handle_reconnect();
    assert_eq!(client.poll_event(), Some(SessionEvent::Resumed));
    assert_eq!(client.poll_event(), None);
    client.handle_reconnect();
    assert_eq!(client.poll_event(), None, "not paused: nothing to report");
}

#[test]
fn acks_reference_the_acked_message() {
    let now = Instant::now();
    let mut client = new_client(now);
    let mut agent = ScriptedAgent::new(now);
    agent
        .channel
        .send(
            now,
            PayloadType::HandshakeRequest,
            Bytes::from(port_request("3.3.987.0").to_string()),
        )
        .unwrap();
    let frame = agent.channel.poll_transmit(now).unwrap();
    let sent = ClientMessage::decode(&frame).unwrap();
    client.handle_frame(now, &frame).unwrap();
    let ack = ClientMessage::decode(&client.poll_transmit(now).unwrap()).unwrap();
    assert_eq!(ack.message_type, MessageType::Acknowledge);
    let content = AcknowledgeContent::from_bytes(&ack.payload).unwrap();
    assert_eq!(content, AcknowledgeContent::for_message(&sent));
    assert_eq!(content.acknowledged_message_type, "output_stream_data");
}
