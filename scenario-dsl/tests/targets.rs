//! Request targets: what goes in the request line for a target computed at run time (a
//! captured `Location`, a URL from a JSON body), for a constant at a target's start, and for
//! literal text, and which targets the compiler refuses. Driven through the in-memory fake
//! transport, which records the scheme, authority and path exactly as the interpreter built
//! them.

mod support;

use molotov_dsl::{RunOutcome, ScenarioId, Scheme};
use support::*;

/// What a request was sent to: scheme, authority and path.
type Sent3 = (Scheme, String, String);

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
