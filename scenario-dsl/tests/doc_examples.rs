//! The examples of `docs/plan-language.md` work: each is taken from the document itself,
//! compiled and run against a fake server that answers the way the text says.

mod support;

use std::path::Path;

use molotov_dsl::{RunOutcome, run_setup, run_teardown};
use support::*;

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plan-language.md");
    std::fs::read_to_string(path).expect("docs/plan-language.md")
}

/// The fenced code block of the document whose text contains `marker`.
fn code_block(doc: &str, marker: &str) -> String {
    let mut blocks = doc.split("\n```\n").skip(1).step_by(2);
    blocks
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("no code block holds `{marker}`"))
        .to_string()
}

/// A server that answers as `molotov-target`'s demo API does (docs/target-server.md):
/// `POST /admin/reset` and `POST /logout` are 204 with no body, `POST /login` returns a
/// JSON token when the body has both a non-empty `user` and `password` (400 otherwise), `/`
/// is 200, and any other path is 404.
fn server(s: &Sent) -> Result<FakeResponse, String> {
    Ok(match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/admin/reset" | "/logout") => FakeResponse::status(204),
        ("POST", "/login") => {
            let body: serde_json::Value = serde_json::from_slice(&s.body).unwrap_or_default();
            let field = |name: &str| body[name].as_str().filter(|v| !v.is_empty());
            match (field("user"), field("password")) {
                (Some(user), Some(_)) => {
                    FakeResponse::json(200, &format!(r#"{{"token": "tok-{user}"}}"#))
                }
                _ => FakeResponse::json(400, r#"{"error":"user and password are required"}"#),
            }
        }
        ("GET", "/") => FakeResponse::status(200),
        _ => FakeResponse::status(404),
    })
}

#[test]
fn the_setup_and_teardown_example_runs() {
    let blocks = code_block(&doc(), "setup {             # once per run");
    let plan = format!(
        "defaults {{\n  base http://127.0.0.1:8080\n}}\n{blocks}\nscenario s {{\n  GET /\n}}\n"
    );
    let p = program(&plan);
    let mut ev = Events::default();
    let mut d = FakeDriver::new(server);
    let globals = match block_on(run_setup(&p, 0, &mut d, &mut ev)) {
        Ok(g) => g,
        Err(outcome) => panic!("setup: {outcome:?}, {:?}", ev.failures()),
    };
    let mut w = worker_with(&p, 1, 1, globals.clone());
    let mut d = FakeDriver::new(server);
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Success,
        "{:?}",
        ev.failures()
    );
    assert_eq!(d.sent[0].path, "/login");
    let mut d = FakeDriver::new(server);
    assert_eq!(
        block_on(w.run_worker_teardown(&mut d, &mut ev)),
        RunOutcome::Success
    );
    // The worker's token, sticky from `setup worker`.
    assert_eq!(d.sent[0].header("Authorization"), Some("Bearer tok-bot1"));
    let mut d = FakeDriver::new(server);
    assert_eq!(
        block_on(run_teardown(&p, &globals, 0, &mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(d.sent[0].header("Authorization"), Some("Bearer tok-admin"));
}
