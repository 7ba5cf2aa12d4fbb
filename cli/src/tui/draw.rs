//! Drawing the full-screen view from a [`LiveState`]: a title bar, the progress bar, the key
//! figures, charts of requests per second and latency over time, the latency percentiles now
//! and overall, per-request and per-scenario tables, status codes, errors by kind, and the
//! failures and events seen. The layout adapts to the terminal's size; below
//! [`MIN_WIDTH`]×[`MIN_HEIGHT`] it shows the key figures only.

use hdrhistogram::Histogram;
use molotov_core::report::{fmt_count, fmt_micros, fmt_percent, fmt_rate};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Dataset, Gauge, GraphType, Paragraph, Row, Table, Wrap,
};

use super::state::{LiveState, clock};

/// Below this width the view shows the key figures only.
pub const MIN_WIDTH: u16 = 60;
/// Below this height the view shows the key figures only.
pub const MIN_HEIGHT: u16 = 18;

const TITLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
const BAD: Style = Style::new().fg(Color::Red);
const GOOD: Style = Style::new().fg(Color::Green);
const DIM: Style = Style::new().fg(Color::DarkGray);
const HEADER: Style = Style::new().add_modifier(Modifier::BOLD);

fn block(title: &str) -> Block<'_> {
    Block::bordered()
        .title(Span::styled(format!(" {title} "), TITLE))
        .border_style(DIM)
}

/// A bordered block whose title names the lines of a chart in their colours.
fn legend_block(parts: &[(&str, Style)]) -> Block<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (i, (text, style)) in parts.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", DIM));
        }
        spans.push(Span::styled(
            text.to_string(),
            style.add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::raw(" "));
    Block::bordered().title(Line::from(spans)).border_style(DIM)
}

fn right(text: impl Into<String>) -> Cell<'static> {
    Cell::from(Line::from(text.into()).right_aligned())
}

fn quantile(h: &Histogram<u64>, q: f64) -> String {
    if h.is_empty() {
        "-".into()
    } else {
        fmt_micros(h.value_at_quantile(q))
    }
}

/// Draws the whole view.
pub fn draw(frame: &mut Frame<'_>, state: &LiveState) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        compact(frame, area, state);
        return;
    }
    let max_events = if area.height < 30 { 2 } else { 5 };
    let events = (state.failure_lines.len() + state.notices.len() + state.output_lines.len())
        .min(max_events) as u16;
    let figures_h = 2 + figures_rows(state, area.width);
    let events_h = if events > 0 { events + 2 } else { 0 };
    // What is left goes to the charts and the tables: the tables get the rows they need
    // (header, one row per request, borders) within limits, the charts the rest, at least 8.
    let rest = area.height.saturating_sub(2 + figures_h + events_h);
    let want_tables = (state.requests_table.len().max(state.scenarios.len() + 4) + 3) as u16;
    let tables_h = want_tables.min(rest.saturating_sub(8)).max(rest / 3);
    let [title, progress, figures, charts, tables, log] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(figures_h),
        Constraint::Length(rest - tables_h),
        Constraint::Length(tables_h),
        Constraint::Length(events_h),
    ])
    .areas(area);
    title_bar(frame, title, state);
    progress_bar(frame, progress, state);
    key_figures(frame, figures, state);
    charts_row(frame, charts, state);
    tables_row(frame, tables, state);
    if events > 0 {
        events_panel(frame, log, state, events as usize);
    }
}

fn status(state: &LiveState) -> (String, Style) {
    match state.stops {
        0 => ("running".into(), GOOD),
        1 => (
            "stopping: in-flight requests finish (press q again to stop now)".into(),
            Style::new().fg(Color::Yellow),
        ),
        _ => ("stopping now".into(), BAD),
    }
}

fn title_bar(frame: &mut Frame<'_>, area: Rect, state: &LiveState) {
    let (status, style) = status(state);
    let shape = &state.shape;
    let line = Line::from(vec![
        Span::styled(" molotov ", TITLE.add_modifier(Modifier::REVERSED)),
        Span::raw(" "),
        Span::styled(shape.plan.clone(), HEADER),
        Span::raw(format!(
            "  {} × {} workers  ",
            shape.processes, shape.workers
        )),
        Span::styled(format!("● {status}"), style),
    ]);
    let [left, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(24)]).areas(area);
    frame.render_widget(Paragraph::new(line), left);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled("q / Ctrl-C: stop ", DIM)).right_aligned()),
        right_area,
    );
}

