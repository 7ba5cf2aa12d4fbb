//! Reads the figures the comparison needs out of each tool's output: completed requests,
//! errors, the tool's own measured duration, latency percentiles, and (molotov) the peak RSS
//! of each process.
//!
//! Formats read (the tests hold real outputs captured on the dev machine):
//! - molotov `-q`: the `Duration:` and `Requests:` lines, the `all requests` row of the
//!   latency table, the `Processes` table;
//! - wrk 4.1 (with `--latency` for percentiles): `N requests in T`, `Non-2xx or 3xx
//!   responses`, `Socket errors`, the `Latency Distribution` block;
//! - h2load 1.52 (`--h1`): `finished in T`, the `requests:` line;
//! - oha 1.x with `--output-format json`: `summary.total`, `statusCodeDistribution`,
//!   `errorDistribution` (the "aborted due to deadline" entries that `-z` causes are not
//!   errors), `latencyPercentiles`.

use std::time::Duration;

/// What a tool reported about one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Completed requests that did not fail (status < 400 for molotov and h2load, 2xx/3xx for
    /// wrk, 2xx/3xx for oha).
    pub ok: u64,
    /// Transport errors plus failed statuses.
    pub errors: u64,
    /// The tool's own measure of the load phase.
    pub elapsed: Duration,
    /// Median latency, when reported.
    pub p50: Option<Duration>,
    /// 99th percentile latency, when reported.
    pub p99: Option<Duration>,
    /// molotov only: one row per process of its report.
    pub processes: Vec<ProcessRow>,
}

impl Report {
    /// Successful requests per second of the tool's own elapsed time.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The largest peak RSS among molotov's load processes (`worker N` rows), in bytes.
    pub fn worker_peak_rss(&self) -> Option<u64> {
        self.processes
            .iter()
            .filter(|p| p.role.starts_with("worker"))
            .map(|p| p.peak_rss)
            .max()
    }
}

/// One row of molotov's `Processes` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRow {
    /// `worker 0`, `setup`, `teardown` or `master`.
    pub role: String,
    /// Requests it sent (0 for the master).
    pub requests: u64,
    /// Its peak resident set, in bytes (rounded as printed: 2 decimals of the unit).
    pub peak_rss: u64,
}

/// A tool's output did not hold what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line or field is missing.
    #[error("{tool} output has no {what}")]
    Missing {
        /// The tool.
        tool: &'static str,
        /// What was looked for.
        what: &'static str,
    },
    /// A value could not be read.
    #[error("{tool} output: cannot read {what} from `{text}`")]
    Bad {
        /// The tool.
        tool: &'static str,
        /// What was read.
        what: &'static str,
        /// The text.
        text: String,
    },
}

fn missing(tool: &'static str, what: &'static str) -> ParseError {
    ParseError::Missing { tool, what }
}

fn bad(tool: &'static str, what: &'static str, text: &str) -> ParseError {
    ParseError::Bad {
        tool,
        what,
        text: text.to_string(),
    }
}

/// `12,345` or `12345`.
fn count(tool: &'static str, what: &'static str, text: &str) -> Result<u64, ParseError> {
    text.trim()
        .replace(',', "")
        .parse()
        .map_err(|_| bad(tool, what, text))
}

/// A number glued to a time unit: `484µs`, `980.00us`, `4.54ms`, `3.04s`, `1.50m`, `1h`.
pub fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let nanos_per_unit = match unit {
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    // Rounded to whole nanoseconds: 980.00us is 980 µs, not 979.999...
    let nanos = (value * nanos_per_unit).round();
    (nanos.is_finite() && nanos < u64::MAX as f64).then(|| Duration::from_nanos(nanos as u64))
}

/// `4.81 MiB`, `512 B`, `1.00 GiB` (as molotov prints sizes) in bytes.
pub fn bytes(value: &str, unit: &str) -> Option<u64> {
    let value: f64 = value.parse().ok()?;
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((value * scale).round() as u64)
}

