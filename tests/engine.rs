//! End-to-end tests of the engine: the real `molotov` binary, real forked processes, real
//! sockets to the in-repo target server on loopback.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Spawns `cmd` with its output piped and waits up to 5 s for its master to have exactly
/// `children` children; returns the child and the master's pid.
fn spawn_with_children(cmd: &mut Command, children: usize) -> (Child, u32) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let master = child.id();
    assert!(
        wait_until(Duration::from_secs(5), || children_of(master).len()
            == children),
        "children never appeared"
    );
    (child, master)
}

#[test]
fn reported_requests_equal_what_the_server_answered() {
    let (server, _dir, plan) = get_plan_setup("counts", "/");
    for (p, w) in [(1, 1), (1, 50), (2, 1), (2, 50)] {
        server.reset_counters();
        let out = run_bounded(
            molotov()
                .args(["-q", "-p", &p.to_string(), "-w", &w.to_string(), "-d", "1"])
                .arg(&plan),
            Duration::from_secs(30),
        );
        let report = stdout(&out);
        assert_exit_for(&out, 0, &format!("-p {p} -w {w}"));
        let reported = reported_requests(&report);
        assert!(reported > 0, "-p {p} -w {w}: nothing sent\n{report}");
        assert_answered(&server, reported, &format!("-p {p} -w {w}\n{report}"));
    }
}

#[test]
fn max_runs_runs_exactly_p_times_w_times_r_scenarios() {
    let server = target();
    let dir = TempDir::new("max-runs");
    let base = base_url(&server);
    let plan = dir.write(
        "two.mol",
        &format!(
            "defaults {{\n  base {base}\n}}\n\nscenario a weight 1 {{\n  GET /json\n  check status == 200\n  GET /json\n}}\n\nscenario b weight 1 {{\n  GET /json\n  GET /json\n}}\n"
        ),
    );
    let out = run_bounded(
        molotov()
            .args(["-q", "-p", "2", "-w", "3", "-r", "7"])
            .arg(&plan),
        Duration::from_secs(30),
    );
    let report = stdout(&out);
    assert_exit(&out, 0);
    assert_eq!(reported_outcomes(&report), (2 * 3 * 7, 0), "{report}");
    // Each scenario sends two requests.
    assert_eq!(reported_requests(&report), 2 * 3 * 7 * 2);
    assert_answered(&server, 2 * 3 * 7 * 2, &report);
}

#[test]
fn duration_ends_the_run_on_time() {
    let (_server, _dir, plan) = get_plan_setup("duration", "/");
    let started = Instant::now();
    let out = run_bounded(
        molotov().args(["-q", "-w", "10", "-d", "3"]).arg(&plan),
        Duration::from_secs(20),
    );
    let took = started.elapsed();
    assert_exit(&out, 0);
    assert!(took >= Duration::from_secs(3), "ended early: {took:?}");
    assert!(took <= Duration::from_millis(3500), "ended late: {took:?}");
}

#[test]
fn exception_stops_every_process_on_the_first_failure() {
    let server = target();
    let dir = TempDir::new("exception");
    let base = base_url(&server);
    let plan = dir.write(
        "fail.mol",
        &format!(
            "defaults {{\n  base {base}\n}}\n\nscenario ok weight 9 {{\n  GET /json\n  think 10ms\n}}\n\nscenario bad weight 1 {{\n  GET /status/503\n  assert status == 200\n}}\n"
        ),
    );
    let started = Instant::now();
    let out = run_bounded(
        molotov()
            .args(["-q", "-x", "-p", "2", "-w", "5", "-d", "20"])
            .arg(&plan),
        Duration::from_secs(30),
    );
    let report = stdout(&out);
    assert_exit(&out, 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        report.contains("stopped on the first failure: assert status == 200"),
        "{report}"
    );
    assert!(report.contains("fail.mol:12"), "{report}");
    assert!(report.contains("503"), "{report}");
    assert!(reported_outcomes(&report).1 >= 1, "{report}");
}

