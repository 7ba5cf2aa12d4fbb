//! Shared helpers for the end-to-end tests: run the real `molotov` binary against the in-repo
//! target server on loopback, write plans to temporary files, read the report, find processes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `molotov` binary.
pub fn molotov() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molotov"));
    cmd.stdin(Stdio::null());
    cmd
}

/// A fresh temporary directory for one test, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "molotov-test-{name}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
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

/// Children of `pid` (from /proc).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .map(|v| v.trim().parse::<u32>().unwrap_or(0));
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out.sort();
    out
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
