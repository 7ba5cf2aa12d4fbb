//! The shared-memory stats region: one anonymous `MAP_SHARED` mapping made by the master before
//! it forks, holding a small control header and one slot per child process.
//!
//! Every value is an `AtomicU64` word. A slot has exactly one writer (the single-threaded child
//! that owns it), so the hot path increments with a relaxed load and store: no lock, no
//! read-modify-write instruction. The master reads slots with relaxed loads while the run goes
//! on (approximate, good for live views) and once more after every child has been reaped
//! (exact, for the final report).
//!
//! Slot layout, in words (the sizes depend on the compiled plan, see [`Shape`]):
//! ```text
//! meta        SLOT_META_WORDS     pid, state, workers alive, runs started, ...
//! totals      TOTAL_WORDS         responses, errors, bytes, connects, ...
//! status      STATUS_WORDS        one counter per status code 0..=999
//! errors      ERROR_KIND_WORDS    one counter per transport error kind
//! scenarios   3 × scenarios       successes, failures, stopped runs
//! checks      2 × checks          passed, failed
//! requests    REQUEST_WORDS × requests    responses, errors, failed by status, bytes, sent,
//!                                         deadlines passed
//! samples     SAMPLE_WORDS × (checks + requests + 1)   first failure text of each site
//! histograms  COUNTS_LEN × (2 + requests)  latency overall, service time overall, per request
//! ```

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

use crate::latency::{self, COUNTS_LEN};

/// Words in the control header at the start of the region (one page, so slots are page-aligned).
const HEADER_WORDS: usize = 512;
/// Per-slot bookkeeping words.
const SLOT_META_WORDS: usize = 16;
/// Global counters per slot (see [`Total`]).
const TOTAL_WORDS: usize = 32;
/// Status codes 0..=999 (HTTP status codes have three digits).
pub const STATUS_WORDS: usize = 1000;
/// Room for transport error kinds (molotov-http's `ErrorKind::COUNT` must fit).
pub const ERROR_KIND_WORDS: usize = 32;
/// Per-request counters (see [`RequestCounter`]).
const REQUEST_WORDS: usize = 6;
/// A failure sample: status, byte length, then the UTF-8 text.
const SAMPLE_WORDS: usize = 64;
/// Bytes of text a failure sample keeps.
pub const SAMPLE_TEXT_BYTES: usize = (SAMPLE_WORDS - 2) * 8;

/// Words of the control header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum HeaderWord {
    /// [`StopRequest`] as a number.
    Stop = 0,
    /// `CLOCK_MONOTONIC` nanoseconds when the run started (0 before).
    StartNanos = 1,
    /// `CLOCK_MONOTONIC` nanoseconds after which no new request starts (0: none).
    DeadlineNanos = 2,
    /// Slot index + 1 of the child that first stopped the run on a failure (`-x`), 0 if none.
    FailedSlot = 3,
    /// `CLOCK_MONOTONIC` nanoseconds of the first stop request (0: none yet).
    StopNanos = 4,
    /// Bumped when the master gives the start and at every stronger stop request: the word
    /// the load children waiting for the start sleep on (a futex, see
    /// [`Region::wait_for_start_word`]).
    StartGate = 5,
}

/// Why the run should stop, as stored in [`HeaderWord::Stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopRequest {
    /// Keep going.
    None = 0,
    /// No new request; in-flight ones finish (bounded by their timeout).
    Graceful = 1,
    /// Abandon in-flight requests now.
    Immediate = 2,
}

/// Words of a slot's bookkeeping area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Meta {
    /// The child's pid.
    Pid = 0,
    /// [`SlotState`] as a number.
    State = 1,
    /// Workers currently running their loop.
    WorkersAlive = 2,
    /// Workers that started (ever).
    WorkersStarted = 3,
    /// Scenario runs started.
    RunsStarted = 4,
    /// Requests in flight right now.
    InFlight = 5,
    /// The site of the failure that stopped the run (`-x`), encoded, 0 if none.
    FailedSite = 6,
    /// io_uring rings this child set up with a task-work flag (`DEFER_TASKRUN` or
    /// `COOP_TASKRUN`, see molotov-runtime).
    RingsCoop = 7,
    /// io_uring rings built without the task-work flag asked for (the kernel refused both).
    RingsCoopRefused = 8,
    /// Workers whose `setup worker` block failed (they ran no scenario).
    WorkerSetupsFailed = 9,
    /// Workers whose `teardown worker` block failed.
    WorkerTeardownsFailed = 10,
    /// A load process: `CLOCK_MONOTONIC` nanoseconds when its load ended (its last worker
    /// done), written once; 0: not written (it died or was killed first). The master takes
    /// the latest as the end of the load: it may itself notice the end much later.
    LoadEndedNanos = 11,
    /// A load process: lines of its stderr (a plan's `log` under `-v`, `-vv` dumps,
    /// notices) dropped because the master's pipe was full: the master did not read it in
    /// time, and a load process never waits for it.
    StderrDropped = 12,
}

