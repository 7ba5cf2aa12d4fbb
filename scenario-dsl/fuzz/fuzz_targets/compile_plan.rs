//! Fuzz target: the plan compiler (lexer, parser, resolver, lowering) and the diagnostics
//! renderer must never panic on any input, and an `Err` always carries at least one error.
//!
//! The input is the plan's text; bytes that are not UTF-8 are replaced (the file path of
//! `compile` reports them as a diagnostic, tested in `tests/fuzz_parser.rs`). Includes and
//! `file` bodies resolve against a directory that does not exist, so they fail as diagnostics
//! without touching the disk. `env.NAME` sees one variable, `TARGET`.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use molotov_dsl::{CompileOptions, Severity, compile_source};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
    match compile_source(
        "fuzz.mol",
        &text,
        Path::new("/nonexistent-molotov-fuzz-dir"),
        &options,
    ) {
        Ok(program) => {
            // A compiled plan is internally consistent: every lookup by name finds itself.
            for (i, scenario) in program.scenarios().iter().enumerate() {
                assert_eq!(
                    program.scenario_id(&scenario.name).map(|id| id.0 as usize),
                    Some(i)
                );
            }
            for (i, request) in program.requests().iter().enumerate() {
                assert_eq!(
                    program.request_id(&request.name).map(|id| id.0 as usize),
                    Some(i)
                );
            }
            let _ = program.warnings().to_string();
        }
        Err(diagnostics) => {
            assert!(diagnostics.error_count() >= 1, "Err without an error");
            assert!(
                diagnostics
                    .iter()
                    .all(|d| matches!(d.severity, Severity::Error | Severity::Warning))
            );
            // Rendering the code frames must not panic on any span.
            let _ = diagnostics.to_string();
        }
    }
});
