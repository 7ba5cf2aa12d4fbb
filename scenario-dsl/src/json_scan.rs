//! A hand-written validating JSON scanner: the fast path of [`crate::json_extract::extract`].
//!
//! [`scan`] walks a response body once and says where the values at a request's simple JSON
//! paths are (byte ranges of the body), building nothing. It answers [`Scan::Valid`] only
//! when it is certain that `serde_json::from_slice::<Value>` would accept the whole body, so
//! that building the values found from their ranges gives what a full parse and a walk
//! would; a body that is not JSON, or one it cannot be sure of, is [`Scan::Fallback`], and
//! the serde-based reader answers (with the value, or with serde's exact error).
//!
//! What serde_json 1.0 (with `arbitrary_precision`, which molotov-dsl turns on so that a
//! number keeps its digits) accepts as a `Value`, from its `de.rs` and `read.rs`, and what
//! is sent to the fallback instead of being reproduced:
//! - whitespace is space, `\t`, `\n`, `\r`; after the top-level value only whitespace; an
//!   empty body is an error;
//! - literals `true`, `false`, `null`;
//! - strings: no byte below 0x20; valid UTF-8 (each run of bytes above 0x7f is checked by
//!   `str::from_utf8`: the bytes around it are ASCII, and escapes decode to whole
//!   characters, so the text is UTF-8 when each run is; outside strings such a byte is
//!   refused by the grammar); escapes `\" \\ \/ \b \f \n \r \t \uXXXX`. Any `\u` escape
//!   in D800-DFFF (surrogates: serde's pairing rules) falls back;
//! - numbers: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, of any length and
//!   magnitude (serde keeps a number's text rather than converting it to `f64`, so none is
//!   out of range);
//! - nesting: serde refuses the 128th open list or object (reads 127 levels); the 100th
//!   falls back.
//!
//! Strings are read sixteen bytes at a time ([`block`]: SSE2 on x86-64), the rest byte by
//! byte with one table ([`STRING_CLASS`]); what no path goes into is read by [`skip`], one
//! loop with no per-path work.
//!
//! Object keys follow the string rules; a key is compared with a path's `Key` step raw,
//! or, when it has escapes, decoded on the fly (nothing is allocated). When a key is seen
//! again in an object, what its earlier value gave the paths through it is forgotten: the
//! last of duplicate keys wins, as in a `Value`.

use std::ops::Range;

use serde_json::Value;

use crate::code::PathStep;
use crate::json_extract::MAX_PATHS;

/// The most lists and objects open at once that the scanner reads (serde_json refuses
/// the 128th).
const MAX_DEPTH: usize = 100;

/// What [`scan`] makes of a body.
pub(crate) enum Scan<'r> {
    /// The body is JSON that serde_json reads as a `Value`; where the paths' values are.
    Valid(&'r Ranges),
    /// The body is not JSON, or the scanner cannot be sure it is: ask serde.
    Fallback,
}

/// Where the value at each path is in the body, by the path's index (empty: nothing).
/// The caller's, so that it is neither copied nor allocated.
pub(crate) struct Ranges([(u32, u32); MAX_PATHS]);

impl Ranges {
    /// Room for the ranges of [`MAX_PATHS`] paths.
    pub(crate) fn new() -> Ranges {
        Ranges([(0, 0); MAX_PATHS])
    }

    /// The bytes of the value at path `i`, if it finds one.
    pub(crate) fn get(&self, i: usize) -> Option<Range<usize>> {
        let (start, end) = self.0[i];
        (end > start).then_some(start as usize..end as usize)
    }
}

/// Why a scan stops: the body is not JSON, or the scanner cannot be sure.
struct Unsure;

type Scanned<T = ()> = Result<T, Unsure>;

/// How a byte reads inside a string.
const PLAIN: u8 = 0;
const QUOTE: u8 = 1;
const BACKSLASH: u8 = 2;
const CONTROL: u8 = 3;
const HIGH: u8 = 4;

/// Each byte's class inside a string: [`PLAIN`] for all but those that stop a run.
static STRING_CLASS: [u8; 256] = {
    let mut table = [PLAIN; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b {
            0x00..=0x1f => CONTROL,
            0x22 => QUOTE,
            0x5c => BACKSLASH,
            0x80..=0xff => HIGH,
            _ => PLAIN,
        };
        b += 1;
    }
    table
};

/// Each byte's value as a hex digit, or 0xff.
static HEX: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => 0xff,
        };
        b += 1;
    }
    table
};

/// Reads `body` as JSON and finds the values at `paths` (keys and non-negative indexes; at
/// most [`MAX_PATHS`]; a path of no steps is the whole document), in `ranges`.
pub(crate) fn scan<'r>(body: &[u8], paths: &[Box<[PathStep]>], ranges: &'r mut Ranges) -> Scan<'r> {
    if paths.len() > MAX_PATHS || u32::try_from(body.len()).is_err() {
        return Scan::Fallback;
    }
    // What an earlier body found (a path may find nothing in this one).
    ranges.0[..paths.len()].fill((0, 0));
    let mut scanner = Scanner {
        body,
        at: 0,
        paths,
        ranges,
    };
    let all = if paths.len() == MAX_PATHS {
        u64::MAX
    } else {
        (1 << paths.len()) - 1
    };
    if scanner.document(all).is_err() {
        return Scan::Fallback;
    }
    Scan::Valid(ranges)
}

