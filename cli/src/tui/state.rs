//! What the full-screen view shows, kept apart from the terminal: fed with the master's
//! samples (every tick), a merged [`Summary`] (about once a second, for the per-request and
//! per-scenario tables) and failure lines, and read by the drawing code. Pure data, so it is
//! tested without a terminal.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;
use molotov_core::latency;
use molotov_core::live::Sample;
use molotov_core::load::RateSchedule;
use molotov_core::summary::Summary;

/// The "now" figures cover at least this much recent time.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Failure lines kept (the oldest go first).
const FAILURE_LINES: usize = 50;

/// The run as configured, for the header and the progress bar.
#[derive(Debug, Clone, Default)]
pub struct RunShape {
    /// The plan (path or `demo`).
    pub plan: String,
    /// Processes asked for.
    pub processes: usize,
    /// Workers per process.
    pub workers: usize,
    /// `-d` (None: until `-r` or a stop).
    pub duration: Option<Duration>,
    /// `-r` × workers × processes, when `-r` is given.
    pub total_runs: Option<u64>,
    /// The open model's schedule (`--rate`, `--stages`).
    pub schedule: Option<RateSchedule>,
}

/// One tick's numbers, kept for the "now" window.
#[derive(Debug, Clone)]
struct Tick {
    interval: Duration,
    requests: u64,
    failed: u64,
    latency: Histogram<u64>,
}

/// A row of the requests table.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    /// Request name.
    pub name: String,
    /// Requests with an outcome so far.
    pub count: u64,
    /// Requests per second since the previous table refresh.
    pub rate_now: f64,
    /// Transport errors plus failed statuses so far.
    pub failed: u64,
    /// Median latency so far (µs).
    pub p50: Option<u64>,
    /// 99th percentile so far (µs).
    pub p99: Option<u64>,
}

/// A row of the scenarios table.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRow {
    /// Scenario name.
    pub name: String,
    /// Runs that succeeded.
    pub successes: u64,
    /// Runs that failed.
    pub failures: u64,
}

/// Everything on screen.
#[derive(Debug, Clone)]
pub struct LiveState {
    /// The run as configured.
    pub shape: RunShape,
    /// Time since the load started.
    pub elapsed: Duration,
    /// Requests sent so far.
    pub requests: u64,
    /// Transport errors so far.
    pub errors: u64,
    /// Responses failed by status so far.
    pub failed_by_status: u64,
    /// Requests that got an outcome (a response or a transport error): what the failed
    /// share is over (a request in flight has not succeeded yet).
    pub outcomes: u64,
    /// Scenario runs that succeeded so far.
    pub successes: u64,
    /// Scenario runs that failed so far.
    pub failures: u64,
    /// Workers running now.
    pub workers_alive: u64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Open model: arrivals taken so far (scenario runs started, and starts dropped).
    pub starts_taken: u64,
    /// Open model: starts that began late so far.
    pub late_starts: u64,
    /// Open model: starts made ahead of schedule so far (`--max-early`).
    pub early_starts: u64,
    /// Load processes running now.
    pub processes_alive: usize,
    last_failed_total: u64,
    /// Latency of every response so far.
    pub overall: Histogram<u64>,
    window: VecDeque<Tick>,
    /// Chart points (seconds, requests per second), one per second.
    pub rps_points: Vec<(f64, f64)>,
    /// Chart points (seconds, failed requests per second).
    pub failed_points: Vec<(f64, f64)>,
    /// Chart points (seconds, p50 in ms) for seconds that had responses.
    pub p50_points: Vec<(f64, f64)>,
    /// Chart points (seconds, p99 in ms).
    pub p99_points: Vec<(f64, f64)>,
    bin_start: Duration,
    bin_requests: u64,
    bin_failed: u64,
    bin_latency: Histogram<u64>,
    /// Per request name.
    pub requests_table: Vec<RequestRow>,
    /// Per scenario.
    pub scenarios: Vec<ScenarioRow>,
    /// Responses by status code.
    pub status_codes: Vec<(u16, u64)>,
    /// Transport errors by kind.
    pub errors_by_kind: Vec<(&'static str, u64)>,
    table_time: Duration,
    /// Distinct failures, oldest first.
    pub failure_lines: Vec<String>,
    /// Things that happened (a process died, a stop was asked), oldest first.
    pub notices: Vec<String>,
    /// Lines the load processes wrote to stderr, oldest first, a run of equal lines as one
    /// with its count.
    pub output_lines: Vec<(String, u64)>,
    /// Stop requests so far (q, Ctrl-C, SIGINT, SIGTERM).
    pub stops: u32,
    /// When the first stop request of any kind came (since the start; from the region).
    pub stopped_at: Option<Duration>,
}

impl LiveState {
    /// An empty state for a run shaped like `shape`.
    pub fn new(shape: RunShape) -> LiveState {
        LiveState {
            processes_alive: shape.processes,
            shape,
            elapsed: Duration::ZERO,
            requests: 0,
            errors: 0,
            failed_by_status: 0,
            outcomes: 0,
            successes: 0,
            failures: 0,
            workers_alive: 0,
            in_flight: 0,
            starts_taken: 0,
            late_starts: 0,
            early_starts: 0,
            last_failed_total: 0,
            overall: latency::new_histogram(),
            window: VecDeque::new(),
            rps_points: Vec::new(),
            failed_points: Vec::new(),
            p50_points: Vec::new(),
            p99_points: Vec::new(),
            bin_start: Duration::ZERO,
            bin_requests: 0,
            bin_failed: 0,
            bin_latency: latency::new_histogram(),
            requests_table: Vec::new(),
            scenarios: Vec::new(),
            status_codes: Vec::new(),
            errors_by_kind: Vec::new(),
            table_time: Duration::ZERO,
            failure_lines: Vec::new(),
            output_lines: Vec::new(),
            notices: Vec::new(),
            stops: 0,
            stopped_at: None,
        }
    }

