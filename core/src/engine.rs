//! The child side of a run: one molotov-runtime executor pinned to the child's CPU, `-w`
//! workers on it, each driving the plan interpreter (molotov-dsl) through molotov-http
//! clients, and recording into the child's slot of the shared region.
//!
//! This is the only module of the engine that knows the runtime; the rest sees a function that
//! runs a child to completion and returns its exit code.

use std::cell::Cell;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use molotov_dsl::{
    Driver, Failure, FailureKind, Globals, Program, Recorder, Request, ResponseView, RunOutcome,
    Worker, WorkerContext,
};
use molotov_http::{
    Client, ClientConfig, HeaderNeeds, Meter, Origin, RequestMeta, Response, ResponseNeeds, Scheme,
};
use molotov_runtime::{Executor, RingSetup};

use crate::load::{RateSchedule, ramp_offset};
use crate::process::monotonic_nanos;
use crate::shm::{
    HeaderWord, Histo, Meta, Region, RequestCounter, ScenarioCounter, Site, Slot, SlotState,
    StopRequest, Total,
};

/// What a child needs to run its share of the load.
#[derive(Clone)]
pub struct ChildSpec {
    /// The compiled plan.
    pub program: Arc<Program>,
    /// Captures of the plan's `setup`.
    pub globals: Arc<Globals>,
    /// The shared stats region (the child leaks one reference; it lives until `_exit`).
    pub region: Arc<Region>,
    /// This child's slot.
    pub slot: usize,
    /// This child's process index (0-based), for `process` in templates.
    pub process: u32,
    /// Workers in this child.
    pub workers: usize,
    /// Global id of this child's first worker.
    pub first_worker: u64,
    /// Load processes in the run (for ramp-up offsets and the rate split).
    pub processes: usize,
    /// The CPU to pin the executor to (None: unpinned).
    pub cpu: Option<usize>,
    /// The most clients (each with its connection) a worker keeps for origins built at run
    /// time, beyond the plan's own: what the file-descriptor limit leaves room for (see
    /// `preflight::run_time_clients`). At least 1.
    pub run_time_clients: usize,
    /// Behaviour shared by every child.
    pub options: EngineOptions,
}

/// Knobs for the children.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Scenario runs per worker (None: until stopped).
    pub max_runs: Option<u64>,
    /// Stop the whole run on the first failure (`-x`).
    pub exception: bool,
    /// Run seed (per-worker RNGs derive from it).
    pub seed: u64,
    /// Print `log` statements (stderr).
    pub print_logs: bool,
    /// HTTP client settings.
    pub client: ClientConfig,
    /// The executor's `spin_before_park` (None: off).
    pub spin_before_park: Option<Duration>,
    /// The executor's `batch_wait` (None: off).
    pub batch_wait: Option<Duration>,
    /// Submission entries of the executor's ring (None: the runtime's default, 128).
    pub ring_depth: Option<usize>,
    /// Build the executor's ring with a task-work flag: `DEFER_TASKRUN`, or `COOP_TASKRUN`
    /// where the kernel refuses it (see molotov-runtime).
    pub coop_taskrun: bool,
    /// Wait for read readiness with one multishot poll per connection (see
    /// molotov-runtime's `Executor::multishot_poll`).
    pub multishot_poll: bool,
    /// Read each connection with one multishot receive into buffers the process lends the
    /// kernel (see molotov-runtime's `Executor::multishot_recv`).
    pub multishot_recv: bool,
    /// Prefetch a woken worker's state from this many bytes of live task state on (None:
    /// the runtime's default, half the L2 cache; see molotov-runtime's
    /// `Executor::prefetch_task_state_from`).
    pub prefetch_from: Option<usize>,
    /// Print requests and responses (`-vv`): rate-limited, bodies truncated, on stderr.
    pub dump: bool,
    /// How workers start and what they run.
    pub load: LoadOptions,
}

/// The load model of the children. (`repr(C)`: what a worker reads at every scenario run
/// first, in one cache line.)
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub struct LoadOptions {
    /// Pause after every scenario run, on top of the scenario's own `delay` (`--delay`).
    pub delay: Duration,
    /// Run only this scenario (`--single-mode`), by index.
    pub single_mode: Option<u32>,
    /// Each worker runs every scenario once, in plan order (`--single-run`).
    pub single_run: bool,
    /// Spread worker starts over this long (`--ramp-up`).
    pub ramp_up: Option<Duration>,
    /// The open model (`--rate`): scenario starts follow this schedule.
    pub rate: Option<RateOptions>,
}

/// The open model's settings.
#[derive(Debug, Clone)]
pub struct RateOptions {
    /// Scenario starts per second over the whole run, as a function of time.
    pub schedule: RateSchedule,
    /// Starts later than this are dropped (counted, not run). None: never dropped.
    pub max_late: Option<Duration>,
    /// An arrival due within this of the clock when a worker takes it starts at once, early,
    /// instead of on a timer of its own (`--max-early`): runs due close together start in one
    /// wake-up of the executor. Zero: every start waits for its time.
    pub max_early: Duration,
    /// The most runs that start early in one wake-up (`--early-batch`): what bounds the
    /// bursts the server sees (at most this + 1 starts at once per process). Zero: none early.
    pub early_batch: u32,
}

/// `--max-early`'s default: a start within 1 ms of its time is on time either way (after
/// 1 ms it is counted late, [`LATE_AFTER`]).
pub const DEFAULT_MAX_EARLY: Duration = Duration::from_millis(1);

/// `--early-batch`'s default. On the 2-CPU dev machine a wake-up per arrival cost 30-100
/// CPU-µs (`benches/open-model.sh window`); batches of up to 9 starts brought molotov to about
/// oha's CPU per request or below at 5,000-60,000/s per process (121 -> 35, 42 -> 23 and
/// 16.4 -> 15.6 µs) with about the p50 of exact starts, where an unbounded 250 µs window
/// bunched 15 requests at 60,000/s and raised the p50 from 0.08 to 0.21-0.30 ms.
pub const DEFAULT_EARLY_BATCH: u32 = 8;

/// A start is counted late when it begins more than this after its intended time (timer
/// wake-ups alone are 35-100 µs late on an idle executor). Its whole lateness counts in the
/// latency either way.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// The longest single timer a sleeping worker waits on before checking for a stop request.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// The longest a ready load child sleeps on the start word before it looks at the region
/// again. The master wakes it when it gives the start or asks a stop (a futex), so this only
/// bounds a wake-up that never came (none is expected).
const START_WAIT_LIMIT: Duration = Duration::from_secs(1);
/// How long before the start a ready load child stops sleeping and spins (a thread's sleep
/// ends up to ~100 µs late).
const START_SPIN: Duration = Duration::from_micros(300);
/// How often a load child waiting for its workers' logins checks whether the master gave the
/// start without it.
const READY_POLL: Duration = Duration::from_millis(10);

/// Exit code of a child whose executor could not start.
pub const CHILD_RUNTIME_EXIT: i32 = 70;
/// Exit code of a setup or teardown child whose plan block failed.
pub const SETUP_FAILED_EXIT: i32 = 3;

/// Bytes of one receive buffer: a response head and a small body fit in one.
const RECV_BUFFER_BYTES: usize = 4096;

/// Receive buffers of a load process of `workers` workers: one per worker (a worker has one
/// response in flight, whose bytes it reads in the pass they come), at least 256 and at
/// most 2,048 (8 MiB). More than that many responses arriving within one pass of the
/// executor run it short, which costs the streams concerned a poll and a `recv(2)`, not a
/// byte.
pub(crate) fn recv_buffers_for(workers: usize) -> usize {
    workers.next_power_of_two().clamp(256, 2048)
}

