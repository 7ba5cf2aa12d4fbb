//! The machine-readable report (`--json FILE`): a versioned, documented JSON document built
//! from the final [`Summary`], the run's outcome, the per-second series and the threshold
//! results. docs/report-format.md describes every field; [`FORMAT_VERSION`] changes when a
//! field changes meaning or disappears (adding a field does not change it).
//!
//! Conventions: latencies are integer microseconds (`*_us`), durations elsewhere are seconds as
//! floats (`*_s`), rates are per second, byte counts are bytes, timestamps are RFC 3339 UTC.
//! The HTML report is rendered from this same [`Report`] value, so both always agree.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use molotov_dsl::Program;
use serde::{Deserialize, Serialize};

use crate::latency;
use crate::run::{Ending, FailureReport, RunConfig, RunResult};
use crate::summary::Summary;
use crate::thresholds::ThresholdOutcome;

/// The value of [`Report::format`].
pub const FORMAT: &str = "molotov-report";
/// The version of the document's shape.
pub const FORMAT_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always `molotov-report`.
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The molotov version that wrote it.
    pub molotov_version: String,
    /// The plan file as given on the command line (`demo` for the built-in demo).
    pub plan: String,
    /// How the run was configured.
    pub config: Config,
    /// When the load started (RFC 3339, UTC, milliseconds).
    pub started_at: String,
    /// When the load ended: `started_at` + `duration_s`.
    pub ended_at: String,
    /// Wall time from the start of the load to the end of the last load process.
    pub duration_s: f64,
    /// Why the run ended: `completed`, `interrupted`, `stopped_on_failure`, `setup_failed`,
    /// `sizing_knee`.
    pub ending: String,
    /// The exit code molotov returned.
    pub exit_code: u8,
    /// Counters over the whole run.
    pub totals: Totals,
    /// Per-second rates over the whole run.
    pub rates: Rates,
    /// Latency of every response (None when there was none).
    pub latency_us: Option<Latency>,
    /// Service time (first byte written to last byte read) of every response; equal to
    /// `latency_us` in the closed model.
    pub service_time_us: Option<Latency>,
    /// Open model (`--rate`) schedule keeping.
    pub schedule: Schedule,
    /// Per request name, in plan order.
    pub requests: Vec<RequestReport>,
    /// Per scenario, in plan order.
    pub scenarios: Vec<ScenarioReport>,
    /// Per `check` and `assert`, in plan order.
    pub checks: Vec<CheckReport>,
    /// Transport errors by kind (only kinds seen).
    pub errors: BTreeMap<String, u64>,
    /// Responses by status code (keys are the codes as text).
    pub status_codes: BTreeMap<String, u64>,
    /// Every process of the run (load processes, setup, teardown).
    pub processes: Vec<ProcessReport>,
    /// The master process.
    pub master: MasterReport,
    /// The plan's thresholds, evaluated, in plan order.
    pub thresholds: Vec<ThresholdOutcome>,
    /// The failure that stopped the run (`-x`) or failed the setup.
    pub failure: Option<Failure>,
    /// One point per second of the load.
    pub series: Vec<SeriesPoint>,
    /// `--sizing`: the verdict (None without `--sizing`).
    #[serde(default)]
    pub sizing: Option<Sizing>,
}

/// The verdict of `--sizing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sizing {
    /// The failure ratio (percent) above which the load is too much.
    pub tolerance_pct: f64,
    /// The sliding window the ratio is measured over.
    pub window_s: f64,
    /// The last judged point at or below the tolerance (None: none was).
    pub last_good: Option<SizingPoint>,
    /// The first point above the tolerance (None: never exceeded).
    pub exceeded: Option<SizingPoint>,
    /// The judged point at or below the tolerance with the highest load.
    pub peak: Option<SizingPoint>,
    /// The highest failure ratio of any judged window, in percent.
    pub max_failure_pct: f64,
    /// Windows judged.
    pub judged: u64,
}