/// The value at a path, from its text (a whole JSON value [`scan`] has read), as serde_json
/// builds it: a literal, an unsigned integer below 10^19 or a string with no escape here
/// (the most common, and cheap to build), anything else by serde_json.
pub(crate) fn build(text: &[u8]) -> Result<Value, serde_json::Error> {
    match text {
        b"true" => return Ok(Value::Bool(true)),
        b"false" => return Ok(Value::Bool(false)),
        b"null" => return Ok(Value::Null),
        // serde reads digits with no sign, point or exponent as a `u64` while they fit.
        [b'0'] => return Ok(Value::from(0u64)),
        [b'1'..=b'9', ..] if text.len() < 20 && text.iter().all(u8::is_ascii_digit) => {
            let n = text.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0'));
            return Ok(Value::from(n));
        }
        // No backslash: no escape, and no quote inside.
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => {
            if let Ok(s) = std::str::from_utf8(inner) {
                return Ok(Value::String(s.to_owned()));
            }
        }
        _ => {}
    }
    serde_json::from_slice(text)
}

/// Whether `v` is what [`build`] builds from `text` (a whole JSON value [`scan`] has read),
/// for a scalar: a number of the same digits, a string with no escape of the same text, the
/// same literal. Lists and objects are not compared (false).
pub(crate) fn is_built_from(v: &Value, text: &[u8]) -> bool {
    match v {
        // serde keeps a number's text; what it re-spells (`1E3` is `1e+3`) is built again.
        Value::Number(n) => n.as_str().as_bytes() == text,
        Value::String(s) => {
            matches!(text, [b'"', inner @ .., b'"'] if inner == s.as_bytes() && !inner.contains(&b'\\'))
        }
        Value::Bool(true) => text == b"true",
        Value::Bool(false) => text == b"false",
        Value::Null => text == b"null",
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// A pass over a body: where the paths' values are, found by the lists and objects that
/// paths go into ([`Scanner::value`]); everything else is read by [`skip`].
struct Scanner<'a> {
    body: &'a [u8],
    /// The next byte to read.
    at: usize,
    paths: &'a [Box<[PathStep]>],
    ranges: &'a mut Ranges,
}

/// The indexes of the bits set in `set`, lowest first.
fn members(set: u64) -> impl Iterator<Item = usize> {
    let mut bits = set;
    std::iter::from_fn(move || {
        (bits != 0).then(|| {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            i
        })
    })
}

impl Scanner<'_> {
    /// Skips whitespace and returns the next byte (0 at the end), not taking it.
    fn next(&mut self) -> u8 {
        let (at, c) = skip_ws(self.body, self.at);
        self.at = at;
        c
    }

    /// Takes the `{` or `[` of an object or list inside `depth` others, and its `close` at
    /// once when it is empty (true); too deep stops.
    #[inline(always)]
    fn open(&mut self, close: u8, depth: usize) -> Scanned<bool> {
        if depth + 1 >= MAX_DEPTH {
            return Err(Unsure);
        }
        self.at += 1;
        let empty = self.next() == close;
        self.at += usize::from(empty);
        Ok(empty)
    }

    /// After a member or an element: takes the `,` before the next one (false), or the
    /// `close` of the object or list (true); anything else stops.
    #[inline(always)]
    fn end_of(&mut self, close: u8) -> Scanned<bool> {
        let c = self.next();
        if c != b',' && c != close {
            return Err(Unsure);
        }
        self.at += 1;
        Ok(c == close)
    }

    /// Takes `c`, the next byte after whitespace, or stops.
    fn expect(&mut self, c: u8) -> Scanned {
        self.at = expect(self.body, self.at, c)?;
        Ok(())
    }

    /// The whole body: one value, whitespace around it.
    fn document(&mut self, all: u64) -> Scanned {
        self.value(all, 0)?;
        self.next();
        if self.at != self.body.len() {
            return Err(Unsure);
        }
        Ok(())
    }

    /// Reads a value (or the rest of the list it is the first element of, `open` = 1: see
    /// [`skip`]) that no path goes into, inside `depth` lists and objects.
    #[inline(always)]
    fn skip(&mut self, depth: usize, open: usize) -> Scanned {
        let (at, c) = skip_ws(self.body, self.at);
        self.at = if open == 0 && c | 0x20 != b'{' {
            // A scalar, read here (most members are).
            scalar(self.body, at, c)?.0
        } else {
            skip(self.body, at, depth, depth + open)?
        };
        Ok(())
    }

    /// Reads a value inside `depth` lists and objects, and keeps where it is for the paths
    /// of `active` (all of which have taken `depth` steps) that end at it, and where the
    /// values in it are for those that go on.
    fn value(&mut self, active: u64, depth: usize) -> Scanned {
        let c = self.next();
        let start = self.at;
        let mut ending = 0;
        for i in members(active) {
            if self.paths[i].len() == depth {
                ending |= 1 << i;
            }
        }
        let into = active & !ending;
        match c {
            b'{' if into != 0 => self.object(into, depth)?,
            b'[' if into != 0 => self.list(into, depth)?,
            // A scalar: the paths that would go into it find nothing.
            _ => self.skip(depth, 0)?,
        }
        for i in members(ending) {
            self.ranges.0[i] = (start as u32, self.at as u32);
        }
        Ok(())
    }

    /// Reads an object (at its `{`) that the paths of `into` go into.
    fn object(&mut self, into: u64, depth: usize) -> Scanned {
        if self.open(b'}', depth)? {
            return Ok(());
        }
        loop {
            let (start, end, escaped);
            if let Some(quote) = short_key(self.body, self.at) {
                // Compact JSON: `"key":`, the key without escapes.
                (start, end, escaped) = (self.at + 1, quote + 1, false);
                self.at = quote + 2;
            } else {
                self.expect(b'"')?;
                start = self.at;
                (end, escaped) = string(self.body, start)?;
                self.at = end;
                self.expect(b':')?;
            }
            let key = &self.body[start..end - 1];
            let mut next = 0;
            for i in members(into) {
                if let PathStep::Key(want) = &self.paths[i][depth]
                    && key_is(key, escaped, want.as_bytes())
                {
                    next |= 1 << i;
                }
            }
            if next == 0 {
                self.skip(depth + 1, 0)?;
            } else {
                // A later duplicate of the key replaces an earlier one, as in a `Value`.
                for i in members(next) {
                    self.ranges.0[i] = (0, 0);
                }
                self.value(next, depth + 1)?;
            }
            if self.end_of(b'}')? {
                return Ok(());
            }
        }
    }

    /// Reads a list (at its `[`) that the paths of `into` go into.
    fn list(&mut self, into: u64, depth: usize) -> Scanned {
        if self.open(b']', depth)? {
            return Ok(());
        }
        // The last index a path takes: the elements after it are read in one go.
        let mut last = -1;
        for i in members(into) {
            if let PathStep::Index(index) = self.paths[i][depth] {
                last = last.max(index);
            }
        }
        let mut index = 0i64;
        loop {
            if index > last {
                // This element and the rest of the list, up to its `]`.
                return self.skip(depth, 1);
            }
            let mut next = 0;
            for i in members(into) {
                if matches!(self.paths[i][depth], PathStep::Index(at) if at == index) {
                    next |= 1 << i;
                }
            }
            if next == 0 {
                self.skip(depth + 1, 0)?;
            } else {
                self.value(next, depth + 1)?;
            }
            if self.end_of(b']')? {
                return Ok(());
            }
            index += 1;
        }
    }
}

