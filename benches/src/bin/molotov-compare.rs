//! `molotov-compare`: runs the end-to-end comparison of molotov against wrk, h2load and oha
//! (scenarios in `molotov_benches::scenario`) and prints the tables and the verdict on each of
//! issue 9's targets. `benches/compare` installs the peers, builds everything and runs this.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use molotov_benches::measure::{cpu_list, parse_cpu_list, raise_open_files};
use molotov_benches::report::{self, Machine};
use molotov_benches::scenario::{self, Programs, Scenario, Settings};

/// Compares molotov with wrk, h2load and oha: requests per second, requests per CPU-second
/// of the whole process tree, latency accuracy, memory. Load and target run on separate CPUs.
///
/// Exit status: 0; 1 when a scenario could not run or every run of a contestant in a scenario
/// failed (the summary ends with a FAILED line for each); 2 on bad arguments. A peer left out
/// (`none`, not installed) is not a failure: the tables say "not measured".
#[derive(Debug, Parser)]
#[command(name = "molotov-compare", max_term_width = 100)]
struct Args {
    /// Short run: 2 rounds of 2 s (unless --rounds or --duration say otherwise).
    #[arg(long)]
    quick: bool,
    /// Rounds: every contestant of a scenario runs once per round, alternating [default: 5].
    #[arg(long)]
    rounds: Option<usize>,
    /// Length of each run: 5, 5s, 2500ms [default: 5s]. wrk takes whole seconds only: a
    /// fraction of a second is refused when wrk runs (leave it out with --wrk none).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Comma-separated scenarios: static-50, static-200, static-1, plan, slow, memory, open,
    /// scaling [default: all but scaling].
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// CPUs of the load generators (taskset syntax).
    #[arg(long, default_value = "0")]
    load_cpus: String,
    /// CPUs of the target: one nginx worker or molotov-target thread per CPU.
    #[arg(long, default_value = "1")]
    target_cpus: String,
    /// nginx's port on 127.0.0.1 [default: a free one].
    #[arg(long)]
    port: Option<u16>,
    /// molotov-target's port on 127.0.0.1 (the `slow` scenario) [default: a free one].
    #[arg(long)]
    slow_port: Option<u16>,
    /// Raw outputs, generated plans and nginx's files.
    #[arg(long, default_value = "/tmp/molotov-compare")]
    work_dir: PathBuf,
    /// -p of the scaling scenario's large run.
    #[arg(long, default_value_t = 8)]
    scaling_processes: usize,
    /// -w per process of the scaling scenario (wrk: connections per thread).
    #[arg(long, default_value_t = 50)]
    scaling_workers: usize,
    /// Starts per second of the open scenario (molotov --rate, oha -q).
    #[arg(long, default_value_t = 20_000)]
    open_rate: u32,
    /// Pause between runs.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pause: Duration,
    /// The molotov binary [default: next to this one].
    #[arg(long)]
    molotov: Option<PathBuf>,
    /// The molotov-target binary [default: next to this one].
    #[arg(long)]
    target_server: Option<PathBuf>,
    /// nginx [default: from PATH or /usr/sbin]. A peer given as a path that does not exist,
    /// or as a name not in PATH (e.g. `--oha none`), is left out.
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// wrk [default: from PATH].
    #[arg(long)]
    wrk: Option<PathBuf>,
    /// h2load [default: from PATH].
    #[arg(long)]
    h2load: Option<PathBuf>,
    /// oha [default: from PATH, then ~/.cargo/bin].
    #[arg(long)]
    oha: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        (text, 1.0)
    };
    number
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v * scale).ok())
        .ok_or_else(|| format!("bad duration `{text}` (want e.g. 5, 5s or 2500ms)"))
}

/// `name` in PATH, then in `extra` folders.
fn which(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// molotov refuses to start unless the open-file limit covers one socket per worker and
/// origin plus its own few descriptors (molotov-core's `preflight::check_fds`: the static plan
/// has one origin); where the limit cannot be raised to that (no CAP_SYS_RESOURCE), the
/// memory scenario's large run uses the most workers it allows, with 64 to spare.
fn memory_large_workers(open_files: u64) -> usize {
    const WANTED: u64 = 10_000;
    if open_files >= WANTED + 64 {
        WANTED as usize
    } else {
        open_files.saturating_sub(64).max(100) as usize
    }
}

/// A port nobody listens on right now (the kernel's pick for port 0).
fn free_port() -> Option<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}

/// The path given on the command line (left out when it does not exist: `--oha none` leaves
/// oha out), or `name` found in PATH or `extra`.
fn given_or_found(given: Option<PathBuf>, name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    match given {
        Some(path) if path.components().count() > 1 => path.is_file().then_some(path),
        Some(bare) => which(&bare.to_string_lossy(), extra),
        None => which(name, extra),
    }
}

