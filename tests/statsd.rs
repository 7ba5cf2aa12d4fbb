//! End-to-end tests of `--statsd`: the real `molotov` binary sends to a real statsd daemon
//! (Etsy's `statsd` from the npm registry, run with node on a loopback port), whose flushes a
//! small backend written by the test records as JSON lines; the daemon's repeater also passes
//! every datagram on to a UDP socket of the test, which checks sizes and names. The counters
//! the daemon received must equal the report's totals.
//!
//! Where statsd is: `$MOLOTOV_STATSD_DIR/node_modules/statsd/stats.js` (`.ci/run` installs it
//! and sets the variable), else `$HOME/.cache/molotov/statsd/...`. The daemon test is skipped
//! (with a message) only when `node` is not installed; statsd missing while node is there is
//! a failure that says how to install it.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn node_installed() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where statsd's `stats.js` should be.
fn statsd_script() -> PathBuf {
    let dir = std::env::var_os("MOLOTOV_STATSD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/molotov/statsd")
        });
    dir.join("node_modules/statsd/stats.js")
}

/// A free loopback UDP port (bound then released).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A statsd backend that appends each flush's counters and gauges to a file.
const RECORDER: &str = r#"
const fs = require('fs');
exports.init = function (startupTime, config, events) {
  events.on('flush', function (timestamp, metrics) {
    fs.appendFileSync(config.recorderFile,
      JSON.stringify({counters: metrics.counters, gauges: metrics.gauges}) + "\n");
  });
  return true;
};
"#;

/// The statsd daemon, killed on drop.
struct Daemon {
    child: Child,
    port: u16,
    records: PathBuf,
    /// The test's end of the repeater.
    repeated: UdpSocket,
}

