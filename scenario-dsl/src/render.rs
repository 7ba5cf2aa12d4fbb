//! Evaluating template expressions and writing values with the right escaping.
//!
//! Used at run time by the interpreter (into a worker's reused buffers) and at compile time
//! to pre-render constant pieces, so both agree byte for byte. The escaping rules per place
//! are documented on [`Escape`].

use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::Value;

use crate::code::{Escape, ExprCode, PathStep, Piece, TemplateCode};
use crate::eval::{Num, json_num, parse_num};

/// The result of evaluating an expression, borrowing where it can.
#[derive(Debug)]
pub(crate) enum Evaluated<'v> {
    Ref(&'v Value),
    Owned(Value),
    Int(i64),
    /// The text is in the scratch buffer passed to [`eval`].
    Scratch,
}

impl Evaluated<'_> {
    pub(crate) fn to_value(&self, scratch: &str) -> Value {
        match self {
            Evaluated::Ref(v) => (*v).clone(),
            Evaluated::Owned(v) => v.clone(),
            Evaluated::Int(i) => Value::from(*i),
            Evaluated::Scratch => Value::String(scratch.to_string()),
        }
    }

    /// The value as an argument of `rand_int` or `rand_str`: a number without a fraction
    /// (`3`, `3.0`, `1e3`), or text that reads as one (`"3"`, a captured header), by the
    /// rule of predicates ([`crate::eval::parse_num`]); at most 64 bits.
    pub(crate) fn as_i64(&self, scratch: &str) -> Option<i64> {
        match self.as_integer(scratch)? {
            Num::Int(i) => i64::try_from(i).ok(),
            // Out of i64's range, or not an integer at all.
            Num::Float(_) => None,
        }
    }

    /// The value as an integer of any size (`Num::Int`), as a number that is not one
    /// (`Num::Float`), or `None` when it is not a number: see [`Evaluated::as_i64`].
    fn as_integer(&self, scratch: &str) -> Option<Num> {
        let n = match self {
            Evaluated::Int(i) => return Some(Num::Int(i128::from(*i))),
            Evaluated::Ref(v) => json_number(v)?,
            Evaluated::Owned(v) => json_number(v)?,
            Evaluated::Scratch => parse_num(scratch.as_bytes())?,
        };
        Some(match n {
            // `3.0`, `1e3`: integers spelled otherwise (the bounds are 2^63 exactly).
            Num::Float(f)
                if f.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) =>
            {
                Num::Int(f as i128)
            }
            n => n,
        })
    }

    /// What an argument that is no 64-bit integer is, for a message: `2.5`,
    /// `9223372036854775808 (beyond 64 bits)`, `1E400 (beyond 64 bits)`, `"abc"`, `true`,
    /// `a list`.
    pub(crate) fn describe_non_integer(&self, scratch: &str) -> String {
        const MAX: usize = 40;
        let cut = |t: &str| -> String {
            if t.chars().count() > MAX {
                format!("{}...", t.chars().take(MAX).collect::<String>())
            } else {
                t.to_string()
            }
        };
        let quoted = |t: &str| -> String {
            if t.chars().count() > MAX {
                format!("{:?}...", t.chars().take(MAX).collect::<String>())
            } else {
                format!("{t:?}")
            }
        };
        let value = match self {
            Evaluated::Int(i) => return i.to_string(),
            Evaluated::Scratch => None,
            Evaluated::Ref(v) => Some(*v),
            Evaluated::Owned(v) => Some(v),
        };
        let shown = match value {
            None => quoted(scratch),
            Some(Value::String(s)) => quoted(s),
            Some(v @ (Value::Array(_) | Value::Object(_))) => return json_kind(v).to_string(),
            Some(v) => cut(&v.to_string()),
        };
        // An integer, but beyond 64 bits (`9223372036854775808`, `1e30`, `1E400`).
        let beyond = match self.as_integer(scratch) {
            Some(Num::Int(_)) => true,
            Some(Num::Float(f)) => f.fract() == 0.0 || f.is_infinite(),
            None => false,
        };
        if beyond {
            format!("{shown} (beyond 64 bits)")
        } else {
            shown
        }
    }
}

