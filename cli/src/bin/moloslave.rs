//! The `moloslave` binary: `moloslave REPO TEST` clones REPO (any URL or path `git clone`
//! accepts) into a fresh temporary directory, reads the `molotov.json` at its top, and runs its
//! test TEST by executing the `molotov` binary that sits next to this one, from that directory,
//! with the test's `env`. molotov's output streams through; its exit code is moloslave's. The
//! directory is removed afterwards, also when something fails or the run is interrupted.
//!
//! git is run without a shell, with the repository after `--`. Ctrl-C reaches molotov
//! directly (the terminal signals the whole foreground process group), so moloslave only
//! waits for it to print its report; SIGINT, SIGTERM and SIGHUP sent to moloslave by a
//! process (`kill`, a supervisor) are passed on to git or molotov. A SIGHUP ignored when
//! moloslave starts (`nohup`) stays ignored, by molotov too. Exit codes: molotov's own when it ran; 2 when the repository, its
//! `molotov.json` or the test is wrong (clone failed, no file, unknown test, bad revision); 4
//! when this machine lacks something (git, the molotov binary, a temporary directory); 128+N
//! when signal N stopped moloslave before molotov ran. If moloslave itself is killed, git or
//! molotov gets SIGTERM from the kernel (a parent-death signal): the run stops with its report.

// The file format is shared with `molotov --config`; moloslave uses part of it.
#[allow(dead_code)]
#[path = "../molotov_json.rs"]
mod molotov_json;

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use clap::Parser;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

use molotov_json::{FileError, MolotovJson};

/// Exit code: the repository, its molotov.json or the test is wrong.
const BAD_INPUT: u8 = 2;
/// Exit code: this machine lacks something moloslave needs.
const MISSING: u8 = 4;

/// moloslave: run a load test described by a repository's molotov.json.
///
/// Clones REPO into a temporary directory, reads the molotov.json at its top (Python
/// molotov's format), sets its `env`, runs its test TEST with the `molotov` next to this
/// program, from the clone, and removes the clone afterwards. Exits with molotov's exit code.
#[derive(Debug, Parser)]
#[command(name = "moloslave", version, max_term_width = 100)]
struct Args {
    /// The repository: any URL or path `git clone` accepts.
    repo: OsString,

    /// The test of its molotov.json to run.
    test: String,

    /// Clone this branch (or tag) instead of the repository's default branch.
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,

    /// After cloning, check out this revision: a commit, a tag or a branch.
    #[arg(long = "ref", value_name = "REV")]
    reference: Option<String>,

    /// More molotov flags, after `--` (they win over the test's options; relative paths are
    /// relative to the clone, which is removed at the end: give absolute ones).
    #[arg(last = true, value_name = "MOLOTOV FLAGS")]
    molotov: Vec<OsString>,
}

/// What stops moloslave before molotov runs.
#[derive(Debug, thiserror::Error)]
enum SlaveError {
    #[error("git is not installed (or not on PATH); moloslave needs it to clone the repository")]
    GitMissing,
    #[error("cannot run git: {0}")]
    Git(std::io::Error),
    #[error("git clone of {repo} failed ({status})")]
    Clone { repo: String, status: ExitStatus },
    #[error("git checkout of {reference:?} failed ({status}): no such commit, tag or branch?")]
    Checkout {
        reference: String,
        status: ExitStatus,
    },
    #[error("--{flag} {value:?}: a revision name cannot start with '-'")]
    BadRevision { flag: &'static str, value: String },
    #[error("--{flag} \"\": give a revision name (it is empty)")]
    EmptyRevision { flag: &'static str },
    #[error("the repository {repo} has no molotov.json at its top")]
    NoConfig { repo: String },
    #[error("{0}")]
    Config(FileError),
    #[error(
        "cannot create a temporary directory in {}: {source}",
        molotov_core::printable::printable_path(dir)
    )]
    TempDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot find the molotov binary next to moloslave (looked for {}){}",
        molotov_core::printable::printable_path(path),
        why
    )]
    NoMolotov { path: PathBuf, why: String },
    #[error(
        "cannot start {}: {source}",
        molotov_core::printable::printable_path(path)
    )]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "test {test:?}: its \"{key}\" report path {path:?} leaves the clone: a repository's test \
         may write its reports only inside its clone (a relative path without `..` or symbolic \
         links), which is removed at the end; to keep the report, give its path on the command \
         line: moloslave REPO {test} -- --{key} PATH"
    )]
    ReportOutsideClone {
        test: String,
        key: &'static str,
        path: String,
    },
    #[error("interrupted by signal {0}")]
    Interrupted(i32),
}

