//! The engine's per-request work without the network, for micro-benchmarks and tests:
//! [`FakeEngine`] is a plan-interpreter `Driver` that does what molotov-core's `EngineDriver`
//! does around a send (convert the needs once; hold the rendered bytes of static requests, so
//! that the interpreter skips rendering them ([`Driver::holds_rendered`]), or render into a
//! reused buffer; count the request, sent and in flight; add bytes and the connect to the slot
//! as the client's `SlotMeter` does, when they happen; parse the response with molotov-http's
//! `ResponseParser`; record counters and three latency histograms into a shared-memory
//! [`Slot`]), with a canned response in place of the socket. [`FakeRecorder`] mirrors
//! `EngineRecorder`.
//!
//! This is a model of `core/src/engine.rs` (its driver is private to molotov-core), written
//! against the same public APIs; keep the two in step when the engine's hot path changes.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use molotov_core::engine::{convert_needs, micros};
use molotov_core::shm::{
    Histo, Layout, Meta, Region, RequestCounter, Shape, ShmError, Site, Slot, Total,
};
use molotov_dsl::{
    Diagnostics, Driver, Failure, Globals, Program, Recorder, Request, ResponseView, Worker,
    WorkerContext,
};
use molotov_http::{Error, Limits, Progress, RequestMeta, ResponseNeeds, ResponseParser};

/// What nginx 1.22 sends for `return 200 '{"ok":true}'` with `default_type application/json`.
pub const NGINX_OK: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 12:02:14 GMT\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}";

/// Polls a future that never waits (every future of [`FakeEngine`]) to completion.
///
/// A future that returns `Pending` is polled again at once, so this spins for ever on one
/// that really waits: use it only with futures that are always ready.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// A stats region with one slot sized for `program`, like the master maps for `-p 1`.
pub fn region_for(program: &Program) -> Result<Region, ShmError> {
    Region::new(Layout::new(Shape {
        requests: program.requests().len(),
        scenarios: program.scenarios().len(),
        checks: program.checks().len(),
        slots: 1,
    }))
}

/// Where the plans run through [`FakeEngine`] send (their `TARGET`): nothing listens there,
/// the fake answers.
pub const FAKE_TARGET: &str = "http://127.0.0.1:18081";

/// One of the [`plans`](crate::plans) compiled with `TARGET` set to [`FAKE_TARGET`].
pub fn compile_plan(name: &str, source: &str) -> Result<Arc<Program>, Box<Diagnostics>> {
    crate::plans::compile(name, source, FAKE_TARGET).map(Arc::new)
}

/// Worker `worker` of process 0 running `program` with `seed`, without `setup` captures.
pub fn worker(program: &Arc<Program>, worker: u64, seed: u64) -> Worker {
    Worker::new(
        Arc::clone(program),
        WorkerContext {
            worker,
            process: 0,
            seed,
            globals: Arc::new(Globals::empty()),
        },
    )
}

/// A `Driver` that answers every request with the same canned response.
#[derive(Debug)]
pub struct FakeEngine<'s> {
    slot: Slot<'s>,
    response: Vec<u8>,
    parser: ResponseParser,
    /// Reused buffer for requests rendered per call.
    wire: Vec<u8>,
    /// Pre-rendered wire bytes per request id, valid for the stored cache key (the engine's
    /// `constant` table for key 0 and its per-worker `held` bytes for the others).
    rendered: Vec<Option<(u64, Vec<u8>)>>,
    /// What each request id needs of its response, converted once.
    needs: Vec<Option<ResponseNeeds>>,
    /// The "connection" was opened (counted once, as the client's meter counts a connect).
    connected: bool,
    /// Sends that came unrendered: the interpreter skipped rendering for bytes held here.
    held_sends: u64,
    /// Which buffer holds the last request: `Some(id)` for a pre-rendered one.
    last_cached: Option<Option<usize>>,
}

/// The response handed to the interpreter: the parser's view plus the measured time.
#[derive(Debug)]
pub struct FakeResponse<'a> {
    parser: &'a ResponseParser,
    total: Duration,
}

impl ResponseView for FakeResponse<'_> {
    fn status(&self) -> u16 {
        self.parser.status()
    }
    fn header(&self, lowercase_name: &str) -> Option<&[u8]> {
        self.parser.header(lowercase_name)
    }
    fn body(&self) -> &[u8] {
        self.parser.body()
    }
    fn duration(&self) -> Duration {
        self.total
    }
}

