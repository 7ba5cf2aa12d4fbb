//! The lexer: a cursor over one source file that the parser drives.
//!
//! `.mol` is line oriented and mixes two kinds of text: statement lines made of tokens
//! (`scenario buy weight 30 {`, `check status == 200`) and raw text (request targets, header
//! values, bodies) where only `{{ template }}` markers are special. So the lexer is not a
//! separate pass: it is a cursor with a token reader ([`Lexer::next_token`]) and raw readers
//! ([`Lexer::read_target`], [`Lexer::read_value`]) that the parser picks per line.
//!
//! Lexical rules implemented here:
//! - `#` starts a comment to the end of the line when it is not inside quotes or `{{ }}`; in
//!   raw text it must also be at the start or after whitespace (`X-Color: a#b` keeps `#`).
//! - Newlines end statements, except inside `( )` and `[ ]` of a token line.
//! - Durations are a number with a unit glued on: `150ms`, `2s`, `1.5m`, `1h`.
//! - A template `{{ ... }}` is one unit anywhere: quotes and `#` inside it are its own.

use std::time::Duration;

use crate::source::{FileId, Span};

/// The longest duration a plan may write, and the command line's flags too (molotov's CLI
/// takes this one): 1e9 s (about 31.7 years). Run time adds durations to `Instant`s (`think`,
/// `delay`, deadlines), which overflow far past it.
pub const MAX_DURATION: Duration = Duration::from_secs(1_000_000_000);

/// An `i128` aligned as an `i64`: an `i128` field would align tokens and syntax nodes to 16
/// bytes, making them larger, and the parser's recursion would need more stack per level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct I128 {
    high: i64,
    low: u64,
}

impl I128 {
    pub(crate) fn get(self) -> i128 {
        (i128::from(self.high) << 64) | i128::from(self.low)
    }
}

