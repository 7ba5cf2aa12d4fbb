//! End-to-end tests of `molotov --config molotov.json --test NAME`: a test's options applied
//! to a real run against the in-repo target server, the command line winning for each kind of
//! flag, `env` reaching `{{env.X}}`, `requirements` reported as not needed, and every error
//! naming what is valid.

mod support;

use std::time::Duration;

use support::*;

/// A plan whose base comes from the environment, so only the config's `env` makes it run.
const ENV_PLAN: &str = "defaults {\n  base {{env.SHOP_URL}}\n  timeout 5s\n}\n\n\
                        scenario get {\n  GET /json as ping\n  check status == 200\n}\n";

/// A `molotov.json` with tests `run` (its options) and `fast`.
fn config(url: &str, run_options: &str) -> String {
    format!(
        r#"{{"molotov": {{
  "env": {{"SHOP_URL": "{url}"}},
  "requirements": "requirements.txt",
  "tests": {{
    "run": {run_options},
    "fast": {{"workers": 1, "max_runs": 1, "plan": "plans/get.mol", "quiet": true}}
  }}
}}}}"#
    )
}

/// Dumped exchanges (`-vv`) in stderr.
fn dumps(err: &str) -> usize {
    err.lines().filter(|l| *l == "> GET /json HTTP/1.1").count()
}

#[test]
fn a_test_runs_with_its_options_and_env() {
    let server = target();
    let dir = TempDir::new("config-run");
    std::fs::create_dir_all(dir.0.join("plans")).unwrap();
    dir.write("plans/get.mol", ENV_PLAN);
    let file = dir.write(
        "molotov.json",
        &config(
            &format!("http://{}", server.addr()),
            r#"{"users": 3, "processes": 2, "max_runs": 4, "quiet": true, "scenario": "plans/get.mol", "seed": 7}"#,
        ),
    );
    let json = dir.0.join("report.json");
    // From another directory: the plan is found next to the file, not in the cwd.
    let out = run_bounded(
        molotov()
            .current_dir(std::env::temp_dir())
            .arg("--config")
            .arg(&file)
            .args(["--test", "run", "--json"])
            .arg(&json)
            .env("SHOP_URL", "http://127.0.0.1:1"),
        Duration::from_secs(30),
    );
    let report = stdout(&out);
    let err = stderr(&out);
    assert_exit(&out, 0);
    // 2 processes x 3 workers x 4 runs, one request each; the file's env won over the
    // process environment (which points at a closed port).
    assert_eq!(reported_outcomes(&report), (24, 0), "{report}");
    assert_eq!(server.wait_answered(24, Duration::from_secs(2)), 24);
    let r = read_json(&json);
    assert_eq!(r["config"]["workers"], 3);
    assert_eq!(r["config"]["processes"], 2);
    assert_eq!(r["config"]["seed"], 7);
    assert!(
        err.contains("\"requirements.txt\" is not needed"),
        "requirements note missing:\n{err}"
    );
    // -q from the file: no progress lines.
    assert!(!report.contains("] requests"), "{report}");
}

