//! The plan's `threshold` lines evaluated against the final [`Summary`]: one
//! [`ThresholdOutcome`] per threshold, with the observed value and pass/fail, for the text
//! report, the JSON report and the exit code.
//!
//! Scopes: a threshold without a name applies to the whole run; `threshold buy p95 < 800ms`
//! applies to the scenario `buy` (the per-request histograms and counters of the requests that
//! belong to it, merged) or to the request named `buy` (`as buy`).
//!
//! Metrics, as documented in docs/plan-language.md:
//! - latencies (`p50 p90 p95 p99 p999 max mean`) from the latency histogram, in µs, and
//!   compared in µs with the limit's exact µs (its nanoseconds / 1000, one rounding: a limit
//!   of `1111.039ms` is 1111039 µs, which `max` equals when it is 1111039 µs);
//! - `errors`: transport errors plus failed statuses, in percent of the requests sent;
//! - `checks`: check and assert evaluations that passed, in percent of all evaluations;
//! - `rps`: requests sent per second of the run.
//!
//! The figure a threshold line shows agrees with its verdict: it is printed as the report
//! prints that kind of value, with more digits where those would read the other way
//! (`FAIL errors <= 0%  0.005%`, not `0.00%`). `==` and `!=` compare the value as the report
//! prints it, and a percentage prints as `0.00%` or `100.00%` only when it is exactly that,
//! so `errors == 0%` holds only without any failed request.
//!
//! A threshold whose scope measured nothing (no response for a latency, no request for
//! `errors` or `rps`... no check for `checks`) fails with no observed value: a gate must not
//! pass on a run that did not measure what it promises.

use std::borrow::Cow;

use hdrhistogram::Histogram;
use molotov_dsl::{CmpOp, Metric, Program, Threshold, ThresholdTarget, ThresholdValue};
use serde::{Deserialize, Serialize};

use crate::latency;
use crate::summary::Summary;

/// What a scoped threshold is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// A scenario.
    Scenario,
    /// A request (`as NAME`).
    Request,
}

/// The unit of a threshold's limit and observed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Microseconds (latency metrics).
    #[serde(rename = "us")]
    Micros,
    /// Percent (`errors`, `checks`).
    #[serde(rename = "%")]
    Percent,
    /// Per second (`rps`).
    #[serde(rename = "1/s")]
    PerSecond,
}

/// One threshold, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdOutcome {
    /// The threshold as written after `threshold`, e.g. `buy p95 < 800ms`.
    pub text: String,
    /// Where it is written (`file:line`).
    pub location: String,
    /// The scenario or request it is limited to (None: the whole run).
    pub scope: Option<String>,
    /// Whether `scope` names a scenario or a request.
    pub scope_kind: Option<ScopeKind>,
    /// The metric: `p50`, `p90`, `p95`, `p99`, `p999`, `max`, `mean`, `errors`, `checks`, `rps`.
    pub metric: String,
    /// The comparison: `<`, `<=`, `>`, `>=`, `==`, `!=`.
    pub op: String,
    /// The limit, in `unit`.
    pub limit: f64,
    /// The unit of `limit` and `observed`.
    pub unit: Unit,
    /// What the run measured, in `unit` (None: nothing was measured in the scope).
    pub observed: Option<f64>,
    /// Whether the threshold holds.
    pub passed: bool,
}

impl ThresholdOutcome {
    /// The observed value for people: `3.21ms`, `0.53%`, `1,234/s`, or `no data`. Printed
    /// as the report prints such a value, with more digits where those would contradict the
    /// verdict (`FAIL checks >= 99.99%  99.9875%`; `99.99%` would read as passing).
    pub fn observed_text(&self) -> String {
        match self.observed {
            None => "no data".into(),
            Some(v) => match op_of(&self.op) {
                Some(op) => figure_agreeing(v, self.unit, op, self.limit, self.passed),
                None => format_value(v, self.unit),
            },
        }
    }