impl SlaveError {
    fn exit_code(&self) -> u8 {
        match self {
            SlaveError::Clone { .. }
            | SlaveError::Checkout { .. }
            | SlaveError::BadRevision { .. }
            | SlaveError::EmptyRevision { .. }
            | SlaveError::NoConfig { .. }
            | SlaveError::ReportOutsideClone { .. }
            | SlaveError::Config(_) => BAD_INPUT,
            SlaveError::Interrupted(sig) => (128 + sig).clamp(0, 255) as u8,
            _ => MISSING,
        }
    }
}

/// The pid of the child running now (git or molotov), 0 when none.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// The last signal received, 0 when none.
static SIGNALED: AtomicI32 = AtomicI32::new(0);

/// Whether the last signal came from the kernel (a terminal's Ctrl-C) while a child ran: it
/// reached the whole foreground group, the child included, and is not passed on. One that
/// came while no child ran reached no child, and is passed on to the next one.
static FROM_KERNEL: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: errno is this thread's; reading and restoring it is what a handler that makes
    // a system call must do, so that the interrupted code never sees the handler's errno.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo for the handler's duration.
    let from_kernel = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    SIGNALED.store(sig, Ordering::SeqCst);
    FROM_KERNEL.store(
        from_kernel && CHILD.load(Ordering::SeqCst) != 0,
        Ordering::SeqCst,
    );
    forward(sig, from_kernel);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Passes `sig` on to the running child, except a SIGINT from the kernel: a terminal's
/// Ctrl-C already reached it (the terminal signals the whole foreground group) and a second
/// one would mean "stop now". A SIGINT sent by a process (`kill -INT`, a supervisor or CI
/// runner whose stop signal it is) reached moloslave alone, and is passed on: it was
/// dropped, and the test ran to its end (for ever without a duration).
fn forward(sig: libc::c_int, from_kernel: bool) {
    if sig == libc::SIGINT && from_kernel {
        return;
    }
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe and touches no memory of ours.
        unsafe { libc::kill(pid, sig) };
    }
}

fn install_signal_handlers() {
    let action = SigAction::new(
        SigHandler::SigAction(on_signal),
        SaFlags::SA_RESTART | SaFlags::SA_SIGINFO,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // `nohup moloslave`: the hang-up stays ignored, here and (an ignored signal stays
        // ignored through exec) in molotov. A handler over it was reset to the default
        // action in molotov, and the hang-up stopped the run.
        if sig == Signal::SIGHUP && molotov_core::process::is_ignored(sig) {
            continue;
        }
        // SAFETY: the handler only stores into an atomic and calls kill(2), both
        // async-signal-safe; no other code installs handlers for these signals.
        if let Err(e) = unsafe { signal::sigaction(sig, &action) } {
            molotov_core::errln!("moloslave: warning: cannot handle {sig}: {e}");
        }
    }
    // An inherited "ignore SIGCHLD" would let the kernel reap git and molotov itself, and
    // waiting for them would fail: the default action, whatever the parent left.
    // SAFETY: SIG_DFL installs no handler code; no other thread exists yet.
    if let Err(e) = unsafe { signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) } {
        molotov_core::errln!("moloslave: warning: cannot reset SIGCHLD: {e}");
    }
}

