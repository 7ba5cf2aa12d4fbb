//! Faults of molotov's own processes, with the real binary: a load process crashing
//! (SIGSEGV, SIGABRT), SIGINT and SIGTERM at start-up, mid-run (once and twice), during the
//! plan's `setup` and `teardown`, the master killed in every phase, and limits that cannot
//! hold the run (`-w` beyond the file-descriptor limit, too little locked memory), which must
//! fail before anything starts.
//!
//! Every molotov here runs in its own process group, so a process left behind is found even
//! after its parent is gone. `tests/engine.rs` has the plain cases these extend (a child
//! killed by SIGKILL, one SIGINT mid-run, the master killed mid-run).

mod harness;
mod support;

use std::collections::BTreeMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{
    Finished, assert_group_gone, assert_server_answered_all, limit_address_space,
    limit_locked_memory, limit_open_files, molotov, plan, run, wait_children,
};
use molotov_target::ServerHandle;
use support::{TempDir, alive, base_url, children_of, signal, target, wait_until};

/// A fresh target server, a temporary directory `name`, and in it `plan.mol`: a scenario of
/// `body` against the server (requests time out after `timeout`).
fn plan_file(name: &str, timeout: &str, body: &str) -> (ServerHandle, TempDir, PathBuf) {
    let server = target();
    let dir = TempDir::new(name);
    let file = dir.write("plan.mol", &plan(&base_url(&server), timeout, body));
    (server, dir, file)
}

/// [`plan_file`] of `GET /json` (5 s timeout).
fn json_plan(name: &str) -> (ServerHandle, TempDir, PathBuf) {
    plan_file(name, "5s", "  GET /json")
}

/// Kills the second load process with `sig` mid-run; the run goes on and reports it.
fn crash_a_child_with(sig: i32, name: &str) {
    let (server, dir, file) = json_plan(name);
    let (child, started) = harness::spawn(
        molotov()
            .args(["-q", "-p", "2", "-w", "2", "-d", "2"])
            .arg(&file),
        &dir,
    );
    let master = child.id();
    let kids = wait_children(master, 2);
    std::thread::sleep(Duration::from_millis(500));
    signal(kids[1], sig);
    if sig == libc::SIGSEGV {
        // Rust's runtime handles SIGSEGV (to report stack overflows): on a fault that is not
        // one, it restores the default action and returns, so a real fault strikes again and
        // kills. A SIGSEGV sent with kill(2) has no faulting instruction to strike again:
        // the second one plays that part.
        std::thread::sleep(Duration::from_millis(50));
        signal(kids[1], sig);
    }
    let finished = harness::finish(child, started, &dir, Duration::from_secs(20));
    finished.assert_sound();
    finished.assert_exit(4);
    let signal_name = if sig == libc::SIGSEGV {
        "SIGSEGV"
    } else {
        "SIGABRT"
    };
    assert_eq!(
        finished.exits(),
        BTreeMap::from([
            ("worker 0".to_string(), "ok".to_string()),
            ("worker 1".to_string(), format!("killed by {signal_name}")),
        ]),
        "{}",
        finished.dump()
    );
    assert!(
        finished
            .stdout()
            .contains(&format!("(pid {}) killed by {signal_name}", kids[1])),
        "{}",
        finished.dump()
    );
    // The crashed process's in-flight requests (at most its 2 workers') have no outcome;
    // everything else matches the server.
    let unfinished = finished.total("unfinished");
    assert!(unfinished <= 2, "{}", finished.dump());
    let answered = server.wait_answered(finished.total("responses"), Duration::from_secs(2));
    assert!(
        answered >= finished.total("responses") && answered <= finished.total("requests"),
        "server answered {answered}\n{}",
        finished.dump()
    );
    assert!(finished.total("responses") > 100, "{}", finished.dump());
    assert!(finished.elapsed < Duration::from_secs(2) + Duration::from_secs(4));
    assert_group_gone(master, Duration::from_secs(2));
}

#[test]
fn a_child_crashing_with_sigsegv_is_named_and_the_rest_counted() {
    crash_a_child_with(libc::SIGSEGV, "segv");
}

#[test]
fn a_child_aborting_is_named_and_the_rest_counted() {
    crash_a_child_with(libc::SIGABRT, "abrt");
}

/// Whether `pid` ignores SIGINT or SIGTERM (its SigIgn mask in /proc); None once it is gone.
fn interrupts_ignored(pid: u32) -> Option<bool> {
    let mask = u64::from_str_radix(&support::proc_status_field(pid, "SigIgn")?, 16).ok()?;
    let bit = |sig: i32| 1u64 << (sig - 1);
    Some(mask & (bit(libc::SIGINT) | bit(libc::SIGTERM)) != 0)
}

#[test]
fn sigint_and_sigterm_at_start_up_leave_nothing_behind() {
    // At several moments of the start-up: before the master blocks the signals (it dies of
    // them: nothing was started), while it forks, as the children build their executors. In
    // every case: no process left, no panic, and a report whenever it exits 130. Each moment
    // twice: started normally, and started with both signals ignored (as a background job of
    // a non-interactive shell starts), which must make no difference.
    let (server, _dir, file) = json_plan("start-up");
    let moments = [0u64, 2, 5, 10, 20, 40, 80];
    for (i, (delay_ms, inherit_ignored)) in moments
        .iter()
        .flat_map(|&d| [(d, false), (d, true)])
        .enumerate()
    {
        let sig = if i % 4 < 2 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        server.reset_counters();
        let run_dir = TempDir::new(&format!("start-up-{i}"));
        let mut cmd = molotov();
        cmd.args(["-q", "-p", "2", "-w", "2", "-d", "10"])
            .arg(&file);
        // Set both ways explicitly: the test runner itself may have been started with SIGINT
        // ignored (a background job of a script), and molotov would inherit that.
        let action = if inherit_ignored {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            cmd.pre_exec(move || {
                libc::signal(libc::SIGINT, action);
                libc::signal(libc::SIGTERM, action);
                Ok(())
            });
        }
        let (child, started) = harness::spawn(&mut cmd, &run_dir);
        let master = child.id();
        if inherit_ignored {
            // A signal that arrives before molotov's `main` runs is discarded by the kernel
            // (ignored): nothing can obey it. From `main` on, molotov has given both signals
            // their default action back; wait for that, then signal as usual.
            assert!(
                wait_until(Duration::from_secs(5), || interrupts_ignored(master)
                    == Some(false)),
                "molotov kept SIGINT/SIGTERM ignored"
            );
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        signal(master, sig);
        let finished = harness::finish(child, started, &run_dir, Duration::from_secs(15));
        let all = format!("{}{}", finished.stdout(), finished.stderr());
        assert!(!all.contains("panicked"), "{}", finished.dump());
        match (finished.code(), finished.out.status.signal()) {
            (Some(130), _) => {
                finished.assert_sound();
                assert_eq!(finished.json()["ending"], "interrupted");
                assert!(
                    finished
                        .stdout()
                        .contains("Result: FAILED: interrupted (exit 130)"),
                    "{}",
                    finished.dump()
                );
                assert_server_answered_all(&server, &finished);
            }
            (None, Some(s)) if s == sig => {
                // Killed before it took the signals over: nothing was sent.
                assert_eq!(server.requests_answered(), 0);
            }
            _ => panic!(
                "delay {delay_ms} ms, signals inherited ignored: {inherit_ignored}: {}",
                finished.dump()
            ),
        }
        assert!(
            finished.elapsed < Duration::from_secs(5),
            "{}",
            finished.dump()
        );
        assert_group_gone(master, Duration::from_secs(2));
    }
}

/// SIGTERM or SIGHUP, sent to the master alone or to the whole process group (as `timeout`,
/// a CI job's time limit or a closed terminal do), stops a run like Ctrl-C: the children
/// ignore them and the master stops them gracefully; exact counts, a full report.
#[test]
fn sigterm_and_sighup_stop_gracefully_with_exact_counts_also_sent_to_the_group() {
    for (sig, to_group) in [
        (libc::SIGTERM, false),
        (libc::SIGTERM, true),
        (libc::SIGHUP, false),
        (libc::SIGHUP, true),
    ] {
        let (server, dir, file) = json_plan("sigterm");
        let (child, started) = harness::spawn(
            molotov().args(["-q", "-p", "2", "-w", "5"]).arg(&file),
            &dir,
        );
        let master = child.id();
        wait_children(master, 2);
        std::thread::sleep(Duration::from_millis(800));
        if to_group {
            // SAFETY: kill(2) on the process group of the master the test started (its own
            // group: see `harness::molotov`); no memory is involved.
            unsafe { libc::kill(-(master as i32), sig) };
        } else {
            signal(master, sig);
        }
        let finished = harness::finish(child, started, &dir, Duration::from_secs(15));
        let case = format!(
            "signal {sig}, to the group: {to_group}\n{}",
            finished.dump()
        );
        finished.assert_sound();
        finished.assert_exit(130);
        assert_eq!(finished.json()["ending"], "interrupted", "{case}");
        assert_eq!(finished.total("unfinished"), 0, "{case}");
        assert!(finished.errors().is_empty(), "{case}");
        assert!(!finished.stderr().contains("killed by"), "{case}");
        assert!(finished.total("requests") > 0, "{case}");
        assert_server_answered_all(&server, &finished);
        assert_group_gone(master, Duration::from_secs(2));
    }
}

/// `timeout 60 molotov ...` sent TERM: `timeout` sends the signal to molotov, then to its
/// whole process group, so the master read the one signal twice (when it read the first
/// before the second came) and stopped at once: requests in flight, which the server
/// answered, were lost as unfinished. The same signal from the same sender within 50 ms now
/// counts once.
/// A parent that ignores SIGCHLD (not to collect zombies) passes that on through `exec`; the
/// kernel would then reap the load processes itself, and the master waited forever for them
/// (SIGTERM and Ctrl-C twice did not end it, and no report came). With a `setup` block, the
/// setup was reported failed.
#[test]
fn an_inherited_ignored_sigchld_changes_nothing() {
    use std::os::unix::process::CommandExt;
    let server = target();
    let dir = TempDir::new("sigchld-ignored");
    let plain = dir.write("plain.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let with_setup = dir.write(
        "setup.mol",
        &format!(
            "defaults {{\n  base {}\n}}\n\nsetup {{\n  GET /json\n}}\n\nscenario s {{\n  GET /json\n}}\n",
            base_url(&server)
        ),
    );
    for file in [plain, with_setup] {
        server.reset_counters();
        let mut cmd = molotov();
        cmd.args(["-q", "-p", "2", "-w", "2", "-d", "1", "--grace", "1s"])
            .arg(&file);
        // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                Ok(())
            });
        }
        let finished = harness::run(&mut cmd, &dir, Duration::from_secs(15));
        finished.assert_sound();
        finished.assert_exit(0);
        assert!(finished.total("requests") > 0, "{}", finished.dump());
        assert_server_answered_all(&server, &finished);
    }
}

