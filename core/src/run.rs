//! The master side of a run: checks the machine, maps the stats region, runs the plan's
//! `setup` in a short-lived child, forks and supervises the load children (signals, deadline,
//! grace period, reaping), runs `teardown`, and merges everything into a [`Summary`].
//!
//! The master never builds an executor nor starts a thread: every child is forked from a
//! single-threaded process.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use molotov_dsl::{Globals, Program};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::child_output::ChildOutput;
use crate::engine::{self, ChildSpec, EngineOptions};
use crate::live::{Sample, Sampler, Totals};
use crate::load::RateSchedule;
use crate::printable::printable;
use crate::process::{self, ChildExit, MasterSignals, ProcessError, StopCause};
use crate::series::Point;
use crate::shm::{
    HeaderWord, Layout, Meta, Region, Shape, ShmError, Site, SlotState, StopRequest, Total,
};
use crate::sizing::{SizingConfig, SizingReport, SizingTracker};
use crate::summary::{BeforeStart, CheckName, Names, ProcessInfo, Summary};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Workers per process (`-w`).
    pub workers: usize,
    /// Processes (`-p`).
    pub processes: usize,
    /// Length of the load phase (`-d`); None: until `max_runs` or Ctrl-C.
    pub duration: Option<Duration>,
    /// What every child does.
    pub options: EngineOptions,
    /// How often the observer is called.
    pub tick: Duration,
    /// After a stop, how long children get to finish in-flight requests before they are
    /// killed.
    pub grace: Duration,
    /// Sizing mode: stop when the failure ratio exceeds the tolerance.
    pub sizing: Option<SizingConfig>,
}

/// Callbacks from the master's loop (live views, statsd).
pub trait Observer {
    /// The load processes are forked (they may still be getting ready: the open model's
    /// `setup worker` blocks run before its start).
    fn started(&mut self, _processes: &[ProcessInfo]) {}
    /// The load starts at `start` (every process ready or the ready wait over; `start` is
    /// a couple of ms ahead, so that every process sees it before it comes). Durations and
    /// rates count from it; `region` holds what was sent before it (the plan's `setup`, the
    /// open model's `setup worker` blocks), which the live figures leave out.
    fn load_started(&mut self, _start: Instant, _region: &Region) {}
    /// Called every tick with fresh numbers.
    fn tick(&mut self, _sample: &Sample, _region: &Region) {}
    /// The load phase is over (every load process ended); the plan's teardown may follow.
    fn finished(&mut self, _sample: &Sample, _region: &Region) {}
    /// A child ended before the run did (crash, kill).
    fn child_ended(&mut self, _process: &ProcessInfo) {}
    /// Ctrl-C or SIGTERM: the first asks for a graceful stop, the second for an immediate one.
    fn interrupted(&mut self, _count: u32) {}
    /// A descriptor to watch for input (a live view's keyboard).
    fn input(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// Input is ready on [`Observer::input`]; return true to stop the run gracefully.
    fn on_input(&mut self) -> bool {
        false
    }
    /// A line a load child wrote to its stderr: the load children's stderr is a pipe the
    /// master reads, so that a full-screen view shows their lines instead of letting them
    /// write over it, and a console view queues them on the master's stderr, which a reader
    /// that stopped reading cannot make the load processes wait for (their own writes to a
    /// stalled stderr stopped them in the middle of their requests). By default it goes to
    /// the master's stderr.
    fn child_output(&mut self, line: &str) {
        crate::errln!("{line}");
    }
    /// Whether this observer shows the children's lines ([`Observer::child_output`]): the
    /// view does, and the other observers (statsd, a clock) leave them to it.
    fn shows_child_output(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
#[derive(Debug, Default)]
pub struct Silent;
impl Observer for Silent {}

/// Several observers as one (a view and statsd, say). Input goes to the first that has any.
#[derive(Default)]
pub struct Observers<'a> {
    /// The observers, called in order.
    pub list: Vec<Box<dyn Observer + 'a>>,
}

impl<'a> Observers<'a> {
    /// Adds one.
    pub fn push(&mut self, observer: impl Observer + 'a) {
        self.list.push(Box::new(observer));
    }
}

impl Observer for Observers<'_> {
    fn started(&mut self, processes: &[ProcessInfo]) {
        self.list.iter_mut().for_each(|o| o.started(processes));
    }
    fn load_started(&mut self, start: Instant, region: &Region) {
        self.list
            .iter_mut()
            .for_each(|o| o.load_started(start, region));
    }
    fn tick(&mut self, sample: &Sample, region: &Region) {
        self.list.iter_mut().for_each(|o| o.tick(sample, region));
    }
    fn finished(&mut self, sample: &Sample, region: &Region) {
        self.list
            .iter_mut()
            .for_each(|o| o.finished(sample, region));
    }
    fn child_ended(&mut self, process: &ProcessInfo) {
        self.list.iter_mut().for_each(|o| o.child_ended(process));
    }
    fn interrupted(&mut self, count: u32) {
        self.list.iter_mut().for_each(|o| o.interrupted(count));
    }
    fn input(&self) -> Option<BorrowedFd<'_>> {
        self.list.iter().find_map(|o| o.input())
    }
    fn on_input(&mut self) -> bool {
        match self.list.iter_mut().find(|o| o.input().is_some()) {
            Some(o) => o.on_input(),
            None => false,
        }
    }
    /// To the observer that shows them (the view), else to stderr.
    fn child_output(&mut self, line: &str) {
        match self.list.iter_mut().find(|o| o.shows_child_output()) {
            Some(o) => o.child_output(line),
            None => crate::errln!("{line}"),
        }
    }
    fn shows_child_output(&self) -> bool {
        self.list.iter().any(|o| o.shows_child_output())
    }
}

