//! Hints for the habits of other load testers (wrk, hey, ab, k6, Locust, vegeta) on molotov's
//! command line.
//!
//! Two mistakes get one:
//! - a flag molotov does not have, but another tool does (`-t 4`, `-u 10`, `--vus 10`, `-H`,
//!   `--host`): clap's message stays, and its tip (`to pass '-t' as a value, use '-- -t'`,
//!   wrong advice for a flag meant as a flag) or its look-alike (`--users` is not
//!   `--stages`) is replaced by molotov's way to the same thing;
//! - a number after a molotov flag that takes no value (wrk's `-c 100`, where `-c` is
//!   `--console`): clap takes the number for the PLAN, and then blames the real plan for being
//!   a second one. The message says which word was taken as the PLAN, and why.

use std::ffi::OsString;

use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};

/// Flags of other tools, and molotov's way to the same thing.
const FOREIGN: &[(&[&str], &str)] = &[
    (
        &["-t", "--threads"],
        "wrk's threads (-t) are processes here: -p N, each pinned to a CPU and running -w \
         workers; Locust's run time (-t) is -d (-d 30s)",
    ),
    (
        &["-u", "--users", "--vus", "--connections", "--concurrency"],
        "concurrent users (Locust's -u, k6's --vus, wrk's -c) are workers here: -w N in each \
         of the -p processes",
    ),
    (
        &["-H", "--header", "--headers"],
        "headers are written in the plan: a `Name: value` line in `defaults { }` for every \
         request, or under a request for that one",
    ),
    (
        &["--host", "--url", "--target"],
        "the target is written in the plan: `base http://host:port` in `defaults { }` \
         (from the environment: `base {{env.TARGET}}`)",
    ),
    (
        &["-n", "-i", "--iterations", "--requests"],
        "a count is -r N here: scenario runs per worker, each worker stops after N",
    ),
    (
        &["-z", "--run-time", "--time"],
        "a run's length is -d D here (-d 30s)",
    ),
    (
        &["-R", "--rps", "--qps", "--rate-limit"],
        "a fixed rate is --rate R here: scenario starts per second, whatever the responses \
         take (the open model)",
    ),
    (
        &["--stage"],
        "stages are --stages DURATION:RATE,... here (--stages 30s:100,1m:100), in scenario \
         starts per second",
    ),
    (
        &["--spawn-rate", "--hatch-rate"],
        "workers start gradually with --ramp-up D (all -w of every process spread over D)",
    ),
    (
        &["-s", "--script"],
        "the plan is the PLAN argument (molotov -w 10 -d 30s plan.mol); k6's stages (-s) are \
         --stages",
    ),
    (
        &[
            "-m",
            "-X",
            "--method",
            "-b",
            "--body",
            "-D",
            "-T",
            "--content-type",
        ],
        "methods, bodies and their content type are written in the plan, per request \
         (`POST /items` with its body under it)",
    ),
    (
        &["--latency"],
        "latency percentiles are always in the report (and in --json FILE)",
    ),
    (
        &["--timeout"],
        "the request timeout is the plan's `timeout` (in `defaults { }`); connecting has \
         --connect-timeout D",
    ),
    (
        &["-o", "--out", "--output", "--summary-export", "--csv"],
        "reports are written with --json FILE (machine-readable) and --html FILE",
    ),
    (
        &["--headless"],
        "molotov has no web UI: -q shows only the final report, -c one line per interval",
    ),
];

/// What other tools meant by a molotov flag that takes no value, when a number follows it.
fn number_after(flag: char, number: &str) -> Option<String> {
    match flag {
        'c' => Some(format!(
            "for {number} concurrent connections (wrk's and hey's -c) give -w {number}: workers \
             in each of the -p processes"
        )),
        'q' => Some(format!(
            "for a rate (hey's -q) give --rate {number}: scenario starts per second over the \
             whole run"
        )),
        _ => None,
    }
}