#[test]
fn a_signal_sent_to_the_master_then_to_its_group_stops_gracefully() {
    let (server, dir, file) = plan_file("signal-twice", "5s", "  GET /delay/300");
    let (child, started) = harness::spawn(
        molotov().args(["-q", "-p", "2", "-w", "4"]).arg(&file),
        &dir,
    );
    let master = child.id();
    wait_children(master, 2);
    std::thread::sleep(Duration::from_millis(800));
    signal(master, libc::SIGTERM);
    // Long enough for the master to read the first one (it polls its signalfd), within the
    // 50 ms in which a copy is a copy.
    std::thread::sleep(Duration::from_millis(10));
    // SAFETY: kill(2) on the process group of the master the test started (its own group:
    // see `harness::molotov`); no memory is involved.
    unsafe { libc::kill(-(master as i32), libc::SIGTERM) };
    let finished = harness::finish(child, started, &dir, Duration::from_secs(15));
    finished.assert_sound();
    finished.assert_exit(130);
    assert_eq!(finished.json()["ending"], "interrupted");
    // Every worker had a 300 ms request in flight: a graceful stop lets them finish.
    assert_eq!(finished.total("unfinished"), 0, "{}", finished.dump());
    assert!(finished.errors().is_empty(), "{}", finished.dump());
    assert!(finished.total("requests") >= 8, "{}", finished.dump());
    assert_server_answered_all(&server, &finished);
    assert_group_gone(master, Duration::from_secs(2));
}

#[test]
fn sigint_while_forking_hundreds_of_processes_stops_forking_and_reports() {
    // -p 200: the master forks for a while. A Ctrl-C then stops the forking (it was read
    // only after the last fork, and with hundreds of processes that took minutes), the
    // processes started stop as in any interrupted run, and the run ends with its report.
    let (server, dir, file) = json_plan("fork-sigint");
    let (child, started) = harness::spawn(
        molotov()
            .args(["-q", "-p", "200", "-w", "1", "-d", "30"])
            .arg(&file),
        &dir,
    );
    let master = child.id();
    wait_children(master, 10);
    signal(master, libc::SIGINT);
    let finished = harness::finish(child, started, &dir, Duration::from_secs(60));
    finished.assert_sound();
    finished.assert_exit(130);
    assert_eq!(finished.json()["ending"], "interrupted");
    let workers = finished
        .exits()
        .keys()
        .filter(|role| role.starts_with("worker "))
        .count();
    assert!(
        (1..200).contains(&workers),
        "{workers} processes forked after the interrupt\n{}",
        finished.dump()
    );
    assert_server_answered_all(&server, &finished);
    assert_group_gone(master, Duration::from_secs(5));
}

/// Starts a run whose 3 workers each wait on `/delay/5000`, and waits until they do.
fn start_with_requests_in_flight(
    server: &ServerHandle,
    dir: &TempDir,
    extra: &[&str],
) -> (std::process::Child, Instant) {
    let file = dir.write(
        "plan.mol",
        &plan(&base_url(server), "10s", "  GET /delay/5000"),
    );
    let (child, started) = harness::spawn(
        molotov().args(["-q", "-w", "3"]).args(extra).arg(&file),
        dir,
    );
    wait_children(child.id(), 1);
    // The three requests reach the server (it counts them only when it answers).
    assert!(wait_until(Duration::from_secs(5), || {
        server.connections_accepted() >= 3
    }));
    std::thread::sleep(Duration::from_millis(200));
    (child, started)
}

/// The three in-flight requests of [`start_with_requests_in_flight`] were stopped before
/// their responses: what they cost is counted all the same, as it happened (their bytes on
/// the socket, their connections and connect times), although their process was killed.
fn assert_in_flight_costs_counted(finished: &harness::Finished, server: &ServerHandle) {
    assert_eq!(finished.total("responses"), 0, "{}", finished.dump());
    assert_eq!(finished.total("connections"), 3, "{}", finished.dump());
    let request_line_and_host = format!(
        "GET /delay/5000 HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr()
    );
    let sent = finished.total("bytes_sent");
    assert!(
        sent.is_multiple_of(3) && sent / 3 >= request_line_and_host.len() as u64,
        "{sent} bytes sent for 3 requests\n{}",
        finished.dump()
    );
    // Connect times of connections whose requests got no response are in the mean too.
    assert!(finished.total("mean_connect_us") > 0, "{}", finished.dump());
}

#[test]
fn a_second_sigint_stops_at_once_even_with_requests_in_flight() {
    let server = target();
    let dir = TempDir::new("twice");
    let (child, started) = start_with_requests_in_flight(&server, &dir, &[]);
    let master = child.id();
    signal(master, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    let second = Instant::now();
    signal(master, libc::SIGINT);
    let finished = harness::finish(child, started, &dir, Duration::from_secs(15));
    // The grace period (30 s) and the requests (5 s) are not waited for.
    assert!(
        second.elapsed() < Duration::from_secs(2),
        "{:?}\n{}",
        second.elapsed(),
        finished.dump()
    );
    finished.assert_sound();
    finished.assert_exit(130);
    assert_eq!(finished.total("requests"), 3, "{}", finished.dump());
    assert_eq!(finished.total("unfinished"), 3, "{}", finished.dump());
    assert_in_flight_costs_counted(&finished, &server);
    assert!(
        finished.stdout().contains("Unfinished"),
        "{}",
        finished.dump()
    );
    assert_eq!(
        finished.exits(),
        BTreeMap::from([("worker 0".to_string(), "stopped at once".to_string())]),
        "{}",
        finished.dump()
    );
    assert_group_gone(master, Duration::from_secs(2));
}

#[test]
fn the_grace_period_bounds_a_graceful_stop() {
    let server = target();
    let dir = TempDir::new("grace");
    let (child, started) = start_with_requests_in_flight(&server, &dir, &["--grace", "1s"]);
    let master = child.id();
    let first = Instant::now();
    signal(master, libc::SIGINT);
    let finished = harness::finish(child, started, &dir, Duration::from_secs(15));
    let took = first.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}\n{}",
        finished.dump()
    );
    finished.assert_sound();
    finished.assert_exit(130);
    assert_eq!(finished.total("unfinished"), 3, "{}", finished.dump());
    assert_in_flight_costs_counted(&finished, &server);
    // Stopped by the master as the grace period said, not a process that died.
    assert_eq!(
        finished.exits(),
        BTreeMap::from([(
            "worker 0".to_string(),
            "stopped: the grace period ended".to_string()
        )]),
        "{}",
        finished.dump()
    );
    assert!(
        !finished.stderr().contains("the run goes on without it"),
        "{}",
        finished.dump()
    );
    assert_group_gone(master, Duration::from_secs(2));
}

#[test]
fn the_grace_period_after_the_deadline_ends_on_time_not_at_the_next_tick() {
    // `-q` samples once a second; the grace period after the deadline (1 s) must end 300 ms
    // after it, not at the next 1 s tick (the master once noticed it only then: 2.0 s).
    let (_server, dir, file) = plan_file("grace-deadline", "10s", "  GET /delay/5000");
    let finished = run(
        molotov()
            .args(["-q", "-w", "2", "-d", "1", "--grace", "300ms"])
            .arg(&file),
        &dir,
        Duration::from_secs(15),
    );
    finished.assert_sound();
    // Both runs were cut by the grace period without a response: the run measured nothing.
    finished.assert_exit(1);
    let duration = finished.json()["duration_s"].as_f64().unwrap();
    // The deadline plus the grace period (1.3 s), well before the tick at 2 s.
    assert!(
        (1.25..1.9).contains(&duration),
        "duration {duration}\n{}",
        finished.dump()
    );
    assert_eq!(finished.total("unfinished"), 2, "{}", finished.dump());
    assert_eq!(
        finished.exits(),
        BTreeMap::from([(
            "worker 0".to_string(),
            "stopped: the grace period ended".to_string()
        )]),
        "{}",
        finished.dump()
    );
}

