//! Live numbers read from the shared region while the run goes on: the master samples every
//! slot each tick and diffs against the previous sample, which gives per-interval rates and
//! latency percentiles for the live views and the per-second time series.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::latency::{self, COUNTS_LEN};
use crate::shm::{Histo, Meta, Region, ScenarioCounter, Total};

/// One interval's numbers.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Time since the start of the load.
    pub elapsed: Duration,
    /// Length of the interval this sample covers.
    pub interval: Duration,
    /// Requests sent so far.
    pub requests: u64,
    /// Transport errors so far.
    pub errors: u64,
    /// Responses >= 400 on requests without status checks, so far.
    pub failed_by_status: u64,
    /// Scenario runs succeeded so far.
    pub successes: u64,
    /// Scenario runs failed so far.
    pub failures: u64,
    /// Requests in this interval.
    pub interval_requests: u64,
    /// Errors in this interval.
    pub interval_errors: u64,
    /// Scenario failures in this interval.
    pub interval_failures: u64,
    /// Latency of the responses completed in this interval.
    pub interval_latency: Histogram<u64>,
    /// Workers running now.
    pub workers_alive: u64,
    /// Requests in flight now.
    pub in_flight: u64,
}

impl Sample {
    /// Requests per second over this interval.
    pub fn rps(&self) -> f64 {
        let secs = self.interval.as_secs_f64();
        if secs > 0.0 {
            self.interval_requests as f64 / secs
        } else {
            0.0
        }
    }
}

/// Diffs successive readings of the region.
#[derive(Debug)]
pub struct Sampler {
    previous_counts: Vec<u64>,
    previous: Option<Sample>,
    scenarios: usize,
}

impl Sampler {
    /// A sampler for a plan with `scenarios` scenarios.
    pub fn new(scenarios: usize) -> Sampler {
        Sampler {
            previous_counts: vec![0; COUNTS_LEN],
            previous: None,
            scenarios,
        }
    }

    /// Reads every slot now; `elapsed` is the time since the start of the load.
    pub fn sample(&mut self, region: &Region, elapsed: Duration) -> Sample {
        let mut counts = vec![0u64; COUNTS_LEN];
        let mut s = Sample {
            elapsed,
            interval: elapsed,
            requests: 0,
            errors: 0,
            failed_by_status: 0,
            successes: 0,
            failures: 0,
            interval_requests: 0,
            interval_errors: 0,
            interval_failures: 0,
            interval_latency: latency::new_histogram(),
            workers_alive: 0,
            in_flight: 0,
        };
        for i in 0..region.slots() {
            let slot = region.slot(i);
            s.requests += slot.total(Total::Requests);
            s.errors += slot.total(Total::Errors);
            s.failed_by_status += slot.total(Total::FailedByStatus);
            for sc in 0..self.scenarios {
                s.successes += slot.scenario(sc, ScenarioCounter::Successes);
                s.failures += slot.scenario(sc, ScenarioCounter::Failures);
            }
            // Gauges are written by one process and may be read mid-update; clamp wraps.
            let alive = slot.meta(Meta::WorkersAlive);
            s.workers_alive += if alive > u32::MAX as u64 { 0 } else { alive };
            let in_flight = slot.meta(Meta::InFlight);
            s.in_flight += if in_flight > u32::MAX as u64 {
                0
            } else {
                in_flight
            };
            for (index, c) in slot.histogram_counts(Histo::Overall) {
                counts[index] += c;
            }
        }
        let diff = counts
            .iter()
            .zip(&self.previous_counts)
            .map(|(now, before)| now.saturating_sub(*before))
            .enumerate();
        latency::add_counts(&mut s.interval_latency, diff);
        self.previous_counts = counts;
        if let Some(prev) = &self.previous {
            s.interval = elapsed.saturating_sub(prev.elapsed);
            s.interval_requests = s.requests.saturating_sub(prev.requests);
            s.interval_errors = s.errors.saturating_sub(prev.errors);
            s.interval_failures = s.failures.saturating_sub(prev.failures);
        } else {
            s.interval_requests = s.requests;
            s.interval_errors = s.errors;
            s.interval_failures = s.failures;
        }
        self.previous = Some(s.clone());
        s
    }
}
