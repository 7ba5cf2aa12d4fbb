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
        "the stats for {} in {} need up to {} of memory \
         ({} per request line per process), but only {} is available: run fewer processes (-p), \
         or write fewer request lines (a request in a `for` or `repeat` loop is one line)",
        counted(*requests as u64, "request", "requests"),
        counted(*slots as u64, "process", "processes"),
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
         this process uses {} now, the stats for {} in {} need \
         up to {} more, and building the report up to {} more: raise the limit (ulimit -v, \
         LimitAS= for a systemd service) to at least {}, run fewer processes (-p), or write \
         fewer request lines",
        size(*limit), size(*in_use),
        counted(*requests as u64, "request", "requests"),
        counted(*slots as u64, "process", "processes"),
        size(*stats), size(*report), size(*needed)
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
    /// The address-space limit (`ulimit -v`), which the load processes inherit, cannot hold
    /// a load process and its workers.
    #[error(
        "cannot run a load process within the address-space limit (RLIMIT_AS, ulimit -v) of \
         {}: it starts from the {} this process uses now, maps the stats ({} more), and its \
         {} need up to {} more: raise the limit (ulimit -v, LimitAS= for a systemd service) \
         to at least {}, or run fewer workers per process (-w) and more processes (-p)",
        size(*limit), size(*in_use), size(*region),
        counted(*workers as u64, "worker", "workers"), size(*load), size(*needed)
    )]
    AddressSpaceTooSmallForWorkers {
        /// Workers per load process.
        workers: usize,
        /// The hard RLIMIT_AS (bytes).
        limit: u64,
        /// VmSize of the master now: what a load process starts from.
        in_use: u64,
        /// The stats region, mapped in every process.
        region: u64,
        /// [`load_process_memory`].
        load: u64,
        /// The sum.
        needed: u64,
    },
    /// The io_uring rings of all the load processes do not fit in the locked-memory limit.
    #[error(
        "the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l) is {}, but the io_uring rings of \
         {} need {} of it ({} each at ring depth {depth}{}): the kernel charges \
         every io_uring ring of a user without CAP_IPC_LOCK to that user's locked memory, all \
         its processes together. Raise the limit (ulimit -l, /etc/security/limits.conf, \
         LimitMEMLOCK= for a systemd service, --ulimit memlock=-1 for Docker), or run fewer \
         processes (-p) or a smaller --ring-depth",
        size(*limit), counted(*rings, "process", "processes"), size(*needed), size(*per_ring),
        if *multishot_recv { ", with the --multishot-recv buffer ring" } else { "" }
    )]
    TooLittleLockedMemoryForRings {
        /// Rings counted: the load processes, and one more for the plan's setup or teardown.
        rings: u64,
        /// Submission-queue depth of each ring.
        depth: u32,
        /// `--multishot-recv`: a buffer ring is charged too.
        multishot_recv: bool,
        /// Locked memory of one process's rings ([`ring_locked_bytes`]).
        per_ring: u64,
        /// All of them, and the master's probe ring.
        needed: u64,
        /// The soft RLIMIT_MEMLOCK (bytes), raised to the hard one.
        limit: u64,
    },
    /// Raising the limits failed otherwise.
    #[error(transparent)]
    Process(#[from] ProcessError),
}