/// molotov's `-q` report.
pub fn molotov(text: &str) -> Result<Report, ParseError> {
    const T: &str = "molotov";
    let line_after = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(prefix).map(str::trim))
    };
    let elapsed = line_after("Duration:").ok_or_else(|| missing(T, "`Duration:` line"))?;
    let elapsed = duration(elapsed).ok_or_else(|| bad(T, "the duration", elapsed))?;
    // Requests: 109,472 (36,428/s), 109,472 responses, 0 errors, 0 failed by status
    let requests = line_after("Requests:").ok_or_else(|| missing(T, "`Requests:` line"))?;
    // The number is the word before the label ("109,472 responses,", "0 failed by status"),
    // in the singular for one ("1 response, 1 error").
    let words: Vec<&str> = requests.split_whitespace().collect();
    let field = |label: &'static str, one: &'static str| -> Result<u64, ParseError> {
        let at = words
            .iter()
            .position(|w| {
                let w = w.trim_end_matches(',');
                w == label || w == one
            })
            .filter(|&i| i > 0)
            .ok_or_else(|| bad(T, label, requests))?;
        count(T, label, words[at - 1])
    };
    let responses = field("responses", "response")?;
    let errors = field("errors", "error")?;
    let failed = field("failed", "failed")?;
    let mut report = Report {
        ok: responses.saturating_sub(failed),
        errors: errors + failed,
        elapsed,
        ..Report::default()
    };
    // Latency table: the header names the columns, the `all requests` row holds the values.
    let mut columns: Vec<&str> = Vec::new();
    let mut latency_row = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("request ") {
            columns = rest.split_whitespace().collect();
        } else if let Some(rest) = trimmed.strip_prefix("all requests ") {
            let cells: Vec<&str> = rest.split_whitespace().collect();
            let cell = |name: &str| {
                columns
                    .iter()
                    .position(|c| *c == name)
                    .and_then(|i| cells.get(i))
                    .and_then(|c| duration(c))
            };
            report.p50 = cell("p50");
            report.p99 = cell("p99");
            latency_row = true;
            break;
        }
    }
    if !latency_row {
        return Err(missing(T, "`all requests` latency row"));
    }
    // Processes table.
    let mut in_processes = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed == "Processes" {
            in_processes = true;
            continue;
        }
        if !in_processes {
            continue;
        }
        if trimmed.is_empty() {
            break;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        if words.first() == Some(&"process") {
            continue;
        }
        let role_words = if words.first() == Some(&"worker") {
            2
        } else {
            1
        };
        // role.. pid cpu requests cpu-time rss-value rss-unit exit..
        let rest = &words[role_words.min(words.len())..];
        if rest.len() < 6 {
            return Err(bad(T, "a Processes row", trimmed));
        }
        let requests = if rest[2] == "-" {
            0
        } else {
            count(T, "process requests", rest[2])?
        };
        let peak_rss = bytes(rest[4], rest[5]).ok_or_else(|| bad(T, "peak rss", trimmed))?;
        report.processes.push(ProcessRow {
            role: words[..role_words].join(" "),
            requests,
            peak_rss,
        });
    }
    if !report
        .processes
        .iter()
        .any(|p| p.role.starts_with("worker"))
    {
        return Err(missing(T, "worker row in the Processes table"));
    }
    Ok(report)
}

/// wrk's report (`--latency` adds the percentiles).
pub fn wrk(text: &str) -> Result<Report, ParseError> {
    const T: &str = "wrk";
    // "  172711 requests in 3.04s, 27.18MB read"
    let line = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .ok_or_else(|| missing(T, "`requests in` line"))?;
    let mut words = line.split_whitespace();
    let total = count(T, "requests", words.next().unwrap_or(""))?;
    let elapsed_text = words.nth(2).unwrap_or("").trim_end_matches(',');
    let elapsed = duration(elapsed_text).ok_or_else(|| bad(T, "the duration", line))?;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    let mut p50 = None;
    let mut p99 = None;
    for line in text.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = count(T, "non-2xx responses", n)?;
        } else if let Some(list) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in list.split(',') {
                if let Some(n) = part.split_whitespace().nth(1) {
                    socket_errors += count(T, "socket errors", n)?;
                }
            }
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = duration(v);
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration(v);
        }
    }
    Ok(Report {
        ok: total.saturating_sub(non_2xx),
        errors: non_2xx + socket_errors,
        elapsed,
        p50,
        p99,
        processes: Vec::new(),
    })
}

