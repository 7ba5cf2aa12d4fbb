//! Evaluating queries and predicates against a response (or variables, for `if`).
//!
//! A query yields a [`Datum`] that borrows from the response or the variables where it can;
//! predicates compare it with an operand. Semantics (documented for users in
//! `docs/plan-language.md`):
//! - a query that finds nothing fails every predicate except `not exists`;
//! - numbers compare numerically whatever their JSON spelling (`1 == 1.0`): two integers
//!   exactly (up to 128 bits), others as `f64` ([`cmp_num`]); text from the response
//!   compares with numbers after reading it by the JSON number grammar
//!   (`header "Content-Length" == 42`, [`parse_num`]);
//! - `count` counts list items, object members or regex matches; nothing counts 0, and any
//!   other single value counts 1.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::cmp::Ordering;
use std::time::Duration;

use rand::rngs::SmallRng;
use serde_json::Value;

use crate::ast::CmpOp;
use crate::code::{ClauseCode, ExprCode, JsonReading, OpCode, Operand, PredCode, QueryCode};
use crate::interp::ResponseView;
use crate::json_extract;
use crate::render::{EvalEnv, EvalError, Evaluated, eval, render_template, with_text};

/// The value a query found.
#[derive(Debug)]
pub(crate) enum Datum<'a> {
    Missing,
    Int(i64),
    Duration(Duration),
    /// Response text (body, header value, regex match).
    Bytes(&'a [u8]),
    Json(&'a Value),
    /// The nodes of a non-singular JSONPath query.
    Nodes(Vec<&'a Value>),
    Owned(Value),
}

/// Mutable buffers predicate evaluation may use.
pub(crate) struct Scratch<'s> {
    pub(crate) rng: &'s mut SmallRng,
    pub(crate) text: &'s mut String,
    pub(crate) buf: &'s mut Vec<u8>,
}

/// The response being tested by a request's clauses, with its body read as JSON at most
/// once, as the request's [`JsonReading`] says: the values at the clauses' JSON paths only,
/// in one pass ([`json_extract`]), or the whole body, parsed into a `Value`.
pub(crate) struct Resp<'r, V: ResponseView + ?Sized> {
    pub(crate) view: &'r V,
    clauses: &'r [ClauseCode],
    reading: &'r JsonReading,
    json: OnceCell<Result<Value, String>>,
    /// The body as text, when it is not UTF-8: each bad byte a U+FFFD (None: the body is
    /// UTF-8, used as it is). Checked once per response, on the first `body` or `regex`.
    shown_body: OnceCell<Option<String>>,
    /// The values at the paths of a [`JsonReading::Extract`], in its order.
    extracted: OnceCell<Result<Vec<Option<Value>>, String>>,
    /// Where those values go (the worker's, kept between responses for its room).
    buffer: Cell<Vec<Option<Value>>>,
}

impl<'r, V: ResponseView + ?Sized> Resp<'r, V> {
    /// The response `view` to `clauses`, read as `reading` says; the values at their JSON
    /// paths go in `buffer`.
    pub(crate) fn new(
        view: &'r V,
        clauses: &'r [ClauseCode],
        reading: &'r JsonReading,
        buffer: Vec<Option<Value>>,
    ) -> Self {
        Resp {
            view,
            clauses,
            reading,
            json: OnceCell::new(),
            shown_body: OnceCell::new(),
            extracted: OnceCell::new(),
            buffer: Cell::new(buffer),
        }
    }

    /// The buffer given to [`Resp::new`], for the next response: the scalars found stay
    /// (one the same as the next response's value at its place is kept rather than built
    /// again, see [`json_extract::extract`]), lists and objects do not.
    pub(crate) fn into_buffer(self) -> Vec<Option<Value>> {
        let mut buffer = match self.extracted.into_inner() {
            Some(Ok(found)) => found,
            _ => self.buffer.take(),
        };
        for value in &mut buffer {
            if matches!(value, Some(Value::Array(_) | Value::Object(_))) {
                *value = None;
            }
        }
        buffer
    }

