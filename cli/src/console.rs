//! The plain console view (`-c`, and the default when stdout is not a terminal): one compact
//! line per interval, plus each distinct failure once under `-v` (as it happens, and at the
//! end for those the run's last moments saw: see [`FailureLog`]). Nothing here waits for the
//! reader of the output: see [`crate::live_output`].

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use molotov_core::live::Sample;
use molotov_core::load::RateSchedule;
use molotov_core::report::{fmt_count, fmt_micros, fmt_rate};
use molotov_core::run::Observer;
use molotov_core::shm::{Region, Site};
use molotov_core::summary::{Names, ProcessInfo, Summary};

use crate::live_output;

/// Where the progress lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (the default).
    Stdout,
    /// Standard error (when stdout carries the JSON report: `--json -`).
    Stderr,
}

/// Prints each distinct failure (a check, assert or request that failed) once, on stderr:
/// while the run goes on from the live region, and at the end from the final summary for
/// the sites the last ticks did not see (a short run may end before its first tick).
#[derive(Debug)]
pub struct FailureLog {
    names: Names,
    seen: HashSet<Site>,
}

impl FailureLog {
    /// A log with nothing printed yet, shared by the console and the end of the run.
    pub fn shared(names: Names) -> Rc<RefCell<FailureLog>> {
        Rc::new(RefCell::new(FailureLog {
            names,
            seen: HashSet::new(),
        }))
    }

    fn sites(&self) -> Vec<Site> {
        (0..self.names.checks.len() as u32)
            .map(Site::Check)
            .chain((0..self.names.requests.len() as u32).map(Site::Request))
            .filter(|s| !self.seen.contains(s))
            .collect()
    }

    fn print(&mut self, site: Site, status: u16, message: &str) {
        self.seen.insert(site);
        live_output::line(
            Stream::Stderr,
            &describe_failure(&self.names, site, status, message),
        );
    }

    /// Prints the failures that appeared in the region since the last call.
    pub fn print_new(&mut self, region: &Region) {
        for site in self.sites() {
            if let Some((status, message)) =
                (0..region.slots()).find_map(|i| region.slot(i).sample(site))
            {
                self.print(site, status, &message);
            } else if let Site::Check(id) = site
                && (0..region.slots()).any(|i| region.slot(i).check(id as usize).1 > 0)
            {
                self.print(site, 0, UNSAMPLED_CHECK);
            }
        }
    }

    /// Prints the failures of the final summary not printed yet.
    pub fn print_remaining(&mut self, summary: &Summary) {
        for site in self.sites() {
            let sample = match site {
                Site::Check(id) => summary
                    .checks
                    .get(id as usize)
                    .and_then(|c| c.sample.clone()),
                Site::Request(id) => summary
                    .requests
                    .get(id as usize)
                    .and_then(|r| r.sample.clone()),
                // Not among `sites()`: the load processes say those themselves.
                Site::Statement => None,
            };
            if let Some((status, message)) = sample {
                self.print(site, status, &message);
            } else if let Site::Check(id) = site
                && summary
                    .checks
                    .get(id as usize)
                    .is_some_and(|c| c.failed > 0)
            {
                self.print(site, 0, UNSAMPLED_CHECK);
            }
        }
    }
}

/// What `-v` says of a failed `check` (not an `assert`): the engine counts its evaluations but
/// keeps no sample of the response that failed it.
const UNSAMPLED_CHECK: &str = "failed";

/// Prints progress lines (to stdout, or stderr) and failures (to stderr).
pub struct Console {
    /// Print a line per interval.
    lines: bool,
    /// Print each distinct failure once.
    failures: Option<Rc<RefCell<FailureLog>>>,
    stream: Stream,
    /// The open model's schedule and the run's `-d`, for the starts due.
    schedule: Option<(RateSchedule, Option<Duration>)>,
}

impl Console {
    /// A console view; `lines` false keeps it quiet except for the failures of `failures`.
    pub fn new(
        lines: bool,
        failures: Option<Rc<RefCell<FailureLog>>>,
        stream: Stream,
        schedule: Option<(RateSchedule, Option<Duration>)>,
    ) -> Console {
        Console {
            lines,
            failures,
            stream,
            schedule,
        }
    }
}

