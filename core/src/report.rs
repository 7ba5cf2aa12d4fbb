//! The final report as text: the summary laid out in aligned tables, with units chosen per
//! value (µs, ms, s; B, KiB, MiB; thousands separators for counts).

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use unicode_width::UnicodeWidthStr;

use crate::process::{ChildExit, StopCause};
use crate::summary::{ProcessInfo, Summary};
use crate::thresholds::ThresholdOutcome;

/// Formats a duration given in µs with a unit that suits its size. The unit is chosen after
/// rounding: 999,995 µs is `1.00s`, not `1000.00ms`.
pub fn fmt_micros(us: u64) -> String {
    if us < 1_000 {
        return format!("{us}µs");
    }
    let ms = format!("{:.2}", us as f64 / 1e3);
    if ms.parse::<f64>().is_ok_and(|v| v < 1000.0) {
        format!("{ms}ms")
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// Formats a duration given in (possibly fractional) µs like [`fmt_micros`], with at least
/// `decimals` decimals in its unit (µs, ms or s): what a threshold's figure needs to show
/// why it failed (`1.234ms` beside `p99 <= 1.233ms`, where `1.23ms` would read as passing).
pub fn fmt_micros_precise(us: f64, decimals: usize) -> String {
    let us = us.max(0.0);
    let (value, unit) = if format!("{us:.decimals$}")
        .parse::<f64>()
        .is_ok_and(|v| v < 1000.0)
    {
        (us, "µs")
    } else if format!("{:.decimals$}", us / 1e3)
        .parse::<f64>()
        .is_ok_and(|v| v < 1000.0)
    {
        (us / 1e3, "ms")
    } else {
        (us / 1e6, "s")
    };
    format!("{value:.decimals$}{unit}")
}

/// Formats a duration with a unit that suits its size.
pub fn fmt_duration(d: Duration) -> String {
    fmt_micros(d.as_micros().min(u128::from(u64::MAX)) as u64)
}

/// Formats a byte count with a binary unit, chosen after rounding: 1,048,575 B is
/// `1.00 MiB`, not `1024.00 KiB`.
pub fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    let rounds_to_next = |v: f64, unit: usize| {
        unit > 0 && format!("{v:.2}").parse::<f64>().is_ok_and(|r| r >= 1024.0)
    };
    while (value >= 1024.0 || rounds_to_next(value, unit)) && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// Formats a count with thousands separators.
/// Names and predicates longer than this are cut in the text report's tables (the JSON
/// report keeps them whole): a request named by a long templated target would otherwise
/// make every row of its table as wide.
const MAX_CELL_CHARS: usize = 80;

/// `text`, cut to [`MAX_CELL_CHARS`] characters with `…` at the cut.
fn cell(text: &str) -> String {
    if text.chars().count() <= MAX_CELL_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count and its noun, singular for one: `1 connection`, `20 connections`, `0 errors`.
pub fn fmt_counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", fmt_count(n), if n == 1 { one } else { many })
}

/// Formats a rate (per second): a whole number with thousands separators from 100/s (from
/// 99.95/s, which one decimal would round to `100.0/s`), one decimal below, and as many as it
/// takes for a rate under 0.05/s not to read as 0 (`0.04/s`).
pub fn fmt_rate(rate: f64) -> String {
    if !rate.is_finite() {
        return format!("{rate}/s");
    }
    if rate >= 99.95 {
        // Whole, while an f64 holds every digit (2^53); beyond, in scientific notation (a
        // limit of `rps < 1e24` once read 18,446,744,073,709,551,615/s, a u64 saturated).
        if rate < 9_007_199_254_740_992.0 {
            return format!("{}/s", fmt_count(rate.round() as u64));
        }
        return format!("{rate:e}/s");
    }
    format!("{}/s", fixed_not_zero(rate, 1))
}

/// `v` with `decimals` decimals, or more where those would show a value that is not 0 as 0
/// (`0.0001` with 1 decimal is `0.0001`, not `0.0`); up to 17 decimals, then in scientific
/// notation.
fn fixed_not_zero(v: f64, decimals: usize) -> String {
    if v == 0.0 {
        return format!("{v:.decimals$}");
    }
    for d in decimals..=17 {
        let text = format!("{v:.d$}");
        if text.parse::<f64>().is_ok_and(|r| r != 0.0) {
            return text;
        }
    }
    format!("{v:e}")
}

/// Formats a percentage (0 to 100) with two decimals, or as many more as it takes for a value
/// that is not exactly 0 or 100 not to read as `0.00%` or `100.00%` (one failed request of
/// 20,001 is `0.005%`; 2,499 of 2,500 is `99.96%`, and 99,999 of 100,000 `99.999%`).
pub fn fmt_percent(v: f64) -> String {
    format!("{}%", fmt_percent_digits(v, 2))
}

/// [`fmt_percent`]'s number, without the `%`, with at least `decimals` decimals.
pub fn fmt_percent_digits(v: f64, decimals: usize) -> String {
    if !v.is_finite() || v == 0.0 || v == 100.0 {
        return format!("{v:.decimals$}");
    }
    for d in decimals..=17 {
        let text = format!("{v:.d$}");
        if text.parse::<f64>().is_ok_and(|r| r != 0.0 && r != 100.0) {
            return text;
        }
    }
    format!("{v:e}")
}

/// The latency columns every table shows.
pub const LATENCY_COLUMNS: [&str; 7] = ["min", "mean", "p50", "p90", "p99", "p99.9", "max"];

/// The latency columns for one histogram (dashes when empty).
pub fn latency_cells(h: &Histogram<u64>) -> Vec<String> {
    if h.is_empty() {
        return vec!["-".into(); LATENCY_COLUMNS.len()];
    }
    vec![
        fmt_micros(crate::latency::min(h)),
        fmt_micros(crate::latency::mean(h).round() as u64),
        fmt_micros(h.value_at_quantile(0.5)),
        fmt_micros(h.value_at_quantile(0.9)),
        fmt_micros(h.value_at_quantile(0.99)),
        fmt_micros(h.value_at_quantile(0.999)),
        fmt_micros(h.max()),
    ]
}

/// A table of left-aligned first column and right-aligned others.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with a header row.
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }

    /// Adds a row. A tab (a plan string can hold one) is shown as `\t`: the terminal would
    /// move it to the next tab stop, and no padding could line the row up.
    pub fn row(&mut self, mut cells: Vec<String>) {
        for cell in &mut cells {
            if cell.contains('\t') {
                *cell = cell.replace('\t', "\\t");
            }
        }
        self.rows.push(cells);
    }

    /// Renders with two-space gutters and `indent` spaces in front. Cells are padded by
    /// the terminal columns they take (`商品` takes 4), so that wide characters line up.
    pub fn render(&self, indent: usize) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            out.push_str(&" ".repeat(indent));
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let pad = widths[c] - cell.width();
                if c == 0 {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str("  ");
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The final report.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let s = summary;
    // In the unit that suits it: a run of a few ms read `Duration: 0.00s` above its requests.
    let _ = writeln!(out, "Duration: {}", fmt_duration(s.elapsed));
    let _ = writeln!(
        out,
        "Requests: {} ({}), {}, {}, {} failed by status",
        fmt_count(s.counts.requests),
        fmt_rate(s.rps()),
        fmt_counted(s.counts.responses, "response", "responses"),
        fmt_counted(s.counts.errors, "error", "errors"),
        fmt_count(s.counts.failed_by_status),
    );
    let outside = s.counts.requests.saturating_sub(s.load.requests);
    if outside > 0 {
        let by = match (
            outside > s.load.sent_before_start,
            s.load.sent_before_start > 0,
        ) {
            (true, false) => "by setup/teardown",
            (false, _) => "by setup worker before the start",
            (true, true) => "by setup/teardown and by setup worker before the start",
        };
        let _ = writeln!(
            out,
            "  {} of them sent {by}, outside the duration: not in the rates",
            fmt_count(outside)
        );
    }
    let _ = writeln!(
        out,
        "Data: {} sent, {} received; {}{}{}",
        fmt_bytes(s.bytes_sent),
        fmt_bytes(s.bytes_received),
        fmt_counted(s.connects, "connection", "connections"),
        s.mean_connect
            .map(|d| format!(" (mean connect {})", fmt_duration(d)))
            .unwrap_or_default(),
        if s.retries > 0 {
            format!(", {} retried", fmt_count(s.retries))
        } else {
            String::new()
        },
    );
    if s.tls_handshakes > 0 {
        let _ = writeln!(
            out,
            // One decimal, or more where it would read 100.0% (2,499 of 2,500 resumed).
            "TLS: {} ({}% resumed){}",
            fmt_counted(s.tls_handshakes, "handshake", "handshakes"),
            fmt_percent_digits(100.0 * s.tls_resumed as f64 / s.tls_handshakes as f64, 1),
            s.mean_tls_handshake
                .map(|d| format!(", mean handshake {}", fmt_duration(d)))
                .unwrap_or_default(),
        );
    }
    let unfinished = s
        .counts
        .requests
        .saturating_sub(s.counts.responses + s.counts.errors);
    if unfinished > 0 {
        let _ = writeln!(
            out,
            "Unfinished: {} in flight when their process was stopped or died (sent, no outcome)",
            if unfinished == 1 {
                "1 request was".to_string()
            } else {
                format!("{} requests were", fmt_count(unfinished))
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "SUCCESSES: {} | FAILURES: {}",
        fmt_count(s.successes()),
        fmt_count(s.failures())
    );
    for (block, failed, consequence) in [
        ("setup", s.worker_setups_failed, ": they ran no scenario"),
        ("teardown", s.worker_teardowns_failed, ""),
    ] {
        if failed > 0 {
            let _ = writeln!(
                out,
                "{block} worker FAILED in {} of {} workers{consequence}",
                fmt_count(failed),
                fmt_count(s.workers_started)
            );
        }
    }
    if !s.scenarios.is_empty() {
        let mut t = Table::new(&["scenario", "successes", "failures", "stopped"]);
        for sc in &s.scenarios {
            t.row(vec![
                cell(&sc.name),
                fmt_count(sc.successes),
                fmt_count(sc.failures),
                fmt_count(sc.stopped),
            ]);
        }
        out.push_str(&t.render(2));
    }

    let _ = writeln!(out);
    let _ = writeln!(out, "Latency");
    // `failed`: transport errors plus failed statuses, what the `errors` threshold counts (the
    // column was `errors`, transport errors only: a request all 503s read 0 in its row and
    // 100% in the threshold below it). "errors" alone means transport errors.
    let mut header = vec!["request", "count", "failed"];
    header.extend(LATENCY_COLUMNS);
    let mut t = Table::new(&header);
    let mut all = vec![
        "all requests".to_string(),
        fmt_count(s.counts.requests),
        fmt_count(s.counts.errors + s.counts.failed_by_status),
    ];
    all.extend(latency_cells(&s.latency));
    t.row(all);
    if s.late_starts > 0 || s.dropped_starts > 0 || s.missed_starts > 0 || s.service != s.latency {
        let mut row = vec!["  service time".to_string(), String::new(), String::new()];
        row.extend(latency_cells(&s.service));
        t.row(row);
    }
    for r in &s.requests {
        let mut row = vec![
            cell(&r.name),
            fmt_count(r.counts.requests),
            fmt_count(r.counts.errors + r.counts.failed_by_status),
        ];
        row.extend(latency_cells(&r.latency));
        t.row(row);
    }
    out.push_str(&t.render(2));
    let at_top = crate::latency::at_top(&s.latency);
    if at_top > 0 {
        let _ = writeln!(
            out,
            "  note: {} 24 h, the top of the histograms: {} as 24 h, {} larger",
            fmt_counted(at_top, "latency reached", "latencies reached"),
            if at_top == 1 {
                "it counts"
            } else {
                "they count"
            },
            if at_top == 1 {
                "its true value is"
            } else {
                "their true values are"
            }
        );
    }

    if s.late_starts > 0 || s.dropped_starts > 0 || s.missed_starts > 0 {
        let mean = s.late_mean().unwrap_or_default();
        let _ = writeln!(
            out,
            "  late starts: {} (mean {} late, max {}), dropped: {}, missed: {}",
            fmt_count(s.late_starts),
            fmt_duration(mean),
            fmt_duration(s.late_max),
            fmt_count(s.dropped_starts),
            fmt_count(s.missed_starts)
        );
    }

    if !s.status_codes.is_empty() {
        let _ = writeln!(out);
        let codes: Vec<String> = s
            .status_codes
            .iter()
            .map(|(code, n)| format!("{code}: {}", fmt_count(*n)))
            .collect();
        let _ = writeln!(out, "Status codes: {}", codes.join(", "));
    }
    if !s.errors_by_kind.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Errors");
        let mut t = Table::new(&["kind", "count"]);
        for (kind, n) in &s.errors_by_kind {
            t.row(vec![kind.to_string(), fmt_count(*n)]);
        }
        out.push_str(&t.render(2));
    }
    if !s.checks.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Checks");
        let mut t = Table::new(&["check", "where", "passed", "failed"]);
        for c in &s.checks {
            let kind = if c.name.is_assert { "assert" } else { "check" };
            t.row(vec![
                cell(&format!("{kind} {}", c.name.text)),
                c.name.location.clone(),
                fmt_count(c.passed),
                fmt_count(c.failed),
            ]);
        }
        out.push_str(&t.render(2));
    }
    if !s.processes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Processes");
        let mut t = Table::new(&[
            "process", "pid", "cpu", "requests", "cpu time", "peak rss", "exit",
        ]);
        for (p, requests) in s.processes.iter().zip(&s.requests_per_process) {
            let (cpu_time, rss) = match p.usage {
                Some(u) => (
                    format!("{:.2}s", u.cpu().as_secs_f64()),
                    fmt_bytes(u.max_rss),
                ),
                None => ("-".into(), "-".into()),
            };
            t.row(vec![
                p.role.clone(),
                p.pid.to_string(),
                p.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                fmt_count(*requests),
                cpu_time,
                rss,
                p.exit
                    .map(|e| {
                        if e.is_success() {
                            "ok".to_string()
                        } else {
                            e.to_string()
                        }
                    })
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        let m = s.master_usage;
        t.row(vec![
            "master".into(),
            std::process::id().to_string(),
            "-".into(),
            "-".into(),
            format!("{:.2}s", m.cpu().as_secs_f64()),
            fmt_bytes(m.max_rss),
            "-".into(),
        ]);
        out.push_str(&t.render(2));
    }
    let troubled: Vec<_> = s
        .processes
        .iter()
        .filter(|p| p.exit.is_some_and(|e| !e.is_success()))
        .collect();
    if !troubled.is_empty() {
        let _ = writeln!(out);
        for p in troubled {
            if plan_block_failed(p) {
                let _ = writeln!(
                    out,
                    "The plan's {} failed (pid {}); see the checks and requests above",
                    p.role, p.pid
                );
            } else if let Some(ChildExit::Stopped(cause)) = p.exit {
                let how = match cause {
                    StopCause::GraceEnded => "when the grace period (--grace) ended".into(),
                    StopCause::Immediate => "at once (a second interrupt)".into(),
                    StopCause::Overran(limit) => format!(
                        "when it ran past its limit of {}s (twice --grace, at least 10s), \
                         so the plan's teardown failed",
                        limit.as_secs_f64()
                    ),
                };
                let _ = writeln!(
                    out,
                    "Process {} (pid {}) was stopped {how}: its requests still in flight are \
                     counted as unfinished",
                    p.role, p.pid
                );
            } else {
                let _ = writeln!(
                    out,
                    "Process {} (pid {}) {}; what it recorded is included above",
                    p.role,
                    p.pid,
                    p.exit.map(|e| e.to_string()).unwrap_or_default()
                );
            }
        }
    }
    out
}

/// Whether `p` is the `setup` or `teardown` process and it ended because that block of the
/// plan failed (an assert, a capture, a transport error), not because the process broke.
pub fn plan_block_failed(p: &ProcessInfo) -> bool {
    matches!(p.role.as_str(), "setup" | "teardown")
        && p.exit == Some(ChildExit::Exited(crate::engine::SETUP_FAILED_EXIT))
}

/// The thresholds section of the report: a headline, then one line per threshold with
/// PASS or FAIL, the threshold as written, the observed value and where it is written. Empty
/// when the plan has no thresholds.
pub fn render_thresholds(outcomes: &[ThresholdOutcome]) -> String {
    if outcomes.is_empty() {
        return String::new();
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Thresholds: {} passed, {} failed",
        outcomes.len() - failed,
        failed
    );
    // PASS/FAIL, the threshold as written (left), the observed value (right), where.
    let text_width = outcomes
        .iter()
        .map(|o| o.text.chars().count())
        .max()
        .unwrap_or(0);
    let observed: Vec<String> = outcomes.iter().map(|o| o.observed_text()).collect();
    let observed_width = observed
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0);
    for (o, value) in outcomes.iter().zip(&observed) {
        let _ = writeln!(
            out,
            "  {}  {:<text_width$}  {:>observed_width$}  {}",
            if o.passed { "PASS" } else { "FAIL" },
            o.text,
            value,
            o.location
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_line_up_with_wide_characters() {
        let mut t = Table::new(&["request", "count"]);
        t.row(vec!["GET /商品/一覧".into(), "1".into()]);
        t.row(vec!["GET /a".into(), "10".into()]);
        let out = t.render(2);
        let widths: Vec<usize> = out.lines().map(|l| l.width()).collect();
        // Every row ends at the same terminal column: `商品` takes four.
        assert_eq!(widths, vec![widths[0]; 3], "{out}");
    }

    #[test]
    fn a_tab_in_a_cell_is_shown_escaped_and_rows_line_up() {
        let mut t = Table::new(&["check", "where"]);
        t.row(vec![
            "check body contains \"a\tb\"".into(),
            "p.mol:3".into(),
        ]);
        t.row(vec!["check body contains \"ok\"".into(), "p.mol:4".into()]);
        let out = t.render(2);
        assert!(!out.contains('\t'), "{out}");
        assert!(out.contains(r#""a\tb""#), "{out}");
        let ends: Vec<usize> = out.lines().map(|l| l.width()).collect();
        assert_eq!(ends, vec![ends[0]; 3], "{out}");
    }

    #[test]
    fn long_names_are_cut_in_table_cells_on_a_character_boundary() {
        assert_eq!(cell("GET /json"), "GET /json");
        let exact = "x".repeat(MAX_CELL_CHARS);
        assert_eq!(cell(&exact), exact);
        // Multi-byte characters are counted as one and never split.
        let long = format!("GET /{}", "é".repeat(6_000));
        let cut = cell(&long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.starts_with("GET /éé") && cut.ends_with("é…"), "{cut}");
    }

    #[test]
    fn units_are_chosen_per_value() {
        let cases: &[(u64, &str)] = &[
            (0, "0µs"),
            (999, "999µs"),
            (1_000, "1.00ms"),
            (50_420, "50.42ms"),
            (2_500_000, "2.50s"),
        ];
        for &(us, want) in cases {
            assert_eq!(fmt_micros(us), want);
        }
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1536), "1.50 KiB");
        assert_eq!(fmt_bytes(3 << 20), "3.00 MiB");
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_000), "1,000");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(fmt_rate(12.34), "12.3/s");
        assert_eq!(fmt_rate(12_345.6), "12,346/s");
    }

    /// A figure is rounded in its unit before the unit is chosen, and a value that is not 0
    /// (or not 100%) never reads as 0 (or 100%).
    #[test]
    fn rounding_never_crosses_a_unit_or_reaches_a_round_figure() {
        assert_eq!(fmt_micros(999_994), "999.99ms");
        assert_eq!(fmt_micros(999_995), "1.00s");
        assert_eq!(fmt_micros(999_999), "1.00s");
        assert_eq!(fmt_bytes(1_048_575), "1.00 MiB");
        assert_eq!(fmt_bytes(1_048_570), "1023.99 KiB");
        assert_eq!(fmt_bytes(1023), "1023 B");
        assert_eq!(fmt_rate(99.96), "100/s");
        assert_eq!(fmt_rate(99.94), "99.9/s");
        assert_eq!(fmt_rate(0.04), "0.04/s");
        assert_eq!(fmt_rate(0.0001), "0.0001/s");
        assert_eq!(fmt_rate(0.0), "0.0/s");
        assert_eq!(fmt_rate(1e24), "1e24/s");
        assert_eq!(fmt_rate(2e19), "2e19/s");
        assert_eq!(fmt_percent(0.0), "0.00%");
        assert_eq!(fmt_percent(100.0), "100.00%");
        assert_eq!(fmt_percent(100.0 / 20_001.0), "0.005%");
        assert_eq!(fmt_percent(100.0 * 20_000.0 / 20_001.0), "99.995%");
        assert_eq!(fmt_percent(100.0 * 2_499.0 / 2_500.0), "99.96%");
        assert_eq!(fmt_percent(100.0 * 99_999.0 / 100_000.0), "99.999%");
        assert_eq!(fmt_percent(200.0 / 3.0), "66.67%");
        // The TLS line's one decimal: 2,499 of 2,500 resumed is not 100.0%.
        assert_eq!(fmt_percent_digits(100.0 * 2_499.0 / 2_500.0, 1), "99.96");
        assert_eq!(fmt_percent_digits(90.0, 1), "90.0");
        assert_eq!(fmt_percent_digits(100.0, 1), "100.0");
        assert_eq!(fmt_micros_precise(1_234.0, 3), "1.234ms");
        assert_eq!(fmt_micros_precise(999.6, 1), "999.6µs");
        assert_eq!(fmt_micros_precise(999.96, 1), "1.0ms");
        assert_eq!(fmt_micros_precise(1_111_039.0, 6), "1.111039s");
    }

    /// The duration is in the unit that suits it: a run of 3.21 ms read `Duration: 0.00s`
    /// above `Requests: 1 (312/s)`.
    #[test]
    fn a_short_run_says_its_duration() {
        let region = crate::shm::Region::new(crate::shm::Layout::new(crate::shm::Shape {
            requests: 0,
            scenarios: 0,
            checks: 0,
            slots: 1,
        }))
        .unwrap();
        let names = crate::summary::Names::default();
        let s = Summary::merge(&region, &names, vec![], Duration::from_micros(3_210));
        assert!(
            render(&s).starts_with("Duration: 3.21ms\n"),
            "{}",
            render(&s)
        );
        let s = Summary::merge(&region, &names, vec![], Duration::from_secs(10));
        assert!(
            render(&s).starts_with("Duration: 10.00s\n"),
            "{}",
            render(&s)
        );
    }

    #[test]
    fn thresholds_section_aligns_pass_and_fail_lines() {
        use crate::thresholds::Unit;
        let outcome = |text: &str, observed: Option<f64>, passed: bool| ThresholdOutcome {
            text: text.into(),
            location: "p.mol:9".into(),
            scope: None,
            scope_kind: None,
            metric: "p99".into(),
            op: "<".into(),
            limit: 250_000.0,
            unit: Unit::Micros,
            observed,
            passed,
        };
        assert_eq!(render_thresholds(&[]), "");
        let text = render_thresholds(&[
            outcome("p99 < 250ms", Some(3_210.0), true),
            outcome("buy p95 < 800ms", None, false),
        ]);
        assert_eq!(
            text,
            "\nThresholds: 1 passed, 1 failed\n  \
             PASS  p99 < 250ms       3.21ms  p.mol:9\n  \
             FAIL  buy p95 < 800ms  no data  p.mol:9\n"
        );
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["name", "n"]);
        t.row(vec!["a".into(), "1".into()]);
        t.row(vec!["longer".into(), "1,000".into()]);
        assert_eq!(t.render(0), "name        n\na           1\nlonger  1,000\n");
    }
}