/// Builds this child's executor and runs `body` on it; returns the exit code.
fn on_executor<F, Fut>(spec: &ChildSpec, body: F) -> i32
where
    F: FnOnce(&'static Region, Slot<'static>) -> Fut + 'static,
    Fut: std::future::Future<Output = i32> + 'static,
{
    // The child never unmaps the region: keep one strong reference for ever.
    let region: &'static Region = leak(Arc::clone(&spec.region));
    let slot = region.slot(spec.slot);
    slot.set_meta(Meta::Pid, u64::from(std::process::id()));
    slot.set_state(SlotState::Starting);
    let mut builder = Executor::new()
        .taskrun_flags(spec.options.coop_taskrun)
        .multishot_poll(spec.options.multishot_poll)
        .multishot_recv(spec.options.multishot_recv)
        .recv_buffers(recv_buffers_for(spec.workers), RECV_BUFFER_BYTES);
    if let Some(cpu) = spec.cpu {
        builder = builder.pin_to_cpu(cpu);
    }
    if let Some(bytes) = spec.options.prefetch_from {
        builder = builder.prefetch_task_state_from(bytes);
    }
    if let Some(spin) = spec.options.spin_before_park {
        builder = builder.spin_before_park(spin);
    }
    if let Some(wait) = spec.options.batch_wait {
        builder = builder.batch_wait(wait);
    }
    if let Some(depth) = spec.options.ring_depth {
        builder = builder.ring_depth(depth.min(u32::MAX as usize) as u32);
    }
    let made = builder.make();
    if let Ok(executor) = &made {
        let flagged = executor.ring_setup() != RingSetup::Plain;
        slot.set_meta(Meta::RingsCoop, u64::from(flagged));
        slot.set_meta(
            Meta::RingsCoopRefused,
            u64::from(spec.options.coop_taskrun && !flagged),
        );
    }
    let executor = match made {
        Ok(ex) => ex,
        Err(e) => {
            // ENOMEM from io_uring_setup is nearly always locked memory: the kernel charges
            // the rings of a user without CAP_IPC_LOCK to that user's RLIMIT_MEMLOCK, all
            // its processes together (rings of other runs too, and of one that just ended
            // until the kernel has freed them).
            let hint = if e.raw_os_error() == Some(libc::ENOMEM) {
                "; the kernel charges every io_uring ring of a user without CAP_IPC_LOCK to \
                 that user's locked memory (RLIMIT_MEMLOCK), all its processes together, and it \
                 is likely used up: raise it (ulimit -l, LimitMEMLOCK= for a systemd service), \
                 or run fewer processes (-p) or a smaller --ring-depth"
            } else {
                ""
            };
            crate::errln!(
                "molotov: process {} cannot start its executor: {e}{hint}",
                spec.process
            );
            return CHILD_RUNTIME_EXIT;
        }
    };
    let code = match executor.run(body(region, slot)) {
        Ok(code) => code,
        Err(e) => {
            crate::errln!("molotov: process {} lost its io_uring: {e}", spec.process);
            CHILD_RUNTIME_EXIT
        }
    };
    if spec.options.dump {
        DUMPER.with(|d| d.finish());
    }
    slot.set_state(SlotState::Finished);
    code
}

impl ChildSpec {
    /// The request tables the workers of this child share.
    fn tables(&self) -> Rc<RequestTables> {
        let needs = self
            .program
            .requests()
            .iter()
            .map(|r| {
                if self.options.dump {
                    ResponseNeeds::EVERYTHING
                } else {
                    convert_needs(&r.needs)
                }
            })
            .collect();
        Rc::new(RequestTables {
            needs,
            constant: self
                .program
                .requests()
                .iter()
                .map(|_| std::cell::OnceCell::new())
                .collect(),
            may_close: self.program.sends_header("connection"),
            run_time_clients: self.run_time_clients.max(1),
        })
    }

    fn driver(
        &self,
        slot: Slot<'static>,
        stop: &Rc<StopWatch>,
        tables: &Rc<RequestTables>,
    ) -> EngineDriver {
        let mut driver = EngineDriver::new(
            slot,
            Rc::clone(stop),
            Rc::clone(tables),
            self.options.client.clone(),
        );
        if self.options.dump {
            driver.dump = Some(DUMPER.with(Rc::clone));
        }
        driver
    }

    fn recorder(
        &self,
        region: &'static Region,
        slot: Slot<'static>,
        stop: &Rc<StopWatch>,
    ) -> EngineRecorder {
        EngineRecorder {
            slot,
            region,
            slot_index: self.slot,
            options: self.options.clone(),
            stop: Rc::clone(stop),
        }
    }

    fn worker(&self, local: usize) -> Worker {
        let ctx = WorkerContext {
            worker: self.first_worker + local as u64,
            process: self.process,
            seed: self.options.seed,
            globals: Arc::clone(&self.globals),
        };
        Worker::new(Arc::clone(&self.program), ctx)
    }
}

/// Runs a load child to completion: `workers` workers until stopped; returns the exit code.
pub fn run_child(spec: ChildSpec) -> i32 {
    let spec = Rc::new(spec);
    let inner = Rc::clone(&spec);
    on_executor(&spec, move |region, slot| async move {
        let spec = inner;
        let stop = Rc::new(StopWatch::new(region));
        let tables = spec.tables();
        let arrivals = spec.options.load.rate.as_ref().map(|rate| {
            Rc::new(Arrivals::new(
                rate.clone(),
                u64::from(spec.process),
                spec.processes.max(1) as u64,
                spec.workers,
            ))
        });
        // Each worker is built and spawned in one step: holding all of them built before
        // spawning would keep a second copy of every worker's state at the peak (~10 MB at
        // `-w 10000`).
        let spawn_all = || {
            (0..spec.workers)
                .map(|local| {
                    let worker = spec.worker(local);
                    let driver = spec.driver(slot, &stop, &tables);
                    let recorder = spec.recorder(region, slot, &stop);
                    let plan = WorkerPlan {
                        local,
                        process: spec.process as usize,
                        processes: spec.processes.max(1),
                        workers: spec.workers,
                        max_runs: spec.options.max_runs,
                        load: spec.options.load.clone(),
                        scenarios: spec.program.scenarios().len() as u32,
                        arrivals: arrivals.clone(),
                    };
                    molotov_runtime::spawn_local(worker_loop(worker, driver, recorder, plan))
                })
                .collect::<Vec<_>>()
        };
        // The open model: every worker's first steps (thousands of task polls) and its
        // `setup worker` block (a login) happen before the start, so that they do not delay
        // the first arrivals nor show in their latency; the workers then wait for the turn,
        // which nobody has until the start. The closed model builds its workers after the
        // start, as it always did (its logins are part of the run).
        // The wait ends early if the master gave the start without this process (one of its
        // logins outlasted the master's wait): the workers ready by then take the arrivals,
        // the others join them as they log in.
        let mut tasks = Vec::new();
        if let Some(arrivals) = &arrivals {
            tasks = spawn_all();
            while !arrivals.all_ready()
                && region.get_header(HeaderWord::StartNanos) == 0
                && region.stop_requested() == StopRequest::None
            {
                let mut all = std::pin::pin!(arrivals.wait_all_ready());
                let mut poll = std::pin::pin!(molotov_runtime::timer::sleep(READY_POLL));
                std::future::poll_fn(|cx| {
                    if all.as_mut().poll(cx).is_ready() || poll.as_mut().poll(cx).is_ready() {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                })
                .await;
            }
        }
        // Tell the master this process is ready, and start with the other processes (the
        // open model's schedule and the duration count from that start, not from the fork).
        slot.set_state(SlotState::Ready);
        stop.wait_for_start();
        slot.set_state(SlotState::Running);
        if let Some(arrivals) = &arrivals {
            arrivals.pass_turn();
        }
        if arrivals.is_none() {
            tasks = spawn_all();
        }
        for task in tasks {
            task.await;
        }
        // Once, at the end: the load of this process ended now, whenever the master (held
        // up by SIGSTOP, or by a terminal) comes to see it (the report's `duration_s`).
        slot.set_meta(Meta::LoadEndedNanos, crate::process::monotonic_nanos());
        0
    })
}

/// Runs the plan's `setup` once and writes its captures to `out`; returns the exit code
/// (non-zero when setup failed).
pub fn run_setup_child(spec: ChildSpec, out: OwnedFd) -> i32 {
    let spec = Rc::new(spec);
    let inner = Rc::clone(&spec);
    on_executor(&spec, move |region, slot| async move {
        let spec = inner;
        let stop = Rc::new(StopWatch::new(region));
        let tables = spec.tables();
        let mut driver = spec.driver(slot, &stop, &tables);
        let mut recorder = spec.recorder(region, slot, &stop);
        let result =
            molotov_dsl::run_setup(&spec.program, spec.options.seed, &mut driver, &mut recorder)
                .await;
        driver.flush();
        match result {
            Ok(globals) => {
                let mut file = std::fs::File::from(out);
                match std::io::Write::write_all(&mut file, &globals.to_bytes()) {
                    Ok(()) => 0,
                    Err(e) => {
                        crate::errln!("molotov: cannot hand setup captures to the master: {e}");
                        CHILD_RUNTIME_EXIT
                    }
                }
            }
            Err(_) => SETUP_FAILED_EXIT,
        }
    })
}

/// Runs the plan's `teardown` once; returns the exit code.
pub fn run_teardown_child(spec: ChildSpec) -> i32 {
    let spec = Rc::new(spec);
    let inner = Rc::clone(&spec);
    on_executor(&spec, move |region, slot| async move {
        let spec = inner;
        let stop = Rc::new(StopWatch::new(region));
        let tables = spec.tables();
        let mut driver = spec.driver(slot, &stop, &tables);
        driver.in_teardown = true;
        let mut recorder = spec.recorder(region, slot, &stop);
        let outcome = molotov_dsl::run_teardown(
            &spec.program,
            &spec.globals,
            spec.options.seed,
            &mut driver,
            &mut recorder,
        )
        .await;
        driver.flush();
        if outcome == RunOutcome::Failure {
            SETUP_FAILED_EXIT
        } else {
            0
        }
    })
}

thread_local! {
    /// One dump limiter per child process (its executor runs on one thread).
    static DUMPER: Rc<crate::dump::Dumper> = Rc::new(crate::dump::Dumper::new());
}

thread_local! {
    /// Host names resolved once per process: every worker of a child talks to the same few
    /// origins. A name that does not resolve is remembered too: its requests fail at once as
    /// `resolve` errors instead of blocking the executor in a lookup each time (the system
    /// resolver is synchronous, and a slow DNS server can take seconds per lookup).
    static RESOLVED: std::cell::RefCell<ResolveCache> = std::cell::RefCell::default();
}

/// Entries of one generation of [`ResolveCache`]: the cache holds at most twice this.
const RESOLVE_GENERATION: usize = 512;

/// What a lookup gave: addresses, or why the name did not resolve.
type Resolved = Result<Vec<std::net::SocketAddr>, String>;

/// Addresses by (host, port), bounded: URLs built at run time can name any number of hosts
/// and ports (a captured link, `{{tenant}}.example.com`, a random port), and a cache that
/// kept them all grew for the whole run. Two generations: lookups land in `recent`; when it is
/// full it becomes `older` (the previous `older` is dropped), and an entry found in `older`
/// moves back to `recent`. So the names in use (the plan's own) stay, and the cache holds at
/// most `2 * RESOLVE_GENERATION` entries.
#[derive(Default)]
struct ResolveCache {
    recent: std::collections::HashMap<(String, u16), Resolved>,
    older: std::collections::HashMap<(String, u16), Resolved>,
}

impl ResolveCache {
    /// What `(host, port)` resolved to, from the cache or from `resolve` (called only when
    /// neither generation holds it).
    fn get_or_resolve(
        &mut self,
        key: (String, u16),
        resolve: impl FnOnce() -> Resolved,
    ) -> Resolved {
        if let Some(found) = self.recent.get(&key) {
            return found.clone();
        }
        let value = match self.older.remove(&key) {
            Some(found) => found,
            None => resolve(),
        };
        if self.recent.len() >= RESOLVE_GENERATION {
            self.older = std::mem::take(&mut self.recent);
        }
        self.recent.insert(key, value.clone());
        value
    }

    /// Entries held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.recent.len() + self.older.len()
    }
}

