//! Process plumbing for the master and its children: CPU sets and pinning, resource limits,
//! the io_uring probe, forking children that die with the master, the master's signal handling
//! and reaping.
//!
//! The master stays single-threaded for the whole run (executors, signal helpers and terminal
//! libraries create threads; forking a threaded process is unsafe), so everything here is plain
//! syscalls.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

/// Errors of process setup.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// io_uring is not usable here.
    #[error(
        "io_uring is not available: {reason}. molotov runs its workers on io_uring (Linux 5.8+). \
         Under Docker, the default seccomp profile blocks it: run with \
         `--security-opt seccomp=unconfined` or a profile that allows io_uring_setup; check \
         that /proc/sys/kernel/io_uring_disabled is 0"
    )]
    IoUringUnavailable {
        /// What the probe saw.
        reason: String,
    },
    /// Too few file descriptors allowed and the limit cannot be raised.
    #[error(
        "{needed} file descriptors are needed per process but the hard limit is {hard}: lower \
         -w or raise the limit (ulimit -Hn / limits.conf)"
    )]
    TooFewFileDescriptors {
        /// Estimated need.
        needed: u64,
        /// The hard limit.
        hard: u64,
    },
    /// The probe's ring, the smallest there is, could not get its memory (ENOMEM): where
    /// the kernel charges rings to locked memory, the limit is used up.
    #[error(
        "the kernel refused the memory of a 4-entry io_uring ring (ENOMEM): the locked-memory \
         limit (RLIMIT_MEMLOCK) is {have} bytes, and the kernel charges every io_uring ring of \
         a user without CAP_IPC_LOCK to it, with the rest of that user's locked memory, all \
         processes together: raise it (ulimit -l, /etc/security/limits.conf, LimitMEMLOCK= \
         for a systemd service, --ulimit memlock=-1 for Docker)"
    )]
    TooLittleLockedMemory {
        /// The soft limit after trying to raise it.
        have: u64,
    },
    /// A syscall failed.
    #[error("{what}: {source}")]
    Os {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

fn os(what: &'static str) -> impl FnOnce(nix::Error) -> ProcessError {
    move |e| ProcessError::Os {
        what,
        source: io::Error::from(e),
    }
}

/// The CPUs this process may run on (honours cpusets and `taskset`), in ascending order.
pub fn allowed_cpus() -> Result<Vec<usize>, ProcessError> {
    let set = nix::sched::sched_getaffinity(Pid::from_raw(0)).map_err(os("sched_getaffinity"))?;
    let cpus: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect();
    if cpus.is_empty() {
        return Err(ProcessError::Os {
            what: "sched_getaffinity",
            source: io::Error::other("no CPU allowed"),
        });
    }
    Ok(cpus)
}

/// The CPU for child `index`: the allowed set in order, wrapping when there are more children.
pub fn cpu_for_child(allowed: &[usize], index: usize) -> usize {
    allowed[index % allowed.len()]
}

/// Pins the calling process (thread) to `cpu`.
pub fn pin_current(cpu: usize) -> Result<(), ProcessError> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).map_err(os("CpuSet::set"))?;
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set).map_err(os("sched_setaffinity"))
}

/// Checks that io_uring can be set up here (seccomp and `io_uring_disabled` block it).
pub fn probe_io_uring() -> Result<(), ProcessError> {
    raise_locked_memory();
    if let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        && text.trim() == "2"
    {
        return Err(ProcessError::IoUringUnavailable {
            reason: "/proc/sys/kernel/io_uring_disabled is 2".into(),
        });
    }
    // struct io_uring_params is 120 bytes; zeroed means default setup.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup(2) with a valid pointer to a zeroed params struct of the size the
    // kernel expects; the returned fd (if any) is closed right away.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOMEM) {
            // The ring's pages are charged to locked memory (see `preflight::ring_locked_bytes`):
            // the limit is used up, not io_uring blocked.
            use nix::sys::resource::{Resource, getrlimit};
            let have = getrlimit(Resource::RLIMIT_MEMLOCK).map_or(0, |(soft, _)| soft);
            return Err(ProcessError::TooLittleLockedMemory { have });
        }
        return Err(ProcessError::IoUringUnavailable {
            reason: format!("io_uring_setup failed: {err}"),
        });
    }
    // SAFETY: closing the fd io_uring_setup just returned to us.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