/// Lifecycle of a slot's owner, as stored in [`Meta::State`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// No process has claimed the slot.
    Unused = 0,
    /// The child is building its executor and workers.
    Starting = 1,
    /// A load child built its executor and workers and waits for the master's start.
    Ready = 4,
    /// Workers are running.
    Running = 2,
    /// The child finished cleanly and wrote its last counts.
    Finished = 3,
}

/// Global counters of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Total {
    /// Requests sent (each attempt counted once, whatever came back).
    Requests = 0,
    /// Requests that got a complete response.
    Responses = 1,
    /// Requests that ended in a transport error.
    Errors = 2,
    /// Responses with status >= 400 on a request with no status check (the plan's rule).
    FailedByStatus = 3,
    /// Bytes written to sockets.
    BytesSent = 4,
    /// Bytes read from sockets.
    BytesReceived = 5,
    /// TCP connections opened.
    Connects = 6,
    /// Requests retried once on a fresh connection.
    Retries = 7,
    /// Sum of connect times in µs (for the mean).
    ConnectMicros = 8,
    /// Requests that started later than scheduled (open model).
    LateStarts = 9,
    /// Sum of the lateness of late starts, in µs: the low word of a 128-bit sum whose high
    /// word is [`Total::LateMicrosHigh`] (an overloaded open model's lateness grows with
    /// the run, so its sum grows as its square: 64 bits wrap within hours).
    LateMicros = 10,
    /// Scheduled starts that were dropped (open model with a bound).
    DroppedStarts = 11,
    /// Worst lateness seen, in µs.
    MaxLateMicros = 12,
    /// TLS handshakes completed.
    TlsHandshakes = 13,
    /// TLS handshakes that resumed a session.
    TlsResumed = 14,
    /// Sum of TLS handshake times in µs (for the mean).
    TlsHandshakeMicros = 15,
    /// Open model: runs started before their intended time (`--max-early`).
    EarlyStarts = 16,
    /// Earliest start seen, in µs before its intended time.
    MaxEarlyMicros = 17,
    /// The high word of [`Total::LateMicros`].
    LateMicrosHigh = 18,
    /// Requests whose deadline passed (`request_timeout`, or while their connection was
    /// opened): each is one latency in the histograms, at its timeout, beside the responses'.
    DeadlinesPassed = 19,
}

/// Counters per request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum RequestCounter {
    /// Responses received.
    Responses = 0,
    /// Transport errors.
    Errors = 1,
    /// Failed by status (>= 400 with no status check).
    FailedByStatus = 2,
    /// Bytes received.
    BytesReceived = 3,
    /// Requests sent (counted when sent: also those that never got an outcome, in flight
    /// when their process was stopped).
    Sent = 4,
    /// Requests whose deadline passed ([`Total::DeadlinesPassed`] of this request).
    DeadlinesPassed = 5,
}

/// Per-scenario outcome counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum ScenarioCounter {
    /// Runs that succeeded.
    Successes = 0,
    /// Runs that failed.
    Failures = 1,
    /// Runs cut short by the end of the run.
    Stopped = 2,
}

/// Which histogram of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Histo {
    /// Latency of every response, overall (from the intended start in the open model).
    Overall,
    /// Service time (first byte written to last byte read) overall.
    Service,
    /// Latency of one request id.
    Request(u32),
}

/// The sizes that depend on the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Number of request ids in the plan.
    pub requests: usize,
    /// Number of scenarios.
    pub scenarios: usize,
    /// Number of checks and asserts.
    pub checks: usize,
    /// Number of slots (children plus the setup and teardown processes).
    pub slots: usize,
}

/// Word offsets within a slot, computed once from a [`Shape`].
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    shape: Shape,
    totals: usize,
    status: usize,
    errors: usize,
    scenarios: usize,
    checks: usize,
    requests: usize,
    samples: usize,
    histograms: usize,
    slot_words: usize,
}

