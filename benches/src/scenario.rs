//! The comparison's scenarios and how they run: each scenario starts its target (nginx, or
//! molotov-target for `/slow`), then runs its contestants one after the other, round after
//! round (molotov, wrk, h2load, oha, molotov, wrk, ...), each pinned to the load CPUs with the
//! same connection count and duration, and keeps one [`Sample`] per contestant and round.
//!
//! | scenario | target | contestants |
//! | --- | --- | --- |
//! | `static-50`, `static-200`, `static-1` | nginx | molotov `static.mol`, wrk, h2load `--h1`, oha |
//! | `plan` | nginx | molotov `static.mol` and `plan.mol` (template + JSON check + capture) |
//! | `slow` | molotov-target `/slow` (50 ms) | molotov `-w 100`, wrk `-c100 --latency` |
//! | `memory` | nginx | molotov `-w 100` and `-w 10000`, one process |
//! | `scaling` | nginx, one worker per target CPU | molotov `-p 1` and `-p N` (`-w 50` each, `--scaling-workers`), wrk `-t1 -c50` and `-tN -c50N` |
//! | `open` | nginx | molotov `--rate R -w 50` (early starts, the default) and with `--max-early 0`, `oha -q R -c 50 --latency-correction` (`--open-rate`, 20,000) |

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::measure::{self, Exit, MeasureError, Measured, RunSpec};
use crate::nginx::{Nginx, NginxConfig, NginxError};
use crate::parse::{self, ParseError, Report};
use crate::plans;
use crate::target::{TargetError, TargetServer};

/// One scenario of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Static GET, 50 connections, every tool.
    Static50,
    /// Static GET, 200 connections, every tool.
    Static200,
    /// Static GET, 1 connection, every tool: each response wakes the generator on its own,
    /// so this measures what one pass of its event loop costs.
    Static1,
    /// molotov's templated plan against its static plan, 50 workers.
    Plan,
    /// Latency accuracy on a fixed 50 ms endpoint, 100 connections, molotov and wrk.
    Slow,
    /// Peak RSS at `-w 100` and `-w 10000`.
    Memory,
    /// `-p 1` against `-p N` (for a machine with 2N cores or more).
    Scaling,
    /// The open model at a fixed rate below saturation: molotov (early starts, and exact
    /// starts) against `oha -q`, CPU per request and latency from the intended start.
    Open,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 8] = [
        Scenario::Static50,
        Scenario::Static200,
        Scenario::Static1,
        Scenario::Plan,
        Scenario::Slow,
        Scenario::Memory,
        Scenario::Open,
        Scenario::Scaling,
    ];

    /// What runs when no scenario is named: all but the last, scaling (it needs a bigger
    /// machine).
    pub const DEFAULT: [Scenario; 7] = *Scenario::ALL.first_chunk().unwrap();

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Static50 => "static-50",
            Scenario::Static200 => "static-200",
            Scenario::Static1 => "static-1",
            Scenario::Plan => "plan",
            Scenario::Slow => "slow",
            Scenario::Memory => "memory",
            Scenario::Scaling => "scaling",
            Scenario::Open => "open",
        }
    }

    /// The scenario named `name`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether wrk is among its contestants (when installed).
    pub fn runs_wrk(self) -> bool {
        matches!(
            self,
            Scenario::Static50
                | Scenario::Static200
                | Scenario::Static1
                | Scenario::Slow
                | Scenario::Scaling
        )
    }
}

