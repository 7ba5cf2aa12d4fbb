//! Golden diagnostics: every `tests/errors/NAME.mol` is a broken plan and `NAME.err` holds
//! the exact diagnostics it must produce. Run with `MOLOTOV_BLESS=1` to rewrite the `.err`
//! files after an intended change (then review the diff).

use std::path::{Path, PathBuf};

use molotov_dsl::{CompileOptions, compile_source};

fn errors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/errors")
}

fn render(name: &str, src: &str) -> String {
    let opts = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
    match compile_source(name, src, &errors_dir(), &opts) {
        Ok(_) => "(compiled without errors)\n".to_string(),
        Err(d) => d.to_string(),
    }
}

#[test]
fn broken_plans_produce_the_expected_diagnostics() {
    let dir = errors_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mol"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 30,
        "at least 30 golden cases, found {}",
        cases.len()
    );
    let bless = std::env::var_os("MOLOTOV_BLESS").is_some();
    let mut mismatches = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(case).unwrap();
        let actual = render(&name, &src);
        assert!(
            actual.starts_with("error: "),
            "{name} must fail to compile, got:\n{actual}"
        );
        let expected_path = case.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        if actual != expected {
            mismatches.push(format!(
                "=== {name}\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_diagnostic_has_a_location_frame_and_a_hint() {
    for case in std::fs::read_dir(errors_dir()).unwrap() {
        let path = case.unwrap().path();
        if path.extension().is_none_or(|x| x != "mol") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&path).unwrap();
        let opts = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
        let diags = compile_source(&name, &src, &errors_dir(), &opts).expect_err(&name);
        for d in diags.iter() {
            assert!(
                d.label.is_some() || d.help.is_some(),
                "{name}: no hint for `{}`",
                d.message
            );
            if let Some(loc) = &d.location {
                assert!(
                    loc.line >= 1 && loc.column >= 1 && loc.underline >= 1,
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn crlf_sources_render_frames() {
    // Found by the fuzz properties: a span starting on the `\r` of a CRLF line end.
    let src = "scenario s {\r\n  GET http://127.0.0.1:1/\r\n  think\r\n  thnik 1s\r\n}\r\n";
    let out = render("crlf.mol", src);
    assert_eq!(
        out,
        "error: expected a duration like `1s` or `200ms..1s`, found end of line\n --> crlf.mol:3:8\n  |\n3 |   think\n  |        ^ expected a duration like `1s` or `200ms..1s`\n\nerror: unknown statement `thnik`\n --> crlf.mol:4:3\n  |\n4 |   thnik 1s\n  |   ^^^^^ did you mean `think`?\n"
    );
}

#[test]
fn an_unreadable_plan_is_a_diagnostic() {
    let d = molotov_dsl::compile(
        Path::new("/nonexistent-molotov/plan.mol"),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(d.error_count(), 1);
    assert_eq!(
        d.to_string(),
        "error: cannot read the plan: no such file (/nonexistent-molotov/plan.mol)\n  = help: check the path of the plan file\n"
    );
}
