//! Live numbers read from the shared region while the run goes on: the master samples every
//! slot and diffs against the previous sample of the same [`Sampler`], which gives
//! per-interval rates and latency percentiles for the live views, the per-second time series
//! and the sizing mode. A run's samplers count from the start of the load
//! ([`Sampler::from_now`]): what the plan's `setup` and the open model's `setup worker`
//! blocks sent before it is not the load's.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::latency::{self, COUNTS_LEN};
use crate::shm::{Histo, Meta, Region, ScenarioCounter, Total};

/// Cumulative counters over all slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests sent.
    pub requests: u64,
    /// Complete responses.
    pub responses: u64,
    /// Transport errors.
    pub errors: u64,
    /// Responses >= 400 on requests without status checks.
    pub failed_by_status: u64,
    /// Scenario runs that succeeded.
    pub successes: u64,
    /// Scenario runs that failed.
    pub failures: u64,
    /// Scenario runs started.
    pub runs_started: u64,
    /// Open model: starts later than scheduled.
    pub late_starts: u64,
    /// Open model: starts made ahead of schedule (within `--max-early`).
    pub early_starts: u64,
    /// Open model: scheduled starts dropped.
    pub dropped_starts: u64,
    /// Check and assert evaluations that passed.
    pub checks_passed: u64,
    /// Check and assert evaluations that failed.
    pub checks_failed: u64,
}

impl Totals {
    /// Open model: the arrivals workers took so far (scenario runs started, and starts
    /// dropped by `--max-late`).
    pub fn starts_taken(&self) -> u64 {
        self.runs_started + self.dropped_starts
    }

    fn minus(self, before: Totals) -> Totals {
        Totals {
            requests: self.requests.saturating_sub(before.requests),
            responses: self.responses.saturating_sub(before.responses),
            errors: self.errors.saturating_sub(before.errors),
            failed_by_status: self
                .failed_by_status
                .saturating_sub(before.failed_by_status),
            successes: self.successes.saturating_sub(before.successes),
            failures: self.failures.saturating_sub(before.failures),
            runs_started: self.runs_started.saturating_sub(before.runs_started),
            late_starts: self.late_starts.saturating_sub(before.late_starts),
            early_starts: self.early_starts.saturating_sub(before.early_starts),
            dropped_starts: self.dropped_starts.saturating_sub(before.dropped_starts),
            checks_passed: self.checks_passed.saturating_sub(before.checks_passed),
            checks_failed: self.checks_failed.saturating_sub(before.checks_failed),
        }
    }

    /// Failed requests: transport errors and responses failed by status.
    pub fn failed_requests(&self) -> u64 {
        self.errors + self.failed_by_status
    }

    /// Requests that have an outcome: a complete response or a transport error (the others
    /// are still in flight). What a failure ratio is over: a request in flight has not
    /// succeeded yet.
    pub fn outcomes(&self) -> u64 {
        self.responses + self.errors
    }
}

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
    /// Every cumulative counter.
    pub totals: Totals,
    /// Every counter, over this interval.
    pub delta: Totals,
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
        per_second(self.interval_requests, self.interval)
    }

    /// Scenario starts per second over this interval.
    pub fn starts_per_second(&self) -> f64 {
        per_second(self.delta.runs_started, self.interval)
    }
}

#[cfg(test)]
impl Sample {
    /// For tests: the sample of one interval ending at `elapsed`, in which `delta` happened
    /// (the cumulative figures are that interval's; no latency recorded).
    pub(crate) fn of_interval(
        elapsed: Duration,
        interval: Duration,
        delta: Totals,
        workers_alive: u64,
    ) -> Sample {
        Sample {
            elapsed,
            interval,
            requests: delta.requests,
            errors: delta.errors,
            failed_by_status: delta.failed_by_status,
            successes: delta.successes,
            failures: delta.failures,
            interval_requests: delta.requests,
            interval_errors: delta.errors,
            interval_failures: delta.failures,
            totals: delta,
            delta,
            interval_latency: latency::new_histogram(),
            workers_alive,
            in_flight: 0,
        }
    }
}