    /// The value at the path of `q`, one of the clauses' JSONPath queries, read with all the
    /// others in one pass; None when the request's body is parsed whole instead.
    fn extracted(&self, q: &QueryCode) -> Option<Result<Option<&Value>, String>> {
        let JsonReading::Extract(paths) = self.reading else {
            return None;
        };
        let extracted = self.extracted.get_or_init(|| {
            let mut found = self.buffer.take();
            match json_extract::extract(self.view.body(), paths, &mut found) {
                Ok(()) => Ok(found),
                Err(e) => {
                    // Kept for the next response (a body that is not JSON, such as an
                    // overloaded server's error page, should not cost it its room).
                    self.buffer.set(found);
                    Err(not_json(&e))
                }
            }
        });
        match extracted {
            Ok(found) => {
                // The paths are the clauses' JSONPath queries, in order.
                let QueryCode::JsonPath {
                    extract_at: Some(index),
                    ..
                } = q
                else {
                    return None;
                };
                // A numbered query is one of the clauses of the request answered here.
                debug_assert!(self.clauses.iter().any(|c| std::ptr::eq(c.query(), q)));
                Some(Ok(found.get(*index as usize)?.as_ref()))
            }
            Err(e) => Some(Err(e.clone())),
        }
    }

    /// The body as the report shows it (`-v`'s `got "..."`, a capture's value): as it is
    /// when it is UTF-8, else with each bad byte a U+FFFD. `body` and `regex` read this, so
    /// that `contains`, `matches` and `regex` all see that text (on the raw bytes, `.`
    /// matched no bad byte: `body matches "abc.*def"` failed on a body shown `abc��def`).
    fn body_as_shown(&self) -> &[u8] {
        let body = self.view.body();
        match self.shown_body.get_or_init(|| {
            std::str::from_utf8(body)
                .is_err()
                .then(|| String::from_utf8_lossy(body).into_owned())
        }) {
            Some(text) => text.as_bytes(),
            None => body,
        }
    }

    /// Whether `body` and `regex` read a body that is not UTF-8, shown with a U+FFFD for each
    /// bad byte ([`Resp::body_as_shown`]): a value taken from it holding a U+FFFD is not what
    /// the server sent.
    pub(crate) fn body_was_replaced(&self) -> bool {
        matches!(self.shown_body.get(), Some(Some(_)))
    }

    fn json(&self) -> Result<&Value, String> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.view.body()).map_err(|e| not_json(&e)))
            .as_ref()
            .map_err(|e| e.clone())
    }
}

/// The evaluation error of a body that is not JSON.
fn not_json(e: &serde_json::Error) -> String {
    format!("the response body is not JSON ({e})")
}

/// Runs a query. `Err` is an evaluation error (not JSON, bad variable use), reported as a
/// failed predicate with that message.
pub(crate) fn query<'a, V: ResponseView + ?Sized>(
    q: &'a QueryCode,
    count: bool,
    resp: Option<&'a Resp<'a, V>>,
    env: &EvalEnv<'a>,
    s: &mut Scratch<'_>,
) -> Result<Datum<'a>, String> {
    let no_response = || "this query needs a response".to_string();
    Ok(match q {
        QueryCode::Status => Datum::Int(i64::from(resp.ok_or_else(no_response)?.view.status())),
        QueryCode::Duration => Datum::Duration(resp.ok_or_else(no_response)?.view.duration()),
        QueryCode::Body => Datum::Bytes(resp.ok_or_else(no_response)?.body_as_shown()),
        QueryCode::Header(name) => match resp.ok_or_else(no_response)?.view.header(name) {
            Some(v) => Datum::Bytes(v),
            None => Datum::Missing,
        },
        QueryCode::JsonPath {
            path,
            singular,
            steps,
            ..
        } => {
            let resp = resp.ok_or_else(no_response)?;
            if let Some(found) = resp.extracted(q) {
                return Ok(match found? {
                    Some(v) => Datum::Json(v),
                    None => Datum::Missing,
                });
            }
            let root = resp.json()?;
            if let Some(steps) = steps {
                return Ok(match crate::render::walk(root, steps) {
                    Some(v) => Datum::Json(v),
                    None => Datum::Missing,
                });
            }
            let nodes = path.query(root);
            if *singular {
                match nodes.first() {
                    Some(v) => Datum::Json(v),
                    None => Datum::Missing,
                }
            } else if nodes.is_empty() {
                Datum::Missing
            } else {
                Datum::Nodes(nodes.all())
            }
        }
        QueryCode::Regex { re, .. } => {
            let body = resp.ok_or_else(no_response)?.body_as_shown();
            if count {
                return Ok(Datum::Int(re.find_iter(body).count() as i64));
            }
            // With a group, the first group: one that took no part in the match
            // (`id=(\d+)?` on `id=`) found nothing. Without one, the whole match.
            let found = if re.captures_len() > 1 {
                re.captures(body).and_then(|c| c.get(1))
            } else {
                re.find(body)
            };
            match found {
                Some(m) => Datum::Bytes(m.as_bytes()),
                None => Datum::Missing,
            }
        }
        QueryCode::Var(v) => match var_datum(&v.expr, env, s)? {
            // Text captured from a response compares as that text.
            Datum::Json(Value::String(t)) if v.text => Datum::Bytes(t.as_bytes()),
            d => d,
        },
    })
}

