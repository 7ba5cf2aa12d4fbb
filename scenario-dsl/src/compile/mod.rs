//! The compiler driver: loading files and includes, top-level items, and assembling the
//! [`Program`].
//!
//! Phases: load the root file and its includes (cycles and missing files reported), parse
//! each file, then check the top level (`defaults`, `let` constants, one of each setup /
//! teardown block, scenarios, thresholds), give every variable a slot, and lower each block
//! to ops ([`lower`]). Every problem is collected; the program is returned only when there
//! is no error.

mod lower;
pub(crate) mod target;

use std::collections::HashMap;
use std::env::VarError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::ast::{self, Item, Stmt, ValueAst};
use crate::code::{HeaderName, Origin, RequestCode, TemplateCode, Variability};
use crate::diag::{DiagSink, Diagnostics, RawDiag, did_you_mean};
use crate::program::{
    CheckInfo, Location, Metric, Program, RequestInfo, ScenarioId, ScenarioInfo, Threshold,
    ThresholdTarget, ThresholdValue,
};
use crate::source::{FileId, SourceMap, Span};

/// Looks up an environment variable by name, as [`std::env::var`] does: a variable whose
/// value is not UTF-8 is [`VarError::NotUnicode`], which the compiler reports (it is set, so
/// a `??` default does not apply).
pub type EnvLookup = Box<dyn Fn(&str) -> Result<String, VarError> + Send + Sync>;

/// Settings for a compilation.
pub struct CompileOptions {
    /// Reads an environment variable (`{{env.NAME}}`); only called at compile time.
    /// Default: the process environment.
    pub env: EnvLookup,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            env: Box::new(|name| std::env::var(name)),
        }
    }
}

impl CompileOptions {
    /// Options whose environment is exactly `vars` (for tests and embedding).
    pub fn with_env<I, K, V>(vars: I) -> CompileOptions
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        CompileOptions {
            env: Box::new(move |name| map.get(name).cloned().ok_or(VarError::NotPresent)),
        }
    }
}

impl std::fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileOptions").finish_non_exhaustive()
    }
}

/// Compiles the plan file at `path` (and its includes).
pub fn compile(path: &Path, opts: &CompileOptions) -> Result<Program, Diagnostics> {
    let mut c = Compiler::new(opts);
    // Shown (escaped) in diagnostics; the file itself is read through `path`.
    let name = crate::printable_path(path);
    let dir = parent_dir(path);
    match read_limited(path, MAX_PLAN_BYTES) {
        Err(reason) => {
            let mut d = RawDiag::error(
                Span::new(FileId(0), 0, 0),
                format!("cannot read the plan: {reason}"),
            );
            d.span = None;
            let looks_like_url = ["http://", "https://"]
                .iter()
                .any(|scheme| name.starts_with(scheme));
            d.help = Some(if looks_like_url && !path.exists() {
                format!(
                    "molotov runs a plan file, not a URL: save `scenario s {{ GET {name} }}` \
                     (on three lines) as a .mol file and run that"
                )
            } else {
                "check the path of the plan file".into()
            });
            d.file_name = Some(name);
            c.diags.push(d);
            Err(c.diags.finish(&c.sources))
        }
        Ok(bytes) => {
            let canonical = std::fs::canonicalize(path).ok();
            let root = c.add_file(name, dir, canonical, bytes);
            c.run(root)
        }
    }
}

/// Compiles a plan given as text. `name` is shown in diagnostics; includes and `file` bodies
/// are resolved against `base_dir`.
pub fn compile_source(
    name: &str,
    source: &str,
    base_dir: &Path,
    opts: &CompileOptions,
) -> Result<Program, Diagnostics> {
    let mut c = Compiler::new(opts);
    let root = c.sources.add(
        name.to_string(),
        base_dir.to_path_buf(),
        None,
        source.to_string(),
    );
    c.run(root)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Names that cannot be variables: built-ins and query words.
const RESERVED: &[&str] = &[
    "env", "worker", "process", "iter", "status", "duration", "body", "header", "jsonpath",
    "regex", "count", "not", "exists", "in", "true", "false", "null",
];

/// Default request timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One block of statements being compiled, with its variable scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockRole {
    Setup,
    SetupWorker,
    Scenario(ScenarioId),
    TeardownWorker,
    Teardown,
}

