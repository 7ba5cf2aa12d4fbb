//! Request targets: what goes in the request line for a target computed at run time (a
//! captured `Location`, a URL from a JSON body), for a constant at a target's start, and for
//! literal text, and which targets the compiler refuses. Driven through the in-memory fake
//! transport, which records the scheme, authority and path exactly as the interpreter built
//! them.

mod support;

use std::path::Path;

use molotov_dsl::{CompileOptions, FailureKind, RunOutcome, ScenarioId, Scheme, compile_source};
use support::*;

/// What a request was sent to: scheme, authority and path.
type Sent3 = (Scheme, String, String);

fn http(authority: &str, path: &str) -> Result<Sent3, String> {
    Ok((Scheme::Http, authority.into(), path.into()))
}

fn https(authority: &str, path: &str) -> Result<Sent3, String> {
    Ok((Scheme::Https, authority.into(), path.into()))
}

/// Where each request of a compiled plan (under `base`) went.
fn sent_by(base: &str, body: &str) -> Vec<Sent3> {
    let p = program(&format!("defaults {{\n  base {base}\n}}\n{body}"));
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    let mut ev = Events::default();
    let out = block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev));
    assert_eq!(out, RunOutcome::Success, "{:?}", ev.0);
    d.sent
        .iter()
        .map(|s| (s.scheme, s.authority.clone(), s.path.clone()))
        .collect()
}

/// A `%` that does not start `%XX`, in a literal target or in `base`, is encoded as `%25`
/// (it was sent as written: `/b%zz/t%zz/%4?q=%g1&r=100%`); `%XX` already written is kept.
#[test]
fn a_stray_percent_in_a_literal_target_or_base_is_encoded() {
    let sent = sent_by(
        "http://127.0.0.1:8080/b%zz/",
        "scenario s {\n  GET /t%zz/%4?q=%g1&r=100%\n  GET /ok%20/%C3%A9?x=%2F\n  GET http://other:81/%z{{iter}}?%\n}\n",
    );
    let paths: Vec<&str> = sent.iter().map(|(_, _, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/b%25zz/t%25zz/%254?q=%25g1&r=100%25",
            "/b%25zz/ok%20/%C3%A9?x=%2F",
            "/%25z0?%25",
        ]
    );
}

/// An internationalized host is looked up and sent in its ASCII form (UTS #46, as curl and
/// browsers do), in a literal target, in `base` and in a URL known at run time; it was
/// percent-encoded like a path (`b%C3%BCcher.localhost`), a name no DNS can hold.
#[test]
fn an_internationalized_host_is_sent_in_its_ascii_form() {
    let sent = sent_by(
        "http://bücher.localhost:8080/api",
        "scenario s {\n  GET http://bücher.localhost:1/é\n  GET /x\n  GET http://127.0.0.１:2/{{iter}}\n}\n",
    );
    assert_eq!(
        sent,
        [
            (
                Scheme::Http,
                "xn--bcher-kva.localhost:1".into(),
                "/%C3%A9".into()
            ),
            (
                Scheme::Http,
                "xn--bcher-kva.localhost:8080".into(),
                "/api/x".into()
            ),
            (Scheme::Http, "127.0.0.1:2".into(), "/0".into()),
        ]
    );
    assert_cases(
        "http://127.0.0.1:8080",
        &[
            (
                "http://bücher.localhost:81/ü",
                http("xn--bcher-kva.localhost:81", "/%C3%BC"),
            ),
            (
                "//Bücher.localhost/x?q",
                http("xn--bcher-kva.localhost", "/x?q"),
            ),
        ],
    );
}

/// The message of a failed request that contains `part`.
fn failed(part: &str) -> Result<Sent3, String> {
    Err(part.into())
}

/// Runs `GET /start`, captures `u` from the JSON answer `{"u": value}`, then `GET {{u}}`
/// under `base`; returns where that second request went, or the failure's message.
fn run_time_target(base: &str, value: &str) -> Result<Sent3, String> {
    let p = program(&format!(
        "defaults {{\n  base {base}\n}}\nscenario s {{\n  GET /start\n  capture u = jsonpath \"$.u\"\n  GET {{{{u}}}}\n}}\n"
    ));
    let body = serde_json::json!({ "u": value }).to_string();
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::new(move |_| Ok(FakeResponse::json(200, &body)));
    let mut ev = Events::default();
    let out = block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev));
    if out == RunOutcome::Success {
        assert_eq!(d.sent.len(), 2, "{value:?}");
        let s = &d.sent[1];
        return Ok((s.scheme, s.authority.clone(), s.path.clone()));
    }
    assert_eq!(
        d.sent.len(),
        1,
        "{value:?}: nothing is sent for a bad target"
    );
    match &ev.failures()[..] {
        [Event::Failure { kind, message, .. }] => {
            assert_eq!(*kind, FailureKind::Render, "{value:?}");
            Err(message.clone())
        }
        other => panic!("{value:?}: {other:?}"),
    }
}

