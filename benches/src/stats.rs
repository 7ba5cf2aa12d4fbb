//! Summaries of repeated measurements: min, median and max.

/// The spread of a set of measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Smallest value.
    pub min: f64,
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Largest value.
    pub max: f64,
    /// How many values (NaN and infinities left out).
    pub count: usize,
}

impl Spread {
    /// The spread of the finite values of `values`; `None` when there is none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Spread {
            min: sorted[0],
            median,
            max: sorted[n - 1],
            count: n,
        })
    }
}

/// Element-wise `a[i] / b[i]` (the per-round ratios), skipping rounds where either is missing
/// or `b` is zero.
pub fn ratios(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter_map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) if *y != 0.0 => Some(x / y),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (min, median, max, count)
    type Expected = Option<(f64, f64, f64, usize)>;

    #[test]
    fn spreads() {
        let cases: &[(&[f64], Expected)] = &[
            (&[], None),
            (&[f64::NAN], None),
            (&[3.0], Some((3.0, 3.0, 3.0, 1))),
            (&[5.0, 1.0, 3.0], Some((1.0, 3.0, 5.0, 3))),
            (&[4.0, 1.0, 3.0, 2.0], Some((1.0, 2.5, 4.0, 4))),
            (&[2.0, f64::INFINITY, 1.0], Some((1.0, 1.5, 2.0, 2))),
        ];
        for (values, want) in cases {
            let got = Spread::of(values).map(|s| (s.min, s.median, s.max, s.count));
            assert_eq!(got, *want, "{values:?}");
        }
    }

    #[test]
    fn ratios_pair_rounds_and_skip_holes() {
        let a = [Some(10.0), None, Some(9.0), Some(1.0)];
        let b = [Some(5.0), Some(3.0), Some(3.0), Some(0.0)];
        assert_eq!(ratios(&a, &b), vec![2.0, 3.0]);
    }
}
