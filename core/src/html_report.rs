//! The HTML report (`--html FILE`): one self-contained page rendered from the JSON
//! [`Report`], readable offline. Charts are inline SVG drawn here (requests per second,
//! latency percentiles, workers and in-flight requests over time, with a tooltip per point),
//! tables are plain HTML, styles are inline CSS, and the JSON report itself is embedded in a
//! `<script type="application/json" id="molotov-report">` element for tools. No script runs and
//! nothing is fetched from the network.

use std::fmt::Write as _;

use crate::json_report::{Latency, Report};
use crate::report::{fmt_bytes, fmt_count, fmt_micros, fmt_rate};
use crate::thresholds::ThresholdOutcome;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --fg:#1d2330; --muted:#5d6678; --bg:#f6f7f9; --card:#fff; --line:#dde1e8;
  --ok:#1a7f37; --bad:#c62828; --warn:#b26a00; --accent:#2f6fde; }
@media (prefers-color-scheme: dark) {
  :root { --fg:#e6e9ef; --muted:#9aa3b5; --bg:#14171c; --card:#1d2128; --line:#333a45;
    --ok:#4cc36b; --bad:#ff6b6b; --warn:#f0a43a; --accent:#6ea1ff; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto,
  sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.sub { color: var(--muted); margin: 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
  font-size: 12px; color: #fff; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
.badge.warn { background: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr));
  gap: 10px; margin-top: 18px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; margin-top: 2px; }
.card .n { color: var(--muted); font-size: 12px; }
.bad { color: var(--bad); } .ok { color: var(--ok); }
.badge.ok, .badge.bad, .badge.warn { color: #fff; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 10px; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 8px; }
figcaption { font-weight: 600; padding: 2px 6px 0; }
svg { width: 100%; height: auto; display: block; }
svg text { fill: var(--muted); font: 14px system-ui, sans-serif; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
table { border-collapse: collapse; width: 100%; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; }
th { background: var(--bg); font-weight: 600; color: var(--muted); font-size: 12px; }
th:first-child, td:first-child, td.l, th.l { text-align: left; }
td.wrap { white-space: normal; text-align: left; }
tr:last-child td { border-bottom: none; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.twocol { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 10px; }
footer { color: var(--muted); margin-top: 28px; font-size: 12px; }
"#;

/// Renders the whole page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let r = report;
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>molotov report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>",
        escape(&r.plan)
    );
    header(&mut out, r);
    cards(&mut out, r);
    thresholds(&mut out, &r.thresholds);
    sizing(&mut out, r);
    charts(&mut out, r);
    requests_table(&mut out, r);
    scenarios_and_checks(&mut out, r);
    codes_and_errors(&mut out, r);
    processes(&mut out, r);
    config(&mut out, r);
    // The JSON report, for tools. `<` never appears structurally in JSON, so escaping it
    // inside strings keeps `</script>` from closing the element.
    let json = r.to_json().replace('<', "\\u003c");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"molotov-report\">\n{json}</script>\n\
         <footer>Generated by molotov {} (report format {} v{}). This page is self-contained: \
         it loads nothing and runs no script.</footer>\n</main>\n</body>\n</html>",
        escape(&r.molotov_version),
        escape(&r.format),
        r.version
    );
    out
}

fn header(out: &mut String, r: &Report) {
    let ending = match r.ending.as_str() {
        "completed" => "<span class=\"badge ok\">completed</span>".to_string(),
        "interrupted" => "<span class=\"badge warn\">interrupted</span>".to_string(),
        other => format!("<span class=\"badge bad\">{}</span>", escape(other)),
    };
    let exit = if r.exit_code == 0 {
        "<span class=\"badge ok\">exit 0</span>".to_string()
    } else {
        format!("<span class=\"badge bad\">exit {}</span>", r.exit_code)
    };
    let _ = writeln!(
        out,
        "<header>\n<h1>molotov report: <code>{}</code></h1>\n\
         <p class=\"sub\">{} processes &times; {} workers &middot; started {} &middot; \
         {} &middot; {ending} {exit}</p>\n</header>",
        escape(&r.plan),
        r.config.processes,
        r.config.workers,
        escape(&r.started_at),
        // In the unit that suits it: a run of 3 ms is `3.21ms`, not `0.00s`.
        crate::report::fmt_micros((r.duration_s * 1e6).round() as u64),
    );
}

fn card(out: &mut String, key: &str, value: &str, note: &str, class: &str) {
    let _ = writeln!(
        out,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v {class}\">{}</div>\
         <div class=\"n\">{}</div></div>",
        escape(key),
        escape(value),
        escape(note)
    );
}

fn cards(out: &mut String, r: &Report) {
    let t = &r.totals;
    out.push_str("<section class=\"cards\">\n");
    card(
        out,
        "Requests",
        &fmt_count(t.requests),
        &format!("{} responses", fmt_count(t.responses)),
        "",
    );
    card(
        out,
        "Throughput",
        &fmt_rate(r.rates.requests_per_s),
        &format!("{} received", fmt_bytes(t.bytes_received)),
        "",
    );
    let failed = t.errors + t.failed_by_status;
    let pct = if t.requests > 0 {
        failed as f64 * 100.0 / t.requests as f64
    } else {
        0.0
    };
    card(
        out,
        "Failed requests",
        &fmt_count(failed),
        &format!(
            "{} ({} errors, {} by status)",
            crate::report::fmt_percent(pct),
            fmt_count(t.errors),
            fmt_count(t.failed_by_status)
        ),
        if failed > 0 { "bad" } else { "ok" },
    );
    let (p50, p99) = match &r.latency_us {
        Some(l) => (fmt_micros(l.p50), fmt_micros(l.p99)),
        None => ("-".into(), "-".into()),
    };
    card(
        out,
        "Latency p50",
        &p50,
        &r.latency_us
            .as_ref()
            .map(|l| format!("mean {}", fmt_micros(l.mean)))
            .unwrap_or_default(),
        "",
    );
    card(
        out,
        "Latency p99",
        &p99,
        &r.latency_us
            .as_ref()
            .map(|l| format!("max {}", fmt_micros(l.max)))
            .unwrap_or_default(),
        "",
    );
    card(
        out,
        "Scenario runs",
        &format!("{} ok", fmt_count(t.successes)),
        &format!("{} failed", fmt_count(t.failures)),
        if t.failures > 0 { "bad" } else { "ok" },
    );
    if r.config.load.model == "open" {
        let s = &r.schedule;
        let started = s.started_runs;
        let due = started + s.dropped_starts + s.missed_starts;
        card(
            out,
            "Scheduled starts",
            &format!("{} of {}", fmt_count(started), fmt_count(due)),
            &format!(
                "{} late, {}{} dropped, {} missed",
                fmt_count(s.late_starts),
                if s.early_starts > 0 {
                    format!("{} early (--max-early), ", fmt_count(s.early_starts))
                } else {
                    String::new()
                },
                fmt_count(s.dropped_starts),
                fmt_count(s.missed_starts)
            ),
            if started < due { "bad" } else { "ok" },
        );
    }
    if !r.thresholds.is_empty() {
        let failed = r.thresholds.iter().filter(|o| !o.passed).count();
        card(
            out,
            "Thresholds",
            &if failed == 0 {
                "all passed".to_string()
            } else {
                format!("{failed} failed")
            },
            &format!("of {}", r.thresholds.len()),
            if failed == 0 { "ok" } else { "bad" },
        );
    }
    out.push_str("</section>\n");
}

fn thresholds(out: &mut String, outcomes: &[ThresholdOutcome]) {
    if outcomes.is_empty() {
        return;
    }
    out.push_str(
        "<h2>Thresholds</h2>\n<table>\n<tr><th class=\"l\">result</th><th class=\"l\">threshold</th>\
         <th>observed</th><th>limit</th><th class=\"l\">where</th></tr>\n",
    );
    for o in outcomes {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"l\"><code>{}</code></td><td>{}</td><td>{} {}</td>\
             <td class=\"l\">{}</td></tr>",
            if o.passed {
                "<span class=\"badge ok\">PASS</span>"
            } else {
                "<span class=\"badge bad\">FAIL</span>"
            },
            escape(&o.text),
            escape(&o.observed_text()),
            escape(&o.op),
            escape(&o.limit_text()),
            escape(&o.location)
        );
    }
    out.push_str("</table>\n");
}