/// A client for `origin`, with its addresses resolved once per process.
fn new_client(origin: Origin, config: ClientConfig) -> Client {
    let key = (origin.host.clone(), origin.port);
    let addrs = RESOLVED.with(|cache| {
        cache.borrow_mut().get_or_resolve(key, || {
            origin.resolve().map_err(|e| match e {
                molotov_http::Error::Resolve { reason, .. } => reason,
                other => other.to_string(),
            })
        })
    });
    match addrs {
        Ok(addrs) => Client::with_addresses(origin, addrs, config),
        Err(reason) => Client::unresolved(origin, reason, config),
    }
}

/// Turns one strong reference into a `'static` borrow by never releasing it.
fn leak(region: Arc<Region>) -> &'static Region {
    // SAFETY: `Arc::into_raw` gives up this strong count without decrementing it, so the
    // pointee is never dropped and the pointer stays valid for the rest of the process.
    unsafe { &*Arc::into_raw(region) }
}

/// When workers must stop: the master's stop request, the deadline, or `-x` in this child.
struct StopWatch {
    region: &'static Region,
    /// When the load started (the master's clock, as an `Instant` of this process). A load
    /// child learns it only once every child is ready ([`StopWatch::begin`]).
    start: Cell<Instant>,
    deadline: Cell<Option<Instant>>,
    /// The deadline as an offset from the start, exact (from the header's nanoseconds), as
    /// the master counts the arrivals due: an arrival at offset `t` is due when `t < length`.
    length: Cell<Option<Duration>>,
    local: Cell<bool>,
}

/// The `Instant` of a `CLOCK_MONOTONIC` reading taken by any process of the run.
fn instant_of(mono_nanos: u64) -> Instant {
    let now = Instant::now();
    let now_nanos = monotonic_nanos();
    if mono_nanos >= now_nanos {
        now + Duration::from_nanos(mono_nanos - now_nanos)
    } else {
        now.checked_sub(Duration::from_nanos(now_nanos - mono_nanos))
            .unwrap_or(now)
    }
}

impl StopWatch {
    fn new(region: &'static Region) -> StopWatch {
        let stop = StopWatch {
            region,
            start: Cell::new(Instant::now()),
            deadline: Cell::new(None),
            length: Cell::new(None),
            local: Cell::new(false),
        };
        stop.begin();
        stop
    }

    /// Reads the run's start and deadline from the region (the start is now if the master
    /// has not set one: setup, or a stop before the start).
    fn begin(&self) {
        let start_nanos = self.region.get_header(HeaderWord::StartNanos);
        let deadline_nanos = self.region.get_header(HeaderWord::DeadlineNanos);
        self.start.set(if start_nanos == 0 {
            Instant::now()
        } else {
            instant_of(start_nanos)
        });
        self.deadline
            .set((deadline_nanos != 0).then(|| instant_of(deadline_nanos)));
        self.length.set(
            (start_nanos != 0 && deadline_nanos != 0)
                .then(|| Duration::from_nanos(deadline_nanos.saturating_sub(start_nanos))),
        );
    }

    /// Blocks this (load) child until the master gives the start, which it does once every
    /// load child is ready, then until the start time itself; returns early on a stop
    /// request. Nothing on this thread has work to do meanwhile (in the open model every
    /// worker waits for the turn, and a child with a teardown in progress has waited for the
    /// master's word with its executor running before it blocks here), so blocking, with no
    /// executor pass, is what keeps the start sharp.
    ///
    /// The wait for the master's word sleeps on the region's start word (a futex), which the
    /// master moves and wakes once, for every child, when it gives the start or asks a stop:
    /// a ready child costs nothing meanwhile, however many there are, and sees the start as
    /// soon as it is given. (Each ready child once polled every 100 µs: at `-p 500` the
    /// wake-ups took the CPUs from the master's forks, start-up took 30 s, and `-p 1000`
    /// never started.)
    fn wait_for_start(&self) {
        loop {
            // The gate first: a start or stop given after this reading moves it, and the
            // wait below then returns at once.
            let gate = self.region.start_gate();
            if self.region.get_header(HeaderWord::StartNanos) != 0 {
                break;
            }
            if self.region.stop_requested() != StopRequest::None {
                return;
            }
            self.region.wait_for_start_word(gate, START_WAIT_LIMIT);
        }
        self.begin();
        let start = self.start.get();
        // Sleep to just before the start, then spin the rest: the first arrivals of an open
        // model are due at the start itself.
        let left = start.saturating_duration_since(Instant::now());
        if left > START_SPIN {
            std::thread::sleep(left - START_SPIN);
        }
        while Instant::now() < start {
            std::hint::spin_loop();
        }
    }