#[track_caller]
fn assert_cases(base: &str, cases: &[(&str, Result<Sent3, String>)]) {
    for (value, want) in cases {
        let got = run_time_target(base, value);
        match (&got, want) {
            (Err(msg), Err(part)) => assert!(msg.contains(part.as_str()), "{value:?}: {msg}"),
            _ => assert_eq!(&got, want, "base {base}, value {value:?}"),
        }
    }
}

/// A value at a target's start is a URL reference resolved against `base` as a `Location`
/// header is (RFC 3986 §5.2). An absolute path got `base`'s path prefix a second time
/// (`/api/api/cart/42`), and a relative path was refused.
#[test]
fn run_time_targets_resolve_against_base_as_a_location_does() {
    let cases = [
        // An absolute path is on the base's origin, as is.
        ("/api/cart/42", http("127.0.0.1:8080", "/api/cart/42")),
        ("/cart/42", http("127.0.0.1:8080", "/cart/42")),
        ("/", http("127.0.0.1:8080", "/")),
        // A relative path goes under the base's path (a directory, with or without `/`).
        ("cart/42", http("127.0.0.1:8080", "/api/cart/42")),
        (
            "cart%2042?x=1",
            http("127.0.0.1:8080", "/api/cart%2042?x=1"),
        ),
        ("?page=2", http("127.0.0.1:8080", "/api/?page=2")),
        // Dot segments are sent as they are (the server normalises them).
        ("../x/./y", http("127.0.0.1:8080", "/api/../x/./y")),
        ("/p/../q", http("127.0.0.1:8080", "/p/../q")),
        // A full URL as is; a network-path reference takes the base's scheme.
        ("http://other:81/x", http("other:81", "/x")),
        ("HTTPS://other/x", https("other", "/x")),
        ("//other:81/x?y", http("other:81", "/x?y")),
        ("//other:81", http("other:81", "/")),
        // Invalid bytes are encoded; `%XX` is kept, a stray `%` is not an escape.
        ("/a b/%41%zz", http("127.0.0.1:8080", "/a%20b/%41%25zz")),
        // Refused: nothing to send, another scheme, a host without a scheme, a broken start.
        ("", failed("an empty target")),
        (
            "ftp://h/x",
            failed("neither an absolute http(s) URL nor a path"),
        ),
        (
            "mailto:a@b",
            failed("neither an absolute http(s) URL nor a path"),
        ),
        (
            "localhost:8080/x",
            failed("neither an absolute http(s) URL nor a path"),
        ),
        (" /x", failed("starts with a space or a control character")),
        ("\t/x", failed("starts with a space or a control character")),
        ("http://u:p@h/x", failed("user names and passwords")),
    ];
    for base in ["http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/api"] {
        assert_cases(base, &cases);
    }
    // Without a base path, a relative path is under `/`; an https base gives its scheme.
    assert_cases(
        "https://127.0.0.1:8443",
        &[
            ("cart/42", https("127.0.0.1:8443", "/cart/42")),
            ("/cart/42", https("127.0.0.1:8443", "/cart/42")),
            ("//other/x", https("other", "/x")),
        ],
    );
}

/// A constant at a target's start is resolved as a value computed at run time is: the rule
/// depends on how the target is written (literal text, or a template at its start), not on
/// when the template's value is known. Literal paths keep `base`'s path prefix.
#[test]
fn constants_at_a_targets_start_resolve_as_run_time_values_do() {
    let body = r#"
let abs = "/x"
let rel = "x/y"
let full = "http://other:81"
let net = "//other:81/n"
scenario s {
  GET /lit
  GET /lit/{{iter}}
  GET {{abs}}
  GET {{rel}}
  GET {{full}}
  GET {{net}}
  GET {{abs}}/{{iter}}
  GET {{rel}}/{{iter}}?q={{"a b"}}
  GET {{abs}}{{iter}}
  GET {{full}}/f/{{iter}}
  GET {{"/a"}}{{"/b"}}
}
"#;
    let h = |p: &str| ("127.0.0.1:8080".to_string(), p.to_string());
    let want = [
        h("/api/lit"),
        h("/api/lit/0"),
        h("/x"),
        h("/api/x/y"),
        ("other:81".into(), "/".into()),
        ("other:81".into(), "/n".into()),
        h("/x/0"),
        h("/api/x/y/0?q=a%20b"),
        h("/x0"),
        ("other:81".into(), "/f/0".into()),
        h("/a/b"),
    ];
    for base in ["http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/api"] {
        let got: Vec<_> = sent_by(base, body)
            .into_iter()
            .map(|(scheme, a, p)| {
                assert_eq!(scheme, Scheme::Http);
                (a, p)
            })
            .collect();
        assert_eq!(got, want, "base {base}");
    }
}