/// The load and what it got at one point of the sizing ramp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingPoint {
    /// Seconds since the start of the load.
    pub t_s: f64,
    /// Workers running.
    pub workers: u64,
    /// Open model: the rate the schedule asked for.
    pub target_rate: Option<f64>,
    /// Requests per second over the window.
    pub rps: f64,
    /// The window's failure ratio, in percent.
    pub failure_pct: f64,
    /// The window's latency.
    pub latency_us: Option<Latency>,
}

fn sizing(r: &crate::sizing::SizingReport) -> Sizing {
    let point = |p: &crate::sizing::SizingPoint| SizingPoint {
        t_s: p.elapsed.as_secs_f64(),
        workers: p.workers,
        target_rate: p.target_rate,
        rps: p.rps,
        failure_pct: p.failure_ratio * 100.0,
        latency_us: Latency::of(&p.latency),
    };
    Sizing {
        tolerance_pct: r.config.tolerance_pct(),
        window_s: r.config.window.as_secs_f64(),
        last_good: r.last_good.as_ref().map(point),
        exceeded: r.exceeded.as_ref().map(point),
        peak: r.peak.as_ref().map(point),
        max_failure_pct: r.max_ratio * 100.0,
        judged: r.judged,
    }
}

/// The run's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Workers per process (`-w`).
    pub workers: usize,
    /// Processes (`-p`).
    pub processes: usize,
    /// `-d` in seconds (None: until `-r` or Ctrl-C).
    pub duration_s: Option<f64>,
    /// `-r`.
    pub max_runs: Option<u64>,
    /// `-x`.
    pub exception: bool,
    /// `-f`: the failure count that fails the run.
    pub fail: Option<u64>,
    /// The run seed.
    pub seed: u64,
    /// `--grace` in seconds.
    pub grace_s: f64,
    /// `--connect-timeout` in seconds.
    pub connect_timeout_s: f64,
    /// The load model.
    pub load: LoadConfig,
}

/// The load model's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadConfig {
    /// `closed` (workers loop), `open` (`--rate`/`--stages`).
    pub model: String,
    /// `--ramp-up` in seconds: the workers' ramp (closed model), or the rate's under
    /// `--sizing --rate` (sizing's default, 300, when not given).
    pub ramp_up_s: Option<f64>,
    /// `--delay` in seconds.
    pub delay_s: f64,
    /// `--single-run`.
    pub single_run: bool,
    /// `--single-mode`: the scenario run alone.
    pub single_mode: Option<String>,
    /// Open model: the stages as `[seconds, target rate]` after the initial rate.
    pub rate_initial: Option<f64>,
    /// Open model: `(duration_s, target)` stages; empty for a constant rate.
    pub stages: Vec<(f64, f64)>,
    /// `--max-late` in seconds.
    pub max_late_s: Option<f64>,
    /// `--max-early` in seconds (open model only). Absent in reports of older versions.
    #[serde(default)]
    pub max_early_s: Option<f64>,
    /// `--early-batch` (open model only). Absent in reports of older versions.
    #[serde(default)]
    pub early_batch: Option<u32>,
    /// `--sizing`: the tolerance in percent.
    pub sizing_tolerance_pct: Option<f64>,
}

