//! End-to-end tests of what a user watches: the console lines (`-c`, and stdout not a
//! terminal), `-q`, `-v` failures, `-vv` dumps, the full-screen view driven in a real terminal
//! (tmux), the built-in demo, and the example plans. Real `molotov` binary, real target server
//! on loopback.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// The elapsed seconds of the console's progress lines (`[    1.0s] requests ...`).
fn progress_lines(text: &str) -> Vec<f64> {
    text.lines()
        .filter(|l| l.starts_with('[') && l.contains("s] requests"))
        .map(|l| {
            let inner = &l[1..l.find("s]").unwrap()];
            inner.trim().parse::<f64>().unwrap()
        })
        .collect()
}

#[test]
fn console_prints_one_line_per_interval_into_a_pipe() {
    let (_server, _dir, plan) = get_plan_setup("console", "/json");
    // `-c` explicitly, and no flag at all (stdout is a pipe here, so it behaves as -c).
    for flags in [&["-c"][..], &[][..]] {
        let out = run_bounded(
            molotov()
                .args(flags)
                .args(["-w", "2", "-d", "3", "--console-update", "500ms"])
                .arg(&plan),
            Duration::from_secs(30),
        );
        let text = stdout(&out);
        assert_exit(&out, 0);
        let times = progress_lines(&text);
        // 3 s at one line per 0.5 s: 6 lines (the last may fall just after the end).
        assert!(
            (5..=7).contains(&times.len()),
            "{flags:?}: {times:?}\n{text}"
        );
        for pair in times.windows(2) {
            let step = pair[1] - pair[0];
            assert!((0.35..=0.75).contains(&step), "{flags:?}: steps {times:?}");
        }
        // Each line carries the figures, and the report follows the lines.
        let first = text.lines().find(|l| l.starts_with('[')).unwrap();
        for field in [
            "requests", "rps", "p50", "p99", "failed", "failures", "workers",
        ] {
            assert!(first.contains(field), "{first}");
        }
        let report_at = text.find("Duration:").unwrap();
        assert!(text.rfind("s] requests").unwrap() < report_at);
    }
}

#[test]
fn console_lines_show_the_open_model_backlog() {
    let (_server, _dir, plan) = get_plan_setup("console-rate", "/delay/50");
    // Two workers of 50 ms can start 40 of the 100 runs due each second: the backlog grows
    // by ~60 a second, and the starts due stop at the deadline's 200.
    let out = run_bounded(
        molotov()
            .args(["-c", "-w", "2", "--rate", "100", "-d", "2"])
            .args(["--console-update", "500ms"])
            .arg(&plan),
        Duration::from_secs(30),
    );
    let text = stdout(&out);
    assert_exit(&out, 0);
    let figures: Vec<(f64, u64, u64)> = text
        .lines()
        .filter(|l| l.starts_with('[') && l.contains("s] requests"))
        .map(|l| {
            let elapsed: f64 = l[1..l.find("s]").unwrap()].trim().parse().unwrap();
            let after = |label: &str| -> u64 {
                let rest = &l[l.find(label).unwrap_or_else(|| panic!("{l}")) + label.len()..];
                rest.split_whitespace().next().unwrap().parse().unwrap()
            };
            (elapsed, after("starts due "), after("behind "))
        })
        .collect();
    assert!(figures.len() >= 3, "{text}");
    for &(elapsed, due, behind) in &figures {
        let expected = (100.0 * elapsed.min(2.0)).ceil() as u64;
        assert!(due.abs_diff(expected) <= 10, "{figures:?}\n{text}");
        if elapsed >= 1.0 {
            assert!(behind >= 30 && behind < due, "{figures:?}\n{text}");
        }
    }
}

#[test]
fn quiet_prints_no_live_line() {
    let (_server, _dir, plan) = get_plan_setup("quiet", "/json");
    let out = run_bounded(
        molotov()
            .args(["-q", "-w", "2", "-d", "2", "--console-update", "200ms"])
            .arg(&plan),
        Duration::from_secs(30),
    );
    let text = stdout(&out);
    assert_exit(&out, 0);
    assert!(progress_lines(&text).is_empty(), "{text}");
    assert!(text.starts_with("Duration:"), "{text}");
    assert!(reported_requests(&text) > 0);
    assert_eq!(stderr(&out), "");
}

