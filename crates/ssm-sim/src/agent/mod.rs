//! The simulated SSM agent: one task per session.
//!
//! The task owns the agent end of the data channel (an
//! [`ssm_proto::channel::DataChannel`] in the agent role, resending only
//! the oldest unacked message like the real agent), runs the handshake,
//! picks mux or basic mode from the client's version with the agent's own
//! rules, and drives the port plugin. It also plays the gateway's part in
//! ending a session: it sends `channel_closed` to the client and records
//! the end in the registry. Client sockets come and go through
//! [`AgentInput::Attached`] / [`AgentInput::Detached`]; the channel state
//! survives them.

mod basic;
mod handshake;
mod mux;
mod port;
mod race;
mod shell;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use ssm_proto::channel::{ChannelConfig, DataChannel, ResendBackoff, RtoConfig};
use ssm_proto::message::{ClientMessage, MessageType, PayloadType};
use ssm_proto::payload::{ChannelClosed, Flag};
use ssm_proto::version::{
    MUX_AFTER_AGENT_VERSION, PortMode, SMUX_KEEPALIVE_OFF_AFTER_AGENT_VERSION, agent_port_mode,
    plugin_is_newer,
};
use tokio::sync::mpsc;
use tokio::sync::mpsc::OwnedPermit;
use tracing::{Instrument, debug, info, info_span};

use crate::config::{AgentBackoff, DetachedOutput, InstanceConfig, SimConfig, TerminateNotice};
use crate::hostile::{self, Hostile};
use crate::limits::FAR_FUTURE;
use crate::messages::{AgentInput, ToClient};
use crate::registry::{EndCause, Registry, SessionStatus};
use crate::stats::SessionCounters;
use port::{Destination, PortHandle, PortInput, PortOutput, PortSettings};
use race::SendBeforeBuffer;

/// What an agent task needs to run a session.
#[derive(Debug)]
pub struct AgentSpec {
    /// The session id.
    pub session_id: String,
    /// The target instance.
    pub instance: InstanceConfig,
    /// Agent plugin name (`Port`, `Standard_Stream`).
    pub session_type: String,
    /// Handshake properties.
    pub properties: Value,
    /// Simulator configuration.
    pub config: Arc<SimConfig>,
    /// Session table, to record the end.
    pub registry: Arc<Registry>,
    /// Counters to update.
    pub counters: Arc<SessionCounters>,
    /// Inputs from the API and gateway.
    pub inputs: mpsc::UnboundedReceiver<AgentInput>,
}

/// Starts the agent task of a session.
pub fn spawn(spec: AgentSpec) {
    let span = info_span!("agent", session = %spec.session_id);
    tokio::spawn(Agent::new(spec).run().instrument(span));
}

/// How a session ends: final status, cause and the channel_closed text.
#[derive(Debug, Clone)]
struct Ending {
    status: SessionStatus,
    cause: EndCause,
    output: String,
}

#[derive(Debug)]
enum Phase {
    /// Waiting to send the HandshakeRequest (fault: handshake delay).
    Starting { send_at: Instant },
    /// Request sent; waiting for the response.
    AwaitingResponse { sent: Instant },
    /// Handshake complete; the port plugin runs.
    Running,
    /// Draining outstanding output before channel_closed.
    Ending { deadline: Instant, ending: Ending },
    /// Over.
    Done,
}

struct Agent {
    spec: AgentSpec,
    channel: DataChannel,
    client: Option<mpsc::Sender<ToClient>>,
    client_connection: u64,
    phase: Phase,
    port: Option<PortHandle>,
    port_ready_at: Option<Instant>,
    /// Hostile behaviours still to do once the port plugin is ready.
    hostile_at_ready: Vec<Hostile>,
    started: Instant,
    last_activity: Instant,
    race: SendBeforeBuffer,
}

