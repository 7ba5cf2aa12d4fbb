//! statsd reporting (`--statsd`): an [`Observer`] that, every flush interval, reads the shared
//! stats region (never the hot path: the children do not know it exists), turns what changed
//! into statsd lines and sends them over UDP, several lines per datagram.
//!
//! - Counters (`|c`) carry the increase since the previous flush, so the daemon's sums over a
//!   run equal the report's totals; the last flush (from the final [`Summary`], after the
//!   plan's teardown) sends whatever is left.
//! - Gauges (`|g`) carry the value now: workers, processes and requests in flight, the request
//!   rate and the latency of the responses completed during the interval.
//! - The socket is non-blocking and connected: a send never waits, and a daemon that is not
//!   there costs a dropped datagram and one warning, never the run.
//!
//! Metric names and their meaning are documented in `docs/statsd.md`; [`MetricNames`] makes
//! plan names safe for statsd ([`sanitize`]).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::latency::{self, COUNTS_LEN};
use crate::live::Sample;
use crate::run::Observer;
use crate::shm::{Histo, Region, STATUS_WORDS, ScenarioCounter, SlotState, Total};
use crate::summary::{Names, ProcessInfo, Summary};

/// The largest datagram payload sent: what fits a 1,500-byte Ethernet frame after the IP and
/// UDP headers with room to spare (the figure statsd's own documentation recommends).
pub const MAX_PAYLOAD: usize = 1432;
/// The daemon's usual port.
pub const DEFAULT_PORT: u16 = 8125;
/// The daemon's usual host.
pub const DEFAULT_HOST: &str = "localhost";
/// What every metric name starts with unless `--statsd-prefix` says otherwise.
pub const DEFAULT_PREFIX: &str = "molotov";
/// How often metrics are sent: Etsy statsd's (and most daemons') default flush interval, so
/// each point the daemon stores covers one of our intervals.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// The longest name segment taken from the plan (a request or scenario name), in bytes.
pub const MAX_NAME_BYTES: usize = 100;
/// The longest prefix, in bytes: with [`MAX_NAME_BYTES`] every line fits a datagram.
pub const MAX_PREFIX_BYTES: usize = 200;

/// Errors of setting statsd up. None of them stops a run: the CLI reports them and goes on
/// without statsd, except a malformed address or prefix, which is a flag error.
#[derive(Debug, thiserror::Error)]
pub enum StatsdError {
    /// `--statsd-address` is not `udp://HOST:PORT`.
    #[error("invalid statsd address {text:?}: {why}")]
    Address {
        /// What was given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// `--statsd-prefix` is unusable.
    #[error("invalid statsd prefix {text:?}: {why}")]
    Prefix {
        /// What was given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve the statsd host {host:?}: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The host resolved to nothing.
    #[error("the statsd host {0:?} has no address")]
    NoAddress(String),
    /// The local UDP socket could not be opened or connected.
    #[error("cannot open a UDP socket to statsd at {addr}: {source}")]
    Socket {
        /// The daemon's address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Endpoint {
    /// Parses `udp://HOST:PORT` (the form of Python molotov's `--statsd-address`); the scheme
    /// may be left out, and so may the port (8125). IPv6 hosts go in brackets:
    /// `udp://[::1]:8125`.
    pub fn parse(text: &str) -> Result<Endpoint, StatsdError> {
        let bad = |why: &str| StatsdError::Address {
            text: text.to_string(),
            why: why.to_string(),
        };
        let rest = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("udp") => rest,
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "the scheme is {scheme:?}; statsd is reached over UDP: udp://HOST:PORT"
                )));
            }
            None => text,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err(bad("no host: expected udp://HOST:PORT"));
        }
        if rest.contains('/') || rest.contains('@') || rest.contains('?') {
            return Err(bad("expected udp://HOST:PORT, with nothing after the port"));
        }
        let (host, port) = if let Some(after) = rest.strip_prefix('[') {
            let (host, tail) = after
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address needs its closing bracket: [::1]:8125"))?;
            match tail {
                "" => (host, None),
                _ => match tail.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(bad("expected :PORT after the bracketed address")),
                },
            }
        } else {
            match rest.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(bad("put an IPv6 address in brackets: udp://[::1]:8125"));
                }
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host: expected udp://HOST:PORT"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad(&format!("{p:?} is not a port (1 to 65535)"))),
                Ok(port) => port,
            },
        };
        Ok(Endpoint {
            host: host.to_string(),
            port,
        })
    }

    /// Resolves the host (once, before the run), preferring IPv4: statsd daemons commonly
    /// listen on `0.0.0.0` only, while `localhost` may resolve to `::1` first.
    pub fn resolve(&self) -> Result<SocketAddr, StatsdError> {
        let all: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|source| StatsdError::Resolve {
                host: self.host.clone(),
                source,
            })?
            .collect();
        all.iter()
            .find(|a| a.is_ipv4())
            .or_else(|| all.first())
            .copied()
            .ok_or_else(|| StatsdError::NoAddress(self.host.clone()))
    }
}

/// Makes a name from the plan (a request, a scenario) one statsd name segment: ASCII letters,
/// digits, `_` and `-` are kept, every other run of characters (spaces, `/`, `.`, `{`, `:`,
/// `|`, `@`, non-ASCII) becomes one `_`, leading and trailing `_` are dropped, and the result
/// is cut at [`MAX_NAME_BYTES`]. `GET /products/{{id}}` becomes `GET_products_id`.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_NAME_BYTES));
    let mut pending_underscore = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            if c == '_' {
                pending_underscore = true;
                continue;
            }
            if pending_underscore && !out.is_empty() {
                out.push('_');
            }
            pending_underscore = false;
            out.push(c);
        } else {
            pending_underscore = true;
        }
        if out.len() >= MAX_NAME_BYTES {
            break;
        }
    }
    out.truncate(MAX_NAME_BYTES);
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Checks and normalizes `--statsd-prefix`: dot-separated segments, each [`sanitize`]d, empty
/// segments dropped; an empty prefix means metric names without one.
pub fn normalize_prefix(text: &str) -> Result<String, StatsdError> {
    let prefix = text
        .split('.')
        .map(sanitize)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(StatsdError::Prefix {
            text: text.to_string(),
            why: format!("longer than {MAX_PREFIX_BYTES} bytes"),
        });
    }
    if prefix.is_empty() && !text.trim_matches('.').is_empty() {
        return Err(StatsdError::Prefix {
            text: text.to_string(),
            why: "nothing usable is left after sanitizing (use letters, digits, _ and -)".into(),
        });
    }
    Ok(prefix)
}

