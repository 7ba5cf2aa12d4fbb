//! Promises of the language that no other test held (each found by a mutant that survived
//! the suites): a scenario's variables live one run, `capture?` that finds nothing unsets its
//! variable, a threshold scope naming both a scenario and a request is refused, and a think
//! range whose ends are equal is valid.

mod support;

use std::path::Path;

use molotov_dsl::{CompileOptions, RunOutcome, ScenarioId, compile_source};
use support::*;

const BASE: &str = "defaults {\n  base http://127.0.0.1:8080\n}\n";

/// Runs scenario `s` (the plan's first) once on `w` through `d`; fails unless it succeeds.
fn run_ok(w: &mut molotov_dsl::Worker, d: &mut FakeDriver) {
    let mut ev = Events::default();
    let out = block_on(w.run_scenario(ScenarioId(0), d, &mut ev));
    assert_eq!(out, RunOutcome::Success, "{:?}", ev.0);
}

/// A driver answering `/a` with `X-V: 1` the first time only, everything else with an empty
/// 200.
fn x_v_once() -> FakeDriver {
    let mut first = true;
    FakeDriver::new(move |s| {
        let mut r = FakeResponse::status(200);
        if s.path == "/a" && std::mem::take(&mut first) {
            r = r.with_header("X-V", "1");
        }
        Ok(r)
    })
}

#[test]
fn a_variable_set_in_one_run_is_unset_in_the_next() {
    // Run 1 captures `v` and so sets `w`; run 2 captures nothing and must not see run 1's
    // `w` (or `v`).
    let p = program(&format!(
        "{BASE}scenario s {{
  GET /a
  capture? v = header \"X-V\"
  if v exists {{
    let w = \"set\"
  }}
  GET /b
  X-W: {{{{w ?? \"none\"}}}}
  X-V: {{{{v ?? \"none\"}}}}
}}
"
    ));
    let mut w = worker(&p, 0);
    let mut d = x_v_once();
    run_ok(&mut w, &mut d);
    run_ok(&mut w, &mut d);
    let b: Vec<_> = d.sent.iter().filter(|s| s.path == "/b").collect();
    assert_eq!(b.len(), 2);
    assert_eq!(
        (b[0].header("X-W"), b[0].header("X-V")),
        (Some("set"), Some("1"))
    );
    assert_eq!(
        (b[1].header("X-W"), b[1].header("X-V")),
        (Some("none"), Some("none")),
        "the second run sent the first run's values"
    );
}

#[test]
fn an_optional_capture_that_finds_nothing_unsets_the_variable() {
    // The loop's first turn captures `v`; the second finds nothing: `v` is unset after it.
    let p = program(&format!(
        "{BASE}scenario s {{
  for i in [0, 1] {{
    GET /a
    capture? v = header \"X-V\"
  }}
  GET /b
  X-V: {{{{v ?? \"none\"}}}}
}}
"
    ));
    let mut w = worker(&p, 0);
    let mut d = x_v_once();
    run_ok(&mut w, &mut d);
    assert_eq!(d.paths(), ["/a", "/a", "/b"]);
    assert_eq!(d.sent[2].header("X-V"), Some("none"));
}

fn compile(src: &str) -> Result<molotov_dsl::Program, String> {
    compile_source(
        "test.mol",
        &format!("{BASE}{src}"),
        Path::new("."),
        &CompileOptions::default(),
    )
    .map_err(|d| d.to_string())
}

#[test]
fn a_threshold_scope_naming_both_a_scenario_and_a_request_is_refused() {
    let error = compile("scenario s {\n  GET /json as s\n}\nthreshold s p95 < 100ms\n")
        .expect_err("an ambiguous threshold scope");
    assert!(
        error.contains("`s` is both a scenario and a request name"),
        "{error}"
    );
}

#[test]
fn a_think_range_with_equal_ends_is_valid() {
    if let Err(error) = compile("scenario s {\n  GET /json\n  think 1s..1s\n}\n") {
        panic!("`think 1s..1s` refused:\n{error}");
    }
}