impl Agent {
    fn new(spec: AgentSpec) -> Self {
        let now = Instant::now();
        let channel = DataChannel::new(
            channel_config(&spec.config),
            now,
            unix_ms(),
            fastrand::u64(..),
        );
        let race = SendBeforeBuffer::new(
            spec.config.realism.send_before_buffer,
            spec.config.faults.seed ^ fastrand::u64(..),
        );
        let send_at = now + spec.config.faults.handshake_delay;
        let hostile_at_ready = spec.config.faults.hostile.clone();
        Self {
            spec,
            hostile_at_ready,
            channel,
            client: None,
            client_connection: 0,
            phase: Phase::Starting { send_at },
            port: None,
            port_ready_at: None,
            started: now,
            last_activity: now,
            race,
        }
    }

    async fn run(mut self) {
        info!("agent started");
        while !matches!(self.phase, Phase::Done) {
            self.flush().await;
            self.sync_stats();
            self.step().await;
            self.process_control(Instant::now());
        }
        self.flush().await;
        self.sync_stats();
        info!("agent finished");
    }

    /// Waits for the next input, plugin output, delivery slot or timer.
    async fn step(&mut self) {
        let deadline = self
            .next_deadline()
            .unwrap_or_else(|| Instant::now() + FAR_FUTURE);
        let to_port = self.port.as_ref().map(|port| port.input.clone());
        // The real agent never sees the client's socket: it keeps reading
        // its destination while the client is away (the gateway buffers or
        // drops what it sends).
        let can_send = !self.channel.is_paused() && self.channel.send_capacity() > 0;
        let has_delivery =
            matches!(self.phase, Phase::Running) && self.channel.peek_delivery().is_some();
        tokio::select! {
            input = self.spec.inputs.recv() => match input {
                Some(input) => self.on_input(input),
                None => self.begin_ending(Ending { status: SessionStatus::Terminated, cause: EndCause::Shutdown, output: String::new() }, false),
            },
            output = recv_port(&mut self.port), if can_send => self.on_port_output(output),
            permit = reserve(to_port), if has_delivery => self.deliver(permit),
            () = tokio::time::sleep_until(deadline.into()) => self.on_timer(Instant::now()),
        }
    }

    fn on_input(&mut self, input: AgentInput) {
        let now = Instant::now();
        match input {
            AgentInput::Attached { connection, sender } => {
                debug!(connection, "client attached");
                SessionCounters::add(&self.spec.counters.connections, 1);
                self.client = Some(sender);
                self.client_connection = connection;
                if self.spec.config.gateway.detached_output == DetachedOutput::Buffer {
                    // What the lost socket may not have delivered goes
                    // again; under Drop the agent, unaware, resends as usual.
                    self.channel.handle_reconnect();
                }
            }
            AgentInput::Detached { connection } if connection == self.client_connection => {
                debug!(connection, "client detached");
                self.client = None;
            }
            AgentInput::Detached { connection } => debug!(connection, "replaced socket detached"),
            AgentInput::Frame(frame) => self.on_client_frame(now, &frame),
            AgentInput::Terminate(cause) => {
                let ending = Ending {
                    status: SessionStatus::Terminated,
                    cause,
                    output: String::new(),
                };
                self.begin_ending(ending, true);
            }
            AgentInput::Lost => {
                let ending = Ending {
                    status: SessionStatus::Failed,
                    cause: EndCause::InstanceLost,
                    output: format!("{} is no longer connected.", self.spec.instance.id),
                };
                self.begin_ending(ending, false);
            }
            AgentInput::Inject(item) => {
                if let Some(client) = &self.client {
                    let _ = client.try_send(item);
                }
            }
            AgentInput::Hostile(kind) => self.on_hostile(now, kind),
        }
    }

    fn on_client_frame(&mut self, now: Instant, frame: &[u8]) {
        let decoded = ClientMessage::decode(frame);
        if let Ok(message) = &decoded
            && self.race.loses_ack(message)
        {
            debug!("ack lost to the send-before-buffer race");
            SessionCounters::add(&self.spec.counters.race_lost_acks, 1);
            return;
        }
        if let Err(error) = self.channel.handle_decoded(now, decoded) {
            debug!(%error, "dropping client frame");
        }
    }