/// Adds molotov's hint to a clap error of `args` (the process's arguments, program name
/// first), when it has one; any other error is returned as it is.
pub fn explain(mut e: clap::Error, cmd: &Command, args: &[OsString]) -> clap::Error {
    if e.kind() != ErrorKind::UnknownArgument {
        return e;
    }
    let Some(ContextValue::String(invalid)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let invalid = invalid.clone();
    let tip = if let Some(tip) = foreign_tip(&invalid) {
        // `--users` is not `--stages`, whatever its spelling says (nor is the usage of
        // `--stages` the one to show).
        if e.remove(ContextKind::SuggestedArg).is_some() {
            e.insert(
                ContextKind::Usage,
                ContextValue::StyledStr(cmd.clone().render_usage()),
            );
        }
        tip.to_string()
    } else if let Some(tip) = number_tip(cmd, args, &invalid) {
        tip
    } else {
        return e;
    };
    e.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![StyledStr::from(tip)]),
    );
    e
}

/// The hint for a flag of another tool (`--vus=10` is `--vus`).
fn foreign_tip(invalid: &str) -> Option<&'static str> {
    let flag = invalid.split_once('=').map_or(invalid, |(flag, _)| flag);
    FOREIGN
        .iter()
        .find(|(flags, _)| flags.contains(&flag))
        .map(|&(_, tip)| tip)
}

/// The hint for an unexpected number that follows a flag taking no value (`molotov demo -c
/// 100`: the demo has no PLAN, so the number is unexpected itself; `molotov p.mol -c 100`).
pub fn number_tip(cmd: &Command, args: &[OsString], invalid: &str) -> Option<String> {
    if !looks_like_a_number(invalid) {
        return None;
    }
    let at = args.iter().position(|a| a.to_str() == Some(invalid))?;
    let (flag, long) = no_value_flag_before(cmd, args, at)?;
    let mut tip = format!("`{invalid}` follows -{flag} (--{long}), which takes no value");
    if let Some(meant) = number_after(flag, invalid) {
        tip.push_str("; ");
        tip.push_str(&meant);
    }
    Some(tip)
}

/// The PLAN clap took, and why a number was taken for it.
struct TakenPlan {
    /// Its text.
    plan: String,
    /// `-c (--console) takes no value`, when a number followed a switch.
    why: Option<String>,
    /// What another tool meant by that switch and number (`give -w 100`).
    meant: Option<String>,
}

fn taken(cmd: &Command, args: &[OsString]) -> Option<TakenPlan> {
    let at = plan_index(cmd, args)?;
    let plan = args[at].to_string_lossy().into_owned();
    let switch = looks_like_a_number(&plan)
        .then(|| no_value_flag_before(cmd, args, at))
        .flatten();
    Some(TakenPlan {
        why: switch
            .as_ref()
            .map(|(flag, long)| format!("-{flag} (--{long}) takes no value")),
        meant: switch.and_then(|(flag, _)| number_after(flag, &plan)),
        plan,
    })
}

/// What to say of the PLAN that was taken, when a second word is unexpected: its text, and
/// why a number was taken for it (`-c 100 -d 2s p.mol` takes `100`). `args` is the process's
/// arguments, program name first.
pub fn taken_plan(cmd: &Command, args: &[OsString]) -> Option<String> {
    let t = taken(cmd, args)?;
    let mut said = format!(
        "`{}` was taken as the PLAN",
        molotov_core::printable::printable(&t.plan)
    );
    if let Some(why) = t.why {
        said.push_str(&format!(", as {why}"));
    }
    if let Some(meant) = t.meant {
        said.push_str(&format!("; {meant}"));
    }
    Some(said)
}

