//! Deterministic message ids and wall-clock dates for a sans-IO core.

use std::time::Instant;

use uuid::Uuid;

/// Generates random-looking v4 UUIDs from a seed (SplitMix64), so the
/// core needs no OS randomness and tests are reproducible. Drivers seed
/// it from real randomness.
#[derive(Debug, Clone)]
pub(crate) struct IdGenerator {
    state: u64,
}

impl IdGenerator {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn next_id(&mut self) -> Uuid {
        let high = u128::from(self.next_u64()) << 64;
        let bytes = (high | u128::from(self.next_u64())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// Maps monotonic instants to Unix epoch milliseconds for CreatedDate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    origin: Instant,
    unix_ms_at_origin: u64,
}

impl WallClock {
    pub(crate) fn new(origin: Instant, unix_ms_at_origin: u64) -> Self {
        Self {
            origin,
            unix_ms_at_origin,
        }
    }

    /// Epoch milliseconds at `now`; never 0 (receivers reject 0).
    pub(crate) fn unix_ms(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_millis();
        let elapsed = u64::try_from(elapsed).unwrap_or(u64::MAX);
        self.unix_ms_at_origin.saturating_add(elapsed).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_are_v4_and_distinct() {
        let mut ids = IdGenerator::new(7);
        let a = ids.next_id();
        let b = ids.next_id();
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 4);
    }

    #[test]
    fn wall_clock_advances_and_is_never_zero() {
        let origin = Instant::now();
        let clock = WallClock::new(origin, 0);
        assert_eq!(clock.unix_ms(origin), 1);
        let clock = WallClock::new(origin, 1000);
        assert_eq!(clock.unix_ms(origin + Duration::from_millis(25)), 1025);
    }
}
