//! The one task per session that owns the socket and carries out what
//! the shared core asks for (the quinn `ConnectionDriver` pattern).
//!
//! A plain select loop: it feeds the core what happens (frames and other
//! socket traffic, socket loss, stream notifications, commands, timers,
//! resume outcomes), hands the core's frames to the writer task and
//! performs the core's [`Action`]s: pings, dropping a dead socket,
//! ResumeSession plus a new OpenDataChannel on the same URL (sequence
//! state kept), and the TerminateSession call. When to do any of these is
//! decided by the core's connection rules, in virtual time.

use std::collections::VecDeque;
use std::future::{Future, pending};
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use ssm_proto::ClientMessage;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use crate::api::{ApiError, ApiErrorKind, SessionApi};
use crate::config::ClientConfig;
use crate::core::Action;
use crate::error::{EndReason, Error};
use crate::inner::{Command, Inner};
use crate::link::{Link, WsOut};
use crate::transport::WsStream;

const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365);

/// A ResumeSession call and the socket opened with its token; `Ok(None)`
/// when the service says the session is over.
type ResumeFuture = Pin<Box<dyn Future<Output = Result<Option<Link>, ApiError>> + Send>>;

type SocketMessage = Option<Result<Message, tokio_tungstenite::tungstenite::Error>>;