/// Why `duration` cannot be every contestant's run length, if it cannot: wrk's `-d` takes a
/// whole number of seconds (`s`, `m`, `h`; wrk 4.1 answers `-d2500ms` or `-d1.5s` with its
/// usage and exit 1), and every tool of a scenario runs for the same time, so a duration with
/// a fraction of a second is refused when wrk is installed and one of `scenarios` runs it.
/// Without that check every wrk run failed and the ratios to wrk read "not measured".
pub fn duration_problem(
    duration: Duration,
    scenarios: &[Scenario],
    programs: &Programs,
) -> Option<String> {
    let wrk_runs = programs.wrk.is_some() && scenarios.iter().any(|s| s.runs_wrk());
    (wrk_runs && duration.subsec_nanos() != 0).then(|| {
        format!(
            "--duration {:.3}s is not a whole number of seconds, and wrk takes only whole seconds (its -d reads s, m or h): give whole seconds (e.g. --duration {}s), or leave wrk out (--wrk none)",
            duration.as_secs_f64(),
            duration.as_secs().max(1)
        )
    })
}

/// A load generator whose output the comparison can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// molotov (`-q` report).
    Molotov,
    /// wrk.
    Wrk,
    /// h2load `--h1`.
    H2load,
    /// oha `--no-tui --output-format json`.
    Oha,
}

impl Tool {
    /// Reads a run's output.
    pub fn parse(self, stdout: &str) -> Result<Report, ParseError> {
        match self {
            Tool::Molotov => parse::molotov(stdout),
            Tool::Wrk => parse::wrk(stdout),
            Tool::H2load => parse::h2load(stdout),
            Tool::Oha => parse::oha(stdout),
        }
    }
}

/// Paths of the programs; a peer that is `None` is left out of the scenarios (and said so).
#[derive(Debug, Clone)]
pub struct Programs {
    /// The molotov binary (release build).
    pub molotov: PathBuf,
    /// The molotov-target binary.
    pub target_server: PathBuf,
    /// nginx.
    pub nginx: Option<PathBuf>,
    /// wrk.
    pub wrk: Option<PathBuf>,
    /// h2load.
    pub h2load: Option<PathBuf>,
    /// oha.
    pub oha: Option<PathBuf>,
}

/// How the comparison runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The programs.
    pub programs: Programs,
    /// Rounds (each contestant runs once per round).
    pub rounds: usize,
    /// Length of each run.
    pub duration: Duration,
    /// CPUs of the load generators.
    pub load_cpus: Vec<usize>,
    /// CPUs of the target (nginx workers, molotov-target threads).
    pub target_cpus: Vec<usize>,
    /// nginx's port.
    pub port: u16,
    /// molotov-target's port.
    pub slow_port: u16,
    /// Raw outputs, plans and nginx's files go here.
    pub work_dir: PathBuf,
    /// `-p` of the scaling scenario's large run.
    pub scaling_processes: usize,
    /// `-w` per process (and wrk's connections per thread) of the scaling scenario.
    pub scaling_workers: usize,
    /// `-w` of the memory scenario's two runs.
    pub memory_workers: [usize; 2],
    /// Starts (requests) per second of the open scenario.
    pub open_rate: u32,
    /// Pause between two runs (lets the target drain closed connections).
    pub pause: Duration,
}

/// One contestant of a scenario: a label and the command that runs it.
#[derive(Debug, Clone)]
pub struct Contestant {
    /// Shown in the tables (`molotov`, `wrk`, `molotov -w 10000`, ...).
    pub label: String,
    /// Whose output it is.
    pub tool: Tool,
    /// The command (its `output` is set per run).
    pub spec: RunSpec,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What the tool reported.
    pub report: Report,
    /// The measurement of its process tree.
    pub measured: Measured,
    /// For `slow`: requests the target answered during the run.
    pub target_answered: Option<u64>,
}

impl Sample {
    /// Successful requests per second (the tool's own elapsed time).
    pub fn rate(&self) -> f64 {
        self.report.rate()
    }

    /// Successful requests per CPU-second of the whole process tree.
    pub fn per_cpu_second(&self) -> f64 {
        self.report.ok as f64 / self.measured.cpu().as_secs_f64()
    }

    /// `cpu` (the process tree's whole CPU time, or a part of it) in microseconds per
    /// successful request.
    pub fn micros_per_request(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.report.ok.max(1) as f64
    }

