//! The client end of a port session: handshake plus data channel.
//!
//! [`ClientSession`] wraps a [`DataChannel`] in the client role and runs
//! the handshake of protocol.md §6: it answers the agent's
//! HandshakeRequest (SessionType `Port` → success; KMS encryption and
//! other session types are refused with a clear error), waits for
//! HandshakeComplete, decides the port mode with the plugin's rules, and
//! only then lets Output data through. Data offered earlier is refused
//! with [`SendError::HandshakeIncomplete`], because the agent would
//! acknowledge and silently discard it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use thiserror::Error;
use tracing::{debug, trace};

use crate::channel::{ChannelConfig, DataChannel, Event};
use crate::error::{DecodeError, PayloadError, ReceiveError, SendError};
use crate::message::{ClientMessage, PayloadType};
use crate::payload::{
    ActionStatus, ActionType, ChannelClosed, Flag, HandshakeComplete, HandshakeRequest,
    HandshakeResponse, PortProperties, ProcessedClientAction, RequestedClientAction,
    SessionTypeRequest,
};
use crate::version::{CLIENT_VERSION, PortMode, client_port_mode};

/// The only agent session plugin this client runs.
pub const PORT_SESSION_TYPE: &str = "Port";

/// Settings of a [`ClientSession`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The data-channel limits and policies (role must be client).
    pub channel: ChannelConfig,
    /// The `ClientVersion` we report; keep it four numeric parts above
    /// 1.2.331.0 (see [`crate::version`]).
    pub client_version: String,
    /// How long to wait for HandshakeComplete after the session starts.
    /// The agent gives up after 15 s of its own; 30 s leaves room for a
    /// late first connect.
    pub handshake_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::client(),
            client_version: CLIENT_VERSION.to_owned(),
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// What the handshake established.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The agent's version string.
    pub agent_version: String,
    /// The agent's session plugin (`Port`).
    pub session_type: String,
    /// The port document's properties.
    pub properties: PortProperties,
    /// The raw properties object as the agent sent it.
    pub raw_properties: Value,
    /// How port data travels, by the plugin's rules.
    pub mode: PortMode,
    /// Text the agent wants shown (empty for port sessions).
    pub customer_message: String,
    /// The agent's measure of the handshake duration.
    pub handshake_time: Duration,
}

/// Why the handshake failed. The session cannot be used; end it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The document runs a session type other than `Port` (e.g. a shell).
    #[error("session type {0:?} is not supported: ssm-forward only does port forwarding")]
    UnsupportedSessionType(String),
    /// The agent asked for KMS encryption, which port sessions never use.
    #[error("the agent requested KMS encryption, which this client does not support")]
    EncryptionRequested,
    /// The agent asked for an action we do not know.
    #[error("the agent requested unsupported handshake action {0:?}")]
    UnsupportedAction(String),
    /// HandshakeComplete arrived without a SessionType action before it.
    #[error("the handshake completed without telling the session type")]
    MissingSessionType,
    /// A handshake payload was malformed.
    #[error("malformed handshake payload: {0}")]
    InvalidPayload(#[from] PayloadError),
    /// No HandshakeComplete within the configured timeout.
    #[error("the agent did not complete the handshake within {0:?}")]
    TimedOut(Duration),
}

/// Something the driver must react to.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The session is ready: start forwarding.
    HandshakeComplete(SessionInfo),
    /// The session cannot work; end it.
    HandshakeFailed(HandshakeError),
    /// A control flag from the agent (e.g. ConnectToPortError).
    Flag(Flag),
    /// The gateway ended the session; `describe()` gives the user text.
    ChannelClosed(ChannelClosed),
    /// The gateway paused our sending.
    Paused,
    /// Sending resumed.
    Resumed,
}

#[derive(Debug)]
enum State {
    AwaitingRequest,
    AwaitingComplete(Option<SessionInfo>),
    Ready(SessionInfo),
    Ended,
}

/// Client end of one Session Manager port session (sans-IO).
///
/// Drive it like [`DataChannel`]; in addition pull Output bytes with
/// [`Self::poll_output`] and react to [`Self::poll_event`].
#[derive(Debug)]
pub struct ClientSession {
    channel: DataChannel,
    state: State,
    events: VecDeque<SessionEvent>,
    client_version: String,
    handshake_deadline: Instant,
    handshake_timeout: Duration,
}

impl ClientSession {
    /// A session waiting for the agent's HandshakeRequest.
    pub fn new(config: SessionConfig, now: Instant, unix_ms_at_now: u64, id_seed: u64) -> Self {
        Self {
            channel: DataChannel::new(config.channel, now, unix_ms_at_now, id_seed),
            state: State::AwaitingRequest,
            events: VecDeque::new(),
            client_version: config.client_version,
            handshake_deadline: now + config.handshake_timeout,
            handshake_timeout: config.handshake_timeout,
        }
    }

