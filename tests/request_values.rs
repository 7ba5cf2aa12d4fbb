//! The exact bytes the real `molotov` binary sends for the values of a plan, read by a
//! raw-socket server on loopback that records every request byte for byte (head and body,
//! framed by its Content-Length) and answers each with a JSON body chosen by its path.
//!
//! Every run is bounded (`-w 1 -r N`, and a hard time limit). `MOLOTOV_TEST_BIN` runs
//! another build of molotov instead of this one (an older one, to see a test fail without
//! its fix).

mod capture;
mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use capture::{Answer, CaptureServer};
use support::TempDir;

/// The longest any run of these tests may take.
const LIMIT: Duration = Duration::from_secs(30);

/// The `User-Agent` molotov sends.
const USER_AGENT: &str = concat!("molotov/", env!("CARGO_PKG_VERSION"));

/// A server that answers a request whose path starts with one of `answers`' prefixes (the
/// first that matches) with 200 and that JSON body, any other with `{}`.
fn recorder(answers: &'static [(&'static str, &'static str)]) -> CaptureServer {
    CaptureServer::start(move |path: &str, _port: u16| -> Answer {
        let body = answers
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .map_or("{}", |(_, body)| body);
        (200, String::new(), body.to_string())
    })
}

/// The molotov command these tests run.
fn molotov() -> Command {
    let bin = std::env::var_os("MOLOTOV_TEST_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_molotov").into());
    let mut cmd = Command::new(bin);
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `plan` (its `BASE` replaced by the server's URL) with `args`, and `-q -w 1` unless
/// they are `check`; its output and the requests the server read.
fn run(server: &CaptureServer, plan: &str, args: &[&str]) -> (Output, Vec<Vec<u8>>) {
    let dir = TempDir::new("request-values");
    let file = dir.write("plan.mol", &plan.replace("BASE", &server.base()));
    let mut cmd = molotov();
    if args.first() != Some(&"check") {
        cmd.args(["-q", "-w", "1"]);
    }
    let out = support::run_bounded(cmd.args(args).arg(&file), LIMIT);
    (out, server.requests())
}

/// A request's bytes, readable in a failure message.
fn show(request: &[u8]) -> String {
    String::from_utf8_lossy(request).into_owned()
}

/// A request as molotov writes it: the request line, `Host`, `headers` (each `Name: value`),
/// `User-Agent`, `Content-Length` when there is a body, and the body.
fn expected(line: &str, host: &str, headers: &[&str], body: Option<&str>) -> String {
    let mut text = format!("{line} HTTP/1.1\r\nHost: {host}\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str(&format!("User-Agent: {USER_AGENT}\r\n"));
    if let Some(body) = body {
        text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        text.push_str("\r\n");
    }
    text
}

/// Captured JSON numbers go out with the digits the server wrote: in the path, the query, a
/// header and a JSON body (sweep 5, D2: `123456789012345678901234567890` was sent as
/// `1.2345678901234568e+29`).
#[test]
fn captured_numbers_are_sent_with_their_digits() {
    let server = recorder(&[(
        "/order",
        r#"{"id": 123456789012345678901234567890, "neg": -9223372036854775809, "u": 18446744073709551616, "price": 2.50}"#,
    )]);
    let plan = r#"defaults {
  base BASE
}
scenario s {
  GET /order
  capture id = jsonpath "$.id"
  capture neg = jsonpath "$.neg"
  capture u = jsonpath "$.u"
  capture price = jsonpath "$.price"
  POST /orders/{{id}}?u={{u}}
  X-Id: {{id}}
  {"id": {{id}}, "neg": {{neg}}, "u": {{u}}, "price": {{price}}}
}
"#;
    let (out, requests) = run(&server, plan, &["-r", "1"]);
    support::assert_exit(&out, 0);
    assert_eq!(requests.len(), 2, "{requests:?}");
    let host = server.addr();
    assert_eq!(
        show(&requests[1]),
        expected(
            "POST /orders/123456789012345678901234567890?u=18446744073709551616",
            &host,
            &[
                "Content-Type: application/json",
                "X-Id: 123456789012345678901234567890"
            ],
            Some(
                r#"{"id": 123456789012345678901234567890, "neg": -9223372036854775809, "u": 18446744073709551616, "price": 2.50}"#
            ),
        )
    );
}

/// Templates in form field names are rendered and encoded (sweep 5, D4: they were sent as
/// their source text, `%7B%7Bfield%7D%7D=bot0`).
#[test]
fn form_field_names_are_rendered() {
    let server = recorder(&[]);
    let plan = r#"defaults {
  base BASE
}
let field = "user name"
scenario s {
  POST /login
  form {
    {{field}}: bot{{worker}}
    pre{{field}}: y
  }
}
"#;
    let (out, requests) = run(&server, plan, &["-r", "1"]);
    support::assert_exit(&out, 0);
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        show(&requests[0]),
        expected(
            "POST /login",
            &server.addr(),
            &["Content-Type: application/x-www-form-urlencoded"],
            Some("user+name=bot0&preuser+name=y"),
        )
    );
}

