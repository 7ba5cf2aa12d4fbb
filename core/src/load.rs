//! Load models: when each worker starts (ramp-up), and the open model's arrival schedule
//! (`--rate`, optionally shaped by `--stages`).
//!
//! The open model is driven by a cumulative arrival function: with a rate `r(t)` (arrivals per
//! second, piecewise linear over the stages) the `n`-th arrival of the whole run is intended
//! at the time `t` where `∫₀ᵗ r = n`. Arrival `n` belongs to process `n mod p`, so processes
//! interleave evenly and together follow the schedule exactly. A worker claims the next
//! arrival of its process when it is free; when every worker is busy, arrivals wait and start
//! late: that lateness is part of the latency (coordinated-omission correct, like wrk2).

use std::time::Duration;

/// The highest rate a schedule takes: one arrival per nanosecond, the resolution of the times
/// it gives. Above it arrivals could not be told apart, and no machine starts that many.
pub const MAX_RATE: f64 = 1e9;

/// How far from the start an arrival may be intended: about 100 years. An arrival later than
/// this (a rate of 1e-20 puts the second one 3e12 years out) is never due: the schedule ends
/// before it, so that no time past what a clock can hold is ever computed.
pub const HORIZON: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// One stage of a rate schedule: over `duration`, the rate moves linearly to `target`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// The rate (arrivals per second, whole run) at the end of the stage.
    pub target: f64,
}

/// Errors in `--stages` and `--rate` values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// A stage is not `DURATION:RATE`.
    #[error("invalid stage {stage:?}: {reason} (expected DURATION:RATE, e.g. 30s:100)")]
    Stage {
        /// The stage text.
        stage: String,
        /// What is wrong.
        reason: String,
    },
    /// A rate is negative or not a number (an infinite one is [`ScheduleError::TooHigh`]).
    #[error("invalid rate {0}: a rate is a number of arrivals per second, from 0 to at most 1e9")]
    Rate(f64),
    /// A rate is above [`MAX_RATE`].
    #[error(
        "rate {0} is too high: at most 1e9 arrivals per second (one per nanosecond, the \
         resolution of the schedule)"
    )]
    TooHigh(f64),
}

/// Parses `30s:100,1m:1000,30s:0`, with `parse_duration` for the durations.
pub fn parse_stages(
    text: &str,
    parse_duration: impl Fn(&str) -> Result<Duration, String>,
) -> Result<Vec<Stage>, ScheduleError> {
    let mut stages = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let err = |reason: &str| ScheduleError::Stage {
            stage: part.to_string(),
            reason: reason.to_string(),
        };
        let (d, r) = part.split_once(':').ok_or_else(|| err("no `:`"))?;
        let duration = parse_duration(d.trim()).map_err(|e| err(&e))?;
        if duration.is_zero() {
            return Err(err("a stage lasts more than 0"));
        }
        let target: f64 = r
            .trim()
            .parse()
            .map_err(|_| err("the rate is not a number"))?;
        // `nan` parses, and is no number; `inf` is above the bound, not below 0.
        if target.is_nan() {
            return Err(err("the rate is not a number"));
        }
        if !(0.0..=MAX_RATE).contains(&target) {
            return Err(err(
                "the rate is a finite number of arrivals per second, from 0 to at most 1e9 \
                 (one per nanosecond)",
            ));
        }
        stages.push(Stage { duration, target });
    }
    Ok(stages)
}

/// A piecewise-linear rate over time, starting at `initial`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSchedule {
    initial: f64,
    stages: Vec<Stage>,
}

impl RateSchedule {
    /// A constant rate for ever.
    pub fn constant(rate: f64) -> Result<RateSchedule, ScheduleError> {
        RateSchedule::staged(rate, Vec::new())
    }

    /// Starts at `initial` and follows `stages`; after the last stage the schedule ends
    /// (no more arrivals). With no stages the rate stays at `initial` for ever.
    pub fn staged(initial: f64, stages: Vec<Stage>) -> Result<RateSchedule, ScheduleError> {
        if initial.is_nan() || initial < 0.0 {
            return Err(ScheduleError::Rate(initial));
        }
        if let Some(high) = std::iter::once(initial)
            .chain(stages.iter().map(|s| s.target))
            .find(|&r| r > MAX_RATE)
        {
            return Err(ScheduleError::TooHigh(high));
        }
        Ok(RateSchedule { initial, stages })
    }

