//! A plan saved with CRLF line endings sends the same bytes as the same plan with LF
//! endings: raw and JSON bodies join their lines with `\n`, whatever the file's endings.

mod support;

use molotov_dsl::RunOutcome;
use support::*;

const PLAN: &str = r#"defaults {
  base http://127.0.0.1:8080
  X-Def: dval
}
let s = "v"
scenario a {
  POST /raw
  Content-Type: text/plain
  ```
  line1
  line2 {{s}}
  line3
  ```
  POST /json
  {"a": 1,
   "b": "{{s}}",
   "c": [1,
     2]}
  POST /form
  form {
    a: 1
    b: {{s}}
  }
}
"#;

/// One request as sent: path, body, headers.
type Wire = (String, Vec<u8>, Vec<(String, String)>);

/// What the plan sends, request by request.
fn sent(src: &str) -> Vec<Wire> {
    let p = program(src);
    let mut w = worker(&p, 0);
    let mut d = FakeDriver::ok();
    let mut ev = Events::default();
    let a = p.scenario_id("a").unwrap();
    assert_eq!(
        block_on(w.run_scenario(a, &mut d, &mut ev)),
        RunOutcome::Success
    );
    d.sent
        .iter()
        .map(|s| (s.path.clone(), s.body.clone(), s.headers.clone()))
        .collect()
}

#[test]
fn a_crlf_plan_sends_the_bytes_of_the_lf_plan() {
    let lf = sent(PLAN);
    let crlf = sent(&PLAN.replace('\n', "\r\n"));
    assert_eq!(lf.len(), 3);
    // The indentation the lines share with the closing fence is not sent.
    assert_eq!(lf[0].1, b"line1\nline2 v\nline3");
    assert_eq!(
        lf, crlf,
        "the CRLF plan must send what the LF plan sends, byte for byte"
    );
}

#[test]
fn a_lone_cr_in_a_raw_body_is_text() {
    let src = "scenario a {\n  POST http://127.0.0.1:8080/\n  ```\n  a\rb\n  ```\n}\n";
    assert_eq!(sent(src)[0].1, b"a\rb");
}
