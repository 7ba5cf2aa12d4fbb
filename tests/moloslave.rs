//! End-to-end tests of `moloslave REPO TEST`: a local git repository made by the test, with a
//! plan and a `molotov.json` whose `env` the plan uses, run against the in-repo target server;
//! the exit code, the counts, `--branch`/`--ref`, every error, Ctrl-C and SIGTERM, and that
//! the temporary clone is gone afterwards every time. moloslave's `TMPDIR` is a directory of
//! the test, so "gone" is checked exactly.

mod support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn moloslave(tmp: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moloslave"));
    cmd.stdin(Stdio::null()).env("TMPDIR", tmp);
    hangup_as_from_a_terminal(&mut cmd);
    cmd
}

/// Runs git in `dir` with a fixed identity and no user or system configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=molotov tests",
            "-c",
            "user.email=tests@molotov.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const PLAN: &str = "defaults {\n  base {{env.SHOP_URL}}\n  timeout 5s\n}\n\n\
                    scenario get {\n  GET /json as ping\n  check status == 200\n}\n";

const FAILING_PLAN: &str = "defaults {\n  base {{env.SHOP_URL}}\n  timeout 5s\n}\n\n\
                            scenario bad {\n  GET /status/500\n  assert status == 200\n}\n";

fn molotov_json(url: &str, smoke_runs: u32) -> String {
    format!(
        r#"{{"molotov": {{
  "env": {{"SHOP_URL": "{url}"}},
  "requirements": "requirements.txt",
  "tests": {{
    "smoke": {{"workers": 2, "max_runs": {smoke_runs}, "quiet": true, "plan": "plans/get.mol"}},
    "failing": {{"workers": 1, "max_runs": 2, "quiet": true, "fail": 1, "scenario": "plans/bad.mol"}},
    "long": {{"workers": 2, "duration": 30, "quiet": true, "plan": "plans/get.mol"}}
  }}
}}}}"#
    )
}

/// A repository: `main` with two commits (smoke: 3 runs, then 5), `other` with 1 run.
struct Repo {
    dir: TempDir,
    first_commit: String,
}

/// `tag` keeps the directories of tests running at once apart (support's `TempDir` names
/// depend on the tag and the process only).
fn repo(tag: &str, url: &str) -> Repo {
    let dir = TempDir::new(&format!("slave-repo-{tag}"));
    git(&dir.0, &["init", "-q"]);
    std::fs::create_dir_all(dir.0.join("plans")).unwrap();
    dir.write("plans/get.mol", PLAN);
    dir.write("plans/bad.mol", FAILING_PLAN);
    dir.write("molotov.json", &molotov_json(url, 3));
    git(&dir.0, &["add", "."]);
    git(&dir.0, &["commit", "-q", "-m", "first"]);
    let first_commit = git(&dir.0, &["rev-parse", "HEAD"]);
    git(&dir.0, &["checkout", "-q", "-b", "other"]);
    dir.write("molotov.json", &molotov_json(url, 1));
    git(&dir.0, &["commit", "-q", "-am", "other"]);
    git(&dir.0, &["checkout", "-q", "main"]);
    dir.write("molotov.json", &molotov_json(url, 5));
    git(&dir.0, &["commit", "-q", "-am", "second"]);
    Repo { dir, first_commit }
}