/// h2load's report.
pub fn h2load(text: &str) -> Result<Report, ParseError> {
    const T: &str = "h2load";
    // "finished in 3.00s, 36005.33 req/s, 5.67MB/s"
    let finished = text
        .lines()
        .find_map(|l| l.strip_prefix("finished in "))
        .ok_or_else(|| missing(T, "`finished in` line"))?;
    let elapsed_text = finished.split(',').next().unwrap_or("");
    let elapsed = duration(elapsed_text).ok_or_else(|| bad(T, "the duration", finished))?;
    // "requests: 108016 total, 108066 started, 108016 done, 108016 succeeded, 0 failed, 0 errored, 0 timeout"
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("requests: "))
        .ok_or_else(|| missing(T, "`requests:` line"))?;
    let field = |name: &'static str| -> Result<u64, ParseError> {
        line.split(',')
            .map(str::trim)
            .find_map(|part| part.strip_suffix(name).map(str::trim))
            .ok_or_else(|| missing(T, name))
            .and_then(|n| count(T, name, n))
    };
    Ok(Report {
        ok: field("succeeded")?,
        errors: field("failed")?,
        elapsed,
        ..Report::default()
    })
}

/// oha's `--output-format json` report.
pub fn oha(text: &str) -> Result<Report, ParseError> {
    const T: &str = "oha";
    let start = text.find('{').ok_or_else(|| missing(T, "JSON report"))?;
    let json: serde_json::Value = serde_json::from_str(&text[start..])
        .map_err(|e| bad(T, "the JSON report", &e.to_string()))?;
    let elapsed = json["summary"]["total"]
        .as_f64()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| missing(T, "summary.total"))?;
    let mut ok = 0;
    let mut errors = 0;
    if let Some(codes) = json["statusCodeDistribution"].as_object() {
        for (code, n) in codes {
            let n = n.as_u64().unwrap_or(0);
            match code.parse::<u16>() {
                Ok(c) if c < 400 => ok += n,
                _ => errors += n,
            }
        }
    }
    if let Some(kinds) = json["errorDistribution"].as_object() {
        for (kind, n) in kinds {
            // `-z` cancels the requests in flight at the deadline; not the server's doing.
            if !kind.contains("deadline") {
                errors += n.as_u64().unwrap_or(0);
            }
        }
    }
    let seconds = |key: &str| {
        json["latencyPercentiles"][key]
            .as_f64()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    };
    Ok(Report {
        ok,
        errors,
        elapsed,
        p50: seconds("p50"),
        p99: seconds("p99"),
        processes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOLOTOV: &str = include_str!("../tests/outputs/molotov-static.txt");
    const MOLOTOV_FAILED: &str = include_str!("../tests/outputs/molotov-404.txt");
    const WRK: &str = include_str!("../tests/outputs/wrk.txt");
    const WRK_LATENCY: &str = include_str!("../tests/outputs/wrk-latency.txt");
    const H2LOAD: &str = include_str!("../tests/outputs/h2load.txt");
    const OHA: &str = include_str!("../tests/outputs/oha.json");

    #[test]
    fn durations_and_sizes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("484µs", Some(484)),
            ("980.00us", Some(980)),
            ("4.54ms", Some(4_540)),
            ("3.04s", Some(3_040_000)),
            ("1.50m", Some(90_000_000)),
            ("1h", Some(3_600_000_000)),
            ("-", None),
            ("12", None),
            ("3x", None),
        ];
        for (text, micros) in cases {
            assert_eq!(
                duration(text).map(|d| d.as_micros() as u64),
                *micros,
                "{text}"
            );
        }
        assert_eq!(bytes("512", "B"), Some(512));
        assert_eq!(bytes("4.81", "MiB"), Some(5_043_651));
        assert_eq!(bytes("1.5", "KiB"), Some(1536));
        assert_eq!(bytes("1", "MB"), None);
    }

    #[test]
    fn molotov_report() {
        let r = molotov(MOLOTOV).unwrap();
        assert_eq!(r.ok, 125_943);
        assert_eq!(r.errors, 0);
        assert_eq!(r.elapsed, Duration::from_millis(2010));
        assert_eq!(r.p50, Some(Duration::from_micros(409)));
        assert_eq!(r.p99, Some(Duration::from_micros(8_290)));
        assert_eq!(r.processes.len(), 2);
        assert_eq!(r.processes[0].role, "worker 0");
        assert_eq!(r.processes[0].requests, 125_943);
        assert_eq!(r.processes[1].role, "master");
        assert_eq!(r.processes[1].requests, 0);
        assert_eq!(r.worker_peak_rss(), bytes("4.61", "MiB"));
        assert!((r.rate() - 125_943.0 / 2.01).abs() < 1e-6);
    }

    #[test]
    fn molotov_counts_of_one_are_singular() {
        let text = MOLOTOV.replace(
            "Requests: 125,943 (62,620/s), 125,943 responses, 0 errors, 0 failed by status",
            "Requests: 2 (1.0/s), 1 response, 1 error, 0 failed by status",
        );
        assert_ne!(text, MOLOTOV, "the sample's Requests line changed");
        let r = molotov(&text).unwrap();
        assert_eq!((r.ok, r.errors), (1, 1));
    }

    #[test]
    fn molotov_failed_statuses_are_not_ok() {
        let r = molotov(MOLOTOV_FAILED).unwrap();
        assert_eq!(r.ok, 0);
        assert_eq!(r.errors, 27_654);
        assert_eq!(r.errors, r.processes[0].requests);
        assert_eq!(r.p50, Some(Duration::from_micros(106)));
    }

    #[test]
    fn wrk_reports() {
        let r = wrk(WRK).unwrap();
        assert_eq!(r.ok, 102_858);
        assert_eq!(r.errors, 0);
        assert_eq!(r.elapsed, Duration::from_millis(2070));
        assert_eq!(r.p50, None);
        let r = wrk(WRK_LATENCY).unwrap();
        assert_eq!(r.ok, 6441);
        assert_eq!(r.p50, Some(Duration::from_micros(5_380)));
        assert_eq!(r.p99, Some(Duration::from_micros(14_320)));
    }

    #[test]
    fn h2load_report() {
        let r = h2load(H2LOAD).unwrap();
        assert_eq!(r.ok, 106_668);
        assert_eq!(r.errors, 0);
        assert_eq!(r.elapsed, Duration::from_secs(2));
    }

    #[test]
    fn oha_report() {
        let r = oha(OHA).unwrap();
        assert_eq!(r.ok, 190_263);
        assert_eq!(r.errors, 0, "the 43 deadline aborts are not errors");
        assert_eq!(r.elapsed, Duration::from_nanos(2_005_482_280));
        assert_eq!(r.p50, Some(Duration::from_nanos(248_940)));
        assert_eq!(r.p99, Some(Duration::from_nanos(4_433_703)));
    }

    #[test]
    fn truncated_outputs_are_errors() {
        for (name, parse, text) in [
            (
                "molotov",
                molotov as fn(&str) -> Result<Report, ParseError>,
                MOLOTOV,
            ),
            ("wrk", wrk, WRK),
            ("h2load", h2load, H2LOAD),
            ("oha", oha, OHA),
        ] {
            assert!(parse("").is_err(), "{name} accepted nothing");
            let half = &text[..text.len() / 3];
            assert!(
                parse(half).is_err(),
                "{name} accepted a third of its output"
            );
        }
    }
}
