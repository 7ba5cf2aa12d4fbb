//! `molotov --config molotov.json --test NAME [PLAN]`: the options of a named test of a
//! Python molotov `molotov.json` (format: `molotov_json.rs`), applied as if they had been given
//! on the command line, with the flags actually given there winning.
//!
//! How: the command line is parsed alone first (so `--help` and its own mistakes behave as
//! usual); each option of the test becomes the flag of the same long name (`max_runs` is
//! `--max-runs`, `users` is `--workers`, `plan`/`scenario` is PLAN) and is checked by that
//! flag's own parser; an option is dropped when its flag, or a flag it conflicts with, was
//! given on the command line (clap's `ArgMatches::value_source`); then the kept options and
//! the command line are parsed together. That is right for every kind of flag: a value flag
//! is given once, a count (`verbose: 2`) is replaced rather than added to, a boolean from the
//! file yields to a conflicting one on the command line (`"quiet": true` with `-c`).
//!
//! The file's `env` (and the test's own `env`) is set in the process environment before the
//! plan is compiled, so `{{env.NAME}}` sees it; `requirements` is accepted and reported as
//! not needed.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, ColorChoice, Command, CommandFactory, FromArgMatches};
use serde_json::Value;

use crate::args::Cli;
use crate::exit;
use crate::molotov_json::{self, FileError, MolotovJson, kind_of};

/// `--config` and `--test`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Take the run's options from test NAME (--test) of FILE, a Python molotov
    /// `molotov.json`; flags given on the command line win (docs/molotov-json.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The test of --config to run.
    #[arg(long, value_name = "NAME", requires = "config")]
    pub test: Option<String>,
}

/// What can be wrong with the options of a test. Each message names the file and the test
/// and says what is valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is unreadable, not JSON, or not shaped like a `molotov.json`.
    #[error(transparent)]
    File(#[from] FileError),
    /// `--config` without `--test`.
    #[error("--config {}: give the test to run with --test NAME; {}", path.display(), tests_list(tests))]
    NoTest {
        /// The file.
        path: PathBuf,
        /// Its tests.
        tests: Vec<String>,
    },
    /// An option no flag has.
    #[error("{}: test {test:?}: unknown option {key:?}; the valid options are: {}", path.display(), valid.join(", "))]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
        /// The option.
        key: String,
        /// Every valid option.
        valid: Vec<String>,
    },
    /// An option of the wrong JSON type.
    #[error("{}: test {test:?}: {key:?} must be {expected}, found {found}", path.display())]
    Type {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
        /// The option.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// An option whose value its flag rejects.
    #[error("{}: test {test:?}: {key:?}: {message}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
        /// The option.
        key: String,
        /// Why (the flag's own message).
        message: String,
    },
    /// Neither the test nor the command line names a plan.
    #[error("{}: test {test:?} names no plan: add \"plan\": \"FILE.mol\" (or \"scenario\") to it, or give PLAN on the command line", path.display())]
    NoPlan {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
    },
    /// Options that are fine alone but not together (or with the command line).
    #[error("{}: test {test:?}: {message}", path.display())]
    Combined {
        /// The file.
        path: PathBuf,
        /// The test.
        test: String,
        /// clap's message.
        message: String,
    },
}

fn tests_list(tests: &[String]) -> String {
    if tests.is_empty() {
        "the file has no tests".into()
    } else {
        format!("its tests are: {}", tests.join(", "))
    }
}

/// The command line with a test's options applied.
#[derive(Debug)]
pub struct Loaded {
    /// The flags.
    pub cli: Cli,
    /// Variables to set before compiling the plan (empty without `--config`).
    pub env: Vec<(String, String)>,
    /// Notes for stderr (`requirements`).
    pub notes: Vec<String>,
}

/// Why [`load`] did not produce flags.
#[derive(Debug)]
pub enum Failure {
    /// The command line itself is wrong, or asks for `--help`/`--version`.
    Clap(clap::Error),
    /// The `--config` file or its test is wrong.
    Config(ConfigError),
}