/// Counters over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests sent.
    pub requests: u64,
    /// Complete responses.
    pub responses: u64,
    /// Transport errors.
    pub errors: u64,
    /// Responses >= 400 on requests with no status check.
    pub failed_by_status: u64,
    /// Requests in flight when their process was stopped (sent, no outcome).
    pub unfinished: u64,
    /// Scenario runs that succeeded.
    pub successes: u64,
    /// Scenario runs that failed.
    pub failures: u64,
    /// Scenario runs cut short by the end of the run.
    pub stopped: u64,
    /// Check and assert evaluations that passed.
    pub checks_passed: u64,
    /// Check and assert evaluations that failed.
    pub checks_failed: u64,
    /// Bytes written to sockets.
    pub bytes_sent: u64,
    /// Bytes read from sockets.
    pub bytes_received: u64,
    /// TCP connections opened.
    pub connections: u64,
    /// Mean connect time (None: no connection).
    pub mean_connect_us: Option<u64>,
    /// Requests retried on a fresh connection.
    pub retries: u64,
    /// TLS handshakes completed.
    pub tls_handshakes: u64,
    /// TLS handshakes that resumed a session.
    pub tls_resumed: u64,
    /// Mean TLS handshake time (None: no handshake).
    pub mean_tls_handshake_us: Option<u64>,
    /// Workers that started, and those of them whose `setup worker` failed (they ran no
    /// scenario; any makes the run fail, exit 1).
    #[serde(default)]
    pub workers_started: u64,
    #[serde(default)]
    pub worker_setups_failed: u64,
    /// Workers whose `teardown worker` failed (any makes the run fail, exit 1).
    #[serde(default)]
    pub worker_teardowns_failed: u64,
    /// Latencies that reached the histograms' top (24 h): counted as 24 h, their true values
    /// are larger.
    #[serde(default)]
    pub latencies_at_top: u64,
    /// Of `requests`, those `setup` and `teardown` sent: outside the load's time, so not in
    /// the rates. Absent in reports of older versions.
    #[serde(default)]
    pub setup_teardown_requests: u64,
    /// Open model: of `requests`, those the workers' `setup worker` blocks sent before the
    /// schedule started: outside the load's time, so not in the rates. Absent in reports of
    /// older versions.
    #[serde(default)]
    pub before_start_requests: u64,
}

/// Per-second rates over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Requests sent per second.
    pub requests_per_s: f64,
    /// Responses per second.
    pub responses_per_s: f64,
    /// Scenario runs ended (succeeded or failed) per second.
    pub scenario_runs_per_s: f64,
    /// Bytes received per second.
    pub bytes_received_per_s: f64,
}

/// A latency distribution, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean (rounded).
    pub mean: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl Latency {
    /// The distribution of `h` (None when empty).
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency {
            count: h.len(),
            min: crate::latency::min(h),
            mean: crate::latency::mean(h).round() as u64,
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

/// Open model schedule keeping (all zero in the closed model, except `started_runs`, which
/// counts the runs started in both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Scenario starts later than scheduled.
    pub late_starts: u64,
    /// Mean lateness of the late starts (None: none was late).
    pub late_mean_us: Option<u64>,
    /// Worst lateness.
    pub late_max_us: u64,
    /// Runs started before their intended time, by at most `--max-early` (their latency is
    /// measured from their actual start). Absent in reports of older versions.
    #[serde(default)]
    pub early_starts: u64,
    /// How far before its intended time the earliest of them started.
    #[serde(default)]
    pub early_max_us: u64,
    /// Scenario runs started (with those cut by their process's death, which have no
    /// outcome in `scenarios[]`).
    #[serde(default)]
    pub started_runs: u64,
    /// Scheduled starts dropped (`--max-late`).
    pub dropped_starts: u64,
    /// Arrivals due before the end of the load that no worker started: the schedule ran
    /// ahead of `-w` (with `late_starts` and `dropped_starts`, every arrival due is counted
    /// once: started + dropped + missed). Absent in reports of older versions.
    #[serde(default)]
    pub missed_starts: u64,
}

fn load_config(config: &RunConfig, program: &molotov_dsl::Program) -> LoadConfig {
    let load = &config.options.load;
    LoadConfig {
        model: if load.rate.is_some() {
            "open"
        } else {
            "closed"
        }
        .into(),
        // The workers' ramp, or in sizing with a rate, the rate's (the schedule's stages
        // carry it, and the workers all start at once).
        ramp_up_s: load
            .ramp_up
            .or(config.sizing.map(|s| s.ramp_up))
            .map(|d| d.as_secs_f64()),
        delay_s: load.delay.as_secs_f64(),
        single_run: load.single_run,
        single_mode: load
            .single_mode
            .and_then(|id| program.scenarios().get(id as usize))
            .map(|s| s.name.clone()),
        rate_initial: load.rate.as_ref().map(|r| r.schedule.initial()),
        stages: load
            .rate
            .as_ref()
            .map(|r| {
                r.schedule
                    .stages()
                    .iter()
                    .map(|s| (s.duration.as_secs_f64(), s.target))
                    .collect()
            })
            .unwrap_or_default(),
        max_late_s: load
            .rate
            .as_ref()
            .and_then(|r| r.max_late)
            .map(|d| d.as_secs_f64()),
        max_early_s: load.rate.as_ref().map(|r| r.max_early.as_secs_f64()),
        early_batch: load.rate.as_ref().map(|r| r.early_batch),
        sizing_tolerance_pct: config.sizing.map(|s| s.tolerance_pct()),
    }
}

/// The first failure of a request or check: its status (0: none) and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The response status, 0 when there was no response.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

/// One request name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestReport {
    /// `as NAME`, or `METHOD target`.
    pub name: String,
    /// The HTTP method.
    pub method: String,
    /// The scenario it belongs to (None: setup or teardown).
    pub scenario: Option<String>,
    /// Where it is written (`file:line`).
    pub location: String,
    /// Requests sent (`unfinished` of them got no outcome).
    pub requests: u64,
    /// `requests - responses - errors`: in flight when their process was stopped.
    #[serde(default)]
    pub unfinished: u64,
    /// Complete responses.
    pub responses: u64,
    /// Transport errors.
    pub errors: u64,
    /// Responses >= 400 without a status check.
    pub failed_by_status: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Requests per second over the run.
    pub requests_per_s: f64,
    /// Its latency.
    pub latency_us: Option<Latency>,
    /// Its first failure.
    pub first_failure: Option<Sample>,
}

