//! The interpreter a load worker drives, and the traits the engine implements for it.
//!
//! The interpreter knows nothing of sockets or executors: it renders a [`Request`] into the
//! worker's reused buffers, hands it to a [`Driver`] (the engine's transport), evaluates the
//! checks and captures on the returned [`ResponseView`], and reports the semantic outcome to
//! a [`Recorder`] by id. One [`Worker`] holds one load worker's state: its variable slots,
//! RNG, sticky headers, loop counters and buffers.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::code::{
    BlockCode, ClauseCode, HeaderName, Op, Piece, QueryCode, RequestCode, SetCode, TargetCode,
    Variability,
};
use crate::compile::target::{Reference, parse_origin, reference_kind};
use crate::eval::{NOT_UTF8_CAPTURE, Resp, Scratch, capture_value, query, test_pred};
use crate::globals::Globals;
use crate::program::{CheckId, Location, Needs, Program, RequestId, ScenarioId};
use crate::render::{EvalEnv, Evaluated, Ids, RenderError, eval, render_template};

mod exec;

use exec::exec;

/// The transport the engine provides: sends requests, sleeps, says when to stop.
///
/// Futures need not be `Send`: a worker runs on one single-threaded executor.
#[allow(async_fn_in_trait)]
pub trait Driver {
    type Response<'a>: ResponseView
    where
        Self: 'a;
    /// A transport error (refused, timeout, reset, ...).
    type Error: std::fmt::Display;

    /// Sends one request and reads its response. Called at most once per request op.
    async fn send<'a>(&'a mut self, req: &Request<'_>) -> Result<Self::Response<'a>, Self::Error>;
    /// Whether the driver holds the wire bytes of request `id` under `cache_key` (see
    /// [`Request::cache_key`]), kept from an earlier send, and will send those. When it says
    /// so, the next [`Driver::send`] of `id` carries that key and comes unrendered
    /// ([`Request::rendered`] false: empty path, headers and body), which saves rendering a
    /// request whose bytes are already known. Asked just before that send, with nothing in
    /// between. The default holds nothing.
    fn holds_rendered(&self, id: RequestId, cache_key: u64) -> bool {
        let _ = (id, cache_key);
        false
    }
    /// Think time and scenario delay; the engine may cut it short when stopping.
    async fn sleep(&mut self, dur: Duration);
    /// Checked before every request and sleep, and after each [`Driver::pause`]: `true` ends
    /// the run as [`RunOutcome::Stopped`].
    fn should_stop(&self) -> bool;
    /// Called every few dozen rounds of a loop (`repeat`, `for`), which may send nothing and
    /// so never wait: the engine lets the other workers of its process have a turn once the
    /// loop has kept them waiting long enough. The default does nothing.
    async fn pause(&mut self) {}
}

/// A response as the interpreter reads it.
pub trait ResponseView {
    fn status(&self) -> u16;
    /// The first value of a header, looked up by lowercase name. Only headers listed in
    /// [`Request::needs`] are guaranteed.
    fn header(&self, lowercase_name: &str) -> Option<&[u8]>;
    /// Only guaranteed when `needs.body` was set.
    fn body(&self) -> &[u8];
    /// The request's latency, for `duration` queries.
    fn duration(&self) -> Duration;
}

/// Where the engine records the semantic outcome of requests. Calls carry ids, not strings.
pub trait Recorder {
    /// A response with status >= 400 on a request without a `status` check or assert.
    fn request_failed(&mut self, id: RequestId, status: u16);
    /// Every `check` and `assert` evaluation, with the status of the response it read.
    fn check(&mut self, id: CheckId, passed: bool, status: u16);
    /// Whether the recorder wants the cause of this failed `check` (an assert's comes with
    /// its [`Recorder::failure`]): asked after each failed check, so that the cause is
    /// described (the predicate evaluated again, the text formatted) only when it is kept,
    /// e.g. for a check's first failure.
    fn wants_check_cause(&self, _id: CheckId) -> bool {
        false
    }
    /// The cause of a failed `check` that [`Recorder::wants_check_cause`] asked for:
    /// "expected `jsonpath \"$.ok\" == true`, got false".
    fn check_cause(&mut self, _id: CheckId, _status: u16, _cause: &str) {}
    /// A failure that ends the scenario run.
    fn failure(&mut self, f: &Failure<'_>);
    /// A `log "..."` statement, rendered.
    fn log(&mut self, message: &str);
}

/// What ended a scenario run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// An `assert` did not hold.
    Assert,
    /// A `capture` found nothing.
    Capture,
    /// The driver returned an error.
    Transport,
    /// The request (or a `let`, `header`, `log`, `for`) could not be built: an unset
    /// variable, a CR/LF in a header value, a bad URL...
    Render,
}

