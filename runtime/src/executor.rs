//! The executor: the task slab, the run queue and the loop that polls tasks, fires timers and
//! enters the ring; [`spawn_local`] and its [`Task`] handle, [`yield_now`] and
//! [`yield_if_needed`], and the thread's current runtime that every other module reaches
//! through [`with_runtime`].

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use crate::prefetch;
use crate::reactor::{Reactor, ReceiveSetup};
use crate::timer::Timers;

// A waker packs a task's index and generation into one pointer-sized word.
const _: () = assert!(usize::BITS == 64, "molotov-runtime needs a 64-bit target");

/// How long a task may keep its executor busy before [`yield_if_needed`] yields.
const TIME_SLICE: Duration = Duration::from_millis(5);

/// A pass that starts this long after the one before may find timers due that the kernel's
/// held-back completions would have beaten (see [`ReadyExecutor::run`]).
const STALL: Duration = Duration::from_millis(10);

/// After a stall, the entries that collect what the kernel held back stop once one reads
/// nothing, or after this many entries more than the operations in flight (each entry reads
/// at least one completion, and the kernel holds back about one piece of work per operation:
/// only completions that keep coming, a server that keeps sending, reach the bound).
const EXTRA_DRAINS: usize = 256;

/// The waker index of the future given to [`ReadyExecutor::run`] (not in the slab).
const MAIN_TASK: usize = 0xffff_ffff;

/// Default submission-queue depth of the ring.
pub const DEFAULT_RING_DEPTH: u32 = 128;

/// Completion-queue entries per submission entry of a ring (at least 4096 in all): a
/// completion per connection may come in one pass.
pub(crate) const COMPLETIONS_PER_ENTRY: u32 = 8;

/// The deepest ring [`Executor::ring_depth`] builds by default: the completion queue is
/// [`COMPLETIONS_PER_ENTRY`] times the depth, and the kernel's largest completion queue is
/// 65536 entries (`IORING_MAX_CQ_ENTRIES`, since Linux 5.5; the ring is built without
/// `IORING_SETUP_CLAMP`, so a larger one is `EINVAL`, whatever the task-work flags).
pub const MAX_RING_DEPTH: u32 = 65536 / COMPLETIONS_PER_ENTRY;

/// Buffers of the multishot receives, by default: 256 of 4 KiB (1 MiB, touched as used).
const DEFAULT_RECV_BUFFERS: u16 = 256;
const DEFAULT_RECV_BUFFER_SIZE: usize = 4096;

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// The runtime of the executor running on this thread, null outside [`Executor::run`].
    static CURRENT: Cell<*const Runtime> = const { Cell::new(std::ptr::null()) };
    /// Task polls on this thread so far (see [`polls`]): a plain thread-local, read and
    /// bumped without reaching the runtime.
    static POLLS: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` on this thread's runtime; None outside an executor.
pub(crate) fn with_runtime<R>(f: impl FnOnce(&Runtime) -> R) -> Option<R> {
    let current = CURRENT.with(Cell::get);
    if current.is_null() {
        return None;
    }
    // SAFETY: `CURRENT` is non-null only while `Executor::run` is on this thread's stack,
    // and it points at the runtime that `run` borrows for that whole time; the runtime is
    // only ever used through shared references (its state is in cells).
    Some(f(unsafe { &*current }))
}

/// Runs `f` on this thread's runtime; panics outside an executor (a programming error:
/// tasks, timers and streams only exist inside [`Executor::run`]).
pub(crate) fn runtime<R>(f: impl FnOnce(&Runtime) -> R) -> R {
    with_runtime(f).expect("molotov-runtime: used outside Executor::run")
}

/// Which of the kernel's task-work modes the ring was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingSetup {
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN` (Linux 6.1): completion work
    /// runs in one batch when the executor enters the ring to wait.
    DeferTaskrun,
    /// `IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG` (Linux 5.19): completion work
    /// is not forced on the executor by an interrupt, it runs at the next system call.
    CoopTaskrun,
    /// No task-work flag: asked for ([`Executor::taskrun_flags`] off), or refused by the
    /// kernel.
    Plain,
}