/// One scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// Its name.
    pub name: String,
    /// Its weight.
    pub weight: u32,
    /// Runs that succeeded.
    pub successes: u64,
    /// Runs that failed.
    pub failures: u64,
    /// Runs cut short by the end of the run.
    pub stopped: u64,
    /// Requests of its request names (responses + errors).
    pub requests: u64,
    /// The latency of its requests, merged.
    pub latency_us: Option<Latency>,
}

/// One `check` or `assert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The predicate as written.
    pub text: String,
    /// `check` or `assert`.
    pub kind: String,
    /// Where it is written.
    pub location: String,
    /// The request whose response it tests.
    pub request: Option<String>,
    /// Evaluations that passed.
    pub passed: u64,
    /// Evaluations that failed.
    pub failed: u64,
    /// Its first failure.
    pub first_failure: Option<Sample>,
}

/// One process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessReport {
    /// `worker 0`, `worker 1`, ..., `setup`, `teardown`.
    pub role: String,
    /// Its pid.
    pub pid: i32,
    /// The CPU it was pinned to.
    pub cpu: Option<usize>,
    /// Requests it sent.
    pub requests: u64,
    /// User + system CPU time (None: still running when the report was made).
    pub cpu_time_s: Option<f64>,
    /// Peak resident memory.
    pub peak_rss_bytes: Option<u64>,
    /// `ok`, `exited with code N`, `killed by SIGNAME` (None: still running).
    pub exit: Option<String>,
}

/// The master process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterReport {
    /// Its pid.
    pub pid: u32,
    /// User + system CPU time.
    pub cpu_time_s: f64,
    /// Peak resident memory.
    pub peak_rss_bytes: u64,
}

/// The failure that stopped the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The check (`assert status == 200`) or the request name.
    pub what: String,
    /// `file:line` when known.
    pub location: Option<String>,
    /// The response status (0: none).
    pub status: u16,
    /// The message.
    pub message: String,
}

