//! Exponential backoff with full jitter: the n-th retry waits a uniformly random time
//! between zero and `min(max, base × factor^(n-1))`. Full jitter spreads the retries of
//! many stations that lost the network at the same moment, so they do not all come back
//! at once (the "thundering herd"); the cap keeps an offline station trying at least every
//! `max`.

use std::time::Duration;

use rand::Rng;

/// The backoff policy. [`Backoff::default`] is 1 s, doubling, capped at 5 minutes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first retry's delay.
    pub base: Duration,
    /// The largest ceiling of any retry's delay.
    pub max: Duration,
    /// How much the ceiling grows from one retry to the next (≥ 1).
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            factor: 2.0,
        }
    }
}

impl Backoff {
    /// The ceiling of the delay before retry number `attempt` (1 = the first retry, after
    /// one failed attempt): `min(max, base × factor^(attempt-1))`. Attempt 0 counts as 1.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(1_000);
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let grown = self.base.as_secs_f64() * factor.powi(exponent as i32);
        let max = self.max.as_secs_f64();
        if !grown.is_finite() || grown >= max {
            self.max
        } else {
            Duration::from_secs_f64(grown.max(0.0))
        }
    }

    /// The delay before retry number `attempt`: uniform in `[0, ceiling(attempt)]`, drawn
    /// from `rng` (full jitter).
    pub fn delay<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ceiling_grows_then_caps() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(3), Duration::from_secs(4));
        assert_eq!(b.ceiling(9), Duration::from_secs(256));
        assert_eq!(b.ceiling(10), Duration::from_secs(300));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(300));
        for n in 1..40 {
            assert!(b.ceiling(n) <= b.ceiling(n + 1));
        }
    }

    #[test]
    fn odd_factors_do_not_panic() {
        for factor in [f64::NAN, f64::INFINITY, 0.5, -3.0, 1.0] {
            let b = Backoff {
                factor,
                ..Backoff::default()
            };
            for n in [0, 1, 2, 100, u32::MAX] {
                assert!(b.ceiling(n) <= b.max);
            }
        }
    }

    #[test]
    fn delay_is_within_bounds_and_jittered() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(10),
            factor: 3.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for attempt in 1..12 {
            let ceiling = b.ceiling(attempt);
            let delays: Vec<Duration> = (0..200).map(|_| b.delay(attempt, &mut rng)).collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // full jitter: spread over the whole range, not bunched at the top
            let low = delays.iter().filter(|d| **d < ceiling / 2).count();
            assert!(
                (40..160).contains(&low),
                "attempt {attempt}: {low} of 200 below half"
            );
        }
        // the mean grows with the attempt until the cap
        let mean = |attempt, rng: &mut ChaCha8Rng| {
            (0..500)
                .map(|_| b.delay(attempt, rng).as_secs_f64())
                .sum::<f64>()
                / 500.0
        };
        let (m1, m3, m9) = (mean(1, &mut rng), mean(3, &mut rng), mean(9, &mut rng));
        assert!(m1 < m3 && m3 < m9, "{m1} {m3} {m9}");
        assert!((m9 - 5.0).abs() < 0.8, "capped mean ≈ max/2, got {m9}");
    }

    #[test]
    fn same_seed_same_delays() {
        let b = Backoff::default();
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut c = ChaCha8Rng::seed_from_u64(1);
        for n in 1..20 {
            assert_eq!(b.delay(n, &mut a), b.delay(n, &mut c));
        }
    }
}
