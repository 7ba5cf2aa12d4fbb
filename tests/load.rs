//! End-to-end tests of the load models (`--rate`, `--stages`, `--ramp-up`, `--single-run`,
//! `--single-mode`, `--delay`, `--sizing`): the real binary against the in-repo target server.

mod support;

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use molotov_target::ServerHandle;
use support::*;

/// Parses a duration cell of the report (`425µs`, `50.75ms`, `1.41s`) into µs.
fn micros(cell: &str) -> f64 {
    if let Some(v) = cell.strip_suffix("µs") {
        v.parse().unwrap()
    } else if let Some(v) = cell.strip_suffix("ms") {
        v.parse::<f64>().unwrap() * 1e3
    } else if let Some(v) = cell.strip_suffix('s') {
        v.parse::<f64>().unwrap() * 1e6
    } else {
        panic!("not a duration: {cell:?}")
    }
}

/// The p50 of a latency row whose label starts the line (after indentation).
fn p50_of_row(report: &str, label: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} row in:\n{report}"));
    // Columns from the right: min mean p50 p90 p99 p99.9 max.
    let cells: Vec<&str> = line.split_whitespace().collect();
    micros(cells[cells.len() - 5])
}

/// The tests of this file run in parallel, each loading both CPUs for a moment. The two
/// that count starts late by a millisecond take the CPUs alone (every other test holds a
/// shared guard), so that what they see is molotov, not a neighbour test's load.
static CPUS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn cpus_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    CPUS.write().unwrap_or_else(|e| e.into_inner())
}

fn cpus_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    CPUS.read().unwrap_or_else(|e| e.into_inner())
}

/// Runs `molotov -q ARGS --json FILE` with a plan of one `GET /json` against a fresh target
/// server; asserts it exits 0; returns the text report and the JSON report.
fn run_json_get(name: &str, args: &[&str]) -> (String, serde_json::Value) {
    let (_, report, r) = run_plan_json(name, "scenario get {\n  GET /json\n}\n", args);
    (report, r)
}

fn plan(base: &str, body: &str) -> String {
    format!("defaults {{\n  base {base}\n  timeout 10s\n}}\n\n{body}")
}

/// The bound on a run of molotov, unless a test says otherwise.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// One test's target server, temporary directory, and plan file in it.
struct Fixture {
    server: ServerHandle,
    dir: TempDir,
    plan: PathBuf,
}

impl Fixture {
    /// A fresh target server, a temporary directory `name`, and in it a plan of `body`
    /// (blocks and scenarios) against the server.
    fn new(name: &str, body: &str) -> Fixture {
        Fixture::on(target(), name, body)
    }

    /// Like [`Fixture::new`], against `server`.
    fn on(server: ServerHandle, name: &str, body: &str) -> Fixture {
        let dir = TempDir::new(name);
        let plan = dir.write("plan.mol", &plan(&base_url(&server), body));
        Fixture { server, dir, plan }
    }

    /// A plan of one scenario, one `GET PATH`.
    fn get(name: &str, path: &str) -> Fixture {
        Fixture::get_on(target(), name, path)
    }

    /// Like [`Fixture::get`], against `server`.
    fn get_on(server: ServerHandle, name: &str, path: &str) -> Fixture {
        Fixture::on(
            server,
            name,
            &format!("scenario get {{\n  GET {path}\n}}\n"),
        )
    }

    /// Where `--json` writes the report.
    fn json(&self) -> PathBuf {
        self.dir.0.join("report.json")
    }

    /// Runs `molotov -q ARGS PLAN` (bounded by [`RUN_LIMIT`]); asserts it exits `code`;
    /// returns its output and the text report.
    fn run(&self, args: &[&str], code: i32) -> (Output, String) {
        self.run_within(args, code, RUN_LIMIT)
    }

    /// Like [`Fixture::run`], bounded by `limit`.
    fn run_within(&self, args: &[&str], code: i32, limit: Duration) -> (Output, String) {
        let out = run_bounded(molotov().arg("-q").args(args).arg(&self.plan), limit);
        let report = stdout(&out);
        assert_exit(&out, code);
        (out, report)
    }

    /// Runs `molotov -q ARGS --json JSON PLAN` (bounded by [`RUN_LIMIT`]); asserts it exits
    /// `code`; returns its output, the text report and the JSON report.
    fn run_json(&self, args: &[&str], code: i32) -> (Output, String, serde_json::Value) {
        self.run_json_within(args, code, RUN_LIMIT)
    }

    /// Like [`Fixture::run_json`], bounded by `limit`.
    fn run_json_within(
        &self,
        args: &[&str],
        code: i32,
        limit: Duration,
    ) -> (Output, String, serde_json::Value) {
        let json = self.json();
        let mut all = args.to_vec();
        all.extend(["--json", path_str(&json)]);
        let (out, report) = self.run_within(&all, code, limit);
        let r = read_json(&json);
        (out, report, r)
    }

