//! The exit codes of `molotov` (documented in the README) and the rule that picks one when
//! several apply.

use molotov_core::process::{ChildExit, StopCause};
use molotov_core::report::plan_block_failed;
use molotov_core::run::{Ending, RunResult};
use molotov_core::summary::ProcessInfo;
use molotov_dsl::Program;

/// The run completed and nothing asked for a failing status.
pub const OK: u8 = 0;
/// Failures stopped the run (`-x`), reached `-f/--fail`, or the plan's setup or teardown
/// failed.
pub const FAILURES: u8 = 1;
/// The plan has errors, or a flag is invalid (clap also uses 2).
pub const PLAN_ERROR: u8 = 2;
/// A threshold of the plan failed.
pub const THRESHOLDS: u8 = 3;
/// molotov could not run (machine checks, fork) or one of its processes died during the run.
pub const RUNTIME: u8 = 4;
/// A host the plan names does not resolve: checked before the run, nothing was sent.
pub const UNRESOLVED_HOST: u8 = 5;
/// Ctrl-C, `q` in the live view, SIGTERM or SIGHUP stopped the run (the report is still printed).
pub const INTERRUPTED: u8 = 130;

/// Whether `p` is the plan's `teardown` and it failed: a step of it failed, or it ran past its
/// time limit and was stopped.
fn teardown_failed(p: &ProcessInfo) -> bool {
    p.role == "teardown"
        && (plan_block_failed(p)
            || matches!(p.exit, Some(ChildExit::Stopped(StopCause::Overran(_)))))
}

/// The exit code of a run that could not start (nothing was sent).
pub fn of_run_error(error: &molotov_core::run::RunError) -> u8 {
    use molotov_core::preflight::PreflightError;
    use molotov_core::run::RunError;
    match error {
        RunError::Preflight(PreflightError::Resolve { .. }) => UNRESOLVED_HOST,
        _ => RUNTIME,
    }
}

/// What decides the exit code of a run that produced a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Why the load ended.
    pub ending: Ending,
    /// A process crashed or was killed (not a plan block that failed as designed).
    pub process_died: bool,
    /// Scenario runs that failed.
    pub failures: u64,
    /// `-f/--fail N`.
    pub fail_at: Option<u64>,
    /// Every threshold of the plan held.
    pub thresholds_passed: bool,
    /// The plan's `teardown` failed.
    pub teardown_failed: bool,
    /// Workers whose `setup worker` failed (they ran no scenario), of those started.
    pub worker_setups_failed: u64,
    pub workers_started: u64,
    /// Workers whose `teardown worker` failed.
    pub worker_teardowns_failed: u64,
    /// Scenario runs that succeeded.
    pub successes: u64,
    /// Scenario runs started (also those cut when their process ended), and those stopped
    /// by the end of the load before they finished.
    pub runs_started: u64,
    pub runs_stopped: u64,
    /// Requests the scenarios sent (those of `setup` and `teardown` blocks not counted).
    pub scenario_requests: u64,
    /// Responses to those requests.
    pub scenario_responses: u64,
}

impl Verdict {
    /// The verdict of `result` (a run of `program`) with `-f` and the threshold results.
    pub fn of(
        result: &RunResult,
        program: &Program,
        fail_at: Option<u64>,
        thresholds_passed: bool,
    ) -> Verdict {
        // The summary lists the plan's requests in the program's order.
        let scenario_counts = || {
            result
                .summary
                .requests
                .iter()
                .zip(program.requests())
                .filter(|(_, info)| info.scenario.is_some())
                .map(|(request, _)| request.counts)
        };
        let scenario_requests = scenario_counts().map(|c| c.requests).sum();
        let scenario_responses = scenario_counts().map(|c| c.responses).sum();
        Verdict {
            ending: result.ending,
            process_died: result
                .failed_processes
                .iter()
                .any(|p| !plan_block_failed(p)),
            failures: result.summary.failures(),
            fail_at,
            thresholds_passed,
            teardown_failed: result.summary.processes.iter().any(teardown_failed),
            worker_setups_failed: result.summary.worker_setups_failed,
            worker_teardowns_failed: result.summary.worker_teardowns_failed,
            workers_started: result.summary.workers_started,
            successes: result.summary.successes(),
            runs_started: result.summary.runs_started,
            runs_stopped: result.summary.scenarios.iter().map(|s| s.stopped).sum(),
            scenario_requests,
            scenario_responses,
        }
    }

    /// Scenario runs made: at least those that ended one way or another.
    fn runs(&self) -> u64 {
        self.runs_started
            .max(self.successes + self.failures + self.runs_stopped)
    }