/// Which variables are definitely / possibly set at a point of a block.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    pub(crate) def: Vec<bool>,
    pub(crate) maybe: Vec<bool>,
}

impl Flow {
    pub(crate) fn new(n: usize) -> Flow {
        Flow {
            def: vec![false; n],
            maybe: vec![false; n],
        }
    }

    pub(crate) fn set(&mut self, slot: u32) {
        self.def[slot as usize] = true;
        self.maybe[slot as usize] = true;
    }

    /// After `capture?`: maybe set, maybe not.
    pub(crate) fn set_maybe(&mut self, slot: u32) {
        self.def[slot as usize] = false;
        self.maybe[slot as usize] = true;
    }

    /// The state after two paths meet.
    pub(crate) fn join(&self, other: &Flow) -> Flow {
        Flow {
            def: self
                .def
                .iter()
                .zip(&other.def)
                .map(|(a, b)| *a && *b)
                .collect(),
            maybe: self
                .maybe
                .iter()
                .zip(&other.maybe)
                .map(|(a, b)| *a || *b)
                .collect(),
        }
    }
}

pub(crate) struct Compiler<'o> {
    opts: &'o CompileOptions,
    pub(crate) sources: SourceMap,
    pub(crate) diags: DiagSink,
    file_names: Vec<Arc<str>>,
    // Top level.
    pub(crate) constants: HashMap<String, (Value, Span)>,
    /// Names whose definition was rejected (already reported): reads of them are not
    /// reported again as undefined.
    pub(crate) poisoned: Vec<String>,
    // Program under construction.
    pub(crate) ops: Vec<crate::code::Op>,
    pub(crate) requests: Vec<RequestInfo>,
    pub(crate) request_code: Vec<RequestCode>,
    pub(crate) request_name_spans: Vec<Option<Span>>,
    pub(crate) checks: Vec<CheckInfo>,
    pub(crate) header_names: Vec<Box<str>>,
    pub(crate) origins: Vec<Origin>,
    pub(crate) base: Option<(u32, Box<str>)>,
    /// `base` was given but is invalid (so relative targets are not reported again).
    pub(crate) base_failed: bool,
    pub(crate) default_headers: Vec<(HeaderName, TemplateCode, Variability, Span)>,
    pub(crate) timeout: Duration,
    pub(crate) counters: u32,
    // Variables.
    pub(crate) globals: Vec<String>,
    pub(crate) worker_vars: Vec<String>,
    pub(crate) slot_names: Vec<Box<str>>,
    pub(crate) slot_count: u32,
    /// Per global and worker variable slot: it holds response text (every assignment of it
    /// captures `header`, `regex` or `body`: [`text_captures`]).
    pub(crate) text_slots: Vec<bool>,
    /// The `file` bodies read, as opened (for [`Program::input_files`]).
    pub(crate) body_files: Vec<PathBuf>,
}

impl<'o> Compiler<'o> {
    fn new(opts: &'o CompileOptions) -> Compiler<'o> {
        Compiler {
            opts,
            sources: SourceMap::default(),
            diags: DiagSink::default(),
            file_names: Vec::new(),
            constants: HashMap::new(),
            poisoned: Vec::new(),
            ops: Vec::new(),
            requests: Vec::new(),
            request_code: Vec::new(),
            request_name_spans: Vec::new(),
            checks: Vec::new(),
            header_names: Vec::new(),
            origins: Vec::new(),
            base: None,
            base_failed: false,
            default_headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            counters: 0,
            globals: Vec::new(),
            worker_vars: Vec::new(),
            slot_names: Vec::new(),
            slot_count: 0,
            text_slots: Vec::new(),
            body_files: Vec::new(),
        }
    }

    pub(crate) fn env(&self, name: &str) -> Result<String, VarError> {
        (self.opts.env)(name)
    }

    /// Adds a file read from disk; invalid UTF-8 is reported at the first bad byte.
    fn add_file(
        &mut self,
        name: String,
        dir: PathBuf,
        canonical: Option<PathBuf>,
        mut bytes: Vec<u8>,
    ) -> FileId {
        // A byte-order mark (some Windows editors write one) is not part of the plan.
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        // A UTF-16 byte-order mark (Notepad's "Unicode", PowerShell 5's `Out-File`): the
        // file is UTF-16 text. Its first line is decoded, so that the frame shows it.
        if let Some(big_endian) = utf16_byte_order_mark(&bytes) {
            let text = decode_utf16(&bytes[2..], big_endian);
            let id = self.sources.add(name, dir, canonical, text);
            self.diags.push(
                RawDiag::error(Span::new(id, 0, 0), "the file is UTF-16 text, not UTF-8")
                    .label(format!(
                        "the file starts with a UTF-16 {} byte-order mark",
                        if big_endian { "BE" } else { "LE" }
                    ))
                    .help(
                        "a plan is UTF-8 text: save it again as UTF-8 (in Notepad: Save as, \
                         Encoding UTF-8; in PowerShell: `Out-File -Encoding utf8`)",
                    ),
            );
            return id;
        }
        match String::from_utf8(bytes) {
            Ok(text) => {
                let nul = text.find('\0');
                let id = self.sources.add(name, dir, canonical, text);
                if let Some(at) = nul {
                    self.diags.push(
                        RawDiag::error(Span::new(id, at, at + 1), "the file contains a NUL byte")
                            .label("NUL byte here")
                            .help("a plan is UTF-8 text; this looks like a binary or UTF-16 file"),
                    );
                }
                id
            }
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                // Only the valid prefix is parsed; the bad byte is reported.
                let id = self.sources.add(name, dir, canonical, text);
                let span = Span::new(id, at, at + 1);
                self.diags.push(
                    RawDiag::error(span, "the file is not valid UTF-8")
                        .label("invalid byte here")
                        .help("save the plan as UTF-8"),
                );
                id
            }
        }
    }

