//! A `let` value without braces reads as the same value in `{{ }}`: a default with `??`
//! (`let c = env.X ?? 5`) as well as a path or a call.

mod support;

use molotov_dsl::RunOutcome;
use support::*;

#[test]
fn a_default_without_braces_is_the_template_default() {
    let p = program_with_env(
        r#"let c = env.MOLO_UNSET_X ?? 5
let d = env.HOME
let e = env.NAME ?? "none"
scenario s {
  GET http://127.0.0.1:8080/json
  capture? maybe = jsonpath "$.nope"
  let m = maybe ?? "fallback"
  GET http://127.0.0.1:8080/{{c}}/{{d}}/{{e}}/{{m}}
}
"#,
        [("HOME", "home"), ("NAME", "n")],
    );
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::new(|_| Ok(FakeResponse::json(200, "{}")));
    let mut ev = Events::default();
    let s = p.scenario_id("s").unwrap();
    assert_eq!(
        block_on(w.run_scenario(s, &mut d, &mut ev)),
        RunOutcome::Success
    );
    assert_eq!(d.sent[1].path, "/5/home/n/fallback");
}