/// Errors that prevent a run (nothing was sent).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Machine checks or forking failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// The stats region could not be mapped.
    #[error(transparent)]
    Shm(#[from] ShmError),
    /// The run cannot work here (a host does not resolve, too few file descriptors, too
    /// little memory for the stats): found before anything was started.
    #[error(transparent)]
    Preflight(#[from] crate::preflight::PreflightError),
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
}

/// Why the load phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every worker finished (deadline or `--max-runs`).
    Completed,
    /// Ctrl-C or SIGTERM (count of interrupts).
    Interrupted(u32),
    /// A failure stopped the run (`-x`).
    StoppedOnFailure,
    /// The plan's `setup` failed: no load was sent.
    SetupFailed,
    /// Sizing mode stopped the run: the failure ratio exceeded the tolerance.
    SizingKnee,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct RunResult {
    /// Everything counted.
    pub summary: Summary,
    /// Why it ended.
    pub ending: Ending,
    /// With `-x`: where the failure that stopped the run happened, its status and message.
    pub first_failure: Option<FailureReport>,
    /// Processes that did not end cleanly.
    pub failed_processes: Vec<ProcessInfo>,
    /// One point per second of the load phase.
    pub series: Vec<Point>,
    /// Sizing mode's verdict.
    pub sizing: Option<SizingReport>,
}

/// A failure for the user: where and what.
#[derive(Debug, Clone)]
pub struct FailureReport {
    /// What failed: the check text or the request name.
    pub what: String,
    /// `file:line` when known.
    pub location: Option<String>,
    /// The response status (0: none).
    pub status: u16,
    /// The message.
    pub message: String,
}

/// The names the summary needs, from the compiled plan.
pub fn names_of(program: &Program) -> Names {
    Names {
        // Shown on terminals (report tables, -v lines, the live view): a name written with a
        // control character in its target (a CR) is escaped.
        requests: program
            .requests()
            .iter()
            .map(|r| printable(&r.name).into_owned())
            .collect(),
        request_locations: program
            .requests()
            .iter()
            .map(|r| r.location.to_string())
            .collect(),
        scenarios: program.scenarios().iter().map(|s| s.name.clone()).collect(),
        checks: program
            .checks()
            .iter()
            .map(|c| CheckName {
                text: printable(&c.text).into_owned(),
                location: c.location.to_string(),
                is_assert: c.is_assert,
            })
            .collect(),
        error_kinds: molotov_http::ErrorKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect(),
    }
}

/// How long the master waits for every load child to be ready before it starts the load
/// anyway (a child still building its workers then starts late, and its open-model arrivals
/// count as late).
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How far ahead of the moment every child is ready the master puts the start.
const START_MARGIN: Duration = Duration::from_millis(2);

/// Whether every load child that is still alive built its workers and waits for the start.
fn all_ready(region: &Region, children: &[Child]) -> bool {
    children.iter().all(|c| {
        c.info.exit.is_some()
            || matches!(
                region.slot(c.info.slot).state(),
                SlotState::Ready | SlotState::Running | SlotState::Finished
            )
    })
}

/// Bytes of the load children's stderr the master reads per wake-up while they run.
const OUTPUT_PER_WAKE: usize = 256 * 1024;

/// The load children and what the master learns of them while they run.
struct LoadChildren {
    children: Vec<Child>,
    /// The read end of the children's stderr pipe.
    output: ChildOutput,
    /// Ctrl-Cs (and the view's stop key) so far, the setup's included.
    interrupts: u32,
    ending: Ending,
}

impl LoadChildren {
    /// Waits up to `timeout` for the master's events and handles them, before the start and
    /// during the load: children's output, the live view's stop key, interrupts, ended
    /// children.
    fn wait_and_handle(
        &mut self,
        signals: &MasterSignals,
        timeout: Duration,
        region: &Region,
        observer: &mut dyn Observer,
    ) {
        let got = signals.wait_with_output(timeout, observer.input(), self.output.poll_fd());
        if got.output {
            self.output
                .drain_at_most(OUTPUT_PER_WAKE, &mut |line| observer.child_output(line));
        }
        if got.input && observer.on_input() && region.stop_requested() == StopRequest::None {
            region.request_stop(StopRequest::Graceful);
            self.interrupts += 1;
            self.ending = Ending::Interrupted(self.interrupts);
        }
        if got.interrupts > 0 {
            self.interrupts += got.interrupts;
            self.ending = Ending::Interrupted(self.interrupts);
            observer.interrupted(self.interrupts);
            if self.interrupts == 1 {
                region.request_stop(StopRequest::Graceful);
            } else {
                region.request_stop(StopRequest::Immediate);
                for c in self.children.iter_mut().filter(|c| c.info.exit.is_none()) {
                    c.stop(StopCause::Immediate);
                }
            }
        }
        if got.child {
            for (pid, exit, usage) in reap_ended(&self.children) {
                if let Some(c) = self.children.iter_mut().find(|c| c.pid == pid) {
                    c.ended(exit, usage);
                    // A process killed or dead mid-run left its gauges as they were: it runs
                    // no worker and has no request in flight any more.
                    let slot = region.slot(c.info.slot);
                    slot.set_meta(Meta::WorkersAlive, 0);
                    slot.set_meta(Meta::InFlight, 0);
                    if c.info.exit.is_some_and(|e| e.is_death()) {
                        observer.child_ended(&c.info);
                    }
                }
            }
        }
    }
}

struct Child {
    info: ProcessInfo,
    pid: Pid,
    /// The master sent it SIGKILL on purpose, for this reason.
    stopping: Option<StopCause>,
    /// `CLOCK_MONOTONIC` nanoseconds when the master reaped it (0: not yet).
    reaped_nanos: u64,
}

impl Child {
    /// Kills it on purpose: its end is reported as stopped, not as a death.
    fn stop(&mut self, cause: StopCause) {
        self.stopping.get_or_insert(cause);
        process::kill(self.pid, Signal::SIGKILL);
    }

    /// Records how it ended (reaped): a SIGKILL the master sent on purpose is a stop.
    fn ended(&mut self, exit: ChildExit, usage: process::Usage) {
        self.info.exit = Some(stopped_or(exit, self.stopping));
        self.info.usage = Some(usage);
        self.reaped_nanos = process::monotonic_nanos();
    }
}

/// How long after `start_nanos` the load ended: when the last load process ended its load,
/// by the time it wrote in its slot ([`Meta::LoadEndedNanos`]), not when the master noticed
/// (a master held up by SIGSTOP, or by a terminal, notices late; the load processes ended on
/// their own). A process that wrote nothing (it died, or was killed at the end of the grace
/// period) ended when the master reaped it. A time written after the reaping, or before the
/// start, is not trusted as such (a stray write): it is bounded by them.
fn load_lasted(region: &Region, children: &[Child], start_nanos: u64) -> Duration {
    let now = process::monotonic_nanos();
    let end = children
        .iter()
        .map(|c| {
            let reaped = if c.reaped_nanos == 0 {
                now
            } else {
                c.reaped_nanos
            };
            match region.slot(c.info.slot).meta(Meta::LoadEndedNanos) {
                0 => reaped,
                written => written.min(reaped),
            }
        })
        .max()
        .unwrap_or(now);
    Duration::from_nanos(end.saturating_sub(start_nanos))
}

/// `exit`, or a stop for `cause` when it is the SIGKILL the master sent for it.
fn stopped_or(exit: ChildExit, cause: Option<StopCause>) -> ChildExit {
    match (exit, cause) {
        (ChildExit::Signaled(Signal::SIGKILL), Some(cause)) => ChildExit::Stopped(cause),
        _ => exit,
    }
}

/// Runs `program` with `config`, reporting progress to `observer`.
pub fn run(
    program: Arc<Program>,
    config: &RunConfig,
    observer: &mut dyn Observer,
) -> Result<RunResult, RunError> {
    if config.workers == 0 || config.processes == 0 {
        return Err(RunError::Config(
            "workers and processes must be at least 1".into(),
        ));
    }
    process::probe_io_uring()?;
    // Before forking: every named host resolves; per child, one socket per worker and
    // origin plus the process's own descriptors fit in the limit (docs/engine.md).
    crate::preflight::resolve_origins(&program)?;
    let run_time_clients = crate::preflight::check_fds(&program, config.workers)?;
    crate::preflight::check_locked_memory(&crate::preflight::RingNeed {
        processes: config.processes,
        workers: config.workers,
        depth: config
            .options
            .ring_depth
            .map_or(molotov_runtime::DEFAULT_RING_DEPTH, |d| {
                d.clamp(1, u32::MAX as usize) as u32
            }),
        multishot_recv: config.options.multishot_recv,
        setup_or_teardown: program.has_setup() || program.has_teardown(),
    })?;
    process::register_membarrier();
    let cpus = process::allowed_cpus()?;
    let names = names_of(&program);
    let shape = Shape {
        requests: names.requests.len(),
        scenarios: names.scenarios.len(),
        checks: names.checks.len(),
        slots: config.processes + 2,
    };
    let layout = Layout::new(shape);
    crate::preflight::check_stats_memory(&layout)?;
    crate::preflight::check_address_space(&layout, config.workers, config.options.multishot_recv)?;
    let region = Arc::new(Region::new(layout)?);
    let setup_slot = config.processes;
    let teardown_slot = config.processes + 1;
    let signals = MasterSignals::install()?;
    let mut processes: Vec<ProcessInfo> = Vec::new();
    let spec = |slot: usize,
                process: u32,
                workers: usize,
                first_worker: u64,
                cpu: Option<usize>,
                globals: Arc<Globals>| ChildSpec {
        program: Arc::clone(&program),
        globals,
        region: Arc::clone(&region),
        slot,
        process,
        workers,
        first_worker,
        cpu,
        run_time_clients,
        processes: config.processes,
        options: config.options.clone(),
    };

    // The plan's setup, once, in its own process; its captures reach every worker.
    let mut interrupts = 0u32;
    let globals = if program.has_setup() {
        let (read_end, write_end) = nix::unistd::pipe().map_err(|e| ProcessError::Os {
            what: "pipe",
            source: e.into(),
        })?;
        let child_spec = spec(
            setup_slot,
            0,
            1,
            0,
            Some(cpus[0]),
            Arc::new(Globals::empty()),
        );
        let write_fd = write_end;
        let pid = process::spawn_child(Some(cpus[0]), move || {
            engine::run_setup_child(child_spec, write_fd)
        })?;
        let (bytes, exit, usage, n) = collect_setup(pid, read_end, &signals, &region, config.grace);
        interrupts += n;
        let info = ProcessInfo {
            role: crate::summary::SETUP_ROLE.into(),
            slot: setup_slot,
            pid: pid.as_raw(),
            cpu: Some(cpus[0]),
            exit: Some(exit),
            usage,
        };
        processes.push(info.clone());
        match (exit, Globals::from_bytes(&bytes)) {
            (ChildExit::Exited(0), Ok(globals)) if interrupts == 0 => Arc::new(globals),
            _ => {
                let summary = Summary::merge(&region, &names, processes.clone(), Duration::ZERO);
                let first_failure = failure_in(&region, setup_slot, &names);
                let ending = if interrupts > 0 {
                    Ending::Interrupted(interrupts)
                } else {
                    Ending::SetupFailed
                };
                let failed = if exit.is_death() { vec![info] } else { vec![] };
                return Ok(RunResult {
                    summary,
                    ending,
                    first_failure,
                    failed_processes: failed,
                    series: Vec::new(),
                    sizing: None,
                });
            }
        }
    } else {
        Arc::new(Globals::empty())
    };

    // The load: every load child builds its executor and workers, says it is ready and waits
    // for the start, which the master gives once all are ready (below).
    let mut load = LoadChildren {
        children: Vec::new(),
        output: ChildOutput::open().map_err(|e| ProcessError::Os {
            what: "pipe",
            source: e,
        })?,
        interrupts,
        ending: Ending::Completed,
    };
    let output_fd = load.output.write_fd();
    for i in 0..config.processes {
        let cpu = process::cpu_for_child(&cpus, i);
        let child_spec = spec(
            i,
            i as u32,
            config.workers,
            (i * config.workers) as u64,
            Some(cpu),
            Arc::clone(&globals),
        );
        let body = move || {
            if let Some(fd) = output_fd {
                match crate::child_output::redirect_stderr(fd) {
                    Err(e) => crate::errln!(
                        "molotov: process {i} cannot send its stderr to the master: {e}"
                    ),
                    Ok(()) => {
                        // The child never unmaps the region (see `engine::on_executor`).
                        let region: &'static Arc<Region> =
                            Box::leak(Box::new(Arc::clone(&child_spec.region)));
                        let dropped = region.slot(i).meta_word(Meta::StderrDropped);
                        if let Err(e) = crate::stderr::drop_when_full(dropped) {
                            crate::errln!(
                                "molotov: process {i} cannot make its stderr non-blocking: {e}"
                            );
                        }
                    }
                }
            }
            engine::run_child(child_spec)
        };
        match process::spawn_child(Some(cpu), body) {
            Ok(pid) => {
                let info = ProcessInfo {
                    role: format!("worker {i}"),
                    slot: i,
                    pid: pid.as_raw(),
                    cpu: Some(cpu),
                    exit: None,
                    usage: None,
                };
                load.children.push(Child {
                    info,
                    pid,
                    stopping: None,
                    reaped_nanos: 0,
                });
                // Ctrl-C or SIGTERM while forking (hundreds of processes take a while): stop
                // forking; the children started so far stop as in any interrupted run (a
                // second interrupt kills them), and the run ends with its report, exit 130.
                load.wait_and_handle(&signals, Duration::ZERO, &region, observer);
                if region.stop_requested() != StopRequest::None {
                    break;
                }
            }
            Err(e) => {
                // Never half-start: stop what was started and fail.
                region.request_stop(StopRequest::Immediate);
                for c in &load.children {
                    process::kill(c.pid, Signal::SIGKILL);
                }
                wait_all(&mut load.children, &signals, Duration::from_secs(5));
                return Err(e.into());
            }
        }
    }
    load.output.close_write_end();
    let infos: Vec<ProcessInfo> = load.children.iter().map(|c| c.info.clone()).collect();
    observer.started(&infos);

    let ready_by = Instant::now() + READY_TIMEOUT;
    while !all_ready(&region, &load.children)
        && region.stop_requested() == StopRequest::None
        && Instant::now() < ready_by
    {
        load.wait_and_handle(&signals, Duration::from_millis(1), &region, observer);
    }
    // The start is a little ahead, so that every child sees it before it comes: the open
    // model's first arrivals are due at the start itself.
    let margin = if region.stop_requested() == StopRequest::None {
        START_MARGIN
    } else {
        Duration::ZERO
    };
    let start = Instant::now() + margin;
    let start_nanos = process::monotonic_nanos() + margin.as_nanos() as u64;
    let duration = load_length(config);
    if let Some(d) = duration {
        region.set_header(HeaderWord::DeadlineNanos, start_nanos + d.as_nanos() as u64);
    }
    // What was sent before the start (the plan's `setup`; in the open model, every worker's
    // `setup worker`) is not the load's: the live figures, the series and sizing count from
    // here, and the report's rates leave out what the load processes sent before it (those
    // of `setup` and `teardown` are left out by their slots). Read before the start is
    // given, so nothing of the load is in it.
    let mut sampler = Sampler::from_now(&region, names.scenarios.len(), names.checks.len());
    let before_start = BeforeStart::read(
        &region,
        load.children.iter().map(|c| c.info.slot),
        names.requests.len(),
    );
    // Last: a child reads the deadline after it sees the start. Wakes every child waiting.
    region.give_start(start_nanos);
    observer.load_started(start, &region);

    let mut series_sampler = sampler.clone();
    let mut series = Vec::new();
    let mut next_second = start + Duration::from_secs(1);
    // The mean rate the schedule asked for over `[from, to]` (an interval of the series, a
    // sizing window): what the interval's achieved rate is held against. (It was the rate at
    // the interval's end: during a ramp, above what the interval asked for.) A sample taken
    // just after the schedule's end (the last, partial second; the end of a sizing ramp's
    // hold) covers its last moments.
    let target_rate = |from: Duration, to: Duration| {
        config
            .options
            .load
            .rate
            .as_ref()
            .map(|r| r.schedule.mean_rate(from, to))
    };
    // Arrivals due so far: none after the deadline or a stop (a run draining is not behind).
    let starts_due = |elapsed: Duration| {
        let end = crate::load::load_end(duration, region.stopped_after_start());
        config
            .options
            .load
            .rate
            .as_ref()
            .map(|r| r.schedule.due_by(elapsed, end))
    };
    let mut sizing = config.sizing.map(SizingTracker::new);
    let mut sizing_sampler = series_sampler.clone();
    let step = config.sizing.map_or(Duration::from_secs(3600), |c| c.step);
    let mut next_step = start + step;
    let deadline = duration.map(|d| start + d);
    let mut kill_at: Option<Instant> = None;
    let mut grace_ended = false;
    let mut next_tick = start + config.tick;
    while load.children.iter().any(|c| c.info.exit.is_none()) {
        let now = Instant::now();
        // Wake for whatever comes first: a tick, a second of the series, a sizing step, the
        // deadline (which starts the grace period) and the end of the grace period. (The
        // deadline and the grace period were once seen only at the next tick: with `-q`'s
        // 1 s tick, `--grace 200ms` stopped the run 1 s after the deadline.) Once acted on,
        // neither is waited for: the stop was asked, or the children killed, and their
        // SIGCHLD wakes the loop. An end of the grace period that passed while the loop was
        // busy (a short `--grace` and the series point of the deadline's second) is acted on
        // at once, not at the next tick.
        let mut wake = next_tick.min(next_second).min(next_step);
        match kill_at {
            Some(at) if !grace_ended => wake = wake.min(at.max(now)),
            Some(_) => {}
            None => {
                if let Some(at) = deadline.filter(|&at| at > now) {
                    wake = wake.min(at);
                }
            }
        }
        let wait = wake.saturating_duration_since(now).min(config.tick);
        load.wait_and_handle(&signals, wait, &region, observer);
        let now = Instant::now();
        if region.failed_slot().is_some() && load.ending == Ending::Completed {
            load.ending = Ending::StoppedOnFailure;
        }
        let stopping =
            region.stop_requested() != StopRequest::None || deadline.is_some_and(|d| now >= d);
        if stopping && kill_at.is_none() {
            kill_at = Some(deadline.filter(|d| now >= *d).unwrap_or(now).max(now) + config.grace);
        }
        if kill_at.is_some_and(|k| now >= k) {
            grace_ended = true;
            // In-flight requests had their grace period; what they recorded stays counted.
            for c in load.children.iter_mut().filter(|c| c.info.exit.is_none()) {
                c.stop(StopCause::GraceEnded);
            }
        }
        if now >= next_second {
            let elapsed = now - start;
            let sample = series_sampler.sample(&region, elapsed);
            let from = elapsed.saturating_sub(sample.interval);
            series.push(Point::of(
                &sample,
                target_rate(from, elapsed),
                starts_due(elapsed),
            ));
            next_second = start + next_point_after(next_second - start, elapsed);
        }
        if let Some(tracker) = &mut sizing
            && now >= next_step
        {
            let elapsed = now - start;
            let sample = sizing_sampler.sample(&region, elapsed);
            if tracker.observe(&sample, target_rate) && load.ending == Ending::Completed {
                load.ending = Ending::SizingKnee;
                region.request_stop(StopRequest::Graceful);
            }
            next_step += step;
            if next_step < now {
                next_step = now + step;
            }
        }
        if now >= next_tick {
            let sample = sampler.sample(&region, now - start);
            observer.tick(&sample, &region);
            next_tick += config.tick;
            if next_tick < now {
                next_tick = now + config.tick;
            }
        }
    }
    // From the start to the end of the last load process, as they wrote it: the report's
    // `duration_s`, which every rate is over. The live view's last sample and the series'
    // last point are taken now, when the master sees the end (docs/report-format.md).
    let load_ended = load_lasted(&region, &load.children, start_nanos);
    // Every load child is gone: what they wrote last is in the pipe, up to its end.
    load.output.drain(&mut |line| observer.child_output(line));
    for c in &load.children {
        let dropped = region.slot(c.info.slot).meta(Meta::StderrDropped);
        if dropped > 0 {
            observer.child_output(&format!(
                "molotov: ({} of process {} dropped: the master did not read its output in \
                 time, and a load process never waits for it)",
                crate::report::fmt_counted(dropped, "line", "lines"),
                c.info.role
            ));
        }
    }
    let elapsed = start.elapsed();
    observer.finished(&sampler.sample(&region, elapsed), &region);
    // The last, partial second.
    let last = series_sampler.sample(&region, elapsed);
    if keeps_last_point(&last, series.is_empty()) {
        let from = elapsed.saturating_sub(last.interval);
        series.push(Point::of(
            &last,
            target_rate(from, elapsed),
            starts_due(elapsed),
        ));
    }
    processes.extend(load.children.iter().map(|c| c.info.clone()));

    // The plan's teardown, once, unless the user asked to stop now.
    if program.has_teardown() && region.stop_requested() != StopRequest::Immediate {
        let cpu = cpus[0];
        let child_spec = spec(teardown_slot, 0, 1, 0, Some(cpu), Arc::clone(&globals));
        if let Ok(pid) =
            process::spawn_child(Some(cpu), move || engine::run_teardown_child(child_spec))
        {
            let mut c = vec![Child {
                info: ProcessInfo {
                    role: crate::summary::TEARDOWN_ROLE.into(),
                    slot: teardown_slot,
                    pid: pid.as_raw(),
                    cpu: Some(cpu),
                    exit: None,
                    usage: None,
                },
                pid,
                stopping: None,
                reaped_nanos: 0,
            }];
            let n = wait_all(
                &mut c,
                &signals,
                config.grace.max(Duration::from_secs(5)) * 2,
            );
            if n > 0 {
                load.ending = Ending::Interrupted(load.interrupts + n);
            }
            processes.push(c.remove(0).info);
        }
    }

    let mut summary = Summary::merge(&region, &names, processes.clone(), load_ended);
    summary.leave_out_before_start(&before_start);
    if let Some(rate) = &config.options.load.rate {
        // The load ended at the deadline, the first stop request (Ctrl-C, `-x`, a threshold,
        // sizing's knee) or when the last load child ended, whichever came first.
        let length = crate::load::load_end(duration, region.stopped_after_start())
            .map_or(load_ended, |end| end.min(load_ended));
        summary.missed_starts = missed_starts(&region, &rate.schedule, config.processes, length);
        summary.schedule_length = Some(length);
    }
    let first_failure = region
        .failed_slot()
        .and_then(|slot| failure_in(&region, slot, &names));
    let failed_processes = processes
        .iter()
        .filter(|p| p.exit.is_some_and(|e| e.is_death()))
        .cloned()
        .collect();
    let sizing = sizing.map(SizingTracker::into_report);
    Ok(RunResult {
        summary,
        ending: load.ending,
        first_failure,
        failed_processes,
        series,
        sizing,
    })
}

/// How long the load lasts: `-d`, and with `--stages` at most the stages (the run ends with
/// the last stage, unless `-d` ends it first); None: until `--max-runs` or a stop. The
/// workers of the open model wait for this end once the schedule has no more arrivals, so a
/// trailing 0/s stage is a real cool-down and the run lasts its stages.
fn load_length(config: &RunConfig) -> Option<Duration> {
    let stages = config
        .options
        .load
        .rate
        .as_ref()
        .and_then(|r| r.schedule.length());
    [config.duration, stages].into_iter().flatten().min()
}

/// Open model: the arrivals due in the load's first `length` that no worker took (neither
/// started nor dropped), over the load processes (slot `i` is process `i`). With the load's
/// end as `length`, a run draining after a stop misses nothing, and a child that died early
/// misses every arrival of its share after its death. Counted here, not by the children, so
/// that a killed child's share is counted too.
fn missed_starts(
    region: &Region,
    schedule: &RateSchedule,
    processes: usize,
    length: Duration,
) -> u64 {
    (0..processes)
        .map(|i| {
            let slot = region.slot(i);
            let taken = slot.meta(Meta::RunsStarted) + slot.total(Total::DroppedStarts);
            schedule
                .due_before(length, i as u64, processes as u64)
                .saturating_sub(taken)
        })
        .sum()
}

/// Reads the setup child's globals from the pipe while watching for Ctrl-C, then reaps it.
fn collect_setup(
    pid: Pid,
    read_end: OwnedFd,
    signals: &MasterSignals,
    region: &Region,
    grace: Duration,
) -> (Vec<u8>, ChildExit, Option<process::Usage>, u32) {
    use std::io::Read;
    let mut bytes = Vec::new();
    let mut interrupts = 0;
    let mut file = std::fs::File::from(read_end);
    let mut buf = [0u8; 8192];
    let mut kill_at: Option<Instant> = None;
    // Why the master killed it, if it did: the first reason wins.
    let mut stopping: Option<StopCause> = None;
    let mut stop = |cause: StopCause| {
        stopping.get_or_insert(cause);
        process::kill(pid, Signal::SIGKILL);
    };
    loop {
        let got = signals.wait(Duration::from_millis(100), Some(file.as_fd()));
        if got.interrupts > 0 {
            interrupts += got.interrupts;
            region.request_stop(if interrupts > 1 {
                StopRequest::Immediate
            } else {
                StopRequest::Graceful
            });
            kill_at.get_or_insert(Instant::now() + grace);
            if interrupts > 1 {
                stop(StopCause::Immediate);
            }
        }
        if kill_at.is_some_and(|k| Instant::now() >= k) {
            stop(StopCause::GraceEnded);
        }
        if got.input {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    }
    let (exit, usage) = match process::reap(pid.as_raw(), true) {
        Some((_, exit, usage)) => (stopped_or(exit, stopping), Some(usage)),
        None => (ChildExit::Exited(engine::SETUP_FAILED_EXIT), None),
    };
    (bytes, exit, usage, interrupts)
}

/// Reaps those of the run's own `children` that have ended, without blocking. Only their
/// pids are waited for: `wait4(-1)` would also reap a child this process forked for another
/// purpose (the demo's target server), whose owner still signals and waits for it by pid
/// later, when that pid may be another process's.
fn reap_ended(children: &[Child]) -> Vec<(Pid, ChildExit, process::Usage)> {
    children
        .iter()
        .filter(|c| c.info.exit.is_none())
        .filter_map(|c| process::reap(c.pid.as_raw(), false))
        .collect()
}

/// Waits for `children` to end, stopping them when they run past `limit` or at a second
/// interrupt; returns the interrupts seen.
fn wait_all(children: &mut [Child], signals: &MasterSignals, limit: Duration) -> u32 {
    let until = Instant::now() + limit;
    let mut interrupts = 0;
    while children.iter().any(|c| c.info.exit.is_none()) {
        let got = signals.wait(Duration::from_millis(50), None);
        interrupts += got.interrupts;
        for (pid, exit, usage) in reap_ended(children) {
            if let Some(c) = children.iter_mut().find(|c| c.pid == pid) {
                c.ended(exit, usage);
            }
        }
        let cause = if interrupts > 1 {
            Some(StopCause::Immediate)
        } else if Instant::now() >= until {
            Some(StopCause::Overran(limit))
        } else {
            None
        };
        if let Some(cause) = cause {
            for c in children.iter_mut().filter(|c| c.info.exit.is_none()) {
                c.stop(cause);
            }
        }
    }
    interrupts
}

/// The failure a slot kept as its run-stopping one (`-x`), or its first one.
fn failure_in(region: &Region, slot_index: usize, names: &Names) -> Option<FailureReport> {
    let slot = region.slot(slot_index);
    // The site a load process wrote is checked against the plan's names before it is used
    // as an index: a stray write in a child must not make the master panic without a report.
    let names_site = |site: &Site| match *site {
        Site::Check(id) => (id as usize) < names.checks.len(),
        Site::Request(id) => (id as usize) < names.requests.len(),
        Site::Statement => true,
    };
    let sites = engine::decode_site(slot.meta(Meta::FailedSite))
        .filter(names_site)
        .into_iter()
        .chain(
            (0..names.checks.len() as u32)
                .map(Site::Check)
                .chain((0..names.requests.len() as u32).map(Site::Request))
                .chain([Site::Statement]),
        );
    for site in sites {
        if let Some((status, message)) = slot.sample(site) {
            let (what, location) = match site {
                Site::Check(id) => {
                    let c = &names.checks[id as usize];
                    (
                        format!(
                            "{} {}",
                            if c.is_assert { "assert" } else { "check" },
                            c.text
                        ),
                        Some(c.location.clone()),
                    )
                }
                // The request's own line (a failed capture's message names the capture's):
                // it was null, though known, for the most common `-x` stops.
                Site::Request(id) => (
                    names.requests[id as usize].clone(),
                    names.request_locations.get(id as usize).cloned(),
                ),
                Site::Statement => {
                    let (location, text) = Site::split_statement_text(&message);
                    return Some(FailureReport {
                        what: "statement".into(),
                        location: location.map(str::to_string),
                        status,
                        message: text.to_string(),
                    });
                }
            };
            return Some(FailureReport {
                what,
                location,
                status,
                message,
            });
        }
    }
    None
}

/// When the series' next point is due (since the start of the load), after the point due at
/// `due` was taken `elapsed` into the load: a second later, or, when the master was held past
/// that (stopped by SIGSTOP, starved of CPU), the first whole second after `elapsed`. So the
/// point just taken covers the whole gap with its true time and length, and the next ones
/// are whole seconds again. (Every missed second was once caught up at once: points 1 ms
/// apart, with spikes and dips in the charts.)
fn next_point_after(due: Duration, elapsed: Duration) -> Duration {
    let next = due + Duration::from_secs(1);
    if next > elapsed {
        next
    } else {
        Duration::from_secs(elapsed.as_secs() + 1)
    }
}

/// Whether the series gets a point for the final, partial second: not when it is a sliver
/// (50 ms or less, as when the load ends right after a whole second) in which nothing
/// happened; always when something did, since the series' requests must add up to the totals
/// (a request that finished in the last few milliseconds was once dropped from the series).
fn keeps_last_point(last: &Sample, series_is_empty: bool) -> bool {
    series_is_empty || last.interval > Duration::from_millis(50) || last.delta != Totals::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(interval_ms: u64, requests: u64) -> Sample {
        let delta = Totals {
            requests,
            ..Totals::default()
        };
        let interval = Duration::from_millis(interval_ms);
        Sample::of_interval(Duration::from_secs(4) + interval, interval, delta, 0)
    }

    #[test]
    fn a_stray_failure_site_in_a_slot_is_not_used_as_an_index() {
        let region = Region::new(Layout::new(Shape {
            requests: 1,
            scenarios: 1,
            checks: 1,
            slots: 1,
        }))
        .unwrap();
        let names = Names {
            requests: vec!["GET /".into()],
            request_locations: vec!["p.mol:2".into()],
            scenarios: vec!["s".into()],
            checks: vec![CheckName {
                text: "status == 200".into(),
                location: "p.mol:3".into(),
                is_assert: false,
            }],
            error_kinds: Vec::new(),
        };
        let slot = region.slot(0);
        slot.offer_sample(Site::Check(0), 500, "status was 500");
        // Sites past the plan's checks and requests (what a stray write leaves): the report
        // falls back to the samples the slot has, here the check's.
        for stray in [
            engine::encode_site(Site::Check(0xF000_0000)),
            engine::encode_site(Site::Request(1)),
            0xF000_0000,
        ] {
            slot.set_meta(Meta::FailedSite, stray);
            let failure = failure_in(&region, 0, &names).expect("the check's sample");
            assert_eq!(failure.what, "check status == 200", "{stray:#x}");
            assert_eq!(failure.status, 500);
        }
    }

    #[test]
    fn a_late_point_covers_the_seconds_it_missed() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // On time, or a little late: the next second.
        assert_eq!(next_point_after(s(1), ms(1_000)), s(2));
        assert_eq!(next_point_after(s(1), ms(1_300)), s(2));
        // Held from 1 s to 3.001 s: the point at 3.001 covers 1..3.001, the next is at 4 s,
        // not 2 s and 3 s at once.
        assert_eq!(next_point_after(s(1), ms(3_001)), s(4));
        // Held to exactly a whole second: the next whole second after it.
        assert_eq!(next_point_after(s(1), s(2)), s(3));
        assert_eq!(next_point_after(s(1), s(3)), s(4));
    }

    #[test]
    fn the_last_partial_second_keeps_whatever_happened_in_it() {
        // A sliver with a request in it: kept, or the series loses that request.
        assert!(keeps_last_point(&tail(10, 1), false));
        // A sliver in which nothing happened: left out.
        assert!(!keeps_last_point(&tail(10, 0), false));
        // A real partial second, even an idle one: kept.
        assert!(keeps_last_point(&tail(400, 0), false));
        // The only point of a short run: kept.
        assert!(keeps_last_point(&tail(10, 0), true));
    }
}