impl From<i128> for I128 {
    fn from(n: i128) -> I128 {
        I128 {
            high: (n >> 64) as i64,
            low: n as u64,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident,
    /// An integer, up to 128 bits. Where a small one is needed (an index, a weight, a
    /// count), the parser or the compiler checks its range.
    Int(I128),
    Float(f64),
    Duration(Duration),
    Percent(f64),
    /// A string literal; the span includes the quotes. See [`string_pieces`].
    Str,
    /// A `{{ ... }}` template; the span includes the braces.
    Template,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    DotDot,
    Eq,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Question,
    QQ,
    Newline,
    Eof,
    /// A lexical error: message, and an optional hint.
    Error(String, Option<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

impl Token {
    pub(crate) fn is(&self, tok: &Tok) -> bool {
        &self.tok == tok
    }
}

/// Describes a token for "expected X, found Y" messages.
pub(crate) fn describe(tok: &Tok, text: &str) -> String {
    match tok {
        Tok::Newline => "end of line".into(),
        Tok::Eof => "end of file".into(),
        Tok::Error(..) => "invalid text".into(),
        _ => format!("`{text}`"),
    }
}

pub(crate) struct Lexer<'s> {
    src: &'s str,
    pub(crate) pos: usize,
    end: usize,
    file: FileId,
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl<'s> Lexer<'s> {
    pub(crate) fn new(src: &'s str, file: FileId) -> Lexer<'s> {
        Lexer {
            src,
            pos: 0,
            end: src.len(),
            file,
        }
    }

    /// A lexer over `src[start..end]` only (template expressions).
    pub(crate) fn sub(src: &'s str, file: FileId, start: usize, end: usize) -> Lexer<'s> {
        Lexer {
            src,
            pos: start,
            end,
            file,
        }
    }

    pub(crate) fn src(&self) -> &'s str {
        self.src
    }

    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    /// Where the input ends (the end of a sub-lexer's range).
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    pub(crate) fn at_eof(&self) -> bool {
        self.pos >= self.end
    }

    pub(crate) fn rest(&self) -> &'s str {
        &self.src[self.pos..self.end]
    }

    pub(crate) fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.src.get(self.pos + off..self.end)?.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(crate) fn skip_spaces(&mut self) {
        while let Some(c) = self.peek_char() {
            if c == ' ' || c == '\t' || (c == '\r' && self.peek_at(1) != Some('\n')) {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// True at `\n`, `\r\n` or the end of input.
    pub(crate) fn at_newline(&self) -> bool {
        let r = self.rest();
        r.is_empty() || r.starts_with('\n') || r.starts_with("\r\n")
    }

    /// Consumes one line terminator if there is one.
    pub(crate) fn eat_newline(&mut self) {
        if self.rest().starts_with("\r\n") {
            self.pos += 2;
        } else if self.rest().starts_with('\n') {
            self.pos += 1;
        }
    }

    /// Moves to the start of the next line.
    pub(crate) fn skip_line(&mut self) {
        match self.rest().find('\n') {
            Some(i) => self.pos += i + 1,
            None => self.pos = self.end,
        }
    }

    /// Skips blank lines and comment lines, leaving the cursor at the first character of
    /// the next meaningful line (after its indentation).
    pub(crate) fn skip_blank_lines(&mut self) {
        loop {
            self.skip_spaces();
            match self.peek_char() {
                Some('#') => self.skip_line(),
                Some('\n') => self.pos += 1,
                Some('\r') if self.peek_at(1) == Some('\n') => self.pos += 2,
                _ => return,
            }
        }
    }

    /// The current line's text from the cursor to its end (no terminator).
    pub(crate) fn line_rest(&self) -> &'s str {
        let r = self.rest();
        let r = &r[..r.find('\n').unwrap_or(r.len())];
        r.strip_suffix('\r').unwrap_or(r)
    }

    /// Reads one token; comments are skipped, a line end is [`Tok::Newline`].
    pub(crate) fn next_token(&mut self) -> Token {
        self.skip_spaces();
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return self.tok(Tok::Eof, start);
        };
        match c {
            '#' => {
                while !self.at_newline() {
                    self.bump();
                }
                self.next_token()
            }
            '\n' => {
                self.pos += 1;
                self.tok(Tok::Newline, start)
            }
            '\r' => {
                self.pos += 2;
                self.tok(Tok::Newline, start)
            }
            '"' => self.string(start),
            '{' if self.peek_at(1) == Some('{') => self.scanned(
                start,
                scan_template(self.src, start, self.end),
                Tok::Template,
                "unclosed template `{{`",
                "close it with `}}` on the same line",
            ),
            c if c.is_ascii_digit() => self.number(start),
            '-' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                self.pos += 1;
                self.number(start)
            }
            c if is_ident_start(c) => {
                while self.peek_char().is_some_and(is_ident_char) {
                    self.pos += 1;
                }
                self.tok(Tok::Ident, start)
            }
            _ => {
                self.bump();
                let two = |l: &mut Lexer<'_>, next: char, yes: Tok, no: Tok| {
                    if l.peek_char() == Some(next) {
                        l.pos += 1;
                        yes
                    } else {
                        no
                    }
                };
                let tok = match c {
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    ':' => Tok::Colon,
                    '.' => two(self, '.', Tok::DotDot, Tok::Dot),
                    '=' => two(self, '=', Tok::EqEq, Tok::Eq),
                    '!' => two(
                        self,
                        '=',
                        Tok::Ne,
                        Tok::Error("unexpected `!`".into(), Some("use `!=` or `not`".into())),
                    ),
                    '<' => two(self, '=', Tok::Le, Tok::Lt),
                    '>' => two(self, '=', Tok::Ge, Tok::Gt),
                    '?' => two(self, '?', Tok::QQ, Tok::Question),
                    other => Tok::Error(
                        format!("unexpected character `{}`", other.escape_debug()),
                        lookalike_hint(other),
                    ),
                };
                self.tok(tok, start)
            }
        }
    }

    fn tok(&self, tok: Tok, start: usize) -> Token {
        Token {
            tok,
            span: self.span(start, self.pos),
        }
    }

    fn string(&mut self, start: usize) -> Token {
        self.scanned(
            start,
            scan_string(self.src, start, self.end),
            Tok::Str,
            "unclosed string",
            "strings end with `\"` on the same line",
        )
    }

    /// The token of a scan from `start` that ended at `Ok(end)`, or an error token up to
    /// `Err(end)` where it ran out of line.
    fn scanned(
        &mut self,
        start: usize,
        scan: Result<usize, usize>,
        ok: Tok,
        unclosed: &str,
        hint: &str,
    ) -> Token {
        let (end, tok) = match scan {
            Ok(end) => (end, ok),
            Err(end) => (end, Tok::Error(unclosed.into(), Some(hint.into()))),
        };
        self.pos = end;
        self.tok(tok, start)
    }

    fn number(&mut self, start: usize) -> Token {
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut is_float = false;
        if self.peek_char() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            is_float = true;
            self.pos += 1;
            while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        let num_end = self.pos;
        let digits = &self.src[start..num_end];
        let unit_start = self.pos;
        while self
            .peek_char()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            self.pos += 1;
        }
        let unit = &self.src[unit_start..self.pos];
        if unit.is_empty() {
            // `250µs` copied from the report (which writes latencies in µs).
            let rest = &self.src[self.pos..];
            if let Some(mu) = rest.chars().next().filter(|c| matches!(c, 'µ' | 'μ'))
                && rest[mu.len_utf8()..].starts_with('s')
            {
                self.pos += mu.len_utf8() + 1;
                let text = &self.src[start..self.pos];
                let ms = digits.parse::<f64>().unwrap_or(f64::NAN) / 1000.0;
                return self.tok(
                    Tok::Error(
                        format!("invalid duration `{text}`"),
                        Some(format!(
                            "a duration in a plan is in `ms`, `s`, `m` or `h` (`µs` is not \
                             one): write `{ms}ms`"
                        )),
                    ),
                    start,
                );
            }
            if self.peek_char() == Some('%') {
                self.pos += 1;
                return match digits.parse::<f64>() {
                    Ok(v) => self.tok(Tok::Percent(v), start),
                    Err(_) => self.tok(
                        Tok::Error(format!("invalid number `{digits}`"), None),
                        start,
                    ),
                };
            }
            let tok = if is_float {
                digits.parse::<f64>().map(Tok::Float).ok()
            } else {
                digits.parse::<i128>().map(|n| Tok::Int(n.into())).ok()
            };
            return match tok {
                Some(t) => self.tok(t, start),
                None if is_float => self.tok(
                    Tok::Error(format!("number `{digits}` is out of range"), None),
                    start,
                ),
                None => self.tok(
                    Tok::Error(
                        format!("integer `{digits}` is out of range"),
                        Some(
                            "integers written in a plan are at most 128 bits (39 digits); \
                             quote a longer one: `\"123...\"`"
                                .into(),
                        ),
                    ),
                    start,
                ),
            };
        }
        let text = &self.src[start..self.pos];
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ if looks_like_a_time_unit(unit) => {
                let hint = "a duration is a number followed by `ms`, `s`, `m` or `h`, like `250ms`";
                return self.tok(
                    Tok::Error(format!("invalid duration `{text}`"), Some(hint.into())),
                    start,
                );
            }
            // `2OO`, `1e3`, `0x10`: a mistyped number, not a duration with an odd unit.
            _ => {
                while self
                    .peek_char()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.pos += 1;
                }
                let text = &self.src[start..self.pos];
                let hint = match status_class(text) {
                    Some(class) => format!(
                        "there are no status classes: for any {class}xx status, check \
                         `status >= {class}00` and `status < {next}00`",
                        next = class + 1
                    ),
                    None => "numbers are plain decimal digits (`200`, `0.5`); a duration adds \
                             `ms`, `s`, `m` or `h`, like `250ms`"
                        .into(),
                };
                return self.tok(
                    Tok::Error(format!("invalid number `{text}`"), Some(hint)),
                    start,
                );
            }
        };
        let value: f64 = digits.parse().unwrap_or(f64::NAN);
        if value < 0.0 {
            return self.tok(
                Tok::Error(
                    format!("invalid duration `{text}`"),
                    Some("durations cannot be negative".into()),
                ),
                start,
            );
        }
        match Duration::try_from_secs_f64(value * scale) {
            Ok(d) if d <= MAX_DURATION => self.tok(Tok::Duration(d), start),
            _ => self.tok(
                Tok::Error(
                    format!("invalid duration `{text}`"),
                    Some(
                        "the duration is too large: the longest is 1000000000s (about 31 \
                         years)"
                            .into(),
                    ),
                ),
                start,
            ),
        }
    }

