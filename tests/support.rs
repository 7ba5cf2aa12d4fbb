//! Shared helpers for the end-to-end tests: run the real `molotov` binary against the in-repo
//! target server on loopback, write plans to temporary files, read the report, find processes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `molotov` binary, started with SIGHUP's default action (see
/// [`hangup_as_from_a_terminal`]).
pub fn molotov() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molotov"));
    cmd.stdin(Stdio::null());
    hangup_as_from_a_terminal(&mut cmd);
    cmd
}

/// Starts `cmd` with SIGHUP's default action, whatever the test run's is. A suite run under
/// `nohup` (or by a runner that ignores SIGHUP) passes the "ignore" on to every process it
/// starts, and molotov keeps an ignored SIGHUP ignored, as it must: the tests that stop
/// molotov with SIGHUP then failed (it ran on). A test of `nohup` itself sets "ignore" after
/// this, in its own `pre_exec`, which runs later.
pub fn hangup_as_from_a_terminal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires, and touches nothing of
    // the parent: it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// A fresh temporary directory for one test, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// The name is made unique by the process and a counter: two tests of one binary that
    /// ask for the same name (it was the pid and `Instant::now().elapsed()`, always about 0)
    /// shared a directory, and one's clean-up removed the other's files.
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("molotov-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `file` with `text` and returns its path.
    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the target server on a free loopback port.
pub fn target() -> molotov_target::ServerHandle {
    molotov_target::start(molotov_target::ServerConfig::default()).unwrap()
}

/// A plan with one scenario sending `GET path` to `base` and checking nothing.
pub fn get_plan(base: &str, path: &str) -> String {
    format!("defaults {{\n  base {base}\n  timeout 5s\n}}\n\nscenario get {{\n  GET {path}\n}}\n")
}

/// Runs to completion with a hard limit; panics (with the output so far) if it hangs.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn molotov");
    wait_bounded(child, limit)
}

/// Waits for `child` with a hard limit.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let until = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > until {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "molotov did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `http://host:port` base URL of `server`.
pub fn base_url(server: &molotov_target::ServerHandle) -> String {
    format!("http://{}", server.addr())
}

/// Writes `get.mol` into `dir`: the plan of [`get_plan`] against `server`.
pub fn write_get_plan(dir: &TempDir, server: &molotov_target::ServerHandle, path: &str) -> PathBuf {
    dir.write("get.mol", &get_plan(&base_url(server), path))
}

/// A fresh target server, a temporary directory `name`, and in it `get.mol`: the plan of
/// [`get_plan`] sending `GET path` to the server.
pub fn get_plan_setup(name: &str, path: &str) -> (molotov_target::ServerHandle, TempDir, PathBuf) {
    let server = target();
    let dir = TempDir::new(name);
    let plan = write_get_plan(&dir, &server, path);
    (server, dir, plan)
}

/// Fails unless `out` exited with `code`, showing its stdout and stderr.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_exit_for(out, code, "molotov");
}

/// Like [`assert_exit`], naming `case` (what this run of several differs by) first.
#[track_caller]
pub fn assert_exit_for(out: &Output, code: i32, case: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{case}: expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Fails unless `server` answers `requests` requests (waiting up to 2 s for the last ones).
#[track_caller]
pub fn assert_answered(server: &molotov_target::ServerHandle, requests: u64, context: &str) {
    let answered = server.wait_answered(requests, Duration::from_secs(2));
    assert_eq!(
        answered, requests,
        "the server answered {answered} of {requests} requests\n{context}"
    );
}

/// Reads and parses a JSON report.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn number(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

/// The request count of the text report (`Requests: N (...)`).
pub fn reported_requests(report: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.starts_with("Requests: "))
        .unwrap_or_else(|| panic!("no Requests line in:\n{report}"));
    number(
        line["Requests: ".len()..]
            .split_whitespace()
            .next()
            .unwrap(),
    )
}

/// (successes, failures) of the report's `SUCCESSES: N | FAILURES: M` line.
pub fn reported_outcomes(report: &str) -> (u64, u64) {
    let line = report
        .lines()
        .find(|l| l.starts_with("SUCCESSES: "))
        .unwrap_or_else(|| panic!("no SUCCESSES line in:\n{report}"));
    let mut parts = line.split('|');
    let s = parts
        .next()
        .unwrap()
        .trim()
        .trim_start_matches("SUCCESSES:")
        .trim();
    let f = parts
        .next()
        .unwrap()
        .trim()
        .trim_start_matches("FAILURES:")
        .trim();
    (number(s), number(f))
}

/// The pids in /proc whose directory satisfies `keep`, sorted.
pub fn pids_where(mut keep: impl FnMut(&Path) -> bool) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if keep(&entry.path()) {
            out.push(pid);
        }
    }
    out.sort();
    out
}

/// Children of `pid` (from /proc).
pub fn children_of(pid: u32) -> Vec<u32> {
    pids_where(|proc_dir| {
        let Ok(status) = std::fs::read_to_string(proc_dir.join("status")) else {
            return false;
        };
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .map(|v| v.trim().parse::<u32>().unwrap_or(0));
        ppid == Some(pid)
    })
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => !status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
        Err(_) => false,
    }
}

/// A /proc status field of `pid`.
pub fn proc_status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on a pid the test started; no memory is involved.
    unsafe { libc::kill(pid as i32, signal) };
}

/// Path helper.
pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