    /// The rate at the start.
    pub fn initial(&self) -> f64 {
        self.initial
    }

    /// The stages (empty: a constant rate).
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Whether the schedule has any arrival at all (`--stages 1s:0` from 0/s has none).
    pub fn has_arrivals(&self) -> bool {
        self.time_of(0).is_some()
    }

    /// Total length, when stages bound it.
    pub fn length(&self) -> Option<Duration> {
        (!self.stages.is_empty()).then(|| self.stages.iter().map(|s| s.duration).sum())
    }

    /// The intended rate at `t` (arrivals per second, whole run).
    pub fn rate_at(&self, t: Duration) -> f64 {
        if self.stages.is_empty() {
            return self.initial;
        }
        let mut from = self.initial;
        let mut start = Duration::ZERO;
        for s in &self.stages {
            if t < start + s.duration {
                let f = (t - start).as_secs_f64() / s.duration.as_secs_f64();
                return from + (s.target - from) * f;
            }
            from = s.target;
            start += s.duration;
        }
        // The last stage's own end is in it (the rate it reached); after it, none.
        if t == start { from } else { 0.0 }
    }

    /// The mean rate the schedule asks for over `[from, to]`: its arrivals there over the
    /// part of the span it covers (a span reaching past the schedule's end counts up to the
    /// end; one wholly past it, or empty, reads as the rate at its end). During a ramp the
    /// rate at the end of an interval is above the interval's mean: a schedule kept exactly
    /// read as short of it (50% in the first second of `--stages 4s:400`).
    pub fn mean_rate(&self, from: Duration, to: Duration) -> f64 {
        let end = self.length().map_or(to, |length| to.min(length));
        if end <= from {
            return self.rate_at(end);
        }
        if let Some(rate) = self.held_rate_over(from, end) {
            return rate;
        }
        (self.arrivals_until(end) - self.arrivals_until(from)) / (end - from).as_secs_f64()
    }