#[test]
fn a_master_held_past_some_seconds_gets_one_series_point_for_the_gap() {
    // The master stopped (SIGSTOP) from about 1.2 s to 3.2 s of a 4 s run: the seconds it
    // missed are one point with its true time, not points caught up 1 ms apart.
    let (_server, dir, file) = json_plan("held");
    let (child, started) = harness::spawn(
        molotov().args(["-q", "-w", "2", "-d", "4"]).arg(&file),
        &dir,
    );
    let master = child.id();
    wait_children(master, 1);
    std::thread::sleep(Duration::from_millis(1200));
    signal(master, libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(2));
    signal(master, libc::SIGCONT);
    let finished = harness::finish(child, started, &dir, Duration::from_secs(20));
    finished.assert_sound();
    finished.assert_exit(0);
    let series = finished.json()["series"].as_array().unwrap().clone();
    let t = |p: &serde_json::Value| p["t_s"].as_f64().unwrap();
    let mut previous = 0.0;
    let mut longest = 0.0f64;
    for (i, p) in series.iter().enumerate() {
        let interval = t(p) - previous;
        // Each point's rate is over its own interval, however long.
        let requests = p["requests"].as_f64().unwrap();
        let rps = p["rps"].as_f64().unwrap();
        assert!(
            (rps - requests / interval).abs() <= 0.01 * rps.max(1.0),
            "point {i}: {rps}/s for {requests} requests over {interval}s\n{}",
            finished.dump()
        );
        // Points at whole seconds, or one point for a gap; the last, partial second may be
        // a sliver.
        if i + 1 < series.len() {
            assert!(
                interval > 0.1,
                "point {i} only {interval}s after the one before\n{}",
                finished.dump()
            );
        }
        longest = longest.max(interval);
        previous = t(p);
    }
    // The gap is in one point (the master was held about 2 s).
    assert!(longest > 1.5, "{series:?}\n{}", finished.dump());
    assert_group_gone(master, Duration::from_secs(2));
}

/// A plan whose `setup` or `teardown` takes 1.5 s.
fn plan_with_slow(block: &str, server: &ServerHandle) -> String {
    plan_with_slow_ms(block, server, 1500)
}

/// A plan whose `setup` or `teardown` is one request of `ms` (timeout 30 s).
fn plan_with_slow_ms(block: &str, server: &ServerHandle, ms: u64) -> String {
    format!(
        "defaults {{\n  base {}\n  timeout 30s\n}}\n\n{block} {{\n  GET /delay/{ms}\n}}\n\nscenario s {{\n  GET /json\n}}\n",
        base_url(server)
    )
}

/// A fresh target server and directory, and in it a run (`-q -w 2 -d DURATION`) of a plan
/// whose `block` (`setup` or `teardown`) takes 1.5 s.
fn start_with_slow(
    block: &str,
    duration: &str,
    twice: bool,
) -> (ServerHandle, TempDir, (std::process::Child, Instant)) {
    let server = target();
    let dir = TempDir::new(&format!("{block}-{}", if twice { 2 } else { 1 }));
    let file = dir.write("plan.mol", &plan_with_slow(block, &server));
    let run = harness::spawn(
        molotov().args(["-q", "-w", "2", "-d", duration]).arg(&file),
        &dir,
    );
    (server, dir, run)
}

/// Whether `sig` waits, not yet taken, for process `pid` (its `ShdPnd` or `SigPnd`): false
/// once it has been read, or when the process is gone.
fn signal_pending(pid: u32, sig: i32) -> bool {
    ["ShdPnd", "SigPnd"].iter().any(|field| {
        support::proc_status_field(pid, field)
            .and_then(|mask| u64::from_str_radix(&mask, 16).ok())
            .is_some_and(|mask| mask & (1u64 << (sig - 1)) != 0)
    })
}

/// Stops the run started in `dir`: SIGTERM to its master once, or (`twice`) SIGINT twice,
/// the second once the master has taken the first (the two are the same to the master).
/// Returns when the first signal went and the run as it finished (within `limit`), sound and
/// interrupted (exit 130).
fn interrupt(
    (child, started): (std::process::Child, Instant),
    twice: bool,
    dir: &TempDir,
    limit: Duration,
) -> (Instant, Finished) {
    let master = child.id();
    let at = Instant::now();
    signal(master, if twice { libc::SIGINT } else { libc::SIGTERM });
    if twice {
        // Standard signals do not queue: a second SIGINT sent while the first is still
        // pending (the master not scheduled in between, on a loaded machine) is lost, and
        // the master sees one interrupt. Send it once the master has read the first from its
        // signalfd (no longer pending), and 100 ms after that: a second signal from the same
        // sender that the master reads within 50 ms of the first is a copy of it (a script's
        // `kill; sleep 0.1; kill` stops at once, as documented).
        let taken = || !signal_pending(master, libc::SIGINT);
        assert!(
            wait_until(Duration::from_secs(5), taken),
            "the master did not take the first SIGINT in 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
        signal(master, libc::SIGINT);
    }
    let finished = harness::finish(child, started, dir, limit);
    finished.assert_sound();
    finished.assert_exit(130);
    (at, finished)
}

/// The second SIGINT stopped the process `role` at once (within 1 s of the first signal),
/// its one request unfinished: a stop, not a death.
fn assert_killed_at_once(finished: &Finished, role: &str, at: Instant) {
    assert_eq!(
        finished.exits()[role],
        "stopped at once",
        "{}",
        finished.dump()
    );
    assert!(
        !finished.stdout().contains("killed by"),
        "{}",
        finished.dump()
    );
    assert!(at.elapsed() < Duration::from_secs(1), "{}", finished.dump());
    assert_eq!(finished.total("unfinished"), 1, "{}", finished.dump());
}

#[test]
fn sigterm_or_sigint_during_setup_sends_no_load() {
    for twice in [false, true] {
        let (server, dir, run) = start_with_slow("setup", "5", twice);
        let master = run.0.id();
        let setup = wait_children(master, 1)[0];
        std::thread::sleep(Duration::from_millis(300));
        let (at, finished) = interrupt(run, twice, &dir, Duration::from_secs(15));
        // No load process was started: the only process is the setup's.
        let exits = finished.exits();
        assert_eq!(exits.len(), 1, "{}", finished.dump());
        if twice {
            assert_killed_at_once(&finished, "setup", at);
        } else {
            // Once: the setup's request finishes (graceful), then nothing else.
            assert_eq!(exits["setup"], "ok", "{}", finished.dump());
            assert_eq!(finished.total("responses"), 1, "{}", finished.dump());
            assert_eq!(server.wait_answered(1, Duration::from_secs(2)), 1);
        }
        assert_eq!(finished.total("requests"), 1, "{}", finished.dump());
        assert!(!alive(setup));
        assert_group_gone(master, Duration::from_secs(2));
    }
}

#[test]
fn sigterm_during_teardown_finishes_it_and_sigint_twice_stops_it() {
    for twice in [false, true] {
        let (server, dir, run) = start_with_slow("teardown", "1", twice);
        let master = run.0.id();
        let load = wait_children(master, 1);
        // The teardown process is the child that comes after the load process.
        let mut teardown = None;
        assert!(wait_until(Duration::from_secs(10), || {
            teardown = children_of(master).into_iter().find(|p| !load.contains(p));
            teardown.is_some()
        }));
        std::thread::sleep(Duration::from_millis(300));
        let (at, finished) = interrupt(run, twice, &dir, Duration::from_secs(20));
        let exits = finished.exits();
        assert_eq!(exits["worker 0"], "ok", "{}", finished.dump());
        if twice {
            assert_killed_at_once(&finished, "teardown", at);
        } else {
            assert_eq!(exits["teardown"], "ok", "{}", finished.dump());
            assert_server_answered_all(&server, &finished);
        }
        assert!(!alive(teardown.unwrap()));
        assert_group_gone(master, Duration::from_secs(2));
    }
}

#[test]
fn a_setup_outlasting_the_grace_period_after_an_interrupt_is_stopped() {
    let server = target();
    let dir = TempDir::new("setup-grace");
    let file = dir.write("plan.mol", &plan_with_slow_ms("setup", &server, 20_000));
    let run = harness::spawn(
        molotov()
            .args(["-q", "-w", "2", "-d", "5", "--grace", "1s"])
            .arg(&file),
        &dir,
    );
    let master = run.0.id();
    wait_children(master, 1);
    std::thread::sleep(Duration::from_millis(300));
    let (at, finished) = interrupt(run, false, &dir, Duration::from_secs(15));
    let took = at.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}\n{}",
        finished.dump()
    );
    // Stopped as the grace period said: not a process that died.
    assert_eq!(
        finished.exits(),
        BTreeMap::from([(
            "setup".to_string(),
            "stopped: the grace period ended".to_string()
        )]),
        "{}",
        finished.dump()
    );
    assert!(
        !finished.stdout().contains("killed by"),
        "{}",
        finished.dump()
    );
    assert_eq!(finished.total("unfinished"), 1, "{}", finished.dump());
    assert_group_gone(master, Duration::from_secs(2));
}

#[test]
fn a_teardown_past_its_time_limit_is_stopped_and_fails_the_run() {
    let server = target();
    let dir = TempDir::new("teardown-limit");
    let file = dir.write("plan.mol", &plan_with_slow_ms("teardown", &server, 20_000));
    // --grace 1s: the teardown's limit is twice the grace period, at least 10 s.
    let finished = run(
        molotov()
            .args(["-q", "-w", "2", "-d", "1", "--grace", "1s"])
            .arg(&file),
        &dir,
        Duration::from_secs(30),
    );
    finished.assert_sound();
    // The plan's teardown failed (exit 1), no process died (not 4).
    finished.assert_exit(1);
    let exits = finished.exits();
    assert_eq!(exits["worker 0"], "ok", "{}", finished.dump());
    assert_eq!(
        exits["teardown"],
        "stopped: it ran past its limit of 10s",
        "{}",
        finished.dump()
    );
    assert!(
        finished.elapsed >= Duration::from_secs(11) && finished.elapsed < Duration::from_secs(20),
        "{:?}\n{}",
        finished.elapsed,
        finished.dump()
    );
    assert_eq!(finished.total("unfinished"), 1, "{}", finished.dump());
    let stdout = finished.stdout();
    assert!(
        stdout.contains("so the plan's teardown failed")
            && stdout.contains("Result: FAILED: the plan's teardown failed (exit 1)")
            && !stdout.contains("killed by"),
        "{}",
        finished.dump()
    );
}