    /// No new request or scenario should start. `now`: a clock reading the caller took with
    /// nothing awaited since (the end of its last response), used instead of reading the
    /// clock again; None reads it.
    fn graceful(&self, now: Option<Instant>) -> bool {
        self.local.get()
            || self.region.stop_requested() != StopRequest::None
            || self
                .deadline
                .get()
                .is_some_and(|d| now.unwrap_or_else(Instant::now) >= d)
    }

    /// An open-model run due at offset `at` from the start should not start: a stop was
    /// requested, or `at` is not before the deadline. Unlike [`StopWatch::graceful`], the
    /// deadline is compared with when the run was due, not with the clock, so a run due
    /// before the deadline starts even when its timer woke just after it (a late start): the
    /// master counts it due, and would count it missed otherwise. (Runs are due only after
    /// the start, once [`StopWatch::begin`] has read the start and the deadline together, so
    /// `length` is known whenever there is a deadline.)
    fn graceful_for_due(&self, at: Duration) -> bool {
        self.local.get()
            || self.region.stop_requested() != StopRequest::None
            || self.length.get().is_some_and(|length| at >= length)
    }

    /// Even teardown work should not start.
    fn immediate(&self) -> bool {
        self.region.stop_requested() == StopRequest::Immediate
    }
}

/// The open model's arrivals for one process: arrival `n` of the run belongs to process
/// `n mod processes`, and goes to whichever worker is free when it is due.
///
/// Free workers queue for the *turn*: the worker holding it takes the next arrival, sleeps
/// until it is due (or not at all: an early start, see [`RateOptions::max_early`]), passes
/// the turn to the free worker that freed up last and runs the scenario. Last-in first-out
/// keeps the fewest workers (and so connections) busy that the load needs, as a connection
/// pool does: `-w` is a cap, not the number of connections the server sees (first-in
/// first-out would cycle through all of them, each with its own keep-alive connection left
/// idle in between).
/// So a process has one timer armed for its arrivals however many workers it has (a worker
/// per arrival would keep `-w` timers armed), and an arrival that finds no free worker waits
/// for the first one that frees up, and starts late.
struct Arrivals {
    /// The schedule, `--max-late`, `--max-early` and `--early-batch`.
    options: RateOptions,
    /// Early starts since the last sleep for an arrival.
    early_run: Cell<u32>,
    process: u64,
    processes: u64,
    next: Cell<u64>,
    /// Whether a worker holds the turn (the start holds it until the load starts).
    turn_taken: Cell<bool>,
    /// Free workers waiting for the turn, a stack: the one that freed up last on top.
    waiting: std::cell::RefCell<Vec<std::task::Waker>>,
    /// Workers ready for arrivals (their `setup worker` done), or gone; counted once each.
    ready: Cell<usize>,
    /// How many workers the process has.
    workers: usize,
    /// The process's main task, waiting for every worker to be ready.
    all_ready: std::cell::RefCell<Option<std::task::Waker>>,
}

impl Arrivals {
    fn new(options: RateOptions, process: u64, processes: u64, workers: usize) -> Arrivals {
        Arrivals {
            options,
            early_run: Cell::new(0),
            process,
            processes,
            next: Cell::new(0),
            turn_taken: Cell::new(true),
            waiting: Default::default(),
            ready: Cell::new(0),
            workers,
            all_ready: Default::default(),
        }
    }

