//! The real `molotov` binary against servers that misbehave on purpose (the target server's
//! `/hostile/*` routes and modes, on loopback): a server that never answers, slowloris,
//! garbage, a truncated body, an endless chunked body (read or not), 1 MB of headers, a wrong
//! Content-Length, a reset mid-response, a close before any response, `Connection: close` on
//! every response, refused connections, a server that dies mid-run and comes back, and one
//! that sheds load with 503s.
//!
//! Each run asserts on the JSON report: every failure counted under the right error kind and
//! nowhere else, every request with exactly one outcome, counts equal to the server's where
//! the server can count, the run over by the deadline plus the request timeout, bounded
//! memory (peak RSS from the report's processes), and no panic.

mod harness;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::{Finished, assert_server_answered_all, molotov, plan, run};
use molotov_target::{ServerConfig, ServerHandle};
use support::{TempDir, base_url, target, wait_until};

/// Workers of every run (one process).
const WORKERS: u64 = 4;
/// `-d`.
const DURATION: Duration = Duration::from_secs(2);
/// The request timeout of the plans whose requests must time out (`never`, slowloris).
const TIMEOUT: Duration = Duration::from_secs(1);
/// The request timeout of the other plans. Not 1 s: a loopback connect whose SYN is lost
/// (a listener's queue full for a moment, a port still in TIME_WAIT on a loaded machine)
/// is retried after TCP's initial 1 s retransmission timeout, and such a request must not
/// time out in a test that expects another outcome.
const LONG_TIMEOUT: Duration = Duration::from_secs(3);
/// Start-up, report and a loaded machine, on top of the deadline and the request timeout.
const SLACK: Duration = Duration::from_secs(3);
/// Peak RSS allowed to any process of a run that keeps no bodies.
const RSS_BOUND: u64 = 64 << 20;

/// The `molotov` command of a run; with `MOLOTOV_TEST_MULTISHOT_RECV=1` in the environment,
/// with `--multishot-recv` (`scripts/test` runs these tests both ways).
fn load_command() -> std::process::Command {
    let mut command = molotov();
    if std::env::var_os("MOLOTOV_TEST_MULTISHOT_RECV").is_some_and(|v| v == "1") {
        command.arg("--multishot-recv");
    }
    command
}

/// Runs `-q -w WORKERS -d 2` with the scenario `body` against `base`, with the request
/// timeout `timeout`; the run must be sound and exit 0, or 1 when requests were sent and not
/// one got a response (the run measured nothing).
fn run_plan(base: &str, name: &str, body: &str, timeout: Duration, workers: u64) -> Finished {
    let dir = TempDir::new(name);
    let file = dir.write(
        "plan.mol",
        &plan(base, &format!("{}ms", timeout.as_millis()), body),
    );
    let finished = run(
        load_command()
            .args(["-q", "-w", &workers.to_string(), "-d", "2"])
            .arg(&file),
        &dir,
        Duration::from_secs(30),
    );
    finished.assert_sound();
    if finished.total("responses") == 0 && finished.total("requests") > 0 {
        finished.assert_exit(1);
        assert!(
            finished
                .stdout()
                .contains("FAILED: no response came back: "),
            "{}",
            finished.dump()
        );
    } else {
        finished.assert_exit(0);
    }
    finished
}

/// Runs `-w 4 -d 2` with the scenario `body` against `server`, with the request timeout
/// `timeout`; the run must be over by the deadline plus the timeout.
fn run_against(server: &ServerHandle, name: &str, body: &str, timeout: Duration) -> Finished {
    let finished = run_plan(&base_url(server), name, body, timeout, WORKERS);
    assert!(
        finished.elapsed <= DURATION + timeout + SLACK,
        "not over in time\n{}",
        finished.dump()
    );
    finished
}