/// A scenario-ending failure, for `-v` and `-x`.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub kind: FailureKind,
    /// The request the failure belongs to (none for `let`, `header`, `log`, `for`).
    pub request: Option<RequestId>,
    /// The failed `assert`.
    pub check: Option<CheckId>,
    /// The plan line of the failed statement.
    pub location: &'a Location,
    /// The response status, when there was a response.
    pub status: Option<u16>,
    /// e.g. "expected `status == 200`, got 503", or the transport error text.
    pub message: &'a str,
}

/// How a run of a block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Success,
    /// An assert or capture failed, a request could not be built, or the transport erred.
    Failure,
    /// [`Driver::should_stop`] said so before a request or sleep.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// One request, borrowed from the worker's buffers and the program.
#[derive(Debug)]
pub struct Request<'a> {
    pub id: RequestId,
    pub method: &'a http::Method,
    pub scheme: Scheme,
    /// `host[:port]` as written, for the `Host` header and to pick the connection.
    pub authority: &'a str,
    /// The host without brackets (`::1` for `[::1]`).
    pub host: &'a str,
    /// When the target is one of the plan's own origins (a `base` or a literal URL): its
    /// index. Equal indexes mean the same scheme and authority, so a driver can find the
    /// connection without comparing names. `None` for a URL rendered at run time.
    pub origin: Option<u32>,
    pub port: u16,
    /// Path and query, percent-encoded, starting with `/`.
    pub path: &'a str,
    pub headers: Headers<'a>,
    pub body: &'a [u8],
    pub timeout: Duration,
    pub needs: &'a Needs,
    /// `Some(k)` when the request is fully static for this worker: the same id and the same
    /// key mean byte-identical requests (so the engine may reuse pre-rendered wire bytes).
    /// The key changes when the worker's sticky headers change.
    pub cache_key: Option<u64>,
    /// False when the driver said it holds this request's bytes under `cache_key`
    /// ([`Driver::holds_rendered`]): path, headers and body were not rendered and are empty,
    /// and the driver sends the bytes it holds. The target's origin is always filled in.
    pub rendered: bool,
}

/// A rendered header: its name (an index into the program's header names) and where its
/// value lies in the buffer of rendered values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderEntry {
    pub(crate) name: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl HeaderEntry {
    /// Appends the value of header `name` to `buf` with `write`, and lists it in `entries`.
    pub(crate) fn append<E>(
        entries: &mut Vec<HeaderEntry>,
        buf: &mut Vec<u8>,
        name: u32,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = buf.len() as u32;
        write(buf)?;
        entries.push(HeaderEntry {
            name,
            start,
            end: buf.len() as u32,
        });
        Ok(())
    }
}

/// The headers of a [`Request`]: `defaults`, then sticky headers, then the request's own;
/// a later layer replaces an earlier one of the same name, and only the winner is listed.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    names: &'a [Box<str>],
    entries: &'a [HeaderEntry],
    buf: &'a [u8],
}

impl<'a> Headers<'a> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let (names, buf) = (self.names, self.buf);
        self.entries.iter().map(move |e| {
            (
                &*names[e.name as usize],
                &buf[e.start as usize..e.end as usize],
            )
        })
    }

    /// The value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Per-worker facts: ids, the run seed and the globals from `setup`.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    /// Global worker id (unique across processes).
    pub worker: u64,
    /// The process (child) index.
    pub process: u32,
    /// The run seed; the worker's RNG is seeded from (seed, worker).
    pub seed: u64,
    pub globals: Arc<Globals>,
}

/// One load worker's interpreter state.
pub struct Worker {
    program: Arc<Program>,
    state: State,
    /// Whether [`Worker::run_scenario`] sleeps the scenario's `delay` after a run (the
    /// closed model's pause; an open model paces runs by its rate and turns it off).
    scenario_delays: bool,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("worker", &self.state.ids.worker)
            .field("runs", &self.state.runs)
            .finish_non_exhaustive()
    }
}

/// Where the rendered path and origin are.
#[derive(Debug, Clone, Copy)]
enum Where {
    Program,
    Buf,
}

#[derive(Debug, Clone, Copy)]
enum OriginRef {
    Program(u32),
    Buf {
        https: bool,
        authority: (u32, u32),
        host: (u32, u32),
        port: u16,
    },
}

