//! The per-second time series of a run, built by the master from one [`Sample`] a second:
//! what the JSON report's `series` and the live charts show.

use std::time::Duration;

use crate::live::Sample;

/// One second of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// End of the interval, since the start of the load.
    pub elapsed: Duration,
    /// Requests sent in the interval.
    pub requests: u64,
    /// Transport errors in the interval.
    pub errors: u64,
    /// Scenario failures in the interval.
    pub failures: u64,
    /// Requests per second over the interval.
    pub rps: f64,
    /// Median latency of responses completed in the interval (µs; None when none).
    pub p50_us: Option<u64>,
    /// 99th percentile latency of responses completed in the interval (µs).
    pub p99_us: Option<u64>,
    /// Workers running at the end of the interval.
    pub workers: u64,
    /// Requests in flight at the end of the interval.
    pub in_flight: u64,
}

impl Point {
    /// The point of a sample.
    pub fn of(s: &Sample) -> Point {
        let q = |q: f64| {
            (!s.interval_latency.is_empty()).then(|| s.interval_latency.value_at_quantile(q))
        };
        Point {
            elapsed: s.elapsed,
            requests: s.interval_requests,
            errors: s.interval_errors,
            failures: s.interval_failures,
            rps: s.rps(),
            p50_us: q(0.5),
            p99_us: q(0.99),
            workers: s.workers_alive,
            in_flight: s.in_flight,
        }
    }
}
