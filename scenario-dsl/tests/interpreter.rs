//! Interpreter behaviour, driven through the in-memory fake transport: what is sent, what is
//! recorded, and how runs end.

mod support;

use std::time::Duration;

use molotov_dsl::{FailureKind, Globals, RunOutcome, ScenarioId, Worker, run_setup, run_teardown};
use support::*;

const BASE: &str = "defaults {\n  base http://127.0.0.1:8080\n}\n";

/// A plan of `body` under [`BASE`]'s defaults.
fn plan(body: &str) -> String {
    format!("{BASE}{body}")
}

/// Runs scenario `s` (the plan's first) once on `w` through `d`; returns the outcome and the
/// events recorded.
fn run(w: &mut Worker, d: &mut FakeDriver) -> (RunOutcome, Events) {
    let mut ev = Events::default();
    let out = block_on(w.run_scenario(ScenarioId(0), d, &mut ev));
    (out, ev)
}

/// [`run`], failing (with the events) unless the run ends with `want`; returns the events.
#[track_caller]
fn run_expecting(w: &mut Worker, d: &mut FakeDriver, want: RunOutcome) -> Events {
    let (out, ev) = run(w, d);
    assert_eq!(out, want, "{:?}", ev.0);
    ev
}

/// A driver answering every request with `status` and no body.
fn answering(status: u16) -> FakeDriver {
    FakeDriver::new(move |_| Ok(FakeResponse::status(status)))
}

/// A driver answering every request with 200 and the JSON `body`.
fn answering_json(body: &'static str) -> FakeDriver {
    FakeDriver::new(move |_| Ok(FakeResponse::json(200, body)))
}

/// A driver answering `path` with `status` and the JSON `body`, any other path with an empty
/// 200.
fn json_at(path: &'static str, status: u16, body: &'static str) -> FakeDriver {
    FakeDriver::new(move |s| {
        Ok(if s.path == path {
            FakeResponse::json(status, body)
        } else {
            FakeResponse::status(200)
        })
    })
}

/// A driver answering `path` with 200 and the raw `body`, any other path with an empty 200.
fn body_at(path: &'static str, body: &'static [u8]) -> FakeDriver {
    FakeDriver::new(move |s| {
        let mut r = FakeResponse::status(200);
        if s.path == path {
            r.body = body.to_vec();
        }
        Ok(r)
    })
}

