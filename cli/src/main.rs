//! The `molotov` binary: parses flags, compiles the plan, hands the run to molotov-core, prints
//! the report and maps the outcome to an exit code. Thin by design.

mod args;
mod console;
mod demo;
mod duration;
mod exit;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use molotov_core::engine::EngineOptions;
use molotov_core::run::{self, Ending, RunConfig};
use molotov_dsl::{CompileOptions, Program};

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match &cli.command {
        Some(Command::Check { plan }) => check(plan),
        None => run_plan(&cli),
    };
    ExitCode::from(code)
}

/// `molotov check PLAN`: compile only.
fn check(path: &Path) -> u8 {
    match molotov_dsl::compile(path, &CompileOptions::default()) {
        Ok(program) => {
            println!(
                "{}: ok ({} scenarios, {} requests, {} checks, {} thresholds)",
                path.display(),
                program.scenarios().len(),
                program.requests().len(),
                program.checks().len(),
                program.thresholds().len()
            );
            exit::OK
        }
        Err(diagnostics) => {
            eprint!("{diagnostics}");
            exit::PLAN_ERROR
        }
    }
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

fn run_plan(cli: &Cli) -> u8 {
    let a = &cli.run;
    // The plan, or the demo target and its plan.
    let (program, demo) = match &cli.plan {
        Some(path) => match molotov_dsl::compile(path, &CompileOptions::default()) {
            Ok(program) => (program, None),
            Err(diagnostics) => {
                eprint!("{diagnostics}");
                return exit::PLAN_ERROR;
            }
        },
        None => match start_demo() {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("molotov: error: {e:#}");
                return exit::RUNTIME;
            }
        },
    };
    let is_demo = demo.is_some();
    let seed = a.seed.unwrap_or_else(random_seed);
    let config = RunConfig {
        workers: a.workers.unwrap_or(if is_demo { 20 } else { 1 }) as usize,
        processes: a.processes as usize,
        duration: a.duration.or(if is_demo && a.max_runs.is_none() {
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
                ..Default::default()
            },
            spin_before_park: a.spin_before_park,
            dump: a.verbose >= 2,
        },
        tick: if a.quiet {
            console::QUIET_TICK
        } else {
            a.console_update
        },
        grace: a.grace,
    };
    if a.debug {
        eprintln!(
            "molotov: debug: {} process(es) x {} worker(s), seed {seed}, duration {:?}, max runs {:?}, allowed CPUs {:?}",
            config.processes,
            config.workers,
            config.duration,
            config.options.max_runs,
            molotov_core::process::allowed_cpus().unwrap_or_default()
        );
    }
    let names = run::names_of(&program);
    let mut view = console::Console::new(names.clone(), !a.quiet, a.verbose > 0);
    if let Some(d) = &demo {
        eprintln!(
            "molotov: demo: built-in target server on http://{}; press Ctrl-C to stop early",
            d.addr
        );
    }
    let result = run::run(Arc::new(program), &config, &mut view);
    if let Some(d) = demo {
        d.stop();
    }
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("molotov: error: {e}");
            return exit::RUNTIME;
        }
    };
    print!("{}", molotov_core::report::render(&result.summary));
    if let Some(f) = &result.first_failure
        && matches!(
            result.ending,
            Ending::StoppedOnFailure | Ending::SetupFailed
        )
    {
        {
            let label = if result.ending == Ending::SetupFailed {
                "setup failed"
            } else {
                "stopped on the first failure"
            };
            let at = f
                .location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            let status = if f.status > 0 {
                format!(" (status {})", f.status)
            } else {
                String::new()
            };
            println!("\n{label}: {}{at}{status}: {}", f.what, f.message);
        }
    }
    if a.verbose > 0 || a.debug {
        println!("seed: {seed}");
    }
    match result.ending {
        Ending::Interrupted(_) => exit::INTERRUPTED,
        Ending::SetupFailed => exit::FAILURES,
        Ending::StoppedOnFailure => exit::FAILURES,
        Ending::Completed if !result.failed_processes.is_empty() => exit::RUNTIME,
        Ending::Completed => exit::OK,
    }
}

fn start_demo() -> anyhow::Result<(Program, Option<demo::DemoTarget>)> {
    let target = demo::DemoTarget::start()?;
    let base = format!("http://{}", target.addr);
    let options = CompileOptions {
        env: Box::new(move |name: &str| {
            if name == "TARGET" {
                Some(base.clone())
            } else {
                std::env::var(name).ok()
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