/// An executor for one thread: built with [`Executor::new`] and the setters, started with
/// [`Executor::run`].
#[derive(Debug, Clone)]
pub struct Executor {
    cpu: Option<usize>,
    ring_depth: u32,
    completion_queue: Option<u32>,
    spin_before_park: Option<Duration>,
    batch_wait: Option<Duration>,
    taskrun_flags: bool,
    multishot_poll: bool,
    multishot_recv: bool,
    recv_buffers: u16,
    recv_buffer_size: usize,
    timeout_argument: bool,
    prefetch_from: Option<usize>,
}

impl Default for Executor {
    fn default() -> Executor {
        Executor::new()
    }
}

impl Executor {
    /// No CPU pinning, a ring of 128 entries, no spinning, task-work flags and multishot
    /// read polls on, multishot receives off.
    pub fn new() -> Executor {
        Executor {
            cpu: None,
            ring_depth: DEFAULT_RING_DEPTH,
            completion_queue: None,
            spin_before_park: None,
            batch_wait: None,
            taskrun_flags: true,
            multishot_poll: true,
            multishot_recv: false,
            recv_buffers: DEFAULT_RECV_BUFFERS,
            recv_buffer_size: DEFAULT_RECV_BUFFER_SIZE,
            timeout_argument: true,
            prefetch_from: None,
        }
    }

    /// Pins the thread that runs the executor to `cpu`.
    pub fn pin_to_cpu(mut self, cpu: usize) -> Executor {
        self.cpu = Some(cpu);
        self
    }

    /// Submission-queue entries of the ring (the kernel rounds up to a power of two). Above
    /// [`MAX_RING_DEPTH`] the kernel refuses the ring (unless [`Executor::completion_queue`]
    /// sets a smaller completion queue): [`Executor::make`] fails with `InvalidInput`.
    pub fn ring_depth(mut self, entries: u32) -> Executor {
        self.ring_depth = entries.max(1);
        self
    }

    /// Completion-queue entries of the ring (the kernel rounds up to a power of two, and
    /// wants at least the submission queue's), instead of 8 times the submission queue and
    /// at least 4096: for the tests of a queue that overflows.
    #[doc(hidden)]
    pub fn completion_queue(mut self, entries: u32) -> Executor {
        self.completion_queue = Some(entries.max(1));
        self
    }

    /// With nothing to run, keep collecting completions without sleeping for this long
    /// before blocking in the kernel (costs CPU; can lower latency at low load).
    pub fn spin_before_park(mut self, spin: Duration) -> Executor {
        self.spin_before_park = Some(spin);
        self
    }

    /// When nothing is runnable, wait up to this long for completions to pile up before
    /// running the first (the kernel's minimum wait, Linux 6.12; ignored by older kernels):
    /// fewer, fuller passes, at the price of up to that much delay on a completion that
    /// comes alone. Off by default: a load generator would add that delay to the latencies
    /// it measures.
    pub fn batch_wait(mut self, wait: Duration) -> Executor {
        self.batch_wait = Some(wait);
        self
    }

    /// Whether to build the ring with a task-work flag (`DEFER_TASKRUN`, else
    /// `COOP_TASKRUN`, whichever the kernel takes first); on by default.
    pub fn taskrun_flags(mut self, on: bool) -> Executor {
        self.taskrun_flags = on;
        self
    }

    /// Whether a stream waits for read readiness with one multishot `POLL_ADD`, armed at
    /// its first wait and kept until it is dropped (on by default; kernels before 5.13
    /// refuse it, and the executor then falls back to one-shot polls by itself), rather than
    /// a one-shot `POLL_ADD` per wait.
    pub fn multishot_poll(mut self, on: bool) -> Executor {
        self.multishot_poll = on;
        self
    }

    /// Whether a stream reads with one multishot receive, armed at its first wait and kept
    /// until it is dropped, into buffers the executor lends the kernel (kernels before 6.0
    /// refuse it, and the executor then falls back to readiness polls and `recv(2)` by
    /// itself): a response then costs one completion and no system call, and a read knows
    /// when its bytes were there (`TcpStream::last_read_arrived_by`). Off by default: on
    /// the machine it was measured on it saved a `recv(2)` per response but no CPU time
    /// (`benches/RESULTS.md`), and it costs the buffers' memory.
    pub fn multishot_recv(mut self, on: bool) -> Executor {
        self.multishot_recv = on;
        self
    }

