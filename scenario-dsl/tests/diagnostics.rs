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

/// The plan's warnings, rendered; the plan must compile.
fn warnings(src: &str) -> String {
    let opts = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
    match compile_source("t.mol", src, Path::new("."), &opts) {
        Ok(p) => p.warnings().to_string(),
        Err(d) => panic!("{src}\ndoes not compile:\n{d}"),
    }
}

#[test]
fn a_dollar_template_is_a_warning_with_the_template_to_write() {
    let plan = |lines: &str| {
        format!(
            "defaults {{\n  base http://127.0.0.1:1\n}}\nscenario s {{\n  GET /t\n  capture id = jsonpath \"$.id\"\n{lines}\n}}\n"
        )
    };
    let warning = |line: usize, text: &str, at: usize, written: &str, meant: &str| {
        let n = line.to_string();
        let pad = " ".repeat(n.len());
        format!(
            "warning: `{written}` is kept as written: a template is `{{{{{meant}}}}}`\n{pad}--> t.mol:{line}:{at}\n{pad} |\n{n} | {text}\n{pad} | {}{} not a template\n{pad} = help: write `{{{{{meant}}}}}` for the value of `{meant}`; to keep `{written}` as it is, write `{{{{\"{written}\"}}}}`\n",
            " ".repeat(at - 1),
            "^".repeat(written.len()),
        )
    };
    let cases: &[(&str, String)] = &[
        // In a target, a header value, a JSON body, a form, a string.
        (
            "  GET /cart/${id}?q={{id}}",
            warning(7, "  GET /cart/${id}?q={{id}}", 13, "${id}", "id"),
        ),
        (
            "  GET /x\n  X-Tok: Bearer ${ id }",
            warning(8, "  X-Tok: Bearer ${ id }", 17, "${ id }", "id"),
        ),
        (
            "  POST /x\n  {\"a\": \"${id}\", \"n\": {{id}}}",
            warning(8, "  {\"a\": \"${id}\", \"n\": {{id}}}", 10, "${id}", "id"),
        ),
        (
            "  POST /x\n  form {\n    user: bot${__VU}\n  }",
            warning(9, "    user: bot${__VU}", 14, "${__VU}", "worker"),
        ),
        (
            "  log \"host ${__ENV.HOST} iter ${__ITER}\"",
            warning(
                7,
                "  log \"host ${__ENV.HOST} iter ${__ITER}\"",
                13,
                "${__ENV.HOST}",
                "env.HOST",
            ) + "\n"
                + &warning(
                    7,
                    "  log \"host ${__ENV.HOST} iter ${__ITER}\"",
                    32,
                    "${__ITER}",
                    "iter",
                ),
        ),
        // Not a name, a `$` before a template, an escape: no warning.
        ("  GET /a/$%7Bid%7D/${1}/${a-b}/$x/${{id}}", String::new()),
        ("  GET /x\n  X-Tok: {{\"${id}\"}}", String::new()),
        // A raw body is sent as written: a shell script may hold `${HOME}`.
        ("  POST /x\n  ```\n  echo ${HOME}\n  ```", String::new()),
    ];
    for (lines, want) in cases {
        assert_eq!(warnings(&plan(lines)), *want, "{lines}");
    }
}

#[test]
fn a_dollar_template_in_defaults_is_a_warning_too() {
    let src =
        "defaults {\n  base http://127.0.0.1:1\n  X-Run: ${RUN}\n}\nscenario s {\n  GET /\n}\n";
    let out = warnings(src);
    assert!(
        out.starts_with(
            "warning: `${RUN}` is kept as written: a template is `{{RUN}}`\n --> t.mol:3:10\n"
        ),
        "{out}"
    );
}

#[test]
fn an_environment_variable_that_is_not_utf8_is_an_error_not_unset() {
    use std::os::unix::ffi::OsStringExt;
    let opts = CompileOptions {
        env: Box::new(|name| match name {
            "XV" => Err(std::env::VarError::NotUnicode(
                std::ffi::OsString::from_vec(b"caf\xe9".to_vec()),
            )),
            _ => Err(std::env::VarError::NotPresent),
        }),
    };
    for src in [
        "scenario s {\n  GET http://127.0.0.1:1/{{env.XV}}\n}\n",
        // Set, so the default does not apply (it used to, silently).
        "let v = env.XV ?? \"DEFAULT\"\nscenario s {\n  GET http://127.0.0.1:1/x\n  log \"{{v}}\"\n}\n",
    ] {
        let err = match compile_source("t.mol", src, Path::new("."), &opts) {
            Ok(_) => panic!("{src}: compiled"),
            Err(d) => d.to_string(),
        };
        assert!(
            err.starts_with("error: environment variable `XV` is not valid UTF-8\n"),
            "{err}"
        );
    }
    // Unset: the default, as before.
    let src = "let v = env.XN ?? \"DEFAULT\"\nscenario s {\n  GET http://127.0.0.1:1/x\n  log \"{{v}}\"\n}\n";
    assert!(compile_source("t.mol", src, Path::new("."), &opts).is_ok());
}