    /// Reads a request target: raw text up to whitespace, `{{ }}` kept whole.
    pub(crate) fn read_target(&mut self) -> Result<Span, Span> {
        self.skip_spaces();
        let start = self.pos;
        while let Some(c) = self.peek_char() {
            if c == ' ' || c == '\t' || self.at_newline() {
                break;
            }
            if c == '{' && self.peek_at(1) == Some('{') {
                match scan_template(self.src, self.pos, self.end) {
                    Ok(end) => self.pos = end,
                    Err(end) => {
                        let err = self.span(self.pos, end);
                        self.pos = end;
                        return Err(err);
                    }
                }
                continue;
            }
            self.bump();
        }
        Ok(self.span(start, self.pos))
    }

    /// Reads a raw value to the end of the line: a `#` at the start or after whitespace
    /// starts a comment, `{{ }}` is kept whole, trailing whitespace is dropped. The cursor
    /// ends at the line terminator.
    pub(crate) fn read_value(&mut self) -> Result<Span, Span> {
        self.skip_spaces();
        let start = self.pos;
        let mut end = self.pos;
        let mut prev_space = true;
        while !self.at_newline() {
            let c = self.peek_char().unwrap_or('\n');
            if c == '#' && prev_space {
                while !self.at_newline() {
                    self.bump();
                }
                break;
            }
            if c == '{' && self.peek_at(1) == Some('{') {
                match scan_template(self.src, self.pos, self.end) {
                    Ok(e) => {
                        self.pos = e;
                        end = e;
                        prev_space = false;
                        continue;
                    }
                    Err(e) => {
                        let err = self.span(self.pos, e);
                        self.pos = e;
                        return Err(err);
                    }
                }
            }
            self.bump();
            prev_space = c == ' ' || c == '\t';
            if !prev_space {
                end = self.pos;
            }
        }
        Ok(self.span(start, end))
    }
}