/// Sanitized names, unique within their kind: two plan names that sanitize alike get `_2`,
/// `_3`, ... in plan order; a name with nothing usable becomes `<fallback><id>`.
fn unique_names(raw: &[String], fallback: &str) -> Vec<String> {
    let mut taken = HashSet::new();
    raw.iter()
        .enumerate()
        .map(|(id, name)| {
            let base = match sanitize(name) {
                s if s.is_empty() => format!("{fallback}{id}"),
                s => s,
            };
            let mut candidate = base.clone();
            let mut n = 2;
            while !taken.insert(candidate.clone()) {
                candidate = format!("{base}_{n}");
                n += 1;
            }
            candidate
        })
        .collect()
}

/// The statsd names of a plan's requests and scenarios.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricNames {
    /// By request id.
    pub requests: Vec<String>,
    /// By scenario id.
    pub scenarios: Vec<String>,
    /// By transport error kind index (already statsd-safe: `connect_refused`).
    pub error_kinds: Vec<String>,
}

impl MetricNames {
    /// Names for `names`.
    pub fn of(names: &Names) -> MetricNames {
        MetricNames {
            requests: unique_names(&names.requests, "request_"),
            scenarios: unique_names(&names.scenarios, "scenario_"),
            error_kinds: names.error_kinds.iter().map(|k| sanitize(k)).collect(),
        }
    }
}

/// The status classes counted, in the order of [`Counters::status_classes`].
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The class index of a status code: `1xx` .. `5xx`, or `other` (anything else, including
/// the codes above 999 that the region counts under 0).
pub fn status_class(code: usize) -> usize {
    match code {
        100..=599 => code / 100 - 1,
        _ => 5,
    }
}

/// Cumulative counters of a run, as statsd reports them. Read from the live region during the
/// run and from the final summary at the end; every field only grows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests sent.
    pub requests: u64,
    /// Complete responses.
    pub responses: u64,
    /// Transport errors.
    pub errors: u64,
    /// Responses >= 400 on requests with no status check.
    pub failed_by_status: u64,
    /// Responses by [`STATUS_CLASSES`].
    pub status_classes: [u64; 6],
    /// Transport errors by kind index.
    pub error_kinds: Vec<u64>,
    /// Scenario runs that succeeded, by scenario id.
    pub scenario_successes: Vec<u64>,
    /// Scenario runs that failed, by scenario id.
    pub scenario_failures: Vec<u64>,
    /// Check and assert evaluations that passed.
    pub checks_passed: u64,
    /// Check and assert evaluations that failed.
    pub checks_failed: u64,
    /// Open model: starts that began late.
    pub late_starts: u64,
    /// Open model: starts that began early (`--max-early`).
    pub early_starts: u64,
    /// Open model: starts dropped by `--max-late`.
    pub dropped_starts: u64,
    /// Open model: arrivals due that no worker started (known at the end only).
    pub missed_starts: u64,
}

impl Counters {
    /// Adds up every slot of `region` now.
    pub fn from_region(region: &Region, names: &Names) -> Counters {
        let mut c = Counters {
            error_kinds: vec![0; names.error_kinds.len()],
            scenario_successes: vec![0; names.scenarios.len()],
            scenario_failures: vec![0; names.scenarios.len()],
            ..Counters::default()
        };
        for i in 0..region.slots() {
            let slot = region.slot(i);
            c.requests += slot.total(Total::Requests);
            c.responses += slot.total(Total::Responses);
            c.errors += slot.total(Total::Errors);
            c.failed_by_status += slot.total(Total::FailedByStatus);
            c.late_starts += slot.total(Total::LateStarts);
            c.early_starts += slot.total(Total::EarlyStarts);
            c.dropped_starts += slot.total(Total::DroppedStarts);
            for code in 0..STATUS_WORDS {
                c.status_classes[status_class(code)] += slot.status_count(code);
            }
            for (kind, n) in c.error_kinds.iter_mut().enumerate() {
                *n += slot.error_kind_count(kind);
            }
            for sc in 0..names.scenarios.len() {
                c.scenario_successes[sc] += slot.scenario(sc, ScenarioCounter::Successes);
                c.scenario_failures[sc] += slot.scenario(sc, ScenarioCounter::Failures);
            }
            for check in 0..names.checks.len() {
                let (passed, failed) = slot.check(check);
                c.checks_passed += passed;
                c.checks_failed += failed;
            }
        }
        c
    }

    /// The same numbers from the final summary (what the report prints).
    pub fn from_summary(summary: &Summary, names: &Names) -> Counters {
        let mut status_classes = [0; 6];
        for (&code, &n) in &summary.status_codes {
            status_classes[status_class(code as usize)] += n;
        }
        let error_kinds = names
            .error_kinds
            .iter()
            .map(|kind| {
                summary
                    .errors_by_kind
                    .iter()
                    .filter(|(k, _)| k == kind)
                    .map(|(_, n)| n)
                    .sum()
            })
            .collect();
        Counters {
            requests: summary.counts.requests,
            responses: summary.counts.responses,
            errors: summary.counts.errors,
            failed_by_status: summary.counts.failed_by_status,
            status_classes,
            error_kinds,
            scenario_successes: summary.scenarios.iter().map(|s| s.successes).collect(),
            scenario_failures: summary.scenarios.iter().map(|s| s.failures).collect(),
            checks_passed: summary.checks_passed(),
            checks_failed: summary.checks_failed(),
            late_starts: summary.late_starts,
            early_starts: summary.early_starts,
            dropped_starts: summary.dropped_starts,
            missed_starts: summary.missed_starts,
        }
    }
}