/// A JSON value as a number: a number, or a string that reads as one.
fn json_number(v: &Value) -> Option<Num> {
    match v {
        Value::Number(n) => Some(json_num(n)),
        Value::String(s) => parse_num(s.as_bytes()),
        _ => None,
    }
}

/// Why an expression could not be evaluated at run time.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum EvalError {
    #[error("`{0}` is not set")]
    Undefined(String),
    /// No item to give (`pick()` of an empty list): like an unset variable or a missing
    /// item, `??` gives its fallback instead, and `exists` is false.
    #[error("{0}")]
    NoItem(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// The values of the built-ins `worker`, `process` and `iter` for one worker.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ids {
    pub(crate) worker: u64,
    pub(crate) process: u32,
    /// Scenario runs this worker started before the current one.
    pub(crate) iter: u64,
}

/// The values an expression can read.
pub(crate) struct EvalEnv<'v> {
    pub(crate) slots: &'v [Option<Value>],
    pub(crate) ids: Ids,
}

/// Largest `rand_str(n)`.
pub(crate) const MAX_RAND_STR: i64 = 1 << 20;

pub(crate) fn eval<'v>(
    e: &'v ExprCode,
    env: &EvalEnv<'v>,
    rng: &mut SmallRng,
    scratch: &mut String,
) -> Result<Evaluated<'v>, EvalError> {
    Ok(match e {
        ExprCode::Const(v) => Evaluated::Ref(v),
        ExprCode::Var { slot, path, name } => {
            let Some(Some(root)) = env.slots.get(*slot as usize) else {
                return Err(EvalError::Undefined(name.to_string()));
            };
            Evaluated::Ref(
                walk(root, path).ok_or_else(|| EvalError::Undefined(path_text(name, path)))?,
            )
        }
        ExprCode::Undefined(name) => return Err(EvalError::Undefined(name.to_string())),
        ExprCode::Worker => Evaluated::Int(env.ids.worker as i64),
        ExprCode::Process => Evaluated::Int(env.ids.process as i64),
        ExprCode::Iter => Evaluated::Int(env.ids.iter as i64),
        ExprCode::NowMs => {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            Evaluated::Int(ms)
        }
        ExprCode::Uuid => {
            let bytes: [u8; 16] = rng.random();
            scratch.clear();
            write_uuid(scratch, bytes);
            Evaluated::Scratch
        }
        ExprCode::RandInt(a, b) => {
            let lo = int_arg(a, env, rng, scratch, "rand_int")?;
            let hi = int_arg(b, env, rng, scratch, "rand_int")?;
            if lo > hi {
                return Err(EvalError::Invalid(format!(
                    "rand_int({lo}, {hi}): the first bound is larger than the second"
                )));
            }
            Evaluated::Int(rng.random_range(lo..=hi))
        }
        ExprCode::RandRange(lo, hi) => Evaluated::Int(rng.random_range(*lo..=*hi)),
        ExprCode::RandStr(n) => {
            let n = int_arg(n, env, rng, scratch, "rand_str")?;
            if !(0..=MAX_RAND_STR).contains(&n) {
                return Err(EvalError::Invalid(format!(
                    "rand_str({n}): the length must be between 0 and {MAX_RAND_STR}"
                )));
            }
            scratch.clear();
            const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            for _ in 0..n {
                scratch.push(ALNUM[rng.random_range(0..ALNUM.len())] as char);
            }
            Evaluated::Scratch
        }
        ExprCode::Pick(list) => match eval(list, env, rng, scratch)? {
            Evaluated::Ref(Value::Array(items)) if !items.is_empty() => {
                Evaluated::Ref(&items[rng.random_range(0..items.len())])
            }
            Evaluated::Owned(Value::Array(mut items)) if !items.is_empty() => {
                let i = rng.random_range(0..items.len());
                Evaluated::Owned(items.swap_remove(i))
            }
            Evaluated::Ref(Value::Array(_)) | Evaluated::Owned(Value::Array(_)) => {
                return Err(EvalError::NoItem("pick() of an empty list"));
            }
            other => {
                return Err(EvalError::Invalid(format!(
                    "pick() needs a list, got {}",
                    kind_of(&other)
                )));
            }
        },
        ExprCode::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                let v = eval(item, env, rng, scratch)?;
                out.push(v.to_value(scratch));
            }
            Evaluated::Owned(Value::Array(out))
        }
        ExprCode::Default(value, fallback) => match eval(value, env, rng, scratch) {
            Err(EvalError::Undefined(_) | EvalError::NoItem(_)) => {
                eval(fallback, env, rng, scratch)?
            }
            other => other?,
        },
    })
}

