//! Helpers of the reliability suites (`hostile.rs`, `faults.rs`, `bad_input.rs`): run the real
//! `molotov` binary with a JSON report, time it, and check what every run must satisfy (no
//! panic, counts that add up, bounded memory); find every process of a run by its process
//! group, so that orphans are seen even after their parent is gone.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, setrlimit};
use serde_json::Value;

use crate::support::{self, TempDir};

/// What a run left: its output, how long it took, and its JSON report (when it wrote one).
pub struct Finished {
    pub out: Output,
    pub elapsed: Duration,
    pub report: Option<Value>,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    /// Fails unless the run exited with `code`, showing everything.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) {
        assert_eq!(self.code(), Some(code), "{}", self.dump());
    }

    /// The run exited with `code` before sending anything, within `limit`: no report, no
    /// text report.
    #[track_caller]
    pub fn assert_refused_up_front(&self, code: i32, limit: Duration) {
        self.assert_exit(code);
        assert!(self.report.is_none(), "{}", self.dump());
        assert!(!self.stdout().contains("Requests:"), "{}", self.dump());
        assert!(self.elapsed < limit, "{}", self.dump());
    }

    pub fn stdout(&self) -> String {
        support::stdout(&self.out)
    }

    pub fn stderr(&self) -> String {
        support::stderr(&self.out)
    }

    /// Everything, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.out.status,
            self.elapsed,
            self.stdout(),
            self.stderr()
        )
    }

    /// The JSON report; fails the test when there is none.
    pub fn json(&self) -> &Value {
        self.report
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON report\n{}", self.dump()))
    }

    /// A `totals` counter of the JSON report.
    pub fn total(&self, name: &str) -> u64 {
        self.json()["totals"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no totals.{name}\n{}", self.dump()))
    }

    /// Transport errors by kind.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.json()["errors"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Responses by status code.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.json()["status_codes"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The largest peak RSS of any process of the run, the master's included.
    pub fn peak_rss(&self) -> u64 {
        let json = self.json();
        let processes = json["processes"].as_array().cloned().unwrap_or_default();
        processes
            .iter()
            .chain(std::iter::once(&json["master"]))
            .filter_map(|p| p["peak_rss_bytes"].as_u64())
            .max()
            .unwrap_or(0)
    }

    /// How each process ended (`ok`, `killed by SIGKILL`...), by role.
    pub fn exits(&self) -> BTreeMap<String, String> {
        self.json()["processes"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        (
                            p["role"].as_str().unwrap().to_string(),
                            p["exit"].as_str().unwrap_or("running").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What every run must satisfy: no panic anywhere, and every request sent has exactly
    /// one outcome (a response, a transport error, or unfinished when its process was
    /// killed); the per-second series adds up to the totals.
    pub fn assert_sound(&self) {
        let all = format!("{}{}", self.stdout(), self.stderr());
        assert!(!all.contains("panicked"), "a panic\n{}", self.dump());
        assert!(!all.contains("RUST_BACKTRACE"), "a panic\n{}", self.dump());
        let requests = self.total("requests");
        let outcomes = self.total("responses") + self.total("errors") + self.total("unfinished");
        assert_eq!(
            requests,
            outcomes,
            "requests without one outcome\n{}",
            self.dump()
        );
        // Per request name: each request sent once, under its name, with one outcome or
        // unfinished; the names add up to the whole run.
        let names = self.json()["requests"].as_array().unwrap().clone();
        let field = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
        for r in &names {
            assert_eq!(
                field(r, "requests"),
                field(r, "responses") + field(r, "errors") + field(r, "unfinished"),
                "request {} without one outcome\n{}",
                r["name"],
                self.dump()
            );
        }
        let per_name: u64 = names.iter().map(|r| field(r, "requests")).sum();
        assert_eq!(per_name, requests, "per name\n{}", self.dump());
        // Every byte read belongs to the request that was out when it came, failed or not.
        let received: u64 = names.iter().map(|r| field(r, "bytes_received")).sum();
        assert_eq!(
            received,
            self.total("bytes_received"),
            "bytes received per name\n{}",
            self.dump()
        );
        let by_kind: u64 = self.errors().values().sum();
        assert_eq!(
            by_kind,
            self.total("errors"),
            "errors by kind\n{}",
            self.dump()
        );
        let by_status: u64 = self.statuses().values().sum();
        assert_eq!(
            by_status,
            self.total("responses"),
            "statuses\n{}",
            self.dump()
        );
        let series: u64 = self.json()["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["requests"].as_u64().unwrap())
            .sum();
        if !self.json()["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["role"] == "setup" || p["role"] == "teardown")
        {
            assert_eq!(series, requests, "series\n{}", self.dump());
        }
    }
}

/// A `molotov` command in its own process group (so that every process it forks can be
/// found afterwards), with core dumps off (crash tests kill children with SIGSEGV/SIGABRT).
pub fn molotov() -> Command {
    let mut cmd = support::molotov();
    cmd.process_group(0);
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            Ok(())
        });
    }
    cmd
}

/// Sets `resource` of the command to `value` (soft and hard), like `prlimit`.
fn limit_resource(cmd: &mut Command, resource: Resource, value: u64) {
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(move || Ok(setrlimit(resource, value, value)?));
    }
}

/// Limits the open files of the command (soft and hard), like `prlimit --nofile=N:N`.
pub fn limit_open_files(cmd: &mut Command, limit: u64) {
    limit_resource(cmd, Resource::RLIMIT_NOFILE, limit);
}

/// Limits the locked memory of the command (soft and hard), like `prlimit --memlock=N:N`.
pub fn limit_locked_memory(cmd: &mut Command, bytes: u64) {
    limit_resource(cmd, Resource::RLIMIT_MEMLOCK, bytes);
}

/// Limits the address space of the command (soft and hard), like `prlimit --as=N:N`.
pub fn limit_address_space(cmd: &mut Command, bytes: u64) {
    limit_resource(cmd, Resource::RLIMIT_AS, bytes);
}

/// Where a test's report goes.
pub fn report_path(dir: &TempDir) -> PathBuf {
    dir.0.join("report.json")
}

/// Starts `cmd` with `--json` into `dir`, piped output.
pub fn spawn(cmd: &mut Command, dir: &TempDir) -> (Child, Instant) {
    cmd.arg("--json")
        .arg(report_path(dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    (cmd.spawn().expect("spawn molotov"), started)
}

/// Waits for a child started by [`spawn`], at most `limit`, and reads its report.
pub fn finish(child: Child, started: Instant, dir: &TempDir, limit: Duration) -> Finished {
    let out = support::wait_bounded(child, limit);
    let elapsed = started.elapsed();
    let report = std::fs::read(report_path(dir))
        .ok()
        .filter(|b| !b.is_empty())
        .map(|b| serde_json::from_slice(&b).expect("the JSON report parses"));
    Finished {
        out,
        elapsed,
        report,
    }
}

/// Runs to the end (at most `limit`), with a JSON report.
pub fn run(cmd: &mut Command, dir: &TempDir, limit: Duration) -> Finished {
    let (child, started) = spawn(cmd, dir);
    finish(child, started, dir, limit)
}

/// Every live (not zombie) process of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    support::pids_where(|proc_dir| {
        let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// The server answered (by its own count) exactly the requests the run sent.
#[track_caller]
pub fn assert_server_answered_all(server: &molotov_target::ServerHandle, finished: &Finished) {
    support::assert_answered(server, finished.total("requests"), &finished.dump());
}

/// Fails unless every process of the group is gone within `limit`.
pub fn assert_group_gone(pgid: u32, limit: Duration) {
    let gone = support::wait_until(limit, || group_members(pgid).is_empty());
    assert!(
        gone,
        "processes of the run left behind: {:?}",
        group_members(pgid)
    );
}

/// Waits until the master has `n` children, returns them (fails after 10 s).
pub fn wait_children(master: u32, n: usize) -> Vec<u32> {
    assert!(
        support::wait_until(Duration::from_secs(10), || support::children_of(master)
            .len()
            >= n),
        "molotov never had {n} children"
    );
    support::children_of(master)
}

/// A plan with `body` as its only scenario, against `base`, with a request timeout.
pub fn plan(base: &str, timeout: &str, body: &str) -> String {
    format!("defaults {{\n  base {base}\n  timeout {timeout}\n}}\n\nscenario s {{\n{body}\n}}\n")
}

/// The path as a string.
pub fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}