    /// No scenario run succeeded and not one of them sent a request: each failed before its
    /// first send (a request that could not be rendered, a `let` that could not be
    /// evaluated) or was stopped by the end of the load before it (a loop or a think longer
    /// than the run), or no scenario run started at all (a `setup worker` that outlasted the
    /// load). The run applied no load at all.
    fn sent_nothing(&self) -> bool {
        self.successes == 0 && self.scenario_requests == 0
    }

    /// Requests of the scenario runs were sent (or tried), no run succeeded, and not one
    /// request got a complete response: the server refused the connections, its certificate
    /// was not trusted, it did not answer, or every answer was an error (a body over the
    /// cap). Whatever ended the runs (each failed, or was stopped at the end of the load, or
    /// cut when the grace period ended), the run measured nothing of the service.
    fn answered_nothing(&self) -> bool {
        self.successes == 0 && self.scenario_requests > 0 && self.scenario_responses == 0
    }

    /// How the scenario runs that succeeded in nothing ended, when not all of them failed:
    /// "2 failed, 1 stopped by the end of the load, 3 cut when their process ended".
    fn runs_ended(&self) -> String {
        let cut = self
            .runs()
            .saturating_sub(self.successes + self.failures + self.runs_stopped);
        let mut parts = Vec::new();
        if self.failures > 0 {
            parts.push(format!("{} failed", self.failures));
        }
        if self.runs_stopped > 0 {
            parts.push(format!(
                "{} stopped by the end of the load",
                self.runs_stopped
            ));
        }
        if cut > 0 {
            parts.push(format!("{cut} cut when their process ended"));
        }
        parts.join(", ")
    }

    /// The exit code. When several apply, the first of this list wins:
    /// interrupted (130) > a process died (4) > failures (1: `-x`, `-f`, setup, a worker's
    /// `setup worker` or `teardown worker`, or teardown failed, every scenario run failed
    /// before sending or without a complete response) > thresholds (3) > 0.
    ///
    /// A worker whose `setup worker` failed sent none of its share of the load: the run did
    /// not apply the load asked for, so its figures do not answer the question (as when the
    /// plan's `setup` fails). Neither did a run whose scenario runs all failed before their
    /// first request (a header value rendered with a line break, say): it sent nothing; nor
    /// one whose scenario runs all failed without a single complete response (a server that
    /// is down): it measured nothing.
    ///
    /// An interrupted run is incomplete whatever else happened, and a run with a dead process
    /// has numbers that miss that process's in-flight work; both make the other verdicts
    /// unreliable, so they come first. Failures come before thresholds because they are the
    /// user's explicit stop conditions (and Python molotov's `-f` exits 1).
    pub fn code(&self) -> u8 {
        if matches!(self.ending, Ending::Interrupted(_)) {
            return INTERRUPTED;
        }
        if self.process_died {
            return RUNTIME;
        }
        let failed_by_count = self.fail_at.is_some_and(|n| self.failures >= n);
        if matches!(self.ending, Ending::StoppedOnFailure | Ending::SetupFailed)
            || failed_by_count
            || self.teardown_failed
            || self.worker_setups_failed > 0
            || self.worker_teardowns_failed > 0
            || self.sent_nothing()
            || self.answered_nothing()
        {
            return FAILURES;
        }
        // `--sizing` ends by pushing the load past the failure tolerance on purpose: the
        // thresholds are reported but do not fail a run that found its knee.
        if !self.thresholds_passed && self.ending != Ending::SizingKnee {
            return THRESHOLDS;
        }
        OK
    }

    /// The exit code when some reports could not be written (`unwritten`: the first of
    /// them and the rest): 2, as a plan error or a bad flag, unless the run was interrupted
    /// (130 stays: the run is incomplete whatever else happened). Without such a report,
    /// [`Verdict::code`].
    pub fn code_with_unwritten(&self, unwritten: &[&str]) -> u8 {
        let code = self.code();
        if unwritten.is_empty() || code == INTERRUPTED {
            code
        } else {
            PLAN_ERROR
        }
    }

    /// The result line when some reports could not be written: it says the exit code the
    /// process returns ([`Verdict::code_with_unwritten`]), the reports lost, and what the
    /// run itself came to.
    pub fn explain_with_unwritten(&self, unwritten: &[&str]) -> String {
        let Some((last, first)) = unwritten.split_last() else {
            return self.explain();
        };
        let lost = if first.is_empty() {
            format!("{last} could not be written")
        } else {
            format!("{} and {last} could not be written", first.join(", "))
        };
        let code = self.code_with_unwritten(unwritten);
        if code == INTERRUPTED {
            return format!("FAILED: interrupted, and {lost} (exit {code})");
        }
        match self.why() {
            None => format!("FAILED: {lost} (exit {code}); the run itself completed"),
            Some(why) => format!("FAILED: {lost} (exit {code}); the run itself failed: {why}"),
        }
    }