fn interrupted() -> Option<i32> {
    match SIGNALED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<TempDir, SlaveError> {
        // Absolute: molotov runs from inside the clone, and is given the clone's
        // molotov.json by this path (a relative `TMPDIR=tmp` named a file it could not find).
        // An empty `TMPDIR` (`TMPDIR=$RUNNER_TEMP` with the variable unset) is unset, as
        // for mktemp: `temp_dir()` gave "", which cannot be made absolute.
        let base = match std::env::var_os("TMPDIR") {
            Some(dir) if dir.is_empty() => PathBuf::from("/tmp"),
            _ => std::env::temp_dir(),
        };
        let base = std::path::absolute(&base).unwrap_or(base);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let mut last_error = None;
        for attempt in 0..16u32 {
            let dir = base.join(format!(
                "moloslave-{}-{nanos:08x}-{attempt}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => last_error = Some(e),
                Err(source) => return Err(SlaveError::TempDir { dir: base, source }),
            }
        }
        Err(SlaveError::TempDir {
            dir: base,
            source: last_error.unwrap_or_else(|| std::io::Error::other("no free name")),
        })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0)
            && e.kind() != ErrorKind::NotFound
        {
            molotov_core::errln!(
                "moloslave: warning: cannot remove {}: {e}",
                molotov_core::printable::printable_path(&self.0)
            );
        }
    }
}