    /// Processes one received binary frame (see [`DataChannel::handle_frame`]).
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), ReceiveError> {
        let result = self.channel.handle_frame(now, frame);
        self.process(now);
        result
    }

    /// [`Self::handle_frame`] for a frame already decoded (see
    /// [`DataChannel::handle_decoded`]).
    pub fn handle_decoded(
        &mut self,
        now: Instant,
        decoded: Result<ClientMessage, DecodeError>,
    ) -> Result<(), ReceiveError> {
        let result = self.channel.handle_decoded(now, decoded);
        self.process(now);
        result
    }

    /// Runs timers: retransmission and the handshake deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.channel.handle_timeout(now);
        let waiting = matches!(
            self.state,
            State::AwaitingRequest | State::AwaitingComplete(_)
        );
        if waiting && now >= self.handshake_deadline {
            self.fail(HandshakeError::TimedOut(self.handshake_timeout));
        }
    }

    /// A new socket replaced a lost one (see [`DataChannel::handle_reconnect`]);
    /// a pause it clears shows up as [`SessionEvent::Resumed`].
    pub fn handle_reconnect(&mut self) {
        self.channel.handle_reconnect();
        self.drain_channel_events();
    }

    /// Queues Output bytes (one message; split into ≤ 1024-byte chunks
    /// before calling for the best compatibility).
    pub fn send_output(&mut self, now: Instant, data: Bytes) -> Result<i64, SendError> {
        self.ensure_ready()?;
        self.channel.send(now, PayloadType::Output, data)
    }

    /// Queues a control flag (DisconnectToPort, TerminateSession).
    pub fn send_flag(&mut self, now: Instant, flag: Flag) -> Result<i64, SendError> {
        self.ensure_ready()?;
        self.channel.send(now, PayloadType::Flag, flag.to_bytes())
    }

    fn ensure_ready(&self) -> Result<(), SendError> {
        match self.state {
            State::Ready(_) => Ok(()),
            State::Ended => Err(SendError::SessionEnded),
            _ => Err(SendError::HandshakeIncomplete),
        }
    }

    /// The next frame to write (see [`DataChannel::poll_transmit`]).
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Bytes> {
        self.channel.poll_transmit(now)
    }

    /// The next timer deadline, including the handshake deadline.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let channel = self.channel.poll_timeout();
        let handshake = match self.state {
            State::AwaitingRequest | State::AwaitingComplete(_) => Some(self.handshake_deadline),
            _ => None,
        };
        match (channel, handshake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// The next Output payload from the agent, in order. Stop calling it
    /// to apply backpressure; control messages behind data wait too.
    #[must_use]
    pub fn poll_output(&mut self, now: Instant) -> Option<Bytes> {
        let message = match self.channel.peek_delivery() {
            Some(message) if message.payload_type == PayloadType::Output => {
                self.channel.poll_delivery()?
            }
            _ => return None,
        };
        self.process(now);
        Some(message.payload)
    }

    /// The handshake result, once complete.
    pub fn info(&self) -> Option<&SessionInfo> {
        match &self.state {
            State::Ready(info) => Some(info),
            _ => None,
        }
    }

    /// True once Output may be sent.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Ready(_))
    }

    /// True after a failed handshake or channel_closed.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// The underlying channel (stats, capacity, pause state).
    pub fn channel(&self) -> &DataChannel {
        &self.channel
    }

    /// Mutable access to the channel (e.g. [`DataChannel::set_accepting`]).
    pub fn channel_mut(&mut self) -> &mut DataChannel {
        &mut self.channel
    }

    /// Handles channel events and every in-order message that is not
    /// Output data waiting for the application.
    fn process(&mut self, now: Instant) {
        self.drain_channel_events();
        while let Some(head) = self.channel.peek_delivery() {
            if head.payload_type == PayloadType::Output && self.is_ready() {
                break;
            }
            let Some(message) = self.channel.poll_delivery() else {
                break;
            };
            self.on_control_message(now, message);
        }
    }

    fn drain_channel_events(&mut self) {
        while let Some(event) = self.channel.poll_event() {
            self.on_channel_event(event);
        }
    }

    fn on_channel_event(&mut self, event: Event) {
        let mapped = match event {
            Event::ChannelClosed(closed) => {
                self.state = State::Ended;
                SessionEvent::ChannelClosed(closed)
            }
            Event::Paused => SessionEvent::Paused,
            Event::Resumed => SessionEvent::Resumed,
        };
        self.events.push_back(mapped);
    }

    fn on_control_message(&mut self, now: Instant, message: ClientMessage) {
        trace!(seq = message.sequence_number, payload_type = ?message.payload_type, "in-band message");
        match message.payload_type {
            PayloadType::HandshakeRequest => self.on_handshake_request(now, &message.payload),
            PayloadType::HandshakeComplete => self.on_handshake_complete(&message.payload),
            PayloadType::EncChallengeRequest => self.fail(HandshakeError::EncryptionRequested),
            PayloadType::Flag => match Flag::from_bytes(&message.payload) {
                Ok(flag) => self.events.push_back(SessionEvent::Flag(flag)),
                Err(error) => debug!(%error, "ignoring malformed flag"),
            },
            PayloadType::Output => debug!(
                len = message.payload.len(),
                "dropping output received before the handshake"
            ),
            other => debug!(payload_type = ?other, "ignoring payload type"),
        }
    }

    fn on_handshake_request(&mut self, now: Instant, payload: &[u8]) {
        if !matches!(self.state, State::AwaitingRequest) {
            debug!("ignoring repeated handshake request");
            return;
        }
        let request = match HandshakeRequest::from_bytes(payload) {
            Ok(request) => request,
            Err(error) => return self.fail(error.into()),
        };
        let mut answers = Vec::new();
        let mut info = None;
        let mut failure = None;
        for action in &request.requested_client_actions {
            let (answer, outcome) = answer_action(action, &request.agent_version);
            answers.push(answer);
            match outcome {
                Ok(Some(found)) => info = Some(found),
                Ok(None) => {}
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        let response = HandshakeResponse {
            client_version: self.client_version.clone(),
            processed_client_actions: answers,
            errors: None,
        };
        debug!(agent_version = %request.agent_version, "answering handshake request");
        if let Err(error) =
            self.channel
                .send(now, PayloadType::HandshakeResponse, response.to_bytes())
        {
            debug!(%error, "could not queue handshake response");
        }
        match failure {
            Some(error) => self.fail(error),
            None => self.state = State::AwaitingComplete(info),
        }
    }

    fn on_handshake_complete(&mut self, payload: &[u8]) {
        let State::AwaitingComplete(info) = &mut self.state else {
            debug!("ignoring unexpected handshake complete");
            return;
        };
        let Some(mut info) = info.take() else {
            return self.fail(HandshakeError::MissingSessionType);
        };
        let complete = match HandshakeComplete::from_bytes(payload) {
            Ok(complete) => complete,
            Err(error) => return self.fail(error.into()),
        };
        info.customer_message = complete.customer_message;
        info.handshake_time =
            Duration::from_nanos(complete.handshake_time_to_complete.max(0) as u64);
        debug!(mode = ?info.mode, agent_version = %info.agent_version, "handshake complete");
        self.state = State::Ready(info.clone());
        self.events.push_back(SessionEvent::HandshakeComplete(info));
    }

    fn fail(&mut self, error: HandshakeError) {
        debug!(%error, "handshake failed");
        self.state = State::Ended;
        self.events.push_back(SessionEvent::HandshakeFailed(error));
    }
}

type ActionOutcome = Result<Option<SessionInfo>, HandshakeError>;

/// Answers one requested action; returns the answer and what it means.
fn answer_action(
    action: &RequestedClientAction,
    agent_version: &str,
) -> (ProcessedClientAction, ActionOutcome) {
    let answer = |status, error: String| ProcessedClientAction {
        action_type: action.action_type.clone(),
        action_status: status,
        action_result: Value::Null,
        error,
    };
    match &action.action_type {
        ActionType::SessionType => {
            match serde_json::from_value::<SessionTypeRequest>(action.action_parameters.clone()) {
                Ok(request) if request.session_type == PORT_SESSION_TYPE => {
                    let info = port_session_info(request, agent_version);
                    (answer(ActionStatus::Success, String::new()), Ok(Some(info)))
                }
                Ok(request) => {
                    let error = HandshakeError::UnsupportedSessionType(request.session_type);
                    (answer(ActionStatus::Failed, error.to_string()), Err(error))
                }
                Err(error) => {
                    let error = HandshakeError::InvalidPayload(PayloadError::InvalidJson {
                        what: "SessionType parameters",
                        reason: error.to_string(),
                    });
                    (answer(ActionStatus::Failed, error.to_string()), Err(error))
                }
            }
        }
        ActionType::KmsEncryption => {
            let error = HandshakeError::EncryptionRequested;
            (answer(ActionStatus::Failed, error.to_string()), Err(error))
        }
        ActionType::Other(name) => {
            let error = HandshakeError::UnsupportedAction(name.clone());
            (
                answer(ActionStatus::Unsupported, error.to_string()),
                Err(error),
            )
        }
    }
}

fn port_session_info(request: SessionTypeRequest, agent_version: &str) -> SessionInfo {
    let properties = PortProperties::from_value(&request.properties);
    SessionInfo {
        agent_version: agent_version.to_owned(),
        mode: client_port_mode(properties.port_type.as_deref(), agent_version),
        session_type: request.session_type,
        properties,
        raw_properties: request.properties,
        customer_message: String::new(),
        handshake_time: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests;