/// Every request failed, all of them with `kind`.
fn assert_all_failed_as(finished: &Finished, kind: &str) {
    let requests = finished.total("requests");
    assert!(requests >= WORKERS, "{}", finished.dump());
    assert_eq!(finished.total("responses"), 0, "{}", finished.dump());
    assert_eq!(finished.total("unfinished"), 0, "{}", finished.dump());
    assert_eq!(
        finished.errors(),
        BTreeMap::from([(kind.to_string(), requests)]),
        "{}",
        finished.dump()
    );
    // A transport error fails its scenario run.
    assert_eq!(finished.total("failures"), requests, "{}", finished.dump());
}

/// Every request succeeded, each on a connection of its own, and the server counts match.
fn assert_all_succeeded_one_connection_each(server: &ServerHandle, finished: &Finished) {
    let requests = finished.total("requests");
    assert!(requests >= WORKERS, "{}", finished.dump());
    assert!(finished.errors().is_empty(), "{}", finished.dump());
    assert_eq!(finished.total("failures"), 0, "{}", finished.dump());
    assert_eq!(
        finished.total("connections"),
        requests,
        "{}",
        finished.dump()
    );
    assert_server_answered_all(server, finished);
    assert_connections_match(server, finished);
    assert_memory_bounded(finished, RSS_BOUND);
}

/// The server accepted exactly the connections molotov opened (it may accept the last ones
/// a moment after molotov counted them as connected).
fn assert_connections_match(server: &ServerHandle, finished: &Finished) {
    let connections = finished.total("connections");
    wait_until(Duration::from_secs(2), || {
        server.connections_accepted() >= connections
    });
    assert_eq!(
        server.connections_accepted(),
        connections,
        "{}",
        finished.dump()
    );
}

/// No process of the run went over `bound` bytes of peak RSS (and one was measured).
fn assert_memory_bounded(finished: &Finished, bound: u64) {
    let peak = finished.peak_rss();
    assert!(peak > 0, "{}", finished.dump());
    assert!(
        peak <= bound,
        "peak RSS {peak} over {bound}\n{}",
        finished.dump()
    );
}

/// Runs `body` against a fresh target server: every request fails as `kind`, and the server
/// accepted exactly the connections molotov opened.
fn run_failing_as(
    name: &str,
    body: &str,
    timeout: Duration,
    kind: &str,
) -> (ServerHandle, Finished) {
    let server = target();
    let finished = run_against(&server, name, body, timeout);
    assert_all_failed_as(&finished, kind);
    assert_connections_match(&server, &finished);
    // Every connection's connect time is in the mean, also when no request was answered
    // (loopback connects take microseconds, not zero).
    if finished.total("connections") > 0 {
        let mean = finished.json()["totals"]["mean_connect_us"].as_u64();
        assert!(mean.is_some_and(|us| us > 0), "{}", finished.dump());
    }
    (server, finished)
}

/// [`run_failing_as`] with `GET route`, a route the server never answers: memory stays
/// bounded.
fn run_unanswered(name: &str, route: &str, timeout: Duration, kind: &str) -> Finished {
    let (server, finished) = run_failing_as(name, &format!("  GET {route}"), timeout, kind);
    assert_eq!(server.requests_answered(), 0, "{}", finished.dump());
    assert_memory_bounded(&finished, RSS_BOUND);
    finished
}

/// [`run_failing_as`] with `GET route`, a route the server answers (wrongly): it counts every
/// request, and memory stays bounded.
fn run_answered_wrongly(name: &str, route: &str, kind: &str) -> Finished {
    let (server, finished) = run_failing_as(name, &format!("  GET {route}"), LONG_TIMEOUT, kind);
    assert_server_answered_all(&server, &finished);
    assert_memory_bounded(&finished, RSS_BOUND);
    finished
}

/// Requests start until the deadline and each waits its whole timeout: two rounds at most.
fn assert_at_most_two_rounds(finished: &Finished) {
    assert!(
        finished.total("requests") <= 2 * WORKERS,
        "{}",
        finished.dump()
    );
}