/// One second of the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// End of the interval, seconds since the start of the load.
    pub t_s: f64,
    /// Requests sent in the interval.
    pub requests: u64,
    /// Requests per second over the interval.
    pub rps: f64,
    /// Transport errors in the interval.
    pub errors: u64,
    /// Responses failed by status in the interval.
    pub failed_by_status: u64,
    /// Scenario runs that failed in the interval.
    pub failures: u64,
    /// Median latency of the responses of the interval (None: no response).
    pub p50_us: Option<u64>,
    /// 99th percentile latency of the responses of the interval.
    pub p99_us: Option<u64>,
    /// Workers running at the end of the interval.
    pub workers: u64,
    /// Requests in flight at the end of the interval.
    pub in_flight: u64,
    /// Scenario runs started in the interval.
    pub starts: u64,
    /// Open model: the rate the schedule asked for.
    pub target_rate: Option<f64>,
    /// Open model: late starts in the interval.
    pub late_starts: u64,
    /// Open model: starts made ahead of schedule in the interval (`--max-early`; 0 in
    /// reports of older versions).
    #[serde(default)]
    pub early_starts: u64,
    /// Open model: dropped starts in the interval.
    pub dropped_starts: u64,
    /// Open model: arrivals due by the end of the interval that no worker had taken yet
    /// (None in the closed model, and in reports of older versions).
    #[serde(default)]
    pub behind: Option<u64>,
}

/// Everything a report is built from.
pub struct Context<'a> {
    /// The plan as given (`demo` for the demo).
    pub plan: &'a str,
    /// The compiled plan (method, scenario and location of each request, scenario weights).
    pub program: &'a Program,
    /// The run's settings.
    pub config: &'a RunConfig,
    /// The run's outcome.
    pub result: &'a RunResult,
    /// The plan's thresholds, evaluated.
    pub thresholds: &'a [ThresholdOutcome],
    /// Wall-clock time at the start of the load.
    pub started_at: SystemTime,
    /// `-f`.
    pub fail: Option<u64>,
    /// The exit code molotov returns.
    pub exit_code: u8,
}