/// One metric line.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `|c`: an increase.
    Count(u64),
    /// `|g`: a value now.
    Gauge(f64),
}

/// Writes `name:value|type` into `out`.
fn write_line(out: &mut String, prefix: &str, name: &str, value: &Value) {
    out.clear();
    if !prefix.is_empty() {
        out.push_str(prefix);
        out.push('.');
    }
    out.push_str(name);
    match value {
        Value::Count(n) => {
            let _ = write!(out, ":{n}|c");
        }
        Value::Gauge(v) => {
            out.push(':');
            push_gauge(out, *v);
            out.push_str("|g");
        }
    }
}

/// A gauge value: non-negative (a leading sign would make statsd add it to the old value), at
/// most three decimals, no trailing zeros.
fn push_gauge(out: &mut String, v: f64) {
    let v = if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let start = out.len();
    let _ = write!(out, "{v:.3}");
    while out.ends_with('0') {
        out.pop();
    }
    if out.ends_with('.') {
        out.pop();
    }
    if out.len() == start {
        out.push('0');
    }
}

/// Packs lines into datagrams of at most `max` bytes, lines separated by `\n`. A line is never
/// split across datagrams; a line longer than `max` on its own is dropped (counted).
#[derive(Debug)]
pub struct Packer {
    max: usize,
    current: Vec<u8>,
    done: Vec<Vec<u8>>,
    oversized: u64,
}

impl Packer {
    /// An empty packer for datagrams of at most `max` bytes.
    pub fn new(max: usize) -> Packer {
        Packer {
            max,
            current: Vec::with_capacity(max),
            done: Vec::new(),
            oversized: 0,
        }
    }

    /// Adds one line (without its newline).
    pub fn push(&mut self, line: &str) {
        if line.len() > self.max {
            self.oversized += 1;
            return;
        }
        let needed = line.len() + usize::from(!self.current.is_empty());
        if self.current.len() + needed > self.max {
            self.done.push(std::mem::take(&mut self.current));
        }
        if !self.current.is_empty() {
            self.current.push(b'\n');
        }
        self.current.extend_from_slice(line.as_bytes());
    }

    /// The datagrams, and how many lines were too long to send.
    pub fn finish(mut self) -> (Vec<Vec<u8>>, u64) {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        (self.done, self.oversized)
    }
}

/// The statsd settings of a run.
#[derive(Debug, Clone)]
pub struct StatsdConfig {
    /// The daemon.
    pub endpoint: Endpoint,
    /// Normalized prefix ([`normalize_prefix`]); empty: none.
    pub prefix: String,
    /// Time between flushes (flushes happen on the master's ticks, so never more often than
    /// the live view's tick).
    pub interval: Duration,
    /// Print the one warning as soon as sending fails; false (a full-screen view owns the
    /// terminal) keeps it for [`Statsd::finish`].
    pub warn_during_run: bool,
}

/// Counts of what was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Flushes made.
    pub flushes: u64,
    /// Datagrams handed to the kernel.
    pub datagrams_sent: u64,
    /// Datagrams the kernel refused (daemon unreachable, buffer full).
    pub datagrams_dropped: u64,
    /// Lines too long for a datagram (cannot happen with the length limits; counted anyway).
    pub oversized_lines: u64,
}

/// The interval latency of one histogram of the region (overall or one request): the
/// previous cumulative counts, kept sparse (index, count) since a run touches few buckets.
#[derive(Debug, Default)]
struct LatencyTracker {
    previous: Vec<(u32, u64)>,
    previous_latencies: u64,
}

/// Sends a run's numbers to a statsd daemon. Use it as an [`Observer`] (by value or as
/// `&mut Statsd`), then call [`Statsd::finish`] with the final summary.
#[derive(Debug)]
pub struct Statsd {
    socket: UdpSocket,
    addr: SocketAddr,
    prefix: String,
    interval: Duration,
    next_flush: Duration,
    last_flush: Duration,
    names: Names,
    metric_names: MetricNames,
    sent: Counters,
    /// Requests counted at the last flush, or at the start of the load: the `rps` gauge's
    /// base (what `setup` sent before the load is not in the first flush's rate).
    rps_base: u64,
    latency: Vec<LatencyTracker>,
    scratch: Vec<u64>,
    histogram: Histogram<u64>,
    load_slots: Vec<usize>,
    dead_slots: HashSet<usize>,
    warn_during_run: bool,
    warning: Option<String>,
    warned: bool,
    stats: SendStats,
    line: String,
}