/// When the PLAN is a number that followed a switch and no file has that name (`molotov -c
/// 100`): the message that says so, instead of "cannot read the plan".
pub fn number_as_plan(cmd: &Command, args: &[OsString]) -> Option<String> {
    let t = taken(cmd, args)?;
    let why = t.why?;
    if std::path::Path::new(&t.plan).exists() {
        return None;
    }
    let mut said = format!(
        "`{}` was taken as the PLAN, as {why}, and there is no plan file of that name",
        molotov_core::printable::printable(&t.plan)
    );
    if let Some(meant) = t.meant {
        said.push_str(&format!("; {meant}"));
    }
    Some(said)
}

/// `100`, `1.5`: a count or a rate meant for a flag, not a plan file.
fn looks_like_a_number(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Whether `arg` takes a value (`-w 5`), as opposed to a switch (`-c`) or a count (`-v`).
fn takes_value(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Set | ArgAction::Append)
}

/// The short flag (and its long name) right before `args[at]`, when it takes no value: `-c`,
/// or the last of a cluster (`-qc`). A long flag (`--console`) is named by its short one
/// when it has one.
fn no_value_flag_before(cmd: &Command, args: &[OsString], at: usize) -> Option<(char, String)> {
    let before = args.get(at.checked_sub(1)?)?.to_str()?;
    let arg = if let Some(long) = before.strip_prefix("--") {
        cmd.get_arguments().find(|a| a.get_long() == Some(long))?
    } else {
        let shorts = before.strip_prefix('-')?;
        let last = shorts.chars().last()?;
        cmd.get_arguments().find(|a| a.get_short() == Some(last))?
    };
    if takes_value(arg) {
        return None;
    }
    Some((arg.get_short()?, arg.get_long()?.to_string()))
}