    pub(crate) fn location(&self, span: Span) -> Location {
        let file = self.sources.file(span.file);
        let (line, column) = file.line_col(span.start as usize);
        Location {
            file: self.file_names[span.file.0 as usize].clone(),
            line: line as u32,
            column: column as u32,
        }
    }

    pub(crate) fn text(&self, span: Span) -> &str {
        self.sources.text(span)
    }

    pub(crate) fn err(&mut self, d: RawDiag) {
        self.diags.push(d);
    }

    fn run(mut self, root: FileId) -> Result<Program, Diagnostics> {
        if self.diags.has_errors() {
            // The root is not UTF-8: nothing sensible to parse.
            return Err(self.diags.finish(&self.sources));
        }
        let items = self.load(root, &mut vec![root]);
        self.file_names = (0..self.sources.len())
            .map(|i| Arc::from(self.sources.file(FileId(i as u32)).name.as_str()))
            .collect();
        let parts = self.top_level(root, items);
        if self.diags.has_errors() {
            return Err(self.diags.finish(&self.sources));
        }
        let warnings = std::mem::take(&mut self.diags).finish(&self.sources);
        Ok(self.into_program(parts, warnings))
    }

    /// Parses `file` and splices its includes in place, depth first.
    fn load(&mut self, file: FileId, stack: &mut Vec<FileId>) -> Vec<Item> {
        let text = self.sources.file(file).text.clone();
        let parsed = crate::parser::parse_file(&text, file, &mut self.diags);
        self.poisoned.extend(parsed.broken_names);
        let mut out = Vec::new();
        for item in parsed.items {
            let Item::Include(inc) = item else {
                out.push(item);
                continue;
            };
            let includer = self.sources.file(file);
            let path = includer.dir.join(&inc.path);
            // File names are shown with their control characters escaped (an `include
            // "a\u001b[2J\n.mol"` names a file so), like the plan's own name.
            let shown = crate::printable(&inc.path).into_owned();
            let display = match Path::new(&includer.name).parent() {
                Some(p) if !p.as_os_str().is_empty() => p.join(&shown).display().to_string(),
                _ => shown.clone(),
            };
            let canonical = match std::fs::canonicalize(&path) {
                Ok(c) => c,
                Err(e) => {
                    self.err(
                        RawDiag::error(
                            inc.span,
                            format!("cannot read included file `{shown}`: {}", io_reason(&e)),
                        )
                        .label("included here")
                        .help("include paths are relative to the including file's directory"),
                    );
                    continue;
                }
            };
            if let Some(pos) = stack.iter().position(|f| {
                self.sources.file(*f).canonical.as_deref() == Some(canonical.as_path())
            }) {
                let mut chain: Vec<String> = stack[pos..]
                    .iter()
                    .map(|f| self.sources.file(*f).name.clone())
                    .collect();
                chain.push(display.clone());
                self.err(
                    RawDiag::error(inc.span, "include cycle")
                        .label(format!("`{shown}` is already being included"))
                        .help(format!("the chain is {}", chain.join(" -> "))),
                );
                continue;
            }
            if self.sources.find_canonical(&canonical).is_some() {
                // Included twice (not a cycle): its items are already in the plan.
                continue;
            }
            let bytes = match read_limited(&canonical, MAX_PLAN_BYTES) {
                Ok(b) => b,
                Err(reason) => {
                    self.err(
                        RawDiag::error(
                            inc.span,
                            format!("cannot read included file `{shown}`: {reason}"),
                        )
                        .label("included here"),
                    );
                    continue;
                }
            };
            let dir = parent_dir(&canonical);
            let id = self.add_file(display, dir, Some(canonical), bytes);
            self.sources.set_included_at(id, inc.span);
            stack.push(id);
            out.extend(self.load(id, stack));
            stack.pop();
        }
        out
    }