/// Parses the process's command line and applies `--config`; prints what goes wrong.
/// Sets the config's `env` in the process environment: call it first thing in `main`, while
/// the process has a single thread.
pub fn parse() -> Result<Cli, u8> {
    let args: Vec<OsString> = std::env::args_os().collect();
    match load(&args) {
        Ok(loaded) => {
            for note in &loaded.notes {
                molotov_core::errln!("{note}");
            }
            for (name, value) in &loaded.env {
                // SAFETY: `main` calls `parse` before anything else: the process has one
                // thread (the master never starts one before the run, and the demo target's
                // threads start later), so nothing reads the environment concurrently.
                unsafe { std::env::set_var(name, value) };
            }
            Ok(loaded.cli)
        }
        Err(Failure::Clap(e)) => e.exit(),
        Err(Failure::Config(e)) => {
            molotov_core::errln!("molotov: error: {e}");
            Err(exit::PLAN_ERROR)
        }
    }
}

/// How an option of the file turns into command-line tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A boolean flag (`--exception`): `true` gives the flag, `false` nothing.
    Flag,
    /// A counted flag (`-v`): N gives N times the flag.
    Count,
    /// A flag with a value (`--workers N`): a string or a number.
    Value,
    /// The PLAN positional (`plan`, `scenario`): a path relative to the file.
    Plan,
}

/// An option of the file: its key and the argument it sets.
#[derive(Debug, Clone)]
struct Spec {
    key: String,
    id: String,
    long: Option<String>,
    kind: Kind,
}

/// Flags that are not options of a test.
const NOT_OPTIONS: &[&str] = &["config", "test", "help", "version"];

/// Every option a test may have, from the clap definition (so a new flag is a valid key at
/// once), plus the original's aliases.
fn specs(cmd: &Command) -> Vec<Spec> {
    let mut specs = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else {
            continue;
        };
        if NOT_OPTIONS.contains(&id) {
            continue;
        }
        let kind = match arg.get_action() {
            ArgAction::SetTrue => Kind::Flag,
            ArgAction::Count => Kind::Count,
            ArgAction::Set | ArgAction::Append => Kind::Value,
            _ => continue,
        };
        specs.push(Spec {
            key: long.replace('-', "_"),
            id: id.to_string(),
            long: Some(long.to_string()),
            kind,
        });
    }
    // Python molotov's names.
    if let Some(workers) = specs.iter().find(|s| s.id == "workers").cloned() {
        specs.push(Spec {
            key: "users".into(),
            ..workers
        });
    }
    for key in ["plan", "scenario"] {
        specs.push(Spec {
            key: key.into(),
            id: "plan".into(),
            long: None,
            kind: Kind::Plan,
        });
    }
    specs.sort_by(|a, b| a.key.cmp(&b.key));
    specs
}

/// The valid keys of a test, for messages.
fn valid_keys(specs: &[Spec]) -> Vec<String> {
    let mut keys: Vec<String> = specs.iter().map(|s| s.key.clone()).collect();
    keys.extend(["env".to_string(), "requirements".to_string()]);
    keys.sort();
    keys
}

fn command() -> Command {
    Cli::command().color(ColorChoice::Never)
}

/// `cmd` with the statsd flags no longer requiring `--statsd` (see [`load`]).
fn statsd_flags_alone(cmd: Command) -> Command {
    [
        "statsd_host",
        "statsd_port",
        "statsd_address",
        "statsd_prefix",
        "statsd_interval",
    ]
    .into_iter()
    .fold(cmd, |cmd, id| {
        cmd.mut_arg(id, |a| a.requires(clap::builder::Resettable::Reset))
    })
}

/// The message of a clap error on one line, without `error: ` and the usage that follows.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    message
        .strip_prefix("error: ")
        .unwrap_or(&message)
        .to_string()
}