    /// The rate over `[from, end]` when the span lies within one stage that holds the rate
    /// constant (or the schedule is one constant rate): exactly that rate. The difference of
    /// cumulative arrivals gives it only to within rounding (a hold at 200/s read
    /// 200.00000000000006 in one sizing window and 199.99999999999991 in a later one, and
    /// the JSON report printed such figures as a window's target).
    fn held_rate_over(&self, from: Duration, end: Duration) -> Option<f64> {
        if self.stages.is_empty() {
            return Some(self.initial);
        }
        let mut rate = self.initial;
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let stop = start + s.duration;
            if from < stop {
                return (end <= stop && rate == s.target).then_some(s.target);
            }
            rate = s.target;
            start = stop;
        }
        None
    }

    /// Arrivals intended in `[0, t]` (the cumulative arrival function).
    pub fn arrivals_until(&self, t: Duration) -> f64 {
        if self.stages.is_empty() {
            return self.initial * t.as_secs_f64();
        }
        let mut total = 0.0;
        let mut from = self.initial;
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let d = s.duration.as_secs_f64();
            let tau = (t.saturating_sub(start)).as_secs_f64().min(d);
            total += from * tau + (s.target - from) * tau * tau / (2.0 * d);
            if t < start + s.duration {
                return total;
            }
            from = s.target;
            start += s.duration;
        }
        total
    }

    /// When arrival number `n` (0-based, whole run) is intended, or None if the schedule ends
    /// before it (or it is beyond the [`HORIZON`]).
    pub fn time_of(&self, n: u64) -> Option<Duration> {
        // A time in seconds as a Duration, when it is within the horizon.
        let within = |secs: f64| {
            (secs <= HORIZON.as_secs_f64()).then(|| Duration::from_secs_f64(secs.max(0.0)))
        };
        let mut left = n as f64;
        if self.stages.is_empty() {
            return if self.initial > 0.0 {
                within(left / self.initial)
            } else {
                None
            };
        }
        let mut from = self.initial;
        let mut start = Duration::ZERO;
        for s in &self.stages {
            let d = s.duration.as_secs_f64();
            let a = from;
            let slope = (s.target - from) / d;
            let in_stage = a * d + slope * d * d / 2.0;
            if left < in_stage {
                // Solve a·τ + slope·τ²/2 = left for the smallest τ >= 0.
                let tau = if slope.abs() < 1e-12 {
                    left / a
                } else {
                    let disc = (a * a + 2.0 * slope * left).max(0.0);
                    (disc.sqrt() - a) / slope
                };
                // 0/0 (a rate of 0 rising by less than 1e-12 per second) is the stage's start.
                let tau = if tau.is_nan() { 0.0 } else { tau.clamp(0.0, d) };
                return start.checked_add(within(tau)?).filter(|&at| at <= HORIZON);
            }
            left -= in_stage;
            from = s.target;
            start = start.checked_add(s.duration)?;
        }
        None
    }

    /// Arrivals of the whole run due `elapsed` into a run lasting `length` (`-d`; None: until
    /// stopped): the live views' count, which stops growing at the deadline.
    pub fn due_by(&self, elapsed: Duration, length: Option<Duration>) -> u64 {
        self.due_before(length.map_or(elapsed, |l| elapsed.min(l)), 0, 1)
    }

    /// How many arrivals of process `process` (of `processes`) are intended strictly before
    /// `t`: arrivals `n = k·processes + process` with `time_of(n) < t`. The estimate from the
    /// cumulative function is corrected against [`RateSchedule::time_of`] itself, so the count
    /// agrees with the times the workers are given, rounding included.
    pub fn due_before(&self, t: Duration, process: u64, processes: u64) -> u64 {
        let processes = processes.max(1);
        let is_due = |k: u64| {
            k.checked_mul(processes)
                .and_then(|n| n.checked_add(process))
                .and_then(|n| self.time_of(n))
                .is_some_and(|at| at < t)
        };
        let whole_run = self.arrivals_until(t).ceil().max(0.0);
        let estimate = if whole_run > process as f64 {
            ((whole_run - process as f64) / processes as f64).ceil() as u64
        } else {
            0
        };
        first_not_due(estimate, is_due)
    }
}