    /// The buffers of the multishot receives: `count` (rounded up to a power of two, at
    /// most 32,768) of `size` bytes each (default 256 of 4 KiB). They are mapped at the
    /// first receive, and touched as they are used. When every one holds bytes not yet
    /// read, a stream's receive ends and that stream waits with a poll and reads with
    /// `recv(2)` until its next read.
    pub fn recv_buffers(mut self, count: usize, size: usize) -> Executor {
        self.recv_buffers = count.clamp(1, 1 << 15).next_power_of_two() as u16;
        self.recv_buffer_size = size.clamp(1, u32::MAX as usize);
        self
    }

    /// Prefetch a woken task's state (at most 4 KiB) when the states of all live tasks
    /// together reach `bytes`: 0 prefetches at every wake-up, `usize::MAX` never. By
    /// default, half the second-level cache of the CPU the executor runs on (sysfs, read
    /// when it is made, after pinning; 256 KiB where sysfs does not say): below that the
    /// states stay in the cache and a prefetch only costs its instructions.
    pub fn prefetch_task_state_from(mut self, bytes: usize) -> Executor {
        self.prefetch_from = Some(bytes);
        self
    }

    /// Bound timed waits with a `TIMEOUT` submission, as on kernels older than 5.11 (which
    /// lack the timeout argument of `io_uring_enter`), even where the kernel has the
    /// argument: for the tests of that path.
    #[doc(hidden)]
    pub fn without_timeout_argument(mut self) -> Executor {
        self.timeout_argument = false;
        self
    }

    /// Pins the thread (if asked) and builds the ring: the executor, ready to run.
    pub fn make(self) -> io::Result<ReadyExecutor> {
        if let Some(cpu) = self.cpu {
            pin_thread(cpu)?;
        }
        let reactor = Reactor::new(
            self.ring_depth,
            self.completion_queue,
            self.taskrun_flags,
            self.timeout_argument,
            self.multishot_poll,
            self.batch_wait,
            ReceiveSetup {
                multishot: self.multishot_recv,
                buffers: self.recv_buffers,
                buffer_size: self.recv_buffer_size,
            },
        )?;
        Ok(ReadyExecutor {
            runtime: Runtime {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                reactor,
                timers: Timers::default(),
                tasks: RefCell::new(Vec::new()),
                free_tasks: RefCell::new(Vec::new()),
                queue: RefCell::new(VecDeque::new()),
                pass_started: Cell::new(Instant::now()),
                main_woken: Cell::new(true),
                spin_before_park: self.spin_before_park,
                prefetch_from: self.prefetch_from.unwrap_or_else(prefetch::threshold),
            },
        })
    }

    /// [`Executor::make`], then [`ReadyExecutor::run`].
    pub fn run<T>(self, future: impl Future<Output = T>) -> io::Result<T> {
        self.make()?.run(future)
    }
}

/// An executor whose ring is built ([`Executor::make`]).
pub struct ReadyExecutor {
    runtime: Runtime,
}

impl std::fmt::Debug for ReadyExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyExecutor")
            .field("id", &self.runtime.id)
            .field("ring_setup", &self.ring_setup())
            .finish()
    }
}

impl ReadyExecutor {
    /// How the ring was built.
    pub fn ring_setup(&self) -> RingSetup {
        self.runtime.reactor.setup()
    }

    /// Whether waits batch completions ([`Executor::batch_wait`] asked, and the kernel
    /// has the minimum wait).
    pub fn batches_waits(&self) -> bool {
        self.runtime.reactor.batches_waits()
    }

