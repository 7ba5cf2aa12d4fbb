//! Fuzz target: compile a plan and, when it compiles, interpret every block of it once
//! (`setup`, `setup worker`, each scenario, `teardown worker`, `teardown`) against fuzzed
//! responses. Nothing may panic; the globals `setup` captured must survive the trip through
//! bytes that the master and the load processes make.
//!
//! Input: the plan's text, a NUL byte, then the responses. Each response takes a kind byte
//! (bit 0: a transport error instead of a response; bit 1: headers answer with the body),
//! a status byte pair (mapped into 100..=599), a length byte and that many body bytes; the
//! responses repeat when they run out. A scenario stops after 64 requests or sleeps (the
//! driver asks it to), so loops that send cannot run away.

#![no_main]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use molotov_dsl::{
    CompileOptions, Driver, Failure, Globals, Recorder, Request, ResponseView, Worker,
    WorkerContext, compile_source, run_setup, run_teardown,
};

/// Requests and sleeps a block may make before the driver says stop.
const OPS_PER_BLOCK: u32 = 64;

struct Reply<'a> {
    status: u16,
    headers_from_body: bool,
    body: &'a [u8],
}

impl ResponseView for Reply<'_> {
    fn status(&self) -> u16 {
        self.status
    }
    fn header(&self, _lowercase_name: &str) -> Option<&[u8]> {
        self.headers_from_body.then_some(self.body)
    }
    fn body(&self) -> &[u8] {
        self.body
    }
    fn duration(&self) -> Duration {
        Duration::from_micros(u64::from(self.status) * 10)
    }
}

struct FuzzDriver<'a> {
    responses: &'a [u8],
    at: usize,
    ops: u32,
}

impl<'a> FuzzDriver<'a> {
    fn next_byte(&mut self) -> u8 {
        if self.responses.is_empty() {
            return 0;
        }
        if self.at >= self.responses.len() {
            self.at = 0;
        }
        let b = self.responses[self.at];
        self.at += 1;
        b
    }

    fn next_reply(&mut self) -> Result<Reply<'a>, &'static str> {
        let kind = self.next_byte();
        let status = 100 + u16::from_le_bytes([self.next_byte(), self.next_byte()]) % 500;
        let len = usize::from(self.next_byte());
        let start = self.at.min(self.responses.len());
        let end = (start + len).min(self.responses.len());
        self.at = end;
        if kind & 1 == 1 {
            return Err("connection refused (fuzzed)");
        }
        Ok(Reply {
            status,
            headers_from_body: kind & 2 == 2,
            body: &self.responses[start..end],
        })
    }
}

impl Driver for FuzzDriver<'_> {
    type Response<'b>
        = Reply<'b>
    where
        Self: 'b;
    type Error = &'static str;

    async fn send<'b>(&'b mut self, req: &Request<'_>) -> Result<Reply<'b>, &'static str> {
        self.ops += 1;
        assert!(!req.authority.is_empty(), "a request without an authority");
        assert!(req.port != 0, "a request to port 0");
        self.next_reply()
    }

    async fn sleep(&mut self, _dur: Duration) {
        self.ops += 1;
    }

    fn should_stop(&self) -> bool {
        self.ops >= OPS_PER_BLOCK
    }
}

struct NullRecorder;

impl Recorder for NullRecorder {
    fn request_failed(&mut self, _id: molotov_dsl::RequestId, _status: u16) {}
    fn check(&mut self, _id: molotov_dsl::CheckId, _passed: bool, _status: u16) {}
    fn failure(&mut self, f: &Failure<'_>) {
        let _ = f.location.to_string();
    }
    fn log(&mut self, _message: &str) {}
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..split]);
    let responses = data.get(split + 1..).unwrap_or(&[]);
    let options = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
    let Ok(program) = compile_source(
        "fuzz.mol",
        &text,
        Path::new("/nonexistent-molotov-fuzz-dir"),
        &options,
    ) else {
        return;
    };
    let program = Arc::new(program);
    let mut driver = FuzzDriver {
        responses,
        at: 0,
        ops: 0,
    };
    let mut rec = NullRecorder;
    futures_lite::future::block_on(async {
        let globals = match run_setup(&program, 0, &mut driver, &mut rec).await {
            Ok(globals) => globals,
            Err(_) => return,
        };
        let copy = Globals::from_bytes(&globals.to_bytes()).expect("globals round trip");
        assert_eq!(copy, globals, "globals changed on the way through bytes");
        let globals = Arc::new(globals);
        let mut worker = Worker::new(
            Arc::clone(&program),
            WorkerContext {
                worker: 3,
                process: 1,
                seed: 7,
                globals: Arc::clone(&globals),
            },
        );
        driver.ops = 0;
        let _ = worker.run_worker_setup(&mut driver, &mut rec).await;
        for id in 0..program.scenarios().len() {
            driver.ops = 0;
            let _ = worker
                .run_scenario(molotov_dsl::ScenarioId(id as u32), &mut driver, &mut rec)
                .await;
        }
        let _ = worker.pick_scenario();
        driver.ops = 0;
        let _ = worker.run_worker_teardown(&mut driver, &mut rec).await;
        driver.ops = 0;
        let _ = run_teardown(&program, &globals, 0, &mut driver, &mut rec).await;
    });
});