    /// The busiest share among the target's CPUs during the run.
    pub fn target_busy(&self) -> f64 {
        self.measured
            .busy
            .iter()
            .map(|(_, b)| *b)
            .fold(f64::NAN, f64::max)
    }

    /// The mean busy share of the target's CPUs during the run: with several target workers,
    /// a busiest CPU near 100% beside a low mean says the load was spread unevenly.
    pub fn target_busy_mean(&self) -> f64 {
        let busy = &self.measured.busy;
        busy.iter().map(|(_, b)| *b).sum::<f64>() / busy.len() as f64
    }
}

/// Everything one scenario measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Which scenario.
    pub scenario: Scenario,
    /// A one-line description.
    pub title: String,
    /// The contestants, in the order of the first round (each round starts one further on).
    pub contestants: Vec<Contestant>,
    /// `samples[c][r]`: contestant `c` in round `r` (`None`: that run failed).
    pub samples: Vec<Vec<Option<Sample>>>,
    /// What was skipped or went wrong.
    pub notes: Vec<String>,
}

impl Outcome {
    /// The samples of the contestant labelled `label`.
    pub fn column(&self, label: &str) -> Option<&[Option<Sample>]> {
        self.contestants
            .iter()
            .position(|c| c.label == label)
            .map(|i| self.samples[i].as_slice())
    }
}