/// One line describing a failure site and its first failure. `FAILED` starts the lines of
/// what fails a scenario run (an assert, a capture, a transport error, a statement): what
/// `-x` stops on. What only counts, and goes on (even under `-x`), says so in its first
/// word: `MISSED` for a check that did not hold, `BAD STATUS` for a response failed by its
/// status. (Both were `FAILED`: `-x -v` printed `FAILED check ...` and ran on to exit 0.)
pub fn describe_failure(names: &Names, site: Site, status: u16, message: &str) -> String {
    // The message may quote the response (a header, a body): no raw control characters.
    let message = molotov_core::printable::printable(message);
    let status_code = status;
    let status = if status > 0 {
        format!(" (status {status})")
    } else {
        String::new()
    };
    match site {
        Site::Check(id) => {
            let c = &names.checks[id as usize];
            let kind = if c.is_assert {
                "FAILED assert"
            } else {
                "MISSED check"
            };
            format!("{kind} {} at {}{status}: {message}", c.text, c.location)
        }
        Site::Request(id) => {
            // A response failed by its status has the engine's `status N` as its message (a
            // transport error or a failed capture has its own).
            let by_status = status_code > 0 && message == format!("status {status_code}");
            format!(
                "{} request {} at {}{status}: {message}",
                if by_status { "BAD STATUS" } else { "FAILED" },
                names.requests[id as usize],
                names.request_locations[id as usize]
            )
        }
        Site::Statement => {
            let (location, message) = Site::split_statement_text(&message);
            format!("FAILED statement at {}: {message}", location.unwrap_or("?"))
        }
    }
}

impl Observer for Console {
    fn tick(&mut self, s: &Sample, region: &Region) {
        if let Some(log) = &self.failures {
            log.borrow_mut().print_new(region);
        }
        if !self.lines {
            return;
        }
        // Nothing is due after the deadline or a stop: a run draining is not behind.
        let end = |duration| molotov_core::load::load_end(duration, region.stopped_after_start());
        let line = progress_line(s, self.schedule.as_ref().map(|(s, d)| (s, end(*d))));
        // Never a blocking write: the master's loop must go on whoever reads the stream.
        live_output::line(self.stream, &line);
    }

    /// A load process's line (a plan's `log` under `-v`, a `-vv` dump, a warning): on the
    /// master's stderr, never with a blocking write.
    fn child_output(&mut self, line: &str) {
        live_output::line(Stream::Stderr, line);
    }

    fn shows_child_output(&self) -> bool {
        true
    }

    fn child_ended(&mut self, p: &ProcessInfo) {
        if let Some(exit) = p.exit {
            let cause = exit
                .likely_cause()
                .map_or_else(String::new, |cause| format!(" ({cause})"));
            live_output::line(
                Stream::Stderr,
                &format!(
                    "molotov: process {} (pid {}) {exit}{cause}; the run goes on without it",
                    p.role, p.pid
                ),
            );
        }
    }

    fn interrupted(&mut self, count: u32) {
        live_output::line(
            Stream::Stderr,
            if count == 1 {
                "molotov: stopping (in-flight requests finish); press Ctrl-C again to stop now"
            } else {
                "molotov: stopping now"
            },
        );
    }
}

/// One progress line: elapsed, requests so far, the interval's rate and p50/p99, failed
/// requests and failed scenario runs so far, workers running; in the open model also the
/// starts due so far and how many of them no worker has taken yet.
pub fn progress_line(s: &Sample, schedule: Option<(&RateSchedule, Option<Duration>)>) -> String {
    let (p50, p99) = if s.interval_latency.is_empty() {
        ("-".to_string(), "-".to_string())
    } else {
        (
            fmt_micros(s.interval_latency.value_at_quantile(0.5)),
            fmt_micros(s.interval_latency.value_at_quantile(0.99)),
        )
    };
    let mut line = format!(
        "[{:>7.1}s] requests {:>10}  rps {:>10}  p50 {:>8}  p99 {:>8}  failed {}  failures {}  workers {}",
        s.elapsed.as_secs_f64(),
        fmt_count(s.requests),
        fmt_rate(s.rps()),
        p50,
        p99,
        fmt_count(s.errors + s.failed_by_status),
        fmt_count(s.failures),
        s.workers_alive,
    );
    if let Some((schedule, length)) = schedule {
        let due = schedule.due_by(s.elapsed, length);
        let taken = s.totals.starts_taken();
        line.push_str(&format!(
            "  starts due {}  behind {}",
            fmt_count(due),
            fmt_count(due.saturating_sub(taken))
        ));
    }
    line
}

/// How often the master samples when nothing is printed.
pub const QUIET_TICK: Duration = Duration::from_secs(1);
