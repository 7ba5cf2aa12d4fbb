//! Test support: an in-memory [`Driver`] whose responses come from a handler closure, a
//! [`Recorder`] that keeps every event, and a minimal executor for the interpreter's futures.
//!
//! The fake transport never touches the network; it records each request exactly as the
//! interpreter built it, so tests can assert on bytes.

#![allow(dead_code)]

use std::cell::Cell;
use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use molotov_dsl::{
    CheckId, CompileOptions, Driver, Failure, FailureKind, Globals, Program, Recorder, Request,
    RequestId, ResponseView, Scheme, Worker, WorkerContext, compile_source,
};

/// Runs a future to completion. The fake driver never returns `Pending`, so this is a
/// bounded loop that fails loudly if something does.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("future did not complete: the fake driver should never block")
}

/// A request as the driver saw it, copied out of the interpreter's buffers.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: RequestId,
    pub method: String,
    pub scheme: Scheme,
    pub authority: String,
    pub host: String,
    pub origin: Option<u32>,
    pub port: u16,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub cache_key: Option<u64>,
    /// The interpreter sent it unrendered, and a holding driver filled in path, headers and
    /// body from the copy it held (see [`FakeDriver::holding`]).
    pub from_held: bool,
    pub needs_body: bool,
    pub needs_headers: Vec<String>,
    pub timeout: Duration,
}

impl Sent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is UTF-8")
    }
}

#[derive(Debug, Clone, Default)]
pub struct FakeResponse {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub duration: Duration,
}

impl FakeResponse {
    pub fn status(status: u16) -> Self {
        FakeResponse {
            status,
            duration: Duration::from_millis(5),
            ..Default::default()
        }
    }

    pub fn json(status: u16, body: &str) -> Self {
        FakeResponse {
            body: body.as_bytes().to_vec(),
            ..FakeResponse::status(status)
        }
        .with_header("content-type", "application/json")
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        self
    }

    pub fn took(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }
}

impl ResponseView for FakeResponse {
    fn status(&self) -> u16 {
        self.status
    }
    fn header(&self, lowercase_name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == lowercase_name)
            .map(|(_, v)| v.as_slice())
    }
    fn body(&self) -> &[u8] {
        &self.body
    }
    fn duration(&self) -> Duration {
        self.duration
    }
}

type Handler = Box<dyn FnMut(&Sent) -> Result<FakeResponse, String>>;

/// The in-memory transport.
pub struct FakeDriver {
    handler: Handler,
    pub sent: Vec<Sent>,
    pub slept: Vec<Duration>,
    /// `should_stop` turns true once this many requests were sent.
    pub stop_after_sends: Option<usize>,
    /// `should_stop` turns true once this many sleeps happened.
    pub stop_after_sleeps: Option<usize>,
    /// Set by [`FakeDriver::holding`]: the last rendered request of each id and key, held as
    /// the engine holds wire bytes.
    held: Option<Vec<Sent>>,
    /// How many times `holds_rendered` answered yes.
    pub held_answers: Cell<usize>,
}

impl FakeDriver {
    pub fn new(handler: impl FnMut(&Sent) -> Result<FakeResponse, String> + 'static) -> Self {
        FakeDriver {
            handler: Box::new(handler),
            sent: Vec::new(),
            slept: Vec::new(),
            stop_after_sends: None,
            stop_after_sleeps: None,
            held: None,
            held_answers: Cell::new(0),
        }
    }

    /// The driver holds what it was sent under a cache key, as the engine holds wire bytes:
    /// it says so in `holds_rendered`, and fills an unrendered request in from its copy.
    /// An unrendered request it does not hold fails the test.
    pub fn holding(mut self) -> Self {
        self.held = Some(Vec::new());
        self
    }

    /// Every request gets `200` with an empty body.
    pub fn ok() -> Self {
        FakeDriver::new(|_| Ok(FakeResponse::status(200)))
    }

    pub fn paths(&self) -> Vec<String> {
        self.sent.iter().map(|s| s.path.clone()).collect()
    }
}

impl Driver for FakeDriver {
    type Response<'a> = FakeResponse;
    type Error = String;

    fn holds_rendered(&self, id: RequestId, cache_key: u64) -> bool {
        let holds = self.held.as_ref().is_some_and(|held| {
            held.iter()
                .any(|s| s.id == id && s.cache_key == Some(cache_key))
        });
        self.held_answers
            .set(self.held_answers.get() + usize::from(holds));
        holds
    }

