//! Flags of the load models (`--ramp-up`, `--delay`, `--single-run`, `--single-mode`,
//! `--rate`, `--stages`, `--max-late`, `--max-early`, `--early-batch`, `--sizing`,
//! `--sizing-tolerance`) and how they turn into the engine's settings.

use std::time::Duration;

use molotov_core::engine::{DEFAULT_EARLY_BATCH, DEFAULT_MAX_EARLY, LoadOptions, RateOptions};
use molotov_core::load::{RateSchedule, Stage, parse_stages};
use molotov_core::sizing::SizingConfig;
use molotov_dsl::Program;

use crate::duration::{MAX_DURATION, parse_duration, parse_positive_duration};

fn rate(text: &str) -> Result<f64, String> {
    let r: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    // `nan` and `inf` parse: the first is no number, the second is above the bound.
    if r.is_nan() {
        return Err(format!("{text:?} is not a number"));
    }
    if r <= 0.0 {
        return Err(
            "a rate is a number of scenario starts per second, more than 0 (and at most 1e9)"
                .into(),
        );
    }
    if r > molotov_core::load::MAX_RATE {
        return Err(
            "a rate is a finite number of scenario starts per second, at most 1e9 (one per \
             nanosecond, the resolution of the schedule)"
                .into(),
        );
    }
    Ok(r)
}

fn percent(text: &str) -> Result<f64, String> {
    let p: f64 = text
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{text:?} is not a percentage"))?;
    if !p.is_finite() || p <= 0.0 || p >= 100.0 {
        return Err("a tolerance is a percentage between 0 and 100 (exclusive)".into());
    }
    Ok(p)
}

/// The parsed `--stages` list (a newtype, so clap takes it as one value).
#[derive(Debug, Clone, PartialEq)]
pub struct Stages(pub Vec<Stage>);

fn stages(text: &str) -> Result<Stages, String> {
    let stages = parse_stages(text, parse_duration).map_err(|e| e.to_string())?;
    // The stages end the run: their sum is its duration, with the bound of every duration
    // (each stage is within it, their sum need not be).
    let total = stages
        .iter()
        .try_fold(Duration::ZERO, |sum, s| sum.checked_add(s.duration));
    if total.is_none_or(|total| total > MAX_DURATION) {
        return Err(format!(
            "the stages last more than {} seconds in all (about 31 years), the longest run",
            MAX_DURATION.as_secs()
        ));
    }
    Ok(Stages(stages))
}

/// Load-model flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Start the workers of all processes evenly spread over this long (sizing: default 5m).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_positive_duration)]
    pub ramp_up: Option<Duration>,

    /// Pause after every scenario run (added to the scenario's own `delay`).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_duration)]
    pub delay: Option<Duration>,

    /// Each worker runs every scenario once, in plan order, then stops.
    #[arg(long, conflicts_with_all = ["max_runs", "single_mode", "rate", "stages", "sizing"])]
    pub single_run: bool,

    /// Run only the scenario NAME.
    #[arg(long, value_name = "NAME")]
    pub single_mode: Option<String>,

    /// Open model: start R scenario runs per second over the whole run (split evenly across
    /// processes), whatever the responses take. -w is then the most runs in flight per
    /// process (default 50). Latency is measured from each run's intended start
    /// (coordinated-omission correct), or from its actual start when that came first
    /// (--max-early); the pure service time is reported too.
    #[arg(long, value_name = "R", allow_negative_numbers = true, value_parser = rate, conflicts_with = "max_runs")]
    pub rate: Option<f64>,

    /// Open model: shape the rate with stages DURATION:RATE,... ; the rate moves linearly
    /// from --rate (or 0) to each target over each stage, and the run ends with the last.
    #[arg(long, value_name = "STAGES", allow_hyphen_values = true, value_parser = stages)]
    pub stages: Option<Stages>,

    /// Open model: drop (count, do not run) starts that are later than this.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_positive_duration, value_name = "D")]
    pub max_late: Option<Duration>,

    /// Open model: an arrival due within this of a wake-up starts in it, early, instead of
    /// waking the process again at its time; its latency is then measured from its actual
    /// start. 0 starts every run at its time, at more CPU per start [default: 1ms].
    #[arg(long, allow_hyphen_values = true, value_parser = parse_duration, value_name = "D")]
    pub max_early: Option<Duration>,

    /// Open model: the most runs that start early in one wake-up (--max-early), so the server
    /// sees at most N + 1 starts at once from a process. 0: none early [default: 8].
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub early_batch: Option<u32>,

    /// Sizing mode: ramp the workers (or, with --rate, the rate) up over --ramp-up to -w
    /// (default 500 per process) and stop when the failure ratio exceeds the tolerance; report
    /// the last load below it.
    #[arg(long, conflicts_with = "max_runs")]
    pub sizing: bool,

    /// Sizing mode: the failure ratio (percent) that is too much [default: 5].
    #[arg(long, allow_negative_numbers = true, value_parser = percent, value_name = "PCT")]
    pub sizing_tolerance: Option<f64>,
}

