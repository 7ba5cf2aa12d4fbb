//! Complete valid plans (`tests/plans/*.mol`) compile without warnings; the design's example
//! runs end to end against an in-memory fake of its shop server.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use molotov_dsl::{
    CompileOptions, Metric, RunOutcome, ThresholdTarget, ThresholdValue, compile, run_setup,
    run_teardown,
};
use support::*;

fn plans_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans")
}

fn opts() -> CompileOptions {
    CompileOptions::with_env([("TARGET", "http://127.0.0.1:8080"), ("API_KEY", "k-123")])
}

fn compile_plan(name: &str) -> Arc<molotov_dsl::Program> {
    match compile(&plans_dir().join(name), &opts()) {
        Ok(p) => Arc::new(p),
        Err(d) => panic!("{name} does not compile:\n{d}"),
    }
}

#[test]
fn every_plan_in_tests_plans_compiles_cleanly() {
    let mut names: Vec<String> = std::fs::read_dir(plans_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.ends_with(".mol").then_some(name)
        })
        .collect();
    names.sort();
    // Files only included by others are not plans of their own.
    names.retain(|n| !n.starts_with('_'));
    assert!(names.len() >= 5, "at least five complete plans: {names:?}");
    for name in names {
        let p = compile_plan(&name);
        assert!(p.warnings().is_empty(), "{name}: {}", p.warnings());
        assert!(!p.scenarios().is_empty());
    }
}

#[test]
fn the_design_example_compiles_to_the_expected_tables() {
    let p = compile_plan("shop.mol");
    let scenarios: Vec<_> = p
        .scenarios()
        .iter()
        .map(|s| (s.name.as_str(), s.weight, s.delay))
        .collect();
    assert_eq!(
        scenarios,
        [
            ("browse", 70, Duration::ZERO),
            ("buy", 30, Duration::from_millis(100))
        ]
    );
    let names: Vec<_> = p.requests().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "POST /admin/reset",
            "POST /login",
            "products_page",
            "GET /products/{{pid}}",
            "POST /cart",
            "GET {{cart}}",
            "POST /logout"
        ]
    );
    assert_eq!(p.requests()[2].location.line, 25);
    assert!(p.requests()[2].location.file.ends_with("shop.mol"));
    let checks: Vec<_> = p
        .checks()
        .iter()
        .map(|c| (c.text.as_str(), c.is_assert))
        .collect();
    assert_eq!(
        checks,
        [
            ("status == 204", true),
            ("status == 200", true),
            ("status == 200", false),
            ("jsonpath \"$.items\" count >= 1", false),
            ("status == 200", false),
            ("status in [200, 201]", true),
            ("duration < 500ms", false)
        ]
    );
    let t = p.thresholds();
    assert_eq!(t.len(), 3);
    assert_eq!(
        (t[0].metric, t[0].value),
        (
            Metric::P99,
            ThresholdValue::Duration(Duration::from_millis(250))
        )
    );
    assert_eq!(t[1].scope.as_deref(), Some("buy"));
    assert_eq!(
        t[1].target,
        Some(ThresholdTarget::Scenario(molotov_dsl::ScenarioId(1)))
    );
    assert_eq!(
        (t[2].metric, t[2].value),
        (Metric::Errors, ThresholdValue::Percent(1.0))
    );
    assert_eq!(t[2].text, "errors < 1%");
    assert!(p.has_setup() && p.has_worker_setup() && p.has_worker_teardown() && !p.has_teardown());
    assert_eq!(p.timeout(), Duration::from_secs(2));
    // What each request needs from its response.
    assert!(p.requests()[1].needs.body, "login captures a JSONPath");
    assert_eq!(
        p.requests()[4].needs.headers,
        vec![Box::<str>::from("location")]
    );
    assert!(!p.requests()[4].needs.body);
}

