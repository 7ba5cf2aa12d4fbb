//! Checks the master makes before it forks anything, so that a run that cannot work fails up
//! front with a clear message instead of half-starting: every host the plan names resolves,
//! each load process has the file descriptors its workers' sockets need, and the stats region
//! fits in the memory available.
//!
//! The file-descriptor need of a load process is counted, not guessed: what the master has
//! open when the run starts (the children inherit it: stdio, a statsd socket, the signalfd...),
//! the executor's own descriptors (three io_uring rings and an eventfd, measured), room for a
//! name lookup and the setup pipe, and one socket per worker for each origin the plan can talk
//! to. A plan whose URLs are built at run time may reach more origins than it names; one more
//! socket per worker is counted for those, and each worker then keeps at most as many clients
//! (each with its connection) for such origins as the limit leaves room for, from 1 to
//! [`MAX_RUN_TIME_CLIENTS`] ([`run_time_clients`]): it closes one of them, drawn at random,
//! beyond that, so the run never holds more sockets than the limit allows.

use std::net::{IpAddr, ToSocketAddrs};

use molotov_dsl::Program;

use crate::latency::COUNTS_LEN;
use crate::process::{self, ProcessError};
use crate::shm::Layout;

/// Descriptors a load process has besides its sockets and what the master had open before the
/// run: io_uring rings (3) and an eventfd (measured on a child), the master's signalfd and
/// setup pipe (2), a name lookup's socket, and slack.
pub const PROCESS_OWN_FDS: u64 = 12;

/// Why a run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// A host of the plan does not resolve.
    #[error("cannot resolve `{host}` (from {origin} in the plan): {reason}; nothing was sent")]
    Resolve {
        /// `scheme://authority` as the plan names it.
        origin: String,
        /// The host looked up.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// `-w` does not fit in the file-descriptor limit.
    #[error(
        "-w {workers} needs {needed} file descriptors per process ({per_worker} per worker for \
         the plan's origins, plus {base} for the process itself) but the limit is {hard}: lower \
         -w, or raise the hard limit (ulimit -Hn, /etc/security/limits.conf, LimitNOFILE= for a \
         systemd service)"
    )]
    TooFewFileDescriptors {
        /// Workers per process.
        workers: u64,
        /// Sockets per worker.
        per_worker: u64,
        /// The process's own descriptors, inherited ones included.
        base: u64,
        /// The total.
        needed: u64,
        /// The hard limit.
        hard: u64,
    },
    /// The stats region and the master's histograms would not fit in memory.
    #[error(
        "the stats for {requests} requests in {slots} processes need up to {} of memory \
         ({} per request line per process), but only {} is available: run fewer processes (-p), \
         or write fewer request lines (a request in a `for` or `repeat` loop is one line)",
        size(*needed), size(COUNTS_LEN as u64 * 8), size(*available)
    )]
    StatsTooLarge {
        /// Request sites in the plan.
        requests: usize,
        /// Stats slots (load processes, setup and teardown).
        slots: usize,
        /// Bytes needed at most.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// The address-space limit (`ulimit -v`) cannot hold the stats and the report.
    #[error(
        "cannot map the stats within the address-space limit (RLIMIT_AS, ulimit -v) of {}: \
         this process uses {} now, the stats for {requests} requests in {slots} processes need \
         up to {} more, and building the report up to {} more: raise the limit (ulimit -v, \
         LimitAS= for a systemd service) to at least {}, run fewer processes (-p), or write \
         fewer request lines",
        size(*limit), size(*in_use), size(*stats), size(*report), size(*needed)
    )]
    AddressSpaceTooSmall {
        /// Request sites in the plan.
        requests: usize,
        /// Stats slots (load processes, setup and teardown).
        slots: usize,
        /// The hard RLIMIT_AS (bytes).
        limit: u64,
        /// VmSize of the master now.
        in_use: u64,
        /// [`stats_memory`].
        stats: u64,
        /// [`report_memory`].
        report: u64,
        /// The sum.
        needed: u64,
    },
    /// Raising the limits failed otherwise.
    #[error(transparent)]
    Process(#[from] ProcessError),
}

/// A byte count for people: KiB, MiB, GiB or TiB with one decimal.
fn size(bytes: u64) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

