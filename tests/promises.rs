//! End-to-end promises that no other test held (found by mutation testing, round 2): an
//! open-model run lasts its `-d` whatever `--max-early`, a run in which no scenario run
//! started exits 1, and the edges of the load flags (what is accepted at the limit, what is
//! refused there).

mod support;

use std::time::Duration;

use support::*;

/// Runs `molotov -q ARGS PLAN` against a fresh target server, the plan being `body` under a
/// `base` to it; returns the output and, when `json` is asked, the JSON report.
fn run_plan(
    name: &str,
    body: &str,
    args: &[&str],
    json: bool,
) -> (std::process::Output, Option<serde_json::Value>) {
    let server = target();
    let dir = TempDir::new(name);
    let plan = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  base {}\n  timeout 5s\n}}\n\n{body}",
            base_url(&server)
        ),
    );
    let report = dir.0.join("report.json");
    let mut cmd = molotov();
    cmd.arg("-q").args(args);
    if json {
        cmd.arg("--json").arg(&report);
    }
    let out = run_bounded(cmd.arg(&plan), Duration::from_secs(60));
    let r = json.then(|| read_json(&report));
    (out, r)
}

const GET: &str = "scenario get {\n  GET /json\n}\n";

#[test]
fn an_open_model_run_with_a_long_max_early_lasts_its_duration() {
    // 10 arrivals a second, each allowed to start up to 500 ms early: the arrival due at the
    // end (2 s) is claimed early and dropped, and the run still lasts 2 s, at 10/s.
    let (out, r) = run_plan(
        "max-early-end",
        GET,
        &["-w", "1", "--rate", "10", "--max-early", "500ms", "-d", "2"],
        true,
    );
    assert_exit(&out, 0);
    let r = r.unwrap();
    let duration = r["duration_s"].as_f64().unwrap();
    let rate = r["rates"]["requests_per_s"].as_f64().unwrap();
    let requests = r["totals"]["requests"].as_u64().unwrap();
    assert_eq!(requests, 20, "{}", stdout(&out));
    assert!(
        duration >= 1.99,
        "the run lasted {duration} s of its 2 s\n{}",
        stdout(&out)
    );
    assert!(
        (rate - 10.0).abs() < 0.2,
        "{rate}/s reported for 10/s\n{}",
        stdout(&out)
    );
}

#[test]
fn a_run_in_which_no_scenario_run_started_fails() {
    // Every worker is still in `setup worker` when the load ends: nothing was sent.
    let (out, r) = run_plan(
        "no-run-started",
        &format!("setup worker {{\n  think 2s\n}}\n\n{GET}"),
        &["-w", "1", "-d", "200ms"],
        true,
    );
    assert_exit(&out, 1);
    assert_eq!(r.unwrap()["totals"]["requests"], 0);
    assert!(
        stdout(&out).contains("no request was sent: no scenario run started before the end"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_load_flags_are_accepted_up_to_their_limits_and_refused_past_them() {
    // (flags, the exit wanted)
    let cases: &[(&[&str], i32)] = &[
        // A failure tolerance is a share strictly between 0% and 100%.
        (&["--sizing", "--sizing-tolerance", "100", "-d", "1"], 2),
        (&["--sizing", "--sizing-tolerance", "0", "-d", "1"], 2),
        // `--delay 0` asks for no pause: not a closed-model option given to the open model.
        (&["--rate", "10", "--delay", "0s", "-d", "300ms"], 0),
        // `--max-early` is at most 1 s, 1 s included.
        (&["--rate", "10", "--max-early", "1s", "-d", "300ms"], 0),
        // The open-model options apply to `--stages` as to `--rate`.
        (&["--stages", "300ms:10", "--max-late", "100ms"], 0),
    ];
    for (flags, code) in cases {
        let (out, _) = run_plan(
            "flag-edges",
            GET,
            &[&["-w", "1"][..], flags].concat(),
            false,
        );
        let case = flags.join(" ");
        assert_exit_for(&out, *code, &case);
        if *code == 2 {
            assert!(
                stderr(&out).contains("--sizing-tolerance"),
                "{case}: the error does not name the flag:\n{}",
                stderr(&out)
            );
        } else {
            assert!(
                reported_requests(&stdout(&out)) > 0,
                "{case}:\n{}",
                stdout(&out)
            );
        }
    }
}