/// A fake of the shop the design example targets.
fn shop(s: &Sent) -> Result<FakeResponse, String> {
    Ok(match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/admin/reset") => FakeResponse::status(204),
        ("POST", "/login") => {
            let body: serde_json::Value =
                serde_json::from_slice(&s.body).map_err(|e| e.to_string())?;
            let user = body["user"].as_str().unwrap_or("?");
            FakeResponse::json(200, &format!(r#"{{"token": "tok-{user}"}}"#))
        }
        ("GET", p) if p.starts_with("/products?page=") => {
            if s.header("Authorization").is_none() {
                return Ok(FakeResponse::status(401));
            }
            FakeResponse::json(200, r#"{"items": [{"id": "p-9"}, {"id": "p-10"}]}"#)
        }
        ("GET", "/products/p-9") => FakeResponse::json(200, r#"{"id": "p-9"}"#),
        ("POST", "/cart") => FakeResponse::status(201).with_header("Location", "/cart/55"),
        ("GET", "/cart/55") => FakeResponse::status(200).took(Duration::from_millis(20)),
        ("POST", "/logout") => FakeResponse::status(204),
        _ => FakeResponse::status(404),
    })
}

#[test]
fn the_design_example_runs_against_a_fake_shop() {
    let p = compile_plan("shop.mol");
    let mut ev = Events::default();
    let mut d = FakeDriver::new(shop);
    let globals = block_on(run_setup(&p, 0, &mut d, &mut ev)).expect("setup");
    assert_eq!(d.paths(), ["/admin/reset"]);

    let mut w = worker_with(&p, 7, 99, globals.clone());
    let mut d = FakeDriver::new(shop);
    assert_eq!(
        block_on(w.run_worker_setup(&mut d, &mut ev)),
        RunOutcome::Success,
        "{:?}",
        ev.0
    );
    let login: serde_json::Value = serde_json::from_slice(&d.sent[0].body).unwrap();
    assert_eq!(
        login,
        serde_json::json!({"user": "bot7", "password": "secret"})
    );
    assert_eq!(d.sent[0].header("Content-Type"), Some("application/json"));
    assert_eq!(d.sent[0].header("Accept"), Some("application/json"));

    let mut runs = [0usize; 2];
    for _ in 0..40 {
        let id = w.pick_scenario();
        runs[id.index()] += 1;
        let mut d = FakeDriver::new(shop);
        let out = block_on(w.run_scenario(id, &mut d, &mut ev));
        assert_eq!(out, RunOutcome::Success, "{:?}", ev.failures());
        for s in &d.sent {
            assert_eq!(
                s.header("Authorization"),
                Some("Bearer tok-bot7"),
                "sticky header on {}",
                s.path
            );
        }
        if id.index() == 0 {
            let page: u32 = d.sent[0].path["/products?page=".len()..].parse().unwrap();
            assert!((1..=50).contains(&page));
            assert_eq!(d.sent[1].path, "/products/p-9");
            assert_eq!(d.slept.len(), 1);
            assert!(
                d.slept[0] >= Duration::from_millis(200) && d.slept[0] <= Duration::from_secs(1)
            );
        } else {
            let cart: serde_json::Value = serde_json::from_slice(&d.sent[0].body).unwrap();
            assert!(["A-1", "B-2", "C-3"].contains(&cart["sku"].as_str().unwrap()));
            assert!((1..=3).contains(&cart["qty"].as_i64().unwrap()));
            assert_eq!(d.paths()[1..], ["/cart/55", "/cart/55"]);
            assert_eq!(d.slept, [Duration::from_millis(100)], "the scenario delay");
        }
    }
    assert!(runs[0] > 0 && runs[1] > 0, "{runs:?}");
    assert!(ev.checks().iter().all(|(_, passed)| *passed), "{:?}", ev.0);
    assert!(!ev.0.iter().any(|e| matches!(e, Event::RequestFailed(..))));

    let mut d = FakeDriver::new(shop);
    assert_eq!(
        block_on(w.run_worker_teardown(&mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(d.paths(), ["/logout"]);
    let mut d = FakeDriver::new(shop);
    assert_eq!(
        block_on(run_teardown(&p, &globals, 0, &mut d, &mut ev)),
        RunOutcome::Success
    );
    assert!(d.sent.is_empty(), "the example has no global teardown");
}

#[test]
fn env_values_reach_the_plan_at_compile_time_only() {
    let p = compile(
        &plans_dir().join("shop.mol"),
        &CompileOptions::with_env([
            ("TARGET", "https://shop.test:9443"),
            ("PASSWORD", "hunter2"),
        ]),
    )
    .unwrap();
    let p = Arc::new(p);
    let mut w = worker(&p, 1);
    let mut d = FakeDriver::new(shop);
    let mut ev = Events::default();
    block_on(w.run_worker_setup(&mut d, &mut ev));
    assert_eq!(d.sent[0].authority, "shop.test:9443");
    assert_eq!(d.sent[0].scheme, molotov_dsl::Scheme::Https);
    let login: serde_json::Value = serde_json::from_slice(&d.sent[0].body).unwrap();
    assert_eq!(login["password"], "hunter2");
}

#[test]
fn includes_merge_items_and_resolve_relative_paths() {
    let p = compile_plan("with_include.mol");
    let names: Vec<_> = p.scenarios().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["shared", "health"],
        "included items come where the include is"
    );
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    let mut ev = Events::default();
    let shared = p.scenario_id("shared").unwrap();
    assert_eq!(
        block_on(w.run_scenario(shared, &mut d, &mut ev)),
        RunOutcome::Success
    );
    // The body file sits next to the included file, in `_lib/`.
    assert_eq!(d.sent[0].body_str().trim_end(), "{\"from\": \"a file\"}");
    assert_eq!(d.sent[0].header("X-Api-Key"), Some("k-123"));
}

/// A generic server that answers what the example plans ask for.
fn generic(s: &Sent) -> Result<FakeResponse, String> {
    let status = match s.method.as_str() {
        "POST" if s.path.starts_with("/orders") => 201,
        "DELETE" => 204,
        _ => 200,
    };
    let body = r#"{"id": 1, "token": "t", "name": "n", "nickname": "nick", "items": [{"id": 1, "price": 3}],
        "tags": ["new", "x"], "total": 150, "price": 3, "count": 2, "report": "r"}"#;
    let mut r = FakeResponse::json(status, body)
        .with_header("Location", "/orders/9")
        .with_header("ETag", "\"e1\"")
        .with_header("X-Token", "tok");
    if status == 204 {
        r.body.clear();
    }
    Ok(r)
}

#[test]
fn every_scenario_of_every_plan_runs_against_a_generic_server() {
    for name in [
        "auth_flow.mol",
        "catalog.mol",
        "everything.mol",
        "static_get.mol",
        "with_include.mol",
        "diamond.mol",
    ] {
        let p = compile_plan(name);
        let mut ev = Events::default();
        let mut d = FakeDriver::new(generic);
        let globals = block_on(run_setup(&p, 0, &mut d, &mut ev))
            .unwrap_or_else(|o| panic!("{name}: setup {o:?} {:?}", ev.0));
        let mut w = worker_with(&p, 1, 5, globals.clone());
        let mut d = FakeDriver::new(generic);
        assert_eq!(
            block_on(w.run_worker_setup(&mut d, &mut ev)),
            RunOutcome::Success,
            "{name}: {:?}",
            ev.0
        );
        for (i, s) in p.scenarios().iter().enumerate() {
            let mut d = FakeDriver::new(generic);
            let out = block_on(w.run_scenario(molotov_dsl::ScenarioId(i as u32), &mut d, &mut ev));
            assert_eq!(
                out,
                RunOutcome::Success,
                "{name}/{}: {:?}",
                s.name,
                ev.failures()
            );
            assert!(!d.sent.is_empty(), "{name}/{} sent nothing", s.name);
            for sent in &d.sent {
                assert!(sent.path.starts_with('/'), "{name}: path {}", sent.path);
                assert!(!sent.authority.is_empty());
            }
        }
        let mut d = FakeDriver::new(generic);
        assert_eq!(
            block_on(w.run_worker_teardown(&mut d, &mut ev)),
            RunOutcome::Success,
            "{name}"
        );
        let mut d = FakeDriver::new(generic);
        assert_eq!(
            block_on(run_teardown(&p, &globals, 0, &mut d, &mut ev)),
            RunOutcome::Success,
            "{name}"
        );
    }
}