    /// Counts a worker ready for arrivals (or gone), waking the main task with the last one.
    fn mark_ready(&self) {
        self.ready.set(self.ready.get() + 1);
        if self.ready.get() >= self.workers {
            // Bind first: the waker must not run with the slot borrowed.
            let waker = self.all_ready.borrow_mut().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Whether every worker of the process is ready for arrivals.
    fn all_ready(&self) -> bool {
        self.ready.get() >= self.workers
    }

    /// Waits until every worker of the process is ready for arrivals.
    async fn wait_all_ready(&self) {
        std::future::poll_fn(|cx| {
            if self.all_ready() {
                std::task::Poll::Ready(())
            } else {
                *self.all_ready.borrow_mut() = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await;
    }

    /// The intended time (since the start) of this process's next arrival; None when the
    /// schedule has ended.
    fn claim(&self) -> Option<Duration> {
        let k = self.next.get();
        self.next.set(k + 1);
        self.options
            .schedule
            .time_of(k * self.processes + self.process)
    }

    /// Waits until this worker holds the turn.
    async fn take_turn(&self) {
        std::future::poll_fn(|cx| {
            if self.turn_taken.get() {
                self.waiting.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            } else {
                self.turn_taken.set(true);
                std::task::Poll::Ready(())
            }
        })
        .await;
    }

    /// Gives up the turn and wakes the free worker that freed up last for it.
    fn pass_turn(&self) {
        self.turn_taken.set(false);
        // Bind first: the waker must not run with the queue borrowed.
        let next = self.waiting.borrow_mut().pop();
        if let Some(waker) = next {
            waker.wake();
        }
    }

    /// When this worker's next scenario run is due (an offset from the start): waits for the
    /// turn, takes the next arrival, sleeps until it is due (unless it is due within
    /// `max_early` of now and the batch has room: it then starts at once) and passes the turn
    /// on. None when the schedule ended or the run is stopping (the turn is passed on then
    /// too, so every waiting worker wakes in turn and sees it).
    async fn next_start(&self, driver: &mut EngineDriver) -> Option<Duration> {
        self.take_turn().await;
        // Whatever reading of the clock the driver kept is from before the wait.
        driver.now_hint = None;
        let due = if driver.graceful() {
            None
        } else {
            self.claim()
        };
        // An arrival due at or after the end of the load does not start (see the filter
        // below): it is the end of the schedule, held as such. (When it was claimed within
        // `max_early` of the clock the worker once left at once: the run ended up to
        // `max_early` early and its rates were over the shorter time.)
        let past_end = due.is_some_and(|at| driver.stop.graceful_for_due(at));
        if let Some(at) = due
            && !past_end
        {
            let at = driver.stop.start.get() + at;
            // Up to `early_batch` arrivals due within `max_early` start in this wake-up, one
            // after the other as the turn passes; the next one sleeps for its own time (and
            // starts the next batch). A start already due counts in no batch.
            let now = Instant::now();
            if at > now {
                let options = &self.options;
                if at <= now + options.max_early && self.early_run.get() < options.early_batch {
                    self.early_run.set(self.early_run.get() + 1);
                } else {
                    self.early_run.set(0);
                    driver.sleep_until(at).await;
                }
            }
        } else if !driver.graceful()
            && let Some(end) = driver.stop.deadline.get()
        {
            // The schedule has no more arrivals before the end, but the load lasts to its
            // end (the end of the last stage, or `-d`): hold the turn until then, so that
            // the process stays and a trailing 0/s stage is a real cool-down. (The workers
            // once left at the last arrival: the run ended early and its rates were over
            // the shorter time.)
            driver.sleep_until(end).await;
        }
        self.pass_turn();
        // An arrival claimed before the deadline and due before it starts even when the
        // timer woke just after the deadline (a late start, not a missed one). A stop
        // request still ends it.
        due.filter(|&at| !driver.stop.graceful_for_due(at))
    }
}

/// What a worker loop needs besides its interpreter, driver and recorder. (`repr(C)`: what
/// every scenario run reads first.)
#[repr(C)]
struct WorkerPlan {
    max_runs: Option<u64>,
    arrivals: Option<Rc<Arrivals>>,
    scenarios: u32,
    load: LoadOptions,
    local: usize,
    process: usize,
    processes: usize,
    workers: usize,
}

/// One worker's task. A plain function returning an `async move` block rather than an
/// `async fn`: an `async fn` keeps its arguments twice in its state, as captured values and
/// as the locals they are moved into (rust-lang/rust#62958), which at ~1.2 KB per worker is
/// 12 MB of a `-w 10000` process.
#[allow(clippy::manual_async_fn)] // on purpose: see above
fn worker_loop(
    mut worker: Worker,
    mut driver: EngineDriver,
    mut rec: EngineRecorder,
    plan: WorkerPlan,
) -> impl std::future::Future<Output = ()> {
    async move {
        let slot = driver.slot;
        // Open model: ready for arrivals once `setup worker` is done (counted just before the
        // worker first queues for the turn, or when it leaves without ever doing so).
        let mut ready = false;
        if let Some(ramp) = plan.load.ramp_up {
            let at = driver.stop.start.get()
                + ramp_offset(ramp, plan.process, plan.processes, plan.local, plan.workers);
            driver.sleep_until(at).await;
            if driver.graceful() {
                if let Some(arrivals) = &plan.arrivals {
                    arrivals.mark_ready();
                }
                return;
            }
        }
        slot.add_meta(Meta::WorkersStarted, 1);
        slot.add_meta(Meta::WorkersAlive, 1);
        let setup = worker.run_worker_setup(&mut driver, &mut rec).await;
        if setup == RunOutcome::Failure {
            slot.add_meta(Meta::WorkerSetupsFailed, 1);
        }
        if setup == RunOutcome::Success {
            // Open model: runs start on the schedule, not after a pause (the plan's
            // scenario `delay`s are the closed model's; `--delay` is refused with a rate).
            let open = plan.arrivals.is_some();
            worker.set_scenario_delays(!open);
            let mut runs = 0u64;
            loop {
                if driver.graceful() || plan.max_runs.is_some_and(|max| runs >= max) {
                    break;
                }
                let scenario = if plan.load.single_run {
                    if runs >= u64::from(plan.scenarios) {
                        break;
                    }
                    molotov_dsl::ScenarioId(runs as u32)
                } else if let Some(only) = plan.load.single_mode {
                    molotov_dsl::ScenarioId(only)
                } else {
                    worker.pick_scenario()
                };
                runs += 1;
                if let Some(arrivals) = &plan.arrivals {
                    if !ready {
                        ready = true;
                        arrivals.mark_ready();
                    }
                    let Some(due) = arrivals.next_start(&mut driver).await else {
                        break;
                    };
                    let intended = driver.stop.start.get() + due;
                    let now = Instant::now();
                    let late = now.saturating_duration_since(intended);
                    let early = intended.saturating_duration_since(now);
                    if !early.is_zero() {
                        slot.add(Total::EarlyStarts, 1);
                        slot.raise(Total::MaxEarlyMicros, micros(early));
                    }
                    // A dropped start is not a start: it is counted as dropped only, and
                    // its lateness is not among the late starts'.
                    if arrivals.options.max_late.is_some_and(|max| late > max) {
                        slot.add(Total::DroppedStarts, 1);
                        continue;
                    }
                    if late > LATE_AFTER {
                        slot.add(Total::LateStarts, 1);
                        slot.add_wide(Total::LateMicros, Total::LateMicrosHigh, micros(late));
                        slot.raise(Total::MaxLateMicros, micros(late));
                    }
                    // Latency runs from the intended start, or from the actual one when
                    // that came first (an early start): never from a time still to come.
                    driver.intended = Some(intended.min(now));
                    driver.started_due = Some(due);
                }
                slot.add_meta(Meta::RunsStarted, 1);
                let polls = molotov_runtime::polls();
                let counter = match worker.run_scenario(scenario, &mut driver, &mut rec).await {
                    RunOutcome::Success => ScenarioCounter::Successes,
                    RunOutcome::Failure => ScenarioCounter::Failures,
                    RunOutcome::Stopped => ScenarioCounter::Stopped,
                };
                driver.intended = None;
                driver.started_due = None;
                slot.add_scenario(scenario.0, counter);
                if molotov_runtime::polls() == polls {
                    // The run never waited (it sent nothing, or failed before any I/O: a
                    // cached resolve failure, a refused local port): without a turn for the
                    // others, this worker would keep the process to itself, every other
                    // worker starved and no completion read, until the deadline.
                    driver.now_hint = None;
                    molotov_runtime::yield_now().await;
                }
                if !open && !plan.load.delay.is_zero() {
                    driver.sleep(plan.load.delay).await;
                }
            }
        }
        if let Some(arrivals) = plan.arrivals.as_ref().filter(|_| !ready) {
            arrivals.mark_ready();
        }
        // `teardown worker` undoes what `setup worker` did, so it runs only after a
        // `setup worker` that completed: after a failed one the worker variables it reads may
        // be unset. It runs after a graceful stop too (bounded by the request timeout), not
        // after an immediate one.
        if setup == RunOutcome::Success {
            driver.in_teardown = true;
            if worker.run_worker_teardown(&mut driver, &mut rec).await == RunOutcome::Failure {
                slot.add_meta(Meta::WorkerTeardownsFailed, 1);
            }
        }
        driver.flush();
        slot.add_meta(Meta::WorkersAlive, 1u64.wrapping_neg());
    }
}

/// One connection per origin a worker talks to. In `repr(C)` order: what every request reads
/// first (the origin's index, then the client, whose hot part leads), the authority and the
/// last use (read only for URLs built at run time) last.
#[repr(C)]
struct OriginClient {
    /// The plan origin's index, when the client was opened for one (see `Request::origin`).
    origin: Option<u32>,
    scheme: Scheme,
    client: Client<SlotMeter>,
    authority: String,
}

/// A client's [`Meter`]: what the client does goes straight into the process's slot, as it
/// happens, so the slot is current at any moment (also when the process is killed with a
/// request in flight: its bytes and its connect are counted). Bytes read go to the row of
/// the request last sent through the client: they were read while it was out, whatever its
/// outcome (a truncated body, a malformed response, stray bytes found before its response),
/// so the rows add up to the total.
struct SlotMeter {
    slot: Slot<'static>,
    /// The request being sent (or last sent) through the client.
    request: u32,
}

impl Meter for SlotMeter {
    #[inline]
    fn bytes_sent(&mut self, n: u64) {
        self.slot.add(Total::BytesSent, n);
    }
    #[inline]
    fn bytes_received(&mut self, n: u64) {
        self.slot.add(Total::BytesReceived, n);
        self.slot
            .add_request(self.request, RequestCounter::BytesReceived, n);
    }
    fn connected(&mut self, took: Duration, _reconnect: bool) {
        self.slot.add(Total::Connects, 1);
        self.slot.add(Total::ConnectMicros, micros(took));
    }
    fn tls_handshake(&mut self, took: Duration, resumed: bool) {
        self.slot.add(Total::TlsHandshakes, 1);
        self.slot.add(Total::TlsResumed, u64::from(resumed));
        self.slot.add(Total::TlsHandshakeMicros, micros(took));
    }
    fn retried(&mut self) {
        self.slot.add(Total::Retries, 1);
    }
}

impl OriginClient {
    /// Whether this client's connection is the one for `req`: by the plan origin's index
    /// when both have one (equal indexes are equal origins), by scheme and authority
    /// otherwise.
    fn serves(&self, req: &Request<'_>) -> bool {
        match (self.origin, req.origin) {
            (Some(mine), Some(wanted)) => mine == wanted,
            _ => self.scheme == scheme(req.scheme) && self.authority == req.authority,
        }
    }
}

/// What the workers of one process share about the plan's requests, by request id.
struct RequestTables {
    /// What each request needs of its response (everything under `-vv`), converted once.
    needs: Box<[ResponseNeeds]>,
    /// Wire bytes of the requests that are the same for every worker (`cache_key` 0),
    /// rendered by the first worker that sends each. One copy per process rather than one
    /// per worker: with hundreds of workers, per-worker copies were lines of cache to
    /// fetch back for every request.
    constant: Box<[std::cell::OnceCell<Box<[u8]>>]>,
    /// The plan has a `Connection` header somewhere: each request's bytes are then looked
    /// at for `Connection: close` (which closes the connection after its response); other
    /// plans skip the look.
    may_close: bool,
    /// The most clients a worker keeps for origins built at run time (at least 1).
    run_time_clients: usize,
}

/// What a request id outside the tables needs (none is: every id is the plan's): all of it,
/// which is never wrong.
static NEEDS_EVERYTHING: ResponseNeeds = ResponseNeeds::EVERYTHING;

impl RequestTables {
    /// The shared wire bytes of constant request `id`, rendered on first use; `None` for an
    /// id outside the table.
    fn constant_bytes(
        &self,
        id: usize,
        req: &Request<'_>,
    ) -> Result<Option<&[u8]>, molotov_http::Error> {
        let Some(cell) = self.constant.get(id) else {
            return Ok(None);
        };
        if cell.get().is_none() {
            if !req.rendered {
                return Err(not_held());
            }
            let mut buf = Vec::new();
            render(&mut buf, req)?;
            let _ = cell.set(buf.into_boxed_slice());
        }
        Ok(cell.get().map(|bytes| &bytes[..]))
    }
}

/// A request handed over unrendered ([`Request::rendered`] false) whose bytes the driver does
/// not hold: the interpreter broke `Driver::holds_rendered`'s contract. Failed rather than
/// sent empty or rendered from empty parts.
fn not_held() -> molotov_http::Error {
    molotov_http::Error::InvalidRequest("an unrendered request whose bytes are not held".to_owned())
}

/// The most bytes of pre-rendered requests one worker keeps ([`EngineDriver::held`]). A
/// request whose bytes depend on the worker (a sticky header set in `setup worker`, a
/// worker-level value) is rendered once per worker and kept, so that the next sends skip the
/// rendering; but a copy of every request line per worker grew as workers x lines x request
/// size (300 lines with a 1 KB token at `-w 1000`: 638 MiB). Within this budget the first
/// requests rendered are kept; the others are rendered at every send, as a request that
/// changes at every send is. 16 KiB holds a dozen requests carrying a 1 KB token: the usual
/// plan (a few request lines per scenario) keeps all of its own.
const HELD_BYTES: usize = 16 << 10;

/// The most pre-rendered requests one worker keeps (they are looked up one after the other).
const HELD_REQUESTS: usize = 16;

/// The wire bytes a worker keeps of one request, valid for one cache key.
struct HeldRequest {
    /// The request's id.
    id: u32,
    /// The cache key the bytes were rendered under (the worker and its sticky headers).
    key: u64,
    /// The request's bytes, exactly as long as they are.
    bytes: Box<[u8]>,
}

/// The wire bytes a worker keeps of request `id` (its `held` list), if they were rendered
/// under `key`.
fn held_bytes(held: &[HeldRequest], id: u32, key: u64) -> Option<&[u8]> {
    held.iter()
        .find(|h| h.id == id && h.key == key)
        .map(|h| &*h.bytes)
}

/// Keeps `bytes`, request `id` rendered under `key`, in a worker's `held` list if they fit
/// its budget ([`HELD_BYTES`], [`HELD_REQUESTS`]). Entries under another key are dropped
/// first: a worker's key only moves forward (its sticky headers changed), so they would never
/// be sent again.
fn keep_held(held: &mut Vec<HeldRequest>, id: u32, key: u64, bytes: &[u8]) {
    held.retain(|h| h.key == key && h.id != id);
    let used: usize = held.iter().map(|h| h.bytes.len()).sum();
    if held.len() < HELD_REQUESTS && used.saturating_add(bytes.len()) <= HELD_BYTES {
        held.push(HeldRequest {
            id,
            key,
            bytes: bytes.into(),
        });
    }
}

/// The client of a worker for `req`, when it is not among the plan origins' clients the
/// worker has (`clients`): opened for a plan origin (kept for the life of the worker: the
/// plan names a known, small set of origins, which the file-descriptor preflight counts), or
/// found or opened among the clients of origins built at run time (`run_time`), at most
/// `cap` of them: beyond that one of them, drawn at random, is closed and dropped. `tick`: the
/// worker's count of such lookups, which the draw is made from. (The least recently used
/// went first: a worker cycling over `cap + 1` origins then closed, every time, the one it
/// needed next, and made a connection per request; a random one keeps most of them.)
#[cold]
#[inline(never)]
fn other_client<'c>(
    clients: &'c mut Vec<OriginClient>,
    run_time: &'c mut Vec<OriginClient>,
    tick: &mut u64,
    cap: usize,
    req: &Request<'_>,
    config: &ClientConfig,
    slot: Slot<'static>,
) -> &'c mut OriginClient {
    let open = || OriginClient {
        origin: req.origin,
        scheme: scheme(req.scheme),
        authority: req.authority.to_string(),
        client: new_client(
            Origin {
                scheme: scheme(req.scheme),
                host: req.host.to_string(),
                port: req.port,
            },
            config.clone(),
        )
        .metered(SlotMeter {
            slot,
            request: req.id.0,
        }),
    };
    if req.origin.is_some() {
        // A URL built at run time may have opened this origin's connection first: it becomes
        // the plan origin's (one connection per origin, however the plan names it).
        let client = match run_time.iter().position(|c| c.serves(req)) {
            Some(index) => {
                let mut client = run_time.swap_remove(index);
                client.origin = req.origin;
                client
            }
            None => open(),
        };
        // Most workers talk to one origin: room for exactly one at first (a `Vec` would
        // start with room for four, ~2.4 KB per worker never used).
        if clients.capacity() == 0 {
            clients.reserve_exact(1);
        }
        clients.push(client);
        let last = clients.len() - 1;
        return &mut clients[last];
    }
    *tick += 1;
    let index = match run_time.iter().position(|c| c.serves(req)) {
        Some(index) => index,
        None => {
            if run_time.len() >= cap.max(1) {
                // One drawn at random goes, with its connection.
                let drawn = (splitmix64(*tick) % run_time.len() as u64) as usize;
                let mut gone = run_time.swap_remove(drawn);
                gone.client.close();
            }
            run_time.push(open());
            run_time.len() - 1
        }
    };
    &mut run_time[index]
}

/// SplitMix64's output function: a well-mixed 64-bit value from a counter.
fn splitmix64(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The engine's side of the interpreter: sends through molotov-http and records into the slot.
/// In `repr(C)` order: what every request reads or writes first, the buffers and settings only
/// a rendered request or a connect reads last.
#[repr(C)]
struct EngineDriver {
    slot: Slot<'static>,
    stop: Rc<StopWatch>,
    /// Clients of the plan's origins, in the order the worker first used them.
    clients: Vec<OriginClient>,
    /// The process's shared tables: needs, and the bytes of constant requests.
    tables: Rc<RequestTables>,
    /// `-vv`: the process's dump limiter.
    dump: Option<Rc<crate::dump::Dumper>>,
    /// Open model: the intended start of the current scenario run (its actual start when
    /// that came first: an early start), moved later by any think before the run's first
    /// request, and consumed by that request, whose latency is measured from it.
    intended: Option<Instant>,
    /// Open model: when a run that has neither sent nor slept yet was due (offset from the
    /// start). Until then its stop checks compare the deadline with this instead of the
    /// clock, so a run due before the deadline sends its first request even if the timer
    /// woke just after it.
    started_due: Option<Duration>,
    /// When the last response ended, while nothing has been awaited since (cleared when a
    /// send or a sleep starts): the stop checks that follow a response compare the deadline
    /// with it instead of reading the clock (two readings per request saved). It is at most
    /// the interpreter's work on that response old, so a stop is never early.
    now_hint: Option<Instant>,
    in_teardown: bool,
    /// Reused buffer for requests rendered per call.
    wire: Vec<u8>,
    /// This worker's pre-rendered wire bytes of some requests, each valid for its cache key
    /// (requests whose bytes depend on the worker: sticky headers, worker-level values),
    /// within [`HELD_BYTES`].
    held: Vec<HeldRequest>,
    /// Clients of origins built at run time (not among the plan's), at most
    /// `RequestTables::run_time_clients`.
    run_time: Vec<OriginClient>,
    /// Requests sent through `run_time` clients: their recency.
    run_time_tick: u64,
    config: ClientConfig,
}

impl EngineDriver {
    /// Sleeps until `at` (or the deadline, or a stop request, whichever comes first). The
    /// sleep is cut in slices of at most 100 ms so that a stop request cuts it short; each
    /// slice aims at `at` again from the clock, so the timer's own lateness (tens of µs per
    /// wake-up, more on a busy executor) never adds up across slices.
    async fn sleep_until(&mut self, at: Instant) {
        self.now_hint = None;
        self.started_due = None;
        let at = match self.stop.deadline.get() {
            Some(d) => at.min(d),
            None => at,
        };
        while !self.should_stop() {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            molotov_runtime::timer::sleep(left.min(SLEEP_SLICE)).await;
        }
    }
    /// No new request or scenario should start (see [`StopWatch::graceful`]).
    fn graceful(&self) -> bool {
        self.stop.graceful(self.now_hint)
    }

    /// Closes the clients (what they did is already in the slot: see [`SlotMeter`]).
    fn flush(&mut self) {
        for origin in self.clients.iter_mut().chain(self.run_time.iter_mut()) {
            origin.client.close();
        }
    }

    fn new(
        slot: Slot<'static>,
        stop: Rc<StopWatch>,
        tables: Rc<RequestTables>,
        config: ClientConfig,
    ) -> EngineDriver {
        EngineDriver {
            slot,
            stop,
            config,
            clients: Vec::new(),
            wire: Vec::new(),
            held: Vec::new(),
            run_time: Vec::new(),
            run_time_tick: 0,
            tables,
            in_teardown: false,
            dump: None,
            intended: None,
            now_hint: None,
            started_due: None,
        }
    }
}

/// The response handed to the interpreter.
struct EngineResponse<'a> {
    inner: Response<'a>,
}

impl ResponseView for EngineResponse<'_> {
    fn status(&self) -> u16 {
        self.inner.status()
    }
    fn header(&self, lowercase_name: &str) -> Option<&[u8]> {
        self.inner.header(lowercase_name)
    }
    fn body(&self) -> &[u8] {
        self.inner.body()
    }
    fn duration(&self) -> Duration {
        self.inner.timings().total
    }
}

/// What the client must keep of a response, from what the plan reads of it (converted once
/// per request id; the benchmarks' fake engine converts with it too).
pub fn convert_needs(needs: &molotov_dsl::Needs) -> ResponseNeeds {
    ResponseNeeds {
        headers: if needs.headers.is_empty() {
            HeaderNeeds::None
        } else {
            HeaderNeeds::Named(needs.headers.iter().map(|h| h.to_string()).collect())
        },
        body: needs.body,
    }
}

fn scheme(scheme: molotov_dsl::Scheme) -> Scheme {
    match scheme {
        molotov_dsl::Scheme::Http => Scheme::Http,
        molotov_dsl::Scheme::Https => Scheme::Https,
    }
}

/// `d` in whole microseconds, saturated at `u64::MAX` (what the stats region counts).
pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

impl Driver for EngineDriver {
    type Response<'a> = EngineResponse<'a>;
    type Error = molotov_http::Error;

    async fn send<'a>(
        &'a mut self,
        req: &Request<'_>,
    ) -> Result<EngineResponse<'a>, molotov_http::Error> {
        let id = req.id.0 as usize;
        let needs = self.tables.needs.get(id).unwrap_or(&NEEDS_EVERYTHING);
        let unsent = |e: molotov_http::Error| {
            count_unsent(self.slot, req.id.0, e.kind());
            e
        };
        // Pre-rendered bytes for static requests (shared by the process's workers when they
        // are the same for all); a reused buffer otherwise.
        let shared = match req.cache_key {
            Some(0) => self.tables.constant_bytes(id, req).map_err(unsent)?,
            _ => None,
        };
        let bytes: &[u8] = match (shared, req.cache_key) {
            (Some(bytes), _) => bytes,
            // Unrendered: the bytes held under the key (`holds_rendered` said they are there).
            (None, key) if !req.rendered => key
                .and_then(|key| held_bytes(&self.held, req.id.0, key))
                .ok_or_else(not_held)
                .map_err(unsent)?,
            (None, key) => {
                self.wire.clear();
                render(&mut self.wire, req).map_err(unsent)?;
                if let Some(key) = key.filter(|&key| key != 0) {
                    keep_held(&mut self.held, req.id.0, key, &self.wire);
                }
                &self.wire
            }
        };
        let origin = match self.clients.iter().position(|c| c.serves(req)) {
            Some(index) => &mut self.clients[index],
            None => other_client(
                &mut self.clients,
                &mut self.run_time,
                &mut self.run_time_tick,
                self.tables.run_time_clients,
                req,
                &self.config,
                self.slot,
            ),
        };
        let slot = self.slot;
        // Bytes, connects and retries are counted by the client's meter as they happen, so
        // what a failed or unfinished request cost is counted too.
        origin.client.meter_mut().request = req.id.0;
        slot.add(Total::Requests, 1);
        slot.add_request(req.id.0, RequestCounter::Sent, 1);
        slot.add_meta(Meta::InFlight, 1);
        let intended = self.intended.take();
        self.started_due = None;
        self.now_hint = None;
        let result = origin
            .client
            .send(
                bytes,
                RequestMeta::for_method(req.method)
                    .closing(self.tables.may_close && molotov_http::asks_to_close(bytes)),
                needs,
                req.timeout,
            )
            .await;
        slot.add_meta(Meta::InFlight, 1u64.wrapping_neg());
        if let Some(dumper) = &self.dump {
            dumper.exchange(bytes, &result);
        }
        match result {
            Ok(resp) => {
                let t = resp.timings();
                let service = micros(t.total);
                // Open model: from the intended start (lateness and connect included).
                let finished = resp.finished_at();
                let latency =
                    intended.map_or(service, |at| micros(finished.saturating_duration_since(at)));
                self.now_hint = Some(finished);
                slot.add(Total::Responses, 1);
                slot.add_status(resp.status());
                slot.record(Histo::Overall, latency);
                slot.record(Histo::Service, service);
                slot.record(Histo::Request(req.id.0), latency);
                slot.add_request(req.id.0, RequestCounter::Responses, 1);
                Ok(EngineResponse { inner: resp })
            }
            Err(e) => {
                slot.add(Total::Errors, 1);
                slot.add_error_kind(e.kind().index());
                slot.add_request(req.id.0, RequestCounter::Errors, 1);
                // A request whose deadline passed waited at least its timeout: it counts in
                // the latencies at that (in the open model, from its intended start), a
                // lower bound of its true latency. Left out, the slowest requests vanished
                // from every percentile: 9% timed out at 50 ms, and p99 read 2 ms.
                if let Some(waited) = deadline_passed(&e) {
                    slot.add(Total::DeadlinesPassed, 1);
                    slot.add_request(req.id.0, RequestCounter::DeadlinesPassed, 1);
                    let service = micros(waited);
                    let latency = intended.map_or(service, |at| {
                        micros(Instant::now().saturating_duration_since(at)).max(service)
                    });
                    slot.record(Histo::Overall, latency);
                    slot.record(Histo::Service, service);
                    slot.record(Histo::Request(req.id.0), latency);
                }
                Err(e)
            }
        }
    }