impl<'s> FakeEngine<'s> {
    /// A driver recording into `slot` and answering `response` (complete wire bytes of one
    /// response) to every request.
    pub fn new(slot: Slot<'s>, response: &[u8]) -> FakeEngine<'s> {
        FakeEngine {
            slot,
            response: response.to_vec(),
            parser: ResponseParser::new(Limits::default()),
            wire: Vec::with_capacity(512),
            rendered: Vec::new(),
            needs: Vec::new(),
            connected: false,
            held_sends: 0,
            last_cached: None,
        }
    }

    /// The wire bytes of the last request sent (empty before the first).
    pub fn last_request(&self) -> &[u8] {
        match self.last_cached {
            Some(Some(id)) => self.rendered[id]
                .as_ref()
                .map(|(_, b)| b.as_slice())
                .unwrap_or(&[]),
            Some(None) => &self.wire,
            None => &[],
        }
    }

    /// Whether the last request reused pre-rendered bytes (a static request).
    pub fn last_was_prerendered(&self) -> bool {
        matches!(self.last_cached, Some(Some(_)))
    }

    /// How many requests came unrendered ([`Driver::holds_rendered`] said their bytes were
    /// held, so the interpreter did not render them).
    pub fn held_sends(&self) -> u64 {
        self.held_sends
    }
}

/// A request handed over unrendered whose bytes are not held (the engine's `not_held`).
fn not_held() -> Error {
    Error::InvalidRequest("an unrendered request whose bytes are not held".to_owned())
}

fn render(out: &mut Vec<u8>, req: &Request<'_>) -> Result<(), Error> {
    molotov_http::render_request(
        out,
        req.method,
        req.authority,
        req.path,
        req.headers.iter(),
        req.body,
    )
}

impl Driver for FakeEngine<'_> {
    type Response<'a>
        = FakeResponse<'a>
    where
        Self: 'a;
    type Error = Error;

    async fn send<'a>(&'a mut self, req: &Request<'_>) -> Result<FakeResponse<'a>, Error> {
        let id = req.id.0 as usize;
        if self.rendered.len() <= id {
            self.rendered.resize_with(id + 1, || None);
            self.needs.resize_with(id + 1, || None);
        }
        let needs = self.needs[id].get_or_insert_with(|| convert_needs(req.needs));
        let sent = match req.cache_key {
            // Unrendered: the bytes held under the key (`holds_rendered` said they are there).
            Some(key) if !req.rendered => {
                let held = self.rendered[id]
                    .as_ref()
                    .filter(|(k, _)| *k == key)
                    .ok_or_else(not_held)?;
                self.last_cached = Some(Some(id));
                self.held_sends += 1;
                held.1.len()
            }
            Some(key) => {
                let entry = &mut self.rendered[id];
                if entry.as_ref().is_none_or(|(k, _)| *k != key) {
                    let mut buf = entry.take().map(|(_, b)| b).unwrap_or_default();
                    buf.clear();
                    render(&mut buf, req)?;
                    *entry = Some((key, buf));
                }
                self.last_cached = Some(Some(id));
                entry.as_ref().map(|(_, b)| b.len()).unwrap_or(0)
            }
            None => {
                self.wire.clear();
                render(&mut self.wire, req)?;
                self.last_cached = Some(None);
                self.wire.len()
            }
        };
        let slot = self.slot;
        slot.add(Total::Requests, 1);
        slot.add_request(req.id.0, RequestCounter::Sent, 1);
        slot.add_meta(Meta::InFlight, 1);
        // What the client's meter adds as it happens: the connect (once), the bytes written,
        // the bytes read (to the request's row too).
        if !self.connected {
            self.connected = true;
            slot.add(Total::Connects, 1);
            slot.add(Total::ConnectMicros, 0);
        }
        // The client reads the clock when it starts writing and at the end of the response (a
        // response that one read holds, as here, has its first byte at that same reading).
        let write_started = Instant::now();
        slot.add(Total::BytesSent, sent as u64);
        self.parser
            .reset(RequestMeta::for_method(req.method).head, needs);
        let received = self.response.len() as u64;
        slot.add(Total::BytesReceived, received);
        slot.add_request(req.id.0, RequestCounter::BytesReceived, received);
        let progress = self.parser.feed(&self.response);
        let done = Instant::now();
        slot.add_meta(Meta::InFlight, 1u64.wrapping_neg());
        match progress {
            Ok(Progress::Complete { .. }) => {
                let total = micros(done - write_started);
                slot.add(Total::Responses, 1);
                slot.add_status(self.parser.status());
                slot.record(Histo::Overall, total);
                slot.record(Histo::Service, total);
                slot.record(Histo::Request(req.id.0), total);
                slot.add_request(req.id.0, RequestCounter::Responses, 1);
                Ok(FakeResponse {
                    parser: &self.parser,
                    total: done - write_started,
                })
            }
            other => {
                let error = match other {
                    Err(e) => e,
                    _ => Error::ClosedEarly {
                        received: self.response.len() as u64,
                    },
                };
                slot.add(Total::Errors, 1);
                slot.add_error_kind(error.kind().index());
                slot.add_request(req.id.0, RequestCounter::Errors, 1);
                Err(error)
            }
        }
    }