#[test]
fn killing_the_master_in_any_phase_leaves_no_process() {
    let server = target();
    // (phase, plan, flags, how to know the phase has begun)
    let dir = TempDir::new("kill-master-phases");
    let setup = dir.write("setup.mol", &plan_with_slow("setup", &server));
    let teardown = dir.write("teardown.mol", &plan_with_slow("teardown", &server));
    let slow = dir.write(
        "slow.mol",
        &plan(&base_url(&server), "10s", "  GET /delay/3000"),
    );
    for (phase, file, flags) in [
        ("setup", &setup, &["-w", "2", "-d", "5"][..]),
        ("teardown", &teardown, &["-w", "2", "-d", "1"][..]),
        ("grace", &slow, &["-p", "2", "-w", "2", "-d", "1"][..]),
    ] {
        let mut child = molotov()
            .arg("-q")
            .args(flags)
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let master = child.id();
        match phase {
            "setup" => {
                wait_children(master, 1);
            }
            "teardown" => {
                let load = wait_children(master, 1);
                assert!(wait_until(Duration::from_secs(10), || {
                    children_of(master).iter().any(|p| !load.contains(p))
                }));
            }
            _ => {
                // Past the deadline, with requests still in flight.
                wait_children(master, 2);
                std::thread::sleep(Duration::from_millis(1500));
                assert_eq!(children_of(master).len(), 2, "{phase}");
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(harness::group_members(master).len() >= 2, "{phase}");
        signal(master, libc::SIGKILL);
        let _ = child.wait();
        assert_group_gone(master, Duration::from_secs(3));
    }
}

/// The run exited 4 before anything started: no report, no connection, within 3 s.
/// The address-space limit a refusal names ("... to at least 122.7 MiB"), in bytes, with
/// 0.1 MiB for the rounding of the figure printed.
fn named_limit(err: &str, finished: &Finished) -> u64 {
    let at_least = err
        .split("to at least ")
        .nth(1)
        .and_then(|rest| rest.split(" MiB").next())
        .and_then(|mib| mib.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no figure\n{}", finished.dump()));
    ((at_least + 0.1) * 1048576.0) as u64
}

fn refused_up_front(finished: &Finished, server: &ServerHandle) {
    finished.assert_refused_up_front(4, Duration::from_secs(3));
    assert_eq!(server.connections_accepted(), 0, "{}", finished.dump());
}

/// Runs `-q -w WORKERS -d 1 FILE` in `dir` with the process limit that `limit` sets.
fn run_limited(
    dir: &TempDir,
    file: &Path,
    workers: u32,
    limit: impl FnOnce(&mut Command),
) -> Finished {
    let mut cmd = molotov();
    cmd.args(["-q", "-w", &workers.to_string(), "-d", "1"])
        .arg(file);
    limit(&mut cmd);
    run(&mut cmd, dir, Duration::from_secs(15))
}

/// The run went through without a transport error on exactly `connections` connections.
fn assert_clean_with_connections(finished: &Finished, connections: u64) {
    finished.assert_sound();
    finished.assert_exit(0);
    assert!(finished.errors().is_empty(), "{}", finished.dump());
    assert_eq!(
        finished.total("connections"),
        connections,
        "{}",
        finished.dump()
    );
}

/// 128 open files at most.
fn fd_limit(cmd: &mut Command) {
    limit_open_files(cmd, 128);
}

#[test]
fn workers_beyond_the_file_descriptor_limit_fail_up_front() {
    let (server, dir, file) = json_plan("fd-limit");
    let finished = run_limited(&dir, &file, 200, fd_limit);
    refused_up_front(&finished, &server);
    let err = finished.stderr();
    assert!(
        err.contains("molotov: error: -w 200 needs ")
            && err.contains("file descriptors per process (1 per worker")
            && err.contains("but the limit is 128"),
        "{err}"
    );
    // Up to the limit, every worker gets its socket: no half-start, no error.
    let finished = run_limited(&dir, &file, 100, fd_limit);
    assert_clean_with_connections(&finished, 100);
}

#[test]
fn each_origin_of_the_plan_counts_a_socket_per_worker() {
    // Four origins (two servers, each by address and by name): a socket per worker each.
    let one = target();
    let two = target();
    let (p1, p2) = (one.addr().port(), two.addr().port());
    let dir = TempDir::new("fd-origins");
    let file = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  timeout 5s\n}}\n\nscenario s {{\n  GET http://127.0.0.1:{p1}/json\n  GET http://localhost:{p1}/json\n  GET http://127.0.0.1:{p2}/json\n  GET http://localhost:{p2}/json\n}}\n"
        ),
    );
    let finished = run_limited(&dir, &file, 30, fd_limit);
    refused_up_front(&finished, &one);
    assert!(
        finished
            .stderr()
            .contains("(4 per worker for the plan's origins"),
        "{}",
        finished.dump()
    );
    let finished = run_limited(&dir, &file, 25, fd_limit);
    assert_clean_with_connections(&finished, 100);
}

/// A plan whose one request line goes, in turn, to each of 12 origins built at run time: 6
/// servers, each by address and by name. Returns the servers, the directory and the plan.
fn run_time_origins_plan(name: &str) -> (Vec<ServerHandle>, TempDir, PathBuf) {
    let servers: Vec<ServerHandle> = (0..6).map(|_| target()).collect();
    let urls: Vec<String> = servers
        .iter()
        .flat_map(|s| {
            let port = s.addr().port();
            [
                format!("\"http://127.0.0.1:{port}\""),
                format!("\"http://localhost:{port}\""),
            ]
        })
        .collect();
    let dir = TempDir::new(name);
    let file = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  timeout 5s\n}}\n\nscenario s {{\n  for origin in [{}] {{\n    GET {{{{origin}}}}/json\n  }}\n}}\n",
            urls.join(", ")
        ),
    );
    (servers, dir, file)
}

/// Every request of the run was answered, by the servers together, and each server answered
/// some: no transport error, whatever the number of origins.
fn assert_all_answered_by(finished: &Finished, servers: &[ServerHandle]) {
    finished.assert_sound();
    finished.assert_exit(0);
    assert!(finished.errors().is_empty(), "{}", finished.dump());
    let requests = finished.total("requests");
    assert!(requests >= 12 * 20, "{}", finished.dump());
    assert_eq!(finished.total("responses"), requests, "{}", finished.dump());
    let answered = || servers.iter().map(|s| s.requests_answered()).sum::<u64>();
    wait_until(Duration::from_secs(2), || answered() >= requests);
    assert_eq!(answered(), requests, "{}", finished.dump());
    assert!(
        servers.iter().all(|s| s.requests_answered() > 0),
        "{}",
        finished.dump()
    );
}

#[test]
fn origins_built_at_run_time_fit_the_file_descriptor_limit() {
    // 20 workers, 12 origins each, 128 open files: a worker that kept a connection to every
    // origin it used held 240 sockets, and most connects failed with "Too many open files"
    // (reported as `connect_failed`) although the preflight had passed. Now each worker keeps
    // at most what the limit leaves it (here 5, the least recently used closed beyond).
    let (servers, dir, file) = run_time_origins_plan("fd-run-time-origins");
    let finished = run_limited(&dir, &file, 20, fd_limit);
    assert_all_answered_by(&finished, &servers);
}

#[test]
fn a_worker_keeps_a_bounded_number_of_connections_to_origins_built_at_run_time() {
    // Without a tight limit, at most 8 per worker: the load process's descriptors, sampled
    // through the run, stay under 20 x 8 sockets plus its own (a connection to every origin
    // was 20 x 12 = 240 sockets).
    let (servers, dir, file) = run_time_origins_plan("run-time-origins");
    let (child, started) = harness::spawn(
        molotov().args(["-q", "-w", "20", "-d", "2"]).arg(&file),
        &dir,
    );
    let master = child.id();
    let load = wait_children(master, 1)[0];
    let mut most = 0;
    while alive(load) && started.elapsed() < Duration::from_secs(10) {
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{load}/fd")) {
            most = most.max(fds.count());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let finished = harness::finish(child, started, &dir, Duration::from_secs(15));
    assert_all_answered_by(&finished, &servers);
    assert!(most > 20, "{most} descriptors\n{}", finished.dump());
    assert!(
        most <= 20 * 8 + 30,
        "{most} descriptors in the load process\n{}",
        finished.dump()
    );
    // Cycling over 12 origins with room for 8, a worker that closed its least recently used
    // client closed the one it needed next, every time: a connection per request. One drawn
    // at random keeps about 40% of them connected.
    let (connections, requests) = (finished.total("connections"), finished.total("requests"));
    assert!(
        connections * 10 < requests * 8,
        "{connections} connections for {requests} requests\n{}",
        finished.dump()
    );
}

/// Whether this process's io_uring rings are charged to its locked memory, as molotov-core's
/// preflight decides: not with CAP_IPC_LOCK in the initial user namespace (root), nor on a
/// kernel that does not charge them.
fn rings_charged_here() -> bool {
    let caps = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(0);
    let initial_namespace = std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    const CAP_IPC_LOCK: u32 = 14;
    kernel_charges_rings() && !(caps & (1 << CAP_IPC_LOCK) != 0 && initial_namespace)
}

#[test]
fn a_low_locked_memory_limit_refuses_only_rings_that_do_not_fit() {
    // 64 KiB of lockable memory (a common container default). A flat 512 KiB floor refused
    // every run under it, even where no ring is charged (root; kernels 5.12 to 6.13), with a
    // false "each molotov process needs 524288". Now only the exact ring check decides: one
    // 76 KiB ring does not fit where rings are charged, and everything runs where they are not.
    let (server, dir, file) = json_plan("memlock");
    let finished = run_limited(&dir, &file, 2, |cmd| limit_locked_memory(cmd, 64 << 10));
    assert!(!finished.stderr().contains("524288"), "{}", finished.dump());
    if rings_charged_here() {
        refused_up_front(&finished, &server);
        assert!(
            finished.stderr().contains(
                "the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l) is 64.0 KiB, but the \
                 io_uring rings of "
            ),
            "{}",
            finished.dump()
        );
    } else {
        finished.assert_exit(0);
        finished.assert_sound();
        assert!(finished.total("responses") > 0, "{}", finished.dump());
        assert_server_answered_all(&server, &finished);
    }
}

#[test]
fn a_reader_that_goes_away_does_not_stop_the_run() {
    // `molotov ... | head -1`: stdout becomes a pipe nobody reads. The console lines and the
    // text report are lost, the run and the report files are not.
    let (server, dir, file) = json_plan("closed-stdout");
    let (mut child, started) = harness::spawn(
        molotov()
            .args(["-c", "--console-update", "200ms", "-w", "2", "-d", "1"])
            .arg(&file),
        &dir,
    );
    drop(child.stdout.take());
    let finished = harness::finish(child, started, &dir, Duration::from_secs(15));
    assert!(
        !finished.stderr().contains("panicked"),
        "{}",
        finished.dump()
    );
    finished.assert_exit(0);
    finished.assert_sound();
    assert!(finished.total("requests") > 0);
    assert_server_answered_all(&server, &finished);
}

/// Shrinks the pipe behind `stream` to one page, so that a reader who does not read fills it
/// in a few lines; returns its raw descriptor.
fn small_pipe(stream: &impl std::os::fd::AsRawFd) -> i32 {
    let fd = stream.as_raw_fd();
    // SAFETY: fcntl(2) F_SETPIPE_SZ on a pipe descriptor this test owns.
    assert!(unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 4096) } >= 4096);
    fd
}