    fn holds_rendered(&self, id: molotov_dsl::RequestId, cache_key: u64) -> bool {
        let id = id.0 as usize;
        match cache_key {
            0 => self
                .tables
                .constant
                .get(id)
                .is_some_and(|bytes| bytes.get().is_some()),
            key => held_bytes(&self.held, id as u32, key).is_some(),
        }
    }

    async fn sleep(&mut self, dur: Duration) {
        // Open model: a think before the run's first request moves that request's intended
        // start by the think, so its latency counts the run's lateness and the service time,
        // not the user's pause (a `think 100ms` first was once 100 ms of every latency).
        if let Some(intended) = &mut self.intended {
            *intended = intended.checked_add(dur).unwrap_or(*intended);
        }
        self.sleep_until(Instant::now() + dur).await;
    }

    async fn pause(&mut self) {
        // A loop's work since the last response makes that response's time too old for the
        // stop checks that follow.
        self.now_hint = None;
        // Nor is a loop the run's first request: an open-model run that begins with one (work
        // before its first send) is stopped at the deadline by the clock, like one that
        // begins with a think. Compared with when the run was due, it never saw the deadline
        // and held its process until --grace killed it.
        self.started_due = None;
        molotov_runtime::yield_if_needed().await;
    }

    fn should_stop(&self) -> bool {
        if self.in_teardown {
            self.stop.immediate()
        } else if let Some(due) = self.started_due {
            // The first request of an open-model run goes if the run was due before the
            // deadline (see `Arrivals::next_start`), even when it is sent just after it.
            self.stop.graceful_for_due(due)
        } else {
            self.graceful()
        }
    }
}

