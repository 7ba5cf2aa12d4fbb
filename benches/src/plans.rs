//! The plans the comparison runs: the files in `benches/plans/`, compiled into the binary so
//! it can run from a folder of carried binaries (the device machine). Each takes its base URL
//! from the `TARGET` environment variable.

use std::path::Path;

use molotov_dsl::{CompileOptions, Diagnostics, Program};

/// One literal `GET /`, no checks.
pub const STATIC: &str = include_str!("../plans/static.mol");
/// `GET /items/{{worker}}?page={{rand_int(1, 50)}}` with a JSONPath check and a capture.
pub const TEMPLATED: &str = include_str!("../plans/plan.mol");
/// `GET /slow` (molotov-target answers after 50 ms).
pub const SLOW: &str = include_str!("../plans/slow.mol");

/// Compiles one of the plans above with `TARGET` set to `target` (e.g. `http://127.0.0.1:18081`).
pub fn compile(name: &str, source: &str, target: &str) -> Result<Program, Box<Diagnostics>> {
    let options = CompileOptions::with_env([("TARGET", target)]);
    molotov_dsl::compile_source(name, source, Path::new("."), &options).map_err(Box::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plan_compiles_with_the_expected_shape() {
        for (name, source, requests, checks) in [
            ("static.mol", STATIC, 1, 0),
            ("plan.mol", TEMPLATED, 1, 1),
            ("slow.mol", SLOW, 1, 0),
        ] {
            let program = compile(name, source, "http://127.0.0.1:1")
                .unwrap_or_else(|d| panic!("{name}: {d}"));
            assert_eq!(program.requests().len(), requests, "{name}");
            assert_eq!(program.checks().len(), checks, "{name}");
            assert_eq!(program.scenarios().len(), 1, "{name}");
        }
        let templated = compile("plan.mol", TEMPLATED, "http://127.0.0.1:1").unwrap();
        assert!(
            templated.requests()[0].needs.body,
            "the JSON check reads the body"
        );
    }
}