    /// The limit as the plan wrote it (`0.004%`, `999.996ms`, `1e24`): the text after the
    /// comparison in [`ThresholdOutcome::text`]. (It was re-printed in the observed value's
    /// style, which showed other numbers: `< 0.00%`, `< 1000.00ms`.)
    pub fn limit_text(&self) -> String {
        match self.text.rsplit_once(self.op.as_str()) {
            Some((_, written)) if !written.trim().is_empty() => written.trim().to_string(),
            _ => format_value(self.limit, self.unit),
        }
    }
}

/// The comparison written `symbol` (as [`CmpOp::symbol`] writes it).
fn op_of(symbol: &str) -> Option<CmpOp> {
    [
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Eq,
        CmpOp::Ne,
    ]
    .into_iter()
    .find(|op| op.symbol() == symbol)
}

/// `v` as [`format_value`] prints it, read back: what `==` and `!=` compare (percentages to
/// 0.01%, but never 0 or 100 unless exactly so; rates to 1/s from 100/s, 0.1/s below), and
/// latencies to 1 µs.
fn as_printed(v: f64, unit: Unit) -> f64 {
    match unit {
        Unit::Micros => v.round(),
        Unit::Percent | Unit::PerSecond => read_back(&format_value(v, unit), unit).unwrap_or(v),
    }
}

/// The value a figure printed by [`format_value`] or [`figure_agreeing`] shows, in `unit`.
fn read_back(text: &str, unit: Unit) -> Option<f64> {
    match unit {
        Unit::Percent => text.strip_suffix('%')?.parse().ok(),
        Unit::PerSecond => text.strip_suffix("/s")?.replace(',', "").parse().ok(),
        Unit::Micros => {
            let (number, scale) = if let Some(n) = text.strip_suffix("µs") {
                (n, 1.0)
            } else if let Some(n) = text.strip_suffix("ms") {
                (n, 1e3)
            } else {
                (text.strip_suffix('s')?, 1e6)
            };
            number.parse::<f64>().ok().map(|n| n * scale)
        }
    }
}

fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Micros => crate::report::fmt_micros(v.round().max(0.0) as u64),
        Unit::Percent => crate::report::fmt_percent(v),
        Unit::PerSecond => crate::report::fmt_rate(v),
    }
}

/// `v` printed as [`format_value`] does, or with more digits until the figure, compared with
/// `limit`, gives the verdict `passed` (so that a FAIL never shows a figure that meets its
/// limit). When no figure agrees (a latency at the histograms' top, compared as infinite),
/// the usual one.
fn figure_agreeing(v: f64, unit: Unit, op: CmpOp, limit: f64, passed: bool) -> String {
    let usual = format_value(v, unit);
    let agrees = |text: &str| {
        // `==` and `!=` compare the printed value, latencies to 1 µs.
        let shown = match (unit, op) {
            (Unit::Micros, CmpOp::Eq | CmpOp::Ne) => read_back(text, unit).map(f64::round),
            _ => read_back(text, unit),
        };
        shown.is_some_and(|shown| op.holds(shown, limit) == passed)
    };
    if agrees(&usual) {
        return usual;
    }
    (1..=12)
        .map(|extra| match unit {
            Unit::Percent => format!("{}%", crate::report::fmt_percent_digits(v, 2 + extra)),
            Unit::PerSecond => format!("{v:.extra$}/s"),
            Unit::Micros => crate::report::fmt_micros_precise(v, extra),
        })
        .find(|text| agrees(text))
        .unwrap_or(usual)
}

/// Whether every outcome passed (true when there are none).
pub fn all_passed(outcomes: &[ThresholdOutcome]) -> bool {
    outcomes.iter().all(|o| o.passed)
}

/// Evaluates every threshold of `program` against `summary`, in plan order.
pub fn evaluate(program: &Program, summary: &Summary) -> Vec<ThresholdOutcome> {
    program
        .thresholds()
        .iter()
        .map(|t| evaluate_one(program, summary, t))
        .collect()
}