impl Layout {
    /// Computes the offsets for `shape`.
    pub fn new(shape: Shape) -> Layout {
        let totals = SLOT_META_WORDS;
        let status = totals + TOTAL_WORDS;
        let errors = status + STATUS_WORDS;
        let scenarios = errors + ERROR_KIND_WORDS;
        let checks = scenarios + 3 * shape.scenarios;
        let requests = checks + 2 * shape.checks;
        let samples = requests + REQUEST_WORDS * shape.requests;
        // One sample per check and per request, and one for statements ([`Site::Statement`]).
        let histograms = samples + SAMPLE_WORDS * (shape.checks + shape.requests + 1);
        // Round each slot to whole pages so two children never write the same page.
        let words = histograms + COUNTS_LEN * (2 + shape.requests);
        let slot_words = words.div_ceil(512) * 512;
        Layout {
            shape,
            totals,
            status,
            errors,
            scenarios,
            checks,
            requests,
            samples,
            histograms,
            slot_words,
        }
    }

    /// The shape this layout was made for.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Total size of the region in bytes (saturating: a size past the address space is
    /// refused by the memory check, never wrapped to a small one).
    pub fn region_bytes(&self) -> usize {
        self.slot_words
            .saturating_mul(self.shape.slots)
            .saturating_add(HEADER_WORDS)
            .saturating_mul(8)
    }

    fn histogram(&self, which: Histo) -> usize {
        let n = match which {
            Histo::Overall => 0,
            Histo::Service => 1,
            Histo::Request(id) => 2 + id as usize,
        };
        self.histograms + n * COUNTS_LEN
    }
}

