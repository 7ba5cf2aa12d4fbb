//! Predicates that compare numbers and response text, run through the interpreter against
//! one scripted response each: integers exactly (beyond 2^53, up to 128 bits), other numbers
//! as `f64`; text read as a number by the JSON number grammar; `regex` groups; and variables
//! captured from response text, which compare as the text did in the query.

mod support;

use molotov_dsl::{RunOutcome, ScenarioId};
use support::*;

/// A response: its headers and its body.
type Resp = (&'static [(&'static str, &'static str)], &'static str);

/// Runs `GET /x`, answered with `resp`, followed by `lines` (clauses and statements of the
/// scenario), and returns the verdicts of its checks in order and the paths sent.
#[track_caller]
fn run(resp: Resp, lines: &str) -> (Vec<bool>, Vec<String>) {
    let src = format!(
        "defaults {{\n  base http://127.0.0.1:8080\n}}\nscenario s {{\n  GET /x\n{lines}\n}}\n"
    );
    let p = program(&src);
    let mut w = worker(&p, 0);
    let (headers, body) = resp;
    let mut d = FakeDriver::new(move |_| {
        let mut r = FakeResponse::status(200);
        for (n, v) in headers {
            r = r.with_header(n, v);
        }
        r.body = body.as_bytes().to_vec();
        Ok(r)
    });
    let mut ev = Events::default();
    let out = block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev));
    assert_eq!(out, RunOutcome::Success, "{src}\n{:?}", ev.0);
    (ev.checks().into_iter().map(|(_, p)| p).collect(), d.paths())
}