#[test]
fn each_child_is_pinned_to_its_own_cpu() {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (_server, _dir, plan) = get_plan_setup("pinning", "/delay/20");
    let p = cpus.min(4);
    let (child, master) = spawn_with_children(
        molotov()
            .args(["-q", "-p", &p.to_string(), "-w", "2", "-d", "3"])
            .arg(&plan),
        p,
    );
    let mut seen = Vec::new();
    for pid in children_of(master) {
        // A child pins itself right after the fork: on a loaded machine it may not have yet
        // when it is first seen.
        let pinned = |list: &str| !list.contains(',') && !list.contains('-');
        wait_until(Duration::from_secs(5), || {
            proc_status_field(pid, "Cpus_allowed_list").is_some_and(|l| pinned(&l))
        });
        let list = proc_status_field(pid, "Cpus_allowed_list").unwrap();
        assert!(pinned(&list), "child {pid} allowed on {list}");
        seen.push(list);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), p, "children share CPUs: {seen:?}");
    let out = wait_bounded(child, Duration::from_secs(20));
    assert_exit(&out, 0);
}

#[test]
fn sigint_mid_run_gives_a_full_report_and_leaves_no_process() {
    let (server, _dir, plan) = get_plan_setup("sigint", "/");
    let (child, master) =
        spawn_with_children(molotov().args(["-q", "-p", "2", "-w", "5"]).arg(&plan), 2);
    let kids = children_of(master);
    std::thread::sleep(Duration::from_millis(800));
    signal(master, libc::SIGINT);
    let out = wait_bounded(child, Duration::from_secs(10));
    let report = stdout(&out);
    assert_exit(&out, 130);
    let reported = reported_requests(&report);
    assert!(reported > 0);
    assert_answered(&server, reported, &report);
    for pid in kids {
        assert!(!alive(pid), "child {pid} left behind");
    }
}

/// Voluntary context switches of `pid` so far (None once it is gone).
fn voluntary_switches(pid: u32) -> Option<u64> {
    proc_status_field(pid, "voluntary_ctxt_switches")?
        .parse()
        .ok()
}

#[test]
fn a_ready_process_waiting_for_the_start_sleeps_until_it_is_given() {
    // -p 2 in the open model: process 1's worker logs in for 4 s, so process 0, ready at
    // once, waits about 4 s for the start. Waiting, it must sleep (it is woken once, when the
    // start is given), not wake every 100 µs to look (~10,000 context switches a second per
    // process: at -p 1000 those wake-ups starved the master's forks and the run never
    // started). A count of switches, not a timing: sleeping, a process makes a handful.
    let server = target();
    let dir = TempDir::new("start-wait");
    let plan = dir.write(
        "login.mol",
        &format!(
            "defaults {{\n  base {}\n  timeout 5s\n}}\n\n\
             setup worker {{\n  if process == 1 {{\n    think 4s\n  }}\n}}\n\n\
             scenario get {{\n  GET /json\n}}\n",
            base_url(&server)
        ),
    );
    let (child, master) = spawn_with_children(
        molotov()
            .args(["-q", "-p", "2", "-w", "1", "--rate", "10", "-d", "1"])
            .arg(&plan),
        2,
    );
    let children = children_of(master);
    // Both built by then (process 0 ready and waiting, process 1 in its 4 s login).
    std::thread::sleep(Duration::from_millis(1000));
    let before: Vec<Option<u64>> = children.iter().map(|&c| voluntary_switches(c)).collect();
    std::thread::sleep(Duration::from_secs(1));
    let after: Vec<Option<u64>> = children.iter().map(|&c| voluntary_switches(c)).collect();
    let out = wait_bounded(child, Duration::from_secs(30));
    assert_exit(&out, 0);
    for (pid, (b, a)) in children.iter().zip(before.iter().zip(&after)) {
        let (Some(b), Some(a)) = (b, a) else {
            panic!("process {pid} was gone before the start: {}", stderr(&out));
        };
        assert!(
            a - b < 200,
            "process {pid} switched {} times in 1 s while waiting for the start",
            a - b
        );
    }
    assert_eq!(reported_requests(&stdout(&out)), 10, "{}", stdout(&out));
}