fn sizing(out: &mut String, r: &Report) {
    let Some(s) = &r.sizing else {
        return;
    };
    let _ = writeln!(
        out,
        "<h2>Sizing</h2>\n<table>\n<tr><th class=\"l\">point</th><th>at</th><th>workers</th>\
         <th>target rate</th><th>rps</th><th>failures</th><th>p50</th><th>p99</th></tr>"
    );
    for (label, point) in [
        ("last load within the tolerance", &s.last_good),
        ("first load above it", &s.exceeded),
    ] {
        match point {
            None => {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td colspan=\"7\" class=\"l\">none</td></tr>",
                    escape(label)
                );
            }
            Some(p) => {
                let (p50, p99) = p.latency_us.as_ref().map_or(("-".into(), "-".into()), |l| {
                    (fmt_micros(l.p50), fmt_micros(l.p99))
                });
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{:.1}s</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td>{}</td><td>{p50}</td><td>{p99}</td></tr>",
                    escape(label),
                    p.t_s,
                    p.workers,
                    p.target_rate.map_or("-".into(), fmt_rate),
                    fmt_rate(p.rps),
                    crate::report::fmt_percent(p.failure_pct),
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "</table>\n<p class=\"sub\">tolerance {}% over {}s windows; highest failure ratio \
         {} in {} windows judged</p>",
        s.tolerance_pct,
        s.window_s,
        crate::report::fmt_percent(s.max_failure_pct),
        s.judged
    );
}

/// One line of a chart: a name, a colour and points (a None value breaks the line).
struct Line {
    name: &'static str,
    color: &'static str,
    points: Vec<(f64, Option<f64>)>,
}

/// A number in few characters: 950, 12.5k, 3.2M.
fn compact(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if v >= 1e6 {
        format!("{}M", trim(format!("{:.1}", v / 1e6)))
    } else if v >= 1e3 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.2}"))
    }
}