fn int_arg(
    e: &ExprCode,
    env: &EvalEnv<'_>,
    rng: &mut SmallRng,
    scratch: &mut String,
    func: &str,
) -> Result<i64, EvalError> {
    let v = eval(e, env, rng, scratch)?;
    v.as_i64(scratch).ok_or_else(|| {
        EvalError::Invalid(format!(
            "{func}() needs integer arguments, got {}",
            v.describe_non_integer(scratch)
        ))
    })
}

fn kind_of(v: &Evaluated<'_>) -> &'static str {
    match v {
        Evaluated::Int(_) => "a number",
        Evaluated::Scratch => "a string",
        Evaluated::Ref(v) => json_kind(v),
        Evaluated::Owned(v) => json_kind(v),
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Follows object keys and array indices (negative indices count from the end).
pub(crate) fn walk<'v>(mut v: &'v Value, path: &[PathStep]) -> Option<&'v Value> {
    for step in path {
        v = match (step, v) {
            (PathStep::Key(k), Value::Object(m)) => m.get(&**k)?,
            (PathStep::Index(i), Value::Array(a)) => {
                let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                a.get(usize::try_from(idx).ok()?)?
            }
            _ => return None,
        };
    }
    Some(v)
}

pub(crate) fn path_text(name: &str, path: &[PathStep]) -> String {
    let mut s = name.to_string();
    for step in path {
        match step {
            PathStep::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            PathStep::Index(i) => {
                s.push_str(&format!("[{i}]"));
            }
        }
    }
    s
}

fn write_uuid(out: &mut String, mut b: [u8; 16]) {
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 15) as usize] as char);
    }
}

/// Why a value could not be written where it stands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum RenderError {
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A control character in a header value (the byte): RFC 9110 section 5.5 allows only
    /// tab among them.
    #[error(
        "a header value cannot contain CR, LF, NUL or another control character but tab (it has {})",
        control_name(*.0)
    )]
    HeaderControl(u8),
}

/// Whether byte `b` cannot be in a header value: a control character (CR, LF and NUL
/// among them) other than tab, or DEL (RFC 9110 section 5.5).
pub(crate) fn header_forbids(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// How a diagnostic names control character `b`: `CR`, `LF`, `NUL`, `DEL` or `0x01`.
pub(crate) fn control_name(b: u8) -> String {
    match b {
        b'\r' => "CR".into(),
        b'\n' => "LF".into(),
        0 => "NUL".into(),
        0x7f => "DEL".into(),
        _ => format!("0x{b:02x}"),
    }
}

/// Calls `f` with the plain-text form of a value: strings as they are, numbers as their
/// JSON text (a captured number as the response wrote it), booleans and `null` as in JSON,
/// lists and objects as compact JSON.
pub(crate) fn with_text<R>(v: &Evaluated<'_>, scratch: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    let json = match v {
        Evaluated::Scratch => return f(scratch.as_bytes()),
        Evaluated::Int(i) => return f(itoa::Buffer::new().format(*i).as_bytes()),
        Evaluated::Ref(v) => *v,
        Evaluated::Owned(v) => v,
    };
    match json {
        Value::String(s) => f(s.as_bytes()),
        Value::Bool(true) => f(b"true"),
        Value::Bool(false) => f(b"false"),
        Value::Null => f(b"null"),
        // A number's text as the response wrote it (serde_json's `arbitrary_precision`):
        // `2.50` stays `2.50`, an integer of any size keeps every digit.
        Value::Number(n) => f(n.as_str().as_bytes()),
        other => f(&serde_json::to_vec(other).unwrap_or_default()),
    }
}