/// The name of an [`Ending`] in the report.
pub fn ending_name(ending: Ending) -> &'static str {
    match ending {
        Ending::Completed => "completed",
        Ending::Interrupted(_) => "interrupted",
        Ending::StoppedOnFailure => "stopped_on_failure",
        Ending::SetupFailed => "setup_failed",
        Ending::SizingKnee => "sizing_knee",
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

fn sample(s: &Option<(u16, String)>) -> Option<Sample> {
    s.as_ref().map(|(status, message)| Sample {
        status: *status,
        message: message.clone(),
    })
}

/// Builds the report.
pub fn build(ctx: &Context<'_>) -> Report {
    let s: &Summary = &ctx.result.summary;
    let program = ctx.program;
    let scenario_name = |id: molotov_dsl::ScenarioId| {
        program
            .scenarios()
            .get(id.index())
            .map(|sc| sc.name.clone())
    };
    let requests: Vec<RequestReport> = s
        .requests
        .iter()
        .enumerate()
        .map(|(id, r)| {
            let info = program.requests().get(id);
            RequestReport {
                name: r.name.clone(),
                method: info.map(|i| i.method.to_string()).unwrap_or_default(),
                scenario: info.and_then(|i| i.scenario).and_then(scenario_name),
                location: info.map(|i| i.location.to_string()).unwrap_or_default(),
                requests: r.counts.requests,
                unfinished: r
                    .counts
                    .requests
                    .saturating_sub(r.counts.responses + r.counts.errors),
                responses: r.counts.responses,
                errors: r.counts.errors,
                failed_by_status: r.counts.failed_by_status,
                bytes_received: r.bytes_received,
                requests_per_s: per_second(r.load_requests, s.elapsed),
                latency_us: Latency::of(&r.latency),
                first_failure: sample(&r.sample),
            }
        })
        .collect();
    let scenarios = s
        .scenarios
        .iter()
        .enumerate()
        .map(|(id, sc)| {
            let mut merged = latency::new_histogram();
            let mut count = 0;
            for (rid, r) in s.requests.iter().enumerate() {
                let belongs = program
                    .requests()
                    .get(rid)
                    .is_some_and(|i| i.scenario.map(|x| x.index()) == Some(id));
                if belongs {
                    // Same bounds on both sides: adding cannot fail.
                    let _ = merged.add(&r.latency);
                    count += r.counts.requests;
                }
            }
            ScenarioReport {
                name: sc.name.clone(),
                weight: program.scenarios().get(id).map_or(1, |i| i.weight),
                successes: sc.successes,
                failures: sc.failures,
                stopped: sc.stopped,
                requests: count,
                latency_us: Latency::of(&merged),
            }
        })
        .collect();
    let checks = s
        .checks
        .iter()
        .enumerate()
        .map(|(id, c)| CheckReport {
            text: c.name.text.clone(),
            kind: if c.name.is_assert { "assert" } else { "check" }.into(),
            location: c.name.location.clone(),
            request: program
                .checks()
                .get(id)
                .and_then(|info| program.requests().get(info.request.index()))
                .map(|r| r.name.clone()),
            passed: c.passed,
            failed: c.failed,
            first_failure: sample(&c.sample),
        })
        .collect();
    let processes = s
        .processes
        .iter()
        .zip(&s.requests_per_process)
        .map(|(p, &requests)| ProcessReport {
            role: p.role.clone(),
            pid: p.pid,
            cpu: p.cpu,
            requests,
            cpu_time_s: p.usage.map(|u| u.cpu().as_secs_f64()),
            peak_rss_bytes: p.usage.map(|u| u.max_rss),
            exit: p.exit.map(|e| {
                if e.is_success() {
                    "ok".to_string()
                } else {
                    e.to_string()
                }
            }),
        })
        .collect();
    let config = ctx.config;
    let elapsed = s.elapsed;
    let ended_at = ctx.started_at + elapsed;
    Report {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        molotov_version: env!("CARGO_PKG_VERSION").into(),
        plan: ctx.plan.into(),
        config: Config {
            workers: config.workers,
            processes: config.processes,
            duration_s: config.duration.map(|d| d.as_secs_f64()),
            max_runs: config.options.max_runs,
            exception: config.options.exception,
            fail: ctx.fail,
            seed: config.options.seed,
            grace_s: config.grace.as_secs_f64(),
            connect_timeout_s: config.options.client.connect_timeout.as_secs_f64(),
            load: load_config(config, ctx.program),
        },
        started_at: rfc3339(ctx.started_at),
        ended_at: rfc3339(ended_at),
        duration_s: elapsed.as_secs_f64(),
        ending: ending_name(ctx.result.ending).into(),
        exit_code: ctx.exit_code,
        totals: Totals {
            requests: s.counts.requests,
            responses: s.counts.responses,
            errors: s.counts.errors,
            failed_by_status: s.counts.failed_by_status,
            unfinished: s
                .counts
                .requests
                .saturating_sub(s.counts.responses + s.counts.errors),
            successes: s.successes(),
            failures: s.failures(),
            stopped: s.scenarios.iter().map(|sc| sc.stopped).sum(),
            checks_passed: s.checks_passed(),
            checks_failed: s.checks_failed(),
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            connections: s.connects,
            mean_connect_us: s.mean_connect.map(|d| d.as_micros() as u64),
            retries: s.retries,
            tls_handshakes: s.tls_handshakes,
            tls_resumed: s.tls_resumed,
            mean_tls_handshake_us: s.mean_tls_handshake.map(|d| d.as_micros() as u64),
            workers_started: s.workers_started,
            worker_setups_failed: s.worker_setups_failed,
            worker_teardowns_failed: s.worker_teardowns_failed,
            latencies_at_top: crate::latency::at_top(&s.latency),
            setup_teardown_requests: s
                .counts
                .requests
                .saturating_sub(s.load.requests)
                .saturating_sub(s.load.sent_before_start),
            before_start_requests: s.load.sent_before_start,
        },
        rates: Rates {
            requests_per_s: per_second(s.load.requests, elapsed),
            responses_per_s: per_second(s.load.responses, elapsed),
            scenario_runs_per_s: per_second(s.successes() + s.failures(), elapsed),
            bytes_received_per_s: per_second(s.load.bytes_received, elapsed),
        },
        latency_us: Latency::of(&s.latency),
        service_time_us: Latency::of(&s.service),
        schedule: Schedule {
            late_starts: s.late_starts,
            late_mean_us: s.late_mean().map(|d| d.as_micros() as u64),
            late_max_us: s.late_max.as_micros() as u64,
            early_starts: s.early_starts,
            early_max_us: s.early_max.as_micros() as u64,
            started_runs: s.runs_started,
            dropped_starts: s.dropped_starts,
            missed_starts: s.missed_starts,
        },
        requests,
        scenarios,
        checks,
        errors: s
            .errors_by_kind
            .iter()
            .map(|(kind, n)| (kind.to_string(), *n))
            .collect(),
        status_codes: s
            .status_codes
            .iter()
            .map(|(code, n)| (code.to_string(), *n))
            .collect(),
        processes,
        master: MasterReport {
            pid: std::process::id(),
            cpu_time_s: s.master_usage.cpu().as_secs_f64(),
            peak_rss_bytes: s.master_usage.max_rss,
        },
        thresholds: ctx.thresholds.to_vec(),
        failure: ctx.result.first_failure.as_ref().map(failure),
        series: ctx
            .result
            .series
            .iter()
            .map(|p| SeriesPoint {
                t_s: p.elapsed.as_secs_f64(),
                requests: p.requests,
                rps: p.rps,
                errors: p.errors,
                failed_by_status: p.failed_by_status,
                failures: p.failures,
                p50_us: p.p50_us,
                p99_us: p.p99_us,
                workers: p.workers,
                in_flight: p.in_flight,
                starts: p.starts,
                target_rate: p.target_rate,
                late_starts: p.late_starts,
                early_starts: p.early_starts,
                dropped_starts: p.dropped_starts,
                behind: p.behind,
            })
            .collect(),
        sizing: ctx.result.sizing.as_ref().map(sizing),
    }
}

fn failure(f: &FailureReport) -> Failure {
    Failure {
        what: f.what.clone(),
        location: f.location.clone(),
        status: f.status,
        message: f.message.clone(),
    }
}

impl Report {
    /// The report as pretty-printed JSON, with a final newline.
    pub fn to_json(&self) -> String {
        // Every field is a plain number, string, list or map with string keys: serializing
        // cannot fail.
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("the report always serializes: {e}"));
        text.push('\n');
        text
    }

    /// Parses a report written by [`Report::to_json`].
    pub fn from_json(text: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// `t` as RFC 3339 in UTC with milliseconds: `2025-11-26T11:46:03.120Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let cases: &[(u64, u32, &str)] = &[
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
            (1_709_164_799, 999, "2024-02-28T23:59:59.999Z"),
            (1_709_251_200, 0, "2024-03-01T00:00:00.000Z"),
            (1_764_157_563, 120, "2025-11-26T11:46:03.120Z"),
            (4_102_444_800, 0, "2100-01-01T00:00:00.000Z"),
        ];
        for &(secs, millis, want) in cases {
            let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis.into());
            assert_eq!(rfc3339(t), want, "{secs}");
        }
    }

    #[test]
    fn latency_of_an_empty_histogram_is_none() {
        assert_eq!(Latency::of(&latency::new_histogram()), None);
        let mut h = latency::new_histogram();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let l = Latency::of(&h).unwrap();
        assert_eq!((l.count, l.min, l.max), (1000, 1, 1000));
        assert_eq!((l.p50, l.p90, l.p99, l.p999), (500, 900, 990, 999));
        assert_eq!(l.mean, 501); // 500.5 rounds up
    }

    #[test]
    fn ending_names_are_stable() {
        assert_eq!(ending_name(Ending::Completed), "completed");
        assert_eq!(ending_name(Ending::Interrupted(2)), "interrupted");
        assert_eq!(ending_name(Ending::StoppedOnFailure), "stopped_on_failure");
        assert_eq!(ending_name(Ending::SetupFailed), "setup_failed");
    }
}
