//! Per-request deadlines without a glommio timer per request: [`DeadlineTimer`] races a
//! future against a deadline checked on every poll and enforced by one sweeper task per
//! executor.
//!
//! Why not glommio's timers: in glommio-ng 0.12 every timer insert and removal also updates
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
//! (one per executor, started on first use) wakes every [`RESOLUTION`] while any slot is
//! armed, flags the slots whose deadline passed and wakes their tasks; with nothing armed it
//! parks without a timer. So a deadline fires at most about `RESOLUTION` late (plus whatever
//! a busy executor adds), never early.
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

/// How often the sweeper checks armed deadlines: the most a timeout can fire late on an
/// idle executor.
pub const RESOLUTION: Duration = Duration::from_millis(5);

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
    armed: Cell<usize>,
    /// The sweeper's waker while it is parked (nothing armed).
    parked: RefCell<Option<Waker>>,
}

thread_local! {
    /// The registry of the executor running on this thread (replaced when a new executor
    /// runs on the same thread).
    static REGISTRY: RefCell<Option<Rc<Registry>>> = const { RefCell::new(None) };
}

/// The current executor's registry, created (with its sweeper task) on first use.
fn registry() -> Rc<Registry> {
    let executor = glommio::executor().id();
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
            armed: Cell::new(0),
            parked: RefCell::new(None),
        });
        glommio::spawn_local(sweep(Rc::downgrade(&registry))).detach();
        *current = Some(Rc::clone(&registry));
        registry
    })
}

/// The sweeper: while any slot is armed, every `RESOLUTION` wake the expired ones.
async fn sweep(registry: Weak<Registry>) {
    loop {
        let Some(current) = registry.upgrade() else {
            return;
        };
        if current.armed.get() == 0 {
            // Park until a deadline is armed; no timer while idle.
            let mut parked = false;
            poll_fn(|cx| {
                if parked || current.armed.get() > 0 {
                    return Poll::Ready(());
                }
                parked = true;
                *current.parked.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            continue;
        }
        drop(current);
        glommio::timer::sleep(RESOLUTION).await;
        let Some(current) = registry.upgrade() else {
            return;
        };
        let now = Instant::now();
        current.slots.borrow_mut().retain(|weak| {
            let Some(slot) = weak.upgrade() else {
                return false;
            };
            if slot.deadline.get().is_some_and(|deadline| deadline <= now) {
                slot.expired.set(true);
                if let Some(waker) = slot.waker.borrow().as_ref() {
                    waker.wake_by_ref();
                }
            }
            true
        });
    }
}

/// Disarms a slot when the raced future finishes or is dropped.
#[derive(Debug)]
struct Armed {
    slot: Rc<Slot>,
    registry: Rc<Registry>,
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.slot.deadline.set(None);
        self.registry
            .armed
            .set(self.registry.armed.get().saturating_sub(1));
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

/// A reusable per-client deadline for futures run on a glommio executor.
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
        let executor = glommio::executor().id();
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
            registry.slots.borrow_mut().push(Rc::downgrade(&slot));
            (slot, registry)
        });
        slot.deadline.set(Some(deadline));
        slot.expired.set(false);
        registry.armed.set(registry.armed.get() + 1);
        if let Some(sweeper) = registry.parked.borrow_mut().take() {
            sweeper.wake();
        }
        Deadline {
            future,
            armed: Some(Armed {
                slot: Rc::clone(slot),
                registry: Rc::clone(registry),
            }),
        }
    }
}
