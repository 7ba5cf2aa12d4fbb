//! Command-line flags (clap), with the original molotov's short flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::duration::{parse_duration, parse_positive_duration};

/// molotov: a fast, scriptable HTTP load tester.
///
/// Runs the scenarios of a `.mol` plan with `-w` workers in each of `-p` processes (one per
/// CPU core, each with its own io_uring executor) and prints a report. Without a PLAN it runs a
/// short demo against a built-in target server.
#[derive(Debug, Parser)]
#[command(
    name = "molotov",
    version,
    args_conflicts_with_subcommands = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Sub-commands (the default is to run PLAN).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The plan to run (a `.mol` file). Without it: the built-in demo.
    pub plan: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    /// `--config molotov.json --test NAME`.
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile plans and report their errors without sending anything (each plan reported;
    /// the exit status is the worst of them).
    Check {
        /// The plans to check.
        #[arg(required = true, num_args = 1..)]
        plans: Vec<PathBuf>,
    },
    /// Run the built-in demo: a target server on loopback and a small shop plan against it,
    /// with the live view (the same as `molotov` without a PLAN).
    Demo {
        #[command(flatten)]
        run: Box<RunArgs>,
    },
}

/// `--ring-depth`: 1 to [`molotov_runtime::MAX_RING_DEPTH`], the deepest ring the kernel
/// builds with molotov's completion queue (8 entries per ring entry, at most 65536).
fn ring_depth(text: &str) -> Result<u32, String> {
    let max = molotov_runtime::MAX_RING_DEPTH;
    let range = || {
        format!(
            "the ring depth is 1 to at most {max} (the kernel's largest completion queue, \
             65536 entries, is 8 per ring entry)"
        )
    };
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a whole number: {}", range()));
    }
    match digits.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(range()),
    }
}

