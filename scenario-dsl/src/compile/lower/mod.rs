//! Lowering blocks to ops: variable scopes and slots, the definite-assignment analysis,
//! requests (targets, headers, bodies), templates, expressions, queries and predicates.
//!
//! The flow analysis tracks, at each point of a block, which variables are definitely set
//! and which may be set. Reading a variable that may be unset is an error unless the read is
//! guarded: on the left of `??`, under `exists` / `count`, or inside `if x exists { }`.

use std::collections::HashMap;

use serde_json::Value;

use super::target::{UrlPart, parse_origin};
use super::{
    BlockRole, Compiler, Flow, RESERVED, assigned_names, optional_captures, text_captures,
};
use crate::ast::{
    self, BodyAst, CmpOp, Expr, JsonPiece, OpAst, PathExpr, PathSeg, PredAst, QueryAst, RequestAst,
    Stmt, TPiece, Template, ValueAst,
};
use crate::code::{
    BlockCode, ClauseCode, Escape, ExprCode, HeaderCode, HeaderName, JsonReading, LiteralHeaders,
    Op, OpCode, Operand, PathStep, Piece, PredCode, QueryCode, RequestCode, SetCode, TargetCode,
    TemplateCode, VarQuery, Variability,
};
use crate::diag::{RawDiag, did_you_mean};
use crate::program::{CheckId, CheckInfo, Needs, RequestId, RequestInfo, ScenarioId, ScenarioInfo};
use crate::render::{
    Evaluated, MAX_RAND_STR, RenderError, control_name, percent_encode, resolve_escape, walk,
    write_value,
};
use crate::source::Span;

mod expr;
mod request;

pub(crate) struct Blocks {
    pub(crate) setup: Option<ast::BlockItem>,
    pub(crate) setup_worker: Option<ast::BlockItem>,
    pub(crate) scenarios: Vec<ast::Scenario>,
    pub(crate) teardown_worker: Option<ast::BlockItem>,
    pub(crate) teardown: Option<ast::BlockItem>,
}

pub(crate) struct Lowered {
    pub(crate) scenarios: Vec<ScenarioInfo>,
    pub(crate) scenario_code: Vec<BlockCode>,
    pub(crate) setup: Option<BlockCode>,
    pub(crate) setup_worker: Option<BlockCode>,
    pub(crate) teardown_worker: Option<BlockCode>,
    pub(crate) teardown: Option<BlockCode>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Top-level `let` and `base`: literals, constants and `env` only.
    Constant,
    /// `defaults` headers: also built-ins, but no variables.
    Defaults,
    Block(BlockRole),
}

/// The names a piece of code can see.
pub(crate) struct Scope {
    pub(crate) mode: Mode,
    /// Names the block assigns, with their slots.
    own: HashMap<String, u32>,
    scenario: Option<ScenarioId>,
    locals: (u32, u32),
    /// The block's own local slots that hold response text (see [`text_captures`]).
    text: Vec<u32>,
}

impl Scope {
    pub(crate) fn constant() -> Scope {
        Scope {
            mode: Mode::Constant,
            own: HashMap::new(),
            scenario: None,
            locals: (0, 0),
            text: Vec::new(),
        }
    }

    pub(crate) fn defaults() -> Scope {
        Scope {
            mode: Mode::Defaults,
            ..Scope::constant()
        }
    }
}

enum Resolved {
    Slot(u32),
    Const(Value),
    Missing,
}

/// One piece of a template before lowering: literal bytes (already escaped for their
/// place) or an expression and how to escape its value.
enum LPiece<'a> {
    Lit(Vec<u8>),
    Expr(&'a Expr, Escape, Span),
}

const FUNCTIONS: &[&str] = &["uuid", "rand_int", "rand_str", "pick", "now_ms"];

