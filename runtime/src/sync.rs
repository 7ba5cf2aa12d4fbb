//! [`Semaphore`]: a counting semaphore for the tasks of one executor (the HTTP client's gate
//! on parallel connects). Waiters queue in arrival order; a waiter that gives up (its future
//! is dropped) leaves the queue, and a wake-up it got and did not use goes on to the next.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A counting semaphore for one thread's tasks.
#[derive(Debug)]
pub struct Semaphore {
    permits: Cell<usize>,
    /// (waiter id, its waker), in arrival order.
    waiters: RefCell<VecDeque<(u64, Waker)>>,
    next_waiter: Cell<u64>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Cell::new(permits),
            waiters: RefCell::new(VecDeque::new()),
            next_waiter: Cell::new(0),
        }
    }

    /// Permits available now.
    pub fn available(&self) -> usize {
        self.permits.get()
    }

    /// Waits for a permit, held until the returned [`Permit`] is dropped.
    pub fn acquire(self: &Rc<Self>) -> Acquire {
        Acquire {
            semaphore: Rc::clone(self),
            waiting: None,
        }
    }

    fn release(&self) {
        self.permits.set(self.permits.get() + 1);
        self.wake_next();
    }

    fn wake_next(&self) {
        let next = self.waiters.borrow_mut().pop_front();
        if let Some((_, waker)) = next {
            waker.wake();
        }
    }
}

/// The future of [`Semaphore::acquire`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Acquire {
    semaphore: Rc<Semaphore>,
    /// This waiter's id once it queued.
    waiting: Option<u64>,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let this = self.get_mut();
        let semaphore = &this.semaphore;
        let mut waiters = semaphore.waiters.borrow_mut();
        let queued = this
            .waiting
            .and_then(|id| waiters.iter().position(|(waiter, _)| *waiter == id));
        // Served in order: a permit goes to a newcomer only when nobody queued before it.
        let first_in_line = match queued {
            Some(position) => position == 0,
            None => waiters.is_empty() || this.waiting.is_some(),
        };
        if semaphore.permits.get() > 0 && first_in_line {
            if let Some(position) = queued {
                waiters.remove(position);
            }
            semaphore.permits.set(semaphore.permits.get() - 1);
            this.waiting = None;
            return Poll::Ready(Permit {
                semaphore: Rc::clone(semaphore),
            });
        }
        match queued {
            Some(position) => waiters[position].1 = cx.waker().clone(),
            None => {
                let id = semaphore.next_waiter.get();
                semaphore.next_waiter.set(id + 1);
                // Woken but beaten to the permit: back to the head of the line.
                if this.waiting.is_some() {
                    waiters.push_front((id, cx.waker().clone()));
                } else {
                    waiters.push_back((id, cx.waker().clone()));
                }
                this.waiting = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let Some(id) = self.waiting else {
            return;
        };
        let mut waiters = self.semaphore.waiters.borrow_mut();
        match waiters.iter().position(|(waiter, _)| *waiter == id) {
            Some(position) => {
                waiters.remove(position);
            }
            // It was woken for a permit it will not take: pass the turn on.
            None => {
                drop(waiters);
                if self.semaphore.permits.get() > 0 {
                    self.semaphore.wake_next();
                }
            }
        }
    }
}

/// A permit of a [`Semaphore`], given back when dropped.
#[derive(Debug)]
pub struct Permit {
    semaphore: Rc<Semaphore>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}
