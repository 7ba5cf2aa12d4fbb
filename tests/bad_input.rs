//! Bad input to the real `molotov` binary: a plan that is missing, unreadable, a directory,
//! binary, huge, endless or not UTF-8; every kind of bad flag value; a host that does not
//! resolve; an invalid URL in a plan; a plan too large for the memory its stats need. Each
//! must end with a clear error and its exit code (2: the plan or a flag; 4: molotov cannot run
//! here; 5: a host does not resolve) before anything is sent; the target server, when there
//! is one, sees no connection at all.

mod harness;
mod support;

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use harness::{Finished, molotov, plan, run};
use support::{TempDir, assert_exit, assert_exit_for, base_url, target};

/// Runs `args` (ending with the plan), at most 20 s.
fn molotov_with(args: &[&str], dir: &TempDir) -> Finished {
    run(molotov().args(args), dir, Duration::from_secs(20))
}

/// The run failed with `code` before doing anything: a message on stderr, no report, no
/// panic, quickly.
fn assert_refused(finished: &Finished, code: i32, message: &str) {
    finished.assert_refused_up_front(code, Duration::from_secs(5));
    let err = finished.stderr();
    assert!(
        err.contains(message),
        "expected {message:?}\n{}",
        finished.dump()
    );
    assert!(!err.contains("panicked"), "{}", finished.dump());
}