    /// Carries out a hostile behaviour: a raw frame to the client, an
    /// unknown PayloadType through the channel, or plugin output.
    fn on_hostile(&mut self, now: Instant, kind: Hostile) {
        let counters = &self.spec.counters;
        if let Some(frame) = kind.raw_frame(self.channel.next_sequence(), unix_ms()) {
            match &self.client {
                Some(client) if client.try_send(ToClient::Frame(frame)).is_ok() => {
                    info!(%kind, "hostile frame sent");
                    SessionCounters::add(&counters.hostile_injections, 1);
                }
                _ => debug!(%kind, "no client socket; hostile frame not sent"),
            }
            return;
        }
        match kind {
            Hostile::UnknownPayloadType => {
                let payload_type = PayloadType::Unknown(hostile::UNKNOWN_PAYLOAD_TYPE);
                let payload = Bytes::from_static(hostile::POISON);
                match self.channel.send(now, payload_type, payload) {
                    Ok(seq) => {
                        info!(%kind, seq, "hostile message queued");
                        SessionCounters::add(&counters.hostile_injections, 1);
                    }
                    Err(error) => debug!(%kind, %error, "hostile message not queued"),
                }
            }
            _ => match self.port.as_ref().and_then(|port| port.hostile.as_ref()) {
                Some(plugin) => {
                    info!(%kind, "hostile output requested from the port plugin");
                    let _ = plugin.send(kind);
                }
                None => debug!(%kind, "no port plugin running; ignored"),
            },
        }
    }

    fn on_port_output(&mut self, output: Option<PortOutput>) {
        let now = Instant::now();
        let result = match output {
            Some(PortOutput::Data(bytes)) => {
                self.last_activity = now;
                SessionCounters::add(&self.spec.counters.agent_bytes, bytes.len() as u64);
                let queued = self.channel.send(now, PayloadType::Output, bytes);
                if let Ok(seq) = queued {
                    self.race.on_queued(seq);
                }
                queued
            }
            Some(PortOutput::ConnectError) => {
                self.channel
                    .send(now, PayloadType::Flag, Flag::ConnectToPortError.to_bytes())
            }
            Some(PortOutput::Failed(text)) => {
                let ending = Ending {
                    status: SessionStatus::Failed,
                    cause: EndCause::PortFailed(text.clone()),
                    output: text,
                };
                return self.begin_ending(ending, false);
            }
            None => {
                // Only mux mode gets here: its smux session died (keep-alive
                // timeout). The real agent's WritePump then returns and the
                // session ends; it does not linger with a dead plugin.
                self.port = None;
                if matches!(self.phase, Phase::Running) {
                    let ending = Ending {
                        status: SessionStatus::Failed,
                        cause: EndCause::PortFailed("smux session ended".into()),
                        output: String::new(),
                    };
                    self.begin_ending(ending, false);
                }
                return;
            }
        };
        if let Err(error) = result {
            debug!(%error, "could not queue agent output");
        }
    }

    /// Hands the next in-order client message to the plugin.
    fn deliver(&mut self, permit: Option<OwnedPermit<PortInput>>) {
        let (Some(permit), Some(message)) = (permit, self.channel.poll_delivery()) else {
            return;
        };
        match message.payload_type {
            PayloadType::Output => {
                self.last_activity = Instant::now();
                SessionCounters::add(
                    &self.spec.counters.client_bytes,
                    message.payload.len() as u64,
                );
                permit.send(PortInput::Data(message.payload));
            }
            PayloadType::Flag => match Flag::from_bytes(&message.payload) {
                Ok(Flag::DisconnectToPort) => {
                    permit.send(PortInput::Disconnect);
                }
                Ok(Flag::TerminateSession) => {
                    SessionCounters::add(&self.spec.counters.terminate_flags, 1);
                    let ending = Ending {
                        status: SessionStatus::Terminated,
                        cause: EndCause::TerminateFlag,
                        output: String::new(),
                    };
                    self.begin_ending(ending, true);
                }
                other => debug!(?other, "ignoring flag"),
            },
            other => debug!(payload_type = ?other, "ignoring client payload"),
        }
    }