fn var_datum<'a>(
    e: &'a ExprCode,
    env: &EvalEnv<'a>,
    s: &mut Scratch<'_>,
) -> Result<Datum<'a>, String> {
    match eval(e, env, s.rng, s.text) {
        Ok(Evaluated::Ref(v)) => Ok(Datum::Json(v)),
        Ok(Evaluated::Owned(v)) => Ok(Datum::Owned(v)),
        Ok(Evaluated::Int(i)) => Ok(Datum::Int(i)),
        Ok(Evaluated::Scratch) => Ok(Datum::Owned(Value::String(s.text.clone()))),
        Err(EvalError::Undefined(_) | EvalError::NoItem(_)) => Ok(Datum::Missing),
        Err(e) => Err(e.to_string()),
    }
}

/// `count` of a datum.
pub(crate) fn count(d: &Datum<'_>) -> i64 {
    match d {
        Datum::Missing => 0,
        Datum::Nodes(n) => n.len() as i64,
        Datum::Json(v) => json_count(v),
        Datum::Owned(v) => json_count(v),
        _ => 1,
    }
}

fn json_count(v: &Value) -> i64 {
    match v {
        Value::Array(a) => a.len() as i64,
        Value::Object(o) => o.len() as i64,
        _ => 1,
    }
}

/// The right-hand side of a predicate, evaluated.
enum Rhs<'a> {
    Value(Cow<'a, Value>),
    Duration(Duration),
    List(Vec<Rhs<'a>>),
}

fn operand<'a>(o: &'a Operand, env: &EvalEnv<'a>, s: &mut Scratch<'_>) -> Result<Rhs<'a>, String> {
    Ok(match o {
        Operand::Const(v) => Rhs::Value(Cow::Borrowed(v)),
        Operand::Duration(d) => Rhs::Duration(*d),
        Operand::Text(t) => {
            s.buf.clear();
            render_template(s.buf, t, env, s.rng, s.text).map_err(|e| e.to_string())?;
            Rhs::Value(Cow::Owned(Value::String(
                String::from_utf8_lossy(s.buf).into_owned(),
            )))
        }
        Operand::Expr(e) => match eval(e, env, s.rng, s.text) {
            Ok(Evaluated::Ref(v)) => Rhs::Value(Cow::Borrowed(v)),
            Ok(other) => Rhs::Value(Cow::Owned(other.to_value(s.text))),
            Err(e) => return Err(e.to_string()),
        },
        Operand::TextNumber(e) => match eval(e, env, s.rng, s.text) {
            Ok(Evaluated::Ref(Value::String(t))) => match text_number(t) {
                Some(n) => Rhs::Value(Cow::Owned(Value::Number(n))),
                None => Rhs::Value(Cow::Owned(Value::String(t.clone()))),
            },
            Ok(Evaluated::Ref(v)) => Rhs::Value(Cow::Borrowed(v)),
            Ok(other) => Rhs::Value(Cow::Owned(other.to_value(s.text))),
            Err(e) => return Err(e.to_string()),
        },
        Operand::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items.iter() {
                out.push(operand(i, env, s)?);
            }
            Rhs::List(out)
        }
    })
}

/// The outcome of a predicate, with a description of what was found when asked for.
pub(crate) struct Verdict {
    pub(crate) passed: bool,
    /// `got 503`, `got nothing`, or the evaluation error; only when requested.
    pub(crate) got: Option<String>,
}

pub(crate) fn test_pred<V: ResponseView + ?Sized>(
    p: &PredCode,
    resp: Option<&Resp<'_, V>>,
    env: &EvalEnv<'_>,
    s: &mut Scratch<'_>,
    describe_failure: bool,
) -> Verdict {
    let datum = match query(&p.query, p.count, resp, env, s) {
        Ok(d) => d,
        Err(msg) => {
            return Verdict {
                passed: false,
                got: describe_failure.then_some(msg),
            };
        }
    };
    let datum = if p.count && !matches!(p.query, QueryCode::Regex { .. }) {
        Datum::Int(count(&datum))
    } else {
        datum
    };
    let result = apply(&p.op, &datum, env, s);
    let (passed, err) = match result {
        Ok(r) => {
            if matches!(datum, Datum::Missing) && !matches!(p.op, OpCode::Exists) {
                (false, None)
            } else {
                (r != p.negate, None)
            }
        }
        Err(e) => (false, Some(e)),
    };
    let got = if describe_failure && !passed {
        Some(match err {
            Some(e) => e,
            None => format!("got {}", describe(&datum)),
        })
    } else {
        None
    };
    Verdict { passed, got }
}

