//! The exit codes of `molotov` (documented in the README).

/// The run completed and nothing asked for a failing status.
pub const OK: u8 = 0;
/// Failures stopped the run (`-x`) or reached `--fail`.
pub const FAILURES: u8 = 1;
/// The plan has errors, or a flag is invalid (clap also uses 2).
pub const PLAN_ERROR: u8 = 2;
/// A threshold of the plan failed.
#[allow(dead_code)] // thresholds are evaluated by the reporting work (issue 5)
pub const THRESHOLDS: u8 = 3;
/// molotov could not run (machine checks, fork, the plan's setup failed) or one of its
/// processes died during the run.
pub const RUNTIME: u8 = 4;
/// Ctrl-C or SIGTERM stopped the run (the report is still printed).
pub const INTERRUPTED: u8 = 130;