/// Looks up every host the plan names (IP addresses need no lookup). The first that does not
/// resolve is the error.
pub fn resolve_origins(program: &Program) -> Result<(), PreflightError> {
    let mut done: Vec<&str> = Vec::new();
    for origin in program.origins() {
        if origin.host.parse::<IpAddr>().is_ok() || done.contains(&origin.host) {
            continue;
        }
        done.push(origin.host);
        let scheme = if origin.https { "https" } else { "http" };
        let fail = |reason: String| PreflightError::Resolve {
            origin: format!("{scheme}://{}", origin.authority),
            host: origin.host.to_string(),
            reason,
        };
        match (origin.host, origin.port).to_socket_addrs() {
            Ok(mut addrs) => {
                if addrs.next().is_none() {
                    return Err(fail("no addresses".into()));
                }
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    Ok(())
}

/// The most clients (each with a connection) a worker keeps for origins built at run time.
/// More keep-alive connections would save connects only for a plan that cycles through more
/// origins than this, and cost a descriptor and ~0.8 KB each per worker.
pub const MAX_RUN_TIME_CLIENTS: u64 = 8;

/// Sockets one worker may hold at once, counted by the preflight: one per origin the plan
/// names, and one more when some URL is built at run time (the least a worker keeps for those:
/// see [`run_time_clients`]).
pub fn sockets_per_worker(program: &Program) -> u64 {
    let named = program.origins().count() as u64;
    (named + u64::from(program.has_run_time_origins())).max(1)
}

/// Descriptors open in this process now.
pub fn open_fds() -> u64 {
    match std::fs::read_dir("/proc/self/fd") {
        // The directory's own descriptor is listed too.
        Ok(dir) => (dir.count() as u64).saturating_sub(1),
        Err(_) => 3,
    }
}

/// Raises the soft limits (file descriptors, locked memory) and checks that `workers`
/// workers of `program` fit in the file-descriptor limit of each load process. Returns how
/// many clients a worker may keep for origins built at run time ([`run_time_clients`]).
pub fn check_fds(program: &Program, workers: usize) -> Result<usize, PreflightError> {
    let per_worker = sockets_per_worker(program);
    let base = open_fds() + PROCESS_OWN_FDS;
    let needed = base + workers as u64 * per_worker;
    let limits = process::raise_limits(needed).map_err(|e| match e {
        ProcessError::TooFewFileDescriptors { needed, hard } => {
            PreflightError::TooFewFileDescriptors {
                workers: workers as u64,
                per_worker,
                base,
                needed,
                hard,
            }
        }
        other => PreflightError::Process(other),
    })?;
    let named = program.origins().count() as u64;
    Ok(run_time_clients(named, workers as u64, base, limits.nofile) as usize)
}

/// How many clients a worker may keep for origins built at run time: what the limit of
/// `nofile` descriptors leaves per worker once the process's own (`base`) and one socket per
/// origin the plan names (`named`) are counted, from 1 (which the preflight counted) to
/// [`MAX_RUN_TIME_CLIENTS`].
pub fn run_time_clients(named: u64, workers: u64, base: u64, nofile: u64) -> u64 {
    let per_worker = nofile.saturating_sub(base) / workers.max(1);
    per_worker
        .saturating_sub(named)
        .clamp(1, MAX_RUN_TIME_CLIENTS)
}

/// Memory available to this process: `MemAvailable`, lowered by a cgroup v2 memory limit.
/// None when it cannot be read.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let mut available = meminfo.lines().find_map(|l| {
        let kib = l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?;
        kib.trim().parse::<u64>().ok().map(|k| k * 1024)
    })?;
    if let Some(room) = cgroup_room() {
        available = available.min(room);
    }
    Some(available)
}

