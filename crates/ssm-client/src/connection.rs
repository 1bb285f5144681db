//! The connection rules of a session, sans-IO: link state, its timers and
//! what the driver must do about them.
//!
//! A session's link is [`LinkState::Connected`] (a socket is open: it is
//! pinged every `ping_interval` and given up when nothing arrived for
//! `dead_after`, or for `answer_timeout` while data of ours awaits its
//! acknowledgement), [`LinkState::Resuming`] (the socket was lost: ResumeSession
//! and a new socket at once if the lost socket had lived a while, else and
//! after failed attempts with a capped exponential backoff with jitter, for
//! as long as the session exists, unless `max_short_lived_sockets` sockets
//! in a row died within `short_lived_socket` of opening: then
//! [`Action::GiveUp`]) or [`LinkState::Terminating`] (the
//! TerminateSession flag got `terminate_grace` to be acknowledged; then the
//! TerminateSession call).
//!
//! Like quinn-proto's `Connection`: inputs are `handle_*` calls with the
//! current instant, outputs are [`Connection::poll_action`] and
//! [`Connection::poll_timeout`]. No clock is read and nothing here does I/O;
//! the jitter comes from a seeded generator.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::config::ClientConfig;

/// A socket that lived at least this long is resumed at once when lost:
/// every moment without a socket costs data the gateway may drop, and the
/// agent recovers dropped output at one message per 100 ms tick. A socket
/// that dies sooner is resumed after the backoff, so a peer that kills
/// every new socket is not hammered.
const RESUME_AT_ONCE_AFTER: Duration = Duration::from_secs(1);

/// Floor of `answer_timeout`: acks must have time to cross a slow link.
const MIN_ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send a WebSocket ping on the socket.
    Ping,
    /// Give up the socket (it failed, closed or went silent); resuming follows.
    DropSocket,
    /// Call ResumeSession and open a new socket with its token; report the
    /// outcome with [`Connection::handle_resumed`] or
    /// [`Connection::handle_resume_failed`] (the core's `handle_resume_*`).
    Resume,
    /// Call TerminateSession; the session then ends as terminated.
    CallTerminate,
    /// Give the session up: `sockets` short-lived sockets in a row died
    /// (see [`Connection::last_loss`]); end it with
    /// [`crate::Error::SocketsKeepFailing`]. No more actions follow.
    GiveUp {
        /// Short-lived sockets in a row.
        sockets: u32,
    },
}

/// Where the link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// A socket is open.
    Connected,
    /// The socket was lost; resuming.
    Resuming {
        /// Failed attempts so far (sets the backoff).
        attempt: u32,
        /// Failures that were not network trouble.
        refusals: u32,
        /// A ResumeSession call (and socket open) is under way.
        in_flight: bool,
    },
    /// The session is being terminated.
    Terminating {
        /// A socket is open (the flag may still be acknowledged).
        socket: bool,
        /// [`Action::CallTerminate`] was handed out.
        called: bool,
    },
}

/// The link's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Send the next WebSocket ping.
    Ping,
    /// Nothing arrived for `dead_after` (or `answer_timeout` with data
    /// unacknowledged): the socket is dead.
    Dead,
    /// The next resume attempt.
    Backoff,
    /// The agent had its time to acknowledge the TerminateSession flag.
    TerminateGrace,
}

/// One deadline per [`Timer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TimerTable([Option<Instant>; 4]);

impl TimerTable {
    fn set(&mut self, timer: Timer, at: Instant) {
        self.0[timer as usize] = Some(at);
    }

    fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    fn get(&self, timer: Timer) -> Option<Instant> {
        self.0[timer as usize]
    }

    fn stop_all(&mut self) {
        self.0 = [None; 4];
    }

    /// True (and stopped) if `timer` is due at `now`.
    fn expire(&mut self, timer: Timer, now: Instant) -> bool {
        let due = self.get(timer).is_some_and(|at| at <= now);
        if due {
            self.stop(timer);
        }
        due
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}

/// The timing settings of the rules, from [`ClientConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    ping_interval: Duration,
    dead_after: Duration,
    answer_timeout: Duration,
    reconnect_initial: Duration,
    reconnect_max: Duration,
    max_resume_failures: u32,
    terminate_grace: Duration,
    short_lived_socket: Duration,
    max_short_lived_sockets: u32,
}

/// The connection rules of one session.
#[derive(Debug)]
pub(crate) struct Connection {
    state: LinkState,
    timers: TimerTable,
    actions: VecDeque<Action>,
    settings: Settings,
    rng: fastrand::Rng,
    /// The socket is read (false while local readers are behind).
    reading: bool,
    reconnects: u64,
    last_loss: String,
    /// The link status changed since [`Self::take_status_change`].
    status_changed: bool,
    /// When the current (or last) socket opened.
    socket_since: Instant,
    /// Sockets in a row that died within `short_lived_socket`.
    short_lived: u32,
    /// When anything last arrived (or the socket opened).
    last_received: Instant,
}

