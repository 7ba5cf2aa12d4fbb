//! The compiled plan as the engine sees it: [`Program`] and its descriptive tables.
//!
//! Everything the engine needs to label statistics is here, indexed by dense ids assigned at
//! compile time ([`RequestId`], [`ScenarioId`], [`CheckId`]): the engine keeps per-id
//! counters in arrays and never hashes a name on the hot path. The executable part (ops,
//! templates, compiled queries) lives in [`crate::code`] and is private.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::code::{BlockCode, Op, Origin, RequestCode};
use crate::diag::Diagnostics;

pub use crate::ast::CmpOp;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The index into the matching [`Program`] table.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A request site in the plan; index into [`Program::requests`].
    RequestId
);
id_type!(
    /// A scenario; index into [`Program::scenarios`].
    ScenarioId
);
id_type!(
    /// A `check` or `assert`; index into [`Program::checks`].
    CheckId
);

/// A place in the plan's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as shown in diagnostics: its control characters escaped
    /// ([`crate::printable`]), so that a `file:line` is safe to print.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for Location {
    /// `file:line`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// What the engine must read from a response for the plan's checks and captures.
/// The status and the latency are always available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Header names (lowercase) queried by `header "Name"`.
    pub headers: Vec<Box<str>>,
    /// Whether `body`, `jsonpath` or `regex` reads the body.
    pub body: bool,
}

/// A request site of the plan.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// `as NAME`, or `METHOD target-text` (`GET /products/{{pid}}`), with a `#2`, `#3` suffix
    /// when the same automatic name appears in several places.
    pub name: String,
    /// Whether the name came from `as NAME`.
    pub explicit_name: bool,
    pub method: http::Method,
    pub location: Location,
    pub needs: Needs,
    /// The scenario the request belongs to; `None` in setup and teardown blocks.
    pub scenario: Option<ScenarioId>,
}

/// A scenario of the plan.
#[derive(Debug, Clone)]
pub struct ScenarioInfo {
    pub name: String,
    /// Relative weight, at least 1.
    pub weight: u32,
    /// Pause after each run of the scenario.
    pub delay: Duration,
    pub location: Location,
}

/// A `check` or `assert`.
#[derive(Debug, Clone)]
pub struct CheckInfo {
    /// The predicate's source text, e.g. `status == 200`.
    pub text: String,
    pub location: Location,
    /// `assert` (ends the scenario run when it fails) rather than `check`.
    pub is_assert: bool,
    /// The request whose response it tests.
    pub request: RequestId,
}

/// The statistic a threshold limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
    /// Percentage of failed requests (transport errors and failed statuses).
    Errors,
    /// Percentage of check and assert evaluations that passed.
    Checks,
    /// Requests per second over the run.
    Rps,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::Max => "max",
            Metric::Mean => "mean",
            Metric::Errors => "errors",
            Metric::Checks => "checks",
            Metric::Rps => "rps",
        }
    }

    pub(crate) const ALL: [Metric; 10] = [
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::Mean,
        Metric::Errors,
        Metric::Checks,
        Metric::Rps,
    ];

    /// Whether the metric is a latency (its value is a duration).
    pub fn is_latency(self) -> bool {
        !matches!(self, Metric::Errors | Metric::Checks | Metric::Rps)
    }
}

/// The limit of a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdValue {
    /// For latency metrics.
    Duration(Duration),
    /// For `errors` and `checks`, in percent (`1%` is `1.0`).
    Percent(f64),
    /// For `rps`.
    Number(f64),
}

/// What a scoped threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdTarget {
    Scenario(ScenarioId),
    Request(RequestId),
}

/// `threshold [NAME] METRIC CMP VALUE`.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// The scenario or request name it is limited to, as written.
    pub scope: Option<String>,
    /// `scope`, resolved.
    pub target: Option<ThresholdTarget>,
    pub metric: Metric,
    pub cmp: CmpOp,
    pub value: ThresholdValue,
    /// The source text after `threshold`, e.g. `buy p95 < 800ms`.
    pub text: String,
    pub location: Location,
}

/// An origin named in the plan: where its requests connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOrigin<'a> {
    /// `https` rather than `http`.
    pub https: bool,
    /// `host[:port]` as written.
    pub authority: &'a str,
    /// The host, without the brackets of an IPv6 address.
    pub host: &'a str,
    /// The port (the scheme's default when not written).
    pub port: u16,
}