/// A `Content-Length` or `Transfer-Encoding` header in a plan is refused by `check` and by
/// a run, before anything is sent (sweep 5, D6: `check` said ok, and the run sent nothing
/// and ended `Result: OK (exit 0)`).
#[test]
fn framing_headers_are_refused_before_the_run() {
    let server = recorder(&[]);
    let plans = [
        (
            "defaults {\n  base BASE\n}\nscenario s {\n  POST /x\n  Content-Length: 8\n  {\"a\": 1}\n}\n",
            "error: header `Content-Length` cannot be set in a plan",
            "plan.mol:6:3",
        ),
        (
            "defaults {\n  base BASE\n  Transfer-Encoding: chunked\n}\nscenario s {\n  GET /x\n}\n",
            "error: header `Transfer-Encoding` cannot be set in a plan",
            "plan.mol:3:3",
        ),
    ];
    for (plan, headline, at) in plans {
        for args in [&["check"][..], &["-r", "3"][..]] {
            let (out, requests) = run(&server, plan, args);
            support::assert_exit(&out, 2);
            let stderr = support::stderr(&out);
            assert!(stderr.contains(headline), "{args:?}: {stderr}");
            assert!(stderr.contains(at), "{args:?}: {stderr}");
            assert!(requests.is_empty(), "{requests:?}");
        }
    }
}