fn diagnostics(src: &str) -> String {
    let opts = CompileOptions::with_env([("FRAG", "/e#x")]);
    match compile_source("t.mol", src, Path::new("."), &opts) {
        Ok(_) => "(compiled without errors)\n".to_string(),
        Err(d) => d.to_string(),
    }
}

/// A constant path at a target's start needs a `base`, as a literal path does.
#[test]
fn a_constant_path_without_base_is_a_compile_error() {
    let got = diagnostics("let u = \"x/y\"\nscenario s {\n  GET {{u}}\n}\n");
    assert!(
        got.starts_with("error: relative target `{{u}}` needs a `base`"),
        "{got}"
    );
}

/// A bad constant at a target's start is refused when the plan is compiled, with the
/// reason a value computed at run time would fail with.
#[test]
fn bad_constants_at_a_targets_start_are_compile_errors() {
    let head = "defaults {\n  base http://127.0.0.1:8080\n}\n";
    let cases: &[(&str, &str)] = &[
        (
            "let u = \"ftp://h/x\"\nscenario s {\n  GET {{u}}\n}\n",
            "error: invalid request target `ftp://h/x`\n --> t.mol:6:7\n  |\n6 |   GET {{u}}\n  |       ^^^^^ neither an absolute http(s) URL nor a path\n  = help: a target is a path (`/items?page=2`) or an absolute URL (`http://host:8080/items`)\n",
        ),
        (
            "let u = \"\"\nscenario s {\n  GET {{u}}/{{iter}}\n}\n",
            "(compiled without errors)\n",
        ),
        (
            "let u = \"\"\nscenario s {\n  GET {{u}}\n}\n",
            "error: invalid request target ``\n --> t.mol:6:7\n  |\n6 |   GET {{u}}\n  |       ^^^^^ an empty target\n  = help: a target is a path (`/items?page=2`) or an absolute URL (`http://host:8080/items`)\n",
        ),
    ];
    for (body, want) in cases {
        let src = format!("{head}{body}");
        assert_eq!(diagnostics(&src), *want, "{src}");
    }
}

/// A fragment is not part of a request target (RFC 9110 §4.2.4): it was sent
/// (`GET /cart/42#top`), and `http://h:p#frag` failed as a path `#frag`.
#[test]
fn run_time_targets_drop_the_fragment() {
    assert_cases(
        "http://127.0.0.1:8080",
        &[
            ("/cart/42#top", http("127.0.0.1:8080", "/cart/42")),
            (
                "/cart/42?x=1#section-2",
                http("127.0.0.1:8080", "/cart/42?x=1"),
            ),
            ("/a#b#c", http("127.0.0.1:8080", "/a")),
            ("/a%23b#c", http("127.0.0.1:8080", "/a%23b")),
            ("http://127.0.0.1:9/abs#frag", http("127.0.0.1:9", "/abs")),
            ("http://127.0.0.1:9#onlyfrag", http("127.0.0.1:9", "/")),
            ("http://127.0.0.1:9?x=1#f", http("127.0.0.1:9", "/?x=1")),
            ("https://[::1]:9/p?q#", https("[::1]:9", "/p?q")),
            ("//other:81/x?y#z", http("other:81", "/x?y")),
            ("#only", failed("an empty target")),
        ],
    );
}

