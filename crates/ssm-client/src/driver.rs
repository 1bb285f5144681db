//! The one task per session that owns the socket and the timers and
//! drives the shared core (the quinn `ConnectionDriver` pattern).
//!
//! It reads frames into the protocol core, pumps data between the core
//! and the streams, hands frames to the writer task, pings the gateway,
//! detects dead sockets, resumes after any socket loss (ResumeSession and
//! a new OpenDataChannel on the same URL, sequence state kept) with
//! capped exponential backoff for as long as the session exists, and
//! carries out terminate.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use crate::api::SessionApi;
use crate::config::ClientConfig;
use crate::core::Status;
use crate::error::{EndReason, Error};
use crate::inner::{Command, Inner};
use crate::link::{Link, WsOut};

const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365);

pub(crate) struct Driver {
    pub(crate) inner: Arc<Inner>,
    pub(crate) api: Arc<dyn SessionApi>,
    pub(crate) config: ClientConfig,
    pub(crate) stream_url: String,
    pub(crate) client_id: String,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) link: Option<Link>,
    pending: VecDeque<Bytes>,
    terminate_by: Option<Instant>,
    /// Local readers are behind (the delivery queue is full): the socket
    /// is not read, so the service's messages wait in TCP instead of being
    /// read and refused (each refused message costs the agent a 100 ms
    /// resend tick).
    input_held: bool,
    /// Why the current socket is being given up (for [`LinkStatus`]).
    loss: Option<String>,
    waiters: Vec<oneshot::Sender<()>>,
}

impl Driver {
    pub(crate) fn new(
        inner: Arc<Inner>,
        api: Arc<dyn SessionApi>,
        config: ClientConfig,
        stream_url: String,
        client_id: String,
        commands: mpsc::UnboundedReceiver<Command>,
        link: Link,
    ) -> Self {
        Self {
            inner,
            api,
            config,
            stream_url,
            client_id,
            commands,
            link: Some(link),
            pending: VecDeque::new(),
            terminate_by: None,
            input_held: false,
            loss: None,
            waiters: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        while self.step().await.is_continue() {}
        self.shut_down().await;
    }

    async fn step(&mut self) -> ControlFlow<()> {
        let timeout = self.pump(Instant::now());
        if self.is_ended() {
            return ControlFlow::Break(());
        }
        self.hand_to_writer();
        if self.terminate_due() {
            self.finish_terminate().await;
            return ControlFlow::Break(());
        }
        if self.link.as_ref().is_none_or(Link::writer_gone) {
            self.link = None;
            self.publish_loss();
            return self.reconnect().await;
        }
        self.wait(timeout).await;
        ControlFlow::Continue(())
    }

    /// Pumps the core and collects frames to send; returns the core's next timer.
    fn pump(&mut self, now: Instant) -> Option<Instant> {
        let mut core = self.inner.lock();
        let room = self.link.as_ref().map(|link| link.writer.capacity());
        core.pump_transmit(now, room, &mut self.pending);
        let held = core.input_held();
        if held != self.input_held {
            debug!(held, "local readers behind; socket reads paused or resumed");
            self.input_held = held;
        }
        self.inner.publish(&mut core);
        core.next_timeout()
    }

    /// Tells watchers the socket is gone.
    fn publish_loss(&mut self) {
        let reason = self
            .loss
            .take()
            .unwrap_or_else(|| "the socket writer failed".to_owned());
        self.inner.link.send_modify(|link| {
            link.connected = false;
            link.last_loss = reason;
        });
    }

    fn is_ended(&self) -> bool {
        matches!(*self.inner.status.borrow(), Status::Ended(_))
    }

    fn hand_to_writer(&mut self) {
        let Some(link) = &self.link else { return };
        while let Some(frame) = self.pending.pop_front() {
            match link.writer.try_send(WsOut::Frame(frame)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(WsOut::Frame(frame))) => {
                    self.pending.push_front(frame);
                    return;
                }
                Err(_) => return,
            }
        }
    }