/// Parses `args` (the process's arguments, program name first) and applies `--config`.
pub fn load(args: &[OsString]) -> Result<Loaded, Failure> {
    let cmd = Cli::command();
    let parse = |with: Command| {
        with.try_get_matches_from(args).map_err(|e| {
            Failure::Clap(crate::foreign_flags::explain(
                second_plan(e, args),
                &cmd,
                args,
            ))
        })
    };
    // The statsd flags require `--statsd`, which a molotov.json test may give: on the
    // command line alone they are parsed without that rule, and the combined command line
    // (below) or, without `--config`, a second parse of this one applies it. It refused
    // `--config molotov.json --test T --statsd-address ...` for a test with "statsd": true.
    let matches = parse(statsd_flags_alone(cmd.clone()))?;
    let cli = Cli::from_arg_matches(&matches).map_err(Failure::Clap)?;
    let (matches, cli) = if cli.config.config.is_none() {
        let matches = parse(cmd.clone())?;
        let cli = Cli::from_arg_matches(&matches).map_err(Failure::Clap)?;
        (matches, cli)
    } else {
        (matches, cli)
    };
    // `molotov -c 100`: the number of another tool's flag, taken for the PLAN.
    if cli.command.is_none()
        && let Some(message) = crate::foreign_flags::number_as_plan(&cmd, args)
    {
        return Err(Failure::Clap(
            Cli::command().error(ErrorKind::InvalidValue, message),
        ));
    }
    let Some(path) = cli.config.config.clone() else {
        return Ok(Loaded {
            cli,
            env: Vec::new(),
            notes: Vec::new(),
        });
    };
    let file = MolotovJson::read(&path).map_err(|e| Failure::Config(e.into()))?;
    let Some(name) = cli.config.test.clone() else {
        return Err(Failure::Config(ConfigError::NoTest {
            tests: file.test_names(),
            path,
        }));
    };
    let test = file.test(&name).map_err(|e| Failure::Config(e.into()))?;
    let tokens = tokens_for(&file, &test, &matches).map_err(Failure::Config)?;
    let program = args.first().cloned().unwrap_or_else(|| "molotov".into());
    let combined: Vec<OsString> = std::iter::once(program)
        .chain(tokens)
        .chain(args.iter().skip(1).cloned())
        .collect();
    let matches = command().try_get_matches_from(&combined).map_err(|e| {
        Failure::Config(ConfigError::Combined {
            path: path.clone(),
            test: name.clone(),
            message: clap_message(&e),
        })
    })?;
    let cli = Cli::from_arg_matches(&matches).map_err(Failure::Clap)?;
    if cli.plan.is_none() {
        return Err(Failure::Config(ConfigError::NoPlan { path, test: name }));
    }
    let notes = test
        .requirements
        .iter()
        .map(|r| molotov_json::requirements_note(r))
        .collect();
    Ok(Loaded {
        cli,
        env: test.env,
        notes,
    })
}

/// A word after PLAN is taken by clap for a sub-command that cannot follow flags or a PLAN
/// ("the subcommand 'b.mol' cannot be used with: --quiet [PLAN]"): said as what it is, a
/// second PLAN (or a sub-command that belongs first), with the word that was taken as the
/// PLAN (a number after a switch, as in wrk's `-c 100`, says so). Other errors are left as
/// they are.
fn second_plan(e: clap::Error, args: &[OsString]) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    if e.kind() != ErrorKind::ArgumentConflict {
        return e;
    }
    let Some(ContextValue::String(word)) = e.get(ContextKind::InvalidSubcommand) else {
        return e;
    };
    let mut cmd = Cli::command();
    let message = if cmd.find_subcommand(word).is_some() {
        format!(
            "the sub-command '{word}' comes first, before any flag or PLAN \
             (`molotov {word} ...`)"
        )
    } else {
        let mut message = format!(
            "unexpected argument '{word}': molotov runs one PLAN, and it was already given"
        );
        if let Some(taken) = crate::foreign_flags::taken_plan(&cmd, args) {
            message.push_str(": ");
            message.push_str(&taken);
        }
        // `molotov p.mol -c 100`: the unexpected word is the number of a switch.
        if let Some(tip) = crate::foreign_flags::number_tip(&cmd, args, word) {
            message.push_str("; ");
            message.push_str(&tip);
        }
        message
    };
    cmd.error(ErrorKind::UnknownArgument, message)
}

