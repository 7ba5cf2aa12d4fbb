//! The reactor: the executor's io_uring and the operations in flight in it. An operation is
//! a slot (index and generation, which make its `user_data`) holding the waker of the task
//! that waits and, once the kernel is done, the result. The streams in [`crate::net`] only
//! ever submit readiness polls, which point at no memory, so a dropped stream cancels its
//! poll and forgets it. A multishot operation (a stream's read readiness) stays in flight
//! across completions: each one the kernel flags "more to come" only marks it fired and
//! wakes its waiter; the last one (cancelled, failed, or ended by the kernel) is its result.
//! A multishot receive (a stream's reads, Linux 6.0) is the one operation that lends memory
//! to the kernel: the reactor's own provided buffers ([`RecvBuffers`]), never a stream's.
//! Its completions queue the buffers they filled on the operation, in order, until the
//! stream takes them; a buffer nobody will read (its stream is gone) goes back at once.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::task::Waker;
use std::time::{Duration, Instant};

use io_uring::{EnterFlags, IoUring, cqueue, opcode, squeue, types};

use crate::executor::RingSetup;
use crate::recv_buffers::{self, RecvBuffers};

/// `user_data` of the cancellations and of the waits' timeouts (their completions are not
/// looked at).
const CANCEL_USER_DATA: u64 = u64::MAX;

/// One operation submitted to the ring.
#[derive(Default)]
struct Op {
    generation: u32,
    live: bool,
    /// Its owner is gone: free the slot when the (last) completion comes.
    orphaned: bool,
    /// Stays in flight while the kernel flags more completions to come.
    multishot: bool,
    /// A multishot receive: its completions fill `chunks`.
    receive: bool,
    /// A receive's filled buffers, oldest first, not yet taken by its owner.
    chunks: VecDeque<Chunk>,
    /// A multishot operation completed (with more to come) since its owner last looked.
    fired: bool,
    /// The results of those completions, or-ed (a poll's: the events it saw).
    fired_results: i32,
    /// The final completion's result.
    result: Option<i32>,
    waker: Option<Waker>,
}

/// What a multishot operation did since its owner last looked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fired {
    /// Nothing: the waker is parked.
    No,
    /// At least one completion (their results or-ed: a poll's events), and it is still in
    /// flight.
    Yes(i32),
    /// It ended with this result (its slot is free).
    Ended(i32),
}

impl Op {
    /// Keeps `waker` to wake at the next completion (unless the one kept already wakes the
    /// same task).
    fn park(&mut self, waker: &Waker) {
        match &self.waker {
            Some(parked) if parked.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }
}

/// Bytes a receive put in one of the reactor's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) buffer: u16,
    pub(crate) len: u32,
    /// When the reactor read the completion that brought the bytes: they were in the
    /// buffer by then (the kernel copies them before it posts the completion).
    pub(crate) arrived_by: Instant,
}

/// What a multishot receive has for its owner.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// Nothing yet: the waker is parked.
    Pending,
    /// The oldest bytes not yet taken (read them with [`Reactor::take`]), and whether more
    /// chunks wait behind it.
    Chunk(Chunk, bool),
    /// Every chunk was taken and the receive ended (its slot is free): 0 at the end of the
    /// stream, an error as `-errno` (`-ENOBUFS`: the reactor's buffers ran out), or
    /// [`ENDED_AFTER_DATA`].
    Ended(i32),
}

/// The end of a receive whose last completion carried data (the kernel ends a multishot
/// receive when its completion does not fit the queue): nothing went wrong, arm another.
pub(crate) const ENDED_AFTER_DATA: i32 = 1;

/// Whether a receive, looked at without taking anything, has something for its owner.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReceiveState {
    /// In flight, nothing received.
    Waiting,
    /// Bytes are waiting to be taken.
    Data,
    /// Ended, with this result (see [`Received::Ended`]).
    Ended(i32),
}

/// An operation in flight, as its owner knows it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OpId {
    index: u32,
    generation: u32,
}

impl OpId {
    fn user_data(&self) -> u64 {
        u64::from(self.index) | u64::from(self.generation) << 32
    }
}