    /// Starts `molotov -q ARGS --json JSON PLAN` with its output piped.
    fn spawn_json(&self, args: &[&str]) -> Child {
        molotov()
            .arg("-q")
            .args(args)
            .arg("--json")
            .arg(self.json())
            .arg(&self.plan)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// The request named `name` of a JSON report, if there is one.
fn named_request<'a>(r: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == name)
}

/// The total lateness of a JSON report's starts, in ms: late starts x their mean (no mean,
/// null, when no start was late).
fn total_late_ms(r: &serde_json::Value) -> u64 {
    let s = &r["schedule"];
    s["late_starts"].as_u64().unwrap() * s["late_mean_us"].as_u64().unwrap_or(0) / 1000
}

#[test]
fn rate_sends_the_scheduled_number_of_requests() {
    let _shared = cpus_shared();
    let t = Fixture::get("rate", "/");
    for p in ["1", "2"] {
        t.server.reset_counters();
        let (_, report) = t.run(&["-p", p, "--rate", "500", "-d", "4"], 0);
        let sent = reported_requests(&report);
        assert!(
            (1960..=2040).contains(&sent),
            "-p {p}: {sent} requests for --rate 500 -d 4\n{report}"
        );
        assert_eq!(t.server.wait_answered(sent, Duration::from_secs(2)), sent);
        assert!(report.contains("Open model: target 500/s"), "{report}");
    }
}

#[test]
fn the_achieved_rate_is_over_the_schedule_not_the_drain() {
    let _shared = cpus_shared();
    // 10 starts in the second, all on time; each run takes 1 s, so the run lasts about 2 s.
    let (_, report) =
        Fixture::get("achieved", "/delay/1000").run(&["-w", "20", "--rate", "10", "-d", "1"], 0);
    let line = report
        .lines()
        .find(|l| l.starts_with("Open model:"))
        .unwrap_or_else(|| panic!("{report}"));
    // "... achieved 10 scenario starts of 10 due (10.0/s)": the 1 s of drain used to halve it.
    let rate: f64 = line
        .rsplit('(')
        .next()
        .and_then(|r| r.strip_suffix("/s)"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        line.contains("achieved 10 scenario starts of 10 due"),
        "{report}"
    );
    assert!((9.0..=11.0).contains(&rate), "{line}\n{report}");
}

#[test]
fn many_idle_workers_keep_the_schedule_and_the_connections_few() {
    let _alone = cpus_alone();
    // `-w` is a cap on runs in flight, so users raise it (rate x worst latency) far above
    // what a fast server needs. Those idle workers must cost the schedule nothing: every
    // start on time, so the latency is the server's (~0.2 ms here, not the generator's), and
    // only as many connections as runs are in flight at once.
    let (report, r) = run_json_get(
        "idle-workers",
        &["-p", "2", "-w", "3000", "--rate", "200", "-d", "2"],
    );
    let totals = &r["totals"];
    // The schedule holds 400 starts in 2 s; one that no worker had taken by the deadline
    // (a slow timer that made the process fall behind at the very end) is not started, and
    // is counted as missed: 2 at most, or as many as the process's own lateness explains
    // (another program on its CPU).
    let requests = totals["requests"].as_u64().unwrap();
    let missed = r["schedule"]["missed_starts"].as_u64().unwrap();
    assert_eq!(requests + missed, 400, "{report}");
    assert_unstarted_explained(&r, 200.0, 2, &report);
    // When idle workers cost each start something (a timer per worker, sleeps in slices
    // that added up their lateness), most starts were late: 1,500 of 2,000, p50 7.7-24.7 ms
    // (the server answers in ~0.2 ms).
    let p50 = r["latency_us"]["p50"].as_u64().unwrap();
    let late = r["schedule"]["late_starts"].as_u64().unwrap();
    if p50 >= 5_000 || late > 20 {
        // Another program on these 2 CPUs makes starts late whatever the workers (51-246 of
        // 400 seen, p50 up to 11 ms, with one busy loop on CPU 0). A control run with 20
        // workers per process, enough for this rate and none idle for long, shows how late
        // starts are just now: the idle workers may not make them much later. (Two runs in a
        // row on such a machine differ: 49 late against 14 seen, p50 the same.)
        let (control_report, control) = run_json_get(
            "idle-workers-control",
            &["-p", "2", "-w", "20", "--rate", "200", "-d", "2"],
        );
        let control_p50 = control["latency_us"]["p50"].as_u64().unwrap();
        let control_late = control["schedule"]["late_starts"].as_u64().unwrap();
        assert!(
            p50 <= 2 * control_p50 + 2_000 && late <= 2 * control_late + requests / 10,
            "{late} of {requests} starts late, p50 {p50} µs from the intended start; with 20 \
             workers {control_late} late, p50 {control_p50} µs\n{report}\n{control_report}"
        );
    }
    let connections = totals["connections"].as_u64().unwrap();
    assert!(
        connections <= 100,
        "{connections} connections for ~0.1 runs in flight\n{report}"
    );
}

#[test]
fn processes_start_the_schedule_together_once_all_are_ready() {
    let _alone = cpus_alone();
    // Forking two processes and building 3,000 workers in each takes ~10 ms here: the
    // schedule (and the duration) starts once every process is ready, so the first
    // arrivals are not already late when a process begins. 80 arrivals in 20 ms all fall
    // where that start-up was (about half of them were late by 5-12 ms before).
    let mut seen = Vec::new();
    // Up to three tries of the comparison below: the defect made every try late by the
    // start-up (~350 ms in all), while another program's slices land on one try and not the
    // next (one try in six, with a busy loop pinned to CPU 0).
    for _ in 0..3 {
        let (report, r) = run_json_get(
            "start-together",
            &["-p", "2", "-w", "3000", "--rate", "4000", "-d", "20ms"],
        );
        let requests = r["totals"]["requests"].as_u64().unwrap();
        // Arrivals still due when the deadline passes are not started (and counted as
        // missed): when the other tests of this binary load both CPUs at the same moment,
        // the last few may end that way; with another program on a CPU, as many as the
        // process's own lateness explains (25 after starts 12 ms late, at 4,000/s).
        let missed = r["schedule"]["missed_starts"].as_u64().unwrap();
        assert_eq!(requests + missed, 80, "{report}");
        assert_unstarted_explained(&r, 4000.0, 8, &report);
        let late = r["schedule"]["late_starts"].as_u64().unwrap();
        if late <= 10 {
            return;
        }
        // Outside CPU load (another program on these 2 CPUs) makes starts late by up to a
        // scheduler slice (~2-5 ms here) whatever the start-up costs. A control run with 4
        // workers per process, which start in no time, shows how late starts are just now;
        // compare the total lateness (late starts x their mean). Before the fix about half
        // the arrivals waited for the start-up (42-59 of 80, ~350 ms in all); under a busy
        // loop on one CPU both runs come to 15-100 ms.
        let (control_report, control) = run_json_get(
            "start-together-control",
            &["-p", "2", "-w", "4", "--rate", "4000", "-d", "20ms"],
        );
        let (ours, theirs) = (total_late_ms(&r), total_late_ms(&control));
        if ours <= theirs + 100 {
            return;
        }
        seen.push(format!(
            "{late} of {requests} starts late, {ours} ms in all; {theirs} ms with 4 workers \
             per process\n{report}\n{control_report}"
        ));
    }
    panic!("late in every try:\n{}", seen.join("\n---\n"));
}

#[test]
fn the_open_model_logs_workers_in_before_the_schedule_starts() {
    let _alone = cpus_alone();
    // Each worker's login takes 100 ms. Had the schedule started before the logins, the
    // arrivals of the first 100 ms (20 of them) would wait for a logged-in worker and show
    // the login as their latency; the workers log in first, then the schedule starts.
    let (_, report, r) = Fixture::new(
        "login-first",
        "setup worker {\n  GET /delay/100 as login\n}\n\n\
         scenario get {\n  GET /json as work\n}\n",
    )
    .run_json(&["-p", "2", "-w", "5", "--rate", "200", "-d", "1"], 0);
    let request = |name: &str| {
        named_request(&r, name)
            .unwrap_or_else(|| panic!("no {name} in {}", r["requests"]))
            .clone()
    };
    assert_eq!(request("login")["requests"], 10, "{report}");
    let work = request("work");
    let (_, _, missed) = arrivals_accounted(&r);
    assert_eq!(work["requests"].as_u64().unwrap() + missed, 200, "{report}");
    assert_unstarted_explained(&r, 200.0, 0, &report);
    let p99 = work["latency_us"]["p99"].as_u64().unwrap();
    let late = r["schedule"]["late_starts"].as_u64().unwrap();
    if p99 >= 50_000 || late > 10 {
        // Logins inside the schedule make its first 100 ms of arrivals (20) wait for them:
        // p99 ~94 ms, ~1 s of lateness in all. Another program on these 2 CPUs makes starts
        // late too (27-65 of 200 seen, by a scheduler slice, and once 270 ms). A control run
        // without logins shows how late starts are just now; the logins may add no more
        // than a fraction of what they did.
        let (control_report, control) = run_json_get(
            "login-first-control",
            &["-p", "2", "-w", "5", "--rate", "200", "-d", "1"],
        );
        let (ours, theirs) = (total_late_ms(&r), total_late_ms(&control));
        let control_p99 = control["latency_us"]["p99"].as_u64().unwrap();
        assert!(
            ours <= theirs + 400 && p99 <= control_p99 + 40_000,
            "{late} late starts, {ours} ms in all, work p99 {p99} µs; without logins {theirs} \
             ms, p99 {control_p99} µs\n{report}\n{control_report}"
        );
    }
    // The run's duration is the schedule's, the logins before it.
    let duration = r["duration_s"].as_f64().unwrap();
    assert!(duration < 1.09, "{duration} s\n{report}");
}

#[test]
fn one_slow_login_does_not_hold_back_the_workers_ready() {
    let _shared = cpus_shared();
    // Worker 0's login takes 11 s, past the 10 s the master waits for every process to be
    // ready: the schedule then starts without it, and the two workers logged in take the
    // arrivals at once (not after worker 0's login, in a burst of starts 1 s late).
    let (_, report, r) = Fixture::new(
        "slow-login",
        "setup worker {\n  if worker == 0 {\n    think 11s\n  }\n  GET /json as login\n}\n\n\
         scenario get {\n  GET /json as work\n}\n",
    )
    .run_json_within(
        &["-w", "3", "--rate", "20", "-d", "2"],
        0,
        Duration::from_secs(40),
    );
    assert_eq!(arrivals_accounted(&r), (40, 0, 0), "{report}");
    let late_max = r["schedule"]["late_max_us"].as_u64().unwrap();
    assert!(
        late_max < 200_000,
        "worst start {late_max} µs late\n{report}"
    );
}

#[test]
fn a_failed_login_runs_no_teardown_worker_and_the_schedule_still_starts() {
    let _shared = cpus_shared();
    // -p 2 -w 2: worker 0's `setup worker` fails at once; worker 3 (in the other process)
    // logs in for 2 s, so the schedule starts only then. Worker 0's `teardown worker` does
    // not run (it undoes a login that did not happen: it ran, before the start, and read
    // variables never set); the other three workers run theirs after the load.
    let (_, report, r) = Fixture::new(
        "failed-login-teardown",
        "setup worker {\n  if worker == 3 {\n    think 2s\n  }\n  if worker == 0 {\n    \
         GET /status/500 as refused\n    assert status == 200\n  }\n  GET /json as login\n}\n\n\
         teardown worker {\n  GET /json as bye\n}\n\n\
         scenario get {\n  GET /json as work\n}\n",
    )
    .run_json(&["-p", "2", "-w", "2", "--rate", "10", "-d", "1"], 1);
    assert_eq!(arrivals_accounted(&r), (10, 0, 0), "{report}");
    assert_eq!(r["totals"]["worker_setups_failed"], 1, "{report}");
    let count = |name: &str| named_request(&r, name).map_or(0, |q| q["requests"].as_u64().unwrap());
    assert_eq!(
        (count("refused"), count("login"), count("bye")),
        (1, 3, 3),
        "{report}"
    );
}

#[test]
fn a_backlog_shows_in_latency_but_not_in_service_time() {
    let _shared = cpus_shared();
    // 2 workers can do 40 runs/s at 50 ms each; ask for 100/s.
    let (_, report) =
        Fixture::get("backlog", "/delay/50").run(&["--rate", "100", "-w", "2", "-d", "3"], 0);
    let latency = p50_of_row(&report, "all requests");
    let service = p50_of_row(&report, "service time");
    assert!(
        (50_000.0..60_000.0).contains(&service),
        "service p50 {service}µs\n{report}"
    );
    assert!(
        latency > 300_000.0,
        "corrected p50 {latency}µs should carry the backlog\n{report}"
    );
    let late_line = report.lines().find(|l| l.contains("late starts:")).unwrap();
    let late: u64 = late_line
        .split("late starts:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(late > 50, "{report}");
    // About 40 runs/s were possible: the achieved count is bounded by capacity, not the rate.
    let sent = reported_requests(&report);
    assert!((100..=140).contains(&sent), "{sent}\n{report}");
}

/// Scenario runs started, dropped (`--max-late`) and missed arrivals of a JSON report.
fn arrivals_accounted(r: &serde_json::Value) -> (u64, u64, u64) {
    let schedule = &r["schedule"];
    let started = schedule["started_runs"].as_u64().unwrap();
    // Every run with an outcome was started (a run cut by its process's death has none).
    let finished: u64 = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| ["successes", "failures", "stopped"].map(|k| s[k].as_u64().unwrap()))
        .sum();
    assert!(
        finished <= started,
        "{finished} runs ended of {started} started"
    );
    (
        started,
        schedule["dropped_starts"].as_u64().unwrap(),
        schedule["missed_starts"].as_u64().unwrap(),
    )
}

/// Asserts the arrivals a run did not start (dropped or missed) are no more than its own
/// lateness explains: a process that fell behind by `late_max_us` at the end (its CPU taken
/// by another program, on a loaded machine) leaves the arrivals due in that time, `rate` a
/// second, not started at the deadline. On a machine that keeps up, `slack` at most. A
/// schedule that loses arrivals without being late (workers held, arrivals skipped) fails.
fn assert_unstarted_explained(r: &serde_json::Value, rate: f64, slack: u64, report: &str) {
    let (_, dropped, missed) = arrivals_accounted(r);
    let late_max_s = r["schedule"]["late_max_us"].as_u64().unwrap() as f64 / 1e6;
    let explained = slack + (rate * late_max_s).ceil() as u64;
    assert!(
        dropped + missed <= explained,
        "{dropped} dropped and {missed} missed arrivals; {explained} explained by the \
         lateness ({late_max_s} s at most, at {rate}/s) and {slack} more\n{report}"
    );
}

#[test]
fn arrivals_due_close_together_start_early_and_are_measured_from_their_start() {
    let _shared = cpus_shared();
    let t = Fixture::get("max-early", "/delay/50");
    // `molotov --rate 1000 -d 1 EARLY...` (arrivals 1 ms apart, each response 50 ms late):
    // the text and JSON reports, with the arrivals all accounted for.
    let html = t.dir.0.join("early.html");
    let run = |early: &[&str]| {
        let mut args = vec!["-w", "100", "--rate", "1000", "-d", "1"];
        args.extend(early);
        args.extend(["--html", path_str(&html)]);
        let (_, report, r) = t.run_json(&args, 0);
        let (started, dropped, missed) = arrivals_accounted(&r);
        // None due after the deadline starts, early or not; all of them do but what the
        // process's own lateness explains (10, or another program on its CPU).
        assert_eq!(started + dropped + missed, 1000, "{early:?}\n{report}");
        assert_unstarted_explained(&r, 1000.0, 10, &format!("{early:?}\n{report}"));
        let schedule = &r["schedule"];
        let early_starts = schedule["early_starts"].as_u64().unwrap();
        let early_max = schedule["early_max_us"].as_u64().unwrap();
        // The per-interval series counts the same early starts, each in its interval.
        let series = r["series"].as_array().unwrap();
        let in_series: u64 = series
            .iter()
            .map(|p| p["early_starts"].as_u64().unwrap())
            .sum();
        assert_eq!(
            in_series, early_starts,
            "{early:?}: series {series:?}\n{report}"
        );
        (report, r, started, early_starts, early_max)
    };

    // A 20 ms window and no bound on the batch: a wake-up starts the ~20 arrivals due within
    // 20 ms of it. No latency can be below the server's 50 ms: one measured from an early
    // start's intended time (still to come when it was sent) would be, by up to 20 ms.
    // Of the starts not late (a late wake-up starts the arrivals overdue, late, and is not
    // early for them: another program on the CPU), half or more are early.
    let on_time = |r: &serde_json::Value, started: u64| {
        started - r["schedule"]["late_starts"].as_u64().unwrap()
    };
    let (report, r, started, early, early_max) =
        run(&["--max-early", "20ms", "--early-batch", "1000"]);
    let not_late = on_time(&r, started);
    assert!(
        early >= not_late / 2 && early > 0,
        "{early} of {started} early, {not_late} not late\n{report}"
    );
    assert!(
        (2_500..=20_000).contains(&early_max),
        "the earliest start was {early_max} µs early\n{report}"
    );
    let min = r["latency_us"]["min"].as_u64().unwrap();
    assert!(min >= 50_000, "latency min {min} µs\n{report}");
    assert_eq!(r["config"]["load"]["max_early_s"].as_f64(), Some(0.02));
    assert_eq!(r["config"]["load"]["early_batch"].as_u64(), Some(1000));
    assert!(report.contains("early starts: "), "{report}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(&format!("{early} early (--max-early)")),
        "{page}"
    );

    // `--early-batch 2`: a wake-up starts its own arrival and the next two, ~2 ms early at
    // most, then sleeps for the third: two starts of three are early.
    let (report, r, started, early, early_max) =
        run(&["--max-early", "20ms", "--early-batch", "2"]);
    let not_late = on_time(&r, started);
    assert!(
        early >= not_late / 2 && early > 0,
        "{early} of {started} early, {not_late} not late\n{report}"
    );
    assert!(
        (1..=2_500).contains(&early_max),
        "the earliest start was {early_max} µs early\n{report}"
    );

    // `--max-early 0`: every start waits for its time.
    let (report, r, _, early, early_max) = run(&["--max-early", "0"]);
    assert_eq!((early, early_max), (0, 0), "{report}");
    assert!(!report.contains("early starts: "), "{report}");
    assert_eq!(r["config"]["load"]["max_early_s"].as_f64(), Some(0.0));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("early (--max-early)"), "{page}");
}

#[test]
fn an_overloaded_schedule_counts_every_arrival_once() {
    let _shared = cpus_shared();
    let t = Fixture::get("overloaded", "/delay/50");
    // 4 workers of 50 ms can start ~160 of the 400 arrivals due in 2 s; the rest are missed
    // (no worker was free before the end) or, with `--max-late`, dropped. Either way each
    // arrival due is counted exactly once.
    for max_late in [None, Some("100ms")] {
        let html = t.dir.0.join("report.html");
        let mut args = vec!["-p", "2", "-w", "2", "--rate", "200", "-d", "2"];
        args.extend(["--html", path_str(&html)]);
        if let Some(max_late) = max_late {
            args.extend(["--max-late", max_late]);
        }
        let (_, report, r) = t.run_json(&args, 0);
        let (started, dropped, missed) = arrivals_accounted(&r);
        assert_eq!(
            started + dropped + missed,
            400,
            "--max-late {max_late:?}: {started} started + {dropped} dropped + {missed} missed\n{report}"
        );
        // Each of the 4 workers is busy from the first arrival to the end, one run after
        // the other: about 4 x the duration / the mean service time (~160 here), less a few
        // at each end; at most 170 (a 50 ms response cannot come quicker). The lower bound
        // is from this run's own service time: a busy machine makes the target (and so
        // every run) slower, and fewer starts are then all that fit, not a defect.
        let service_s = r["service_time_us"]["mean"].as_f64().unwrap() / 1e6;
        let capacity = 4.0 * r["duration_s"].as_f64().unwrap() / service_s;
        assert!(
            started as f64 >= 0.75 * capacity - 4.0 && started <= 170,
            "{started} started, room for {capacity:.0} at the mean service time\n{report}"
        );
        assert!(
            report.contains(&format!(
                "Open model: target 200/s, achieved {started} scenario starts of 400 due"
            )),
            "{report}"
        );
        // The series' backlog at the end is what was missed.
        let series = r["series"].as_array().unwrap();
        assert_eq!(
            series.last().unwrap()["behind"].as_u64(),
            Some(missed),
            "{series:?}"
        );
        assert!(series.iter().all(|p| p["behind"].is_u64()), "{series:?}");
        let page = std::fs::read_to_string(&html).unwrap();
        // A wake-up on time may start the next arrival early (--max-early): rare here, where
        // the workers are all busy, but a loaded machine's late wake-ups make it happen.
        let early = match r["schedule"]["early_starts"].as_u64().unwrap() {
            0 => String::new(),
            n => format!("{n} early (--max-early), "),
        };
        assert!(
            page.contains(&format!(
                "Scheduled starts</div><div class=\"v bad\">{started} of 400</div>\
                 <div class=\"n\">{} late, {early}{dropped} dropped, {missed} missed",
                r["schedule"]["late_starts"]
            )),
            "{page}"
        );
        // Late starts are starts: never more than started, and with `--max-late` none
        // later than it (a dropped start is counted as dropped only).
        let late = r["schedule"]["late_starts"].as_u64().unwrap();
        assert!(
            late <= started,
            "{late} late of {started} started\n{report}"
        );
        if max_late.is_some() {
            assert!(dropped > 100, "{dropped} dropped\n{report}");
            let worst = r["schedule"]["late_max_us"].as_u64().unwrap();
            assert!(worst <= 100_000, "worst lateness {worst} µs\n{report}");
        } else {
            assert_eq!(dropped, 0, "{report}");
            assert!(missed > 200, "{missed} missed\n{report}");
            assert!(
                report.contains(&format!(
                    "{missed} starts were due before the end but not started by then"
                )),
                "{report}"
            );
        }
    }
}

#[test]
fn the_highest_and_the_lowest_rates_end_on_time_and_count_every_arrival() {
    let _shared = cpus_shared();
    let t = Fixture::get("extreme-rates", "/json");
    // One arrival per nanosecond (the highest rate taken), and one per 3e12 years (its
    // second arrival's time used to overflow: a panic in every process).
    for (rate, due) in [("1e9", 1e9), ("1e-20", 1.0)] {
        let (out, report, r) = t.run_json_within(
            &["-p", "2", "-w", "2", "--rate", rate, "-d", "1"],
            0,
            Duration::from_secs(20),
        );
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        let (started, dropped, missed) = arrivals_accounted(&r);
        assert!(started > 0 && dropped == 0, "{report}");
        let counted = (started + missed) as f64;
        assert!(
            (counted - due).abs() / due < 1e-6,
            "{rate}: {counted}\n{report}"
        );
    }
}

#[test]
fn a_start_due_just_before_the_deadline_is_started_not_missed() {
    let _shared = cpus_shared();
    // At 10.00001/s arrival 10 is due at 0.999999 s, 1 µs before the deadline. A worker
    // takes it ~0.1 s ahead (so a busy machine cannot make it miss the claim); its timer
    // wakes after the deadline, and the run must start anyway (late), since it was due.
    for p in ["1", "2"] {
        let (report, r) = run_json_get(
            "due-edge",
            &["-p", p, "-w", "2", "--rate", "10.00001", "-d", "1"],
        );
        let (started, dropped, missed) = arrivals_accounted(&r);
        assert_eq!(
            (started, dropped, missed),
            (11, 0, 0),
            "-p {p}: started, dropped, missed\n{report}"
        );
        assert_eq!(r["totals"]["requests"].as_u64(), Some(11), "{report}");
        assert!(
            report.contains("achieved 11 scenario starts of 11 due"),
            "{report}"
        );
    }
}

#[test]
fn a_stop_counts_the_arrivals_missed_until_the_stop_not_until_the_drain() {
    let _shared = cpus_shared();
    // Runs of 1 s: after Ctrl-C the run drains for up to a second, and the arrivals of that
    // second are not missed (nothing was to start after the stop).
    let t = Fixture::get("missed-stop", "/delay/1000");
    let child = t.spawn_json(&["-p", "2", "-w", "2", "--rate", "200", "-d", "20"]);
    let spawned = Instant::now();
    std::thread::sleep(Duration::from_millis(700));
    let signalled = spawned.elapsed();
    signal(child.id(), libc::SIGINT);
    let out = wait_bounded(child, Duration::from_secs(20));
    let report = stdout(&out);
    assert_exit(&out, 130);
    let r = read_json(&t.json());
    let (started, dropped, missed) = arrivals_accounted(&r);
    let accounted = started + dropped + missed;
    // The schedule began after the fork (less than the 700 ms the test waited) and ended at
    // the stop: at most 200/s x the time to the signal.
    let most = (200.0 * signalled.as_secs_f64()).ceil() as u64 + 2;
    assert!(
        (20..=most).contains(&accounted),
        "{started} started + {dropped} dropped + {missed} missed, at most {most} due by the stop\n{report}"
    );
    assert!(missed > 0, "{report}");
    // The per-second backlog stops growing at the stop too: the last point's is the missed.
    let last = r["series"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["behind"].as_u64(), Some(missed), "{last}");
}

#[test]
fn a_killed_child_s_arrivals_are_counted_missed_not_lost() {
    let _shared = cpus_shared();
    let t = Fixture::get("missed-killed", "/json");
    let child = t.spawn_json(&["-p", "2", "-w", "5", "--rate", "200", "-d", "2"]);
    let master = child.id();
    assert!(wait_until(Duration::from_secs(5), || children_of(master)
        .len()
        == 2));
    std::thread::sleep(Duration::from_millis(500));
    signal(children_of(master)[1], libc::SIGKILL);
    let out = wait_bounded(child, Duration::from_secs(15));
    let report = stdout(&out);
    assert_exit(&out, 4);
    let r = read_json(&t.json());
    // The survivor keeps its 200 to the deadline; the victim's arrivals after its death
    // were due and never started: missed, so the 400 of the schedule are all accounted for.
    let (started, dropped, missed) = arrivals_accounted(&r);
    assert_eq!(
        started + dropped + missed,
        400,
        "{started} started + {dropped} dropped + {missed} missed\n{report}"
    );
    assert!((50..=190).contains(&missed), "{missed} missed\n{report}");
}

#[test]
fn runs_killed_in_flight_still_count_as_started() {
    let _shared = cpus_shared();
    let t = Fixture::get("killed-in-flight", "/delay/3000");
    // 50 runs of 3 s start in the first second; the grace period ends 0.5 s after the
    // deadline and the process is stopped with all 50 in flight: no scenario outcome, but
    // started, so the 50 arrivals due are all accounted for. The stop is the grace period's,
    // not a process that died, and the 50 requests are unfinished under their own name; not
    // one got a response, so the run measured nothing: exit 1.
    let (_, report, r) = t.run_json(
        &["-w", "50", "--rate", "50", "-d", "1", "--grace", "500ms"],
        1,
    );
    assert!(report.contains("FAILED: no response came back"), "{report}");
    assert_eq!(arrivals_accounted(&r), (50, 0, 0), "{report}");
    assert_eq!(r["ending"], "completed");
    assert_eq!(r["processes"][0]["exit"], "stopped: the grace period ended");
    assert_eq!(r["requests"][0]["requests"], 50, "{report}");
    assert_eq!(r["requests"][0]["unfinished"], 50, "{report}");
    assert_eq!(r["totals"]["unfinished"], 50, "{report}");
    assert!(
        report.contains("was stopped when the grace period (--grace) ended"),
        "{report}"
    );
    assert!(
        report.contains("achieved 50 scenario starts of 50 due"),
        "{report}"
    );
}

#[test]
fn stages_shape_the_rate_and_end_the_run() {
    let _shared = cpus_shared();
    let t = Fixture::get("stages", "/");
    // 0 -> 200/s over 2 s (200 starts), then 200/s for 1 s (200): 400 in 3 s.
    let started = Instant::now();
    let (_, report) = t.run(&["--stages", "2s:200,1s:200"], 0);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let sent = reported_requests(&report);
    assert!((392..=408).contains(&sent), "{sent}\n{report}");
}

#[test]
fn the_run_lasts_its_stages_even_when_the_last_ones_have_no_arrivals() {
    let _shared = cpus_shared();
    let t = Fixture::get("stages-tail", "/");
    // 0 -> 20/s over 1 s (10 starts), 20 -> 0/s over 1 s (10, the last at about 1.7 s), then
    // 1 s at 0/s: a cool-down. The run lasts the stages, 3 s, not to the last arrival, and
    // the achieved rate is over the 3 s (the run once ended at 1.7 s: 11.8/s).
    let (_, report, r) = t.run_json(&["--stages", "1s:20,1s:0,1s:0"], 0);
    let duration = r["duration_s"].as_f64().unwrap();
    assert!((2.99..4.5).contains(&duration), "{duration}\n{report}");
    assert_eq!(r["totals"]["requests"], 20, "{report}");
    assert!(
        report.contains("achieved 20 scenario starts of 20 due (6.7/s)"),
        "{report}"
    );
    // `-d` longer than the stages: the run still ends with the last stage.
    let (_, report, r) = t.run_json(&["--stages", "1s:20,1s:0", "-d", "10"], 0);
    let duration = r["duration_s"].as_f64().unwrap();
    assert!((1.99..3.5).contains(&duration), "{duration}\n{report}");
    assert!(
        report.contains("achieved 20 scenario starts of 20 due (10.0/s)"),
        "{report}"
    );
}

#[test]
fn single_run_runs_each_scenario_once_per_worker() {
    let _shared = cpus_shared();
    let t = Fixture::new(
        "single-run",
        "scenario a weight 100 {\n  GET /json\n}\n\nscenario b weight 1 {\n  GET /json\n  GET /json\n}\n",
    );
    let (_, report) = t.run(&["-p", "2", "-w", "3", "--single-run"], 0);
    assert_eq!(reported_outcomes(&report), (12, 0), "{report}");
    let row = |name: &str| {
        report
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(row("a"), "6", "{report}");
    assert_eq!(row("b"), "6", "{report}");
    assert_eq!(t.server.wait_answered(18, Duration::from_secs(2)), 18);
}

#[test]
fn single_mode_runs_only_that_scenario_and_rejects_unknown_names() {
    let _shared = cpus_shared();
    let t = Fixture::new(
        "single-mode",
        "scenario a {\n  GET /json\n}\n\nscenario b {\n  GET /status/201\n}\n",
    );
    let (_, report) = t.run(&["-w", "2", "-r", "5", "--single-mode", "b"], 0);
    assert!(report.contains("Status codes: 201: 10"), "{report}");
    let (out, _) = t.run_within(&["--single-mode", "nope"], 2, Duration::from_secs(10));
    assert!(
        stderr(&out).contains("its scenarios are: a, b"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn delay_pauses_after_every_run() {
    let _shared = cpus_shared();
    let t = Fixture::get("delay", "/");
    let started = Instant::now();
    let (_, report) = t.run(&["-w", "1", "-r", "5", "--delay", "200ms"], 0);
    // 5 runs, each followed by 200 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reported_requests(&report), 5);
}

#[test]
fn sizing_finds_the_knee_of_a_server_that_fails_above_n_concurrent_requests() {
    let _shared = cpus_shared();
    const N: usize = 20;
    let server = molotov_target::start(molotov_target::ServerConfig {
        max_concurrency: Some(N),
        ..molotov_target::ServerConfig::default()
    })
    .unwrap();
    let (_, report) = Fixture::get_on(server, "sizing", "/delay/50").run_within(
        &["--sizing", "--ramp-up", "8s", "-w", "60"],
        0,
        Duration::from_secs(40),
    );
    let line = report
        .lines()
        .find(|l| l.contains("last load below tolerance:"))
        .unwrap_or_else(|| panic!("no knee in:\n{report}"));
    let workers: usize = line
        .split("tolerance:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (N * 9 / 10..=N * 11 / 10).contains(&workers),
        "knee at {workers} workers, server limit {N}\n{report}"
    );
    assert!(report.contains("tolerance exceeded:"), "{report}");
}

#[test]
fn sizing_that_never_reaches_the_tolerance_says_so() {
    let _shared = cpus_shared();
    let (_, report) =
        Fixture::get("sizing-ok", "/delay/5").run(&["--sizing", "--ramp-up", "2s", "-w", "10"], 0);
    assert!(report.contains("never exceeded 5%"), "{report}");
}

#[test]
fn open_model_sizing_holds_the_full_rate_for_a_window_after_the_ramp() {
    let _shared = cpus_shared();
    let (_, report, r) = Fixture::get("sizing-open", "/delay/20")
        .run_json(&["--sizing", "--ramp-up", "2s", "--rate", "200"], 0);
    assert!(report.contains("never exceeded 5%"), "{report}");
    // The configuration says the ramp (it was null: the ramp is the rate's, carried by the
    // schedule's stages) and the length the run was given without -d: the ramp and one
    // window.
    let config = &r["config"];
    assert_eq!(config["load"]["ramp_up_s"], 2.0, "{config}");
    assert_eq!(config["load"]["model"], "open", "{config}");
    assert_eq!(config["duration_s"], 2.5, "{config}");
    // The ramp (0 -> 200/s over 2 s: 200 starts), then one 500 ms window at 200/s (100):
    // the run used to end with the ramp.
    let duration = r["duration_s"].as_f64().unwrap();
    assert!((2.5..3.5).contains(&duration), "{duration}\n{report}");
    let (started, dropped, missed) = arrivals_accounted(&r);
    assert_eq!(started + dropped + missed, 300, "{report}");
    // The last load below the tolerance ran at the full rate, not at "0/s" (the mean the
    // schedule asked for over the window: 200/s, up to float rounding).
    let last_good = &r["sizing"]["last_good"];
    let target = last_good["target_rate"].as_f64().unwrap();
    assert!((target - 200.0).abs() < 0.5, "{last_good}");
    // With the workers that ran it (500 by default in sizing): a window sampled as the load
    // ended once said 0.
    for point in ["last_good", "peak"] {
        let p = &r["sizing"][point];
        assert_eq!(
            p["workers"].as_u64(),
            Some(500),
            "{point}: {p}
{report}"
        );
    }
}

#[test]
fn ramp_up_raises_active_workers_linearly_in_the_series() {
    let _shared = cpus_shared();
    let (_, _, report) = Fixture::get("ramp", "/delay/20")
        .run_json(&["-p", "2", "-w", "10", "--ramp-up", "4s", "-d", "5"], 0);
    assert_eq!(report["config"]["load"]["ramp_up_s"], 4.0);
    let series = report["series"].as_array().unwrap();
    // 20 workers over 4 s: 5 more each second; at t seconds about 5t (+1: the first starts at 0).
    let workers: Vec<(f64, u64)> = series
        .iter()
        .map(|p| (p["t_s"].as_f64().unwrap(), p["workers"].as_u64().unwrap()))
        .collect();
    for &(t, w) in workers.iter().filter(|(t, _)| *t <= 3.9) {
        let expected = 5.0 * t;
        assert!(
            (w as f64 - expected).abs() <= 2.5,
            "at {t:.1}s {w} workers, expected about {expected}: {workers:?}"
        );
    }
    assert!(
        workers.iter().any(|&(t, w)| t > 4.0 && w == 20),
        "{workers:?}"
    );
    let mut previous = 0;
    for &(_, w) in workers.iter().take_while(|(t, _)| *t <= 4.5) {
        assert!(
            w >= previous,
            "workers went down during the ramp: {workers:?}"
        );
        previous = w;
    }
}

/// Milliseconds since the Unix epoch of a report's `2025-11-26T11:46:03.120Z`.
fn unix_millis(stamp: &str) -> i64 {
    let number = |range: std::ops::Range<usize>| -> i64 { stamp[range].parse().unwrap() };
    let (y, m, d) = (number(0..4), number(5..7), number(8..10));
    // Days from 1970-01-01 to the date (the proleptic Gregorian calendar).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = number(11..13) * 3600 + number(14..16) * 60 + number(17..19);
    (days * 86_400 + seconds) * 1000 + number(20..23)
}

fn now_unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Runs `molotov -q ARGS --json FILE` with a plan of `body` (blocks and scenarios) against a
/// fresh target server; asserts it exits 0; returns its output, the text report and the JSON
/// report.
fn run_plan_json(
    name: &str,
    body: &str,
    args: &[&str],
) -> (std::process::Output, String, serde_json::Value) {
    Fixture::new(name, body).run_json_within(args, 0, Duration::from_secs(60))
}

#[test]
fn unix_millis_reads_report_stamps() {
    assert_eq!(unix_millis("1970-01-01T00:00:00.000Z"), 0);
    assert_eq!(unix_millis("2000-03-01T00:00:01.250Z"), 951_868_801_250);
    assert_eq!(unix_millis("2026-11-29T09:30:00.000Z"), 1_795_944_600_000);
}

#[test]
fn the_open_model_report_starts_when_the_schedule_does_after_the_logins() {
    let _shared = cpus_shared();
    // Each worker logs in for 600 ms before the schedule starts: `started_at` (and
    // `ended_at`) once were taken when the processes were forked, 600 ms early.
    let launched = now_unix_millis();
    let (_, report, r) = run_plan_json(
        "started-at",
        "setup worker {\n  GET /delay/600 as login\n}\n\nscenario get {\n  GET /json as work\n}\n",
        &["-w", "2", "--rate", "20", "-d", "1"],
    );
    let exited = now_unix_millis();
    let started = unix_millis(r["started_at"].as_str().unwrap());
    let ended = unix_millis(r["ended_at"].as_str().unwrap());
    assert!(
        started - launched >= 600,
        "started_at {} ms after the launch, before the 600 ms logins ended\n{report}",
        started - launched
    );
    assert!(ended <= exited, "ended_at after molotov exited\n{report}");
    assert!(
        exited - ended < 400,
        "ended_at {} ms before molotov exited\n{report}",
        exited - ended
    );
}

#[test]
fn a_think_before_the_first_request_is_not_its_latency_in_the_open_model() {
    let _shared = cpus_shared();
    // The run starts with the user's pause: the request's latency runs from the intended
    // start plus the think (it once counted the think: p50 about 300 ms here).
    let (_, report, r) = run_plan_json(
        "think-first",
        "scenario get {\n  think 300ms\n  GET /json\n}\n",
        &["-w", "10", "--rate", "20", "-d", "1"],
    );
    let (started, dropped, missed) = arrivals_accounted(&r);
    assert_eq!((started, dropped, missed), (20, 0, 0), "{report}");
    // The runs due in the last 300 ms are stopped in their think at the deadline.
    let request = &r["requests"][0];
    let responses = request["responses"].as_u64().unwrap();
    assert!((12..=16).contains(&responses), "{report}");
    let p50 = request["latency_us"]["p50"].as_u64().unwrap();
    assert!(p50 < 100_000, "p50 {p50} µs\n{report}");
}

#[test]
fn the_open_model_does_not_pause_after_a_run() {
    let _shared = cpus_shared();
    // A scenario `delay` is the closed model's pause between a worker's runs. In the open
    // model runs start on the schedule: a worker held 1 s after each of its runs once left
    // 2 workers able to start 2 of the 20 runs due.
    let (out, report, r) = run_plan_json(
        "open-delay",
        "scenario get delay 1s {\n  GET /json\n}\n",
        &["-w", "2", "--rate", "20", "-d", "1"],
    );
    assert!(
        // As the plan writes it (it was quoted as `delay 1.00s`, the report's format).
        stderr(&out).contains("scenario \"get\" has `delay 1s`: the open model"),
        "{}",
        stderr(&out)
    );
    // Every arrival starts (held workers started 2 of 20), but what the process's own
    // lateness explains (another program on its CPU: 5 missed after a 330 ms stall).
    let (started, dropped, missed) = arrivals_accounted(&r);
    assert_eq!(started + dropped + missed, 20, "{report}");
    assert_unstarted_explained(&r, 20.0, 0, &report);
    let duration = r["duration_s"].as_f64().unwrap();
    assert!(duration < 1.5, "{duration} s\n{report}");
}

/// A series point's `target_rate` is the mean rate the schedule asked for over its interval:
/// during `--stages 3s:300`, 50/s in the first second, 150/s in the second, 250/s in the
/// third. It was the rate at the interval's end (100, 200, 300), so a schedule kept exactly
/// read as 50% short in its first second.
#[test]
fn a_series_point_holds_the_mean_target_rate_of_its_interval() {
    let _shared = cpus_shared();
    let (_, report, r) = run_plan_json(
        "stages-mean",
        "scenario get {\n  GET /json\n}\n",
        &["-w", "20", "--stages", "3s:300"],
    );
    let series = r["series"].as_array().unwrap();
    assert!(series.len() >= 3, "{report}\n{series:?}");
    let mut from = 0.0;
    for p in &series[..3] {
        let (t, target) = (
            p["t_s"].as_f64().unwrap(),
            p["target_rate"].as_f64().unwrap(),
        );
        // A point covers the time since the one before (about a second; later on a loaded
        // machine, whose master wakes late): the mean of 100·t over [from, t], up to the
        // schedule's end at 3 s.
        let to = t.min(3.0);
        let mean = 50.0 * (from + to);
        assert!(
            (target - mean).abs() < 2.0,
            "t {t} (from {from}): target {target}, want {mean}\n{series:?}"
        );
        from = t;
    }
}

/// A `--ramp-up` longer than the run starts only the workers due before its end: molotov
/// says so at start (it ran half the load, green, without a word).
#[test]
fn a_ramp_longer_than_the_run_is_warned_about() {
    let _shared = cpus_shared();
    let (out, report, r) = run_plan_json(
        "ramp-long",
        "scenario get {\n  GET /json\n}\n",
        &["-w", "4", "-d", "1", "--ramp-up", "2s"],
    );
    assert_eq!(r["totals"]["workers_started"], 2, "{report}");
    let err = stderr(&out);
    assert!(
        err.contains("molotov: warning: --ramp-up 2s is longer than the run (1s): 2 of 4 workers are due after its end and will not start"),
        "{err}"
    );
    // A ramp within the run says nothing.
    let (out, _, _) = run_plan_json(
        "ramp-short",
        "scenario get {\n  GET /json\n}\n",
        &["-w", "4", "-d", "1", "--ramp-up", "500ms"],
    );
    assert!(!stderr(&out).contains("--ramp-up"), "{}", stderr(&out));
}

/// `setup` and `teardown` draw from the run seed, each on a stream of its own: their random
/// values were the same in every run, whatever the seed (a `setup` creating
/// `user-{{uuid()}}` collided with the previous run's), and the teardown's first `uuid()`
/// was the setup's.
#[test]
fn setup_and_teardown_draw_from_the_run_seed() {
    let _shared = cpus_shared();
    let body = "setup {\n  log \"S {{uuid()}}\"\n}\n\nteardown {\n  log \"T {{uuid()}}\"\n}\n\n\
                scenario s {\n  log \"W {{uuid()}}\"\n  GET /json\n}\n";
    let draws = |args: &[&str]| {
        let mut all = vec!["-v", "-w", "1", "-r", "1"];
        all.extend_from_slice(args);
        let (out, _, _) = run_plan_json("seeded-setup", body, &all);
        let err = stderr(&out);
        let find = |prefix: &str| {
            err.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{err}"))
                .to_string()
        };
        (find("S "), find("T "), find("W "))
    };
    let (s1, t1, w1) = draws(&["--seed", "0"]);
    let (s2, t2, _) = draws(&["--seed", "1"]);
    let (s3, _, _) = draws(&[]);
    assert_ne!(s1, s2);
    assert_ne!(s1, s3);
    assert_ne!(t1, t2);
    assert_ne!(s1, t1);
    assert_ne!(s1, w1);
    // The same seed draws the same values.
    let (s1_again, t1_again, _) = draws(&["--seed", "0"]);
    assert_eq!((s1, t1), (s1_again, t1_again));
}

/// The rates count the load's requests over the load's time: `setup`'s and `teardown`'s
/// requests are counted, but not in them (200 seeding requests in `setup` before a 1 s
/// load at 10/s made it 209/s, and passed `rps > 50`).
#[test]
fn setup_and_teardown_requests_are_not_in_the_rates() {
    let _shared = cpus_shared();
    let body = "setup {\n  repeat 50 {\n    GET /json as seed\n  }\n}\n\nteardown {\n  GET /json as bye\n}\n\n\
                scenario s {\n  GET /json as main\n}\n\nthreshold rps < 20\n";
    let (_, report, r) = run_plan_json("setup-rates", body, &["--rate", "10", "-d", "1"]);
    assert_eq!(r["totals"]["requests"], 61, "{report}");
    assert_eq!(r["totals"]["setup_teardown_requests"], 51, "{report}");
    let rps = r["rates"]["requests_per_s"].as_f64().unwrap();
    assert!((8.0..=11.0).contains(&rps), "{rps}\n{report}");
    let per_request = |name: &str| {
        r["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .unwrap()["requests_per_s"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(per_request("seed"), 0.0);
    assert_eq!(per_request("bye"), 0.0);
    assert!(
        report.contains("51 of them sent by setup/teardown"),
        "{report}"
    );
    assert_eq!(r["thresholds"][0]["passed"], true, "{report}");
}

/// What `setup` sent before the load is not the load's first second: the series' first
/// point, the live figures and sizing count from the start. (2,000 quick `setup` requests
/// before a load of 100 ms responses made the first point 2,010 requests at 2,010/s with a
/// p50 of 23 µs.)
#[test]
fn the_series_counts_the_load_from_its_start() {
    let _shared = cpus_shared();
    let body = "setup {\n  repeat 2000 {\n    GET /json as seed\n  }\n}\n\n\
                scenario s {\n  GET /delay/100 as slow\n}\n";
    let (_, report, r) = run_plan_json("series-setup", body, &["-w", "1", "-d", "2500ms"]);
    let series = r["series"].as_array().unwrap();
    let first = &series[0];
    let requests = first["requests"].as_u64().unwrap();
    assert!(requests <= 12, "{first}\n{report}");
    assert!(first["rps"].as_f64().unwrap() <= 12.0, "{first}\n{report}");
    assert!(
        first["p50_us"].as_u64().unwrap() >= 100_000,
        "{first}\n{report}"
    );
    // The series adds up to the load's requests: the total less `setup`'s.
    let in_series: u64 = series.iter().map(|p| p["requests"].as_u64().unwrap()).sum();
    let total = r["totals"]["requests"].as_u64().unwrap();
    assert_eq!(in_series + 2000, total, "{series:?}\n{report}");
}

/// Sizing judges the load alone: 100 requests of `setup` answered 404 (failed by status,
/// which does not fail a setup) stopped a sizing run in its first window, "84.03% failed",
/// for a load that failed nothing.
#[test]
fn sizing_does_not_judge_what_setup_sent() {
    let _shared = cpus_shared();
    let body = "setup {\n  repeat 100 {\n    GET /status/404 as cleanup\n  }\n}\n\n\
                scenario s {\n  GET /delay/5\n}\n";
    let (_, report, r) = run_plan_json(
        "sizing-setup",
        body,
        &["--sizing", "-w", "20", "--ramp-up", "2s", "-d", "3s"],
    );
    assert_eq!(r["totals"]["failed_by_status"], 100, "{report}");
    assert!(
        r["sizing"]["exceeded"].is_null(),
        "{}\n{report}",
        r["sizing"]
    );
    assert_eq!(r["sizing"]["max_failure_pct"], 0.0, "{report}");
    assert!(report.contains("never exceeded 5%"), "{report}");
}

/// Open model: the workers' `setup worker` logins run before the schedule and the duration
/// start, so they are in no rate, no series point and no threshold on `rps` (200 logins
/// made a 10/s load read 110/s and fail `rps < 20`), though they are counted.
#[test]
fn open_model_logins_are_not_in_the_rates() {
    let _shared = cpus_shared();
    let body = "setup worker {\n  repeat 100 {\n    GET /json as login\n  }\n}\n\n\
                scenario s {\n  GET /json as main\n}\n\nthreshold rps < 20\n";
    let (_, report, r) = run_plan_json(
        "open-logins",
        body,
        &["--rate", "10", "-w", "2", "-d", "2s"],
    );
    assert_eq!(r["totals"]["requests"].as_u64(), Some(220), "{report}");
    assert_eq!(r["totals"]["before_start_requests"], 200, "{report}");
    assert_eq!(r["totals"]["setup_teardown_requests"], 0, "{report}");
    let rps = r["rates"]["requests_per_s"].as_f64().unwrap();
    assert!((8.0..=11.0).contains(&rps), "{rps}\n{report}");
    let login = r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "login")
        .unwrap();
    assert_eq!(login["requests"], 200, "{report}");
    assert_eq!(login["requests_per_s"], 0.0, "{report}");
    assert_eq!(r["thresholds"][0]["passed"], true, "{report}");
    assert!(
        report.contains("200 of them sent by setup worker before the start"),
        "{report}"
    );
    let first = &r["series"][0];
    assert!(
        first["requests"].as_u64().unwrap() <= 12,
        "{first}\n{report}"
    );
}

/// Open-model sizing honours a `-d` longer than the ramp and its window, as the closed model
/// does: it holds the full rate until `-d` (`--sizing --rate 200 --ramp-up 1s -d 3s` ended at
/// 1.5 s without a word).
#[test]
fn open_model_sizing_holds_the_full_rate_until_a_longer_duration() {
    let _shared = cpus_shared();
    let body = "scenario s {\n  GET /json\n}\n";
    let (_, report, r) = run_plan_json(
        "sizing-open-d",
        body,
        &["--sizing", "--rate", "100", "--ramp-up", "1s", "-d", "3s"],
    );
    assert_eq!(r["config"]["duration_s"], 3.0, "{report}");
    let duration = r["duration_s"].as_f64().unwrap();
    assert!((2.9..4.0).contains(&duration), "{duration}\n{report}");
    // The ramp's 50 starts, then 2 s at 100/s.
    let (started, dropped, missed) = arrivals_accounted(&r);
    assert_eq!(started + dropped + missed, 250, "{report}");
}