/// Runs `cmd` as the current child (signals other than SIGINT are passed on to it).
///
/// The child gets SIGTERM if moloslave dies first (SIGKILL, a crash, the OOM killer), so that
/// nothing runs on with nobody to stop it: molotov then stops gracefully, with its report, as
/// for a SIGTERM passed on. (It once went on orphaned, without end when the test has no
/// `duration`.) The clone is left behind in that case: moloslave is gone.
fn run_child(cmd: &mut Command, path: &Path) -> Result<ExitStatus, SlaveError> {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // moloslave died before the death signal was set: it would never come.
            if libc::getppid() != parent {
                libc::_exit(128 + libc::SIGTERM);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| {
        if source.kind() == ErrorKind::NotFound && path == Path::new("git") {
            SlaveError::GitMissing
        } else {
            SlaveError::Spawn {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    // A signal that came before the pid was known.
    if let Some(sig) = interrupted() {
        forward(sig, FROM_KERNEL.load(Ordering::SeqCst));
    }
    // Wait for the child to end without reaping it: while it is a zombie its pid is still
    // its own, so a signal forwarded in the meantime cannot reach another process. Only
    // then is the pid forgotten, and the child reaped.
    wait_for_exit_unreaped(child.id());
    CHILD.store(0, Ordering::SeqCst);
    let status = child.wait();
    status.map_err(|source| SlaveError::Spawn {
        path: path.to_path_buf(),
        source,
    })
}

/// Blocks until child `pid` has ended, leaving it to be reaped (`WNOWAIT`). Returns at
/// once if it cannot wait (the reaping `wait` that follows reports why).
fn wait_for_exit_unreaped(pid: u32) {
    loop {
        // SAFETY: an all-zero siginfo is a valid value for waitid to overwrite.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes into the siginfo we own; WNOWAIT leaves the child unreaped.
        let got = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if got == 0 || std::io::Error::last_os_error().kind() != ErrorKind::Interrupted {
            return;
        }
    }
}

fn git() -> Command {
    let mut cmd = Command::new("git");
    // No transport that runs commands (`ext::`), whatever the user's git config says.
    cmd.args(["-c", "protocol.ext.allow=never"]);
    cmd.stdin(Stdio::null());
    cmd
}

/// The commit `name` names in the clone at `dir`, if any.
fn resolve(dir: &Path, name: &str) -> Option<String> {
    let out = git()
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{name}^{{commit}}"))
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !sha.is_empty()).then_some(sha)
}

fn check_revision(flag: &'static str, value: &Option<String>) -> Result<(), SlaveError> {
    match value {
        Some(v) if v.is_empty() => Err(SlaveError::EmptyRevision { flag }),
        Some(v) if v.starts_with('-') => Err(SlaveError::BadRevision {
            flag,
            value: v.clone(),
        }),
        _ => Ok(()),
    }
}

/// The exit code molotov's status maps to (128+N for a signal, as a shell does).
fn exit_code_of(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code.clamp(0, 255) as u8,
        (None, Some(sig)) => (128 + sig).clamp(0, 255) as u8,
        _ => MISSING,
    }
}

fn run(args: &Args) -> Result<u8, SlaveError> {
    check_revision("branch", &args.branch)?;
    check_revision("ref", &args.reference)?;
    let molotov = std::env::current_exe()
        .map(|exe| exe.with_file_name("molotov"))
        .map_err(|e| SlaveError::NoMolotov {
            path: PathBuf::from("molotov"),
            why: format!(": {e}"),
        })?;
    if !molotov.is_file() {
        return Err(SlaveError::NoMolotov {
            path: molotov,
            why: "; install both binaries together (cargo install --path cli)".into(),
        });
    }
    // git first: a missing git is reported before anything is created.
    match git()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(SlaveError::GitMissing),
        Err(e) => return Err(SlaveError::Git(e)),
    }
    let dir = TempDir::create()?;
    molotov_core::errln!(
        "moloslave: working directory is {}",
        molotov_core::printable::printable_path(&dir.0)
    );
    let repo = args.repo.to_string_lossy().into_owned();

    let mut clone = git();
    clone.arg("clone").arg("--quiet");
    if let Some(branch) = &args.branch {
        clone.arg("--branch").arg(branch);
    }
    clone.arg("--").arg(&args.repo).arg(&dir.0);
    let status = run_child(&mut clone, Path::new("git"))?;
    if let Some(sig) = interrupted() {
        return Err(SlaveError::Interrupted(sig));
    }
    if !status.success() {
        return Err(SlaveError::Clone { repo, status });
    }
    if let Some(reference) = &args.reference {
        // A commit, a tag, a local branch, or a branch of the origin (a clone has only the
        // default branch locally).
        let commit = [reference.clone(), format!("origin/{reference}")]
            .iter()
            .find_map(|name| resolve(&dir.0, name))
            .unwrap_or_else(|| reference.clone());
        let mut checkout = git();
        checkout
            .arg("-C")
            .arg(&dir.0)
            .args([
                "-c",
                "advice.detachedHead=false",
                "checkout",
                "--quiet",
                "--detach",
            ])
            .arg(&commit)
            .arg("--");
        let status = run_child(&mut checkout, Path::new("git"))?;
        if let Some(sig) = interrupted() {
            return Err(SlaveError::Interrupted(sig));
        }
        if !status.success() {
            return Err(SlaveError::Checkout {
                reference: reference.clone(),
                status,
            });
        }
    }

    let config = dir.0.join("molotov.json");
    let file = match MolotovJson::read(&config) {
        Ok(file) => file,
        Err(FileError::Read {
            source: molotov_dsl::ReadError::Io { source },
            ..
        }) if source.kind() == ErrorKind::NotFound => {
            return Err(SlaveError::NoConfig { repo });
        }
        Err(e) => return Err(SlaveError::Config(e)),
    };
    let test = file.test(&args.test).map_err(SlaveError::Config)?;
    check_report_paths(&test, &dir.0, &args.molotov)?;
    // A Ctrl-C while the clone's molotov.json was read reached no child: the run does not
    // start (one that comes during the spawn is passed on, see `on_signal`).
    if let Some(sig) = interrupted() {
        return Err(SlaveError::Interrupted(sig));
    }

    let mut cmd = Command::new(&molotov);
    cmd.arg("--config")
        .arg(&config)
        .arg("--test")
        .arg(&args.test)
        .args(&args.molotov)
        .current_dir(&dir.0)
        .envs(test.env.iter().map(|(k, v)| (OsStr::new(k), OsStr::new(v))));
    let status = run_child(&mut cmd, &molotov)?;
    Ok(exit_code_of(status))
}

/// The repository is someone else's: its test may not write a report outside its clone (a
/// `"json": "/home/user/.bashrc"` replaced that file). A report path the command line gives
/// (`-- --json PATH`) replaces the test's, and is the user's own.
fn check_report_paths(
    test: &molotov_json::Test,
    clone: &Path,
    command_line: &[OsString],
) -> Result<(), SlaveError> {
    for key in ["json", "html"] {
        let flag = format!("--{key}");
        let given = command_line.iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
        });
        if given {
            continue;
        }
        let Some((_, serde_json::Value::String(path))) =
            test.options.iter().find(|(k, _)| k == key)
        else {
            continue;
        };
        if path != "-" && !inside(clone, Path::new(path)) {
            return Err(SlaveError::ReportOutsideClone {
                test: test.name.clone(),
                key,
                path: path.clone(),
            });
        }
    }
    Ok(())
}