/// `memory.max - memory.current` of this process's cgroup (v2), when it has a limit.
fn cgroup_room() -> Option<u64> {
    let line = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = line.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let max = read("memory.max")?.trim().parse::<u64>().ok()?;
    let current = read("memory.current")?.trim().parse::<u64>().unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// The most memory the stats can take: the whole region (each page a process touches is
/// real memory, and the master reads every histogram a process used), plus the histograms
/// the master builds for the report.
pub fn stats_memory(layout: &Layout) -> u64 {
    let shape = layout.shape();
    (layout.region_bytes() as u64)
        .saturating_add((shape.requests as u64 + 2).saturating_mul(COUNTS_LEN as u64 * 8))
}

/// Fails when the stats of this run could take more memory than is available.
pub fn check_stats_memory(layout: &Layout) -> Result<(), PreflightError> {
    let needed = stats_memory(layout);
    match available_memory() {
        Some(available) if needed > available => Err(PreflightError::StatsTooLarge {
            requests: layout.shape().requests,
            slots: layout.shape().slots,
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

/// Address space the master may take, beyond the stats ([`stats_memory`]: the region and the
/// worst case of its own histograms), between the preflight and the end of the report: the
/// report's text, JSON and HTML (built one after the other), the per-second series, the live
/// view's and statsd's buffers, and what the allocator keeps mapped of memory already freed.
/// A fixed part and a part per request line.
///
/// Measured (VmPeak of the master blocked on its last write, minus its VmSize 1 s into the
/// load, `--json` and `--html`, Linux 6.18, glibc): 4.3 MiB for 100 request lines; 34 MiB for
/// 1,000 lines in 6 s; 47 to 51 MiB for 2,000 lines with -p 1, 2 or 4; between 24 and 44 KiB
/// per line. 16 MiB and 64 KiB per line is 2.5 to 5 times that: room for a longer series and
/// the allocator's fragmentation.
pub fn report_memory(requests: usize) -> u64 {
    REPORT_MEMORY_BASE.saturating_add((requests as u64).saturating_mul(REPORT_MEMORY_PER_REQUEST))
}

/// The fixed part of [`report_memory`].
pub const REPORT_MEMORY_BASE: u64 = 16 << 20;
/// The part of [`report_memory`] per request line.
pub const REPORT_MEMORY_PER_REQUEST: u64 = 64 << 10;

/// Address space this process has mapped now (`VmSize`); None when it cannot be read.
pub fn address_space_in_use() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let kib = l.strip_prefix("VmSize:")?.trim().strip_suffix("kB")?;
        kib.trim().parse::<u64>().ok().map(|k| k * 1024)
    })
}

/// Raises the soft address-space limit (`ulimit -v`, RLIMIT_AS) to the hard one, and fails
/// when the hard one cannot hold what the master has mapped now, the stats and the report:
/// a master that ran out of address space after the run aborted building the report (no
/// report, the whole run lost). The load processes inherit the raised limit.
pub fn check_address_space(layout: &Layout) -> Result<(), PreflightError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_AS) else {
        return Ok(());
    };
    if soft < hard {
        // Best effort: the hard limit is what is checked; a soft one left lower only makes
        // the map of the region fail, which is refused cleanly.
        let _ = setrlimit(Resource::RLIMIT_AS, hard, hard);
    }
    if hard == libc::RLIM_INFINITY {
        return Ok(());
    }
    let Some(in_use) = address_space_in_use() else {
        return Ok(());
    };
    address_space_fits(layout, hard, in_use)
}