/// What a scope measured.
struct ScopeData<'a> {
    latency: Cow<'a, Histogram<u64>>,
    requests: u64,
    /// Of `requests`, those the load sent (not `setup` or `teardown`): what `rps` counts.
    load_requests: u64,
    failed_requests: u64,
    checks_passed: u64,
    checks_failed: u64,
}

fn scope_data<'a>(
    program: &Program,
    summary: &'a Summary,
    target: Option<ThresholdTarget>,
) -> ScopeData<'a> {
    // Which request ids and check ids fall in the scope.
    let in_scope_request = |id: usize| -> bool {
        match target {
            None => true,
            Some(ThresholdTarget::Request(r)) => r.index() == id,
            Some(ThresholdTarget::Scenario(s)) => program
                .requests()
                .get(id)
                .is_some_and(|info| info.scenario == Some(s)),
        }
    };
    let (checks_passed, checks_failed) = summary
        .checks
        .iter()
        .zip(program.checks())
        .filter(|(_, info)| in_scope_request(info.request.index()))
        .fold((0, 0), |(p, f), (c, _)| (p + c.passed, f + c.failed));
    match target {
        None => ScopeData {
            latency: Cow::Borrowed(&summary.latency),
            requests: summary.counts.requests,
            load_requests: summary.load.requests,
            failed_requests: summary.counts.errors + summary.counts.failed_by_status,
            checks_passed,
            checks_failed,
        },
        Some(ThresholdTarget::Request(r)) => match summary.requests.get(r.index()) {
            Some(req) => ScopeData {
                latency: Cow::Borrowed(&req.latency),
                requests: req.counts.requests,
                load_requests: req.load_requests,
                failed_requests: req.counts.errors + req.counts.failed_by_status,
                checks_passed,
                checks_failed,
            },
            None => ScopeData {
                latency: Cow::Owned(latency::new_histogram()),
                requests: 0,
                load_requests: 0,
                failed_requests: 0,
                checks_passed,
                checks_failed,
            },
        },
        Some(ThresholdTarget::Scenario(_)) => {
            let mut merged = latency::new_histogram();
            let mut requests = 0;
            let mut load_requests = 0;
            let mut failed_requests = 0;
            for (id, req) in summary.requests.iter().enumerate() {
                if in_scope_request(id) {
                    // Same bounds on both sides: adding cannot fail.
                    let _ = merged.add(&req.latency);
                    requests += req.counts.requests;
                    load_requests += req.load_requests;
                    failed_requests += req.counts.errors + req.counts.failed_by_status;
                }
            }
            ScopeData {
                latency: Cow::Owned(merged),
                requests,
                load_requests,
                failed_requests,
                checks_passed,
                checks_failed,
            }
        }
    }
}

/// The observed value of `metric` in `data`, in the metric's unit (µs for latencies).
fn observe(metric: Metric, data: &ScopeData<'_>, elapsed_secs: f64) -> Option<f64> {
    let h = &data.latency;
    let quantile = |q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q) as f64);
    match metric {
        Metric::P50 => quantile(0.5),
        Metric::P90 => quantile(0.9),
        Metric::P95 => quantile(0.95),
        Metric::P99 => quantile(0.99),
        Metric::P999 => quantile(0.999),
        Metric::Max => (!h.is_empty()).then(|| h.max() as f64),
        Metric::Mean => (!h.is_empty()).then(|| latency::mean(h)),
        Metric::Errors => {
            (data.requests > 0).then(|| data.failed_requests as f64 * 100.0 / data.requests as f64)
        }
        Metric::Checks => {
            let total = data.checks_passed + data.checks_failed;
            (total > 0).then(|| data.checks_passed as f64 * 100.0 / total as f64)
        }
        Metric::Rps => {
            // The load's requests over the load's time (`setup` and `teardown` are outside it).
            (data.requests > 0 && elapsed_secs > 0.0)
                .then(|| data.load_requests as f64 / elapsed_secs)
        }
    }
}

