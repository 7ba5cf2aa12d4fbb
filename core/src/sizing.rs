//! Sizing mode (`--sizing`): while the load ramps up, the master watches the failure ratio
//! over a sliding window and stops the run when it exceeds the tolerance, keeping the last
//! point that was still below it (the knee).
//!
//! The failure ratio of a window is the largest of the request failure ratio (transport errors
//! plus responses failed by status, over the requests that got an outcome in the window:
//! responses and transport errors; a request still in flight has not succeeded), the scenario
//! failure ratio (failed runs over finished runs) and the check failure ratio (failed over
//! evaluated checks and asserts). A window is judged only once it holds at least
//! `min_samples` outcomes, so an empty or thin window never divides by zero nor stops a run
//! on three requests.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::latency;
use crate::live::{Sample, Totals, per_second};

/// How sizing judges the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingConfig {
    /// Failure ratio (0..1) above which the load is too much (`--sizing-tolerance`, 5%).
    pub tolerance: f64,
    /// Length of the sliding window.
    pub window: Duration,
    /// How often the window is judged (and samples taken).
    pub step: Duration,
    /// Fewest outcomes (responses and transport errors) in a window for it to be judged.
    pub min_samples: u64,
    /// The ramp judged: of the workers (closed model) or of the rate (`--rate`), over
    /// `--ramp-up` (default 5 minutes). Reported in `config.load.ramp_up_s`.
    pub ramp_up: Duration,
}

impl SizingConfig {
    /// The tolerance in percent, as the user gave it: `--sizing-tolerance 7` is stored as
    /// 7 / 100 = 0.07000000000000001, which times 100 is 7.000000000000001. The shortest
    /// decimal that gives the same fraction.
    pub fn tolerance_pct(&self) -> f64 {
        let pct = self.tolerance * 100.0;
        (0..=17)
            .filter_map(|d| format!("{pct:.d$}").parse::<f64>().ok())
            .find(|p| p / 100.0 == self.tolerance)
            .unwrap_or(pct)
    }

    /// The defaults for a ramp of `ramp_up`: a window of 1/60 of the ramp, between 500 ms and
    /// 5 s, judged every 100 ms, at least 50 requests.
    pub fn for_ramp(tolerance: f64, ramp_up: Duration) -> SizingConfig {
        SizingConfig {
            tolerance,
            window: (ramp_up / 60).clamp(Duration::from_millis(500), Duration::from_secs(5)),
            step: Duration::from_millis(100),
            min_samples: 50,
            ramp_up,
        }
    }
}

/// The load and what it got at one point of the ramp.
#[derive(Debug, Clone)]
pub struct SizingPoint {
    /// Time since the start of the load.
    pub elapsed: Duration,
    /// Workers running (all processes): the most seen in the window.
    pub workers: u64,
    /// Open model: the rate the schedule asked for.
    pub target_rate: Option<f64>,
    /// Requests per second over the window.
    pub rps: f64,
    /// The window's failure ratio (0..1).
    pub failure_ratio: f64,
    /// Latency of the window's responses.
    pub latency: Histogram<u64>,
}

/// The verdict of a sizing run.
#[derive(Debug, Clone)]
pub struct SizingReport {
    /// The settings it ran with.
    pub config: SizingConfig,
    /// The last judged point at or below the tolerance (None: no window was ever judged
    /// good).
    pub last_good: Option<SizingPoint>,
    /// The first point above the tolerance (None: never exceeded).
    pub exceeded: Option<SizingPoint>,
    /// The judged point at or below the tolerance with the highest load (workers, or the
    /// target rate in the open model).
    pub peak: Option<SizingPoint>,
    /// The highest failure ratio of any judged window.
    pub max_ratio: f64,
    /// Windows judged.
    pub judged: u64,
}

struct Step {
    /// When the step's interval began (the previous sample), since the start of the load.
    from: Duration,
    delta: Totals,
    latency: Histogram<u64>,
    /// Workers running when the step's sample was taken.
    workers: u64,
}

/// Follows the run step by step and says when to stop.
pub struct SizingTracker {
    config: SizingConfig,
    steps: VecDeque<Step>,
    report: SizingReport,
}