struct State {
    slots: Vec<Option<Value>>,
    counters: Vec<u64>,
    rng: SmallRng,
    /// `worker`, `process` and `iter` of the plan.
    ids: Ids,
    runs: u64,
    sticky: Vec<(HeaderName, Vec<u8>)>,
    sticky_gen: u64,
    url: Vec<u8>,
    origin: OriginRef,
    path_at: Where,
    /// Where the path starts in `url` (after the origin of a rendered absolute URL).
    path_start: usize,
    headers: Vec<HeaderEntry>,
    header_buf: Vec<u8>,
    body: Vec<u8>,
    body_at: Where,
    scratch: String,
    text: Vec<u8>,
    /// The values at a response's JSON paths (kept between responses for its room).
    json_found: Vec<Option<Value>>,
    message: String,
}

/// Mixes the run seed and the worker id into an RNG seed (splitmix64 finalizer).
fn worker_seed(seed: u64, worker: u64) -> u64 {
    let mut z = seed ^ worker.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl State {
    fn new(program: &Program, ctx: &WorkerContext) -> State {
        let mut slots = vec![None; program.slot_count as usize];
        for (i, v) in ctx
            .globals
            .values
            .iter()
            .enumerate()
            .take(program.global_slots as usize)
        {
            slots[i] = v.clone();
        }
        State {
            slots,
            counters: vec![0; program.counters as usize],
            rng: SmallRng::seed_from_u64(worker_seed(ctx.seed, ctx.worker)),
            ids: Ids {
                worker: ctx.worker,
                process: ctx.process,
                iter: 0,
            },
            runs: 0,
            sticky: Vec::new(),
            sticky_gen: 0,
            // Render buffers start empty and grow to what the plan needs on first use: with
            // thousands of workers per process, up-front capacity is memory nobody uses.
            url: Vec::new(),
            origin: OriginRef::Program(0),
            path_at: Where::Buf,
            path_start: 0,
            headers: Vec::new(),
            header_buf: Vec::new(),
            body: Vec::new(),
            body_at: Where::Buf,
            scratch: String::new(),
            text: Vec::new(),
            json_found: Vec::new(),
            message: String::new(),
        }
    }
}

impl Worker {
    pub fn new(program: Arc<Program>, ctx: WorkerContext) -> Worker {
        let state = State::new(&program, &ctx);
        Worker {
            program,
            state,
            scenario_delays: true,
        }
    }

    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// Picks a scenario by weight with the worker's RNG.
    pub fn pick_scenario(&mut self) -> ScenarioId {
        pick(&self.program.cumulative_weights, &mut self.state.rng)
    }

    /// Whether [`Worker::run_scenario`] sleeps each scenario's `delay` after a run (on by
    /// default). An open model turns it off: its runs start on a schedule, and a worker
    /// held in a pause after its run would only make later runs start late.
    pub fn set_scenario_delays(&mut self, on: bool) {
        self.scenario_delays = on;
    }

    /// Runs one scenario, then its `delay` (unless turned off, see
    /// [`Worker::set_scenario_delays`]).
    pub async fn run_scenario<D: Driver, R: Recorder>(
        &mut self,
        id: ScenarioId,
        driver: &mut D,
        rec: &mut R,
    ) -> RunOutcome {
        let program: &Program = &self.program;
        let Some(block) = program.scenario_code.get(id.index()) else {
            return RunOutcome::Failure;
        };
        self.state.ids.iter = self.state.runs;
        self.state.runs += 1;
        let outcome = exec(program, &mut self.state, block, driver, rec).await;
        let delay = program.scenarios[id.index()].delay;
        if self.scenario_delays
            && outcome != RunOutcome::Stopped
            && !delay.is_zero()
            && !driver.should_stop()
        {
            driver.sleep(delay).await;
        }
        outcome
    }

    /// Runs `setup worker` (a no-op success when the plan has none). When it fails, the
    /// engine should not run scenarios on this worker: its variables may be unset.
    pub async fn run_worker_setup<D: Driver, R: Recorder>(
        &mut self,
        driver: &mut D,
        rec: &mut R,
    ) -> RunOutcome {
        let program: &Program = &self.program;
        match &program.worker_setup {
            Some(block) => exec(program, &mut self.state, block, driver, rec).await,
            None => RunOutcome::Success,
        }
    }

    /// Runs `teardown worker` (a no-op success when the plan has none). Its `iter` is the
    /// number of scenario runs this worker started: all of them came before it.
    pub async fn run_worker_teardown<D: Driver, R: Recorder>(
        &mut self,
        driver: &mut D,
        rec: &mut R,
    ) -> RunOutcome {
        let program: &Program = &self.program;
        self.state.ids.iter = self.state.runs;
        match &program.worker_teardown {
            Some(block) => exec(program, &mut self.state, block, driver, rec).await,
            None => RunOutcome::Success,
        }
    }

    /// The worker's variables by name (for debugging and tests): globals, worker variables
    /// and the locals of the last block run.
    pub fn variable(&self, name: &str) -> Option<&Value> {
        let i = self.program.slot_names.iter().position(|n| &**n == name)?;
        self.state.slots.get(i)?.as_ref()
    }
}

/// A scenario drawn by weight (`cumulative`: the running sums of the weights). One
/// scenario, the most common plan, takes no draw from `rng`.
pub(crate) fn pick(cumulative: &[u64], rng: &mut SmallRng) -> ScenarioId {
    let &[.., total] = cumulative else {
        return ScenarioId(0);
    };
    if cumulative.len() == 1 || total == 0 {
        return ScenarioId(0);
    }
    let draw = rng.random_range(0..total);
    ScenarioId(cumulative.partition_point(|c| *c <= draw) as u32)
}

/// The random stream of `setup`: a worker id no load worker has, so its draws differ from
/// every worker's (and from `teardown`'s) under the same run seed.
const SETUP_STREAM: u64 = u64::MAX;
/// The random stream of `teardown` (see [`SETUP_STREAM`]).
const TEARDOWN_STREAM: u64 = u64::MAX - 1;

/// Runs the plan's `setup` once (worker 0, process 0); its variables become the globals.
/// Its random values come from the run `seed`, on a stream of their own.
pub async fn run_setup<D: Driver, R: Recorder>(
    program: &Program,
    seed: u64,
    driver: &mut D,
    rec: &mut R,
) -> Result<Globals, RunOutcome> {
    let ctx = WorkerContext {
        worker: 0,
        process: 0,
        seed,
        globals: Arc::new(Globals::empty()),
    };
    let mut state = State::new(program, &ctx);
    state.rng = SmallRng::seed_from_u64(worker_seed(seed, SETUP_STREAM));
    if let Some(block) = &program.setup {
        let outcome = exec(program, &mut state, block, driver, rec).await;
        if outcome != RunOutcome::Success {
            return Err(outcome);
        }
    }
    state.slots.truncate(program.global_slots as usize);
    Ok(Globals {
        values: state.slots,
    })
}

/// Runs the plan's `teardown` once, with the globals from `setup`. Its random values come
/// from the run `seed`, on a stream of their own.
pub async fn run_teardown<D: Driver, R: Recorder>(
    program: &Program,
    globals: &Globals,
    seed: u64,
    driver: &mut D,
    rec: &mut R,
) -> RunOutcome {
    let ctx = WorkerContext {
        worker: 0,
        process: 0,
        seed,
        globals: Arc::new(globals.clone()),
    };
    let mut state = State::new(program, &ctx);
    state.rng = SmallRng::seed_from_u64(worker_seed(seed, TEARDOWN_STREAM));
    match &program.teardown {
        Some(block) => exec(program, &mut state, block, driver, rec).await,
        None => RunOutcome::Success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_per_worker_and_run() {
        for seed in [0, 1, 2] {
            let setup = worker_seed(seed, SETUP_STREAM);
            let teardown = worker_seed(seed, TEARDOWN_STREAM);
            assert_ne!(setup, teardown);
            assert_ne!(setup, worker_seed(seed + 1, SETUP_STREAM));
            for worker in 0..1000 {
                assert_ne!(setup, worker_seed(seed, worker));
                assert_ne!(teardown, worker_seed(seed, worker));
            }
        }
        let a = worker_seed(1, 0);
        assert_ne!(a, worker_seed(1, 1));
        assert_ne!(a, worker_seed(2, 0));
        assert_eq!(a, worker_seed(1, 0));
    }

    #[test]
    fn pick_respects_cumulative_bounds() {
        let mut rng = SmallRng::seed_from_u64(7);
        let cum = [1u64, 3, 10];
        for _ in 0..1000 {
            assert!(pick(&cum, &mut rng).0 < 3);
        }
    }

    #[test]
    fn one_scenario_takes_no_draw() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut untouched = rng.clone();
        assert_eq!(pick(&[5], &mut rng).0, 0);
        assert_eq!(rng.random::<u64>(), untouched.random::<u64>());
        // Two scenarios do draw.
        pick(&[1, 2], &mut rng);
        assert_ne!(rng.random::<u64>(), untouched.random::<u64>());
    }
}