/// The command-line tokens of the test's options that the command line does not override;
/// every option is checked, overridden or not.
fn tokens_for(
    file: &MolotovJson,
    test: &molotov_json::Test,
    cli: &ArgMatches,
) -> Result<Vec<OsString>, ConfigError> {
    let cmd = command();
    let specs = specs(&cmd);
    let base = file
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let given_on_command_line = |id: &str| {
        cli.try_contains_id(id).unwrap_or(false)
            && cli.value_source(id) == Some(ValueSource::CommandLine)
    };
    let given: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| given_on_command_line(a.get_id().as_str()))
        .collect();
    let mut plan: Option<OsString> = None;
    let mut tokens = Vec::new();
    let mut seen_ids: Vec<(String, String)> = Vec::new();
    for (key, value) in &test.options {
        let normalized = key.replace('-', "_");
        let Some(spec) = specs.iter().find(|s| s.key == normalized) else {
            return Err(ConfigError::UnknownKey {
                path: file.path.clone(),
                test: test.name.clone(),
                key: key.clone(),
                valid: valid_keys(&specs),
            });
        };
        if let Some((other, _)) = seen_ids.iter().find(|(_, id)| *id == spec.id) {
            return Err(ConfigError::Combined {
                path: file.path.clone(),
                test: test.name.clone(),
                message: format!("{other:?} and {key:?} set the same option; keep one"),
            });
        }
        seen_ids.push((key.clone(), spec.id.clone()));
        let mut own = option_tokens(file, test, key, spec, value, &base)?;
        if spec.kind != Kind::Plan
            && let Err(e) = check_value(&cmd, file, test, key, &own)
        {
            // Python molotov's durations are numbers of seconds, fractions included
            // (`"delay": 0.5`): a fractional number a flag rejects is tried as seconds,
            // written out in decimals (`1e-10` is `0.0000000001s`: Rust's `{}` of an f64
            // never uses an exponent, which no duration flag reads).
            let long = spec.long.as_deref().unwrap_or_default();
            let seconds = match value {
                Value::Number(n) if n.is_f64() => match n.as_f64() {
                    Some(f) => vec![format!("--{long}={f}s").into()],
                    None => return Err(e),
                },
                _ => return Err(e),
            };
            if let Err(seconds_error) = check_value(&cmd, file, test, key, &seconds) {
                // A duration flag says what is wrong with the seconds (out of range, say);
                // any other flag, what is wrong with the number as given.
                let takes_durations =
                    check_value(&cmd, file, test, key, &[format!("--{long}=1s").into()]).is_ok();
                return Err(if takes_durations { seconds_error } else { e });
            }
            own = seconds;
        }
        if given_on_command_line(&spec.id) {
            continue;
        }
        if let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == spec.id.as_str()) {
            let conflicts = cmd.get_arg_conflicts_with(arg);
            let overridden = given.iter().any(|g| {
                conflicts.iter().any(|c| c.get_id() == g.get_id())
                    || cmd
                        .get_arg_conflicts_with(g)
                        .iter()
                        .any(|c| c.get_id() == arg.get_id())
            });
            if overridden {
                continue;
            }
        }
        if spec.kind == Kind::Plan {
            plan = own.into_iter().next();
        } else {
            tokens.extend(own);
        }
    }
    // The plan first: an absolute path, so it cannot be taken for a flag.
    Ok(plan.into_iter().chain(tokens).collect())
}