    /// Runs `future` and the tasks it spawns until `future` is done; tasks still pending then
    /// are dropped. Errors only if the ring fails.
    pub fn run<T>(self, future: impl Future<Output = T>) -> io::Result<T> {
        let runtime = &self.runtime;
        let previous = CURRENT.with(|current| current.replace(runtime));
        // Restores the thread's previous runtime (null, or an outer executor's) however
        // `run` ends, after the tasks left are dropped (their streams and timers reach the
        // runtime as they go).
        struct Restore<'a>(&'a Runtime, *const Runtime);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.drop_all_tasks();
                CURRENT.with(|current| current.set(self.1));
            }
        }
        let _restore = Restore(runtime, previous);
        // Declared after the guard, so dropped before it, with the runtime still current.
        let mut main = std::pin::pin!(future);
        let main_waker = waker_for(MAIN_TASK, 0);
        let mut now = Instant::now();
        loop {
            runtime.pass_started.set(now);
            runtime.timers.fire(now);
            if runtime.main_woken.replace(false)
                && let Poll::Ready(output) =
                    main.as_mut().poll(&mut Context::from_waker(&main_waker))
            {
                return Ok(output);
            }
            let mut batch = runtime.queue.borrow().len();
            while batch > 0 {
                batch -= 1;
                let Some(task) = runtime.queue.borrow_mut().pop_front() else {
                    break;
                };
                runtime.poll_task(task);
            }
            if runtime.queue.borrow().is_empty() && !runtime.main_woken.get() {
                runtime.park()?;
            } else {
                runtime.reactor.enter(false, None)?;
            }
            // The next pass starts when the completions were read.
            now = runtime.reactor.complete();
            // With `DEFER_TASKRUN` the kernel posts only some of the completions waiting at
            // each entry into the ring (at most 20 since Linux 6.13, `IO_LOCAL_TW_DEFAULT_MAX`;
            // as few as the wait asked for when it wakes from a sleep) and keeps the rest for
            // the next. After a stall (the process stopped or starved, a long pass) a timer
            // due now, a request's deadline, would then fire before the response that came
            // in time is seen, and count it a timeout: when a pass comes late and timers are
            // due, what the kernel still holds (and what overflowed the completion queue) is
            // collected first, until an entry reads nothing. Bounded (`EXTRA_DRAINS`), so
            // that completions that keep coming cannot hold the executor here.
            let stalled_since = runtime.pass_started.get();
            if runtime.timers.next().is_some_and(|at| at <= now)
                && now.saturating_duration_since(stalled_since) >= STALL
            {
                let max_drains = runtime.reactor.in_flight() + EXTRA_DRAINS;
                let mut drains = 0;
                while drains < max_drains {
                    runtime.reactor.enter(false, None)?;
                    now = runtime.reactor.complete();
                    drains += 1;
                    if runtime.reactor.last_read() == 0 {
                        break;
                    }
                }
            }
        }
    }
}

fn pin_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is out of range"),
        ));
    }
    // SAFETY: an all-zero `cpu_set_t` is the empty set, a valid value of this plain C
    // struct; CPU_SET writes inside it (the index was checked against CPU_SETSIZE).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid, initialised set of the size passed; pid 0 is this thread.
    let result = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A task's place in the slab.
struct TaskSlot {
    /// Taken out while the task is polled, None once it is done.
    future: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// Bumped each time the slot is reused: a waker of an earlier task wakes nothing.
    generation: u32,
    live: bool,
    queued: bool,
    running: bool,
    /// Its handle was dropped while it ran: drop it when the poll returns.
    cancelled: bool,
}

/// The state of one executor, reached from tasks through [`with_runtime`].
pub(crate) struct Runtime {
    pub(crate) id: usize,
    pub(crate) reactor: Reactor,
    pub(crate) timers: Timers,
    tasks: RefCell<Vec<TaskSlot>>,
    free_tasks: RefCell<Vec<usize>>,
    queue: RefCell<VecDeque<usize>>,
    pass_started: Cell<Instant>,
    /// The future given to `run` was woken.
    main_woken: Cell<bool>,
    spin_before_park: Option<Duration>,
    /// Woken tasks' states are prefetched from this many bytes of live task state on.
    prefetch_from: usize,
}