/// Resource limits after [`raise_limits`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Soft RLIMIT_NOFILE now in force.
    pub nofile: u64,
    /// Soft RLIMIT_MEMLOCK now in force (bytes).
    pub memlock: u64,
}

/// Raises the soft RLIMIT_MEMLOCK to the hard limit, best effort: on kernels before 5.12
/// and since 6.14 an io_uring ring counts against it (for a process without CAP_IPC_LOCK).
fn raise_locked_memory() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_MEMLOCK) {
        let _ = setrlimit(Resource::RLIMIT_MEMLOCK, hard, hard);
    }
}

/// Raises the soft RLIMIT_MEMLOCK and RLIMIT_NOFILE to their hard limits and checks that
/// `fds_needed` descriptors fit. Children inherit the limits. Whether the locked-memory
/// limit holds the rings is `preflight::check_locked_memory`'s to say, exactly: with no
/// floor here, which refused runs the kernel took (root, or a kernel that does not charge
/// rings, under a 64 KiB `ulimit -l`).
pub fn raise_limits(fds_needed: u64) -> Result<Limits, ProcessError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    raise_locked_memory();
    let (soft_fd, hard_fd) = getrlimit(Resource::RLIMIT_NOFILE).map_err(os("getrlimit(NOFILE)"))?;
    let mut soft = soft_fd;
    if soft_fd < hard_fd {
        // Children own the sockets; the raised soft limit is inherited.
        if setrlimit(Resource::RLIMIT_NOFILE, hard_fd, hard_fd).is_ok() {
            soft = hard_fd;
        }
    }
    if fds_needed > soft {
        return Err(ProcessError::TooFewFileDescriptors {
            needed: fds_needed,
            hard: hard_fd,
        });
    }
    let (memlock, _) = getrlimit(Resource::RLIMIT_MEMLOCK).map_err(os("getrlimit(MEMLOCK)"))?;
    Ok(Limits {
        nofile: soft,
        memlock,
    })
}

/// Gives SIGINT, SIGTERM and SIGCHLD their default action, whatever this process inherited.
/// A background job of a non-interactive shell starts with SIGINT ignored; the master blocks
/// the signals and reads them from a signalfd once the load starts, which obeys them even
/// then, so an inherited "ignore" would only hold during start-up: a `kill -INT` would be lost
/// or obeyed depending on timing. An ignored SIGCHLD (a parent that does not want zombies
/// passes it on through `exec`) makes the kernel reap our children itself: the master would
/// wait forever for load processes it can no longer reap. Call first thing in `main`, before
/// any thread exists.
pub fn obey_interrupt_signals() -> Result<(), ProcessError> {
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD] {
        // SAFETY: SIG_DFL installs no handler code; no other thread exists yet.
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) }
            .map_err(os("signal"))?;
    }
    Ok(())
}

/// Registers this process for expedited private membarriers before any thread exists, so
/// that the first sleep of a glommio executor in a fresh child (the demo target server runs on
/// glommio; load processes do not since molotov-runtime) is not delayed by a lazy
/// registration. Children
/// inherit the registration. Best effort.
pub fn register_membarrier() {
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;
    // SAFETY: membarrier(2) with a command and no pointers; failure is harmless.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
            0u32,
        );
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// It called exit with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
    /// The master stopped it on purpose (SIGKILL), as the run's end asked.
    Stopped(StopCause),
}

/// Why the master stopped a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// Its in-flight requests outlasted the grace period (`--grace`) after the end.
    GraceEnded,
    /// A second Ctrl-C (or SIGTERM) asked for an immediate stop.
    Immediate,
    /// The plan's `teardown` ran past its time limit (twice `--grace`, at least 10 s).
    Overran(std::time::Duration),
}

impl ChildExit {
    /// True for exit code 0.
    pub fn is_success(self) -> bool {
        self == ChildExit::Exited(0)
    }

