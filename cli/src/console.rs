//! The plain console view (`-c`, and the default when stdout is not a terminal): one compact
//! line per interval, plus each distinct failure once under `-v`.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use molotov_core::live::Sample;
use molotov_core::report::{fmt_count, fmt_micros, fmt_rate};
use molotov_core::run::Observer;
use molotov_core::shm::{Region, Site};
use molotov_core::summary::{Names, ProcessInfo};

/// Prints progress lines to stdout and failures to stderr.
pub struct Console {
    names: Names,
    /// Print a line per interval.
    lines: bool,
    /// Print each distinct failure once.
    failures: bool,
    seen: HashSet<Site>,
}

impl Console {
    /// A console view; `lines` false keeps it quiet except for failures when `failures`.
    pub fn new(names: Names, lines: bool, failures: bool) -> Console {
        Console {
            names,
            lines,
            failures,
            seen: HashSet::new(),
        }
    }

    fn print_new_failures(&mut self, region: &Region) {
        let sites = (0..self.names.checks.len() as u32)
            .map(Site::Check)
            .chain((0..self.names.requests.len() as u32).map(Site::Request));
        let sites: Vec<Site> = sites.filter(|s| !self.seen.contains(s)).collect();
        for site in sites {
            if let Some((status, message)) =
                (0..region.slots()).find_map(|i| region.slot(i).sample(site))
            {
                self.seen.insert(site);
                eprintln!("{}", describe_failure(&self.names, site, status, &message));
            }
        }
    }
}

/// One line describing a failure site and its first failure.
pub fn describe_failure(names: &Names, site: Site, status: u16, message: &str) -> String {
    let status = if status > 0 {
        format!(" (status {status})")
    } else {
        String::new()
    };
    match site {
        Site::Check(id) => {
            let c = &names.checks[id as usize];
            let kind = if c.is_assert { "assert" } else { "check" };
            format!(
                "FAILED {kind} {} at {}{status}: {message}",
                c.text, c.location
            )
        }
        Site::Request(id) => format!(
            "FAILED request {}{status}: {message}",
            names.requests[id as usize]
        ),
    }
}

impl Observer for Console {
    fn tick(&mut self, s: &Sample, region: &Region) {
        if self.failures {
            self.print_new_failures(region);
        }
        if !self.lines {
            return;
        }
        let (p50, p99) = if s.interval_latency.is_empty() {
            ("-".to_string(), "-".to_string())
        } else {
            (
                fmt_micros(s.interval_latency.value_at_quantile(0.5)),
                fmt_micros(s.interval_latency.value_at_quantile(0.99)),
            )
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "[{:>7.1}s] requests {:>10}  rps {:>10}  p50 {:>8}  p99 {:>8}  errors {}  failures {}  workers {}",
            s.elapsed.as_secs_f64(),
            fmt_count(s.requests),
            fmt_rate(s.rps()),
            p50,
            p99,
            fmt_count(s.errors + s.failed_by_status),
            fmt_count(s.failures),
            s.workers_alive,
        );
        let _ = out.flush();
    }

    fn child_ended(&mut self, p: &ProcessInfo) {
        if let Some(exit) = p.exit {
            eprintln!(
                "molotov: process {} (pid {}) {exit}; the run goes on without it",
                p.role, p.pid
            );
        }
    }

    fn interrupted(&mut self, count: u32) {
        if count == 1 {
            eprintln!(
                "molotov: stopping (in-flight requests finish); press Ctrl-C again to stop now"
            );
        } else {
            eprintln!("molotov: stopping now");
        }
    }
}

/// How often the master samples when nothing is printed.
pub const QUIET_TICK: Duration = Duration::from_secs(1);
