//! The executable form of a plan: a flat list of ops plus compiled templates, expressions,
//! queries and predicates. Built by [`crate::compile`], run by [`crate::interp`].
//!
//! Everything is resolved: variables are slot indices, header names are indices into the
//! program's name table, regexes and JSONPaths are compiled, constant parts of templates are
//! pre-rendered bytes.

use std::time::Duration;

use serde_json::Value;

use crate::ast::CmpOp;
use crate::program::{CheckId, Location, RequestId};

/// Where a block's code starts and which local slots it clears before running.
#[derive(Debug, Clone)]
pub(crate) struct BlockCode {
    pub(crate) entry: u32,
    pub(crate) locals_start: u32,
    pub(crate) locals_end: u32,
}

#[derive(Debug)]
pub(crate) enum Op {
    Send(RequestId),
    Think {
        min: Duration,
        max: Duration,
    },
    Jump(u32),
    /// Evaluate the condition; when false, jump to `otherwise`.
    Branch {
        cond: Box<PredCode>,
        otherwise: u32,
    },
    RepeatStart {
        counter: u32,
        count: u64,
    },
    /// Decrement the counter; when it is not zero, jump back to `body`.
    RepeatNext {
        counter: u32,
        body: u32,
    },
    /// Start a `for`: the first element goes to `var`, or jump to `exit` if the list is empty.
    ForStart {
        counter: u32,
        list: ExprCode,
        var: u32,
        exit: u32,
        location: Location,
    },
    /// Next element to `var` and jump to `body`, or fall through when done.
    ForNext {
        counter: u32,
        list: ExprCode,
        var: u32,
        body: u32,
        location: Location,
    },
    /// `header Name: value`; `header Name:`, with nothing written after the colon,
    /// removes the sticky header (a value that renders empty is sent empty).
    Sticky {
        name: HeaderName,
        value: TemplateCode,
        remove: bool,
        location: Location,
    },
    Set {
        slot: u32,
        value: SetCode,
        location: Location,
    },
    Log {
        message: TemplateCode,
        location: Location,
    },
    End,
}

/// The right-hand side of a block-level `let`.
#[derive(Debug)]
pub(crate) enum SetCode {
    Const(Value),
    Expr(ExprCode),
    /// A string with templates.
    Text(TemplateCode),
}

/// How an expression's value is written at its place in a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// The start of a request target (a whole URL or its origin): written as is, except
    /// bytes that are never valid in a URL, which are percent-encoded, and a `%` that does
    /// not start `%XX`, which becomes `%25`.
    UrlStart,
    /// In the path: percent-encoded as one path segment (`/` becomes `%2F`).
    Path,
    /// A later hole of a target whose start is a value (`{{u}}{{v}}`, `{{u}}&page={{p}}`):
    /// as [`Escape::UrlStart`], unless the target written so far holds a `?` (the value
    /// brought a query: `u` = `/search?q=a`), then as [`Escape::Query`]. Decided when the
    /// text before it is known ([`crate::render::resolve_escape`]).
    UrlStartOrQuery,
    /// In the path after a value at the target's start (`{{u}}/{{x}}`): as [`Escape::Path`],
    /// unless the target written so far holds a `?`, then as [`Escape::Query`].
    PathOrQuery,
    /// In the query string: percent-encoded as a query component (`&`, `=`, `+`, `#`...).
    Query,
    /// A header value: written as is; CR, LF and NUL are an error.
    Header,
    /// Inside a JSON string: JSON-escaped, without quotes.
    JsonString,
    /// In a JSON value position: written as a JSON literal.
    JsonValue,
    /// `application/x-www-form-urlencoded` (space is `+`).
    Form,
    /// Raw bodies and `log` messages: written as is.
    Raw,
}

/// A text with holes, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateCode {
    pub(crate) pieces: Box<[Piece]>,
}

#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Lit(Box<[u8]>),
    Expr(ExprCode, Escape),
}

impl TemplateCode {
    /// The bytes when the template has no holes.
    pub(crate) fn constant(&self) -> Option<&[u8]> {
        match &*self.pieces {
            [] => Some(&[]),
            [Piece::Lit(b)] => Some(b),
            _ => None,
        }
    }
}

/// How much of a request can change between sends (decides the cache key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Variability {
    /// Identical for every worker and every send.
    Constant,
    /// Fixed for one worker (uses `worker`, `process` or setup globals).
    PerWorker,
    /// May change at every send.
    Dynamic,
}