    async fn wait(&mut self, core_timeout: Option<Instant>) {
        let Some(link) = self.link.as_mut() else {
            return;
        };
        if self.input_held {
            // Silence is our own doing while we do not read.
            link.last_received = Instant::now();
        }
        let reading = !self.input_held;
        let deadline = [
            core_timeout,
            Some(link.next_ping),
            Some(link.dead_at(self.config.dead_after)),
            self.terminate_by,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_else(|| Instant::now() + FAR_FUTURE);
        let writer = link.writer.clone();
        let has_pending = !self.pending.is_empty();
        tokio::select! {
            message = link.reader.next(), if reading => self.on_message(message),
            () = self.inner.notify.notified() => {}
            command = self.commands.recv() => self.on_command(command),
            permit = writer.reserve(), if has_pending => {
                if let (Ok(permit), Some(frame)) = (permit, self.pending.pop_front()) {
                    permit.send(WsOut::Frame(frame));
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => self.on_timer(Instant::now()),
        }
    }

    fn on_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        let now = Instant::now();
        let Some(link) = self.link.as_mut() else {
            return;
        };
        link.last_received = now;
        match message {
            Some(Ok(Message::Binary(frame))) => {
                let mut core = self.inner.lock();
                if let Err(error) = core.session.handle_frame(now, &frame) {
                    debug!(%error, "dropped a frame from the service");
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                info!(code, %reason, "service closed the data channel; resuming");
                self.loss = Some(match reason.as_str() {
                    "" => format!("closed by the service ({code})"),
                    text => format!("closed by the service ({code} {text})"),
                });
                self.link = None;
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                warn!(%error, "data channel socket failed; resuming");
                self.loss = Some(format!("socket error: {error}"));
                self.link = None;
            }
            None => {
                info!("data channel socket closed; resuming");
                self.loss = Some("the socket closed".to_owned());
                self.link = None;
            }
        }
    }

    fn on_timer(&mut self, now: Instant) {
        self.inner.lock().handle_timeout(now);
        let Some(link) = self.link.as_mut() else {
            return;
        };
        if now >= link.dead_at(self.config.dead_after) {
            warn!(silent_for = ?self.config.dead_after, "no traffic from the service; reconnecting");
            self.loss = Some(format!("nothing received for {:?}", self.config.dead_after));
            self.link = None;
            return;
        }
        if now >= link.next_ping {
            let _ = link.writer.try_send(WsOut::Ping);
            link.next_ping = now + self.config.ping_interval;
        }
    }

    fn on_command(&mut self, command: Option<Command>) {
        match command {
            Some(Command::Terminate(reply)) => {
                self.waiters.push(reply);
                self.begin_terminate();
            }
            Some(Command::Released) | None => {
                debug!("all handles dropped; terminating");
                self.begin_terminate();
            }
        }
    }

    /// Sends the TerminateSession flag (when the agent honours it) and
    /// gives the agent a moment to acknowledge it.
    fn begin_terminate(&mut self) {
        if self.terminate_by.is_some() {
            return;
        }
        let now = Instant::now();
        let sent = self.inner.lock().send_terminate_flag(now);
        self.terminate_by = Some(if sent && self.link.is_some() {
            now + self.config.terminate_grace
        } else {
            now
        });
    }

    fn terminate_due(&self) -> bool {
        let Some(deadline) = self.terminate_by else {
            return false;
        };
        Instant::now() >= deadline || self.inner.lock().session.channel().unacked() == 0
    }

    async fn finish_terminate(&mut self) {
        if let Err(error) = self
            .api
            .terminate_session(self.inner.session_id.clone())
            .await
        {
            warn!(%error, "TerminateSession call failed");
        }
        let mut core = self.inner.lock();
        core.end(EndReason::Terminated);
        self.inner.publish(&mut core);
    }

    /// Resumes after a lost socket; breaks when the session is over.
    async fn reconnect(&mut self) -> ControlFlow<()> {
        let mut attempt = 0u32;
        let mut refusals = 0u32;
        loop {
            let delay = backoff(&self.config, attempt);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                command = self.commands.recv() => {
                    self.on_command(command);
                    self.finish_terminate().await;
                    return ControlFlow::Break(());
                }
            }
            self.pump(Instant::now());
            if self.is_ended() {
                return ControlFlow::Break(());
            }
            match self.try_resume().await {
                Ok(true) => return ControlFlow::Continue(()),
                Ok(false) => return ControlFlow::Break(()),
                Err(error) if error.is_transient() => {
                    debug!(%error, attempt, "resume failed; retrying")
                }
                Err(error) => {
                    refusals += 1;
                    warn!(%error, refusals, "resume refused");
                    if refusals >= self.config.max_resume_failures {
                        self.end(EndReason::Failed(Error::Api(error)));
                        return ControlFlow::Break(());
                    }
                }
            }
            attempt = attempt.saturating_add(1);
        }
    }

    /// One ResumeSession + reconnect. Ok(false) when the session is over.
    async fn try_resume(&mut self) -> Result<bool, crate::api::ApiError> {
        let Some(token) = self
            .api
            .resume_session(self.inner.session_id.clone())
            .await?
        else {
            self.end(EndReason::Expired);
            return Ok(false);
        };
        match Link::open(&self.stream_url, &token, &self.client_id, &self.config).await {
            Ok(link) => {
                let mut core = self.inner.lock();
                core.handle_reconnect();
                info!(reconnects = core.reconnects, "data channel resumed");
                let reconnects = core.reconnects;
                drop(core);
                self.inner.link.send_modify(|status| {
                    status.connected = true;
                    status.reconnects = reconnects;
                });
                self.link = Some(link);
                Ok(true)
            }
            Err(error) => Err(crate::api::ApiError::new(
                crate::api::ApiErrorKind::Network,
                error.to_string(),
            )
            .with_source(error)),
        }
    }

    fn end(&mut self, reason: EndReason) {
        let mut core = self.inner.lock();
        core.end(reason);
        self.inner.publish(&mut core);
    }

    async fn shut_down(&mut self) {
        self.pump(Instant::now());
        self.hand_to_writer();
        if let Some(link) = self.link.take() {
            link.close();
        }
        let reason = self.inner.lock().ended().cloned();
        if let Some(EndReason::Failed(_)) = reason
            && let Err(error) = self
                .api
                .terminate_session(self.inner.session_id.clone())
                .await
        {
            debug!(%error, "TerminateSession after failure did not succeed");
        }
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
        // Late terminate requests still get an answer.
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Terminate(reply) = command {
                let _ = reply.send(());
            }
        }
    }
}

/// Exponential backoff with ±25 % jitter, capped.
fn backoff(config: &ClientConfig, attempt: u32) -> Duration {
    let base = config
        .reconnect_initial
        .saturating_mul(1u32 << attempt.min(16));
    let capped = base.min(config.reconnect_max);
    capped.mul_f64(0.75 + fastrand::f64() * 0.5)
}