    /// True when the process broke (an exit code other than 0, or a signal nobody in
    /// molotov sent); false when it finished, or was stopped by the master on purpose.
    pub fn is_death(self) -> bool {
        !self.is_success() && !matches!(self, ChildExit::Stopped(_))
    }
}

impl std::fmt::Display for ChildExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChildExit::Exited(code) => write!(f, "exited with code {code}"),
            ChildExit::Signaled(sig) => write!(f, "killed by {}", sig.as_str()),
            ChildExit::Stopped(StopCause::GraceEnded) => {
                write!(f, "stopped: the grace period ended")
            }
            ChildExit::Stopped(StopCause::Immediate) => write!(f, "stopped at once"),
            ChildExit::Stopped(StopCause::Overran(limit)) => write!(
                f,
                "stopped: it ran past its limit of {}s",
                limit.as_secs_f64()
            ),
        }
    }
}

impl ChildExit {
    /// What a death may owe to this process's limits, for the message that reports it: a
    /// load process killed by SIGABRT under a finite address-space limit (which it inherits)
    /// most likely failed an allocation ("memory allocation of N bytes failed" aborts).
    pub fn likely_cause(&self) -> Option<String> {
        use nix::sys::resource::{Resource, getrlimit};
        if *self != ChildExit::Signaled(Signal::SIGABRT) {
            return None;
        }
        let (_, hard) = getrlimit(Resource::RLIMIT_AS).ok()?;
        (hard != libc::RLIM_INFINITY).then(|| {
            format!(
                "an allocation that fails aborts a process: the address-space limit (RLIMIT_AS, \
                 ulimit -v) is {} MiB; raise it, or run fewer workers per process (-w)",
                hard >> 20
            )
        })
    }
}

/// The signals a child ignores: those the master reads as an interrupt (see
/// [`MasterSignals`]), which also reach the children when sent to the process group.
const CHILD_IGNORED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Exit code of a child whose body panicked.
pub const CHILD_PANIC_EXIT: i32 = 101;

/// Forks a child that runs `body` and exits with its return value.
///
/// In the child: it dies with the master (`PR_SET_PDEATHSIG(SIGKILL)`, and exits at once if the
/// master is already gone), ignores SIGINT, SIGTERM and SIGHUP (the master owns them and tells
/// children to stop through shared memory), unblocks the signals the master blocked, is pinned to `cpu` when
/// given, and never returns into the master's code: it leaves with `_exit`.
///
/// Call only while the process is single-threaded.
pub fn spawn_child(cpu: Option<usize>, body: impl FnOnce() -> i32) -> Result<Pid, ProcessError> {
    use std::io::Write;
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    let master = nix::unistd::getpid();
    // SAFETY: the master is single-threaded (documented precondition), so the child may run
    // arbitrary code; it never returns from this function (it `_exit`s).
    match unsafe { nix::unistd::fork() }.map_err(os("fork"))? {
        nix::unistd::ForkResult::Parent { child } => Ok(child),
        nix::unistd::ForkResult::Child => {
            let code = child_prologue(master, cpu)
                .map(|()| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
                        .unwrap_or(CHILD_PANIC_EXIT)
                })
                .unwrap_or_else(|e| {
                    crate::errln!("molotov: child process setup failed: {e}");
                    70
                });
            let _ = io::stdout().flush();
            let _ = io::stderr().flush();
            write_pgo_profile();
            // SAFETY: leaving the child without running the master's atexit handlers.
            unsafe { libc::_exit(code) }
        }
    }
}

/// In the instrumented build of `scripts/build-pgo` only: writes the child's profile counters
/// (LLVM's runtime writes them from an `atexit` handler, which `_exit` skips). Elsewhere a no-op.
#[inline(never)]
fn write_pgo_profile() {
    #[cfg(molotov_pgo_generate)]
    {
        unsafe extern "C" {
            /// LLVM's profile runtime, linked in by `-Cprofile-generate`.
            fn __llvm_profile_write_file() -> i32;
        }
        // SAFETY: the profile runtime is linked into every `-Cprofile-generate` build (the only
        // one that sets this cfg); the call takes no arguments and only writes the counters to
        // the file named at start-up (`LLVM_PROFILE_FILE`), merging under a file lock.
        unsafe { __llvm_profile_write_file() };
    }
}