/// The tokens of one option, after checking its JSON type.
fn option_tokens(
    file: &MolotovJson,
    test: &molotov_json::Test,
    key: &str,
    spec: &Spec,
    value: &Value,
    base: &Path,
) -> Result<Vec<OsString>, ConfigError> {
    let wrong = |expected: &'static str| ConfigError::Type {
        path: file.path.clone(),
        test: test.name.clone(),
        key: key.to_string(),
        expected,
        found: kind_of(value),
    };
    let flag = || format!("--{}", spec.long.as_deref().unwrap_or_default());
    match spec.kind {
        Kind::Flag => match value {
            Value::Bool(true) => Ok(vec![flag().into()]),
            Value::Bool(false) => Ok(Vec::new()),
            _ => Err(wrong("true or false")),
        },
        Kind::Count => {
            let n = match value {
                Value::Bool(b) => u64::from(*b),
                Value::Number(n) => n
                    .as_u64()
                    .filter(|&n| n <= 255)
                    .ok_or_else(|| wrong("a count from 0 to 255 (or true/false)"))?,
                _ => return Err(wrong("a count from 0 to 255 (or true/false)")),
            };
            Ok((0..n).map(|_| flag().into()).collect())
        }
        Kind::Value => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => number_text(n),
                _ => return Err(wrong("a string or a number")),
            };
            Ok(vec![format!("{}={text}", flag()).into()])
        }
        Kind::Plan => {
            let Value::String(text) = value else {
                return Err(wrong("a string (the path of a .mol plan)"));
            };
            if text.ends_with(".py") {
                return Err(ConfigError::Value {
                    path: file.path.clone(),
                    test: test.name.clone(),
                    key: key.to_string(),
                    message: format!(
                        "{text:?} is a Python scenario file; molotov runs .mol plans \
                         (docs/plan-language.md; examples/two-scenarios.mol shows a translation)"
                    ),
                });
            }
            if text.is_empty() {
                return Err(ConfigError::Value {
                    path: file.path.clone(),
                    test: test.name.clone(),
                    key: key.to_string(),
                    message: "an empty path".into(),
                });
            }
            let joined = base.join(text);
            let absolute = std::path::absolute(&joined).unwrap_or(joined);
            Ok(vec![absolute.into_os_string()])
        }
    }
}

/// A JSON number as a flag value: `10.0` is `10` (a whole number of seconds, say).
fn number_text(n: &serde_json::Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64())
        && f.fract() == 0.0
        && f.abs() < 1e15
    {
        return format!("{}", f as i64);
    }
    n.to_string()
}