impl SizingTracker {
    /// A tracker with `config`.
    pub fn new(config: SizingConfig) -> SizingTracker {
        SizingTracker {
            config,
            steps: VecDeque::new(),
            report: SizingReport {
                config,
                last_good: None,
                exceeded: None,
                peak: None,
                max_ratio: 0.0,
                judged: 0,
            },
        }
    }

    /// Adds one step's sample; returns true when the tolerance was exceeded (stop the run).
    /// `target_rate(from, to)` is the mean rate the schedule asked for over `[from, to]`
    /// (None in the closed model): the window's point holds it over the window's span.
    pub fn observe(
        &mut self,
        sample: &Sample,
        target_rate: impl Fn(Duration, Duration) -> Option<f64>,
    ) -> bool {
        if self.report.exceeded.is_some() {
            return true;
        }
        self.steps.push_back(Step {
            from: sample.elapsed.saturating_sub(sample.interval),
            delta: sample.delta,
            latency: sample.interval_latency.clone(),
            workers: sample.workers_alive,
        });
        // The window is the newest steps that reach back about `window`: a step stays while
        // the span it starts stays within half a step of the window. Samples come a few
        // hundred µs early or late, so a cut at exactly `window` kept one step too many
        // about half the time (6 steps of 100 ms in a 500 ms window).
        let longest = self.config.window + self.config.step / 2;
        while self.steps.len() > 1
            && self
                .steps
                .front()
                .is_some_and(|s| sample.elapsed.saturating_sub(s.from) > longest)
        {
            self.steps.pop_front();
        }
        let mut window = Totals::default();
        let mut latency = latency::new_histogram();
        for s in &self.steps {
            window.requests += s.delta.requests;
            window.responses += s.delta.responses;
            window.errors += s.delta.errors;
            window.failed_by_status += s.delta.failed_by_status;
            window.successes += s.delta.successes;
            window.failures += s.delta.failures;
            window.checks_passed += s.delta.checks_passed;
            window.checks_failed += s.delta.checks_failed;
            let _ = latency.add(&s.latency);
        }
        if window.outcomes() < self.config.min_samples {
            return false;
        }
        let ratio = failure_ratio(&window);
        self.report.judged += 1;
        self.report.max_ratio = self.report.max_ratio.max(ratio);
        // The time the window's steps cover, from the start of the first to this sample: the
        // requests, the failure ratio and the rate are all over the same span. (The rate was
        // once divided by the configured window whatever the steps covered: up to 20% high.)
        let span = self
            .steps
            .front()
            .map_or(Duration::ZERO, |f| sample.elapsed.saturating_sub(f.from));
        let point = SizingPoint {
            elapsed: sample.elapsed,
            // The most that ran in the window: a sample taken as the load ends (its workers
            // gone) still covers the requests they sent (it once said "0 workers" at the
            // open model's highest rate).
            workers: self.steps.iter().map(|s| s.workers).max().unwrap_or(0),
            target_rate: target_rate(sample.elapsed.saturating_sub(span), sample.elapsed),
            rps: per_second(window.requests, span),
            failure_ratio: ratio,
            latency,
        };
        if ratio > self.config.tolerance {
            self.report.exceeded = Some(point);
            true
        } else {
            if self
                .report
                .peak
                .as_ref()
                .is_none_or(|p| at_least_the_load_of(&point, p))
            {
                self.report.peak = Some(point.clone());
            }
            self.report.last_good = Some(point);
            false
        }
    }

    /// The verdict so far.
    pub fn report(&self) -> &SizingReport {
        &self.report
    }

    /// The verdict.
    pub fn into_report(self) -> SizingReport {
        self.report
    }
}

/// The load at a point: the target rate in the open model, the workers otherwise.
fn load_of(p: &SizingPoint) -> f64 {
    p.target_rate.unwrap_or(p.workers as f64)
}

/// How far apart, relative to the load, two loads may be and still be the same load. A
/// window within a hold reads the held rate exactly (`RateSchedule::mean_rate`); elsewhere a
/// window's target rate is a difference of the schedule's cumulative arrivals, which rounds
/// in the last digits (before holds were read exactly, a hold at 200/s read
/// 200.00000000000006 in one window, 199.99999999999997 in a later one). A billionth is far
/// above that rounding and far below anything printed or any step of a ramp.
const SAME_LOAD: f64 = 1e-9;

