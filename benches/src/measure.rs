//! Runs one command pinned to a set of CPUs and measures it the way `/usr/bin/time` does:
//! `wait4` on the command's process returns the user and system CPU time of the process
//! *and of every descendant it reaped* (molotov's master reaps its children, nginx is not a
//! descendant), and the largest peak RSS among them. Also notes how busy other CPUs were
//! meanwhile (from `/proc/stat`), to tell a saturated target from an idle one.
//!
//! Pinning is `sched_setaffinity` in the child before `exec`, exactly what `taskset -c` does;
//! the commands are printed as `taskset -c CPUS ...` so they can be pasted.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sched::CpuSet;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The executable (a path, or a name looked up in `PATH`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// CPUs the command (and everything it starts) may run on; empty: not pinned.
    pub cpus: Vec<usize>,
    /// Killed (SIGKILL) after this long.
    pub timeout: Duration,
    /// Its standard output and error go to `<output>.out` and `<output>.err`.
    pub output: PathBuf,
    /// CPUs whose busy share is reported (e.g. the target's).
    pub watch: Vec<usize>,
}

impl RunSpec {
    /// The command as a shell line (`taskset -c 0 wrk -t1 ...`).
    pub fn command_line(&self) -> String {
        let mut words = Vec::new();
        for (k, v) in &self.env {
            words.push(format!("{k}={}", quote(v)));
        }
        if !self.cpus.is_empty() {
            words.push(format!("taskset -c {}", cpu_list(&self.cpus)));
        }
        words.push(quote(&self.program.display().to_string()));
        words.extend(self.args.iter().map(|a| quote(a)));
        words.join(" ")
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// It ran past its timeout and was killed.
    TimedOut,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// How it ended.
    pub exit: Exit,
    /// User CPU time of the process tree.
    pub user: Duration,
    /// System CPU time of the process tree.
    pub sys: Duration,
    /// From spawn to reap (5 ms resolution).
    pub wall: Duration,
    /// Largest peak resident set of the process and its reaped descendants, in bytes.
    pub max_rss: u64,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// For each watched CPU, the share of the run it was busy (0.0 to 1.0).
    pub busy: Vec<(usize, f64)>,
}

impl Measured {
    /// User plus system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// Errors of running a measured command.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The command could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The executable.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An output file could not be made or read.
    #[error("{path}: {source}")]
    Output {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// `wait4` failed.
    #[error("waiting for {program}: {source}")]
    Wait {
        /// The executable.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A CPU number does not fit a CPU set.
    #[error("cannot pin to CPU {0}")]
    BadCpu(usize),
}

/// Runs `spec` to completion (or its timeout) and measures it.
pub fn run(spec: &RunSpec) -> Result<Measured, MeasureError> {
    let out_path = spec.output.with_extension("out");
    let err_path = spec.output.with_extension("err");
    let create = |path: &Path| {
        File::create(path).map_err(|source| MeasureError::Output {
            path: path.display().to_string(),
            source,
        })
    };
    let (out, err) = (create(&out_path)?, create(&err_path)?);
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if !spec.cpus.is_empty() {
        let mut set = CpuSet::new();
        for &cpu in &spec.cpus {
            set.set(cpu).map_err(|_| MeasureError::BadCpu(cpu))?;
        }
        // SAFETY: the closure runs in the forked child before exec and only makes one
        // system call (sched_setaffinity), which is async-signal-safe; it allocates nothing
        // (the set was built before the fork and is moved in).
        unsafe {
            command.pre_exec(move || {
                nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
                    .map_err(std::io::Error::from)
            });
        }
    }
    let program = spec.program.display().to_string();
    let before = cpu_times();
    let started = Instant::now();
    let child = command.spawn().map_err(|source| MeasureError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = child.id() as libc::pid_t;
    let mut timed_out = false;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own unreaped child (std's `Child` never waits unless asked);
        // both out-pointers are valid for the duration of the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        if reaped < 0 {
            let source = std::io::Error::last_os_error();
            if source.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(MeasureError::Wait { program, source });
        }
        if !timed_out && started.elapsed() > spec.timeout {
            timed_out = true;
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    let after = cpu_times();
    drop(child);
    let exit = if timed_out {
        Exit::TimedOut
    } else if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else {
        Exit::Signal(libc::WTERMSIG(status))
    };
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|source| MeasureError::Output {
                path: path.display().to_string(),
                source,
            })
    };
    Ok(Measured {
        exit,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        wall,
        max_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        stdout: read(&out_path)?,
        stderr: read(&err_path)?,
        busy: spec
            .watch
            .iter()
            .map(|&cpu| (cpu, busy_share(&before, &after, cpu)))
            .collect(),
    })
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// `(busy, total)` jiffies per CPU from `/proc/stat` (empty where it cannot be read).
fn cpu_times() -> Vec<Option<(u64, u64)>> {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    parse_proc_stat(&text)
}

/// Parses the `cpuN` lines of `/proc/stat` into `(busy, total)` per CPU number.
pub fn parse_proc_stat(text: &str) -> Vec<Option<(u64, u64)>> {
    let mut cpus: Vec<Option<(u64, u64)>> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        let Some(Ok(n)) = name.strip_prefix("cpu").map(str::parse::<usize>) else {
            continue;
        };
        let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
        if values.len() < 5 {
            continue;
        }
        // user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
        let total: u64 = values.iter().take(8).sum();
        let idle = values[3] + values[4];
        if cpus.len() <= n {
            cpus.resize(n + 1, None);
        }
        cpus[n] = Some((total - idle, total));
    }
    cpus
}

/// The busy share of `cpu` between two `/proc/stat` readings (NaN when unknown).
pub fn busy_share(before: &[Option<(u64, u64)>], after: &[Option<(u64, u64)>], cpu: usize) -> f64 {
    match (
        before.get(cpu).copied().flatten(),
        after.get(cpu).copied().flatten(),
    ) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 / (t1 - t0) as f64,
        _ => f64::NAN,
    }
}

/// `0,2-4` for `[0, 2, 3, 4]`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            sorted[i].to_string()
        } else {
            format!("{}-{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Parses `0,2-4` into `[0, 2, 3, 4]`.
pub fn parse_cpu_list(text: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad CPU list `{text}` (want e.g. 0 or 0-7 or 0,2)");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cpus.is_empty() {
        return Err(format!("empty CPU list `{text}`"));
    }
    Ok(cpus)
}

/// Raises this process's open-file limit (inherited by every command it runs) to at least
/// `wanted`: the hard limit too when allowed (root), then the soft limit to the hard one.
/// Returns the soft limit in force afterwards.
pub fn raise_open_files(wanted: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let mut hard_now = hard;
    if hard < wanted && setrlimit(Resource::RLIMIT_NOFILE, soft, wanted).is_ok() {
        hard_now = wanted;
    }
    if setrlimit(Resource::RLIMIT_NOFILE, hard_now, hard_now).is_ok() {
        hard_now
    } else {
        soft
    }
}

/// Quotes a word for a shell line when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(program: &str, args: &[&str], cpus: Vec<usize>, name: &str) -> RunSpec {
        let dir = std::env::temp_dir().join(format!("molotov-measure-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        RunSpec {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![("MEASURE_TEST".into(), "yes".into())],
            cpus,
            timeout: Duration::from_secs(20),
            output: dir.join(name),
            watch: vec![0],
        }
    }

    #[test]
    fn cpu_of_reaped_grandchildren_is_counted() {
        // The busy loop runs in a subshell that `sh` forks and reaps, like molotov's workers
        // under its master: its CPU time must show in the measurement.
        let script = "(i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done); echo \"$MEASURE_TEST\"; echo err >&2; exit 3";
        let m = run(&spec("sh", &["-c", script], vec![0], "grandchild")).unwrap();
        assert_eq!(m.exit, Exit::Code(3));
        assert_eq!(m.stdout, "yes\n");
        assert_eq!(m.stderr, "err\n");
        assert!(m.cpu() > Duration::from_millis(50), "{:?}", m.cpu());
        assert!(m.max_rss > 0);
        assert_eq!(m.busy.len(), 1);
    }

    #[test]
    fn pinning_reaches_the_command() {
        let m = run(&spec(
            "sh",
            &["-c", "grep Cpus_allowed_list /proc/self/status"],
            vec![0],
            "pin",
        ))
        .unwrap();
        assert_eq!(
            m.stdout.split_whitespace().last(),
            Some("0"),
            "{}",
            m.stdout
        );
    }

    #[test]
    fn a_command_past_its_timeout_is_killed() {
        let mut s = spec("sleep", &["30"], vec![], "timeout");
        s.timeout = Duration::from_millis(200);
        let m = run(&s).unwrap();
        assert_eq!(m.exit, Exit::TimedOut);
        assert!(m.wall < Duration::from_secs(10));
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let err = run(&spec("/nonexistent/tool", &[], vec![], "missing")).unwrap_err();
        assert!(matches!(err, MeasureError::Spawn { .. }), "{err}");
    }

    #[test]
    fn cpu_lists() {
        for (text, cpus, canonical) in [
            ("0", vec![0], "0"),
            ("0-3", vec![0, 1, 2, 3], "0-3"),
            ("8-15", (8..16).collect(), "8-15"),
            ("0,2-3,7", vec![0, 2, 3, 7], "0,2-3,7"),
        ] {
            assert_eq!(parse_cpu_list(text).unwrap(), cpus);
            assert_eq!(cpu_list(&cpus), canonical);
        }
        for bad in ["", "a", "3-1", "1-", ","] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proc_stat_busy_share() {
        let before = parse_proc_stat(
            "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 5 0 5 50 0 0 0 0 0 0\ncpu1 5 0 5 50 0 0 0 0 0 0\nintr 1 2\n",
        );
        let after = parse_proc_stat(
            "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 50 0 20 60 0 0 0 0 0 0\ncpu1 5 0 5 150 0 0 0 0 0 0\n",
        );
        assert_eq!(busy_share(&before, &after, 0), 60.0 / 70.0);
        assert_eq!(busy_share(&before, &after, 1), 0.0);
        assert!(busy_share(&before, &after, 5).is_nan());
    }

    #[test]
    fn command_lines_quote_what_needs_it() {
        let mut s = spec(
            "wrk",
            &["-t1", "http://127.0.0.1:1/", "a b"],
            vec![0, 1],
            "x",
        );
        s.env = vec![("TARGET".into(), "http://h:1".into())];
        assert_eq!(
            s.command_line(),
            "TARGET=http://h:1 taskset -c 0-1 wrk -t1 http://127.0.0.1:1/ 'a b'"
        );
    }
}