#[test]
fn verbose_prints_each_distinct_failure_once_with_its_plan_line() {
    let server = target();
    let dir = TempDir::new("verbose");
    let base = format!("http://{}", server.addr());
    let plan = dir.write(
        "v.mol",
        &format!(
            "defaults {{\n  base {base}\n}}\n\n\
             scenario s {{\n  GET /status/503 as flaky\n  check status == 200\n  \
             GET /status/404 as missing\n}}\n\n\
             scenario t {{\n  GET /status/500 as broken\n  assert status == 200\n}}\n"
        ),
    );
    // 2 workers x 40 runs: each scenario fails many times, each site is printed once.
    let out = run_bounded(
        molotov().args(["-v", "-w", "2", "-r", "40"]).arg(&plan),
        Duration::from_secs(30),
    );
    let err = stderr(&out);
    assert_exit(&out, 0);
    // The lines that start with `prefix` and contain `then`: exactly one.
    let once = |prefix: &str, then: &str| {
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with(prefix) && l.contains(then))
            .collect();
        assert_eq!(lines.len(), 1, "{prefix:?} ... {then:?} in:\n{err}");
        lines[0].to_string()
    };
    // An assert: the plan line, the status and the message.
    let assert_line = once("FAILED assert status == 200 at ", "v.mol:13 (status 500): ");
    let message = assert_line.rsplit("): ").next().unwrap();
    assert!(
        message.contains("expected `status == 200`, got 500"),
        "{assert_line}"
    );
    // A check: the plan line, the status of the response it failed on, and what it found,
    // as an assert says it.
    // It only counts (the run goes on, `-x` too): `MISSED`, not `FAILED`.
    once(
        "MISSED check status == 200 at ",
        "v.mol:7 (status 503): expected `status == 200`, got 503",
    );
    // A 404 without a status check fails the request by its status, and the 503 its status
    // check refused too: counted, the run goes on.
    once("BAD STATUS request missing at ", "v.mol:8 (status 404)");
    once("BAD STATUS request flaky at ", "v.mol:6 (status 503)");
    // `FAILED` is only what fails a run: the assert.
    assert_eq!(
        err.lines().filter(|l| l.starts_with("FAILED")).count(),
        1,
        "{err}"
    );
    // And the seed is shown for a re-run.
    assert!(stdout(&out).contains("seed: "), "{}", stdout(&out));
}

#[test]
fn very_verbose_dumps_exchanges_rate_limited() {
    let (_server, _dir, plan) = get_plan_setup("dump", "/json");
    let out = run_bounded(
        molotov().args(["-vv", "-w", "1", "-r", "200"]).arg(&plan),
        Duration::from_secs(30),
    );
    let err = stderr(&out);
    assert_exit(&out, 0);
    let requests = err.lines().filter(|l| *l == "> GET /json HTTP/1.1").count();
    let responses = err.lines().filter(|l| *l == "< HTTP/1.1 200").count();
    assert!(requests >= 1, "{err}");
    assert_eq!(requests, responses, "{err}");
    assert!(err.contains("< {\"ok\":true}"), "{err}");
    // 200 exchanges, at most 5 a second shown.
    assert!(requests < 50, "{requests} dumps: not rate-limited");
    // -vv uses the console view: progress lines on stdout.
    assert!(stdout(&out).contains("Duration:"));
}

