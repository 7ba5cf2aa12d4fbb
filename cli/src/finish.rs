//! After the run: thresholds evaluated, the text report printed, the JSON and HTML reports
//! written, and the exit code decided.
//!
//! Report files are created before the run starts ([`ReportFiles::create`]), so a wrong path
//! fails at once instead of after a long run.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use molotov_core::html_report;
use molotov_core::json_report::{self, Context, Report};
use molotov_core::report;
use molotov_core::run::{Ending, RunConfig, RunResult};
use molotov_core::thresholds;
use molotov_dsl::Program;

use crate::exit::{self, Verdict};

/// Where the JSON report goes.
enum JsonSink {
    Stdout,
    File(PathBuf, File),
}

/// The report files asked for, created (empty) before the run.
pub struct ReportFiles {
    json: Option<JsonSink>,
    html: Option<(PathBuf, File)>,
}

fn create(path: &Path, what: &str) -> Result<File, String> {
    File::create(path).map_err(|e| format!("cannot write the {what} to {}: {e}", path.display()))
}

/// Where `path` leads once links and `..` are resolved (the file need not exist yet), for
/// comparing it with other paths.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(path) = std::fs::canonicalize(path) {
        return path;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses report paths that would overwrite a file the plan was read from, or each other.
fn check_paths(json: Option<&Path>, html: Option<&Path>, inputs: &[PathBuf]) -> Result<(), String> {
    if html.is_some_and(|p| p == Path::new("-")) {
        return Err(
            "--html -: the HTML report goes to a file (only --json writes to stdout, with -); \
             to write a file named -, give ./-"
                .into(),
        );
    }
    let json = json.filter(|p| *p != Path::new("-"));
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for (flag, path) in [("--json", json), ("--html", html)] {
        let Some(path) = path else { continue };
        let target = resolved(path);
        if inputs.contains(&target) {
            return Err(format!(
                "{flag} {}: the plan is read from that file, and the report would overwrite it",
                path.display()
            ));
        }
        if let Some((other, _)) = seen.iter().find(|(_, t)| *t == target) {
            return Err(format!(
                "{other} and {flag} name the same file ({}): give each report its own",
                path.display()
            ));
        }
        seen.push((flag, target));
    }
    Ok(())
}

impl ReportFiles {
    /// Creates the files of `--json` (unless `-`) and `--html`, after checking that neither
    /// is one of `inputs` (the files the plan was read from) nor the other.
    pub fn create(
        json: Option<&Path>,
        html: Option<&Path>,
        inputs: &[PathBuf],
    ) -> Result<ReportFiles, String> {
        check_paths(json, html, inputs)?;
        let json = match json {
            None => None,
            Some(p) if p == Path::new("-") => Some(JsonSink::Stdout),
            Some(p) => Some(JsonSink::File(p.to_path_buf(), create(p, "JSON report")?)),
        };
        let html = match html {
            None => None,
            Some(p) => Some((p.to_path_buf(), create(p, "HTML report")?)),
        };
        Ok(ReportFiles { json, html })
    }

    /// Whether the JSON report goes to stdout (then everything else goes to stderr).
    pub fn json_to_stdout(&self) -> bool {
        matches!(self.json, Some(JsonSink::Stdout))
    }
}

/// What the end of a run needs.
pub struct Finish<'a> {
    /// The plan as given (`demo` for the demo).
    pub plan: &'a str,
    /// The compiled plan.
    pub program: &'a Program,
    /// The run's settings.
    pub config: &'a RunConfig,
    /// `-f`.
    pub fail: Option<u64>,
    /// Print the seed (with `-v` or `--debug`).
    pub show_seed: bool,
    /// When the load started (wall clock).
    pub started_at: SystemTime,
    /// Sections printed after the main report (the load models' own).
    pub extra: String,
}

/// Prints the text report, writes the report files and returns the exit code.
pub fn finish(f: &Finish<'_>, result: &RunResult, files: ReportFiles) -> u8 {
    let outcomes = thresholds::evaluate(f.program, &result.summary);
    let verdict = Verdict::of(result, f.fail, thresholds::all_passed(&outcomes));
    let mut code = verdict.code();

    let mut text = report::render(&result.summary);
    text.push_str(&f.extra);
    text.push_str(&report::render_thresholds(&outcomes));
    if let Some(failure) = &result.first_failure
        && matches!(
            result.ending,
            Ending::StoppedOnFailure | Ending::SetupFailed
        )
    {
        let label = if result.ending == Ending::SetupFailed {
            "setup failed"
        } else {
            "stopped on the first failure"
        };
        let at = failure
            .location
            .as_deref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let status = if failure.status > 0 {
            format!(" (status {})", failure.status)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "\n{label}: {}{at}{status}: {}\n",
            failure.what, failure.message
        ));
    }
    text.push_str(&format!("\nResult: {}\n", verdict.explain()));
    if f.show_seed {
        text.push_str(&format!("seed: {}\n", f.config.options.seed));
    }

    let json_ctx = Context {
        plan: f.plan,
        program: f.program,
        config: f.config,
        result,
        thresholds: &outcomes,
        started_at: f.started_at,
        fail: f.fail,
        exit_code: code,
    };
    let built: Report = json_report::build(&json_ctx);
    let json_to_stdout = files.json_to_stdout();
    let mut write_failed = false;
    if json_to_stdout {
        molotov_core::err!("{text}");
    } else {
        // Not `print!`: a reader that went away (`molotov ... | head -1`) must not make the
        // master panic before the report files are written; that reader asked for no more,
        // but any other failure (a full disk) loses the report, which is said, and fails.
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            molotov_core::errln!("molotov: error: cannot write the text report to stdout: {e}");
            write_failed = true;
        }
    }
    match files.json {
        None => {}
        Some(JsonSink::Stdout) => {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(built.to_json().as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                molotov_core::errln!("molotov: error: cannot write the JSON report to stdout");
                write_failed = true;
            }
        }
        Some(JsonSink::File(path, mut file)) => {
            if let Err(e) = file.write_all(built.to_json().as_bytes()) {
                molotov_core::errln!(
                    "molotov: error: cannot write the JSON report to {}: {e}",
                    path.display()
                );
                write_failed = true;
            }
        }
    }
    if let Some((path, mut file)) = files.html
        && let Err(e) = file.write_all(html_report::render(&built).as_bytes())
    {
        molotov_core::errln!(
            "molotov: error: cannot write the HTML report to {}: {e}",
            path.display()
        );
        write_failed = true;
    }
    // As documented: a report that cannot be written is exit 2, whether its file could not
    // be created before the run or could not be written after it.
    if write_failed && code != exit::INTERRUPTED {
        code = exit::PLAN_ERROR;
    }
    code
}