    // ----- top level ---------------------------------------------------------------------

    fn top_level(&mut self, root: FileId, items: Vec<Item>) -> (Lowered, Vec<Threshold>) {
        let mut defaults: Option<ast::Defaults> = None;
        let mut blocks: [Option<ast::BlockItem>; 4] = [None, None, None, None];
        let mut scenarios: Vec<ast::Scenario> = Vec::new();
        let mut thresholds = Vec::new();
        let mut lets = Vec::new();
        for item in items {
            match item {
                Item::Defaults(d) => {
                    if let Some(first) = &defaults {
                        let loc = self.location(first.span);
                        self.err(
                            RawDiag::error(d.span, "`defaults` is defined twice")
                                .label("second `defaults`")
                                .help(format!("merge it into the first one at {loc}")),
                        );
                    } else {
                        defaults = Some(d);
                    }
                }
                Item::Let(l) => lets.push(l),
                Item::Block(b) => {
                    let slot = &mut blocks[b.kind as usize];
                    if let Some(first) = slot {
                        let loc = self.location(first.span);
                        self.err(
                            RawDiag::error(
                                b.span,
                                format!("`{}` is defined twice", b.kind.keyword()),
                            )
                            .label(format!("second `{}`", b.kind.keyword()))
                            .help(format!("a plan has at most one; the first is at {loc}")),
                        );
                    } else {
                        *slot = Some(b);
                    }
                }
                Item::Scenario(s) => {
                    if let Some(first) = scenarios.iter().find(|f| f.name.name == s.name.name) {
                        let loc = self.location(first.name.span);
                        self.err(
                            RawDiag::error(
                                s.name.span,
                                format!("scenario `{}` is defined twice", s.name.name),
                            )
                            .label("duplicate scenario name")
                            .help(format!(
                                "the first is at {loc}; scenario names must be unique"
                            )),
                        );
                        continue;
                    }
                    scenarios.push(s);
                }
                Item::Threshold(t) => thresholds.push(t),
                Item::Include(_) => {}
            }
        }

        for l in &lets {
            self.constant(l);
        }
        if let Some(d) = &defaults {
            self.defaults(d);
        }
        if scenarios.is_empty() && self.diags.error_count() == 0 {
            let first_line = self.sources.file(root).line_text(1).len();
            self.err(
                RawDiag::error(Span::new(root, 0, first_line), "the plan has no scenario")
                    .label("no `scenario` in this plan or its includes")
                    .help(
                        "add a scenario block: a line `scenario main {`, a request line such as \
                         `GET /`, then a line holding only `}`",
                    ),
            );
        }

        let [setup, setup_worker, teardown_worker, teardown] = blocks;
        let program_blocks = lower::Blocks {
            setup,
            setup_worker,
            scenarios,
            teardown_worker,
            teardown,
        };
        let lowered = self.lower_blocks(program_blocks);
        self.name_requests();
        let thresholds: Vec<Threshold> = thresholds
            .iter()
            .filter_map(|t| self.threshold(t, &lowered.scenarios))
            .collect();
        (lowered, thresholds)
    }

