//! One authenticated client socket relayed to its session's agent.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use ssm_proto::message::{ClientMessage, MessageType, PayloadType, peek_message_type};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tracing::debug;

use super::faults::FaultInjector;
use super::rate::RateMeter;
use crate::config::SimConfig;
use crate::limits::FAR_FUTURE;
use crate::messages::{AgentInput, ToClient};
use crate::stats::SessionCounters;

/// Frames queued from the agent to this socket.
const TO_CLIENT_QUEUE: usize = 1024;
/// Source of connection ids (0 means "none").
static NEXT_CONNECTION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Why the relay stopped.
#[derive(Debug)]
enum Exit {
    /// The client closed or broke the socket.
    ClientGone,
    /// We close it with a close frame.
    Close(u16, String),
    /// We drop it without a close frame.
    Abort,
}

/// Frames waiting out the configured one-way latency.
#[derive(Debug, Default)]
struct DelayLine {
    queue: VecDeque<(Instant, Bytes)>,
}

impl DelayLine {
    fn push(&mut self, at: Instant, frame: Bytes) {
        self.queue.push_back((at, frame));
    }

    fn pop_due(&mut self, now: Instant) -> Option<Bytes> {
        if self.queue.front()?.0 <= now {
            self.queue.pop_front().map(|(_, f)| f)
        } else {
            None
        }
    }

    fn next(&self) -> Option<Instant> {
        self.queue.front().map(|(at, _)| *at)
    }
}

/// Injected pause_publication / start_publication schedule.
#[derive(Debug)]
struct PauseSchedule {
    every: Duration,
    length: Duration,
    next_pause: Instant,
    resume_at: Option<Instant>,
}

pub(super) struct Connection {
    id: u64,
    ws: WebSocketStream<TcpStream>,
    agent: mpsc::UnboundedSender<AgentInput>,
    from_agent: mpsc::Receiver<ToClient>,
    counters: Arc<SessionCounters>,
    latency: Duration,
    up: DelayLine,
    down: DelayLine,
    faults_up: Option<FaultInjector>,
    faults_down: Option<FaultInjector>,
    rate: Option<RateMeter>,
    recycle_at: Option<Instant>,
    /// Dropped at this time unless something arrives from the client.
    silent_until: Option<Instant>,
    ping_timeout: Option<Duration>,
    abort_at: Option<Instant>,
    abort_after_messages: Option<u64>,
    relayed: u64,
    pauses: Option<PauseSchedule>,
    closing: Option<(u16, String)>,
    /// Injected freeze: the socket is held open but never served again.
    frozen: bool,
    /// The agent hung up while frames still waited out the latency: send
    /// them (and any close) before ending.
    agent_gone: bool,
}

impl Connection {
    pub(super) fn new(
        ws: WebSocketStream<TcpStream>,
        agent: mpsc::UnboundedSender<AgentInput>,
        counters: Arc<SessionCounters>,
        config: &SimConfig,
    ) -> Self {
        let now = Instant::now();
        let (to_client, from_agent) = mpsc::channel(TO_CLIENT_QUEUE);
        let id = NEXT_CONNECTION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = agent.send(AgentInput::Attached {
            connection: id,
            sender: to_client,
        });
        let faults = &config.faults;
        let connection_salt = counters
            .connections
            .load(std::sync::atomic::Ordering::Relaxed);
        let injector = |salt| {
            faults
                .has_message_faults()
                .then(|| FaultInjector::new(faults, salt))
        };
        let realism = &config.realism;
        Self {
            id,
            ws,
            agent,
            from_agent,
            latency: realism.latency,
            up: DelayLine::default(),
            down: DelayLine::default(),
            faults_up: injector(connection_salt * 2 + 1),
            faults_down: injector(connection_salt * 2 + 2),
            rate: realism
                .client_rate_limit
                .map(|limit| RateMeter::new(limit, realism.rate_limit_seconds, now)),
            recycle_at: realism.recycle_after.map(|after| now + after),
            silent_until: realism.ping_timeout.map(|after| now + after),
            ping_timeout: realism.ping_timeout,
            abort_at: faults.close_after.map(|after| now + after),
            abort_after_messages: faults.close_after_messages,
            relayed: 0,
            pauses: faults.pause_every.map(|every| PauseSchedule {
                every,
                length: faults.pause_length,
                next_pause: now + every,
                resume_at: None,
            }),
            closing: None,
            frozen: false,
            agent_gone: false,
            counters,
        }
    }