    fn holds_rendered(&self, id: molotov_dsl::RequestId, cache_key: u64) -> bool {
        self.rendered
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .is_some_and(|(key, _)| *key == cache_key)
    }

    async fn sleep(&mut self, _dur: Duration) {}

    fn should_stop(&self) -> bool {
        false
    }
}

/// The engine's recorder, minus `-x` and logs: checks and failures into the slot.
#[derive(Debug)]
pub struct FakeRecorder<'s> {
    slot: Slot<'s>,
}

impl<'s> FakeRecorder<'s> {
    /// A recorder writing into `slot`.
    pub fn new(slot: Slot<'s>) -> FakeRecorder<'s> {
        FakeRecorder { slot }
    }
}

impl Recorder for FakeRecorder<'_> {
    fn request_failed(&mut self, id: molotov_dsl::RequestId, status: u16) {
        self.slot.add(Total::FailedByStatus, 1);
        self.slot
            .add_request(id.0, RequestCounter::FailedByStatus, 1);
        self.slot
            .offer_sample(Site::Request(id.0), status, &format!("status {status}"));
    }

    fn check(&mut self, id: molotov_dsl::CheckId, passed: bool, _status: u16) {
        self.slot.add_check(id.0, passed);
    }

    fn failure(&mut self, f: &Failure<'_>) {
        let site = match (f.check, f.request) {
            (Some(check), _) => Some(Site::Check(check.0)),
            (None, Some(request)) => Some(Site::Request(request.0)),
            (None, None) => None,
        };
        if let Some(site) = site {
            self.slot
                .offer_sample(site, f.status.unwrap_or(0), f.message);
        }
    }

    fn log(&mut self, _message: &str) {}
}

#[cfg(test)]
mod tests {
    use molotov_core::shm::ScenarioCounter;
    use molotov_dsl::{RunOutcome, ScenarioId};

    use super::*;
    use crate::plans;

    fn expected_wire(method: &molotov_http::Method, path: &str) -> Vec<u8> {
        let mut out = Vec::new();
        molotov_http::render_request(
            &mut out,
            method,
            "127.0.0.1:18081",
            path,
            std::iter::empty::<(&str, &[u8])>(),
            b"",
        )
        .unwrap();
        out
    }

    #[test]
    fn static_plan_reuses_prerendered_bytes_and_records_every_response() {
        let program = compile_plan("static.mol", plans::STATIC).unwrap();
        let region = region_for(&program).unwrap();
        let slot = region.slot(0);
        let mut driver = FakeEngine::new(slot, NGINX_OK);
        let mut recorder = FakeRecorder::new(slot);
        let mut w = worker(&program, 3, 7);
        for _ in 0..100 {
            let outcome = block_on(w.run_scenario(ScenarioId(0), &mut driver, &mut recorder));
            assert_eq!(outcome, RunOutcome::Success);
            assert!(driver.last_was_prerendered());
        }
        assert_eq!(
            driver.last_request(),
            expected_wire(&molotov_http::Method::GET, "/")
        );
        assert_eq!(slot.total(Total::Requests), 100);
        assert_eq!(slot.total(Total::Responses), 100);
        assert_eq!(slot.status_count(200), 100);
        assert_eq!(slot.total(Total::FailedByStatus), 0);
        assert_eq!(slot.meta(Meta::InFlight), 0);
        let recorded: u64 = slot.histogram_counts(Histo::Overall).map(|(_, c)| c).sum();
        assert_eq!(recorded, 100);
        // Bytes, the connect and the sent count go into the slot as they happen, like the
        // engine's meter.
        assert_eq!(
            slot.total(Total::BytesReceived),
            100 * NGINX_OK.len() as u64
        );
        assert_eq!(
            slot.request(0, RequestCounter::BytesReceived),
            100 * NGINX_OK.len() as u64
        );
        assert_eq!(slot.request(0, RequestCounter::Sent), 100);
        let wire = expected_wire(&molotov_http::Method::GET, "/");
        assert_eq!(slot.total(Total::BytesSent), 100 * wire.len() as u64);
        assert_eq!(slot.total(Total::Connects), 1);
        // Rendered once; the 99 sends after it skipped rendering, as with the engine.
        assert_eq!(driver.held_sends(), 99);
    }