/// A count and its noun: "1 process", "3 processes".
fn counted(n: u64, one: &str, many: &str) -> String {
    crate::report::fmt_counted(n, one, many)
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

/// Bytes of `struct io_rings` before its completion entries, rounded up: 320 on x86-64 and
/// arm64 (the cache-line-aligned heads and tails of both queues, the masks and flags). With
/// 4 KiB pages any value up to 1 KiB gives the same page counts.
const IO_RINGS_HEADER: u64 = 1024;

/// The locked memory the kernel charges (pages, in bytes) for the io_uring ring of one load
/// process, as molotov-runtime builds it: `depth` submission entries (rounded up to a power of
/// two), 8 completion entries per submission entry and at least 4,096; with
/// `multishot_recv_buffers`, the ring of that many provided buffers of the multishot receives.
///
/// - the rings region: `struct io_rings`, 16 bytes per completion entry and 4 per
///   submission-array entry, rounded up to whole pages;
/// - the submission entries: 64 bytes each, rounded up to whole pages;
/// - a provided-buffer ring: 16 bytes per buffer, rounded up to whole pages (the buffers
///   themselves are ordinary memory, not charged).
///
/// Measured as `nobody` on Linux 6.18 (`io_uring_setup` under `prlimit --memlock`): depth 128
/// (the default) fails at 72 KiB and works at 76 KiB (17 + 2 pages); depth 1 at 68 / 72 KiB
/// (18 pages); depth 1,024 at 196 / 200 KiB (34 + 16); depth 8,192 at 1,560 / 1,572 KiB
/// (265 + 128). A buffer ring registered on a depth-128 ring: 256 buffers fail at 76 KiB and
/// work at 80 (1 page), 2,048 fail at 104 KiB and work at 108 (8 pages).
pub fn ring_locked_bytes(depth: u32, multishot_recv_buffers: Option<u64>, page: u64) -> u64 {
    let pages = |bytes: u64| bytes.div_ceil(page) * page;
    let sq = u64::from(depth.max(1)).next_power_of_two();
    let cq = (sq * 8).max(4096);
    let rings = pages(IO_RINGS_HEADER + cq * 16 + sq * 4);
    let sqes = pages(sq * 64);
    let buffers = multishot_recv_buffers.map_or(0, |n| pages(n.next_power_of_two() * 16));
    rings + sqes + buffers
}

/// Whether this kernel charges io_uring rings to RLIMIT_MEMLOCK: before 5.12 (`ring_pages`
/// accounted at setup), and again since 6.14 (the rings became io_uring memory regions,
/// which are accounted); 5.12 to 6.13 charged them to the memory cgroup instead.
fn kernel_charges_rings(release: &str) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    !((5, 12)..(6, 14)).contains(&version)
}

/// Whether the kernel exempts this process's rings from the charge: it has CAP_IPC_LOCK in the
/// initial user namespace (root, mostly; a capability in a container's own user namespace does
/// not count).
fn exempt_from_ring_charge() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let has_cap = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0);
    let initial_namespace = std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    has_cap && initial_namespace
}

/// What the locked-memory check looks at: the run's rings and where it runs.
#[derive(Debug, Clone, Copy)]
pub struct RingNeed {
    /// Load processes (`-p`).
    pub processes: usize,
    /// Workers per process (the multishot receives' buffers depend on it).
    pub workers: usize,
    /// `--ring-depth`, or molotov-runtime's default.
    pub depth: u32,
    /// `--multishot-recv`.
    pub multishot_recv: bool,
    /// The plan has a `setup` or `teardown` block: its process's ring may not be freed yet
    /// when the load processes build theirs (the kernel frees a ring after its process
    /// ends, asynchronously), and the load processes' when the teardown builds its own.
    pub setup_or_teardown: bool,
}

/// Fails when the io_uring rings of all the load processes cannot fit in the locked-memory
/// limit (the soft RLIMIT_MEMLOCK, which [`check_fds`] raised to the hard one): the kernel
/// charges them to the user's total, all processes together, not to each process. Not for a
/// process with CAP_IPC_LOCK, or on a kernel that does not charge rings.
pub fn check_locked_memory(need: &RingNeed) -> Result<(), PreflightError> {
    use nix::sys::resource::{Resource, getrlimit};
    let Ok((limit, _)) = getrlimit(Resource::RLIMIT_MEMLOCK) else {
        return Ok(());
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if limit == libc::RLIM_INFINITY || !kernel_charges_rings(&release) || exempt_from_ring_charge()
    {
        return Ok(());
    }
    // SAFETY: sysconf(3) only reads a system value.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as u64,
        _ => 4096,
    };
    rings_fit(need, limit, page)
}