/// Counts a request that failed before anything was sent (it could not be built): a
/// request with a transport error of its kind (`invalid_request`), so that it is counted
/// once like every other and its failure shows in the errors.
fn count_unsent(slot: Slot<'static>, request: u32, kind: molotov_http::ErrorKind) {
    slot.add(Total::Requests, 1);
    slot.add_request(request, RequestCounter::Sent, 1);
    slot.add(Total::Errors, 1);
    slot.add_error_kind(kind.index());
    slot.add_request(request, RequestCounter::Errors, 1);
}

/// The timeout of a request whose deadline passed (`request_timeout`, or the deadline
/// passing while its connection was opened); `None` for every other error, which has no
/// latency (refused, reset, a connect timeout of its own...).
fn deadline_passed(e: &molotov_http::Error) -> Option<Duration> {
    match e {
        molotov_http::Error::RequestTimeout(timeout)
        | molotov_http::Error::TimedOutOpening { timeout, .. } => Some(*timeout),
        _ => None,
    }
}

fn render(out: &mut Vec<u8>, req: &Request<'_>) -> Result<(), molotov_http::Error> {
    molotov_http::render_request(
        out,
        req.method,
        req.authority,
        req.path,
        req.headers.iter(),
        req.body,
    )
}

/// The engine's recorder: checks, failures and logs into the slot.
struct EngineRecorder {
    slot: Slot<'static>,
    region: &'static Region,
    slot_index: usize,
    options: EngineOptions,
    stop: Rc<StopWatch>,
}