fn progress_bar(frame: &mut Frame<'_>, area: Rect, state: &LiveState) {
    match state.progress() {
        Some((ratio, label)) => frame.render_widget(
            Gauge::default()
                .ratio(ratio.clamp(0.0, 1.0))
                .label(label)
                .gauge_style(Style::new().fg(Color::Cyan).bg(Color::Black))
                .use_unicode(true),
            area,
        ),
        None => frame.render_widget(
            Paragraph::new(format!(
                " elapsed {}: runs until -r is reached or it is stopped",
                clock(state.elapsed)
            ))
            .style(DIM),
            area,
        ),
    }
}

/// The rows the key figures need at `width` columns (inside the borders), 1 to 3.
fn figures_rows(state: &LiveState, width: u16) -> u16 {
    let inner = usize::from(width.saturating_sub(2)).max(1);
    // Wrapping breaks at spaces: leave room for a word that does not fit at a line's end.
    let needed = figures_line(state).width() + 12;
    needed.div_ceil(inner).clamp(1, 3) as u16
}

fn key_figures(frame: &mut Frame<'_>, area: Rect, state: &LiveState) {
    frame.render_widget(
        Paragraph::new(figures_line(state))
            .wrap(Wrap { trim: true })
            .block(block("Now")),
        area,
    );
}

/// The mean of `h` as the report prints it: each latency taken as the top of its bucket, like
/// the percentiles, min and max (`Histogram::mean` takes midpoints: the same latencies read
/// 100.45ms here beside a p50 and max of 100.48ms, and 100.48ms in the report). `-` when
/// empty.
fn mean_text(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        "-".to_string()
    } else {
        fmt_micros(molotov_core::latency::mean(h).round() as u64)
    }
}

fn figures_line(state: &LiveState) -> Line<'static> {
    let failed = state.errors + state.failed_by_status;
    let pct = if state.outcomes > 0 {
        failed.min(state.outcomes) as f64 * 100.0 / state.outcomes as f64
    } else {
        0.0
    };
    let figure = |label: &str, value: String, style: Style| {
        vec![
            Span::styled(format!("{label} "), DIM),
            Span::styled(value, style.add_modifier(Modifier::BOLD)),
            Span::raw("   "),
        ]
    };
    let mut spans = Vec::new();
    spans.extend(figure("requests", fmt_count(state.requests), Style::new()));
    spans.extend(figure(
        "rps",
        format!(
            "{} (avg {})",
            fmt_rate(state.rps_now()),
            fmt_rate(state.rps_overall())
        ),
        Style::new().fg(Color::Cyan),
    ));
    spans.extend(figure(
        "failed",
        format!(
            "{} ({}, now {})",
            fmt_count(failed),
            fmt_percent(pct),
            fmt_rate(state.failed_now())
        ),
        if failed > 0 { BAD } else { GOOD },
    ));
    spans.extend(figure(
        "runs",
        format!(
            "{} ok / {} failed",
            fmt_count(state.successes),
            fmt_count(state.failures)
        ),
        if state.failures > 0 { BAD } else { GOOD },
    ));
    if let Some((due, behind)) = state.starts_due_and_behind() {
        // A start waits for the turn holder's timer (tens of µs) and a sample is taken at
        // any moment: call it a backlog past 10 ms of the schedule, plus one per process.
        let rate = state
            .shape
            .schedule
            .as_ref()
            .map_or(0.0, |s| s.rate_at(state.elapsed));
        let slack = (rate * 0.01) as u64 + state.shape.processes as u64;
        // Early starts (`--max-early`) are on schedule by design: shown only when there are.
        let early = if state.early_starts > 0 {
            format!(", {} early", fmt_count(state.early_starts))
        } else {
            String::new()
        };
        spans.extend(figure(
            "starts",
            format!(
                "{} of {} due ({} late{early}, {} behind)",
                fmt_count(state.starts_taken),
                fmt_count(due),
                fmt_count(state.late_starts),
                fmt_count(behind)
            ),
            if behind > slack { BAD } else { GOOD },
        ));
    }
    spans.extend(figure(
        "workers",
        format!(
            "{} / {}",
            state.workers_alive,
            state.shape.workers * state.shape.processes
        ),
        Style::new(),
    ));
    spans.extend(figure(
        "processes",
        format!("{} / {}", state.processes_alive, state.shape.processes),
        Style::new(),
    ));
    spans.extend(figure(
        "in flight",
        state.in_flight.to_string(),
        Style::new(),
    ));
    Line::from(spans)
}