/// Bytes waiting in the pipe behind `fd`.
fn pipe_bytes(fd: i32) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer, valid for the call.
    unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    n as usize
}

/// The write(2) calls `pid` has made (`syscw` of `/proc/PID/io`), None where the kernel does
/// not keep them.
fn write_syscalls(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("syscw:"))?
        .trim()
        .parse()
        .ok()
}

/// Reads `stream` to its end on a thread of its own.
fn read_in_background(
    mut stream: impl std::io::Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// `molotov -c ... | less` with `less` no longer reading (its screen full), a terminal paused
/// with Ctrl-S: stdout takes nothing. The master wrote its progress lines with a blocking
/// write from its only loop, so it sat in `write` and read no signal: SIGTERM was not obeyed
/// and the load went on until the reader drained the pipe. Now the lines are queued, the
/// extra ones dropped, and the master stops the load at once.
#[test]
fn sigterm_is_obeyed_while_stdout_is_not_read() {
    let (server, dir, file) = json_plan("stalled-stdout-term");
    let (mut child, started) = harness::spawn(
        molotov()
            .args(["-c", "--console-update", "1ms", "-w", "2"])
            .arg(&file),
        &dir,
    );
    let master = child.id();
    let out = child.stdout.take().unwrap();
    let err = read_in_background(child.stderr.take().unwrap());
    let fd = small_pipe(&out);
    assert!(
        wait_until(Duration::from_secs(10), || pipe_bytes(fd) >= 4000
            && server.requests_answered() > 0),
        "stdout never filled"
    );
    // The pipe is full: every line the master makes from now on goes to its queue (16 KiB,
    // about 150 lines of ~108 bytes), and once that is full, is dropped. How fast it makes
    // lines depends on the machine (1 ms asked; ~16 ms each on a loaded one), so count them:
    // each line pushed at a full pipe is two write(2) attempts that find no room (before and
    // after queueing it), and the master writes nothing else while the load runs.
    let writes = || write_syscalls(master);
    match writes() {
        Some(before) => assert!(
            wait_until(Duration::from_secs(60), || writes()
                .is_some_and(|now| now >= before + 2 * 250)),
            "the master did not try to write 250 lines to its full stdout in 60 s"
        ),
        None => {
            eprintln!("cannot count the master's writes (/proc/{master}/io): waiting 10 s");
            std::thread::sleep(Duration::from_secs(10));
        }
    }
    signal(master, libc::SIGTERM);
    // Still not reading stdout: the load must stop, and the master reap its load processes.
    assert!(
        wait_until(Duration::from_secs(5), || children_of(master).is_empty()),
        "the load did not stop after SIGTERM with stdout not read: {:?}",
        children_of(master)
    );
    let answered = server.requests_answered();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.requests_answered(), answered, "the load went on");
    // The reader comes back: the queued lines, how many were dropped, and the report.
    let out = read_in_background(out);
    let mut finished = harness::finish(child, started, &dir, Duration::from_secs(15));
    finished.out.stdout = out.join().unwrap().into_bytes();
    finished.out.stderr = err.join().unwrap().into_bytes();
    finished.assert_exit(130);
    finished.assert_sound();
    assert_server_answered_all(&server, &finished);
    let stdout = finished.stdout();
    assert!(
        stdout.contains("progress lines dropped: the output was not being read)"),
        "{}",
        finished.dump()
    );
    assert!(stdout.contains("Result: FAILED: interrupted (exit 130)"));
}

/// The same stalled stdout with `-d 1`: the load processes stopped on time, but the master,
/// stuck in write(2), took the end of the run when the reader came back: the report said
/// the run lasted as long as the stall, its rates were too low, its series one point.
#[test]
fn the_report_of_a_run_whose_stdout_was_not_read_has_its_real_duration() {
    let (server, dir, file) = json_plan("stalled-stdout-duration");
    let (mut child, started) = harness::spawn(
        molotov()
            .args(["-c", "--console-update", "1ms", "-w", "2", "-d", "1"])
            .arg(&file),
        &dir,
    );
    let out = child.stdout.take().unwrap();
    let err = read_in_background(child.stderr.take().unwrap());
    small_pipe(&out);
    std::thread::sleep(Duration::from_secs(3));
    let out = read_in_background(out);
    let mut finished = harness::finish(child, started, &dir, Duration::from_secs(15));
    finished.out.stdout = out.join().unwrap().into_bytes();
    finished.out.stderr = err.join().unwrap().into_bytes();
    finished.assert_exit(0);
    finished.assert_sound();
    assert_server_answered_all(&server, &finished);
    let report = finished.json();
    let duration = report["duration_s"].as_f64().unwrap();
    assert!(
        (0.9..1.6).contains(&duration),
        "duration_s {duration}\n{}",
        finished.dump()
    );
    let requests = finished.total("requests") as f64;
    let rate = report["rates"]["requests_per_s"].as_f64().unwrap();
    assert!(
        (rate - requests / duration).abs() <= rate * 0.05,
        "rate {rate}, {requests} requests in {duration} s"
    );
}

/// Runs `-q VERBOSITY -p 2 -w 2 -d 2 --grace 1s` of `file` with a stderr (a pipe of one
/// page) that nobody reads for 4 s, then reads it: the load must end on time all the same,
/// every load process `ok`, nothing unfinished, the counts equal the server's.
fn run_with_stderr_unread(
    server: &ServerHandle,
    dir: &TempDir,
    file: &Path,
    verbosity: &str,
) -> Finished {
    let (mut child, started) = harness::spawn(
        molotov()
            .args([
                "-q", verbosity, "-p", "2", "-w", "2", "-d", "2", "--grace", "1s",
            ])
            .arg(file),
        dir,
    );
    let out = read_in_background(child.stdout.take().unwrap());
    let err = child.stderr.take().unwrap();
    small_pipe(&err);
    std::thread::sleep(Duration::from_secs(4));
    let err = read_in_background(err);
    let mut finished = harness::finish(child, started, dir, Duration::from_secs(15));
    finished.out.stdout = out.join().unwrap().into_bytes();
    finished.out.stderr = err.join().unwrap().into_bytes();
    finished.assert_exit(0);
    finished.assert_sound();
    assert_server_answered_all(server, &finished);
    assert_eq!(finished.total("unfinished"), 0, "{}", finished.dump());
    for (role, exit) in finished.exits() {
        assert_eq!(exit, "ok", "{role}\n{}", finished.dump());
    }
    let duration = finished.json()["duration_s"].as_f64().unwrap();
    assert!(duration < 2.6, "duration_s {duration}\n{}", finished.dump());
    finished
}

/// `-vv ... 2>&1 | less`: the load processes write their dumps to stderr, which nobody
/// reads. The dumps used a blocking write from the executor: the load processes froze in
/// the middle of their requests, the deadline passed, and `--grace` killed them. Now a dump
/// stderr does not take is dropped and counted, and the load ends on time.
#[test]
fn dumps_to_a_stderr_nobody_reads_do_not_hold_up_the_load() {
    let (server, dir, file) = json_plan("stalled-stderr-dumps");
    let finished = run_with_stderr_unread(&server, &dir, &file, "-vv");
    assert!(finished.stderr().contains("> GET /json"));
}