#[test]
fn a_server_that_never_answers_times_out_every_request() {
    let finished = run_unanswered("never", "/hostile/never", TIMEOUT, "request_timeout");
    assert_at_most_two_rounds(&finished);
    assert!(finished.elapsed >= DURATION, "{}", finished.dump());
}

/// A server that never answers, with a grace period shorter than the request timeout: every
/// run is cut when the grace period ends, so none failed, and the run that got not one
/// response said `Result: OK (exit 0)`.
#[test]
fn runs_cut_by_the_grace_period_without_a_response_measured_nothing() {
    let server = target();
    let dir = TempDir::new("never-grace");
    let file = dir.write(
        "plan.mol",
        &plan(&base_url(&server), "10s", "  GET /hostile/never"),
    );
    let finished = run(
        load_command()
            .args(["-q", "-w", "4", "-d", "1", "--grace", "500ms"])
            .arg(&file),
        &dir,
        Duration::from_secs(30),
    );
    assert!(finished.total("requests") >= 4, "{}", finished.dump());
    assert_eq!(finished.total("responses"), 0, "{}", finished.dump());
    finished.assert_exit(1);
    assert!(
        finished.stdout().contains(
            "FAILED: no response came back: none of the 4 requests of the 4 scenario runs \
             got a complete response (4 cut when their process ended; see Errors)"
        ),
        "{}",
        finished.dump()
    );
}

#[test]
fn slowloris_is_cut_at_the_request_timeout() {
    // One byte per second: the 40-second response never beats the 1-second timeout.
    let finished = run_unanswered(
        "slowloris",
        "/hostile/slowloris",
        TIMEOUT,
        "request_timeout",
    );
    assert_at_most_two_rounds(&finished);
}

#[test]
fn garbage_is_a_malformed_response() {
    let finished = run_answered_wrongly("garbage", "/hostile/garbage", "malformed_response");
    // The server closes after its garbage: one connection per request.
    assert_eq!(finished.total("connections"), finished.total("requests"));
}

#[test]
fn a_truncated_body_closes_early() {
    run_answered_wrongly("truncated", "/hostile/truncated", "closed_early");
}

#[test]
fn an_endless_chunked_body_nobody_reads_ends_at_the_request_timeout() {
    // The body is counted and dropped as it arrives, never buffered: memory stays bounded,
    // and with no cap on a body nobody keeps (a download of any size can be measured), the
    // request timeout is what ends it.
    let finished = run_unanswered(
        "infinite",
        "/hostile/infinite-chunked",
        TIMEOUT,
        "request_timeout",
    );
    assert_at_most_two_rounds(&finished);
    assert!(
        finished.total("bytes_received") > 1 << 20,
        "{}",
        finished.dump()
    );
}

#[test]
fn an_endless_body_that_a_check_reads_is_bounded_by_the_body_cap() {
    // `check body` keeps the body: each worker may hold up to the 16 MiB cap, no more.
    let (_server, finished) = run_failing_as(
        "infinite-kept",
        "  GET /hostile/infinite-chunked\n  check body contains \"zzz\"",
        LONG_TIMEOUT,
        "body_too_large",
    );
    assert_memory_bounded(&finished, WORKERS * (16 << 20) + (32 << 20));
}

#[test]
fn a_megabyte_of_headers_is_refused_at_the_header_cap() {
    let (_server, finished) = run_failing_as(
        "huge-headers",
        "  GET /hostile/huge-headers",
        LONG_TIMEOUT,
        "header_too_large",
    );
    assert_memory_bounded(&finished, RSS_BOUND);
}

#[test]
fn a_short_content_length_gives_the_response_and_drops_the_connection() {
    // `Content-Length: 5` with 12 bytes: the response is what the length says; the bytes
    // after it make the connection unusable, so each request gets a fresh one.
    let server = target();
    let finished = run_against(
        &server,
        "wrong-length",
        "  GET /hostile/wrong-length\n  check status == 200",
        LONG_TIMEOUT,
    );
    assert_eq!(
        finished.statuses(),
        BTreeMap::from([(200, finished.total("requests"))]),
        "{}",
        finished.dump()
    );
    assert_all_succeeded_one_connection_each(&server, &finished);
}