/// How many requests the demo's target server says it answered (its last line on stderr).
fn demo_server_answered(err: &str) -> u64 {
    err.lines()
        .find_map(|l| l.strip_prefix("demo target server: answered "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count from the demo server in:\n{err}"))
}

#[test]
fn the_demo_runs_against_its_own_target_server() {
    let out = run_bounded(
        molotov().args(["demo", "-c", "-w", "5", "-d", "2"]),
        Duration::from_secs(40),
    );
    let text = stdout(&out);
    let err = stderr(&out);
    assert_exit(&out, 0);
    assert!(err.contains("molotov: demo: built-in target server on http://127.0.0.1:"));
    let answered = demo_server_answered(&err);
    assert_eq!(reported_requests(&text), answered, "{text}");
    assert!(!progress_lines(&text).is_empty());
    assert!(text.contains("Thresholds: 2 passed, 0 failed"), "{text}");
}

/// `timeout molotov` (the demo): a SIGTERM to the whole process group stops the load
/// gracefully, and the demo's target server, a child too, keeps serving until the load has
/// stopped: every request sent was answered, none failed.
#[test]
fn the_demo_stopped_by_a_sigterm_to_its_group_answers_every_request() {
    use std::os::unix::process::CommandExt;
    let child = molotov()
        .args(["demo", "-c", "-w", "5", "-d", "20"])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn molotov");
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on the process group of the molotov the test started (its own group);
    // no memory is involved.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
    let out = wait_bounded(child, Duration::from_secs(40));
    let text = stdout(&out);
    let err = stderr(&out);
    assert_exit(&out, 130);
    let answered = demo_server_answered(&err);
    assert!(answered > 0, "{text}\n{err}");
    assert_eq!(reported_requests(&text), answered, "{text}\n{err}");
    assert_eq!(reported_outcomes(&text).1, 0, "{text}\n{err}");
    assert!(!err.contains("killed by"), "{err}");
}

/// The demo's target server dying mid-run stays the demo's to reap: the master waits only for
/// its load processes by pid. It used to reap any child (`wait4(-1)`), the dead target among
/// them, and the demo then signalled and waited for a pid the kernel could have given to an
/// unrelated process (SIGUSR1 kills by default).
#[test]
fn the_master_leaves_the_demo_target_to_the_demo() {
    let child = molotov()
        .args(["demo", "-q", "-w", "2", "-d", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn molotov");
    let master = child.id();
    // The target server is the child with threads (a load process has one).
    let threads =
        |pid: &u32| proc_status_field(*pid, "Threads").and_then(|t| t.trim().parse::<u32>().ok());
    let mut target = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            target = children_of(master)
                .into_iter()
                .find(|pid| threads(pid).is_some_and(|n| n > 1));
            target.is_some()
        }),
        "no demo target server among molotov's children"
    );
    let target = target.unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on a child of the molotov this test started; no memory is involved.
    unsafe { libc::kill(target as i32, libc::SIGKILL) };
    // The load goes on for seconds: all that time the dead target is a zombie, its pid held,
    // since nothing but the demo's stop waits for it.
    std::thread::sleep(Duration::from_millis(1500));
    let state = proc_status_field(target, "State");
    assert!(
        state.as_deref().is_some_and(|s| s.contains('Z')),
        "the killed target {target} was reaped mid-run by someone else: state {state:?}"
    );
    let out = wait_bounded(child, Duration::from_secs(40));
    assert!(
        std::fs::metadata(format!("/proc/{target}")).is_err(),
        "the demo did not reap its target\n{}",
        stderr(&out)
    );
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn every_example_plan_compiles_and_runs_against_the_target_server() {
    let server = target();
    let mut plans: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "mol"))
        .collect();
    plans.sort();
    assert!(plans.len() >= 3, "{plans:?}");
    for plan in &plans {
        let out = run_bounded(molotov().arg("check").arg(plan), Duration::from_secs(10));
        assert_exit_for(&out, 0, &format!("check {}", plan.display()));
        let out = run_bounded(
            molotov()
                .env("TARGET", format!("http://{}", server.addr()))
                .args(["-q", "-w", "4", "-r", "20"])
                .arg(plan),
            Duration::from_secs(40),
        );
        let text = stdout(&out);
        assert_exit_for(&out, 0, &plan.display().to_string());
        assert_eq!(reported_outcomes(&text).1, 0, "{}:\n{text}", plan.display());
    }
}