/// `-v ... 2>&1 | less` with the plan's `log` lines: they were written with a blocking
/// write from the executor, so once stderr's pipe was full the load processes froze in the
/// middle of their requests until `--grace` killed them. Now the load processes' stderr is
/// read by the master, which queues what its stderr does not take, drops and counts the
/// rest, and the load ends on time.
#[test]
fn log_lines_to_a_stderr_nobody_reads_do_not_hold_up_the_load() {
    let server = target();
    let dir = TempDir::new("stalled-stderr-log");
    let line = "x".repeat(200);
    let file = dir.write(
        "plan.mol",
        &plan(
            &base_url(&server),
            "5s",
            &format!("  GET /json\n  log \"{line}\""),
        ),
    );
    let finished = run_with_stderr_unread(&server, &dir, &file, "-v");
    let stderr = finished.stderr();
    assert!(stderr.contains(&line), "{}", finished.dump());
    assert!(
        stderr.contains("lines dropped: stderr was not being read)"),
        "{}",
        finished.dump()
    );
    // Far more requests than lines that fit in the pipe and the queues: the load went on.
    let requests = finished.total("requests");
    assert!(requests > 2_000, "{requests} requests\n{}", finished.dump());
}

/// The same with a grace period shorter than the master's own work at the deadline (the
/// series point of that second): it passed before the master looked again, and was then
/// waited for until the next 1 s tick.
#[test]
fn a_grace_period_shorter_than_the_masters_work_still_ends_on_time() {
    let (_server, dir, file) = plan_file("grace-tiny", "10s", "  GET /delay/5000");
    for grace in ["1us", "100us"] {
        let finished = run(
            molotov()
                .args(["-q", "-w", "2", "-d", "1", "--grace", grace])
                .arg(&file),
            &dir,
            Duration::from_secs(15),
        );
        finished.assert_sound();
        let duration = finished.json()["duration_s"].as_f64().unwrap();
        assert!(
            duration < 1.6,
            "--grace {grace}: duration {duration}\n{}",
            finished.dump()
        );
    }
}

/// A worker whose scenario runs never wait (this one sends nothing) must leave the other
/// workers of its process their turns: they starved, with 0 requests and `Result: OK`.
#[test]
fn a_worker_that_never_waits_does_not_starve_the_others() {
    let (server, dir, file) = plan_file(
        "never-waits",
        "5s",
        "  let w = worker\n  if w != 0 {\n    GET /json\n  }",
    );
    let finished = run(
        molotov().args(["-q", "-w", "4", "-d", "1"]).arg(&file),
        &dir,
        Duration::from_secs(15),
    );
    finished.assert_sound();
    finished.assert_exit(0);
    assert!(
        finished.total("responses") > 100,
        "workers 1-3 starved\n{}",
        finished.dump()
    );
    assert_server_answered_all(&server, &finished);
}

/// Runs `molotov -q -w 3 -d 1 --grace 5s EXTRA` on a plan of `body`, which loops without
/// sending; asserts a sound run that exits `code` within 4 s, long before `--grace` ends it.
fn run_busy_loop(name: &str, body: &str, extra: &[&str], code: i32) -> (ServerHandle, Finished) {
    let (server, dir, file) = plan_file(name, "5s", body);
    let started = Instant::now();
    let finished = run(
        molotov()
            .args(["-q", "-w", "3", "-d", "1", "--grace", "5s"])
            .args(extra)
            .arg(&file),
        &dir,
        Duration::from_secs(20),
    );
    let took = started.elapsed();
    finished.assert_sound();
    finished.assert_exit(code);
    assert!(
        took < Duration::from_secs(4),
        "took {took:?}\n{}",
        finished.dump()
    );
    (server, finished)
}

/// A loop that sends nothing kept its load process to itself: the deadline and the other
/// workers waited until `--grace` killed the process. It now pauses every few dozen rounds,
/// and stops with the run.
#[test]
fn a_loop_that_sends_nothing_yields_and_stops_at_the_deadline() {
    let (server, finished) = run_busy_loop(
        "busy-loop",
        "  let w = worker\n  if w == 0 {\n    repeat 1000000000 {\n      let x = \"a\"\n    }\n  }\n  GET /json",
        &[],
        0,
    );
    assert_eq!(finished.total("unfinished"), 0, "{}", finished.dump());
    assert!(finished.total("responses") > 100, "{}", finished.dump());
    assert_server_answered_all(&server, &finished);
}

/// The same in the open model: a run that begins with a loop (work before its first request)
/// is not exempt from the deadline the way its first request is. Compared with when the run
/// was due, it never saw the deadline and held its process until --grace killed it.
#[test]
fn an_open_model_loop_that_sends_nothing_stops_at_the_deadline() {
    // Not one run got to its request: the run sent nothing, and says so (exit 1).
    let (_server, finished) = run_busy_loop(
        "busy-loop-open",
        "  repeat 1000000000 {\n    let x = \"a\"\n  }\n  GET /json",
        &["--rate", "20"],
        1,
    );
    assert!(
        finished
            .stdout()
            .contains("FAILED: no request was sent: all 3 scenario runs ended before sending"),
        "{}",
        finished.dump()
    );
    assert!(
        !finished.stderr().contains("grace period"),
        "{}",
        finished.dump()
    );
}

/// A load process stopped for 2 s while 50 requests are in flight: the server answered each
/// after 200 ms, long before its 1 s timeout, and the responses wait in the sockets. The
/// kernel posts only some of the completions at the first entry after such a stall; the
/// deadlines, due by then, fired first and counted the rest as timeouts.
#[test]
fn responses_that_came_in_time_are_not_timeouts_after_a_stall() {
    let (server, dir, file) = plan_file("stall", "1s", "  GET /delay/200");
    let (child, started) = harness::spawn(
        molotov()
            .args(["-q", "-p", "1", "-w", "50", "-d", "4"])
            .arg(&file),
        &dir,
    );
    let load = wait_children(child.id(), 1)[0];
    std::thread::sleep(Duration::from_millis(1000));
    signal(load, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2000));
    signal(load, libc::SIGCONT);
    let finished = harness::finish(child, started, &dir, Duration::from_secs(20));
    finished.assert_sound();
    assert!(finished.errors().is_empty(), "{}", finished.dump());
    assert_server_answered_all(&server, &finished);
}

#[test]
fn a_master_held_past_the_end_of_the_load_reports_the_load_s_own_duration() {
    // The master alone stopped (SIGSTOP) from 0.5 s to 4 s of a `-p 2 -d 2` run: the load
    // processes end at the deadline on their own, and the duration is theirs, not the
    // moment the master came back to see it (it said about 4 s, and half the true rates).
    let (_server, dir, file) = json_plan("held-past-the-end");
    let (child, started) = harness::spawn(
        molotov()
            .args(["-q", "-p", "2", "-w", "2", "-d", "2"])
            .arg(&file),
        &dir,
    );
    let master = child.id();
    wait_children(master, 2);
    std::thread::sleep(Duration::from_millis(500));
    signal(master, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(3500));
    signal(master, libc::SIGCONT);
    let finished = harness::finish(child, started, &dir, Duration::from_secs(20));
    finished.assert_sound();
    finished.assert_exit(0);
    let json = finished.json();
    let duration = json["duration_s"].as_f64().unwrap();
    assert!(
        (1.95..2.6).contains(&duration),
        "duration {duration}\n{}",
        finished.dump()
    );
    // Every rate is over that duration.
    let requests = finished.total("requests") as f64;
    let rps = json["rates"]["requests_per_s"].as_f64().unwrap();
    assert!(
        requests > 0.0 && (rps - requests / duration).abs() <= 0.01 * rps,
        "{rps}/s for {requests} requests over {duration}s\n{}",
        finished.dump()
    );
    // The series is the live one, as documented: its last point is when the master took it.
    let series = json["series"].as_array().unwrap();
    let last = series.last().unwrap()["t_s"].as_f64().unwrap();
    assert!(last > 3.0, "{series:?}\n{}", finished.dump());
    assert_group_gone(master, Duration::from_secs(2));
}

#[test]
fn log_lines_never_hold_up_the_load_while_the_master_is_held() {
    // Under -v each run logs a line, which the load processes send to the master through a
    // pipe. With the master stopped (SIGSTOP) from 0.5 s to 3.5 s of a `-p 2 -d 3` run, the
    // pipe filled and every load process blocked in `write`: the load stopped for the hold
    // and ended late (duration_s 3.7). The lines that do not fit are dropped and counted.
    let (server, dir, file) = plan_file(
        "held-log-lines",
        "5s",
        &format!(
            "  GET /json\n  log \"hello {{{{worker}}}} {}\"",
            "x".repeat(80)
        ),
    );
    // Stderr to a file: the log lines are far more than a pipe holds, and a pipe read only
    // once molotov is gone would hold up the end of the report.
    let err_path = dir.0.join("stderr");
    let started = Instant::now();
    let child = molotov()
        .args(["-q", "-v", "-p", "2", "-w", "2", "-d", "3", "--json"])
        .arg(harness::report_path(&dir))
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let master = child.id();
    wait_children(master, 2);
    std::thread::sleep(Duration::from_millis(500));
    signal(master, libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1000));
    let before = server.requests_answered();
    std::thread::sleep(Duration::from_millis(1500));
    let during = server.requests_answered() - before;
    std::thread::sleep(Duration::from_millis(500));
    signal(master, libc::SIGCONT);
    let finished = harness::finish(child, started, &dir, Duration::from_secs(20));
    finished.assert_sound();
    finished.assert_exit(0);
    assert!(
        during > 100,
        "{during} answered during the hold\n{}",
        finished.dump()
    );
    let duration = finished.json()["duration_s"].as_f64().unwrap();
    assert!(
        (2.95..3.6).contains(&duration),
        "duration {duration}\n{}",
        finished.dump()
    );
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert!(
        err.contains("dropped: the master did not read its output in time"),
        "{}",
        &err[err.len().saturating_sub(2000)..]
    );
}