/// A run whose every scenario run failed before sending anything (here: a header value,
/// captured in `setup`, with a line break) says so and exits 1, not `Result: OK (exit 0)`.
/// Such a request counts as one whose error is `invalid_request` (nothing sent), so the
/// reason is that no response came back, with the Errors table saying why.
#[test]
fn a_run_that_sent_nothing_fails() {
    let server = recorder(&[("/token", r#"{"token": "abc\r\nX-Injected: 1"}"#)]);
    let plan = r#"defaults {
  base BASE
}
setup {
  GET /token
  capture token = jsonpath "$.token"
}
scenario s {
  GET /x
  Authorization: Bearer {{token}}
}
"#;
    let (out, requests) = run(&server, plan, &["-r", "3"]);
    support::assert_exit(&out, 1);
    let stdout = support::stdout(&out);
    assert!(
        stdout.contains(
            "Result: FAILED: no response came back: all 3 scenario runs failed, and none of \
             their 3 requests got a complete response (see Errors) (exit 1)"
        ),
        "{stdout}"
    );
    // Only `setup`'s request reached the server.
    assert_eq!(requests.len(), 1, "{requests:?}");
    // With one scenario run that sends, failed runs alone do not fail the run (`-f` does).
    let plan = plan
        .replace("  GET /x\n", "  GET /x\n  GET /y\n")
        .replace("  Authorization: Bearer {{token}}\n", "");
    let plan = plan.replace(
        "  GET /y\n",
        "  GET /y\n  Authorization: Bearer {{token}}\n",
    );
    let (out, _) = run(&server, &plan, &["-r", "3"]);
    support::assert_exit(&out, 0);
}

/// A raw body indented with its block is sent without that indentation (sweep 5, D7: every
/// line went out with the block's two spaces).
#[test]
fn raw_bodies_are_sent_without_the_block_indentation() {
    let server = recorder(&[]);
    let plan = "defaults {\n  base BASE\n}\nscenario s {\n  POST /feedback\n  Content-Type: text/plain\n  ```\n  Great shop!\n    Sent by worker {{worker}}\n  ```\n}\n";
    let (out, requests) = run(&server, plan, &["-r", "1"]);
    support::assert_exit(&out, 0);
    assert_eq!(
        requests.iter().map(|r| show(r)).collect::<Vec<_>>(),
        [expected(
            "POST /feedback",
            &server.addr(),
            &["Content-Type: text/plain"],
            Some("Great shop!\n  Sent by worker 0"),
        )]
    );
}

/// A request or sticky header that replaces a `defaults` header is sent under its own
/// spelling of the name (sweep 5, D8: `defaults`' spelling went out with the new value).
#[test]
fn the_winning_header_spells_the_name() {
    let server = recorder(&[]);
    let plan = r#"defaults {
  base BASE
  content-TYPE: text/from-defaults
  accept: text/plain
}
setup worker {
  header ACCEPT: text/sticky
}
scenario s {
  POST /x
  CONTENT-TYPE: text/req
  {"a": 1}
}
"#;
    let (out, requests) = run(&server, plan, &["-r", "2"]);
    support::assert_exit(&out, 0);
    let want = expected(
        "POST /x",
        &server.addr(),
        &["ACCEPT: text/sticky", "CONTENT-TYPE: text/req"],
        Some(r#"{"a": 1}"#),
    );
    assert_eq!(
        requests.iter().map(|r| show(r)).collect::<Vec<_>>(),
        [want.clone(), want]
    );
}

/// A header value with a control character other than CR, LF and NUL (here 0x01 and DEL,
/// captured) fails its request, which is not sent, as CR and LF do (sweep 5, D9: they were
/// sent raw); tab is sent.
#[test]
fn header_values_with_control_characters_are_not_sent() {
    let server = recorder(&[("/cap", r#"{"ctl": "f\u0001g\u007fh", "tab": "a\tb"}"#)]);
    let plan = r#"defaults {
  base BASE
}
scenario s {
  GET /cap
  capture ctl = jsonpath "$.ctl"
  capture tab = jsonpath "$.tab"
  GET /tab
  X-Tab: {{tab}}
  GET /ctl
  X-Ctl: {{ctl}}
}
"#;
    let (out, requests) = run(&server, plan, &["-r", "1", "-v"]);
    support::assert_exit(&out, 0);
    let sent: Vec<String> = requests.iter().map(|r| show(r)).collect();
    let host = server.addr();
    assert_eq!(
        sent,
        [
            expected("GET /cap", &host, &[], None),
            expected("GET /tab", &host, &["X-Tab: a\tb"], None),
        ]
    );
    let output = format!("{}{}", support::stdout(&out), support::stderr(&out));
    assert!(
        output.contains("another control character but tab (it has 0x01)"),
        "{output}"
    );
}

/// `iter` in `teardown worker` is the number of scenario runs the worker started (sweep 5,
/// D11: it was the last run's `iter`, 2 after 3 runs).
#[test]
fn iter_in_teardown_worker_counts_the_runs() {
    let server = recorder(&[]);
    let plan = "defaults {\n  base BASE\n}\nsetup worker {\n  GET /setup-worker/{{iter}}\n}\nscenario s {\n  GET /scenario/{{iter}}\n}\nteardown worker {\n  GET /teardown-worker/{{iter}}\n}\n";
    let (out, requests) = run(&server, plan, &["-r", "3"]);
    support::assert_exit(&out, 0);
    let lines: Vec<String> = requests
        .iter()
        .map(|r| show(r).lines().next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "GET /setup-worker/0 HTTP/1.1",
            "GET /scenario/0 HTTP/1.1",
            "GET /scenario/1 HTTP/1.1",
            "GET /scenario/2 HTTP/1.1",
            "GET /teardown-worker/3 HTTP/1.1",
        ]
    );
}

/// k6's `${NAME}` is not a template: `check` and a run warn on stderr, with the template to
/// write, and the plan runs, sending the text as written (sweep 8, journeys 6: `check` said
/// ok, and `/cart/$%7Bid%7D` went out without a word).
#[test]
fn a_dollar_template_is_sent_as_written_with_a_warning() {
    let server = recorder(&[("/login", r#"{"id": 7}"#)]);
    let plan = r#"defaults {
  base BASE
}
scenario s {
  GET /login
  capture id = jsonpath "$.id"
  POST /cart/${id}
  X-Tok: ${id}
  {"a": "${id}"}
}
"#;
    let warning = "warning: `${id}` is kept as written: a template is `{{id}}`\n --> ";
    let (out, requests) = run(&server, plan, &["check"]);
    support::assert_exit(&out, 0);
    let stderr = support::stderr(&out);
    assert_eq!(stderr.matches(warning).count(), 3, "{stderr}");
    assert!(stderr.contains("plan.mol:7:14\n"), "{stderr}");
    assert!(support::stdout(&out).contains(": ok (1 scenario, 2 requests"));
    assert!(requests.is_empty(), "{requests:?}");

    let (out, requests) = run(&server, plan, &["-r", "1"]);
    support::assert_exit(&out, 0);
    let stderr = support::stderr(&out);
    assert_eq!(stderr.matches(warning).count(), 3, "{stderr}");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        show(&requests[1]),
        expected(
            "POST /cart/$%7Bid%7D",
            &server.addr(),
            &["Content-Type: application/json", "X-Tok: ${id}"],
            Some(r#"{"a": "${id}"}"#),
        )
    );
}

/// A request the plan cannot build (a captured header value with a control character, a
/// run-time target that is not http(s)) is counted: one request, one `invalid_request` error,
/// so `threshold errors` sees it (sweep 10: it was counted nowhere, `errors < 1%` passed at
/// 0.00% while every run failed, and without `-v` nothing said why).
#[test]
fn a_request_that_cannot_be_built_counts_as_an_invalid_request() {
    let server = recorder(&[("/cap", r#"{"ctl": "f\u007fg"}"#)]);
    let plan = r#"defaults {
  base BASE
}
scenario s {
  GET /cap
  capture ctl = jsonpath "$.ctl"
  GET /ctl
  X-Ctl: {{ctl}}
}
scenario t {
  let u = "ftp://example.com/x"
  GET {{u}}
}
threshold errors < 1%
"#;
    let dir = TempDir::new("unbuilt-request");
    let json = dir.0.join("r.json");
    let (out, requests) = run(
        &server,
        plan,
        &["--single-run", "--json", support::path_str(&json)],
    );
    support::assert_exit(&out, 3);
    let r = support::read_json(&json);
    // The run of `s` sends /cap and fails at /ctl; the run of `t` fails at once.
    let sent = requests.len() as u64;
    let failed = r["totals"]["failures"].as_u64().unwrap();
    assert_eq!(failed, 2, "{r}");
    assert_eq!(r["errors"]["invalid_request"], failed, "{r}");
    assert_eq!(r["totals"]["errors"], failed, "{r}");
    assert_eq!(r["totals"]["requests"], sent + failed, "{r}");
    assert_eq!(r["totals"]["responses"], sent, "{r}");
    // Each request's own row counts it once, as an error (not as unfinished: it ended).
    let rows = r["requests"].as_array().unwrap();
    for row in rows {
        let n = |k: &str| row[k].as_u64().unwrap();
        assert_eq!(n("unfinished"), 0, "{row}");
        assert_eq!(n("requests"), n("responses") + n("errors"), "{row}");
    }
    let errors: u64 = rows.iter().map(|row| row["errors"].as_u64().unwrap()).sum();
    assert_eq!(errors, failed, "{r}");
    let text = support::stdout(&out);
    assert!(text.contains("invalid_request"), "{text}");
}
