//! The latency histogram layout shared by children and master.
//!
//! Children record latencies into flat `u64` count arrays in shared memory, laid out exactly
//! like the counts array of an `hdrhistogram::Histogram` built with
//! `new_with_bounds(1, 86_400_000_000, 3)` (microseconds, 1 µs to 24 h, 3 significant
//! digits): 28,672 counters. (The top was 60 s: an overloaded open model, whose latency counts
//! from the intended start, passes it within minutes, and so does a long `timeout`.) The master turns such an array back into a real `Histogram` with
//! `record_n(lowest_value_at(index), count)`, which gives the same percentiles, mean, min and
//! max as recording the original values (hdrhistogram reports every value through the
//! equivalence range of its bucket).

use hdrhistogram::Histogram;

/// Lowest discernible value: 1 µs.
pub const LOWEST_US: u64 = 1;
/// Highest trackable value: 24 h in µs; larger values are clamped (to [`CLAMPED_US`]), and the
/// report says how many latencies reached it: [`at_top`].
pub const HIGHEST_US: u64 = 86_400_000_000;
/// Where a latency past [`HIGHEST_US`] is counted: the first value of the bucket after the
/// one that holds 24 h. That bucket is 67 s wide (from 23h59m29s): a clamped latency was
/// counted in it, and a latency of 23h59m40s read as clamped ("its true value is larger").
pub const CLAMPED_US: u64 = 86_436_216_832;
/// Significant decimal digits kept.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// `sub_bucket_count` = next power of two above 2 × 10^3.
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 11;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_HALF_COUNT: u64 = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_COUNT_MAGNITUDE) - 1;
const LEADING_ZERO_COUNT_BASE: u32 = 64 - SUB_BUCKET_COUNT_MAGNITUDE;

/// Number of counters: (buckets needed to cover 24 h + 1) × half the sub-bucket count.
pub const COUNTS_LEN: usize = 28_672;

/// The counts-array index for a latency in microseconds; one past [`HIGHEST_US`] is counted at
/// [`CLAMPED_US`], in a bucket of its own.
#[inline]
pub fn index_of(value_us: u64) -> usize {
    let value = if value_us > HIGHEST_US {
        CLAMPED_US
    } else {
        value_us
    };
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = value >> bucket;
    (((bucket as u64 + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT)
        as usize
}

/// The lowest value (µs) that falls into `index`.
pub fn lowest_value_at(index: usize) -> u64 {
    let index = index as u64;
    let bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        return sub_bucket;
    }
    sub_bucket << bucket
}

/// An empty histogram with the layout above.
///
/// It starts small and grows to the largest value recorded (at most [`HIGHEST_US`]: values
/// come from the counts arrays, which clamp there), with the same buckets, so percentiles
/// are those of the full layout. Built full, each took 224 KiB: the master builds one per
/// request line for the report (670 MiB for 3,000 lines).
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants known to be valid.
    let mut h =
        Histogram::new_with_bounds(LOWEST_US, 2 * SUB_BUCKET_HALF_COUNT, SIGNIFICANT_DIGITS)
            .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"));
    h.auto(true);
    h
}

/// A histogram with the whole layout allocated: the shape of the counts arrays.
#[cfg(test)]
fn full_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"))
}

/// How many latencies of `hist` reached its top ([`HIGHEST_US`]): their true values may be
/// larger (they were clamped to it).
pub fn at_top(hist: &Histogram<u64>) -> u64 {
    if hist.max() < CLAMPED_US {
        return 0;
    }
    hist.count_between(CLAMPED_US, hist.max())
}

/// The smallest latency of `hist`, as the top of its bucket: like the percentiles and
/// `max()`, at most 0.1% above the true value and never below it. (`Histogram::min()` is the
/// bottom of the bucket, below the true value: one latency would read as three.) 0 when empty.
pub fn min(hist: &Histogram<u64>) -> u64 {
    if hist.is_empty() {
        return 0;
    }
    hist.highest_equivalent(hist.min())
}

/// The mean latency of `hist`, each value taken as the top of its bucket (as [`min`], the
/// percentiles and `max()` are): at most 0.1% above the true mean, never below it.
/// (`Histogram::mean()` takes bucket midpoints, which can be below.) 0 when empty.
pub fn mean(hist: &Histogram<u64>) -> f64 {
    if hist.is_empty() {
        return 0.0;
    }
    let total: f64 = hist
        .iter_recorded()
        .map(|v| hist.highest_equivalent(v.value_iterated_to()) as f64 * v.count_at_value() as f64)
        .sum();
    total / hist.len() as f64
}