    /// One line saying what the exit code is and why, for the end of the text report.
    pub fn explain(&self) -> String {
        let code = self.code();
        match self.why() {
            Some(why) => format!("FAILED: {why} (exit {code})"),
            None if !self.thresholds_passed => "OK (exit 0): --sizing found its limit; a \
                                                failed threshold does not fail a sizing run"
                .to_string(),
            None => "OK (exit 0)".to_string(),
        }
    }

    /// Why the run failed, without the exit code; `None` when it did not.
    fn why(&self) -> Option<String> {
        let why = match self.code() {
            INTERRUPTED => "interrupted".to_string(),
            RUNTIME => "a molotov process died during the run".to_string(),
            FAILURES => {
                let mut reasons = Vec::new();
                match self.ending {
                    Ending::StoppedOnFailure => {
                        reasons.push("a failure stopped the run (-x)".into())
                    }
                    Ending::SetupFailed => reasons.push("the plan's setup failed".into()),
                    _ => {}
                }
                if let Some(n) = self.fail_at
                    && self.failures >= n
                {
                    reasons.push(format!(
                        "{} scenario runs failed (--fail {n})",
                        self.failures
                    ));
                }
                if self.worker_setups_failed > 0 {
                    reasons.push(format!(
                        "`setup worker` failed in {} of {}",
                        self.worker_setups_failed,
                        molotov_core::report::fmt_counted(
                            self.workers_started,
                            "worker",
                            "workers"
                        )
                    ));
                }
                if self.worker_teardowns_failed > 0 {
                    reasons.push(format!(
                        "`teardown worker` failed in {} of {}",
                        self.worker_teardowns_failed,
                        molotov_core::report::fmt_counted(
                            self.workers_started,
                            "worker",
                            "workers"
                        )
                    ));
                }
                let runs = self.runs();
                // No scenario run started because the plan's `setup` or a `setup worker`
                // failed: that reason, already given, says it all.
                let explained = runs == 0
                    && (self.ending == Ending::SetupFailed || self.worker_setups_failed > 0);
                if self.sent_nothing() && !explained {
                    reasons.push(if runs == 0 {
                        "no request was sent: no scenario run started before the end of the \
                         load (`setup worker` or the start of the workers outlasted it)"
                            .to_string()
                    } else if self.failures == runs {
                        format!(
                            "no request was sent: {} failed before sending",
                            all_runs(runs)
                        )
                    } else {
                        format!(
                            "no request was sent: {} ended before sending ({})",
                            all_runs(runs),
                            self.runs_ended()
                        )
                    });
                }
                if self.answered_nothing() {
                    let requests = molotov_core::report::fmt_counted(
                        self.scenario_requests,
                        "request",
                        "requests",
                    );
                    reasons.push(if self.failures == runs {
                        format!(
                            "no response came back: {} failed, and none of their {requests} \
                             got a complete response (see Errors)",
                            all_runs(runs)
                        )
                    } else {
                        format!(
                            "no response came back: none of the {requests} of the {} got a \
                             complete response ({}; see Errors)",
                            molotov_core::report::fmt_counted(
                                runs,
                                "scenario run",
                                "scenario runs"
                            ),
                            self.runs_ended()
                        )
                    });
                }
                if self.teardown_failed {
                    reasons.push("the plan's teardown failed".into());
                }
                reasons.join("; ")
            }
            THRESHOLDS => "a threshold failed".to_string(),
            _ => return None,
        };
        Some(why)
    }
}