/// Flags of a run.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Workers (concurrent users) per process [default: 1; the demo uses 20].
    #[arg(short = 'w', long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub workers: Option<u32>,

    /// Processes, each pinned to its own CPU (wrapping when there are more processes than CPUs).
    #[arg(short = 'p', long, default_value_t = 1, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub processes: u32,

    /// How long to send load: seconds (30, 1.5), or numbers with units (500ms, 30s, 5m, 1h,
    /// 1m30s).
    /// Without it the run lasts until --max-runs or Ctrl-C (the demo: 10s).
    #[arg(short = 'd', long, allow_hyphen_values = true, value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Scenario runs per worker, then the worker stops.
    #[arg(short = 'r', long, allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=u64::MAX))]
    pub max_runs: Option<u64>,

    /// Stop the whole run (all processes) on the first failure, and show it: the first
    /// failed scenario run (an assert, a capture, a transport error). A `check` only counts,
    /// and does not stop it.
    #[arg(short = 'x', long)]
    pub exception: bool,

    /// Exit with status 1 when N or more scenario runs failed (checked at the end).
    #[arg(short = 'f', long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=u64::MAX))]
    pub fail: Option<u64>,

    /// Write the JSON report (docs/report-format.md) to FILE; `-` writes it to stdout and moves
    /// the text report and live lines to stderr.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write a self-contained HTML report (charts and tables, readable offline) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// No live output: only the final report.
    #[arg(short = 'q', long, conflicts_with = "console")]
    pub quiet: bool,

    /// Plain console output: one line per interval (also when stdout is not a terminal, and
    /// with -v). Without -c, -q or -v, a terminal gets the full-screen live view (q or Ctrl-C
    /// stops the run).
    #[arg(short = 'c', long)]
    pub console: bool,

    /// Seconds between console lines.
    #[arg(long, default_value = "1s", allow_hyphen_values = true, value_parser = parse_positive_duration)]
    pub console_update: Duration,

    /// More output (uses the console view): -v prints each distinct failure once, with the
    /// plan line that failed and the status, and `log` lines; -vv also dumps requests and
    /// responses (rate-limited, bodies truncated).
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Internal diagnostics (process layout, limits, timings) on stderr.
    #[arg(long)]
    pub debug: bool,

    /// Seed for every random choice (scenario picks, rand_int, think times): same seed, same
    /// choices per worker. Random when not given.
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,

    /// Connect timeout for every connection.
    #[arg(long, default_value = "10s", allow_hyphen_values = true, value_parser = parse_positive_duration)]
    pub connect_timeout: Duration,

    /// HTTPS: accept any server certificate (no issuer, name or date checks).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// HTTPS: also trust the certificates of this PEM file (e.g. a private CA).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// HTTPS: the lowest TLS version to offer.
    #[arg(long, value_name = "1.2|1.3", default_value = "1.2")]
    pub tls_min: molotov_http::TlsVersion,

    /// After the end of the run (deadline, Ctrl-C, -x), how long in-flight requests may take
    /// before their process is stopped. The plan's teardown may take twice as long (at least
    /// 10s), then it is stopped and fails the run.
    #[arg(long, default_value = "30s", allow_hyphen_values = true, value_parser = parse_duration)]
    pub grace: Duration,

    /// Executor knob: spin this long before parking an idle executor (costs CPU; can lower
    /// latency at low concurrency). Off by default.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_positive_duration, hide_short_help = true)]
    pub spin_before_park: Option<Duration>,

    /// Executor knob: with nothing to run, wait up to D for responses to pile up before
    /// handling the first (Linux 6.12; ignored before). Fewer wake-ups, but up to D is added
    /// to the latency of a response that comes alone. Off by default.
    #[arg(long, value_name = "D", allow_hyphen_values = true, value_parser = parse_positive_duration, hide_short_help = true)]
    pub batch_wait: Option<Duration>,

    /// Executor knob: depth of each executor's io_uring ring (submission entries, 1 to 8192;
    /// the kernel rounds up to a power of two). Default: 128.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = ring_depth, hide_short_help = true)]
    pub ring_depth: Option<u32>,

    /// Build io_uring rings without a task-work flag (molotov asks for DEFER_TASKRUN, else
    /// COOP_TASKRUN, by default, to spare the load processes an interrupt per completion;
    /// see docs/engine.md).
    #[arg(long, hide_short_help = true)]
    pub no_coop_taskrun: bool,

    /// Executor knob: wait for a connection's responses with a one-shot io_uring poll per
    /// wait instead of one multishot poll per connection (the default, on Linux 5.13 and
    /// later; see docs/engine.md).
    #[arg(long, hide_short_help = true)]
    pub no_multishot_poll: bool,

    /// Executor knob: read responses with one multishot io_uring receive per connection,
    /// into buffers each load process lends the kernel (Linux 6.0), instead of recv(2)
    /// once a poll says the connection is readable: one system call less per response,
    /// latencies timed when the executor learned the bytes were there (not after other
    /// connections' work), 1-8 MiB more per process, more CPU for large bodies (see
    /// docs/engine.md).
    #[arg(long, hide_short_help = true)]
    pub multishot_recv: bool,

    /// Executor knob: prefetch a woken worker's state into the CPU's cache once all workers'
    /// states of a process reach SIZE (bytes, or with K or M: 256K; 0: always; never).
    /// Default: half the L2 cache (see docs/engine.md).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = crate::byte_size::parse_byte_size, hide_short_help = true)]
    pub prefetch_from: Option<usize>,

    /// Load models.
    #[command(flatten)]
    pub load: crate::load_args::LoadArgs,

    /// statsd.
    #[command(flatten)]
    pub statsd: crate::statsd_args::StatsdArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (args, flag) in [
            (&["molotov", "-w", "0", "p.mol"][..], "--workers"),
            (&["molotov", "-w", "-3", "p.mol"][..], "--workers"),
            (&["molotov", "-p", "0", "p.mol"][..], "--processes"),
            (&["molotov", "-d", "10x", "p.mol"][..], "--duration"),
            (&["molotov", "-d", "0", "p.mol"][..], "--duration"),
            (&["molotov", "-r", "0", "p.mol"][..], "--max-runs"),
            (&["molotov", "-p", "-1", "p.mol"][..], "--processes"),
            (&["molotov", "-d", "-5s", "p.mol"][..], "--duration"),
            (&["molotov", "-f", "0", "p.mol"][..], "--fail"),
            (&["molotov", "-f", "-2", "p.mol"][..], "--fail"),
            (&["molotov", "-q", "-c", "p.mol"][..], "--console"),
            (
                &["molotov", "--ring-depth", "0", "p.mol"][..],
                "--ring-depth",
            ),
            (
                &["molotov", "--ring-depth", "8193", "p.mol"][..],
                "at most 8192",
            ),
            (
                &["molotov", "--ring-depth", "32768", "p.mol"][..],
                "at most 8192",
            ),
            (
                &["molotov", "--ring-depth", "x", "p.mol"][..],
                "not a whole number",
            ),
            // Past the longest duration (1e9 s), a bare number of seconds included.
            (
                &["molotov", "-d", "18446744073709551615", "p.mol"][..],
                "--duration",
            ),
            (
                &[
                    "molotov",
                    "--console-update",
                    "18446744073709551615",
                    "p.mol",
                ][..],
                "--console-update",
            ),
            (
                &[
                    "molotov",
                    "--connect-timeout",
                    "18446744073709551615",
                    "p.mol",
                ][..],
                "--connect-timeout",
            ),
            (
                &[
                    "molotov",
                    "--spin-before-park",
                    "18446744073709551615",
                    "p.mol",
                ][..],
                "--spin-before-park",
            ),
            (
                &["molotov", "--delay", "18446744073709551615", "p.mol"][..],
                "--delay",
            ),
            (
                &["molotov", "--grace", "1000000001", "p.mol"][..],
                "--grace",
            ),
            (
                &["molotov", "--stages", "18446744073709551615:10", "p.mol"][..],
                "--stages",
            ),
            (
                &["molotov", "--stages", "600000000s:1,600000000s:1", "p.mol"][..],
                "the stages last more than",
            ),
        ] {
            let err = Cli::try_parse_from(args).unwrap_err().to_string();
            assert!(err.contains(flag), "{args:?}: {err}");
        }
    }

    #[test]
    fn report_flags_and_the_demo_subcommand() {
        let cli = Cli::try_parse_from([
            "molotov", "-f", "3", "--json", "-", "--html", "r.html", "x.mol",
        ])
        .unwrap();
        assert_eq!(cli.run.fail, Some(3));
        assert_eq!(cli.run.json.as_deref(), Some(std::path::Path::new("-")));
        assert_eq!(
            cli.run.html.as_deref(),
            Some(std::path::Path::new("r.html"))
        );
        let cli = Cli::try_parse_from(["molotov", "demo", "-d", "5", "-c"]).unwrap();
        match cli.command {
            Some(Command::Demo { run }) => {
                assert_eq!(run.duration, Some(Duration::from_secs(5)));
                assert!(run.console);
            }
            other => panic!("{other:?}"),
        }
        assert!(cli.plan.is_none());
    }

    #[test]
    fn ring_depths() {
        let depth = |text: &str| {
            Cli::try_parse_from(["molotov", "--ring-depth", text, "p.mol"])
                .map(|c| c.run.ring_depth)
                .map_err(|e| e.to_string())
        };
        assert_eq!(depth("1"), Ok(Some(1)));
        assert_eq!(depth("8192"), Ok(Some(8192)));
        for bad in [
            "0",
            "-1",
            "8193",
            "32768",
            "65536",
            "99999999999",
            "",
            "1.5",
        ] {
            let err = depth(bad).unwrap_err();
            assert!(err.contains("--ring-depth"), "{bad}: {err}");
            assert!(err.contains("at most 8192"), "{bad}: {err}");
        }
    }

    #[test]
    fn check_subcommand_and_plan() {
        let cli = Cli::try_parse_from(["molotov", "check", "x.mol"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Check { .. })));
        // Several plans (`molotov check examples/*.mol`), none is refused.
        let cli = Cli::try_parse_from(["molotov", "check", "x.mol", "y.mol"]).unwrap();
        match cli.command {
            Some(Command::Check { plans }) => assert_eq!(plans.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["molotov", "check"]).is_err());
        let cli =
            Cli::try_parse_from(["molotov", "-w", "5", "-p", "2", "-d", "1m", "x.mol"]).unwrap();
        assert_eq!(cli.run.workers, Some(5));
        assert_eq!(cli.run.duration, Some(Duration::from_secs(60)));
        assert_eq!(cli.plan.as_deref(), Some(std::path::Path::new("x.mol")));
        // A bare number is seconds, a fraction too (`-d 10` was 10 s, `-d 1.5` was refused).
        let cli = Cli::try_parse_from(["molotov", "-d", "1.5", "x.mol"]).unwrap();
        assert_eq!(cli.run.duration, Some(Duration::from_millis(1500)));
    }
}