#[derive(Debug, Clone)]
pub(crate) enum ExprCode {
    Const(Value),
    /// A variable read: slot, then object keys / array indices.
    Var {
        slot: u32,
        path: Box<[PathStep]>,
        name: Box<str>,
    },
    /// Always undefined (an unset `env.X` on the left of `??`).
    Undefined(Box<str>),
    Worker,
    Process,
    Iter,
    Uuid,
    NowMs,
    RandInt(Box<ExprCode>, Box<ExprCode>),
    /// `rand_int` with constant bounds (checked at compile time: `lo <= hi`).
    RandRange(i64, i64),
    RandStr(Box<ExprCode>),
    Pick(Box<ExprCode>),
    List(Box<[ExprCode]>),
    Default(Box<ExprCode>, Box<ExprCode>),
}

#[derive(Debug, Clone)]
pub(crate) enum PathStep {
    Key(Box<str>),
    Index(i64),
}

#[derive(Debug)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    pub(crate) authority: Box<str>,
    pub(crate) host: Box<str>,
    pub(crate) port: u16,
}

#[derive(Debug)]
pub(crate) enum TargetCode {
    /// Fully known at compile time.
    Fixed { origin: u32, path: Box<str> },
    /// A known origin; the path is `prefix` + the rendered template.
    Path {
        origin: u32,
        prefix: Box<str>,
        template: TemplateCode,
    },
    /// Rendered, then split into origin and path at run time.
    Url { template: TemplateCode },
}

/// A header name of the plan: the spelling it is sent with (an index into the program's
/// header names) and the header it is (`key`: the index of the first spelling of that name,
/// compared case-insensitively). `==` compares keys: `Accept` and `accept` are the same
/// header, and the spelling of the one that wins is sent.
#[derive(Debug, Clone, Copy, Eq)]
pub(crate) struct HeaderName {
    pub(crate) key: u32,
    pub(crate) spelling: u32,
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &HeaderName) -> bool {
        self.key == other.key
    }
}

#[derive(Debug)]
pub(crate) struct HeaderCode {
    pub(crate) name: HeaderName,
    pub(crate) value: TemplateCode,
}

/// Headers rendered at compile time (see [`RequestCode::literal_headers`]), laid out as a
/// worker's rendered headers are.
#[derive(Debug)]
pub(crate) struct LiteralHeaders {
    pub(crate) entries: Box<[crate::interp::HeaderEntry]>,
    pub(crate) buf: Box<[u8]>,
}

impl LiteralHeaders {
    /// `base` then `own`, as a worker with no sticky header renders them; `None` when one of
    /// them has a template hole.
    pub(crate) fn of(base: &[HeaderCode], own: &[HeaderCode]) -> Option<LiteralHeaders> {
        let mut entries = Vec::with_capacity(base.len() + own.len());
        let mut buf = Vec::new();
        for h in base.iter().chain(own) {
            crate::interp::HeaderEntry::append(&mut entries, &mut buf, h.name.spelling, |buf| {
                let value = h.value.constant().ok_or(())?;
                buf.extend_from_slice(value);
                Ok::<(), ()>(())
            })
            .ok()?;
        }
        Some(LiteralHeaders {
            entries: entries.into(),
            buf: buf.into(),
        })
    }
}

#[derive(Debug)]
pub(crate) struct RequestCode {
    pub(crate) method: http::Method,
    pub(crate) target: TargetCode,
    /// `defaults` headers and the implied `Content-Type`, minus those the request overrides.
    pub(crate) base_headers: Box<[HeaderCode]>,
    pub(crate) own_headers: Box<[HeaderCode]>,
    /// The headers rendered once, at compile time, when every one of them (`defaults` and
    /// own) is a literal: what a worker with no sticky header sends. Such a worker's requests
    /// then render no header per send.
    pub(crate) literal_headers: Option<LiteralHeaders>,
    pub(crate) body: TemplateCode,
    pub(crate) clauses: Box<[ClauseCode]>,
    /// How the clauses read the response body as JSON.
    pub(crate) json_reading: JsonReading,
    pub(crate) variability: Variability,
    pub(crate) location: Location,
}

/// How a response body is read as JSON for a request's clauses, decided at compile time.
#[derive(Debug)]
pub(crate) enum JsonReading {
    /// Every JSONPath of the clauses is simple and counts no list from its end: the values
    /// at these paths (the clauses' JSONPath queries, in order; none when no clause reads
    /// JSON) are read in one pass, without building the document ([`crate::json_extract`]).
    Extract(Box<[Box<[PathStep]>]>),
    /// Some path is not simple: the body is parsed into a `Value`.
    Parse,
}

