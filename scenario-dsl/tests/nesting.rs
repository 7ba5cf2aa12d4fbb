//! Deep nesting: a plan nested deeper than the parser allows (blocks, lists, objects, calls,
//! `??` fallbacks, `else if` chains) is refused with a diagnostic at the level that goes too
//! deep, never a stack overflow; one nested up to the limit compiles.
//!
//! Each compile runs on a thread with a 1 MiB stack, half of what a test thread gets, so
//! that the limit leaves room to spare in the compiler's recursion below the parser too.

use std::path::Path;

use molotov_dsl::{CompileOptions, compile_source};

/// Compiles `src` on a small stack; `Ok(())` or the rendered diagnostics.
fn compile_small_stack(src: String) -> Result<(), String> {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let opts = CompileOptions::with_env([("A", "1")]);
            compile_source(
                "deep.mol",
                &src,
                Path::new("/nonexistent-molotov-dir"),
                &opts,
            )
            .map(|_| ())
            .map_err(|d| d.to_string())
        })
        .unwrap()
        .join()
        .expect("the compile thread must not panic")
}

fn repeats(n: usize) -> String {
    format!(
        "scenario a {{\n{}  GET http://127.0.0.1:1/\n{}}}\n",
        "  repeat 1 {\n".repeat(n),
        "  }\n".repeat(n)
    )
}

fn else_ifs(n: usize) -> String {
    let mut s = String::from("let s = 1\nscenario a {\n  GET http://127.0.0.1:1/\n  if s == 0 {\n");
    for i in 1..=n {
        s.push_str(&format!("  }} else if s == {i} {{\n"));
    }
    s.push_str("    think 1ms\n  }\n}\n");
    s
}

fn template_list(n: usize) -> String {
    format!(
        "scenario a {{\n  GET http://127.0.0.1:1/?x={{{{{}{}}}}}\n}}\n",
        "[".repeat(n),
        "]".repeat(n)
    )
}

fn let_object(n: usize) -> String {
    format!(
        "let x = {}1{}\nscenario a {{\n  GET http://127.0.0.1:1/\n}}\n",
        "{\"a\": ".repeat(n),
        "}".repeat(n)
    )
}

fn check_list(n: usize) -> String {
    format!(
        "scenario a {{\n  GET http://127.0.0.1:1/\n  check body == {}{}\n}}\n",
        "[".repeat(n),
        "]".repeat(n)
    )
}

fn fallbacks(n: usize) -> String {
    format!(
        "scenario a {{\n  GET http://127.0.0.1:1/?q={{{{{}1}}}}\n}}\n",
        "env.A ?? ".repeat(n)
    )
}

fn calls(n: usize) -> String {
    format!(
        "scenario a {{\n  GET http://127.0.0.1:1/?q={{{{{}1{}}}}}\n}}\n",
        "pick(".repeat(n),
        ")".repeat(n)
    )
}

type Case = (&'static str, fn(usize) -> String, &'static str);

/// What builds each plan, and where its too-deep diagnostic must point (`file:line`).
const CASES: &[Case] = &[
    ("repeat blocks", repeats, "deep.mol:129:"),
    ("else if chain", else_ifs, "deep.mol:"),
    ("lists in a template", template_list, "deep.mol:2:"),
    ("objects in a let", let_object, "deep.mol:1:"),
    ("lists in a check", check_list, "deep.mol:3:"),
    ("?? fallbacks", fallbacks, "deep.mol:2:"),
    ("calls in a template", calls, "deep.mol:2:"),
];

#[test]
fn a_plan_nested_far_too_deep_is_refused_at_the_level_that_is_too_deep() {
    for &(what, build, at) in CASES {
        // Deep enough to overflow any stack when each level recursed.
        let err = compile_small_stack(build(50_000)).expect_err(what);
        assert!(
            err.starts_with("error: nested too deep\n"),
            "{what}: the first error is the nesting:\n{}",
            &err[..err.len().min(600)]
        );
        assert!(
            err.contains(&format!(" --> {at}")),
            "{what}: points at {at}:\n{}",
            &err[..err.len().min(600)]
        );
        assert_eq!(
            err.matches("error:").count(),
            1,
            "{what}: one error, no cascade:\n{}",
            &err[..err.len().min(2000)]
        );
    }
}

#[test]
fn a_plan_nested_just_past_the_limit_is_refused_and_one_at_it_compiles() {
    // The scenario's block is the first level: 127 `repeat` blocks inside it reach 128.
    compile_small_stack(repeats(127)).expect("128 nested blocks compile");
    let err = compile_small_stack(repeats(128)).expect_err("129 nested blocks are refused");
    assert!(
        err.contains("more than 128 levels of nesting here"),
        "{err}"
    );
    // A `check` value of 127 nested lists is 128 levels of values.
    compile_small_stack(check_list(127)).expect("128 levels of values compile");
    assert!(
        compile_small_stack(check_list(128))
            .expect_err("129 levels of values are refused")
            .starts_with("error: nested too deep\n")
    );
    // Long `else if` chains and fallback chains up to the limit compile.
    compile_small_stack(else_ifs(100)).expect("100 `else if` compile");
    compile_small_stack(fallbacks(100)).expect("100 `??` compile");
}
