//! The integer arguments of `rand_int` and `rand_str`: a number without a fraction, or text
//! that reads as one (as predicates read response text), at most 64 bits; anything else is
//! an error that shows the value.

mod support;

use molotov_dsl::{RunOutcome, ScenarioId};
use support::*;

/// Runs a scenario that captures `v` from the JSON `{"v": <v>}` and the header `X-N: <h>`,
/// then requests `/x/{{<expr>}}`: the path of that request, or the failure's message.
fn run(v: &str, h: &str, expr: &str) -> Result<String, String> {
    let src = format!(
        "defaults {{\n  base http://127.0.0.1:8080\n}}\nscenario s {{\n  GET /n\n  capture v = jsonpath \"$.v\"\n  capture h = header \"X-N\"\n  GET /x/{{{{{expr}}}}}\n}}\n"
    );
    let p = program(&src);
    let mut w = worker(&p, 0);
    let body = format!(r#"{{"v": {v}}}"#);
    let h = h.to_string();
    let mut d = FakeDriver::new(move |_| Ok(FakeResponse::json(200, &body).with_header("X-N", &h)));
    let mut ev = Events::default();
    match block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev)) {
        RunOutcome::Success => Ok(d.paths()[1].clone()),
        _ => match ev.failures().first() {
            Some(Event::Failure { message, .. }) => Err(message.clone()),
            other => panic!("{src}: no failure recorded: {other:?}"),
        },
    }
}

#[test]
fn integer_arguments_are_read_as_numbers_and_others_shown_in_the_error() {
    // (the JSON value of `v`, the header `X-N`, the expression, the path or the error's end;
    // a number captured with an exponent is spelled anew, `1e30` as `1e+30`)
    let cases: &[(&str, &str, &str, Result<&str, &str>)] = &[
        ("3", "7", "rand_int(v, v)", Ok("/x/3")),
        ("3.0", "7", "rand_int(v, v)", Ok("/x/3")),
        ("1e3", "7", "rand_int(v, v)", Ok("/x/1000")),
        (
            "-9223372036854775808",
            "7",
            "rand_int(v, v)",
            Ok("/x/-9223372036854775808"),
        ),
        (r#""3""#, "7", "rand_int(v, v)", Ok("/x/3")),
        (r#""0042""#, "7", "rand_int(v, v)", Ok("/x/42")),
        ("0", "7", "rand_int(h, h)", Ok("/x/7")),
        ("0", "0042", "rand_int(h, h)", Ok("/x/42")),
        (
            "2.5",
            "7",
            "rand_int(v, 3)",
            Err("rand_int() needs integer arguments, got 2.5"),
        ),
        (
            "9223372036854775808",
            "7",
            "rand_int(1, v)",
            Err("rand_int() needs integer arguments, got 9223372036854775808 (beyond 64 bits)"),
        ),
        (
            "1e30",
            "7",
            "rand_int(1, v)",
            Err("rand_int() needs integer arguments, got 1e+30 (beyond 64 bits)"),
        ),
        (
            "1E400",
            "7",
            "rand_int(1, v)",
            Err("rand_int() needs integer arguments, got 1e+400 (beyond 64 bits)"),
        ),
        (r#""abc""#, "7", "rand_int(v, 3)", Err(r#"got "abc""#)),
        (r#""+3""#, "7", "rand_int(v, 3)", Err(r#"got "+3""#)),
        ("0", "inf", "rand_int(h, 3)", Err(r#"got "inf""#)),
        ("true", "7", "rand_int(v, 3)", Err("got true")),
        ("null", "7", "rand_int(v, 3)", Err("got null")),
        ("[1]", "7", "rand_int(v, 3)", Err("got a list")),
        ("{}", "7", "rand_int(v, 3)", Err("got an object")),
        (
            "2.5",
            "7",
            "rand_str(v)",
            Err("rand_str() needs integer arguments, got 2.5"),
        ),
    ];
    let mut wrong = Vec::new();
    for (v, h, expr, want) in cases {
        let got = run(v, h, expr);
        let ok = match (&got, want) {
            (Ok(path), Ok(want)) => path == want,
            (Err(message), Err(want)) => message.ends_with(want),
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "{expr} with v = {v}, h = {h}: got {got:?}, want {want:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_constant_argument_that_reads_as_an_integer_compiles() {
    let p = program(
        "defaults {\n  base http://127.0.0.1:8080\n}\nscenario s {\n  GET /x/{{rand_int(\"2\", 2.0)}}/{{rand_str(\"3\")}}\n}\n",
    );
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    let mut ev = Events::default();
    assert_eq!(
        block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev)),
        RunOutcome::Success
    );
    let path = &d.paths()[0];
    assert!(
        path.starts_with("/x/2/") && path.len() == "/x/2/".len() + 3,
        "{path}"
    );
}