fn child_prologue(master: Pid, cpu: Option<usize>) -> Result<(), ProcessError> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(os("prctl(PDEATHSIG)"))?;
    if nix::unistd::getppid() != master {
        // The master died before we could ask to die with it.
        // SAFETY: exiting at once, nothing to clean up.
        unsafe { libc::_exit(1) }
    }
    // The master owns the stop signals (a terminal's Ctrl-C and hang-up, and `timeout` or a CI
    // job's SIGTERM, go to the whole process group) and stops children through shared memory.
    for sig in CHILD_IGNORED {
        // SAFETY: setting a signal to SIG_IGN installs no handler code.
        unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }
            .map_err(os("signal"))?;
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(os("sigprocmask"))?;
    if let Some(cpu) = cpu {
        pin_current(cpu)?;
    }
    Ok(())
}

/// What the master's signal wait saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// SIGINT, SIGTERM or SIGHUP arrived (how many).
    pub interrupts: u32,
    /// SIGCHLD arrived: reap.
    pub child: bool,
    /// Input is readable on the extra descriptor passed to `wait`.
    pub input: bool,
    /// The load children's captured stderr (the second extra descriptor) is readable.
    pub output: bool,
}

/// The master's signal handling: SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked and read from
/// a signalfd in the master's loop. SIGHUP (a closed terminal, a dropped ssh session) stops a
/// run as SIGTERM does, so the reports are still written; under `nohup` it stays ignored: a
/// stop signal this process ignores when the signals are installed (`nohup` leaves SIGHUP
/// ignored; SIGINT and SIGTERM are given their default action at start-up by
/// [`obey_interrupt_signals`]) is left out of the blocked set. (A blocked signal is never
/// discarded as ignored: the kernel queues it for the signalfd, and the hang-up `nohup` was
/// asked to ignore stopped the run.)
#[derive(Debug)]
pub struct MasterSignals {
    fd: SignalFd,
    /// The last stop signal counted: its number, the process that sent it, when it was read.
    last_stop: std::cell::Cell<Option<(u32, u32, Instant)>>,
    /// The parent process when the signals were installed (moloslave passes on what it gets).
    parent: u32,
}

/// The stop signals the master reads from its signalfd (those not ignored).
const STOP_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Whether `sig`'s disposition is "ignore" (`SIG_IGN`), as `nohup` leaves SIGHUP.
pub fn is_ignored(sig: Signal) -> bool {
    // SAFETY: an all-zero sigaction is a valid value for sigaction(2) to overwrite.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `old`, which we own.
    let got = unsafe { libc::sigaction(sig as libc::c_int, std::ptr::null(), &mut old) };
    got == 0 && old.sa_sigaction == libc::SIG_IGN
}

/// After the run, once the report files are written: SIGINT, SIGTERM and SIGHUP get their
/// action back (the default one, or "ignore" under `nohup`), so that a text report waiting
/// for a reader that does not read (`| sleep`, a paused pager, a stalled log shipper) can be
/// stopped by them. Blocked for the signalfd, which nobody reads any more, they stayed
/// pending and only SIGKILL ended molotov. Those already pending (a copy of a stop the run
/// already obeyed, a key pressed twice) are discarded first: they asked to stop a run that
/// is over, not to lose its report.
pub fn release_stop_signals() {
    let mut set = SigSet::empty();
    for sig in STOP_SIGNALS {
        set.add(sig);
    }
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: sigtimedwait(2) reads the set and the timeout, both live for the call, and
        // a null siginfo pointer asks for no details.
        let got = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &zero) };
        if got <= 0 {
            break;
        }
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
}

/// How close a second stop signal from the same sender must follow the first to be taken as
/// its copy: `timeout` (and some CI runners) send theirs to molotov and then to its whole
/// process group, so that the master gets the one signal twice, microseconds apart, and a
/// graceful stop became an immediate one. A person pressing Ctrl-C twice is not a sender
/// (the terminal's signals come from the kernel), nor is the master itself (the full-screen
/// view raises SIGINT for each `q` or Ctrl-C key, two keys typed together one right after
/// the other), and a second `kill` later than this (a script's `kill; sleep 0.1; kill`)
/// stops at once as documented.
const SAME_STOP: Duration = Duration::from_millis(50);