    pub(super) async fn run(mut self) {
        let exit = loop {
            if let Some(exit) = self.step().await {
                break exit;
            }
        };
        let _ = self.agent.send(AgentInput::Detached {
            connection: self.id,
        });
        self.shut(exit).await;
    }

    async fn step(&mut self) -> Option<Exit> {
        if self.frozen {
            return self.step_frozen().await;
        }
        let deadline = self
            .next_deadline()
            .unwrap_or_else(|| Instant::now() + FAR_FUTURE);
        tokio::select! {
            message = self.ws.next() => {
                self.heard_from_client();
                match message {
                    Some(Ok(Message::Binary(frame))) => self.relay_client_frame(frame),
                    Some(Ok(Message::Text(_))) => {
                        debug!("ignoring text frame after OpenDataChannel");
                        None
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Some(Exit::ClientGone),
                    Some(Ok(_)) => None,
                }
            },
            item = self.from_agent.recv(), if !self.agent_gone => match item {
                Some(ToClient::Frame(frame)) => self.relay_agent_frame(frame).await,
                Some(ToClient::Close(code, reason)) if self.down.queue.is_empty() => Some(Exit::Close(code, reason)),
                Some(ToClient::Close(code, reason)) => {
                    // Frames still waiting out the latency go first.
                    self.closing = Some((code, reason));
                    None
                }
                None if self.closing.is_some() || !self.down.queue.is_empty() => {
                    self.agent_gone = true;
                    None
                }
                Some(ToClient::Abort) | None => Some(Exit::Abort),
                Some(ToClient::Freeze) => {
                    debug!(connection = self.id, "socket frozen by injection");
                    self.frozen = true;
                    None
                }
            },
            () = tokio::time::sleep_until(deadline.into()) => self.on_timer(Instant::now()).await,
        }
    }

    /// Anything from the client, a ping included, restarts the ping timeout.
    fn heard_from_client(&mut self) {
        if let Some(after) = self.ping_timeout {
            self.silent_until = Some(Instant::now() + after);
        }
    }

    /// A frozen socket only waits to be replaced: agent frames are dropped
    /// (the agent resends them on the next socket) and the WebSocket is
    /// not polled, so pings go unanswered.
    async fn step_frozen(&mut self) -> Option<Exit> {
        match self.from_agent.recv().await {
            Some(ToClient::Abort) | None => Some(Exit::Abort),
            Some(_) => None,
        }
    }

    fn relay_client_frame(&mut self, frame: Bytes) -> Option<Exit> {
        let now = Instant::now();
        if let Some(exit) = self.count_relayed() {
            return Some(exit);
        }
        if peek_message_type(&frame) == Some(MessageType::InputStreamData)
            && let Some(rate) = &mut self.rate
            && rate.record(now)
        {
            SessionCounters::add(&self.counters.rate_limit_closes, 1);
            return Some(Exit::Close(1008, "message rate limit exceeded".into()));
        }
        let frames = match &mut self.faults_up {
            Some(faults) => faults.apply(frame, &self.counters),
            None => vec![frame],
        };
        for frame in frames {
            if self.latency.is_zero() {
                let _ = self.agent.send(AgentInput::Frame(frame));
            } else {
                self.up.push(now + self.latency, frame);
            }
        }
        None
    }

    async fn relay_agent_frame(&mut self, frame: Bytes) -> Option<Exit> {
        if let Some(exit) = self.count_relayed() {
            return Some(exit);
        }
        let frames = match &mut self.faults_down {
            Some(faults) => faults.apply(frame, &self.counters),
            None => vec![frame],
        };
        let now = Instant::now();
        for frame in frames {
            if self.latency.is_zero() {
                if self.ws.send(Message::Binary(frame)).await.is_err() {
                    return Some(Exit::ClientGone);
                }
            } else {
                self.down.push(now + self.latency, frame);
            }
        }
        None
    }

    fn count_relayed(&mut self) -> Option<Exit> {
        self.relayed += 1;
        if self
            .abort_after_messages
            .is_some_and(|limit| self.relayed > limit)
        {
            SessionCounters::add(&self.counters.abrupt_closes, 1);
            return Some(Exit::Abort);
        }
        None
    }

    async fn on_timer(&mut self, now: Instant) -> Option<Exit> {
        while let Some(frame) = self.up.pop_due(now) {
            let _ = self.agent.send(AgentInput::Frame(frame));
        }
        while let Some(frame) = self.down.pop_due(now) {
            if self.ws.send(Message::Binary(frame)).await.is_err() {
                return Some(Exit::ClientGone);
            }
        }
        if self.down.queue.is_empty()
            && let Some((code, reason)) = self.closing.take()
        {
            return Some(Exit::Close(code, reason));
        }
        if self.agent_gone && self.down.queue.is_empty() {
            return Some(Exit::Abort);
        }
        if self.recycle_at.is_some_and(|at| at <= now) {
            SessionCounters::add(&self.counters.recycles, 1);
            return Some(Exit::Close(1000, "Bye".into()));
        }
        if self.abort_at.is_some_and(|at| at <= now) {
            SessionCounters::add(&self.counters.abrupt_closes, 1);
            return Some(Exit::Abort);
        }
        if self.silent_until.is_some_and(|at| at <= now) {
            debug!(
                connection = self.id,
                "nothing from the client: ping timeout"
            );
            SessionCounters::add(&self.counters.ping_timeouts, 1);
            return Some(Exit::Abort);
        }
        self.run_pause_schedule(now).await
    }

    async fn run_pause_schedule(&mut self, now: Instant) -> Option<Exit> {
        let schedule = self.pauses.as_mut()?;
        let kind = match schedule.resume_at {
            Some(at) if at <= now => {
                schedule.resume_at = None;
                schedule.next_pause = now + schedule.every;
                MessageType::StartPublication
            }
            None if schedule.next_pause <= now => {
                schedule.resume_at = Some(now + schedule.length);
                SessionCounters::add(&self.counters.pauses_sent, 1);
                MessageType::PausePublication
            }
            _ => return None,
        };
        let frame = publication_notice(kind);
        match self.ws.send(Message::Binary(frame)).await {
            Ok(()) => None,
            Err(_) => Some(Exit::ClientGone),
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let pause = self
            .pauses
            .as_ref()
            .map(|s| s.resume_at.unwrap_or(s.next_pause));
        [
            self.up.next(),
            self.down.next(),
            self.recycle_at,
            self.silent_until,
            self.abort_at,
            pause,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn shut(mut self, exit: Exit) {
        match exit {
            Exit::Close(code, reason) => {
                debug!(code, %reason, "closing client socket");
                let frame = CloseFrame {
                    code: code.into(),
                    reason: reason.into(),
                };
                let _ = self.ws.send(Message::Close(Some(frame))).await;
                let _ = self.ws.close(None).await;
            }
            Exit::Abort => debug!("dropping client socket"),
            Exit::ClientGone => debug!("client went away"),
        }
    }
}

/// A gateway pause/start notice (unsequenced, empty payload).
pub(crate) fn publication_notice(kind: MessageType) -> Bytes {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(1);
    ClientMessage::new(
        kind,
        created,
        0,
        0,
        uuid::Uuid::new_v4(),
        PayloadType::Undefined,
        Bytes::new(),
    )
    .encode()
}
