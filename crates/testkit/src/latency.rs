//! Latency figures of the benchmarks.

use std::time::Duration;

/// Median and 99th percentile of a sample, by nearest rank (zero for an empty sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latencies {
    /// The median.
    pub p50: Duration,
    /// The 99th percentile.
    pub p99: Duration,
}

impl Latencies {
    /// The figures of `samples` (sorted in place).
    #[must_use]
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let rank = |percent: usize| {
            let index = (samples.len() * percent).div_ceil(100).saturating_sub(1);
            samples.get(index).copied().unwrap_or_default()
        };
        Self {
            p50: rank(50),
            p99: rank(99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let ms = Duration::from_millis;
        let figures = Latencies::of((1..=100).rev().map(ms).collect());
        assert_eq!(
            figures,
            Latencies {
                p50: ms(50),
                p99: ms(99)
            }
        );
        let figures = Latencies::of(vec![ms(3), ms(1)]);
        assert_eq!(
            figures,
            Latencies {
                p50: ms(1),
                p99: ms(3)
            }
        );
        assert_eq!(Latencies::of(Vec::new()).p99, Duration::ZERO);
    }
}
