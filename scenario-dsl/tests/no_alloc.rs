//! The hot path allocates nothing once warm: a counting global allocator watches runs of a
//! static request, of a templated one (target, sticky header, JSON body) and of one whose
//! checks read a JSON response, through a driver and recorder that allocate nothing
//! themselves.
//!
//! This binary holds a single test, and only the allocations of the thread that runs it are
//! counted (libtest's main thread may allocate meanwhile: a clean CI run once read 4
//! allocations in 1,000 warm runs that the same build never showed again).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use molotov_dsl::{
    CheckId, CompileOptions, Driver, Failure, Globals, Recorder, Request, RequestId, ResponseView,
    RunOutcome, ScenarioId, Worker, WorkerContext, compile_source,
};

struct Counting;

thread_local! {
    /// Whether this thread's allocations are counted (set only by the test's own thread).
    /// A `const` cell with nothing to drop: reading it never allocates, even from inside the
    /// allocator.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only
// bumps an atomic counter, which neither allocates nor touches the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.get() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's: `layout` has a non-zero size.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.get() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: `ptr` was allocated by `System` with `layout`; `new_size` is non-zero
        // per the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("the null driver never blocks")
}

struct Resp;

impl ResponseView for Resp {
    fn status(&self) -> u16 {
        200
    }
    fn header(&self, _: &str) -> Option<&[u8]> {
        None
    }
    fn body(&self) -> &[u8] {
        br#"{"ok":true,"n":[1,2],"name":"x"}"#
    }
    fn duration(&self) -> Duration {
        Duration::from_micros(50)
    }
}

/// Reads every byte of the request (so nothing is skipped) without allocating.
#[derive(Default)]
struct NullDriver {
    checksum: u64,
}

impl Driver for NullDriver {
    type Response<'a> = Resp;
    type Error = &'static str;
    async fn send(&mut self, req: &Request<'_>) -> Result<Resp, &'static str> {
        for b in req.path.bytes().chain(req.body.iter().copied()) {
            self.checksum = self.checksum.wrapping_add(u64::from(b));
        }
        for (n, v) in req.headers.iter() {
            self.checksum = self.checksum.wrapping_add((n.len() + v.len()) as u64);
        }
        Ok(Resp)
    }
    async fn sleep(&mut self, _: Duration) {}
    fn should_stop(&self) -> bool {
        false
    }
}

#[derive(Default)]
struct Tally {
    checks: u64,
    failures: u64,
}

impl Recorder for Tally {
    fn request_failed(&mut self, _: RequestId, _: u16) {
        self.failures += 1;
    }
    fn check(&mut self, _: CheckId, passed: bool, _: u16) {
        self.checks += u64::from(passed);
    }
    fn failure(&mut self, _: &Failure<'_>) {
        self.failures += 1;
    }
    fn log(&mut self, _: &str) {}
}

#[test]
fn warm_runs_do_not_allocate() {
    let plan = r#"
defaults {
  base http://127.0.0.1:8080
  Accept: application/json
}
let skus = ["A-1", "B-2", "C-3"]
setup worker {
  header Authorization: Bearer abc123
}
scenario static_get {
  GET /products/42
  check status == 200
  check body contains "ok"
}
scenario templated {
  header X-Trace: t-{{iter}}
  POST /cart/{{worker}}?page={{rand_int(1, 50)}}&id={{uuid()}}
  {"sku": "{{pick(skus)}}", "qty": {{rand_int(1, 3)}}, "tag": "{{rand_str(8)}}", "n": {{iter}}}
  check status in [200, 201]
  think 1ms..2ms
}
scenario json_checks {
  GET /status
  check jsonpath "$.ok" == true
  check jsonpath "$.n[1]" == 2
  check jsonpath "$.n[1]" == "2"
}
"#;
    // The counter sees allocations (so a zero below means something).
    COUNTING.set(true);
    let probe: Vec<u8> = std::hint::black_box(Vec::with_capacity(16));
    COUNTING.set(false);
    assert!(ALLOCATIONS.load(Ordering::Relaxed) >= 1);
    drop(probe);

    let opts = CompileOptions::with_env([("A", "b")]);
    let program = Arc::new(compile_source("t.mol", plan, Path::new("."), &opts).unwrap());
    let mut worker = Worker::new(
        program.clone(),
        WorkerContext {
            worker: 3,
            process: 0,
            seed: 11,
            globals: Arc::new(Globals::empty()),
        },
    );
    let mut driver = NullDriver::default();
    let mut rec = Tally::default();
    assert_eq!(
        block_on(worker.run_worker_setup(&mut driver, &mut rec)),
        RunOutcome::Success
    );
    for scenario in [ScenarioId(0), ScenarioId(1), ScenarioId(2)] {
        // Warm up: buffers grow to their working size.
        for _ in 0..50 {
            assert_eq!(
                block_on(worker.run_scenario(scenario, &mut driver, &mut rec)),
                RunOutcome::Success
            );
        }
        ALLOCATIONS.store(0, Ordering::Relaxed);
        COUNTING.set(true);
        for _ in 0..1_000 {
            block_on(worker.run_scenario(scenario, &mut driver, &mut rec));
        }
        COUNTING.set(false);
        let n = ALLOCATIONS.load(Ordering::Relaxed);
        assert_eq!(
            n, 0,
            "scenario {scenario:?} allocated {n} times in 1000 warm runs"
        );
    }
    assert_eq!(rec.failures, 0);
    assert_eq!(
        rec.checks,
        2 * 1_050 + 1_050 + 3 * 1_050,
        "every check ran and passed"
    );
    assert_ne!(driver.checksum, 0);
}