/// The arithmetic of [`check_locked_memory`]: one ring per load process, one more for the
/// plan's setup or teardown, and the master's probe ring (4 entries, closed before the run but
/// freed by the kernel asynchronously), against `limit` bytes.
fn rings_fit(need: &RingNeed, limit: u64, page: u64) -> Result<(), PreflightError> {
    let buffers = need
        .multishot_recv
        .then(|| crate::engine::recv_buffers_for(need.workers) as u64);
    let per_ring = ring_locked_bytes(need.depth, buffers, page);
    let rings = need.processes as u64 + u64::from(need.setup_or_teardown);
    // The probe's ring: 4 submission and 8 completion entries, a page each.
    let probe = 2 * page;
    let needed = per_ring.saturating_mul(rings).saturating_add(probe);
    if needed > limit {
        return Err(PreflightError::TooLittleLockedMemoryForRings {
            rings,
            depth: need.depth,
            multishot_recv: need.multishot_recv,
            per_ring,
            needed,
            limit,
        });
    }
    Ok(())
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

/// Address space a load process of `workers` workers maps beyond what it inherits (the
/// master's mappings and the stats region): its executor and ring, each worker's state and
/// buffers, the multishot receives' buffers, and the allocator's slack.
///
/// Measured (VmPeak of a load process minus the master's VmSize, `GET /json`, Linux 6.18,
/// glibc): 3.3 MiB for 1,000 workers, 26 MiB for 8,000, about 3.3 KiB a worker. 4 MiB and
/// 8 KiB a worker is 2.5 times that: room for larger responses and fragmentation. A plan
/// that keeps large bodies or builds large values needs more; a load process that runs out
/// dies (SIGABRT) and the message names the limit.
pub fn load_process_memory(workers: usize, multishot_recv: bool) -> u64 {
    let buffers = if multishot_recv {
        crate::engine::recv_buffers_for(workers) as u64 * LOAD_RECV_BUFFER
    } else {
        0
    };
    LOAD_PROCESS_BASE
        .saturating_add((workers as u64).saturating_mul(LOAD_MEMORY_PER_WORKER))
        .saturating_add(buffers)
}

/// The fixed part of [`load_process_memory`].
pub const LOAD_PROCESS_BASE: u64 = 4 << 20;
/// The part of [`load_process_memory`] per worker.
pub const LOAD_MEMORY_PER_WORKER: u64 = 8 << 10;
/// One buffer of the multishot receives' buffer ring.
const LOAD_RECV_BUFFER: u64 = 4 << 10;

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
///
/// The load processes inherit the limit: each starts from what the master maps at the fork
/// (what it uses now and the region) and adds [`load_process_memory`] for its `workers`.
/// The figure named is the larger of the two needs, so that at it the whole run goes.
pub fn check_address_space(
    layout: &Layout,
    workers: usize,
    multishot_recv: bool,
) -> Result<(), PreflightError> {
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
    address_space_fits(layout, hard, in_use, workers, multishot_recv)
}

/// Whether `in_use` bytes already mapped, the stats of `layout` and the report fit in an
/// address-space limit of `limit` bytes.
fn address_space_fits(
    layout: &Layout,
    limit: u64,
    in_use: u64,
    workers: usize,
    multishot_recv: bool,
) -> Result<(), PreflightError> {
    let stats = stats_memory(layout);
    let report = report_memory(layout.shape().requests);
    let needed = in_use.saturating_add(stats).saturating_add(report);
    let region = layout.region_bytes() as u64;
    let load = load_process_memory(workers, multishot_recv);
    let load_needed = in_use.saturating_add(region).saturating_add(load);
    if load_needed > needed && load_needed > limit {
        return Err(PreflightError::AddressSpaceTooSmallForWorkers {
            workers,
            limit,
            in_use,
            region,
            load,
            needed: load_needed,
        });
    }
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
            err.starts_with("the stats for 20,000 requests in 4,098 processes need up to "),
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
        address_space_fits(&layout, exact, in_use, 10, false).unwrap();
        let err = address_space_fits(&layout, exact - 1, in_use, 10, false)
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
        // The load processes inherit the limit: 8,000 workers need more than the master,
        // and the figure named is theirs. A load process of -w 8000 used to pass the check
        // and abort (SIGABRT, 0 requests) at the figure named.
        let region = layout.region_bytes() as u64;
        let load = load_process_memory(8000, false);
        assert!(load >= (8000 * 8) << 10, "{load}");
        let exact = in_use + region + load;
        assert!(exact > in_use + stats + report);
        address_space_fits(&layout, exact, in_use, 8000, false).unwrap();
        let err = address_space_fits(&layout, exact - 1, in_use, 8000, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "cannot run a load process within the address-space limit (RLIMIT_AS, ulimit \
                 -v) of "
            ),
            "{err}"
        );
        assert!(err.contains("and its 8,000 workers need up to "), "{err}");
        assert!(
            err.contains(&format!("to at least {}", size(exact))),
            "{err}"
        );
        // --multishot-recv adds its buffers.
        assert!(load_process_memory(8000, true) > load);
        // The figure grows with the request lines.
        assert!(report_memory(1000) > report_memory(10));
    }

    #[test]
    fn ring_locked_memory_is_what_the_kernel_charges() {
        const PAGE: u64 = 4096;
        // Measured as nobody on 6.18 (see ring_locked_bytes): 19 pages at depth 128, 393 at
        // 8,192.
        assert_eq!(ring_locked_bytes(128, None, PAGE), 76 << 10);
        assert_eq!(ring_locked_bytes(8192, None, PAGE), 1572 << 10);
        // Rounded up to a power of two, like the kernel: 100 is 128; 1 is 1 (4,096
        // completion entries all the same).
        assert_eq!(ring_locked_bytes(100, None, PAGE), 76 << 10);
        assert_eq!(ring_locked_bytes(1, None, PAGE), (17 + 1) * PAGE);
        // 1,024 entries: 8,192 completion entries (32 pages) and the 4 KiB array (2 pages
        // with the header), 16 pages of entries.
        assert_eq!(ring_locked_bytes(1024, None, PAGE), (34 + 16) * PAGE);
        // The multishot receives' buffer ring: 256 buffers are a page, 2,048 are 8.
        assert_eq!(ring_locked_bytes(128, Some(256), PAGE), (76 << 10) + PAGE);
        assert_eq!(
            ring_locked_bytes(128, Some(2048), PAGE),
            (76 << 10) + 8 * PAGE
        );
    }

    #[test]
    fn every_load_process_ring_is_counted_against_the_limit() {
        const PAGE: u64 = 4096;
        let need = |processes, depth, multishot_recv, setup_or_teardown| RingNeed {
            processes,
            workers: 10,
            depth,
            multishot_recv,
            setup_or_teardown,
        };
        // -p 16 at the default depth: 16 x 76 KiB and the probe's 8 KiB, more than 1 MiB
        // (the limit passed the old 512 KiB check, and 3 of 16 processes failed).
        let err = rings_fit(&need(16, 128, false, false), 1 << 20, PAGE)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "the locked-memory limit (RLIMIT_MEMLOCK, ulimit -l) is 1.0 MiB, but the \
                 io_uring rings of 16 processes need 1.2 MiB of it (76.0 KiB each at ring \
                 depth 128): "
            ),
            "{err}"
        );
        assert!(
            err.contains("run fewer processes (-p) or a smaller --ring-depth"),
            "{err}"
        );
        // One process: "1 process", not "1 processes".
        let err = rings_fit(&need(1, 8192, false, false), 1 << 20, PAGE)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the io_uring rings of 1 process need 1.5 MiB"),
            "{err}"
        );
        // 13 fit in 1 MiB: 988 + 8 KiB.
        rings_fit(&need(13, 128, false, false), 1 << 20, PAGE).unwrap();
        // A setup or teardown counts one more ring.
        rings_fit(&need(13, 128, false, true), 1 << 20, PAGE).unwrap_err();
        // -p 128 in systemd's default 8 MiB: 9.5 MiB. -p 107 fits.
        rings_fit(&need(128, 128, false, false), 8 << 20, PAGE).unwrap_err();
        rings_fit(&need(107, 128, false, false), 8 << 20, PAGE).unwrap();
        // --ring-depth 8192 -p 2: 3 MiB, more than 1 MiB.
        rings_fit(&need(2, 8192, false, false), 1 << 20, PAGE).unwrap_err();
        // --multishot-recv adds the buffer ring: 77 KiB + ... x 13 no longer fits.
        let err = rings_fit(&need(13, 128, true, false), 1 << 20, PAGE)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("with the --multishot-recv buffer ring"),
            "{err}"
        );
    }

    #[test]
    fn kernels_that_charge_rings() {
        assert!(kernel_charges_rings("5.10.0-21-amd64"));
        assert!(!kernel_charges_rings("5.12.0"));
        assert!(!kernel_charges_rings("6.8.0-45-generic"));
        assert!(!kernel_charges_rings("6.13.12"));
        assert!(kernel_charges_rings("6.14.0"));
        assert!(kernel_charges_rings("6.18.44-fc-v669"));
        assert!(kernel_charges_rings("7.0"));
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