#[test]
fn a_missing_plan() {
    let dir = TempDir::new("missing");
    let missing = dir.0.join("nope.mol");
    let finished = molotov_with(&[missing.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "cannot read the plan: no such file");
    assert!(
        finished.stderr().contains("nope.mol"),
        "{}",
        finished.dump()
    );
    // `check` says the same.
    let out = support::run_bounded(
        support::molotov().arg("check").arg(&missing),
        Duration::from_secs(10),
    );
    assert_exit(&out, 2);
    assert!(support::stderr(&out).contains("cannot read the plan: no such file"));
}

#[test]
fn check_takes_several_plans_reports_each_and_exits_with_the_worst() {
    // examples/README.md says `molotov check examples/*.mol`: check took one PLAN only
    // ("unexpected argument", exit 2).
    let dir = TempDir::new("check-several");
    let good = dir.write("a.mol", "scenario s {\n  GET http://127.0.0.1:9/json\n}\n");
    let bad = dir.write("b.mol", "scenario s {\n  thnik 1s\n}\n");
    let other = dir.write("c.mol", "scenario t {\n  GET http://127.0.0.1:9/\n}\n");
    let out = support::run_bounded(
        support::molotov().arg("check").arg(&good).arg(&other),
        Duration::from_secs(10),
    );
    assert_exit(&out, 0);
    let stdout = support::stdout(&out);
    assert!(
        stdout.contains("a.mol: ok (") && stdout.contains("c.mol: ok ("),
        "{stdout}"
    );
    let out = support::run_bounded(
        support::molotov()
            .arg("check")
            .arg(&good)
            .arg(&bad)
            .arg(&other),
        Duration::from_secs(10),
    );
    assert_exit(&out, 2);
    let (stdout, stderr) = (support::stdout(&out), support::stderr(&out));
    assert!(
        stdout.contains("a.mol: ok (") && stdout.contains("c.mol: ok ("),
        "{stdout}"
    );
    assert!(
        stderr.contains("b.mol") && stderr.contains("thnik"),
        "{stderr}"
    );
    // The examples the README names all compile.
    let examples: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mol"))
        .collect();
    assert!(examples.len() > 1);
    let out = support::run_bounded(
        support::molotov().arg("check").args(&examples),
        Duration::from_secs(20),
    );
    assert_exit(&out, 0);
}

#[test]
fn a_url_instead_of_a_plan_says_how_to_make_one() {
    let dir = TempDir::new("url-plan");
    let finished = molotov_with(&["http://127.0.0.1:9/json"], &dir);
    assert_refused(&finished, 2, "cannot read the plan: no such file");
    assert!(
        finished.stderr().contains(
            "molotov runs a plan file, not a URL: save `scenario s { GET http://127.0.0.1:9/json }`"
        ),
        "{}",
        finished.dump()
    );
}

#[test]
fn an_unreadable_plan() {
    let server = target();
    let dir = TempDir::new("unreadable");
    let file = dir.write("secret.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let mut cmd = molotov();
    cmd.arg(&file);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // root reads any file: run as `nobody`, who cannot read a mode 000 file, when
        // `nobody` can run the binary at all (a build under a private home cannot).
        let nobody_can_run = support::molotov()
            .arg("--version")
            .uid(65534)
            .gid(65534)
            .output()
            .is_ok_and(|o| o.status.success());
        if !nobody_can_run {
            eprintln!(
                "skipped: running as root and `nobody` cannot run {}",
                env!("CARGO_BIN_EXE_molotov")
            );
            return;
        }
        cmd.uid(65534).gid(65534);
        // The report goes where nobody may write.
        std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
    }
    let finished = run(&mut cmd, &dir, Duration::from_secs(20));
    assert_refused(&finished, 2, "cannot read the plan: permission denied");
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn a_directory_as_plan() {
    let dir = TempDir::new("directory");
    let sub = dir.0.join("plans.mol");
    std::fs::create_dir(&sub).unwrap();
    let finished = molotov_with(&[sub.to_str().unwrap()], &dir);
    assert_refused(
        &finished,
        2,
        "cannot read the plan: it is a directory, not a file",
    );
}

#[test]
fn a_binary_file_as_plan() {
    let dir = TempDir::new("binary");
    // The start of an ELF file, then bytes that are not UTF-8, an escape sequence that
    // would clear a terminal, and no line break for 20 kB.
    let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0".to_vec();
    bytes.extend_from_slice(b"\x1b[2J\x1b]0;pwned\x07");
    bytes.extend((0..20_000u32).map(|i| (i % 251) as u8 | 0x80));
    let file = dir.0.join("a.out");
    std::fs::write(&file, &bytes).unwrap();
    let finished = molotov_with(&[file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "error: the file is not valid UTF-8");
    let err = finished.stderr();
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "control characters reach the terminal: {err:?}"
    );
    assert!(
        err.len() < 1_000,
        "{} bytes of diagnostics:\n{err}",
        err.len()
    );
    // UTF-16 text is valid UTF-8 (NUL bytes): it gets its own clear message.
    let utf16: Vec<u8> = "scenario s {\n  GET /\n}\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let file = dir.0.join("utf16.mol");
    std::fs::write(&file, utf16).unwrap();
    let finished = molotov_with(&[file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "error: the file contains a NUL byte");
    // With a byte-order mark, as Notepad and PowerShell 5 write it, it is named UTF-16.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "scenario s {\n  GET /\n}\n"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    let file = dir.0.join("utf16-bom.mol");
    std::fs::write(&file, utf16).unwrap();
    let finished = molotov_with(&[file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "error: the file is UTF-16 text, not UTF-8");
    assert!(
        finished.stderr().contains("save it again as UTF-8"),
        "{}",
        finished.dump()
    );
}

#[test]
fn invalid_utf8_in_a_plan_is_located() {
    let server = target();
    let dir = TempDir::new("utf8");
    let mut text = plan(&base_url(&server), "5s", "  GET /json").into_bytes();
    text.extend_from_slice(b"# caf\xe9 (Latin-1)\n");
    let file = dir.0.join("latin1.mol");
    std::fs::write(&file, text).unwrap();
    let finished = molotov_with(&[file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "error: the file is not valid UTF-8");
    assert!(
        finished.stderr().contains("latin1.mol:9:6"),
        "{}",
        finished.dump()
    );
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn a_huge_or_endless_plan_is_refused_without_reading_it_all() {
    let dir = TempDir::new("huge");
    let server = target();
    let mut text = plan(&base_url(&server), "5s", "  GET /json");
    let comment = format!("# {}\n", "x".repeat(1021));
    text.push_str(&comment.repeat((17 << 20) / comment.len()));
    let file = dir.write("huge.mol", &text);
    let finished = molotov_with(&[file.to_str().unwrap()], &dir);
    assert_refused(
        &finished,
        2,
        "cannot read the plan: it is larger than 16 MiB",
    );
    let finished = molotov_with(&["/dev/zero"], &dir);
    assert_refused(
        &finished,
        2,
        "cannot read the plan: it is larger than 16 MiB",
    );
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn a_plan_whose_stats_cannot_fit_in_memory_is_refused_before_forking() {
    // 2,000 request lines in 4,096 processes: over a terabyte of latency histograms.
    let server = target();
    let dir = TempDir::new("stats-memory");
    let body: String = (0..2000)
        .map(|i| format!("  GET /json?line={i}\n"))
        .collect();
    let file = dir.write("many.mol", &plan(&base_url(&server), "5s", &body));
    let finished = molotov_with(
        &["-q", "-p", "4096", "-d", "1", file.to_str().unwrap()],
        &dir,
    );
    assert_refused(
        &finished,
        4,
        "molotov: error: the stats for 2,000 requests in 4,098 processes need up to ",
    );
    assert_eq!(server.connections_accepted(), 0);
}

/// Every bad flag value: exit 2, the flag named, nothing sent.
#[test]
fn every_bad_flag_value_names_the_flag_and_sends_nothing() {
    let server = target();
    let dir = TempDir::new("flags");
    let file = dir.write("plan.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let file = file.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["-w", "0"], "--workers"),
        (&["-w", "-1"], "--workers"),
        (&["-w", "abc"], "--workers"),
        (&["-w", "1.5"], "--workers"),
        (&["-w", "1000001"], "--workers"),
        (&["-p", "0"], "--processes"),
        (&["-p", "-2"], "--processes"),
        (&["-p", "4097"], "--processes"),
        (&["-d", "0"], "--duration"),
        (
            &["-d", "-5s"],
            "--duration <DURATION>': invalid duration \"-5s\": a duration cannot be negative",
        ),
        (&["-d", "10x"], "unknown unit \"x\" (use us, ms, s, m or h)"),
        (&["-d", "1y"], "--duration"),
        (&["-d", ""], "--duration"),
        (&["-d", "5 m"], "--duration"),
        (&["-d", "1e3"], "--duration"),
        (&["-d", "99999999999h"], "--duration"),
        // Durations past 1e9 s, however written: a bare number of seconds used to skip the
        // range check, and then `Instant + d` panicked or the deadline wrapped (a run of
        // 0.3 s that said "completed").
        (
            &["-d", "18446744073709551615"],
            "--duration <DURATION>': invalid duration \"18446744073709551615\": out of range",
        ),
        (&["-d", "18446744074"], "--duration"),
        (&["-d", "1000000001"], "--duration"),
        (
            &["-c", "--console-update", "18446744073709551615"],
            "--console-update",
        ),
        (
            &["--connect-timeout", "18446744073709551615"],
            "--connect-timeout",
        ),
        (&["--delay", "18446744073709551615"], "--delay"),
        (
            &["--spin-before-park", "18446744073709551615"],
            "--spin-before-park",
        ),
        (&["--batch-wait", "18446744073709551615"], "--batch-wait"),
        (&["--grace", "18446744073709551615"], "--grace"),
        (&["--ramp-up", "18446744073709551615"], "--ramp-up"),
        (&["--stages", "18446744073709551615:10"], "--stages"),
        (
            &["--stages", "999999999s:10,999999999s:10"],
            "the stages last more than 1000000000 seconds in all",
        ),
        (
            &["--statsd", "--statsd-interval", "18446744073709551615"],
            "--statsd-interval",
        ),
        (&["-r", "0"], "--max-runs"),
        // The range said is the range taken: `1..18446744073709551615` (Rust's exclusive
        // range) left out a value that runs.
        (&["-r", "0"], "0 is not in 1..=18446744073709551615"),
        (&["-f", "0"], "0 is not in 1..=18446744073709551615"),
        (&["-r", "-1"], "--max-runs"),
        (&["-f", "0"], "--fail"),
        (&["-f", "-2"], "--fail"),
        (&["--grace", "abc"], "--grace"),
        (
            &["--grace", "-1s"],
            "--grace <GRACE>': invalid duration \"-1s\": a duration cannot be negative",
        ),
        (&["--connect-timeout", "0"], "--connect-timeout"),
        (&["--connect-timeout", "-1"], "--connect-timeout"),
        (&["--console-update", "0"], "--console-update"),
        (&["--tls-min", "1.1"], "--tls-min"),
        (&["--seed", "-1"], "--seed"),
        (&["--seed", "x"], "--seed"),
        (&["--rate", "0"], "--rate"),
        (&["--rate", "-5"], "--rate"),
        (&["--rate", "abc"], "--rate"),
        (&["--stages", "10s:x"], "--stages"),
        (&["--stages", "garbage"], "--stages"),
        (&["--stages", "-5"], "--stages"),
        // Above one arrival per nanosecond (1e18 used to run for ever, deaf to Ctrl-C).
        (
            &["--rate", "1e18"],
            "a rate is a finite number of scenario starts per second, at most 1e9",
        ),
        (
            &["--rate", "1e300"],
            "a rate is a finite number of scenario starts per second, at most 1e9",
        ),
        (
            &["--stages", "1s:1e300"],
            "the rate is a finite number of arrivals per second, from 0 to at most 1e9",
        ),
        // Infinite rates are above the bound (they were said to be below 0).
        (
            &["--rate", "inf"],
            "a rate is a finite number of scenario starts per second, at most 1e9",
        ),
        (
            &["--stages", "1s:inf"],
            "the rate is a finite number of arrivals per second, from 0 to at most 1e9",
        ),
        (&["--rate", "nan"], "\"nan\" is not a number"),
        (&["--rate", "0"], "more than 0 (and at most 1e9)"),
        // No arrival at all: refused, not a run of the stages' length that sends nothing.
        (
            &["--stages", "1s:0"],
            "--stages: the schedule has no arrivals",
        ),
        (
            &["--stages", "1s:0,2s:0"],
            "--stages: the schedule has no arrivals",
        ),
        (
            &["--rate", "10", "--ramp-up", "2s"],
            "--ramp-up ramps the workers of the closed model",
        ),
        // A pause after each run is the closed model's: with a rate it only made runs start
        // late (it was accepted, and blamed on busy workers).
        (
            &["--rate", "10", "--delay", "100ms"],
            "--delay pauses each worker after its runs in the closed model",
        ),
        (
            &["--stages", "1s:10", "--delay", "1s"],
            "--delay pauses each worker after its runs in the closed model",
        ),
        (&["--html", "-"], "--html -: the HTML report goes to a file"),
        (&["--spin-before-park", "-1ms"], "--spin-before-park"),
        (&["--ring-depth", "0"], "--ring-depth"),
        (&["--ring-depth", "-4"], "--ring-depth"),
        (&["--ring-depth", "65536"], "--ring-depth"),
        // Past 8192 the kernel refuses the completion queue (8 entries per ring entry, at
        // most 65536): every load process used to fail with a bare EINVAL (exit 4).
        (&["--ring-depth", "8193"], "at most 8192"),
        (&["--ring-depth", "32768"], "at most 8192"),
        (&["--prefetch-from", "-1"], "--prefetch-from"),
        (&["--prefetch-from", "12G"], "--prefetch-from"),
        (&["--prefetch-from", "always"], "--prefetch-from"),
        (
            &["--statsd", "--statsd-interval", "-5"],
            "--statsd-interval",
        ),
        (&["--statsd", "--statsd-port", "-1"], "--statsd-port"),
        (&["--ramp-up", "0"], "--ramp-up"),
        (&["--ramp-up", "-2s"], "--ramp-up"),
        (&["--delay", "-1"], "--delay"),
        (&["--max-late", "0"], "--max-late"),
        (
            &["--max-late", "1s"],
            "--max-late applies to the open model: give --rate or --stages",
        ),
        (
            &["--max-early", "1ms"],
            "--max-early applies to the open model: give --rate or --stages",
        ),
        (
            &["--rate", "10", "--max-early", "2s"],
            "--max-early: at most 1s",
        ),
        (&["--rate", "10", "--max-early", "-1ms"], "--max-early"),
        (
            &["--early-batch", "4"],
            "--early-batch applies to the open model: give --rate or --stages",
        ),
        (&["--rate", "10", "--early-batch", "-1"], "--early-batch"),
        (&["--rate", "10", "--early-batch", "x"], "--early-batch"),
        (&["--sizing-tolerance", "150"], "--sizing-tolerance"),
        (&["--sizing-tolerance", "-1"], "--sizing-tolerance"),
        // Without --sizing it judged nothing, and was dropped without a word.
        (
            &["--sizing-tolerance", "50"],
            "--sizing-tolerance applies to the sizing mode: give --sizing",
        ),
        (
            &["--single-mode", "nosuch"],
            "--single-mode: the plan has no scenario \"nosuch\"",
        ),
        (
            &["--json", "/nonexistent/dir/r.json"],
            "cannot write the JSON report",
        ),
        (
            &["--html", "/nonexistent/dir/r.html"],
            "cannot write the HTML report",
        ),
        (
            &["--cacert", "/nonexistent/ca.pem"],
            "cannot read the CA file /nonexistent/ca.pem",
        ),
        (&["--frobnicate"], "unexpected argument '--frobnicate'"),
        // Other load testers' habits: the number of wrk's `-c 100` was taken for the PLAN,
        // and the real plan was blamed for being a second one, without a word on why.
        (
            &["-c", "100", "-d", "2s"],
            "molotov runs one PLAN, and it was already given: `100` was taken as the PLAN, \
             as -c (--console) takes no value; for 100 concurrent connections (wrk's and \
             hey's -c) give -w 100",
        ),
        // Flags molotov does not have point at its own (clap's tip said `use '-- -t'`).
        (&["-t", "4"], "wrk's threads (-t) are processes here: -p N"),
        (&["-u", "10"], "are workers here: -w N"),
        (&["--vus", "10"], "are workers here: -w N"),
        (
            &["-H", "Accept: text/html"],
            "headers are written in the plan",
        ),
        (&["--host", "http://127.0.0.1:1"], "`base http://host:port`"),
        (&["-q", "-c"], "'--quiet' cannot be used with '--console'"),
        (&["--statsd", "--statsd-port", "0"], "--statsd-port"),
        (&["--statsd", "--statsd-port", "0"], "0 is not in 1..=65535"),
        (
            &["--config", "/nonexistent.json", "--test", "x"],
            "/nonexistent.json",
        ),
        // Endless files: refused after 16 MiB (they used to be read until memory ran out).
        (
            &["--config", "/dev/zero", "--test", "x"],
            "cannot read /dev/zero: it is larger than 16 MiB",
        ),
        (
            &["--cacert", "/dev/zero"],
            "cannot read the CA file /dev/zero: it is larger than 16 MiB",
        ),
    ];
    for (args, message) in cases {
        let out = support::run_bounded(
            support::molotov().args(*args).arg(file),
            Duration::from_secs(10),
        );
        let err = support::stderr(&out);
        assert_exit_for(&out, 2, &format!("{args:?}"));
        assert!(
            err.contains(message),
            "{args:?}: expected {message:?} in\n{err}"
        );
        assert!(!err.contains("panicked"), "{args:?}\n{err}");
        assert!(!support::stdout(&out).contains("Requests:"), "{args:?} ran");
    }
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn a_number_taken_for_the_plan_says_which_flag_took_none() {
    // wrk's `-c 100` with no plan after it: `100` is the PLAN, a file that does not exist.
    let dir = TempDir::new("number-plan");
    let out = support::run_bounded(
        support::molotov().args(["-c", "100"]).current_dir(&dir.0),
        Duration::from_secs(10),
    );
    assert_exit(&out, 2);
    let err = support::stderr(&out);
    assert!(
        err.contains(
            "`100` was taken as the PLAN, as -c (--console) takes no value, and there is no \
             plan file of that name; for 100 concurrent connections (wrk's and hey's -c) give \
             -w 100"
        ),
        "{err}"
    );
    // A file of that name is a plan, run as such.
    let server = target();
    dir.write("100", &plan(&base_url(&server), "5s", "  GET /json"));
    let out = support::run_bounded(
        support::molotov()
            .args(["-c", "100", "-r", "1"])
            .current_dir(&dir.0),
        Duration::from_secs(20),
    );
    assert_exit(&out, 0);
    assert_eq!(server.wait_answered(1, Duration::from_secs(2)), 1);
}

#[test]
fn an_unresolvable_host_exits_5_before_sending() {
    let server = target();
    let dir = TempDir::new("unresolvable");
    // Named directly, and through the environment.
    let file = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  base {}\n  timeout 5s\n}}\n\nscenario s {{\n  GET /json\n  GET http://no-such-host.invalid:8080/x\n}}\n",
            base_url(&server)
        ),
    );
    let finished = molotov_with(&["-q", "-w", "2", "-d", "1", file.to_str().unwrap()], &dir);
    assert_refused(
        &finished,
        5,
        "molotov: error: cannot resolve `no-such-host.invalid` (from http://no-such-host.invalid:8080 in the plan): ",
    );
    assert!(finished.stderr().contains("nothing was sent"));
    let file = dir.write(
        "env.mol",
        "defaults {\n  base {{env.TARGET}}\n}\n\nscenario s {\n  GET /\n}\n",
    );
    let finished = run(
        molotov()
            .env("TARGET", "https://also-not-a-host.invalid")
            .args(["-q", "-d", "1"])
            .arg(&file),
        &dir,
        Duration::from_secs(20),
    );
    assert_refused(&finished, 5, "cannot resolve `also-not-a-host.invalid`");
    // The good origin of the first plan was never contacted either.
    assert_eq!(server.connections_accepted(), 0);
}

#[test]
fn a_host_known_only_at_run_time_fails_its_requests_fast() {
    // The host comes from a response: it cannot be checked before the run. Its requests
    // fail as `resolve` errors, each process looks the name up once, and the run ends on
    // time however slow the resolver is.
    let server = target();
    let dir = TempDir::new("run-time-host");
    let file = dir.write(
        "plan.mol",
        &plan(
            &base_url(&server),
            "2s",
            "  POST /echo\n  {\"host\": \"no-such-host.invalid\"}\n  capture host = jsonpath \"$.host\"\n  GET http://{{host}}:8080/x",
        ),
    );
    let finished = molotov_with(&["-q", "-w", "4", "-d", "2", file.to_str().unwrap()], &dir);
    finished.assert_sound();
    finished.assert_exit(0);
    assert!(
        finished.elapsed < Duration::from_secs(2) + Duration::from_secs(3),
        "{}",
        finished.dump()
    );
    let errors = finished.errors();
    let resolve = errors.get("resolve").copied().unwrap_or(0);
    // A lookup per request would block the executor each time (NXDOMAIN takes 14 ms from
    // the resolver of the development machine, seconds from a slow one): a few hundred at
    // most in 2 s. Failing at once, the workers do thousands.
    assert!(resolve > 500, "{}", finished.dump());
    assert_eq!(errors.len(), 1, "{}", finished.dump());
    assert_eq!(finished.total("failures"), resolve, "{}", finished.dump());
    let message = finished.json()["requests"][1]["first_failure"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("no-such-host.invalid"), "{message}");
}

#[test]
fn an_invalid_url_in_a_plan_is_a_plan_error() {
    let server = target();
    let dir = TempDir::new("bad-url");
    let file = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  base {}\n}}\n\nscenario s {{\n  GET /json\n  GET http://[::1/x\n  GET htp://example.com/\n  GET http://a:99999/\n}}\n",
            base_url(&server)
        ),
    );
    let finished = molotov_with(&[file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "plan.mol:7:7");
    let err = finished.stderr();
    assert!(
        err.contains("plan.mol:8:7") && err.contains("plan.mol:9:7"),
        "{err}"
    );
    let file = dir.write(
        "base.mol",
        "defaults {\n  base ftp://example.com\n}\n\nscenario s {\n  GET /\n}\n",
    );
    let finished = molotov_with(&[file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "base.mol:2:");
    // Colons outside brackets: a plan error at the `base`, not a run with `Host: ::1:PORT`
    // or a host `:` that does not resolve (exit 5).
    let port = server.addr().port();
    for (i, base) in [
        format!("http://::1:{port}"),
        "http://::1".to_string(),
        format!("http://127.0.0.1:{port}:{port}"),
    ]
    .iter()
    .enumerate()
    {
        let file = dir.write(
            &format!("colons{i}.mol"),
            &format!("defaults {{\n  base {base}\n}}\n\nscenario s {{\n  GET /json\n}}\n"),
        );
        let finished = molotov_with(&["-q", "-r", "1", file.to_str().unwrap()], &dir);
        assert_refused(&finished, 2, &format!("colons{i}.mol:2:8"));
        assert!(
            finished
                .stderr()
                .contains("put an IPv6 address in brackets (`[::1]:8080`)"),
            "{}",
            finished.dump()
        );
    }
    // The same in a request's own URL.
    let file = dir.write(
        "colons-get.mol",
        &format!("scenario s {{\n  GET http://127.0.0.1:{port}:{port}/json\n}}\n"),
    );
    let finished = molotov_with(&["-q", "-r", "1", file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "colons-get.mol:2:7");
    assert_eq!(server.connections_accepted(), 0);
}

/// With stderr full (`2>/dev/full`) every warning and error write fails: molotov must still
/// exit with its own code (2 for a plan error; 1 for failures under `-f`, whose report still
/// reaches stdout), never with a panic's 101.
#[test]
fn a_full_stderr_does_not_turn_errors_into_panics() {
    let dir = TempDir::new("stderr-full");
    let run_with_full_stderr = |args: &[&str], plan: &std::path::Path| {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let child = support::molotov()
            .args(args)
            .arg(plan)
            .stdout(std::process::Stdio::piped())
            .stderr(full)
            .spawn()
            .unwrap();
        support::wait_bounded(child, Duration::from_secs(20))
    };

    let broken = dir.write("broken.mol", "scenario s\n  GET /x\n");
    let out = run_with_full_stderr(&[], &broken);
    assert_exit(&out, 2);

    // Port 1 on loopback refuses: every request fails, and -v writes each distinct failure
    // to stderr.
    let refused = dir.write(
        "refused.mol",
        "defaults {\n  base http://127.0.0.1:1\n  timeout 2s\n}\n\nscenario s {\n  GET /x\n}\n",
    );
    let out = run_with_full_stderr(&["-q", "-v", "-f", "1", "-w", "2", "-r", "3"], &refused);
    assert_exit(&out, 1);
    let report = support::stdout(&out);
    assert_eq!(support::reported_requests(&report), 6, "{report}");
    assert!(report.contains("connect_refused      6"), "{report}");
}

#[test]
fn a_report_path_that_is_a_file_of_the_plan_or_the_other_report_is_refused() {
    let server = target();
    let dir = TempDir::new("report-paths");
    std::fs::create_dir(dir.0.join("inc")).unwrap();
    dir.write("inc/common.mol", "let greeting = \"hi\"\n");
    dir.write("body.json", "{\"a\": 1}\n");
    let text = format!(
        "include \"inc/common.mol\"\nscenario a {{\n  POST {}/json\n  file \"body.json\"\n}}\n",
        base_url(&server)
    );
    let file = dir.write("top.mol", &text);
    let top = file.to_str().unwrap();
    let molotov_args = |args: &[&str]| {
        support::run_bounded(support::molotov().args(args), Duration::from_secs(20))
    };
    // The plan itself (also spelled another way), an included file, a `file` body.
    let via_dot = format!("{}/./top.mol", dir.0.display());
    let include = format!("{}/inc/common.mol", dir.0.display());
    let body = format!("{}/body.json", dir.0.display());
    for (flag, path) in [
        ("--json", top),
        ("--html", via_dot.as_str()),
        ("--json", include.as_str()),
        ("--html", body.as_str()),
    ] {
        let out = molotov_args(&["-q", "-r", "1", flag, path, top]);
        assert_exit_for(&out, 2, &format!("{flag} {path}"));
        let err = support::stderr(&out);
        assert!(
            err.contains(&format!(
                "{flag} {path}: the plan is read from that file, and the report would overwrite it"
            )),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert_eq!(
        std::fs::read_to_string(dir.0.join("inc/common.mol")).unwrap(),
        "let greeting = \"hi\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("body.json")).unwrap(),
        "{\"a\": 1}\n"
    );
    // Both reports to one file, named two ways.
    let out_json = format!("{}/out.json", dir.0.display());
    let out_html = format!("{}/inc/../out.json", dir.0.display());
    let out = molotov_args(&[
        "-q", "-r", "1", "--json", &out_json, "--html", &out_html, top,
    ]);
    assert_exit(&out, 2);
    assert!(
        support::stderr(&out).contains("--json and --html name the same file"),
        "{}",
        support::stderr(&out)
    );
    // The same through hard links (another name for the same file, which no path
    // comparison sees): the plan, an included file, a `file` body, then the other report.
    for (name, of) in [
        ("plan-link.mol", "top.mol"),
        ("include-link.mol", "inc/common.mol"),
        ("body-link.json", "body.json"),
    ] {
        let link = dir.0.join(name);
        std::fs::hard_link(dir.0.join(of), &link).unwrap();
        let link = link.to_str().unwrap();
        for flag in ["--json", "--html"] {
            let out = molotov_args(&["-q", "-r", "1", flag, link, top]);
            assert_exit_for(&out, 2, &format!("{flag} {link}"));
            assert!(
                support::stderr(&out).contains(&format!(
                    "{flag} {link}: the plan is read from that file, and the report would \
                     overwrite it"
                )),
                "{}",
                support::stderr(&out)
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert_eq!(
        std::fs::read_to_string(dir.0.join("body.json")).unwrap(),
        "{\"a\": 1}\n"
    );
    let a = dir.write("a.json", "old\n");
    let b = dir.0.join("b.html");
    std::fs::hard_link(&a, &b).unwrap();
    let out = molotov_args(&[
        "-q",
        "-r",
        "1",
        "--json",
        a.to_str().unwrap(),
        "--html",
        b.to_str().unwrap(),
        top,
    ]);
    assert_exit(&out, 2);
    assert!(
        support::stderr(&out).contains("--json and --html name the same file"),
        "{}",
        support::stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "old\n");
    assert_eq!(server.connections_accepted(), 0);
    // Two files of their own are written.
    let r_json = format!("{}/r.json", dir.0.display());
    let r_html = format!("{}/r.html", dir.0.display());
    let out = molotov_args(&["-q", "-r", "1", "--json", &r_json, "--html", &r_html, top]);
    assert_exit(&out, 0);
    assert!(std::fs::metadata(&r_json).unwrap().len() > 0);
    assert!(std::fs::metadata(&r_html).unwrap().len() > 0);
}

#[test]
fn a_named_pipe_as_plan_is_refused_without_waiting_for_a_writer() {
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("plan.mol");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    let finished = molotov_with(&[fifo.to_str().unwrap()], &dir);
    assert_refused(
        &finished,
        2,
        "cannot read the plan: it is a named pipe (FIFO), not a file",
    );
    let out = support::run_bounded(
        support::molotov().arg("check").arg(&fifo),
        Duration::from_secs(10),
    );
    assert_exit(&out, 2);
}

/// `--json`/`--html` naming a named pipe (FIFO) that no process reads: opening it for writing
/// waited for a reader, before the run, silently and for ever. It is refused at once; a
/// named pipe with a reader (`--json >(jq .)`, or a FIFO being read) still gets the report.
#[test]
fn a_report_to_a_named_pipe_without_a_reader_is_refused_at_once() {
    let server = target();
    let dir = TempDir::new("report-fifo");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let fifo = dir.0.join("report.fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    for (flag, what) in [("--json", "JSON"), ("--html", "HTML")] {
        let started = std::time::Instant::now();
        let out = support::run_bounded(
            support::molotov()
                .args(["-q", "-r", "1", flag])
                .arg(&fifo)
                .arg(&file),
            Duration::from_secs(10),
        );
        assert_exit_for(&out, 2, flag);
        assert!(started.elapsed() < Duration::from_secs(5));
        let err = support::stderr(&out);
        assert!(
            err.contains(&format!(
                "cannot write the {what} report to {0}: no reader on the named pipe {0}",
                fifo.display()
            )),
            "{err}"
        );
    }
    assert_eq!(server.connections_accepted(), 0);
    // With a reader: the report goes through the pipe. The reader has the FIFO open before
    // molotov opens it (non-blocking here: no writer yet).
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&reader),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one pollfd that lives for the call; 20 s at most.
        unsafe { libc::poll(&mut pfd, 1, 20_000) };
        nix::fcntl::fcntl(
            &reader,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
        )
        .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &reader, &mut text).unwrap();
        text
    });
    let out = support::run_bounded(
        support::molotov()
            .args(["-q", "-r", "1", "--json"])
            .arg(&fifo)
            .arg(&file),
        Duration::from_secs(20),
    );
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(json["exit_code"], 0);
}

/// A report that cannot be written after the run (a full disk: `/dev/full`) is said on
/// stderr and fails the run with exit 2, as one that cannot be created before it; a reader
/// that went away (`| head -1`) is not an error.
#[test]
fn a_report_lost_to_a_full_disk_fails_the_run_with_exit_2() {
    let server = target();
    let dir = TempDir::new("report-full");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    for (flag, what) in [("--json", "JSON"), ("--html", "HTML")] {
        let out = support::run_bounded(
            support::molotov()
                .args(["-q", "-r", "2", flag, "/dev/full"])
                .arg(&file),
            Duration::from_secs(20),
        );
        assert_exit_for(&out, 2, flag);
        let err = support::stderr(&out);
        assert!(
            err.contains(&format!("cannot write the {what} report to /dev/full")),
            "{err}"
        );
    }
    // The text report itself, with stdout on a full disk.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let child = support::molotov()
        .args(["-q", "-r", "2"])
        .arg(&file)
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = support::wait_bounded(child, Duration::from_secs(20));
    assert_exit(&out, 2);
    assert!(
        support::stderr(&out).contains("cannot write the text report to stdout"),
        "{}",
        support::stderr(&out)
    );
    // A reader that reads one line and goes away: exit 0, no error.
    let mut child = support::molotov()
        .args(["-q", "-r", "2"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = support::wait_bounded(child, Duration::from_secs(20));
    assert_exit(&out, 0);
    assert!(
        !support::stderr(&out).contains("error"),
        "{}",
        support::stderr(&out)
    );
    // The same on stderr, where `--json -` puts the text report (`2>&1 >report.json | head`):
    // it was exit 2, with no word of why.
    let mut child = support::molotov()
        .args(["-q", "-r", "2", "--json", "-"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = support::wait_bounded(child, Duration::from_secs(20));
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 0);
}

/// `molotov check PLAN` with stdout on a full disk, or a pipe whose reader is gone: its "ok"
/// line was printed with `println!`, which panicked (exit 101). Now as for a run's text
/// report: a full disk is said on stderr, exit 2; a reader gone asked for no more, exit 0.
#[test]
fn check_with_stdout_unwritable_does_not_panic() {
    let dir = TempDir::new("check-stdout");
    let file = dir.write("ok.mol", &plan("http://127.0.0.1:9", "5s", "  GET /json"));
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let child = support::molotov()
        .arg("check")
        .arg(&file)
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = support::wait_bounded(child, Duration::from_secs(10));
    let err = support::stderr(&out);
    assert_exit(&out, 2);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("cannot write to stdout: No space left on device"),
        "{err}"
    );
    // A pipe whose reader is gone before molotov writes.
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    drop(read_end);
    let child = support::molotov()
        .arg("check")
        .arg(&file)
        .stdout(std::process::Stdio::from(write_end))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = support::wait_bounded(child, Duration::from_secs(10));
    let err = support::stderr(&out);
    assert_exit(&out, 0);
    assert!(err.is_empty(), "{err}");
}

/// A report that cannot be written makes the exit code 2, and every report that is written
/// says so: the JSON file's `exit_code` and the text report's `Result:` line (they used to say
/// 0 and "OK" while molotov exited 2). A file over the file-size limit (`ulimit -f`) is such a
/// failure, said as one (SIGXFSZ used to kill the master, the JSON cut at the limit); with
/// `--json -`, a text report lost on stderr is one too (it was ignored).
#[test]
fn a_report_not_written_is_said_by_the_reports_that_are() {
    let server = target();
    let dir = TempDir::new("report-consistent");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let json = dir.0.join("ok.json");
    let out = support::run_bounded(
        support::molotov()
            .args(["-q", "-r", "2", "--json"])
            .arg(&json)
            .args(["--html", "/dev/full"])
            .arg(&file),
        Duration::from_secs(20),
    );
    assert_exit(&out, 2);
    assert!(
        support::stderr(&out)
            .contains("cannot write the HTML report to /dev/full: No space left on device"),
        "{}",
        support::stderr(&out)
    );
    let text = support::stdout(&out);
    assert!(
        text.contains(
            "Result: FAILED: the HTML report could not be written (exit 2); the run itself \
             completed"
        ),
        "{text}"
    );
    assert_eq!(support::read_json(&json)["exit_code"], 2);

    // 2 KiB at most per file: the JSON report is larger.
    let big = dir.0.join("fsz.json");
    let mut cmd = support::molotov();
    cmd.args(["-q", "-r", "2", "--json"]).arg(&big).arg(&file);
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let limit = libc::rlimit {
                rlim_cur: 2048,
                rlim_max: 2048,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let out = support::run_bounded(&mut cmd, Duration::from_secs(20));
    assert_exit(&out, 2);
    let err = support::stderr(&out);
    assert!(
        err.contains("cannot write the JSON report to") && err.contains("File too large"),
        "{err}"
    );
    assert!(
        support::stdout(&out)
            .contains("Result: FAILED: the JSON report could not be written (exit 2)"),
        "{}",
        support::stdout(&out)
    );
    // Not half a report: empty.
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 0);

    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    // `--json -` on a full stdout: the reason, and the text report (on stderr) says exit 2.
    let child = support::molotov()
        .args(["-q", "-r", "2", "--json", "-"])
        .arg(&file)
        .stdout(full())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = support::wait_bounded(child, Duration::from_secs(20));
    assert_exit(&out, 2);
    let err = support::stderr(&out);
    assert!(
        err.contains(
            "cannot write the JSON report to stdout: No space left on device (os error 28)"
        ),
        "{err}"
    );
    assert!(
        err.contains("Result: FAILED: the JSON report could not be written (exit 2)"),
        "{err}"
    );
    // `--json -` with the text report lost on a full stderr: exit 2, not 0.
    let child = support::molotov()
        .args(["-q", "-r", "2", "--json", "-"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(full())
        .spawn()
        .unwrap();
    let out = support::wait_bounded(child, Duration::from_secs(20));
    assert_exit(&out, 2);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["totals"]["requests"], 2, "{report}");
}

/// A run refused before it starts (exit 5: a host that does not resolve; exit 4: too few file
/// descriptors) has no report: an existing report file keeps its contents (it used to be
/// emptied), and one it would have created is not left behind. A run that does start
/// replaces a longer previous report whole.
#[test]
fn a_run_refused_before_it_starts_leaves_the_report_files_alone() {
    let server = target();
    let dir = TempDir::new("report-kept");
    let previous_json = format!("{{\"previous\": \"{}\"}}\n", "x".repeat(100_000));
    let keep_json = dir.write("keep.json", &previous_json);
    let keep_html = dir.write("keep.html", "<html>previous</html>\n");
    let new_json = dir.0.join("new.json");
    let new_html = dir.0.join("new.html");
    let unresolvable = dir.write(
        "unresolvable.mol",
        "defaults {\n  base http://no-such-host.invalid\n}\n\nscenario s {\n  GET /json\n}\n",
    );
    let ok = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let unchanged = || {
        assert_eq!(std::fs::read_to_string(&keep_json).unwrap(), previous_json);
        assert_eq!(
            std::fs::read_to_string(&keep_html).unwrap(),
            "<html>previous</html>\n"
        );
        assert!(!new_json.exists() && !new_html.exists());
    };
    for (json, html) in [
        (&keep_json, &keep_html),
        (&new_json, &keep_html),
        (&keep_json, &new_html),
    ] {
        let out = support::run_bounded(
            support::molotov()
                .args(["-q", "-r", "1", "--json"])
                .arg(json)
                .arg("--html")
                .arg(html)
                .arg(&unresolvable),
            Duration::from_secs(20),
        );
        assert_exit(&out, 5);
        unchanged();
    }
    let mut cmd = support::molotov();
    cmd.args(["-q", "-r", "1", "-w", "500", "--json"])
        .arg(&keep_json)
        .arg("--html")
        .arg(&new_html)
        .arg(&ok);
    harness::limit_open_files(&mut cmd, 64);
    let out = support::run_bounded(&mut cmd, Duration::from_secs(20));
    assert_exit(&out, 4);
    assert!(
        support::stderr(&out).contains("file descriptors"),
        "{}",
        support::stderr(&out)
    );
    unchanged();
    assert_eq!(server.connections_accepted(), 0);
    // A run: the previous, longer file is replaced by the report alone.
    let out = support::run_bounded(
        support::molotov()
            .args(["-q", "-r", "1", "--json"])
            .arg(&keep_json)
            .arg(&ok),
        Duration::from_secs(20),
    );
    assert_exit(&out, 0);
    assert_eq!(support::read_json(&keep_json)["exit_code"], 0);
}

/// Runs molotov with `args` and the given stdout and stderr, at most 20 s.
fn molotov_to(
    args: &[&str],
    stdout: impl Into<std::process::Stdio>,
    stderr: impl Into<std::process::Stdio>,
) -> std::process::Output {
    let child = support::molotov()
        .args(args)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    support::wait_bounded(child, Duration::from_secs(20))
}

/// `--json /dev/stdout` with stdout redirected to a file (`>> ci.log`, `> out.txt`): the JSON
/// was written through a file description of its own, which emptied the file (a `>>` log lost
/// its earlier lines) and wrote from its start, and the text report then overwrote the JSON;
/// exit 0. A report path that names molotov's stdout (by device and inode, however spelled)
/// is now `--json -`: the JSON through stdout, in order, and the text report on stderr. A
/// report path naming stderr, or `--html` naming stdout, is refused before the run.
#[test]
fn a_report_path_that_names_molotovs_own_stream_is_that_stream_or_refused() {
    let server = target();
    let dir = TempDir::new("report-stream");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let file = file.to_str().unwrap();
    let log = dir.0.join("ci.log");
    let append = |path: &std::path::Path| {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap()
    };
    // `>> ci.log` and `> ci.log`-after-the-first-line, through /dev/stdout and through the
    // file's own path.
    for json in ["/dev/stdout", log.to_str().unwrap()] {
        std::fs::write(&log, "EARLIER LOG LINE\n").unwrap();
        let out = molotov_to(
            &["-q", "-w", "2", "-r", "3", "--json", json, file],
            append(&log),
            std::process::Stdio::piped(),
        );
        assert_exit_for(&out, 0, json);
        let text = std::fs::read_to_string(&log).unwrap();
        let rest = text
            .strip_prefix("EARLIER LOG LINE\n")
            .unwrap_or_else(|| panic!("{json}: the log's earlier line is gone:\n{text}"));
        let report: serde_json::Value = serde_json::from_str(rest)
            .unwrap_or_else(|e| panic!("{json}: not the JSON report ({e}):\n{rest}"));
        assert_eq!(report["exit_code"], 0);
        assert_eq!(report["totals"]["requests"], 6, "{json}");
        // The text report went to stderr, as with --json -.
        assert!(
            support::stderr(&out).contains("Result: OK (exit 0)"),
            "{}",
            support::stderr(&out)
        );
    }
    // Refused before the run, the file kept: the JSON into stderr's file, the HTML into
    // stdout's or stderr's.
    for (flag, path, stdout_is_log, message) in [
        ("--json", "/dev/stderr", false, "that is molotov's stderr"),
        ("--html", "/dev/stdout", true, "that is molotov's stdout"),
        ("--html", "/dev/stderr", false, "that is molotov's stderr"),
    ] {
        std::fs::write(&log, "EARLIER LOG LINE\n").unwrap();
        let err_file = dir.0.join("err.txt");
        let (out, err) = if stdout_is_log {
            let err = std::fs::File::create(&err_file).unwrap();
            (
                molotov_to(&["-q", "-r", "1", flag, path, file], append(&log), err),
                err_file,
            )
        } else {
            (
                molotov_to(
                    &["-q", "-r", "1", flag, path, file],
                    std::process::Stdio::null(),
                    append(&log),
                ),
                log.clone(),
            )
        };
        assert_exit_for(&out, 2, &format!("{flag} {path}"));
        let said = std::fs::read_to_string(&err).unwrap();
        assert!(
            said.contains(&format!("{flag} {path}: {message}")),
            "{said}"
        );
        assert!(
            std::fs::read_to_string(&log)
                .unwrap()
                .starts_with("EARLIER LOG LINE\n")
        );
    }
    // The two runs' 6 requests each; the refused ones sent nothing.
    assert_eq!(server.wait_answered(12, Duration::from_secs(2)), 12);
}

/// `--json`/`--html` naming the `--config` molotov.json (on the command line, or as the
/// test's own `"html"`) or the `--cacert` file replaced it with the report, exit 0: they are
/// read for the run as the plan is, and now protected as the plan's files are.
#[test]
fn a_report_path_that_names_the_config_or_the_ca_file_is_refused() {
    let server = molotov_target::start(molotov_target::ServerConfig {
        tls: Some(molotov_target::ServerTls::localhost().unwrap()),
        ..molotov_target::ServerConfig::default()
    })
    .unwrap();
    let dir = TempDir::new("report-inputs");
    dir.write(
        "plan.mol",
        &plan(&format!("https://{}", server.addr()), "5s", "  GET /json"),
    );
    let ca = dir.write("ca.pem", server.tls_identity().unwrap().ca_pem());
    let config = |extra: &str| {
        format!(
            r#"{{"molotov": {{"tests": {{"t": {{"plan": "plan.mol", "max_runs": 1, "quiet": true,
               "cacert": "ca.pem"{extra}}}}}}}}}"#
        )
    };
    let cases = [
        (
            config(""),
            vec!["--json", "molotov.json"],
            "--json molotov.json: that is the --config file",
        ),
        (
            config(r#", "html": "molotov.json""#),
            vec![],
            "--html molotov.json: that is the --config file",
        ),
        (
            config(""),
            vec!["--html", "./ca.pem"],
            "--html ./ca.pem: that is the --cacert file",
        ),
    ];
    for (text, extra, message) in cases {
        let json = dir.write("molotov.json", &text);
        let out = support::run_bounded(
            support::molotov()
                .current_dir(&dir.0)
                .args(["--config", "molotov.json", "--test", "t"])
                .args(&extra),
            Duration::from_secs(20),
        );
        assert_exit_for(&out, 2, message);
        let err = support::stderr(&out);
        assert!(err.contains(message), "{err}");
        assert_eq!(std::fs::read_to_string(&json).unwrap(), text);
    }
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert_eq!(server.connections_accepted(), 0);
}

/// `--json latest.json` where latest.json is a symbolic link to a file not made yet (a
/// shell's `>` creates it): refused before the run with "No such file or directory". The
/// link's target is now created, and removed again when the run is refused (exit 5).
#[test]
fn a_report_through_a_dangling_symbolic_link_creates_its_target() {
    let server = target();
    let dir = TempDir::new("report-dangling");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let bad = dir.write(
        "bad.mol",
        &plan("http://no-such-host.invalid", "5s", "  GET /json"),
    );
    let link = dir.0.join("latest.json");
    let run42 = dir.0.join("run-42.json");
    std::os::unix::fs::symlink("run-42.json", &link).unwrap();
    let out = support::run_bounded(
        support::molotov()
            .args(["-q", "-r", "1", "--json"])
            .arg(&link)
            .arg(&bad),
        Duration::from_secs(20),
    );
    assert_exit(&out, 5);
    assert!(
        !run42.exists(),
        "a refused run left the link's target behind"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let out = support::run_bounded(
        support::molotov()
            .args(["-q", "-r", "2", "--json"])
            .arg(&link)
            .arg(&file),
        Duration::from_secs(20),
    );
    assert_exit(&out, 0);
    assert_eq!(support::read_json(&run42)["totals"]["requests"], 2);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// `--json latest.json --html run-42.json`, latest.json a link to run-42.json not made yet
/// (or two dangling links to one missing file): the paths were compared as they were written,
/// both reports went into one file, the JSON was lost, exit 0. A dangling link leads where
/// its target would be created: "the same file", refused before the run.
#[test]
fn a_dangling_link_and_its_target_are_one_report_file() {
    let server = target();
    let dir = TempDir::new("report-dangling-same");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    std::os::unix::fs::symlink("run-42.json", dir.0.join("latest.json")).unwrap();
    // a.json -> b.json -> c.json (missing), h.json -> c.json.
    std::os::unix::fs::symlink("b.json", dir.0.join("a.json")).unwrap();
    std::os::unix::fs::symlink("c.json", dir.0.join("b.json")).unwrap();
    std::os::unix::fs::symlink(dir.0.join("c.json"), dir.0.join("h.json")).unwrap();
    for (json, html, shown) in [
        ("latest.json", "run-42.json", "run-42.json"),
        ("run-42.json", "latest.json", "latest.json"),
        ("a.json", "h.json", "h.json"),
    ] {
        let out = support::run_bounded(
            support::molotov()
                .current_dir(&dir.0)
                .args(["-q", "-r", "1", "--json", json, "--html", html])
                .arg(&file),
            Duration::from_secs(20),
        );
        assert_exit_for(&out, 2, json);
        let err = support::stderr(&out);
        assert!(
            err.contains(&format!(
                "--json and --html name the same file ({shown}): give each report its own"
            )),
            "{json} {html}: {err}"
        );
        for missing in ["run-42.json", "c.json"] {
            assert!(!dir.0.join(missing).exists(), "{json} {html}: {missing}");
        }
    }
    assert_eq!(server.connections_accepted(), 0);
}

/// `--json` naming a Unix socket was said to be "a named pipe" without a reader; it is a
/// socket, which no reader makes writable this way.
#[test]
fn a_report_to_a_unix_socket_is_called_a_socket() {
    let server = target();
    let dir = TempDir::new("report-socket");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let sock = dir.0.join("report.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let out = support::run_bounded(
        support::molotov()
            .args(["-q", "-r", "1", "--json"])
            .arg(&sock)
            .arg(&file),
        Duration::from_secs(20),
    );
    assert_exit(&out, 2);
    let err = support::stderr(&out);
    assert!(err.contains("it is a Unix socket"), "{err}");
    assert!(!err.contains("named pipe"), "{err}");
    assert_eq!(server.connections_accepted(), 0);
}

/// A stream the report goes to that cannot take it, known before the run: `--json -` into a
/// pipe whose reader is gone (`molotov --json - plan | jq` without jq: the whole load was
/// sent, then exit 2), and a stdout open read-only (every write failed with EBADF, which
/// Rust's stdout takes for success: the report lost, "Result: OK", exit 0). Both are refused
/// at once, nothing sent.
#[test]
fn a_report_stream_that_cannot_be_written_is_refused_before_the_run() {
    let server = target();
    let dir = TempDir::new("report-streams");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let file = file.to_str().unwrap();
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    drop(read_end);
    let err = dir.0.join("err.txt");
    let out = molotov_to(
        &["-q", "-d", "2", "--json", "-", file],
        std::process::Stdio::from(write_end),
        std::fs::File::create(&err).unwrap(),
    );
    assert_exit(&out, 2);
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(
        said.contains("cannot write the JSON report to stdout: the pipe has no reader"),
        "{said}"
    );
    let read_only = dir.write("ro.txt", "");
    for (json, what) in [(true, "JSON report"), (false, "text report")] {
        let args: &[&str] = if json {
            &["-q", "-d", "2", "--json", "-", file]
        } else {
            &["-q", "-d", "2", file]
        };
        let out = molotov_to(
            args,
            std::fs::File::open(&read_only).unwrap(),
            std::process::Stdio::piped(),
        );
        assert_exit_for(&out, 2, what);
        let said = support::stderr(&out);
        assert!(
            said.contains(&format!(
                "cannot write the {what} to stdout: it is open for reading only"
            )),
            "{said}"
        );
    }
    assert_eq!(server.connections_accepted(), 0);
}

/// `--json -` into a stdout socket whose other end is closed (a socketpair from a supervisor,
/// systemd's `StandardOutput=socket`): poll says POLLHUP there, not the POLLERR of a pipe
/// without a reader, and the whole load was sent for a report that could not arrive, exit 2
/// at the end. Refused before the run, as the pipe is.
#[test]
fn a_json_report_into_a_closed_socket_is_refused_before_the_run() {
    let server = target();
    let dir = TempDir::new("report-closed-socket");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(ours);
    let err = dir.0.join("err.txt");
    let out = molotov_to(
        &["-q", "-d", "2", "--json", "-", file.to_str().unwrap()],
        std::process::Stdio::from(std::os::fd::OwnedFd::from(theirs)),
        std::fs::File::create(&err).unwrap(),
    );
    assert_exit(&out, 2);
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(
        said.contains("cannot write the JSON report to stdout: its reader has hung up"),
        "{said}"
    );
    assert_eq!(server.connections_accepted(), 0);
}

/// `--json /dev/fd/3 3>>ci.log` (or `/proc/self/fd/3`): the descriptor was opened anew by its
/// path and emptied, and the log lost its earlier lines (only fds 1 and 2 were written
/// through). A report naming any descriptor of molotov's is written through it, at its
/// offset, as `--json -` is through stdout; one open for reading only is refused.
#[test]
fn a_report_to_an_inherited_descriptor_is_written_through_it() {
    let server = target();
    let dir = TempDir::new("report-fd");
    let file = dir.write("ok.mol", &plan(&base_url(&server), "5s", "  GET /json"));
    let log = dir.0.join("ci.log");
    let molotov = env!("CARGO_BIN_EXE_molotov");
    for (flag, path) in [
        ("--json", "/dev/fd/3"),
        ("--json", "/proc/self/fd/3"),
        ("--html", "/dev/fd/3"),
    ] {
        std::fs::write(&log, "EARLIER LOG LINE\n").unwrap();
        let out = support::run_bounded(
            std::process::Command::new("bash")
                .arg("-c")
                .arg(r#"exec "$0" -q -w 2 -r 3 "$1" "$2" "$3" 3>>"$4""#)
                .args([
                    molotov,
                    flag,
                    path,
                    file.to_str().unwrap(),
                    log.to_str().unwrap(),
                ]),
            Duration::from_secs(20),
        );
        assert_exit_for(&out, 0, path);
        let text = std::fs::read_to_string(&log).unwrap();
        let rest = text
            .strip_prefix("EARLIER LOG LINE\n")
            .unwrap_or_else(|| panic!("{flag} {path}: the log's earlier line is gone:\n{text}"));
        if flag == "--json" {
            let report: serde_json::Value = serde_json::from_str(rest)
                .unwrap_or_else(|e| panic!("{path}: not the JSON report ({e}):\n{rest}"));
            assert_eq!(report["totals"]["requests"], 6, "{path}");
        } else {
            assert!(rest.starts_with("<!DOCTYPE html>"), "{rest}");
        }
        // The text report on stdout, as without the descriptor.
        assert!(support::stdout(&out).contains("Result: OK (exit 0)"));
    }
    // Descriptor 3 open for reading only: refused before the run, the file kept.
    let out = support::run_bounded(
        std::process::Command::new("bash")
            .arg("-c")
            .arg(r#"exec "$0" -q -r 1 --json /dev/fd/3 "$1" 3<"$2""#)
            .args([molotov, file.to_str().unwrap(), log.to_str().unwrap()]),
        Duration::from_secs(20),
    );
    assert_exit(&out, 2);
    assert!(
        support::stderr(&out).contains(
            "cannot write the JSON report to /dev/fd/3: descriptor 3 is open for reading only"
        ),
        "{}",
        support::stderr(&out)
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .starts_with("EARLIER LOG LINE\n")
    );
    assert_eq!(server.wait_answered(18, Duration::from_secs(2)), 18);
}

/// `--sizing -r N` was accepted: the workers stopped after N runs, the ramp never built any
/// load, and the run ended "OK" with nothing judged. Refused as `--sizing --single-run` is.
#[test]
fn sizing_with_max_runs_is_refused() {
    let dir = TempDir::new("sizing-max-runs");
    let file = dir.write("ok.mol", &plan("http://127.0.0.1:9", "5s", "  GET /json"));
    let finished = molotov_with(&["-q", "--sizing", "-r", "1", file.to_str().unwrap()], &dir);
    assert_refused(&finished, 2, "--sizing");
    assert!(
        finished.stderr().contains("--max-runs"),
        "{}",
        finished.stderr()
    );
}