    fn constant(&mut self, l: &ast::Let) {
        let name = &l.name.name;
        if RESERVED.contains(&name.as_str()) {
            self.poisoned.push(name.clone());
            self.err(
                RawDiag::error(l.name.span, format!("`{name}` is a reserved name"))
                    .label("cannot be a variable")
                    .help("pick another name"),
            );
            return;
        }
        if let Some((_, first)) = self.constants.get(name) {
            let loc = self.location(*first);
            self.err(
                RawDiag::error(l.name.span, format!("`{name}` is defined twice"))
                    .label("duplicate `let`")
                    .help(format!("the first definition is at {loc}")),
            );
            return;
        }
        match self.const_value(&l.value) {
            Some(v) => {
                self.constants.insert(name.clone(), (v, l.name.span));
            }
            None => self.poisoned.push(name.clone()),
        }
    }

    /// Evaluates a value at compile time (top-level `let`, `base`): literals, constants
    /// defined before, and `env`.
    pub(crate) fn const_value(&mut self, v: &ValueAst) -> Option<Value> {
        let mut flow = Flow::new(0);
        let code = self.lower_set_value(v, &lower::Scope::constant(), &mut flow)?;
        match code {
            crate::code::SetCode::Const(v) => Some(v),
            _ => {
                self.err(
                    RawDiag::error(v.span(), "a top-level value must be known before the run")
                        .label("depends on the run")
                        .help("top-level `let` and `defaults` can use literals, `env.NAME` and other top-level constants"),
                );
                None
            }
        }
    }

