//! What a value becomes in the request that sends it, through the in-memory fake transport:
//! captured numbers keep their digits; form field names are templates; raw bodies lose the
//! block's indentation; a header name is spelled as the header that wins; header values
//! refuse control characters; `iter` in `teardown worker`; `pick` of an empty list and
//! `??`. Compile errors are checked by their exact diagnostics.

mod support;

use std::path::Path;

use molotov_dsl::{CompileOptions, FailureKind, RunOutcome, ScenarioId, compile_source};
use support::*;

const BASE: &str = "defaults {\n  base http://127.0.0.1:8080\n}\n";

/// Runs scenario 0 of `p` once on worker 0 with `d`; the outcome and the events.
fn run_once(p: &std::sync::Arc<molotov_dsl::Program>, d: &mut FakeDriver) -> (RunOutcome, Events) {
    let mut w = worker(p, 0);
    let mut ev = Events::default();
    let out = block_on(w.run_scenario(ScenarioId(0), d, &mut ev));
    (out, ev)
}

/// The diagnostics of a plan that must not compile.
fn errors(src: &str) -> String {
    let opts = CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080")]);
    match compile_source("t.mol", src, Path::new("."), &opts) {
        Ok(_) => "(compiled without errors)\n".to_string(),
        Err(d) => d.to_string(),
    }
}

/// A captured JSON number goes out as the response wrote it, in every place a template
/// can stand: integers beyond 64 bits keep every digit, `2.50` stays `2.50`.
#[test]
fn captured_numbers_keep_their_digits() {
    const ANSWER: &str = r#"{"id": 123456789012345678901234567890, "neg": -9223372036854775809,
        "u": 18446744073709551616, "price": 2.50, "small": 7, "exp": 1E3,
        "list": [1.10, 99999999999999999999], "obj": {"n": -0.0}}"#;
    let captures = "  GET /order\n  capture id = jsonpath \"$.id\"\n  capture neg = jsonpath \"$.neg\"\n  capture u = jsonpath \"$.u\"\n  capture price = jsonpath \"$.price\"\n  capture small = jsonpath \"$.small\"\n  capture exp = jsonpath \"$.exp\"\n  capture list = jsonpath \"$.list\"\n  capture obj = jsonpath \"$.obj\"\n  capture all = jsonpath \"$.list[*]\"\n";
    type Part = fn(&Sent) -> String;
    let path: Part = |s| s.path.clone();
    let header: Part = |s| s.header("X-V").unwrap_or("(none)").to_string();
    let body: Part = |s| s.body_str().to_string();
    let cases: &[(&str, Part, &str)] = &[
        ("GET /o/{{id}}", path, "/o/123456789012345678901234567890"),
        (
            "GET /o?u={{u}}&n={{neg}}",
            path,
            "/o?u=18446744073709551616&n=-9223372036854775809",
        ),
        ("GET /o/{{price}}/{{small}}", path, "/o/2.50/7"),
        (
            "GET {{\"/o/\"}}{{id}}",
            path,
            "/o/123456789012345678901234567890",
        ),
        (
            "GET /o\n  X-V: {{id}} {{price}}",
            header,
            "123456789012345678901234567890 2.50",
        ),
        (
            "POST /o\n  {\"id\": {{id}}, \"s\": \"{{id}}\", \"p\": {{price}}, \"l\": {{list}}, \"o\": {{obj}}}",
            body,
            r#"{"id": 123456789012345678901234567890, "s": "123456789012345678901234567890", "p": 2.50, "l": [1.10,99999999999999999999], "o": {"n":-0.0}}"#,
        ),
        (
            "POST /o\n  form { id: {{id}}, p: {{price}} }",
            body,
            "id=123456789012345678901234567890&p=2.50",
        ),
        (
            "POST /o\n  ```\n{{id}} {{u}}\n  ```",
            body,
            "123456789012345678901234567890 18446744073709551616",
        ),
        // serde_json spells an exponent `e+3`: the same number.
        ("GET /o/{{exp}}", path, "/o/1e+3"),
        // A non-singular path's list, and a number in a `let`.
        ("GET /o?a={{all[1]}}", path, "/o?a=99999999999999999999"),
        (
            "let x = id\n  GET /o/{{x}}",
            path,
            "/o/123456789012345678901234567890",
        ),
    ];
    for (request, part, want) in cases {
        let src = format!("{BASE}scenario s {{\n{captures}  {request}\n}}\n");
        let p = program(&src);
        let mut d = FakeDriver::new(|s| {
            Ok(if s.path == "/order" {
                FakeResponse::json(200, ANSWER)
            } else {
                FakeResponse::status(200)
            })
        });
        let (out, ev) = run_once(&p, &mut d);
        assert_eq!(out, RunOutcome::Success, "{request}: {:?}", ev.0);
        assert_eq!(part(&d.sent[1]), *want, "{request}");
    }
}