    /// Takes one tick's sample.
    pub fn on_sample(&mut self, s: &Sample) {
        self.elapsed = s.elapsed;
        self.requests = s.requests;
        self.errors = s.errors;
        self.failed_by_status = s.failed_by_status;
        self.outcomes = s.totals.outcomes();
        self.successes = s.successes;
        self.failures = s.failures;
        self.workers_alive = s.workers_alive;
        self.in_flight = s.in_flight;
        self.starts_taken = s.totals.starts_taken();
        self.late_starts = s.totals.late_starts;
        self.early_starts = s.totals.early_starts;
        // Both histograms have the same bounds: adding cannot fail.
        let _ = self.overall.add(&s.interval_latency);
        let failed_now = s.errors + s.failed_by_status;
        let failed = failed_now.saturating_sub(self.last_failed_total);
        self.last_failed_total = failed_now;
        self.window.push_back(Tick {
            interval: s.interval,
            requests: s.interval_requests,
            failed,
            latency: s.interval_latency.clone(),
        });
        // Keep just enough ticks to cover the window.
        while self.window.len() > 1
            && self
                .window
                .iter()
                .skip(1)
                .map(|t| t.interval)
                .sum::<Duration>()
                >= WINDOW
        {
            self.window.pop_front();
        }
        // The one-second bins of the charts.
        self.bin_requests += s.interval_requests;
        self.bin_failed += failed;
        let _ = self.bin_latency.add(&s.interval_latency);
        let bin_length = s.elapsed.saturating_sub(self.bin_start);
        if bin_length >= WINDOW {
            let secs = bin_length.as_secs_f64();
            let x = s.elapsed.as_secs_f64();
            self.rps_points.push((x, self.bin_requests as f64 / secs));
            self.failed_points.push((x, self.bin_failed as f64 / secs));
            if !self.bin_latency.is_empty() {
                let ms = |q: f64| self.bin_latency.value_at_quantile(q) as f64 / 1000.0;
                self.p50_points.push((x, ms(0.5)));
                self.p99_points.push((x, ms(0.99)));
            }
            self.bin_start = s.elapsed;
            self.bin_requests = 0;
            self.bin_failed = 0;
            self.bin_latency.reset();
        }
    }

    /// Requests per second over the recent window.
    pub fn rps_now(&self) -> f64 {
        let secs: f64 = self.window.iter().map(|t| t.interval.as_secs_f64()).sum();
        if secs > 0.0 {
            self.window.iter().map(|t| t.requests).sum::<u64>() as f64 / secs
        } else {
            0.0
        }
    }