impl Daemon {
    fn start(dir: &TempDir, script: &Path) -> Daemon {
        let port = free_udp_port();
        let repeated = UdpSocket::bind("127.0.0.1:0").unwrap();
        repeated.set_nonblocking(true).unwrap();
        let recorder = dir.write("recorder.js", RECORDER);
        let records = dir.0.join("flushes.jsonl");
        let config = dir.write(
            "statsd-config.js",
            &format!(
                "{{\n  port: {port},\n  address: \"127.0.0.1\",\n  mgmt_address: \"127.0.0.1\",\n  \
                 mgmt_port: {mgmt},\n  flushInterval: 200,\n  \
                 backends: [{recorder:?}, \"./backends/repeater\"],\n  \
                 repeater: [{{ host: \"127.0.0.1\", port: {repeat} }}],\n  \
                 recorderFile: {records:?}\n}}\n",
                mgmt = free_tcp_port(),
                recorder = recorder.to_str().unwrap(),
                repeat = repeated.local_addr().unwrap().port(),
                records = records.to_str().unwrap(),
            ),
        );
        let mut child = Command::new("node")
            .arg(script)
            .arg(&config)
            .current_dir(script.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        // Ready once it says so (the backends load in the same turn of its event loop).
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("server is up") {
                    let _ = tx.send(());
                }
            }
        });
        let mut daemon = Daemon {
            child,
            port,
            records,
            repeated,
        };
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = daemon.child.kill();
            panic!("statsd did not start within 20 s");
        }
        daemon
    }

    /// Every flush recorded so far.
    fn flushes(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.records)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The datagrams the repeater passed on so far.
    fn repeated(&self, into: &mut Vec<Vec<u8>>) {
        let mut buf = [0u8; 65536];
        while let Ok(n) = self.repeated.recv(&mut buf) {
            into.push(buf[..n].to_vec());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counter sums and the gauges' history over `flushes`.
fn aggregate(flushes: &[Value]) -> (BTreeMap<String, f64>, BTreeMap<String, Vec<f64>>) {
    let mut counters = BTreeMap::new();
    let mut gauges: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for flush in flushes {
        for (name, v) in flush["counters"].as_object().unwrap() {
            *counters.entry(name.clone()).or_insert(0.0) += v.as_f64().unwrap();
        }
        for (name, v) in flush["gauges"].as_object().unwrap() {
            gauges
                .entry(name.clone())
                .or_default()
                .push(v.as_f64().unwrap());
        }
    }
    (counters, gauges)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

#[test]
fn the_daemon_receives_the_reports_totals() {
    if !node_installed() {
        eprintln!("SKIPPED: node is not installed; the statsd daemon test needs it");
        return;
    }
    let script = statsd_script();
    assert!(
        script.is_file(),
        "statsd is not installed at {}: run .ci/run, or `npm install --prefix DIR statsd@0.9.0` \
         and set MOLOTOV_STATSD_DIR=DIR",
        script.display()
    );
    let dir = TempDir::new("statsd");
    let daemon = Daemon::start(&dir, &script);
    let server = target();
    let closed = free_tcp_port();
    let base = format!("http://{}", server.addr());
    let plan = dir.write(
        "shop.mol",
        &format!(
            "defaults {{\n  base {base}\n  timeout 5s\n}}\n\n\
             scenario browse weight 3 {{\n  GET /json as ping\n  check status == 200\n  \
             GET /status/404\n  GET /status/503 as down\n  check status == 503\n}}\n\n\
             scenario broken weight 1 {{\n  GET /json as ping2\n  \
             GET http://127.0.0.1:{closed}/\n}}\n\n\
             setup {{\n  GET /json as before\n}}\n\n\
             teardown {{\n  GET /status/201 as after\n}}\n"
        ),
    );
    let json = dir.0.join("report.json");
    let out = run_bounded(
        molotov()
            .args([
                "-c",
                "--console-update",
                "250ms",
                "-p",
                "2",
                "-w",
                "4",
                "-d",
                "2",
            ])
            .args(["--statsd", "--statsd-interval", "250ms", "--statsd-address"])
            .arg(format!("udp://127.0.0.1:{}", daemon.port))
            .arg("--json")
            .arg(&json)
            .arg(&plan),
        Duration::from_secs(30),
    );
    assert_exit(&out, 0);
    assert!(
        !stderr(&out).contains("statsd"),
        "no statsd warning expected:\n{}",
        stderr(&out)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    // The setup's and teardown's requests are in the report (the last flush, from the final
    // summary, brings the teardown's).
    let names: Vec<&str> = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| u(&r["responses"]) > 0)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"before") && names.contains(&"after"),
        "{names:?}"
    );

    // Wait until the daemon has flushed every line the repeater saw arrive.
    let mut datagrams = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    let mut agreed_before = false;
    let (counters, gauges) = loop {
        daemon.repeated(&mut datagrams);
        let lines: usize = datagrams
            .iter()
            .map(|d| d.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count())
            .sum();
        let (counters, gauges) = aggregate(&daemon.flushes());
        let flushed = counters
            .get("statsd.metrics_received")
            .copied()
            .unwrap_or(0.0) as usize;
        // Twice in a row, a flush interval apart: nothing was still on its way.
        let agreed = lines > 0 && flushed == lines;
        if agreed && agreed_before {
            break (counters, gauges);
        }
        agreed_before = agreed;
        assert!(
            Instant::now() < until,
            "the daemon flushed {flushed} of {lines} lines"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(datagrams.len() > 3, "{} datagrams", datagrams.len());
    for d in &datagrams {
        assert!(d.len() <= 1432, "a datagram of {} bytes", d.len());
        for line in std::str::from_utf8(d).unwrap().split('\n') {
            let name = line.split(':').next().unwrap();
            assert!(
                name.starts_with("molotov.")
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{line:?}"
            );
        }
    }
    assert_eq!(counters["statsd.bad_lines_seen"], 0.0, "{counters:?}");

    let c = |name: &str| {
        counters
            .get(&format!("molotov.{name}"))
            .copied()
            .unwrap_or(0.0) as u64
    };
    let totals = &report["totals"];
    assert!(u(&totals["requests"]) > 0);
    assert_eq!(c("requests"), u(&totals["requests"]), "{counters:?}");
    assert_eq!(c("responses"), u(&totals["responses"]));
    assert_eq!(c("errors"), u(&totals["errors"]));
    assert!(c("errors") > 0, "the plan has a refused request");
    assert_eq!(c("failed_by_status"), u(&totals["failed_by_status"]));
    assert_eq!(c("successes"), u(&totals["successes"]));
    assert_eq!(c("failures"), u(&totals["failures"]));
    assert_eq!(c("checks.passed"), u(&totals["checks_passed"]));
    assert_eq!(c("checks.failed"), u(&totals["checks_failed"]));
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    for (code, n) in report["status_codes"].as_object().unwrap() {
        let class = format!("{}xx", &code[..1]);
        *classes.entry(class).or_default() += u(n);
    }
    for class in ["2xx", "4xx", "5xx"] {
        assert!(classes[class] > 0, "{classes:?}");
        assert_eq!(c(&format!("status.{class}")), classes[class], "{class}");
    }
    for (kind, n) in report["errors"].as_object().unwrap() {
        assert_eq!(c(&format!("error.{kind}")), u(n), "{kind}");
    }
    for s in report["scenarios"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap().replace('.', "_");
        assert_eq!(
            c(&format!("scenario.{name}.successes")),
            u(&s["successes"]),
            "{name}"
        );
        assert_eq!(
            c(&format!("scenario.{name}.failures")),
            u(&s["failures"]),
            "{name}"
        );
    }
    assert!(c("scenario.broken.failures") > 0);

    // Gauges: workers were seen running, and the last flush says nothing runs any more.
    let g = |name: &str| gauges[&format!("molotov.{name}")].clone();
    assert!(g("workers").iter().any(|&w| w >= 1.0), "{:?}", g("workers"));
    assert!(g("processes").contains(&2.0), "{:?}", g("processes"));
    assert_eq!(g("workers").last(), Some(&0.0));
    assert_eq!(g("processes").last(), Some(&0.0));
    assert!(g("rps").iter().any(|&r| r > 0.0));
    for stat in ["mean", "p50", "p95", "p99", "max"] {
        assert!(
            g(&format!("latency.{stat}")).iter().any(|&v| v > 0.0),
            "{stat}"
        );
        assert!(
            g(&format!("request.ping.{stat}")).iter().any(|&v| v > 0.0),
            "{stat}"
        );
        // An unnamed request, sanitized.
        assert!(
            g(&format!("request.GET_status_404.{stat}"))
                .iter()
                .any(|&v| v > 0.0),
            "{stat}: {:?}",
            gauges.keys().collect::<Vec<_>>()
        );
    }
}

#[test]
fn an_unreachable_daemon_costs_one_warning_and_not_the_run() {
    let server = target();
    let dir = TempDir::new("statsd-unreachable");
    let plan = dir.write(
        "get.mol",
        &get_plan(&format!("http://{}", server.addr()), "/"),
    );
    let started = Instant::now();
    let out = run_bounded(
        molotov()
            .args(["-c", "--console-update", "100ms", "-w", "4", "-d", "2"])
            .args(["--statsd", "--statsd-interval", "100ms", "--statsd-address"])
            .arg(format!("udp://127.0.0.1:{}", free_udp_port()))
            .arg(&plan),
        Duration::from_secs(30),
    );
    let took = started.elapsed();
    let report = stdout(&out);
    assert_exit(&out, 0);
    let warnings = stderr(&out)
        .matches("cannot send metrics to statsd")
        .count();
    assert_eq!(warnings, 1, "{}", stderr(&out));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let reported = reported_requests(&report);
    assert!(reported > 0);
    assert_eq!(
        reported,
        server.wait_answered(reported, Duration::from_secs(2))
    );
}

/// The statsd host was looked up as written while a request's host is looked up in its
/// IDNA form (`bücher.localhost` resolved for the requests, and not for statsd). A fullwidth
/// `１２７.０.０.１` is `127.0.0.1` in both; a host with no ASCII form is said, once, and the
/// run goes on without statsd.
#[test]
fn the_statsd_host_is_looked_up_in_its_ascii_form() {
    let server = target();
    let dir = TempDir::new("statsd-idna");
    let plan = dir.write(
        "get.mol",
        &get_plan(&format!("http://{}", server.addr()), "/"),
    );
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = daemon.local_addr().unwrap().port();
    for address in [
        format!("udp://１２７.０.０.１:{port}"),
        format!("udp://127.0.0.1:{port}"),
    ] {
        let out = run_bounded(
            molotov()
                .args(["-q", "-w", "1", "-r", "3", "--statsd", "--statsd-address"])
                .arg(&address)
                .arg(&plan),
            Duration::from_secs(30),
        );
        assert_exit(&out, 0);
        assert!(
            !stderr(&out).contains("warning"),
            "{address}: {}",
            stderr(&out)
        );
        let mut datagram = [0u8; 2048];
        let (n, _) = daemon.recv_from(&mut datagram).unwrap();
        assert!(n > 0, "{address}");
        // The rest of this run's datagrams.
        daemon
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        while daemon.recv_from(&mut datagram).is_ok() {}
        daemon
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    let out = run_bounded(
        molotov()
            .args(["-q", "-w", "1", "-r", "1", "--statsd", "--statsd-address"])
            .arg(format!("udp://127.0.0.1：{port}"))
            .arg(&plan),
        Duration::from_secs(30),
    );
    // Not a port: `udp://HOST` whose host is `127.0.0.1：PORT`.
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_eq!(
        err.matches("molotov: warning: statsd: invalid host `127.0.0.1：")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("the run goes on without statsd"), "{err}");
}

#[test]
fn statsd_flags_are_checked() {
    let dir = TempDir::new("statsd-flags");
    let plan = dir.write("p.mol", &get_plan("http://127.0.0.1:1", "/"));
    for (args, want) in [
        (&["--statsd-address", "udp://127.0.0.1:1"][..], "--statsd"),
        (&["--statsd", "--statsd-address", "tcp://h:1"][..], "UDP"),
        (&["--statsd", "--statsd-port", "70000"][..], "--statsd-port"),
    ] {
        let out = run_bounded(molotov().args(args).arg(&plan), Duration::from_secs(10));
        assert_exit_for(&out, 2, &format!("{args:?}"));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
}

/// The gauges count the load from its start: the first send's `rps` and latencies leave out
/// what `setup` sent before it (2,000 quick `setup` requests before a load of 100 ms
/// responses made the first send `rps:2008.995` and `latency.p50:0.054`). The counters still
/// carry them, so that they add up to the report's totals.
#[test]
fn the_first_gauges_leave_out_what_setup_sent() {
    let server = target();
    let dir = TempDir::new("statsd-setup");
    let base = format!("http://{}", server.addr());
    let plan = dir.write(
        "p.mol",
        &format!(
            "defaults {{\n  base {base}\n  timeout 5s\n}}\n\nsetup {{\n  repeat 2000 {{\n    \
             GET /json\n  }}\n}}\n\nscenario s {{\n  GET /delay/100\n}}\n"
        ),
    );
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    let out = run_bounded(
        molotov()
            .args(["-q", "-w", "1", "-d", "1500ms"])
            .args(["--statsd", "--statsd-interval", "1s", "--statsd-address"])
            .arg(format!("udp://127.0.0.1:{port}"))
            .arg(&plan),
        Duration::from_secs(30),
    );
    assert_exit(&out, 0);
    let mut lines = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = socket.recv(&mut buf) {
        lines.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_string),
        );
    }
    let gauge = |name: &str| {
        lines
            .iter()
            .find_map(|l| {
                l.strip_prefix(&format!("molotov.{name}:"))?
                    .strip_suffix("|g")
            })
            .unwrap_or_else(|| panic!("no {name} gauge in {lines:?}"))
            .parse::<f64>()
            .unwrap()
    };
    // The first of each: the flush at 1 s, 10 requests of 100 ms.
    assert!(gauge("rps") <= 12.0, "{lines:?}");
    assert!(gauge("latency.p50") >= 100.0, "{lines:?}");
    // Every request is counted once over the sends, `setup`'s with the first.
    let requests: u64 = lines
        .iter()
        .filter_map(|l| l.strip_prefix("molotov.requests:")?.strip_suffix("|c"))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(requests, reported_requests(&stdout(&out)), "{lines:?}");
}