thread_local! {
    /// The plan lines (`file:line`) of the statement failures this process has said on
    /// stderr: each is said once per process, not once per worker.
    static STATEMENT_FAILURES_SAID: std::cell::RefCell<std::collections::HashSet<(std::sync::Arc<str>, u32)>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

impl Recorder for EngineRecorder {
    fn request_failed(&mut self, id: molotov_dsl::RequestId, status: u16) {
        self.slot.add(Total::FailedByStatus, 1);
        self.slot
            .add_request(id.0, RequestCounter::FailedByStatus, 1);
        self.slot
            .offer_sample(Site::Request(id.0), status, &format!("status {status}"));
    }

    fn check(&mut self, id: molotov_dsl::CheckId, passed: bool, _status: u16) {
        // A failed check's first cause comes through `check_cause`, an assert's with its
        // `failure`.
        self.slot.add_check(id.0, passed);
    }

    fn wants_check_cause(&self, id: molotov_dsl::CheckId) -> bool {
        !self.slot.has_sample(Site::Check(id.0))
    }

    fn check_cause(&mut self, id: molotov_dsl::CheckId, status: u16, cause: &str) {
        self.slot.offer_sample(Site::Check(id.0), status, cause);
    }

    fn failure(&mut self, f: &Failure<'_>) {
        // A request the plan could not build (a header value with a control character, a
        // run-time target that is not http(s)) never reached the engine's `send`: it counts
        // as a request that failed as `invalid_request`, or no counter would hold it.
        if let (FailureKind::Render, Some(request), None) = (f.kind, f.request, f.check) {
            count_unsent(
                self.slot,
                request.0,
                molotov_http::ErrorKind::InvalidRequest,
            );
        }
        let site = match (f.check, f.request) {
            (Some(check), _) => Site::Check(check.0),
            (None, Some(request)) => Site::Request(request.0),
            (None, None) => Site::Statement,
        };
        if site == Site::Statement {
            // A failure outside any request (a `let`, `header`, `log` or `for` that could not
            // be evaluated) has no counter of its own: the slot keeps the first one (for
            // `-x`), and each distinct one is said once per process on stderr.
            if !self.slot.has_sample(site) {
                let text = Site::statement_text(&f.location.to_string(), f.message);
                self.slot.offer_sample(site, 0, &text);
            }
            let place = (std::sync::Arc::clone(&f.location.file), f.location.line);
            let new = STATEMENT_FAILURES_SAID.with(|said| said.borrow_mut().insert(place));
            if new {
                crate::errln!("molotov: {}: {}", f.location, f.message);
            }
        } else {
            self.slot
                .offer_sample(site, f.status.unwrap_or(0), f.message);
        }
        if self.slot.meta(Meta::FailedSite) == 0 {
            self.slot.set_meta(Meta::FailedSite, encode_site(site));
        }
        if self.options.exception {
            self.region.claim_failed_slot(self.slot_index);
            self.region.request_stop(StopRequest::Graceful);
            self.stop.local.set(true);
        }
    }

    fn log(&mut self, message: &str) {
        if self.options.print_logs {
            // A logged value may come from the server: escaped as `-v` failures are, so it
            // cannot drive the terminal (`\u{1b}[2J`).
            crate::errln!("{}", crate::printable::printable(message));
        }
    }
}

/// Encodes a site into a non-zero word: the kind in the top two bits (0: check, 2: request,
/// 1: statement), id + 1 below.
pub fn encode_site(site: Site) -> u64 {
    match site {
        Site::Check(id) => u64::from(id) + 1,
        Site::Request(id) => (1 << 63) | (u64::from(id) + 1),
        Site::Statement => (1 << 62) | 1,
    }
}

/// Decodes [`encode_site`]: None for 0, and for a word `encode_site` never writes (the
/// master reads it from a load process's memory and trusts no stray value).
pub fn decode_site(word: u64) -> Option<Site> {
    let id = u32::try_from((word & !(3 << 62)).checked_sub(1)?).ok()?;
    match word >> 62 {
        2 => Some(Site::Request(id)),
        1 => (id == 0).then_some(Site::Statement),
        0 => Some(Site::Check(id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_decode_what_was_encoded_and_nothing_else() {
        for site in [
            Site::Check(0),
            Site::Check(7),
            Site::Check(u32::MAX - 1),
            Site::Request(0),
            Site::Request(42),
            Site::Statement,
        ] {
            assert_eq!(decode_site(encode_site(site)), Some(site), "{site:?}");
        }
        // Words no load process writes: a stray write must not become a site.
        for word in [
            0,
            1 << 62,
            3 << 62,
            (3 << 62) | 5,
            (1 << 62) | 2,
            1 << 40,
            u64::MAX,
        ] {
            assert_eq!(decode_site(word), None, "{word:#x}");
        }
    }

    #[test]
    fn the_resolver_cache_is_bounded_and_keeps_the_names_in_use() {
        let mut cache = ResolveCache::default();
        let lookups = Cell::new(0);
        let get = |cache: &mut ResolveCache, host: String| {
            cache.get_or_resolve((host, 80), || {
                lookups.set(lookups.get() + 1);
                Err("no".to_owned())
            })
        };
        for i in 0..10 * RESOLVE_GENERATION {
            // The plan's own host, in use throughout, between run-time ones.
            get(&mut cache, "plan.example".to_owned()).unwrap_err();
            get(&mut cache, format!("h{i}.example")).unwrap_err();
            assert!(cache.len() <= 2 * RESOLVE_GENERATION, "{}", cache.len());
        }
        // One lookup per run-time name, and one for the plan's host however many came.
        assert_eq!(lookups.get(), 10 * RESOLVE_GENERATION + 1);
    }

    #[test]
    fn held_requests_stay_within_the_budget() {
        let mut held = Vec::new();
        let request = vec![b'x'; 1100];
        for id in 0..100 {
            keep_held(&mut held, id, 7, &request);
        }
        let bytes: usize = held.iter().map(|h| h.bytes.len()).sum();
        assert!(bytes <= HELD_BYTES, "{bytes}");
        assert!(held.len() <= HELD_REQUESTS);
        // The first ones rendered are kept.
        assert_eq!(held.len(), HELD_BYTES / 1100);
        assert_eq!(held_bytes(&held, 0, 7), Some(&request[..]));
        assert_eq!(held_bytes(&held, 0, 8), None);
        assert_eq!(held_bytes(&held, 99, 7), None);
        // Many small ones: at most HELD_REQUESTS.
        for id in 0..100 {
            keep_held(&mut held, id, 7, b"GET / HTTP/1.1\r\n\r\n");
        }
        assert_eq!(held.len(), HELD_REQUESTS);
        // A new key (the sticky headers changed): what was kept under the old one goes.
        keep_held(&mut held, 3, 9, b"new");
        assert_eq!(held.len(), 1);
        assert_eq!(held_bytes(&held, 3, 9), Some(&b"new"[..]));
        // The same request again replaces its bytes.
        keep_held(&mut held, 3, 9, b"newer");
        assert_eq!(held.len(), 1);
        assert_eq!(held_bytes(&held, 3, 9), Some(&b"newer"[..]));
    }
}