/// The byte at `at`, or 0 at the end (0 is wrong wherever the scanner looks at it, except
/// after the top-level value, where the end is checked for itself).
#[inline(always)]
fn byte(body: &[u8], at: usize) -> u8 {
    body.get(at).copied().unwrap_or(0)
}

/// Skips whitespace from `at`: where the next byte is, and that byte (0 at the end).
#[inline(always)]
fn skip_ws(body: &[u8], at: usize) -> (usize, u8) {
    let c = byte(body, at);
    if c > b' ' {
        return (at, c);
    }
    skip_some_ws(body, at)
}

/// [`skip_ws`] where the byte at `at` may be whitespace (kept out of the loops it is
/// inlined in: compact JSON has none).
#[inline(never)]
fn skip_some_ws(body: &[u8], mut at: usize) -> (usize, u8) {
    loop {
        let c = byte(body, at);
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            return (at, c);
        }
        at += 1;
    }
}

/// Takes `c` after whitespace from `at`; where the next byte is.
#[inline(always)]
fn expect(body: &[u8], at: usize, c: u8) -> Scanned<usize> {
    // Compact JSON first: `c` itself.
    if byte(body, at) == c {
        return Ok(at + 1);
    }
    match skip_some_ws(body, at) {
        (at, next) if next == c => Ok(at + 1),
        _ => Err(Unsure),
    }
}

/// Reads values from `at`, inside `depth` lists and objects, keeping nothing of them: a
/// value (`count` = `depth`), or an element and the rest of the list it is in, up to its
/// `]` (`count` = `depth + 1`). One loop over the bytes; the lists and objects open are a
/// stack of bits (1: an object). Where the reading ends.
fn skip(body: &[u8], at: usize, depth: usize, count: usize) -> Scanned<usize> {
    let (mut at, mut c) = skip_ws(body, at);
    if count == depth && c | 0x20 != b'{' {
        // A scalar alone.
        return Ok(scalar(body, at, c)?.0);
    }
    let mut open: u128 = 0;
    let mut count = count;
    'value: loop {
        // At a value, `c` its first byte; then `next`, the byte after it.
        let mut next;
        if c == b'"' {
            (at, next) = match short_string(body, at) {
                Some(ended) => ended,
                None => ended(body, string(body, at + 1)?.0),
            };
        } else if c | 0x20 == b'{' {
            // `{` or `[` (0x7b, 0x5b).
            if count + 1 >= MAX_DEPTH {
                return Err(Unsure);
            }
            let (after_ws, first) = skip_ws(body, at + 1);
            at = after_ws;
            // `{}` or `[]` (`}` and `]` are 2 after `{` and `[`).
            if first != c + 2 {
                let object = c == b'{';
                open = open << 1 | u128::from(object);
                count += 1;
                (at, c) = if object {
                    key(body, at)?
                } else {
                    skip_ws(body, at)
                };
                continue 'value;
            }
            at += 1;
            if count == depth {
                return Ok(at);
            }
            next = byte(body, at);
        } else {
            (at, next) = scalar(body, at, c)?;
        }
        // After a value: the next element or member, or the end of what is open.
        loop {
            if next <= b' ' {
                (at, next) = skip_ws(body, at);
            }
            at += 1;
            if next == b',' {
                (at, c) = if open & 1 != 0 {
                    key(body, at)?
                } else {
                    skip_ws(body, at)
                };
                continue 'value;
            }
            // `]`, or `}` in an object (0x5d, 0x7d).
            if next != b']' | (open as u8 & 1) << 5 {
                return Err(Unsure);
            }
            open >>= 1;
            count -= 1;
            if count == depth {
                return Ok(at);
            }
            next = byte(body, at);
        }
    }
}

/// Where a value ends, `at`, and the byte there (0 at the end of the body).
#[inline(always)]
fn ended(body: &[u8], at: usize) -> (usize, u8) {
    (at, byte(body, at))
}