/// A tmux server of its own (`-L`), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn start(name: &str, width: u16, height: u16, shell_command: &str) -> Tmux {
        let t = Tmux {
            socket: format!("molotov-{name}-{}", std::process::id()),
        };
        let status = t
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(shell_command)
            .status()
            .unwrap();
        assert!(status.success());
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"])
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn show(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "t", format])
            .trim()
            .to_string()
    }

    /// The pid of the molotov (the master) run by the pane's shell.
    fn master(&self) -> u32 {
        let shell: u32 = self.show("#{pane_pid}").parse().unwrap();
        *children_of(shell)
            .first()
            .expect("molotov under the pane's shell")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend(keys);
        self.run(&args);
    }

    fn wait_for(&self, limit: Duration, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return screen;
            }
            if Instant::now() > until {
                panic!("{what} never showed; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// The number after `requests ` on the view's "Now" line.
fn live_requests(screen: &str) -> Option<u64> {
    let line = screen
        .lines()
        .find(|l| l.contains("requests ") && l.contains("rps"))?;
    let after = &line[line.find("requests ")? + "requests ".len()..];
    after
        .split_whitespace()
        .next()?
        .replace(',', "")
        .parse()
        .ok()
}

fn exit_code_in(file: &Path, limit: Duration) -> Option<i32> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Some(code) = text.trim().strip_prefix("EXIT=")
        {
            return code.parse().ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// True (and says so) when tmux is missing: the caller returns, skipped.
fn skipped_without_tmux(test: &str) -> bool {
    if Tmux::available() {
        return false;
    }
    eprintln!("SKIPPED {test}: tmux is not installed");
    true
}

/// The pane's shell command: molotov with `args` on `plan` (with `env` assignments in front),
/// then its exit code written to `exit_file`, then a pause that keeps the pane readable.
/// Every path is quoted: a checkout, target dir or TMPDIR with a space (or a quote) in its
/// path is one word to the pane's shell.
fn molotov_in_pane(env: &str, args: &str, plan: &Path, exit_file: &Path) -> String {
    format!(
        "{env}{} {args} {}; echo EXIT=$? > {}; sleep 60",
        sh_quote(Path::new(env!("CARGO_BIN_EXE_molotov"))),
        sh_quote(plan),
        sh_quote(exit_file)
    )
}

/// `path` as one word of a POSIX shell command: in single quotes, each `'` in it as `'\''`.
fn sh_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn sh_quote_makes_one_word_of_any_path() {
    for path in ["/tmp/a b/get.mol", "/tmp/it's/x", "/tmp/$HOME;`x`/\"\\"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", sh_quote(Path::new(path))))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), path);
    }
}

/// Asserts the pane's terminal has `modes` on again (`stty -a`): the view gave it back.
fn assert_terminal_restored(tmux: &Tmux, modes: &[&str]) {
    let tty = tmux.show("#{pane_tty}");
    let stty = Command::new("stty")
        .args(["-a", "-F", &tty])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&stty.stdout).into_owned();
    let words: Vec<&str> = all.split_whitespace().collect();
    for mode in modes {
        assert!(
            words.contains(mode),
            "terminal not restored ({mode}):\n{all}"
        );
    }
}

#[test]
fn the_full_screen_view_in_a_real_terminal() {
    if skipped_without_tmux("the_full_screen_view_in_a_real_terminal") {
        return;
    }
    let (server, dir, plan) = get_plan_setup("tmux", "/json");
    let exit_file = dir.0.join("exit");
    let command = molotov_in_pane("", "-w 4 -d 60", &plan, &exit_file);
    let tmux = Tmux::start("view", 120, 40, &command);

    // The view comes up and its numbers move.
    let first = tmux.wait_for(Duration::from_secs(10), "the live view", |s| {
        s.contains("Requests per second") && live_requests(s).is_some_and(|n| n > 0)
    });
    assert_eq!(tmux.show("#{alternate_on}"), "1", "{first}");
    for needle in [
        "molotov",
        "get.mol",
        "Latency",
        "Requests",
        "Scenarios",
        "q / Ctrl-C: stop",
    ] {
        assert!(first.contains(needle), "no {needle:?} in\n{first}");
    }
    std::thread::sleep(Duration::from_millis(1200));
    let second = tmux.screen();
    assert!(
        live_requests(&second) > live_requests(&first),
        "the numbers did not move:\n{first}\n{second}"
    );
    eprintln!("the live view, captured with tmux capture-pane:\n{second}");

    // The master stays single-threaded with the view up.
    let master = tmux.master();
    assert_eq!(proc_status_field(master, "Threads").as_deref(), Some("1"));

    // Resizes: smaller, tiny (key figures only), and back.
    tmux.run(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    tmux.wait_for(Duration::from_secs(5), "the view at 80x24", |s| {
        s.lines().count() <= 24 && s.contains("Requests per second")
    });
    tmux.run(&["resize-window", "-t", "t", "-x", "50", "-y", "12"]);
    tmux.wait_for(Duration::from_secs(5), "the compact view", |s| {
        s.contains("enlarge")
    });
    tmux.run(&["resize-window", "-t", "t", "-x", "120", "-y", "40"]);
    tmux.wait_for(Duration::from_secs(5), "the view at 120x40", |s| {
        s.contains("Latency (ms)")
    });

    // `q` stops the run gracefully: exit 130, the terminal restored, the report printed.
    tmux.keys(&["q"]);
    assert_eq!(exit_code_in(&exit_file, Duration::from_secs(15)), Some(130));
    let after = tmux.wait_for(Duration::from_secs(5), "the final report", |s| {
        s.contains("Result: FAILED: interrupted (exit 130)")
    });
    assert_eq!(tmux.show("#{alternate_on}"), "0", "{after}");
    assert_terminal_restored(&tmux, &["icanon", "echo", "isig", "opost", "icrnl"]);
    assert!(!alive(master), "the master is still running");
    let reported = after
        .lines()
        .find(|l| l.starts_with("Requests: "))
        .map(reported_requests);
    if let Some(reported) = reported {
        assert_eq!(
            reported,
            server.wait_answered(reported, Duration::from_secs(2))
        );
    }
}

#[test]
fn ctrl_c_twice_in_the_full_screen_view_stops_at_once() {
    if skipped_without_tmux("ctrl_c_twice_in_the_full_screen_view_stops_at_once") {
        return;
    }
    // Every request takes 3 s: a graceful stop has to wait for them.
    let (_server, dir, plan) = get_plan_setup("tmux-ctrl-c", "/delay/3000");
    let exit_file = dir.0.join("exit");
    let command = molotov_in_pane("", "-w 2 -d 60", &plan, &exit_file);
    let tmux = Tmux::start("ctrl-c", 100, 30, &command);
    // The view is up before the load starts (the processes may still be getting ready on a
    // busy machine): wait for both requests to be in flight, so that there is something to
    // wait for.
    tmux.wait_for(Duration::from_secs(10), "both requests in flight", |s| {
        s.contains("Requests per second") && s.contains("in flight 2")
    });
    // In raw mode Ctrl-C is a key: the view turns it into a graceful stop...
    tmux.keys(&["C-c"]);
    tmux.wait_for(Duration::from_secs(5), "the stopping notice", |s| {
        s.contains("stopping")
    });
    // ...and the second into an immediate one, well before the 3 s requests end.
    let second = Instant::now();
    tmux.keys(&["C-c"]);
    assert_eq!(exit_code_in(&exit_file, Duration::from_secs(10)), Some(130));
    assert!(
        second.elapsed() < Duration::from_millis(2500),
        "the second Ctrl-C took {:?}",
        second.elapsed()
    );
    assert_eq!(tmux.show("#{alternate_on}"), "0");
}

#[test]
fn sigterm_and_a_panic_in_the_view_restore_the_terminal() {
    if skipped_without_tmux("sigterm_and_a_panic_in_the_view_restore_the_terminal") {
        return;
    }
    let (_server, dir, plan) = get_plan_setup("tmux-restore", "/json");
    let sane = |tmux: &Tmux| {
        assert_terminal_restored(tmux, &["icanon", "echo", "isig", "opost"]);
        assert_eq!(tmux.show("#{alternate_on}"), "0");
    };
    for (name, env, code) in [
        ("sigterm", "", 130),
        ("panic", "MOLOTOV_TEST_VIEW_PANIC=6 ", 101),
    ] {
        let exit_file = dir.0.join(format!("exit-{name}"));
        let command = molotov_in_pane(env, "-w 2 -d 60", &plan, &exit_file);
        let tmux = Tmux::start(name, 100, 30, &command);
        tmux.wait_for(Duration::from_secs(10), "the live view", |s| {
            s.contains("Requests per second")
        });
        let master = tmux.master();
        let children = children_of(master);
        assert!(!children.is_empty());
        if name == "sigterm" {
            signal(master, libc::SIGTERM);
        }
        assert_eq!(
            exit_code_in(&exit_file, Duration::from_secs(15)),
            Some(code),
            "{name}: {}",
            tmux.screen()
        );
        sane(&tmux);
        let screen = tmux.screen();
        if name == "panic" {
            assert!(screen.contains("MOLOTOV_TEST_VIEW_PANIC"), "{screen}");
        } else {
            assert!(
                screen.contains("Result: FAILED: interrupted (exit 130)"),
                "{screen}"
            );
        }
        for pid in children {
            assert!(
                wait_until(Duration::from_secs(3), || !alive(pid)),
                "{name}: child {pid} left behind"
            );
        }
    }
}

/// What the load processes write to stderr (here: a `let` that cannot be evaluated, said once
/// per worker) shows in the view's events panel, equal lines collapsed, instead of being
/// written over the screen; once the view closes the lines are printed to the terminal.
#[test]
fn the_load_processes_stderr_shows_in_the_view_not_over_it() {
    if skipped_without_tmux("the_load_processes_stderr_shows_in_the_view_not_over_it") {
        return;
    }
    let server = target();
    let dir = TempDir::new("tmux-stderr");
    let plan = dir.write(
        "let.mol",
        &format!(
            "defaults {{\n  base http://{}\n}}\n\nscenario s {{\n  GET /json\n  capture data = jsonpath \"$\"\n  let y = \"{{{{ data.nope }}}}\"\n}}\n",
            server.addr()
        ),
    );
    let exit_file = dir.0.join("exit");
    let command = molotov_in_pane("", "-p 2 -w 3 -d 4", &plan, &exit_file);
    let tmux = Tmux::start("stderr", 120, 40, &command);
    let message = "let.mol:8: `data.nope` is not set";
    let screen = tmux.wait_for(Duration::from_secs(10), "the collapsed stderr line", |s| {
        // Said once per load process (it was once per worker: x6).
        s.contains("Requests per second") && s.contains(&format!("{message} (x2)"))
    });
    assert_eq!(screen.matches(message).count(), 1, "{screen}");
    let line = screen.lines().find(|l| l.contains(message)).unwrap();
    assert!(
        line.trim_start().starts_with('│'),
        "not in the panel: {line}\n{screen}"
    );

    assert_eq!(exit_code_in(&exit_file, Duration::from_secs(15)), Some(0));
    let history = tmux.run(&["capture-pane", "-p", "-t", "t", "-S", "-"]);
    assert_eq!(
        history.matches(message).count(),
        2,
        "the held lines, once each after the view closed:\n{history}"
    );
}

#[test]
fn control_characters_from_the_plan_or_the_server_never_reach_the_terminal_raw() {
    // A CR in a target (sent percent-encoded) named the request with a raw CR in the -v line
    // and the report's table; -vv dumped a header value's escape sequence as it came (such a
    // value is now refused when the plan is compiled, and its diagnostic shows `�` for it).
    let server = target();
    let dir = TempDir::new("control-characters");
    let base = format!("http://{}", server.addr());
    let no_control = |all: &str| {
        assert!(
            !all.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{all:?}"
        );
    };
    let plan = dir.write(
        "c.mol",
        &format!("defaults {{\n  base {base}\n}}\n\nscenario s {{\n  GET /status/404\rx\n}}\n"),
    );
    let out = run_bounded(
        molotov().args(["-vv", "-r", "1"]).arg(&plan),
        Duration::from_secs(30),
    );
    assert_exit(&out, 0);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    no_control(&all);
    assert!(
        all.contains("BAD STATUS request GET /status/404\\rx at "),
        "{all}"
    );
    let plan = dir.write(
        "h.mol",
        &format!(
            "defaults {{\n  base {base}\n}}\n\nscenario s {{\n  GET /\n  \
             X-Ctl: a\u{1}b\u{7f}\u{1b}[2J\n}}\n"
        ),
    );
    let out = run_bounded(
        molotov().args(["-vv", "-r", "1"]).arg(&plan),
        Duration::from_secs(30),
    );
    assert_exit(&out, 2);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    no_control(&all);
    assert!(all.contains("0x01 in the value of `X-Ctl`"), "{all}");
}

/// A run on a fresh pseudo-terminal (its controlling terminal, as a terminal window or an ssh
/// session gives), whose other side the test reads and then closes.
struct PtyRun {
    child: std::process::Child,
    /// Set to close the pty's master side: the reader drops it and ends.
    hang_up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl PtyRun {
    fn start(cmd: &mut Command) -> PtyRun {
        use nix::fcntl::OFlag;
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        // Close-on-exec from the start: a copy of the master side in any process (this one's
        // other tests spawn concurrently) would keep the terminal from hanging up.
        let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .expect("posix_openpt");
        nix::pty::grantpt(&master).unwrap();
        nix::pty::unlockpt(&master).unwrap();
        let name = nix::pty::ptsname_r(&master).unwrap();
        let slave: std::os::fd::OwnedFd = nix::fcntl::open(
            name.as_str(),
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .expect("open the pty's slave side");
        let size = libc::winsize {
            ws_row: 30,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer, valid for the call.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()))
            .env("TERM", "xterm-256color");
        // SAFETY: setsid(2) and ioctl(2) are async-signal-safe; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                // Its own session, the pty (now its stdin) its controlling terminal: closing
                // the master side then hangs the session up (SIGHUP, and EIO on every write).
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn molotov on a pty");
        // Only the child keeps the slave side open (the Command held copies).
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        drop(slave);
        let hang_up = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&hang_up);
        let master = std::fs::File::from(std::os::fd::OwnedFd::from(master));
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 65536];
            while !flag.load(Ordering::SeqCst) {
                let mut fds = [libc::pollfd {
                    fd: master.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                }];
                // SAFETY: poll(2) on one valid descriptor the array describes.
                if unsafe { libc::poll(fds.as_mut_ptr(), 1, 50) } > 0 {
                    match std::io::Read::read(&mut &master, &mut buf) {
                        Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                        _ => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
            // `master` drops here: the terminal is gone.
            seen
        });
        PtyRun {
            child,
            hang_up,
            reader: Some(reader),
        }
    }

    /// Closes the terminal; returns what molotov had drawn on it.
    fn hang_up(&mut self) -> Vec<u8> {
        self.hang_up
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.reader
            .take()
            .map(|r| r.join().unwrap())
            .unwrap_or_default()
    }
}

/// The terminal closed under the run (a closed window, a dropped ssh session): the run stops
/// as for SIGHUP, exit 130, and writes its report files. The full-screen view used to panic
/// while giving the terminal back (ratatui's `Drop` printed "Failed to show the cursor" with
/// `eprintln!` onto the dead terminal): exit 101 and an empty `--json` file.
#[test]
fn a_closed_terminal_stops_the_run_with_its_reports() {
    let (server, dir, plan) = get_plan_setup("hangup", "/json");
    for view in ["full screen", "-c"] {
        let json = dir.0.join(format!("{}.json", view.replace(' ', "-")));
        let html = dir.0.join(format!("{}.html", view.replace(' ', "-")));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_molotov"));
        hangup_as_from_a_terminal(&mut cmd);
        if view == "-c" {
            cmd.arg("-c");
        }
        cmd.args(["-p", "2", "-w", "2", "-d", "60", "--json"])
            .arg(&json)
            .arg("--html")
            .arg(&html)
            .arg(&plan);
        let before = server.requests_answered();
        let mut run = PtyRun::start(&mut cmd);
        assert!(
            wait_until(Duration::from_secs(10), || server.requests_answered()
                > before + 100),
            "{view}: no load"
        );
        std::thread::sleep(Duration::from_millis(500));
        let drawn = run.hang_up();
        let hung_up = Instant::now();
        if view == "full screen" {
            assert!(
                String::from_utf8_lossy(&drawn).contains("Requests per second"),
                "{view}: the view was not up"
            );
        }
        let status = loop {
            if let Some(status) = run.child.try_wait().unwrap() {
                break status;
            }
            if hung_up.elapsed() > Duration::from_secs(15) {
                let _ = run.child.kill();
                panic!("{view}: molotov still running 15 s after the hang-up");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(130), "{view}: {status}");
        let report = read_json(&json);
        assert_eq!(report["exit_code"], 130, "{view}");
        assert_eq!(report["ending"], "interrupted", "{view}");
        let requests = report["totals"]["requests"].as_u64().unwrap();
        assert!(requests > 100, "{view}: {requests}");
        let html = std::fs::read_to_string(&html).unwrap();
        assert!(html.contains("</html>"), "{view}: the HTML report");
    }
}

#[test]
fn control_characters_in_plan_file_names_never_reach_the_terminal_raw() {
    // A plan named with an escape sequence, a BEL and a newline (and an included file named
    // so too): `check`'s line, the -v failure line, the Checks table and the Thresholds lines
    // printed the name raw (retitling the terminal, clearing it); a compile error's newline
    // split its ` --> file:line:col` line in two.
    let server = target();
    let dir = TempDir::new("control-file-names");
    let base = format!("http://{}", server.addr());
    let raw = "t\u{1b}]0;pwned\u{7}\u{1b}[2J\n.mol";
    let shown = "t\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\n.mol";
    let included_raw = "i\u{1b}[31m\n.mol";
    let included_shown = "i\\u{1b}[31m\\n.mol";
    dir.write(included_raw, "scenario other {\n  GET /json\n}\n");
    let plan = dir.write(
        raw,
        &format!(
            "include \"i\\u001b[31m\\n.mol\"\n\ndefaults {{\n  base {base}\n}}\n\nscenario s {{\n  \
             GET /status/500\n  check status == 200\n}}\n\nthreshold p99 < 1s\n"
        ),
    );
    let dir_shown = dir.0.display().to_string();
    let no_raw_controls = |all: &str| {
        assert!(
            !all.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{all:?}"
        );
    };

    let out = run_bounded(molotov().arg("check").arg(&plan), Duration::from_secs(30));
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("{dir_shown}/{shown}: ok (2 scenarios, 2 requests, 1 check, 1 threshold)\n")
    );
    no_raw_controls(&stderr(&out));

    let report = dir.0.join("r.json");
    let out = run_bounded(
        molotov()
            .args([
                "-q",
                "-v",
                "-w",
                "1",
                "-r",
                "1",
                "--single-mode",
                "s",
                "--json",
            ])
            .arg(&report)
            .arg(&plan),
        Duration::from_secs(30),
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    no_raw_controls(&all);
    let at = format!("{dir_shown}/{shown}:9");
    assert!(
        all.contains(&format!("MISSED check status == 200 at {at} (status 500)")),
        "{all}"
    );
    let table = all
        .lines()
        .find(|l| l.trim_start().starts_with("check status == 200"))
        .unwrap_or_else(|| panic!("no Checks table line\n{all}"));
    assert!(table.contains(&at), "{all}");
    let threshold = format!("{dir_shown}/{shown}:12");
    assert!(
        all.lines()
            .any(|l| l.contains("p99 < 1s") && l.ends_with(&threshold)),
        "{all}"
    );
    // The JSON report keeps the plan's true name (JSON-escaped); its locations are the
    // ones printed.
    let json = read_json(&report);
    assert_eq!(json["plan"], plan.display().to_string());
    assert_eq!(json["checks"][0]["location"], at);

    // A compile error in the included file: one ` --> file:line:col` line, escaped, and the
    // note naming the including file escaped too.
    dir.write(included_raw, "scenario other {\n  thnik 1s\n}\n");
    let out = run_bounded(molotov().arg("check").arg(&plan), Duration::from_secs(30));
    assert_exit(&out, 2);
    let err = stderr(&out);
    no_raw_controls(&err);
    assert!(
        err.lines()
            .any(|l| l.trim_start() == format!("--> {dir_shown}/{included_shown}:2:3")),
        "{err}"
    );
    assert!(
        err.contains(&format!("= note: included from {dir_shown}/{shown}:1:1")),
        "{err}"
    );
}

#[test]
fn control_characters_in_paths_given_on_the_command_line_never_reach_the_terminal_raw() {
    // Only the plan's and includes' names were escaped: a `--config`, `--json` or `--html`
    // path, a report that would overwrite the plan, or a word taken as the PLAN was printed
    // as typed, escape sequences and all.
    let dir = TempDir::new("control-paths");
    let plan = dir.write("p.mol", "scenario s {\n  GET http://127.0.0.1:9/\n}\n");
    let raw_dir = dir.0.join("no\u{1b}[2Jsuch");
    let shown_dir = format!("{}/no\\u{{1b}}[2Jsuch", dir.0.display());
    let no_raw_controls = |all: &str| {
        assert!(
            !all.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{all:?}"
        );
    };
    let cases: Vec<(Vec<std::ffi::OsString>, String)> = vec![
        (
            vec!["--config".into(), raw_dir.join("m.json").into()],
            format!("cannot read {shown_dir}/m.json"),
        ),
        (
            vec![
                "--json".into(),
                raw_dir.join("r.json").into(),
                plan.clone().into(),
            ],
            format!("cannot write the JSON report to {shown_dir}/r.json"),
        ),
        (
            vec![
                "--html".into(),
                raw_dir.join("r.html").into(),
                plan.clone().into(),
            ],
            format!("to {shown_dir}/r.html"),
        ),
        (
            vec!["-c".into(), "1\u{1b}[31m".into(), plan.clone().into()],
            "`1\\u{1b}[31m` was taken as the PLAN".to_string(),
        ),
    ];
    for (args, said) in cases {
        let out = run_bounded(molotov().args(&args), Duration::from_secs(30));
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let all = format!("{}{}", stdout(&out), stderr(&out));
        no_raw_controls(&all);
        assert!(all.contains(&said), "{args:?}: {all}");
    }
}

/// Text from the server in a `log` line is escaped as `-v` failures escape it: a captured
/// `\u001b[2J` cleared the screen (and `\u001b]0;...\u0007` set the terminal's title), while
/// the `MISSED` line just above showed the same value escaped.
#[test]
fn a_logged_value_from_the_server_cannot_drive_the_terminal() {
    let server = target();
    let dir = TempDir::new("log-escapes");
    let plan = dir.write(
        "plan.mol",
        &format!(
            "scenario s {{\n  POST {}/echo\n  {{\"msg\": \"\\u001b]0;owned\\u0007\\u001b[2Jhello\"}}\n  capture m = jsonpath \"$.msg\"\n  log \"server said {{{{m}}}}\"\n}}\n",
            base_url(&server)
        ),
    );
    let out = run_bounded(
        molotov()
            .arg(&plan)
            .args(["-r", "1", "-p", "1", "-w", "1", "-v"]),
        Duration::from_secs(60),
    );
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(
        err.contains("server said \\u{1b}]0;owned\\u{7}\\u{1b}[2Jhello"),
        "{err}"
    );
}
