//! The parts of the text report that belong to the load models: the open model's achieved
//! rate and lateness, and sizing mode's verdict.

use std::fmt::Write as _;

use crate::load::RateSchedule;
use crate::report::{fmt_count, fmt_counted, fmt_duration, fmt_micros, fmt_percent, fmt_rate};
use crate::sizing::{SizingPoint, SizingReport};
use crate::summary::Summary;

/// The schedule in words: `200/s`, or `0/s, then 1,000/s over 30s, then 0/s over 10s`.
pub fn describe_schedule(schedule: &RateSchedule) -> String {
    let rate = |r: f64| {
        if r == 0.0 {
            "0/s".to_string()
        } else {
            fmt_rate(r)
        }
    };
    let mut text = rate(schedule.initial());
    for stage in schedule.stages() {
        // To the nanosecond, trailing zeros cut: a 400 µs stage read `over 0s` to 3 decimals.
        let secs = format!(
            "{}.{:09}",
            stage.duration.as_secs(),
            stage.duration.subsec_nanos()
        );
        let secs = secs.trim_end_matches('0').trim_end_matches('.');
        let _ = write!(text, ", then {} over {secs}s", rate(stage.target));
    }
    text
}

/// The open model's section: target and achieved start rates, and what became of every
/// arrival due before the end: started (on time or late), dropped or missed.
pub fn render_open_model(summary: &Summary, schedule: &RateSchedule) -> String {
    // Started, not finished: a run cut by its process's death has no scenario outcome.
    let runs = summary.runs_started;
    let due = runs + summary.dropped_starts + summary.missed_starts;
    // Over the time arrivals were due: the drain after the deadline starts nothing.
    let secs = summary
        .schedule_length
        .unwrap_or(summary.elapsed)
        .as_secs_f64();
    let achieved = if secs > 0.0 { runs as f64 / secs } else { 0.0 };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Open model: target {}, achieved {} scenario starts of {} due ({})",
        describe_schedule(schedule),
        fmt_count(runs),
        fmt_count(due),
        fmt_rate(achieved)
    );
    let mean = summary.late_mean().unwrap_or_default();
    // Runs due close together start in one wake-up, the later ones early (`--max-early`).
    let early = if summary.early_starts > 0 {
        format!(
            "; early starts: {} (max {} early)",
            fmt_count(summary.early_starts),
            fmt_duration(summary.early_max)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  late starts: {} (mean {} late, max {}){early}; dropped: {}; missed: {}; latency is measured from the intended start (from the actual start of an early one), service time from the first byte sent",
        fmt_count(summary.late_starts),
        fmt_duration(mean),
        fmt_duration(summary.late_max),
        fmt_count(summary.dropped_starts),
        fmt_count(summary.missed_starts)
    );
    if summary.missed_starts > 0 {
        let _ = writeln!(
            out,
            "  {} starts were due before the end but not started by then: every worker was busy (or had failed its `setup worker`), or the process fell behind (raise -w, or -p if the load processes' CPUs are full)",
            fmt_count(summary.missed_starts)
        );
    }
    out
}

fn describe(p: &SizingPoint) -> String {
    let load = match p.target_rate {
        Some(rate) => format!(
            "{} target rate, {}",
            fmt_rate(rate),
            fmt_counted(p.workers, "worker", "workers")
        ),
        None => fmt_counted(p.workers, "worker", "workers"),
    };
    let lat = if p.latency.is_empty() {
        "no responses".to_string()
    } else {
        format!(
            "p50 {}  p90 {}  p99 {}",
            fmt_micros(p.latency.value_at_quantile(0.5)),
            fmt_micros(p.latency.value_at_quantile(0.9)),
            fmt_micros(p.latency.value_at_quantile(0.99))
        )
    };
    format!(
        "{load} at {:.1}s: {} requests, {} failed, {lat}",
        p.elapsed.as_secs_f64(),
        fmt_rate(p.rps),
        fmt_percent(p.failure_ratio * 100.0)
    )
}

/// Sizing mode's verdict.
pub fn render_sizing(report: &SizingReport) -> String {
    let mut out = String::new();
    let tol = report.config.tolerance_pct();
    let _ = writeln!(
        out,
        "Sizing (tolerance {tol}% failures over a {} window):",
        fmt_duration(report.config.window)
    );
    match (&report.exceeded, &report.last_good) {
        (Some(bad), Some(good)) => {
            let _ = writeln!(out, "  last load below tolerance: {}", describe(good));
            let _ = writeln!(out, "  tolerance exceeded:        {}", describe(bad));
        }
        (Some(bad), None) => {
            let _ = writeln!(
                out,
                "  the tolerance was exceeded from the first judged window: {}",
                describe(bad)
            );
            let _ = writeln!(
                out,
                "  no load was below it; start lower (fewer workers, a lower rate or a longer --ramp-up)"
            );
        }
        (None, Some(good)) => {
            let _ = writeln!(
                out,
                "  the failure ratio never exceeded {tol}% (highest {}); the highest load reached: {}",
                fmt_percent(report.max_ratio * 100.0),
                describe(report.peak.as_ref().unwrap_or(good))
            );
        }
        (None, None) => {
            let _ = writeln!(
                out,
                "  no window held the {} responses and errors needed to judge it: the run was too short or too slow",
                report.config.min_samples
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::Stage;

    #[test]
    fn schedules_read_as_written() {
        let stage = |ms: u64, target: f64| Stage {
            duration: Duration::from_millis(ms),
            target,
        };
        let cases = [
            (RateSchedule::constant(200.0).unwrap(), "200/s"),
            (RateSchedule::constant(2.5).unwrap(), "2.5/s"),
            (
                RateSchedule::staged(0.0, vec![stage(30_000, 1000.0), stage(500, 0.0)]).unwrap(),
                "0/s, then 1,000/s over 30s, then 0/s over 0.5s",
            ),
            (
                RateSchedule::staged(100.0, vec![stage(90_250, 100.0)]).unwrap(),
                "100/s, then 100/s over 90.25s",
            ),
            // Nothing rounded away: a rate of one start every 25 s, a 400 µs stage.
            (RateSchedule::constant(0.04).unwrap(), "0.04/s"),
            (
                RateSchedule::staged(
                    0.0,
                    vec![
                        Stage {
                            duration: Duration::from_micros(400),
                            target: 100.0,
                        },
                        stage(500, 50.0),
                    ],
                )
                .unwrap(),
                "0/s, then 100/s over 0.0004s, then 50.0/s over 0.5s",
            ),
        ];
        for (schedule, text) in cases {
            assert_eq!(describe_schedule(&schedule), text);
        }
    }

    #[test]
    fn a_sizing_point_of_one_worker_says_one_worker() {
        let point = |workers: u64, target_rate: Option<f64>| SizingPoint {
            elapsed: Duration::from_secs(2),
            workers,
            target_rate,
            rps: 2.0,
            failure_ratio: 0.0,
            latency: hdrhistogram::Histogram::new(3).unwrap(),
        };
        assert_eq!(
            describe(&point(1, None)),
            "1 worker at 2.0s: 2.0/s requests, 0.00% failed, no responses"
        );
        assert_eq!(
            describe(&point(2, Some(5.0))),
            "5.0/s target rate, 2 workers at 2.0s: 2.0/s requests, 0.00% failed, no responses"
        );
    }
}
