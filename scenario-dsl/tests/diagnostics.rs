//! Diagnostics for plans whose text is awkward to keep in a golden file (a stray CR, CRLF
//! line endings, wide characters): each case is the plan and the exact rendered output.

use std::path::Path;

use molotov_dsl::{CompileOptions, compile_source};

fn render(src: &str) -> String {
    let opts = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
    match compile_source("t.mol", src, Path::new("."), &opts) {
        Ok(_) => "(compiled without errors)\n".to_string(),
        Err(d) => d.to_string(),
    }
}

#[test]
fn a_cr_inside_a_header_value_is_a_compile_error() {
    let cases: &[(&str, &str)] = &[
        (
            "scenario a {\n  GET http://127.0.0.1:1/\n  X-A: a\rb\n}\n",
            "error: a header value cannot contain a carriage return (CR)\n --> t.mol:3:9\n  |\n3 |   X-A: a\u{FFFD}b\n  |         ^ CR in the value of `X-A`\n  = help: a header value is one line of text: remove this character (the file may mix line endings)\n",
        ),
        (
            "defaults {\n  base http://127.0.0.1:1\n  X-D: d\rd\n}\nscenario a {\n  GET /\n}\n",
            "error: a header value cannot contain a carriage return (CR)\n --> t.mol:3:9\n  |\n3 |   X-D: d\u{FFFD}d\n  |         ^ CR in the value of `X-D`\n  = help: a header value is one line of text: remove this character (the file may mix line endings)\n",
        ),
        (
            "scenario a {\n  GET http://127.0.0.1:1/\n  header X-S: {{\"s\"}}\rb\n}\n",
            "error: a header value cannot contain a carriage return (CR)\n --> t.mol:3:22\n  |\n3 |   header X-S: {{\"s\"}}\u{FFFD}b\n  |                      ^ CR in the value of `X-S`\n  = help: a header value is one line of text: remove this character (the file may mix line endings)\n",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(render(src), *want, "{src:?}");
    }
}

#[test]
fn crlf_line_endings_are_not_a_cr_in_the_value() {
    let src = "scenario a {\r\n  GET http://127.0.0.1:1/\r\n  X-A: ab\r\n  X-B: c # note\r\n}\r\n";
    assert_eq!(render(src), "(compiled without errors)\n");
}
