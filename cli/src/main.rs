//! The `molotov` binary: parses flags, compiles the plan, hands the run to molotov-core, prints
//! the report and maps the outcome to an exit code. Thin by design.

mod args;
mod byte_size;
mod config;
mod console;
mod demo;
mod duration;
mod exit;
mod finish;
mod foreign_flags;
mod live_output;
mod load_args;
mod molotov_json;
mod statsd_args;
mod tui;
mod view;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use molotov_core::engine::EngineOptions;
use molotov_core::run::{self, RunConfig};
use molotov_dsl::{CompileOptions, Program};

use args::{Command, RunArgs};

fn main() -> ExitCode {
    // Ctrl-C and SIGTERM stop a run the same way however molotov was started (docs/engine.md).
    if let Err(e) = molotov_core::process::obey_interrupt_signals() {
        molotov_core::errln!("molotov: warning: {e}");
    }
    ignore_file_size_signal();
    // The flags, with `--config FILE --test NAME` applied (and its `env` set).
    let cli = match config::parse() {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    let code = match &cli.command {
        Some(Command::Check { plans }) => check_all(plans),
        Some(Command::Demo { run }) => run_plan(None, run, None),
        None => run_plan(cli.plan.as_deref(), &cli.run, cli.config.config.as_deref()),
    };
    // What the live view left queued (a run that ended in an error), written before leaving.
    live_output::drain();
    ExitCode::from(code)
}

/// A report file over the file-size limit (`ulimit -f`) must fail its write with EFBIG, said
/// and exit 2 as a full disk is, instead of SIGXFSZ killing the master with the run's report
/// half written. Children inherit the disposition; they write no files.
fn ignore_file_size_signal() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: SIG_IGN installs no handler code; `main` calls this before any thread exists.
    if let Err(e) = unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) } {
        molotov_core::errln!("molotov: warning: cannot ignore SIGXFSZ: {e}");
    }
}