/// A "nice" step (1, 2 or 5 times a power of ten) that splits `max` into about `parts`.
fn nice_step(max: f64, parts: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / parts;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

fn seconds_label(s: f64) -> String {
    if s >= 120.0 && (s % 60.0).abs() < 1e-9 {
        format!("{}m", (s / 60.0).round())
    } else {
        format!("{}s", compact(s))
    }
}

/// An SVG line chart of `lines` over `[0, x_max]` seconds; `fmt` labels the y values.
fn line_chart(title: &str, lines: &[Line], x_max: f64, fmt: &dyn Fn(f64) -> String) -> String {
    const W: f64 = 900.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 30.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y_data_max = lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .fold(0.0f64, f64::max);
    let y_step = nice_step(y_data_max, 4.0);
    let y_max = if y_data_max > 0.0 {
        (y_data_max / y_step).ceil() * y_step
    } else {
        1.0
    };
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let x_step = nice_step(x_max, 8.0).max(1.0);
    let sx = |x: f64| LEFT + x / x_max * plot_w;
    let sy = |y: f64| TOP + plot_h - y / y_max * plot_h;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{}\">",
        escape(title),
        escape(title)
    );
    // Grid and y labels.
    let mut y = 0.0;
    while y <= y_max + y_step * 1e-6 {
        let py = sy(y);
        let _ = writeln!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            py + 4.0,
            escape(&fmt(y))
        );
        y += y_step;
    }
    // X axis and labels.
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    let mut x = 0.0;
    while x <= x_max + 1e-9 {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            sx(x),
            H - 10.0,
            seconds_label(x)
        );
        x += x_step;
    }
    // Legend.
    let mut lx = LEFT;
    for l in lines {
        let _ = writeln!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"8\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"18\">{}</text>",
            l.color,
            lx + 14.0,
            escape(l.name)
        );
        lx += 30.0 + 8.5 * l.name.len() as f64;
    }
    if y_data_max <= 0.0 && lines.iter().all(|l| l.points.iter().all(|p| p.1.is_none())) {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no data</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    // The lines, broken where a value is missing, with a dot and a tooltip per point when
    // there are few enough.
    for l in lines {
        let mut d = String::new();
        let mut pen_down = false;
        for &(x, v) in &l.points {
            match v {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1} ",
                        if pen_down { "L" } else { "M" },
                        sx(x),
                        sy(v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            let _ = writeln!(
                svg,
                "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" \
                 stroke-linejoin=\"round\"/>",
                d.trim_end(),
                l.color
            );
        }
        if l.points.len() <= 600 {
            for &(x, v) in &l.points {
                if let Some(v) = v {
                    let _ = writeln!(
                        svg,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"><title>{} at {}: {}\
                         </title></circle>",
                        sx(x),
                        sy(v),
                        l.color,
                        escape(l.name),
                        seconds_label((x * 10.0).round() / 10.0),
                        escape(&fmt(v))
                    );
                }
            }
        }
    }
    svg.push_str("</svg></figure>\n");
    svg
}

fn charts(out: &mut String, r: &Report) {
    if r.series.is_empty() {
        return;
    }
    let x_max = r
        .series
        .iter()
        .map(|p| p.t_s)
        .fold(r.config.duration_s.unwrap_or(0.0), f64::max);
    let per_second = |count: u64, i: usize| {
        let start = if i == 0 { 0.0 } else { r.series[i - 1].t_s };
        let secs = r.series[i].t_s - start;
        if secs > 0.0 { count as f64 / secs } else { 0.0 }
    };
    let mut throughput = vec![
        Line {
            name: "requests/s",
            color: "#2f6fde",
            points: r.series.iter().map(|p| (p.t_s, Some(p.rps))).collect(),
        },
        Line {
            name: "failed requests/s",
            color: "#d93b3b",
            points: r
                .series
                .iter()
                .enumerate()
                .map(|(i, p)| (p.t_s, Some(per_second(p.errors + p.failed_by_status, i))))
                .collect(),
        },
    ];
    if r.series.iter().any(|p| p.target_rate.is_some()) {
        throughput.push(Line {
            name: "target starts/s",
            color: "#8a8f99",
            points: r.series.iter().map(|p| (p.t_s, p.target_rate)).collect(),
        });
    }
    let ms = |us: Option<u64>| us.map(|v| v as f64 / 1000.0);
    let latency = [
        Line {
            name: "p50",
            color: "#1a9e5c",
            points: r.series.iter().map(|p| (p.t_s, ms(p.p50_us))).collect(),
        },
        Line {
            name: "p99",
            color: "#e08a00",
            points: r.series.iter().map(|p| (p.t_s, ms(p.p99_us))).collect(),
        },
    ];
    let concurrency = [
        Line {
            name: "workers",
            color: "#7b52c7",
            points: r
                .series
                .iter()
                .map(|p| (p.t_s, Some(p.workers as f64)))
                .collect(),
        },
        Line {
            name: "in flight",
            color: "#2aa1b3",
            points: r
                .series
                .iter()
                .map(|p| (p.t_s, Some(p.in_flight as f64)))
                .collect(),
        },
    ];
    out.push_str("<h2>Over time</h2>\n<div class=\"charts\">\n");
    out.push_str(&line_chart(
        "Requests per second",
        &throughput,
        x_max,
        &compact,
    ));
    out.push_str(&line_chart(
        "Latency per second (ms)",
        &latency,
        x_max,
        &|v| format!("{} ms", compact(v)),
    ));
    out.push_str(&line_chart(
        "Workers and requests in flight",
        &concurrency,
        x_max,
        &compact,
    ));
    out.push_str("</div>\n");
}

fn latency_cells(l: &Option<Latency>) -> String {
    match l {
        None => "<td>-</td>".repeat(7),
        Some(l) => [l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.max]
            .iter()
            .map(|&v| format!("<td>{}</td>", fmt_micros(v)))
            .collect(),
    }
}

const LATENCY_HEADER: &str =
    "<th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th>";

fn requests_table(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "<h2>Latency by request</h2>\n<table>\n<tr><th class=\"l\">request</th>\
         <th class=\"l\">scenario</th><th>count</th><th>rate</th><th>errors</th>\
         <th>failed by status</th>{LATENCY_HEADER}</tr>\n\
         <tr><td><b>all requests</b></td><td class=\"l\"></td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td>{}</tr>",
        fmt_count(r.totals.requests),
        fmt_rate(r.rates.requests_per_s),
        fmt_count(r.totals.errors),
        fmt_count(r.totals.failed_by_status),
        latency_cells(&r.latency_us)
    );
    for q in &r.requests {
        let _ = writeln!(
            out,
            "<tr><td title=\"{}\"><code>{}</code></td><td class=\"l\">{}</td><td>{}</td>\
             <td>{}</td><td{}>{}</td><td{}>{}</td>{}</tr>",
            escape(&q.location),
            escape(&q.name),
            escape(q.scenario.as_deref().unwrap_or("-")),
            fmt_count(q.requests),
            fmt_rate(q.requests_per_s),
            if q.errors > 0 { " class=\"bad\"" } else { "" },
            fmt_count(q.errors),
            if q.failed_by_status > 0 {
                " class=\"bad\""
            } else {
                ""
            },
            fmt_count(q.failed_by_status),
            latency_cells(&q.latency_us)
        );
    }
    out.push_str("</table>\n");
}