#[test]
fn diagnostics_to_a_stderr_inherited_non_blocking_wait_for_their_reader() {
    // A thousand errors are about 136 KB of diagnostics, more than a pipe holds: on a
    // stderr handed down non-blocking and read late they were cut at 64 KiB, mid-line. (A
    // plan shows its first 50: twenty plans of them.)
    use std::io::Read;
    let dir = TempDir::new("nonblocking-stderr");
    let body: String = (0..50).map(|i| format!("  thnik {i}s\n")).collect();
    let files: Vec<PathBuf> = (0..20)
        .map(|n| {
            dir.write(
                &format!("errs{n}.mol"),
                &format!("scenario s {{\n{body}}}\n"),
            )
        })
        .collect();
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    nix::fcntl::fcntl(
        &write_end,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut child = molotov()
        .arg("check")
        .args(&files)
        .stdout(Stdio::null())
        .stderr(Stdio::from(write_end))
        .spawn()
        .unwrap();
    // The reader comes late.
    std::thread::sleep(Duration::from_secs(2));
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::fs::File::from(read_end).read_to_end(&mut out).unwrap();
        out
    });
    let ended = wait_until(Duration::from_secs(30), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !ended {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let out = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(ended, "still running 32 s in");
    assert_eq!(status.code(), Some(2), "{status:?}");
    assert!(out.len() > 65536, "{} bytes", out.len());
    let errors = out.matches("error").count();
    assert!(errors >= 1000, "{errors} errors in {} bytes", out.len());
    assert!(
        out.ends_with('\n'),
        "...{}",
        &out[out.len().saturating_sub(200)..]
    );
}

#[test]
fn a_report_to_a_stdout_inherited_non_blocking_waits_for_its_reader() {
    // A parent (libuv, Node.js) hands molotov a pipe whose open file description is
    // non-blocking, and reads it late. The report is longer than the pipe holds (64 KiB): it
    // was cut there with EAGAIN ("cannot write the text report to stdout: Resource
    // temporarily unavailable", exit 2). It waits for the reader, as on a blocking pipe.
    use std::io::Read;
    let server = target();
    let dir = TempDir::new("nonblocking-stdout");
    let body: String = (0..600)
        .map(|i| format!("  GET /json?i={i}\n  check status == 200\n"))
        .collect();
    let file = dir.write("big.mol", &plan(&base_url(&server), "5s", &body));
    for json in [false, true] {
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        nix::fcntl::fcntl(
            &write_end,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let err_path = dir.0.join(format!("stderr-{json}"));
        let mut child = {
            let mut cmd = molotov();
            cmd.args(["-q", "-w", "2", "-d", "1"]);
            if json {
                cmd.args(["--json", "-"]);
            }
            // The command (and its copy of the write end) is dropped here: the reader sees
            // the end of the stream when molotov exits.
            cmd.arg(&file)
                .stdout(Stdio::from(write_end))
                .stderr(std::fs::File::create(&err_path).unwrap())
                .spawn()
                .unwrap()
        };
        // The reader comes after the run (1 s) has ended and the report is being written.
        std::thread::sleep(Duration::from_secs(3));
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            std::fs::File::from(read_end).read_to_end(&mut out).unwrap();
            out
        });
        let ended = wait_until(Duration::from_secs(30), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !ended {
            let _ = child.kill();
        }
        let status = child.wait().unwrap();
        let out = reader.join().unwrap();
        let err = std::fs::read_to_string(&err_path).unwrap();
        let text = String::from_utf8_lossy(&out);
        let tail: String = text
            .chars()
            .rev()
            .take(300)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(ended, "--json {json}: still running 33 s in\n{err}");
        assert_eq!(
            status.code(),
            Some(0),
            "--json {json}: {status:?}\n{err}\n...{tail}"
        );
        assert!(
            out.len() > 65536,
            "--json {json}: {} bytes\n{err}",
            out.len()
        );
        if json {
            let report: serde_json::Value = serde_json::from_slice(&out)
                .unwrap_or_else(|e| panic!("the JSON on stdout: {e}\n...{tail}"));
            assert_eq!(report["exit_code"], 0, "{err}");
            assert!(err.contains("Result: OK (exit 0)"), "{err}");
        } else {
            assert!(
                text.trim_end().ends_with("Result: OK (exit 0)"),
                "...{tail}\n{err}"
            );
        }
    }
}

/// Whether this kernel charges io_uring rings to RLIMIT_MEMLOCK (before 5.12, and since
/// 6.14), as molotov-core's preflight decides.
fn kernel_charges_rings() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    !((5, 12)..(6, 14)).contains(&version)
}

/// Says why a test is skipped on the test's stderr itself, not through libtest's capture
/// (`eprintln!`), which shows it only for a failed test or with `--nocapture`: a green run
/// that tested nothing says so.
fn say_skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{why}");
}

/// A user id of its own for one run of [`as_a_user_of_its_own`]: the kernel charges io_uring
/// rings to the user, all its processes together (and for some time after they end), so two
/// runs as one shared user (`nobody`, in two copies of this test at once: two CI jobs on one
/// machine) took each other's locked memory. An id no account uses, from this process's id,
/// the time and a counter; setuid to it needs no passwd entry. None when this user namespace
/// does not map it, or a process runs as it.
fn unused_uid() -> Option<u32> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (std::process::id() ^ nanos.rotate_left(13)).wrapping_mul(0x9e37_79b9) ^ n;
    // 0x6d6f_0000..0x6e6f_0000: far above the ids of system and human accounts.
    let uid = 0x6d6f_0000 + (mixed & 0xff_ffff);
    let in_use = std::fs::read_dir("/proc").ok()?.flatten().any(|e| {
        support::proc_status_field(
            e.file_name()
                .to_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0),
            "Uid",
        )
        .is_some_and(|ids| ids.split_whitespace().any(|id| id == uid.to_string()))
    });
    let mapped = std::fs::read_to_string("/proc/self/uid_map")
        .ok()?
        .lines()
        .any(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            f.len() == 3 && (f[0]..f[0] + f[2]).contains(&u64::from(uid))
        });
    (mapped && !in_use).then_some(uid)
}

/// `molotov ARGS FILE` as a user of its own ([`unused_uid`]; no CAP_IPC_LOCK: its rings are
/// charged to its locked memory) with a locked-memory limit of `memlock` bytes, in its own
/// process group. None (and why, printed) when this cannot be done here: not root, no
/// `setpriv`, no free user id, or that user cannot run the binary (a build under a private
/// home).
fn as_a_user_of_its_own(
    args: &[&str],
    file: &Path,
    memlock: u64,
    dir: &TempDir,
) -> Option<Finished> {
    // SAFETY: geteuid(2) only reads.
    if unsafe { libc::geteuid() } != 0 {
        say_skipped("skipped: running molotov as another user (setpriv) needs root");
        return None;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        say_skipped("skipped: no setpriv here");
        return None;
    }
    if !kernel_charges_rings() {
        say_skipped("skipped: this kernel (5.12 to 6.13) does not charge rings to locked memory");
        return None;
    }
    let Some(uid) = unused_uid() else {
        say_skipped("skipped: no unused user id mapped in this user namespace");
        return None;
    };
    let bin = env!("CARGO_BIN_EXE_molotov");
    let as_user = || {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .args(["--clear-groups", bin])
            .stdin(Stdio::null());
        cmd
    };
    let can_run = as_user()
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !can_run {
        say_skipped(&format!(
            "skipped: user id {uid} (no account) cannot run {bin}"
        ));
        return None;
    }
    // A report left by an earlier run (another user's file) cannot be written over.
    let _ = std::fs::remove_file(harness::report_path(dir));
    let mut cmd = as_user();
    cmd.args(args).arg(file).process_group(0);
    limit_locked_memory(&mut cmd, memlock);
    Some(run(&mut cmd, dir, Duration::from_secs(20)))
}