fn apply(
    op: &OpCode,
    d: &Datum<'_>,
    env: &EvalEnv<'_>,
    s: &mut Scratch<'_>,
) -> Result<bool, String> {
    Ok(match op {
        OpCode::Exists => !matches!(d, Datum::Missing),
        OpCode::Cmp(cmp, o) => {
            let rhs = operand(o, env, s)?;
            compare(d, *cmp, &rhs)
        }
        OpCode::In(o) => match operand(o, env, s)? {
            Rhs::List(items) => items.iter().any(|r| compare(d, CmpOp::Eq, r)),
            Rhs::Value(v) => match &*v {
                Value::Array(items) => items.iter().any(|i| equals(d, i)),
                other => {
                    return Err(format!(
                        "`in` needs a list, got {}",
                        crate::render::json_kind(other)
                    ));
                }
            },
            Rhs::Duration(_) => false,
        },
        OpCode::Contains(o) => {
            let rhs = operand(o, env, s)?;
            let Rhs::Value(needle) = rhs else {
                return Ok(false);
            };
            match d {
                Datum::Nodes(n) => n.iter().any(|v| json_eq(v, &needle)),
                Datum::Json(Value::Array(a)) => a.iter().any(|v| json_eq(v, &needle)),
                Datum::Owned(Value::Array(a)) => a.iter().any(|v| json_eq(v, &needle)),
                Datum::Json(Value::Object(m)) => needle.as_str().is_some_and(|k| m.contains_key(k)),
                Datum::Owned(Value::Object(m)) => {
                    needle.as_str().is_some_and(|k| m.contains_key(k))
                }
                _ => match (datum_text(d), value_text(&needle)) {
                    (Some(h), Some(n)) => find(&h, &n),
                    _ => false,
                },
            }
        }
        OpCode::StartsWith(o) | OpCode::EndsWith(o) => {
            let rhs = operand(o, env, s)?;
            let Rhs::Value(needle) = rhs else {
                return Ok(false);
            };
            match (datum_text(d), value_text(&needle)) {
                (Some(h), Some(n)) => {
                    if matches!(op, OpCode::StartsWith(_)) {
                        h.starts_with(&n)
                    } else {
                        h.ends_with(&n)
                    }
                }
                _ => false,
            }
        }
        OpCode::Matches(re) => match datum_text(d) {
            // A header value that is not UTF-8 is matched as shown (each bad byte a U+FFFD),
            // as a body is ([`Resp::body_as_shown`]).
            Some(t) => match std::str::from_utf8(&t) {
                Ok(_) => re.is_match(&t),
                Err(_) => re.is_match(String::from_utf8_lossy(&t).as_bytes()),
            },
            None => false,
        },
    })
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The text form of a datum for string predicates; `None` for lists and objects.
fn datum_text<'a>(d: &'a Datum<'_>) -> Option<Cow<'a, [u8]>> {
    match d {
        Datum::Bytes(b) => Some(Cow::Borrowed(b)),
        Datum::Int(i) => Some(Cow::Owned(i.to_string().into_bytes())),
        Datum::Json(v) => value_text(v),
        Datum::Owned(v) => value_text(v),
        Datum::Missing | Datum::Duration(_) | Datum::Nodes(_) => None,
    }
}

fn value_text(v: &Value) -> Option<Cow<'_, [u8]>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_bytes())),
        Value::Array(_) | Value::Object(_) => None,
        other => Some(Cow::Owned(with_text(&Evaluated::Ref(other), "", |t| {
            t.to_vec()
        }))),
    }
}

fn compare(d: &Datum<'_>, cmp: CmpOp, rhs: &Rhs<'_>) -> bool {
    let ord = match rhs {
        Rhs::Duration(limit) => match d {
            Datum::Duration(got) => Some(got.cmp(limit)),
            _ => None,
        },
        Rhs::Value(v) => {
            if matches!(cmp, CmpOp::Eq | CmpOp::Ne) {
                let eq = equals(d, v);
                return if cmp == CmpOp::Eq { eq } else { !eq };
            }
            order(d, v)
        }
        Rhs::List(items) => {
            if !matches!(cmp, CmpOp::Eq | CmpOp::Ne) {
                return false;
            }
            let values: Vec<Value> = items
                .iter()
                .filter_map(|r| match r {
                    Rhs::Value(v) => Some(v.clone().into_owned()),
                    _ => None,
                })
                .collect();
            let eq = equals(d, &Value::Array(values));
            return if cmp == CmpOp::Eq { eq } else { !eq };
        }
    };
    match ord {
        None => false,
        Some(o) => match cmp {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        },
    }
}