    /// Failed requests per second over the recent window.
    pub fn failed_now(&self) -> f64 {
        let secs: f64 = self.window.iter().map(|t| t.interval.as_secs_f64()).sum();
        if secs > 0.0 {
            self.window.iter().map(|t| t.failed).sum::<u64>() as f64 / secs
        } else {
            0.0
        }
    }

    /// Latency of the responses of the recent window.
    pub fn latency_now(&self) -> Histogram<u64> {
        let mut h = latency::new_histogram();
        for t in &self.window {
            let _ = h.add(&t.latency);
        }
        h
    }

    /// Open model: arrivals due so far, and how many of them no worker has taken yet (a
    /// backlog: every worker is busy, or the processes fall behind).
    pub fn starts_due_and_behind(&self) -> Option<(u64, u64)> {
        // Nothing is due after the deadline or a stop: a run draining is not behind.
        let end = molotov_core::load::load_end(self.shape.duration, self.stopped_at);
        let due = self.shape.schedule.as_ref()?.due_by(self.elapsed, end);
        Some((due, due.saturating_sub(self.starts_taken)))
    }

    /// Requests per second over the whole run so far.
    pub fn rps_overall(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }

    /// Takes a fresh merge of the region: per-request, per-scenario, status and error tables.
    pub fn on_summary(&mut self, s: &Summary, elapsed: Duration) {
        let dt = elapsed.saturating_sub(self.table_time).as_secs_f64();
        let rows = s
            .requests
            .iter()
            .map(|r| {
                let before = self
                    .requests_table
                    .iter()
                    .find(|row| row.name == r.name)
                    .map_or(0, |row| row.count);
                let q = |q: f64| (!r.latency.is_empty()).then(|| r.latency.value_at_quantile(q));
                RequestRow {
                    name: r.name.clone(),
                    count: r.counts.requests,
                    rate_now: if dt > 0.0 {
                        r.counts.requests.saturating_sub(before) as f64 / dt
                    } else {
                        0.0
                    },
                    failed: r.counts.errors + r.counts.failed_by_status,
                    p50: q(0.5),
                    p99: q(0.99),
                }
            })
            .collect();
        self.requests_table = rows;
        self.table_time = elapsed;
        self.scenarios = s
            .scenarios
            .iter()
            .map(|sc| ScenarioRow {
                name: sc.name.clone(),
                successes: sc.successes,
                failures: sc.failures,
            })
            .collect();
        self.status_codes = s.status_codes.iter().map(|(c, n)| (*c, *n)).collect();
        self.errors_by_kind = s.errors_by_kind.clone();
    }

    /// Adds a failure line (shown in the failures panel).
    pub fn on_failure(&mut self, line: String) {
        if self.failure_lines.len() == FAILURE_LINES {
            self.failure_lines.remove(0);
        }
        self.failure_lines.push(line);
    }

    /// Adds a line a load process wrote to stderr (shown in the events panel).
    pub fn on_child_output(&mut self, line: &str) {
        if let Some((last, count)) = self.output_lines.last_mut()
            && last == line
        {
            *count += 1;
            return;
        }
        if self.output_lines.len() == FAILURE_LINES {
            self.output_lines.remove(0);
        }
        self.output_lines.push((line.to_string(), 1));
    }

    /// The progress of the run in 0..=1 and its label, when the end is known.
    pub fn progress(&self) -> Option<(f64, String)> {
        if let Some(d) = self.shape.duration {
            let total = d.as_secs_f64();
            let done = self.elapsed.as_secs_f64().min(total);
            let left = (total - done).max(0.0);
            return Some((
                if total > 0.0 { done / total } else { 1.0 },
                format!(
                    "{} / {}  ({} left)",
                    clock(self.elapsed.min(d)),
                    clock(d),
                    clock(Duration::from_secs_f64(left))
                ),
            ));
        }
        self.shape.total_runs.map(|total| {
            let done = self.successes + self.failures;
            (
                if total > 0 {
                    (done as f64 / total as f64).min(1.0)
                } else {
                    1.0
                },
                format!("{done} / {total} scenario runs  ({})", clock(self.elapsed)),
            )
        })
    }
}

/// `mm:ss`, or `h:mm:ss` from an hour.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}