#[test]
fn captures_flow_into_later_requests() {
    let p = program(&plan(
        r#"
scenario s {
  POST /items
  capture id = jsonpath "$.id"
  capture loc = header "Location"
  capture code = status
  GET /items/{{id}}?from={{loc}}&code={{code}}
  capture name = regex "name=(\w+)"
  PUT {{loc}}
  X-Name: {{name}}
}
"#,
    ));
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::new(|s| {
        Ok(match s.path.as_str() {
            "/items" => {
                FakeResponse::json(201, r#"{"id": 17}"#).with_header("Location", "/items/17")
            }
            _ => FakeResponse::status(200).with_header("x", "y"),
        })
        .map(|mut r| {
            if r.body.is_empty() {
                r.body = b"hello name=bob!".to_vec();
            }
            r
        })
    });
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(
        d.paths(),
        ["/items", "/items/17?from=/items/17&code=201", "/items/17"]
    );
    assert_eq!(d.sent[2].method, "PUT");
    assert_eq!(d.sent[2].header("X-Name"), Some("bob"));
    // The first request's captures need its body and the Location header; nothing else.
    assert!(d.sent[0].needs_body);
    assert_eq!(d.sent[0].needs_headers, ["location"]);
    assert!(!d.sent[2].needs_body);
}

#[test]
fn assert_ends_the_run_and_is_counted_as_failure() {
    let p = program(&plan(
        "scenario s {\n  GET /a\n  assert status == 200\n  check body contains \"x\"\n  GET /b\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = answering(503);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Failure);
    assert_eq!(d.paths(), ["/a"], "nothing runs after a failed assert");
    // The assert itself is counted (failed); the check after it never ran.
    assert_eq!(ev.checks(), [(molotov_dsl::CheckId(0), false)]);
    let f = ev.failures();
    assert_eq!(f.len(), 1);
    let Event::Failure {
        kind,
        request,
        check,
        line,
        status,
        message,
    } = f[0]
    else {
        unreachable!()
    };
    assert_eq!(*kind, FailureKind::Assert);
    assert_eq!(*request, Some(molotov_dsl::RequestId(0)));
    assert_eq!(*check, Some(molotov_dsl::CheckId(0)));
    assert_eq!(*line, 6);
    assert_eq!(*status, Some(503));
    assert_eq!(message, "expected `status == 200`, got 503");
    // The status assert failed: the response is a failed request (the `errors` threshold
    // counts it), once.
    let failed =
        ev.0.iter()
            .filter(|e| matches!(e, Event::RequestFailed(..)))
            .count();
    assert_eq!(failed, 1);
}

#[test]
fn check_is_counted_and_the_run_goes_on() {
    let p = program(&plan(
        "scenario s {\n  GET /a\n  check status == 200\n  check jsonpath \"$.ok\" == true\n  GET /b\n  check status == 200\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = json_at("/a", 500, r#"{"ok": false}"#);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(d.paths(), ["/a", "/b"]);
    use molotov_dsl::CheckId as C;
    assert_eq!(ev.checks(), [(C(0), false), (C(1), false), (C(2), true)]);
    assert!(ev.failures().is_empty());
}

#[test]
fn status_400_without_status_check_is_a_failed_request() {
    let p = program(&plan(
        "scenario s {\n  GET /a\n  GET /b\n  check body contains \"x\"\n  GET /c\n  check status == 404\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = answering(404);
    let (_, ev) = run(&mut w, &mut d);
    let failed = ev.failed_requests();
    // /a and /b have no status check; /c checks its status, so 404 is expected there.
    assert_eq!(failed, [(0, 404), (1, 404)]);
}

/// The bound is 400 itself: with no status check, 399 is not a failed request and 400 is,
/// whether the request has no clauses (/a, /b) or clauses that do not check the status
/// (/c, /d).
#[test]
fn status_400_is_the_first_failed_status_with_or_without_clauses() {
    let p = program(&plan(
        "scenario s {\n  GET /a\n  GET /b\n  GET /c\n  check duration < 1h\n  GET /d\n  check duration < 1h\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::new(|s| {
        Ok(FakeResponse::status(match s.path.as_str() {
            "/a" | "/c" => 399,
            _ => 400,
        }))
    });
    let (_, ev) = run(&mut w, &mut d);
    let failed = ev.failed_requests();
    assert_eq!(failed, [(1, 400), (3, 400)]);
}

/// With a status check, the check decides whether the response failed: a failed one counts
/// whatever the status (`errors < 1%` once passed with 99% 503s under `check status ==
/// 200`), a passed one does not (an expected 404).
#[test]
fn a_failed_status_check_makes_a_failed_request() {
    let p = program(&plan(
        "scenario s {\n  GET /a\n  check status == 200\n  GET /b\n  check status == 503\n  GET /c\n  check status == 201\n  check status < 300\n  GET /d\n  check duration < 1h\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::new(|s| {
        Ok(FakeResponse::status(match s.path.as_str() {
            "/c" => 200,
            _ => 503,
        }))
    });
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    let failed = ev.failed_requests();
    // /a: 503 fails `status == 200`; /b: 503 is what was asked; /c: 200 fails `status ==
    // 201` (once, though another status check passed); /d: no status check, 503.
    assert_eq!(failed, [(0, 503), (2, 200), (3, 503)]);
}

#[test]
fn transport_error_fails_the_run_with_its_text() {
    let p = program(&plan("scenario s {\n  GET /a\n  GET /b\n}\n"));
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::new(|_| Err("connection refused".to_string()));
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Failure);
    assert_eq!(d.sent.len(), 1, "a request is never sent twice");
    assert_eq!(
        ev.0,
        [Event::Failure {
            kind: FailureKind::Transport,
            request: Some(molotov_dsl::RequestId(0)),
            check: None,
            line: 5,
            status: None,
            message: "connection refused".into(),
        }]
    );
}

#[test]
fn capture_failure_and_optional_capture() {
    let p = program(&plan(
        "scenario s {\n  GET /a\n  capture? maybe = jsonpath \"$.nope\"\n  capture must = jsonpath \"$.nope\"\n  GET /b\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = answering_json("{}");
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Failure);
    let Event::Failure {
        kind,
        message,
        line,
        ..
    } = ev.failures()[0]
    else {
        unreachable!()
    };
    assert_eq!(*kind, FailureKind::Capture);
    assert_eq!(*line, 7);
    assert_eq!(
        message,
        "capture `must` at test.mol:7: jsonpath \"$.nope\" found nothing"
    );

    // A body that is not JSON: the optional capture is unset, the required one fails.
    let mut d = FakeDriver::ok();
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Failure);
    let Event::Failure { message, .. } = ev.failures()[0] else {
        unreachable!()
    };
    assert!(
        message.starts_with("capture `must` at test.mol:7: the response body is not JSON"),
        "{message}"
    );
}

/// A request's JSON queries read the body once: the values at their paths alone when every
/// path is simple, else the whole body. Both ways give the same answers, to checks (with
/// `count`, on lists and objects, on a key given twice, where the last one counts) and to
/// captures, and a body that is not JSON fails both ways.
#[test]
fn json_queries_answer_alike_whether_their_paths_are_read_alone_or_in_a_whole_body() {
    let body = r#"{"items":[{"id":1,"name":"a"},{"id":2,"name":"b"},{"id":3,"name":"c"}],
                   "meta":{"n":1},"meta":{"n":3,"tag":"x"},"ok":true}"#;
    let clauses = r#"
  check jsonpath "$.items[1].id" == 2
  check jsonpath "$.items" count == 3
  check jsonpath "$.meta" count == 2
  check jsonpath "$.meta.n" == 3
  check jsonpath "$.meta" exists
  check jsonpath "$.items[0].nope" not exists
  check jsonpath "$.ok" == true
  capture name = jsonpath "$.items[2].name"
  capture n = jsonpath "$.meta.n""#;
    // The second request adds a path that is not simple (a negative index): the whole body
    // is parsed for all of its queries.
    let p = program(&plan(&format!(
        "scenario s {{\n  GET /simple{clauses}\n  GET /whole/{{{{name}}}}/{{{{n}}}}{clauses}\n  check jsonpath \"$.items[-1].id\" == 3\n  GET /last/{{{{name}}}}/{{{{n}}}}\n}}\n"
    )));
    let mut w = worker(&p, 0);
    let mut d = answering_json(body);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(d.paths(), ["/simple", "/whole/c/3", "/last/c/3"]);
    let checks = ev.checks();
    assert_eq!(checks.len(), 7 + 8, "{checks:?}");
    assert!(checks.iter().all(|(_, passed)| *passed), "{checks:?}");

    // A body that is not JSON (a trailing comma, in a member no path goes into): every JSON
    // check fails, and the first capture says why, as a full parse would.
    let bad = r#"{"items":[],"junk":[1,2,],"ok":true}"#;
    let error = serde_json::from_str::<serde_json::Value>(bad).unwrap_err();
    let mut d = answering_json(bad);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Failure);
    assert_eq!(d.paths(), ["/simple"]);
    let checks = ev.checks();
    assert_eq!(checks.len(), 7, "{checks:?}");
    assert!(checks.iter().all(|(_, passed)| !passed), "{checks:?}");
    let Event::Failure { message, .. } = ev.failures()[0] else {
        unreachable!()
    };
    assert_eq!(
        *message,
        format!("capture `name` at test.mol:13: the response body is not JSON ({error})")
    );
}

/// Header pairs as the fake driver records them.
fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn sticky_headers_layer_over_defaults_and_under_the_request() {
    let p = program(
        r#"
defaults {
  base http://127.0.0.1:8080
  Accept: application/json
  X-Team: load
}
setup worker {
  POST /login
  capture token = jsonpath "$.token"
  header Authorization: Bearer {{token}}
  header X-Team: sticky
}
scenario s {
  GET /a
  GET /b
  X-Team: own
  Authorization: none
  header X-Team:
  GET /c
}
"#,
    );
    let mut w = worker(&p, 0);
    let mut d = json_at("/login", 200, r#"{"token": "t0k"}"#);
    let mut ev = Events::default();
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Success
    );
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    let h = |i: usize| d.sent[i].headers.clone();
    // The login request only has the defaults (sticky headers are set after it).
    assert_eq!(
        h(0),
        pairs(&[("Accept", "application/json"), ("X-Team", "load")])
    );
    // Sticky headers replace the default of the same name; only the winner is sent.
    assert_eq!(
        h(1),
        pairs(&[
            ("Accept", "application/json"),
            ("Authorization", "Bearer t0k"),
            ("X-Team", "sticky")
        ])
    );
    // The request's own headers replace sticky ones.
    assert_eq!(
        h(2),
        pairs(&[
            ("Accept", "application/json"),
            ("X-Team", "own"),
            ("Authorization", "none")
        ])
    );
    // `header X-Team:` with no value removed the sticky header: the default shows again.
    assert_eq!(
        h(3),
        pairs(&[
            ("Accept", "application/json"),
            ("X-Team", "load"),
            ("Authorization", "Bearer t0k")
        ])
    );
}

/// Requests whose headers are all literals take them as the compiler rendered them, unless
/// the worker has sticky headers; the headers sent are those a rendering sends, in the same
/// order, whichever way they were made.
#[test]
fn literal_headers_are_the_rendered_ones_with_or_without_sticky_headers() {
    let p = program(
        r#"
defaults {
  base http://127.0.0.1:8080
  Accept: application/json
  X-Team: load
}
scenario s {
  GET /literal
  GET /template
  X-Worker: w{{worker}}
  header X-Sticky: on
  GET /sticky
  header X-Sticky:
  GET /literal-again
  GET /own
  Accept: text/plain
  X-Empty:
}
"#,
    );
    let mut w = worker(&p, 3);
    let mut d = FakeDriver::new(|_| Ok(FakeResponse::status(200)));
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    let sent: Vec<(String, Vec<(String, String)>)> = d
        .sent
        .iter()
        .map(|s| (s.path.clone(), s.headers.clone()))
        .collect();
    let defaults = pairs(&[("Accept", "application/json"), ("X-Team", "load")]);
    assert_eq!(
        sent,
        vec![
            ("/literal".to_string(), defaults.clone()),
            (
                "/template".to_string(),
                pairs(&[
                    ("Accept", "application/json"),
                    ("X-Team", "load"),
                    ("X-Worker", "w3")
                ])
            ),
            (
                "/sticky".to_string(),
                pairs(&[
                    ("Accept", "application/json"),
                    ("X-Team", "load"),
                    ("X-Sticky", "on")
                ])
            ),
            ("/literal-again".to_string(), defaults),
            (
                "/own".to_string(),
                pairs(&[
                    ("X-Team", "load"),
                    ("Accept", "text/plain"),
                    ("X-Empty", "")
                ])
            ),
        ]
    );
}

#[test]
fn loops_repeat_and_for() {
    let p = program(&plan(
        r#"
let colors = ["red", "green"]
scenario s {
  repeat 3 {
    GET /r
  }
  for c in colors {
    GET /c/{{c}}
    repeat 2 {
      GET /c/{{c}}/inner
    }
  }
  GET /list
  capture ids = jsonpath "$.ids"
  for id in ids {
    GET /id/{{id}}
  }
  for x in [1, 2] {
    log "x={{x}}"
  }
}
"#,
    ));
    let mut w = worker(&p, 0);
    let mut d = json_at("/list", 200, r#"{"ids": [7, 8, 9]}"#);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(
        d.paths(),
        [
            "/r",
            "/r",
            "/r",
            "/c/red",
            "/c/red/inner",
            "/c/red/inner",
            "/c/green",
            "/c/green/inner",
            "/c/green/inner",
            "/list",
            "/id/7",
            "/id/8",
            "/id/9"
        ]
    );
    assert_eq!(ev.logs(), ["x=1", "x=2"]);

    // An empty captured list runs the body zero times.
    let mut d = json_at("/list", 200, r#"{"ids": []}"#);
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(
        d.paths().iter().filter(|p| p.starts_with("/id/")).count(),
        0
    );
}

#[test]
fn if_else_follows_captured_values() {
    let p = program(&plan(
        r#"
scenario s {
  GET /a
  capture? pid = jsonpath "$.id"
  capture n = jsonpath "$.n"
  if pid exists {
    GET /has/{{pid}}
  } else {
    GET /none
  }
  if n > 10 {
    log "big"
  } else if n > 5 {
    log "medium"
  } else {
    log "small"
  }
  if pid not exists {
    log "no pid"
  }
}
"#,
    ));
    let mut w = worker(&p, 0);
    for (body, want_path, want_logs) in [
        (r#"{"id": "p1", "n": 11}"#, "/has/p1", vec!["big"]),
        (r#"{"n": 6}"#, "/none", vec!["medium", "no pid"]),
        (r#"{"n": 5}"#, "/none", vec!["small", "no pid"]),
    ] {
        let mut d = answering_json(body);
        let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
        assert_eq!(d.paths()[1], want_path, "{body}");
        assert_eq!(ev.logs(), want_logs, "{body}");
    }
}

#[test]
fn setup_captures_are_globals_visible_to_scenarios() {
    let p = program(&plan(
        r#"
setup {
  POST /admin/token
  capture admin = jsonpath "$.token"
  capture ids = jsonpath "$.ids"
}
scenario s {
  GET /items/{{ids[1]}}
  Authorization: {{admin}}
}
teardown {
  DELETE /admin/{{admin}}
}
"#,
    ));
    let mut d = answering_json(r#"{"token": "adm", "ids": [1, 2]}"#);
    let mut ev = Events::default();
    let globals = block_on(run_setup(&p, 0, &mut d, &mut ev)).expect("setup succeeds");
    assert_eq!(p.global_names().collect::<Vec<_>>(), ["admin", "ids"]);
    // Globals cross a process boundary as bytes.
    let globals = Globals::from_bytes(&globals.to_bytes()).unwrap();
    let mut w = worker_with(&p, 9, 1, globals.clone());
    let mut d = FakeDriver::ok();
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(d.paths(), ["/items/2"]);
    assert_eq!(d.sent[0].header("Authorization"), Some("adm"));
    let mut d = FakeDriver::ok();
    assert_eq!(
        block_on(run_teardown(&p, &globals, 0, &mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(d.paths(), ["/admin/adm"]);

    // A failing setup reports its failure and returns no globals.
    let mut d = answering_json("{}");
    let mut ev = Events::default();
    assert_eq!(
        block_on(run_setup(&p, 0, &mut d, &mut ev)),
        Err(RunOutcome::Failure)
    );
    assert_eq!(ev.failures().len(), 1);
}

#[test]
fn templates_are_escaped_for_json_bodies() {
    let p = program(&plan(
        r#"
let tricky = "quote\" back\\ nl\n tab\t"
let nums = [1, 2.5]
scenario s {
  POST /j
  {"s": "<{{tricky}}>", "v": {{tricky}}, "n": {{nums}}, "i": {{rand_int(7, 7)}}, "w": "{{worker}}", "x": {{worker}}, "u": {{null}}}
}
"#,
    ));
    let mut w = worker(&p, 12);
    let mut d = FakeDriver::ok();
    run(&mut w, &mut d);
    let body = d.sent[0].body_str();
    assert_eq!(
        body,
        r#"{"s": "<quote\" back\\ nl\n tab\t>", "v": "quote\" back\\ nl\n tab\t", "n": [1,2.5], "i": 7, "w": "12", "x": 12, "u": null}"#
    );
    let v: serde_json::Value = serde_json::from_str(body).expect("the rendered body is valid JSON");
    assert_eq!(v["s"], "<quote\" back\\ nl\n tab\t>");
    assert_eq!(d.sent[0].header("Content-Type"), Some("application/json"));
}

#[test]
fn templates_are_escaped_for_urls() {
    let p = program(&plan(
        r#"
let q = "a b&c=d/e?f#g"
let full = "http://other.example:9000/x y"
scenario s {
  GET /p/{{q}}/end?k={{q}}&z=1
  GET {{full}}?t={{q}}
  GET http://127.0.0.1:7000/abs/{{q}}
  GET /ü/{{"ü"}}
}
"#,
    ));
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    // In the path a value is one segment (`/` is encoded); in the query `&`, `=`, `#` are.
    assert_eq!(
        d.sent[0].path,
        "/p/a%20b&c=d%2Fe%3Ff%23g/end?k=a%20b%26c%3Dd/e?f%23g&z=1"
    );
    assert_eq!(d.sent[0].authority, "127.0.0.1:8080");
    // A template at the start is a whole URL: kept as is except invalid bytes.
    assert_eq!(d.sent[1].authority, "other.example:9000");
    assert_eq!(d.sent[1].host, "other.example");
    assert_eq!(d.sent[1].port, 9000);
    assert_eq!(d.sent[1].path, "/x%20y?t=a%20b%26c%3Dd/e?f%23g");
    assert_eq!(d.sent[2].authority, "127.0.0.1:7000");
    assert_eq!(d.sent[2].path, "/abs/a%20b&c=d%2Fe%3Ff%23g");
    assert_eq!(d.sent[3].path, "/%C3%BC/%C3%BC");
}

#[test]
fn templates_in_headers_reject_line_breaks() {
    let p = program(&plan(
        r#"
scenario s {
  GET /a
  capture v = body
  GET /b
  X-Echo: [{{v}}]
}
"#,
    ));
    let mut w = worker(&p, 0);
    let mut d = body_at("/a", b"evil\r\nX-Injected: 1");
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Failure);
    assert_eq!(
        d.sent.len(),
        1,
        "the request with the bad header is never sent"
    );
    let Event::Failure { kind, message, .. } = ev.failures()[0] else {
        unreachable!()
    };
    assert_eq!(*kind, FailureKind::Render);
    assert!(message.contains("cannot contain CR, LF, NUL"), "{message}");

    // A clean value goes through verbatim.
    let mut d = body_at("/a", b"fine; \"quoted\"");
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(d.sent[1].header("X-Echo"), Some("[fine; \"quoted\"]"));
}

#[test]
fn form_raw_and_file_bodies() {
    let dir = std::env::temp_dir().join(format!("molotov-dsl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("payload.bin"), [0u8, 1, 2, 255]).unwrap();
    let src = plan(
        "let who = \"a b&c\"\nscenario s {\n  POST /form\n  form {\n    user: {{who}}\n    note: x=y z\n  }\n  POST /one\n  form { a: 1, b: {{who}} }\n  POST /raw\n  Content-Type: text/plain\n  ```\nline one {{who}}\n  # not a comment\n  ```\n  POST /file\n  file \"payload.bin\"\n}\n",
    );
    let prog = molotov_dsl::compile_source(
        "t.mol",
        &src,
        &dir,
        &molotov_dsl::CompileOptions::with_env([("A", "b")]),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let p = std::sync::Arc::new(prog);
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(d.sent[0].body_str(), "user=a+b%26c&note=x%3Dy+z");
    assert_eq!(
        d.sent[0].header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(d.sent[1].body_str(), "a=1&b=a+b%26c");
    assert_eq!(d.sent[2].body_str(), "line one a b&c\n  # not a comment");
    assert_eq!(d.sent[2].header("Content-Type"), Some("text/plain"));
    assert_eq!(d.sent[3].body, [0u8, 1, 2, 255]);
    assert_eq!(d.sent[3].header("Content-Type"), None);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn should_stop_before_a_request_or_sleep_stops_the_run() {
    let p = program(&plan(
        "scenario s delay 1s {\n  GET /a\n  think 10ms\n  GET /b\n}\n",
    ));
    let mut w = worker(&p, 0);

    let mut d = FakeDriver::ok();
    d.stop_after_sends = Some(1);
    run_expecting(&mut w, &mut d, RunOutcome::Stopped);
    assert_eq!(d.paths(), ["/a"]);
    assert!(d.slept.is_empty(), "no think and no delay after a stop");

    let mut d = FakeDriver::ok();
    d.stop_after_sleeps = Some(1);
    run_expecting(&mut w, &mut d, RunOutcome::Stopped);
    assert_eq!(d.paths(), ["/a"]);

    // A full run sleeps its think time, then the scenario delay.
    let mut d = FakeDriver::ok();
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(d.slept, [Duration::from_millis(10), Duration::from_secs(1)]);

    // Stopping right after the last request: the outcome stays Success, the delay is skipped.
    let mut d = FakeDriver::ok();
    d.stop_after_sends = Some(2);
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(d.slept, [Duration::from_millis(10)]);

    // A failed run still sleeps its delay.
    let mut d = FakeDriver::new(|_| Err("reset".into()));
    run_expecting(&mut w, &mut d, RunOutcome::Failure);
    assert_eq!(d.slept, [Duration::from_secs(1)]);
}

#[test]
fn a_run_stopped_during_its_last_think_is_stopped_not_a_success() {
    // The end of the run came during the trailing think: the run was cut short, as one cut
    // during a think followed by a request is (it was counted as a success).
    let p = program(&plan("scenario s {\n  GET /a\n  think 1m\n}\n"));
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    d.stop_after_sleeps = Some(1);
    run_expecting(&mut w, &mut d, RunOutcome::Stopped);
    assert_eq!(d.paths(), ["/a"]);

    // A think that ends before the end of the run: a success.
    let mut d = FakeDriver::ok();
    run_expecting(&mut w, &mut d, RunOutcome::Success);
}

#[test]
fn think_ranges_stay_in_bounds() {
    let p = program(&plan(
        "scenario s {\n  repeat 200 {\n    think 200ms..1s\n  }\n}\n",
    ));
    let mut w = worker(&p, 5);
    let mut d = FakeDriver::ok();
    run(&mut w, &mut d);
    assert_eq!(d.slept.len(), 200);
    assert!(
        d.slept
            .iter()
            .all(|s| *s >= Duration::from_millis(200) && *s <= Duration::from_secs(1))
    );
    let distinct: std::collections::HashSet<_> = d.slept.iter().collect();
    assert!(distinct.len() > 150, "a range is drawn per sleep");
}

#[test]
fn builtins_and_worker_variables() {
    let p = program(&plan(
        r#"
scenario s {
  if iter > 100 {
    let nothing = "never"
  }
  GET /w/{{worker}}/p/{{process}}/i/{{iter}}/{{uuid()}}/{{rand_str(12)}}/{{now_ms()}}/{{pick(["only"])}}
  X-Default: {{nothing ?? "dflt"}}
}
"#,
    ));
    let mut w = worker(&p, 77);
    for iter in 0..3 {
        let mut d = FakeDriver::ok();
        run_expecting(&mut w, &mut d, RunOutcome::Success);
        let parts: Vec<&str> = d.sent[0].path.split('/').collect();
        assert_eq!(
            &parts[..7],
            ["", "w", "77", "p", "3", "i", &iter.to_string()]
        );
        assert_eq!(parts[7].len(), 36);
        assert_eq!(parts[8].len(), 12);
        assert!(parts[8].bytes().all(|b| b.is_ascii_alphanumeric()));
        let ms: u128 = parts[9].parse().unwrap();
        assert!(ms > 1_600_000_000_000);
        assert_eq!(parts[10], "only");
        assert_eq!(d.sent[0].header("X-Default"), Some("dflt"));
    }
}

#[test]
fn block_let_and_log() {
    let p = program(&plan(
        r#"
scenario s {
  let greeting = "hi {{worker}}"
  let n = 3
  let copy = {{n}}
  log "{{greeting}} n={{copy}}"
  GET /x
  check jsonpath "$.n" == {{n}}
  check jsonpath "$.s" == "hi {{worker}}"
}
"#,
    ));
    let mut w = worker(&p, 4);
    let mut d = answering_json(r#"{"n": 3.0, "s": "hi 4"}"#);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(ev.logs(), ["hi 4 n=3"]);
    assert!(ev.checks().iter().all(|(_, p)| *p), "{:?}", ev.0);
}

#[test]
fn a_call_in_a_value_is_a_template_call() {
    // `let x = f(...)` reads as `let x = {{f(...)}}` (it was "undefined variable `f`").
    let p = program(&plan(
        r#"
scenario s {
  let id = rand_str(12)
  let n = rand_int(7, 7) ?? 0
  let one = pick(["a"])
  GET /x/{{id}}/{{n}}/{{one}}
}
"#,
    ));
    let mut w = worker(&p, 0);
    let mut d = answering(200);
    run_expecting(&mut w, &mut d, RunOutcome::Success);
    let path = &d.sent[0].path;
    let parts: Vec<&str> = path.split('/').collect();
    assert_eq!(parts.len(), 5, "{path}");
    assert_eq!(parts[2].len(), 12, "{path}");
    assert!(
        parts[2].chars().all(|c| c.is_ascii_alphanumeric()),
        "{path}"
    );
    assert_eq!(&parts[3..], ["7", "a"], "{path}");
}

#[test]
fn cache_key_is_stable_for_static_requests_and_follows_sticky_headers() {
    let p = program(&plan(
        r#"
scenario s {
  GET /static
  GET /w/{{worker}}
  GET /dyn/{{iter}}
  header X-Session: abc
  GET /static
  header X-Session: def
  GET /static
}
"#,
    ));
    let mut w = worker(&p, 1);
    let mut d = FakeDriver::ok();
    run(&mut w, &mut d);
    let keys: Vec<_> = d.sent.iter().map(|s| s.cache_key).collect();
    assert_eq!(
        keys[0],
        Some(0),
        "static and no sticky headers: shared by every worker"
    );
    assert!(
        keys[1].is_some() && keys[1] != Some(0),
        "per-worker constant"
    );
    assert_eq!(keys[2], None, "changes every run");
    assert!(
        keys[3].is_some() && keys[4].is_some() && keys[3] != keys[4],
        "sticky change => new key"
    );
    assert_ne!(keys[3], keys[1]);
    // Another worker never shares a per-worker key.
    let mut w2 = worker(&p, 2);
    let mut d2 = FakeDriver::ok();
    run(&mut w2, &mut d2);
    assert_eq!(d2.sent[0].cache_key, Some(0));
    assert_ne!(d2.sent[1].cache_key, keys[1]);
    // The same worker runs the scenario again: it ends with `X-Session: def` from the last
    // run, so `/static` now carries that header: its key is the one of that state.
    let mut d3 = FakeDriver::ok();
    run(&mut w, &mut d3);
    assert_eq!(
        d3.sent[0].cache_key, keys[4],
        "same sticky headers => same key"
    );
    assert_eq!(d3.sent[0].header("X-Session"), Some("def"));
    // Setting a sticky header to the value it already has keeps the key.
    let p = program(&plan(
        "scenario s {\n  header X-A: 1\n  GET /static\n  header X-A: 1\n  GET /static\n}\n",
    ));
    let mut w = worker(&p, 1);
    let mut d = FakeDriver::ok();
    run(&mut w, &mut d);
    assert_eq!(d.sent[0].cache_key, d.sent[1].cache_key);
}

#[test]
fn the_origin_index_names_the_plan_origin_and_only_it() {
    // The base and a literal URL with the same scheme and authority are one origin; another
    // authority or scheme is another; a URL built at run time has no index (the engine then
    // compares scheme and authority).
    let p = program(&plan(
        r#"
let hosts = ["http://other:81"]

scenario s {
  GET /a
  GET http://127.0.0.1:8080/b
  GET http://other:81/c
  GET https://127.0.0.1:8080/d
  GET {{pick(hosts)}}/e
  GET http://127.0.0.1:8080/f/{{iter}}
}
"#,
    ));
    let mut w = worker(&p, 1);
    let mut d = FakeDriver::ok();
    run(&mut w, &mut d);
    let origins: Vec<_> = d.sent.iter().map(|s| s.origin).collect();
    assert!(origins[0].is_some(), "{origins:?}");
    assert_eq!(
        origins[1], origins[0],
        "base and literal URL, same authority"
    );
    assert_eq!(origins[5], origins[0], "literal authority, templated path");
    assert!(
        origins[2].is_some() && origins[2] != origins[0],
        "{origins:?}"
    );
    assert!(
        origins[3].is_some() && origins[3] != origins[0],
        "{origins:?}"
    );
    assert_ne!(origins[3], origins[2]);
    assert_eq!(origins[4], None, "a URL built at run time");
    assert_eq!(d.sent[4].authority, "other:81");
}

#[test]
fn request_fields_come_from_the_plan() {
    let p = program(
        "defaults {\n  base https://api.example:8443/v1/\n  timeout 1500ms\n}\nscenario s {\n  DELETE /items/3 as del\n}\n",
    );
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    run(&mut w, &mut d);
    let s = &d.sent[0];
    assert_eq!(s.method, "DELETE");
    assert_eq!(s.scheme, molotov_dsl::Scheme::Https);
    assert_eq!(
        (s.authority.as_str(), s.host.as_str(), s.port),
        ("api.example:8443", "api.example", 8443)
    );
    assert_eq!(s.path, "/v1/items/3");
    assert_eq!(s.timeout, Duration::from_millis(1500));
    assert_eq!(p.requests()[0].name, "del");
    assert_eq!(p.timeout(), Duration::from_millis(1500));
}

#[test]
fn worker_setup_failure_and_teardown() {
    let p = program(&plan(
        "setup worker {\n  POST /login\n  assert status == 200\n}\nteardown worker {\n  POST /logout\n}\nscenario s {\n  GET /\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = answering(401);
    let mut ev = Events::default();
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Failure
    );
    let mut d = FakeDriver::ok();
    assert_eq!(
        block_on(w.run_worker_teardown(&mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(d.paths(), ["/logout"]);
    // Plans without these blocks: no-op successes.
    let p = program(&plan("scenario s {\n  GET /\n}\n"));
    assert!(
        !p.has_worker_setup() && !p.has_worker_teardown() && !p.has_setup() && !p.has_teardown()
    );
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Success
    );
    assert!(d.sent.is_empty());
}

#[test]
fn predicates_table() {
    // Each check runs against the same response; the expected verdicts are listed in order.
    let checks: &[(&str, bool)] = &[
        ("status == 200", true),
        ("status != 200", false),
        ("status in [200, 201]", true),
        ("status not in [200, 201]", false),
        ("status >= 200", true),
        ("status < 300", true),
        ("duration < 100ms", true),
        ("duration >= 1s", false),
        ("body contains \"hello\"", true),
        ("body not contains \"bye\"", true),
        ("body startswith \"{\"", true),
        ("body endswith \"}\"", true),
        ("body matches \"\\\"n\\\": *3\"", true),
        ("header \"Content-Type\" == \"application/json\"", true),
        ("header \"content-type\" startswith \"application/\"", true),
        ("header \"X-Missing\" exists", false),
        ("header \"X-Missing\" not exists", true),
        ("header \"X-Missing\" != \"x\"", false),
        ("header \"X-Len\" == 42", true),
        ("header \"X-Len\" > 41", true),
        ("jsonpath \"$.n\" == 3", true),
        ("jsonpath \"$.n\" == 3.0", true),
        ("jsonpath \"$.n\" in [1, 3]", true),
        ("jsonpath \"$.s\" == \"hello\"", true),
        ("jsonpath \"$.s\" > \"a\"", true),
        ("jsonpath \"$.items\" count == 3", true),
        ("jsonpath \"$.items[*].id\" count == 3", true),
        ("jsonpath \"$.items[*].id\" == [1, 2, 3]", true),
        ("jsonpath \"$.items[*].id\" contains 2", true),
        ("jsonpath \"$.items[?@.id > 1].id\" == [2, 3]", true),
        ("jsonpath \"$.items\" contains {\"id\": 1}", true),
        ("jsonpath \"$.obj\" contains \"k\"", true),
        ("jsonpath \"$.none\" count == 0", true),
        ("jsonpath \"$.none\" exists", false),
        ("jsonpath \"$.nil\" exists", true),
        ("jsonpath \"$.nil\" == null", true),
        ("jsonpath \"$.flag\" == true", true),
        ("jsonpath \"$.s\" matches \"^h.l+o$\"", true),
        ("regex \"\\\"s\\\": \\\"(\\w+)\\\"\" == \"hello\"", true),
        ("regex \"id\" count == 3", true),
        ("regex \"zzz\" exists", false),
        ("jsonpath \"$.n\" not == 3", false),
    ];
    let mut src = String::from(BASE);
    src.push_str("scenario s {\n  GET /\n");
    for (c, _) in checks {
        src.push_str(&format!("  check {c}\n"));
    }
    src.push_str("}\n");
    let p = program(&src);
    let mut w = worker(&p, 0);
    let body = r#"{"n": 3, "s": "hello", "items": [{"id": 1}, {"id": 2}, {"id": 3}], "obj": {"k": 1}, "nil": null, "flag": true}"#;
    let mut d =
        FakeDriver::new(move |_| Ok(FakeResponse::json(200, body).with_header("X-Len", "42")));
    let (_, ev) = run(&mut w, &mut d);
    let got: Vec<bool> = ev.checks().into_iter().map(|(_, p)| p).collect();
    for (i, (c, want)) in checks.iter().enumerate() {
        assert_eq!(got[i], *want, "check {c}");
    }
    assert_eq!(got.len(), checks.len());
}

/// What a request put on the wire would show: everything but how the driver got it.
fn wire(s: &support::Sent) -> String {
    format!(
        "{} {:?} {} {} {:?} {} {} {:?} {:?} {:?}",
        s.method,
        s.scheme,
        s.authority,
        s.host,
        s.origin,
        s.port,
        s.path,
        s.headers,
        s.body,
        s.cache_key
    )
}

/// Runs `plan`'s worker setup and then its first scenario `runs` times on worker 7, through
/// `d`; returns what was sent.
fn sends(plan: &str, runs: usize, mut d: FakeDriver) -> FakeDriver {
    let p = program(plan);
    let mut w = worker(&p, 7);
    let mut ev = Events::default();
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Success,
        "{:?}",
        ev.0
    );
    for _ in 0..runs {
        run_expecting(&mut w, &mut d, RunOutcome::Success);
    }
    d
}

/// [`sends`] through a driver that holds nothing and one that holds what it sent; fails
/// unless both put the same requests on the wire. Returns the holding one.
fn sends_both_ways(plan: &str, runs: usize) -> FakeDriver {
    let plain = sends(plan, runs, FakeDriver::ok());
    let holding = sends(plan, runs, FakeDriver::ok().holding());
    let plain_wire: Vec<_> = plain.sent.iter().map(wire).collect();
    let holding_wire: Vec<_> = holding.sent.iter().map(wire).collect();
    assert_eq!(holding_wire, plain_wire);
    assert_eq!(plain.held_answers.get(), 0);
    assert!(plain.sent.iter().all(|s| !s.from_held));
    holding
}

/// A driver that holds what it sent is handed unrendered requests for what depends on the
/// worker alone (path, body and `defaults` headers of `{{worker}}`, a sticky header from
/// `setup worker`) from the second run on, and never for what changes per send or a URL
/// rendered at run time; what reaches the wire is what a driver that holds nothing gets.
#[test]
fn a_driver_holding_rendered_bytes_gets_unrendered_requests_for_what_it_holds() {
    let plan = String::from(
        r#"
defaults {
  base http://127.0.0.1:8080
  X-Worker: w{{worker}}
}

setup worker {
  header Authorization: Bearer t{{worker}}
}

scenario s {
  GET /static
  GET /users/{{worker}}?p={{process}}
  POST /users/{{worker}}/notes
  {"by": {{worker}}}
  GET /dyn/{{rand_int(1, 1000000)}}
  GET http://127.0.0.{{worker}}:8080/abs
}
"#,
    );
    let holding = sends_both_ways(&plan, 3);
    // Five requests a run; the first three depend on the worker alone, and are held from the
    // second run on.
    let held: Vec<(usize, bool)> = holding
        .sent
        .iter()
        .enumerate()
        .map(|(i, s)| (i % 5, s.from_held))
        .collect();
    for (i, (at, from_held)) in held.iter().enumerate() {
        assert_eq!(
            *from_held,
            i >= 5 && *at < 3,
            "send {i}: {:?}",
            holding.sent[i]
        );
    }
    assert_eq!(holding.held_answers.get(), 6);
    // The URL rendered at run time is the same for every send of the worker too, but only
    // rendering it tells its origin.
    assert!(holding.sent[9].cache_key.is_some(), "{:?}", holding.sent[9]);
    assert_eq!(holding.sent[9].authority, "127.0.0.7:8080");
    assert_eq!(holding.sent[9].origin, None);
    assert_eq!(holding.sent[8].cache_key, None);
    assert_eq!(holding.sent[6].path, "/users/7?p=3");
    assert_eq!(holding.sent[6].header("Authorization"), Some("Bearer t7"));
    assert_eq!(holding.sent[7].body_str(), r#"{"by": 7}"#);
}

/// When the worker's sticky headers change, the key moves and the request is rendered again
/// with them, held or not; a header set back to an earlier value is a new key too.
#[test]
fn a_held_request_is_rendered_again_when_the_sticky_headers_change() {
    let plan = plan(
        r#"
scenario s {
  for v in ["", "1", "1", "2", "1", ""] {
    header X-A: {{v}}
    GET /w/{{worker}}
  }
}
"#,
    );
    let holding = sends_both_ways(&plan, 2);
    let x_a: Vec<_> = holding.sent.iter().map(|s| s.header("X-A")).collect();
    // A value that renders empty is sent empty (only `header X-A:` removes the header).
    let run = [
        Some(""),
        Some("1"),
        Some("1"),
        Some("2"),
        Some("1"),
        Some(""),
    ];
    assert_eq!(x_a, [run, run].concat());
    // One request: a send is held when the headers did not change since the one before (the
    // second run starts with the headers the first ended with).
    let from_held: Vec<_> = holding.sent.iter().map(|s| s.from_held).collect();
    assert_eq!(
        from_held,
        [
            [false, false, true, false, false, false],
            [true, false, true, false, false, false]
        ]
        .concat()
    );
    assert_eq!(holding.held_answers.get(), 3);
}

#[test]
fn a_number_from_the_response_equals_text_of_its_value() {
    // `check jsonpath "$.id" == "{{pid}}"` failed for a numeric id: a number never equalled
    // text, although the docs compare a quoted template as text.
    let p = program(&plan(
        r#"
scenario s {
  GET /list
  capture pid = jsonpath "$.items[0].id"
  check jsonpath "$.items[0].id" == "{{pid}}"
  check jsonpath "$.items[0].id" == "7"
  check jsonpath "$.items[0].id" == "7.0"
  check jsonpath "$.items[0].id" < "10"
  check jsonpath "$.items[0].id" != "8"
  check pid == "7"
  check jsonpath "$.name" == "7"
}
"#,
    ));
    let mut w = worker(&p, 0);
    let mut d = json_at("/list", 200, r#"{"items": [{"id": 7}], "name": "7"}"#);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    let checks = ev.checks();
    assert_eq!(checks.len(), 7);
    assert!(checks.iter().all(|(_, ok)| *ok), "{checks:?}");

    // Text that is not the number still fails.
    let p = program(&plan(
        r#"
scenario s {
  GET /list
  check jsonpath "$.items[0].id" == "seven"
}
"#,
    ));
    let mut w = worker(&p, 0);
    let mut d = json_at("/list", 200, r#"{"items": [{"id": 7}]}"#);
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    assert_eq!(ev.checks(), [(molotov_dsl::CheckId(0), false)]);
}

#[test]
fn a_base_path_is_percent_encoded_as_a_target_is() {
    // The base's path went on the wire as written: raw UTF-8, and a space that then failed
    // every request at run time.
    for (base, want) in [
        ("http://127.0.0.1:8080/é/", "/%C3%A9/json?q=%C3%A9"),
        (
            "http://127.0.0.1:8080/a\"b<c>|{x}/",
            "/a%22b%3Cc%3E%7C%7Bx%7D/json?q=%C3%A9",
        ),
        ("{{\"http://127.0.0.1:8080/a b/\"}}", "/a%20b/json?q=%C3%A9"),
        // Already encoded text is kept.
        ("http://127.0.0.1:8080/a%20b/", "/a%20b/json?q=%C3%A9"),
    ] {
        let p = program(&format!(
            "defaults {{\n  base {base}\n}}\nscenario s {{\n  GET /json?q=é\n}}\n"
        ));
        let mut w = worker(&p, 0);
        let mut d = FakeDriver::ok();
        run_expecting(&mut w, &mut d, RunOutcome::Success);
        assert_eq!(d.sent[0].path, want, "base {base}");
    }
}

/// A body that is not UTF-8 is read as the text `-v` shows (each bad byte a U+FFFD) by
/// `contains`, `matches` and `regex` alike: on the raw bytes `.` matched none of the bad
/// bytes, so `matches "abc.*def"` failed on a body shown as `abc��def`.
#[test]
fn a_body_that_is_not_utf8_is_matched_as_shown() {
    let p = program(&plan(
        "scenario s {\n  GET /a\n  check body contains \"def\"\n  check body matches \"abc.*def\"\n  check body matches \"^abc..def.$\"\n  capture c = regex \"a(b)c\"\n  capture n = regex \"[^a-z]\" count\n  GET /b?c={{c}}&n={{n}}\n}\n",
    ));
    let mut w = worker(&p, 0);
    let mut d = body_at("/a", b"abc\xff\xfedef\x80");
    let ev = run_expecting(&mut w, &mut d, RunOutcome::Success);
    use molotov_dsl::CheckId as C;
    assert_eq!(ev.checks(), [(C(0), true), (C(1), true), (C(2), true)]);
    assert_eq!(d.paths()[1], "/b?c=b&n=3");
}

/// A capture that takes a bad byte of such a body (shown as U+FFFD) fails: the value is not
/// the server's bytes, and sent back it would be altered (`%EF%BF%BD` for `\x80`).
#[test]
fn a_capture_of_a_bad_byte_of_a_body_that_is_not_utf8_fails() {
    for query in ["regex \"def(.)\"", "body"] {
        let p = program(&plan(&format!(
            "scenario s {{\n  GET /a\n  capture c = {query}\n  GET /b?c={{{{c}}}}\n}}\n"
        )));
        let mut w = worker(&p, 0);
        let mut d = body_at("/a", b"abc\xff\xfedef\x80");
        run_expecting(&mut w, &mut d, RunOutcome::Failure);
        assert_eq!(d.paths(), ["/a"], "{query}");
    }
}