/// The clones moloslave left in `tmp`.
fn leftovers(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// The working directory moloslave announced.
fn working_dir(out: &Output) -> PathBuf {
    let err = stderr(out);
    err.lines()
        .find_map(|l| l.strip_prefix("moloslave: working directory is "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no working directory in:\n{err}"))
}

fn scratch(tag: &str) -> TempDir {
    TempDir::new(tag)
}

/// A fresh target server, [`repo`] `tag` against it, and a scratch directory `tmp_tag` for
/// moloslave's `TMPDIR`.
fn server_repo_tmp(tag: &str, tmp_tag: &str) -> (molotov_target::ServerHandle, Repo, TempDir) {
    let server = target();
    let repo = repo(tag, &base_url(&server));
    (server, repo, scratch(tmp_tag))
}

/// Runs `moloslave REPO TEST` with `TMPDIR=tmp`, bounded (60 s).
fn run_test(tmp: &Path, repo: &Path, test: &str) -> Output {
    run_bounded(moloslave(tmp).arg(repo).arg(test), Duration::from_secs(60))
}

/// `moloslave REPO long` (a 30 s test) with `TMPDIR=tmp`, in a process group of its own,
/// its output piped: to spawn.
fn long_test(tmp: &Path, repo: &Path) -> Command {
    let mut cmd = moloslave(tmp);
    cmd.arg(repo)
        .arg("long")
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn runs_a_test_of_a_repository_and_removes_the_clone() {
    let (server, repo, tmp) = server_repo_tmp("run", "slave-tmp");
    let out = run_test(&tmp.0, &repo.dir.0, "smoke");
    let report = stdout(&out);
    assert_exit(&out, 0);
    // main's latest molotov.json: 2 workers x 5 runs, against the URL from its env.
    assert_eq!(reported_outcomes(&report), (10, 0), "{report}");
    assert_eq!(server.wait_answered(10, Duration::from_secs(2)), 10);
    assert!(stderr(&out).contains("is not needed"), "{}", stderr(&out));
    let clone = working_dir(&out);
    assert!(clone.starts_with(&tmp.0), "{clone:?}");
    assert!(!clone.exists(), "{clone:?} is still there");
    assert!(leftovers(&tmp.0).is_empty(), "{:?}", leftovers(&tmp.0));
}

#[test]
fn a_test_s_report_path_may_not_leave_the_clone() {
    // The repository is someone else's: a test's `"json": "/any/path"` replaced that file
    // with a report. Refused before molotov runs; the command line's own path is taken.
    let server = target();
    let url = base_url(&server);
    let dir = TempDir::new("slave-repo-outside");
    git(&dir.0, &["init", "-q"]);
    std::fs::create_dir_all(dir.0.join("plans")).unwrap();
    dir.write("plans/get.mol", PLAN);
    let victim = scratch("slave-victim");
    let victim_file = victim.write("victim.txt", "precious\n");
    std::os::unix::fs::symlink(&victim.0, dir.0.join("out")).unwrap();
    let test = |key: &str, path: &str| {
        format!(
            r#"{{"workers": 1, "max_runs": 1, "quiet": true, "plan": "plans/get.mol", "{key}": "{path}"}}"#
        )
    };
    dir.write(
        "molotov.json",
        &format!(
            r#"{{"molotov": {{"env": {{"SHOP_URL": "{url}"}}, "tests": {{
  "abs": {},
  "up": {},
  "link": {},
  "inside": {}
}}}}}}"#,
            test("json", &victim_file.display().to_string()),
            test("html", "../../victim.html"),
            test("json", "out/victim.txt"),
            test("json", "report.json")
        ),
    );
    git(&dir.0, &["add", "."]);
    git(&dir.0, &["commit", "-q", "-m", "first"]);
    let tmp = scratch("slave-tmp-outside");
    for name in ["abs", "up", "link"] {
        let out = run_test(&tmp.0, &dir.0, name);
        assert_exit_for(&out, 2, name);
        assert!(
            stderr(&out).contains(
                "leaves the clone: a repository's test may write its reports only inside its clone"
            ),
            "{name}: {}",
            stderr(&out)
        );
    }
    assert_eq!(std::fs::read_to_string(&victim_file).unwrap(), "precious\n");
    assert_eq!(server.requests_answered(), 0);
    // Inside the clone, it runs; a path given on the command line replaces the test's.
    let out = run_test(&tmp.0, &dir.0, "inside");
    assert_exit(&out, 0);
    let mine = victim.0.join("mine.json");
    let out = run_bounded(
        moloslave(&tmp.0)
            .arg(&dir.0)
            .arg("abs")
            .arg("--")
            .arg("--json")
            .arg(&mine),
        Duration::from_secs(60),
    );
    assert_exit(&out, 0);
    assert!(mine.exists());
    assert_eq!(std::fs::read_to_string(&victim_file).unwrap(), "precious\n");
    assert!(leftovers(&tmp.0).is_empty(), "{:?}", leftovers(&tmp.0));
}

