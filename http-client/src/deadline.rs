//! Per-request deadlines without a timer per request: [`DeadlineTimer`] races a
//! future against a deadline checked on every poll and enforced by one sweeper task per
//! executor.
//!
//! Why not a timer per request (measured when the engine ran on glommio, before
//! molotov-runtime; the runtime's timers are cheaper, but one timer per executor still beats
//! one per request): in glommio-ng 0.12 every timer insert and removal also updates
//! a hash map, and every reactor pass computes the earliest expiry by scanning *all* live
//! timers (`id_to_expiry.values().min()`), so one timer per in-flight request makes every
//! scheduler pass O(in-flight requests). `glommio::future::timeout` is worse still: it makes
//! a new `Timer` per call, and a `Timer` inserts a fresh wheel entry on every poll that finds
//! it pending without removing the previous one, so stale entries pile up until they expire.
//! Measured with `examples/deadline_cost.rs` (see docs/http-client.md): a future polled 4
//! times cost about 120 ns bare, 1.9-3.7 µs (growing) under `glommio::future::timeout`, and
//! 0.95-1.25 µs with one re-armed timer per client; this module is the cheapest of them.
//!
//! How: each `DeadlineTimer` owns a slot (deadline, expired flag, waker) registered once with
//! its executor's registry. Arming a request writes the slot (one clock read, or none with
//! [`DeadlineTimer::run_from`]); a poll of the raced future checks the flag. A sweeper task
//! (one per executor, started on first use) sleeps on one timer until the earliest
//! armed deadline, flags the slots whose deadline passed, wakes their tasks and sleeps until
//! the next earliest; with nothing armed it parks without a timer. Arming a deadline earlier
//! than the one the sweeper sleeps until wakes it to plan again (with one timeout for all
//! requests, as in most plans, that never happens: a new deadline is later than every armed
//! one). So a deadline fires when it passes (plus the timer's and a busy executor's delay),
//! never early, and the sweeper wakes about once per timeout instead of on a fixed tick: a
//! 5 ms tick was 200 executor wake-ups a second, which at low load (each response wakes the
//! executor anyway, and every wake-up cost glommio timer re-arms) was ~30% of the load
//! process's CPU (see docs/http-client.md).
//!
//! Never the stream-level `set_read_timeout`: it keeps state on the stream and a dropped
//! in-flight read leaves it armed (see the design notes).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_lite::future::poll_fn;

/// Timeouts longer than this are treated as "no deadline" (and never overflow `Instant`).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The shortest slot list a registration trims (see `Registry::register`).
const MIN_COMPACT_AT: usize = 64;

/// One client's deadline: when, and whom to wake.
#[derive(Debug, Default)]
struct Slot {
    deadline: Cell<Option<Instant>>,
    /// Set by the sweeper once the deadline passed.
    expired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The armed slots of one executor and its sweeper's state.
#[derive(Debug)]
struct Registry {
    executor: usize,
    slots: RefCell<Vec<Weak<Slot>>>,
    /// When the sweeper wakes next: the earliest deadline it saw armed, or one armed since
    /// that is earlier still. `None`: parked without a timer (nothing was armed).
    next_wake: Cell<Option<Instant>>,
    /// A deadline earlier than the sweeper's timer was armed: plan again.
    replan: Cell<bool>,
    /// The sweeper's waker while it sleeps.
    sleeping: RefCell<Option<Waker>>,
    /// How many times the sweeper looked at the slots (for tests and measurements).
    sweeps: Cell<u64>,
    /// When `slots` reaches this length, a registration first forgets the slots of dropped
    /// timers (see [`Registry::register`]).
    compact_at: Cell<usize>,
}

impl Registry {
    /// A deadline was armed: wake the sweeper if it sleeps past it.
    fn armed(&self, deadline: Instant) {
        if self.next_wake.get().is_some_and(|next| next <= deadline) {
            return;
        }
        self.next_wake.set(Some(deadline));
        self.replan.set(true);
        if let Some(sweeper) = self.sleeping.borrow_mut().take() {
            sweeper.wake();
        }
    }