/// A constant at a target's start is known at compile time: a `#` in it is a compile error,
/// as a literal `#` is (it was sent: `GET /page#top`, `GET /evil?x=#/p3`).
#[test]
fn a_fragment_in_a_constant_target_is_a_compile_error() {
    let head = "defaults {\n  base http://127.0.0.1:8080\n}\n";
    let cases: &[(&str, &str)] = &[
        (
            "let u = \"/page#top\"\nscenario s {\n  GET {{u}}\n}\n",
            "error: a request target cannot contain `#`\n --> t.mol:6:7\n  |\n6 |   GET {{u}}\n  |       ^^^^^ this value, `/page#top`, has a fragment, which is not sent to the server\n  = help: leave the fragment out of the value, or write `%23` for a literal `#`\n",
        ),
        (
            "let hs = \"127.0.0.1:18555/evil?x=#\"\nscenario s {\n  GET http://{{hs}}/p3\n}\n",
            "error: a request target cannot contain `#`\n --> t.mol:6:14\n  |\n6 |   GET http://{{hs}}/p3\n  |              ^^^^^^ this value, `127.0.0.1:18555/evil?x=#`, has a fragment, which is not sent to the server\n  = help: leave the fragment out of the value, or write `%23` for a literal `#`\n",
        ),
        (
            "scenario s {\n  GET {{env.FRAG}}/{{iter}}\n}\n",
            "error: a request target cannot contain `#`\n --> t.mol:5:7\n  |\n5 |   GET {{env.FRAG}}/{{iter}}\n  |       ^^^^^^^^^^^^ this value, `/e#x`, has a fragment, which is not sent to the server\n  = help: leave the fragment out of the value, or write `%23` for a literal `#`\n",
        ),
        (
            "let u = \"http://h:1#f\"\nscenario s {\n  GET {{u}}\n}\n",
            "error: a request target cannot contain `#`\n --> t.mol:6:7\n  |\n6 |   GET {{u}}\n  |       ^^^^^ this value, `http://h:1#f`, has a fragment, which is not sent to the server\n  = help: leave the fragment out of the value, or write `%23` for a literal `#`\n",
        ),
        // Where a value is one path segment or query component, `#` is encoded: no error.
        (
            "let u = \"a#b\"\nscenario s {\n  GET /p/{{u}}?q={{u}}\n}\n",
            "(compiled without errors)\n",
        ),
    ];
    for (body, want) in cases {
        let src = format!("{head}{body}");
        assert_eq!(diagnostics(&src), *want, "{src}");
    }
}

/// Once a value at a target's start has brought a query (`/search?q=`), the holes after it
/// are in the query and are escaped as query components, as holes after a literal `?` are.
/// They were escaped by the literal text alone: `{{u}}/{{v}}` as a path segment, and
/// `{{u}}&page={{v}}` as the start of a URL (`&` sent raw, splitting the parameter). A
/// value without a `?` leaves them as they were, and two values side by side with no `?`
/// still make one URL (`{{"/a"}}{{"/b"}}` is `/a/b`).
#[test]
fn holes_after_a_start_value_that_brought_a_query_are_query_components() {
    let p = program(
        r#"defaults {
  base http://127.0.0.1:8080/api/
}
let q = "/c?k="
let nq = "/c"
scenario s {
  GET /start
  capture u = jsonpath "$.u"
  capture plain = jsonpath "$.plain"
  capture abs = jsonpath "$.abs"
  capture v = jsonpath "$.v"
  GET {{u}}/{{v}}
  GET {{u}}&page={{v}}
  GET {{u}}{{v}}
  GET {{u}}/{{iter}}/{{"x&y"}}
  GET {{abs}}{{v}}
  GET {{plain}}/{{v}}
  GET {{plain}}&page={{v}}
  GET {{q}}/{{v}}
  GET {{q}}{{"x y&z"}}
  GET {{q}}/{{iter}}/{{"x&y"}}
  GET {{nq}}/{{v}}
  GET {{"/a"}}{{"/b"}}
  GET /lit?a={{u}}&b={{v}}
}
"#,
    );
    let body = serde_json::json!({
        "u": "/search?q=",
        "plain": "/items",
        "abs": "http://other:81/s?q=",
        "v": "a b&c=d/e",
    })
    .to_string();
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::new(move |_| Ok(FakeResponse::json(200, &body)));
    let mut ev = Events::default();
    let out = block_on(w.run_scenario(ScenarioId(0), &mut d, &mut ev));
    assert_eq!(out, RunOutcome::Success, "{:?}", ev.0);
    let got: Vec<(String, String)> = d.sent[1..]
        .iter()
        .map(|s| (s.authority.clone(), s.path.clone()))
        .collect();
    let h = |p: &str| ("127.0.0.1:8080".to_string(), p.to_string());
    assert_eq!(
        got,
        [
            h("/search?q=/a%20b%26c%3Dd/e"),
            h("/search?q=&page=a%20b%26c%3Dd/e"),
            h("/search?q=a%20b%26c%3Dd/e"),
            h("/search?q=/0/x%26y"),
            ("other:81".into(), "/s?q=a%20b%26c%3Dd/e".into()),
            // No `?` before them: a path segment, and the start of a URL (as before).
            h("/items/a%20b&c=d%2Fe"),
            h("/items&page=a%20b&c=d/e"),
            // Constants at the start, decided at compile time alike.
            h("/c?k=/a%20b%26c%3Dd/e"),
            h("/c?k=x%20y%26z"),
            h("/c?k=/0/x%26y"),
            h("/c/a%20b&c=d%2Fe"),
            h("/a/b"),
            h("/api/lit?a=/search?q%3D&b=a%20b%26c%3Dd/e"),
        ]
    );
}