#[test]
fn a_reset_mid_response_is_a_reset() {
    run_answered_wrongly("reset", "/hostile/reset", "reset");
}

#[test]
fn a_close_before_any_response_closes_early() {
    run_answered_wrongly(
        "close-before",
        "/hostile/close-before-response",
        "closed_early",
    );
}

#[test]
fn connection_close_on_every_response_reconnects_without_errors() {
    let server = molotov_target::start(ServerConfig {
        close_every_response: true,
        ..ServerConfig::default()
    })
    .unwrap();
    let finished = run_against(
        &server,
        "close-every",
        "  GET /json\n  check status == 200",
        LONG_TIMEOUT,
    );
    assert_eq!(finished.total("responses"), finished.total("requests"));
    // One connection per request, no retry needed: the close was announced.
    assert_all_succeeded_one_connection_each(&server, &finished);
    assert_eq!(finished.total("retries"), 0, "{}", finished.dump());
}

#[test]
fn refused_connections_for_the_whole_run_are_counted() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let finished = run_plan(
        &format!("http://127.0.0.1:{port}"),
        "refused",
        "  GET /",
        LONG_TIMEOUT,
        WORKERS,
    );
    assert!(finished.elapsed <= DURATION + SLACK, "{}", finished.dump());
    assert_all_failed_as(&finished, "connect_refused");
    // Refusals are immediate: the workers go on for the whole run.
    assert!(finished.total("requests") > 100, "{}", finished.dump());
    assert_eq!(finished.total("connections"), 0, "{}", finished.dump());
    assert_memory_bounded(&finished, RSS_BOUND);
}

#[test]
fn a_server_that_dies_mid_run_and_comes_back_is_counted_exactly() {
    let first = target();
    let addr = first.addr();
    let dir = TempDir::new("dies");
    let file = dir.write(
        "plan.mol",
        &plan(&format!("http://{addr}"), "3s", "  GET /json"),
    );
    let (child, started) = harness::spawn(
        load_command().args(["-q", "-w", "4", "-d", "4"]).arg(&file),
        &dir,
    );
    // Up for a second, down for a second, up again until the end.
    assert!(wait_until(Duration::from_secs(5), || first
        .requests_answered()
        > 0));
    std::thread::sleep(Duration::from_millis(800));
    let before = first.stop();
    std::thread::sleep(Duration::from_secs(1));
    let second = molotov_target::start(ServerConfig {
        addr,
        ..ServerConfig::default()
    })
    .expect("the port is free again");
    let finished = harness::finish(child, started, &dir, Duration::from_secs(30));
    finished.assert_sound();
    finished.assert_exit(0);
    assert!(
        finished.elapsed <= Duration::from_secs(4) + LONG_TIMEOUT + SLACK,
        "{}",
        finished.dump()
    );
    let responses = finished.total("responses");
    let after = second.wait_answered(
        responses.saturating_sub(before.requests_answered),
        Duration::from_secs(2),
    );
    // Every response molotov counted is one the servers counted, and the other way round.
    assert_eq!(
        responses,
        before.requests_answered + after,
        "{}",
        finished.dump()
    );
    assert!(
        before.requests_answered > 0 && after > 0,
        "{}",
        finished.dump()
    );
    // While it was down: refusals (and at the moment it died, connections cut short).
    let errors = finished.errors();
    assert!(
        errors.get("connect_refused").copied().unwrap_or(0) > 0,
        "{}",
        finished.dump()
    );
    for kind in errors.keys() {
        assert!(
            ["connect_refused", "closed_early", "reset"].contains(&kind.as_str()),
            "unexpected error kind {kind}\n{}",
            finished.dump()
        );
    }
    assert_eq!(
        finished.statuses().keys().copied().collect::<Vec<_>>(),
        vec![200]
    );
    assert_memory_bounded(&finished, RSS_BOUND);
}