impl Connection {
    /// Rules for a session whose first socket opened at `now`; `seed`
    /// drives the backoff jitter.
    pub(crate) fn new(config: &ClientConfig, now: Instant, seed: u64) -> Self {
        let settings = Settings {
            ping_interval: config.ping_interval,
            dead_after: config.dead_after,
            answer_timeout: config.answer_timeout.max(MIN_ANSWER_TIMEOUT),
            reconnect_initial: config.reconnect_initial,
            reconnect_max: config.reconnect_max,
            max_resume_failures: config.max_resume_failures,
            terminate_grace: config.terminate_grace,
            short_lived_socket: config.short_lived_socket,
            max_short_lived_sockets: config.max_short_lived_sockets.max(1),
        };
        let mut connection = Self {
            state: LinkState::Connected,
            timers: TimerTable::default(),
            actions: VecDeque::new(),
            settings,
            rng: fastrand::Rng::with_seed(seed),
            reading: true,
            reconnects: 0,
            last_loss: String::new(),
            status_changed: false,
            socket_since: now,
            short_lived: 0,
            last_received: now,
        };
        connection.start_socket_timers(now);
        connection
    }

    pub(crate) fn state(&self) -> LinkState {
        self.state
    }

    /// A socket is open.
    pub(crate) fn has_socket(&self) -> bool {
        match self.state {
            LinkState::Connected => true,
            LinkState::Resuming { .. } => false,
            LinkState::Terminating { socket, .. } => socket,
        }
    }

    /// Successful resumes so far.
    pub(crate) fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Why the latest socket was lost (empty before any loss).
    pub(crate) fn last_loss(&self) -> &str {
        &self.last_loss
    }

    /// True once after every change of [`Self::has_socket`],
    /// [`Self::reconnects`] or [`Self::last_loss`].
    pub(crate) fn take_status_change(&mut self) -> bool {
        std::mem::take(&mut self.status_changed)
    }

