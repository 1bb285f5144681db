//! The signals that stop a command, watched from creation on so that
//! none is missed between two waits (or before the first one).
//!
//! Forwards stop on Ctrl-C and SIGTERM, the plugin also on SIGQUIT and
//! SIGHUP (as the official plugin does), the demo on Ctrl-C alone. Where
//! there are no unix signals, Ctrl-C is all there is.

use std::io;

/// A signal that asks a command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGQUIT.
    Quit,
    /// SIGHUP.
    Hangup,
}

impl StopSignal {
    /// The signal's name, for status lines (`SIGINT`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
            Self::Quit => "SIGQUIT",
            Self::Hangup => "SIGHUP",
        }
    }

    #[cfg(unix)]
    fn kind(self) -> tokio::signal::unix::SignalKind {
        use tokio::signal::unix::SignalKind;
        match self {
            Self::Interrupt => SignalKind::interrupt(),
            Self::Terminate => SignalKind::terminate(),
            Self::Quit => SignalKind::quit(),
            Self::Hangup => SignalKind::hangup(),
        }
    }
}

/// What stops a forward: Ctrl-C and SIGTERM.
pub const INTERRUPT_OR_TERMINATE: &[StopSignal] = &[StopSignal::Interrupt, StopSignal::Terminate];

/// Some stop signals, watched from [`Signals::new`] on.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    watched: Vec<(StopSignal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Starts watching `which` (needs a Tokio runtime). Without unix
    /// signals, Ctrl-C is watched whatever `which` says.
    pub fn new(which: &[StopSignal]) -> io::Result<Self> {
        #[cfg(unix)]
        {
            let watched = which
                .iter()
                .map(|&signal| Ok((signal, tokio::signal::unix::signal(signal.kind())?)))
                .collect::<io::Result<_>>()?;
            Ok(Self { watched })
        }
        #[cfg(not(unix))]
        {
            let _ = which;
            Ok(Self {})
        }
    }

    /// Waits for the next signal; returns its name. Cancel-safe.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            std::future::poll_fn(|cx| {
                for (signal, stream) in &mut self.watched {
                    if stream.poll_recv(cx).is_ready() {
                        return std::task::Poll::Ready(signal.name());
                    }
                }
                std::task::Poll::Pending
            })
            .await
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watched_signal_is_received_by_name() {
        // Watching first replaces SIGHUP's default action (exit).
        let mut signals = Signals::new(&[StopSignal::Quit, StopSignal::Hangup]).unwrap();
        let pid = std::process::id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let name = tokio::time::timeout(std::time::Duration::from_secs(10), signals.recv())
            .await
            .expect("SIGHUP arrives");
        assert_eq!(name, "SIGHUP");
    }
}