/// Writes an evaluated value at a place with escaping `esc`.
pub(crate) fn write_value(
    out: &mut Vec<u8>,
    v: &Evaluated<'_>,
    scratch: &str,
    esc: Escape,
) -> Result<(), RenderError> {
    match esc {
        Escape::JsonValue => {
            match v {
                Evaluated::Int(_) => with_text(v, scratch, |t| out.extend_from_slice(t)),
                Evaluated::Scratch => write_json_string(out, scratch.as_bytes(), true),
                Evaluated::Ref(j) => write_json(out, j),
                Evaluated::Owned(j) => write_json(out, j),
            }
            Ok(())
        }
        Escape::JsonString => {
            with_text(v, scratch, |t| write_json_string(out, t, false));
            Ok(())
        }
        Escape::Header => with_text(v, scratch, |t| {
            if let Some(&b) = t.iter().find(|&&b| header_forbids(b)) {
                return Err(RenderError::HeaderControl(b));
            }
            out.extend_from_slice(t);
            Ok(())
        }),
        Escape::Raw => {
            with_text(v, scratch, |t| out.extend_from_slice(t));
            Ok(())
        }
        Escape::UrlStart
        | Escape::Path
        | Escape::Query
        | Escape::Form
        | Escape::UrlStartOrQuery
        | Escape::PathOrQuery => {
            // The last two are resolved by the caller, which knows the text before them
            // ([`resolve_escape`]); here as if no `?` came before.
            let esc = resolve_escape(esc, b"");
            // An integer's digits and `-` are unreserved: no pass to percent-encode them.
            if let Evaluated::Int(_) = v {
                with_text(v, scratch, |t| out.extend_from_slice(t));
            } else {
                with_text(v, scratch, |t| percent_encode(out, t, esc));
            }
            Ok(())
        }
    }
}