/// Reads a string, number or literal (at its first byte, `c`); where it ends, and the byte
/// there.
#[inline(always)]
fn scalar(body: &[u8], at: usize, c: u8) -> Scanned<(usize, u8)> {
    if c == b'"' {
        return match short_string(body, at) {
            Some(ended) => Ok(ended),
            None => Ok(ended(body, string(body, at + 1)?.0)),
        };
    }
    if c.wrapping_sub(b'0') < 10 || c == b'-' {
        return number(body, at, c);
    }
    let end = match c {
        b't' => literal(body, at, b"true")?,
        b'f' => literal(body, at, b"false")?,
        b'n' => literal(body, at, b"null")?,
        _ => return Err(Unsure),
    };
    Ok(ended(body, end))
}

/// Reads an object's key (after whitespace) and the colon after it; where the value is
/// (after whitespace), and its first byte.
#[inline(always)]
fn key(body: &[u8], at: usize) -> Scanned<(usize, u8)> {
    // Compact JSON first: `"key":` and the value's first byte, in one block.
    if let Some(block) = body.get(at..).and_then(<[u8]>::first_chunk::<16>)
        && block[0] == b'"'
    {
        let end = (block::stops(block) & !1).trailing_zeros() as usize;
        if end < 14 && block[end] == b'"' && block[end + 1] == b':' && block[end + 2] > b' ' {
            return Ok((at + end + 2, block[end + 2]));
        }
    }
    let at = expect(body, at, b'"')?;
    let (at, _) = string(body, at)?;
    Ok(skip_ws(body, expect(body, at, b':')?))
}

/// Reads a string at `at` (its opening quote) whose closing quote is within sixteen bytes,
/// and that has no escape (or anything else that stops a run) before it: where it ends, and
/// the byte there. None for any other: [`string`] reads it.
#[inline(always)]
fn short_string(body: &[u8], at: usize) -> Option<(usize, u8)> {
    let block = body.get(at..)?.first_chunk::<16>()?;
    let end = (block::stops(block) & !1).trailing_zeros() as usize;
    if end >= 16 || block[end] != b'"' {
        return None;
    }
    // The byte after the string, from the block while it holds it.
    Some(match block.get(end + 1) {
        Some(&next) => (at + end + 1, next),
        None => ended(body, at + end + 1),
    })
}

/// Reads a key at `at` as [`short_string`] does, when a colon follows its closing quote
/// at once, within sixteen bytes: where the closing quote is.
#[inline(always)]
fn short_key(body: &[u8], at: usize) -> Option<usize> {
    let block = body.get(at..)?.first_chunk::<16>()?;
    if block[0] != b'"' {
        return None;
    }
    let end = (block::stops(block) & !1).trailing_zeros() as usize;
    (end < 15 && block[end] == b'"' && block[end + 1] == b':').then_some(at + end)
}

/// Reads `word` (a literal, at its first byte); where it ends.
#[inline(always)]
fn literal(body: &[u8], at: usize, word: &[u8]) -> Scanned<usize> {
    if body.get(at..at + word.len()) != Some(word) {
        return Err(Unsure);
    }
    Ok(at + word.len())
}

/// Reads a string's text and its closing quote, from `at` (after the opening quote): where
/// it ends, and whether it has escapes. Sixteen bytes at a time while there are sixteen
/// ([`block`]), then byte by byte.
#[inline(always)]
fn string(body: &[u8], mut at: usize) -> Scanned<(usize, bool)> {
    let mut escaped = false;
    loop {
        let c;
        if let Some(block) = body.get(at..).and_then(<[u8]>::first_chunk::<16>) {
            let stops = block::stops(block);
            if stops == 0 {
                at += 16;
                continue;
            }
            let stop = stops.trailing_zeros() as usize;
            at += stop;
            c = block[stop & 15];
        } else {
            let rest = body.get(at..).unwrap_or_default();
            let Some(stop) = rest
                .iter()
                .position(|&c| STRING_CLASS[usize::from(c)] != PLAIN)
            else {
                return Err(Unsure);
            };
            at += stop;
            c = rest[stop];
        }
        if c == b'"' {
            return Ok((at + 1, escaped));
        }
        if c == b'\\' {
            at = escape(body, at + 1)?;
            escaped = true;
        } else if c >= 0x80 {
            at = non_ascii(body, at)?;
        } else {
            return Err(Unsure);
        }
    }
}

/// Reads the bytes above 0x7f from `at` in a string: they are whole UTF-8 characters (a
/// string's text is UTF-8 when each such run is, as the bytes around them are ASCII, and
/// escapes are ASCII that decode to whole characters); where they end.
#[cold]
fn non_ascii(body: &[u8], at: usize) -> Scanned<usize> {
    let rest = body.get(at..).unwrap_or_default();
    let run = rest.iter().position(|&c| c < 0x80).unwrap_or(rest.len());
    match std::str::from_utf8(&rest[..run]) {
        Ok(_) => Ok(at + run),
        Err(_) => Err(Unsure),
    }
}

/// Sixteen bytes of a string at a time: which stop a run (a quote, a backslash, a control
/// character, a byte above 0x7f), a bit each. SSE2, which every x86-64 processor has (and
/// every x86-64 build enables, unless told otherwise).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod block {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// Bit `i` set where byte `i` of `block` stops a run.
    #[inline(always)]
    pub(super) fn stops(block: &[u8; 16]) -> u32 {
        // SAFETY: this module is built only where the target enables SSE2 (every x86-64
        // processor has it).
        unsafe { sse2_stops(block) }
    }

    #[target_feature(enable = "sse2")]
    #[inline]
    fn sse2_stops(block: &[u8; 16]) -> u32 {
        // SAFETY: `block` is 16 readable bytes, and `_mm_loadu_si128` needs no alignment.
        let v = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Signed: below 0x20 is 0x00 to 0x1f, and 0x80 up (negative).
        let outside = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), outside)) as u32
    }
}