/// Errors that stop a scenario.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// nginx could not be started.
    #[error(transparent)]
    Nginx(#[from] NginxError),
    /// molotov-target could not be started.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A run could not be started or waited for.
    #[error(transparent)]
    Measure(#[from] MeasureError),
    /// A file of the work folder could not be written.
    #[error("{path}: {source}")]
    Files {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The scenario needs a program that is not installed.
    #[error("{scenario} needs {program}, which is not installed")]
    Missing {
        /// The scenario.
        scenario: &'static str,
        /// The program.
        program: &'static str,
    },
}

/// `5s`, `2500ms`: a duration as molotov's, h2load's and oha's flags take it (wrk takes only
/// the first form: see [`duration_problem`]).
fn flag_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl Settings {
    fn nginx_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spec(&self, program: &Path, args: Vec<String>, cpus: &[usize]) -> RunSpec {
        RunSpec {
            program: program.to_path_buf(),
            args,
            env: Vec::new(),
            cpus: cpus.to_vec(),
            // Room for connecting 10,000 workers and molotov's grace period.
            timeout: self.duration + Duration::from_secs(90),
            output: PathBuf::new(),
            watch: self.target_cpus.clone(),
        }
    }

    /// The contestant `label`: `program` with `args`, pinned to the load CPUs.
    fn on_load_cpus(
        &self,
        label: &str,
        tool: Tool,
        program: &Path,
        args: Vec<String>,
    ) -> Contestant {
        Contestant {
            label: label.into(),
            tool,
            spec: self.spec(program, args, &self.load_cpus),
        }
    }

    /// molotov `-p P -w W -d D -q --seed 1 PLAN`, with `TARGET` set.
    fn molotov(
        &self,
        label: &str,
        plan: &Path,
        processes: usize,
        workers: usize,
        target: &str,
    ) -> Contestant {
        let args = vec![
            "-p".into(),
            processes.to_string(),
            "-w".into(),
            workers.to_string(),
            "-d".into(),
            flag_duration(self.duration),
            "-q".into(),
            "--seed".into(),
            "1".into(),
            plan.display().to_string(),
        ];
        let mut c = self.on_load_cpus(label, Tool::Molotov, &self.programs.molotov, args);
        c.spec.env.push(("TARGET".into(), target.into()));
        c
    }

    fn wrk(
        &self,
        label: &str,
        threads: usize,
        connections: usize,
        url: &str,
        latency: bool,
    ) -> Option<Contestant> {
        let program = self.programs.wrk.as_ref()?;
        let mut args = vec![
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{}", flag_duration(self.duration)),
        ];
        if latency {
            args.push("--latency".into());
        }
        args.push(url.into());
        Some(self.on_load_cpus(label, Tool::Wrk, program, args))
    }

    fn h2load(&self, connections: usize, url: &str) -> Option<Contestant> {
        let program = self.programs.h2load.as_ref()?;
        let args = vec![
            "--h1".into(),
            "-t1".into(),
            format!("-c{connections}"),
            "-D".into(),
            flag_duration(self.duration),
            url.into(),
        ];
        Some(self.on_load_cpus("h2load", Tool::H2load, program, args))
    }

    fn oha(&self, connections: usize, url: &str) -> Option<Contestant> {
        let program = self.programs.oha.as_ref()?;
        let args = vec![
            "--no-tui".into(),
            "--output-format".into(),
            "json".into(),
            "-c".into(),
            connections.to_string(),
            "-z".into(),
            flag_duration(self.duration),
            url.into(),
        ];
        Some(self.on_load_cpus("oha", Tool::Oha, program, args))
    }

    /// The open scenario's contestants: molotov `--rate R` with its default early starts and
    /// with `--max-early 0` (a wake-up per arrival), and `oha -q R --latency-correction`, all
    /// on `connections` connections (molotov's `-w`).
    fn open_contestants(
        &self,
        static_plan: &Path,
        nginx_url: &str,
        connections: usize,
    ) -> (Vec<Contestant>, Peer) {
        let rate = self.open_rate.to_string();
        let with_rate = |label: &str, extra: &[&str]| {
            let c = self.molotov(label, static_plan, 1, connections, nginx_url);
            with_args_before_last(c, [&["--rate", rate.as_str()], extra].concat())
        };
        let molotov = vec![
            with_rate("molotov", &[]),
            with_rate("molotov exact", &["--max-early", "0"]),
        ];
        let oha = self
            .oha(connections, &format!("{nginx_url}/"))
            .map(|c| with_args_before_last(c, vec!["-q", &rate, "--latency-correction"]));
        (molotov, ("oha", oha))
    }

    fn write_plan(&self, name: &str, source: &str) -> Result<PathBuf, CompareError> {
        let dir = self.work_dir.join("plans");
        let path = dir.join(name);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, source))
            .map_err(|source| CompareError::Files {
                path: path.display().to_string(),
                source,
            })?;
        Ok(path)
    }

    /// The scaling scenario's contestants: molotov `-p 1` and `-p N` at `scaling_workers`
    /// per process, and (when installed) wrk `-t1` and `-tN` with as many connections.
    fn scaling_contestants(
        &self,
        static_plan: &Path,
        nginx_url: &str,
    ) -> (Vec<Contestant>, Vec<Peer>) {
        let (n, w) = (self.scaling_processes, self.scaling_workers);
        let root = format!("{nginx_url}/");
        let molotov = vec![
            self.molotov("molotov -p 1", static_plan, 1, w, nginx_url),
            self.molotov(&format!("molotov -p {n}"), static_plan, n, w, nginx_url),
        ];
        let wrk = vec![
            ("wrk", self.wrk("wrk -t1", 1, w, &root, false)),
            (
                "wrk",
                self.wrk(&format!("wrk -t{n}"), n, w * n, &root, false),
            ),
        ];
        (molotov, wrk)
    }

    fn start_nginx(&self, scenario: Scenario) -> Result<Nginx, CompareError> {
        let binary = self.programs.nginx.clone().ok_or(CompareError::Missing {
            scenario: scenario.name(),
            program: "nginx",
        })?;
        Ok(Nginx::start(&NginxConfig {
            binary,
            dir: self.work_dir.join("nginx"),
            port: self.port,
            workers: self.target_cpus.len(),
            cpus: self.target_cpus.clone(),
        })?)
    }
}

/// `c` with `extra` inserted before its last argument (the plan, or the URL).
fn with_args_before_last(mut c: Contestant, extra: Vec<&str>) -> Contestant {
    let last = c.spec.args.pop();
    c.spec.args.extend(extra.into_iter().map(str::to_string));
    c.spec.args.extend(last);
    c
}