#[test]
fn a_server_shedding_load_with_503_is_counted_as_failed_by_status() {
    let server = molotov_target::start(ServerConfig {
        max_concurrency: Some(2),
        ..ServerConfig::default()
    })
    .unwrap();
    // 16 workers on a server that serves 2 at a time (each waits 20 ms): most get 503.
    let finished = run_plan(
        &base_url(&server),
        "shed",
        "  GET /delay/20",
        LONG_TIMEOUT,
        16,
    );
    let statuses = finished.statuses();
    let shed = statuses.get(&503).copied().unwrap_or(0);
    assert!(
        shed > 0 && statuses.get(&200).copied().unwrap_or(0) > 0,
        "{statuses:?}"
    );
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(finished.errors().is_empty(), "{}", finished.dump());
    assert_eq!(
        finished.total("failed_by_status"),
        shed,
        "{}",
        finished.dump()
    );
    assert_server_answered_all(&server, &finished);
}

/// What [`lax_server`] read: (connection number, the request said `Connection: close`).
type RequestLog = std::sync::Arc<std::sync::Mutex<Vec<(usize, bool)>>>;

/// A lax keep-alive server on loopback: answers every request with `200 ok` and never
/// closes a connection itself, not even after a request that said `Connection: close`.
/// Returns its address and the requests it read, as (connection number, whether the request
/// said `Connection: close`), in arrival order per connection.
fn lax_server() -> (std::net::SocketAddr, RequestLog) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let accepted = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for (number, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let log = std::sync::Arc::clone(&accepted);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    // A GET's head: the request line, headers, the blank line.
                    let mut closes = false;
                    let mut lines = 0;
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if line == "\r\n" {
                            break;
                        }
                        lines += 1;
                        let lower = line.to_ascii_lowercase();
                        closes |= lower.starts_with("connection:") && lower.contains("close");
                    }
                    if lines == 0 {
                        continue;
                    }
                    log.lock().unwrap().push((number, closes));
                    if writer
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, log)
}

#[test]
fn a_request_that_says_connection_close_is_the_last_on_its_connection() {
    // RFC 9112 section 9.6: a client that sends `close` sends nothing more on that
    // connection, even when the server keeps it open. (The client once sent the next request
    // on it.)
    let (addr, log) = lax_server();
    let dir = TempDir::new("request-close");
    let file = dir.write(
        "plan.mol",
        &plan(
            &format!("http://{addr}"),
            "3s",
            "  GET /first\n  Connection: close\n  GET /second\n  GET /third",
        ),
    );
    let finished = run(
        load_command().args(["-q", "-w", "2", "-r", "5"]).arg(&file),
        &dir,
        Duration::from_secs(30),
    );
    finished.assert_sound();
    finished.assert_exit(0);
    assert_eq!(finished.total("requests"), 30, "{}", finished.dump());
    assert_eq!(finished.total("errors"), 0, "{}", finished.dump());
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 30, "{log:?}");
    let mut per_connection: BTreeMap<usize, Vec<bool>> = BTreeMap::new();
    for (connection, closes) in log {
        per_connection.entry(connection).or_default().push(closes);
    }
    for (connection, requests) in &per_connection {
        if let Some(at) = requests.iter().position(|&closes| closes) {
            assert_eq!(
                at,
                requests.len() - 1,
                "connection {connection} carried requests after `Connection: close`: {requests:?}"
            );
        }
    }
    // A connection ends with each `/first` (it carries the run's `/first` after the previous
    // run's `/second` and `/third`): 5 runs and the last run's rest, per worker.
    assert_eq!(finished.total("connections"), 12, "{}", finished.dump());
    assert_eq!(per_connection.len(), 12, "{per_connection:?}");
}