/// "all 3 scenario runs", "the one scenario run".
fn all_runs(runs: u64) -> String {
    if runs == 1 {
        "the one scenario run".to_string()
    } else {
        format!("all {runs} scenario runs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(ending: Ending) -> Verdict {
        Verdict {
            ending,
            process_died: false,
            failures: 0,
            fail_at: None,
            thresholds_passed: true,
            teardown_failed: false,
            worker_setups_failed: 0,
            workers_started: 10,
            worker_teardowns_failed: 0,
            successes: 5,
            runs_started: 0,
            runs_stopped: 0,
            scenario_requests: 20,
            scenario_responses: 20,
        }
    }

    /// A completed run in which no scenario run succeeded and none of the `requests` its
    /// runs sent got a complete response.
    fn unanswered(requests: u64) -> Verdict {
        Verdict {
            successes: 0,
            scenario_requests: requests,
            scenario_responses: 0,
            ..verdict(Ending::Completed)
        }
    }

    #[test]
    fn precedence_is_interrupted_runtime_failures_thresholds() {
        let all_bad = |ending| Verdict {
            process_died: true,
            failures: 10,
            fail_at: Some(1),
            thresholds_passed: false,
            teardown_failed: true,
            ..verdict(ending)
        };
        let cases: &[(Verdict, u8)] = &[
            (verdict(Ending::Completed), OK),
            (verdict(Ending::SizingKnee), OK),
            (
                Verdict {
                    thresholds_passed: false,
                    ..verdict(Ending::SizingKnee)
                },
                OK,
            ),
            (all_bad(Ending::Interrupted(1)), INTERRUPTED),
            (all_bad(Ending::Completed), RUNTIME),
            (
                Verdict {
                    process_died: false,
                    ..all_bad(Ending::Completed)
                },
                FAILURES,
            ),
            (
                Verdict {
                    thresholds_passed: false,
                    ..verdict(Ending::StoppedOnFailure)
                },
                FAILURES,
            ),
            (verdict(Ending::SetupFailed), FAILURES),
            (
                Verdict {
                    worker_setups_failed: 1,
                    ..verdict(Ending::Completed)
                },
                FAILURES,
            ),
            (
                Verdict {
                    worker_setups_failed: 1,
                    thresholds_passed: false,
                    ..verdict(Ending::Completed)
                },
                FAILURES,
            ),
            (
                Verdict {
                    teardown_failed: true,
                    ..verdict(Ending::Completed)
                },
                FAILURES,
            ),
            (
                Verdict {
                    worker_teardowns_failed: 1,
                    thresholds_passed: false,
                    ..verdict(Ending::Completed)
                },
                FAILURES,
            ),
            // Every scenario run failed before its first request: nothing was sent.
            (
                Verdict {
                    failures: 4,
                    thresholds_passed: false,
                    ..unanswered(0)
                },
                FAILURES,
            ),
            // Every scenario run failed, and not one of their requests got a response (a
            // server that refuses connections): the run measured nothing.
            (
                Verdict {
                    failures: 4,
                    ..unanswered(4)
                },
                FAILURES,
            ),
            // Not one response, the runs cut when the grace period ended (a server that
            // never answers, --grace under the timeout), none failed: it measured nothing.
            (
                Verdict {
                    runs_started: 4,
                    ..unanswered(4)
                },
                FAILURES,
            ),
            // The only run stopped by the end of the load before its first request.
            (
                Verdict {
                    runs_started: 1,
                    runs_stopped: 1,
                    ..unanswered(0)
                },
                FAILURES,
            ),
            // No scenario run started at all (a `setup worker` that outlasted the load, or a
            // load shorter than the workers' start): nothing was sent either.
            (unanswered(0), FAILURES),
            // Runs that failed after a response (a failed assert, a 500, a transport error
            // on a later request) fail the run only with `-f` or `-x`; so do some failed
            // before sending or without a response while others succeeded.
            (
                Verdict {
                    failures: 4,
                    successes: 0,
                    scenario_requests: 4,
                    scenario_responses: 1,
                    ..verdict(Ending::Completed)
                },
                OK,
            ),
            (
                Verdict {
                    failures: 4,
                    successes: 1,
                    scenario_requests: 4,
                    scenario_responses: 0,
                    ..verdict(Ending::Completed)
                },
                OK,
            ),
            (
                Verdict {
                    failures: 4,
                    successes: 1,
                    scenario_requests: 0,
                    ..verdict(Ending::Completed)
                },
                OK,
            ),
            (
                Verdict {
                    thresholds_passed: false,
                    ..verdict(Ending::Completed)
                },
                THRESHOLDS,
            ),
        ];
        for (v, want) in cases {
            assert_eq!(v.code(), *want, "{v:?}");
        }
    }

    #[test]
    fn the_result_line_names_the_reason() {
        let cases: &[(Verdict, &str)] = &[
            (verdict(Ending::Completed), "OK (exit 0)"),
            (
                verdict(Ending::Interrupted(1)),
                "FAILED: interrupted (exit 130)",
            ),
            (
                Verdict {
                    thresholds_passed: false,
                    ..verdict(Ending::Completed)
                },
                "FAILED: a threshold failed (exit 3)",
            ),
            (
                Verdict {
                    failures: 7,
                    fail_at: Some(5),
                    ..verdict(Ending::Completed)
                },
                "FAILED: 7 scenario runs failed (--fail 5) (exit 1)",
            ),
            (
                verdict(Ending::StoppedOnFailure),
                "FAILED: a failure stopped the run (-x) (exit 1)",
            ),
            (
                Verdict {
                    worker_setups_failed: 3,
                    ..verdict(Ending::Completed)
                },
                "FAILED: `setup worker` failed in 3 of 10 workers (exit 1)",
            ),
            (
                Verdict {
                    worker_setups_failed: 1,
                    workers_started: 1,
                    ..verdict(Ending::Completed)
                },
                "FAILED: `setup worker` failed in 1 of 1 worker (exit 1)",
            ),
            (
                Verdict {
                    worker_teardowns_failed: 2,
                    ..verdict(Ending::Completed)
                },
                "FAILED: `teardown worker` failed in 2 of 10 workers (exit 1)",
            ),
            (
                Verdict {
                    process_died: true,
                    ..verdict(Ending::Completed)
                },
                "FAILED: a molotov process died during the run (exit 4)",
            ),
            (
                Verdict {
                    failures: 3,
                    ..unanswered(0)
                },
                "FAILED: no request was sent: all 3 scenario runs failed before sending (exit 1)",
            ),
            (
                Verdict {
                    failures: 6,
                    ..unanswered(6)
                },
                "FAILED: no response came back: all 6 scenario runs failed, and none of their 6 \
                 requests got a complete response (see Errors) (exit 1)",
            ),
            (
                Verdict {
                    runs_started: 4,
                    failures: 1,
                    runs_stopped: 1,
                    ..unanswered(3)
                },
                "FAILED: no response came back: none of the 3 requests of the 4 scenario runs \
                 got a complete response (1 failed, 1 stopped by the end of the load, 2 cut \
                 when their process ended; see Errors) (exit 1)",
            ),
            (
                Verdict {
                    runs_started: 1,
                    runs_stopped: 1,
                    ..unanswered(0)
                },
                "FAILED: no request was sent: the one scenario run ended before sending (1 \
                 stopped by the end of the load) (exit 1)",
            ),
            (
                unanswered(0),
                "FAILED: no request was sent: no scenario run started before the end of the \
                 load (`setup worker` or the start of the workers outlasted it) (exit 1)",
            ),
            (
                Verdict {
                    worker_setups_failed: 2,
                    workers_started: 2,
                    ..unanswered(0)
                },
                "FAILED: `setup worker` failed in 2 of 2 workers (exit 1)",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(v.explain(), *want, "{v:?}");
        }
    }

    #[test]
    fn a_report_not_written_is_exit_2_and_the_result_line_says_so() {
        let threshold = Verdict {
            thresholds_passed: false,
            ..verdict(Ending::Completed)
        };
        let cases: &[(Verdict, &[&str], u8, &str)] = &[
            (verdict(Ending::Completed), &[], OK, "OK (exit 0)"),
            (
                verdict(Ending::Completed),
                &["the HTML report"],
                PLAN_ERROR,
                "FAILED: the HTML report could not be written (exit 2); the run itself completed",
            ),
            (
                threshold,
                &["the JSON report", "the HTML report"],
                PLAN_ERROR,
                "FAILED: the JSON report and the HTML report could not be written (exit 2); \
                 the run itself failed: a threshold failed",
            ),
            (
                verdict(Ending::Interrupted(1)),
                &["the JSON report"],
                INTERRUPTED,
                "FAILED: interrupted, and the JSON report could not be written (exit 130)",
            ),
        ];
        for (v, unwritten, code, line) in cases {
            assert_eq!(v.code_with_unwritten(unwritten), *code, "{unwritten:?}");
            assert_eq!(v.explain_with_unwritten(unwritten), *line);
        }
    }

    #[test]
    fn fail_counts_failures_at_or_above_n() {
        // (failures, -f, code)
        let cases: &[(u64, Option<u64>, u8)] = &[
            (0, None, OK),
            (5, None, OK),
            (0, Some(1), OK),
            (4, Some(5), OK),
            (5, Some(5), FAILURES),
            (6, Some(5), FAILURES),
            (0, Some(0), FAILURES),
        ];
        for &(failures, fail_at, want) in cases {
            let v = Verdict {
                failures,
                fail_at,
                ..verdict(Ending::Completed)
            };
            assert_eq!(v.code(), want, "{failures} failures, -f {fail_at:?}");
        }
    }
}
