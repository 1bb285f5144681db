//! Round-trip estimation and retransmission timeout (protocol.md §5.4).
//!
//! SRTT/RTTVAR follow RFC 6298 with the service's constants: initial SRTT
//! 100 ms, RTTVAR 0, RTO 200 ms, α = 1/8, β = 1/4, granularity 10 ms and a
//! 1 s cap. Samples come only from messages sent once (Karn's rule).

use std::time::Duration;

/// Tuning of the retransmission timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoConfig {
    /// RTO before any sample (200 ms).
    pub initial_rto: Duration,
    /// SRTT before any sample (100 ms).
    pub initial_srtt: Duration,
    /// Clock granularity G, the floor of the variance term (10 ms).
    pub granularity: Duration,
    /// Upper bound of the RTO, also of backed-off resend intervals (1 s).
    pub max_rto: Duration,
}

impl Default for RtoConfig {
    fn default() -> Self {
        Self {
            initial_rto: Duration::from_millis(200),
            initial_srtt: Duration::from_millis(100),
            granularity: Duration::from_millis(10),
            max_rto: Duration::from_secs(1),
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
}

impl RttEstimator {
    pub(crate) fn new(config: RtoConfig) -> Self {
        Self {
            config,
            srtt: config.initial_srtt.as_secs_f64(),
            rttvar: 0.0,
            rto: config.initial_rto.min(config.max_rto),
            samples: 0,
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
    }

    /// Current retransmission timeout.
    pub(crate) fn rto(&self) -> Duration {
        self.rto
    }

    /// Resend interval after `retries` resends: RTO doubled per resend,
    /// capped at the maximum RTO.
    pub(crate) fn backoff(&self, retries: u32) -> Duration {
        let factor = 1u32 << retries.min(6);
        self.rto.saturating_mul(factor).min(self.config.max_rto)
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
    fn caps_at_one_second_and_backs_off() {
        let mut rtt = RttEstimator::new(RtoConfig::default());
        rtt.on_sample(Duration::from_secs(5));
        assert_eq!(rtt.rto(), Duration::from_secs(1));
        let fresh = RttEstimator::new(RtoConfig::default());
        assert_eq!(fresh.backoff(0), ms(200));
        assert_eq!(fresh.backoff(1), ms(400));
        assert_eq!(fresh.backoff(9), Duration::from_secs(1));
    }
}