#[test]
fn invisible_characters_are_named_escaped() {
    for (ch, shown) in [
        ("\u{200b}", "\\u{200b}"),
        ("\u{feff}", "\\u{feff}"),
        ("\u{202e}", "\\u{202e}"),
    ] {
        let out = render(&format!(
            "scenario s {{\n  {ch}GET http://127.0.0.1:1/x\n}}\n"
        ));
        let head = out.lines().next().unwrap();
        assert_eq!(head, format!("error: unexpected `{shown}`"), "{out}");
        assert!(out.contains("invisible character"), "{out}");
    }
}

#[test]
fn a_surrogate_pair_escape_is_one_character() {
    let plan = |s: &str| {
        format!(
            "scenario s {{\n  GET http://127.0.0.1:1/x\n  check jsonpath \"$.a\" == \"{s}\"\n}}\n"
        )
    };
    assert_eq!(
        render(&plan("\\ud83d\\ude00")),
        "(compiled without errors)\n"
    );
    assert_eq!(
        render(&plan("\\uD83D\\uDE00 and \\u00e9")),
        "(compiled without errors)\n"
    );
    assert_eq!(
        render(
            "let v = \"\\ud83d\\ude00\"\nscenario s {\n  GET http://127.0.0.1:1/x\n  log \"{{v}}\"\n}\n"
        ),
        "(compiled without errors)\n"
    );
    for half in ["\\ud83d", "\\ude00", "\\ud83dx", "\\ud83d\\u0041"] {
        let out = render(&plan(half));
        assert!(
            out.starts_with("error: invalid `\\u` escape: half of a surrogate pair"),
            "{half}: {out}"
        );
    }
}

#[test]
fn a_diagnostic_never_floods_the_terminal() {
    // A 200,000-character regex is quoted cut in the headline.
    let src = format!(
        "scenario s {{\n  GET http://127.0.0.1:1/x\n  check body matches \"{}([\"\n}}\n",
        "a".repeat(200_000)
    );
    let out = render(&src);
    assert!(out.len() < 2_000, "{} bytes", out.len());
    assert!(
        out.starts_with(&format!("error: invalid regex `{}…`", "a".repeat(79))),
        "{out}"
    );
    // A line of zero-width characters is cut as a line of wide ones is.
    let src = format!(
        "scenario s {{\n  GET http://127.0.0.1:1/x\n  check body contains \"{}\" andd\n}}\n",
        "\u{301}".repeat(200_000)
    );
    let out = render(&src);
    assert!(out.len() < 2_000, "{} bytes", out.len());
}

#[test]
fn pasted_lookalikes_get_a_hint() {
    let cases = [
        (
            "scenario s {\n  GET http://127.0.0.1:1/x\n}\nthreshold p99 < 250µs\n",
            "error: invalid duration `250µs`",
            "write `0.25ms`",
        ),
        (
            "scenario s {\n  GET http://127.0.0.1:1/x\n  check body contains “ok”\n}\n",
            "error: unexpected character `“`",
            "typographic quote: write a string between straight quotes `\"`",
        ),
        (
            "scenario s {\n  GET\u{a0}http://127.0.0.1:1/x\n}\n",
            "error: invalid request target",
            "`\\u{a0}` is a no-break space (U+00A0), not a plain space",
        ),
    ];
    for (src, head, hint) in cases {
        let out = render(src);
        assert!(out.starts_with(head), "{out}");
        assert!(out.contains(hint), "{out}");
    }
}