impl JsonReading {
    /// How `clauses` read a body; numbers their JSONPath queries in order (`extract_at`).
    pub(crate) fn of(clauses: &mut [ClauseCode]) -> JsonReading {
        let mut next = 0;
        for query in clauses.iter_mut().map(ClauseCode::query_mut) {
            if let QueryCode::JsonPath { extract_at, .. } = query {
                *extract_at = Some(next);
                next += 1;
            }
        }
        let mut paths = Vec::new();
        for query in clauses.iter().map(ClauseCode::query) {
            if let QueryCode::JsonPath { steps, .. } = query {
                match steps {
                    Some(steps)
                        if crate::json_extract::extractable(steps)
                            && paths.len() < crate::json_extract::MAX_PATHS =>
                    {
                        paths.push(steps.clone());
                    }
                    _ => return JsonReading::Parse,
                }
            }
        }
        JsonReading::Extract(paths.into())
    }
}

#[derive(Debug)]
pub(crate) enum ClauseCode {
    Check {
        id: CheckId,
        pred: PredCode,
    },
    Assert {
        id: CheckId,
        pred: PredCode,
    },
    Capture {
        slot: u32,
        optional: bool,
        query: QueryCode,
        count: bool,
        name: Box<str>,
        location: Location,
    },
}

impl ClauseCode {
    /// What the clause reads.
    pub(crate) fn query(&self) -> &QueryCode {
        match self {
            ClauseCode::Check { pred, .. } | ClauseCode::Assert { pred, .. } => &pred.query,
            ClauseCode::Capture { query, .. } => query,
        }
    }

    fn query_mut(&mut self) -> &mut QueryCode {
        match self {
            ClauseCode::Check { pred, .. } | ClauseCode::Assert { pred, .. } => &mut pred.query,
            ClauseCode::Capture { query, .. } => query,
        }
    }
}

#[derive(Debug)]
pub(crate) struct PredCode {
    pub(crate) query: QueryCode,
    pub(crate) count: bool,
    pub(crate) negate: bool,
    pub(crate) op: OpCode,
    /// The predicate's source text, for failure messages.
    pub(crate) text: Box<str>,
}

#[derive(Debug)]
pub(crate) enum QueryCode {
    Status,
    Duration,
    Body,
    /// Lowercase header name.
    Header(Box<str>),
    JsonPath {
        path: serde_json_path::JsonPath,
        /// RFC 9535 singular query: the result is one value, not a list.
        singular: bool,
        /// The path's keys and indices when it is singular and spelled simply (`$.a.b[0]`,
        /// `$['a'][-1]`): walked directly, without building the query's node list.
        steps: Option<Box<[PathStep]>>,
        /// Its place among its request's clauses' JSONPath queries (numbered in order by
        /// [`JsonReading::of`]), which is its value's place when they are read in one pass;
        /// `None` for a query that is no clause of a request (an `if`'s condition).
        extract_at: Option<u32>,
        text: Box<str>,
    },
    Regex {
        re: regex::bytes::Regex,
        text: Box<str>,
    },
    Var(VarQuery),
}

/// A variable read as a query (`check id > 5`, `if s >= 500`).
#[derive(Debug)]
pub(crate) struct VarQuery {
    pub(crate) expr: ExprCode,
    /// The variable holds text from a response: every assignment of it captures `header`,
    /// `regex` or `body`. Its string compares as that text did in the query (read as a
    /// number against a number), not as a JSON string.
    pub(crate) text: bool,
}

#[derive(Debug)]
pub(crate) enum OpCode {
    Exists,
    Cmp(CmpOp, Operand),
    In(Operand),
    Contains(Operand),
    StartsWith(Operand),
    EndsWith(Operand),
    Matches(regex::bytes::Regex),
}

#[derive(Debug)]
pub(crate) enum Operand {
    Const(Value),
    Duration(Duration),
    /// A string with templates, rendered at evaluation.
    Text(TemplateCode),
    Expr(ExprCode),
    /// A variable that holds response text (see [`VarQuery::text`]), on the right of `<`,
    /// `<=`, `>` or `>=`: a number when its text reads as one, as response text on the left
    /// does (`header "X-Count" > before` orders 10 after 7, not `"10"` before `"7"`).
    TextNumber(ExprCode),
    List(Box<[Operand]>),
}
