//! End-to-end tests of HTTPS: the real `molotov` binary (forked children, glommio, rustls)
//! against the in-repo target server serving TLS on loopback, with `--cacert`, without it,
//! `--insecure`, a certificate for the wrong name, `--tls-min`, keep-alive and resumption.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use molotov_target::{ServerConfig, ServerHandle, ServerTls, TlsIdentity};
use support::*;

const LIMIT: Duration = Duration::from_secs(60);

fn tls_target(tls: ServerTls) -> ServerHandle {
    molotov_target::start(ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    })
    .unwrap()
}

fn localhost_target() -> ServerHandle {
    tls_target(ServerTls::localhost().unwrap())
}

/// Writes the server's CA certificate into `dir` for `--cacert`.
fn ca_file(server: &ServerHandle, dir: &TempDir) -> PathBuf {
    dir.write("ca.pem", server.tls_identity().unwrap().ca_pem())
}

/// A plan sending `GET /json` to `https://<addr>` (with extra request header lines).
fn https_plan(server: &ServerHandle, headers: &str) -> String {
    format!(
        "defaults {{\n  base https://{}\n  timeout 5s\n}}\n\nscenario get {{\n  GET /json\n{headers}  check status == 200\n}}\n",
        server.addr()
    )
}

/// The count on the report's `Errors` table row for `kind` (0 when absent).
fn error_count(report: &str, kind: &str) -> u64 {
    report
        .lines()
        .map(str::trim)
        .find_map(|line| {
            let rest = line.strip_prefix(kind)?;
            if !rest.starts_with(' ') {
                return None;
            }
            rest.split_whitespace()
                .last()
                .and_then(|n| n.replace(',', "").parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn cacert_run_succeeds_with_one_connection_per_worker_and_exact_counts() {
    let server = localhost_target();
    let dir = TempDir::new("tls-cacert");
    let plan = dir.write("get.mol", &https_plan(&server, ""));
    let ca = ca_file(&server, &dir);
    let (processes, workers, runs) = (2u64, 5u64, 20u64);
    let out = run_bounded(
        molotov()
            .args([
                "-q",
                "-p",
                &processes.to_string(),
                "-w",
                &workers.to_string(),
            ])
            .args(["-r", &runs.to_string(), "--cacert"])
            .arg(&ca)
            .arg(&plan),
        LIMIT,
    );
    let report = stdout(&out);
    assert_exit(&out, 0);
    let expected = processes * workers * runs;
    assert_eq!(reported_requests(&report), expected, "{report}");
    assert_eq!(reported_outcomes(&report), (expected, 0), "{report}");
    assert_eq!(
        server.wait_answered(expected, Duration::from_secs(2)),
        expected
    );
    let stats = server.stop();
    assert_eq!(stats.requests_answered, expected);
    // Keep-alive over TLS: one connection and one handshake per worker.
    assert_eq!(stats.connections_accepted, processes * workers, "{report}");
    assert_eq!(stats.tls_handshakes, processes * workers);
}

#[test]
fn without_cacert_requests_fail_as_unknown_issuer_with_a_clear_message() {
    let server = localhost_target();
    let dir = TempDir::new("tls-unknown");
    let plan = dir.write("get.mol", &https_plan(&server, ""));
    let out = run_bounded(
        molotov().args(["-q", "-w", "2", "-r", "3"]).arg(&plan),
        LIMIT,
    );
    let report = stdout(&out);
    assert_eq!(reported_requests(&report), 6, "{report}");
    assert_eq!(error_count(&report, "tls_unknown_issuer"), 6, "{report}");
    assert_eq!(server.stop().requests_answered, 0);

    // -x shows the message of the first failure.
    let server = localhost_target();
    let plan = dir.write("get2.mol", &https_plan(&server, ""));
    let out = run_bounded(molotov().args(["-q", "-x", "-w", "1"]).arg(&plan), LIMIT);
    let report = stdout(&out);
    assert_exit(&out, 1);
    assert!(
        report.contains("is not issued by a trusted certificate authority"),
        "{report}"
    );
    assert!(report.contains("--cacert"), "{report}");
}

#[test]
fn insecure_run_succeeds_without_the_ca() {
    let server = localhost_target();
    let dir = TempDir::new("tls-insecure");
    let plan = dir.write("get.mol", &https_plan(&server, ""));
    let out = run_bounded(
        molotov()
            .args(["-q", "-w", "3", "-r", "4", "--insecure"])
            .arg(&plan),
        LIMIT,
    );
    let report = stdout(&out);
    assert_exit(&out, 0);
    assert_eq!(reported_outcomes(&report), (12, 0), "{report}");
    assert_eq!(server.wait_answered(12, Duration::from_secs(2)), 12);
}

#[test]
fn a_certificate_for_another_name_is_reported_as_name_mismatch() {
    let server = tls_target(ServerTls::new(
        TlsIdentity::for_names(&["wrong.example"]).unwrap(),
    ));
    let dir = TempDir::new("tls-mismatch");
    let plan = dir.write("get.mol", &https_plan(&server, ""));
    let ca = ca_file(&server, &dir);
    let out = run_bounded(
        molotov()
            .args(["-q", "-w", "1", "-r", "2", "--cacert"])
            .arg(&ca)
            .arg(&plan),
        LIMIT,
    );
    let report = stdout(&out);
    assert_eq!(error_count(&report, "tls_name_mismatch"), 2, "{report}");
    // -x shows the message: both names, plainly (the certificate's used to read
    // `DnsName("wrong.example")`, rustls's Debug form).
    let out = run_bounded(
        molotov()
            .args(["-q", "-x", "-w", "1", "--cacert"])
            .arg(&ca)
            .arg(&plan),
        LIMIT,
    );
    let report = stdout(&out);
    assert_exit(&out, 1);
    assert!(
        report.contains("is not valid for \"localhost\"; it is only valid for wrong.example")
            || report
                .contains("is not valid for \"127.0.0.1\"; it is only valid for wrong.example"),
        "{report}"
    );
    assert!(!report.contains("DnsName"), "{report}");
    assert_eq!(server.stop().requests_answered, 0);
}

#[test]
fn tls_min_1_3_refuses_a_tls12_only_server() {
    let server = tls_target(ServerTls {
        identity: TlsIdentity::localhost().unwrap(),
        tls12_only: true,
    });
    let dir = TempDir::new("tls-min");
    let plan = dir.write("get.mol", &https_plan(&server, ""));
    let ca = ca_file(&server, &dir);
    let ok = run_bounded(
        molotov()
            .args(["-q", "-w", "1", "-r", "2", "--tls-min", "1.2", "--cacert"])
            .arg(&ca)
            .arg(&plan),
        LIMIT,
    );
    assert_exit(&ok, 0);
    let refused = run_bounded(
        molotov()
            .args(["-q", "-w", "1", "-r", "2", "--tls-min", "1.3", "--cacert"])
            .arg(&ca)
            .arg(&plan),
        LIMIT,
    );
    let report = stdout(&refused);
    assert_eq!(error_count(&report, "tls_handshake"), 2, "{report}");
    assert_eq!(server.stop().requests_answered, 2);
}

#[test]
fn connection_close_reconnects_resume_the_tls_session() {
    let server = localhost_target();
    let dir = TempDir::new("tls-resume");
    let plan = dir.write("get.mol", &https_plan(&server, "  Connection: close\n"));
    let ca = ca_file(&server, &dir);
    let runs = 10u64;
    let out = run_bounded(
        molotov()
            .args(["-q", "-w", "1", "-r", &runs.to_string(), "--cacert"])
            .arg(&ca)
            .arg(&plan),
        LIMIT,
    );
    let report = stdout(&out);
    assert_exit(&out, 0);
    assert_eq!(reported_outcomes(&report), (runs, 0), "{report}");
    assert_eq!(server.wait_answered(runs, Duration::from_secs(2)), runs);
    let stats = server.stop();
    assert_eq!(stats.connections_accepted, runs);
    assert_eq!(stats.tls_handshakes, runs);
    assert_eq!(stats.tls_resumed, runs - 1, "every reconnect resumed");
    // The report counts the same handshakes.
    assert!(
        report.contains("TLS: 10 handshakes (90.0% resumed), mean handshake "),
        "{report}"
    );
}

#[test]
fn bad_tls_flags_are_reported_before_any_load() {
    let server = localhost_target();
    let dir = TempDir::new("tls-flags");
    let plan = dir.write("get.mol", &https_plan(&server, ""));
    let out = run_bounded(
        molotov()
            .args(["-q", "-r", "1", "--cacert"])
            .arg(dir.0.join("missing.pem"))
            .arg(&plan),
        LIMIT,
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("cannot read the CA file"),
        "{}",
        stderr(&out)
    );
    let out = run_bounded(
        molotov()
            .args(["-q", "-r", "1", "--tls-min", "1.1"])
            .arg(&plan),
        LIMIT,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--tls-min"), "{}", stderr(&out));
    assert_eq!(server.stop().connections_accepted, 0);
}