impl Runtime {
    fn insert(&self, future: Pin<Box<dyn Future<Output = ()>>>) -> (usize, u32) {
        let mut tasks = self.tasks.borrow_mut();
        let index = match self.free_tasks.borrow_mut().pop() {
            Some(index) => index,
            None => {
                tasks.push(TaskSlot {
                    future: None,
                    generation: 0,
                    live: false,
                    queued: false,
                    running: false,
                    cancelled: false,
                });
                tasks.len() - 1
            }
        };
        let slot = &mut tasks[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.future = Some(future);
        slot.live = true;
        slot.queued = true;
        slot.cancelled = false;
        self.queue.borrow_mut().push_back(index);
        (index, slot.generation)
    }

    fn schedule(&self, index: usize, generation: u32) {
        if index == MAIN_TASK {
            self.main_woken.set(true);
            return;
        }
        let mut tasks = self.tasks.borrow_mut();
        let slots = tasks.len();
        if let Some(slot) = tasks.get_mut(index)
            && slot.live
            && slot.generation == generation
            && !slot.queued
        {
            slot.queued = true;
            if let Some(future) = &slot.future {
                // Its next poll is near: have its state fetched meanwhile, where the live
                // tasks' states no longer stay in the cache (see `prefetch`).
                let state: &dyn Future<Output = ()> = future.as_ref().get_ref();
                let state_bytes = std::mem::size_of_val(state);
                let live = slots - self.free_tasks.borrow().len();
                if prefetch::worth_it(state_bytes, live, self.prefetch_from) {
                    prefetch::bytes(std::ptr::from_ref(state).cast::<u8>(), state_bytes);
                }
            }
            self.queue.borrow_mut().push_back(index);
        }
    }

    fn poll_task(&self, index: usize) {
        let (mut future, generation) = {
            let mut tasks = self.tasks.borrow_mut();
            let slot = &mut tasks[index];
            // A stale entry: the task was polled through a later entry, or is gone.
            if !slot.live || !slot.queued {
                return;
            }
            slot.queued = false;
            slot.running = true;
            let future = slot
                .future
                .take()
                .expect("a live task that is not running has its future");
            (future, slot.generation)
        };
        let waker = waker_for(index, generation);
        let mut cx = Context::from_waker(&waker);
        POLLS.with(|polls| polls.set(polls.get().wrapping_add(1)));
        let done = future.as_mut().poll(&mut cx).is_ready();
        let finished = {
            let mut tasks = self.tasks.borrow_mut();
            let slot = &mut tasks[index];
            slot.running = false;
            if done || slot.cancelled {
                slot.live = false;
                slot.queued = false;
                slot.cancelled = false;
                self.free_tasks.borrow_mut().push(index);
                Some(future)
            } else {
                slot.future = Some(future);
                None
            }
        };
        // Dropped outside the borrow: a future's drop may drop other tasks' handles.
        drop(finished);
    }

    fn cancel(&self, index: usize, generation: u32) {
        let future = {
            let mut tasks = self.tasks.borrow_mut();
            let slot = &mut tasks[index];
            if !slot.live || slot.generation != generation {
                return;
            }
            if slot.running {
                slot.cancelled = true;
                return;
            }
            slot.live = false;
            slot.queued = false;
            self.free_tasks.borrow_mut().push(index);
            slot.future.take()
        };
        drop(future);
    }

    /// Drops every task left (their drops may cancel others: repeat until none is left).
    fn drop_all_tasks(&self) {
        loop {
            let futures: Vec<_> = {
                let mut tasks = self.tasks.borrow_mut();
                let mut free = self.free_tasks.borrow_mut();
                tasks
                    .iter_mut()
                    .enumerate()
                    .filter(|(_, slot)| slot.live && !slot.running)
                    .filter_map(|(index, slot)| {
                        slot.live = false;
                        slot.queued = false;
                        free.push(index);
                        slot.future.take()
                    })
                    .collect()
            };
            if futures.is_empty() {
                break;
            }
            drop(futures);
        }
        self.queue.borrow_mut().clear();
    }

    /// Nothing runnable: spin if asked, then wait in the ring for a completion or the next
    /// timer.
    fn park(&self) -> io::Result<()> {
        if let Some(spin) = self.spin_before_park {
            let until = Instant::now() + spin;
            loop {
                self.reactor.enter(false, None)?;
                if self.reactor.has_completions() {
                    return Ok(());
                }
                let now = Instant::now();
                if self.timers.next().is_some_and(|at| at <= now) || now >= until {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        let timeout = self
            .timers
            .next()
            .map(|at| at.saturating_duration_since(Instant::now()));
        if timeout.is_some_and(|t| t.is_zero()) {
            return self.reactor.enter(false, None);
        }
        self.reactor.enter(true, timeout)
    }
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_task, wake_task, drop_waker);

fn clone_waker(data: *const ()) -> RawWaker {
    RawWaker::new(data, &WAKER_VTABLE)
}

fn wake_task(data: *const ()) {
    let word = data as usize;
    with_runtime(|runtime| runtime.schedule(word & 0xffff_ffff, (word >> 32) as u32));
}

fn drop_waker(_: *const ()) {}

fn waker_for(index: usize, generation: u32) -> Waker {
    let word = index | (generation as usize) << 32;
    // SAFETY: the data is a plain word that the vtable's functions never dereference;
    // cloning copies it, dropping does nothing, waking looks the task up in this thread's
    // runtime (and does nothing when there is none or the task is gone), so the waker is
    // sound wherever it is used; it only wakes anything on its executor's thread.
    unsafe { Waker::from_raw(RawWaker::new(word as *const (), &WAKER_VTABLE)) }
}

/// Where a task's output waits for its handle.
struct JoinState<T> {
    output: RefCell<Option<T>>,
    waiter: RefCell<Option<Waker>>,
    finished: Cell<bool>,
}

/// The handle of a spawned task: a future of its output. Dropping it cancels the task (its
/// future is dropped); [`Task::detach`] lets it run to its end instead.
#[must_use = "dropping a Task cancels it; detach() it to let it run"]
pub struct Task<T> {
    index: usize,
    generation: u32,
    state: Rc<JoinState<T>>,
    detached: bool,
}

impl<T> std::fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("index", &self.index)
            .field("finished", &self.state.finished.get())
            .finish()
    }
}

impl<T> Task<T> {
    /// Lets the task run to its end without a handle.
    pub fn detach(mut self) {
        self.detached = true;
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(output) = self.state.output.borrow_mut().take() {
            return Poll::Ready(output);
        }
        assert!(
            !self.state.finished.get(),
            "a task's output was already taken"
        );
        let mut waiter = self.state.waiter.borrow_mut();
        match waiter.as_ref() {
            Some(parked) if parked.will_wake(cx.waker()) => {}
            _ => *waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if !self.detached && !self.state.finished.get() {
            with_runtime(|runtime| runtime.cancel(self.index, self.generation));
        }
    }
}

pin_project_lite::pin_project! {
    /// A spawned future and where its output goes: the task the executor polls. A named
    /// future rather than an `async` block, which would hold the spawned future twice (as
    /// the block's capture, and pinned in its awaiting state): at `-w 10000` that was 1.4 KB
    /// more per worker.
    struct Spawned<F: Future> {
        #[pin]
        future: F,
        state: Rc<JoinState<F::Output>>,
    }
}

impl<F: Future> Future for Spawned<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let Poll::Ready(output) = this.future.poll(cx) else {
            return Poll::Pending;
        };
        *this.state.output.borrow_mut() = Some(output);
        this.state.finished.set(true);
        let waiter = this.state.waiter.borrow_mut().take();
        if let Some(waiter) = waiter {
            waiter.wake();
        }
        Poll::Ready(())
    }
}

/// Spawns `future` on this thread's executor; panics outside one.
pub fn spawn_local<T: 'static>(future: impl Future<Output = T> + 'static) -> Task<T> {
    let state = Rc::new(JoinState {
        output: RefCell::new(None),
        waiter: RefCell::new(None),
        finished: Cell::new(false),
    });
    let task = Spawned {
        future,
        state: Rc::clone(&state),
    };
    let (index, generation) = runtime(|runtime| runtime.insert(Box::pin(task)));
    Task {
        index,
        generation,
        state,
        detached: false,
    }
}

