//! The public session handle.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ssm_proto::session::{ClientSession, SessionInfo};
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info_span, warn};

use crate::api::{SessionApi, StartSessionRequest, StartedSession};
use crate::config::ClientConfig;
use crate::core::{Core, Status};
use crate::driver::Driver;
use crate::error::{EndCause, EndReason, Error};
use crate::inner::{Command, HandleGuard, Inner};
use crate::link::Link;
use crate::stats::{LinkStatus, SessionStats};
use crate::stream::Stream;

/// Attempts to open the first socket before giving up.
const FIRST_CONNECT_ATTEMPTS: u32 = 3;
/// How long a failed start waits for the driver's cleanup (TerminateSession).
const CLEANUP_GRACE: Duration = Duration::from_secs(5);

/// A live Session Manager port-forwarding session.
///
/// Cheap to clone; every clone and every [`Stream`] keeps the session
/// alive. When the last one is dropped, the session is terminated.
/// Socket losses (including the service's hourly close) are repaired
/// with ResumeSession behind the scenes; streams keep working.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Inner>,
    guard: Arc<HandleGuard>,
}

impl Session {
    /// Calls StartSession, connects and completes the handshake.
    pub async fn start(
        api: Arc<dyn SessionApi>,
        request: StartSessionRequest,
        config: ClientConfig,
    ) -> Result<Self, Error> {
        let started = api.start_session(request).await?;
        Self::attach(api, started, config).await
    }

    /// Connects to a session started elsewhere (a StartSession response)
    /// and completes the handshake. `api` is used for ResumeSession and
    /// TerminateSession.
    pub async fn attach(
        api: Arc<dyn SessionApi>,
        started: StartedSession,
        config: ClientConfig,
    ) -> Result<Self, Error> {
        let span = info_span!("ssm_session", id = %started.session_id);
        let client_id = uuid::Uuid::new_v4().to_string();
        let link = match open_first_link(&started, &client_id, &config)
            .instrument(span.clone())
            .await
        {
            Ok(link) => link,
            Err(error) => {
                let _ = api.terminate_session(started.session_id.clone()).await;
                return Err(error);
            }
        };
        let now = Instant::now();
        let core = Core::new(
            ClientSession::new(config.session_config(), now, unix_ms(), fastrand::u64(..)),
            &config,
            config.receive_caps(),
            now,
            fastrand::u64(..),
        );
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner::new(
            core,
            started.session_id.clone(),
            commands_tx.clone(),
        ));
        let guard = Arc::new(HandleGuard {
            commands: commands_tx,
        });
        let mut status = inner.status.subscribe();
        let driver = Driver::new(
            inner.clone(),
            api,
            config,
            started.stream_url,
            client_id,
            commands,
            link,
        );
        let driver = tokio::spawn(driver.run().instrument(span));
        let session = Self { inner, guard };
        let ready = status
            .wait_for(|status| !matches!(status, Status::Connecting))
            .await
            .map(|s| s.clone());
        let error = match ready {
            Ok(Status::Ready(_)) => return Ok(session),
            Ok(Status::Ended(reason)) => reason.to_error(),
            _ => Error::SessionEnded(EndCause::DriverStopped),
        };
        // Let the driver finish its cleanup (TerminateSession after a failed
        // handshake) before the caller hears of the failure.
        drop(session);
        if tokio::time::timeout(CLEANUP_GRACE, driver).await.is_err() {
            debug!("session cleanup still running after {CLEANUP_GRACE:?}");
        }
        Err(error)
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    /// What the handshake established (mode, agent version, properties).
    pub fn info(&self) -> Option<SessionInfo> {
        match &*self.inner.status.borrow() {
            Status::Ready(info) => Some((**info).clone()),
            _ => None,
        }
    }

    /// Opens a connection to the destination. In mux mode any number may
    /// be open at once; in basic mode (old agents) this waits until the
    /// previous stream is dropped.
    pub async fn open_stream(&self) -> Result<Stream, Error> {
        let handle = poll_fn(|cx| self.inner.lock().poll_open_stream(cx.waker())).await?;
        self.inner.notify.notify_one();
        Ok(Stream::new(self.inner.clone(), handle, self.guard.clone()))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SessionStats {
        self.inner.lock().stats()
    }

    /// Why the session ended, if it has. The protocol core is asked
    /// first: it knows the moment the session ends, before the driver
    /// task has told [`Session::closed`] waiters, so a caller that saw
    /// `open_stream` fail never finds the session still looking alive.
    pub fn end_reason(&self) -> Option<EndReason> {
        if let Some(reason) = self.inner.lock().ended() {
            return Some(reason.clone());
        }
        match &*self.inner.status.borrow() {
            Status::Ended(reason) => Some(reason.clone()),
            _ => None,
        }
    }

    /// The data-channel connection: watch it to hear of socket losses
    /// and resumes (the streams carry on across them).
    pub fn link_status(&self) -> tokio::sync::watch::Receiver<LinkStatus> {
        self.inner.link.subscribe()
    }

    /// True while a data-channel socket is open (false while resuming).
    pub(crate) fn is_connected(&self) -> bool {
        self.inner.link.borrow().connected
    }

    /// Waits until the session ends and says why.
    pub async fn closed(&self) -> EndReason {
        let mut status = self.inner.status.subscribe();
        match status
            .wait_for(|status| matches!(status, Status::Ended(_)))
            .await
        {
            Ok(status) => match &*status {
                Status::Ended(reason) => reason.clone(),
                _ => EndReason::Terminated,
            },
            Err(_) => EndReason::Terminated,
        }
    }

    /// Ends the session: sends the TerminateSession flag, waits briefly
    /// for the agent to acknowledge it, calls the TerminateSession API
    /// and closes the socket.
    pub async fn terminate(&self) {
        let (reply, done) = oneshot::channel();
        if self.inner.commands.send(Command::Terminate(reply)).is_err() {
            return;
        }
        if done.await.is_err() {
            warn!("session driver stopped before confirming terminate");
        }
    }
}

async fn open_first_link(
    started: &StartedSession,
    client_id: &str,
    config: &ClientConfig,
) -> Result<Link, Error> {
    let mut attempt = 0;
    loop {
        match Link::open(&started.stream_url, &started.token_value, client_id, config).await {
            Ok(link) => return Ok(link),
            Err(Error::Connect(error)) if attempt + 1 < FIRST_CONNECT_ATTEMPTS => {
                warn!(%error, "could not open the data channel; retrying");
                attempt += 1;
                tokio::time::sleep(config.reconnect_initial * (1 << attempt)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
