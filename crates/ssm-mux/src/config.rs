//! Session configuration; defaults mirror smux `DefaultConfig()` of v1.5.15/16.

use std::time::Duration;

use crate::error::ConfigError;
use crate::frame::MAX_PAYLOAD_LEN;

/// Which end of the session this is. It only decides stream id parity:
/// a client opens streams 3, 5, 7, …; a server opens 2, 4, 6, ….
/// Both roles accept streams opened by the peer, as smux does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Odd stream ids starting at 3 (the Session Manager plugin's side).
    Client,
    /// Even stream ids starting at 2 (the SSM agent's side).
    Server,
}

/// Keepalive timing. When enabled, a `NOP` is sent every `interval`, and at
/// every `timeout` tick the session dies if no frame arrived since the
/// previous tick (unless input is paused by the receive budget).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeepAlive {
    /// Time between `NOP` frames (smux default 10 s).
    pub interval: Duration,
    /// Period of the liveness check (smux default 30 s).
    pub timeout: Duration,
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Session limits and timers. Construct with [`Config::default`] and override
/// fields; [`Session::new`](crate::Session::new) validates the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// `Some` enables keepalive (smux default); `None` matches
    /// `KeepAliveDisabled = true`: no `NOP` is sent and the session never
    /// times out.
    pub keep_alive: Option<KeepAlive>,
    /// Largest `PSH` payload this side sends (smux `MaxFrameSize`, default
    /// 32768, at most 65535).
    pub max_frame_size: usize,
    /// Session-wide receive budget (smux `MaxReceiveBuffer`, default 4 MiB):
    /// once this many received bytes wait unread in streams, input is no
    /// longer consumed until the application reads.
    pub max_receive_buffer: usize,
    /// Cap of each stream's unread received data (default 1 MiB; our own
    /// addition, smux v1 has only the session-wide budget). When a `PSH`
    /// arrives for a stream already holding this much, input stops before
    /// that frame until the stream is read, so one slow reader can hold at
    /// most this much (plus one frame) however big the session budget is.
    pub max_stream_receive_buffer: usize,
    /// Cap of each stream's outgoing buffer (default 64 KiB). `write` accepts
    /// at most the free space.
    pub max_stream_write_buffer: usize,
    /// How many peer-opened streams may wait for `accept` (smux
    /// `defaultAcceptBacklog`, 1024). smux blocks its whole receive loop on a
    /// full backlog; this crate instead refuses a `SYN` beyond it with a
    /// `FIN` (data the peer sends on it is discarded as for an unknown
    /// stream). While 1024 refusals already wait for transmission, further
    /// excess `SYN`s are ignored without an answer. 0 refuses every
    /// peer-opened stream.
    pub max_accept_backlog: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            keep_alive: Some(KeepAlive::default()),
            max_frame_size: 32_768,
            max_receive_buffer: 4 * 1024 * 1024,
            max_stream_receive_buffer: 1024 * 1024,
            max_stream_write_buffer: 64 * 1024,
            max_accept_backlog: 1024,
        }
    }
}

impl Config {
    /// Checks every field's range (the rules of smux `VerifyConfig`, plus our
    /// own buffer caps).
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_frame_size == 0 || self.max_frame_size > MAX_PAYLOAD_LEN {
            return Err(ConfigError::MaxFrameSize(self.max_frame_size));
        }
        if self.max_receive_buffer == 0 {
            return Err(ConfigError::MaxReceiveBuffer);
        }
        if self.max_stream_receive_buffer == 0 {
            return Err(ConfigError::MaxStreamReceiveBuffer);
        }
        if self.max_stream_write_buffer == 0 {
            return Err(ConfigError::MaxStreamWriteBuffer);
        }
        if let Some(keep_alive) = self.keep_alive {
            if keep_alive.interval.is_zero() {
                return Err(ConfigError::KeepAliveInterval);
            }
            if keep_alive.timeout < keep_alive.interval {
                return Err(ConfigError::KeepAliveTimeout);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_smux_default_config() {
        let config = Config::default();
        assert_eq!(config.max_frame_size, 32_768);
        assert_eq!(config.max_receive_buffer, 4_194_304);
        assert_eq!(config.max_accept_backlog, 1024);
        assert_eq!(config.keep_alive, Some(KeepAlive::default()));
        assert_eq!(KeepAlive::default().interval, Duration::from_secs(10));
        assert_eq!(KeepAlive::default().timeout, Duration::from_secs(30));
        assert_eq!(config.validate(), Ok(()));
    }

    fn rejected(edit: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
        let mut config = Config::default();
        edit(&mut config);
        config.validate()
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        use ConfigError as E;
        assert_eq!(rejected(|c| c.max_frame_size = 0), Err(E::MaxFrameSize(0)));
        assert_eq!(
            rejected(|c| c.max_frame_size = 65_536),
            Err(E::MaxFrameSize(65_536))
        );
        assert_eq!(
            rejected(|c| c.max_receive_buffer = 0),
            Err(E::MaxReceiveBuffer)
        );
        assert_eq!(
            rejected(|c| c.max_stream_write_buffer = 0),
            Err(E::MaxStreamWriteBuffer)
        );
        let zero_interval = KeepAlive {
            interval: Duration::ZERO,
            ..KeepAlive::default()
        };
        assert_eq!(
            rejected(|c| c.keep_alive = Some(zero_interval)),
            Err(E::KeepAliveInterval)
        );
        let short_timeout = KeepAlive {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        };
        assert_eq!(
            rejected(|c| c.keep_alive = Some(short_timeout)),
            Err(E::KeepAliveTimeout)
        );
    }

    #[test]
    fn disabled_keepalive_and_max_frame_are_valid() {
        let config = Config {
            keep_alive: None,
            max_frame_size: 65_535,
            ..Config::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}