pub(crate) struct Reactor {
    /// Declared first, dropped first: before the buffers it was lent.
    ring: RefCell<IoUring>,
    ops: RefCell<Vec<Op>>,
    free_ops: RefCell<Vec<u32>>,
    setup: RingSetup,
    /// The kernel takes a wait's timeout as an argument of `io_uring_enter` (Linux 5.11);
    /// without, a wait with a timeout submits a `TIMEOUT` first.
    timeout_argument: bool,
    /// Streams wait for read readiness with one multishot `POLL_ADD` per stream (Linux 5.13)
    /// rather than a one-shot poll per wait. Turned off for good the first time the kernel
    /// refuses one.
    multishot_poll: Cell<bool>,
    /// Operations started, ever (the tests count polls with it).
    started: Cell<u64>,
    /// Times [`Reactor::complete`] found completions waiting in the kernel's overflow list.
    overflows: Cell<u64>,
    /// A wait first waits this long (µs) for a full completion queue, then returns at the
    /// first completion (0: returns at the first completion at once).
    batch_wait_usec: u32,
    /// What a batching wait waits for: as many completions as the queue holds.
    cq_entries: u32,
    /// Streams read with one multishot receive each (Linux 6.0). Turned off for good the
    /// first time the kernel refuses one, or the buffers cannot be registered.
    multishot_recv: Cell<bool>,
    /// How many buffers, of how many bytes, the receives are given.
    recv_buffer_shape: (u16, usize),
    /// The receives' buffers, registered at the first receive.
    recv_buffers: RefCell<Option<RecvBuffers>>,
    /// Receives that ended because every buffer held unread bytes.
    shortages: Cell<u64>,
    /// Completions read by the last [`Reactor::complete`].
    last_read: Cell<u32>,
    /// The timespec a wait's `TIMEOUT` entry points at, without the timeout argument. Owned
    /// here, boxed (a fixed address) and dropped after the ring, so that it outlives any
    /// entry pointing at it, even one a failed `io_uring_enter` left queued.
    fallback_timeout: Box<Cell<types::Timespec>>,
}

impl Drop for Reactor {
    fn drop(&mut self) {
        if self.recv_buffers.get_mut().is_some() {
            // No receive can take a buffer once the group is gone. The ring is dropped (and
            // closed) next, the buffers after it.
            let _ = self
                .ring
                .get_mut()
                .submitter()
                .unregister_buf_ring(recv_buffers::GROUP);
        }
    }
}

/// How a reactor's streams read: [`Reactor::new`]'s receive settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReceiveSetup {
    /// One multishot receive per stream, else readiness polls and `recv(2)`.
    pub(crate) multishot: bool,
    /// The receives' buffers: how many (a power of two) and how large.
    pub(crate) buffers: u16,
    pub(crate) buffer_size: usize,
}