/// Runs the option's flag through its own parser (alone), so a bad value is reported with the
/// option's key. Errors that only mean "needs another flag" are left to the combined parse.
fn check_value(
    cmd: &Command,
    file: &MolotovJson,
    test: &molotov_json::Test,
    key: &str,
    tokens: &[OsString],
) -> Result<(), ConfigError> {
    if tokens.is_empty() {
        return Ok(());
    }
    let argv = std::iter::once(OsStr::new("molotov").to_os_string()).chain(tokens.iter().cloned());
    match cmd.clone().try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::MissingRequiredArgument | ErrorKind::ArgumentConflict
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(ConfigError::Value {
            path: file.path.clone(),
            test: test.name.clone(),
            key: key.to_string(),
            message: clap_message(&e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct File(PathBuf);

    impl File {
        fn new(tag: &str, text: &str) -> File {
            let dir = std::env::temp_dir().join(format!(
                "molotov-config-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("molotov.json");
            std::fs::write(&path, text).unwrap();
            File(path)
        }
    }

    impl Drop for File {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn run(file: &File, args: &[&str]) -> Result<Loaded, Failure> {
        let mut argv: Vec<OsString> = vec!["molotov".into(), "--config".into()];
        argv.push(file.0.clone().into_os_string());
        argv.extend(args.iter().map(OsString::from));
        load(&argv)
    }

    fn error(file: &File, args: &[&str]) -> String {
        match run(file, args) {
            Err(Failure::Config(e)) => e.to_string(),
            Err(Failure::Clap(e)) => format!("clap: {e}"),
            Ok(l) => panic!("no error: {:?}", l.cli),
        }
    }

    const FILE: &str = r#"{"molotov": {
        "env": {"TARGET": "http://127.0.0.1:1", "A": "file"},
        "requirements": "requirements.txt",
        "tests": {
            "full": {"users": 7, "processes": 2, "duration": 30, "max_runs": 4,
                     "verbose": 2, "exception": true, "quiet": true, "ramp_up": "2s",
                     "delay": 0.5, "scenario": "plans/p.mol", "env": {"A": "test"},
                     "statsd": true, "statsd_address": "udp://127.0.0.1:9125",
                     "seed": 42, "single_mode": "browse"},
            "small": {"workers": 3, "plan": "/abs/p.mol"},
            "planless": {"workers": 3}
        }}}"#;

    #[test]
    fn statsd_flags_on_the_command_line_replace_a_test_s_statsd_options() {
        // A test with "statsd": true: --statsd-address and the like were refused on the
        // command line alone ("required arguments were not provided: --statsd").
        let file = File::new("statsd-over", FILE);
        let loaded = run(
            &file,
            &[
                "--test",
                "full",
                "--statsd-address",
                "udp://127.0.0.1:10",
                "--statsd-prefix",
                "ci",
                "--statsd-interval",
                "1s",
            ],
        )
        .unwrap();
        let s = &loaded.cli.run.statsd;
        assert!(s.statsd);
        assert_eq!(s.statsd_address.as_ref().map(|e| e.port), Some(10));
        assert_eq!(s.statsd_prefix, "ci");
        assert_eq!(s.statsd_interval, Duration::from_secs(1));
        // A test without statsd still needs --statsd for them.
        let e = error(&file, &["--test", "small", "--statsd-prefix", "ci"]);
        assert!(e.contains("--statsd"), "{e}");
        // And so does a command line without --config.
        let argv: Vec<OsString> = ["molotov", "--statsd-prefix", "ci", "p.mol"]
            .iter()
            .map(OsString::from)
            .collect();
        match load(&argv) {
            Err(Failure::Clap(e)) => {
                assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument, "{e}")
            }
            other => panic!("{:?}", other.map(|l| l.cli)),
        }
    }

    #[test]
    fn options_map_to_flags() {
        let file = File::new("map", FILE);
        let loaded = run(&file, &["--test", "full"]).unwrap();
        let a = &loaded.cli.run;
        assert_eq!(a.workers, Some(7));
        assert_eq!(a.processes, 2);
        assert_eq!(a.duration, Some(Duration::from_secs(30)));
        assert_eq!(a.max_runs, Some(4));
        assert_eq!(a.verbose, 2);
        assert!(a.exception && a.quiet && !a.console);
        assert_eq!(a.load.ramp_up, Some(Duration::from_secs(2)));
        // A fractional number of seconds, as Python molotov's `delay` was.
        assert_eq!(a.load.delay, Some(Duration::from_millis(500)));
        assert_eq!(a.seed, Some(42));
        assert_eq!(a.load.single_mode.as_deref(), Some("browse"));
        assert!(a.statsd.statsd);
        assert_eq!(a.statsd.statsd_address.as_ref().map(|e| e.port), Some(9125));
        let plan = loaded.cli.plan.unwrap();
        assert!(plan.is_absolute(), "{plan:?}");
        assert_eq!(plan, file.0.parent().unwrap().join("plans/p.mol"));
        assert_eq!(
            loaded.env,
            [
                ("TARGET".to_string(), "http://127.0.0.1:1".to_string()),
                ("A".to_string(), "test".to_string())
            ]
        );
        assert_eq!(loaded.notes.len(), 1);
        assert!(loaded.notes[0].contains("not needed"), "{:?}", loaded.notes);
    }

    #[test]
    fn the_command_line_wins_for_every_kind_of_flag() {
        let file = File::new("precedence", FILE);
        let loaded = run(
            &file,
            &[
                "--test",
                "full",
                "-w",
                "2",
                "-v",
                "-c",
                "-d",
                "5s",
                "other.mol",
                "--seed",
                "1",
            ],
        )
        .unwrap();
        let a = &loaded.cli.run;
        // A value flag.
        assert_eq!(a.workers, Some(2));
        assert_eq!(a.duration, Some(Duration::from_secs(5)));
        assert_eq!(a.seed, Some(1));
        // A count is replaced, not added to.
        assert_eq!(a.verbose, 1);
        // A boolean of the file yields to a conflicting one of the command line.
        assert!(a.console && !a.quiet);
        // The plan.
        assert_eq!(loaded.cli.plan.as_deref(), Some(Path::new("other.mol")));
        // What the command line did not touch still comes from the file.
        assert_eq!(a.processes, 2);
        assert_eq!(a.max_runs, Some(4));
        assert!(a.exception);
        // `--max-runs` from the file is dropped by `--single-run` on the command line.
        let loaded = run(&file, &["--test", "full", "--single-run"]).unwrap();
        assert_eq!(loaded.cli.run.max_runs, None);
        assert!(loaded.cli.run.load.single_run);
    }

    #[test]
    fn a_second_plan_is_called_that() {
        let err = |args: &[&str]| {
            let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
            match load(&argv) {
                Err(Failure::Clap(e)) => (e.kind(), e.to_string()),
                other => panic!("{args:?}: {:?}", other.map(|l| l.cli)),
            }
        };
        // It used to say "the subcommand 'b.mol' cannot be used with: --quiet ...".
        let (kind, text) = err(&["molotov", "-q", "-r", "1", "a.mol", "b.mol"]);
        assert_eq!(kind, ErrorKind::UnknownArgument);
        assert!(
            text.starts_with(
                "error: unexpected argument 'b.mol': molotov runs one PLAN, and it was already given"
            ),
            "{text}"
        );
        assert!(!text.contains("subcommand"), "{text}");
        // Which word was taken as the PLAN, and why a number was (wrk's `-c 100`).
        assert!(
            text.contains("it was already given: `a.mol` was taken as the PLAN\n"),
            "{text}"
        );
        let (_, text) = err(&["molotov", "-c", "100", "-d", "2s", "p.mol"]);
        assert!(
            text.contains(
                "unexpected argument 'p.mol': molotov runs one PLAN, and it was already given: \
                 `100` was taken as the PLAN, as -c (--console) takes no value; for 100 \
                 concurrent connections (wrk's and hey's -c) give -w 100"
            ),
            "{text}"
        );
        let (_, text) = err(&["molotov", "p.mol", "-c", "100"]);
        assert!(
            text.contains("`100` follows -c (--console), which takes no value"),
            "{text}"
        );
        let (_, text) = err(&["molotov", "a.mol", "b.mol"]);
        assert!(text.contains("unexpected argument 'b.mol'"), "{text}");
        let (_, text) = err(&["molotov", "-q", "a.mol", "check"]);
        assert!(
            text.contains("the sub-command 'check' comes first, before any flag or PLAN"),
            "{text}"
        );
        // Other errors are clap's own.
        let (kind, _) = err(&["molotov", "-q", "-c", "a.mol"]);
        assert_eq!(kind, ErrorKind::ArgumentConflict);
    }

    #[test]
    fn without_config_nothing_changes() {
        let loaded = load(&["molotov".into(), "-w".into(), "3".into()]).unwrap();
        assert_eq!(loaded.cli.run.workers, Some(3));
        assert!(loaded.env.is_empty() && loaded.notes.is_empty());
        assert!(matches!(
            load(&["molotov".into(), "--test".into(), "x".into()]),
            Err(Failure::Clap(_))
        ));
    }

    #[test]
    fn errors_list_what_is_valid() {
        let file = File::new("errors", FILE);
        let e = error(&file, &["--test", "nope"]);
        assert!(
            e.ends_with("there is no test \"nope\"; its tests are: full, planless, small"),
            "{e}"
        );
        let e = error(&file, &[]);
        assert!(
            e.contains(
                "give the test to run with --test NAME; its tests are: full, planless, small"
            ),
            "{e}"
        );
        let cases: &[(&str, &str)] = &[
            (
                r#"{"bogus": 1}"#,
                "unknown option \"bogus\"; the valid options are: ",
            ),
            (
                r#"{"workers": "ten"}"#,
                "\"workers\": invalid value 'ten' for '--workers",
            ),
            (
                r#"{"workers": 0}"#,
                "\"workers\": invalid value '0' for '--workers",
            ),
            (
                r#"{"workers": true}"#,
                "\"workers\" must be a string or a number, found a boolean",
            ),
            (
                r#"{"exception": "yes"}"#,
                "\"exception\" must be true or false, found a string",
            ),
            (
                r#"{"verbose": -1}"#,
                "\"verbose\" must be a count from 0 to 255",
            ),
            (
                r#"{"duration": "10x"}"#,
                "\"duration\": invalid value '10x' for '--duration",
            ),
            (
                r#"{"duration": null}"#,
                "must be a string or a number, found null",
            ),
            (
                r#"{"scenario": "loadtest.py"}"#,
                "is a Python scenario file",
            ),
            (
                r#"{"plan": 3}"#,
                "\"plan\" must be a string (the path of a .mol plan)",
            ),
            (
                r#"{"workers": 2, "users": 3}"#,
                "\"users\" and \"workers\" set the same option",
            ),
            (r#"{"quiet": true, "console": true}"#, "cannot be used with"),
            (
                r#"{"statsd_address": "tcp://x:1"}"#,
                "statsd is reached over UDP",
            ),
            (r#"{"statsd_address": "udp://x:1"}"#, "--statsd"),
            // Past the longest duration, as a whole number, a float or in exponent form.
            (
                r#"{"duration": 18446744073709551615}"#,
                "\"duration\": invalid value '18446744073709551615' for '--duration <DURATION>': \
                 invalid duration \"18446744073709551615\": out of range",
            ),
            (r#"{"duration": 1e300}"#, "out of range"),
            (r#"{"delay": 1e10}"#, "out of range"),
            (r#"{"connect_timeout": 2e9}"#, "out of range"),
            // A fraction no flag but a duration takes: the flag's own message.
            (
                r#"{"workers": 1.5}"#,
                "\"workers\": invalid value '1.5' for '--workers",
            ),
        ];
        for &(options, want) in cases {
            let file = File::new(
                "case",
                &format!(r#"{{"molotov": {{"tests": {{"t": {options}}}}}}}"#),
            );
            let e = error(&file, &["--test", "t"]);
            assert!(e.contains(want), "{options}\n{e}");
            assert!(e.contains("test \"t\""), "{options}\n{e}");
        }
        let e = error(&file, &["--test", "planless"]);
        assert!(e.contains("test \"planless\" names no plan"), "{e}");
        assert_eq!(
            run(&file, &["--test", "planless", "p.mol"])
                .unwrap()
                .cli
                .plan
                .as_deref(),
            Some(Path::new("p.mol"))
        );
        assert_eq!(
            run(&file, &["--test", "small"])
                .unwrap()
                .cli
                .plan
                .as_deref(),
            Some(Path::new("/abs/p.mol"))
        );
        let file = File::new("unknown", r#"{"molotov": {"tests": {"t": {"bogus": 1}}}}"#);
        let e = error(&file, &["--test", "t"]);
        for key in [
            "workers",
            "users",
            "max_runs",
            "plan",
            "scenario",
            "statsd_address",
            "env",
        ] {
            assert!(e.contains(key), "{key}: {e}");
        }
        assert!(!e.contains("config,") && !e.contains("help"), "{e}");
    }

    #[test]
    fn numbers_become_flag_values() {
        let n = |text: &str| number_text(&serde_json::from_str(text).unwrap());
        assert_eq!(n("10"), "10");
        assert_eq!(n("10.0"), "10");
        assert_eq!(n("2.5"), "2.5");
        assert_eq!(n("-3"), "-3");
    }

    #[test]
    fn fractions_in_exponent_form_are_seconds() {
        // serde_json writes these with an exponent, which no duration flag reads: they used
        // to fail with `unknown unit "e-"`.
        let file = File::new(
            "exponent",
            r#"{"molotov": {"tests": {"t": {"delay": 1e-10, "connect_timeout": 2.5e-1,
                "duration": 1.5e1, "plan": "p.mol"}}}}"#,
        );
        let loaded = run(&file, &["--test", "t"]).unwrap();
        assert_eq!(loaded.cli.run.load.delay, Some(Duration::ZERO));
        assert_eq!(loaded.cli.run.connect_timeout, Duration::from_millis(250));
        assert_eq!(loaded.cli.run.duration, Some(Duration::from_secs(15)));
        // A duration that must be more than 0 says so.
        let file = File::new(
            "exponent-zero",
            r#"{"molotov": {"tests": {"t": {"duration": 1e-10, "plan": "p.mol"}}}}"#,
        );
        let e = error(&file, &["--test", "t"]);
        assert!(e.contains("must be more than 0"), "{e}");
    }
}