impl Compiler<'_> {
    pub(crate) fn lower_blocks(&mut self, b: Blocks) -> Lowered {
        // Globals: everything `setup` assigns. Worker variables: what `setup worker` assigns.
        let mut names = Vec::new();
        if let Some(s) = &b.setup {
            assigned_names(&s.body, &mut names);
        }
        for (name, _) in names {
            if !RESERVED.contains(&name.as_str()) && !self.constants.contains_key(&name) {
                self.slot_names.push(name.as_str().into());
                self.globals.push(name);
            }
        }
        let mut names = Vec::new();
        if let Some(s) = &b.setup_worker {
            assigned_names(&s.body, &mut names);
        }
        for (name, _) in names {
            if !RESERVED.contains(&name.as_str())
                && !self.constants.contains_key(&name)
                && !self.globals.contains(&name)
            {
                self.slot_names.push(name.as_str().into());
                self.worker_vars.push(name);
            }
        }
        let g = self.globals.len();
        let w = self.worker_vars.len();
        self.slot_count = (g + w) as u32;
        // Which globals and worker variables hold response text: globals are assigned in
        // `setup` only; worker variables in `setup worker`, the scenarios and `teardown
        // worker`.
        let mut text = HashMap::new();
        if let Some(s) = &b.setup {
            text_captures(&s.body, &mut text);
        }
        let mut worker_text = HashMap::new();
        let worker_blocks = b.setup_worker.iter().chain(&b.teardown_worker);
        for body in worker_blocks
            .map(|s| &s.body)
            .chain(b.scenarios.iter().map(|s| &s.body))
        {
            text_captures(body, &mut worker_text);
        }
        self.text_slots = (self.globals.iter().map(|n| text.get(n) == Some(&true)))
            .chain((self.worker_vars.iter()).map(|n| worker_text.get(n) == Some(&true)))
            .collect();

        let setup = b.setup.as_ref().map(|s| {
            let scope = self.block_scope(BlockRole::Setup, &s.body);
            let mut flow = Flow::new(self.slot_count as usize);
            let code = self.lower_block(&s.body, &scope, &mut flow);
            (code, flow)
        });
        let setup_exit = setup
            .as_ref()
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| Flow::new(g + w));
        let setup_worker = b.setup_worker.as_ref().map(|s| {
            let scope = self.block_scope(BlockRole::SetupWorker, &s.body);
            let mut flow = Flow::new(self.slot_count as usize);
            copy_flow(&mut flow, &setup_exit, 0..g);
            let code = self.lower_block(&s.body, &scope, &mut flow);
            (code, flow)
        });
        let mut worker_exit = setup_worker
            .as_ref()
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| Flow::new(g + w));
        copy_flow(&mut worker_exit, &setup_exit, 0..g);
        // A worker variable that some scenario may unset (`capture?`) is not definite at the
        // start of a scenario.
        let mut optional = Vec::new();
        for s in &b.scenarios {
            optional_captures(&s.body, &mut optional);
        }
        if let Some(t) = &b.teardown_worker {
            optional_captures(&t.body, &mut optional);
        }
        for name in optional {
            if let Some(i) = self.worker_vars.iter().position(|v| *v == name) {
                worker_exit.def[g + i] = false;
            }
        }

        let mut scenarios = Vec::new();
        let mut scenario_code = Vec::new();
        for (i, s) in b.scenarios.iter().enumerate() {
            let id = ScenarioId(i as u32);
            let weight = match s.weight {
                None => 1,
                Some((n, span)) => match u32::try_from(n) {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        self.err(
                            RawDiag::error(span, "a scenario weight must be an integer from 1 to 4294967295")
                                .label(format!("weight {n}"))
                                .help("weights are relative: `weight 1` and `weight 3` run the second three times as often"),
                        );
                        1
                    }
                },
            };
            scenarios.push(ScenarioInfo {
                name: s.name.name.clone(),
                weight,
                delay: s.delay.map(|d| d.0).unwrap_or_default(),
                location: self.location(s.name.span),
            });
            let scope = self.block_scope(BlockRole::Scenario(id), &s.body);
            let mut flow = Flow::new(scope.locals.1 as usize);
            copy_flow(&mut flow, &worker_exit, 0..g + w);
            scenario_code.push(self.lower_block(&s.body, &scope, &mut flow));
        }
        let teardown_worker = b.teardown_worker.as_ref().map(|t| {
            let scope = self.block_scope(BlockRole::TeardownWorker, &t.body);
            let mut flow = Flow::new(scope.locals.1 as usize);
            copy_flow(&mut flow, &worker_exit, 0..g + w);
            self.lower_block(&t.body, &scope, &mut flow)
        });
        let teardown = b.teardown.as_ref().map(|t| {
            let scope = self.block_scope(BlockRole::Teardown, &t.body);
            let mut flow = Flow::new(scope.locals.1 as usize);
            copy_flow(&mut flow, &setup_exit, 0..g);
            self.lower_block(&t.body, &scope, &mut flow)
        });
        Lowered {
            scenarios,
            scenario_code,
            setup: setup.map(|(c, _)| c),
            setup_worker: setup_worker.map(|(c, _)| c),
            teardown_worker,
            teardown,
        }
    }

    /// Gives a slot to every name the block assigns, and reports assignments to names that
    /// are read-only there.
    fn block_scope(&mut self, role: BlockRole, body: &[Stmt]) -> Scope {
        let mut names = Vec::new();
        assigned_names(body, &mut names);
        let g = self.globals.len() as u32;
        let w = self.worker_vars.len() as u32;
        let mut own = HashMap::new();
        let mut next = g + w;
        let mut text_names = HashMap::new();
        text_captures(body, &mut text_names);
        let mut text = Vec::new();
        for (name, span) in names {
            if RESERVED.contains(&name.as_str()) {
                self.poisoned.push(name.clone());
                self.err(
                    RawDiag::error(span, format!("`{name}` is a reserved name"))
                        .label("cannot be a variable")
                        .help("pick another name"),
                );
                continue;
            }
            if self.constants.contains_key(&name) {
                self.err(
                    RawDiag::error(
                        span,
                        format!("cannot assign `{name}`: it is a top-level constant"),
                    )
                    .label("assigned here")
                    .help("a top-level `let` is a constant; pick another name for this variable"),
                );
                continue;
            }
            let global = self.globals.iter().position(|v| *v == name);
            let worker = self.worker_vars.iter().position(|v| *v == name);
            let slot = match role {
                BlockRole::Setup => global.map(|i| i as u32),
                _ if global.is_some() => {
                    self.err(
                        RawDiag::error(span, format!("cannot assign `{name}`: it is a global set by `setup`"))
                            .label("assigned here")
                            .help("values captured in `setup` are shared by all workers and read-only elsewhere; pick another name"),
                    );
                    None
                }
                BlockRole::SetupWorker => worker.map(|i| g + i as u32),
                BlockRole::Scenario(_) | BlockRole::TeardownWorker if worker.is_some() => {
                    worker.map(|i| g + i as u32)
                }
                _ => {
                    next += 1;
                    if text_names.get(&name) == Some(&true) {
                        text.push(next - 1);
                    }
                    Some(next - 1)
                }
            };
            if let Some(slot) = slot {
                own.insert(name, slot);
            }
        }
        self.slot_count = self.slot_count.max(next);
        while self.slot_names.len() < self.slot_count as usize {
            self.slot_names.push("(local)".into());
        }
        let locals = match role {
            BlockRole::Setup => (0, g),
            BlockRole::SetupWorker => (g, g + w),
            _ => (g + w, next),
        };
        Scope {
            mode: super::lower::Mode::Block(role),
            own,
            scenario: match role {
                BlockRole::Scenario(id) => Some(id),
                _ => None,
            },
            locals,
            text,
        }
    }

    /// Whether the variable in `slot` holds response text (see [`VarQuery::text`]).
    fn holds_text(&self, slot: u32, scope: &Scope) -> bool {
        match self.text_slots.get(slot as usize) {
            Some(shared) => *shared,
            None => scope.text.contains(&slot),
        }
    }

    fn lower_block(&mut self, body: &[Stmt], scope: &Scope, flow: &mut Flow) -> BlockCode {
        let entry = self.ops.len() as u32;
        self.lower_stmts(body, scope, flow);
        self.ops.push(Op::End);
        BlockCode {
            entry,
            locals_start: scope.locals.0,
            locals_end: scope.locals.1,
        }
    }

    fn here(&self) -> u32 {
        self.ops.len() as u32
    }

    fn lower_stmts(&mut self, stmts: &[Stmt], scope: &Scope, flow: &mut Flow) {
        for s in stmts {
            match s {
                Stmt::Request(r) => self.lower_request(r, scope, flow),
                Stmt::Think { min, max, .. } => self.ops.push(Op::Think {
                    min: *min,
                    max: *max,
                }),
                Stmt::Repeat { count, body, .. } => {
                    let counter = self.new_counter();
                    self.ops.push(Op::RepeatStart {
                        counter,
                        count: (*count).max(1) as u64,
                    });
                    let body_start = self.here();
                    let mut inner = self.loop_entry_flow(flow, body, scope);
                    self.lower_stmts(body, scope, &mut inner);
                    self.ops.push(Op::RepeatNext {
                        counter,
                        body: body_start,
                    });
                    // The count is at least 1: the body ran.
                    *flow = inner;
                }
                Stmt::If {
                    cond,
                    then,
                    otherwise,
                    ..
                } => {
                    let pred = self.lower_pred(cond, scope, flow, None);
                    let branch = self.here() as usize;
                    self.ops.push(Op::Jump(0));
                    let mut then_flow = flow.clone();
                    let mut else_flow = flow.clone();
                    self.narrow(cond, scope, &mut then_flow, true);
                    self.narrow(cond, scope, &mut else_flow, false);
                    self.lower_stmts(then, scope, &mut then_flow);
                    let otherwise_at;
                    if let Some(o) = otherwise {
                        let jump = self.here() as usize;
                        self.ops.push(Op::Jump(0));
                        otherwise_at = self.here();
                        self.lower_stmts(o, scope, &mut else_flow);
                        self.ops[jump] = Op::Jump(self.here());
                    } else {
                        otherwise_at = self.here();
                    }
                    self.ops[branch] = match pred {
                        Some(cond) => Op::Branch {
                            cond: Box::new(cond),
                            otherwise: otherwise_at,
                        },
                        // Already reported; keeps the op list well formed.
                        None => Op::Jump(otherwise_at),
                    };
                    *flow = then_flow.join(&else_flow);
                }
                Stmt::For {
                    var,
                    list,
                    body,
                    span,
                } => {
                    let list_code = self.lower_list(list, scope, flow);
                    let Some(&slot) = scope.own.get(&var.name) else {
                        continue;
                    };
                    let non_empty = matches!(&list_code, Some(ExprCode::Const(Value::Array(a))) if !a.is_empty());
                    let list_code = list_code.unwrap_or(ExprCode::Const(Value::Array(Vec::new())));
                    let counter = self.new_counter();
                    let location = self.location(*span);
                    let start = self.here() as usize;
                    self.ops.push(Op::Jump(0));
                    let body_start = self.here();
                    let mut inner = self.loop_entry_flow(flow, body, scope);
                    inner.set(slot);
                    self.lower_stmts(body, scope, &mut inner);
                    self.ops.push(Op::ForNext {
                        counter,
                        list: list_code.clone(),
                        var: slot,
                        body: body_start,
                        location: location.clone(),
                    });
                    self.ops[start] = Op::ForStart {
                        counter,
                        list: list_code,
                        var: slot,
                        exit: self.here(),
                        location,
                    };
                    *flow = if non_empty { inner } else { flow.join(&inner) };
                }
                Stmt::Header { header, span } => {
                    if self.framing_header(&header.name, header.name_span) {
                        continue;
                    }
                    let name = self.intern_header(&header.name);
                    // Nothing written after the colon: `header Name:` removes it.
                    let remove = header
                        .value
                        .pieces
                        .iter()
                        .all(|p| matches!(p, TPiece::Lit(s, _) if s.is_empty()));
                    if let Some((value, _)) = self.lower_header_value(&header.value, scope, flow) {
                        let location = self.location(*span);
                        self.ops.push(Op::Sticky {
                            name,
                            value,
                            remove,
                            location,
                        });
                    }
                }
                Stmt::Let(l) => {
                    let value = self.lower_set_value(&l.value, scope, flow);
                    let Some(&slot) = scope.own.get(&l.name.name) else {
                        continue;
                    };
                    // Set even when its value has an error (reported): a read below is not
                    // an error of its own.
                    flow.set(slot);
                    if let Some(value) = value {
                        let location = self.location(l.span);
                        self.ops.push(Op::Set {
                            slot,
                            value,
                            location,
                        });
                    }
                }
                Stmt::Log { message, span } => {
                    let pieces = simple_pieces(message, Escape::Raw);
                    if let Some((message, _)) = self.lower_pieces(pieces, scope, flow) {
                        let location = self.location(*span);
                        self.ops.push(Op::Log { message, location });
                    }
                }
            }
        }
    }

    fn new_counter(&mut self) -> u32 {
        self.counters += 1;
        self.counters - 1
    }

    /// The state at the top of a loop body: after the first iteration, anything the body
    /// assigns may be set, and what it may unset (`capture?`) is no longer definite.
    fn loop_entry_flow(&self, flow: &Flow, body: &[Stmt], scope: &Scope) -> Flow {
        let mut f = flow.clone();
        let mut names = Vec::new();
        assigned_names(body, &mut names);
        for (name, _) in names {
            if let Some(&slot) = scope.own.get(&name) {
                f.maybe[slot as usize] = true;
            }
        }
        let mut optional = Vec::new();
        optional_captures(body, &mut optional);
        for name in optional {
            if let Some(&slot) = scope.own.get(&name) {
                f.def[slot as usize] = false;
            }
        }
        f
    }

    /// `if x exists` makes `x` definite in the branch where the condition holds.
    fn narrow(&self, cond: &PredAst, scope: &Scope, flow: &mut Flow, holds: bool) {
        let QueryAst::Var(p) = &cond.query else {
            return;
        };
        if !p.segs.is_empty() || cond.count || !matches!(cond.op, OpAst::Exists) {
            return;
        }
        if holds != cond.negate
            && let Resolved::Slot(slot) = self.resolve(&p.root.name, scope)
            && (slot as usize) < flow.def.len()
        {
            flow.set(slot);
        }
    }

    // ----- names -------------------------------------------------------------------------

    fn resolve(&self, name: &str, scope: &Scope) -> Resolved {
        if let Mode::Block(role) = scope.mode {
            if let Some(&slot) = scope.own.get(name) {
                return Resolved::Slot(slot);
            }
            if role != BlockRole::Setup
                && let Some(i) = self.globals.iter().position(|v| v == name)
            {
                return Resolved::Slot(i as u32);
            }
            if matches!(role, BlockRole::Scenario(_) | BlockRole::TeardownWorker)
                && let Some(i) = self.worker_vars.iter().position(|v| v == name)
            {
                return Resolved::Slot((self.globals.len() + i) as u32);
            }
        }
        match self.constants.get(name) {
            Some((v, _)) => Resolved::Const(v.clone()),
            None => Resolved::Missing,
        }
    }

    fn visible_names(&self, scope: &Scope) -> Vec<String> {
        let mut names: Vec<String> = self.constants.keys().cloned().collect();
        if let Mode::Block(role) = scope.mode {
            names.extend(scope.own.keys().cloned());
            if role != BlockRole::Setup {
                names.extend(self.globals.iter().cloned());
            }
            if matches!(role, BlockRole::Scenario(_) | BlockRole::TeardownWorker) {
                names.extend(self.worker_vars.iter().cloned());
            }
            names.extend(["worker", "process", "iter"].map(String::from));
        }
        names
    }

    fn undefined(&mut self, name: &str, span: Span, scope: &Scope) {
        let names = self.visible_names(scope);
        let mut d = RawDiag::error(span, format!("undefined variable `{name}`"));
        // Python's `True`, `None`; JavaScript's `undefined`, `nil`...
        let literal = match name.to_ascii_lowercase().as_str() {
            "true" => Some("true"),
            "false" => Some("false"),
            "none" | "nil" | "null" | "undefined" => Some("null"),
            _ => None,
        };
        if let Some(literal) = literal {
            self.err(d.label(format!("did you mean `{literal}`?")).help(
                "the literals `true`, `false` and `null` are written in lowercase, as in JSON",
            ));
            return;
        }
        d = match did_you_mean(name, names.iter().map(|s| s.as_str())) {
            Some(s) => d.label(format!("did you mean `{s}`?")),
            None => match scope.mode {
                Mode::Constant => d
                    .label("not defined")
                    .help("top-level values can only use literals, `env.NAME` and earlier top-level `let`s"),
                Mode::Defaults => d
                    .label("not defined")
                    .help("`defaults` can use literals, `env.NAME`, top-level `let`s and built-ins, not captured variables"),
                Mode::Block(_) => d
                    .label("not defined")
                    .help("define it with `let`, `capture` or `for`, or at the top level with `let`"),
            },
        };
        self.err(d);
    }

    /// Reports a read of a variable that is not definitely set at this point. A guarded
    /// read (`??`, `exists`, a predicate) may read a variable set on some paths only, but
    /// not one that no path sets.
    fn check_use(&mut self, slot: u32, name: &str, span: Span, flow: &Flow, guarded: bool) {
        let i = slot as usize;
        let (def, maybe) = (
            flow.def.get(i).copied().unwrap_or(false),
            flow.maybe.get(i).copied().unwrap_or(false),
        );
        // A name whose definition was rejected (reported) is not reported again here.
        if def || (guarded && maybe) || self.poisoned.iter().any(|n| n == name) {
            return;
        }
        if !maybe {
            // No default helps here: a read with one (`{{x ?? 0}}`, `if x exists`) is refused
            // too, since it could never see the variable set.
            self.err(
                RawDiag::error(span, format!("`{name}` is used before it is set"))
                    .label("not set on any path before this point")
                    .help(format!(
                        "set `{name}` earlier (with `capture`, `let` or `for`)"
                    )),
            );
        } else {
            self.err(
                RawDiag::error(span, format!("`{name}` may be unset here"))
                    .label("only set on some paths")
                    .help(format!(
                        "it comes from `capture?`, an `if` or a loop: test it with `if {name} exists {{ }}` or give a default: `{{{{{name} ?? \"...\"}}}}`"
                    )),
            );
        }
    }
}

fn copy_flow(to: &mut Flow, from: &Flow, range: std::ops::Range<usize>) {
    for i in range {
        if i < to.def.len() && i < from.def.len() {
            to.def[i] = from.def[i];
            to.maybe[i] = from.maybe[i];
        }
    }
}

fn simple_pieces(t: &Template, esc: Escape) -> Vec<LPiece<'_>> {
    t.pieces
        .iter()
        .map(|p| match p {
            TPiece::Lit(s, _) => LPiece::Lit(s.as_bytes().to_vec()),
            TPiece::Expr(e, span) => LPiece::Expr(e, esc, *span),
        })
        .collect()
}