/// Axis bounds and three labels for values up to `max`.
fn y_axis(max: f64, fmt: &dyn Fn(f64) -> String) -> Axis<'static> {
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    Axis::default()
        .bounds([0.0, top])
        .labels([fmt(0.0), fmt(top / 2.0), fmt(top)])
        .style(DIM)
}

fn x_axis(state: &LiveState) -> Axis<'static> {
    let elapsed = state.elapsed.as_secs_f64();
    let end = state
        .shape
        .duration
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
        .max(elapsed)
        .max(1.0);
    let label = |s: f64| format!("{}s", s.round());
    Axis::default()
        .bounds([0.0, end])
        .labels([label(0.0), label(end / 2.0), label(end)])
        .style(DIM)
}

fn short_rate(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn charts_row(frame: &mut Frame<'_>, area: Rect, state: &LiveState) {
    let wide = area.width >= 110;
    let [charts, table] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(34)]).areas(area);
    let (rps_area, latency_area) = if wide {
        let [a, b] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(charts);
        (a, Some(b))
    } else {
        (charts, None)
    };
    let max = |points: &[(f64, f64)]| points.iter().map(|p| p.1).fold(0.0, f64::max);
    let rps_chart = Chart::new(vec![
        Dataset::default()
            .name("requests/s")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&state.rps_points),
        Dataset::default()
            .name("failed/s")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(BAD)
            .data(&state.failed_points),
    ])
    .block(legend_block(&[
        ("Requests per second", Style::new().fg(Color::Cyan)),
        ("failed", BAD),
    ]))
    .x_axis(x_axis(state))
    .y_axis(y_axis(max(&state.rps_points), &short_rate))
    .legend_position(None);
    frame.render_widget(rps_chart, rps_area);
    if let Some(latency_area) = latency_area {
        let latency_chart = Chart::new(vec![
            Dataset::default()
                .name("p50")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(GOOD)
                .data(&state.p50_points),
            Dataset::default()
                .name("p99")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::Yellow))
                .data(&state.p99_points),
        ])
        .block(legend_block(&[
            ("Latency (ms): p50", GOOD),
            ("p99", Style::new().fg(Color::Yellow)),
        ]))
        .x_axis(x_axis(state))
        .y_axis(y_axis(max(&state.p99_points), &|v| format!("{v:.1}")))
        .legend_position(None);
        frame.render_widget(latency_chart, latency_area);
    }
    latency_table(frame, table, state);
}

fn latency_table(frame: &mut Frame<'_>, area: Rect, state: &LiveState) {
    let now = state.latency_now();
    let overall = &state.overall;
    let row = |name: &str, q: f64| {
        Row::new(vec![
            Cell::from(name.to_string()),
            right(quantile(&now, q)),
            right(quantile(overall, q)),
        ])
    };
    let mut rows = vec![
        row("p50", 0.5),
        row("p90", 0.9),
        row("p99", 0.99).style(Style::new().fg(Color::Yellow)),
        row("p99.9", 0.999),
        row("max", 1.0),
    ];
    rows.push(Row::new(vec![
        Cell::from("mean"),
        right(mean_text(&now)),
        right(mean_text(overall)),
    ]));
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Fill(1),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(vec![Cell::from(""), right("now"), right("overall")]).style(HEADER))
    .block(block("Latency"));
    frame.render_widget(table, area);
}