fn next_to_me(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The first line a program prints for its version flag.
fn version(program: &Path, flag: &str) -> String {
    match std::process::Command::new(program).arg(flag).output() {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            text.lines().next().unwrap_or("").trim().to_string()
        }
        Err(e) => format!("({e})"),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (load_cpus, target_cpus) = match (
        parse_cpu_list(&args.load_cpus),
        parse_cpu_list(&args.target_cpus),
    ) {
        (Ok(l), Ok(t)) => (l, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("molotov-compare: {e}");
            return ExitCode::from(2);
        }
    };
    let mut scenarios = Vec::new();
    for name in &args.scenarios {
        match Scenario::from_name(name) {
            Some(s) => scenarios.push(s),
            None => {
                let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                eprintln!(
                    "molotov-compare: unknown scenario `{name}` (known: {})",
                    known.join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    if scenarios.is_empty() {
        scenarios = Scenario::DEFAULT.to_vec();
    }
    let home_cargo = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo/bin"))
        .into_iter()
        .collect::<Vec<_>>();
    let sbin = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    let programs = Programs {
        molotov: args.molotov.unwrap_or_else(|| next_to_me("molotov")),
        target_server: args
            .target_server
            .unwrap_or_else(|| next_to_me("molotov-target")),
        nginx: given_or_found(args.nginx, "nginx", &sbin),
        wrk: given_or_found(args.wrk, "wrk", &[]),
        h2load: given_or_found(args.h2load, "h2load", &[]),
        oha: given_or_found(args.oha, "oha", &home_cargo),
    };
    // molotov's -w 10000 needs one descriptor per worker (one origin) plus its own few, in
    // one process (see memory_large_workers); wrk and oha get the same limit.
    let open_files = raise_open_files(1 << 16);
    let settings = Settings {
        programs,
        rounds: args.rounds.unwrap_or(if args.quick { 2 } else { 5 }).max(1),
        duration: args
            .duration
            .unwrap_or(Duration::from_secs(if args.quick { 2 } else { 5 })),
        load_cpus,
        target_cpus,
        port: args.port.or_else(free_port).unwrap_or(18081),
        slow_port: args.slow_port.or_else(free_port).unwrap_or(18082),
        work_dir: args.work_dir,
        scaling_processes: args.scaling_processes.max(1),
        scaling_workers: args.scaling_workers.max(1),
        memory_workers: [100, memory_large_workers(open_files)],
        open_rate: args.open_rate.max(1),
        pause: args.pause,
    };
    if let Some(why) = scenario::duration_problem(settings.duration, &scenarios, &settings.programs)
    {
        eprintln!("molotov-compare: {why}");
        return ExitCode::from(2);
    }
    let machine = Machine::detect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut header = String::new();
    header.push_str(&format!(
        "# molotov comparison, {}\nmachine: nproc {}, {}, kernel {}\n",
        report::utc_date(now),
        machine.nproc,
        machine.cpu_model,
        machine.kernel
    ));
    header.push_str(&format!(
        "load on CPUs {}, target on CPUs {}; {} round(s) of {:.1}s per contestant; open files limit {open_files}\n",
        cpu_list(&settings.load_cpus),
        cpu_list(&settings.target_cpus),
        settings.rounds,
        settings.duration.as_secs_f64()
    ));
    let p = &settings.programs;
    let mut versions = vec![format!("molotov: {}", version(&p.molotov, "--version"))];
    for (name, path, flag) in [
        ("nginx", &p.nginx, "-v"),
        ("wrk", &p.wrk, "-v"),
        ("h2load", &p.h2load, "--version"),
        ("oha", &p.oha, "--version"),
    ] {
        versions.push(match path {
            Some(path) => format!("{name}: {}", version(path, flag)),
            None => format!("{name}: not installed"),
        });
    }
    header.push_str(&format!("versions: {}\n", versions.join("; ")));
    if settings.memory_workers[1] < 10_000 {
        header.push_str(&format!(
            "warning: the open-file limit ({open_files}) cannot be raised here, and molotov needs one per worker + its own: the memory scenario uses -w {} instead of -w 10000\n",
            settings.memory_workers[1]
        ));
    }
    if settings
        .load_cpus
        .iter()
        .any(|c| settings.target_cpus.contains(c))
    {
        header.push_str("warning: load and target share CPUs\n");
    }
    if let Some(&max) = settings.load_cpus.iter().chain(&settings.target_cpus).max()
        && max >= machine.nproc
    {
        header.push_str(&format!(
            "warning: CPU {max} is not available here (nproc {})\n",
            machine.nproc
        ));
    }
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "{header}");
    let mut outcomes = Vec::new();
    let mut failed = false;
    for s in scenarios {
        match scenario::run(s, &settings, &mut stdout) {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                failed = true;
                let _ = writeln!(stdout, "\n== {}: not run: {e}", s.name());
            }
        }
    }
    let mut summary = format!("\n{header}");
    for outcome in &outcomes {
        summary.push_str(&report::scenario_table(outcome));
    }
    summary.push_str(&report::verdict_table(&report::verdicts(&outcomes)));
    // A contestant that never ran to the end is a failed comparison, not a peer left out.
    let all_failed = report::all_runs_failed(&outcomes);
    for line in &all_failed {
        summary.push_str(&format!("\nFAILED: {line}"));
    }
    if !all_failed.is_empty() {
        summary.push('\n');
        failed = true;
    }
    summary.push_str(&format!(
        "\nraw outputs: {}\n",
        settings.work_dir.join("raw").display()
    ));
    let _ = write!(stdout, "{summary}");
    let file = settings.work_dir.join("summary.txt");
    if let Err(e) = std::fs::write(&file, &summary) {
        eprintln!("molotov-compare: {}: {e}", file.display());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_run_fits_the_open_file_limit() {
        assert_eq!(memory_large_workers(65_536), 10_000);
        assert_eq!(memory_large_workers(20_000), 10_000);
        assert_eq!(memory_large_workers(10_064), 10_000);
        assert_eq!(memory_large_workers(10_000), 9_936);
        assert_eq!(memory_large_workers(1_024), 960);
    }

    #[test]
    fn durations_on_the_command_line() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2500ms"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("5m").is_err());
    }
}