/// Whether `point` is at least the load of `peak`, the highest so far: loads that differ by
/// rounding alone are the same, and the same load held later is the peak (the latest window
/// at the highest load). A plain `>=` once named an earlier window of a hold (its rate a
/// hair above the later ones') as the highest load reached.
fn at_least_the_load_of(point: &SizingPoint, peak: &SizingPoint) -> bool {
    let (load, highest) = (load_of(point), load_of(peak));
    load >= highest - highest.abs() * SAME_LOAD
}

/// The largest of the request, scenario and check failure ratios; 0 when nothing happened.
pub fn failure_ratio(t: &Totals) -> f64 {
    let ratio = |part: u64, all: u64| {
        if all > 0 {
            part as f64 / all as f64
        } else {
            0.0
        }
    };
    // Over the requests that got an outcome, not those sent: a window's requests still in
    // flight at its end once counted as successes (every response of a slow server failing
    // read "80.77% failed"). Read one counter at a time, a window's failures may run ahead of
    // its outcomes by a request or two: the ratio is capped at 1.
    let outcomes = t.outcomes();
    let request = ratio(t.failed_requests().min(outcomes), outcomes);
    let scenario = ratio(t.failures, t.successes + t.failures);
    let checks = ratio(t.checks_failed, t.checks_passed + t.checks_failed);
    request.max(scenario).max(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{RateSchedule, Stage};

    /// A tracker judging every 100 ms a window of `window_ms`, once it holds `min_samples`
    /// outcomes, against `tolerance`.
    fn tracker(tolerance: f64, window_ms: u64, min_samples: u64) -> SizingTracker {
        SizingTracker::new(SizingConfig {
            tolerance,
            window: Duration::from_millis(window_ms),
            step: Duration::from_millis(100),
            min_samples,
            ramp_up: Duration::from_secs(60),
        })
    }

    fn sample(elapsed_ms: u64, requests: u64, failed: u64, workers: u64) -> Sample {
        let delta = Totals {
            requests,
            responses: requests,
            failed_by_status: failed,
            ..Totals::default()
        };
        Sample::of_interval(
            Duration::from_millis(elapsed_ms),
            Duration::from_millis(100),
            delta,
            workers,
        )
    }

    #[test]
    fn ratio_never_divides_by_zero() {
        assert_eq!(failure_ratio(&Totals::default()), 0.0);
        let t = Totals {
            requests: 10,
            responses: 9,
            errors: 1,
            failed_by_status: 1,
            successes: 1,
            failures: 3,
            ..Totals::default()
        };
        assert_eq!(failure_ratio(&t), 0.75);
        let checks = Totals {
            requests: 10,
            checks_passed: 1,
            checks_failed: 9,
            ..Totals::default()
        };
        assert_eq!(failure_ratio(&checks), 0.9);
    }

    /// Requests still in flight at a window's end have no outcome yet: they are not
    /// successes. A server failing every response, with a fifth of the window's requests
    /// still in flight, is 100% failed (it once read 80%).
    #[test]
    fn requests_in_flight_are_not_counted_as_successes() {
        let t = Totals {
            requests: 100,
            responses: 80,
            failed_by_status: 80,
            ..Totals::default()
        };
        assert_eq!(failure_ratio(&t), 1.0);
        // 6 of 100 outcomes failed, 20 more requests in flight: 6%, not 5%.
        let t = Totals {
            requests: 120,
            responses: 98,
            errors: 2,
            failed_by_status: 4,
            ..Totals::default()
        };
        assert_eq!(failure_ratio(&t), 0.06);
        // A window of 60 requests sent, of which only 40 came back, is not judged with 50
        // outcomes needed.
        let mut tr = tracker(0.05, 500, 50);
        let delta = Totals {
            requests: 60,
            responses: 40,
            failed_by_status: 40,
            ..Totals::default()
        };
        let s = Sample::of_interval(
            Duration::from_millis(100),
            Duration::from_millis(100),
            delta,
            1,
        );
        assert!(!tr.observe(&s, |_, _| None));
        assert_eq!(tr.report().judged, 0);
    }

    /// The tolerance reads as given: `--sizing-tolerance 7` is 0.07000000000000001 as a
    /// fraction, and was printed `7.000000000000001%`.
    #[test]
    fn the_tolerance_reads_as_given() {
        for pct in [
            7.0, 14.0, 28.0, 29.0, 55.0, 56.0, 57.0, 5.0, 0.5, 12.345, 99.99,
        ] {
            let config = SizingConfig::for_ramp(pct / 100.0, Duration::from_secs(10));
            assert_eq!(config.tolerance_pct(), pct);
        }
    }

    #[test]
    fn thin_windows_are_not_judged() {
        let mut tr = tracker(0.05, 500, 50);
        // 10 requests per step, all failing: 5 steps fill the window with 50 samples.
        for i in 1..=4 {
            assert!(!tr.observe(&sample(i * 100, 10, 10, 1), |_, _| None));
        }
        assert_eq!(tr.report().judged, 0);
        assert!(tr.observe(&sample(500, 10, 10, 1), |_, _| None));
        assert!(tr.report().last_good.is_none());
    }

    /// Samples taken a few hundred µs off their 100 ms steps, as the master's are: the rate
    /// of every judged window is its requests over the span its steps cover, and so is the
    /// true rate. (The window once kept a sixth step about half the time and divided its
    /// requests by the nominal 500 ms: 120/s for a steady 100/s.)
    #[test]
    fn the_rate_of_a_window_is_over_the_span_it_covers() {
        let mut tr = tracker(0.05, 500, 10);
        // Steady 100 requests/s: each step holds 100 requests per second of its own length.
        let jitter_us = [300i64, -250, 400, -100, 350, -300, 50, 450, -400, 200];
        let mut previous = Duration::ZERO;
        let mut total = 0u64;
        let mut judged = Vec::new();
        for step in 1..=40u64 {
            let jitter = jitter_us[step as usize % jitter_us.len()];
            let elapsed = Duration::from_micros((step * 100_000).saturating_add_signed(jitter));
            let interval = elapsed - previous;
            // Requests sent so far at 100/s, rounded: the step holds the difference.
            let now_total = (elapsed.as_secs_f64() * 100.0).round() as u64;
            let delta = Totals {
                requests: now_total - total,
                responses: now_total - total,
                failed_by_status: 0,
                ..Totals::default()
            };
            total = now_total;
            previous = elapsed;
            assert!(
                !tr.observe(&Sample::of_interval(elapsed, interval, delta, 1), |_, _| {
                    None
                })
            );
            if let Some(p) = &tr.report().last_good
                && p.elapsed == elapsed
            {
                judged.push(p.rps);
            }
        }
        assert!(judged.len() > 30, "{judged:?}");
        for rps in judged {
            // The window holds 50 requests (±1 of rounding) over about 0.5 s.
            assert!(
                (rps - 100.0).abs() < 3.0,
                "{rps} requests/s for a steady 100/s"
            );
        }
    }

    /// The failure ratio and the rate of a point count the same steps.
    #[test]
    fn a_window_counts_and_divides_over_the_same_steps() {
        // No window is over the tolerance, whatever it holds: every one is kept as good.
        let mut tr = tracker(1.0, 500, 1);
        // Steps of 100 ms ending at 100.3, 200, ... 500, then 600: the first one (from 0 to
        // 100.3 ms) lies 600 ms back from the last sample, outside a 500 ms window.
        let ends = [100_300u64, 200_000, 300_000, 400_000, 500_000, 600_000];
        let mut previous = Duration::ZERO;
        for (i, end) in ends.iter().enumerate() {
            let elapsed = Duration::from_micros(*end);
            // The first step is all failures; the others have none.
            let failed = if i == 0 { 10 } else { 0 };
            let delta = Totals {
                requests: 10,
                responses: 10,
                failed_by_status: failed,
                ..Totals::default()
            };
            tr.observe(
                &Sample::of_interval(elapsed, elapsed - previous, delta, 1),
                |_, _| None,
            );
            previous = elapsed;
        }
        let last = tr.report().last_good.clone().unwrap();
        assert_eq!(last.elapsed, Duration::from_millis(600));
        // 5 steps, 50 requests over 499.7 ms; none failed.
        assert!((last.rps - 50.0 / 0.4997).abs() < 1e-6, "{}", last.rps);
        assert_eq!(last.failure_ratio, 0.0);
    }

    #[test]
    fn the_knee_is_the_last_good_window() {
        let mut tr = tracker(0.05, 300, 50);
        // Workers rise by one per step; failures start above 20 workers.
        let mut stopped_at = None;
        for step in 1..100u64 {
            let workers = step;
            let failed = if workers > 20 { 30 } else { 0 };
            if tr.observe(&sample(step * 100, 100, failed, workers), |_, _| None) {
                stopped_at = Some(workers);
                break;
            }
        }
        let r = tr.into_report();
        assert_eq!(stopped_at, Some(21));
        assert_eq!(r.last_good.as_ref().map(|p| p.workers), Some(20));
        assert!(r.exceeded.as_ref().unwrap().failure_ratio > 0.05);
        assert!((r.last_good.unwrap().rps - 1000.0).abs() < 1e-6);
    }

    /// `--sizing --rate 200 --ramp-up 1s -d 3s`: the rate ramps to 200/s over 1 s and holds
    /// it until 3 s. Every window of the hold is at 200/s, give or take the rounding of the
    /// mean, so the highest load reached is the latest of them. (A window whose mean read
    /// 199.99999999999997 after one at 200.00000000000006 once left the peak at the earlier
    /// window.)
    #[test]
    fn the_peak_of_a_hold_is_its_latest_window() {
        let schedule = RateSchedule::staged(
            0.0,
            vec![
                Stage {
                    duration: Duration::from_secs(1),
                    target: 200.0,
                },
                Stage {
                    duration: Duration::from_secs(2),
                    target: 200.0,
                },
            ],
        )
        .unwrap();
        let mut tr = tracker(0.05, 500, 10);
        // Samples a few hundred µs off their 100 ms steps, as the master's are.
        let jitter_us = [
            300i64, -250, 400, -100, 350, -300, 50, 450, -400, 200, 130, -70,
        ];
        let mut previous = Duration::ZERO;
        let rates = std::cell::RefCell::new(Vec::new());
        for step in 1..=30u64 {
            let jitter = jitter_us[step as usize % jitter_us.len()];
            let elapsed = Duration::from_micros((step * 100_000).saturating_add_signed(jitter));
            let delta = Totals {
                requests: 20,
                responses: 20,
                ..Totals::default()
            };
            let s = Sample::of_interval(elapsed, elapsed - previous, delta, 1);
            previous = elapsed;
            assert!(!tr.observe(&s, |from, to| {
                let rate = schedule.mean_rate(from, to);
                rates.borrow_mut().push(rate);
                Some(rate)
            }));
        }
        let r = tr.into_report();
        let (peak, last) = (r.peak.unwrap(), r.last_good.unwrap());
        let rates = rates.into_inner();
        assert_eq!(peak.elapsed, last.elapsed, "target rates {rates:?}");
        // Rounding only: a rate that is really lower does not take the peak from a higher one.
        let mut tr = tracker(0.05, 500, 10);
        for (step, rate) in [
            (1, 200.0),
            (2, 199.9),
            (3, 200.00000000000006),
            (4, 199.99999999999997),
        ] {
            assert!(!tr.observe(&sample(step * 100, 20, 0, 1), |_, _| Some(rate)));
        }
        let peak = tr.into_report().peak.unwrap();
        assert_eq!(peak.elapsed, Duration::from_millis(400));
        let mut tr = tracker(0.05, 500, 10);
        for (step, rate) in [(1, 200.0), (2, 199.9)] {
            assert!(!tr.observe(&sample(step * 100, 20, 0, 1), |_, _| Some(rate)));
        }
        let peak = tr.into_report().peak.unwrap();
        assert_eq!(peak.elapsed, Duration::from_millis(100));
    }

    #[test]
    fn a_window_sampled_as_the_load_ends_keeps_its_workers() {
        // The open model's hold at 400/s: 500 workers, then a last sample taken after they
        // ended. Its window still holds their requests, and the peak (the same target rate,
        // so the latest point) must not say 0 workers.
        let mut tr = tracker(0.05, 300, 10);
        for step in 1..=5u64 {
            assert!(!tr.observe(&sample(step * 100, 40, 0, 500), |_, _| Some(400.0)));
        }
        assert!(!tr.observe(&sample(600, 40, 0, 0), |_, _| Some(400.0)));
        let r = tr.into_report();
        assert_eq!(r.peak.as_ref().map(|p| p.workers), Some(500));
        assert_eq!(r.last_good.as_ref().map(|p| p.workers), Some(500));
    }
}