/// Whether `path`, relative to `clone`, stays inside it: not absolute, no `..`, and no
/// symbolic link on the way (the clone's own, which could point anywhere).
fn inside(clone: &Path, path: &Path) -> bool {
    use std::path::Component;
    let mut at = clone.to_path_buf();
    for part in path.components() {
        match part {
            Component::Normal(name) => {
                at.push(name);
                if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                    return false;
                }
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    at != clone
}

fn main() -> ExitCode {
    let args = Args::parse();
    install_signal_handlers();
    let code = match run(&args) {
        Ok(code) => code,
        Err(e) => {
            molotov_core::errln!("moloslave: error: {e}");
            e.exit_code()
        }
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn arguments() {
        let a = Args::try_parse_from([
            "moloslave",
            "--branch",
            "b",
            "--ref",
            "abc",
            "repo",
            "t",
            "--",
            "-q",
            "--json",
            "/x",
        ])
        .unwrap();
        assert_eq!(a.repo, "repo");
        assert_eq!(a.test, "t");
        assert_eq!(a.branch.as_deref(), Some("b"));
        assert_eq!(a.reference.as_deref(), Some("abc"));
        assert_eq!(a.molotov, ["-q", "--json", "/x"]);
        assert!(Args::try_parse_from(["moloslave", "repo"]).is_err());
        assert!(check_revision("ref", &Some("--upload-pack=x".into())).is_err());
        assert!(check_revision("ref", &Some("v1.0".into())).is_ok());
        let empty = check_revision("branch", &Some(String::new())).unwrap_err();
        assert_eq!(
            empty.to_string(),
            "--branch \"\": give a revision name (it is empty)"
        );
    }

    #[test]
    fn a_report_path_stays_inside_the_clone() {
        let clone = std::env::temp_dir().join(format!("moloslave-inside-{}", std::process::id()));
        std::fs::create_dir_all(clone.join("out")).unwrap();
        let _ = std::fs::remove_file(clone.join("link"));
        std::os::unix::fs::symlink("/tmp", clone.join("link")).unwrap();
        for (path, ok) in [
            ("report.json", true),
            ("out/report.json", true),
            ("./out/r.html", true),
            ("/tmp/victim", false),
            ("../victim", false),
            ("out/../../victim", false),
            ("link/victim", false),
            ("link", false),
            (".", false),
        ] {
            assert_eq!(inside(&clone, Path::new(path)), ok, "{path}");
        }
        let _ = std::fs::remove_dir_all(&clone);
    }

    #[test]
    fn exit_codes() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code_of(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code_of(ExitStatus::from_raw(9)), 137);
        assert_eq!(SlaveError::Interrupted(15).exit_code(), 143);
        assert_eq!(
            SlaveError::NoConfig { repo: "r".into() }.exit_code(),
            BAD_INPUT
        );
        assert_eq!(SlaveError::GitMissing.exit_code(), MISSING);
    }
}
