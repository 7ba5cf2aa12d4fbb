//! molotov's benchmark kit: what the criterion micro-benchmarks share and the pieces of the
//! end-to-end comparison against wrk, h2load and oha (`molotov-compare`, run through
//! `benches/compare`).
//!
//! - [`fake`]: the engine's per-request path (render, parse, record into a shared-memory
//!   slot) behind the plan interpreter, with a canned response instead of a socket;
//! - [`floor`]: what the transport-floor examples share (when a response is complete);
//! - [`measure`]: runs a command pinned to CPUs and returns the CPU time of its whole process
//!   tree (`wait4`), its peak RSS, its output, and how busy the CPUs were meanwhile;
//! - [`parse`]: reads the figures out of molotov's, wrk's, h2load's and oha's outputs;
//! - [`nginx`] and [`target`]: the servers under load (nginx for throughput, molotov-target
//!   for the fixed-delay endpoint);
//! - [`scenario`]: the comparison's scenarios, run in alternating rounds, and [`report`]: the
//!   tables and verdicts they print;
//! - [`plans`]: the plans molotov runs (compiled in);
//! - [`stats`]: min, median and max over rounds;
//! - [`uring_setup`]: `COOP_TASKRUN` added to glommio's rings by interposing `syscall` (the
//!   glommio floor's `coop`; molotov's engine used it while it ran on glommio).
//!
//! How to run everything: `docs/benchmarks.md`.

pub mod fake;
pub mod floor;
pub mod measure;
pub mod nginx;
pub mod parse;
pub mod plans;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod target;
pub mod uring_setup;
