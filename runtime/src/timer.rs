//! Timers: [`Timer`] (a future that is ready at an instant) and [`sleep`]. The executor keeps
//! the armed ones in an ordered map (deadline, sequence number) -> waker; a pass fires those
//! due, and a parked executor waits in the ring no longer than until the earliest. A timer
//! dropped before it fires leaves the map at once, so nothing stale piles up however many
//! timers are armed and dropped.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::executor::{runtime, with_runtime};

/// The armed timers of one executor.
#[derive(Default)]
pub(crate) struct Timers {
    armed: RefCell<BTreeMap<(Instant, u64), Waker>>,
    next_sequence: Cell<u64>,
}

impl Timers {
    fn insert(&self, at: Instant, waker: Waker) -> u64 {
        let sequence = self.next_sequence.get();
        self.next_sequence.set(sequence + 1);
        self.armed.borrow_mut().insert((at, sequence), waker);
        sequence
    }

    /// Whether the timer is still armed; parks `waker` on it if so.
    fn refresh(&self, key: (Instant, u64), waker: &Waker) -> bool {
        match self.armed.borrow_mut().get_mut(&key) {
            Some(parked) => {
                if !parked.will_wake(waker) {
                    *parked = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    fn remove(&self, key: (Instant, u64)) {
        self.armed.borrow_mut().remove(&key);
    }

    /// Wakes (and disarms) every timer due at `now`.
    pub(crate) fn fire(&self, now: Instant) {
        loop {
            let due = {
                let mut armed = self.armed.borrow_mut();
                match armed.first_entry() {
                    Some(entry) if entry.key().0 <= now => entry.remove(),
                    _ => return,
                }
            };
            due.wake();
        }
    }

    /// The earliest deadline armed.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.armed.borrow().first_key_value().map(|(key, _)| key.0)
    }
}

/// A future ready at a given instant (at the first pass of the executor from then on).
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Timer {
    at: Instant,
    /// The map's key while armed.
    armed: Option<u64>,
    fired: bool,
    /// The executor the timer is armed on.
    executor: usize,
}

impl Timer {
    /// Ready `after` from now.
    pub fn new(after: Duration) -> Timer {
        Timer::at(Instant::now() + after)
    }

    /// Ready at `at`.
    pub fn at(at: Instant) -> Timer {
        Timer {
            at,
            armed: None,
            fired: false,
            executor: 0,
        }
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.fired {
            return Poll::Ready(());
        }
        let ready = runtime(|runtime| match this.armed {
            Some(sequence) if this.executor == runtime.id => {
                !runtime.timers.refresh((this.at, sequence), cx.waker())
            }
            _ => {
                if Instant::now() >= this.at {
                    return true;
                }
                this.executor = runtime.id;
                this.armed = Some(runtime.timers.insert(this.at, cx.waker().clone()));
                false
            }
        });
        if ready {
            this.fired = true;
            this.armed = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(sequence) = self.armed {
            let (at, executor) = (self.at, self.executor);
            with_runtime(|runtime| {
                if runtime.id == executor {
                    runtime.timers.remove((at, sequence));
                }
            });
        }
    }
}

/// Waits for `duration`.
pub fn sleep(duration: Duration) -> Timer {
    Timer::new(duration)
}
