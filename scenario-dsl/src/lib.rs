//! The `.mol` plan language: lexer, parser, resolver, compiler and interpreter.
//!
//! A plan is compiled once ([`compile`] / [`compile_source`]) into a [`Program`]: an
//! immutable, `Send + Sync` value shared by every worker. Every problem in a plan is reported
//! at once as [`Diagnostics`] (rendered like rustc: `error:`, `--> file:line:col`, the line,
//! a caret, a hint).
//!
//! Each load worker owns a [`Worker`]: it picks scenarios by weight with its own RNG and
//! runs them through a [`Driver`] (the engine's transport: send a request, sleep) while
//! reporting checks and failures to a [`Recorder`] by id. The interpreter is independent of
//! the async runtime: the traits use `async fn` and need not be `Send`.
//!
//! ```
//! use molotov_dsl::{compile_source, CompileOptions};
//! let plan = "defaults {\n  base http://127.0.0.1:8080\n}\nscenario home {\n  GET /\n  check status == 200\n}\n";
//! let program = compile_source("home.mol", plan, std::path::Path::new("."), &CompileOptions::default()).unwrap();
//! assert_eq!(program.requests()[0].name, "GET /");
//! assert_eq!(program.checks()[0].text, "status == 200");
//! ```
//!
//! The language is documented for users in `docs/plan-language.md`.

mod ast;
mod code;
mod compile;
mod diag;
mod eval;
mod globals;
mod interp;
mod json_extract;
mod json_scan;
mod lexer;
mod parser;
mod printable;
mod program;
mod read;
mod render;
mod source;

pub use compile::{CompileOptions, compile, compile_source};
pub use diag::{Diagnostic, DiagnosticLocation, Diagnostics, MAX_SHOWN, Severity};
pub use globals::{Globals, GlobalsError};
pub use interp::{
    Driver, Failure, FailureKind, Headers, Recorder, Request, ResponseView, RunOutcome, Scheme,
    Worker, WorkerContext, run_setup, run_teardown,
};
pub use lexer::MAX_DURATION;
pub use printable::{printable, printable_path};
pub use program::{
    CheckId, CheckInfo, CmpOp, Location, Metric, Needs, PlanOrigin, Program, RequestId,
    RequestInfo, ScenarioId, ScenarioInfo, Threshold, ThresholdTarget, ThresholdValue,
};
pub use read::{MAX_PLAN_BYTES, ReadError, read_limited};

/// The form of host name `host` that requests look up and send: a name that is not ASCII
/// in its ASCII form (IDNA, UTS #46: `bücher.example` is `xn--bcher-kva.example`), any
/// other as it is; `Err` says why a name has no such form (`invalid host ...`), as for a
/// request's host. For the hosts molotov reaches outside a plan (the statsd daemon).
pub fn ascii_host(host: &str) -> Result<String, String> {
    Ok(compile::target::ascii_host(host)?.unwrap_or_else(|| host.to_string()))
}