/// A decimal number written in the plan keeps its spelling too, in every place (`let v =
/// 1.10` then `GET /v{{v}}` requested `/v1.1`), and still compares by value.
#[test]
fn decimals_written_in_the_plan_keep_their_spelling() {
    let src = format!(
        "{BASE}let v = 1.10\nscenario s {{\n  GET /v{{{{v}}}}/{{{{2.50}}}}/{{{{-0.0}}}}/{{{{0.000001}}}}?n={{{{[1.0, 2.50]}}}}\n  X-V: {{{{v}}}}\n  {{\"v\": {{{{v}}}}, \"s\": \"{{{{v}}}}\"}}\n  check status == 200.0\n  check jsonpath \"$.n\" == 1.10\n}}\n"
    );
    let p = program(&src);
    let mut d = FakeDriver::new(|_| Ok(FakeResponse::json(200, r#"{"n": 1.1}"#)));
    let (out, ev) = run_once(&p, &mut d);
    assert_eq!(out, RunOutcome::Success, "{:?}", ev.0);
    let sent = &d.sent[0];
    assert_eq!(sent.path, "/v1.10/2.50/-0.0/0.000001?n=%5B1.0,2.50%5D");
    assert_eq!(sent.header("X-V"), Some("1.10"));
    assert_eq!(sent.body_str(), r#"{"v": 1.10, "s": "1.10"}"#);
}

/// Integers beyond 64 bits compare exactly (as text on the right, the only way a plan can
/// write them): the neighbour of a 30-digit number is not equal to it.
#[test]
fn numbers_beyond_64_bits_compare_exactly() {
    let src = format!(
        "{BASE}scenario s {{\n  GET /order\n  check jsonpath \"$.id\" == \"123456789012345678901234567890\"\n  check jsonpath \"$.id\" == \"123456789012345678901234567891\"\n  check jsonpath \"$.id\" != \"123456789012345678901234567891\"\n  check jsonpath \"$.id\" > 9223372036854775807\n}}\n"
    );
    let p = program(&src);
    let mut d = FakeDriver::new(|_| {
        Ok(FakeResponse::json(
            200,
            r#"{"id": 123456789012345678901234567890}"#,
        ))
    });
    let (out, ev) = run_once(&p, &mut d);
    assert_eq!(out, RunOutcome::Success);
    let passed: Vec<bool> = ev.checks().iter().map(|(_, ok)| *ok).collect();
    assert_eq!(passed, [true, false, true, true]);
}

/// A literal number no `f64` can hold is still refused in a JSON body (serde_json keeps a
/// number's text, so the compiler checks the range itself).
#[test]
fn a_json_body_number_beyond_f64_is_a_compile_error() {
    let src = format!("{BASE}scenario s {{\n  POST /o\n  {{\"a\": [1, 2.5e308]}}\n}}\n");
    assert_eq!(
        errors(&src),
        "error: invalid JSON body\n --> t.mol:6:13\n  |\n6 |   {\"a\": [1, 2.5e308]}\n  |             ^ number out of range\n"
    );
    // 30 digits are in range (as `f64`), and sent as written.
    let src = format!(
        "{BASE}scenario s {{\n  POST /o\n  {{\"a\": 123456789012345678901234567890}}\n}}\n"
    );
    assert_eq!(errors(&src), "(compiled without errors)\n");
}

/// Templates in form field names are rendered and form-encoded as values are, and their
/// variables are checked when the plan is compiled.
#[test]
fn form_field_names_are_templates() {
    let cases: &[(&str, &str)] = &[
        (
            "form {\n    {{field}}: bot{{worker}}\n    pre{{field}}: y\n  }",
            "user=bot0&preuser=y",
        ),
        (
            "form { {{field}}: 1, {{\"a b&c=\"}}: 2 }",
            "user=1&a+b%26c%3D=2",
        ),
        ("form {\n    {{n}}{{field}}: {{n}}\n  }", "7user=7"),
        ("form { plain name: x }", "plain+name=x"),
    ];
    for (form, want) in cases {
        let src = format!(
            "{BASE}let field = \"user\"\nlet n = 7\nscenario s {{\n  POST /login\n  {form}\n}}\n"
        );
        let p = program(&src);
        let mut d = FakeDriver::ok();
        let (out, ev) = run_once(&p, &mut d);
        assert_eq!(out, RunOutcome::Success, "{form}: {:?}", ev.0);
        assert_eq!(d.sent[0].body_str(), *want, "{form}");
    }
    let src = format!(
        "{BASE}let field = \"user\"\nscenario s {{\n  POST /login\n  form {{\n    {{{{fiel}}}}: x\n  }}\n}}\n"
    );
    assert_eq!(
        errors(&src),
        "error: undefined variable `fiel`\n --> t.mol:8:7\n  |\n8 |     {{fiel}}: x\n  |       ^^^^ did you mean `field`?\n"
    );
}

/// A `Content-Length` or `Transfer-Encoding` header, in a request, in `defaults` or sticky,
/// is a compile error: molotov frames the body itself, and every request would be refused.
#[test]
fn framing_headers_are_compile_errors() {
    let cl = |line: usize, col: usize, text: &str, name: &str| {
        let caret = format!("{}{}", " ".repeat(col - 1), "^".repeat(name.len()));
        format!(
            "error: header `{name}` cannot be set in a plan\n --> t.mol:{line}:{col}\n  |\n{line} | {text}\n  | {caret} computed from the body\n  = help: remove it: molotov writes the length of each request's body itself\n"
        )
    };
    let te = |line: usize, col: usize, text: &str, name: &str| {
        let caret = format!("{}{}", " ".repeat(col - 1), "^".repeat(name.len()));
        format!(
            "error: header `{name}` cannot be set in a plan\n --> t.mol:{line}:{col}\n  |\n{line} | {text}\n  | {caret} not supported in requests\n  = help: remove it: a request body is sent whole, with its `Content-Length`\n"
        )
    };
    let cases: Vec<(String, String)> = vec![
        (
            format!("{BASE}scenario s {{\n  POST /x\n  Content-Length: 8\n  {{\"a\": 1}}\n}}\n"),
            cl(6, 3, "  Content-Length: 8", "Content-Length"),
        ),
        (
            format!("{BASE}scenario s {{\n  GET /x\n  transfer-encoding: chunked\n}}\n"),
            te(6, 3, "  transfer-encoding: chunked", "transfer-encoding"),
        ),
        (
            "defaults {\n  base http://127.0.0.1:8080\n  Transfer-Encoding: chunked\n}\nscenario s {\n  GET /x\n}\n".to_string(),
            te(3, 3, "  Transfer-Encoding: chunked", "Transfer-Encoding"),
        ),
        (
            "defaults {\n  base http://127.0.0.1:8080\n  CONTENT-LENGTH: {{\"3\"}}\n}\nscenario s {\n  GET /x\n}\n".to_string(),
            cl(3, 3, "  CONTENT-LENGTH: {{\"3\"}}", "CONTENT-LENGTH"),
        ),
        (
            format!("{BASE}setup worker {{\n  header Content-Length: 0\n}}\nscenario s {{\n  GET /x\n}}\n"),
            cl(5, 10, "  header Content-Length: 0", "Content-Length"),
        ),
    ];
    for (src, want) in &cases {
        assert_eq!(errors(src), *want, "{src}");
    }
    // Other names are sent as written, `Content-Type` and `Transfer-Encoding-X` included.
    let src = format!(
        "{BASE}scenario s {{\n  POST /x\n  Content-Type: text/plain\n  Transfer-Encoding-X: 1\n  Content-Lengthy: 2\n}}\n"
    );
    assert_eq!(errors(&src), "(compiled without errors)\n");
}

/// A raw body is sent without the indentation its lines share with the closing fence (the
/// block's), as a heredoc `<<~` is; what a line has beyond it stays, and so does a
/// template's value.
#[test]
fn raw_bodies_lose_the_block_indentation() {
    let cases: &[(&str, &str)] = &[
        // Indented with the block: nothing of it is sent.
        (
            "  ```\n  Great shop!\n  Sent by {{worker}}\n  ```",
            "Great shop!\nSent by 0",
        ),
        // A line indented further keeps what is beyond the common indentation.
        ("  ```\n  a:\n    b: 1\n  ```", "a:\n  b: 1"),
        // The closing fence further left keeps the lines' indentation.
        ("  ```\n    x\n    y\n```", "    x\n    y"),
        // A line that starts at the margin: nothing is removed.
        ("  ```\nfirst\n  second\n  ```", "first\n  second"),
        // Blank lines (spaces only, or none) do not count, and lose the indentation.
        ("  ```\n    p\n\n      \n    q\n    ```", "p\n\n  \nq"),
        // Tabs count as written: a tab and two spaces share nothing.
        ("  ```\n\tt\n  s\n  ```", "\tt\n  s"),
        ("\t```\n\tone\n\t\ttwo\n\t```", "one\n\ttwo"),
        // A line starting with a template; a value with a newline keeps its text.
        ("  ```\n  {{text}}\n  end\n  ```", "a\n  b\nend"),
        ("  ```\n  ```", ""),
    ];
    for (body, want) in cases {
        let src =
            format!("{BASE}let text = \"a\\n  b\"\nscenario s {{\n  POST /notes\n{body}\n}}\n");
        let p = program(&src);
        for crlf in [false, true] {
            let p = if crlf {
                program(&src.replace('\n', "\r\n"))
            } else {
                p.clone()
            };
            let mut d = FakeDriver::ok();
            let (out, ev) = run_once(&p, &mut d);
            assert_eq!(out, RunOutcome::Success, "{body:?}: {:?}", ev.0);
            assert_eq!(d.sent[0].body_str(), *want, "{body:?} (CRLF: {crlf})");
        }
    }
}

/// When a request or sticky header replaces a `defaults` header (names compare
/// case-insensitively), the name is sent as the winner spells it.
#[test]
fn the_winning_header_spells_the_name() {
    let defaults = "defaults {\n  base http://127.0.0.1:8080\n  content-TYPE: text/from-defaults\n  accept: text/plain\n  X-Keep: k\n}\n";
    /// `setup worker`'s lines, the request, the headers sent.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        (
            "",
            "  POST /x\n  CONTENT-TYPE: text/req\n  Accept: application/json\n  {\"a\": 1}",
            &[
                ("X-Keep", "k"),
                ("CONTENT-TYPE", "text/req"),
                ("Accept", "application/json"),
            ],
        ),
        (
            "  header Content-Type: text/sticky\n",
            "  GET /x",
            &[
                ("accept", "text/plain"),
                ("X-Keep", "k"),
                ("Content-Type", "text/sticky"),
            ],
        ),
        (
            "  header x-keep: sticky\n",
            "  GET /x\n  X-KEEP: own",
            &[
                ("content-TYPE", "text/from-defaults"),
                ("accept", "text/plain"),
                ("X-KEEP", "own"),
            ],
        ),
        // A sticky header set again with another spelling is sent with the new one.
        (
            "  header x-s: 1\n  header X-S: 1\n",
            "  GET /x",
            &[
                ("content-TYPE", "text/from-defaults"),
                ("accept", "text/plain"),
                ("X-Keep", "k"),
                ("X-S", "1"),
            ],
        ),
    ];
    for (setup, request, want) in cases {
        let src = format!("{defaults}setup worker {{\n{setup}}}\nscenario s {{\n{request}\n}}\n");
        let p = program(&src);
        let mut w = worker(&p, 0);
        let mut d = FakeDriver::ok();
        let mut ev = Events::default();
        assert_eq!(
            block_on(w.run_worker_setup(&mut d, &mut ev)),
            RunOutcome::Success
        );
        // Twice: the second run may send what the first rendered.
        for _ in 0..2 {
            assert_eq!(
                block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev)),
                RunOutcome::Success
            );
        }
        for sent in &d.sent {
            let got: Vec<(&str, &str)> = sent
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            assert_eq!(got, *want, "{setup}{request}");
        }
    }
}