fn evaluate_one(program: &Program, summary: &Summary, t: &Threshold) -> ThresholdOutcome {
    let data = scope_data(program, summary, t.target);
    let observed = observe(t.metric, &data, summary.elapsed.as_secs_f64());
    let (limit, unit) = match t.value {
        // One rounding (the nanoseconds are exact): `as_secs_f64() * 1e6` made 1167.871ms
        // 1167870.9999999998 µs, and a `max` of exactly the limit failed `<=`.
        ThresholdValue::Duration(d) => (d.as_nanos() as f64 / 1000.0, Unit::Micros),
        ThresholdValue::Percent(p) => (p, Unit::Percent),
        ThresholdValue::Number(n) => (n, Unit::PerSecond),
    };
    // The value the limit is held against. A latency at the histograms' top was clamped to
    // it: its true value is larger, and unknown (`max < 25h` cannot be said to hold; `p99 >
    // 1h` does). `==` and `!=` compare the value as the report prints it: `checks == 66.67%`
    // holds for two checks passed of three, which the report shows as 66.67%.
    let top = latency::CLAMPED_US as f64;
    let compared = |v: f64| {
        if unit == Unit::Micros && v >= top {
            f64::INFINITY
        } else if matches!(t.cmp, CmpOp::Eq | CmpOp::Ne) {
            as_printed(v, unit)
        } else {
            v
        }
    };
    // Latencies in µs, as the limit is.
    let passed = observed
        .map(compared)
        .is_some_and(|v| t.cmp.holds(v, limit));
    ThresholdOutcome {
        text: t.text.clone(),
        location: t.location.to_string(),
        scope: t.scope.clone(),
        scope_kind: t.target.map(|target| match target {
            ThresholdTarget::Scenario(_) => ScopeKind::Scenario,
            ThresholdTarget::Request(_) => ScopeKind::Request,
        }),
        metric: t.metric.name().to_string(),
        op: t.cmp.symbol().to_string(),
        limit,
        unit,
        observed,
        passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{CheckName, CheckSummary, Counts, RequestSummary, ScenarioSummary};
    use molotov_dsl::{CompileOptions, compile_source};
    use std::collections::BTreeMap;
    use std::time::Duration;

    const PLAN: &str = "\
defaults {
  base http://127.0.0.1:1
}

scenario browse weight 3 {
  GET /a as page
  check status == 200
  GET /b as item
}

scenario buy {
  POST /cart as add
  check status == 201
}
";

    fn program(thresholds: &str) -> Program {
        let source = format!("{PLAN}\n{thresholds}\n");
        compile_source(
            "t.mol",
            &source,
            std::path::Path::new("."),
            &CompileOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{d}"))
    }

    fn histogram(values_us: &[u64]) -> Histogram<u64> {
        let mut h = latency::new_histogram();
        for &v in values_us {
            h.record(v).unwrap();
        }
        h
    }

    fn request(name: &str, requests: u64, errors: u64, failed: u64, lat: &[u64]) -> RequestSummary {
        RequestSummary {
            name: name.into(),
            counts: Counts {
                requests,
                responses: requests - errors,
                errors,
                failed_by_status: failed,
            },
            load_requests: requests,
            bytes_received: 0,
            latency: histogram(lat),
            sample: None,
        }
    }

    fn check(passed: u64, failed: u64) -> CheckSummary {
        CheckSummary {
            name: CheckName {
                text: "status == 200".into(),
                location: "t.mol:1".into(),
                is_assert: false,
            },
            passed,
            failed,
            sample: None,
        }
    }

    /// page: 100 requests at 10 ms, 2 errors; item: 100 at 20 ms, 3 failed by status;
    /// add: 50 at 300 ms. Checks: page 98/2, add 40/10. 10 s run.
    fn summary() -> Summary {
        let requests = vec![
            request("page", 100, 2, 0, &[10_000; 98]),
            request("item", 100, 0, 3, &[20_000; 100]),
            request("add", 50, 0, 0, &[300_000; 50]),
        ];
        let mut overall = latency::new_histogram();
        for r in &requests {
            overall.add(&r.latency).unwrap();
        }
        Summary {
            elapsed: Duration::from_secs(10),
            counts: Counts {
                requests: 250,
                responses: 248,
                errors: 2,
                failed_by_status: 3,
            },
            load: crate::summary::LoadCounts {
                requests: 250,
                responses: 248,
                bytes_received: 0,
                sent_before_start: 0,
            },
            bytes_sent: 0,
            bytes_received: 0,
            connects: 0,
            mean_connect: None,
            retries: 0,
            tls_handshakes: 0,
            tls_resumed: 0,
            mean_tls_handshake: None,
            service: overall.clone(),
            latency: overall,
            requests,
            scenarios: vec![
                ScenarioSummary {
                    name: "browse".into(),
                    successes: 98,
                    failures: 2,
                    stopped: 0,
                },
                ScenarioSummary {
                    name: "buy".into(),
                    successes: 50,
                    failures: 0,
                    stopped: 0,
                },
            ],
            checks: vec![check(98, 2), check(40, 10)],
            status_codes: BTreeMap::new(),
            errors_by_kind: vec![],
            late_starts: 0,
            late_total: Duration::ZERO,
            late_max: Duration::ZERO,
            early_starts: 0,
            early_max: Duration::ZERO,
            dropped_starts: 0,
            missed_starts: 0,
            schedule_length: None,
            runs_started: 0,
            workers_started: 0,
            worker_setups_failed: 0,
            worker_teardowns_failed: 0,
            processes: vec![],
            requests_per_process: vec![],
            master_usage: Default::default(),
            rings_coop: (0, 0),
        }
    }

    fn one(threshold: &str, s: &Summary) -> ThresholdOutcome {
        let p = program(&format!("threshold {threshold}"));
        let mut out = evaluate(&p, s);
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn thresholds_pass_and_fail_as_written() {
        let s = summary();
        // (threshold, observed, passed)
        let cases: &[(&str, Option<f64>, bool)] = &[
            // Overall: 98 at 10 ms, 100 at 20 ms, 50 at 300 ms.
            ("p50 < 25ms", Some(20_000.0), true),
            ("p50 < 20ms", Some(20_000.0), false),
            // Percentiles are the top of the value's histogram bucket (3 significant
            // digits): 20 ms reads as 20.015 ms, as the report prints it.
            ("p50 <= 20ms", Some(20_015.0), false),
            ("p50 <= 20.1ms", Some(20_015.0), true),
            ("p99 < 250ms", Some(300_000.0), false),
            ("max <= 301ms", Some(300_000.0), true),
            ("errors < 1%", Some(2.0), false),
            ("errors < 3%", Some(2.0), true),
            ("checks > 99%", Some(92.0), false),
            ("checks >= 92%", Some(92.0), true),
            ("rps > 20", Some(25.0), true),
            ("rps > 30", Some(25.0), false),
            // Scenario browse: page + item merged, 198 latencies, 5 failed of 200, checks 98/100.
            ("browse p99 < 25ms", Some(20_000.0), true),
            ("browse errors < 2%", Some(2.5), false),
            ("browse checks >= 98%", Some(98.0), true),
            ("browse rps == 20", Some(20.0), true),
            // Scenario buy: only add.
            ("buy p50 < 250ms", Some(300_000.0), false),
            ("buy errors == 0%", Some(0.0), true),
            ("buy checks > 79%", Some(80.0), true),
            // Requests by name.
            ("page p50 < 15ms", Some(10_000.0), true),
            ("item errors < 5%", Some(3.0), true),
            ("add mean > 299ms", Some(300_000.0), true),
        ];
        for &(text, observed, passed) in cases {
            let o = one(text, &s);
            match (o.observed, observed) {
                (Some(got), Some(want)) => {
                    // Latencies come back at the histogram's precision (3 digits).
                    assert!(
                        (got - want).abs() <= want * 0.001 + 1e-9,
                        "{text}: observed {got}, want {want}"
                    );
                }
                (got, want) => assert_eq!(got, want, "{text}"),
            }
            assert_eq!(o.passed, passed, "{text}: {o:?}");
            assert_eq!(o.text, text);
        }
    }

    /// A latency at the histograms' top (24 h) was clamped to it: thresholds that would need
    /// its true value do not hold (`max < 25h`), those it passes anyway do (`max > 1h`).
    /// Latencies of 65 s are kept (the top was 60 s, and `max < 61s` passed on them).
    #[test]
    fn latencies_at_the_top_are_larger_than_it() {
        let mut s = summary();
        s.latency = histogram(&[65_000_000, 65_000_000, 90_000_000_000]);
        let cases: &[(&str, bool)] = &[
            ("p50 < 61s", false),
            ("p50 < 66s", true),
            ("max < 25h", false),
            ("max > 1h", true),
            ("max >= 24h", true),
            ("max != 24h", true),
        ];
        for &(text, passed) in cases {
            let o = one(text, &s);
            assert_eq!(o.passed, passed, "{text}: {o:?}");
        }
        // 23h59m40s is in the bucket of 24 h but below it: not clamped, not infinite.
        s.latency = histogram(&[86_380_000_000]);
        assert!(one("max < 25h", &s).passed);
    }

    /// `==` and `!=` compare the value as the report prints it: 2 checks passed of 3 print as
    /// 66.67%, and `checks == 66.67%` failed (66.666...% was compared exactly). The other
    /// comparisons stay exact.
    #[test]
    fn equality_compares_the_printed_value() {
        let mut s = summary();
        s.checks = vec![check(2, 1), check(0, 0)];
        s.elapsed = Duration::from_secs(3);
        // (threshold, passed); 250 requests in 3 s: 83.333.../s, printed 83.3/s.
        let cases: &[(&str, bool)] = &[
            ("checks == 66.67%", true),
            ("checks != 66.67%", false),
            ("checks == 66.66%", false),
            ("checks > 66.67%", false),
            ("checks < 66.67%", true),
            ("rps == 83.3", true),
            ("rps != 83.3", false),
            ("rps > 83.3", true),
        ];
        for &(text, passed) in cases {
            let o = one(text, &s);
            assert_eq!(o.passed, passed, "{text}: {o:?}");
        }
        assert_eq!(one("checks == 66.67%", &s).observed_text(), "66.67%");
    }

    /// `== 0%` and `== 100%` hold only when exactly true: 1 failed request of 20,001 is
    /// 0.005%, printed so (it printed `0.00%`, and `errors == 0%` passed).
    #[test]
    fn an_exact_percentage_holds_only_when_exact() {
        let mut s = summary();
        s.counts.requests = 20_001;
        s.counts.errors = 0;
        s.counts.failed_by_status = 1;
        s.checks = vec![check(20_000, 1), check(0, 0)];
        for (text, passed, shown) in [
            ("errors == 0%", false, "0.005%"),
            ("errors != 0%", true, "0.005%"),
            ("errors <= 0%", false, "0.005%"),
            ("errors < 0.01%", true, "0.005%"),
            ("checks == 100%", false, "99.995%"),
            ("checks >= 100%", false, "99.995%"),
            ("checks > 99.99%", true, "99.995%"),
        ] {
            let o = one(text, &s);
            assert_eq!(o.passed, passed, "{text}: {o:?}");
            assert_eq!(o.observed_text(), shown, "{text}");
        }
        s.counts.failed_by_status = 0;
        s.checks = vec![check(20_001, 0), check(0, 0)];
        assert!(one("errors == 0%", &s).passed);
        assert_eq!(one("errors == 0%", &s).observed_text(), "0.00%");
        assert!(one("checks == 100%", &s).passed);
    }

    /// The figure beside a verdict never reads the other way: 7,999 checks passed of 8,000
    /// are 99.9875%, which fails `>= 99.99%` and printed as `99.99%`; a p99 of 1,234 µs
    /// fails `<= 1.233ms` and printed as `1.23ms`; 99.955/s fails `> 99.96` and printed as
    /// `100/s`.
    #[test]
    fn the_figure_agrees_with_the_verdict() {
        let mut s = summary();
        s.checks = vec![check(7_999, 1), check(0, 0)];
        let o = one("checks >= 99.99%", &s);
        assert!(!o.passed);
        assert_eq!(o.observed_text(), "99.987%");
        let o = one("checks < 99.99%", &s);
        assert!(o.passed);
        assert_eq!(o.observed_text(), "99.987%");
        // No more digits than needed where the usual figure agrees.
        assert_eq!(one("checks >= 99%", &s).observed_text(), "99.99%");
        s.latency = histogram(&[1_234]);
        let o = one("p99 <= 1.233ms", &s);
        assert!(!o.passed);
        assert_eq!(o.observed_text(), "1.234ms");
        assert_eq!(one("p99 < 2ms", &s).observed_text(), "1.23ms");
        // 250 requests in 2.50113 s: 99.955/s.
        s.elapsed = Duration::from_micros(2_501_126);
        let o = one("rps > 99.96", &s);
        assert!(!o.passed);
        assert_eq!(o.observed_text(), "99.95/s");
        for o in [
            one("rps > 99.96", &s),
            one("checks >= 99.99%", &s),
            one("p99 <= 1.233ms", &s),
        ] {
            let shown = read_back(&o.observed_text(), o.unit).unwrap();
            assert_eq!(
                op_of(&o.op).unwrap().holds(shown, o.limit),
                o.passed,
                "{o:?}"
            );
        }
    }

    /// `==` compares the figure the report prints, ties included: 1 failed request of 32 is
    /// 3.125%, printed `3.12%` (the tie rounds to even), so `errors == 3.12%` holds and
    /// `errors == 3.13%` does not (it was the other way round).
    #[test]
    fn equality_on_a_tie_compares_the_printed_figure() {
        let mut s = summary();
        s.counts.requests = 32;
        s.counts.errors = 0;
        s.counts.failed_by_status = 1;
        let o = one("errors == 3.12%", &s);
        assert_eq!(o.observed_text(), "3.12%");
        assert!(o.passed, "{o:?}");
        assert!(!one("errors == 3.13%", &s).passed);
    }

    /// A latency limit is its exact µs: `max <= 1111.039ms` holds for a max of exactly
    /// 1,111,039 µs (a bucket top), and the limit reads 1167871, not 1167870.9999999998.
    #[test]
    fn a_latency_limit_is_compared_in_exact_microseconds() {
        let mut s = summary();
        s.latency = histogram(&[1_111_039]);
        assert_eq!(s.latency.max(), 1_111_039);
        for text in [
            "max <= 1111.039ms",
            "max == 1111.039ms",
            "max >= 1111.039ms",
        ] {
            let o = one(text, &s);
            assert_eq!(o.limit, 1_111_039.0);
            assert!(o.passed, "{text}: {o:?}");
        }
        assert!(!one("max != 1111.039ms", &s).passed);
        assert_eq!(one("max < 1167.871ms", &s).limit, 1_167_871.0);
        assert_eq!(one("max < 0.0001ms", &s).limit, 0.1);
    }

    /// The limit is shown as written, not in the observed value's style.
    #[test]
    fn the_limit_is_shown_as_written() {
        let s = summary();
        for (text, limit) in [
            ("errors < 0.004%", "0.004%"),
            ("p99 < 999.996ms", "999.996ms"),
            ("rps > 99.96", "99.96"),
            (
                "rps < 1000000000000000000000000",
                "1000000000000000000000000",
            ),
            ("buy p95 <= 800ms", "800ms"),
        ] {
            assert_eq!(one(text, &s).limit_text(), limit, "{text}");
        }
    }

    /// Rates print to 1/s from 100/s: 250 requests in 1.66 s are 150.60/s, printed `151/s`,
    /// so `rps == 151` holds and `rps == 150.6` does not (the limit is compared as written).
    #[test]
    fn equality_compares_a_rate_above_100_per_second_to_1_per_second() {
        let mut s = summary();
        s.elapsed = Duration::from_millis(1660);
        let cases: &[(&str, bool)] = &[
            ("rps == 151", true),
            ("rps != 151", false),
            ("rps == 150.6", false),
            ("rps > 150.6", true),
        ];
        for &(text, passed) in cases {
            let o = one(text, &s);
            assert_eq!(o.passed, passed, "{text}: {o:?}");
        }
        assert_eq!(one("rps == 151", &s).observed_text(), "151/s");
    }

    /// `p999` is the 99.9th percentile, not the 99th: with 995 latencies at 10 ms and 5 at
    /// 500 ms, p99 is 10 ms and p99.9 is 500 ms.
    #[test]
    fn p999_reads_the_99_9th_percentile() {
        let mut s = summary();
        let mut values = vec![10_000; 995];
        values.extend([500_000; 5]);
        s.latency = histogram(&values);
        let cases: &[(&str, f64, bool)] = &[
            ("p99 < 100ms", 10_000.0, true),
            ("p999 < 100ms", 500_000.0, false),
            ("p999 > 400ms", 500_000.0, true),
        ];
        for &(text, want, passed) in cases {
            let o = one(text, &s);
            let got = o.observed.expect(text);
            assert!(
                (got - want).abs() <= want * 0.001,
                "{text}: observed {got}, want {want}"
            );
            assert_eq!(o.passed, passed, "{text}: {o:?}");
        }
    }

    #[test]
    fn scopes_and_units_are_reported() {
        let s = summary();
        let o = one("buy p95 < 800ms", &s);
        assert_eq!(o.scope.as_deref(), Some("buy"));
        assert_eq!(o.scope_kind, Some(ScopeKind::Scenario));
        assert_eq!(o.metric, "p95");
        assert_eq!(o.op, "<");
        assert_eq!(o.limit, 800_000.0);
        assert_eq!(o.unit, Unit::Micros);
        assert_eq!(o.location, "t.mol:16");
        let o = one("page errors < 1%", &s);
        assert_eq!(o.scope_kind, Some(ScopeKind::Request));
        assert_eq!(o.unit, Unit::Percent);
        assert_eq!(o.observed_text(), "2.00%");
        assert_eq!(o.limit_text(), "1%");
        let o = one("rps > 1000", &s);
        assert_eq!((o.scope.as_deref(), o.unit), (None, Unit::PerSecond));
        assert_eq!(o.observed_text(), "25.0/s");
    }

    #[test]
    fn a_scope_that_measured_nothing_fails_with_no_data() {
        let mut s = summary();
        // Nothing at all for `add`.
        s.requests[2] = request("add", 0, 0, 0, &[]);
        s.checks[1] = check(0, 0);
        for text in [
            "add p99 < 1s",
            "add errors < 50%",
            "add checks > 1%",
            "add rps > 0",
        ] {
            let o = one(text, &s);
            assert_eq!(o.observed, None, "{text}");
            assert!(!o.passed, "{text}");
            assert_eq!(o.observed_text(), "no data");
        }
    }

    #[test]
    fn all_passed_needs_every_outcome() {
        let s = summary();
        let p = program("threshold p50 < 1s\nthreshold errors < 1%");
        let outcomes = evaluate(&p, &s);
        assert_eq!(
            outcomes.iter().map(|o| o.passed).collect::<Vec<_>>(),
            [true, false]
        );
        assert!(!all_passed(&outcomes));
        assert!(all_passed(&outcomes[..1]));
        assert!(all_passed(&[]));
    }
}
