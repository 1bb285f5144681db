//! Percentiles and rate windows.

use std::time::Duration;

/// The `p`-th percentile (0..=100) of `samples`, nearest-rank.
pub(crate) fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Milliseconds as a float.
pub(crate) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Samples of a growing counter, for its highest rate over any window of
/// a given length.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    samples: Vec<(Duration, u64)>,
}

impl RateWindow {
    /// Records the counter's value at time `at` (since some origin).
    pub(crate) fn record(&mut self, at: Duration, value: u64) {
        self.samples.push((at, value));
    }

    /// Highest increase over any span of at least `window` between two
    /// samples, per second of that span.
    pub(crate) fn peak_rate(&self, window: Duration) -> Option<f64> {
        let mut best: Option<f64> = None;
        let mut start = 0;
        for (end, &(at, value)) in self.samples.iter().enumerate() {
            while start + 1 < end && at - self.samples[start + 1].0 >= window {
                start += 1;
            }
            let (from, base) = self.samples[start];
            if at - from >= window {
                let rate = (value - base) as f64 / (at - from).as_secs_f64();
                best = Some(best.map_or(rate, |best| best.max(rate)));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|ms| Duration::from_millis(*ms)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples = millis(&[5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(5)));
        assert_eq!(percentile(&samples, 90.0), Some(Duration::from_millis(9)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn peak_rate_over_a_sliding_window() {
        let mut window = RateWindow::default();
        for (tenth, value) in [0, 100, 200, 300, 900, 1000, 1100].into_iter().enumerate() {
            window.record(Duration::from_millis(100 * tenth as u64), value);
        }
        // Largest rise over 200 ms: 300 -> 1000 between 300 and 500 ms.
        let peak = window.peak_rate(Duration::from_millis(200)).unwrap();
        assert!((peak - 3500.0).abs() < 1e-6, "{peak}");
        assert!(window.peak_rate(Duration::from_secs(5)).is_none());
    }
}