    fn defaults(&mut self, d: &ast::Defaults) {
        if let Some((t, _)) = d.timeout {
            self.timeout = t;
        }
        if let Some(base) = &d.base {
            self.base_failed = true;
            let scope = lower::Scope::constant();
            let mut flow = Flow::new(0);
            let text = self.lower_text(base, &scope, &mut flow);
            if let Some(text) = text {
                if let Some(unquoted) = target::unquoted(&text) {
                    self.err(
                        RawDiag::error(base.span, format!("invalid `base` URL `{text}`"))
                            .label("a URL is written without quotes")
                            .help(format!("drop the quotes: `base {unquoted}`")),
                    );
                } else {
                    self.base_from(base.span, &text);
                }
            }
        }
        let mut seen: Vec<(HeaderName, Span)> = Vec::new();
        for h in &d.headers {
            if self.framing_header(&h.name, h.name_span) {
                continue;
            }
            let name = self.intern_header(&h.name);
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                let loc = self.location(*first);
                self.err(
                    RawDiag::error(
                        h.name_span,
                        format!("header `{}` is set twice in `defaults`", h.name),
                    )
                    .label("duplicate header")
                    .help(format!(
                        "the first is at {loc}; combine the values with a comma"
                    )),
                );
                continue;
            }
            seen.push((name, h.name_span));
            let scope = lower::Scope::defaults();
            let mut flow = Flow::new(0);
            if let Some((value, var)) = self.lower_header_value(&h.value, &scope, &mut flow) {
                self.default_headers.push((name, value, var, h.name_span));
            }
        }
    }

    /// Sets `base` from its value `text` (written at `span`), or reports why it cannot be.
    fn base_from(&mut self, span: Span, text: &str) {
        match target::parse_origin(text) {
            Ok((origin, rest)) => {
                let rest = &text[rest..];
                if rest.contains('?') || rest.contains('#') {
                    self.err(
                        RawDiag::error(span, "`base` cannot have a query or fragment")
                            .label(format!("`{text}`"))
                            .help("put query strings on the requests"),
                    );
                } else {
                    // Encoded as a target's literal text is: bytes that cannot go in a URL
                    // (a space, non-ASCII) are percent-encoded.
                    let mut prefix = Vec::new();
                    crate::render::percent_encode(
                        &mut prefix,
                        rest.trim_end_matches('/').as_bytes(),
                        crate::code::Escape::UrlStart,
                    );
                    let prefix = String::from_utf8_lossy(&prefix).into_owned();
                    let id = self.intern_origin(origin);
                    self.base = Some((id, prefix.into()));
                    self.base_failed = false;
                }
            }
            Err(msg) => self.err(
                RawDiag::error(span, format!("invalid `base` URL `{text}`"))
                    .label(msg)
                    .help("write `base http://host:port` (http or https)"),
            ),
        }
    }

    /// Reports a header that a plan cannot set because molotov frames the body itself
    /// (`Content-Length`, `Transfer-Encoding`): every request would be refused at run
    /// time. True when `name` is one.
    pub(crate) fn framing_header(&mut self, name: &str, span: Span) -> bool {
        let (label, help) = if name.eq_ignore_ascii_case("content-length") {
            (
                "computed from the body",
                "remove it: molotov writes the length of each request's body itself",
            )
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            (
                "not supported in requests",
                "remove it: a request body is sent whole, with its `Content-Length`",
            )
        } else {
            return false;
        };
        self.err(
            RawDiag::error(span, format!("header `{name}` cannot be set in a plan"))
                .label(label)
                .help(help),
        );
        true
    }

    /// The header `name` as written: its spelling (kept for sending) and the header it is.
    pub(crate) fn intern_header(&mut self, name: &str) -> HeaderName {
        let spelling = match self.header_names.iter().position(|n| **n == *name) {
            Some(i) => i,
            None => {
                self.header_names.push(name.into());
                self.header_names.len() - 1
            }
        };
        // The first spelling of a name comes first in the table.
        let key = self
            .header_names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .unwrap_or(spelling);
        HeaderName {
            key: key as u32,
            spelling: spelling as u32,
        }
    }

    pub(crate) fn intern_origin(&mut self, o: Origin) -> u32 {
        if let Some(i) = self
            .origins
            .iter()
            .position(|x| x.https == o.https && x.authority == o.authority)
        {
            return i as u32;
        }
        self.origins.push(o);
        self.origins.len() as u32 - 1
    }

    /// Gives automatic names (`METHOD target`) to requests without `as`, numbering repeats,
    /// and reports duplicate explicit names.
    fn name_requests(&mut self) {
        let mut seen: HashMap<String, (usize, Option<Span>)> = HashMap::new();
        for i in 0..self.requests.len() {
            let explicit = self.request_name_spans[i];
            let base = self.requests[i].name.clone();
            match seen.get_mut(&base) {
                None => {
                    seen.insert(base, (1, explicit));
                }
                Some((count, first_explicit)) => {
                    if let Some(span) = explicit {
                        let first = *first_explicit;
                        let help = match first {
                            Some(f) => format!("the first is at {}", self.location(f)),
                            None => "another request has this automatic name".into(),
                        };
                        self.err(
                            RawDiag::error(span, format!("request name `{base}` is used twice"))
                                .label("duplicate request name")
                                .help(format!(
                                    "{help}; stats are kept per name, so names must be unique"
                                )),
                        );
                    } else {
                        *count += 1;
                        let n = *count;
                        self.requests[i].name = format!("{base} #{n}");
                    }
                }
            }
        }
    }

    fn threshold(
        &mut self,
        t: &ast::ThresholdAst,
        scenarios: &[ScenarioInfo],
    ) -> Option<Threshold> {
        let metric_name = t.metric.name.as_str();
        let Some(metric) = Metric::ALL
            .iter()
            .copied()
            .find(|m| m.name() == metric_name)
        else {
            let names = Metric::ALL.map(|m| m.name());
            let mut d = RawDiag::error(
                t.metric.span,
                format!("unknown threshold metric `{metric_name}`"),
            );
            // The names other tools give these (k6's `avg`, `med`; `error_rate`).
            let alias = match metric_name {
                "avg" | "average" => Some("mean"),
                "med" | "median" => Some("p50"),
                "p100" => Some("max"),
                "error_rate" | "failures" | "http_req_failed" => Some("errors"),
                "rate" | "throughput" => Some("rps"),
                _ => None,
            };
            d = match alias.or_else(|| did_you_mean(metric_name, names)) {
                Some(s) => d.label(format!("did you mean `{s}`?")),
                None => d
                    .label("not a metric")
                    .help(format!("metrics are {}", names.join(", "))),
            };
            self.err(d);
            return None;
        };
        let value = match (&t.value, metric.is_latency(), metric) {
            (ValueAst::Duration(d, _), true, _) => ThresholdValue::Duration(*d),
            (ValueAst::Percent(p, span), false, Metric::Errors | Metric::Checks) => {
                if !(0.0..=100.0).contains(p) {
                    self.err(
                        RawDiag::error(*span, format!("`{metric_name}` cannot be {p}%"))
                            .label("outside 0% to 100%")
                            .help(format!(
                                "`{metric_name}` is a share of {}: give a percentage from 0% \
                                 to 100%",
                                if metric == Metric::Errors {
                                    "the requests"
                                } else {
                                    "the checks"
                                }
                            )),
                    );
                    return None;
                }
                ThresholdValue::Percent(*p)
            }
            (ValueAst::Int(n, _), false, Metric::Rps) => ThresholdValue::Number(n.get() as f64),
            (ValueAst::Float(n, _), false, Metric::Rps) => ThresholdValue::Number(*n),
            (v, _, _) => {
                let want = if metric.is_latency() {
                    "a duration like `250ms`"
                } else if metric == Metric::Rps {
                    "a number of requests per second"
                } else {
                    "a percentage like `1%`"
                };
                self.err(
                    RawDiag::error(v.span(), format!("`{metric_name}` needs {want}"))
                        .label("wrong kind of value"),
                );
                return None;
            }
        };
        let target = match &t.scope {
            None => None,
            Some(scope) => {
                let s = scenarios.iter().position(|s| s.name == scope.name);
                let r = self
                    .requests
                    .iter()
                    .position(|r| r.explicit_name && r.name == scope.name);
                match (s, r) {
                    (Some(_), Some(_)) => {
                        self.err(
                            RawDiag::error(
                                scope.span,
                                format!("`{}` is both a scenario and a request name", scope.name),
                            )
                            .label("ambiguous threshold scope")
                            .help("rename the request (`as NAME`) or the scenario"),
                        );
                        return None;
                    }
                    (Some(i), None) => Some(ThresholdTarget::Scenario(ScenarioId(i as u32))),
                    (None, Some(i)) => Some(ThresholdTarget::Request(crate::RequestId(i as u32))),
                    (None, None) => {
                        let names: Vec<&str> = scenarios
                            .iter()
                            .map(|s| s.name.as_str())
                            .chain(
                                self.requests
                                    .iter()
                                    .filter(|r| r.explicit_name)
                                    .map(|r| r.name.as_str()),
                            )
                            .collect();
                        let mut d = RawDiag::error(
                            scope.span,
                            format!("unknown scenario or request `{}`", scope.name),
                        );
                        d = match did_you_mean(&scope.name, names.iter().copied()) {
                            Some(s) => d.label(format!("did you mean `{s}`?")),
                            None => d.label("no scenario or `as` name is called this").help(
                                "a threshold scope is a scenario name or a request's `as NAME`",
                            ),
                        };
                        self.err(d);
                        return None;
                    }
                }
            }
        };
        let text_span = match &t.scope {
            Some(s) => s.span.to(t.value.span()),
            None => t.metric.span.to(t.value.span()),
        };
        Some(Threshold {
            scope: t.scope.as_ref().map(|s| s.name.clone()),
            target,
            metric,
            cmp: t.cmp,
            value,
            text: self.text(text_span).to_string(),
            location: self.location(t.span),
        })
    }

    fn into_program(self, parts: (Lowered, Vec<Threshold>), warnings: Diagnostics) -> Program {
        let (lowered, thresholds) = parts;
        let mut total = 0u64;
        let cumulative_weights = lowered
            .scenarios
            .iter()
            .map(|s| {
                total += u64::from(s.weight);
                total
            })
            .collect();
        let mut input_files: Vec<PathBuf> = (0..self.sources.len())
            .filter_map(|i| self.sources.file(FileId(i as u32)).canonical.clone())
            .chain(
                self.body_files
                    .iter()
                    .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
            )
            .collect();
        input_files.sort();
        input_files.dedup();
        Program {
            input_files,
            requests: self.requests,
            request_code: self.request_code,
            scenarios: lowered.scenarios,
            scenario_code: lowered.scenario_code,
            checks: self.checks,
            thresholds,
            ops: self.ops,
            setup: lowered.setup,
            worker_setup: lowered.setup_worker,
            worker_teardown: lowered.teardown_worker,
            teardown: lowered.teardown,
            cumulative_weights,
            slot_count: self.slot_count,
            global_slots: self.globals.len() as u32,
            slot_names: self.slot_names,
            counters: self.counters,
            header_names: self.header_names,
            origins: self.origins,
            base: self.base,
            timeout: self.timeout,
            warnings,
        }
    }
}