/// What the load flags decide.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The engine's load options.
    pub load: LoadOptions,
    /// Sizing, when asked.
    pub sizing: Option<SizingConfig>,
    /// Workers per process when -w is not given.
    pub default_workers: Option<u32>,
    /// Duration when -d is not given.
    pub default_duration: Option<Duration>,
    /// Warnings about the plan under these flags (the run goes on), one line each.
    pub warnings: Vec<String>,
}

/// The most `--max-early` takes: beyond it the schedule would be bunched into bursts, not
/// followed.
pub const MAX_EARLY_LIMIT: Duration = Duration::from_secs(1);

/// Default `--sizing-tolerance`, in percent.
pub const DEFAULT_SIZING_TOLERANCE: f64 = 5.0;

/// Default ramp of the sizing mode.
pub const SIZING_RAMP: Duration = Duration::from_secs(300);

/// Turns the flags into settings; errors name the flag.
pub fn resolve(
    args: &LoadArgs,
    program: &Program,
    duration: Option<Duration>,
) -> Result<LoadPlan, String> {
    let single_mode = match &args.single_mode {
        None => None,
        Some(name) => match program.scenario_id(name) {
            Some(id) => Some(id.0),
            None => {
                let names: Vec<&str> = program
                    .scenarios()
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                return Err(format!(
                    "--single-mode: the plan has no scenario {name:?}; its scenarios are: {}",
                    names.join(", ")
                ));
            }
        },
    };
    for (flag, given) in [
        ("--max-late", args.max_late.is_some()),
        ("--max-early", args.max_early.is_some()),
        ("--early-batch", args.early_batch.is_some()),
    ] {
        if given && args.rate.is_none() && args.stages.is_none() {
            return Err(format!(
                "{flag} applies to the open model: give --rate or --stages"
            ));
        }
    }
    // Without --sizing the tolerance would judge nothing: a run the user meant as a sizing
    // one would be a plain closed run, without a verdict (it used to be dropped silently).
    if args.sizing_tolerance.is_some() && !args.sizing {
        return Err("--sizing-tolerance applies to the sizing mode: give --sizing".into());
    }
    if args.ramp_up.is_some() && !args.sizing && (args.rate.is_some() || args.stages.is_some()) {
        return Err(
            "--ramp-up ramps the workers of the closed model; in the open model (--rate) \
             every worker is ready from the start: shape the rate with --stages instead \
             (e.g. --stages 30s:100,1m:100)"
                .into(),
        );
    }
    if args.delay.is_some_and(|d| !d.is_zero()) && (args.rate.is_some() || args.stages.is_some()) {
        return Err(
            "--delay pauses each worker after its runs in the closed model; in the open model \
             (--rate) runs start on the schedule, not after a pause: leave --delay out \
             (a lower --rate gives fewer runs)"
                .into(),
        );
    }
    if args.max_early.is_some_and(|d| d > MAX_EARLY_LIMIT) {
        return Err(format!(
            "--max-early: at most 1s (starts due within it are bunched together; the default is {}ms)",
            DEFAULT_MAX_EARLY.as_millis()
        ));
    }
    let ramp_up = if args.sizing {
        Some(args.ramp_up.unwrap_or(SIZING_RAMP))
    } else {
        args.ramp_up
    };
    let sizing = args.sizing.then(|| {
        SizingConfig::for_ramp(
            args.sizing_tolerance.unwrap_or(DEFAULT_SIZING_TOLERANCE) / 100.0,
            ramp_up.unwrap_or(SIZING_RAMP),
        )
    });
    let schedule = match (args.rate, &args.stages) {
        (None, None) => None,
        // Sizing with a rate ramps the rate itself from 0 to R, then holds R for one more
        // window, or until `-d` when it is longer, as the closed model holds its workers.
        // (The hold was one window whatever `-d` said: `-d 3s` ran 1.5 s, without a word.)
        (Some(r), None) if args.sizing => {
            let ramp = ramp_up.unwrap_or(SIZING_RAMP);
            let window = sizing.as_ref().map_or(Duration::ZERO, |s| s.window);
            let window = duration.map_or(window, |d| window.max(d.saturating_sub(ramp)));
            Some(RateSchedule::staged(
                0.0,
                vec![
                    Stage {
                        duration: ramp,
                        target: r,
                    },
                    Stage {
                        duration: window,
                        target: r,
                    },
                ],
            ))
        }
        (Some(r), None) => Some(RateSchedule::constant(r)),
        (initial, Some(stages)) => Some(RateSchedule::staged(
            initial.unwrap_or(0.0),
            stages.0.clone(),
        )),
    };
    let schedule = schedule.transpose().map_err(|e| format!("--rate: {e}"))?;
    if schedule.as_ref().is_some_and(|s| !s.has_arrivals()) {
        // Not a run of the stages' length that sends nothing: a plan with no load at all is a
        // mistake, as `--rate 0` is.
        return Err(
            "--stages: the schedule has no arrivals (it starts at 0/s and every stage's rate \
             is 0); give a stage a rate above 0, or a starting rate with --rate"
                .into(),
        );
    }
    let open = schedule.is_some();
    let default_duration = match (&sizing, &schedule) {
        // Sizing: the ramp, then one more window at full load.
        (Some(s), _) => Some(ramp_up.unwrap_or(SIZING_RAMP) + s.window),
        (None, Some(sch)) => sch.length(),
        _ => None,
    };
    let load = LoadOptions {
        // With a rate, the schedule ramps; workers all start at once.
        ramp_up: if open { None } else { ramp_up },
        delay: args.delay.unwrap_or(Duration::ZERO),
        single_run: args.single_run,
        single_mode,
        rate: schedule.map(|schedule| RateOptions {
            schedule,
            max_late: args.max_late,
            max_early: args.max_early.unwrap_or(DEFAULT_MAX_EARLY),
            early_batch: args.early_batch.unwrap_or(DEFAULT_EARLY_BATCH),
        }),
    };
    // The plan's scenario `delay`s are the closed model's pauses: the open model does not
    // sleep them (see `Worker::set_scenario_delays`).
    let warnings = if open {
        program
            .scenarios()
            .iter()
            .filter(|s| !s.delay.is_zero())
            .map(|s| {
                format!(
                    "scenario {:?} has `delay {}`: the open model (--rate) does not pause \
                     after a run, its runs start on the schedule; the delay is not used",
                    s.name,
                    crate::duration::natural(s.delay)
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(LoadPlan {
        warnings,
        load,
        sizing,
        default_workers: if args.sizing {
            Some(500)
        } else if open {
            Some(50)
        } else {
            None
        },
        default_duration,
    })
}