#[test]
fn a_killed_child_is_named_and_the_others_counts_are_kept() {
    let (server, dir, plan) = get_plan_setup("kill-child", "/");
    let json = dir.0.join("report.json");
    let (child, master) = spawn_with_children(
        molotov()
            .args(["-q", "-p", "2", "-w", "2", "-d", "3", "--json"])
            .arg(&json)
            .arg(&plan),
        2,
    );
    std::thread::sleep(Duration::from_millis(500));
    let victim = children_of(master)[1];
    signal(victim, libc::SIGKILL);
    let out = wait_bounded(child, Duration::from_secs(15));
    let report = stdout(&out);
    assert_exit(&out, 4);
    assert!(
        report.contains(&format!("(pid {victim}) killed by SIGKILL")),
        "{report}"
    );
    // Both children's counts are in the report: the survivor's and what the victim recorded.
    let reported = reported_requests(&report);
    let answered = server.requests_answered();
    // The victim may have had requests in flight when it died (counted as sent, with no
    // outcome; the server may or may not have answered them). With -w 2 that is at most 2.
    assert!(
        reported.abs_diff(answered) <= 2,
        "reported {reported}, server answered {answered}\n{report}"
    );
    assert!(reported > 100, "{report}");
    // The live gauges leave the dead process out once it is reaped: from a second after the
    // kill, at most the survivor's 2 workers and 2 requests in flight; none at the end.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let series = json["series"].as_array().unwrap();
    let gauges = |p: &serde_json::Value| (p["workers"].as_u64(), p["in_flight"].as_u64());
    for point in series.iter().filter(|p| p["t_s"].as_f64().unwrap() >= 1.5) {
        let (workers, in_flight) = gauges(point);
        assert!(
            workers <= Some(2) && in_flight <= Some(2),
            "{point}\n{json:#}"
        );
    }
    assert_eq!(
        series.last().map(gauges),
        Some((Some(0), Some(0))),
        "{json:#}"
    );
}

#[test]
fn killing_the_master_leaves_no_child_behind() {
    let (_server, _dir, plan) = get_plan_setup("kill-master", "/");
    let (mut child, master) = spawn_with_children(
        molotov()
            .args(["-q", "-p", "2", "-w", "2", "-d", "20"])
            .arg(&plan),
        2,
    );
    let kids = children_of(master);
    signal(master, libc::SIGKILL);
    let _ = child.wait();
    for pid in kids {
        assert!(
            wait_until(Duration::from_secs(2), || !alive(pid)),
            "child {pid} survived its master"
        );
    }
}

#[test]
fn a_plan_error_exits_2_with_the_diagnostic_and_sends_nothing() {
    let server = target();
    let dir = TempDir::new("plan-error");
    let plan = dir.write(
        "bad.mol",
        &format!(
            "defaults {{\n  base http://{}\n}}\n\nscenario s {{\n  thnik 1s\n}}\n",
            server.addr()
        ),
    );
    let out = run_bounded(molotov().arg(&plan), Duration::from_secs(10));
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("bad.mol:6:3"), "{err}");
    assert_eq!(server.requests_answered(), 0);
    let out = run_bounded(molotov().arg("check").arg(&plan), Duration::from_secs(10));
    assert_exit(&out, 2);
}