pub(crate) use crate::read::{MAX_PLAN_BYTES, io_reason};

/// `file` request bodies larger than this are refused: every worker keeps its own rendered
/// copy of a request, body included.
pub(crate) const MAX_BODY_FILE_BYTES: u64 = 64 << 20;

/// [`crate::read::read_limited`], its error as a reason for a message.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    crate::read::read_limited(path, limit).map_err(|e| e.to_string())
}

/// Statements of a block, recursively: the names it assigns, in order of first assignment.
pub(crate) fn assigned_names(stmts: &[Stmt], out: &mut Vec<(String, Span)>) {
    let add = |name: &ast::Ident, out: &mut Vec<(String, Span)>| {
        if !out.iter().any(|(n, _)| *n == name.name) {
            out.push((name.name.clone(), name.span));
        }
    };
    for s in stmts {
        match s {
            Stmt::Request(r) => {
                for c in &r.clauses {
                    if let ast::Clause::Capture { name, .. } = c {
                        add(name, out);
                    }
                }
            }
            Stmt::Let(l) => add(&l.name, out),
            Stmt::For { var, body, .. } => {
                add(var, out);
                assigned_names(body, out);
            }
            Stmt::Repeat { body, .. } => assigned_names(body, out),
            Stmt::If {
                then, otherwise, ..
            } => {
                assigned_names(then, out);
                if let Some(o) = otherwise {
                    assigned_names(o, out);
                }
            }
            Stmt::Think { .. } | Stmt::Header { .. } | Stmt::Log { .. } => {}
        }
    }
}