/// Where the PLAN is in `args`: the first word that is neither a flag nor a flag's value
/// (the way clap reads them: `--name VALUE` or `--name=VALUE`, `-xVALUE` or `-x VALUE`, and
/// after `--` everything is a word).
fn plan_index(cmd: &Command, args: &[OsString]) -> Option<usize> {
    let mut i = 1;
    let mut words_only = false;
    while i < args.len() {
        let Some(token) = args[i].to_str() else {
            // Not UTF-8: no flag of molotov's, so a word.
            return Some(i);
        };
        if words_only || token == "-" || !token.starts_with('-') {
            return Some(i);
        }
        if token == "--" {
            words_only = true;
        } else if let Some(long) = token.strip_prefix("--") {
            if !long.contains('=')
                && cmd
                    .get_arguments()
                    .any(|a| a.get_long() == Some(long) && takes_value(a))
            {
                i += 1;
            }
        } else {
            // A cluster of short flags: the first that takes a value takes the rest of the
            // cluster, or the next word when it is last.
            let shorts: Vec<char> = token[1..].chars().collect();
            for (n, c) in shorts.iter().enumerate() {
                if cmd
                    .get_arguments()
                    .any(|a| a.get_short() == Some(*c) && takes_value(a))
                {
                    if n + 1 == shorts.len() {
                        i += 1;
                    }
                    break;
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::CommandFactory;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_plan_is_the_first_word_that_is_no_value() {
        let cmd = Cli::command();
        for (args, plan) in [
            (&["molotov", "-c", "100", "-d", "2s", "p.mol"][..], Some(2)),
            (&["molotov", "-w", "100", "-d", "2s", "p.mol"][..], Some(5)),
            (&["molotov", "-w100", "p.mol"][..], Some(2)),
            (&["molotov", "-qw", "5", "p.mol"][..], Some(3)),
            (&["molotov", "--workers=5", "p.mol"][..], Some(2)),
            (&["molotov", "--workers", "5", "p.mol"][..], Some(3)),
            (&["molotov", "-d", "-5s", "p.mol"][..], Some(3)),
            (&["molotov", "--", "-p.mol"][..], Some(2)),
            (&["molotov", "-q"][..], None),
        ] {
            assert_eq!(plan_index(&cmd, &argv(args)), plan, "{args:?}");
        }
    }

    #[test]
    fn a_number_after_a_switch_is_said_to_be_the_plan() {
        let cmd = Cli::command();
        let said = |args: &[&str]| taken_plan(&cmd, &argv(args)).unwrap();
        let s = said(&["molotov", "-c", "100", "-d", "2s", "p.mol"]);
        assert!(
            s.starts_with("`100` was taken as the PLAN, as -c (--console) takes no value; for 100 concurrent connections (wrk's and hey's -c) give -w 100"),
            "{s}"
        );
        let s = said(&["molotov", "-qc", "10", "p.mol"]);
        assert!(s.contains("as -c (--console) takes no value"), "{s}");
        let s = said(&["molotov", "--console", "10", "p.mol"]);
        assert!(s.contains("as -c (--console) takes no value"), "{s}");
        let s = said(&["molotov", "-q", "50", "p.mol"]);
        assert!(s.contains("give --rate 50"), "{s}");
        let s = said(&["molotov", "-x", "3", "p.mol"]);
        assert_eq!(
            s,
            "`3` was taken as the PLAN, as -x (--exception) takes no value"
        );
        // A plan that is no number, or a number after no switch: only which word it was.
        assert_eq!(
            said(&["molotov", "-q", "a.mol", "b.mol"]),
            "`a.mol` was taken as the PLAN"
        );
        assert_eq!(
            said(&["molotov", "100", "p.mol"]),
            "`100` was taken as the PLAN"
        );
        // Alone, a number after a switch that names no file is said to be a mistake.
        let alone = |args: &[&str]| number_as_plan(&cmd, &argv(args));
        let s = alone(&["molotov", "-c", "100"]).unwrap();
        assert!(
            s.starts_with("`100` was taken as the PLAN, as -c (--console) takes no value, and there is no plan file of that name; for 100 concurrent connections"),
            "{s}"
        );
        assert_eq!(alone(&["molotov", "-c", "p.mol"]), None);
        assert_eq!(alone(&["molotov", "100"]), None);
    }

    #[test]
    fn flags_of_other_tools_point_at_molotovs() {
        let cmd = Cli::command();
        let tip = |args: &[&str]| {
            let e = cmd.clone().try_get_matches_from(argv(args)).unwrap_err();
            let e = explain(e, &cmd, &argv(args));
            (e.kind(), e.to_string())
        };
        for (args, needle) in [
            (&["molotov", "-t", "4", "p.mol"][..], "-p N"),
            (&["molotov", "-u", "10", "p.mol"][..], "-w N"),
            (&["molotov", "--users", "10", "p.mol"][..], "-w N"),
            (&["molotov", "--vus", "10", "p.mol"][..], "-w N"),
            (&["molotov", "--vus=10", "p.mol"][..], "-w N"),
            (&["molotov", "-H", "X-A: 1", "p.mol"][..], "`Name: value`"),
            (
                &["molotov", "--host", "http://h", "p.mol"][..],
                "`base http://",
            ),
            (&["molotov", "-n", "100", "p.mol"][..], "-r N"),
            (&["molotov", "demo", "-c", "100"][..], "-w 100"),
        ] {
            let (kind, text) = tip(args);
            assert_eq!(kind, ErrorKind::UnknownArgument, "{args:?}");
            assert!(text.contains(needle), "{args:?}: {text}");
            // clap's own headline stays; its advice does not.
            assert!(text.contains("unexpected argument '"), "{args:?}: {text}");
            assert!(!text.contains("as a value, use '--"), "{args:?}: {text}");
            assert!(!text.contains("--stages"), "{args:?}: {text}");
        }
        // Flags no other tool has keep clap's message whole.
        let (_, text) = tip(&["molotov", "--frobnicate", "p.mol"]);
        assert!(
            text.contains("unexpected argument '--frobnicate' found"),
            "{text}"
        );
        assert!(!text.contains("tip: wrk"), "{text}");
        let (_, text) = tip(&["molotov", "--worker", "3", "p.mol"]);
        assert!(
            text.contains("a similar argument exists: '--workers'"),
            "{text}"
        );
    }
}