#[test]
fn load_processes_build_their_rings_with_a_taskrun_flag_unless_told_not_to() {
    let (_server, _dir, plan) = get_plan_setup("coop", "/");
    let rings = |extra: &[&str]| {
        let out = run_bounded(
            molotov()
                .args(["-q", "--debug", "-p", "2", "-r", "3"])
                .args(extra)
                .arg(&plan),
            Duration::from_secs(30),
        );
        assert_exit(&out, 0);
        let err = stderr(&out);
        // The run's shape in words (it printed Rust's `None` and `Some(3)`).
        assert!(
            err.contains("molotov: debug: 2 processes x 1 worker, seed ")
                && err.contains(
                    ", duration until -r or a stop, max runs 3 per worker, allowed CPUs "
                ),
            "{err}"
        );
        assert!(
            err.contains("molotov: debug: live view quiet, tick "),
            "{err}"
        );
        assert!(!err.contains("None") && !err.contains("Some("), "{err}");
        // `--help` promises the limits too (they were not shown).
        assert!(
            err.contains("molotov: debug: limits: open files ")
                && err.contains("locked memory (bytes) "),
            "{err}"
        );
        let line = err
            .lines()
            .find(|l| l.contains("io_uring rings with a task-work flag"))
            .unwrap_or_else(|| panic!("no ring line in:\n{err}"))
            .to_string();
        let number = |after: &str| -> u64 {
            line.split(after)
                .nth(1)
                .unwrap()
                .trim()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        (number("COOP_TASKRUN):"), number("kernel:"))
    };
    // Each of the two load processes builds its one ring with a flag (this kernel supports
    // both); none is refused.
    let (coop, refused) = rings(&[]);
    assert_eq!(coop, 2, "{coop} rings");
    assert_eq!(refused, 0);
    assert_eq!(rings(&["--no-coop-taskrun"]), (0, 0));
}

/// A ring much shallower than the number of workers (the executor then submits what it
/// queued to make room) still sends and counts every request exactly, with a multishot
/// read poll per connection (the default), with a one-shot poll per wait, with waits
/// that batch completions, with every woken worker's state prefetched, and with a
/// multishot receive per connection.
#[test]
fn a_shallow_ring_depth_still_counts_every_request() {
    for extra in [
        &[][..],
        &["--no-multishot-poll"][..],
        &["--batch-wait", "50us"][..],
        &["--prefetch-from", "0"][..],
        &["--multishot-recv"][..],
    ] {
        let (server, _dir, plan) = get_plan_setup("ring-depth", "/json");
        let out = run_bounded(
            molotov()
                .args(["-q", "-p", "1", "-w", "64", "-r", "20", "--ring-depth", "4"])
                .args(extra)
                .arg(&plan),
            Duration::from_secs(30),
        );
        let report = stdout(&out);
        assert_exit_for(&out, 0, &format!("{extra:?}"));
        assert_eq!(
            reported_outcomes(&report),
            (64 * 20, 0),
            "{extra:?}: {report}"
        );
        assert_answered(&server, 64 * 20, &format!("{extra:?}"));
    }
}

#[test]
fn check_counts_what_the_plan_holds_and_sends_nothing() {
    let server = target();
    let dir = TempDir::new("check-counts");
    let base = base_url(&server);
    let one = dir.write("one.mol", &get_plan(&base, "/"));
    let two = dir.write(
        "two.mol",
        &format!(
            "defaults {{\n  base {base}\n}}\n\nscenario a {{\n  GET /json\n  check status == 200\n  GET /\n}}\n\nscenario b {{\n  GET /\n  check status == 200\n}}\n\nthreshold p99 < 1s\n"
        ),
    );
    for (plan, summary) in [
        (
            &one,
            "one.mol: ok (1 scenario, 1 request, 0 checks, 0 thresholds)\n",
        ),
        (
            &two,
            "two.mol: ok (2 scenarios, 3 requests, 2 checks, 1 threshold)\n",
        ),
    ] {
        let out = run_bounded(molotov().arg("check").arg(plan), Duration::from_secs(10));
        assert_exit_for(&out, 0, &plan.display().to_string());
        assert!(
            stdout(&out).ends_with(summary),
            "want {summary:?} last in\n{}",
            stdout(&out)
        );
    }
    assert_eq!(server.requests_answered(), 0);
}

#[test]
fn a_worker_keeps_one_connection_per_origin_however_the_plan_names_it() {
    // Origin A is the base; origin B is named by a literal URL and by a URL rendered at run
    // time. The engine finds a plan origin's connection by its index and a rendered one by
    // scheme and authority: both must land on the same connection to B.
    let (a, b) = (target(), target());
    let dir = TempDir::new("origins");
    let plan = dir.write(
        "origins.mol",
        &format!(
            "let hosts = [\"http://{b}\"]\n\ndefaults {{\n  base http://{a}\n}}\n\nscenario s {{\n  GET /json\n  GET http://{b}/json\n  GET {{{{pick(hosts)}}}}/json\n}}\n",
            a = a.addr(),
            b = b.addr()
        ),
    );
    let (workers, runs) = (3u64, 5u64);
    let out = run_bounded(
        molotov()
            .args(["-q", "-p", "1", "-w", &workers.to_string()])
            .args(["-r", &runs.to_string()])
            .arg(&plan),
        Duration::from_secs(30),
    );
    let report = stdout(&out);
    assert_exit(&out, 0);
    assert_eq!(reported_requests(&report), workers * runs * 3, "{report}");
    assert_answered(&a, workers * runs, &report);
    assert_answered(&b, 2 * workers * runs, &report);
    assert_eq!(a.connections_accepted(), workers, "{report}");
    assert_eq!(b.connections_accepted(), workers, "{report}");
}

/// One request sent by workers with and without a sticky header in one process: the bytes a
/// process shares for requests that are the same for every worker must never carry one
/// worker's sticky header, nor lose it.
#[test]
fn a_sticky_header_of_one_worker_never_leaks_into_the_shared_request_bytes() {
    let server = target();
    let dir = TempDir::new("sticky-shared");
    let plan = dir.write(
        "sticky.mol",
        &format!(
            "defaults {{\n  base http://{a}\n}}\n\nscenario s {{\n  let w = {{{{worker}}}}\n  if w == 0 {{\n    header X-W: zero\n    let good = \"zero\"\n    let bad = \"zzznever\"\n  }} else {{\n    let good = \"host\"\n    let bad = \"x-w\"\n  }}\n  GET /headers as h\n  check body contains \"{{{{good}}}}\"\n  check body not contains \"{{{{bad}}}}\"\n}}\n",
            a = server.addr()
        ),
    );
    for _ in 0..3 {
        let out = run_bounded(
            molotov()
                .args(["-v", "-p", "1", "-w", "6", "-r", "20"])
                .arg(&plan),
            Duration::from_secs(30),
        );
        let err = stderr(&out);
        assert_exit(&out, 0);
        assert!(!err.contains("FAILED"), "{err}\n{}", stdout(&out));
        assert_eq!(reported_requests(&stdout(&out)), 120, "{}", stdout(&out));
    }
}

/// Requests that depend on the worker alone are rendered once per worker and then sent from
/// the bytes the worker holds (`Driver::holds_rendered`): each worker's requests still carry
/// its own values, and a sticky header's change is on the wire from the next send.
#[test]
fn held_request_bytes_carry_each_workers_values_and_follow_its_sticky_headers() {
    let server = target();
    let dir = TempDir::new("held-bytes");
    let plan = dir.write(
        "held.mol",
        &r#"defaults {
  base http://ADDR
  X-Worker: w{{worker}}
}

setup worker {
  header Authorization: Bearer t{{worker}}
}

scenario s {
  GET /headers?w={{worker}}
  check jsonpath "$.authorization" == "Bearer t{{worker}}"
  check jsonpath "$['x-worker']" == "w{{worker}}"
  for v in ["a", "a", "b", "b"] {
    header X-A: {{v}}-{{worker}}
    GET /headers?w={{worker}}&loop
    check jsonpath "$['x-a']" == "{{v}}-{{worker}}"
    check jsonpath "$.authorization" == "Bearer t{{worker}}"
    check jsonpath "$['x-worker']" == "w{{worker}}"
  }
}
"#
        .replace("ADDR", &server.addr().to_string()),
    );
    let out = run_bounded(
        molotov()
            .args(["-v", "-p", "2", "-w", "6", "-r", "20", "--json"])
            .arg(dir.0.join("report.json"))
            .arg(&plan),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert_exit(&out, 0);
    assert!(!err.contains("FAILED"), "{err}\n{}", stdout(&out));
    // `setup worker` sends nothing; 5 requests per run, 2 processes x 6 workers x 20 runs.
    assert_eq!(reported_requests(&stdout(&out)), 1200, "{}", stdout(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("report.json")).unwrap()).unwrap();
    // 2 checks on the first request and 3 on each of the loop's 4, every one passed.
    assert_eq!(report["totals"]["checks_passed"], 14 * 240, "{report}");
    assert_eq!(report["totals"]["checks_failed"], 0, "{report}");
}

/// A 1,000-byte sticky header set in `setup worker` on 100 request lines, at `-w 300`: each
/// worker kept its own rendered copy of every line, 300 x 100 x ~2 KB (63 MB more in the
/// load process than without the header). A worker now keeps at most 16 KiB of them, and
/// renders the others at each send.
#[test]
fn requests_held_per_worker_stay_within_a_budget() {
    let server = target();
    let dir = TempDir::new("held-budget");
    let lines: String = (0..100)
        .map(|i| format!("  GET /json?line={i}\n"))
        .collect();
    let plan = dir.write(
        "held.mol",
        &format!(
            "defaults {{\n  base http://{}\n  timeout 10s\n}}\n\nsetup worker {{\n  let token = rand_str(1000)\n  header Authorization: Bearer {{{{token}}}}\n}}\n\nscenario s {{\n{lines}}}\n",
            server.addr()
        ),
    );
    let json = dir.0.join("report.json");
    let out = run_bounded(
        molotov()
            .args(["-q", "-p", "1", "-w", "300", "-r", "1", "--json"])
            .arg(&json)
            .arg(&plan),
        Duration::from_secs(60),
    );
    assert_exit(&out, 0);
    assert_eq!(reported_requests(&stdout(&out)), 30_000, "{}", stdout(&out));
    assert_answered(&server, 30_000, &stdout(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let load = report["processes"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["role"] == "worker 0"))
        .unwrap_or_else(|| panic!("no load process in {report}"));
    let peak = load["peak_rss_bytes"].as_u64().unwrap_or(0);
    assert!(peak > 0, "{report}");
    assert!(
        peak < 32 << 20,
        "load process peak RSS {peak}\n{}",
        stdout(&out)
    );
}

/// A body over the 16 MiB cap that nothing reads is counted and dropped, whatever its size (a
/// download test): only a body the plan keeps (`check body`) is capped, as `body_too_large`.
/// Every body of 16 MiB + 1 byte once failed.
#[test]
fn a_body_over_the_cap_is_measured_when_nothing_keeps_it() {
    let server = target();
    let dir = TempDir::new("big-body");
    let big = (16 << 20) + 1;
    let json = dir.0.join("report.json");
    let run = |scenario: &str| {
        let plan = dir.write(
            "big.mol",
            &format!(
                "defaults {{\n  base http://{}\n  timeout 20s\n}}\n\nscenario s {{\n{scenario}\n}}\n",
                server.addr()
            ),
        );
        let out = run_bounded(
            molotov()
                .args(["-q", "-p", "1", "-w", "1", "-r", "2", "--json"])
                .arg(&json)
                .arg(&plan),
            Duration::from_secs(60),
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        (out, report)
    };
    let (out, report) = run(&format!("  GET /bytes/{big}\n  GET /bytes/{}", 3 * big));
    assert_exit(&out, 0);
    assert_eq!(report["totals"]["requests"], 4, "{report}");
    assert_eq!(report["totals"]["responses"], 4, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    let received = report["totals"]["bytes_received"].as_u64().unwrap_or(0);
    assert!(received > 8 * big, "{report}");
    // Dropped as it came: the load process never held a body.
    let peak = report["processes"][0]["peak_rss_bytes"]
        .as_u64()
        .unwrap_or(0);
    assert!(peak > 0 && peak < 48 << 20, "peak RSS {peak}: {report}");
    // Kept: capped. Every run failed without a complete response: exit 1.
    let (out, report) = run(&format!(
        "  GET /bytes/{big}\n  check body contains \"abc\""
    ));
    assert_exit(&out, 1);
    assert_eq!(
        report["errors"],
        serde_json::json!({"body_too_large": 2}),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("response body larger than 16777216 bytes"),
        "{report}"
    );
}

/// A failed check's sample names the status of the response it checked, while 50 workers of
/// one process get other statuses meanwhile.
#[test]
fn a_check_failure_sample_names_the_status_of_the_checked_response() {
    let server = target();
    let dir = TempDir::new("check-status");
    let plan = dir.write(
        "st.mol",
        &format!(
            "defaults {{\n  base http://{a}\n}}\n\nscenario s weight 1 {{\n  GET /status/503 as a\n  check status == 200\n}}\n\nscenario t weight 4 {{\n  GET /json as b\n  check status == 200\n  GET /status/404 as c\n  check status == 201\n}}\n",
            a = server.addr()
        ),
    );
    let out = run_bounded(
        molotov()
            .args(["-v", "-p", "1", "-w", "50", "-r", "20"])
            .arg(&plan),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert_exit(&out, 0);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("MISSED check"))
        .collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("(status 503): expected `status == 200`, got 503")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("(status 404): expected `status == 201`, got 404")),
        "{err}"
    );
}

#[test]
fn a_capture_of_bytes_that_are_not_utf8_fails_instead_of_altering_them() {
    // A body (or a header's obs-text) with bytes that are not UTF-8 was captured with U+FFFD
    // for each bad byte: sent back altered (`a\xffb` as `a\xef\xbf\xbdb`), and unequal to the
    // very bytes it came from in a later check. Now the capture fails and says why, and the
    // request that would have sent the altered value is not sent.
    let server = target();
    let dir = TempDir::new("capture-not-utf8");
    std::fs::write(dir.0.join("latin1.bin"), b"a\xffb").unwrap();
    let plan = dir.write(
        "p.mol",
        &format!(
            "defaults {{\n  base {}\n}}\n\nscenario s {{\n  POST /echo\n  file \"latin1.bin\"\n  \
             capture b = body\n  POST /echo\n  X-B: {{{{b}}}}\n}}\n",
            base_url(&server)
        ),
    );
    let out = run_bounded(
        molotov().args(["-v", "-w", "1", "-r", "1"]).arg(&plan),
        Duration::from_secs(30),
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("capture `b` at ") && all.contains("not UTF-8 text"),
        "{all}"
    );
    assert!(all.contains("FAILURES: 1"), "{all}");
    assert_eq!(server.requests_answered(), 1, "{all}");
}