/// For each name `stmts` assign: whether every assignment of it (combined with what `out`
/// already says) is a capture of response text, `header`, `regex` or `body` without
/// `count`. Such a variable compares as that text did in its query
/// ([`crate::code::VarQuery::text`]).
pub(crate) fn text_captures(stmts: &[Stmt], out: &mut HashMap<String, bool>) {
    fn assign(name: &ast::Ident, text: bool, out: &mut HashMap<String, bool>) {
        let all = out.entry(name.name.clone()).or_insert(true);
        *all = *all && text;
    }
    for s in stmts {
        match s {
            Stmt::Request(r) => {
                for c in &r.clauses {
                    if let ast::Clause::Capture {
                        name, query, count, ..
                    } = c
                    {
                        let text = !count
                            && matches!(
                                query,
                                ast::QueryAst::Header(..)
                                    | ast::QueryAst::Regex(..)
                                    | ast::QueryAst::Body(_)
                            );
                        assign(name, text, out);
                    }
                }
            }
            Stmt::Let(l) => assign(&l.name, false, out),
            Stmt::For { var, body, .. } => {
                assign(var, false, out);
                text_captures(body, out);
            }
            Stmt::Repeat { body, .. } => text_captures(body, out),
            Stmt::If {
                then, otherwise, ..
            } => {
                text_captures(then, out);
                if let Some(o) = otherwise {
                    text_captures(o, out);
                }
            }
            Stmt::Think { .. } | Stmt::Header { .. } | Stmt::Log { .. } => {}
        }
    }
}

/// Names set by `capture?` anywhere in `stmts` (they may be unset afterwards).
pub(crate) fn optional_captures(stmts: &[Stmt], out: &mut Vec<String>) {
    for s in stmts {
        match s {
            Stmt::Request(r) => {
                for c in &r.clauses {
                    if let ast::Clause::Capture {
                        name,
                        optional: true,
                        ..
                    } = c
                    {
                        out.push(name.name.clone());
                    }
                }
            }
            Stmt::For { body, .. } | Stmt::Repeat { body, .. } => optional_captures(body, out),
            Stmt::If {
                then, otherwise, ..
            } => {
                optional_captures(then, out);
                if let Some(o) = otherwise {
                    optional_captures(o, out);
                }
            }
            _ => {}
        }
    }
}

pub(crate) use lower::Lowered;

/// Whether `bytes` start with a UTF-16 byte-order mark: `Some(true)` for big endian
/// (`FE FF`), `Some(false)` for little endian (`FF FE`). Neither pair can start UTF-8 text.
fn utf16_byte_order_mark(bytes: &[u8]) -> Option<bool> {
    match bytes {
        [0xFE, 0xFF, ..] => Some(true),
        [0xFF, 0xFE, ..] => Some(false),
        _ => None,
    }
}

/// UTF-16 `bytes` (after the byte-order mark) as text, for the code frame of the error
/// that says the file is UTF-16; what is not valid UTF-16 becomes U+FFFD.
fn decode_utf16(bytes: &[u8], big_endian: bool) -> String {
    let units = bytes.chunks(2).map(|pair| match (pair, big_endian) {
        ([a, b], true) => u16::from_be_bytes([*a, *b]),
        ([a, b], false) => u16::from_le_bytes([*a, *b]),
        _ => 0xFFFD,
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}