#[test]
fn branch_and_ref_pick_the_revision() {
    let (_server, repo, tmp) = server_repo_tmp("rev", "slave-rev");
    for (flag, value, runs) in [
        ("--branch", "other".to_string(), 2),
        ("--ref", repo.first_commit.clone(), 6),
        ("--ref", "other".to_string(), 2),
    ] {
        let out = run_bounded(
            moloslave(&tmp.0)
                .args([flag, &value])
                .arg(&repo.dir.0)
                .arg("smoke"),
            Duration::from_secs(60),
        );
        let report = stdout(&out);
        assert_exit_for(&out, 0, &format!("{flag} {value}"));
        assert_eq!(reported_outcomes(&report), (runs, 0), "{flag} {value}");
        assert!(leftovers(&tmp.0).is_empty());
    }
}

#[test]
fn the_exit_code_is_molotovs() {
    let (_server, repo, tmp) = server_repo_tmp("exit", "slave-exit");
    let out = run_test(&tmp.0, &repo.dir.0, "failing");
    let report = stdout(&out);
    // 2 failed runs with "fail": 1: molotov exits 1.
    assert_exit(&out, 1);
    assert_eq!(reported_outcomes(&report), (0, 2), "{report}");
    assert!(report.contains("--fail 1"), "{report}");
    assert!(leftovers(&tmp.0).is_empty());
    // Flags after `--` go to molotov and win over the test's.
    let out = run_bounded(
        moloslave(&tmp.0)
            .arg(&repo.dir.0)
            .args(["smoke", "--", "-r", "1", "-w", "1"]),
        Duration::from_secs(60),
    );
    assert_exit(&out, 0);
    assert_eq!(reported_outcomes(&stdout(&out)), (1, 0));
}

#[test]
fn errors_are_clear_and_leave_nothing_behind() {
    let repo = repo("errors", "http://127.0.0.1:1");
    let bare = TempDir::new("slave-no-config");
    git(&bare.0, &["init", "-q"]);
    bare.write("README", "no molotov.json here\n");
    git(&bare.0, &["add", "."]);
    git(&bare.0, &["commit", "-q", "-m", "readme"]);
    // A hostile repository: its molotov.json is a link to an endless file. moloslave used to
    // read it until memory ran out (and die, its clone left behind).
    let endless = TempDir::new("slave-endless");
    git(&endless.0, &["init", "-q"]);
    std::os::unix::fs::symlink("/dev/zero", endless.0.join("molotov.json")).unwrap();
    git(&endless.0, &["add", "."]);
    git(&endless.0, &["commit", "-q", "-m", "endless"]);
    let tmp = scratch("slave-errors");
    let no_git = TempDir::new("slave-no-git");
    let missing = repo.dir.0.join("does-not-exist");
    let cases: Vec<(Vec<std::ffi::OsString>, Option<&Path>, i32, &str)> = vec![
        (
            vec![missing.clone().into(), "smoke".into()],
            None,
            2,
            "git clone of",
        ),
        (
            vec![bare.0.clone().into(), "smoke".into()],
            None,
            2,
            "has no molotov.json at its top",
        ),
        (
            vec![endless.0.clone().into(), "smoke".into()],
            None,
            2,
            "molotov.json: it is larger than 16 MiB",
        ),
        (
            vec![repo.dir.0.clone().into(), "nope".into()],
            None,
            2,
            "there is no test \"nope\"; its tests are: failing, long, smoke",
        ),
        (
            vec![
                "--ref".into(),
                "no-such-rev".into(),
                repo.dir.0.clone().into(),
                "smoke".into(),
            ],
            None,
            2,
            "git checkout of \"no-such-rev\" failed",
        ),
        (
            vec![
                "--ref=--upload-pack=x".into(),
                repo.dir.0.clone().into(),
                "smoke".into(),
            ],
            None,
            2,
            "cannot start with '-'",
        ),
        (
            vec![repo.dir.0.clone().into(), "smoke".into()],
            Some(&no_git.0),
            4,
            "git is not installed",
        ),
    ];
    for (args, path, code, want) in cases {
        let mut cmd = moloslave(&tmp.0);
        cmd.args(&args);
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        let out = run_bounded(&mut cmd, Duration::from_secs(60));
        let err = stderr(&out);
        assert_exit_for(&out, code, &format!("{args:?}"));
        assert!(err.contains(want), "{args:?}: want {want:?} in\n{err}");
        assert!(
            leftovers(&tmp.0).is_empty(),
            "{args:?}: {:?}",
            leftovers(&tmp.0)
        );
    }
}