/// A header value refuses every control character but tab, and DEL (RFC 9110 section 5.5),
/// as it refuses CR, LF and NUL: at run time the request fails and nothing is sent; a
/// constant or literal value is a compile error.
#[test]
fn header_values_refuse_control_characters() {
    for (captured, has) in [
        ("f\u{1}g", "0x01"),
        ("a\u{7f}", "DEL"),
        ("x\u{1b}[2J", "0x1b"),
        ("a\u{b}", "0x0b"),
    ] {
        let answer: &'static str = Box::leak(
            serde_json::json!({ "v": captured })
                .to_string()
                .into_boxed_str(),
        );
        let src = format!(
            "{BASE}scenario s {{\n  GET /cap\n  capture v = jsonpath \"$.v\"\n  GET /x\n  X-V: {{{{v}}}}\n}}\n"
        );
        let p = program(&src);
        let mut d = FakeDriver::new(move |_| Ok(FakeResponse::json(200, answer)));
        let (out, ev) = run_once(&p, &mut d);
        assert_eq!(out, RunOutcome::Failure, "{captured:?}");
        assert_eq!(d.sent.len(), 1, "{captured:?}: the request is not sent");
        let Event::Failure { kind, message, .. } = ev.failures()[0] else {
            unreachable!()
        };
        assert_eq!(*kind, FailureKind::Render);
        assert_eq!(
            message,
            &format!(
                "a header value cannot contain CR, LF, NUL or another control character but tab (it has {has})"
            )
        );
    }
    // Tab and non-ASCII text are sent as they are.
    let src = format!(
        "{BASE}scenario s {{\n  GET /cap\n  capture v = jsonpath \"$.v\"\n  GET /x\n  X-V: {{{{v}}}}\n}}\n"
    );
    let p = program(&src);
    let mut d = FakeDriver::new(|_| Ok(FakeResponse::json(200, r#"{"v": "a\tb é"}"#)));
    assert_eq!(run_once(&p, &mut d).0, RunOutcome::Success);
    assert_eq!(d.sent[1].header("X-V"), Some("a\tb é"));

    let cases: &[(&str, &str)] = &[
        (
            "scenario s {\n  GET http://127.0.0.1:1/\n  X-A: {{\"\\u0001\\u001f\"}}\n}\n",
            "error: a header value cannot contain a control character\n --> t.mol:3:8\n  |\n3 |   X-A: {{\"\\u0001\\u001f\"}}\n  |        ^^^^^^^^^^^^^^^^^^ this value has 0x01\n  = help: tab is the only control character a header value may hold (RFC 9110, section 5.5)\n",
        ),
        (
            "let del = \"a\\u007f\"\ndefaults {\n  base http://127.0.0.1:1\n  X-D: {{del}}\n}\nscenario s {\n  GET /\n}\n",
            "error: a header value cannot contain a control character\n --> t.mol:4:8\n  |\n4 |   X-D: {{del}}\n  |        ^^^^^^^ this value has DEL\n  = help: tab is the only control character a header value may hold (RFC 9110, section 5.5)\n",
        ),
        (
            "scenario s {\n  GET http://127.0.0.1:1/\n  X-A: a\u{1}b\n}\n",
            "error: a header value cannot contain a control character\n --> t.mol:3:9\n  |\n3 |   X-A: a\u{FFFD}b\n  |         ^ 0x01 in the value of `X-A`\n  = help: tab is the only control character a header value may hold (RFC 9110, section 5.5): remove this one\n",
        ),
        (
            "scenario s {\n  GET http://127.0.0.1:1/\n  header X-S: s\u{7f}\n}\n",
            "error: a header value cannot contain a control character\n --> t.mol:3:16\n  |\n3 |   header X-S: s\u{FFFD}\n  |                ^ DEL in the value of `X-S`\n  = help: tab is the only control character a header value may hold (RFC 9110, section 5.5): remove this one\n",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(errors(src), *want, "{src:?}");
    }
    // A tab, literal or from a constant, is fine.
    assert_eq!(
        errors("scenario s {\n  GET http://127.0.0.1:1/\n  X-A: a\tb {{\"\\t\"}}\n}\n"),
        "(compiled without errors)\n"
    );
}

/// `iter` counts the scenario runs the worker started before: 0 in `setup worker`, 0, 1,
/// 2 in three runs, and 3 in `teardown worker`.
#[test]
fn iter_in_teardown_worker_counts_every_run() {
    let src = format!(
        "{BASE}setup worker {{\n  GET /setup/{{{{iter}}}}\n}}\nscenario s {{\n  GET /run/{{{{iter}}}}\n}}\nteardown worker {{\n  GET /teardown/{{{{iter}}}}\n}}\n"
    );
    let p = program(&src);
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    let mut ev = Events::default();
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Success
    );
    for _ in 0..3 {
        assert_eq!(
            block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev)),
            RunOutcome::Success
        );
    }
    assert_eq!(
        block_on(w.run_worker_teardown(&mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(
        d.paths(),
        ["/setup/0", "/run/0", "/run/1", "/run/2", "/teardown/3"]
    );
}

/// `pick` of an empty list has no item to give: like a missing item, `??` gives its
/// fallback (and without one the run fails with that reason); a constant empty list is a
/// compile error only without a fallback.
#[test]
fn pick_of_an_empty_list_takes_the_default() {
    let src = format!(
        "{BASE}let none = []\nscenario s {{\n  GET /lists\n  capture e = jsonpath \"$.empty\"\n  GET /p/{{{{pick(e) ?? \"none\"}}}}/{{{{pick(none) ?? 5}}}}/{{{{pick(e) ?? pick(e) ?? e[0] ?? \"last\"}}}}\n  GET /q/{{{{pick(e)}}}}\n}}\n"
    );
    let p = program(&src);
    let mut d = FakeDriver::new(|_| Ok(FakeResponse::json(200, r#"{"empty": []}"#)));
    let (out, ev) = run_once(&p, &mut d);
    assert_eq!(out, RunOutcome::Failure);
    assert_eq!(d.paths(), ["/lists", "/p/none/5/last"]);
    let Event::Failure { kind, message, .. } = ev.failures()[0] else {
        unreachable!()
    };
    assert_eq!(
        (*kind, message.as_str()),
        (FailureKind::Render, "pick() of an empty list")
    );
    // Without `??`, a constant empty list is still refused when the plan is compiled.
    let src = format!("{BASE}scenario s {{\n  GET /p/{{{{pick([])}}}}\n}}\n");
    assert!(
        errors(&src).starts_with("error: `pick` of an empty list"),
        "{}",
        errors(&src)
    );
}

/// A number as the default of an environment variable reads the variable as a number:
/// `{"qty": {{qty}}}` sent the number `2` with `QTY` unset and the string `"2"` with
/// `QTY=2`. A value that is not a number is a compile error; a text default keeps the text.
#[test]
fn an_env_var_with_a_number_default_is_a_number() {
    let src = format!(
        "let qty = env.QTY ?? 2\nlet price = env.PRICE ?? 1.5\nlet name = env.NAME ?? \"x\"\n{BASE}scenario s {{\n  POST /o\n  {{\"qty\": {{{{qty}}}}, \"price\": {{{{price}}}}, \"name\": {{{{name}}}}}}\n}}\n"
    );
    let body = |p: &std::sync::Arc<molotov_dsl::Program>| {
        let mut d = FakeDriver::ok();
        let (out, ev) = run_once(p, &mut d);
        assert_eq!(out, RunOutcome::Success, "{:?}", ev.0);
        d.sent[0].body_str().to_string()
    };
    let unset = program(&src);
    assert_eq!(body(&unset), r#"{"qty": 2, "price": 1.5, "name": "x"}"#);
    let set = program_with_env(&src, [("QTY", "2"), ("PRICE", "2.50"), ("NAME", "7")]);
    assert_eq!(body(&set), r#"{"qty": 2, "price": 2.50, "name": "7"}"#);
    let opts = CompileOptions::with_env([("QTY", "two")]);
    let err = match compile_source("t.mol", &src, Path::new("."), &opts) {
        Ok(_) => "(compiled without errors)\n".to_string(),
        Err(d) => d.to_string(),
    };
    assert_eq!(
        err,
        "error: `env.QTY` is `two`, not a number\n --> t.mol:1:11\n  |\n1 | let qty = env.QTY ?? 2\n  |           ^^^^^^^ read as a number, as its default `2` is\n  = help: set it to a number (like `2`), or quote the default (`env.QTY ?? \"2\"`) to take the text as it is\n"
    );
}

/// A form body is sent with its own type, even when `defaults` (or a sticky header) sets
/// `Content-Type: application/json`; a `Content-Type` line of the request wins over it.
#[test]
fn a_form_body_keeps_its_content_type() {
    let defaults =
        "defaults {\n  base http://127.0.0.1:8080\n  Content-Type: application/json\n}\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "",
            "  POST /login\n  form { user: a }",
            "application/x-www-form-urlencoded",
        ),
        (
            "  header Content-Type: text/sticky\n",
            "  POST /login\n  form { user: a }",
            "application/x-www-form-urlencoded",
        ),
        (
            "",
            "  POST /login\n  Content-Type: application/x-www-form-urlencoded; charset=utf-8\n  form { user: a }",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        // A JSON body takes the type of `defaults`, as before.
        ("", "  POST /o\n  {\"a\": 1}", "application/json"),
    ];
    for (setup, request, want) in cases {
        let src = format!("{defaults}setup worker {{\n{setup}}}\nscenario s {{\n{request}\n}}\n");
        let p = program(&src);
        let mut w = worker(&p, 0);
        let mut d = FakeDriver::ok();
        let mut ev = Events::default();
        assert_eq!(
            block_on(w.run_worker_setup(&mut d, &mut ev)),
            RunOutcome::Success
        );
        assert_eq!(
            block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev)),
            RunOutcome::Success
        );
        let types: Vec<&str> = d.sent[0]
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(types, [*want], "{setup}{request}");
    }
}

/// A sticky header whose value renders empty is sent empty, as the same value is from
/// `defaults` or a request's own header line; only `header Name:` with nothing after the
/// colon removes it.
#[test]
fn a_sticky_header_that_renders_empty_is_sent() {
    let src = format!(
        "{BASE}scenario s {{\n  let e = \"\"\n  header X-Sticky: {{{{e}}}}\n  header X-Gone: 1\n  header X-Gone:\n  GET /a\n  X-Direct: {{{{e}}}}\n}}\n"
    );
    let p = program(&src);
    let mut d = FakeDriver::ok();
    let (out, ev) = run_once(&p, &mut d);
    assert_eq!(out, RunOutcome::Success, "{:?}", ev.0);
    let got: Vec<(&str, &str)> = d.sent[0]
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, [("X-Sticky", ""), ("X-Direct", "")]);
}

/// A body that is one template is a JSON body holding the value (it was refused as an
/// unclosed `{`).
#[test]
fn a_body_that_is_one_template_is_its_value_as_json() {
    let src = format!(
        "{BASE}let payload = {{\"sku\": \"A-1\", \"qty\": 2}}\nlet s = \"a\\\"b\"\nscenario s {{\n  POST /cart\n  {{{{payload}}}}\n  check status == 200\n  POST /text\n  {{{{s}}}}\n}}\n"
    );
    let p = program(&src);
    let mut d = FakeDriver::ok();
    let (out, ev) = run_once(&p, &mut d);
    assert_eq!(out, RunOutcome::Success, "{:?}", ev.0);
    assert_eq!(d.sent[0].body_str(), r#"{"qty":2,"sku":"A-1"}"#);
    assert_eq!(d.sent[0].header("Content-Type"), Some("application/json"));
    assert_eq!(d.sent[1].body_str(), r#""a\"b""#);
    assert_eq!(ev.checks().len(), 1);
}
