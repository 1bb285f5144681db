//! Round-trip estimation and retransmission timeout (protocol.md §5.4).
//!
//! SRTT/RTTVAR follow RFC 6298 with the service's constants: initial SRTT
//! 100 ms, RTTVAR 0, RTO 200 ms, α = 1/8, β = 1/4, granularity 10 ms and a
//! 1 s cap. Samples come only from messages sent once (Karn's rule).
//!
//! A message that stays unacked is resent each time the *current* RTO has
//! passed since its last transmission, as the agent does (protocol.md
//! §5.4), so a message lost twice waits about 2 × RTO, not
//! RTO + 2 × RTO as when each message doubled its own interval.
//!
//! Karn's rule alone can trap the estimate: once the RTT exceeds the RTO,
//! every message is resent before its ack arrives and no sample is ever
//! taken again. With [`ResendBackoff::Doubling`] (the client's choice) the
//! RTO itself doubles when resends fall due and no valid sample came since
//! the last doubling, and the next valid sample sets it from the estimate
//! again (RFC 6298 §5.5). It never exceeds [`RtoConfig::max_rto`], the
//! agent's own 1 s cap. The agent never backs off ([`ResendBackoff::None`]).

use std::time::{Duration, Instant};

/// What expiring resend timers do to the RTO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResendBackoff {
    /// Nothing: the RTO follows the samples alone, like the agent
    /// (protocol.md §5.4).
    None,
    /// The RTO doubles (up to [`RtoConfig::max_rto`]) when resends fall
    /// due with no valid sample since the last doubling, until the next
    /// valid sample (RFC 6298 §5.5).
    #[default]
    Doubling,
}

/// Tuning of the retransmission timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoConfig {
    /// RTO before any sample (200 ms).
    pub initial_rto: Duration,
    /// SRTT before any sample (100 ms).
    pub initial_srtt: Duration,
    /// Clock granularity G, the floor of the variance term (10 ms).
    pub granularity: Duration,
    /// Upper bound of the RTO, also of backed-off resend intervals (1 s,
    /// the agent's own cap).
    pub max_rto: Duration,
    /// What expiring timers do to the RTO.
    pub backoff: ResendBackoff,
}

impl Default for RtoConfig {
    fn default() -> Self {
        Self {
            initial_rto: Duration::from_millis(200),
            initial_srtt: Duration::from_millis(100),
            granularity: Duration::from_millis(10),
            max_rto: Duration::from_secs(1),
            backoff: ResendBackoff::Doubling,
        }
    }
}

/// Smoothed RTT state.
#[derive(Debug, Clone)]
pub(crate) struct RttEstimator {
    config: RtoConfig,
    srtt: f64,
    rttvar: f64,
    rto: Duration,
    samples: u64,
    /// When the RTO was last doubled, if no valid sample came since.
    backed_off_at: Option<Instant>,
}

impl RttEstimator {
    pub(crate) fn new(config: RtoConfig) -> Self {
        Self {
            config,
            srtt: config.initial_srtt.as_secs_f64(),
            rttvar: 0.0,
            rto: config.initial_rto.min(config.max_rto),
            samples: 0,
            backed_off_at: None,
        }
    }

    /// Folds in one RTT sample.
    pub(crate) fn on_sample(&mut self, sample: Duration) {
        const ALPHA: f64 = 1.0 / 8.0;
        const BETA: f64 = 1.0 / 4.0;
        let sample = sample.as_secs_f64();
        self.rttvar = (1.0 - BETA) * self.rttvar + BETA * (self.srtt - sample).abs();
        self.srtt = (1.0 - ALPHA) * self.srtt + ALPHA * sample;
        let variance = (4.0 * self.rttvar).max(self.config.granularity.as_secs_f64());
        let rto = Duration::from_secs_f64(self.srtt + variance);
        self.rto = rto.min(self.config.max_rto);
        self.samples += 1;
        self.backed_off_at = None;
    }

    /// Resends fell due. With [`ResendBackoff::Doubling`], the RTO doubles
    /// (up to the cap), at most once per RTO without a valid sample:
    /// however many messages expire together, it doubles once.
    pub(crate) fn on_expiry(&mut self, now: Instant) {
        if self.config.backoff == ResendBackoff::None
            || self.backed_off_at.is_some_and(|at| now < at + self.rto)
        {
            return;
        }
        self.rto = self.rto.saturating_mul(2).min(self.config.max_rto);
        self.backed_off_at = Some(now);
    }

    /// Current retransmission timeout.
    pub(crate) fn rto(&self) -> Duration {
        self.rto
    }

    /// Smoothed RTT.
    pub(crate) fn srtt(&self) -> Duration {
        Duration::from_secs_f64(self.srtt)
    }

    /// Number of samples taken.
    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn starts_at_service_defaults() {
        let rtt = RttEstimator::new(RtoConfig::default());
        assert_eq!(rtt.rto(), ms(200));
        assert_eq!(rtt.srtt(), ms(100));
    }

    #[test]
    fn follows_the_service_formula() {
        let mut rtt = RttEstimator::new(RtoConfig::default());
        rtt.on_sample(ms(20));
        // rttvar = 0.75*0 + 0.25*|100-20| = 20; srtt = 0.875*100 + 0.125*20 = 90
        // rto = 90 + max(10, 80) = 170
        assert_eq!(rtt.srtt().as_millis(), 90);
        assert_eq!(rtt.rto().as_millis(), 170);
    }

    #[test]
    fn converges_to_granularity_floor_on_fast_links() {
        let mut rtt = RttEstimator::new(RtoConfig::default());
        for _ in 0..200 {
            rtt.on_sample(Duration::from_micros(100));
        }
        assert!(rtt.rto() >= ms(10) && rtt.rto() < ms(11), "{:?}", rtt.rto());
    }

    #[test]
    fn caps_at_one_second() {
        let mut rtt = RttEstimator::new(RtoConfig::default());
        rtt.on_sample(Duration::from_secs(5));
        assert_eq!(rtt.rto(), Duration::from_secs(1));
    }

    #[test]
    fn doubles_once_per_rto_without_news_up_to_the_cap() {
        let start = Instant::now();
        let mut rtt = RttEstimator::new(RtoConfig::default());
        rtt.on_expiry(start);
        assert_eq!(rtt.rto(), ms(400));
        rtt.on_expiry(start + ms(399));
        assert_eq!(rtt.rto(), ms(400), "within one RTO of the last: not again");
        rtt.on_expiry(start + ms(400));
        assert_eq!(rtt.rto(), ms(800));
        for step in 1..10 {
            rtt.on_expiry(start + Duration::from_secs(step));
        }
        assert_eq!(rtt.rto(), Duration::from_secs(1), "never above the cap");
        rtt.on_sample(ms(20));
        assert!(rtt.rto() < Duration::from_secs(1), "a sample resets it");
    }

    #[test]
    fn the_agent_never_backs_off() {
        let config = RtoConfig {
            backoff: ResendBackoff::None,
            ..RtoConfig::default()
        };
        let mut rtt = RttEstimator::new(config);
        rtt.on_expiry(Instant::now());
        assert_eq!(rtt.rto(), ms(200));
    }
}
