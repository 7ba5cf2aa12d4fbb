//! Runs one comparison plan N times through `FakeEngine` (interpreter, rendering, response
//! parsing, shared-memory recording; no network), for instruction counts that do not depend
//! on the machine's noise:
//!
//! ```text
//! cargo build --release -p molotov-benches --example plan_path_count
//! valgrind --tool=callgrind target/release/examples/plan_path_count static 1000
//! valgrind --tool=callgrind target/release/examples/plan_path_count static 11000
//! ```
//! (instructions per request = the difference of the two totals / 10,000; `templated` for
//! `plan.mol`).

use std::process::ExitCode;

use molotov_benches::fake::{
    FakeEngine, FakeRecorder, NGINX_OK, block_on, compile_plan, region_for, worker,
};
use molotov_benches::plans;
use molotov_dsl::{RunOutcome, ScenarioId};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (file, source) = match args.get(1).map(String::as_str) {
        Some("static") => ("static.mol", plans::STATIC),
        Some("templated") => ("plan.mol", plans::TEMPLATED),
        _ => {
            eprintln!("usage: plan_path_count static|templated ITERATIONS");
            return ExitCode::from(2);
        }
    };
    let Some(iterations) = args.get(2).and_then(|n| n.parse::<u64>().ok()) else {
        eprintln!("usage: plan_path_count static|templated ITERATIONS");
        return ExitCode::from(2);
    };
    let program = match compile_plan(file, source) {
        Ok(p) => p,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::FAILURE;
        }
    };
    let region = match region_for(&program) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let slot = region.slot(0);
    let mut driver = FakeEngine::new(slot, NGINX_OK);
    let mut recorder = FakeRecorder::new(slot);
    let mut worker = worker(&program, 7, 1);
    let mut failed = 0u64;
    for _ in 0..iterations {
        if block_on(worker.run_scenario(ScenarioId(0), &mut driver, &mut recorder))
            != RunOutcome::Success
        {
            failed += 1;
        }
    }
    println!("{file}: {iterations} runs, {failed} failed");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