    /// Handles in-order messages before the handshake completes: the
    /// response is processed, anything else is acked and discarded.
    fn process_control(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Running) {
            return;
        }
        while let Some(message) = self.channel.poll_delivery() {
            let awaiting = matches!(self.phase, Phase::AwaitingResponse { .. });
            match message.payload_type {
                PayloadType::HandshakeResponse if awaiting => {
                    self.on_handshake_response(now, &message.payload)
                }
                _ => {
                    debug!(
                        seq = message.sequence_number,
                        "handshake in progress; discarding client data"
                    );
                    SessionCounters::add(&self.spec.counters.early_data_discarded, 1);
                }
            }
        }
    }

    fn on_handshake_response(&mut self, now: Instant, payload: &[u8]) {
        let Phase::AwaitingResponse { sent } = self.phase else {
            return;
        };
        let client_version = match handshake::check_response(payload) {
            Ok(version) => version,
            Err(text) => {
                let ending = Ending {
                    status: SessionStatus::Failed,
                    cause: EndCause::HandshakeFailed(text.clone()),
                    output: text,
                };
                return self.begin_ending(ending, false);
            }
        };
        self.port = Some(self.start_plugin(&client_version));
        self.spec.registry.starts().settled(&self.spec.session_id);
        // Complete before sending HandshakeComplete, so that client data
        // racing in right behind it is not discarded.
        self.phase = Phase::Running;
        self.last_activity = now;
        self.channel.set_accepting(false);
        self.port_ready_at = Some(now + self.spec.config.realism.port_start_delay);
        let _ = self.channel.send(
            now,
            PayloadType::HandshakeComplete,
            handshake::complete(now - sent),
        );
    }

    fn start_plugin(&self, client_version: &str) -> PortHandle {
        if self.spec.session_type != "Port" {
            return shell::start();
        }
        let port_type = self.spec.properties.get("type").and_then(Value::as_str);
        let mode =
            simulated_agent_mode(&self.spec.instance.agent_version, port_type, client_version);
        info!(?mode, %client_version, "handshake complete");
        let settings = self.port_settings();
        match mode {
            PortMode::Mux { smux_keepalive } => mux::start(settings, smux_keepalive),
            PortMode::Basic | PortMode::StandardStream => basic::start(settings),
        }
    }

    fn port_settings(&self) -> PortSettings {
        let property = |key: &str| {
            self.spec
                .properties
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let realism = &self.spec.config.realism;
        PortSettings {
            destination: Destination {
                host: property("host").to_owned(),
                port: property("portNumber").parse().unwrap_or(80),
            },
            policy: self.spec.config.destinations.clone(),
            chunk_size: realism.output_chunk_size,
            pacing: realism.output_pacing,
            counters: self.spec.counters.clone(),
        }
    }

    fn on_timer(&mut self, now: Instant) {
        self.channel.handle_timeout(now);
        if self.port_ready_at.is_some_and(|at| at <= now) {
            self.port_ready_at = None;
            self.channel.set_accepting(true);
            for kind in std::mem::take(&mut self.hostile_at_ready) {
                self.on_hostile(now, kind);
            }
        }
        match &self.phase {
            Phase::Starting { send_at } if *send_at <= now => self.send_handshake_request(now),
            Phase::AwaitingResponse { sent } if now >= *sent + handshake::HANDSHAKE_TIMEOUT => {
                let text = handshake::HANDSHAKE_TIMEOUT_TEXT.to_owned();
                self.begin_ending(
                    Ending {
                        status: SessionStatus::Failed,
                        cause: EndCause::HandshakeTimeout,
                        output: text,
                    },
                    false,
                );
            }
            Phase::Ending { deadline, ending }
                if *deadline <= now || self.channel.unacked() == 0 =>
            {
                let ending = ending.clone();
                self.finish(now, ending);
            }
            _ => self.check_session_limits(now),
        }
    }

    fn send_handshake_request(&mut self, now: Instant) {
        let payload = handshake::request(
            &self.spec.instance.agent_version,
            &self.spec.session_type,
            &self.spec.properties,
        );
        let _ = self
            .channel
            .send(now, PayloadType::HandshakeRequest, payload);
        self.phase = Phase::AwaitingResponse { sent: now };
    }

    fn check_session_limits(&mut self, now: Instant) {
        let realism = &self.spec.config.realism;
        if realism
            .max_session_duration
            .is_some_and(|max| now >= self.started + max)
        {
            let output =
                "Your session has reached the maximum session duration and has been terminated."
                    .to_owned();
            self.begin_ending(
                Ending {
                    status: SessionStatus::Terminated,
                    cause: EndCause::MaxDuration,
                    output,
                },
                false,
            );
        } else if matches!(self.phase, Phase::Running)
            && realism
                .idle_timeout
                .is_some_and(|idle| now >= self.last_activity + idle)
        {
            let output =
                "Your session timed out due to inactivity and has been terminated.".to_owned();
            self.begin_ending(
                Ending {
                    status: SessionStatus::Terminated,
                    cause: EndCause::IdleTimeout,
                    output,
                },
                false,
            );
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let realism = &self.spec.config.realism;
        let phase = match &self.phase {
            Phase::Starting { send_at } => Some(*send_at),
            Phase::AwaitingResponse { sent } => Some(*sent + handshake::HANDSHAKE_TIMEOUT),
            Phase::Ending { deadline, .. } => Some(if self.channel.unacked() == 0 {
                Instant::now()
            } else {
                *deadline
            }),
            Phase::Running => realism.idle_timeout.map(|idle| self.last_activity + idle),
            Phase::Done => None,
        };
        let max = realism.max_session_duration.map(|max| self.started + max);
        [self.channel.poll_timeout(), phase, max, self.port_ready_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Starts ending the session. With `drain`, waits up to 2 s for the
    /// client to ack outstanding output first (as the agent does on
    /// TerminateSession); otherwise ends at once.
    fn begin_ending(&mut self, ending: Ending, drain: bool) {
        if matches!(self.phase, Phase::Ending { .. } | Phase::Done) {
            return;
        }
        info!(cause = ?ending.cause, "session ending");
        self.port = None;
        self.spec.registry.with(&self.spec.session_id, |record| {
            record.status = SessionStatus::Terminating
        });
        let wait = if drain && self.client.is_some() {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        };
        self.phase = Phase::Ending {
            deadline: Instant::now() + wait,
            ending,
        };
    }

    /// Sends channel_closed, closes the socket and records the end. After
    /// the client's TerminateSession flag, what the client sees is the
    /// gateway's choice ([`TerminateNotice`]).
    fn finish(&mut self, now: Instant, ending: Ending) {
        let notice = match ending.cause {
            EndCause::TerminateFlag => self.spec.config.gateway.on_terminate,
            _ => TerminateNotice::ChannelClosed,
        };
        if let Some(client) = self.client.take() {
            if notice == TerminateNotice::ChannelClosed {
                let frame = self.channel_closed_frame(now, &ending.output);
                let _ = client.try_send(ToClient::Frame(frame));
            }
            if notice == TerminateNotice::Nothing {
                // The socket stays open and silent until the client leaves.
                tokio::spawn(async move { client.closed().await });
            } else {
                let _ = client.try_send(ToClient::Close(1000, String::new()));
            }
        }
        self.spec
            .registry
            .mark_ended(&self.spec.session_id, ending.status, ending.cause);
        self.phase = Phase::Done;
    }

    fn channel_closed_frame(&mut self, now: Instant, output: &str) -> Bytes {
        let body = ChannelClosed {
            message_id: uuid::Uuid::new_v4().to_string(),
            created_date: unix_ms().to_string(),
            destination_id: self.spec.instance.id.clone(),
            session_id: self.spec.session_id.clone(),
            message_type: MessageType::ChannelClosed.as_str().to_owned(),
            schema_version: 1,
            output: output.to_owned(),
        };
        self.channel
            .build_message(
                now,
                MessageType::ChannelClosed,
                0,
                0,
                PayloadType::Undefined,
                body.to_bytes(),
            )
            .encode()
    }

    /// Writes every pending frame to the attached client. With no client
    /// attached, pending frames wait (the gateway buffers them) or are sent
    /// into the void (the gateway drops them).
    async fn flush(&mut self) {
        let Some(client) = self.client.clone() else {
            if self.spec.config.gateway.detached_output == DetachedOutput::Drop {
                let now = Instant::now();
                while self.channel.poll_transmit(now).is_some() {
                    SessionCounters::add(&self.spec.counters.detached_dropped, 1);
                }
            }
            return;
        };
        let now = Instant::now();
        while let Some(frame) = self.channel.poll_transmit(now) {
            if client.send(ToClient::Frame(frame)).await.is_err() {
                self.client = None;
                return;
            }
        }
    }

    fn sync_stats(&self) {
        let stats = self.channel.stats();
        let counters = &self.spec.counters;
        let set = |counter: &std::sync::atomic::AtomicU64, value: u64| {
            counter.store(value, Ordering::Relaxed)
        };
        set(
            &counters.client_messages,
            stats.messages_received + stats.duplicates_received + stats.refused,
        );
        set(&counters.client_duplicates, stats.duplicates_received);
        set(&counters.client_acks, stats.acks_received);
        set(&counters.agent_messages, stats.messages_sent);
        set(&counters.agent_retransmits, stats.retransmits);
        set(&counters.agent_acks, stats.acks_sent);
        set(&counters.not_ready_refusals, stats.refused);
        let waiting_since = self.channel.oldest_unacked_since().map_or(0, |since| {
            let age = Instant::now().saturating_duration_since(since);
            unix_ms().saturating_sub(age.as_millis() as u64).max(1)
        });
        set(&counters.agent_oldest_unacked_unix_ms, waiting_since);
    }
}

/// The agent's channel: front-only resends every 100 ms tick, with the
/// configured backoff (none, like the real agent, unless a test asks).
fn channel_config(config: &SimConfig) -> ChannelConfig {
    let base = ChannelConfig::agent();
    let backoff = match config.realism.resend_backoff {
        AgentBackoff::None => ResendBackoff::None,
        AgentBackoff::Doubling => ResendBackoff::Doubling,
    };
    ChannelConfig {
        rto: RtoConfig {
            backoff,
            ..base.rto
        },
        ..base
    }
}

/// The mode an agent of `agent_version` runs: agents up to 3.0.196.0
/// predate mux; agents up to 3.1.1511.0 always run smux keepalive; newer
/// ones apply the client-version rules of [`agent_port_mode`].
fn simulated_agent_mode(
    agent_version: &str,
    port_type: Option<&str>,
    client_version: &str,
) -> PortMode {
    if !plugin_is_newer(agent_version, MUX_AFTER_AGENT_VERSION) {
        return PortMode::Basic;
    }
    match agent_port_mode(port_type, client_version) {
        PortMode::Mux { .. }
            if !plugin_is_newer(agent_version, SMUX_KEEPALIVE_OFF_AFTER_AGENT_VERSION) =>
        {
            PortMode::Mux {
                smux_keepalive: true,
            }
        }
        mode => mode,
    }
}

async fn recv_port(port: &mut Option<PortHandle>) -> Option<PortOutput> {
    match port {
        Some(port) => port.output.recv().await,
        None => std::future::pending().await,
    }
}

async fn reserve(sender: Option<mpsc::Sender<PortInput>>) -> Option<OwnedPermit<PortInput>> {
    match sender {
        Some(sender) => sender.reserve_owned().await.ok(),
        None => std::future::pending().await,
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(1)
}