impl Reactor {
    /// Builds the ring: `DEFER_TASKRUN` if the kernel takes it, else `COOP_TASKRUN`, else
    /// no flag (always no flag when `taskrun_flags` is false). The completion queue is made
    /// 8 times the submission queue (at least 4096): a completion per connection may come
    /// in one pass. `completion_queue` overrides that (tests of an overflowing queue).
    pub(crate) fn new(
        depth: u32,
        completion_queue: Option<u32>,
        taskrun_flags: bool,
        timeout_argument: bool,
        multishot_poll: bool,
        batch_wait: Option<Duration>,
        receive: ReceiveSetup,
    ) -> io::Result<Reactor> {
        let cq = completion_queue.unwrap_or_else(|| {
            depth
                .saturating_mul(crate::executor::COMPLETIONS_PER_ENTRY)
                .max(4096)
        });
        let build = |setup: RingSetup| {
            let mut builder = IoUring::builder();
            builder.setup_cqsize(cq);
            match setup {
                RingSetup::DeferTaskrun => {
                    builder.setup_single_issuer().setup_defer_taskrun();
                }
                RingSetup::CoopTaskrun => {
                    builder.setup_coop_taskrun().setup_taskrun_flag();
                }
                RingSetup::Plain => {}
            }
            builder.build(depth)
        };
        let mut tried = if taskrun_flags {
            vec![
                RingSetup::DeferTaskrun,
                RingSetup::CoopTaskrun,
                RingSetup::Plain,
            ]
        } else {
            vec![RingSetup::Plain]
        };
        tried.reverse();
        loop {
            let setup = tried.pop().expect("Plain is always tried last");
            match build(setup) {
                Ok(ring) => {
                    let timeout_argument = timeout_argument && ring.params().is_feature_ext_arg();
                    // The minimum wait needs the kernel's support (6.12).
                    let batch_wait_usec = match batch_wait {
                        Some(wait)
                            if timeout_argument && ring.params().is_feature_min_timeout() =>
                        {
                            wait.as_micros().clamp(1, u128::from(u32::MAX)) as u32
                        }
                        _ => 0,
                    };
                    let cq_entries = ring.params().cq_entries();
                    return Ok(Reactor {
                        batch_wait_usec,
                        cq_entries,
                        timeout_argument,
                        ring: RefCell::new(ring),
                        ops: RefCell::new(Vec::new()),
                        free_ops: RefCell::new(Vec::new()),
                        setup,
                        multishot_poll: Cell::new(multishot_poll),
                        started: Cell::new(0),
                        overflows: Cell::new(0),
                        multishot_recv: Cell::new(receive.multishot),
                        recv_buffer_shape: (receive.buffers, receive.buffer_size),
                        recv_buffers: RefCell::new(None),
                        shortages: Cell::new(0),
                        last_read: Cell::new(0),
                        fallback_timeout: Box::new(Cell::new(types::Timespec::new())),
                    });
                }
                // A flag this kernel does not know: try the next.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && !tried.is_empty() => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn setup(&self) -> RingSetup {
        self.setup
    }

    /// Whether a wait first waits for completions to pile up.
    pub(crate) fn batches_waits(&self) -> bool {
        self.batch_wait_usec > 0
    }

    /// Whether streams should wait for read readiness with a multishot poll.
    pub(crate) fn multishot_poll(&self) -> bool {
        self.multishot_poll.get()
    }

    /// The kernel refused a multishot poll (before Linux 5.13): one-shot polls from now on.
    pub(crate) fn refuse_multishot_poll(&self) {
        self.multishot_poll.set(false);
    }

    /// Whether streams read with a multishot receive.
    pub(crate) fn multishot_recv(&self) -> bool {
        self.multishot_recv.get()
    }

    /// The kernel refused a multishot receive (before Linux 6.0), or its buffers: streams
    /// read with polls and `recv(2)` from now on.
    pub(crate) fn refuse_multishot_recv(&self) {
        self.multishot_recv.set(false);
    }

    /// Queues a multishot receive of `fd` into the reactor's buffers (registered at the
    /// first), waited on by `waker`; `None` where the buffers cannot be registered (the
    /// reactor then stops offering receives).
    pub(crate) fn start_receive(&self, fd: RawFd, waker: &Waker) -> io::Result<Option<OpId>> {
        {
            let mut buffers = self.recv_buffers.borrow_mut();
            if buffers.is_none() {
                let (count, size) = self.recv_buffer_shape;
                match RecvBuffers::register(&self.ring.borrow(), count, size) {
                    Ok(registered) => *buffers = Some(registered),
                    Err(_) => {
                        self.refuse_multishot_recv();
                        return Ok(None);
                    }
                }
            }
        }
        let entry = opcode::RecvMulti::new(types::Fd(fd), recv_buffers::GROUP).build();
        // SAFETY: the receive writes only into the reactor's registered buffers, which live
        // as long as the ring (`Reactor`'s fields drop the ring first, and its `Drop`
        // unregisters them before).
        let id = unsafe { self.start_op(entry, waker, true) }?;
        self.ops.borrow_mut()[id.index as usize].receive = true;
        Ok(Some(id))
    }

    /// Takes the oldest chunk the receive `id` got, or its end once every chunk is taken;
    /// with neither, parks `waker`.
    pub(crate) fn receive(&self, id: &OpId, waker: &Waker) -> Received {
        let result = {
            let mut ops = self.ops.borrow_mut();
            let op = &mut ops[id.index as usize];
            debug_assert!(op.live && op.receive && op.generation == id.generation);
            op.fired = false;
            if let Some(chunk) = op.chunks.pop_front() {
                return Received::Chunk(chunk, !op.chunks.is_empty());
            }
            match op.result {
                Some(result) => result,
                None => {
                    op.park(waker);
                    return Received::Pending;
                }
            }
        };
        self.free(id.index);
        Received::Ended(result)
    }

    /// What the receive `id` has, taking nothing.
    pub(crate) fn receive_state(&self, id: &OpId) -> ReceiveState {
        let ops = self.ops.borrow();
        let op = &ops[id.index as usize];
        match op.result {
            _ if !op.chunks.is_empty() => ReceiveState::Data,
            Some(result) => ReceiveState::Ended(result),
            None => ReceiveState::Waiting,
        }
    }

    /// Copies bytes `offset..` of `chunk` into `to`, and gives its buffer back to the kernel
    /// once they are all copied; returns how many.
    pub(crate) fn take(&self, chunk: Chunk, offset: usize, to: &mut [u8]) -> usize {
        let mut buffers = self.recv_buffers.borrow_mut();
        let buffers = buffers
            .as_mut()
            .expect("a chunk comes from registered buffers");
        let n = buffers.copy_out(chunk.buffer, offset, chunk.len as usize, to);
        if offset + n == chunk.len as usize {
            buffers.give_back(chunk.buffer);
        }
        n
    }

    /// Gives a chunk's buffer back to the kernel.
    pub(crate) fn give_back(&self, chunk: Chunk) {
        if let Some(buffers) = self.recv_buffers.borrow_mut().as_mut() {
            buffers.give_back(chunk.buffer);
        }
    }

    /// Receives ended so far because every buffer held unread bytes.
    pub(crate) fn shortages(&self) -> u64 {
        self.shortages.get()
    }

    /// Operations in flight (their slots taken).
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.borrow().len() - self.free_ops.borrow().len()
    }

    /// Operations started on this ring so far.
    pub(crate) fn started(&self) -> u64 {
        self.started.get()
    }

    /// Times completions were found waiting in the kernel's overflow list (the completion
    /// queue was full when they came; the next `io_uring_enter` moves them in).
    pub(crate) fn overflows(&self) -> u64 {
        self.overflows.get()
    }

    /// Queues `entry` for the next entry into the ring, waited on by `waker`.
    ///
    /// # Safety
    /// Whatever memory `entry` points at must stay valid until its completion (the streams
    /// submit polls, which point at none).
    pub(crate) unsafe fn start(&self, entry: squeue::Entry, waker: &Waker) -> io::Result<OpId> {
        // SAFETY: the caller's contract.
        unsafe { self.start_op(entry, waker, false) }
    }

    /// As [`Reactor::start`], for an operation the kernel may complete many times
    /// (`entry` asks for it); its owner looks with [`Reactor::poll`].
    ///
    /// # Safety
    /// As [`Reactor::start`], until its final completion.
    pub(crate) unsafe fn start_multishot(
        &self,
        entry: squeue::Entry,
        waker: &Waker,
    ) -> io::Result<OpId> {
        // SAFETY: the caller's contract.
        unsafe { self.start_op(entry, waker, true) }
    }

    /// # Safety
    /// As [`Reactor::start`].
    unsafe fn start_op(
        &self,
        entry: squeue::Entry,
        waker: &Waker,
        multishot: bool,
    ) -> io::Result<OpId> {
        self.started.set(self.started.get() + 1);
        let id = {
            let mut ops = self.ops.borrow_mut();
            let index = match self.free_ops.borrow_mut().pop() {
                Some(index) => index,
                None => {
                    ops.push(Op::default());
                    (ops.len() - 1) as u32
                }
            };
            let op = &mut ops[index as usize];
            op.generation = op.generation.wrapping_add(1);
            op.live = true;
            op.orphaned = false;
            op.multishot = multishot;
            op.receive = false;
            op.fired = false;
            op.fired_results = 0;
            op.result = None;
            op.waker = Some(waker.clone());
            OpId {
                index,
                generation: op.generation,
            }
        };
        // SAFETY: the caller's contract.
        if let Err(e) = unsafe { self.push(&entry.user_data(id.user_data())) } {
            self.free(id.index);
            return Err(e);
        }
        Ok(id)
    }

    /// What the operation `id` did since the last look (clearing it); with nothing, `waker`
    /// is parked to be woken at its next completion. A multishot operation fires at each
    /// completion with more to come; its final result comes before any completion still
    /// unseen (the owner re-arms after it). A one-shot operation never fires: only its end
    /// shows.
    pub(crate) fn poll(&self, id: &OpId, waker: &Waker) -> Fired {
        let result = {
            let mut ops = self.ops.borrow_mut();
            let op = &mut ops[id.index as usize];
            debug_assert!(op.live && op.generation == id.generation);
            match op.result {
                Some(result) => result,
                None if std::mem::replace(&mut op.fired, false) => {
                    return Fired::Yes(std::mem::take(&mut op.fired_results));
                }
                None => {
                    op.park(waker);
                    return Fired::No;
                }
            }
        };
        self.free(id.index);
        Fired::Ended(result)
    }

    /// The owner of `id` is gone: cancel it if it is still in flight.
    pub(crate) fn cancel(&self, id: OpId) {
        let in_flight = {
            let mut ops = self.ops.borrow_mut();
            let op = &mut ops[id.index as usize];
            if !op.live || op.generation != id.generation {
                return;
            }
            op.waker = None;
            if op.result.is_none() {
                op.orphaned = true;
            }
            op.result.is_none()
        };
        if !in_flight {
            self.free(id.index);
            return;
        }
        let cancel = opcode::AsyncCancel::new(id.user_data())
            .build()
            .user_data(CANCEL_USER_DATA);
        // SAFETY: a cancellation points at no memory. If it cannot be queued (the ring
        // failed), the poll stays armed until the ring is closed: it holds its own reference
        // to the socket's file, which stays open until then, and its slot stays taken.
        let _ = unsafe { self.push(&cancel) };
    }

    fn free(&self, index: u32) {
        let mut ops = self.ops.borrow_mut();
        let op = &mut ops[index as usize];
        if !op.chunks.is_empty() {
            // Bytes nobody will read.
            let mut buffers = self.recv_buffers.borrow_mut();
            for chunk in op.chunks.drain(..) {
                if let Some(buffers) = buffers.as_mut() {
                    buffers.give_back(chunk.buffer);
                }
            }
        }
        op.live = false;
        op.orphaned = false;
        op.multishot = false;
        op.receive = false;
        op.fired = false;
        op.fired_results = 0;
        op.result = None;
        op.waker = None;
        self.free_ops.borrow_mut().push(index);
    }

    /// Queues `entry`, submitting what is queued first if the submission queue is full.
    ///
    /// # Safety
    /// As [`Reactor::start`].
    unsafe fn push(&self, entry: &squeue::Entry) -> io::Result<()> {
        let mut ring = self.ring.borrow_mut();
        // SAFETY: the caller's contract.
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
        // SAFETY: as above.
        unsafe { ring.submission().push(entry) }
            .map_err(|_| io::Error::other("the io_uring submission queue is full after a submit"))
    }

    /// Enters the ring once: submits what is queued and collects completions; with `wait`,
    /// first waits for one completion, or until `timeout` passes.
    pub(crate) fn enter(&self, wait: bool, timeout: Option<Duration>) -> io::Result<()> {
        let mut ring = self.ring.borrow_mut();
        let queued = ring.submission().len() as u32;
        let submitter = ring.submitter();
        let result = match (wait, timeout) {
            // The kernel does not end a minimum wait at an earlier timeout: a timer due
            // sooner than the minimum wait ends gets a plain timed wait.
            (true, timeout)
                if self.batch_wait_usec > 0
                    && timeout.is_none_or(|t| t.as_micros() > u128::from(self.batch_wait_usec)) =>
            {
                let args = types::SubmitArgs::new().min_wait_usec(self.batch_wait_usec);
                match timeout {
                    Some(timeout) => {
                        let spec = types::Timespec::from(timeout);
                        submitter.submit_with_args(self.cq_entries as usize, &args.timespec(&spec))
                    }
                    None => submitter.submit_with_args(self.cq_entries as usize, &args),
                }
            }
            (true, Some(timeout)) if self.timeout_argument => {
                let spec = types::Timespec::from(timeout);
                let args = types::SubmitArgs::new().timespec(&spec);
                submitter.submit_with_args(1, &args)
            }
            (true, Some(timeout)) => {
                // A `TIMEOUT` that also completes once one other completion is posted
                // (`count` 1), so that it never outlives the wait it bounds.
                // An entry left queued by an earlier wait (an `io_uring_enter` that failed
                // before taking it) reads this wait's timeout instead: a timespec either way.
                self.fallback_timeout.set(types::Timespec::from(timeout));
                let entry = opcode::Timeout::new(self.fallback_timeout.as_ptr())
                    .count(1)
                    .build()
                    .user_data(CANCEL_USER_DATA);
                // SAFETY: the kernel reads the timespec when it takes the entry, at a submission
                // now or later; it lives in the reactor, boxed, until after the ring is closed
                // (`fallback_timeout` is dropped after `ring`), and only this thread writes it,
                // between submissions.
                if unsafe { ring.submission().push(&entry) }.is_err() {
                    ring.submit()?;
                    // SAFETY: as above.
                    unsafe { ring.submission().push(&entry) }.map_err(|_| {
                        io::Error::other("the io_uring submission queue is full after a submit")
                    })?;
                }
                ring.submit_and_wait(1)
            }
            (true, None) => submitter.submit_and_wait(1),
            // Always with GETEVENTS, which runs deferred task work (`submit` adds it only
            // when the kernel flags that work).
            (false, _) => {
                // SAFETY: a plain `io_uring_enter` with no argument: it submits the entries
                // already queued (which the pushes checked) and collects completions.
                unsafe {
                    submitter.enter::<libc::sigset_t>(queued, 0, EnterFlags::GETEVENTS.bits(), None)
                }
            }
        };
        match result {
            Ok(_) => Ok(()),
            // The timeout passed, a signal came, or the completion queue overflowed (the
            // backlog is flushed as completions are read): none is a failure.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Whether completions are waiting to be read.
    pub(crate) fn has_completions(&self) -> bool {
        let ring = self.ring.borrow();
        // SAFETY: a shared view of the completion queue, only read here, while the ring is
        // borrowed (no other view of it can be live).
        let completions = unsafe { ring.completion_shared() };
        !completions.is_empty()
    }

    /// Reads, without waiting, what the kernel already posted: the completion queue when it
    /// holds something, after an entry into the ring when completions wait in the overflow
    /// list (the entry moves them in). For a task that must know what its operations got
    /// before the executor's next pass; the tasks woken run then. Returns whether anything
    /// was read.
    pub(crate) fn reap_posted(&self) -> io::Result<bool> {
        let overflowed = self.ring.borrow_mut().submission().cq_overflow();
        if overflowed {
            self.enter(false, None)?;
        }
        if !self.has_completions() {
            return Ok(false);
        }
        self.complete();
        Ok(true)
    }

    /// Reads every completion posted and wakes the task waiting on each. Returns the time
    /// read once the queue's tail was: every completion read was posted before it (the
    /// executor's next pass starts at it, and received bytes are stamped with it).
    pub(crate) fn complete(&self) -> Instant {
        let mut ring = self.ring.borrow_mut();
        if ring.submission().cq_overflow() {
            self.overflows.set(self.overflows.get() + 1);
        }
        let mut ops = self.ops.borrow_mut();
        let mut buffers = self.recv_buffers.borrow_mut();
        let mut freed = Vec::new();
        // The queue's tail is read here, once; the clock after it.
        let completions = ring.completion();
        let now = Instant::now();
        let mut read = 0u32;
        for cqe in completions {
            read += 1;
            let user_data = cqe.user_data();
            if user_data == CANCEL_USER_DATA {
                continue;
            }
            let (index, generation) = (user_data as u32, (user_data >> 32) as u32);
            let filled = cqueue::buffer_select(cqe.flags());
            let Some(op) = ops
                .get_mut(index as usize)
                .filter(|op| op.live && op.generation == generation)
            else {
                // No operation waits for it (cannot be for a receive: its slot is freed
                // only at its last completion); a buffer it filled goes back.
                if let (Some(buffer), Some(buffers)) = (filled, buffers.as_mut()) {
                    buffers.give_back(buffer);
                }
                continue;
            };
            // A multishot operation stays in flight while the kernel flags more to come; a
            // one-shot operation's completion is its end, whatever the flags say (so its
            // slot is always freed).
            let more = op.multishot && cqueue::more(cqe.flags());
            let mut result = cqe.result();
            match filled {
                // Bytes for the owner, in order.
                Some(buffer) if op.receive && !op.orphaned && result > 0 => {
                    op.chunks.push_back(Chunk {
                        buffer,
                        len: result as u32,
                        arrived_by: now,
                    });
                }
                Some(buffer) => {
                    if let Some(buffers) = buffers.as_mut() {
                        buffers.give_back(buffer);
                    }
                }
                None => {}
            }
            if op.receive && result > 0 {
                // A receive's count of bytes is in its chunk; as an end, it says only that
                // the receive ended after data.
                result = ENDED_AFTER_DATA;
            }
            if op.orphaned {
                if !more {
                    freed.push(index);
                }
                continue;
            }
            if more {
                op.fired = true;
                op.fired_results |= result;
            } else {
                if op.receive && result == -libc::ENOBUFS {
                    self.shortages.set(self.shortages.get() + 1);
                }
                op.result = Some(result);
            }
            if let Some(waker) = op.waker.take() {
                waker.wake();
            }
        }
        drop(buffers);
        drop(ops);
        drop(ring);
        for index in freed {
            self.free(index);
        }
        self.last_read.set(read);
        now
    }

    /// How many completions the last [`Reactor::complete`] read.
    pub(crate) fn last_read(&self) -> u32 {
        self.last_read.get()
    }
}
