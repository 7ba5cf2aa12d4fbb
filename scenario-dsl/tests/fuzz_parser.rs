//! Property tests standing in for a fuzz target: the compiler front end (lexer, parser,
//! resolver) never panics and never hangs on any input; it always returns a program or at
//! least one error diagnostic.
//!
//! Three generators: arbitrary bytes (also through `compile` on a file, so invalid UTF-8 is
//! covered), token soup from the language's own vocabulary (reaches deep parser paths), and
//! random edits of the valid example plans. Raise the case count with `PROPTEST_CASES`.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use molotov_dsl::{CompileOptions, Severity, compile, compile_source};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Compiles on another thread and fails the property if it takes too long (a parser loop
/// that makes no progress would hang forever otherwise).
fn compile_bounded(src: String) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let opts = CompileOptions::with_env([("TARGET", "http://127.0.0.1:1")]);
        let r = compile_source(
            "fuzz.mol",
            &src,
            Path::new("/nonexistent-molotov-dir"),
            &opts,
        );
        let _ = tx.send(r.map(|_| ()).map_err(|d| {
            assert!(d.error_count() >= 1, "Err without an error: {d}");
            assert!(
                d.iter()
                    .all(|x| x.severity == Severity::Error || x.severity == Severity::Warning)
            );
            // Rendering must not panic either.
            d.to_string()
        }));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("compile did not finish in 10 s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("compile panicked"),
    }
}

/// The case count: `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The config of each property: `cases` cases, and the seeds of past failures read from (and
/// new ones saved to) `tests/fuzz_parser.proptest-regressions`, which are run first. (The
/// default persistence looks for the file beside a `lib.rs` or `main.rs`, which an
/// integration test has not, and so read none.)
fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/fuzz_parser.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

const VOCAB: &[&str] = &[
    "defaults",
    "let",
    "setup",
    "worker",
    "teardown",
    "scenario",
    "weight",
    "delay",
    "threshold",
    "include",
    "think",
    "repeat",
    "if",
    "else",
    "for",
    "in",
    "header",
    "log",
    "check",
    "assert",
    "capture",
    "capture?",
    "status",
    "duration",
    "body",
    "jsonpath",
    "regex",
    "count",
    "not",
    "exists",
    "contains",
    "startswith",
    "endswith",
    "matches",
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "as",
    "form",
    "file",
    "base",
    "timeout",
    "p99",
    "errors",
    "rps",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "..",
    "??",
    "\n",
    "\n",
    "\n",
    "  ",
    "#",
    "```",
    "{{",
    "}}",
    "\"",
    "\"x\"",
    "\"$.a\"",
    "\"{{x}}\"",
    "/p/{{id}}",
    "200",
    "-1",
    "1.5",
    "10ms",
    "2s",
    "1%",
    "x",
    "pid",
    "env.TARGET",
    "uuid()",
    "rand_int(1, 2)",
    "pick(xs)",
    "Accept: a",
    "{\"a\": {{x}}}",
    "é",
    "\t",
    "\r\n",
    "\\",
    "\\q",
    "🙂",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..80).prop_map(|toks| {
        let mut s = String::new();
        for t in toks {
            s.push_str(t);
            if !t.ends_with('\n') {
                s.push(' ');
            }
        }
        s
    })
}

fn valid_plans() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "mol") {
            out.push(std::fs::read_to_string(p).unwrap());
        }
    }
    out.sort();
    out
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Swap(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), prop::sample::select(VOCAB)).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ];
    prop::collection::vec(edit, 1..6)
}

fn apply(src: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match e {
            Edit::Delete(a, n) => {
                let a = a % len;
                let end = (a + n).min(chars.len());
                if a < end {
                    chars.drain(a..end);
                }
            }
            Edit::Insert(a, t) => {
                let a = a % (chars.len() + 1);
                for (i, c) in t.chars().enumerate() {
                    chars.insert(a + i, c);
                }
            }
            Edit::Swap(a, b) => {
                if !chars.is_empty() {
                    let (a, b) = (a % chars.len(), b % chars.len());
                    chars.swap(a, b);
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_text_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = compile_bounded(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        let _ = compile_bounded(src);
    }

    #[test]
    fn edited_valid_plans_never_panic(which in any::<usize>(), e in edits()) {
        let plans = valid_plans();
        let src = apply(&plans[which % plans.len()], &e);
        let _ = compile_bounded(src);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Raw bytes through a real file: invalid UTF-8 is a diagnostic, not a panic.
    #[test]
    fn arbitrary_files_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let dir = std::env::temp_dir().join(format!("molotov-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plan.mol");
        std::fs::write(&path, &bytes).unwrap();
        let r = compile(&path, &CompileOptions::with_env([("A", "b")]));
        if std::str::from_utf8(&bytes).is_err() {
            let d = r.expect_err("invalid UTF-8 never compiles");
            // A file that starts with a UTF-16 byte-order mark is named as UTF-16 text.
            let text = d.to_string();
            prop_assert!(
                text.contains("not valid UTF-8") || text.contains("is UTF-16 text, not UTF-8"),
                "{}",
                d
            );
        }
    }
}

#[test]
fn valid_plans_survive_the_bounded_compile() {
    for p in valid_plans() {
        // The included plan's helpers live in a directory this harness does not point at,
        // so only check that the call returns.
        let _ = compile_bounded(p);
    }
}

/// Wide characters (2, 3 and 4 bytes in UTF-8) at the spots where the compiler looks back
/// for the start of a token: a template glued to a number, a bad number or escape, a bare
/// word where a JSON value goes, a number in a JSONPath filter. Slices there once ended
/// inside a character and panicked (found by `edited_valid_plans_never_panic` in CI and by
/// `arbitrary_text_never_panics` at 300,000 cases).
#[test]
fn wide_characters_before_a_token_are_errors_not_panics() {
    for wide in ["é", "€", "😀"] {
        for body in [
            format!(r#"{{"a": {wide}1{{{{n}}}}}}"#),
            format!(r#"{{"a": {wide}{{{{n}}}}}}"#),
            format!(r#"{{"a": {wide}-{{{{n}}}}}}"#),
            format!(r#"{{"a": [1,{wide}2.5e]}}"#),
            format!(r#"{{"a": {wide}tru}}"#),
            format!(r#"{{"a": 1{wide}x}}"#),
            format!(r#"[-{wide}]"#),
            format!(r#"{{"a": 1e{wide}}}"#),
            format!(r#"{{"a": "\{wide}"}}"#),
            format!(r#"{{"a": "\u{wide}"}}"#),
        ] {
            let plan =
                format!("let n = 1\nscenario s {{\n  POST http://127.0.0.1:1/x\n  {body}\n}}\n");
            let r = compile_bounded(plan.clone());
            assert!(r.is_err(), "{plan} compiled");
            assert!(!r.unwrap_err().contains("unknown statement"), "{plan}");
        }
        let plan = format!(
            "scenario s {{\n  GET http://127.0.0.1:1/x\n  capture v = jsonpath \"$.a[?@.b == {wide}1]\"\n}}\n"
        );
        compile_bounded(plan).ok();
    }
}