/// A number to compare: an integer up to 128 bits, compared exactly with another one, or
/// anything else, compared as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    /// Never NaN; a number beyond `f64`'s range is an infinity of its sign.
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// Two numbers by value: exactly when both are integers, else as `f64` (an infinity equals
/// the infinity of its sign and orders beyond every finite number).
pub(crate) fn cmp_num(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        _ => a.as_f64().partial_cmp(&b.as_f64()),
    }
}

/// Text read as a number, or `None` when it is not one: the JSON number grammar (an
/// optional `-`, digits, an optional `.digits` fraction and `e`/`E` exponent), except that
/// leading zeros are allowed (`0042` is 42), with surrounding ASCII whitespace ignored. No
/// `+`, no `inf`, `NaN` or `0x10`, no `.5` or `5.`. Digits alone (and `-`) make an integer,
/// exact when it fits in 128 bits; anything else is an `f64`, an infinity beyond its range
/// (`1e400`). Allocates nothing.
pub(crate) fn parse_num(text: &[u8]) -> Option<Num> {
    let t = text.trim_ascii();
    let digits = |from: usize| {
        from + t[from.min(t.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(t.first() == Some(&b'-'));
    let end = digits(i);
    if end == i {
        return None;
    }
    i = end;
    let mut integer = true;
    if t.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
        integer = false;
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
        integer = false;
    }
    if i != t.len() {
        return None;
    }
    // ASCII only, checked above.
    let s = std::str::from_utf8(t).ok()?;
    if integer && let Ok(n) = s.parse::<i128>() {
        return Some(Num::Int(n));
    }
    s.parse::<f64>().ok().map(Num::Float)
}

/// A JSON number as a [`Num`].
pub(crate) fn json_num(n: &serde_json::Number) -> Num {
    // Numbers keep their JSON text (`arbitrary_precision`), which always parses.
    parse_num(n.as_str().as_bytes()).unwrap_or(Num::Float(f64::NAN))
}

/// Response text that reads as a number ([`parse_num`]: `0042`, ` 7 `), as a JSON number.
fn text_number(text: &str) -> Option<serde_json::Number> {
    match parse_num(text.as_bytes())? {
        // Digits alone: the integer's own spelling (leading zeros gone), which JSON reads.
        Num::Int(i) => i.to_string().parse().ok(),
        Num::Float(f) => serde_json::Number::from_f64(f),
    }
}

/// The number a datum is: a number, or response text that reads as one ([`parse_num`]).
/// A JSON string is not a number.
fn number_of(d: &Datum<'_>) -> Option<Num> {
    match d {
        Datum::Int(i) => Some(Num::Int(i128::from(*i))),
        Datum::Json(Value::Number(n)) | Datum::Owned(Value::Number(n)) => Some(json_num(n)),
        Datum::Bytes(b) => parse_num(b),
        _ => None,
    }
}

fn equals(d: &Datum<'_>, rhs: &Value) -> bool {
    match (d, rhs) {
        (Datum::Missing, _) | (Datum::Duration(_), _) => false,
        (Datum::Json(Value::Number(_)) | Datum::Owned(Value::Number(_)), Value::String(s)) => {
            number_equals_text(d, s)
        }
        (Datum::Json(v), r) => json_eq(v, r),
        (Datum::Owned(v), r) => json_eq(v, r),
        (Datum::Nodes(n), Value::Array(items)) => {
            n.len() == items.len() && n.iter().zip(items).all(|(a, b)| json_eq(a, b))
        }
        (Datum::Nodes(_), _) => false,
        (Datum::Int(_) | Datum::Bytes(_), Value::Number(n)) => number_of(d)
            .and_then(|a| cmp_num(a, json_num(n)))
            .is_some_and(Ordering::is_eq),
        (Datum::Bytes(b), Value::String(s)) => *b == s.as_bytes(),
        (Datum::Bytes(b), Value::Bool(x)) => *b == if *x { &b"true"[..] } else { &b"false"[..] },
        (Datum::Int(_), Value::String(s)) => number_equals_text(d, s),
        _ => false,
    }
}

/// A number from the response against text on the right (`"{{pid}}"`, `"3"`): equal when
/// the text is a number of the same value (`"3"`, `"3.0"`). A number's own text form is
/// always a number, so no text that is not one can equal it. Nothing is allocated.
fn number_equals_text(d: &Datum<'_>, text: &str) -> bool {
    number_of(d)
        .zip(parse_num(text.as_bytes()))
        .and_then(|(a, b)| cmp_num(a, b))
        .is_some_and(Ordering::is_eq)
}

/// Whether a datum is a number (the response's or a variable's), not text.
fn is_number(d: &Datum<'_>) -> bool {
    matches!(
        d,
        Datum::Int(_) | Datum::Json(Value::Number(_)) | Datum::Owned(Value::Number(_))
    )
}

fn order(d: &Datum<'_>, rhs: &Value) -> Option<Ordering> {
    match rhs {
        Value::Number(n) => cmp_num(number_of(d)?, json_num(n)),
        Value::String(s) if is_number(d) => match parse_num(s.as_bytes()) {
            Some(n) => cmp_num(number_of(d)?, n),
            None => Some(datum_text(d)?.as_ref().cmp(s.as_bytes())),
        },
        Value::String(s) => {
            let text = match d {
                Datum::Bytes(b) => *b,
                Datum::Json(Value::String(t)) | Datum::Owned(Value::String(t)) => t.as_bytes(),
                _ => return None,
            };
            Some(text.cmp(s.as_bytes()))
        }
        _ => None,
    }
}

/// JSON equality where numbers compare by value (`1 == 1.0`).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Numbers by value, as [`cmp_num`]: integers exactly (up to 128 bits), others as `f64`.
fn numbers_equal(x: &serde_json::Number, y: &serde_json::Number) -> bool {
    cmp_num(json_num(x), json_num(y)).is_some_and(Ordering::is_eq)
}

/// A short description of a datum for failure messages.
pub(crate) fn describe(d: &Datum<'_>) -> String {
    const MAX: usize = 120;
    let text = match d {
        Datum::Missing => return "nothing".into(),
        Datum::Int(i) => return i.to_string(),
        // Said as what it is: with `--rate`, the report's latency of a run's first request
        // also counts how late the run started, and this does not.
        Datum::Duration(dur) => {
            return format!(
                "{}ms (the response's own time, from its first byte sent)",
                dur.as_millis()
            );
        }
        Datum::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            format!("{:?}", truncate(&s, MAX))
        }
        Datum::Json(v) => serde_json::to_string(v).unwrap_or_default(),
        Datum::Owned(v) => serde_json::to_string(v).unwrap_or_default(),
        Datum::Nodes(n) => serde_json::to_string(n).unwrap_or_default(),
    };
    truncate(&text, MAX).into_owned()
}

fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.chars().count() <= max {
        return Cow::Borrowed(s);
    }
    let cut: String = s.chars().take(max).collect();
    Cow::Owned(format!("{cut}..."))
}