/// Whether `in_use` bytes already mapped, the stats of `layout` and the report fit in an
/// address-space limit of `limit` bytes.
fn address_space_fits(layout: &Layout, limit: u64, in_use: u64) -> Result<(), PreflightError> {
    let stats = stats_memory(layout);
    let report = report_memory(layout.shape().requests);
    let needed = in_use.saturating_add(stats).saturating_add(report);
    if needed > limit {
        return Err(PreflightError::AddressSpaceTooSmall {
            requests: layout.shape().requests,
            slots: layout.shape().slots,
            limit,
            in_use,
            stats,
            report,
            needed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::Shape;
    use molotov_dsl::{CompileOptions, compile_source};

    fn program(text: &str) -> Program {
        compile_source(
            "p.mol",
            text,
            std::path::Path::new("."),
            &CompileOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn sockets_per_worker_counts_origins() {
        let one = program("defaults {\n  base http://127.0.0.1:1\n}\nscenario s {\n  GET /\n}\n");
        assert_eq!(sockets_per_worker(&one), 1);
        let three = program(
            "scenario s {\n  GET http://127.0.0.1:1/\n  GET http://localhost:1/\n  GET https://127.0.0.1:2/\n  GET http://127.0.0.1:1/again\n}\n",
        );
        assert_eq!(sockets_per_worker(&three), 3);
        let run_time = program(
            "defaults {\n  base http://127.0.0.1:1\n}\nscenario s {\n  GET /\n  capture u = jsonpath \"$.u\"\n  GET {{u}}\n}\n",
        );
        assert_eq!(sockets_per_worker(&run_time), 2);
    }

    #[test]
    fn run_time_clients_fit_the_limit() {
        // Room for 20 sockets per worker: 8 at most.
        assert_eq!(run_time_clients(1, 50, 20, 1020), MAX_RUN_TIME_CLIENTS);
        // 1024 descriptors, 100 workers, 2 plan origins: 10 per worker, 8 left for run time.
        assert_eq!(run_time_clients(2, 100, 24, 1024), 8);
        // 5 per worker, 2 of them for the plan's origins.
        assert_eq!(run_time_clients(2, 100, 24, 524), 3);
        // Only the one the preflight counted.
        assert_eq!(run_time_clients(1, 10_000, 30, 20_030), 1);
        assert_eq!(run_time_clients(5, 1, 30, 0), 1);
        assert_eq!(run_time_clients(0, 0, 0, u64::MAX), MAX_RUN_TIME_CLIENTS);
    }

    #[test]
    fn names_resolve_and_ip_addresses_need_no_lookup() {
        let ok = program(
            "scenario s {\n  GET http://localhost:1/\n  GET http://[::1]:1/\n  GET http://10.0.0.1/\n}\n",
        );
        resolve_origins(&ok).unwrap();
        let bad = program(
            "defaults {\n  base http://127.0.0.1:1\n}\nscenario s {\n  GET /\n  GET https://no-such-host.invalid:8443/x\n}\n",
        );
        let err = resolve_origins(&bad).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "cannot resolve `no-such-host.invalid` (from https://no-such-host.invalid:8443 in the plan): "
            ),
            "{err}"
        );
        assert!(err.ends_with("; nothing was sent"), "{err}");
    }

    #[test]
    fn open_fds_counts_at_least_stdio() {
        assert!(open_fds() >= 3);
    }

    #[test]
    fn stats_memory_grows_with_requests_and_processes() {
        let layout = |requests, slots| {
            Layout::new(Shape {
                requests,
                scenarios: 1,
                checks: 0,
                slots,
            })
        };
        let small = stats_memory(&layout(10, 3));
        assert!(small < 64 << 20, "{small}");
        let per_request = COUNTS_LEN as u64 * 8;
        let big = stats_memory(&layout(20_000, 4098));
        assert!(big > 20_000 * 4098 * per_request, "{big}");
        // 20,000 requests in 4,096 processes: 10 TiB, more than any machine has.
        let err = check_stats_memory(&layout(20_000, 4098))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the stats for 20000 requests in 4098 processes need up to "),
            "{err}"
        );
        check_stats_memory(&layout(10, 3)).unwrap();
    }

    #[test]
    fn the_address_space_limit_holds_what_is_mapped_the_stats_and_the_report() {
        let layout = Layout::new(Shape {
            requests: 100,
            scenarios: 1,
            checks: 0,
            slots: 3,
        });
        let stats = stats_memory(&layout);
        let report = report_memory(100);
        let in_use = 10 << 20;
        let exact = in_use + stats + report;
        address_space_fits(&layout, exact, in_use).unwrap();
        let err = address_space_fits(&layout, exact - 1, in_use)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "cannot map the stats within the address-space limit (RLIMIT_AS, ulimit -v) of "
            ),
            "{err}"
        );
        assert!(err.contains("this process uses 10.0 MiB now"), "{err}");
        assert!(
            err.contains("the stats for 100 requests in 3 processes"),
            "{err}"
        );
        assert!(
            err.contains(&format!("to at least {}", size(exact))),
            "{err}"
        );
        assert!(address_space_in_use().unwrap() > 1 << 20);
        // The figure grows with the request lines.
        assert!(report_memory(1000) > report_memory(10));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(COUNTS_LEN as u64 * 8), "224.0 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
        assert_eq!(size(1_147_000_000_000), "1.0 TiB");
    }

    #[test]
    fn available_memory_is_read() {
        let available = available_memory().unwrap();
        assert!(available > 16 << 20, "{available}");
    }
}