fn scenarios_and_checks(out: &mut String, r: &Report) {
    out.push_str(
        "<h2>Scenarios</h2>\n<table>\n<tr><th class=\"l\">scenario</th><th>weight</th>\
         <th>successes</th><th>failures</th><th>stopped</th><th>requests</th><th>p50</th>\
         <th>p99</th></tr>\n",
    );
    for s in &r.scenarios {
        let (p50, p99) = s.latency_us.as_ref().map_or(("-".into(), "-".into()), |l| {
            (fmt_micros(l.p50), fmt_micros(l.p99))
        });
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"ok\">{}</td><td{}>{}</td><td>{}</td>\
             <td>{}</td><td>{p50}</td><td>{p99}</td></tr>",
            escape(&s.name),
            s.weight,
            fmt_count(s.successes),
            if s.failures > 0 { " class=\"bad\"" } else { "" },
            fmt_count(s.failures),
            fmt_count(s.stopped),
            fmt_count(s.requests),
        );
    }
    out.push_str("</table>\n");
    if r.checks.is_empty() {
        return;
    }
    out.push_str(
        "<h2>Checks</h2>\n<table>\n<tr><th class=\"l\">check</th><th class=\"l\">request</th>\
         <th class=\"l\">where</th><th>passed</th><th>failed</th>\
         <th class=\"l\">first failure</th></tr>\n",
    );
    for c in &r.checks {
        let first = c
            .first_failure
            .as_ref()
            .map(|f| {
                if f.status > 0 {
                    format!("({}) {}", f.status, f.message)
                } else {
                    f.message.clone()
                }
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td><code>{} {}</code></td><td class=\"l\">{}</td><td class=\"l\">{}</td>\
             <td class=\"ok\">{}</td><td{}>{}</td><td class=\"wrap\">{}</td></tr>",
            escape(&c.kind),
            escape(&c.text),
            escape(c.request.as_deref().unwrap_or("-")),
            escape(&c.location),
            fmt_count(c.passed),
            if c.failed > 0 { " class=\"bad\"" } else { "" },
            fmt_count(c.failed),
            escape(&first)
        );
    }
    out.push_str("</table>\n");
}