    #[test]
    fn templated_plan_renders_per_run_checks_and_captures() {
        let program = compile_plan("plan.mol", plans::TEMPLATED).unwrap();
        let region = region_for(&program).unwrap();
        let slot = region.slot(0);
        let mut driver = FakeEngine::new(slot, NGINX_OK);
        let mut recorder = FakeRecorder::new(slot);
        let mut w = worker(&program, 12, 7);
        for _ in 0..50 {
            let outcome = block_on(w.run_scenario(ScenarioId(0), &mut driver, &mut recorder));
            assert_eq!(outcome, RunOutcome::Success);
            assert!(!driver.last_was_prerendered());
            assert_eq!(driver.held_sends(), 0);
            let wire = String::from_utf8(driver.last_request().to_vec()).unwrap();
            let line = wire.lines().next().unwrap();
            let page: u32 = line
                .strip_prefix("GET /items/12?page=")
                .and_then(|rest| rest.strip_suffix(" HTTP/1.1"))
                .unwrap_or_else(|| panic!("{line}"))
                .parse()
                .unwrap();
            assert!((1..=50).contains(&page), "{line}");
            assert_eq!(
                wire.as_bytes(),
                expected_wire(
                    &molotov_http::Method::GET,
                    &format!("/items/12?page={page}")
                )
            );
        }
        assert_eq!(slot.check(0), (50, 0));
        assert_eq!(slot.total(Total::Responses), 50);
        assert_eq!(slot.scenario(0, ScenarioCounter::Failures), 0);
    }

    #[test]
    fn a_failing_check_and_a_broken_response_are_recorded() {
        let program = compile_plan("plan.mol", plans::TEMPLATED).unwrap();
        let region = region_for(&program).unwrap();
        let slot = region.slot(0);
        // `ok` is false: the check fails, the capture still finds a value.
        let not_ok = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"ok\":false}";
        let mut driver = FakeEngine::new(slot, not_ok);
        let mut recorder = FakeRecorder::new(slot);
        let mut w = worker(&program, 0, 7);
        let outcome = block_on(w.run_scenario(ScenarioId(0), &mut driver, &mut recorder));
        assert_eq!(outcome, RunOutcome::Success);
        assert_eq!(slot.check(0), (0, 1));
        // A response cut short is a transport error: the run fails and the error is counted.
        let mut driver = FakeEngine::new(
            slot,
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"ok\"",
        );
        let outcome = block_on(w.run_scenario(ScenarioId(0), &mut driver, &mut recorder));
        assert_eq!(outcome, RunOutcome::Failure);
        assert_eq!(slot.total(Total::Errors), 1);
        assert!(slot.sample(Site::Request(0)).is_some());
    }

    #[test]
    fn status_400_without_a_status_check_fails_the_request() {
        let program = compile_plan("static.mol", plans::STATIC).unwrap();
        let region = region_for(&program).unwrap();
        let slot = region.slot(0);
        let mut driver =
            FakeEngine::new(slot, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        let mut recorder = FakeRecorder::new(slot);
        let mut w = worker(&program, 0, 7);
        let _ = block_on(w.run_scenario(ScenarioId(0), &mut driver, &mut recorder));
        assert_eq!(slot.total(Total::FailedByStatus), 1);
        assert_eq!(slot.status_count(404), 1);
        assert_eq!(
            slot.sample(Site::Request(0)),
            Some((404, "status 404".into()))
        );
    }
}
