//! Per-operation cost of the interpreter's hot path, with a driver that does no I/O:
//! - `static_request`: a fully literal GET, with a driver that holds its rendered bytes after
//!   the first send as molotov-core's engine does (`Driver::holds_rendered`), so the
//!   interpreter renders nothing: the floor of op dispatch, the held-bytes question and the
//!   response hand-back;
//! - `static_request_rendered`: the same GET with a driver that holds nothing, so the
//!   interpreter renders it every time (what a request costs when its bytes are not held);
//! - `dynamic_request`: a templated target, a sticky header, a JSON body with four holes;
//! - `jsonpath_check`: a static request (held, as in `static_request`) whose ~200-byte JSON
//!   response is parsed and tested with `check jsonpath "$.items[0].id" == 1` (parse, query
//!   and compare);
//! - `compile_shop`: compiling the design's example plan.
//!
//! Run: `cargo bench -p molotov-dsl --bench interpreter`.

use std::future::Future;
use std::hint::black_box;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use molotov_dsl::{
    CheckId, CompileOptions, Driver, Failure, Globals, Program, Recorder, Request, RequestId,
    ResponseView, ScenarioId, Worker, WorkerContext, compile_source,
};

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

struct Resp {
    body: &'static [u8],
}

impl ResponseView for Resp {
    fn status(&self) -> u16 {
        200
    }
    fn header(&self, _: &str) -> Option<&[u8]> {
        None
    }
    fn body(&self) -> &[u8] {
        self.body
    }
    fn duration(&self) -> Duration {
        Duration::from_micros(100)
    }
}

/// Returns a fixed response; reads the request's bytes so they are not optimized away. With
/// `hold`, it keeps the cache key of each static request it was sent rendered and says it
/// holds those bytes, like the engine (which keeps the rendered bytes and sends them again).
struct NullDriver {
    body: &'static [u8],
    bytes: usize,
    hold: bool,
    /// The cache key held per request id.
    held: Vec<Option<u64>>,
    /// Sends that came unrendered (bytes held).
    unrendered: u64,
}

impl Driver for NullDriver {
    type Response<'a> = Resp;
    type Error = &'static str;
    async fn send(&mut self, req: &Request<'_>) -> Result<Resp, &'static str> {
        let id = req.id.0 as usize;
        if !req.rendered {
            if !self.holds_rendered(req.id, req.cache_key.unwrap_or(u64::MAX)) {
                return Err("an unrendered request whose bytes are not held");
            }
            self.unrendered += 1;
        } else if let (true, Some(key)) = (self.hold, req.cache_key) {
            if self.held.len() <= id {
                self.held.resize(id + 1, None);
            }
            self.held[id] = Some(key);
        }
        self.bytes += req.path.len() + req.body.len();
        for (n, v) in req.headers.iter() {
            self.bytes += n.len() + v.len();
        }
        Ok(Resp { body: self.body })
    }
    fn holds_rendered(&self, id: RequestId, cache_key: u64) -> bool {
        self.hold && self.held.get(id.0 as usize) == Some(&Some(cache_key))
    }
    async fn sleep(&mut self, _: Duration) {}
    fn should_stop(&self) -> bool {
        false
    }
}

#[derive(Default)]
struct Counters {
    checks: u64,
    failed: u64,
}

impl Recorder for Counters {
    fn request_failed(&mut self, _: RequestId, _: u16) {
        self.failed += 1;
    }
    fn check(&mut self, _: CheckId, passed: bool, _: u16) {
        self.checks += u64::from(passed);
    }
    fn failure(&mut self, _: &Failure<'_>) {
        self.failed += 1;
    }
    fn log(&mut self, _: &str) {}
}

const BODY: &[u8] = br#"{"items": [{"id": 1, "name": "red shoes", "price": 42.5}, {"id": 2, "name": "blue hat", "price": 12}], "total": 2, "page": 1, "next": null, "tags": ["new", "sale"]}"#;

fn program(src: &str) -> Arc<Program> {
    let opts = CompileOptions::with_env([("A", "b")]);
    Arc::new(
        compile_source("bench.mol", src, Path::new("."), &opts).unwrap_or_else(|d| panic!("{d}")),
    )
}

fn worker(p: &Arc<Program>) -> Worker {
    Worker::new(
        p.clone(),
        WorkerContext {
            worker: 1,
            process: 0,
            seed: 1,
            globals: Arc::new(Globals::empty()),
        },
    )
}

fn bench(c: &mut Criterion) {
    let base = "defaults {\n  base http://127.0.0.1:8080\n  Accept: application/json\n}\n";
    let cases = [
        ("static_request", "scenario s {\n  GET /products/42\n}\n"),
        (
            "static_request_rendered",
            "scenario s {\n  GET /products/42\n}\n",
        ),
        (
            "dynamic_request",
            "let skus = [\"A-1\", \"B-2\", \"C-3\"]\nscenario s {\n  header Authorization: Bearer abcdef0123456789\n  POST /products/{{worker}}/cart?page={{rand_int(1, 50)}}&it={{iter}}\n  {\"sku\": \"{{pick(skus)}}\", \"qty\": {{rand_int(1, 3)}}, \"user\": \"bot{{worker}}\", \"ref\": \"{{iter}}\"}\n}\n",
        ),
        (
            "jsonpath_check",
            "scenario s {\n  GET /products\n  check jsonpath \"$.items[0].id\" == 1\n}\n",
        ),
    ];
    for (name, body) in cases {
        let p = program(&format!("{base}{body}"));
        let mut w = worker(&p);
        let mut d = NullDriver {
            body: BODY,
            bytes: 0,
            hold: name != "static_request_rendered",
            held: Vec::new(),
            unrendered: 0,
        };
        let mut rec = Counters::default();
        // Two runs first, so that a driver that holds has the bytes however few times the
        // benchmark runs (criterion's `--test` runs it once).
        for _ in 0..2 {
            block_on(w.run_scenario(ScenarioId(0), &mut d, &mut rec));
        }
        c.bench_function(name, |b| {
            b.iter(|| black_box(block_on(w.run_scenario(ScenarioId(0), &mut d, &mut rec))))
        });
        assert_eq!(rec.failed, 0, "{name}: the benchmark plan must not fail");
        // Static requests after the first come unrendered unless the driver holds nothing.
        let static_held = matches!(name, "static_request" | "jsonpath_check");
        assert_eq!(
            d.unrendered > 0,
            static_held,
            "{name}: {} unrendered",
            d.unrendered
        );
        black_box(d.bytes);
    }
    let shop =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans/shop.mol"))
            .unwrap();
    let opts = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
    c.bench_function("compile_shop", |b| {
        b.iter(|| {
            black_box(compile_source("shop.mol", black_box(&shop), Path::new("."), &opts).is_ok())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