/// The id of this thread's executor (unique in the process); panics outside one.
pub fn executor_id() -> usize {
    runtime(|runtime| runtime.id)
}

/// How many operations this thread's executor has submitted to its ring so far (polls,
/// cancellations not counted); panics outside one. For tests and benchmarks: with multishot
/// read polls a kept-alive connection submits one read poll in its life, not one per
/// response.
#[doc(hidden)]
pub fn operations_started() -> u64 {
    runtime(|runtime| runtime.reactor.started())
}

/// How many times a stream's receive on this thread's executor ended because every receive
/// buffer held unread bytes; panics outside one. For tests.
#[doc(hidden)]
pub fn recv_buffer_shortages() -> u64 {
    runtime(|runtime| runtime.reactor.shortages())
}

/// How many times this thread's executor found completions waiting in the kernel's overflow
/// list (its completion queue was full when they came); panics outside one. For tests.
#[doc(hidden)]
pub fn completion_overflows() -> u64 {
    runtime(|runtime| runtime.reactor.overflows())
}

/// Lets every other runnable task, the timers and the ring have a turn.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// How many times the executors of this thread have polled a task so far. A task that reads
/// the same count before and after some work was not suspended in between: the work never
/// waited for anything, and the task has kept its executor to itself (see [`yield_now`]).
pub fn polls() -> u64 {
    POLLS.with(Cell::get)
}