/// The molotov run by moloslave `pid`, once its load processes exist.
/// Waits (30 s at most) for moloslave `pid` to run molotov with its load processes: that
/// molotov's pid.
fn wait_for_molotov(pid: u32) -> u32 {
    let mut molotov = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            molotov = running_molotov(pid);
            molotov.is_some()
        }),
        "molotov did not start"
    );
    molotov.unwrap()
}

fn running_molotov(pid: u32) -> Option<u32> {
    children_of(pid).into_iter().find(|&c| {
        std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == "molotov")
            && !children_of(c).is_empty()
    })
}

#[test]
fn ctrl_c_and_sigterm_stop_the_run_and_remove_the_clone() {
    let (_server, repo, tmp) = server_repo_tmp("signals", "slave-signals");
    // Ctrl-C: the terminal signals the whole foreground group (here: moloslave's own group).
    // SIGTERM: sent to moloslave alone, which passes it on.
    for (to_group, sig) in [(true, libc::SIGINT), (false, libc::SIGTERM)] {
        let child = long_test(&tmp.0, &repo.dir.0).spawn().unwrap();
        let pid = child.id();
        wait_for_molotov(pid);
        let started = Instant::now();
        let target = if to_group { -(pid as i32) } else { pid as i32 };
        // SAFETY: kill(2) on the process (group) this test started; no memory is involved.
        unsafe { libc::kill(target, sig) };
        let out = wait_bounded(child, Duration::from_secs(30));
        let report = stdout(&out);
        assert_exit_for(&out, 130, &format!("{sig}"));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        assert!(report.contains("Result: FAILED: interrupted"), "{report}");
        assert!(!working_dir(&out).exists());
        assert!(leftovers(&tmp.0).is_empty(), "{:?}", leftovers(&tmp.0));
    }
}

/// moloslave killed (SIGKILL; a crash or the OOM killer alike) while molotov runs a test with
/// no end of its own: molotov used to run on, orphaned, for ever. It now gets SIGTERM from
/// the kernel and stops gracefully, with its report.
#[test]
fn molotov_stops_when_moloslave_is_killed() {
    let (server, repo, tmp) = server_repo_tmp("killed", "slave-killed");
    let report = tmp.0.join("report.json");
    let mut child = long_test(&tmp.0, &repo.dir.0)
        .arg("--")
        .arg("--json")
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let molotov = wait_for_molotov(pid);
    std::thread::sleep(Duration::from_millis(300));
    signal(pid, libc::SIGKILL);
    child.wait().unwrap();
    let killed = Instant::now();
    let stopped = wait_until(Duration::from_secs(10), || !alive(molotov));
    if !stopped {
        // Do not leave it running against the server.
        signal(molotov, libc::SIGKILL);
    }
    assert!(
        stopped,
        "molotov still running 10 s after moloslave was killed"
    );
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );
    // A graceful stop, with its report (the `long` test lasts 30 s).
    let json = read_json(&report);
    assert_eq!(json["exit_code"], 130, "{json}");
    assert_eq!(json["ending"], "interrupted");
    let requests = json["totals"]["requests"].as_u64().unwrap();
    assert!(requests > 0);
    assert_answered(&server, requests, "");
    // The clone is left: nobody is there to remove it.
    for dir in leftovers(&tmp.0) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGINT sent to moloslave alone (`kill -INT`, a supervisor or CI runner whose stop signal
/// it is) was dropped while molotov ran (the test ran to its end, for ever without a
/// duration), and obeyed during a clone only once git had cloned everything. Only the
/// terminal's Ctrl-C (from the kernel, which signals the whole group) is not passed on now;
/// a process's SIGINT is, like SIGTERM: molotov stops gracefully, exit 130.
#[test]
fn sigint_sent_to_moloslave_alone_is_passed_on() {
    let (_server, repo, tmp) = server_repo_tmp("sigint-alone", "slave-sigint-alone");
    let child = long_test(&tmp.0, &repo.dir.0).spawn().unwrap();
    let pid = child.id();
    wait_for_molotov(pid);
    let started = Instant::now();
    signal(pid, libc::SIGINT);
    let out = wait_bounded(child, Duration::from_secs(40));
    assert_exit(&out, 130);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stdout(&out).contains("Result: FAILED: interrupted"),
        "{}",
        stdout(&out)
    );
    assert!(leftovers(&tmp.0).is_empty(), "{:?}", leftovers(&tmp.0));
}