/// Whether a stop signal (`signo` from `sender`, read at `now` by the process `own`, whose
/// parent is `parent`) is a copy of the last one counted ([`SAME_STOP`]); a sender of 0 is
/// the kernel (a terminal's Ctrl-C or hang-up), and `own` raised its signal itself (a stop
/// key of the view). The parent passing on a signal it got (moloslave does) within
/// [`SAME_STOP`] of the same signal from another process is a copy too: `timeout moloslave`
/// or `kill -TERM -PGID` signal the whole group, moloslave included, which passes it on.
/// A SIGHUP within [`SAME_STOP`] of the last one counted is a copy whatever its sender: one
/// hang-up (a closed terminal, a dropped ssh session) reaches molotov from the kernel, from
/// the shell that passes it on to its jobs and from moloslave, and nobody hangs up twice in
/// 50 ms.
fn is_copy(
    last: Option<(u32, u32, Instant)>,
    signo: u32,
    sender: u32,
    (own, parent): (u32, u32),
    now: Instant,
) -> bool {
    last.is_some_and(|(s, p, at)| {
        let soon = s == signo && now.saturating_duration_since(at) < SAME_STOP;
        let same_sender = p == sender || (p != 0 && (p == parent || sender == parent));
        let hang_up = signo == libc::SIGHUP as u32;
        soon && (hang_up || (sender != 0 && sender != own && same_sender))
    })
}

impl MasterSignals {
    /// Blocks the signals and opens the signalfd. Call before forking children (they unblock).
    pub fn install() -> Result<MasterSignals, ProcessError> {
        let mut set = SigSet::empty();
        for sig in STOP_SIGNALS {
            if !is_ignored(sig) {
                set.add(sig);
            }
        }
        set.add(Signal::SIGCHLD);
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .map_err(os("sigprocmask"))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(os("signalfd"))?;
        Ok(MasterSignals {
            fd,
            last_stop: std::cell::Cell::new(None),
            parent: nix::unistd::getppid().as_raw() as u32,
        })
    }

    /// Waits up to `timeout` for a signal (or for `input` to become readable).
    pub fn wait(&self, timeout: Duration, input: Option<std::os::fd::BorrowedFd<'_>>) -> Signals {
        self.wait_with_output(timeout, input, None)
    }

    /// [`MasterSignals::wait`], also watching `output` (the read end of the pipe that carries
    /// the load children's stderr).
    pub fn wait_with_output(
        &self,
        timeout: Duration,
        input: Option<std::os::fd::BorrowedFd<'_>>,
        output: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> Signals {
        use nix::poll::{PollFd, PollFlags, PollTimeout};
        let mut fds = vec![PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        let input_at = input.map(|fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            fds.len() - 1
        });
        let output_at = output.map(|fd| {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            fds.len() - 1
        });
        // Round up: a sub-millisecond wait must not become a busy loop.
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let _ = nix::poll::poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
        let ready = |at: Option<usize>| {
            at.and_then(|i| fds[i].revents())
                .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP))
        };
        let mut out = Signals {
            input: ready(input_at),
            output: ready(output_at),
            ..Signals::default()
        };
        while let Ok(Some(info)) = self.fd.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGINT | libc::SIGTERM | libc::SIGHUP => {
                    let now = Instant::now();
                    let (signo, sender) = (info.ssi_signo, info.ssi_pid);
                    let ids = (std::process::id(), self.parent);
                    if !is_copy(self.last_stop.get(), signo, sender, ids, now) {
                        out.interrupts += 1;
                        self.last_stop.set(Some((signo, sender, now)));
                    }
                }
                libc::SIGCHLD => out.child = true,
                _ => {}
            }
        }
        out
    }

    /// The raw descriptor (for tests).
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// What the kernel accounted for a child that ended.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub system: Duration,
    /// Peak resident set size in bytes.
    pub max_rss: u64,
}