/// Errors of setting up the region.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// `mmap` failed.
    #[error("cannot map {bytes} bytes of shared memory for stats: {source}")]
    Map {
        /// Requested size.
        bytes: usize,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The mapping. Made in the master before fork; children inherit it at the same address.
#[derive(Debug)]
pub struct Region {
    base: NonNull<AtomicU64>,
    words: usize,
    layout: Layout,
}

// SAFETY: the region is a plain shared mapping of `AtomicU64`s; all access goes through atomics.
unsafe impl Send for Region {}
// SAFETY: as above, concurrent access is through atomics only.
unsafe impl Sync for Region {}

impl Region {
    /// Maps a zeroed shared anonymous region sized for `layout`.
    pub fn new(layout: Layout) -> Result<Region, ShmError> {
        let bytes = layout.region_bytes();
        // SAFETY: an anonymous shared mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(ShmError::Map {
                bytes,
                source: std::io::Error::last_os_error(),
            });
        }
        let base = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(|| ShmError::Map {
            bytes,
            source: std::io::Error::other("null mapping"),
        })?;
        Ok(Region {
            base,
            words: bytes / 8,
            layout,
        })
    }

    /// The layout of the slots.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// How many pages of the region are in memory (written by some process, or read by one:
    /// a read of an unwritten page allocates it).
    #[cfg(test)]
    pub(crate) fn pages_in_memory(&self) -> usize {
        let pages = WrittenPages::of(self.words());
        (0..self.words)
            .step_by((1 << pages.page_shift) / 8)
            .filter(|&i| pages.holds(i))
            .count()
    }

    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `base` points to `words` zero-initialised, 8-byte-aligned words that stay
        // mapped for the life of `self`; AtomicU64 has the layout of u64.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.words) }
    }

    fn header(&self, word: HeaderWord) -> &AtomicU64 {
        &self.words()[word as usize]
    }

    /// Asks every child to stop (never lowers an earlier, stronger request); the first
    /// request's time is kept in [`HeaderWord::StopNanos`].
    pub fn request_stop(&self, stop: StopRequest) {
        if stop != StopRequest::None {
            let _ = self.header(HeaderWord::StopNanos).compare_exchange(
                0,
                crate::process::monotonic_nanos(),
                Release,
                Relaxed,
            );
        }
        let before = self
            .header(HeaderWord::Stop)
            .fetch_max(stop as u64, Release);
        if before < stop as u64 {
            // A load child still waiting for the start must see the stop.
            self.wake_start_waiters();
        }
    }

    /// Sets [`HeaderWord::StartNanos`] (last, after the deadline: a child reads the deadline
    /// after it sees the start) and wakes every load child waiting for it.
    pub fn give_start(&self, start_nanos: u64) {
        self.set_header(HeaderWord::StartNanos, start_nanos);
        self.wake_start_waiters();
    }

    /// The 32 bits of [`HeaderWord::StartGate`] that the kernel compares in a futex wait: the
    /// word's low half, wherever the byte order puts it.
    fn start_gate_futex(&self) -> *const u32 {
        let word = self.header(HeaderWord::StartGate).as_ptr().cast::<u32>();
        if cfg!(target_endian = "big") {
            word.wrapping_add(1)
        } else {
            word
        }
    }

    /// Bumps the start gate and wakes every process sleeping on it.
    fn wake_start_waiters(&self) {
        self.header(HeaderWord::StartGate).fetch_add(1, Release);
        // SAFETY: FUTEX_WAKE on a 4-byte-aligned word of the shared mapping, which stays
        // mapped for the life of `self`; the kernel only reads the address to find the
        // waiters (a shared futex: the mapping is MAP_SHARED across the forked children).
        // No memory is written. A failure (none is expected) only means no one is woken,
        // and waiters look again after their timeout.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.start_gate_futex(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }

    /// The start gate now: read it before checking for the start or a stop, then pass it to
    /// [`Region::wait_for_start_word`].
    pub fn start_gate(&self) -> u64 {
        self.header(HeaderWord::StartGate).load(Acquire)
    }

    /// Sleeps until the start gate moves from `seen` (the master gave the start or asked a
    /// stop), at most `timeout`; returns at once if it already moved. A futex wait: a process
    /// waiting here costs nothing until it is woken, however many wait (the load children
    /// once polled the region every 100 µs, which at `-p 1000` starved the master's forks).
    pub fn wait_for_start_word(&self, seen: u64, timeout: std::time::Duration) {
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: FUTEX_WAIT on a 4-byte-aligned word of the shared mapping, which stays
        // mapped for the life of `self`; the kernel reads the word and sleeps only while it
        // still holds `seen`'s low 32 bits (else EAGAIN at once), at most `timeout`, which
        // lives on this stack for the call. No memory is written. Any error (EAGAIN, EINTR,
        // ETIMEDOUT) just returns: the caller looks at the region again.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.start_gate_futex(),
                libc::FUTEX_WAIT,
                seen as u32,
                &timeout as *const libc::timespec,
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }

    /// The current stop request.
    pub fn stop_requested(&self) -> StopRequest {
        match self.header(HeaderWord::Stop).load(Relaxed) {
            0 => StopRequest::None,
            1 => StopRequest::Graceful,
            _ => StopRequest::Immediate,
        }
    }

    /// How long after the start of the load the first stop request came (zero when it came
    /// before); None while there is no stop request, or no start.
    pub fn stopped_after_start(&self) -> Option<std::time::Duration> {
        let start = self.get_header(HeaderWord::StartNanos);
        let stop = self.get_header(HeaderWord::StopNanos);
        (start != 0 && stop != 0)
            .then(|| std::time::Duration::from_nanos(stop.saturating_sub(start)))
    }

    /// Sets a header word.
    pub fn set_header(&self, word: HeaderWord, value: u64) {
        self.header(word).store(value, Release);
    }

    /// Reads a header word.
    pub fn get_header(&self, word: HeaderWord) -> u64 {
        self.header(word).load(Acquire)
    }

    /// Records that slot `index` stopped the run on a failure, unless another did first.
    /// Returns true for the first one.
    pub fn claim_failed_slot(&self, index: usize) -> bool {
        self.header(HeaderWord::FailedSlot)
            .compare_exchange(0, index as u64 + 1, Relaxed, Relaxed)
            .is_ok()
    }

    /// The slot that stopped the run on a failure, if any. A value naming no slot (a stray
    /// write in a load process) is none: the master never trusts a child's word as an index.
    pub fn failed_slot(&self) -> Option<usize> {
        match self.get_header(HeaderWord::FailedSlot) {
            0 => None,
            n => usize::try_from(n - 1).ok().filter(|&i| i < self.slots()),
        }
    }

    /// Slot `index`.
    ///
    /// # Panics
    /// When `index >= shape.slots` (a bug in the caller).
    pub fn slot(&self, index: usize) -> Slot<'_> {
        assert!(index < self.layout.shape.slots, "slot {index} out of range");
        let start = HEADER_WORDS + index * self.layout.slot_words;
        Slot {
            words: &self.words()[start..start + self.layout.slot_words],
            layout: &self.layout,
        }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.layout.shape.slots
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`; no reference outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.words * 8);
        }
    }
}

/// One child's slot. Writes must come from that child only (one writer); anyone may read.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'r> {
    words: &'r [AtomicU64],
    layout: &'r Layout,
}

impl<'r> Slot<'r> {
    #[inline]
    fn add_at(&self, offset: usize, n: u64) {
        let word = &self.words[offset];
        word.store(word.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    fn get_at(&self, offset: usize) -> u64 {
        self.words[offset].load(Relaxed)
    }

    /// Sets a bookkeeping word.
    pub fn set_meta(&self, word: Meta, value: u64) {
        self.words[word as usize].store(value, Relaxed);
    }

    /// A bookkeeping word itself, for a counter kept outside the engine (see
    /// [`crate::stderr::drop_when_full`]).
    pub fn meta_word(&self, word: Meta) -> &'r AtomicU64 {
        &self.words[word as usize]
    }

    /// Reads a bookkeeping word.
    pub fn meta(&self, word: Meta) -> u64 {
        self.get_at(word as usize)
    }

    /// Adds to a bookkeeping word (single writer). Subtraction by wrapping add of `n.wrapping_neg()`.
    #[inline]
    pub fn add_meta(&self, word: Meta, n: u64) {
        self.add_at(word as usize, n);
    }

    /// Marks the slot's lifecycle.
    pub fn set_state(&self, state: SlotState) {
        self.words[Meta::State as usize].store(state as u64, Release);
    }

    /// The slot's lifecycle.
    pub fn state(&self) -> SlotState {
        match self.words[Meta::State as usize].load(Acquire) {
            1 => SlotState::Starting,
            2 => SlotState::Running,
            3 => SlotState::Finished,
            4 => SlotState::Ready,
            _ => SlotState::Unused,
        }
    }

    /// Adds to a global counter.
    #[inline]
    pub fn add(&self, counter: Total, n: u64) {
        self.add_at(self.layout.totals + counter as usize, n);
    }

    /// Adds `n` to the 128-bit sum whose low word is `low` and high word `high` (one writer:
    /// the slot's process; a reader during the run may see the two words of different
    /// moments, the final reading is exact).
    #[inline]
    pub fn add_wide(&self, low: Total, high: Total, n: u64) {
        let low = &self.words[self.layout.totals + low as usize];
        let (sum, carry) = low.load(Relaxed).overflowing_add(n);
        low.store(sum, Relaxed);
        if carry {
            self.add(high, 1);
        }
    }

    /// The 128-bit sum of [`Slot::add_wide`].
    pub fn total_wide(&self, low: Total, high: Total) -> u128 {
        u128::from(self.total(high)) << 64 | u128::from(self.total(low))
    }

    /// Raises a global counter to at least `value` (for maxima).
    #[inline]
    pub fn raise(&self, counter: Total, value: u64) {
        let word = &self.words[self.layout.totals + counter as usize];
        if word.load(Relaxed) < value {
            word.store(value, Relaxed);
        }
    }

    /// Reads a global counter.
    pub fn total(&self, counter: Total) -> u64 {
        self.get_at(self.layout.totals + counter as usize)
    }

    /// Counts one response with `status` (values above 999 count under 0).
    #[inline]
    pub fn add_status(&self, status: u16) {
        let index = if (status as usize) < STATUS_WORDS {
            status as usize
        } else {
            0
        };
        self.add_at(self.layout.status + index, 1);
    }

    /// Responses seen with `status`.
    pub fn status_count(&self, status: usize) -> u64 {
        self.get_at(self.layout.status + status)
    }

    /// Counts one transport error of kind number `kind` (dense index of the error kind).
    #[inline]
    pub fn add_error_kind(&self, kind: usize) {
        debug_assert!(kind < ERROR_KIND_WORDS);
        self.add_at(self.layout.errors + kind.min(ERROR_KIND_WORDS - 1), 1);
    }

    /// Errors seen of kind number `kind`.
    pub fn error_kind_count(&self, kind: usize) -> u64 {
        self.get_at(self.layout.errors + kind)
    }

    /// Adds to a scenario counter.
    #[inline]
    pub fn add_scenario(&self, scenario: u32, counter: ScenarioCounter) {
        self.add_at(
            self.layout.scenarios + 3 * scenario as usize + counter as usize,
            1,
        );
    }

    /// Reads a scenario counter.
    pub fn scenario(&self, scenario: usize, counter: ScenarioCounter) -> u64 {
        self.get_at(self.layout.scenarios + 3 * scenario + counter as usize)
    }

    /// Counts one evaluation of check `check`.
    #[inline]
    pub fn add_check(&self, check: u32, passed: bool) {
        self.add_at(
            self.layout.checks + 2 * check as usize + usize::from(!passed),
            1,
        );
    }

    /// (passed, failed) of check `check`.
    pub fn check(&self, check: usize) -> (u64, u64) {
        let at = self.layout.checks + 2 * check;
        (self.get_at(at), self.get_at(at + 1))
    }

    /// Adds to a per-request counter.
    #[inline]
    pub fn add_request(&self, request: u32, counter: RequestCounter, n: u64) {
        self.add_at(
            self.layout.requests + REQUEST_WORDS * request as usize + counter as usize,
            n,
        );
    }

    /// Reads a per-request counter.
    pub fn request(&self, request: usize, counter: RequestCounter) -> u64 {
        self.get_at(self.layout.requests + REQUEST_WORDS * request + counter as usize)
    }

    /// Records a latency in µs into a histogram.
    #[inline]
    pub fn record(&self, which: Histo, micros: u64) {
        self.add_at(self.layout.histogram(which) + latency::index_of(micros), 1);
    }

    /// The counts array of a histogram, read now: the counters on pages of the region that
    /// some process wrote, and 0 for the others, unread (`mincore`). Reading a page of the
    /// shared region that no process wrote would allocate it: a histogram is 56 pages, a
    /// process touches one or two of them, and reading them all cost the master 224 KiB
    /// per request line and process. A page the kernel swapped out also reads as unwritten:
    /// [`Slot::histogram_counts_all`] reads every counter.
    pub fn histogram_counts(&self, which: Histo) -> impl Iterator<Item = (usize, u64)> + 'r {
        let start = self.layout.histogram(which);
        let words = &self.words[start..start + COUNTS_LEN];
        let written = WrittenPages::of(words);
        words.iter().enumerate().map(move |(i, w)| {
            let count = if written.holds(i) { w.load(Relaxed) } else { 0 };
            (i, count)
        })
    }

    /// The counts array of a histogram, every counter read now.
    pub fn histogram_counts_all(&self, which: Histo) -> impl Iterator<Item = (usize, u64)> + 'r {
        let start = self.layout.histogram(which);
        self.words[start..start + COUNTS_LEN]
            .iter()
            .map(|w| w.load(Relaxed))
            .enumerate()
    }

    fn sample_offset(&self, site: Site) -> usize {
        let n = match site {
            Site::Check(id) => id as usize,
            Site::Request(id) => self.layout.shape.checks + id as usize,
            Site::Statement => self.layout.shape.checks + self.layout.shape.requests,
        };
        self.layout.samples + n * SAMPLE_WORDS
    }

    /// Keeps the first failure seen at `site` (later ones are only counted elsewhere).
    pub fn offer_sample(&self, site: Site, status: u16, text: &str) {
        let at = self.sample_offset(site);
        if self.words[at + 1].load(Relaxed) != 0 {
            return;
        }
        let bytes = truncate_utf8(text, SAMPLE_TEXT_BYTES).as_bytes();
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.words[at + 2 + i].store(u64::from_le_bytes(word), Relaxed);
        }
        self.words[at].store(u64::from(status), Relaxed);
        // Publish the length last; a reader that sees it sees the text.
        self.words[at + 1].store(bytes.len().max(1) as u64, Release);
    }

    /// Whether a failure is kept for `site` already.
    pub fn has_sample(&self, site: Site) -> bool {
        self.words[self.sample_offset(site) + 1].load(Relaxed) != 0
    }

    /// The first failure kept for `site`: (status, text).
    pub fn sample(&self, site: Site) -> Option<(u16, String)> {
        let at = self.sample_offset(site);
        let len = self.words[at + 1].load(Acquire) as usize;
        if len == 0 {
            return None;
        }
        let len = len.min(SAMPLE_TEXT_BYTES);
        let mut bytes = Vec::with_capacity(len + 8);
        for i in 0..len.div_ceil(8) {
            bytes.extend_from_slice(&self.words[at + 2 + i].load(Relaxed).to_le_bytes());
        }
        bytes.truncate(len);
        let text = String::from_utf8_lossy(&bytes)
            .trim_end_matches('\0')
            .to_string();
        Some((self.words[at].load(Relaxed) as u16, text))
    }
}

/// Which pages of a run of words of the region are in memory (`mincore`): those some
/// process wrote. All of them when the kernel cannot say.
struct WrittenPages {
    /// The address of the first word, and of the page it is on.
    first: usize,
    page_start: usize,
    /// log2 of the page size.
    page_shift: u32,
    /// One byte per page from `page_start`, bit 0 set when the page is in memory; None: read
    /// every page.
    resident: Option<Vec<u8>>,
}

impl WrittenPages {
    fn of(words: &[AtomicU64]) -> WrittenPages {
        // SAFETY: sysconf reads a constant of the system.
        let page_size = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096);
        let first = words.as_ptr() as usize;
        let page_start = first & !(page_size - 1);
        let end = first + std::mem::size_of_val(words);
        let mut resident = vec![0u8; (end - page_start).div_ceil(page_size)];
        // SAFETY: `page_start..end` lies within the region's mapping (the words are in it, and
        // the region is page-aligned); `resident` has one byte per page of that range.
        let rc = unsafe {
            libc::mincore(
                page_start as *mut libc::c_void,
                end - page_start,
                resident.as_mut_ptr(),
            )
        };
        WrittenPages {
            first,
            page_start,
            page_shift: page_size.trailing_zeros(),
            resident: (rc == 0).then_some(resident),
        }
    }

    /// Whether word `i` (from the first) is on a page in memory.
    fn holds(&self, i: usize) -> bool {
        let Some(resident) = &self.resident else {
            return true;
        };
        let page = (self.first + i * 8 - self.page_start) >> self.page_shift;
        resident[page] & 1 == 1
    }
}

/// Where a failure happened: an assert/check, a request, or a statement outside any
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    /// A check or assert id.
    Check(u32),
    /// A request id.
    Request(u32),
    /// A statement outside any request (a `let`, `header`, `log` or `for` that could not be
    /// evaluated): one per slot, which keeps the first such failure, its text
    /// `file:line\nmessage` ([`Site::statement_text`]).
    Statement,
}

impl Site {
    /// The sample text of a statement's failure at `location` (`file:line`).
    pub fn statement_text(location: &str, message: &str) -> String {
        format!("{location}\n{message}")
    }

    /// [`Site::statement_text`] taken apart: the location and the message.
    pub fn split_statement_text(text: &str) -> (Option<&str>, &str) {
        match text.split_once('\n') {
            Some((location, message)) => (Some(location), message),
            None => (None, text),
        }
    }
}

fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(slots: usize) -> Region {
        Region::new(Layout::new(Shape {
            requests: 3,
            scenarios: 2,
            checks: 4,
            slots,
        }))
        .unwrap()
    }

    #[test]
    fn a_failed_slot_that_names_no_slot_is_none() {
        let r = region(3);
        assert_eq!(r.failed_slot(), None);
        assert!(r.claim_failed_slot(2));
        assert_eq!(r.failed_slot(), Some(2));
        for stray in [4, 0xF000_0000, u64::MAX] {
            r.set_header(HeaderWord::FailedSlot, stray);
            assert_eq!(r.failed_slot(), None, "{stray}");
        }
    }

    #[test]
    fn slots_do_not_overlap() {
        let r = region(3);
        for i in 0..3 {
            let s = r.slot(i);
            s.add(Total::Requests, i as u64 + 1);
            s.record(Histo::Request(2), 1000);
            s.add_check(3, false);
            s.add_scenario(1, ScenarioCounter::Stopped);
            s.add_status(503);
            s.add_error_kind(ERROR_KIND_WORDS - 1);
            s.add_request(2, RequestCounter::BytesReceived, 10);
        }
        for i in 0..3 {
            let s = r.slot(i);
            assert_eq!(s.total(Total::Requests), i as u64 + 1);
            assert_eq!(s.check(3), (0, 1));
            assert_eq!(s.scenario(1, ScenarioCounter::Stopped), 1);
            assert_eq!(s.status_count(503), 1);
            assert_eq!(s.error_kind_count(ERROR_KIND_WORDS - 1), 1);
            assert_eq!(s.request(2, RequestCounter::BytesReceived), 10);
            let total: u64 = s.histogram_counts(Histo::Request(2)).map(|(_, c)| c).sum();
            assert_eq!(total, 1);
            let overall: u64 = s.histogram_counts(Histo::Overall).map(|(_, c)| c).sum();
            assert_eq!(overall, 0);
        }
        assert_eq!(r.layout().region_bytes() % 4096, 0);
    }

    #[test]
    fn samples_keep_the_first_failure_and_truncate_on_char_boundaries() {
        let r = region(1);
        let s = r.slot(0);
        assert_eq!(s.sample(Site::Check(1)), None);
        s.offer_sample(Site::Check(1), 503, "expected status == 200, got 503");
        s.offer_sample(Site::Check(1), 500, "second");
        assert_eq!(
            s.sample(Site::Check(1)),
            Some((503, "expected status == 200, got 503".into()))
        );
        let long = "é".repeat(SAMPLE_TEXT_BYTES);
        s.offer_sample(Site::Request(0), 0, &long);
        let (_, text) = s.sample(Site::Request(0)).unwrap();
        assert!(text.len() <= SAMPLE_TEXT_BYTES && text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_first_stop_request_keeps_its_time() {
        let r = region(1);
        assert_eq!(r.get_header(HeaderWord::StopNanos), 0);
        let before = crate::process::monotonic_nanos();
        r.request_stop(StopRequest::Graceful);
        let first = r.get_header(HeaderWord::StopNanos);
        assert!(first >= before, "{first} < {before}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        r.request_stop(StopRequest::Immediate);
        assert_eq!(r.get_header(HeaderWord::StopNanos), first);
        assert_eq!(r.stop_requested(), StopRequest::Immediate);
        // Measured from the start; a stop before the start is at zero; no start, no answer.
        assert_eq!(r.stopped_after_start(), None);
        r.set_header(HeaderWord::StartNanos, first - 5_000);
        assert_eq!(
            r.stopped_after_start(),
            Some(std::time::Duration::from_micros(5))
        );
        r.set_header(HeaderWord::StartNanos, first + 5_000);
        assert_eq!(r.stopped_after_start(), Some(std::time::Duration::ZERO));
    }

    #[test]
    fn a_process_waiting_on_the_start_word_wakes_when_the_start_or_a_stop_is_given() {
        use std::time::{Duration, Instant};
        for stop in [false, true] {
            let r = region(1);
            // SAFETY: the test's child only touches the shared mapping, reads the clock and
            // exits with _exit.
            match unsafe { libc::fork() } {
                0 => {
                    // Each wait may last 30 s: only a wake-up ends it sooner.
                    let give_up = Instant::now() + Duration::from_secs(60);
                    let code = loop {
                        let gate = r.start_gate();
                        if r.get_header(HeaderWord::StartNanos) != 0
                            || r.stop_requested() != StopRequest::None
                        {
                            break 0;
                        }
                        if Instant::now() > give_up {
                            break 1;
                        }
                        r.wait_for_start_word(gate, Duration::from_secs(30));
                    };
                    // SAFETY: leave the child without running the test harness's atexit
                    // handlers.
                    unsafe { libc::_exit(code) }
                }
                pid if pid > 0 => {
                    std::thread::sleep(Duration::from_millis(50));
                    let given = Instant::now();
                    if stop {
                        r.request_stop(StopRequest::Graceful);
                    } else {
                        r.give_start(12_345);
                    }
                    let mut status = 0;
                    // SAFETY: waiting for the child we just forked.
                    unsafe { libc::waitpid(pid, &mut status, 0) };
                    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
                    // Woken, not at the end of its 30 s wait.
                    assert!(given.elapsed() < Duration::from_secs(10), "stop: {stop}");
                }
                _ => panic!("fork failed"),
            }
        }
        // A gate that already moved does not wait.
        let r = region(1);
        let gate = r.start_gate();
        r.give_start(1);
        let t = Instant::now();
        r.wait_for_start_word(gate, Duration::from_secs(30));
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn writes_in_a_forked_child_are_seen_by_the_parent() {
        let r = region(2);
        // SAFETY: the test's child only touches the shared mapping and exits with _exit.
        match unsafe { libc::fork() } {
            0 => {
                r.slot(1).add(Total::Responses, 42);
                r.request_stop(StopRequest::Graceful);
                // SAFETY: leave the child without running the test harness's atexit handlers.
                unsafe { libc::_exit(0) }
            }
            pid if pid > 0 => {
                let mut status = 0;
                // SAFETY: waiting for the child we just forked.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert_eq!(r.slot(1).total(Total::Responses), 42);
                assert_eq!(r.stop_requested(), StopRequest::Graceful);
                assert_ne!(r.get_header(HeaderWord::StopNanos), 0);
            }
            _ => panic!("fork failed"),
        }
    }
}