/// `count / interval`, 0 for an empty interval.
pub fn per_second(count: u64, interval: Duration) -> f64 {
    let secs = interval.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// Diffs successive readings of the region. Every figure counts from its baseline: what the
/// region held when the sampler was made by [`Sampler::from_now`] (nothing for
/// [`Sampler::new`]).
#[derive(Debug, Clone)]
pub struct Sampler {
    previous_counts: Vec<u64>,
    previous: Totals,
    previous_elapsed: Duration,
    base_counts: Vec<u64>,
    base: Totals,
    scenarios: usize,
    checks: usize,
}

/// A gauge word written by one process may be read mid-update (a decrement wraps for an
/// instant): treat implausible values as 0.
fn gauge(value: u64) -> u64 {
    if value > u64::from(u32::MAX) {
        0
    } else {
        value
    }
}

impl Sampler {
    /// A sampler for a plan with `scenarios` scenarios and `checks` checks and asserts.
    pub fn new(scenarios: usize, checks: usize) -> Sampler {
        Sampler {
            previous_counts: vec![0; COUNTS_LEN],
            previous: Totals::default(),
            previous_elapsed: Duration::ZERO,
            base_counts: vec![0; COUNTS_LEN],
            base: Totals::default(),
            scenarios,
            checks,
        }
    }

    /// A sampler that counts from now: what the region already holds (the requests,
    /// failures, checks and latencies of the plan's `setup`, and of the open model's `setup
    /// worker` blocks, all sent before the load starts) is in none of its figures, neither
    /// the first interval's nor the cumulative ones. Made when the load starts.
    pub fn from_now(region: &Region, scenarios: usize, checks: usize) -> Sampler {
        let mut sampler = Sampler::new(scenarios, checks);
        let (base, base_counts, _, _) = sampler.read(region);
        sampler.base = base;
        sampler.base_counts = base_counts;
        sampler
    }

    /// Every slot's counters and overall latency counts now, and the gauges (workers alive,
    /// requests in flight).
    fn read(&self, region: &Region) -> (Totals, Vec<u64>, u64, u64) {
        let mut counts = vec![0u64; COUNTS_LEN];
        let mut t = Totals::default();
        let mut workers_alive = 0;
        let mut in_flight = 0;
        for i in 0..region.slots() {
            let slot = region.slot(i);
            t.requests += slot.total(Total::Requests);
            t.responses += slot.total(Total::Responses);
            t.errors += slot.total(Total::Errors);
            t.failed_by_status += slot.total(Total::FailedByStatus);
            t.late_starts += slot.total(Total::LateStarts);
            t.early_starts += slot.total(Total::EarlyStarts);
            t.dropped_starts += slot.total(Total::DroppedStarts);
            t.runs_started += slot.meta(Meta::RunsStarted);
            for check in 0..self.checks {
                let (passed, failed) = slot.check(check);
                t.checks_passed += passed;
                t.checks_failed += failed;
            }
            for sc in 0..self.scenarios {
                t.successes += slot.scenario(sc, ScenarioCounter::Successes);
                t.failures += slot.scenario(sc, ScenarioCounter::Failures);
            }
            workers_alive += gauge(slot.meta(Meta::WorkersAlive));
            in_flight += gauge(slot.meta(Meta::InFlight));
            for (index, c) in slot.histogram_counts(Histo::Overall) {
                counts[index] += c;
            }
        }
        (t, counts, workers_alive, in_flight)
    }

    /// Reads every slot now; `elapsed` is the time since the start of the load.
    pub fn sample(&mut self, region: &Region, elapsed: Duration) -> Sample {
        let (t, mut counts, workers_alive, in_flight) = self.read(region);
        let t = t.minus(self.base);
        for (now, base) in counts.iter_mut().zip(&self.base_counts) {
            *now = now.saturating_sub(*base);
        }
        let mut interval_latency = latency::new_histogram();
        let diff = counts
            .iter()
            .zip(&self.previous_counts)
            .map(|(now, before)| now.saturating_sub(*before))
            .enumerate();
        latency::add_counts(&mut interval_latency, diff);
        self.previous_counts = counts;
        let delta = t.minus(self.previous);
        let interval = elapsed.saturating_sub(self.previous_elapsed);
        self.previous = t;
        self.previous_elapsed = elapsed;
        Sample {
            elapsed,
            interval,
            requests: t.requests,
            errors: t.errors,
            failed_by_status: t.failed_by_status,
            successes: t.successes,
            failures: t.failures,
            interval_requests: delta.requests,
            interval_errors: delta.errors,
            interval_failures: delta.failures,
            totals: t,
            delta,
            interval_latency,
            workers_alive,
            in_flight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::Point;
    use crate::shm::{Layout, Shape};

    /// A region of two slots with no requests, scenarios or checks named.
    fn two_slots() -> Region {
        Region::new(Layout::new(Shape {
            requests: 0,
            scenarios: 0,
            checks: 0,
            slots: 2,
        }))
        .unwrap()
    }

    /// Each point of the series holds its own interval, merged over every slot: the
    /// transport errors and responses failed by status of the interval, and the p50 and p99
    /// of the latencies recorded in it (not of the run so far).
    #[test]
    fn a_point_holds_the_errors_and_percentiles_of_its_interval() {
        let region = two_slots();
        let mut sampler = Sampler::new(0, 0);
        // First second, in slot 0: 95 at 1 ms and 5 at 100 ms.
        let slot = region.slot(0);
        slot.add(Total::Requests, 100);
        slot.add(Total::Errors, 3);
        slot.add(Total::FailedByStatus, 5);
        for i in 0..100 {
            slot.record(Histo::Overall, if i < 95 { 1_000 } else { 100_000 });
        }
        let first = Point::of(&sampler.sample(&region, Duration::from_secs(1)), None, None);
        // Second second, in slot 1: 100 at 200 ms.
        let slot = region.slot(1);
        slot.add(Total::Requests, 100);
        slot.add(Total::Errors, 7);
        slot.add(Total::FailedByStatus, 2);
        for _ in 0..100 {
            slot.record(Histo::Overall, 200_000);
        }
        let second = Point::of(&sampler.sample(&region, Duration::from_secs(2)), None, None);
        // Percentiles are the top of their bucket (3 significant digits).
        let near =
            |got: Option<u64>, want: u64| got.is_some_and(|v| v.abs_diff(want) <= want / 1000 + 1);
        assert_eq!(
            (first.requests, first.errors, first.failed_by_status),
            (100, 3, 5)
        );
        assert!(near(first.p50_us, 1_000), "{first:?}");
        assert!(near(first.p99_us, 100_000), "{first:?}");
        assert_eq!(
            (second.requests, second.errors, second.failed_by_status),
            (100, 7, 2)
        );
        assert!(near(second.p50_us, 200_000), "{second:?}");
        assert!(near(second.p99_us, 200_000), "{second:?}");
    }

    /// A sampler made when the load starts leaves out what the region held then (the plan's
    /// `setup`, in its own slot, and the open model's `setup worker` requests, in the load
    /// slots): its first interval and its cumulative figures are the load's alone.
    #[test]
    fn a_sampler_from_the_start_leaves_out_what_came_before() {
        let region = two_slots();
        // Before the start: 2,000 quick requests of `setup` (slot 1), 100 of them failed, and
        // 50 logins in the load slot.
        let setup = region.slot(1);
        setup.add(Total::Requests, 2_000);
        setup.add(Total::FailedByStatus, 100);
        for _ in 0..2_000 {
            setup.record(Histo::Overall, 20);
        }
        let load = region.slot(0);
        load.add(Total::Requests, 50);
        for _ in 0..50 {
            load.record(Histo::Overall, 30);
        }
        let mut sampler = Sampler::from_now(&region, 0, 0);
        // The load's first second: 10 requests of 100 ms, none failed.
        load.add(Total::Requests, 10);
        for _ in 0..10 {
            load.record(Histo::Overall, 100_000);
        }
        let first = sampler.sample(&region, Duration::from_secs(1));
        assert_eq!((first.interval_requests, first.requests), (10, 10));
        assert_eq!(
            (first.delta.failed_by_status, first.failed_by_status),
            (0, 0)
        );
        assert_eq!(first.interval_latency.len(), 10);
        assert!(latency::min(&first.interval_latency) >= 100_000);
        assert_eq!(first.rps(), 10.0);
        load.add(Total::Requests, 10);
        let second = sampler.sample(&region, Duration::from_secs(2));
        assert_eq!((second.interval_requests, second.requests), (10, 20));
    }
}