    /// What the driver must do next.
    #[must_use]
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest link timer.
    #[must_use]
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// The deadline of one timer (for tests and the fuzz harness).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn timer(&self, timer: Timer) -> Option<Instant> {
        self.timers.get(timer)
    }

    /// Anything (a frame, a pong, a close) arrived on the socket.
    pub(crate) fn handle_received(&mut self, now: Instant) {
        self.last_received = now;
        if self.state == LinkState::Connected && self.reading {
            self.timers.set(Timer::Dead, now + self.settings.dead_after);
        }
    }

    /// Data of ours awaits acknowledgement at `now`: unless something
    /// arrives within `answer_timeout`, the socket is dead. An earlier
    /// deadline is kept, so this can be called on every pump.
    pub(crate) fn handle_awaiting_answer(&mut self, now: Instant) {
        if self.state != LinkState::Connected || !self.reading {
            return;
        }
        let answer_by = now + self.settings.answer_timeout;
        if self
            .timers
            .get(Timer::Dead)
            .is_none_or(|dead| dead > answer_by)
        {
            self.timers.set(Timer::Dead, answer_by);
        }
    }

    /// Whether the driver reads the socket: while it does not (local
    /// readers are behind), silence is our own doing and the socket does
    /// not count as dead.
    pub(crate) fn handle_reading(&mut self, now: Instant, reading: bool) {
        if reading == self.reading {
            return;
        }
        self.reading = reading;
        debug!(
            held = !reading,
            "local readers behind; socket reads paused or resumed"
        );
        if self.state != LinkState::Connected {
            return;
        }
        if reading {
            self.timers.set(Timer::Dead, now + self.settings.dead_after);
        } else {
            self.timers.stop(Timer::Dead);
        }
    }

    /// The socket failed or closed (`reason` is kept for the link status).
    pub(crate) fn handle_socket_lost(&mut self, now: Instant, reason: String) {
        match self.state {
            LinkState::Connected => {
                self.lose_socket(reason);
                let lived = now.saturating_duration_since(self.socket_since);
                if self.count_short_lived(lived) {
                    return;
                }
                if lived >= RESUME_AT_ONCE_AFTER {
                    self.state = LinkState::Resuming {
                        attempt: 0,
                        refusals: 0,
                        in_flight: false,
                    };
                    self.timers.set(Timer::Backoff, now);
                    debug!(?lived, "resume at once");
                } else {
                    self.schedule_resume(now, 0, 0);
                }
            }
            LinkState::Terminating {
                socket: true,
                called,
            } => {
                // Nothing can acknowledge the flag any more.
                self.lose_socket(reason);
                self.state = LinkState::Terminating {
                    socket: false,
                    called,
                };
                self.call_terminate(false);
            }
            LinkState::Resuming { .. } | LinkState::Terminating { socket: false, .. } => {}
        }
    }

    /// Runs the timers due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.timers.expire(Timer::Dead, now) {
            let silent = now.saturating_duration_since(self.last_received);
            let silent_for = Duration::from_millis(silent.as_millis() as u64);
            debug!(?silent_for, "no traffic from the service; reconnecting");
            self.handle_socket_lost(now, format!("nothing received for {silent_for:?}"));
            return;
        }
        if self.timers.expire(Timer::Ping, now) {
            self.actions.push_back(Action::Ping);
            self.timers
                .set(Timer::Ping, now + self.settings.ping_interval);
        }
        if self.timers.expire(Timer::Backoff, now)
            && let LinkState::Resuming { in_flight, .. } = &mut self.state
        {
            *in_flight = true;
            self.actions.push_back(Action::Resume);
        }
        if self.timers.expire(Timer::TerminateGrace, now) {
            self.call_terminate(self.has_socket());
        }
    }

    /// The resume attempt succeeded: a new socket is open at `now`.
    pub(crate) fn handle_resumed(&mut self, now: Instant) {
        if !matches!(self.state, LinkState::Resuming { .. }) {
            return;
        }
        self.state = LinkState::Connected;
        self.timers.stop(Timer::Backoff);
        self.reconnects += 1;
        self.socket_since = now;
        self.last_received = now;
        self.status_changed = true;
        info!(reconnects = self.reconnects, "data channel resumed");
        self.start_socket_timers(now);
    }

    /// The resume attempt failed; `transient` when retrying may help
    /// (network trouble, throttling). True when the rules give up: the
    /// session must end.
    pub(crate) fn handle_resume_failed(&mut self, now: Instant, transient: bool) -> bool {
        let LinkState::Resuming {
            attempt, refusals, ..
        } = self.state
        else {
            return false;
        };
        let refusals = if transient { refusals } else { refusals + 1 };
        if refusals >= self.settings.max_resume_failures {
            return true;
        }
        self.schedule_resume(now, attempt.saturating_add(1), refusals);
        false
    }

    /// Terminate was asked for; `flag_sent` when the TerminateSession flag
    /// was queued for the agent. With a socket the agent gets
    /// `terminate_grace` to acknowledge it (see [`Self::handle_all_acked`]);
    /// otherwise TerminateSession is called at once.
    pub(crate) fn handle_terminate(&mut self, now: Instant, flag_sent: bool) {
        if matches!(self.state, LinkState::Terminating { .. }) {
            return;
        }
        let socket = self.has_socket();
        self.timers.stop_all();
        if flag_sent && socket {
            self.state = LinkState::Terminating {
                socket,
                called: false,
            };
            self.timers
                .set(Timer::TerminateGrace, now + self.settings.terminate_grace);
        } else {
            self.call_terminate(socket);
        }
    }

    /// Everything we sent is acknowledged: a terminate need not wait longer.
    pub(crate) fn handle_all_acked(&mut self) {
        if let LinkState::Terminating { called: false, .. } = self.state {
            self.call_terminate(self.has_socket());
        }
    }

    fn call_terminate(&mut self, socket: bool) {
        if let LinkState::Terminating { called: true, .. } = self.state {
            return;
        }
        self.state = LinkState::Terminating {
            socket,
            called: true,
        };
        self.timers.stop_all();
        self.actions.push_back(Action::CallTerminate);
    }

    /// Counts a lost socket that lived `lived`; true (and
    /// [`Action::GiveUp`] queued, the link left without timers) when
    /// short-lived sockets in a row reached the limit.
    fn count_short_lived(&mut self, lived: Duration) -> bool {
        if lived >= self.settings.short_lived_socket {
            self.short_lived = 0;
            return false;
        }
        self.short_lived += 1;
        if self.short_lived < self.settings.max_short_lived_sockets {
            debug!(short_lived = self.short_lived, ?lived, "short-lived socket");
            return false;
        }
        debug!(
            sockets = self.short_lived,
            "every new socket dies at once; giving the session up"
        );
        self.state = LinkState::Resuming {
            attempt: 0,
            refusals: 0,
            in_flight: false,
        };
        self.timers.stop_all();
        self.actions.push_back(Action::GiveUp {
            sockets: self.short_lived,
        });
        true
    }

    fn lose_socket(&mut self, reason: String) {
        self.timers.stop(Timer::Ping);
        self.timers.stop(Timer::Dead);
        self.last_loss = reason;
        self.status_changed = true;
        self.actions.push_back(Action::DropSocket);
    }

    fn schedule_resume(&mut self, now: Instant, attempt: u32, refusals: u32) {
        self.state = LinkState::Resuming {
            attempt,
            refusals,
            in_flight: false,
        };
        let delay = self.backoff(attempt);
        debug!(attempt, ?delay, "resume scheduled");
        self.timers.set(Timer::Backoff, now + delay);
    }

    fn start_socket_timers(&mut self, now: Instant) {
        self.timers
            .set(Timer::Ping, now + self.settings.ping_interval);
        if self.reading {
            self.timers.set(Timer::Dead, now + self.settings.dead_after);
        }
    }

    /// Exponential backoff with ±25 % jitter, capped.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let base = self
            .settings
            .reconnect_initial
            .saturating_mul(1u32 << attempt.min(16));
        let capped = base.min(self.settings.reconnect_max);
        capped.mul_f64(0.75 + self.rng.f64() * 0.5)
    }
}

#[cfg(test)]
mod tests;