pub(crate) struct Driver {
    inner: Arc<Inner>,
    api: Arc<dyn SessionApi>,
    config: ClientConfig,
    stream_url: String,
    client_id: String,
    commands: mpsc::UnboundedReceiver<Command>,
    link: Option<Link>,
    pending: VecDeque<Bytes>,
    /// The resume attempt under way ([`Action::Resume`]).
    resume: Option<ResumeFuture>,
    /// Local readers are behind (the delivery queue is full): the socket
    /// is not read, so the service's messages wait in TCP instead of being
    /// read and refused (each refused message costs the agent a 100 ms
    /// resend tick).
    input_held: bool,
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
            resume: None,
            input_held: false,
            waiters: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        while self.step().await.is_continue() {}
        self.shut_down().await;
    }

    async fn step(&mut self) -> ControlFlow<()> {
        let now = Instant::now();
        let (timeout, actions) = self.poll(now);
        for action in actions {
            self.perform(action).await?;
        }
        if self.inner.lock().ended().is_some() {
            return ControlFlow::Break(());
        }
        self.hand_to_writer();
        if self.link.as_ref().is_some_and(Link::writer_gone) {
            let reason = "the socket writer failed".to_owned();
            self.inner.lock().handle_socket_lost(now, reason);
            return ControlFlow::Continue(());
        }
        self.wait(timeout).await;
        ControlFlow::Continue(())
    }

    /// Pumps the core and collects frames to send; returns the core's
    /// next timer and the actions it asks for.
    fn poll(&mut self, now: Instant) -> (Option<Instant>, Vec<Action>) {
        let mut core = self.inner.lock();
        let room = self.link.as_ref().map(|link| link.writer.capacity());
        core.poll_transmit(now, room, &mut self.pending);
        self.input_held = core.input_held();
        let actions = std::iter::from_fn(|| core.poll_action()).collect();
        self.inner.publish(&mut core);
        (core.poll_timeout(), actions)
    }

    async fn perform(&mut self, action: Action) -> ControlFlow<()> {
        match action {
            Action::Ping => {
                if let Some(link) = &self.link {
                    let _ = link.writer.try_send(WsOut::Ping);
                }
            }
            Action::DropSocket => self.link = None,
            Action::Resume => self.resume = Some(self.resume_future()),
            Action::CallTerminate => {
                self.resume = None;
                self.finish_terminate().await;
                return ControlFlow::Break(());
            }
            Action::GiveUp { sockets } => {
                self.resume = None;
                let last_loss = self.inner.lock().link_last_loss().to_owned();
                let error = Error::SocketsKeepFailing { sockets, last_loss };
                self.end(EndReason::Failed(error));
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
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
        let deadline = core_timeout.unwrap_or_else(|| Instant::now() + FAR_FUTURE);
        let reading = self.link.is_some() && !self.input_held;
        let writer = self.link.as_ref().map(|link| link.writer.clone());
        let reader = self.link.as_mut().map(|link| &mut link.reader);
        let has_pending = writer.is_some() && !self.pending.is_empty();
        let resuming = self.resume.is_some();
        tokio::select! {
            message = next_message(reader), if reading => self.on_message(message),
            () = self.inner.notify.notified() => {}
            command = self.commands.recv() => self.on_command(command),
            permit = reserve(writer.as_ref()), if has_pending => {
                if let (Ok(permit), Some(frame)) = (permit, self.pending.pop_front()) {
                    permit.send(WsOut::Frame(frame));
                }
            }
            outcome = resume_outcome(&mut self.resume), if resuming => self.on_resume(outcome),
            () = tokio::time::sleep_until(deadline.into()) => {
                self.inner.lock().handle_timeout(Instant::now());
            }
        }
    }

    fn on_message(&mut self, message: SocketMessage) {
        let now = Instant::now();
        match message {
            Some(Ok(Message::Binary(frame))) => {
                // Decoding (and the digest check) needs no lock.
                let decoded = ClientMessage::decode(&frame);
                let result = self.inner.lock().handle_frame(now, decoded);
                if let Err(error) = result {
                    debug!(%error, "dropped a frame from the service");
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                info!(code, %reason, "service closed the data channel; resuming");
                let loss = match reason.as_str() {
                    "" => format!("closed by the service ({code})"),
                    text => format!("closed by the service ({code} {text})"),
                };
                self.inner.lock().handle_socket_lost(now, loss);
            }
            Some(Ok(_)) => self.inner.lock().handle_received(now),
            Some(Err(error)) => {
                debug!(%error, "data channel socket failed; resuming");
                let loss = format!("socket error: {error}");
                self.inner.lock().handle_socket_lost(now, loss);
            }
            None => {
                info!("data channel socket closed; resuming");
                let loss = "the socket closed".to_owned();
                self.inner.lock().handle_socket_lost(now, loss);
            }
        }
    }

    fn on_command(&mut self, command: Option<Command>) {
        match command {
            Some(Command::Terminate(reply)) => self.waiters.push(reply),
            Some(Command::Released) | None => debug!("all handles dropped; terminating"),
        }
        self.inner.lock().handle_terminate(Instant::now());
    }

    /// One ResumeSession call and a new socket with its token.
    fn resume_future(&self) -> ResumeFuture {
        let api = self.api.clone();
        let session_id = self.inner.session_id.clone();
        let url = self.stream_url.clone();
        let client_id = self.client_id.clone();
        let config = self.config.clone();
        Box::pin(async move {
            let Some(token) = api.resume_session(session_id).await? else {
                return Ok(None);
            };
            match Link::open(&url, &token, &client_id, &config).await {
                Ok(link) => Ok(Some(link)),
                Err(error) => {
                    Err(ApiError::new(ApiErrorKind::Network, error.to_string()).with_source(error))
                }
            }
        })
    }

    fn on_resume(&mut self, outcome: Result<Option<Link>, ApiError>) {
        self.resume = None;
        let now = Instant::now();
        let mut core = self.inner.lock();
        match outcome {
            Ok(Some(link)) => {
                self.link = Some(link);
                core.handle_resumed(now);
            }
            Ok(None) => core.end(EndReason::Expired),
            Err(error) if error.is_transient() => {
                debug!(%error, "resume failed; retrying");
                core.handle_resume_failed(now, true);
            }
            Err(error) => {
                debug!(%error, "resume refused");
                if core.handle_resume_failed(now, false) {
                    core.end(EndReason::Failed(Error::Api(error)));
                }
            }
        }
        self.inner.publish(&mut core);
    }

    async fn finish_terminate(&mut self) {
        if let Err(error) = self
            .api
            .terminate_session(self.inner.session_id.clone())
            .await
        {
            warn!(%error, "TerminateSession call failed");
        }
        self.end(EndReason::Terminated);
    }

    fn end(&self, reason: EndReason) {
        let mut core = self.inner.lock();
        core.end(reason);
        self.inner.publish(&mut core);
    }

    async fn shut_down(&mut self) {
        // Actions no longer matter: the session is over.
        let _ = self.poll(Instant::now());
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

/// The next message of the socket (only polled while there is one).
async fn next_message(reader: Option<&mut SplitStream<WsStream>>) -> SocketMessage {
    match reader {
        Some(reader) => reader.next().await,
        None => pending().await,
    }
}

/// Room in the writer queue (only polled while there is a socket).
async fn reserve(
    writer: Option<&mpsc::Sender<WsOut>>,
) -> Result<mpsc::Permit<'_, WsOut>, mpsc::error::SendError<()>> {
    match writer {
        Some(writer) => writer.reserve().await,
        None => pending().await,
    }
}

/// The outcome of the resume attempt (only polled while there is one).
async fn resume_outcome(resume: &mut Option<ResumeFuture>) -> Result<Option<Link>, ApiError> {
    match resume {
        Some(attempt) => attempt.await,
        None => pending().await,
    }
}