/// [`yield_now`] once the current pass of the executor has run for longer than its time
/// slice (5 ms); otherwise returns at once.
pub async fn yield_if_needed() {
    if runtime(|runtime| runtime.pass_started.get().elapsed() >= TIME_SLICE) {
        yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use io_uring::{opcode, types};

    use super::*;
    use crate::reactor::{Fired, OpId};
    use crate::timer::Timer;

    /// Waits for a `TIMEOUT` of `after` in this thread's executor's ring, or for a runtime
    /// timer of `deadline`, whichever the task sees first (the ring's completion is looked at
    /// first, as a response before its request's deadline): true if the ring's came first.
    /// The kernel completes a `TIMEOUT` through task work, held back with `DEFER_TASKRUN`
    /// until the executor enters the ring, like a response's.
    async fn ring_timeout_before(after: Duration, deadline: Duration) -> bool {
        // Leaked: the kernel reads it when it takes the entry, and the test is short.
        let spec: &'static types::Timespec = Box::leak(Box::new(types::Timespec::from(after)));
        let mut id: Option<OpId> = None;
        let mut timer = Timer::new(deadline);
        poll_fn(|cx| {
            match &id {
                None => {
                    let entry = opcode::Timeout::new(spec).build();
                    // SAFETY: the entry points at a leaked timespec, valid for ever.
                    let op = runtime(|runtime| unsafe { runtime.reactor.start(entry, cx.waker()) });
                    id = Some(op.unwrap());
                }
                Some(op) => match runtime(|runtime| runtime.reactor.poll(op, cx.waker())) {
                    Fired::Ended(_) => {
                        id = None;
                        return Poll::Ready(true);
                    }
                    Fired::No => {}
                    Fired::Yes(_) => unreachable!("a one-shot operation never fires"),
                },
            }
            if Pin::new(&mut timer).poll(cx).is_ready() {
                let op = id.take().expect("armed");
                runtime(|runtime| runtime.reactor.cancel(op));
                return Poll::Ready(false);
            }
            Poll::Pending
        })
        .await
    }

    /// The executor's thread blocked (a stall) while 6,000 operations completed, long before
    /// their deadlines, which passed during the stall too. With `DEFER_TASKRUN` the kernel
    /// posts about 20 completions per entry into the ring; every one must be seen before
    /// the deadlines fire (the drain stopped after 256 entries: ~5,140 were seen, the rest
    /// counted late).
    #[test]
    fn completions_held_back_over_a_stall_are_all_seen_before_the_deadlines_fire() {
        const OPS: usize = 6000;
        let executor = Executor::new().ring_depth(1024).make().unwrap();
        let setup = executor.ring_setup();
        let in_time = executor
            .run(async {
                let tasks: Vec<_> = (0..OPS)
                    .map(|_| {
                        spawn_local(ring_timeout_before(
                            Duration::from_millis(20),
                            Duration::from_millis(200),
                        ))
                    })
                    .collect();
                // The tasks queue their operations; the executor submits them.
                yield_now().await;
                yield_now().await;
                // The stall: every operation completes, every deadline passes.
                std::thread::sleep(Duration::from_millis(400));
                let mut in_time = 0;
                for task in tasks {
                    in_time += usize::from(task.await);
                }
                in_time
            })
            .unwrap();
        assert_eq!(in_time, OPS, "ring setup {setup:?}");
    }
}