/// Why a capture of a body that is not UTF-8 fails when it took one of its bad bytes.
pub(crate) const NOT_UTF8_CAPTURE: &str = "what it found holds bytes that are not UTF-8 text: \
     a plan's values are text, and this one could not be sent back or compared unchanged";

/// The value a capture stores, or `None` when the query found nothing; an error when what
/// it found is bytes that are not UTF-8 text (a header's obs-text, a binary body): a plan's
/// values are text, and one made with `U+FFFD` for each bad byte would be sent back altered
/// and compare unequal to the very bytes it came from.
pub(crate) fn capture_value(
    d: Datum<'_>,
    count_mode: bool,
    regex: bool,
) -> Result<Option<Value>, String> {
    if count_mode {
        let n = if regex {
            match d {
                Datum::Int(n) => n,
                _ => 0,
            }
        } else {
            count(&d)
        };
        return Ok(Some(Value::from(n)));
    }
    Ok(Some(match d {
        Datum::Missing => return Ok(None),
        Datum::Int(i) => Value::from(i),
        Datum::Duration(dur) => Value::from(dur.as_secs_f64() * 1000.0),
        Datum::Bytes(b) => match std::str::from_utf8(b) {
            Ok(text) => Value::String(text.to_owned()),
            Err(e) => {
                let at = e.valid_up_to();
                return Err(format!(
                    "what it found is not UTF-8 text (byte 0x{:02x} at offset {at}): a plan's \
                     values are text, and this one could not be sent back or compared unchanged",
                    b[at]
                ));
            }
        },
        Datum::Json(v) => v.clone(),
        Datum::Nodes(n) => Value::Array(n.into_iter().cloned().collect()),
        Datum::Owned(v) => v,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A failed `duration` check says which time it read: the response's own, not the
    /// report's latency from the intended start (`--rate`).
    #[test]
    fn a_duration_is_described_as_the_responses_own_time() {
        assert_eq!(
            describe(&Datum::Duration(Duration::from_micros(100_600))),
            "100ms (the response's own time, from its first byte sent)"
        );
    }

    #[test]
    fn equality_table() {
        let num = json!(200);
        let text_one = json!("1");
        let big = json!(9007199254740993_i64);
        let cases: Vec<(Datum<'_>, Value, bool)> = vec![
            (Datum::Int(200), json!(200), true),
            (Datum::Int(200), json!(200.0), true),
            (Datum::Bytes(b"42"), json!(42), true),
            (Datum::Bytes(b"ok"), json!("ok"), true),
            (Datum::Bytes(b"ok"), json!("no"), false),
            (Datum::Json(&num), json!(200.0), true),
            (Datum::Missing, json!(null), false),
            (Datum::Nodes(vec![&num]), json!([200]), true),
            // A number against text: its text form, or the same value.
            (Datum::Json(&num), json!("200"), true),
            (Datum::Json(&num), json!("200.0"), true),
            (Datum::Json(&num), json!("201"), false),
            (Datum::Json(&num), json!("abc"), false),
            (Datum::Owned(json!(1.5)), json!("1.5"), true),
            (Datum::Int(3), json!("3"), true),
            (Datum::Int(3), json!(" 3 "), true),
            (Datum::Int(3), json!("x3"), false),
            (Datum::Json(&big), json!("9007199254740993"), true),
            (Datum::Json(&big), json!("9007199254740992"), false),
            // Text from JSON stays text against a number.
            (Datum::Json(&text_one), json!(1), false),
        ];
        for (d, v, want) in cases {
            assert_eq!(equals(&d, &v), want, "{d:?} == {v}");
        }
    }

    #[test]
    fn ordering_table() {
        let s = json!("b");
        assert_eq!(order(&Datum::Int(3), &json!(5)), Some(Ordering::Less));
        assert_eq!(
            order(&Datum::Json(&s), &json!("a")),
            Some(Ordering::Greater)
        );
        assert_eq!(order(&Datum::Bytes(b"x"), &json!(1)), None);
        // A number against text: by value when the text is a number, else as text.
        assert_eq!(order(&Datum::Int(9), &json!("10")), Some(Ordering::Less));
        assert_eq!(
            order(&Datum::Owned(json!(2.5)), &json!("2.5")),
            Some(Ordering::Equal)
        );
        assert_eq!(order(&Datum::Int(9), &json!("a")), Some(Ordering::Less));
    }

    /// A JSON number written as `text`.
    fn num(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn text_reads_as_a_number_by_the_json_grammar() {
        use Num::{Float, Int};
        let cases: &[(&str, Option<Num>)] = &[
            ("42", Some(Int(42))),
            (" 42\r\n", Some(Int(42))),
            ("0042", Some(Int(42))),
            ("-7", Some(Int(-7))),
            ("-0", Some(Int(0))),
            ("2.5", Some(Float(2.5))),
            ("2.50", Some(Float(2.5))),
            ("1e3", Some(Float(1000.0))),
            ("1E+3", Some(Float(1000.0))),
            ("-1e-3", Some(Float(-0.001))),
            ("1E400", Some(Float(f64::INFINITY))),
            ("-1E400", Some(Float(f64::NEG_INFINITY))),
            ("9007199254740993", Some(Int(9_007_199_254_740_993))),
            (
                "170141183460469231731687303715884105727",
                Some(Int(i128::MAX)),
            ),
            (
                "-170141183460469231731687303715884105728",
                Some(Int(i128::MIN)),
            ),
            // Beyond 128 bits: an f64.
            (
                "170141183460469231731687303715884105728",
                Some(Float(1.7014118346046923e38)),
            ),
            // Not numbers.
            ("", None),
            ("  ", None),
            ("-", None),
            ("+42", None),
            ("inf", None),
            ("-inf", None),
            ("infinity", None),
            ("Infinity", None),
            ("NaN", None),
            ("nan", None),
            ("0x10", None),
            (".5", None),
            ("5.", None),
            ("1e", None),
            ("1e+", None),
            ("1.e3", None),
            ("4 2", None),
            ("42abc", None),
            ("1_000", None),
            ("--1", None),
            ("\u{661}", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_num(text.as_bytes()), *want, "{text:?}");
        }
    }

    #[test]
    fn numbers_compare_exactly_as_integers_else_as_f64() {
        use Ordering::{Equal, Greater, Less};
        let n993 = num("9007199254740993");
        let n992 = num("9007199254740992");
        let big30 = num("123456789012345678901234567890");
        let inf = num("1E400");
        let neg_inf = num("-1E400");
        let float = num("2.5");
        let s993 = json!("9007199254740993");
        // (left, right, ordering; None: no order)
        let cases: Vec<(Datum<'_>, Value, Option<Ordering>)> = vec![
            // JSON number against a number: exact beyond 2^53.
            (Datum::Json(&n993), num("9007199254740992"), Some(Greater)),
            (Datum::Json(&n992), num("9007199254740993"), Some(Less)),
            (Datum::Json(&n993), num("9007199254740993"), Some(Equal)),
            (
                Datum::Owned(n993.clone()),
                num("9007199254740992"),
                Some(Greater),
            ),
            (
                Datum::Json(&big30),
                num("123456789012345678901234567891"),
                Some(Less),
            ),
            (
                Datum::Json(&big30),
                num("123456789012345678901234567890"),
                Some(Equal),
            ),
            // A JSON number against numeric text: exact too.
            (Datum::Json(&n993), json!("9007199254740992"), Some(Greater)),
            (Datum::Json(&n992), json!(" 9007199254740993 "), Some(Less)),
            // Response text against a number.
            (
                Datum::Bytes(b"9007199254740993"),
                num("9007199254740992"),
                Some(Greater),
            ),
            (
                Datum::Bytes(b"9007199254740992"),
                num("9007199254740993"),
                Some(Less),
            ),
            (Datum::Bytes(b"0042"), num("42"), Some(Equal)),
            (Datum::Bytes(b"42"), num("42.0"), Some(Equal)),
            (Datum::Bytes(b"42"), num("4.2e1"), Some(Equal)),
            (Datum::Bytes(b"2.5"), num("3"), Some(Less)),
            (Datum::Bytes(b"x"), num("1"), None),
            (Datum::Bytes(b"inf"), num("1000"), None),
            (Datum::Bytes(b"NaN"), num("5"), None),
            (Datum::Bytes(b"+42"), num("42"), None),
            // An integer (status, count) against a number.
            (Datum::Int(i64::MAX), num("9223372036854775808"), Some(Less)),
            (Datum::Int(3), num("3.0"), Some(Equal)),
            (Datum::Int(3), num("2.5"), Some(Greater)),
            // Mixed integer and fraction: as f64.
            (Datum::Json(&float), num("2"), Some(Greater)),
            (Datum::Json(&float), json!("2.5"), Some(Equal)),
            // Beyond f64's range: an infinity of its sign.
            (Datum::Json(&inf), num("1"), Some(Greater)),
            (
                Datum::Json(&inf),
                num("123456789012345678901234567890"),
                Some(Greater),
            ),
            (Datum::Json(&neg_inf), num("1"), Some(Less)),
            (Datum::Json(&inf), num("1E999"), Some(Equal)),
            (Datum::Json(&inf), num("-1E400"), Some(Greater)),
            (Datum::Bytes(b"1e400"), num("1E400"), Some(Equal)),
            // A JSON string stays text: no number, and no order against one.
            (Datum::Json(&s993), num("1"), None),
        ];
        for (d, v, want) in &cases {
            assert_eq!(order(d, v), *want, "{d:?} against {v}");
            assert_eq!(
                equals(d, v),
                *want == Some(Equal),
                "{d:?} == {v} (ordering {want:?})"
            );
        }
    }

    #[test]
    fn in_and_list_equality_compare_numbers_exactly() {
        let n993 = num("9007199254740993");
        let list = json!([num("9007199254740992"), num("1")]);
        assert!(!equals(&Datum::Json(&n993), &list));
        let Value::Array(items) = &list else {
            unreachable!()
        };
        assert!(!items.iter().any(|i| equals(&Datum::Json(&n993), i)));
        assert!(
            !items
                .iter()
                .any(|i| equals(&Datum::Bytes(b"9007199254740993"), i))
        );
        assert!(
            items
                .iter()
                .any(|i| equals(&Datum::Bytes(b"9007199254740992"), i))
        );
        let nodes = [&n993];
        assert!(!equals(
            &Datum::Nodes(nodes.to_vec()),
            &json!([num("9007199254740992")])
        ));
        assert!(equals(
            &Datum::Nodes(nodes.to_vec()),
            &json!([num("9007199254740993")])
        ));
    }

    #[test]
    fn count_table() {
        let a = json!([1, 2, 3]);
        let o = json!({"a": 1});
        let s = json!("abc");
        assert_eq!(count(&Datum::Json(&a)), 3);
        assert_eq!(count(&Datum::Json(&o)), 1);
        assert_eq!(count(&Datum::Json(&s)), 1);
        assert_eq!(count(&Datum::Missing), 0);
        assert_eq!(count(&Datum::Nodes(vec![&a, &o])), 2);
    }

    #[test]
    fn describe_truncates() {
        let long = "x".repeat(500);
        let d = describe(&Datum::Bytes(long.as_bytes()));
        assert!(d.len() < 140, "{d}");
        assert_eq!(describe(&Datum::Missing), "nothing");
    }
}