/// [`block`] byte by byte, where there is no SSE2 (and in tests, to check one against the
/// other).
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
mod portable_block {
    /// As the SSE2 `stops`.
    pub(super) fn stops(block: &[u8; 16]) -> u32 {
        let mut bits = 0;
        for (i, &c) in block.iter().enumerate() {
            if super::STRING_CLASS[usize::from(c)] != super::PLAIN {
                bits |= 1 << i;
            }
        }
        bits
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use portable_block as block;

/// Reads an escape after its backslash, at `at`; where it ends.
fn escape(body: &[u8], at: usize) -> Scanned<usize> {
    match byte(body, at) {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(at + 1),
        b'u' => match body.get(at + 1..at + 5).and_then(hex4) {
            Some(unit) if !(0xd800..=0xdfff).contains(&unit) => Ok(at + 5),
            _ => Err(Unsure),
        },
        _ => Err(Unsure),
    }
}

/// Reads a number (at its first byte, `c`: `-` or a digit); where it ends, and the byte
/// there.
#[inline(always)]
fn number(body: &[u8], at: usize, c: u8) -> Scanned<(usize, u8)> {
    let (int_start, first) = if c == b'-' {
        (at + 1, byte(body, at + 1))
    } else {
        (at, c)
    };
    let mut end = int_start + 1;
    if first.wrapping_sub(b'1') < 9 {
        while byte(body, end).wrapping_sub(b'0') < 10 {
            end += 1;
        }
    } else if first != b'0' {
        return Err(Unsure);
    }
    // (After `0`, a digit ends the number, and is refused by what follows it.)
    let next = byte(body, end);
    if next == b'.' || next | 0x20 == b'e' {
        return Ok(ended(body, fraction(body, end)?));
    }
    Ok((end, next))
}

/// Reads a number's fraction and exponent (either may be missing), at `at` (its `.` or
/// `e`); where the number ends.
#[inline(always)]
fn fraction(body: &[u8], mut at: usize) -> Scanned<usize> {
    if byte(body, at) == b'.' {
        at += 1;
        let start = at;
        while byte(body, at).is_ascii_digit() {
            at += 1;
        }
        if at == start {
            return Err(Unsure);
        }
    }
    if byte(body, at) | 0x20 == b'e' {
        return exponent(body, at + 1);
    }
    Ok(at)
}

/// Reads a number's exponent after its `e`, at `at`; where it ends.
#[cold]
fn exponent(body: &[u8], mut at: usize) -> Scanned<usize> {
    if matches!(byte(body, at), b'+' | b'-') {
        at += 1;
    }
    let start = at;
    while byte(body, at).is_ascii_digit() {
        at += 1;
    }
    if at == start {
        return Err(Unsure);
    }
    Ok(at)
}

/// The value of 4 hex digits.
fn hex4(digits: &[u8]) -> Option<u16> {
    let mut unit = 0u16;
    for &c in digits {
        let v = HEX[usize::from(c)];
        if v == 0xff {
            return None;
        }
        unit = unit << 4 | u16::from(v);
    }
    Some(unit)
}

/// Whether a key's text as written (`raw`, between its quotes, scanned: its escapes are
/// valid and none is a surrogate) is `want`.
fn key_is(raw: &[u8], escaped: bool, want: &[u8]) -> bool {
    if !escaped {
        return raw == want;
    }
    let mut want = want;
    let mut at = 0;
    while at < raw.len() {
        let mut utf8 = [0; 4];
        let len;
        let decoded: &[u8] = if raw[at] != b'\\' {
            len = 1;
            &raw[at..=at]
        } else if raw[at + 1] == b'u' {
            len = 6;
            let unit = hex4(&raw[at + 2..at + 6]).map(u32::from);
            let Some(c) = unit.and_then(char::from_u32) else {
                return false;
            };
            c.encode_utf8(&mut utf8).as_bytes()
        } else {
            len = 2;
            utf8[0] = match raw[at + 1] {
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                // `"`, `\\` and `/` stand for themselves.
                c => c,
            };
            &utf8[..1]
        };
        let Some(rest) = want.strip_prefix(decoded) else {
            return false;
        };
        want = rest;
        at += len;
    }
    want.is_empty()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The steps of a path written as its keys and indexes (`"3"` is an index).
    pub(crate) fn steps(path: &[&str]) -> Box<[PathStep]> {
        path.iter()
            .map(|s| match s.parse::<i64>() {
                Ok(i) => PathStep::Index(i),
                Err(_) => PathStep::Key((*s).into()),
            })
            .collect()
    }

    /// What the scanner finds at `paths`, built as `extract` builds it; None: it falls back.
    fn scanned(body: &[u8], paths: &[Box<[PathStep]>]) -> Option<Vec<Option<Value>>> {
        match scan(body, paths, &mut Ranges::new()) {
            Scan::Valid(ranges) => Some(
                (0..paths.len())
                    .map(|i| {
                        ranges.get(i).map(|range| {
                            serde_json::from_slice(&body[range]).expect("a value found parses")
                        })
                    })
                    .collect(),
            ),
            Scan::Fallback => None,
        }
    }

    /// What the scanner makes of a body.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Answer {
        /// Valid: serde_json reads it.
        Valid,
        /// Fallback, and serde_json refuses it.
        Invalid,
        /// Fallback though serde_json reads it: a rule kept conservative.
        Unsure,
    }

    use Answer::{Invalid, Unsure, Valid};

    /// The scanner's rules, one case each (or a few), with the answer expected; each is
    /// checked against serde_json too.
    #[test]
    fn scanner_cases() {
        let deep = |n: usize, open: &str, close: &str| {
            format!("{}1{}", open.repeat(n), close.repeat(n)).into_bytes()
        };
        let digits = |n: usize| format!("1{}", "0".repeat(n - 1)).into_bytes();
        let long = "abcdefghijklmnopqrstuvwxyz".repeat(3);
        let cases: Vec<(Vec<u8>, Answer)> = vec![
            // Whitespace: space, tab, newline, carriage return, nothing else.
            (b" \t\n\r{ \"a\" :\t[ 1 ,\n2 ]\r} \n".to_vec(), Valid),
            (b"\x0c1".to_vec(), Invalid),
            (b"1\x0b".to_vec(), Invalid),
            ("\u{a0}1".into(), Invalid),
            (b"[1,\x002]".to_vec(), Invalid),
            (b"".to_vec(), Invalid),
            (b" \n ".to_vec(), Invalid),
            // Literals.
            (b"true".to_vec(), Valid),
            (b"false".to_vec(), Valid),
            (b"null".to_vec(), Valid),
            (b"[true,false,null]".to_vec(), Valid),
            (b"tru".to_vec(), Invalid),
            (b"nul".to_vec(), Invalid),
            (b"True".to_vec(), Invalid),
            (b"nulll".to_vec(), Invalid),
            (b"[truex]".to_vec(), Invalid),
            (b"[fals]".to_vec(), Invalid),
            // Strings and their escapes.
            (br#""""#.to_vec(), Valid),
            (br#""abc""#.to_vec(), Valid),
            (br#""\" \\ \/ \b \f \n \r \t""#.to_vec(), Valid),
            (
                br#""\u0041\u00e9\uFFFF\u0000\uabcd\uD7FF\uE000""#.to_vec(),
                Valid,
            ),
            (br#""\x""#.to_vec(), Invalid),
            (br#""\'""#.to_vec(), Invalid),
            (br#""\u12""#.to_vec(), Invalid),
            (br#""\u12G4""#.to_vec(), Invalid),
            (br#""\"#.to_vec(), Invalid),
            (br#""\ud83d\ude00""#.to_vec(), Unsure),
            (br#""\uD800\uDC00""#.to_vec(), Unsure),
            (br#""\ud800""#.to_vec(), Invalid),
            (br#""\udc00x""#.to_vec(), Invalid),
            (br#""\ud800\u0041""#.to_vec(), Invalid),
            // Control characters (DEL is not one).
            (b"\"a\tb\"".to_vec(), Invalid),
            (b"\"\x00\"".to_vec(), Invalid),
            (b"\"\x1f\"".to_vec(), Invalid),
            (format!("\"{long}\x01\"").into(), Invalid),
            (b"\"\x7f\"".to_vec(), Valid),
            // UTF-8, short and in strings longer than a block.
            ("\"é€😀 ключ\"".into(), Valid),
            (format!("\"{long}é€😀{long}\"").into(), Valid),
            (b"\"\xff\"".to_vec(), Invalid),
            (b"\"\xc3\"".to_vec(), Invalid),
            (b"\"\xc3(\"".to_vec(), Invalid),
            (b"\"\xc0\xaf\"".to_vec(), Invalid),
            (b"\"\xed\xa0\x80\"".to_vec(), Invalid),
            (b"\"\xf4\x90\x80\x80\"".to_vec(), Invalid),
            (b"\"\xe2\x82\"".to_vec(), Invalid),
            (
                [
                    b"\"",
                    long.as_bytes(),
                    b"\xe2\x82\xac\xe2\x82",
                    long.as_bytes(),
                    b"\"",
                ]
                .concat(),
                Invalid,
            ),
            (b"\"\xc3\xa9".to_vec(), Invalid),
            (br#""abc"#.to_vec(), Invalid),
            (format!("\"{long}").into(), Invalid),
            // Outside strings, no byte above 0x7f.
            ("é".into(), Invalid),
            ("[1]é".into(), Invalid),
            ("{\"a\":1é}".into(), Invalid),
            // Numbers.
            (b"0".to_vec(), Valid),
            (b"-0".to_vec(), Valid),
            (b"-0.0".to_vec(), Valid),
            (b"1".to_vec(), Valid),
            (b"-1".to_vec(), Valid),
            (b"12.5".to_vec(), Valid),
            (b"[0,10,0.5,-3.25]".to_vec(), Valid),
            (b"1e5".to_vec(), Valid),
            (b"1E+5".to_vec(), Valid),
            (b"1e-5".to_vec(), Valid),
            (b"0e0".to_vec(), Valid),
            (b"-0.0e-0".to_vec(), Valid),
            (b"18446744073709551615".to_vec(), Valid),
            (b"18446744073709551616".to_vec(), Valid),
            (b"-9223372036854775809".to_vec(), Valid),
            (b"1.".to_vec(), Invalid),
            (b"[1.]".to_vec(), Invalid),
            (b".5".to_vec(), Invalid),
            (b"01".to_vec(), Invalid),
            (b"[01]".to_vec(), Invalid),
            (b"-01".to_vec(), Invalid),
            (b"00".to_vec(), Invalid),
            (b"1e".to_vec(), Invalid),
            (b"1e+".to_vec(), Invalid),
            (b"[1e-]".to_vec(), Invalid),
            (b"-".to_vec(), Invalid),
            (b"[-]".to_vec(), Invalid),
            (b"+1".to_vec(), Invalid),
            (b"1.e5".to_vec(), Invalid),
            (b"0x1".to_vec(), Invalid),
            (b"1.5.3".to_vec(), Invalid),
            (b"--1".to_vec(), Invalid),
            (b"1e5e".to_vec(), Invalid),
            (b"Infinity".to_vec(), Invalid),
            (b"NaN".to_vec(), Invalid),
            // Numbers of any length and magnitude: serde keeps their text (none is out of
            // `f64`'s range).
            (b"1e280".to_vec(), Valid),
            (b"-9.99e280".to_vec(), Valid),
            (b"1e-281".to_vec(), Valid),
            (b"-0.0e-999999".to_vec(), Valid),
            (b"1e309".to_vec(), Valid),
            (b"-1e400".to_vec(), Valid),
            (b"1e99999999999999999999".to_vec(), Valid),
            (b"123456789012345678901234567890".to_vec(), Valid),
            (digits(301), Valid),
            ([digits(250), b"e51".to_vec()].concat(), Valid),
            ([b"0.".to_vec(), digits(300)].concat(), Valid),
            (b"9".repeat(310), Valid),
            // Nesting: serde refuses the 128th list or object; the scanner stops at 100.
            (deep(99, "[", "]"), Valid),
            (deep(100, "[", "]"), Unsure),
            (deep(127, "[", "]"), Unsure),
            (deep(128, "[", "]"), Invalid),
            (deep(99, "{\"a\":", "}"), Valid),
            (deep(100, "{\"a\":", "}"), Unsure),
            (deep(97, "[{\"a\":[]},", "]"), Valid),
            (deep(98, "[{\"a\":[]},", "]"), Unsure),
            (deep(200, "[", "]"), Invalid),
            // Structure.
            (b"{}".to_vec(), Valid),
            (b"[]".to_vec(), Valid),
            (b"[[],{},[{}],{\"\":{}}]".to_vec(), Valid),
            (b"{ }".to_vec(), Valid),
            (b"[ ]".to_vec(), Valid),
            (b"[1,]".to_vec(), Invalid),
            (b"[,1]".to_vec(), Invalid),
            (b"[1 2]".to_vec(), Invalid),
            (b"{\"a\":1,}".to_vec(), Invalid),
            (b"{,\"a\":1}".to_vec(), Invalid),
            (b"{\"a\" 1}".to_vec(), Invalid),
            (b"{\"a\":}".to_vec(), Invalid),
            (b"{\"a\"}".to_vec(), Invalid),
            (b"{1:2}".to_vec(), Invalid),
            (b"{a:2}".to_vec(), Invalid),
            (b"{\"a\":1 \"b\":2}".to_vec(), Invalid),
            (b"{\"a\":1]".to_vec(), Invalid),
            (b"[1}".to_vec(), Invalid),
            (b"[".to_vec(), Invalid),
            (b"{".to_vec(), Invalid),
            (b"]".to_vec(), Invalid),
            (b"}".to_vec(), Invalid),
            (b"[[]".to_vec(), Invalid),
            (b"{\"a\":{}".to_vec(), Invalid),
            // After the top-level value, only whitespace.
            (b"{} \n".to_vec(), Valid),
            (b"1 2".to_vec(), Invalid),
            (b"{}x".to_vec(), Invalid),
            (b"[]]".to_vec(), Invalid),
            (b"\"a\"\x00".to_vec(), Invalid),
            (b"{}{}".to_vec(), Invalid),
        ];
        // Each answer with no path, a path through the whole document, and paths into it
        // (those that the scanner follows instead of skipping).
        let path_sets: Vec<Vec<Box<[PathStep]>>> = vec![
            vec![],
            vec![steps(&[])],
            vec![
                steps(&["a", "0"]),
                steps(&["0", "a", "0", "a"]),
                steps(&["1"]),
            ],
        ];
        for (body, want) in &cases {
            let text = String::from_utf8_lossy(body);
            let serde = serde_json::from_slice::<Value>(body);
            match want {
                Valid | Unsure => assert!(serde.is_ok(), "serde refuses {text:?}: {serde:?}"),
                Invalid => assert!(serde.is_err(), "serde reads {text:?}"),
            }
            for paths in &path_sets {
                let got = match scan(body, paths, &mut Ranges::new()) {
                    Scan::Valid(_) => Valid,
                    Scan::Fallback if serde.is_ok() => Unsure,
                    Scan::Fallback => Invalid,
                };
                assert_eq!(got, *want, "{text:?} with {} paths", paths.len());
            }
        }
    }

    /// What the scanner finds at paths: as a walk of the parsed `Value` (the last of
    /// duplicate keys winning), keys with escapes compared decoded.
    #[test]
    fn scanner_finds_what_a_walk_finds() {
        let cases: &[(&str, &[&[&str]])] = &[
            (r#"{"a":{"b":1},"a":2}"#, &[&["a", "b"], &["a"]]),
            (r#"{"a":2,"a":{"b":1}}"#, &[&["a", "b"], &["a"]]),
            (
                r#"{"a":{"b":1},"a":{"c":2}}"#,
                &[&["a", "b"], &["a", "c"], &["a"]],
            ),
            (
                r#"{"a":{"b":{"c":1}},"x":0,"a":{"b":[5]}}"#,
                &[&["a", "b", "c"], &["a", "b", "0"]],
            ),
            (
                r#"{"a":[{"b":1}],"a":[]}"#,
                &[&["a", "0", "b"], &["a", "0"]],
            ),
            (r#"{"\u0061":1}"#, &[&["a"]]),
            (r#"{"\u0061\u0062":1,"ab":2,"a\u0062":3}"#, &[&["ab"]]),
            (
                r#"{"a\"b":1,"a\\b":2,"a\/b":3,"a\nb":4,"a\tb":5}"#,
                &[&["a\"b"], &["a\\b"], &["a/b"], &["a\nb"], &["a\tb"]],
            ),
            (r#"{"\u00e9":1,"é":2}"#, &[&["é"]]),
            (r#"{"é":1,"\u00e9":2,"\u00E9x":3}"#, &[&["é"], &["éx"]]),
            (r#"{"ключ":{"k":[1,2]}}"#, &[&["ключ", "k", "1"]]),
            (r#"{"ab":1}"#, &[&["a"], &["abc"], &["b"]]),
            (r#"{"a\u0000":1,"a":2}"#, &[&["a\0"], &["a"]]),
            (
                r#"[1,[2,3],{"x":[4]}]"#,
                &[
                    &["1", "1"],
                    &["2", "x", "0"],
                    &["3"],
                    &["0", "a"],
                    &["0", "0"],
                    &["2", "0"],
                    &["x"],
                ],
            ),
            (
                r#"{"a":[1,2,3]}"#,
                &[&["a", "5"], &["a"], &[], &["a", "2"], &["a", "x"]],
            ),
            (
                r#"[0,1,2,[3],{"a":4},"five"]"#,
                &[&["1"], &["3", "0"], &["4", "a"], &["5"]],
            ),
            (
                r#" { "a" : [ 1 , { "b" : "c" } ] , "d" : null } "#,
                &[&["a", "1", "b"], &["d"], &[]],
            ),
            (
                r#"{"s":"a long string value with \"quotes\" and \\ and é","n":-1.5e3}"#,
                &[&["s"], &["n"]],
            ),
            (
                r#"{"x":{"y":{}},"z":[[]]}"#,
                &[&["x", "y"], &["z", "0"], &["x", "y", "q"], &["z", "0", "0"]],
            ),
            ("\"top\"", &[&[], &["a"], &["0"]]),
            ("0", &[&[]]),
        ];
        for (doc, paths) in cases {
            let paths: Vec<Box<[PathStep]>> = paths.iter().map(|p| steps(p)).collect();
            let root: Value = serde_json::from_str(doc).unwrap();
            let want: Vec<Option<Value>> = paths
                .iter()
                .map(|p| crate::render::walk(&root, p).cloned())
                .collect();
            assert_eq!(scanned(doc.as_bytes(), &paths), Some(want.clone()), "{doc}");
            // Each path alone, too.
            for (path, want) in paths.iter().zip(&want) {
                let alone = scanned(doc.as_bytes(), std::slice::from_ref(path));
                assert_eq!(alone, Some(vec![want.clone()]), "{doc} at {path:?}");
            }
        }
    }

    /// What `build` builds from a value's text is what serde_json builds.
    #[test]
    fn build_is_as_serde() {
        let texts: &[&[u8]] = &[
            b"true",
            b"false",
            b"null",
            b"0",
            b"7",
            b"1234567890123456789",
            b"9999999999999999999",
            b"18446744073709551615",
            b"18446744073709551616",
            b"-1",
            b"-0",
            b"1.5",
            b"2.50",
            b"1e3",
            b"1E3",
            b"-1.0e-7",
            b"123456789012345678901234567890",
            b"-9223372036854775809",
            b"1e400",
            br#""""#,
            br#""abc""#,
            "\"é€😀\"".as_bytes(),
            br#""a\nb""#,
            br#""\u0041""#,
            b"[1,true]",
            br#"{"a":1,"a":2}"#,
        ];
        for text in texts {
            let want = serde_json::from_slice::<Value>(text).unwrap();
            let got = build(text).unwrap();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(text));
            // The same number kind (`1` is not `1.0`), the same string.
            assert_eq!(got.to_string(), want.to_string());
        }
    }

    /// `is_built_from` is true only where `build` would build that same value again, and
    /// true for a scalar's own text unless serde re-spells it (`1E3`) or it has escapes.
    #[test]
    fn built_from_is_build() {
        let texts: &[&[u8]] = &[
            b"true",
            b"false",
            b"null",
            b"0",
            b"-0",
            b"7",
            b"18446744073709551616",
            b"2.50",
            b"2.5",
            b"1E3",
            b"1e+3",
            b"1e3",
            br#""""#,
            br#""abc""#,
            br#""a\nb""#,
            br#""\u0041""#,
            br#""A""#,
            b"[1]",
            br#"{"a":1}"#,
        ];
        let rebuilt: &[&[u8]] = &[
            b"1E3",
            b"1e3",
            br#""a\nb""#,
            br#""\u0041""#,
            b"[1]",
            br#"{"a":1}"#,
        ];
        for old in texts {
            let v = build(old).unwrap();
            for text in texts {
                let kept = is_built_from(&v, text);
                assert!(
                    !kept || build(text).unwrap() == v,
                    "{v:?} kept for {:?}",
                    String::from_utf8_lossy(text)
                );
                if old == text {
                    assert_eq!(kept, !rebuilt.contains(text), "{v:?} for its own text");
                }
            }
        }
    }

    /// The SSE2 block and the portable one mark the same bytes.
    #[test]
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    fn blocks_agree() {
        let mut rng = Rng(0x5eed);
        let interesting = [b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xff, b'a'];
        for _ in 0..20_000 {
            let mut block = [0u8; 16];
            for b in &mut block {
                *b = if rng.below(2) == 0 {
                    interesting[rng.below(interesting.len())]
                } else {
                    rng.next() as u8
                };
            }
            assert_eq!(
                block::stops(&block),
                portable_block::stops(&block),
                "{block:?}"
            );
        }
    }

    /// A deterministic xorshift generator.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        /// The next number of the sequence.
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// A number in `0..n`.
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }
}