fn codes_and_errors(out: &mut String, r: &Report) {
    out.push_str("<div class=\"twocol\">\n<div>\n<h2>Status codes</h2>\n<table>\n");
    out.push_str("<tr><th class=\"l\">status</th><th>responses</th></tr>\n");
    if r.status_codes.is_empty() {
        out.push_str("<tr><td>none</td><td></td></tr>\n");
    }
    for (code, n) in &r.status_codes {
        let bad = code.parse::<u16>().is_ok_and(|c| c >= 400);
        let _ = writeln!(
            out,
            "<tr><td{}>{}</td><td>{}</td></tr>",
            if bad { " class=\"bad\"" } else { "" },
            escape(code),
            fmt_count(*n)
        );
    }
    out.push_str("</table>\n</div>\n<div>\n<h2>Transport errors</h2>\n<table>\n");
    out.push_str("<tr><th class=\"l\">kind</th><th>count</th></tr>\n");
    if r.errors.is_empty() {
        out.push_str("<tr><td>none</td><td></td></tr>\n");
    }
    for (kind, n) in &r.errors {
        let _ = writeln!(
            out,
            "<tr><td class=\"bad\">{}</td><td>{}</td></tr>",
            escape(kind),
            fmt_count(*n)
        );
    }
    out.push_str("</table>\n</div>\n</div>\n");
    if let Some(f) = &r.failure {
        let _ = writeln!(
            out,
            "<h2>Failure that stopped the run</h2>\n<table><tr><td class=\"wrap\"><code>{}</code>\
             {}{}: {}</td></tr></table>",
            escape(&f.what),
            f.location
                .as_ref()
                .map(|l| format!(" at {}", escape(l)))
                .unwrap_or_default(),
            if f.status > 0 {
                format!(" (status {})", f.status)
            } else {
                String::new()
            },
            escape(&f.message)
        );
    }
}