/// Scans a string literal starting at the `"` at `start`; `Ok(end)` is just past the closing
/// quote, `Err(end)` is where the line ended without one. Templates inside are skipped whole.
pub(crate) fn scan_string(src: &str, start: usize, limit: usize) -> Result<usize, usize> {
    let bytes = src.as_bytes();
    let mut i = start + 1;
    while i < limit {
        match bytes[i] {
            b'"' => return Ok(i + 1),
            b'\\' => i += 2,
            b'\n' => return Err(i),
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => return Err(i),
            b'{' if bytes.get(i + 1) == Some(&b'{') => match scan_template(src, i, limit) {
                Ok(e) => i = e,
                Err(e) => return Err(e),
            },
            _ => i += 1,
        }
    }
    Err(limit.min(src.len()))
}

/// Scans a template starting at the `{{` at `start`; `Ok(end)` is just past `}}`, `Err(end)`
/// is the end of the line when it is not closed there. Strings inside may contain `}}`.
pub(crate) fn scan_template(src: &str, start: usize, limit: usize) -> Result<usize, usize> {
    let bytes = src.as_bytes();
    let limit = limit.min(src.len());
    let mut i = start + 2;
    while i < limit {
        match bytes[i] {
            b'}' if bytes.get(i + 1) == Some(&b'}') && i + 1 < limit => return Ok(i + 2),
            b'"' => {
                // A plain string inside an expression: escapes, no nested templates.
                let mut j = i + 1;
                loop {
                    if j >= limit || bytes[j] == b'\n' {
                        return Err(j.min(limit));
                    }
                    match bytes[j] {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                i = j + 1;
            }
            b'\n' => return Err(i),
            _ => i += 1,
        }
    }
    Err(limit)
}

/// One piece of a templated text: literal text or the inside of a `{{ }}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawPiece {
    /// Literal text and its span in the source (for strings, after escapes).
    Lit(String, Span),
    /// The span of the whole `{{ ... }}` and the span of the expression inside.
    Expr { whole: Span, inner: Span },
}

/// Splits raw text (a target, a header value, a body) into literal and template pieces.
/// `Err` carries the span of an unclosed `{{`.
pub(crate) fn raw_pieces(src: &str, span: Span) -> Result<Vec<RawPiece>, Span> {
    let (start, end) = (span.start as usize, span.end as usize);
    let mut pieces = Vec::new();
    let mut lit_start = start;
    let mut i = start;
    let bytes = src.as_bytes();
    while i < end {
        if bytes[i] == b'{' && i + 1 < end && bytes[i + 1] == b'{' {
            // `{{{` in JSON: the first brace is text, the template starts at the next.
            if i + 2 < end && bytes[i + 2] == b'{' {
                i += 1;
                continue;
            }
            let close = scan_template(src, i, end).map_err(|e| Span::new(span.file, i, e))?;
            if lit_start < i {
                pieces.push(RawPiece::Lit(
                    src[lit_start..i].to_string(),
                    Span::new(span.file, lit_start, i),
                ));
            }
            pieces.push(RawPiece::Expr {
                whole: Span::new(span.file, i, close),
                inner: Span::new(span.file, i + 2, close - 2),
            });
            i = close;
            lit_start = i;
        } else {
            i += 1;
        }
    }
    if lit_start < end {
        pieces.push(RawPiece::Lit(
            src[lit_start..end].to_string(),
            Span::new(span.file, lit_start, end),
        ));
    }
    Ok(pieces)
}

/// A hint for a character pasted from a document or chat that looks like one the plan
/// language uses (a curly quote, a no-break space, the micro sign), or that cannot be seen
/// (a zero-width space, a BOM, a direction mark). `None` for any other character.
pub(crate) fn lookalike_hint(c: char) -> Option<String> {
    let name = match c {
        '“' | '”' | '„' | '‟' | '«' | '»' | '″' => {
            return Some(format!(
                "`{c}` is a typographic quote: write a string between straight quotes `\"`"
            ));
        }
        '‘' | '’' | '‚' | '‛' | '′' => {
            return Some(format!(
                "`{c}` is a typographic quote: write a string between straight quotes `\"`"
            ));
        }
        '\'' => {
            return Some(
                "a string is written between double quotes: `\"text\"` (a `'` inside one is \
                 plain text)"
                    .into(),
            );
        }
        'µ' | 'μ' => {
            return Some(
                "a duration in a plan is in `ms`, `s`, `m` or `h` (`µs` is not one): \
                 write `0.25ms` for `250µs`"
                    .into(),
            );
        }
        '\u{a0}' => "a no-break space (U+00A0)",
        '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => "a wide or narrow space",
        '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{feff}' => {
            return Some(format!(
                "`{}` is an invisible character (often pasted with text from a web page): \
                 delete it",
                c.escape_unicode()
            ));
        }
        _ => return None,
    };
    Some(format!(
        "`{}` is {name}, not a plain space: type a space (or a tab) instead",
        c.escape_unicode()
    ))
}

/// The four hex digits at `src[i..]` (before `end`), as a number.
fn hex4(src: &str, i: usize, end: usize) -> Option<u32> {
    let hex = src.get(i..i + 4).filter(|_| i + 4 <= end)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Splits a string literal token (quotes included) into pieces, applying escapes to the
/// literal parts: `\" \\ \/ \n \r \t \0 \{ \uXXXX`. With `templates == false` (strings
/// inside an expression) `{{` is plain text.
pub(crate) fn string_pieces(
    src: &str,
    span: Span,
    templates: bool,
) -> Result<Vec<RawPiece>, (Span, String)> {
    let (start, end) = (span.start as usize + 1, span.end as usize - 1);
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut lit_start = start;
    let mut i = start;
    while i < end {
        let c = src[i..].chars().next().unwrap_or('\0');
        if c == '\\' {
            let esc_start = i;
            i += 1;
            let e = src[i..end].chars().next().unwrap_or('\0');
            i += e.len_utf8();
            match e {
                '"' => lit.push('"'),
                '\\' => lit.push('\\'),
                '/' => lit.push('/'),
                'n' => lit.push('\n'),
                'r' => lit.push('\r'),
                't' => lit.push('\t'),
                '0' => lit.push('\0'),
                '{' => lit.push('{'),
                'u' => {
                    let high = hex4(src, i, end);
                    // A character outside the BMP as JSON writes it: a surrogate pair
                    // (`\ud83d\ude00` is 😀), as a JSON body reads it.
                    let low = high
                        .filter(|h| (0xd800..0xdc00).contains(h))
                        .filter(|_| src[i + 4..end].starts_with("\\u"))
                        .and_then(|_| hex4(src, i + 6, end))
                        .filter(|l| (0xdc00..0xe000).contains(l));
                    let (code, len) = match (high, low) {
                        (Some(h), Some(l)) => (0x10000 + ((h - 0xd800) << 10) + (l - 0xdc00), 10),
                        (Some(h), None) => (h, 4),
                        (None, _) => (u32::MAX, 4),
                    };
                    match char::from_u32(code) {
                        Some(ch) => {
                            lit.push(ch);
                            i += len;
                        }
                        None if (0xd800..0xe000).contains(&code) => {
                            return Err((
                                Span::new(span.file, esc_start, i + 4),
                                "invalid `\\u` escape: half of a surrogate pair; write both \
                                 halves (`\\ud83d\\ude00`) or the character itself"
                                    .into(),
                            ));
                        }
                        None => {
                            return Err((
                                Span::new(span.file, esc_start, (i + 4).min(end)),
                                "invalid `\\u` escape: expected four hex digits of a character"
                                    .into(),
                            ));
                        }
                    }
                }
                other => {
                    return Err((
                        Span::new(span.file, esc_start, i),
                        format!("unknown escape `\\{}`", other.escape_debug()),
                    ));
                }
            }
        } else if templates && c == '{' && src[i..end].starts_with("{{") {
            let close = scan_template(src, i, end).map_err(|e| {
                (
                    Span::new(span.file, i, e),
                    "unclosed template `{{`".to_string(),
                )
            })?;
            if !lit.is_empty() {
                pieces.push(RawPiece::Lit(
                    std::mem::take(&mut lit),
                    Span::new(span.file, lit_start, i),
                ));
            }
            pieces.push(RawPiece::Expr {
                whole: Span::new(span.file, i, close),
                inner: Span::new(span.file, i + 2, close - 2),
            });
            i = close;
            lit_start = i;
        } else {
            lit.push(c);
            i += c.len_utf8();
        }
    }
    if !lit.is_empty() {
        pieces.push(RawPiece::Lit(lit, Span::new(span.file, lit_start, end)));
    }
    Ok(pieces)
}

/// The value of a regex string literal: backslashes go to the regex engine as written,
/// except `\"`, which is a quote. So `"\d+\.\w"` is the regex `\d+\.\w`.
pub(crate) fn regex_string(src: &str, span: Span) -> String {
    src[span.start as usize + 1..span.end as usize - 1].replace("\\\"", "\"")
}

/// The value of a plain string literal inside an expression (no templates there).
pub(crate) fn plain_string(src: &str, span: Span) -> Result<String, (Span, String)> {
    let mut out = String::new();
    for p in string_pieces(src, span, false)? {
        if let RawPiece::Lit(s, _) = p {
            out.push_str(&s);
        }
    }
    Ok(out)
}

/// The class digit of a status class written the way HTTP texts do (`2xx`, `5XX`).
fn status_class(text: &str) -> Option<u32> {
    match text.as_bytes() {
        [d @ b'1'..=b'5', x, y]
            if x.eq_ignore_ascii_case(&b'x') && y.eq_ignore_ascii_case(&b'x') =>
        {
            Some(u32::from(d - b'0'))
        }
        _ => None,
    }
}

/// Whether the letters after a number read as an attempt at a time unit (`sec`, `min`, `hr`,
/// `us`, `ns`, `d`), so that `10sec` is called an invalid duration and `2OO` an invalid number.
fn looks_like_a_time_unit(unit: &str) -> bool {
    unit.chars().next().is_some_and(|c| {
        matches!(
            c.to_ascii_lowercase(),
            's' | 'm' | 'h' | 'u' | 'n' | 'd' | 'w'
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut l = Lexer::new(src, FileId(0));
        let mut out = Vec::new();
        loop {
            let t = l.next_token();
            let end = t.tok == Tok::Eof;
            out.push(t.tok);
            if end {
                return out;
            }
        }
    }

    #[test]
    fn token_table() {
        use Tok::*;
        let ms = |n| Duration(std::time::Duration::from_millis(n));
        let int = |n: i128| Int(n.into());
        let cases: Vec<(&str, Vec<Tok>)> = vec![
            (
                "think 200ms..1s",
                vec![Ident, ms(200), DotDot, ms(1000), Eof],
            ),
            ("weight 70 {", vec![Ident, int(70), LBrace, Eof]),
            ("a == -3 # c", vec![Ident, EqEq, int(-3), Eof]),
            ("x != 1.5", vec![Ident, Ne, Float(1.5), Eof]),
            (
                "p <= 2.5m",
                vec![
                    Ident,
                    Le,
                    Duration(std::time::Duration::from_secs(150)),
                    Eof,
                ],
            ),
            ("errors < 1%", vec![Ident, Lt, Percent(1.0), Eof]),
            ("capture? x", vec![Ident, Question, Ident, Eof]),
            ("a ?? b", vec![Ident, QQ, Ident, Eof]),
            ("\"s}}\" {{ \"}}\" }}", vec![Str, Template, Eof]),
            ("a\nb", vec![Ident, Newline, Ident, Eof]),
            ("a\r\nb", vec![Ident, Newline, Ident, Eof]),
            (
                "ids[0].x",
                vec![Ident, LBracket, int(0), RBracket, Dot, Ident, Eof],
            ),
            ("bot-1", vec![Ident, Eof]),
            // Integers up to 128 bits.
            (
                "x == 123456789012345678901234567890",
                vec![Ident, EqEq, int(123456789012345678901234567890), Eof],
            ),
            (
                "-170141183460469231731687303715884105728",
                vec![int(i128::MIN), Eof],
            ),
        ];
        for (src, want) in cases {
            assert_eq!(toks(src), want, "{src}");
        }
    }

    #[test]
    fn lexical_errors_are_tokens() {
        for src in ["10sec", "-1s", "\"open", "{{ x", "@", "!x"] {
            let t = toks(src);
            assert!(matches!(t[0], Tok::Error(..)), "{src}: {t:?}");
        }
    }

    #[test]
    fn an_integer_beyond_128_bits_is_out_of_range() {
        for src in [
            "170141183460469231731687303715884105728",
            "-170141183460469231731687303715884105729",
            "1234567890123456789012345678901234567890",
        ] {
            assert_error_token(src, &format!("integer `{src}` is out of range"), "128 bits");
        }
    }

    /// `src`'s first token is an error with `message` and a help that contains `help`.
    fn assert_error_token(src: &str, message: &str, help: &str) {
        match &toks(src)[0] {
            Tok::Error(m, Some(h)) => {
                assert_eq!(m, message, "{src}");
                assert!(h.contains(help), "{src}: {h}");
            }
            other => panic!("{src}: {other:?}"),
        }
    }

    #[test]
    fn durations_stop_at_a_billion_seconds() {
        assert_eq!(toks("1000000000s")[0], Tok::Duration(MAX_DURATION));
        assert_eq!(
            toks("277777h")[0],
            Tok::Duration(Duration::from_secs(277_777 * 3600))
        );
        for src in ["1000000001s", "16666667m", "5000000000000000h"] {
            assert_error_token(
                src,
                &format!("invalid duration `{src}`"),
                "the longest is 1000000000s",
            );
        }
    }

    #[test]
    fn a_mistyped_number_is_not_called_a_duration() {
        for (src, message) in [
            ("10sec", "invalid duration `10sec`"),
            ("5min", "invalid duration `5min`"),
            ("2d", "invalid duration `2d`"),
            ("2OO", "invalid number `2OO`"),
            ("1e3", "invalid number `1e3`"),
            ("0x10", "invalid number `0x10`"),
            ("2xx", "invalid number `2xx`"),
        ] {
            match &toks(src)[0] {
                Tok::Error(m, Some(_)) => assert_eq!(m, message, "{src}"),
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_status_class_gets_the_two_comparisons_as_hint() {
        match &toks("5XX")[0] {
            Tok::Error(_, Some(hint)) => assert!(
                hint.contains("`status >= 500` and `status < 600`"),
                "{hint}"
            ),
            other => panic!("{other:?}"),
        }
        match &toks("6xx")[0] {
            Tok::Error(_, Some(hint)) => assert!(hint.starts_with("numbers are"), "{hint}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn raw_value_stops_at_comment_after_space_only() {
        let src = "Bearer {{token}}  # sticky\nX";
        let mut l = Lexer::new(src, FileId(0));
        let span = l.read_value().unwrap();
        assert_eq!(
            &src[span.start as usize..span.end as usize],
            "Bearer {{token}}"
        );
        let src = "a#b {{ \"#\" }} c";
        let mut l = Lexer::new(src, FileId(0));
        let span = l.read_value().unwrap();
        assert_eq!(&src[span.start as usize..span.end as usize], src);
    }

    #[test]
    fn raw_pieces_split_templates() {
        let src = "/p/{{pid}}?q={{ \"a}}\" }}x";
        let p = raw_pieces(src, Span::new(FileId(0), 0, src.len())).unwrap();
        assert_eq!(p.len(), 5);
        assert!(matches!(&p[0], RawPiece::Lit(s, _) if s == "/p/"));
        assert!(matches!(&p[4], RawPiece::Lit(s, _) if s == "x"));
        // `{{{` in a JSON body: one brace of text, then the template.
        let src = "{{{x}}}";
        let p = raw_pieces(src, Span::new(FileId(0), 0, src.len())).unwrap();
        assert!(matches!(&p[0], RawPiece::Lit(s, _) if s == "{"));
        assert!(
            matches!(&p[1], RawPiece::Expr { inner, .. } if &src[inner.start as usize..inner.end as usize] == "x")
        );
    }

    #[test]
    fn string_escapes_and_templates() {
        let src = r#""a\"b\n\u0041 {{env.P ?? "s"}} \{{x}}""#;
        let p = string_pieces(src, Span::new(FileId(0), 0, src.len()), true).unwrap();
        assert!(matches!(&p[0], RawPiece::Lit(s, _) if s == "a\"b\nA "));
        assert!(matches!(&p[1], RawPiece::Expr { .. }));
        assert!(matches!(&p[2], RawPiece::Lit(s, _) if s == " {{x}}"));
        let bad = r#""\q""#;
        assert!(string_pieces(bad, Span::new(FileId(0), 0, bad.len()), true).is_err());
    }
}