#[test]
fn locked_memory_for_the_rings_of_every_load_process_is_checked_up_front() {
    // The kernel charges each load process's io_uring ring (76 KiB at the default depth) to
    // the user's locked memory, all processes together. 1 MiB passed the old check (512 KiB
    // per process), and 3 or 4 of 16 load processes then died: "cannot start its executor:
    // Cannot allocate memory", exit 4 after a run with fewer processes than asked.
    let (server, dir, file) = json_plan("memlock-rings");
    // The run's user (not root) reads the plan and writes the report in the directory.
    for p in [&dir.0, &file] {
        let mode = if p.is_dir() { 0o777 } else { 0o644 };
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    let Some(finished) = as_a_user_of_its_own(
        &["-q", "-w", "1", "-p", "16", "-d", "1"],
        &file,
        1 << 20,
        &dir,
    ) else {
        return;
    };
    refused_up_front(&finished, &server);
    let err = finished.stderr();
    assert!(
        err.contains(
            "the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l) is 1.0 MiB, but the io_uring \
             rings of 16 processes need 1.2 MiB of it (76.0 KiB each at ring depth 128)"
        ),
        "{}",
        finished.dump()
    );
    assert!(
        !err.contains("cannot start its executor"),
        "{}",
        finished.dump()
    );
    // A deep ring: 1.5 MiB each.
    let finished = as_a_user_of_its_own(
        &[
            "-q",
            "-w",
            "1",
            "-p",
            "2",
            "-d",
            "1",
            "--ring-depth",
            "8192",
        ],
        &file,
        1 << 20,
        &dir,
    )
    .expect("as_a_user_of_its_own ran once: it runs again");
    refused_up_front(&finished, &server);
    assert!(
        finished
            .stderr()
            .contains("1.5 MiB each at ring depth 8192"),
        "{}",
        finished.dump()
    );
    // What fits runs whole: 8 rings of 76 KiB and the probe's 8 KiB in 1 MiB, with the
    // multishot receives' buffer rings too. (The rings of the refused runs are not charged:
    // they never started.)
    let finished = as_a_user_of_its_own(
        &["-q", "-w", "2", "-p", "8", "-d", "1", "--multishot-recv"],
        &file,
        1 << 20,
        &dir,
    )
    .unwrap();
    assert!(
        !finished.stderr().contains("cannot start its executor"),
        "{}",
        finished.dump()
    );
    finished.assert_exit(0);
    finished.assert_sound();
    assert_server_answered_all(&server, &finished);
    // One ring and the probe's in 256 KiB: under the old flat 512 KiB floor, refused. (A user
    // of its own: the rings of the run above, freed some time after it ends, are not
    // charged to it.)
    let finished = as_a_user_of_its_own(
        &["-q", "-w", "1", "-p", "1", "-d", "1"],
        &file,
        256 << 10,
        &dir,
    )
    .unwrap();
    finished.assert_exit(0);
    assert!(finished.total("responses") > 0, "{}", finished.dump());
}

#[test]
fn an_address_space_limit_that_cannot_hold_the_load_processes_fails_up_front() {
    // The load processes inherit `ulimit -v`. With -w 8000 the check counted the master only
    // (29.5 MiB); at that figure the load process aborted (SIGABRT, 0 requests, no word of
    // the limit). Now its workers are counted, and at the figure named the run goes through.
    refused_then_run_at_the_named_address_space(
        &json_plan("address-space-workers"),
        &["-q", "-w", "8000", "-p", "1", "-d", "1"],
        40 << 20,
        &[
            "cannot run a load process within the address-space limit (RLIMIT_AS, ulimit -v) \
             of 40.0 MiB: it starts from the ",
            "and its 8,000 workers need up to ",
        ],
        (Duration::from_secs(30), "responses"),
    );
}

/// Runs `molotov ARGS PLAN` (of `setup`) under an address-space limit of `too_low` bytes:
/// refused up front, its stderr saying each of `said`. Then under the limit it names ("to at
/// least N MiB"): the run goes through within `bound`, with its total `counted` above 0.
fn refused_then_run_at_the_named_address_space(
    (server, dir, file): &(ServerHandle, TempDir, PathBuf),
    args: &[&str],
    too_low: u64,
    said: &[&str],
    (bound, counted): (Duration, &str),
) {
    let mut cmd = molotov();
    cmd.args(args).arg(file);
    limit_address_space(&mut cmd, too_low);
    let finished = run(&mut cmd, dir, Duration::from_secs(20));
    refused_up_front(&finished, server);
    let err = finished.stderr();
    for message in said {
        assert!(
            err.contains(message),
            "expected {message:?}\n{}",
            finished.dump()
        );
    }
    let limit = named_limit(&err, &finished);
    let mut cmd = molotov();
    cmd.args(args).arg(file);
    limit_address_space(&mut cmd, limit);
    let finished = run(&mut cmd, dir, bound);
    finished.assert_exit(0);
    finished.assert_sound();
    assert!(finished.total(counted) > 0, "{}", finished.dump());
    assert_server_answered_all(server, &finished);
}

#[test]
fn an_address_space_limit_that_cannot_hold_the_report_fails_up_front() {
    // `ulimit -v` just above what the stats region needs: the region mapped, the whole run
    // was made, then the master aborted building the report ("memory allocation of 24576
    // bytes failed", exit 134, an empty --json file). Now refused up front with the figures;
    // at the figure it names, the run goes through.
    // It names "to at least 122.7 MiB": that much runs.
    let body: String = (0..100).map(|i| format!("  GET /json?i={i}\n")).collect();
    refused_then_run_at_the_named_address_space(
        &plan_file("address-space", "5s", &body),
        &["-q", "-w", "4", "-p", "1", "-d", "1"],
        84_000_000,
        &[
            "cannot map the stats within the address-space limit (RLIMIT_AS, ulimit -v) of 80.1 MiB: this process uses ",
            "the stats for 100 requests in 3 processes need up to ",
        ],
        (Duration::from_secs(20), "requests"),
    );
}

/// `nohup molotov ...`: SIGHUP was ignored when molotov started, and docs/engine.md promises
/// it stays so; but the master blocked it for its signalfd, and a blocked signal is queued
/// even when ignored: the hang-up stopped the run (exit 130). An ignored stop signal is now
/// left out of the blocked set: the run goes on to its end; SIGTERM still stops it.
#[test]
fn under_nohup_sighup_stays_ignored() {
    let (server, dir, file) = json_plan("nohup");
    for (to_group, then_term) in [(false, false), (true, false), (false, true)] {
        server.reset_counters();
        let mut cmd = molotov();
        cmd.args(["-q", "-p", "2", "-w", "2", "-d", "2"]).arg(&file);
        // SAFETY: signal(2) is async-signal-safe, as pre_exec requires: what `nohup` does.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                Ok(())
            });
        }
        let (child, started) = harness::spawn(&mut cmd, &dir);
        let master = child.id();
        wait_children(master, 2);
        std::thread::sleep(Duration::from_millis(300));
        if to_group {
            // SAFETY: kill(2) on the process group of the master the test started.
            unsafe { libc::kill(-(master as i32), libc::SIGHUP) };
        } else {
            signal(master, libc::SIGHUP);
        }
        if then_term {
            std::thread::sleep(Duration::from_millis(200));
            signal(master, libc::SIGTERM);
        }
        let finished = harness::finish(child, started, &dir, Duration::from_secs(15));
        let case = format!(
            "to the group: {to_group}, then SIGTERM: {then_term}\n{}",
            finished.dump()
        );
        finished.assert_sound();
        if then_term {
            finished.assert_exit(130);
            assert_eq!(finished.json()["ending"], "interrupted", "{case}");
        } else {
            finished.assert_exit(0);
            assert_ne!(finished.json()["ending"], "interrupted", "{case}");
            assert!(finished.elapsed >= Duration::from_secs(2), "{case}");
        }
        assert_server_answered_all(&server, &finished);
        assert_group_gone(master, Duration::from_secs(2));
    }
}

/// [`plan_file`] of 700 requests with long names, whose reports (text and JSON) are larger
/// than a pipe holds (64 KiB).
fn big_report_plan(name: &str) -> (ServerHandle, TempDir, PathBuf) {
    let body: String = (0..700)
        .map(|i| {
            format!("  GET /json?a={i} as request_number_{i}_with_a_long_name_to_fill_the_report\n")
        })
        .collect();
    plan_file(name, "5s", &body)
}

/// With molotov `child` waiting for `reader`, who does not read: after 500 ms it still waits;
/// sends it `sig`, and asserts it dies of that within 3 s (SIGKILL ends it otherwise).
fn assert_stopped_while_waiting(child: &mut std::process::Child, sig: i32, reader: &str) {
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(pid), "molotov ended without its reader");
    signal(pid, sig);
    let ended = wait_until(Duration::from_secs(3), || {
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        signal(pid, libc::SIGKILL);
    }
    let status = child.wait().unwrap();
    assert!(
        ended,
        "signal {sig}: molotov still waits for {reader} 3 s after it"
    );
    assert_eq!(status.signal(), Some(sig), "{status:?}");
}

/// A report file that is a pipe (a named pipe, `--json >(upload)`) whose reader does not
/// read: it was written before the stop signals were given back, and molotov waited in
/// `write` deaf to SIGTERM, SIGINT and SIGHUP (only SIGKILL ended it). Regular files are
/// written first; a file that may wait for its reader is written once the signals act again.
#[test]
fn a_stalled_reader_of_a_report_pipe_does_not_make_molotov_deaf_to_stop_signals() {
    // A JSON report larger than a pipe holds.
    let (server, dir, file) = big_report_plan("stalled-fifo");
    let fifo = dir.0.join("report.fifo");
    let html = dir.0.join("r.html");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for (round, sig) in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP]
        .into_iter()
        .enumerate()
    {
        // A reader that never reads.
        let _reader = std::os::unix::fs::OpenOptionsExt::custom_flags(
            std::fs::OpenOptions::new().read(true),
            libc::O_NONBLOCK,
        )
        .open(&fifo)
        .unwrap();
        let _ = std::fs::remove_file(&html);
        let mut child = molotov()
            .args(["-q", "-r", "1", "--json"])
            .arg(&fifo)
            .arg("--html")
            .arg(&html)
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The regular file is written before the pipe.
        assert!(
            wait_until(Duration::from_secs(20), || std::fs::metadata(&html)
                .is_ok_and(|m| m.len() > 0)),
            "no HTML report"
        );
        assert_eq!(
            server.wait_answered(700 * (round as u64 + 1), Duration::from_secs(5)),
            700 * (round as u64 + 1)
        );
        assert_stopped_while_waiting(&mut child, sig, "the pipe's reader");
    }
}

/// After the run the text report waits for its reader; one that does not read (`| sleep`, a
/// paused pager, a stalled log shipper) kept molotov waiting with SIGINT, SIGTERM and SIGHUP
/// still blocked for a signalfd nobody read any more: only SIGKILL ended it. Once the report
/// files are written the stop signals act again.
#[test]
fn a_stalled_reader_of_the_report_does_not_make_molotov_deaf_to_stop_signals() {
    // A text report larger than a pipe holds.
    let (_server, dir, file) = big_report_plan("stalled-reader");
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let json = dir.0.join("r.json");
        let _ = std::fs::remove_file(&json);
        let mut child = molotov()
            .args(["-q", "-r", "1", "--json"])
            .arg(&json)
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Nobody reads stdout: the report waits once the pipe is full.
        let _stdout = child.stdout.take();
        assert!(
            wait_until(Duration::from_secs(20), || std::fs::metadata(&json)
                .is_ok_and(|m| m.len() > 0)),
            "no report file"
        );
        assert_stopped_while_waiting(&mut child, sig, "its reader");
        assert_eq!(support::read_json(&json)["exit_code"], 0);
    }
}