fn processes(out: &mut String, r: &Report) {
    out.push_str(
        "<h2>Processes</h2>\n<table>\n<tr><th class=\"l\">process</th><th>pid</th><th>cpu</th>\
         <th>requests</th><th>cpu time</th><th>peak rss</th><th class=\"l\">exit</th></tr>\n",
    );
    for p in &r.processes {
        let exit = p.exit.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"l{}\">{}</td></tr>",
            escape(&p.role),
            p.pid,
            p.cpu.map_or("-".into(), |c| c.to_string()),
            fmt_count(p.requests),
            p.cpu_time_s.map_or("-".into(), |s| format!("{s:.2}s")),
            p.peak_rss_bytes.map_or("-".into(), fmt_bytes),
            if exit == "ok" { " ok" } else { " bad" },
            escape(exit)
        );
    }
    let _ = writeln!(
        out,
        "<tr><td>master</td><td>{}</td><td>-</td><td>-</td><td>{:.2}s</td><td>{}</td>\
         <td class=\"l\">-</td></tr>\n</table>",
        r.master.pid,
        r.master.cpu_time_s,
        fmt_bytes(r.master.peak_rss_bytes)
    );
}

fn config(out: &mut String, r: &Report) {
    let c = &r.config;
    let rows: Vec<(&str, String)> = vec![
        ("plan", r.plan.clone()),
        ("processes (-p)", c.processes.to_string()),
        ("workers per process (-w)", c.workers.to_string()),
        (
            "duration (-d)",
            c.duration_s
                .map_or("until -r or Ctrl-C".into(), |d| format!("{d}s")),
        ),
        (
            "max runs per worker (-r)",
            c.max_runs.map_or("-".into(), |n| n.to_string()),
        ),
        ("stop on first failure (-x)", c.exception.to_string()),
        (
            "fail at failures (-f)",
            c.fail.map_or("-".into(), |n| n.to_string()),
        ),
        ("seed", c.seed.to_string()),
        ("grace", format!("{}s", c.grace_s)),
        ("connect timeout", format!("{}s", c.connect_timeout_s)),
        ("started", r.started_at.clone()),
        ("ended", r.ended_at.clone()),
    ];
    out.push_str("<h2>Configuration</h2>\n<table>\n");
    for (k, v) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"l\"><code>{}</code></td></tr>",
            escape(k),
            escape(&v)
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("GET /products/{{pid}}"), "GET /products/{{pid}}");
    }

    #[test]
    fn nice_steps_and_compact_numbers() {
        let cases: &[(f64, f64, f64)] = &[
            (100.0, 4.0, 50.0),
            (7.0, 4.0, 2.0),
            (0.9, 4.0, 0.5),
            (12_345.0, 4.0, 5_000.0),
            (60.0, 8.0, 10.0),
        ];
        for &(max, parts, want) in cases {
            let got = nice_step(max, parts);
            assert!((got - want).abs() < 1e-9, "{max}/{parts}: {got}");
        }
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(3_000_000.0), "3M");
        assert_eq!(compact(2.5), "2.5");
        assert_eq!(seconds_label(30.0), "30s");
        assert_eq!(seconds_label(180.0), "3m");
    }

    #[test]
    fn charts_break_lines_at_missing_values_and_label_points() {
        let lines = [Line {
            name: "p99",
            color: "#000",
            points: vec![
                (1.0, Some(2.0)),
                (2.0, None),
                (3.0, Some(4.0)),
                (4.0, Some(1.0)),
            ],
        }];
        let svg = line_chart("t <x>", &lines, 4.0, &|v| format!("{v} ms"));
        // Two pen-downs: one for the lone first point, one for the last two.
        let path = svg.lines().find(|l| l.starts_with("<path")).unwrap();
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("<title>p99 at 3s: 4 ms</title>"), "{svg}");
        assert!(svg.contains("t &lt;x&gt;"));
        let empty = line_chart("e", &[], 10.0, &compact);
        assert!(empty.contains("no data"));
    }
}