#[test]
fn flags_on_the_command_line_win() {
    let server = target();
    let dir = TempDir::new("config-precedence");
    let url = format!("http://{}", server.addr());
    std::fs::create_dir_all(dir.0.join("plans")).unwrap();
    dir.write("plans/get.mol", ENV_PLAN);
    let other = dir.write(
        "other.mol",
        &format!("defaults {{\n  base {url}\n}}\n\nscenario created {{\n  GET /status/201\n}}\n"),
    );
    let file = dir.write(
        "molotov.json",
        &config(
            &url,
            r#"{"workers": 3, "max_runs": 4, "verbose": 2, "quiet": true, "plan": "plans/get.mol"}"#,
        ),
    );
    let base = || {
        let mut cmd = molotov();
        cmd.arg("--config").arg(&file).args(["--test", "run"]);
        cmd
    };

    // The file alone: 3 x 4 runs, and -vv dumps exchanges.
    let out = run_bounded(&mut base(), Duration::from_secs(30));
    assert_exit(&out, 0);
    assert_eq!(reported_outcomes(&stdout(&out)), (12, 0));
    assert!(dumps(&stderr(&out)) > 0, "{}", stderr(&out));

    // Value flags, a count and a conflicting boolean from the command line.
    let out = run_bounded(
        base().args(["-w", "2", "-r", "1", "-v", "-c", "--seed", "5"]),
        Duration::from_secs(30),
    );
    let report = stdout(&out);
    let err = stderr(&out);
    assert_exit(&out, 0);
    assert_eq!(reported_outcomes(&report), (2, 0), "{report}");
    // -v replaced the file's -vv: no dumps, but -v's seed line.
    assert_eq!(dumps(&err), 0, "{err}");
    assert!(report.contains("seed: 5"), "{report}");

    // The plan on the command line wins over the file's.
    let out = run_bounded(base().arg(&other), Duration::from_secs(30));
    let report = stdout(&out);
    assert_exit(&out, 0);
    assert!(report.contains("201: 12"), "{report}");

    // -c instead of the file's -q: progress lines.
    let out = run_bounded(
        base().args([
            "-c",
            "--console-update",
            "100ms",
            "-d",
            "1",
            "-r",
            "1000000",
            "-w",
            "1",
        ]),
        Duration::from_secs(30),
    );
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("] requests"),
        "no progress lines:\n{}",
        stdout(&out)
    );
}

#[test]
fn errors_name_what_is_valid() {
    let dir = TempDir::new("config-errors");
    let file = dir.write(
        "molotov.json",
        &config(
            "http://127.0.0.1:1",
            r#"{"workers": "many", "plan": "p.mol"}"#,
        ),
    );
    let bad_key = dir.write(
        "bad-key.json",
        r#"{"molotov": {"tests": {"t": {"wrokers": 3, "plan": "p.mol"}}}}"#,
    );
    let bad_type = dir.write(
        "bad-type.json",
        r#"{"molotov": {"tests": {"t": {"exception": "yes", "plan": "p.mol"}}}}"#,
    );
    let not_json = dir.write("broken.json", "{\"molotov\": {\"tests\": {,}}}");
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec![
                "--config".into(),
                file.clone().into(),
                "--test".into(),
                "nope".into(),
            ],
            "there is no test \"nope\"; its tests are: fast, run",
        ),
        (
            vec!["--config".into(), file.clone().into()],
            "give the test to run with --test NAME; its tests are: fast, run",
        ),
        (
            vec![
                "--config".into(),
                file.clone().into(),
                "--test".into(),
                "run".into(),
            ],
            "test \"run\": \"workers\": invalid value 'many' for '--workers",
        ),
        (
            vec![
                "--config".into(),
                bad_key.into(),
                "--test".into(),
                "t".into(),
            ],
            "unknown option \"wrokers\"; the valid options are: batch_wait, cacert,",
        ),
        (
            vec![
                "--config".into(),
                bad_type.into(),
                "--test".into(),
                "t".into(),
            ],
            "\"exception\" must be true or false, found a string",
        ),
        (
            vec![
                "--config".into(),
                not_json.into(),
                "--test".into(),
                "t".into(),
            ],
            "broken.json:1:24: not valid JSON: key must be a string\n",
        ),
        (
            vec![
                "--config".into(),
                dir.0.join("missing.json").into(),
                "--test".into(),
                "t".into(),
            ],
            "cannot read",
        ),
    ];
    for (args, want) in cases {
        let out = run_bounded(molotov().args(&args), Duration::from_secs(10));
        let err = stderr(&out);
        assert_exit_for(&out, 2, &format!("{args:?}"));
        assert!(err.contains(want), "{args:?}: want {want:?} in\n{err}");
        assert!(stdout(&out).is_empty(), "nothing ran: {}", stdout(&out));
    }
    // --test needs --config (clap's own error).
    let out = run_bounded(molotov().args(["--test", "x"]), Duration::from_secs(10));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--config"), "{}", stderr(&out));
}