fn write_json(out: &mut Vec<u8>, v: &Value) {
    // Writing to a Vec cannot fail; serialization of a `Value` cannot either.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// JSON string escaping per RFC 8259 (quotes, backslash, control characters).
pub(crate) fn write_json_string(out: &mut Vec<u8>, text: &[u8], quoted: bool) {
    if quoted {
        out.push(b'"');
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&text[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
    if quoted {
        out.push(b'"');
    }
}

/// Whether byte `b` is written as is at a place with escaping `esc`.
fn url_keeps(b: u8, esc: Escape) -> bool {
    let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    match esc {
        // Everything printable except what is never valid in a URL.
        Escape::UrlStart => {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
                )
        }
        Escape::Path => {
            unreserved
                || matches!(
                    b,
                    b'!' | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                )
        }
        Escape::Query => {
            unreserved
                || matches!(
                    b,
                    b'!' | b'$'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b','
                        | b';'
                        | b':'
                        | b'@'
                        | b'/'
                        | b'?'
                )
        }
        Escape::Form => unreserved,
        _ => true,
    }
}

pub(crate) fn percent_encode(out: &mut Vec<u8>, text: &[u8], esc: Escape) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (i, &b) in text.iter().enumerate() {
        // At a URL's start `%XX` already written is kept; any other `%` starts no escape
        // (RFC 3986 §2.1) and is written `%25`.
        let stray_percent = b == b'%' && esc == Escape::UrlStart && !starts_escape(&text[i..]);
        if url_keeps(b, esc) && !stray_percent {
            out.push(b);
        } else if b == b' ' && esc == Escape::Form {
            out.push(b'+');
        } else {
            out.push(b'%');
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        }
    }
}

/// Whether `text` starts with `%` and two hex digits.
fn starts_escape(text: &[u8]) -> bool {
    matches!(text, [b'%', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit())
}

/// Renders a template into `out` (appending).
pub(crate) fn render_template<'v>(
    out: &mut Vec<u8>,
    t: &'v TemplateCode,
    env: &EvalEnv<'v>,
    rng: &mut SmallRng,
    scratch: &mut String,
) -> Result<(), RenderError> {
    let start = out.len();
    for piece in t.pieces.iter() {
        match piece {
            Piece::Lit(bytes) => out.extend_from_slice(bytes),
            Piece::Expr(e, esc) => {
                let v = eval(e, env, rng, scratch)?;
                let esc = match *esc {
                    esc @ (Escape::UrlStartOrQuery | Escape::PathOrQuery) => {
                        resolve_escape(esc, &out[start..])
                    }
                    esc => esc,
                };
                write_value(out, &v, scratch, esc)?;
            }
        }
    }
    Ok(())
}

/// The escaping of a hole written after `before` (the target's text so far): a hole after a
/// value at the target's start is a query component once a `?` is in (the value brought a
/// query), as literal text after a `?` makes it; otherwise as its place in the plan says.
pub(crate) fn resolve_escape(esc: Escape, before: &[u8]) -> Escape {
    match esc {
        Escape::UrlStartOrQuery | Escape::PathOrQuery if before.contains(&b'?') => Escape::Query,
        Escape::UrlStartOrQuery => Escape::UrlStart,
        Escape::PathOrQuery => Escape::Path,
        esc => esc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    /// `write_value` writes an integer's digits under every escaping without escaping them:
    /// what each escaping would have made of those digits is the digits themselves.
    #[test]
    fn integers_need_no_escaping_anywhere() {
        let escapes = [
            Escape::UrlStart,
            Escape::Path,
            Escape::UrlStartOrQuery,
            Escape::PathOrQuery,
            Escape::Query,
            Escape::Header,
            Escape::JsonString,
            Escape::JsonValue,
            Escape::Form,
            Escape::Raw,
        ];
        for i in [0, 7, -1, 42, -987_654_321, i64::MAX, i64::MIN] {
            let digits = i.to_string();
            for esc in escapes {
                let mut written = Vec::new();
                write_value(&mut written, &Evaluated::Int(i), "", esc).unwrap();
                assert_eq!(written, digits.as_bytes(), "{i} under {esc:?}");
                // The escaping applied to the digits as text changes nothing.
                let mut escaped = Vec::new();
                match esc {
                    Escape::UrlStart | Escape::Path | Escape::Query | Escape::Form => {
                        percent_encode(&mut escaped, digits.as_bytes(), esc)
                    }
                    Escape::UrlStartOrQuery | Escape::PathOrQuery => {
                        percent_encode(&mut escaped, digits.as_bytes(), resolve_escape(esc, b""))
                    }
                    Escape::JsonString => write_json_string(&mut escaped, digits.as_bytes(), false),
                    Escape::JsonValue => write_json(&mut escaped, &json!(i)),
                    Escape::Header | Escape::Raw => escaped.extend_from_slice(digits.as_bytes()),
                }
                assert_eq!(escaped, digits.as_bytes(), "{i} under {esc:?}");
            }
        }
    }

    fn w(v: Value, esc: Escape) -> String {
        let mut out = Vec::new();
        write_value(&mut out, &Evaluated::Ref(&v), "", esc).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escaping_table() {
        let s = || json!("a b/c?d&e=f#g\"h\n");
        let cases = [
            (Escape::Raw, s(), "a b/c?d&e=f#g\"h\n"),
            (Escape::JsonString, s(), "a b/c?d&e=f#g\\\"h\\n"),
            (Escape::JsonValue, s(), "\"a b/c?d&e=f#g\\\"h\\n\""),
            (Escape::Path, s(), "a%20b%2Fc%3Fd&e=f%23g%22h%0A"),
            (Escape::Query, s(), "a%20b/c?d%26e%3Df%23g%22h%0A"),
            (Escape::Form, s(), "a+b%2Fc%3Fd%26e%3Df%23g%22h%0A"),
            (Escape::UrlStart, s(), "a%20b/c?d&e=f#g%22h%0A"),
            (Escape::JsonValue, json!(3), "3"),
            (Escape::JsonValue, json!([1, "x"]), "[1,\"x\"]"),
            (Escape::JsonString, json!(2.5), "2.5"),
            (Escape::Path, json!("é"), "%C3%A9"),
            (Escape::JsonValue, json!(null), "null"),
            (Escape::Raw, json!({"a": true}), "{\"a\":true}"),
        ];
        for (esc, v, want) in cases {
            assert_eq!(w(v.clone(), esc), want, "{esc:?} {v}");
        }
    }

    /// At a URL's start (literal target text, `base`, a value there) `%XX` is kept and a `%`
    /// that starts no escape is encoded: these went out as written (`/t%zz/%4?q=%g1&r=100%`).
    #[test]
    fn a_stray_percent_at_a_url_start_is_encoded() {
        for (text, want) in [
            ("/t%zz/%4?q=%g1&r=100%", "/t%25zz/%254?q=%25g1&r=100%25"),
            ("/a%20b/%c3%A9?x=%2F", "/a%20b/%c3%A9?x=%2F"),
            ("%", "%25"),
            ("%%41", "%25%41"),
            ("%4", "%254"),
            ("/%G0%0g", "/%25G0%250g"),
            ("/é %", "/%C3%A9%20%25"),
        ] {
            let mut out = Vec::new();
            percent_encode(&mut out, text.as_bytes(), Escape::UrlStart);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{text}");
        }
        // Elsewhere every `%` is encoded, as before.
        let mut out = Vec::new();
        percent_encode(&mut out, b"%41%zz", Escape::Path);
        assert_eq!(out, b"%2541%25zz");
    }

    /// A header value refuses every control character but tab, and DEL (RFC 9110 section
    /// 5.5); the rest of the bytes, non-ASCII included, are written as they are.
    #[test]
    fn header_values_refuse_control_characters() {
        for b in 0..=255u8 {
            let text: String = if b < 0x80 {
                format!("a{}b", b as char)
            } else {
                format!("a{}b", char::from(b))
            };
            let v = json!(text);
            let mut out = Vec::new();
            let r = write_value(&mut out, &Evaluated::Ref(&v), "", Escape::Header);
            if b < 0x20 && b != b'\t' || b == 0x7f {
                assert_eq!(r, Err(RenderError::HeaderControl(b)), "{b:#04x}");
            } else {
                assert_eq!(r, Ok(()), "{b:#04x}");
                assert_eq!(out, text.as_bytes(), "{b:#04x}");
            }
        }
        let e = RenderError::HeaderControl(b'\n').to_string();
        assert_eq!(
            e,
            "a header value cannot contain CR, LF, NUL or another control character but tab (it has LF)"
        );
        assert!(
            RenderError::HeaderControl(1)
                .to_string()
                .ends_with("(it has 0x01)")
        );
    }

    #[test]
    fn json_control_characters_use_unicode_escapes() {
        let mut out = Vec::new();
        write_json_string(&mut out, b"\x01\x1f", true);
        assert_eq!(out, b"\"\\u0001\\u001f\"");
    }

    #[test]
    fn ints_format_like_json() {
        for v in [0i64, 7, -7, i64::MAX, i64::MIN] {
            with_text(&Evaluated::Int(v), "", |t| {
                assert_eq!(std::str::from_utf8(t).unwrap(), v.to_string())
            });
        }
    }

    #[test]
    fn uuid_is_version_4() {
        let mut rng = SmallRng::seed_from_u64(1);
        let env = EvalEnv {
            slots: &[],
            ids: Ids::default(),
        };
        let mut scratch = String::new();
        let e = ExprCode::Uuid;
        eval(&e, &env, &mut rng, &mut scratch).unwrap();
        assert_eq!(scratch.len(), 36);
        assert_eq!(&scratch[14..15], "4");
        assert!(matches!(&scratch[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn walk_keys_and_indices() {
        let v = json!({"a": [1, {"b": 2}]});
        let p = [
            PathStep::Key("a".into()),
            PathStep::Index(-1),
            PathStep::Key("b".into()),
        ];
        assert_eq!(walk(&v, &p), Some(&json!(2)));
        assert_eq!(walk(&v, &[PathStep::Key("z".into())]), None);
        assert_eq!(
            walk(&v, &[PathStep::Key("a".into()), PathStep::Index(5)]),
            None
        );
    }
}