    async fn send(&mut self, req: &Request<'_>) -> Result<FakeResponse, String> {
        if !req.rendered {
            let copy = self
                .held
                .as_ref()
                .and_then(|held| {
                    held.iter()
                        .find(|s| s.id == req.id && s.cache_key == req.cache_key)
                })
                .cloned();
            let Some(mut sent) = copy else {
                panic!("an unrendered request the driver does not hold: {req:?}");
            };
            assert!(
                req.path.is_empty() && req.headers.is_empty() && req.body.is_empty(),
                "an unrendered request carries parts: {req:?}"
            );
            assert_eq!(
                (req.origin, req.authority, req.port),
                (sent.origin, sent.authority.as_str(), sent.port),
                "an unrendered request names another origin"
            );
            sent.from_held = true;
            let r = (self.handler)(&sent);
            self.sent.push(sent);
            return r;
        }
        let sent = Sent {
            id: req.id,
            method: req.method.to_string(),
            scheme: req.scheme,
            authority: req.authority.to_string(),
            host: req.host.to_string(),
            origin: req.origin,
            port: req.port,
            path: req.path.to_string(),
            headers: req
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
            body: req.body.to_vec(),
            cache_key: req.cache_key,
            from_held: false,
            needs_body: req.needs.body,
            needs_headers: req.needs.headers.iter().map(|h| h.to_string()).collect(),
            timeout: req.timeout,
        };
        if let (Some(held), Some(_)) = (self.held.as_mut(), sent.cache_key) {
            held.retain(|s| s.id != sent.id);
            held.push(sent.clone());
        }
        let r = (self.handler)(&sent);
        self.sent.push(sent);
        r
    }

    async fn sleep(&mut self, dur: Duration) {
        self.slept.push(dur);
    }

    fn should_stop(&self) -> bool {
        self.stop_after_sends.is_some_and(|n| self.sent.len() >= n)
            || self
                .stop_after_sleeps
                .is_some_and(|n| self.slept.len() >= n)
    }
}

/// An event the interpreter reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    RequestFailed(RequestId, u16),
    Check(CheckId, bool),
    Failure {
        kind: FailureKind,
        request: Option<RequestId>,
        check: Option<CheckId>,
        line: u32,
        status: Option<u16>,
        message: String,
    },
    Log(String),
}

#[derive(Debug, Default)]
pub struct Events(pub Vec<Event>);

impl Recorder for Events {
    fn request_failed(&mut self, id: RequestId, status: u16) {
        self.0.push(Event::RequestFailed(id, status));
    }
    fn check(&mut self, id: CheckId, passed: bool, _status: u16) {
        self.0.push(Event::Check(id, passed));
    }
    fn failure(&mut self, f: &Failure<'_>) {
        self.0.push(Event::Failure {
            kind: f.kind,
            request: f.request,
            check: f.check,
            line: f.location.line,
            status: f.status,
            message: f.message.to_string(),
        });
    }
    fn log(&mut self, message: &str) {
        self.0.push(Event::Log(message.to_string()));
    }
}

impl Events {
    pub fn failures(&self) -> Vec<&Event> {
        self.0
            .iter()
            .filter(|e| matches!(e, Event::Failure { .. }))
            .collect()
    }

    /// The requests reported failed by status: (request id, status), in order.
    pub fn failed_requests(&self) -> Vec<(u32, u16)> {
        self.0
            .iter()
            .filter_map(|e| match e {
                Event::RequestFailed(id, s) => Some((id.0, *s)),
                _ => None,
            })
            .collect()
    }

    pub fn checks(&self) -> Vec<(CheckId, bool)> {
        self.0
            .iter()
            .filter_map(|e| match e {
                Event::Check(id, p) => Some((*id, *p)),
                _ => None,
            })
            .collect()
    }

    pub fn logs(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|e| match e {
                Event::Log(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Compiles a plan from text (with a fixed environment), panicking with the rendered
/// diagnostics when it does not compile.
pub fn program(src: &str) -> Arc<Program> {
    program_with_env(src, [("TARGET", "http://127.0.0.1:8080")])
}

pub fn program_with_env<const N: usize>(src: &str, env: [(&str, &str); N]) -> Arc<Program> {
    let opts = CompileOptions::with_env(env);
    match compile_source("test.mol", src, Path::new("."), &opts) {
        Ok(p) => Arc::new(p),
        Err(d) => panic!("plan does not compile:\n{d}"),
    }
}

pub fn worker(program: &Arc<Program>, id: u64) -> Worker {
    worker_with(program, id, 42, Globals::empty())
}

pub fn worker_with(program: &Arc<Program>, id: u64, seed: u64, globals: Globals) -> Worker {
    Worker::new(
        program.clone(),
        WorkerContext {
            worker: id,
            process: 3,
            seed,
            globals: Arc::new(globals),
        },
    )
}