/// Adds a counts array (any iterator of `(index, count)`) into `hist`.
pub fn add_counts(hist: &mut Histogram<u64>, counts: impl IntoIterator<Item = (usize, u64)>) {
    for (index, count) in counts {
        if count > 0 {
            // Values come from our own index space, which the histogram covers.
            let _ = hist.record_n(lowest_value_at(index), count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    /// One latency reads as one value: min, mean, percentiles and max are all the top of its
    /// bucket, never below the true value and at most 0.1% above it.
    #[test]
    fn min_and_mean_are_bucket_tops_like_the_percentiles() {
        for value in [1u64, 999, 2_047, 2_048, 47_057, 1_000_001, 3_600_000_123] {
            let mut h = new_histogram();
            h.record(value).unwrap();
            let (lo, mean) = (min(&h), mean(&h));
            assert_eq!(lo, h.max(), "{value}");
            assert_eq!(mean, h.max() as f64, "{value}");
            assert_eq!(h.value_at_quantile(0.5), h.max(), "{value}");
            assert!(
                lo >= value && lo as f64 <= value as f64 * 1.001,
                "{value}: {lo}"
            );
        }
        let mut rng = SmallRng::seed_from_u64(3);
        let mut h = new_histogram();
        let (mut sum, mut smallest) = (0f64, u64::MAX);
        for _ in 0..50_000 {
            let value = (rng.random_range(0.0..20.0f64).exp() as u64).max(1);
            h.record(value).unwrap();
            sum += value as f64;
            smallest = smallest.min(value);
        }
        let true_mean = sum / 50_000.0;
        assert!(mean(&h) >= true_mean && mean(&h) <= true_mean * 1.001);
        assert!(min(&h) >= smallest && min(&h) as f64 <= smallest as f64 * 1.001);
        assert_eq!((min(&new_histogram()), mean(&new_histogram())), (0, 0.0));
    }

    #[test]
    fn counts_len_matches_hdrhistogram() {
        let h = full_histogram();
        assert_eq!(h.distinct_values(), COUNTS_LEN);
        assert!(index_of(HIGHEST_US) < COUNTS_LEN);
        // Clamped latencies have a bucket of their own, right after the one of 24 h.
        assert_eq!(index_of(CLAMPED_US), index_of(HIGHEST_US) + 1);
        assert_eq!(lowest_value_at(index_of(CLAMPED_US)), CLAMPED_US);
        assert_eq!(index_of(u64::MAX), index_of(CLAMPED_US));
        assert!(index_of(CLAMPED_US) < COUNTS_LEN);
    }

    /// Only latencies past 24 h count as having reached it: one of 23h59m40s, in the same
    /// 67 s bucket as 24 h, is below it (it was said to be larger, and `max < 24h` failed).
    #[test]
    fn a_latency_just_below_24_hours_has_not_reached_the_top() {
        let histogram_of = |values: &[u64]| {
            let mut counts = vec![0u64; COUNTS_LEN];
            for &v in values {
                counts[index_of(v)] += 1;
            }
            let mut h = new_histogram();
            add_counts(&mut h, counts.iter().copied().enumerate());
            h
        };
        let below = 86_380_000_000;
        assert_eq!(at_top(&histogram_of(&[below, HIGHEST_US])), 0);
        assert_eq!(at_top(&histogram_of(&[below, HIGHEST_US + 1, u64::MAX])), 2);
        assert!(histogram_of(&[below]).max() < CLAMPED_US);
    }

    /// The histograms that start small and grow give the same figures as the full layout.
    #[test]
    fn growing_histograms_read_as_full_ones() {
        let mut rng = SmallRng::seed_from_u64(11);
        let (mut growing, mut full) = (new_histogram(), full_histogram());
        for _ in 0..100_000 {
            let value = (rng.random_range(0.0..25.2f64).exp() as u64).clamp(1, HIGHEST_US);
            growing.record(value).unwrap();
            full.record(value).unwrap();
        }
        assert_eq!((growing.min(), growing.max()), (full.min(), full.max()));
        assert_eq!(growing.mean(), full.mean());
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                growing.value_at_quantile(q),
                full.value_at_quantile(q),
                "q {q}"
            );
        }
        assert!(new_histogram().distinct_values() < COUNTS_LEN / 8);
    }

    #[test]
    fn index_round_trips_through_lowest_value() {
        for index in 0..COUNTS_LEN {
            let low = lowest_value_at(index);
            if low <= HIGHEST_US {
                assert_eq!(index_of(low), index, "index {index} low {low}");
            }
        }
    }

    #[test]
    fn rebuilt_histogram_is_identical_to_direct_recording() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut direct = new_histogram();
        let mut counts = vec![0u64; COUNTS_LEN];
        for _ in 0..200_000 {
            // log-uniform over 1 µs .. 33 h, some of them past the top, which clamp
            let exp: f64 = rng.random_range(0.0..25.5);
            let value = (exp.exp() as u64).max(1);
            let clamped = if value > HIGHEST_US {
                CLAMPED_US
            } else {
                value
            };
            direct.record(clamped).unwrap();
            counts[index_of(value)] += 1;
        }
        let mut rebuilt = new_histogram();
        add_counts(&mut rebuilt, counts.iter().copied().enumerate());
        assert_eq!(rebuilt.len(), direct.len());
        assert_eq!(rebuilt.min(), direct.min());
        assert_eq!(rebuilt.max(), direct.max());
        assert_eq!(rebuilt.mean(), direct.mean());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                rebuilt.value_at_quantile(q),
                direct.value_at_quantile(q),
                "q {q}"
            );
        }
        // And the counts arrays agree bucket by bucket.
        for (index, &count) in counts.iter().enumerate() {
            assert_eq!(
                direct.count_at(lowest_value_at(index)),
                count,
                "index {index}"
            );
        }
    }
}