/// The resource limits `--debug` shows: as found (the run raises the soft limits of open
/// files and locked memory to their hard limits before it forks).
fn limits_line() -> String {
    use nix::sys::resource::{Resource, getrlimit};
    let show = |n: u64| {
        if n == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            n.to_string()
        }
    };
    [
        ("open files", Resource::RLIMIT_NOFILE),
        ("locked memory (bytes)", Resource::RLIMIT_MEMLOCK),
        ("processes", Resource::RLIMIT_NPROC),
        ("file size (bytes)", Resource::RLIMIT_FSIZE),
        ("address space (bytes)", Resource::RLIMIT_AS),
    ]
    .iter()
    .map(|&(name, resource)| match getrlimit(resource) {
        Ok((soft, hard)) => format!("{name} {} (hard {})", show(soft), show(hard)),
        Err(e) => format!("{name} unknown ({e})"),
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// The `--debug` line of the run's shape, in words (it printed Rust's `Some(1s)`, `None`):
/// `2 processes x 1 worker, seed 7, duration until -r or a stop, max runs 3 per worker,
/// allowed CPUs 0,1`.
fn run_shape_line(config: &RunConfig, seed: u64) -> String {
    let cpus = molotov_core::process::allowed_cpus().unwrap_or_default();
    format!(
        "{} x {}, seed {seed}, duration {}, max runs {}, allowed CPUs {}",
        counted(config.processes, "process"),
        counted(config.workers, "worker"),
        config
            .duration
            .map_or_else(|| "until -r or a stop".to_string(), duration::natural),
        config
            .options
            .max_runs
            .map_or_else(|| "none".to_string(), |r| format!("{r} per worker")),
        if cpus.is_empty() {
            "unknown".to_string()
        } else {
            cpus.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
    )
}

/// "1 scenario", "2 scenarios".
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if noun.ends_with('s') {
        format!("{n} {noun}es")
    } else {
        format!("{n} {noun}s")
    }
}

/// `molotov check PLAN...`: each plan compiled and reported; the worst exit status of
/// them (2 when any has an error).
fn check_all(paths: &[PathBuf]) -> u8 {
    paths.iter().map(|p| check(p)).max().unwrap_or(exit::OK)
}

/// `molotov check PLAN`: compile only.
fn check(path: &Path) -> u8 {
    match molotov_dsl::compile(path, &CompileOptions::default()) {
        Ok(program) => {
            warn_of(&program);
            // The file name may hold control characters: shown escaped, as in diagnostics.
            let line = format!(
                "{}: ok ({}, {}, {}, {})\n",
                molotov_core::printable::printable_path(path),
                counted(program.scenarios().len(), "scenario"),
                counted(program.requests().len(), "request"),
                counted(program.checks().len(), "check"),
                counted(program.thresholds().len(), "threshold")
            );
            // Not `println!`, which panics when stdout fails (`> /dev/full`): a reader that went
            // away asked for no more; any other failure is said, exit 2.
            match finish::to_stdout(&line) {
                Ok(()) => exit::OK,
                Err(e) => {
                    molotov_core::errln!("molotov: error: cannot write to stdout: {e}");
                    exit::PLAN_ERROR
                }
            }
        }
        Err(diagnostics) => {
            finish::to_stderr(&diagnostics.to_string());
            exit::PLAN_ERROR
        }
    }
}

/// Prints the plan's warnings (it compiled; it runs, but maybe not as meant) on stderr, in
/// the form of its errors, each followed by a blank line.
fn warn_of(program: &Program) {
    for warning in program.warnings() {
        finish::to_stderr(&format!("{warning}\n"));
    }
    // Past the first fifty: how many more, in one line.
    if let Some(line) = program.warnings().omitted_line() {
        finish::to_stderr(&format!("{line}\n\n"));
    }
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Runs `plan` (the demo without one) with the flags `a`; `config` is the `--config` file
/// the flags came from, if any (a report must not overwrite it).
fn run_plan(plan: Option<&Path>, a: &RunArgs, config: Option<&Path>) -> u8 {
    // `--json /dev/stdout` (or the file stdout goes to) is `--json -`.
    let json = a.json.as_deref().map(|p| {
        if finish::json_names_stdout(p) {
            Path::new("-")
        } else {
            p
        }
    });
    let json_to_stdout = json == Some(Path::new("-"));
    let view_kind = view::choose(&view::Context {
        quiet: a.quiet,
        console: a.console,
        verbose: a.verbose,
        stdout_is_terminal: std::io::IsTerminal::is_terminal(&std::io::stdout()),
        dumb_terminal: std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb"),
        json_to_stdout,
    });
    // The plan, or the demo target and its plan.
    let (program, demo) = match plan {
        Some(path) => match molotov_dsl::compile(path, &CompileOptions::default()) {
            Ok(program) => {
                warn_of(&program);
                (program, None)
            }
            Err(diagnostics) => {
                finish::to_stderr(&diagnostics.to_string());
                return exit::PLAN_ERROR;
            }
        },
        None => match start_demo() {
            Ok(pair) => pair,
            Err(e) => {
                molotov_core::errln!("molotov: error: {e:#}");
                return exit::RUNTIME;
            }
        },
    };
    let is_demo = demo.is_some();
    let load = match load_args::resolve(&a.load, &program, a.duration) {
        Ok(load) => load,
        Err(e) => {
            molotov_core::errln!("molotov: error: {e}");
            return exit::PLAN_ERROR;
        }
    };
    for warning in &load.warnings {
        molotov_core::errln!("molotov: warning: {warning}");
    }
    let seed = a.seed.unwrap_or_else(random_seed);
    // HTTPS settings: checked here (an unreadable --cacert is reported before any load).
    let tls = molotov_http::TlsOptions {
        insecure: a.insecure,
        ca_file: a.cacert.clone(),
        min_version: a.tls_min,
    };
    if let Err(e) = molotov_http::TlsConnector::new(&tls) {
        molotov_core::errln!("molotov: error: {e}");
        return exit::PLAN_ERROR;
    }
    // The report files before the run: a wrong path fails now, not after a long run (an
    // existing file keeps its contents until there is a report to put in it).
    let read_too: Vec<(&str, &Path)> = [("--config", config), ("--cacert", a.cacert.as_deref())]
        .into_iter()
        .filter_map(|(flag, p)| Some((flag, p?)))
        .collect();
    let files = match finish::ReportFiles::create(
        json,
        a.html.as_deref(),
        program.input_files(),
        &read_too,
    ) {
        Ok(files) => files,
        Err(e) => {
            molotov_core::errln!("molotov: error: {e}");
            if let Some(d) = demo {
                d.stop();
            }
            return exit::PLAN_ERROR;
        }
    };
    let config = RunConfig {
        workers: a
            .workers
            .or(load.default_workers)
            .unwrap_or(if is_demo { 20 } else { 1 }) as usize,
        processes: a.processes as usize,
        duration: a
            .duration
            .or(load.default_duration)
            .or(if is_demo && a.max_runs.is_none() {
                Some(Duration::from_secs(10))
            } else {
                None
            }),
        options: EngineOptions {
            max_runs: a.max_runs,
            exception: a.exception,
            seed,
            print_logs: a.verbose > 0,
            client: molotov_http::ClientConfig {
                connect_timeout: a.connect_timeout,
                tls,
                ..Default::default()
            },
            spin_before_park: a.spin_before_park,
            batch_wait: a.batch_wait,
            ring_depth: a.ring_depth.map(|n| n as usize),
            coop_taskrun: !a.no_coop_taskrun,
            multishot_poll: !a.no_multishot_poll,
            multishot_recv: a.multishot_recv,
            prefetch_from: a.prefetch_from,
            dump: a.verbose >= 2,
            load: load.load.clone(),
        },
        tick: view::tick(view_kind, a.console_update),
        grace: a.grace,
        sizing: load.sizing,
    };
    // A ramp longer than the run: the workers due after the deadline never start, and the
    // run (green) sent a part of the load asked for without a word.
    if let (Some(ramp), Some(duration)) = (config.options.load.ramp_up, config.duration) {
        let total = (config.processes * config.workers) as u64;
        let starting = molotov_core::load::workers_starting_within(ramp, duration, total);
        if starting < total {
            molotov_core::errln!(
                "molotov: warning: --ramp-up {} is longer than the run ({}): {} of {} workers \
                 are due after its end and will not start",
                duration::natural(ramp),
                duration::natural(duration),
                total - starting,
                total
            );
        }
    }
    if a.debug {
        molotov_core::errln!("molotov: debug: {}", run_shape_line(&config, seed));
        molotov_core::errln!(
            "molotov: debug: live view {}, tick {}",
            match view_kind {
                view::ViewKind::FullScreen => "full-screen",
                view::ViewKind::Console => "console",
                view::ViewKind::Quiet => "quiet",
            },
            duration::natural(config.tick)
        );
        molotov_core::errln!(
            "molotov: debug: limits: {} (soft limits of open files and locked memory are \
             raised to the hard ones for the run)",
            limits_line()
        );
    }
    let names = run::names_of(&program);
    let plan_label = plan.map_or_else(|| "demo".to_string(), |p| p.display().to_string());
    let program = Arc::new(program);
    let clock = view::StartClock::default();
    let failure_log = (a.verbose > 0).then(|| console::FailureLog::shared(names.clone()));
    let mut statsd =
        statsd_args::connect(&a.statsd, &names, view_kind != view::ViewKind::FullScreen);
    let mut observers = run::Observers::default();
    observers.list.push(view::make(
        view_kind,
        names,
        tui::RunShape {
            // The view's header is on the terminal: the name's control characters escaped
            // (the JSON and HTML reports keep the true name, each escaped its own way).
            plan: molotov_core::printable::printable(&plan_label).into_owned(),
            processes: config.processes,
            workers: config.workers,
            duration: config.duration,
            total_runs: config
                .options
                .max_runs
                .map(|r| r * (config.processes * config.workers) as u64),
            schedule: config
                .options
                .load
                .rate
                .as_ref()
                .map(|r| r.schedule.clone()),
        },
        failure_log.clone(),
        if json_to_stdout {
            console::Stream::Stderr
        } else {
            console::Stream::Stdout
        },
    ));
    observers.push(clock.clone());
    if let Some(s) = statsd.as_mut() {
        observers.push(s);
    }
    if let Some(d) = &demo {
        molotov_core::errln!(
            "molotov: demo: built-in target server on http://{}; press Ctrl-C to stop early",
            d.addr
        );
    }
    let run_started = std::time::SystemTime::now();
    let result = run::run(Arc::clone(&program), &config, &mut observers);
    // Closes the live view (restores the terminal) before anything is printed.
    drop(observers);
    if let Some(d) = demo {
        d.stop();
    }
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            molotov_core::errln!("molotov: error: {e}");
            // No run, no report: the files stay as they were.
            files.abandon();
            return exit::of_run_error(&e);
        }
    };
    if a.debug {
        let (coop, refused) = result.summary.rings_coop;
        molotov_core::errln!(
            "molotov: debug: io_uring rings with a task-work flag (DEFER_TASKRUN or COOP_TASKRUN): {coop}, refused by the kernel: {refused}"
        );
    }
    // The last statsd flush: the final totals (the teardown's included).
    if let Some(s) = &mut statsd {
        s.finish(&result.summary);
        if a.debug {
            let stats = s.stats();
            molotov_core::errln!(
                "molotov: debug: statsd at {}: {} flushes, {} datagrams sent, {} dropped, {} lines too long",
                s.addr(),
                stats.flushes,
                stats.datagrams_sent,
                stats.datagrams_dropped,
                stats.oversized_lines
            );
        }
    }
    if let Some(log) = &failure_log {
        log.borrow_mut().print_remaining(&result.summary);
    }
    // The load models' own sections, after the main report.
    let mut extra = String::new();
    if let Some(rate) = &config.options.load.rate {
        extra.push_str(&format!(
            "\n{}",
            molotov_core::models_report::render_open_model(&result.summary, &rate.schedule)
        ));
    }
    if let Some(sizing) = &result.sizing {
        extra.push_str(&format!(
            "\n{}",
            molotov_core::models_report::render_sizing(sizing)
        ));
    }
    let ending = finish::Finish {
        plan: &plan_label,
        program: &program,
        config: &config,
        fail: a.fail,
        show_seed: a.verbose > 0 || a.debug,
        started_at: clock.0.get().unwrap_or(run_started),
        extra,
    };
    finish::finish(&ending, &result, files)
}

fn start_demo() -> anyhow::Result<(Program, Option<demo::DemoTarget>)> {
    let target = demo::DemoTarget::start()?;
    let base = format!("http://{}", target.addr);
    let options = CompileOptions {
        env: Box::new(move |name: &str| {
            if name == "TARGET" {
                Ok(base.clone())
            } else {
                std::env::var(name)
            }
        }),
    };
    match molotov_dsl::compile_source("demo.mol", demo::PLAN, Path::new("."), &options) {
        Ok(program) => Ok((program, Some(target))),
        Err(diagnostics) => {
            target.stop();
            Err(anyhow::anyhow!(
                "the built-in demo plan does not compile:\n{diagnostics}"
            ))
        }
    }
}