impl Statsd {
    /// Resolves the daemon's address and opens a non-blocking UDP socket connected to it.
    /// Nothing is sent yet.
    pub fn connect(config: &StatsdConfig, names: &Names) -> Result<Statsd, StatsdError> {
        let addr = config.endpoint.resolve()?;
        let local: SocketAddr = if addr.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)
            .and_then(|s| s.connect(addr).map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|source| StatsdError::Socket { addr, source })?;
        let metric_names = MetricNames::of(names);
        Ok(Statsd {
            socket,
            addr,
            prefix: config.prefix.clone(),
            interval: config.interval.max(Duration::from_millis(1)),
            next_flush: config.interval,
            last_flush: Duration::ZERO,
            sent: Counters {
                error_kinds: vec![0; names.error_kinds.len()],
                scenario_successes: vec![0; names.scenarios.len()],
                scenario_failures: vec![0; names.scenarios.len()],
                ..Counters::default()
            },
            rps_base: 0,
            latency: (0..=names.requests.len())
                .map(|_| LatencyTracker::default())
                .collect(),
            scratch: vec![0; COUNTS_LEN],
            histogram: latency::new_histogram(),
            names: names.clone(),
            metric_names,
            load_slots: Vec::new(),
            dead_slots: HashSet::new(),
            warn_during_run: config.warn_during_run,
            warning: None,
            warned: false,
            stats: SendStats::default(),
            line: String::with_capacity(256),
        })
    }

    /// The daemon's resolved address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What was sent so far.
    pub fn stats(&self) -> SendStats {
        self.stats
    }

    /// The statsd names used for the plan's requests and scenarios.
    pub fn metric_names(&self) -> &MetricNames {
        &self.metric_names
    }

    /// The last flush: counters from the final summary (it includes the plan's teardown),
    /// gauges back to 0 since nothing runs any more. Prints the warning if it was kept for the
    /// end.
    pub fn finish(&mut self, summary: &Summary) {
        let now = Counters::from_summary(summary, &self.names);
        let gauges = Gauges::default();
        let mut packer = Packer::new(MAX_PAYLOAD);
        self.push_counters(&mut packer, &now);
        self.push_gauges(&mut packer, &gauges);
        self.send(packer);
        self.sent = now;
        if let Some(warning) = self.warning.take() {
            crate::errln!("{warning}");
        }
    }

    /// A flush from the live region.
    fn flush_region(&mut self, sample: &Sample, region: &Region, all_latencies: bool) {
        let now = Counters::from_region(region, &self.names);
        let interval = sample.elapsed.saturating_sub(self.last_flush);
        let gauges = Gauges {
            workers: sample.workers_alive,
            processes: self.processes_running(region),
            in_flight: sample.in_flight,
            rps: crate::live::per_second(now.requests.saturating_sub(self.rps_base), interval),
        };
        self.rps_base = now.requests;
        let mut packer = Packer::new(MAX_PAYLOAD);
        self.push_counters(&mut packer, &now);
        self.push_gauges(&mut packer, &gauges);
        self.push_latencies(&mut packer, region, all_latencies);
        self.send(packer);
        self.sent = now;
        self.last_flush = sample.elapsed;
    }

    /// Load processes whose slot says they run (a crashed child's slot keeps saying so, hence
    /// the list of those reported dead).
    fn processes_running(&self, region: &Region) -> u64 {
        self.load_slots
            .iter()
            .filter(|&&slot| slot < region.slots() && !self.dead_slots.contains(&slot))
            .filter(|&&slot| {
                matches!(
                    region.slot(slot).state(),
                    SlotState::Starting | SlotState::Ready | SlotState::Running
                )
            })
            .count() as u64
    }

    fn push(&mut self, packer: &mut Packer, name: &str, value: Value) {
        write_line(&mut self.line, &self.prefix, name, &value);
        packer.push(&self.line);
    }

    /// The counters that grew since the last flush, with their increase.
    fn push_counters(&mut self, packer: &mut Packer, now: &Counters) {
        let before = self.sent.clone();
        let delta = |now: u64, before: u64| now.saturating_sub(before);
        let mut lines: Vec<(String, u64)> = vec![
            ("requests".into(), delta(now.requests, before.requests)),
            ("responses".into(), delta(now.responses, before.responses)),
            ("errors".into(), delta(now.errors, before.errors)),
            (
                "failed_by_status".into(),
                delta(now.failed_by_status, before.failed_by_status),
            ),
        ];
        for (class, name) in STATUS_CLASSES.iter().enumerate() {
            lines.push((
                format!("status.{name}"),
                delta(now.status_classes[class], before.status_classes[class]),
            ));
        }
        for (kind, name) in self.metric_names.error_kinds.iter().enumerate() {
            lines.push((
                format!("error.{name}"),
                delta(
                    now.error_kinds.get(kind).copied().unwrap_or(0),
                    before.error_kinds.get(kind).copied().unwrap_or(0),
                ),
            ));
        }
        let sum = |v: &[u64]| v.iter().sum::<u64>();
        lines.push((
            "successes".into(),
            delta(
                sum(&now.scenario_successes),
                sum(&before.scenario_successes),
            ),
        ));
        lines.push((
            "failures".into(),
            delta(sum(&now.scenario_failures), sum(&before.scenario_failures)),
        ));
        for (id, name) in self.metric_names.scenarios.iter().enumerate() {
            let get = |v: &[u64]| v.get(id).copied().unwrap_or(0);
            lines.push((
                format!("scenario.{name}.successes"),
                delta(
                    get(&now.scenario_successes),
                    get(&before.scenario_successes),
                ),
            ));
            lines.push((
                format!("scenario.{name}.failures"),
                delta(get(&now.scenario_failures), get(&before.scenario_failures)),
            ));
        }
        for (name, now, before) in [
            ("checks.passed", now.checks_passed, before.checks_passed),
            ("checks.failed", now.checks_failed, before.checks_failed),
            ("starts.late", now.late_starts, before.late_starts),
            ("starts.early", now.early_starts, before.early_starts),
            ("starts.dropped", now.dropped_starts, before.dropped_starts),
            ("starts.missed", now.missed_starts, before.missed_starts),
        ] {
            lines.push((name.into(), delta(now, before)));
        }
        for (name, n) in lines {
            if n > 0 {
                self.push(packer, &name, Value::Count(n));
            }
        }
    }

    fn push_gauges(&mut self, packer: &mut Packer, g: &Gauges) {
        self.push(packer, "workers", Value::Gauge(g.workers as f64));
        self.push(packer, "processes", Value::Gauge(g.processes as f64));
        self.push(packer, "in_flight", Value::Gauge(g.in_flight as f64));
        self.push(packer, "rps", Value::Gauge(g.rps));
    }

    /// Latency gauges (ms) of the responses completed since the last flush: overall, then per
    /// request name that got responses. `all` reads every histogram (the end of the load);
    /// otherwise a request whose response counter did not move is skipped.
    fn push_latencies(&mut self, packer: &mut Packer, region: &Region, all: bool) {
        for index in 0..self.latency.len() {
            let which = Self::histogram_of(index);
            let latencies = (0..region.slots())
                .map(|s| crate::summary::latencies_recorded(&region.slot(s), which))
                .sum();
            if !all && latencies == self.latency[index].previous_latencies {
                continue;
            }
            self.latency[index].previous_latencies = latencies;
            if !self.interval_histogram(region, which, index) {
                continue;
            }
            let h = &self.histogram;
            let ms = |us: u64| us as f64 / 1000.0;
            let stats = [
                ("mean", crate::latency::mean(h) / 1000.0),
                ("p50", ms(h.value_at_quantile(0.50))),
                ("p95", ms(h.value_at_quantile(0.95))),
                ("p99", ms(h.value_at_quantile(0.99))),
                ("max", ms(h.max())),
            ];
            let base = if index == 0 {
                "latency".to_string()
            } else {
                format!("request.{}", self.metric_names.requests[index - 1])
            };
            for (stat, value) in stats {
                self.push(packer, &format!("{base}.{stat}"), Value::Gauge(value));
            }
        }
    }

    /// The histogram latency tracker `index` follows: 0 overall, then one per request id.
    fn histogram_of(index: usize) -> Histo {
        if index == 0 {
            Histo::Overall
        } else {
            Histo::Request((index - 1) as u32)
        }
    }

    /// The load starts: what the region holds now (the plan's `setup`, the open model's
    /// `setup worker` blocks) is the base of the first flush's `rps` and latencies. (Its
    /// counters still go with the first flush: the counters add up to the report's totals.)
    fn set_base(&mut self, region: &Region) {
        self.rps_base = (0..region.slots())
            .map(|i| region.slot(i).total(Total::Requests))
            .sum();
        for index in 0..self.latency.len() {
            let which = Self::histogram_of(index);
            self.latency[index].previous_latencies = (0..region.slots())
                .map(|s| crate::summary::latencies_recorded(&region.slot(s), which))
                .sum();
            self.interval_histogram(region, which, index);
        }
        self.histogram.reset();
    }

    /// Fills `self.histogram` with the responses of histogram `which` recorded since the last
    /// call for tracker `index`; false when there were none.
    fn interval_histogram(&mut self, region: &Region, which: Histo, index: usize) -> bool {
        self.scratch.fill(0);
        for s in 0..region.slots() {
            let slot = region.slot(s);
            // A slot with no response for it has an empty histogram (unused slots, the
            // setup and teardown processes): 28,672 words not worth reading.
            if crate::summary::latencies_recorded(&slot, which) == 0 {
                continue;
            }
            for (i, c) in slot.histogram_counts(which) {
                self.scratch[i] += c;
            }
        }
        let tracker = &mut self.latency[index];
        self.histogram.reset();
        let mut previous = tracker.previous.iter().peekable();
        let mut current = Vec::with_capacity(tracker.previous.len() + 16);
        let mut any = false;
        for (i, &count) in self.scratch.iter().enumerate() {
            if count == 0 {
                continue;
            }
            while previous.peek().is_some_and(|(p, _)| (*p as usize) < i) {
                previous.next();
            }
            let before = match previous.peek() {
                Some(&&(p, c)) if p as usize == i => c,
                _ => 0,
            };
            let new = count.saturating_sub(before);
            if new > 0 {
                let _ = self.histogram.record_n(latency::lowest_value_at(i), new);
                any = true;
            }
            current.push((i as u32, count));
        }
        tracker.previous = current;
        any
    }

    fn send(&mut self, packer: Packer) {
        let (datagrams, oversized) = packer.finish();
        self.stats.flushes += 1;
        self.stats.oversized_lines += oversized;
        for datagram in datagrams {
            match self.socket.send(&datagram) {
                Ok(_) => self.stats.datagrams_sent += 1,
                Err(e) => {
                    self.stats.datagrams_dropped += 1;
                    self.warn(&e);
                }
            }
        }
    }

    fn warn(&mut self, error: &std::io::Error) {
        if self.warned {
            return;
        }
        self.warned = true;
        let why = match error.kind() {
            ErrorKind::WouldBlock => "the socket's send buffer is full".to_string(),
            ErrorKind::ConnectionRefused => "nothing listens there (connection refused)".into(),
            _ => error.to_string(),
        };
        let text = format!(
            "molotov: warning: cannot send metrics to statsd at {}: {why}; the run goes on, \
             and metrics sent while it is unreachable are lost",
            self.addr
        );
        if self.warn_during_run {
            crate::errln!("{text}");
        } else {
            self.warning = Some(text);
        }
    }

    fn due(&mut self, elapsed: Duration) -> bool {
        if elapsed < self.next_flush {
            return false;
        }
        self.next_flush += self.interval;
        if self.next_flush <= elapsed {
            self.next_flush = elapsed + self.interval;
        }
        true
    }
}