/// A generated plan with one systematic mistake on a long line: every occurrence was a
/// diagnostic holding a copy of the whole line, all printed (a 108 KB plan: 12,000 errors,
/// 4.7 MB of output, 1.3 GB of memory; an 889 KB JSON body: past 13 GB). The first
/// `MAX_SHOWN` are kept and shown, the others counted in one line; each keeps only the part
/// of its line a frame shows.
#[test]
fn a_long_line_with_a_repeated_mistake_gives_a_bounded_report() {
    let shown = molotov_dsl::MAX_SHOWN;
    let header = format!(
        "scenario s {{\n  GET http://127.0.0.1:1/x\n  X-A: {}\n}}\n",
        "{{nope}} ".repeat(12_000)
    );
    let fields: Vec<String> = (0..50_000)
        .map(|i| format!("\"k{i}\": 1{{{{v}}}}"))
        .collect();
    let body = format!(
        "scenario s {{\n  let v = 1\n  POST http://127.0.0.1:1/x\n  {{{}}}\n}}\n",
        fields.join(", ")
    );
    for (src, errors) in [(header, 12_000), (body, 50_000)] {
        let opts = CompileOptions::default();
        let d = compile_source("t.mol", &src, Path::new("."), &opts).unwrap_err();
        assert_eq!(d.error_count(), errors);
        assert_eq!(d.len(), shown);
        assert_eq!(d.omitted(), (errors - shown, 0));
        for one in &d {
            let line = &one.location.as_ref().unwrap().line_text;
            assert!(
                line.len() < 1_000,
                "a diagnostic holds {} bytes of line",
                line.len()
            );
        }
        let text = d.to_string();
        assert!(text.len() < 60_000, "{} bytes", text.len());
        assert_eq!(text.matches("\nerror: ").count() + 1, shown + 1, "{text}");
        assert!(
            text.ends_with(&format!(
                "\n\nerror: {} more errors not shown (the first {shown} problems are shown above)\n",
                errors - shown
            )),
            "{}",
            &text[text.len() - 500..]
        );
    }
}

/// The first error of `src`: its message, its `line:col` and its help (empty when none).
fn first_error(src: &str) -> (String, String, String) {
    let out = render(src);
    let mut lines = out.lines();
    let message = lines.next().unwrap_or_default();
    let message = message
        .strip_prefix("error: ")
        .unwrap_or(message)
        .to_string();
    let at = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("--> t.mol:"))
        .unwrap_or_default()
        .to_string();
    // The help of the first error: before the blank line that starts the next one.
    let help = out
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.trim().strip_prefix("= help: "))
        .unwrap_or_default()
        .to_string();
    (message, at, help)
}

/// A scenario around `lines` (the request on line 5, `lines` from line 6).
fn in_scenario(lines: &str) -> String {
    format!("defaults {{\n  base http://127.0.0.1:1\n}}\nscenario a {{\n  GET /x\n{lines}\n}}\n")
}