/// `nohup moloslave REPO TEST`: the hang-up nohup ignores was caught by moloslave's handler
/// and passed on, and molotov (which got a default action on exec) stopped: exit 130. An
/// ignored SIGHUP now stays ignored in both: the test runs to its end.
#[test]
fn under_nohup_sighup_stays_ignored_by_moloslave_and_molotov() {
    let (_server, repo, tmp) = server_repo_tmp("nohup", "slave-nohup");
    let dir = repo.dir.0.clone();
    // A test of 2 s.
    let text = std::fs::read_to_string(dir.join("molotov.json"))
        .unwrap()
        .replace("\"duration\": 30", "\"duration\": 2");
    std::fs::write(dir.join("molotov.json"), text).unwrap();
    git(&dir, &["commit", "-q", "-am", "short"]);
    let mut cmd = long_test(&tmp.0, &dir);
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires: what `nohup` does.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let molotov = wait_for_molotov(pid);
    // To moloslave alone, then to molotov itself.
    signal(pid, libc::SIGHUP);
    signal(molotov, libc::SIGHUP);
    let out = wait_bounded(child, Duration::from_secs(30));
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("Result: OK"), "{}", stdout(&out));
    assert!(leftovers(&tmp.0).is_empty(), "{:?}", leftovers(&tmp.0));
}

/// A relative `TMPDIR` (`TMPDIR=tmp`) made the clone's path relative, and molotov, started
/// from inside the clone with `--config tmp/moloslave-…/molotov.json`, could not find it.
#[test]
fn a_relative_tmpdir_works() {
    let (_server, repo, cwd) = server_repo_tmp("relative-tmp", "slave-relative-cwd");
    std::fs::create_dir(cwd.0.join("tmp")).unwrap();
    smoke_from(&cwd.0, "tmp", &repo);
    assert!(leftovers(&cwd.0.join("tmp")).is_empty());
}

/// Runs `moloslave REPO smoke` from `cwd` with `TMPDIR=tmpdir` (bounded, 60 s); asserts it
/// runs main's smoke test (2 workers x 5 runs, all successes).
fn smoke_from(cwd: &Path, tmpdir: &str, repo: &Repo) -> Output {
    let out = run_bounded(
        moloslave(Path::new(tmpdir))
            .current_dir(cwd)
            .arg(&repo.dir.0)
            .arg("smoke"),
        Duration::from_secs(60),
    );
    assert_exit_for(&out, 0, &format!("TMPDIR={tmpdir:?}"));
    assert_eq!(
        reported_outcomes(&stdout(&out)),
        (10, 0),
        "TMPDIR={tmpdir:?}: {}",
        stderr(&out)
    );
    out
}

/// An empty `TMPDIR` (`TMPDIR=$RUNNER_TEMP` with the variable unset) gave an empty base and a
/// relative clone path again: `cannot read moloslave-…/molotov.json`, exit 2. It is unset, as
/// for mktemp: the clone goes to /tmp, by an absolute path.
#[test]
fn an_empty_tmpdir_is_unset() {
    let (_server, repo, cwd) = server_repo_tmp("empty-tmp", "slave-empty-tmp-cwd");
    let out = smoke_from(&cwd.0, "", &repo);
    assert!(
        stderr(&out).contains("moloslave: working directory is /tmp/moloslave-"),
        "{}",
        stderr(&out)
    );
    assert!(leftovers(&cwd.0).is_empty());
    assert!(!working_dir(&out).exists(), "the clone is left behind");
}