    /// Adds `slot`, first forgetting the slots of dropped timers when the list has doubled
    /// since it was last trimmed. The sweeper forgets them too, but only when it wakes, at
    /// the earliest deadline: clients made and dropped at a high rate (a worker's clients of
    /// origins built at run time, the least recently used closed beyond a few) otherwise left
    /// rate x timeout dead slots in the list (88 MB at 100,000 new clients a second with a 10 s
    /// timeout). Amortized, a registration costs O(1).
    fn register(&self, slot: &Rc<Slot>) {
        let mut slots = self.slots.borrow_mut();
        if slots.len() >= self.compact_at.get() {
            slots.retain(|weak| weak.strong_count() > 0);
            self.compact_at
                .set(slots.len().saturating_mul(2).max(MIN_COMPACT_AT));
        }
        slots.push(Rc::downgrade(slot));
    }

    /// Flags the slots whose deadline is at or before `now` and wakes their tasks; returns
    /// the earliest deadline still to come. Forgets the slots of dropped timers.
    fn sweep(&self, now: Instant) -> Option<Instant> {
        self.sweeps.set(self.sweeps.get() + 1);
        let mut earliest: Option<Instant> = None;
        self.slots.borrow_mut().retain(|weak| {
            let Some(slot) = weak.upgrade() else {
                return false;
            };
            match slot.deadline.get() {
                Some(deadline) if deadline <= now => {
                    if !slot.expired.replace(true)
                        && let Some(waker) = slot.waker.borrow().as_ref()
                    {
                        waker.wake_by_ref();
                    }
                }
                Some(deadline) => {
                    earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
                }
                None => {}
            }
            true
        });
        earliest
    }
}

thread_local! {
    /// The registry of the executor running on this thread (replaced when a new executor
    /// runs on the same thread).
    static REGISTRY: RefCell<Option<Rc<Registry>>> = const { RefCell::new(None) };
}

/// The current executor's registry, created (with its sweeper task) on first use.
fn registry() -> Rc<Registry> {
    let executor = molotov_runtime::executor_id();
    REGISTRY.with(|cell| {
        let mut current = cell.borrow_mut();
        if let Some(registry) = current.as_ref()
            && registry.executor == executor
        {
            return Rc::clone(registry);
        }
        let registry = Rc::new(Registry {
            executor,
            slots: RefCell::new(Vec::new()),
            next_wake: Cell::new(None),
            replan: Cell::new(false),
            sleeping: RefCell::new(None),
            sweeps: Cell::new(0),
            compact_at: Cell::new(MIN_COMPACT_AT),
        });
        molotov_runtime::spawn_local(sweep(Rc::downgrade(&registry))).detach();
        *current = Some(Rc::clone(&registry));
        registry
    })
}

/// The sweeper: sleep until the earliest armed deadline (or until one earlier is armed),
/// flag what passed, repeat. Holds the registry only weakly, so it ends with it.
async fn sweep(registry: Weak<Registry>) {
    loop {
        let Some(current) = registry.upgrade() else {
            return;
        };
        current.replan.set(false);
        let next = current.sweep(Instant::now());
        current.next_wake.set(next);
        drop(current);
        // With a deadline to come, one timer until then (dropped, and so disarmed, when a
        // replan cuts the sleep short); without, no timer at all.
        let mut timer = next.map(molotov_runtime::timer::Timer::at);
        poll_fn(|cx| {
            let Some(current) = registry.upgrade() else {
                return Poll::Ready(());
            };
            if current.replan.get() {
                return Poll::Ready(());
            }
            if let Some(timer) = timer.as_mut()
                && Pin::new(timer).poll(cx).is_ready()
            {
                return Poll::Ready(());
            }
            *current.sleeping.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
    }
}

/// Disarms a slot when the raced future finishes or is dropped (the sweeper may still wake
/// for it once, and finds nothing to do).
#[derive(Debug)]
struct Armed {
    slot: Rc<Slot>,
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.slot.deadline.set(None);
    }
}

pin_project_lite::pin_project! {
    /// A future raced against a deadline, from [`DeadlineTimer::run`]: `Some(output)` when the
    /// future finished first, `None` when the deadline passed (the future is then dropped).
    ///
    /// The raced future is stored inline once (a named future rather than an `async fn`,
    /// which would hold both its argument and a pinned copy of it).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Deadline<F> {
        #[pin]
        future: F,
        // None: no deadline (a timeout above MAX_TIMEOUT), or already disarmed.
        armed: Option<Armed>,
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            *this.armed = None;
            return Poll::Ready(Some(output));
        }
        let Some(armed) = this.armed.as_ref() else {
            return Poll::Pending;
        };
        if armed.slot.expired.get() {
            *this.armed = None;
            return Poll::Ready(None);
        }
        let mut waker = armed.slot.waker.borrow_mut();
        match waker.as_ref() {
            Some(current) if current.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// A reusable per-client deadline for futures run on a molotov-runtime executor.
///
/// Creating it needs no executor; [`run`](Self::run) must be called inside one.
#[derive(Debug, Default)]
pub struct DeadlineTimer {
    slot: Option<(Rc<Slot>, Rc<Registry>)>,
}

impl DeadlineTimer {
    /// A deadline timer not yet registered anywhere.
    pub fn new() -> DeadlineTimer {
        DeadlineTimer { slot: None }
    }

    /// Runs `future` until it finishes (`Some(output)`) or `timeout` passes (`None`, and the
    /// future is dropped). A timeout above [`MAX_TIMEOUT`] means no deadline. The deadline is
    /// armed now (call it right where the result is awaited).
    pub fn run<F: Future>(&mut self, timeout: Duration, future: F) -> Deadline<F> {
        self.run_from(Instant::now(), timeout, future)
    }

    /// [`run`](Self::run) with the deadline counted from `start`, a clock reading the caller
    /// already took (it should be now, or the deadline comes early by the difference).
    pub fn run_from<F: Future>(
        &mut self,
        start: Instant,
        timeout: Duration,
        future: F,
    ) -> Deadline<F> {
        if timeout > MAX_TIMEOUT {
            return Deadline {
                future,
                armed: None,
            };
        }
        let deadline = start + timeout;
        let executor = molotov_runtime::executor_id();
        if self
            .slot
            .as_ref()
            .is_some_and(|(_, registry)| registry.executor != executor)
        {
            // Used on another executor than before: register there instead.
            self.slot = None;
        }
        let (slot, registry) = &*self.slot.get_or_insert_with(|| {
            let registry = registry();
            let slot = Rc::new(Slot::default());
            registry.register(&slot);
            (slot, registry)
        });
        slot.deadline.set(Some(deadline));
        slot.expired.set(false);
        registry.armed(deadline);
        Deadline {
            future,
            armed: Some(Armed {
                slot: Rc::clone(slot),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<T>(future: impl Future<Output = T>) -> T {
        molotov_runtime::Executor::new()
            .run(future)
            .expect("the executor (io_uring) runs")
    }

    fn sweeps() -> u64 {
        registry().sweeps.get()
    }

    /// A task holding a 60 s deadline around a 300 ms wait (its output: `Some(())`).
    fn hold_a_long_deadline() -> molotov_runtime::Task<Option<()>> {
        molotov_runtime::spawn_local(async {
            let mut timer = DeadlineTimer::new();
            timer
                .run(
                    Duration::from_secs(60),
                    molotov_runtime::timer::sleep(Duration::from_millis(300)),
                )
                .await
        })
    }

    #[test]
    fn dropped_timers_do_not_pile_up_before_the_sweeper_wakes() {
        run(async {
            // Ten live timers, and 10,000 made, armed for a minute and dropped.
            let mut live: Vec<DeadlineTimer> = (0..10).map(|_| DeadlineTimer::new()).collect();
            for timer in &mut live {
                let _ = timer.run(Duration::from_secs(60), async {}).await;
            }
            for _ in 0..10_000 {
                let mut timer = DeadlineTimer::new();
                let _ = timer.run(Duration::from_secs(60), async {}).await;
            }
            let held = registry().slots.borrow().len();
            assert!(held <= 2 * MIN_COMPACT_AT, "{held} slots held");
            drop(live);
        });
    }

    /// Runs a future that never finishes under `timeout`: checks that the deadline ended it,
    /// not before `timeout`, and returns how long that took.
    async fn time_out_a_pending_future(timer: &mut DeadlineTimer, timeout: Duration) -> Duration {
        let start = Instant::now();
        let out = timer
            .run(timeout, futures_lite::future::pending::<()>())
            .await;
        let took = start.elapsed();
        assert_eq!(out, None);
        assert!(took >= timeout, "{took:?}");
        took
    }

    #[test]
    fn a_deadline_fires_once_it_passed_never_before() {
        run(async {
            let mut timer = DeadlineTimer::new();
            let took = time_out_a_pending_future(&mut timer, Duration::from_millis(40)).await;
            // Late only by scheduling (generous: CI machines are shared).
            assert!(took < Duration::from_secs(2), "{took:?}");
            // A future that finishes first keeps its output.
            let out = timer.run(Duration::from_millis(40), async { 7 }).await;
            assert_eq!(out, Some(7));
        });
    }

    #[test]
    fn an_earlier_deadline_armed_later_wakes_the_sweeper_to_plan_again() {
        run(async {
            // A long deadline first: the sweeper plans to sleep a minute...
            let long = hold_a_long_deadline();
            molotov_runtime::timer::sleep(Duration::from_millis(20)).await;
            assert_eq!(
                registry()
                    .next_wake
                    .get()
                    .map(|at| at > Instant::now() + Duration::from_secs(50)),
                Some(true)
            );
            // ...and a short one armed after it must still fire on time.
            let mut timer = DeadlineTimer::new();
            let took = time_out_a_pending_future(&mut timer, Duration::from_millis(30)).await;
            // Without the replan it would take the long deadline's 60 s.
            assert!(took < Duration::from_secs(5), "{took:?}");
            assert_eq!(long.await, Some(()));
        });
    }

    #[test]
    fn the_sweeper_does_not_wake_while_deadlines_keep_moving_later() {
        run(async {
            // 50 clients re-arm a 10 s deadline around 2 ms exchanges for 300 ms: a fixed
            // 5 ms tick would have swept 60 times; planning by the earliest deadline sweeps
            // once (the first arm) and sleeps past the end.
            let end = Instant::now() + Duration::from_millis(300);
            let mut tasks = Vec::new();
            for _ in 0..50 {
                tasks.push(molotov_runtime::spawn_local(async move {
                    let mut timer = DeadlineTimer::new();
                    let mut exchanges = 0u32;
                    while Instant::now() < end {
                        let out = timer
                            .run(
                                Duration::from_secs(10),
                                molotov_runtime::timer::sleep(Duration::from_millis(2)),
                            )
                            .await;
                        assert_eq!(out, Some(()));
                        exchanges += 1;
                    }
                    exchanges
                }));
            }
            let mut exchanges = 0;
            for task in tasks {
                exchanges += task.await;
            }
            assert!(exchanges >= 50 * 10, "{exchanges}");
            let swept = sweeps();
            assert!(swept <= 3, "the sweeper woke {swept} times");
        });
    }

    #[test]
    fn short_timeouts_among_long_ones_replan_once_not_per_request() {
        run(async {
            // One request holds a 60 s deadline while 100 short ones (5 s timeout, 1 ms
            // each) run one after another: the first short one replans (its deadline is
            // earlier than the sweeper's), the next ones are later than that and do not.
            let long = hold_a_long_deadline();
            molotov_runtime::timer::sleep(Duration::from_millis(10)).await;
            let mut timer = DeadlineTimer::new();
            for _ in 0..100 {
                let out = timer
                    .run(
                        Duration::from_secs(5),
                        molotov_runtime::timer::sleep(Duration::from_millis(1)),
                    )
                    .await;
                assert_eq!(out, Some(()));
            }
            let swept = sweeps();
            assert!(swept <= 3, "the sweeper woke {swept} times");
            assert_eq!(long.await, Some(()));
        });
    }

    #[test]
    fn an_expired_deadline_not_yet_polled_does_not_keep_the_sweeper_busy() {
        run(async {
            let mut timer = DeadlineTimer::new();
            // Armed now, polled only after the deadline passed.
            let late = timer.run(
                Duration::from_millis(20),
                futures_lite::future::pending::<()>(),
            );
            molotov_runtime::timer::sleep(Duration::from_millis(150)).await;
            let swept = sweeps();
            // First arm, then the deadline; nothing is armed after that.
            assert!(swept <= 3, "the sweeper woke {swept} times");
            assert_eq!(registry().next_wake.get(), None);
            let start = Instant::now();
            assert_eq!(late.await, None);
            assert!(start.elapsed() < Duration::from_secs(1));
        });
    }

    #[test]
    fn the_deadline_is_the_start_plus_the_timeout_exactly() {
        run(async {
            let mut timer = DeadlineTimer::new();
            let start = Instant::now();
            let timeout = Duration::from_millis(100);
            let deadline = timer.run_from(start, timeout, std::future::pending::<()>());
            let armed = deadline
                .armed
                .as_ref()
                .expect("a deadline under MAX_TIMEOUT");
            assert_eq!(armed.slot.deadline.get(), Some(start + timeout));
        });
    }
}
