//! molotov's runtime for load processes: one executor per thread over one io_uring, with
//! what the engine and the HTTP client need and nothing more: local tasks
//! ([`spawn_local`], [`Task`]), timers ([`timer`]), non-blocking TCP streams ([`net`]) and a
//! semaphore ([`sync`]).
//!
//! Why not glommio (which the engine ran on before): the same keep-alive loop costs about
//! half the user-space time per request here (`benches/examples/async_floor.rs` against
//! `examples/transport_floor`, `benches/RESULTS.md`), and the ring can be built with
//! `IORING_SETUP_DEFER_TASKRUN`, which stock glommio cannot use (its loop re-arms timers on
//! every pass and learns of its second ring's completions by polling it;
//! `benches/glommio-patches/defer-taskrun.patch`). What the engine gives
//! up is glommio's task queues, shares, latency ring and storage I/O, none of which it used.
//!
//! The design, in short:
//! - An executor ([`Executor::run`]) owns the ring, a slab of tasks, a run queue of task
//!   indices, the in-flight operations and the timers. A waker is a task's index and
//!   generation in one word: cloning and waking touch no reference count.
//! - A pass fires the timers that are due, polls every task queued by then, then enters the
//!   ring once: to submit what the tasks queued and wait for a completion (until
//!   the next timer) when nothing is runnable, or just to collect completions otherwise.
//! - Sockets are read and written with plain `recv`/`send`; the ring only tells readiness
//!   (one multishot `POLL_ADD` per stream for reading, armed at its first wait and kept;
//!   a one-shot `POLL_ADD` per wait for writing, and for reading where the kernel lacks
//!   multishot polls), so nothing is ever lent to the kernel and a stream can be dropped
//!   at any time (an armed poll is cancelled).
//! - Or, with [`Executor::multishot_recv`] (off by default), a stream reads through one
//!   multishot receive into buffers the executor lends the kernel (`recv_buffers`): no
//!   `recv(2)` per response. The buffers are the executor's, never a stream's, so a
//!   stream can still be dropped at any time.
//! - A woken task's state is prefetched (every cache line of its future, at most 4 KiB)
//!   when the live tasks' states together outgrow half the L2 cache: with hundreds of load
//!   workers, their states no longer stay in the cache between two polls (`prefetch`).
//! - Everything is single-threaded: tasks, wakers and streams belong to the executor of the
//!   thread that made them; a waker used on another thread does not wake its task (at most
//!   a task of that thread's executor is polled once for nothing).

mod executor;
pub mod net;
mod prefetch;
mod reactor;
mod recv_buffers;
pub mod sync;
pub mod timer;

pub use executor::{
    DEFAULT_RING_DEPTH, Executor, MAX_RING_DEPTH, ReadyExecutor, RingSetup, Task,
    completion_overflows, executor_id, operations_started, polls, recv_buffer_shortages,
    spawn_local, yield_if_needed, yield_now,
};