/// Each case is one check against one response: (response, predicate, whether it holds).
#[track_caller]
fn table(cases: &[(Resp, &str, bool)]) {
    let mut wrong = Vec::new();
    for (resp, pred, want) in cases {
        let (got, _) = run(*resp, &format!("  check {pred}"));
        if got != [*want] {
            wrong.push(format!("{pred} on {resp:?}: got {got:?}, want {want}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

const NO_HEADERS: &[(&str, &str)] = &[];

fn json(body: &'static str) -> Resp {
    (NO_HEADERS, body)
}

#[test]
fn integers_compare_exactly_beyond_2_to_the_53() {
    let n993 = json(r#"{"n":9007199254740993}"#);
    let n992 = json(r#"{"n":9007199254740992}"#);
    let x_id: Resp = (&[("X-Id", "9007199254740993")], "");
    let id_text: Resp = (NO_HEADERS, "id=9007199254740993");
    let body_num: Resp = (NO_HEADERS, "9007199254740993");
    table(&[
        (n993, r#"jsonpath "$.n" > 9007199254740992"#, true),
        (n993, r#"jsonpath "$.n" >= 9007199254740993"#, true),
        (n993, r#"jsonpath "$.n" <= 9007199254740992"#, false),
        (n993, r#"jsonpath "$.n" == 9007199254740992"#, false),
        (n993, r#"jsonpath "$.n" != 9007199254740992"#, true),
        (n993, r#"jsonpath "$.n" in [9007199254740992, 1]"#, false),
        (n993, r#"jsonpath "$.n" in [9007199254740993]"#, true),
        (n992, r#"jsonpath "$.n" < 9007199254740993"#, true),
        (n993, r#"jsonpath "$.n" > "9007199254740992""#, true),
        (n992, r#"jsonpath "$.n" < "9007199254740993""#, true),
        (x_id, r#"header "X-Id" == 9007199254740992"#, false),
        (x_id, r#"header "X-Id" == 9007199254740993"#, true),
        (x_id, r#"header "X-Id" in [9007199254740992]"#, false),
        (x_id, r#"header "X-Id" > 9007199254740992"#, true),
        (x_id, r#"header "X-Id" < 9007199254740994"#, true),
        (id_text, r#"regex "id=(\d+)" == 9007199254740992"#, false),
        (id_text, r#"regex "id=(\d+)" > 9007199254740992"#, true),
        (body_num, "body == 9007199254740992", false),
        (body_num, "body == 9007199254740993", true),
        // Not integers: as f64.
        (json(r#"{"n":2.5}"#), r#"jsonpath "$.n" > 2"#, true),
        (json(r#"{"n":2.50}"#), r#"jsonpath "$.n" == 2.5"#, true),
        (json(r#"{"n":1e3}"#), r#"jsonpath "$.n" == 1000"#, true),
    ]);
}

#[test]
fn numbers_beyond_f64_compare_as_infinities() {
    let inf = json(r#"{"a":1E400}"#);
    let neg = json(r#"{"a":-1E400}"#);
    table(&[
        (inf, r#"jsonpath "$.a" > 1"#, true),
        (inf, r#"jsonpath "$.a" < 1"#, false),
        (inf, r#"jsonpath "$.a" == 1"#, false),
        (inf, r#"jsonpath "$.a" exists"#, true),
        (neg, r#"jsonpath "$.a" < 1"#, true),
        (neg, r#"jsonpath "$.a" > -1"#, false),
        ((&[("X-N", "1e400")], ""), r#"header "X-N" > 1000"#, true),
    ]);
}

#[test]
fn response_text_is_a_number_only_in_the_json_number_grammar() {
    let h = |v: &'static str| -> Resp {
        let headers: &'static [(&'static str, &'static str)] = Box::leak(Box::new([("X-N", v)]));
        (headers, "")
    };
    table(&[
        (h("inf"), r#"header "X-N" > 1000"#, false),
        (h("infinity"), r#"header "X-N" > 1000"#, false),
        (h("Infinity"), r#"header "X-N" >= 0"#, false),
        (h("-inf"), r#"header "X-N" < 0"#, false),
        (h("NaN"), r#"header "X-N" < 5"#, false),
        (h("NaN"), r#"header "X-N" == 5"#, false),
        (h("NaN"), r#"header "X-N" == "NaN""#, true),
        (h("+42"), r#"header "X-N" == 42"#, false),
        (h("0x10"), r#"header "X-N" == 16"#, false),
        (h(".5"), r#"header "X-N" == 0.5"#, false),
        (h("42"), r#"header "X-N" == 42"#, true),
        (h("0042"), r#"header "X-N" == 42"#, true),
        (h("-7"), r#"header "X-N" < -6"#, true),
        (h("2.5e1"), r#"header "X-N" == 25"#, true),
        ((NO_HEADERS, "42\n"), "body == 42", true),
        ((NO_HEADERS, "NaN"), "body != 5", true),
        // Text on the right of a number is read the same way.
        (json(r#"{"n":5}"#), r#"jsonpath "$.n" == "+5""#, false),
        (json(r#"{"n":5}"#), r#"jsonpath "$.n" == " 5 ""#, true),
    ]);
}

#[test]
fn a_regex_group_that_took_no_part_finds_nothing() {
    let id_empty: Resp = (NO_HEADERS, "id=");
    let x: Resp = (NO_HEADERS, "x");
    let id42: Resp = (NO_HEADERS, "id=42");
    table(&[
        (id_empty, r#"regex "id=(\d+)?" not exists"#, true),
        (id_empty, r#"regex "id=(\d+)?" exists"#, false),
        (id_empty, r#"regex "id=(\d+)?" == "id=""#, false),
        (id_empty, r#"regex "id=(\d*)" == """#, true),
        (x, r#"regex "x(y)?" not exists"#, true),
        (id42, r#"regex "id=(\d+)?" == 42"#, true),
        // No group: the whole match.
        (id42, r#"regex "id=\d+" == "id=42""#, true),
        // Only the first group counts, even when a later one took part.
        (id42, r#"regex "(x)?id=(\d+)" not exists"#, true),
        // `count` counts the matches.
        (id_empty, r#"regex "id=(\d+)?" count == 1"#, true),
    ]);
    // A capture of such a group finds nothing: `capture?` unsets the variable.
    let (checks, paths) = run(
        id_empty,
        "  capture? id = regex \"id=(\\d+)?\"\n  GET /id/{{id ?? \"none\"}}",
    );
    assert!(checks.is_empty());
    assert_eq!(paths, ["/x", "/id/none"]);
}

#[test]
fn text_captured_from_a_response_compares_as_the_query_did() {
    let resp: Resp = (&[("X-Count", "7"), ("X-Num", "0042")], r#"id=42 {"s":"7"}"#);
    let (checks, paths) = run(
        resp,
        r#"  capture id = regex "id=(\d+)"
  capture cnt = header "X-Count"
  capture hn = header "X-Num"
  capture all = body
  check id == 42
  check id > 5
  check id in [41, 42]
  check cnt == 7
  check cnt >= 7
  check cnt < 10
  check hn == 42
  check hn == "0042"
  check hn == "42"
  check all > 5
  check all contains "id=42"
  GET /v/{{hn}}/{{id}}
  if id > 5 {
    GET /branch/big
  } else {
    GET /branch/small
  }
  if cnt == 7 {
    GET /branch/seven
  }"#,
    );
    assert_eq!(
        checks,
        [
            true, true, true, true, true, true, true, true, false, false, true
        ]
    );
    // The text is sent as captured.
    assert_eq!(paths, ["/x", "/v/0042/42", "/branch/big", "/branch/seven"]);
}

#[test]
fn only_variables_every_assignment_of_which_captures_text_compare_as_text() {
    let resp: Resp = (&[("X-Count", "7")], r#"{"s":"7","n":7}"#);
    let (checks, paths) = run(
        resp,
        r#"  capture js = jsonpath "$.s"
  capture c = header "X-Count" count
  capture mixed = header "X-Count"
  check js == 7
  check js == "7"
  check c == 1
  check mixed == 7
  if mixed == 7 {
    GET /mixed-number
  }
  let mixed = "7"
  if mixed == 7 {
    GET /let-number
  }
  for f in ["7"] {
    if f == 7 {
      GET /for-number
    }
  }"#,
    );
    // A JSON string stays text; so does a variable also set by `let` (at every read, even
    // one before the `let`) or `for`.
    assert_eq!(checks, [false, true, true, false]);
    assert_eq!(paths, ["/x"]);
}

#[test]
fn worker_and_global_variables_captured_as_text_compare_as_numbers() {
    let p = program(
        r#"defaults {
  base http://127.0.0.1:8080
}
setup {
  GET /setup
  capture limit = header "X-Count"
}
setup worker {
  GET /login
  capture seen = header "X-Count"
}
scenario s {
  GET /x
  capture seen = header "X-Count"
  check header "X-Count" < limit
  check header "X-Count" >= seen
  if seen >= 7 {
    GET /seven
  }
  # On the right of an ordering, a variable of response text reads as a number too: 7 is
  # not above 10 (it was, as text: "7" > "10"), and 10 is above 7.
  if seen > limit {
    GET /as-text
  }
  if limit > seen {
    GET /as-numbers
  }
  # Equality stays as it was: text against text as text.
  if seen == limit {
    GET /equal
  }
}
teardown worker {
  if seen == 7 {
    GET /bye/{{seen}}
  }
  if limit > 9 {
    GET /limit
  }
}
"#,
    );
    let mut d = FakeDriver::new(|s| {
        let n = if s.path == "/setup" { "10" } else { "7" };
        Ok(FakeResponse::status(200).with_header("X-Count", n))
    });
    let mut ev = Events::default();
    let globals = block_on(molotov_dsl::run_setup(&p, 0, &mut d, &mut ev)).expect("setup");
    let mut w = worker_with(&p, 0, 1, globals);
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(
        block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(
        block_on(w.run_worker_teardown(&mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(
        d.paths(),
        [
            "/setup",
            "/login",
            "/x",
            "/seven",
            "/as-numbers",
            "/bye/7",
            "/limit"
        ]
    );
    // `header "X-Count" < limit` (7 < 10) and `>= seen` (7 >= 7) hold as numbers.
    let checks: Vec<bool> = ev.checks().into_iter().map(|(_, p)| p).collect();
    assert_eq!(checks, [true, true]);
}

#[test]
fn integers_written_in_the_plan_keep_128_bits() {
    let big = json(r#"{"id":123456789012345678901234567890}"#);
    let inf = json(r#"{"a":1E400}"#);
    let x_id: Resp = (&[("X-Id", "123456789012345678901234567890")], "");
    table(&[
        (
            big,
            r#"jsonpath "$.id" == 123456789012345678901234567890"#,
            true,
        ),
        (
            big,
            r#"jsonpath "$.id" == 123456789012345678901234567891"#,
            false,
        ),
        (
            big,
            r#"jsonpath "$.id" != 123456789012345678901234567891"#,
            true,
        ),
        (
            big,
            r#"jsonpath "$.id" < 123456789012345678901234567891"#,
            true,
        ),
        (big, r#"jsonpath "$.id" > 9223372036854775808"#, true),
        (
            big,
            r#"jsonpath "$.id" in [1, 123456789012345678901234567890]"#,
            true,
        ),
        (
            big,
            r#"jsonpath "$.id" == {{123456789012345678901234567890}}"#,
            true,
        ),
        (
            x_id,
            r#"header "X-Id" == 123456789012345678901234567890"#,
            true,
        ),
        (
            x_id,
            r#"header "X-Id" == 123456789012345678901234567891"#,
            false,
        ),
        (
            inf,
            r#"jsonpath "$.a" > 123456789012345678901234567890"#,
            true,
        ),
        (
            json(r#"{"n":-170141183460469231731687303715884105728}"#),
            r#"jsonpath "$.n" < -170141183460469231731687303715884105727"#,
            true,
        ),
    ]);
    // Sent with their digits; compared exactly as variables too.
    let (checks, paths) = run(
        json("{}"),
        r#"  let big = 123456789012345678901234567890
  GET /v/{{big}}/{{-170141183460469231731687303715884105728}}/{{170141183460469231731687303715884105727}}
  let n = 9007199254740993
  if n > 9007199254740992 {
    GET /greater
  }"#,
    );
    assert!(checks.is_empty());
    assert_eq!(
        paths,
        [
            "/x",
            "/v/123456789012345678901234567890/-170141183460469231731687303715884105728/170141183460469231731687303715884105727",
            "/greater"
        ]
    );
}