#[test]
fn the_first_error_is_the_cause_with_a_hint() {
    // (case, plan, first message, line:col, help).
    let cases: &[(&str, String, &str, &str, &str)] = &[
        (
            "an unclosed `(` stops at the line's end: the scenario's `}` is still seen",
            in_scenario("  capture tok = json($.a\n  GET /y\n  Authorization: Bearer {{tok}}"),
            "a JSONPath is written `jsonpath \"$.a\"`",
            "6:22",
            "a JSONPath is the word `jsonpath` and the path in quotes: write `capture tok = jsonpath \"$.a\"`",
        ),
        (
            "a bare JSONPath after `capture NAME =`",
            in_scenario("  capture tok = $.a"),
            "a JSONPath is written `jsonpath \"$.a\"`",
            "6:17",
            "a JSONPath is the word `jsonpath` and the path in quotes: write `capture tok = jsonpath \"$.a\"`",
        ),
        (
            "a bare JSONPath as a check's query",
            in_scenario("  check $.items[0].id == 1"),
            "a JSONPath is written `jsonpath \"$.items[0].id\"`",
            "6:9",
            "a JSONPath is the word `jsonpath` and the path in quotes: write `check jsonpath \"$.items[0].id\" == 1`",
        ),
        (
            "a shell-style `$name`",
            in_scenario("  check body contains $x"),
            "unexpected character `$`",
            "6:23",
            "write `x` (in a target, a header or a body: `{{x}}`)",
        ),
        (
            "`=` for `==` in a check",
            in_scenario("  check status = 200"),
            "expected an operator (`==`, `<`, `in`, `contains`, `exists`, ...), found `=`",
            "6:16",
            "use `==`: `=` assigns (in `let` and `capture`), `==` compares: write `check status == 200`",
        ),
        (
            "`=` for `==` with CRLF line endings",
            in_scenario("  check status = 200").replace('\n', "\r\n"),
            "expected an operator (`==`, `<`, `in`, `contains`, `exists`, ...), found `=`",
            "6:16",
            "use `==`: `=` assigns (in `let` and `capture`), `==` compares: write `check status == 200`",
        ),
        (
            "JavaScript's `===`",
            in_scenario("  check status === 200"),
            "expected a value, found `=`",
            "6:18",
            "there is no `===`: write `check status == 200`",
        ),
        (
            "`==` in a `let`",
            in_scenario("  let x == 1"),
            "expected `=`, found `==`",
            "6:9",
            "`==` compares, `=` assigns: write `let x = 1`",
        ),
        (
            "`==` in a `capture`",
            in_scenario("  capture x == status"),
            "expected `=`, found `==`",
            "6:13",
            "`==` compares, `=` assigns: write `capture x = status`",
        ),
        (
            "an unclosed `[` in a `let` stops before the next request",
            in_scenario("  let xs = [1, 2\n  GET /z"),
            "unclosed list",
            "6:12",
            "",
        ),
        (
            "an unclosed `(` in a check stops before the `}`",
            in_scenario("  check status == (200"),
            "expected a value, found `(`",
            "6:19",
            "",
        ),
        (
            "an unquoted log message",
            in_scenario("  log hello world"),
            "expected a quoted message, found `hello`",
            "6:7",
            "a message is a string: write `log \"hello world\"`",
        ),
        (
            "a single-quoted string",
            in_scenario("  log 'hi'"),
            "unexpected character `\\'`",
            "6:7",
            "a string is written between double quotes: `\"text\"` (a `'` inside one is plain text)",
        ),
        (
            "Python's `sleep`",
            in_scenario("  sleep 1"),
            "unknown statement `sleep`",
            "6:3",
            "a pause is `think DURATION`, with a unit: `think 1s`, `think 500ms`",
        ),
        (
            "`print` for `log`",
            in_scenario("  print \"x\""),
            "unknown statement `print`",
            "6:3",
            "a message is written with `log \"text\"`",
        ),
        (
            "Python's `elif`, read as the `else if` it means (its `}` closes it)",
            in_scenario(
                "  capture x = status\n  if x == 1 {\n    log \"a\"\n  } elif x == 2 {\n    log \"b\"\n  } else {\n    log \"c\"\n  }",
            ),
            "unexpected `elif` after `}`",
            "9:5",
            "write `} else if CONDITION {`",
        ),
        (
            "an `if` without its `}`: the `}` lined up with `scenario` closes the scenario",
            in_scenario("  capture s = status\n  if s == 200 {\n    log \"a\"\n  GET /y"),
            "unclosed block: `if` has no closing `}`",
            "7:15",
            "the `}` on line 10 lines up with line 4 (`scenario a {`) and closes it: add the `}` of this `if` before line 9 (`GET /y`)",
        ),
        (
            "a `repeat` without its `}` before the next scenario",
            "defaults {\n  base http://127.0.0.1:1\n}\nscenario a {\n  GET /x\n  repeat 3 {\n    GET /y\n}\nscenario b {\n  GET /z\n}\n".to_string(),
            "unclosed block: `repeat` has no closing `}`",
            "6:12",
            "the `}` on line 8 lines up with line 4 (`scenario a {`) and closes it: add the `}` of this `repeat` before line 8 (`}`)",
        ),
        (
            "a `repeat` without its `}` inside a `for`: the innermost block is the one left open",
            in_scenario("  for u in [1, 2] {\n    repeat 2 {\n      GET /y\n  }"),
            "unclosed block: `repeat` has no closing `}`",
            "7:14",
            "the `}` on line 10 lines up with line 4 (`scenario a {`) and closes it: add the `}` of this `repeat` before line 9 (`}`)",
        ),
        (
            "an `else` without its `}`",
            in_scenario("  capture s = status\n  if s == 1 {\n    log \"a\"\n  } else {\n    log \"b\"\n  GET /y"),
            "unclosed block: `else` has no closing `}`",
            "9:10",
            "the `}` on line 12 lines up with line 4 (`scenario a {`) and closes it: add the `}` of this `else` before line 11 (`GET /y`)",
        ),
        (
            "an `if` without its `}`, indented with tabs",
            in_scenario("  capture s = status\n  if s == 200 {\n    log \"a\"\n  GET /y").replace("  ", "\t"),
            "unclosed block: `if` has no closing `}`",
            "7:14",
            "the `}` on line 10 lines up with line 4 (`scenario a {`) and closes it: add the `}` of this `if` before line 9 (`GET /y`)",
        ),
        (
            "a block indented no deeper than its line: the scenario is the one reported",
            in_scenario("  capture s = status\n  if s == 200 {\n  log \"a\"\n  GET /y"),
            "unclosed block: scenario `a` has no closing `}`",
            "4:12",
            "add `}` at the end of the block",
        ),
        (
            "a scenario's `{` on the next line",
            "defaults {\n  base http://127.0.0.1:1\n}\nscenario a weight 2\n{\n  GET /x\n}\n".to_string(),
            "expected `{` to open the scenario",
            "4:20",
            "a block's `{` ends the line that opens it: put `{` on the scenario's line: `scenario a weight 2 {`",
        ),
        (
            "an `if`'s `{` on the next line",
            in_scenario("  capture s = status\n  if s == 1\n  {\n    log \"a\"\n  }"),
            "expected `{` to open `if`",
            "7:12",
            "a block's `{` ends the line that opens it: put `{` on the `if` line: `if s == 1 {`",
        ),
        (
            "`weight=3`",
            "scenario a weight=3 {\n  GET http://127.0.0.1:1/\n}\n".to_string(),
            "unexpected `=` after `weight`",
            "1:18",
            "`weight` and its value are separated by a space: write `weight 3`",
        ),
        (
            "`weight = 3`, spaced, before another setting",
            "scenario a weight = 3 delay 1s {\n  GET http://127.0.0.1:1/\n}\n".to_string(),
            "unexpected `=` after `weight`",
            "1:19",
            "`weight` and its value are separated by a space: write `weight 3`",
        ),
        (
            "`delay=1s`",
            "scenario a delay=1s {\n  GET http://127.0.0.1:1/\n}\n".to_string(),
            "unexpected `=` after `delay`",
            "1:17",
            "`delay` and its value are separated by a space: write `delay 1s`",
        ),
        (
            "`base=URL` in `defaults`",
            "defaults {\n  base=http://127.0.0.1:1\n}\nscenario a {\n  GET /x\n}\n".to_string(),
            "unexpected `=` after `base`",
            "2:7",
            "`base` and its URL are separated by a space: write `base http://127.0.0.1:1`",
        ),
        (
            "`timeout=2s` in `defaults`",
            "defaults {\n  base http://127.0.0.1:1\n  timeout=2s\n}\nscenario a {\n  GET /x\n}\n".to_string(),
            "unexpected `=` after `timeout`",
            "3:10",
            "`timeout` and its value are separated by a space: write `timeout 2s`",
        ),
        (
            "`repeat=3`",
            in_scenario("  repeat=3 {\n    GET /y\n  }"),
            "unexpected `=` after `repeat`",
            "6:9",
            "`repeat` and its value are separated by a space: write `repeat 3`",
        ),
        (
            "`think=1s`",
            in_scenario("  think=1s"),
            "unexpected `=` after `think`",
            "6:8",
            "`think` and its value are separated by a space: write `think 1s`",
        ),
        (
            "a list after `in` without its brackets",
            in_scenario("  check status in 200, 201"),
            "a list is written in brackets",
            "6:19",
            "`in` takes a list: write `check status in [200, 201]`",
        ),
        (
            "an unquoted string in a `let`",
            in_scenario("  let name = bob smith\n  log \"{{name}}\""),
            "a string is written in quotes",
            "6:14",
            "text is quoted: write `let name = \"bob smith\"`",
        ),
        (
            "an unquoted string in a top-level `let`",
            "let name = bob smith 2\nscenario a {\n  GET http://127.0.0.1:1/{{name}}\n}\n".to_string(),
            "a string is written in quotes",
            "1:12",
            "text is quoted: write `let name = \"bob smith 2\"`",
        ),
    ];
    for (case, src, message, at, help) in cases {
        let (m, a, h) = first_error(src);
        assert_eq!(
            (m.as_str(), a.as_str(), h.as_str()),
            (*message, *at, *help),
            "{case}:\n{}",
            render(src)
        );
        // The cause is the only error: no follow-on.
        assert_eq!(
            render(src).matches("error:").count(),
            1,
            "{case}:\n{}",
            render(src)
        );
    }
}

#[test]
fn a_list_or_an_object_still_spans_lines() {
    for src in [
        "let xs = [\n  {\n    a: 1\n  },\n  2,\n]\nscenario a {\n  GET http://127.0.0.1:1/\n  check status in [\n    200,\n    201\n  ]\n}\n",
        "let o = {\n  \"l\": [\n    1,\n  ],\n}\nscenario a {\n  GET http://127.0.0.1:1/\n}\n",
    ] {
        assert_eq!(render(src), "(compiled without errors)\n", "{src}");
    }
}