fn tables_row(frame: &mut Frame<'_>, area: Rect, state: &LiveState) {
    let [requests, side] =
        Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)]).areas(area);
    // Narrow: keep the name, the count, the failures and p99.
    let full = requests.width >= 2 + 12 + 58;
    let keep = |column: usize| full || matches!(column, 0 | 1 | 3 | 5);
    let pick = |cells: Vec<Cell<'static>>| {
        cells
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, c)| c)
            .collect::<Vec<_>>()
    };
    let rows: Vec<Row<'_>> = state
        .requests_table
        .iter()
        .map(|r| {
            let q = |v: Option<u64>| v.map_or("-".to_string(), fmt_micros);
            Row::new(pick(vec![
                Cell::from(r.name.clone()),
                right(fmt_count(r.count)),
                right(fmt_rate(r.rate_now)),
                right(fmt_count(r.failed)).style(if r.failed > 0 { BAD } else { Style::new() }),
                right(q(r.p50)),
                right(q(r.p99)),
            ]))
        })
        .collect();
    let widths: Vec<Constraint> = [
        Constraint::Min(12),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
    ]
    .into_iter()
    .enumerate()
    .filter(|(i, _)| keep(*i))
    .map(|(_, c)| c)
    .collect();
    let header = pick(vec![
        Cell::from("request"),
        right("count"),
        right("rate"),
        right("failed"),
        right("p50"),
        right("p99"),
    ]);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(HEADER))
        .block(block("Requests"));
    frame.render_widget(table, requests);

    let [scenarios, codes] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(4)]).areas(side);
    let rows = state.scenarios.iter().map(|s| {
        Row::new(vec![
            Cell::from(s.name.clone()),
            right(fmt_count(s.successes)).style(GOOD),
            right(fmt_count(s.failures)).style(if s.failures > 0 { BAD } else { Style::new() }),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(10),
        ],
    )
    .header(Row::new(vec![Cell::from("scenario"), right("ok"), right("failed")]).style(HEADER))
    .block(block("Scenarios"));
    frame.render_widget(table, scenarios);

    let mut status: Vec<Span<'_>> = vec![Span::styled("status ", DIM)];
    if state.status_codes.is_empty() {
        status.push(Span::styled("-", DIM));
    }
    for (i, (code, n)) in state.status_codes.iter().enumerate() {
        if i > 0 {
            status.push(Span::raw("  "));
        }
        status.push(Span::styled(
            format!("{code}: {}", fmt_count(*n)),
            if *code >= 400 { BAD } else { GOOD },
        ));
    }
    let mut errors: Vec<Span<'_>> = vec![Span::styled("errors ", DIM)];
    if state.errors_by_kind.is_empty() {
        errors.push(Span::styled("none", DIM));
    }
    for (i, (kind, n)) in state.errors_by_kind.iter().enumerate() {
        if i > 0 {
            errors.push(Span::raw("  "));
        }
        errors.push(Span::styled(format!("{kind}: {}", fmt_count(*n)), BAD));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(status), Line::from(errors)])
            .wrap(Wrap { trim: true })
            .block(block("Responses")),
        codes,
    );
}

fn events_panel(frame: &mut Frame<'_>, area: Rect, state: &LiveState, lines: usize) {
    let all: Vec<Line<'_>> = state
        .notices
        .iter()
        .map(|n| Line::styled(n.clone(), Style::new().fg(Color::Yellow)))
        .chain(state.output_lines.iter().map(|(line, count)| {
            let text = if *count > 1 {
                format!("{line} (x{count})")
            } else {
                line.clone()
            };
            Line::raw(text)
        }))
        .chain(
            state
                .failure_lines
                .iter()
                .map(|f| Line::styled(f.clone(), BAD)),
        )
        .collect();
    let skip = all.len().saturating_sub(lines);
    frame.render_widget(
        Paragraph::new(all.into_iter().skip(skip).collect::<Vec<_>>()).block(block(&format!(
            "Failures and events ({} distinct failures)",
            state.failure_lines.len()
        ))),
        area,
    );
}

/// The key figures only, for small terminals.
fn compact(frame: &mut Frame<'_>, area: Rect, state: &LiveState) {
    let (status, style) = status(state);
    let now = state.latency_now();
    let progress = state
        .progress()
        .map_or_else(|| clock(state.elapsed), |(_, label)| label);
    let lines = vec![
        Line::from(vec![
            Span::styled("molotov ", TITLE),
            Span::styled(status, style),
        ]),
        Line::from(progress),
        Line::from(format!(
            "requests {}  rps {}",
            fmt_count(state.requests),
            fmt_rate(state.rps_now())
        )),
        Line::from(format!(
            "p50 {}  p99 {}",
            quantile(&now, 0.5),
            quantile(&now, 0.99)
        )),
        Line::from(format!(
            "failed {}  runs {} ok / {} failed",
            fmt_count(state.errors + state.failed_by_status),
            fmt_count(state.successes),
            fmt_count(state.failures)
        )),
        Line::styled(
            format!("(enlarge to {MIN_WIDTH}x{MIN_HEIGHT} for the full view; q stops)"),
            DIM,
        ),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view's mean is the report's: 100 latencies of 100.45 ms read as their bucket's
    /// top, like the p50 and max beside it.
    #[test]
    fn the_mean_is_the_reports() {
        let mut h = molotov_core::latency::new_histogram();
        for _ in 0..100 {
            h.record(100_450).unwrap();
        }
        let top = fmt_micros(h.max());
        assert_eq!(mean_text(&h), top);
        assert_eq!(
            mean_text(&h),
            fmt_micros(molotov_core::latency::mean(&h).round() as u64)
        );
        assert_eq!(mean_text(&molotov_core::latency::new_histogram()), "-");
    }
}
