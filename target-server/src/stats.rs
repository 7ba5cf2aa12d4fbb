//! Counters shared between the server's threads and its handle: requests answered,
//! connections accepted and TLS handshakes (one cache-line-padded slot per thread, summed on
//! read), requests
//! in flight (for `max_concurrency`), and the demo API's cart counter.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One thread's counters, alone on its cache line so threads do not contend.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Slot {
    answered: AtomicU64,
    accepted: AtomicU64,
    tls_handshakes: AtomicU64,
    tls_resumed: AtomicU64,
}

/// Everything the threads and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    slots: Box<[Slot]>,
    in_flight: AtomicUsize,
    carts: AtomicU64,
}

impl Shared {
    pub(crate) fn new(threads: usize) -> Shared {
        Shared {
            slots: (0..threads.max(1)).map(|_| Slot::default()).collect(),
            in_flight: AtomicUsize::new(0),
            carts: AtomicU64::new(0),
        }
    }

    pub(crate) fn add_answered(&self, thread: usize, count: u64) {
        if count > 0 {
            self.slots[thread]
                .answered
                .fetch_add(count, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_accepted(&self, thread: usize) {
        self.slots[thread].accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// A completed TLS handshake, `resumed` or full.
    pub(crate) fn add_tls_handshake(&self, thread: usize, resumed: bool) {
        let slot = &self.slots[thread];
        slot.tls_handshakes.fetch_add(1, Ordering::Relaxed);
        if resumed {
            slot.tls_resumed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn tls_handshakes(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.tls_handshakes.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn tls_resumed(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.tls_resumed.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn answered(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.answered.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn accepted(&self) -> u64 {
        self.slots
            .iter()
            .map(|s| s.accepted.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn reset(&self) {
        for slot in self.slots.iter() {
            slot.answered.store(0, Ordering::Relaxed);
            slot.accepted.store(0, Ordering::Relaxed);
            slot.tls_handshakes.store(0, Ordering::Relaxed);
            slot.tls_resumed.store(0, Ordering::Relaxed);
        }
    }

    /// Takes an in-flight slot; `false` (and nothing taken) when `max` are in flight.
    pub(crate) fn try_enter(&self, max: usize) -> bool {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= max {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub(crate) fn leave(&self, count: usize) {
        if count > 0 {
            self.in_flight.fetch_sub(count, Ordering::AcqRel);
        }
    }

    /// A new cart number (1, 2, ...).
    pub(crate) fn new_cart(&self) -> u64 {
        self.carts.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Carts created since the last demo reset.
    pub(crate) fn carts(&self) -> u64 {
        self.carts.load(Ordering::Relaxed)
    }

    pub(crate) fn reset_demo(&self) {
        self.carts.store(0, Ordering::Relaxed);
    }
}
