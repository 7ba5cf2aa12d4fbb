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
    /// Responses >= 400 on requests without status checks, in the interval.
    pub failed_by_status: u64,
    /// Scenario runs started in the interval.
    pub starts: u64,
    /// Scenario starts per second over the interval (the achieved rate in the open model).
    pub starts_per_second: f64,
    /// Open model: the mean rate the schedule asked for over the interval.
    pub target_rate: Option<f64>,
    /// Open model: starts that began late in the interval.
    pub late_starts: u64,
    /// Open model: starts made ahead of schedule in the interval.
    pub early_starts: u64,
    /// Open model: starts dropped in the interval.
    pub dropped_starts: u64,
    /// Open model: arrivals due by the end of the interval that no worker had taken yet.
    pub behind: Option<u64>,
}

impl Point {
    /// The point of a sample; in the open model `target_rate` is the mean intended rate over
    /// the interval and
    /// `starts_due` the arrivals due so far.
    pub fn of(s: &Sample, target_rate: Option<f64>, starts_due: Option<u64>) -> Point {
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
            failed_by_status: s.delta.failed_by_status,
            starts: s.delta.runs_started,
            starts_per_second: s.starts_per_second(),
            target_rate,
            late_starts: s.delta.late_starts,
            early_starts: s.delta.early_starts,
            dropped_starts: s.delta.dropped_starts,
            behind: starts_due.map(|due| due.saturating_sub(s.totals.starts_taken())),
        }
    }
}