/// The smallest `k` with `!is_due(k)`, where `is_due` holds for every `k` below some bound
/// and for none from it on, searched from `estimate`: galloping away from it, then halving.
/// An exact estimate costs two probes, as steps of one would; a wrong one costs about two
/// per bit of its error, where steps cost one per arrival (at `--rate 1e18`, before rates
/// were bounded by [`MAX_RATE`], the estimate was off by billions and stepping never ended).
fn first_not_due(estimate: u64, is_due: impl Fn(u64) -> bool) -> u64 {
    // The answer lies in lo..=hi, with is_due(lo - 1) (or lo = 0) and !is_due(hi).
    let (mut lo, mut hi);
    let mut step = 1u64;
    if is_due(estimate) {
        lo = estimate + 1;
        loop {
            hi = estimate.saturating_add(step);
            if !is_due(hi) {
                break;
            }
            if hi == u64::MAX {
                return u64::MAX;
            }
            lo = hi + 1;
            step = step.saturating_mul(2);
        }
    } else {
        hi = estimate;
        loop {
            if hi == 0 {
                return 0;
            }
            let below = estimate.saturating_sub(step);
            if is_due(below) {
                lo = below + 1;
                break;
            }
            hi = below;
            step = step.saturating_mul(2);
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if is_due(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// When the load ends, since its start: at the deadline (`-d`) or the first stop request,
/// whichever comes first; None while neither is known.
pub fn load_end(duration: Option<Duration>, stopped: Option<Duration>) -> Option<Duration> {
    match (duration, stopped) {
        (Some(d), Some(s)) => Some(d.min(s)),
        (d, s) => d.or(s),
    }
}

/// How many of `total` workers start within `duration` under `--ramp-up` (see
/// [`ramp_offset`]: worker rank `r` starts at `ramp_up × r / total`; one due at or after the
/// deadline never starts).
pub fn workers_starting_within(ramp_up: Duration, duration: Duration, total: u64) -> u64 {
    if ramp_up.is_zero() {
        return total;
    }
    // Rank r starts when ramp × r / total (rounded down, in ns) < duration, that is when
    // r < duration × total / ramp.
    let bound = duration.as_nanos() * u128::from(total);
    let ramp = ramp_up.as_nanos();
    let starting = bound.div_ceil(ramp);
    u64::try_from(starting).unwrap_or(u64::MAX).min(total)
}

/// When a worker should start under `--ramp-up`: workers of all processes are spread evenly
/// over `ramp_up`, interleaved across processes so each process ramps at the same pace.
pub fn ramp_offset(
    ramp_up: Duration,
    process: usize,
    processes: usize,
    local: usize,
    workers: usize,
) -> Duration {
    let total = (processes * workers).max(1) as u64;
    let rank = (local * processes + process) as u64;
    // In 128 bits: a day's ramp in nanoseconds times a rank of 213,500 passes 2^64.
    let nanos = ramp_up.as_nanos() * u128::from(rank) / u128::from(total);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(text: &str) -> Result<Duration, String> {
        let (n, unit) = text.split_at(
            text.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len()),
        );
        let n: u64 = n.parse().map_err(|_| format!("bad {text}"))?;
        match unit {
            "s" => Ok(Duration::from_secs(n)),
            "m" => Ok(Duration::from_secs(60 * n)),
            _ => Err(format!("bad unit in {text}")),
        }
    }

    /// A schedule from 0/s through `(seconds, target)` stages.
    fn staged_secs(stages: &[(u64, f64)]) -> Result<RateSchedule, ScheduleError> {
        let stages = stages
            .iter()
            .map(|&(secs, target)| Stage {
                duration: Duration::from_secs(secs),
                target,
            })
            .collect();
        RateSchedule::staged(0.0, stages)
    }

    /// Ramp-up offsets are computed in 128 bits: with a day's ramp every worker ranked past
    /// 213,500 got the same offset (a saturated 64-bit product).
    #[test]
    fn long_ramps_spread_every_worker() {
        let day = Duration::from_secs(86_400);
        let (processes, workers) = (16, 15_000);
        let offsets: Vec<Duration> = [213_000usize, 220_000, 239_999]
            .iter()
            .map(|rank| ramp_offset(day, rank % processes, processes, rank / processes, workers))
            .collect();
        assert!(
            offsets[0] < offsets[1] && offsets[1] < offsets[2],
            "{offsets:?}"
        );
        // The last of 240,000 workers starts 0.36 s before the ramp's end.
        assert_eq!(
            offsets[2],
            Duration::from_nanos(86_400_000_000_000 / 240_000 * 239_999)
        );
    }

    #[test]
    fn stages_parse_and_reject() {
        let s = parse_stages("30s:100, 1m:1000,30s:0", dur).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[1],
            Stage {
                duration: Duration::from_secs(60),
                target: 1000.0
            }
        );
        for bad in ["30s", "30s:", "x:10", "0s:10", "10s:-1", "10s:abc", ""] {
            assert!(parse_stages(bad, dur).is_err(), "{bad}");
        }
        // Each refusal says the rule that was broken: an infinite rate is above the bound
        // (it used to be told "the rate must be 0 or more"), `nan` is no number.
        let reason = |text: &str| parse_stages(text, dur).unwrap_err().to_string();
        for text in ["1s:inf", "1s:+inf", "1s:1e300", "1s:-1", "1s:-inf"] {
            assert!(
                reason(text).contains(
                    "the rate is a finite number of arrivals per second, from 0 to at most 1e9"
                ),
                "{text}: {}",
                reason(text)
            );
        }
        assert!(reason("1s:nan").contains("the rate is not a number"));
    }

    #[test]
    fn constant_rate_spaces_arrivals_evenly() {
        let s = RateSchedule::constant(500.0).unwrap();
        assert_eq!(s.time_of(0), Some(Duration::ZERO));
        assert_eq!(s.time_of(500), Some(Duration::from_secs(1)));
        assert_eq!(
            s.time_of(1999).map(|d| d < Duration::from_secs(4)),
            Some(true)
        );
        assert!((s.arrivals_until(Duration::from_secs(4)) - 2000.0).abs() < 1e-9);
        assert_eq!(RateSchedule::constant(0.0).unwrap().time_of(0), None);
        assert!(!RateSchedule::constant(0.0).unwrap().has_arrivals());
        assert!(RateSchedule::constant(500.0).unwrap().has_arrivals());
        assert!(RateSchedule::constant(-1.0).is_err());
        assert!(RateSchedule::constant(f64::NAN).is_err());
        // Infinite is too high, not "0 or more".
        assert_eq!(
            RateSchedule::constant(f64::INFINITY),
            Err(ScheduleError::TooHigh(f64::INFINITY))
        );
    }

    #[test]
    fn staged_schedule_inverts_its_cumulative_function() {
        let s = staged_secs(&[(10, 100.0), (5, 100.0), (10, 0.0)]).unwrap();
        // Ramp 0 -> 100 over 10 s: 500 arrivals; hold 5 s: 500; ramp down: 500.
        assert!((s.arrivals_until(Duration::from_secs(10)) - 500.0).abs() < 1e-9);
        assert!((s.arrivals_until(Duration::from_secs(15)) - 1000.0).abs() < 1e-9);
        assert!((s.arrivals_until(Duration::from_secs(25)) - 1500.0).abs() < 1e-9);
        assert_eq!(s.length(), Some(Duration::from_secs(25)));
        assert_eq!(s.rate_at(Duration::from_secs(5)), 50.0);
        assert_eq!(s.rate_at(Duration::from_secs(30)), 0.0);
        for n in [0u64, 1, 10, 499, 500, 750, 1000, 1200, 1499] {
            let t = s.time_of(n).unwrap();
            let back = s.arrivals_until(t);
            assert!(
                (back - n as f64).abs() < 1e-6,
                "n {n}: t {t:?} gives {back}"
            );
        }
        assert_eq!(s.time_of(1500), None);
        assert_eq!(s.time_of(10_000), None);
    }

    #[test]
    fn due_before_counts_each_process_share_of_the_schedule() {
        let constant = RateSchedule::constant(2000.0).unwrap();
        let second = Duration::from_secs(1);
        // Arrivals at 0, 0.5 ms, ..., 999.5 ms: 2,000 before 1 s, the one at 1 s is not.
        assert_eq!(constant.due_before(second, 0, 1), 2000);
        let shares: Vec<u64> = (0..3).map(|p| constant.due_before(second, p, 3)).collect();
        assert_eq!(shares, [667, 667, 666]);
        assert_eq!(constant.due_before(Duration::ZERO, 0, 1), 0);
        // Just after arrival 0 (due at 0).
        assert_eq!(constant.due_before(Duration::from_nanos(1), 0, 1), 1);
        assert_eq!(constant.due_before(Duration::from_nanos(1), 1, 2), 0);
        assert_eq!(
            RateSchedule::constant(0.0)
                .unwrap()
                .due_before(second, 0, 1),
            0
        );

        // 0 -> 100/s over 10 s, then 100/s for 10 s: 500 + 1,000 arrivals, then the end.
        let staged = staged_secs(&[(10, 100.0), (10, 100.0)]).unwrap();
        for t in [0.3, 1.0, 4.99, 5.0, 10.0, 12.345, 19.99, 20.0, 25.0] {
            let t = Duration::from_secs_f64(t);
            for processes in [1u64, 2, 7] {
                let by_time_of = (0..)
                    .take_while(|&n| staged.time_of(n).is_some_and(|at| at < t))
                    .filter(|n| n % processes == 1 % processes)
                    .count() as u64;
                assert_eq!(
                    staged.due_before(t, 1 % processes, processes),
                    by_time_of,
                    "t {t:?}, {processes} processes"
                );
            }
        }
        assert_eq!(staged.due_before(Duration::from_secs(25), 0, 1), 1500);

        // The live count stops at the deadline.
        let s = |secs: f64| Duration::from_secs_f64(secs);
        assert_eq!(constant.due_by(s(0.5), Some(s(1.0))), 1000);
        assert_eq!(constant.due_by(s(1.5), Some(s(1.0))), 2000);
        assert_eq!(constant.due_by(s(1.5), None), 3000);
    }

    #[test]
    fn the_search_for_the_first_arrival_not_due_finds_it_from_any_estimate() {
        // (bound, estimate): is_due(k) is k < bound.
        for (bound, estimate) in [
            (0u64, 0u64),
            (0, 1),
            (0, 1 << 40),
            (1, 0),
            (1, 1),
            (5, 5),
            (5, 4),
            (5, 6),
            (1_000_000_007, 3),
            (3, 1_000_000_007),
            (u64::MAX - 1, 0),
            (u64::MAX, 12),
        ] {
            let calls = std::cell::Cell::new(0u32);
            let found = first_not_due(estimate, |k| {
                calls.set(calls.get() + 1);
                k < bound
            });
            assert_eq!(found, bound, "bound {bound}, estimate {estimate}");
            // Galloping and halving: about two probes per bit of the distance.
            assert!(calls.get() <= 2 * 64 + 2, "{} probes", calls.get());
        }
    }

    #[test]
    fn rates_beyond_the_schedule_s_resolution_are_refused() {
        assert_eq!(
            RateSchedule::constant(1e18),
            Err(ScheduleError::TooHigh(1e18))
        );
        assert_eq!(
            RateSchedule::staged(
                0.0,
                vec![Stage {
                    duration: Duration::from_secs(1),
                    target: 2e9
                }]
            ),
            Err(ScheduleError::TooHigh(2e9))
        );
        assert!(parse_stages("1s:1e300", dur).is_err());
        assert!(RateSchedule::constant(MAX_RATE).is_ok());
    }

    #[test]
    fn arrivals_beyond_the_horizon_are_never_due_and_never_panic() {
        // The second arrival of 1e-20/s is 3e12 years out: past any clock (it panicked).
        for rate in [1e-20, 1e-19, 5e-324] {
            let s = RateSchedule::constant(rate).unwrap();
            assert_eq!(s.time_of(0), Some(Duration::ZERO));
            assert_eq!(s.time_of(1), None, "{rate}");
            assert_eq!(s.due_before(Duration::from_secs(10), 0, 1), 1);
        }
        // A rate rising from 0 by less than 1e-12 per second: 0/0 in the stage's equation.
        let creeping = staged_secs(&[(1, 1e-15)]).unwrap();
        assert_eq!(creeping.time_of(0), Some(Duration::ZERO));
        assert_eq!(creeping.time_of(1), None);
        // Stages longer than the horizon end at it.
        let long = RateSchedule::staged(
            1.0,
            vec![Stage {
                duration: HORIZON * 2,
                target: 1.0,
            }],
        )
        .unwrap();
        assert_eq!(long.time_of(HORIZON.as_secs()), Some(HORIZON));
        assert_eq!(long.time_of(HORIZON.as_secs() + 1), None);
    }

    #[test]
    fn workers_starting_within_the_run_agree_with_their_offsets() {
        let ms = Duration::from_millis;
        for (processes, workers) in [(1usize, 4usize), (2, 2), (3, 7), (1, 1)] {
            let total = (processes * workers) as u64;
            for (ramp, duration) in [(2000, 1000), (1000, 1000), (1000, 2000), (700, 333)] {
                let starting = (0..processes)
                    .flat_map(|p| (0..workers).map(move |l| (p, l)))
                    .filter(|&(p, l)| {
                        ramp_offset(ms(ramp), p, processes, l, workers) < ms(duration)
                    })
                    .count() as u64;
                assert_eq!(
                    workers_starting_within(ms(ramp), ms(duration), total),
                    starting,
                    "{processes}x{workers} ramp {ramp} duration {duration}"
                );
            }
        }
        assert_eq!(workers_starting_within(ms(2000), ms(1000), 4), 2);
    }

    #[test]
    fn the_mean_rate_of_an_interval_is_its_arrivals_over_its_length() {
        let secs = Duration::from_secs;
        let s = staged_secs(&[(4, 400.0)]).unwrap();
        // 50 arrivals in the first second of the ramp, 150 in the second, ...
        assert_eq!(s.mean_rate(secs(0), secs(1)), 50.0);
        assert_eq!(s.mean_rate(secs(1), secs(2)), 150.0);
        assert_eq!(s.mean_rate(secs(3), secs(4)), 350.0);
        assert_eq!(s.mean_rate(secs(0), secs(4)), 200.0);
        // Past the end: the part the schedule covers; wholly past it, the rate at its end.
        assert_eq!(s.mean_rate(secs(3), secs(5)), 350.0);
        assert_eq!(s.mean_rate(secs(4), secs(5)), 400.0);
        let constant = RateSchedule::staged(120.0, Vec::new()).unwrap();
        assert_eq!(constant.mean_rate(secs(2), secs(3)), 120.0);
        assert_eq!(constant.mean_rate(secs(0), secs(0)), 120.0);
    }

    /// A span within a hold reads the held rate exactly, wherever it falls (the difference of
    /// cumulative arrivals wobbled in the last digits: 200.00000000000006 in one sizing
    /// window, 199.99999999999991 in a later one); a span reaching back into the ramp does
    /// not.
    #[test]
    fn the_mean_rate_within_a_hold_is_the_held_rate_exactly() {
        let s = staged_secs(&[(1, 200.0), (2, 200.0)]).unwrap();
        let us = Duration::from_micros;
        for start_us in (1_000_000..2_500_000).step_by(99_983) {
            for (from, to) in [
                (us(start_us), us(start_us + 500_300)),
                (us(start_us + 250), us(start_us + 499_600)),
                // Reaching past the end: the part the schedule covers.
                (us(start_us), us(3_000_450)),
            ] {
                assert_eq!(s.mean_rate(from, to), 200.0, "[{from:?}, {to:?}]");
            }
        }
        assert!(s.mean_rate(us(900_000), us(1_400_000)) < 200.0);
    }

    #[test]
    fn the_rate_at_the_end_of_the_last_stage_is_its_target() {
        let s = staged_secs(&[(2, 200.0)]).unwrap();
        assert_eq!(s.rate_at(Duration::from_secs(1)), 100.0);
        assert_eq!(s.rate_at(Duration::from_secs(2)), 200.0);
        assert_eq!(s.rate_at(Duration::from_millis(2001)), 0.0);
    }

    #[test]
    fn due_counts_stay_consistent_at_the_highest_rate() {
        // One arrival per nanosecond: time_of gives whole nanoseconds, the estimate comes
        // from the cumulative function in floating point.
        let huge = RateSchedule::constant(MAX_RATE).unwrap();
        for processes in [1u64, 3] {
            let t = Duration::from_millis(1500);
            let due = huge.due_before(t, 0, processes);
            let at = |k: u64| huge.time_of(k * processes).unwrap();
            assert!(at(due) >= t, "{processes} processes");
            assert!(at(due - 1) < t, "{processes} processes");
            let whole_run = 1.5e9 / processes as f64;
            assert!((due as f64 - whole_run).abs() / whole_run < 1e-6, "{due}");
        }
    }

    #[test]
    fn ramp_offsets_interleave_processes() {
        let ramp = Duration::from_secs(10);
        // 2 processes x 5 workers: ranks 0..10 spread over 10 s.
        let mut all: Vec<Duration> = (0..2)
            .flat_map(|p| (0..5).map(move |w| ramp_offset(ramp, p, 2, w, 5)))
            .collect();
        all.sort();
        let want: Vec<Duration> = (0..10).map(Duration::from_secs).collect();
        assert_eq!(all, want);
        assert_eq!(ramp_offset(ramp, 1, 2, 0, 5), Duration::from_secs(1));
        assert_eq!(ramp_offset(Duration::ZERO, 1, 2, 3, 5), Duration::ZERO);
    }
}