/// A compiled plan: immutable, `Send + Sync`, shared by every worker.
#[derive(Debug)]
pub struct Program {
    /// The files the plan was read from: the plan and its includes (canonical paths), and
    /// the `file` bodies; sorted, each once.
    pub(crate) input_files: Vec<std::path::PathBuf>,
    pub(crate) requests: Vec<RequestInfo>,
    pub(crate) request_code: Vec<RequestCode>,
    pub(crate) scenarios: Vec<ScenarioInfo>,
    pub(crate) scenario_code: Vec<BlockCode>,
    pub(crate) checks: Vec<CheckInfo>,
    pub(crate) thresholds: Vec<Threshold>,
    pub(crate) ops: Vec<Op>,
    pub(crate) setup: Option<BlockCode>,
    pub(crate) worker_setup: Option<BlockCode>,
    pub(crate) worker_teardown: Option<BlockCode>,
    pub(crate) teardown: Option<BlockCode>,
    /// Running sums of the scenario weights, for the weighted draw.
    pub(crate) cumulative_weights: Vec<u64>,
    /// Variable slots: globals are `0..global_slots`, then worker variables, then the
    /// locals of the block being run.
    pub(crate) slot_count: u32,
    pub(crate) global_slots: u32,
    pub(crate) slot_names: Vec<Box<str>>,
    pub(crate) counters: u32,
    pub(crate) header_names: Vec<Box<str>>,
    pub(crate) origins: Vec<Origin>,
    /// The `base` origin and path prefix, for relative targets computed at run time.
    pub(crate) base: Option<(u32, Box<str>)>,
    pub(crate) timeout: Duration,
    pub(crate) warnings: Diagnostics,
}

impl Program {
    /// The files the plan was read from: the plan file and its includes (canonical paths)
    /// and the `file` bodies. Empty for a plan compiled from text with no includes. What a
    /// run writes (its reports) must not be one of them.
    pub fn input_files(&self) -> &[std::path::PathBuf] {
        &self.input_files
    }

    pub fn requests(&self) -> &[RequestInfo] {
        &self.requests
    }

    pub fn scenarios(&self) -> &[ScenarioInfo] {
        &self.scenarios
    }

    pub fn checks(&self) -> &[CheckInfo] {
        &self.checks
    }

    pub fn thresholds(&self) -> &[Threshold] {
        &self.thresholds
    }

    /// Whether some request of the plan may carry a header named `name` (compared without
    /// case): in `defaults`, in a request, or as a sticky `header`. Header names are never
    /// computed at run time, so `false` means no request ever has one.
    pub fn sends_header(&self, name: &str) -> bool {
        self.header_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    pub fn has_setup(&self) -> bool {
        self.setup.is_some()
    }

    pub fn has_teardown(&self) -> bool {
        self.teardown.is_some()
    }

    pub fn has_worker_setup(&self) -> bool {
        self.worker_setup.is_some()
    }

    pub fn has_worker_teardown(&self) -> bool {
        self.worker_teardown.is_some()
    }

    /// The request timeout from `defaults { timeout }` (30 s when not set).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Warnings found while compiling (the plan still runs).
    pub fn warnings(&self) -> &Diagnostics {
        &self.warnings
    }

    /// Names of the variables captured by `setup` (the globals), in slot order.
    pub fn global_names(&self) -> impl Iterator<Item = &str> {
        self.slot_names[..self.global_slots as usize]
            .iter()
            .map(|s| &**s)
    }

    /// Finds a scenario by name.
    pub fn scenario_id(&self, name: &str) -> Option<ScenarioId> {
        self.scenarios
            .iter()
            .position(|s| s.name == name)
            .map(|i| ScenarioId(i as u32))
    }

    /// The origins the plan names when it is compiled (`base` and every absolute target
    /// whose scheme and authority are written out), each once, in order of first mention.
    /// Requests whose whole URL comes from a variable are not here: see
    /// [`Program::has_run_time_origins`].
    pub fn origins(&self) -> impl Iterator<Item = PlanOrigin<'_>> {
        self.origins.iter().map(|o| PlanOrigin {
            https: o.https,
            authority: &o.authority,
            host: &o.host,
            port: o.port,
        })
    }

    /// Whether some request takes its origin from a value known only at run time
    /// (`GET {{url}}` with an absolute URL in `url`).
    pub fn has_run_time_origins(&self) -> bool {
        self.request_code
            .iter()
            .any(|r| matches!(r.target, crate::code::TargetCode::Url { .. }))
    }

    /// Finds a request by its display name.
    pub fn request_id(&self, name: &str) -> Option<RequestId> {
        self.requests
            .iter()
            .position(|r| r.name == name)
            .map(|i| RequestId(i as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Program>();
    }
}