/// The gauges of one flush.
#[derive(Debug, Clone, Copy, Default)]
struct Gauges {
    workers: u64,
    processes: u64,
    in_flight: u64,
    rps: f64,
}

impl Observer for Statsd {
    fn started(&mut self, processes: &[ProcessInfo]) {
        self.load_slots = processes.iter().map(|p| p.slot).collect();
    }

    fn load_started(&mut self, _start: Instant, region: &Region) {
        self.set_base(region);
    }

    fn tick(&mut self, sample: &Sample, region: &Region) {
        if self.due(sample.elapsed) {
            self.flush_region(sample, region, false);
        }
    }

    fn finished(&mut self, sample: &Sample, region: &Region) {
        self.flush_region(sample, region, true);
    }

    fn child_ended(&mut self, process: &ProcessInfo) {
        self.dead_slots.insert(process.slot);
    }
}

impl Observer for &mut Statsd {
    fn started(&mut self, processes: &[ProcessInfo]) {
        (**self).started(processes);
    }
    fn load_started(&mut self, start: Instant, region: &Region) {
        (**self).load_started(start, region);
    }
    fn tick(&mut self, sample: &Sample, region: &Region) {
        (**self).tick(sample, region);
    }
    fn finished(&mut self, sample: &Sample, region: &Region) {
        (**self).finished(sample, region);
    }
    fn child_ended(&mut self, process: &ProcessInfo) {
        (**self).child_ended(process);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::{Layout, RequestCounter, Shape};
    use crate::summary::CheckName;

    #[test]
    fn addresses() {
        let ok: &[(&str, &str, u16)] = &[
            ("udp://127.0.0.1:8125", "127.0.0.1", 8125),
            ("udp://localhost:9000", "localhost", 9000),
            ("UDP://stats.example:1", "stats.example", 1),
            ("udp://[::1]:8126", "::1", 8126),
            ("udp://[::1]", "::1", DEFAULT_PORT),
            ("udp://statsd", "statsd", DEFAULT_PORT),
            ("udp://statsd:8125/", "statsd", 8125),
            ("127.0.0.1:8125", "127.0.0.1", 8125),
            ("statsd", "statsd", DEFAULT_PORT),
        ];
        for &(text, host, port) in ok {
            let e = Endpoint::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((e.host.as_str(), e.port), (host, port), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("tcp://127.0.0.1:8125", "UDP"),
            ("udp://", "no host"),
            ("udp://:8125", "no host"),
            ("udp://host:0", "not a port"),
            ("udp://host:99999", "not a port"),
            ("udp://host:x", "not a port"),
            ("udp://::1:8125", "brackets"),
            ("udp://[::1:8125", "closing bracket"),
            ("udp://[::1]8125", "expected :PORT"),
            ("udp://host:8125/path", "nothing after"),
            ("", "no host"),
        ];
        for &(text, why) in bad {
            let err = Endpoint::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        assert_eq!(
            Endpoint::parse("udp://[::1]:9").unwrap().to_string(),
            "[::1]:9"
        );
        assert_eq!(Endpoint::default().to_string(), "localhost:8125");
    }

    #[test]
    fn resolving_prefers_ipv4() {
        let addr = Endpoint::parse("udp://127.0.0.1:8125")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:8125");
        let addr = Endpoint::default().resolve().unwrap();
        assert!(addr.is_ipv4(), "{addr}");
    }

    #[test]
    fn names_are_sanitized() {
        let cases: &[(&str, &str)] = &[
            ("list", "list"),
            ("GET /products/{{id}}", "GET_products_id"),
            ("POST /cart?x=1&y=2", "POST_cart_x_1_y_2"),
            ("a.b:c|d@e", "a_b_c_d_e"),
            ("  spaced  out  ", "spaced_out"),
            ("keep-dash_and_underscore", "keep-dash_and_underscore"),
            ("__lead__trail__", "lead_trail"),
            ("café/naïve", "caf_na_ve"),
            ("/", ""),
            ("", ""),
        ];
        for &(raw, want) in cases {
            assert_eq!(sanitize(raw), want, "{raw:?}");
        }
        let long = "x".repeat(500);
        assert_eq!(sanitize(&long).len(), MAX_NAME_BYTES);
        let names: Vec<String> = ["GET /a b", "GET /a_b", "GET /a.b", "/", "ok"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            unique_names(&names, "request_"),
            ["GET_a_b", "GET_a_b_2", "GET_a_b_3", "request_3", "ok"]
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(normalize_prefix("molotov").unwrap(), "molotov");
        assert_eq!(normalize_prefix("load.team 1").unwrap(), "load.team_1");
        assert_eq!(normalize_prefix("a..b.").unwrap(), "a.b");
        assert_eq!(normalize_prefix("").unwrap(), "");
        assert!(normalize_prefix("///").is_err());
        assert!(normalize_prefix(&"a.".repeat(150)).is_err());
    }

    #[test]
    fn lines_and_gauge_values() {
        let mut out = String::new();
        write_line(&mut out, "molotov", "requests", &Value::Count(12));
        assert_eq!(out, "molotov.requests:12|c");
        write_line(&mut out, "", "rps", &Value::Gauge(1234.5678));
        assert_eq!(out, "rps:1234.568|g");
        for (v, want) in [
            (0.0, "0"),
            (2.0, "2"),
            (0.5, "0.5"),
            (-3.0, "0"),
            (f64::NAN, "0"),
            (0.0004, "0"),
            (1.0006, "1.001"),
        ] {
            write_line(&mut out, "p", "g", &Value::Gauge(v));
            assert_eq!(out, format!("p.g:{want}|g"), "{v}");
        }
    }

    #[test]
    fn packing_keeps_lines_whole_and_datagrams_small() {
        let lines: Vec<String> = (0..500)
            .map(|i| format!("molotov.request.name_{i}.p99:{}|g", i * 7))
            .collect();
        let mut packer = Packer::new(MAX_PAYLOAD);
        for line in &lines {
            packer.push(line);
        }
        packer.push(&"x".repeat(MAX_PAYLOAD + 1));
        let (datagrams, oversized) = packer.finish();
        assert_eq!(oversized, 1);
        assert!(datagrams.len() > 1);
        let mut seen = Vec::new();
        for d in &datagrams {
            assert!(d.len() <= MAX_PAYLOAD, "{}", d.len());
            // Nearly full: the next line would not have fitted.
            let text = std::str::from_utf8(d).unwrap();
            seen.extend(text.split('\n').map(str::to_string));
        }
        for pair in datagrams.windows(2) {
            let next_line_len = std::str::from_utf8(&pair[1])
                .unwrap()
                .split('\n')
                .next()
                .unwrap()
                .len();
            assert!(pair[0].len() + 1 + next_line_len > MAX_PAYLOAD);
        }
        assert_eq!(seen, lines);
        let (none, _) = Packer::new(MAX_PAYLOAD).finish();
        assert!(none.is_empty());
    }

    #[test]
    fn status_classes() {
        let cases = [
            (100, "1xx"),
            (204, "2xx"),
            (301, "3xx"),
            (404, "4xx"),
            (599, "5xx"),
            (0, "other"),
            (99, "other"),
            (600, "other"),
            (999, "other"),
        ];
        for (code, class) in cases {
            assert_eq!(STATUS_CLASSES[status_class(code)], class, "{code}");
        }
    }

    fn names() -> Names {
        Names {
            requests: vec!["GET /a".into(), "slow one".into()],
            request_locations: vec!["p.mol:2".into(), "p.mol:4".into()],
            scenarios: vec!["browse".into(), "buy.now".into()],
            checks: vec![CheckName {
                text: "status == 200".into(),
                location: "p.mol:3".into(),
                is_assert: false,
            }],
            error_kinds: vec!["connect_refused", "timeout"],
        }
    }

    fn region(names: &Names) -> Region {
        Region::new(Layout::new(Shape {
            requests: names.requests.len(),
            scenarios: names.scenarios.len(),
            checks: names.checks.len(),
            slots: 3,
        }))
        .unwrap()
    }

    /// What a child does per response.
    fn respond(region: &Region, slot: usize, request: u32, status: u16, micros: u64) {
        let s = region.slot(slot);
        s.add(Total::Requests, 1);
        s.add(Total::Responses, 1);
        s.add_status(status);
        s.add_request(request, RequestCounter::Responses, 1);
        s.record(Histo::Overall, micros);
        s.record(Histo::Request(request), micros);
    }

    pub(super) fn sample(elapsed: Duration, workers: u64) -> Sample {
        Sample {
            elapsed,
            interval: elapsed,
            requests: 0,
            errors: 0,
            failed_by_status: 0,
            successes: 0,
            failures: 0,
            interval_requests: 0,
            interval_errors: 0,
            interval_failures: 0,
            totals: Default::default(),
            delta: Default::default(),
            interval_latency: latency::new_histogram(),
            workers_alive: workers,
            in_flight: 0,
        }
    }

    /// Reads every datagram waiting on `socket` as lines.
    fn received(socket: &UdpSocket) -> Vec<String> {
        let mut lines = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match socket.recv(&mut buf) {
                Ok(n) => {
                    assert!(n <= MAX_PAYLOAD, "datagram of {n} bytes");
                    let text = std::str::from_utf8(&buf[..n]).unwrap();
                    lines.extend(text.split('\n').map(str::to_string));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return lines,
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn value_of(lines: &[String], name: &str) -> Option<String> {
        lines.iter().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(str::to_string)
        })
    }

    /// The process in slot 0, as the master announces it.
    fn worker_0() -> ProcessInfo {
        ProcessInfo {
            role: "worker 0".into(),
            slot: 0,
            pid: 1,
            cpu: None,
            exit: None,
            usage: None,
        }
    }

    /// Asserts the value sent for each name (None: not sent), naming the name that differs.
    fn expect_values(lines: &[String], want: &[(&str, Option<&str>)]) {
        for (name, value) in want {
            assert_eq!(
                value_of(lines, name).as_deref(),
                *value,
                "{name}: {lines:?}"
            );
        }
    }

    fn listener() -> (UdpSocket, StatsdConfig) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let config = StatsdConfig {
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port,
            },
            prefix: "t".into(),
            interval: Duration::from_secs(1),
            warn_during_run: false,
        };
        (socket, config)
    }

    /// Waits for the first datagram, then drains the rest without blocking.
    fn wait_received(socket: &UdpSocket) -> Vec<String> {
        let mut buf = [0u8; 65536];
        let n = socket.recv(&mut buf).expect("a datagram");
        let mut lines: Vec<String> = std::str::from_utf8(&buf[..n])
            .unwrap()
            .split('\n')
            .map(str::to_string)
            .collect();
        socket.set_nonblocking(true).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        lines.extend(received(socket));
        socket.set_nonblocking(false).unwrap();
        lines
    }

    #[test]
    fn flushes_send_deltas_gauges_and_interval_latency_over_a_real_socket() {
        let names = names();
        let region = region(&names);
        let (socket, config) = listener();
        let mut statsd = Statsd::connect(&config, &names).unwrap();
        statsd.started(&[worker_0()]);
        region.slot(0).set_state(SlotState::Running);

        // Nothing is due before the interval.
        statsd.tick(&sample(Duration::from_millis(500), 4), &region);
        assert_eq!(statsd.stats().flushes, 0);

        for _ in 0..10 {
            respond(&region, 0, 0, 200, 2_000);
        }
        respond(&region, 1, 1, 503, 40_000);
        region.slot(1).add(Total::FailedByStatus, 1);
        region.slot(0).add(Total::Requests, 1);
        region.slot(0).add(Total::Errors, 1);
        region.slot(0).add_error_kind(1);
        region.slot(0).add_scenario(0, ScenarioCounter::Successes);
        region.slot(0).add_scenario(1, ScenarioCounter::Failures);
        region.slot(0).add_check(0, true);
        region.slot(0).add_check(0, false);
        region.slot(0).add(Total::LateStarts, 3);
        region.slot(1).add(Total::EarlyStarts, 5);
        region.slot(1).add(Total::DroppedStarts, 2);
        statsd.tick(&sample(Duration::from_millis(1000), 4), &region);
        let lines = wait_received(&socket);
        expect_values(
            &lines,
            &[
                ("t.requests", Some("12|c")),
                ("t.responses", Some("11|c")),
                ("t.errors", Some("1|c")),
                ("t.failed_by_status", Some("1|c")),
                ("t.status.2xx", Some("10|c")),
                ("t.status.5xx", Some("1|c")),
                // zero counters are not sent.
                ("t.status.4xx", None),
                ("t.error.timeout", Some("1|c")),
                ("t.successes", Some("1|c")),
                ("t.failures", Some("1|c")),
                ("t.scenario.browse.successes", Some("1|c")),
                ("t.scenario.buy_now.failures", Some("1|c")),
                ("t.checks.passed", Some("1|c")),
                ("t.checks.failed", Some("1|c")),
                ("t.starts.late", Some("3|c")),
                ("t.starts.early", Some("5|c")),
                ("t.starts.dropped", Some("2|c")),
                ("t.starts.missed", None),
                ("t.workers", Some("4|g")),
                ("t.processes", Some("1|g")),
                ("t.rps", Some("12|g")),
                ("t.request.GET_a.p50", Some("2|g")),
                ("t.request.GET_a.max", Some("2|g")),
                ("t.request.slow_one.p99", Some("40.031|g")),
                ("t.latency.p50", Some("2|g")),
            ],
        );
        assert!(value_of(&lines, "t.latency.mean").is_some());

        // Second interval: only what changed; latency of the new responses only.
        respond(&region, 0, 0, 200, 9_000);
        statsd.tick(&sample(Duration::from_millis(2500), 2), &region);
        let lines = wait_received(&socket);
        expect_values(
            &lines,
            &[
                ("t.requests", Some("1|c")),
                ("t.errors", None),
                ("t.request.GET_a.p50", Some("9.007|g")),
                // no new responses.
                ("t.request.slow_one.p50", None),
                ("t.rps", Some("0.667|g")),
                ("t.workers", Some("2|g")),
            ],
        );

        // The child died: its slot no longer counts as a running process.
        statsd.child_ended(&worker_0());
        // The final flush from the summary sends what the region flushes missed (here the
        // teardown's request in slot 2) and zero gauges.
        respond(&region, 2, 1, 204, 1_000);
        let mut summary = Summary::merge(&region, &names, Vec::new(), Duration::from_secs(3));
        // Counted by the master once the load is over: only the summary has it.
        summary.missed_starts = 7;
        statsd.finish(&summary);
        let lines = wait_received(&socket);
        expect_values(
            &lines,
            &[
                ("t.requests", Some("1|c")),
                ("t.status.2xx", Some("1|c")),
                ("t.starts.missed", Some("7|c")),
                ("t.starts.late", None),
                ("t.workers", Some("0|g")),
                ("t.processes", Some("0|g")),
            ],
        );
        summary.missed_starts = 0;
        assert_eq!(statsd.stats().datagrams_dropped, 0);
        assert_eq!(
            Counters::from_summary(&summary, &names),
            Counters::from_region(&region, &names)
        );
    }

    #[test]
    fn an_unreachable_daemon_costs_one_kept_warning_and_nothing_else() {
        let names = names();
        let region = region(&names);
        // A port that was just free: nothing listens there.
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = StatsdConfig {
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port,
            },
            prefix: DEFAULT_PREFIX.into(),
            interval: Duration::from_millis(1),
            warn_during_run: false,
        };
        let mut statsd = Statsd::connect(&config, &names).unwrap();
        let started = std::time::Instant::now();
        for i in 1..=20 {
            respond(&region, 0, 0, 200, 1_000);
            statsd.tick(&sample(Duration::from_millis(i), 1), &region);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        let stats = statsd.stats();
        assert_eq!(stats.flushes, 20);
        assert!(stats.datagrams_dropped > 0, "{stats:?}");
        assert!(
            statsd
                .warning
                .as_deref()
                .unwrap()
                .contains("connection refused")
        );
        let summary = Summary::merge(&region, &names, Vec::new(), Duration::from_secs(1));
        statsd.finish(&summary);
        assert!(statsd.warning.is_none(), "printed at the end");
    }

    #[test]
    fn a_plan_with_many_requests_is_split_across_datagrams() {
        let names = Names {
            requests: (0..60).map(|i| format!("GET /item/{i}/details")).collect(),
            request_locations: vec!["p.mol:1".into(); 60],
            scenarios: vec!["s".into()],
            checks: Vec::new(),
            error_kinds: vec!["timeout"],
        };
        let region = region(&names);
        let (socket, mut config) = listener();
        config.prefix = "molotov.a_long_prefix_for_this_test".into();
        let mut statsd = Statsd::connect(&config, &names).unwrap();
        for id in 0..60 {
            respond(&region, 0, id, 200, 1_000 + u64::from(id));
        }
        statsd.finished(&sample(Duration::from_millis(300), 0), &region);
        assert!(statsd.stats().datagrams_sent > 10, "{:?}", statsd.stats());
        let mut lines = Vec::new();
        while lines.len() < 60 * 5 {
            lines.extend(wait_received(&socket));
        }
        for id in 0..60 {
            let name =
                format!("molotov.a_long_prefix_for_this_test.request.GET_item_{id}_details.p50");
            assert!(value_of(&lines, &name).is_some(), "{name}");
        }
    }
}

#[cfg(test)]
mod measure {
    //! Not a test: a measurement of what one flush costs the master (no time limit is
    //! asserted). `cargo test --release -p molotov-core --lib flush_cost -- --ignored --nocapture`
    use super::*;
    use crate::shm::{Layout, RequestCounter, Shape};

    #[test]
    #[ignore = "a measurement, run by hand"]
    fn flush_cost() {
        for (slots, requests) in [(4usize, 7usize), (18, 50)] {
            let names = Names {
                requests: (0..requests).map(|i| format!("GET /r/{i}")).collect(),
                request_locations: vec!["p.mol:1".into(); requests],
                scenarios: vec!["s".into(); 4],
                checks: Vec::new(),
                error_kinds: vec!["timeout"; 17],
            };
            let region = Region::new(Layout::new(Shape {
                requests,
                scenarios: 4,
                checks: 0,
                slots,
            }))
            .unwrap();
            let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
            let config = StatsdConfig {
                endpoint: Endpoint {
                    host: "127.0.0.1".into(),
                    port: sink.local_addr().unwrap().port(),
                },
                prefix: "molotov".into(),
                interval: Duration::from_millis(1),
                warn_during_run: true,
            };
            let mut statsd = Statsd::connect(&config, &names).unwrap();
            let mut total = Duration::ZERO;
            let rounds = 20;
            for round in 0..rounds {
                for s in 0..slots {
                    for r in 0..requests {
                        for k in 0..200u64 {
                            let slot = region.slot(s);
                            slot.add(Total::Requests, 1);
                            slot.add(Total::Responses, 1);
                            slot.add_request(r as u32, RequestCounter::Responses, 1);
                            slot.record(Histo::Overall, 500 + k * 37 + round);
                            slot.record(Histo::Request(r as u32), 500 + k * 37 + round);
                        }
                    }
                }
                let sample = Sample {
                    interval: Duration::from_millis(1),
                    ..super::tests::sample(Duration::from_millis(round + 1), 1)
                };
                let t = std::time::Instant::now();
                statsd.tick(&sample, &region);
                total += t.elapsed();
            }
            assert_eq!(statsd.stats().datagrams_dropped, 0);
            crate::errln!(
                "{slots} slots x {requests} requests: {:?} per flush ({:?})",
                total / rounds as u32,
                statsd.stats()
            );
        }
    }
}