impl Usage {
    /// User + system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

fn usage_of(ru: &libc::rusage) -> Usage {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    Usage {
        user: tv(ru.ru_utime),
        system: tv(ru.ru_stime),
        max_rss: ru.ru_maxrss as u64 * 1024,
    }
}

/// This process's own usage so far.
pub fn self_usage() -> Usage {
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    usage_of(&ru)
}

/// Waits for one child: `pid` (or any child for -1), blocking or not. Returns how it ended
/// and what it used, or None when nothing (more) can be reaped now.
pub fn reap(pid: i32, block: bool) -> Option<(Pid, ChildExit, Usage)> {
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: wait4 writes the status and usage into values we own.
        let got = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if got <= 0 {
            if got < 0 && std::io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        let exit = if libc::WIFEXITED(status) {
            ChildExit::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            match Signal::try_from(libc::WTERMSIG(status)) {
                Ok(sig) => ChildExit::Signaled(sig),
                Err(_) => ChildExit::Exited(128 + libc::WTERMSIG(status)),
            }
        } else {
            // Stopped or continued: not an end; look again.
            continue;
        };
        return Some((Pid::from_raw(got), exit, usage_of(&ru)));
    }
}

/// Sends `signal` to `pid`, ignoring a child that is already gone.
pub fn kill(pid: Pid, signal: Signal) {
    let _ = nix::sys::signal::kill(pid, signal);
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the same clock in every process of the run.
pub fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_signal_is_a_copy_only_from_the_same_sender_soon_after() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let term = libc::SIGTERM as u32;
        let int = libc::SIGINT as u32;
        let hup = libc::SIGHUP as u32;
        let last = Some((term, 4242, t0));
        let cases = [
            // (last counted, signal, sender, read at, copy?)
            (None, term, 4242, ms(1), false),
            (last, term, 4242, ms(0), true),
            (last, term, 4242, ms(49), true),
            (last, term, 4242, ms(50), false),
            (last, term, 4243, ms(1), false),
            (last, int, 4242, ms(1), false),
            // The kernel (a terminal's Ctrl-C): a second one is always a second one.
            (Some((int, 0, t0)), int, 0, ms(1), false),
            // The master itself (the view's stop keys, raised one after the other): too.
            (Some((int, 7, t0)), int, 7, ms(1), false),
            // The parent (moloslave, 99) passing on what the group got from 4242, in either
            // order: one stop; later, or another signal, a second one.
            (last, term, 99, ms(1), true),
            (Some((term, 99, t0)), term, 4242, ms(1), true),
            (last, term, 99, ms(50), false),
            (last, int, 99, ms(1), false),
            // The parent after the terminal's Ctrl-C: a second stop.
            (Some((int, 0, t0)), int, 99, ms(1), false),
            // One hang-up, from the kernel, the shell (4242) and moloslave (99), in any
            // order: one stop; a SIGHUP later than 50 ms, a second one.
            (Some((hup, 4242, t0)), hup, 0, ms(1), true),
            (Some((hup, 0, t0)), hup, 4242, ms(1), true),
            (Some((hup, 0, t0)), hup, 99, ms(1), true),
            (Some((hup, 0, t0)), hup, 0, ms(49), true),
            (Some((hup, 0, t0)), hup, 0, ms(50), false),
            (Some((hup, 4242, t0)), term, 0, ms(1), false),
        ];
        for (last, signo, sender, now, copy) in cases {
            assert_eq!(
                is_copy(last, signo, sender, (7, 99), now),
                copy,
                "{last:?} {signo} {sender}"
            );
        }
    }

    #[test]
    fn allowed_cpus_are_listed_and_wrap() {
        let cpus = allowed_cpus().unwrap();
        assert!(!cpus.is_empty());
        assert_eq!(cpu_for_child(&cpus, cpus.len()), cpus[0]);
        assert_eq!(cpu_for_child(&[3, 5], 3), 5);
    }

    #[test]
    fn io_uring_probe_passes_on_this_machine() {
        // The development and CI machines have io_uring enabled; the engine needs it.
        probe_io_uring().unwrap();
    }

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_nanos();
        std::thread::sleep(Duration::from_millis(2));
        assert!(monotonic_nanos() >= a + 2_000_000);
    }
}