/// A peer's contestant by the peer's name; None when the peer is not installed.
type Peer = (&'static str, Option<Contestant>);

/// The target a scenario runs against, kept alive while it runs.
enum Target {
    Nginx(#[allow(dead_code)] Nginx),
    Server(TargetServer),
}

/// Runs one scenario; progress lines (one per run) go to `log`.
pub fn run(
    scenario: Scenario,
    settings: &Settings,
    log: &mut dyn Write,
) -> Result<Outcome, CompareError> {
    let s = settings;
    let mut notes = Vec::new();
    let static_plan = s.write_plan("static.mol", plans::STATIC)?;
    let nginx_url = s.nginx_url();
    let root = format!("{nginx_url}/");
    let mut peers = |list: Vec<(&str, Option<Contestant>)>| -> Vec<Contestant> {
        list.into_iter()
            .filter_map(|(name, c)| {
                if c.is_none() {
                    notes.push(format!("{name} is not installed: left out"));
                }
                c
            })
            .collect()
    };
    let w = 50;
    let (title, contestants, target) = match scenario {
        Scenario::Static50 | Scenario::Static200 | Scenario::Static1 => {
            let c = match scenario {
                Scenario::Static50 => 50,
                Scenario::Static200 => 200,
                _ => 1,
            };
            let mut list = vec![s.molotov("molotov", &static_plan, 1, c, &nginx_url)];
            list.extend(peers(vec![
                ("wrk", s.wrk("wrk", 1, c, &root, false)),
                ("h2load", s.h2load(c, &root)),
                ("oha", s.oha(c, &root)),
            ]));
            (
                format!(
                    "static GET, {c} connection{}, nginx `return 200` (11-byte JSON body)",
                    if c == 1 { "" } else { "s" }
                ),
                list,
                Target::Nginx(s.start_nginx(scenario)?),
            )
        }
        Scenario::Plan => {
            let templated = s.write_plan("plan.mol", plans::TEMPLATED)?;
            (
                format!(
                    "plan overhead, {w} workers: templated URL + JSON check + capture against the static GET, same nginx"
                ),
                vec![
                    s.molotov("molotov static", &static_plan, 1, w, &nginx_url),
                    s.molotov("molotov plan", &templated, 1, w, &nginx_url),
                ],
                Target::Nginx(s.start_nginx(scenario)?),
            )
        }
        Scenario::Slow => {
            let slow = s.write_plan("slow.mol", plans::SLOW)?;
            let url = format!("http://127.0.0.1:{}", s.slow_port);
            let mut list = vec![s.molotov("molotov", &slow, 1, 100, &url)];
            list.extend(peers(vec![(
                "wrk",
                s.wrk("wrk", 1, 100, &format!("{url}/slow"), true),
            )]));
            let server = TargetServer::start(
                s.programs.target_server.clone(),
                s.slow_port,
                &s.target_cpus,
            )?;
            (
                "latency accuracy: molotov-target /slow (fixed 50 ms), 100 connections".to_string(),
                list,
                Target::Server(server),
            )
        }
        Scenario::Memory => {
            let [small, large] = s.memory_workers;
            (
                format!(
                    "memory: peak RSS of one load process at -w {small} and -w {large} (static GET, nginx)"
                ),
                vec![
                    s.molotov(
                        &format!("molotov -w {small}"),
                        &static_plan,
                        1,
                        small,
                        &nginx_url,
                    ),
                    s.molotov(
                        &format!("molotov -w {large}"),
                        &static_plan,
                        1,
                        large,
                        &nginx_url,
                    ),
                ],
                Target::Nginx(s.start_nginx(scenario)?),
            )
        }
        Scenario::Open => {
            let (mut list, oha) = s.open_contestants(&static_plan, &nginx_url, w);
            list.extend(peers(vec![oha]));
            (
                format!(
                    "open model: {} starts/s, {w} connections, nginx `return 200`; latency from the intended start",
                    crate::report::thousands(f64::from(s.open_rate))
                ),
                list,
                Target::Nginx(s.start_nginx(scenario)?),
            )
        }
        Scenario::Scaling => {
            let (n, w) = (s.scaling_processes, s.scaling_workers);
            let (mut list, wrk) = s.scaling_contestants(&static_plan, &nginx_url);
            list.extend(peers(wrk));
            (
                format!(
                    "scaling: -p 1 against -p {n} (-w {w} per process) on CPUs {}, nginx with {} workers on CPUs {}",
                    measure::cpu_list(&s.load_cpus),
                    s.target_cpus.len(),
                    measure::cpu_list(&s.target_cpus)
                ),
                list,
                Target::Nginx(s.start_nginx(scenario)?),
            )
        }
    };
    let raw = s.work_dir.join("raw").join(scenario.name());
    std::fs::create_dir_all(&raw).map_err(|source| CompareError::Files {
        path: raw.display().to_string(),
        source,
    })?;
    let _ = writeln!(log, "\n== {}: {title}", scenario.name());
    for c in &contestants {
        let _ = writeln!(log, "   {:<18} {}", c.label, c.spec.command_line());
    }
    for note in &notes {
        let _ = writeln!(log, "   note: {note}");
    }
    let mut samples: Vec<Vec<Option<Sample>>> = vec![Vec::new(); contestants.len()];
    // The order rotates from round to round (molotov first in round 1, the next contestant
    // first in round 2, ...): no tool always takes the first run against a fresh target or
    // always follows the same one. Each round still gives every contestant one run.
    for round in 1..=s.rounds {
        for k in 0..contestants.len() {
            let i = (k + round - 1) % contestants.len();
            let c = &contestants[i];
            let mut spec = c.spec.clone();
            let file = c.label.replace(' ', "_");
            spec.output = raw.join(format!("{round}-{file}"));
            let before = match &target {
                Target::Server(server) => server.answered().ok(),
                Target::Nginx(_) => None,
            };
            let measured = match measure::run(&spec) {
                Ok(m) => m,
                Err(e) => {
                    let note = format!("round {round} {}: not run: {e}", c.label);
                    let _ = writeln!(log, "   {note}");
                    notes.push(note);
                    samples[i].push(None);
                    continue;
                }
            };
            let after = match &target {
                Target::Server(server) => server.answered().ok(),
                Target::Nginx(_) => None,
            };
            let sample = match (measured.exit, c.tool.parse(&measured.stdout)) {
                (Exit::Code(0), Ok(report)) => Some(Sample {
                    report,
                    measured,
                    target_answered: before.zip(after).map(|(b, a)| a.saturating_sub(b)),
                }),
                (exit, parsed) => {
                    let why = match parsed {
                        Err(e) => e.to_string(),
                        Ok(_) => format!("{exit:?}"),
                    };
                    let tail: String = measured
                        .stderr
                        .lines()
                        .rev()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" | ");
                    let note = format!(
                        "round {round} {}: failed ({exit:?}): {why}; stderr: {tail}",
                        c.label
                    );
                    let _ = writeln!(log, "   {note}");
                    notes.push(note);
                    None
                }
            };
            if let Some(sample) = &sample {
                let _ = writeln!(log, "   {}", run_line(round, &c.label, sample));
            }
            samples[i].push(sample);
            std::thread::sleep(s.pause);
        }
    }
    drop(target);
    Ok(Outcome {
        scenario,
        title,
        contestants,
        samples,
        notes,
    })
}

/// One progress line: what a run did and cost.
pub fn run_line(round: usize, label: &str, sample: &Sample) -> String {
    let r = &sample.report;
    let m = &sample.measured;
    let mut line = format!(
        "round {round} {label:<16} {:>9} ok in {:.2}s = {:>9} req/s | cpu {:.2}u+{:.2}s = {:.2}s -> {:>9} req/CPU-s ({:.2} CPU-µs/req)",
        crate::report::thousands(r.ok as f64),
        r.elapsed.as_secs_f64(),
        crate::report::thousands(sample.rate()),
        m.user.as_secs_f64(),
        m.sys.as_secs_f64(),
        m.cpu().as_secs_f64(),
        crate::report::thousands(sample.per_cpu_second()),
        sample.micros_per_request(m.cpu()),
    );
    let busy = sample.target_busy();
    if busy.is_finite() {
        line.push_str(&format!(" | target CPU {:.0}% busy", busy * 100.0));
    }
    if r.errors > 0 {
        line.push_str(&format!(" | {} errors", r.errors));
    }
    if let (Some(p50), Some(p99)) = (r.p50, r.p99) {
        line.push_str(&format!(
            " | p50 {:.2}ms p99 {:.2}ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        ));
    }
    if let Some(rss) = r.worker_peak_rss() {
        line.push_str(&format!(
            " | worker peak RSS {:.1} MiB",
            rss as f64 / 1048576.0
        ));
    }
    if let Some(n) = sample.target_answered {
        line.push_str(&format!(" | target answered {n}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            programs: Programs {
                molotov: "molotov".into(),
                target_server: "molotov-target".into(),
                nginx: None,
                wrk: Some("wrk".into()),
                h2load: None,
                oha: Some("oha".into()),
            },
            rounds: 1,
            duration: Duration::from_secs(3),
            load_cpus: vec![0],
            target_cpus: vec![1],
            port: 18081,
            slow_port: 18082,
            work_dir: "/tmp/w".into(),
            scaling_processes: 8,
            scaling_workers: 50,
            memory_workers: [100, 10_000],
            open_rate: 20_000,
            pause: Duration::ZERO,
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
        }
        assert_eq!(Scenario::from_name("nope"), None);
        // The default runs every scenario but scaling, in the same order.
        assert_eq!(Scenario::ALL[..7], Scenario::DEFAULT);
        assert_eq!(Scenario::ALL[7], Scenario::Scaling);
    }

    #[test]
    fn every_tool_gets_the_same_connections_duration_and_cpus() {
        let s = settings();
        let url = "http://127.0.0.1:18081/";
        let lines = [
            s.molotov(
                "molotov",
                Path::new("/tmp/w/plans/static.mol"),
                1,
                50,
                "http://127.0.0.1:18081",
            )
            .spec
            .command_line(),
            s.wrk("wrk", 1, 50, url, false).unwrap().spec.command_line(),
            s.oha(50, url).unwrap().spec.command_line(),
        ];
        assert_eq!(
            lines,
            [
                "TARGET=http://127.0.0.1:18081 taskset -c 0 molotov -p 1 -w 50 -d 3s -q --seed 1 /tmp/w/plans/static.mol",
                "taskset -c 0 wrk -t1 -c50 -d3s http://127.0.0.1:18081/",
                "taskset -c 0 oha --no-tui --output-format json -c 50 -z 3s http://127.0.0.1:18081/",
            ]
        );
        assert!(s.h2load(50, url).is_none(), "h2load is not installed here");
        let mut s = s;
        s.programs.h2load = Some("h2load".into());
        s.duration = Duration::from_secs(5);
        assert_eq!(
            s.h2load(50, url).unwrap().spec.command_line(),
            "taskset -c 0 h2load --h1 -t1 -c50 -D 5s http://127.0.0.1:18081/"
        );
        // molotov, h2load and oha take milliseconds (wrk does not: see the next test).
        s.duration = Duration::from_millis(2500);
        assert_eq!(
            s.h2load(50, url).unwrap().spec.command_line(),
            "taskset -c 0 h2load --h1 -t1 -c50 -D 2500ms http://127.0.0.1:18081/"
        );
        assert_eq!(
            s.oha(50, url).unwrap().spec.command_line(),
            "taskset -c 0 oha --no-tui --output-format json -c 50 -z 2500ms http://127.0.0.1:18081/"
        );
    }

    #[test]
    fn a_duration_wrk_cannot_take_is_refused_when_wrk_runs() {
        let s = settings();
        let whole = Duration::from_secs(3);
        let ms = Duration::from_millis(2500);
        let fraction = Duration::from_secs_f64(1.5);
        let all = Scenario::DEFAULT;
        assert_eq!(duration_problem(whole, &all, &s.programs), None);
        for d in [ms, fraction] {
            let why = duration_problem(d, &all, &s.programs).expect("refused");
            assert!(why.contains("wrk takes only whole seconds"), "{why}");
            assert!(why.contains("--wrk none"), "{why}");
            // Scenarios without wrk, or wrk left out: any duration.
            let no_wrk = [Scenario::Plan, Scenario::Memory, Scenario::Open];
            assert_eq!(duration_problem(d, &no_wrk, &s.programs), None);
            let mut without = s.programs.clone();
            without.wrk = None;
            assert_eq!(duration_problem(d, &all, &without), None);
        }
        let why = duration_problem(ms, &[Scenario::Scaling], &s.programs).unwrap();
        assert!(why.starts_with("--duration 2.500s "), "{why}");
        assert!(why.contains("--duration 2s"), "{why}");
    }

    #[test]
    fn scaling_gives_each_process_and_wrk_thread_the_same_connections() {
        let mut s = settings();
        s.load_cpus = (0..8).collect();
        s.scaling_processes = 8;
        s.scaling_workers = 200;
        let (molotov, wrk) = s.scaling_contestants(
            Path::new("/tmp/w/plans/static.mol"),
            "http://127.0.0.1:18081",
        );
        let lines: Vec<String> = molotov
            .iter()
            .chain(wrk.iter().filter_map(|(_, c)| c.as_ref()))
            .map(|c| format!("{}: {}", c.label, c.spec.command_line()))
            .collect();
        assert_eq!(
            lines,
            [
                "molotov -p 1: TARGET=http://127.0.0.1:18081 taskset -c 0-7 molotov -p 1 -w 200 -d 3s -q --seed 1 /tmp/w/plans/static.mol",
                "molotov -p 8: TARGET=http://127.0.0.1:18081 taskset -c 0-7 molotov -p 8 -w 200 -d 3s -q --seed 1 /tmp/w/plans/static.mol",
                "wrk -t1: taskset -c 0-7 wrk -t1 -c200 -d3s http://127.0.0.1:18081/",
                "wrk -t8: taskset -c 0-7 wrk -t8 -c1600 -d3s http://127.0.0.1:18081/",
            ]
        );
    }

    #[test]
    fn the_open_scenario_gives_molotov_and_oha_the_same_rate_and_connections() {
        let s = settings();
        let (molotov, oha) = s.open_contestants(
            Path::new("/tmp/w/plans/static.mol"),
            "http://127.0.0.1:18081",
            50,
        );
        let lines: Vec<String> = molotov
            .iter()
            .chain(oha.1.as_ref())
            .map(|c| format!("{}: {}", c.label, c.spec.command_line()))
            .collect();
        assert_eq!(
            lines,
            [
                "molotov: TARGET=http://127.0.0.1:18081 taskset -c 0 molotov -p 1 -w 50 -d 3s -q --seed 1 --rate 20000 /tmp/w/plans/static.mol",
                "molotov exact: TARGET=http://127.0.0.1:18081 taskset -c 0 molotov -p 1 -w 50 -d 3s -q --seed 1 --rate 20000 --max-early 0 /tmp/w/plans/static.mol",
                "oha: taskset -c 0 oha --no-tui --output-format json -c 50 -z 3s -q 20000 --latency-correction http://127.0.0.1:18081/",
            ]
        );
    }

    #[test]
    fn scenarios_needing_nginx_say_so_when_it_is_missing() {
        let mut s = settings();
        s.work_dir =
            std::env::temp_dir().join(format!("molotov-scenario-test-{}", std::process::id()));
        let err = run(Scenario::Static50, &s, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(
                err,
                CompareError::Missing {
                    program: "nginx",
                    ..
                }
            ),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&s.work_dir);
    }
}
