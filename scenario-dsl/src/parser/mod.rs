//! The recursive-descent parser: source text to [`ast::File`](crate::ast::File).
//!
//! It works line by line: the first word of a line decides what the line is (a request
//! when it is an uppercase method, a header when a name is glued to a colon, a body when it
//! starts with `{`, `[` or a fence, else a keyword statement). Statement lines are read as
//! tokens; targets, header values and bodies as raw text with `{{ }}` holes.
//!
//! Errors never stop the parse: each is recorded in the [`DiagSink`] and the parser skips
//! to the next line (keeping block structure where it can), so one run reports them all.

use crate::ast::*;
use crate::diag::{DiagSink, RawDiag, did_you_mean};
use crate::lexer::{
    Lexer, RawPiece, Tok, Token, describe, is_ident_char, plain_string, raw_pieces, regex_string,
    scan_string, scan_template, string_pieces,
};
use crate::source::{FileId, Span};

mod expr;
mod items;
mod recover;
mod request;

/// Keywords that start a top-level item.
const ITEM_KEYWORDS: &[&str] = &[
    "defaults",
    "let",
    "setup",
    "teardown",
    "scenario",
    "threshold",
    "include",
];
/// Keywords that start a statement inside a block.
const STMT_KEYWORDS: &[&str] = &[
    "think", "repeat", "if", "for", "header", "let", "log", "check", "assert", "capture",
];
/// Items that cannot appear in a block: meeting one there means a `}` is missing.
const TOP_ONLY: &[&str] = &[
    "defaults",
    "setup",
    "teardown",
    "scenario",
    "threshold",
    "include",
];
pub(crate) const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub(crate) fn parse_file(src: &str, file: FileId, diags: &mut DiagSink) -> File {
    let mut p = Parser {
        lx: Lexer::new(src, file),
        file,
        diags,
        eof_reported: false,
        depth: 0,
        too_deep: false,
        one_line_block: false,
        broken_names: Vec::new(),
        dedented_closes: Vec::new(),
    };
    p.file_items()
}

/// Parses the expression inside a `{{ }}` whose inner text is `inner`.
pub(crate) fn parse_template_expr(src: &str, inner: Span, diags: &mut DiagSink) -> Option<Expr> {
    let lx = Lexer::sub(src, inner.file, inner.start as usize, inner.end as usize);
    let mut p = Parser {
        lx,
        file: inner.file,
        diags,
        eof_reported: false,
        depth: 0,
        too_deep: false,
        one_line_block: false,
        broken_names: Vec::new(),
        dedented_closes: Vec::new(),
    };
    let mut toks = Vec::new();
    loop {
        let t = p.lx.next_token();
        if matches!(t.tok, Tok::Eof) {
            break;
        }
        if !matches!(t.tok, Tok::Newline) {
            toks.push(t);
        }
    }
    if toks.is_empty() {
        p.err(
            RawDiag::error(inner, "empty template")
                .label("expected an expression inside `{{ }}`")
                .help("write a variable (`{{token}}`), a call (`{{uuid()}}`) or a literal"),
        );
        return None;
    }
    let mut c = Cursor::new(toks, inner);
    // The expression ends at the `}}`, not at the end of the line.
    c.end = Span::new(inner.file, inner.end as usize, inner.end as usize + 2);
    c.end_name = "`}}`";
    let e = p.expr(&mut c)?;
    if let Some(t) = c.peek() {
        let t = t.clone();
        p.unexpected(&t, "the end of the template");
        return None;
    }
    Some(e)
}

struct Parser<'s, 'd> {
    lx: Lexer<'s>,
    file: FileId,
    diags: &'d mut DiagSink,
    /// A body ran to the end of the file and was reported: blocks left open by it are not
    /// reported again.
    eof_reported: bool,
    /// How deep the parse is in blocks, lists, objects and `??` fallbacks.
    depth: u32,
    /// The nesting went past [`MAX_NESTING`] and was reported: the parse of the file stops
    /// there (nothing after it is reported).
    too_deep: bool,
    /// The block being opened was written on one line (`scenario main { GET / }`) and was
    /// reported: the block is taken as closed and empty, so its `}` is not looked for.
    one_line_block: bool,
    /// See [`File::broken_names`].
    broken_names: Vec<String>,
    /// Blocks closed by a `}` indented less than their opening line (see
    /// [`recover::DedentedClose`]).
    dedented_closes: Vec<recover::DedentedClose>,
}

/// The deepest nesting of blocks (or of lists, objects, calls and `??` fallbacks in a
/// value) that a plan may have. The parser, the compiler and the evaluator recurse once per
/// level: a bound keeps a hostile or generated plan from overflowing the stack.
pub(crate) const MAX_NESTING: u32 = 128;

/// A cursor over the tokens of one statement line.
struct Cursor {
    toks: Vec<Token>,
    i: usize,
    /// Where the line ends, for "expected X at the end of the line".
    end: Span,
    /// What ends the tokens, for "expected X, found ...": the end of the line, or the `}}`
    /// of a template.
    end_name: &'static str,
}

impl Parser<'_, '_> {
    /// Goes one level deeper at `at`, or reports (once) that the plan nests deeper than
    /// [`MAX_NESTING`] and returns false. Each `true` is matched by a [`Parser::leave`].
    fn enter(&mut self, at: Span) -> bool {
        if self.depth >= MAX_NESTING {
            if !self.too_deep {
                self.too_deep = true;
                self.err(
                    RawDiag::error(at, "nested too deep")
                        .label(format!("more than {MAX_NESTING} levels of nesting here"))
                        .help(format!(
                            "a plan nests at most {MAX_NESTING} blocks deep, and a value at most \
                             {MAX_NESTING} lists, objects, calls or `??` deep: flatten this part"
                        )),
                );
            }
            return false;
        }
        self.depth += 1;
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }
}

impl Cursor {
    fn new(toks: Vec<Token>, line: Span) -> Cursor {
        let end = toks
            .last()
            .map(|t| Span::new(t.span.file, t.span.end as usize, t.span.end as usize))
            .unwrap_or(Span::new(line.file, line.end as usize, line.end as usize));
        Cursor {
            toks,
            i: 0,
            end,
            end_name: "end of line",
        }
    }
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }
    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.toks.get(self.i + n)
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        if t.is_some() {
            self.i += 1;
        }
        t
    }
    fn eat(&mut self, tok: &Tok) -> Option<Span> {
        if self.peek().is_some_and(|t| t.is(tok)) {
            self.next().map(|t| t.span)
        } else {
            None
        }
    }
    /// The span of the next token, or the end of the line.
    fn here(&self) -> Span {
        self.peek().map(|t| t.span).unwrap_or(self.end)
    }
    /// Removes a trailing `{` (a block opener) and returns its span.
    fn pop_brace(&mut self) -> Option<Span> {
        if self.toks.last().is_some_and(|t| t.is(&Tok::LBrace)) {
            self.toks.pop().map(|t| t.span)
        } else {
            None
        }
    }
}

/// What a line is, judged from its first characters.
enum LineKind {
    Eof,
    Close,
    Fence,
    JsonBody,
    Header,
    /// An all-uppercase word.
    Method(String, Span),
    Word(String, Span),
    Other,
}

/// The reason a block stopped.
enum BlockEnd {
    Closed,
    /// A top-level item started (or the file ended) before the `}`.
    Unclosed,
    /// Written on one line, after its `{` (reported).
    OneLine,
}

impl<'s> Parser<'s, '_> {
    fn err(&mut self, d: RawDiag) {
        self.diags.push(d);
    }

    fn src(&self) -> &'s str {
        self.lx.src()
    }

    fn text(&self, span: Span) -> &'s str {
        &self.src()[span.start as usize..span.end as usize]
    }

    fn unexpected(&mut self, t: &Token, expected: &str) {
        let d = self.unexpected_diag(t, expected);
        self.err(d);
    }

    /// [`Parser::unexpected`] with a hint (unless the token is an error of its own, which
    /// brings its hint).
    fn unexpected_help(&mut self, t: &Token, expected: &str, help: String) {
        let d = self.unexpected_diag(t, expected);
        let d = if matches!(t.tok, Tok::Error(..)) {
            d
        } else {
            d.help(help)
        };
        self.err(d);
    }

    fn unexpected_diag(&self, t: &Token, expected: &str) -> RawDiag {
        if let Tok::Error(msg, hint) = &t.tok {
            let mut d = RawDiag::error(t.span, msg.clone());
            if let Some(h) = hint {
                d = d.help(h.clone());
            }
            return d;
        }
        let found = describe(&t.tok, self.text(t.span));
        RawDiag::error(t.span, format!("expected {expected}, found {found}"))
            .label(format!("expected {expected}"))
    }

    /// The statement line of `c` with the token `t` replaced by `with`: the line as a hint
    /// says to write it.
    fn line_with(&self, c: &Cursor, t: Span, with: &str) -> String {
        let first = c.toks.first().map_or(t, |f| f.span);
        let before = self.text(Span::new(self.file, first.start as usize, t.start as usize));
        let after = self.text(Span::new(self.file, t.end as usize, c.end.end as usize));
        format!("{before}{with}{after}")
    }

    /// The `=` after the name of a `let` or a `capture`, then `what` (`a value`, `a query`):
    /// false when it is not there (reported; `==` with a hint).
    fn assign_eq(&mut self, c: &mut Cursor, what: &str) -> bool {
        if self.lex_error(c) {
            return false;
        }
        if c.eat(&Tok::Eq).is_some() {
            return true;
        }
        match c.peek().cloned() {
            Some(t) if t.is(&Tok::EqEq) => {
                let fixed = self.line_with(c, t.span, "=");
                self.unexpected_help(
                    &t,
                    "`=`",
                    format!("`==` compares, `=` assigns: write `{fixed}`"),
                );
            }
            Some(t) => self.unexpected(&t, "`=`"),
            None => self.expected_at_end(c, &format!("`=` and {what}")),
        }
        false
    }

    fn expected_at_end(&mut self, c: &Cursor, expected: &str) {
        self.err(
            RawDiag::error(c.end, format!("expected {expected}, found {}", c.end_name))
                .label(format!("expected {expected}")),
        );
    }

    // ----- lines -------------------------------------------------------------------------

    fn classify(&self) -> LineKind {
        let rest = self.lx.line_rest();
        let pos = self.lx.pos;
        if self.lx.at_eof() {
            return LineKind::Eof;
        }
        if rest.starts_with('}') {
            return LineKind::Close;
        }
        if rest.starts_with("```") {
            return LineKind::Fence;
        }
        if rest.starts_with('{') || rest.starts_with('[') {
            return LineKind::JsonBody;
        }
        if is_header_line(rest) {
            return LineKind::Header;
        }
        let word_len = rest
            .char_indices()
            .find(|(_, c)| !is_ident_char(*c))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if word_len == 0 {
            return LineKind::Other;
        }
        let word = &rest[..word_len];
        let span = Span::new(self.file, pos, pos + word_len);
        if word.len() >= 2 && word.chars().all(|c| c.is_ascii_uppercase()) {
            return LineKind::Method(word.to_string(), span);
        }
        LineKind::Word(word.to_string(), span)
    }

    /// Reads the tokens of the rest of the line (newlines inside `( )` and `[ ]`, and with
    /// `braces` inside `{ }`, are skipped) and consumes the line terminator.
    ///
    /// An unclosed `(` or `[` stops before a line that cannot continue it (a `}` line, a
    /// request, a statement): the block's `}` is still seen, and the error reported is the
    /// unclosed `(` / `[`, not a block that never closes.
    fn line_tokens(&mut self, braces: bool) -> Vec<Token> {
        let mut toks = Vec::new();
        let mut depth = 0usize;
        // Every opener still open, braces included: what the innermost one is.
        let mut open: Vec<Tok> = Vec::new();
        loop {
            let t = self.lx.next_token();
            match t.tok {
                Tok::Eof => break,
                Tok::Newline if depth == 0 => break,
                Tok::Newline => {
                    if matches!(open.last(), Some(Tok::LParen | Tok::LBracket))
                        && self.next_line_ends_value()
                    {
                        break;
                    }
                    continue;
                }
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => depth = depth.saturating_sub(1),
                Tok::LBrace if braces => depth += 1,
                Tok::RBrace if braces => depth = depth.saturating_sub(1),
                _ => {}
            }
            match t.tok {
                Tok::LParen | Tok::LBracket | Tok::LBrace => open.push(t.tok.clone()),
                Tok::RParen | Tok::RBracket | Tok::RBrace => {
                    open.pop();
                }
                _ => {}
            }
            toks.push(t);
        }
        toks
    }

    /// Whether the next line that is not blank (nor a comment) cannot continue a list or a
    /// call: it closes a block (`}`), or starts a request or a statement (`GET /x`,
    /// `check ...`, `scenario b {`; a keyword followed by `?`, `capture? x`, is not taken:
    /// `log ?? 1` could be a value).
    fn next_line_ends_value(&self) -> bool {
        let mut probe = Lexer::sub(self.src(), self.file, self.lx.pos, self.lx.end());
        probe.skip_blank_lines();
        let rest = probe.line_rest();
        if rest.starts_with('}') {
            return true;
        }
        let word_len = rest.find(|c| !is_ident_char(c)).unwrap_or(rest.len());
        let word = &rest[..word_len];
        let spaced = rest[word_len..].starts_with([' ', '\t'])
            && !rest[word_len..].trim_start().starts_with('?');
        spaced
            && (STMT_KEYWORDS.contains(&word)
                || TOP_ONLY.contains(&word)
                || METHODS.contains(&word))
    }

    fn cursor_for_line(&mut self) -> Cursor {
        self.cursor_with(false)
    }

    /// A cursor over a statement whose value may span lines inside `{ }` (`let`).
    fn cursor_with(&mut self, braces: bool) -> Cursor {
        let start = self.lx.pos;
        let toks = self.line_tokens(braces);
        let line = Span::new(
            self.file,
            start,
            start
                + self
                    .text(Span::new(self.file, start, self.lx.pos))
                    .trim_end()
                    .len(),
        );
        Cursor::new(toks, line)
    }

    /// Reports the first error token of `c` if any; true when there was one. An error token
    /// inside an index (`users[worker % 2]`) is left to [`Parser::path`], which says what an
    /// index can be.
    fn lex_error(&mut self, c: &Cursor) -> bool {
        // For each open `[`: whether it opens an index (glued to what it indexes).
        let mut brackets: Vec<bool> = Vec::new();
        for k in c.i..c.toks.len() {
            let t = &c.toks[k];
            match t.tok {
                Tok::LBracket => {
                    let glued = k > c.i && c.toks[k - 1].span.end == t.span.start;
                    let indexes = glued
                        && matches!(c.toks[k - 1].tok, Tok::Ident | Tok::RBracket | Tok::RParen);
                    brackets.push(indexes);
                }
                Tok::RBracket => {
                    brackets.pop();
                }
                Tok::Error(ref m, _)
                    if brackets.last() == Some(&true) && !m.starts_with("unclosed") => {}
                Tok::Error(..) => {
                    self.error_token(c, k);
                    return true;
                }
                _ => {}
            }
        }
        false
    }

    /// Reports the error token `c.toks[k]`, with a hint where its neighbours say what was
    /// meant: an unquoted JSONPath (`jsonpath $.token`), arithmetic (`worker % 2`).
    fn error_token(&mut self, c: &Cursor, k: usize) {
        let t = c.toks[k].clone();
        let text = self.text(t.span);
        let before = k.checked_sub(1).map(|b| &c.toks[b]);
        let after = c.toks.get(k + 1);
        if text == "$"
            && before.is_some_and(|b| b.is(&Tok::Ident) && self.text(b.span) == "jsonpath")
        {
            // The path runs over the tokens glued to the `$`.
            let mut span = t.span;
            for n in &c.toks[k + 1..] {
                if n.span.start != span.end {
                    break;
                }
                span = span.to(n.span);
            }
            let path = self.text(span);
            self.err(
                RawDiag::error(span, "a JSONPath is written in quotes")
                    .label(format!("write `\"{path}\"`"))
                    .help(format!("quote it: `jsonpath \"{path}\"`")),
            );
            return;
        }
        let glued = after.filter(|a| a.span.start == t.span.end);
        if text == "$" && glued.is_none_or(|a| a.is(&Tok::Dot) || a.is(&Tok::LBracket)) {
            self.bare_jsonpath(c, k);
            return;
        }
        if text == "$" && glued.is_some_and(|a| a.is(&Tok::Ident)) {
            let name = self.text(glued.map_or(t.span, |a| a.span));
            self.err(
                RawDiag::error(t.span, "unexpected character `$`")
                    .label("a variable is written without `$`")
                    .help(format!(
                        "write `{name}` (in a target, a header or a body: `{{{{{name}}}}}`)"
                    )),
            );
            return;
        }
        if text == "&" || text == "|" {
            let span = match after {
                Some(a) if a.span.start == t.span.end && self.text(a.span) == text => {
                    t.span.to(a.span)
                }
                _ => t.span,
            };
            let written = self.text(span);
            self.err(
                RawDiag::error(span, format!("unexpected `{written}`"))
                    .label("a line holds one condition")
                    .help(
                        "there is no `&&` or `||` in a plan: write one line per condition (two \
                         `check` or `threshold` lines, or an `if` inside an `if`)",
                    ),
            );
            return;
        }
        let operand = |t: &Token| {
            matches!(
                t.tok,
                Tok::Ident
                    | Tok::Int(_)
                    | Tok::Float(_)
                    | Tok::Duration(_)
                    | Tok::Template
                    | Tok::RBracket
                    | Tok::RParen
                    | Tok::LParen
            )
        };
        // `a / b` and `a - b` only when spaced: `application/json` is text, `bot-1` a name.
        let spaced = before.is_some_and(|b| b.span.end < t.span.start)
            && after.is_some_and(|a| t.span.end < a.span.start);
        let arithmetic = match text {
            "+" | "*" | "%" => true,
            "/" | "-" => spaced,
            _ => false,
        };
        if arithmetic && before.is_some_and(operand) && after.is_some_and(operand) {
            self.err(
                RawDiag::error(t.span, "there is no arithmetic in a plan")
                    .label(format!("`{text}` is not an operator of the language"))
                    .help(
                        "a value is a literal, a variable (`user.name`, `users[0]`) or a \
                         built-in call: `rand_int(0, 9)` draws a number, `pick(users)` an item",
                    ),
            );
            return;
        }
        self.unexpected(&t, "");
    }

    /// Reports `c.toks[k]`, a `$` that starts a JSONPath written bare where a query or a
    /// value is expected (`capture tok = $.a`, `check json($.a) == 1`), with the line as it
    /// should be: `capture tok = jsonpath "$.a"`.
    fn bare_jsonpath(&mut self, c: &Cursor, k: usize) {
        let t = &c.toks[k];
        // In a call (`json($.a)`), the call is what the query replaces.
        let call = k >= 2
            && c.toks[k - 1].is(&Tok::LParen)
            && c.toks[k - 2].is(&Tok::Ident)
            && c.toks[k - 2].span.end == c.toks[k - 1].span.start;
        let from = if call { c.toks[k - 2].span } else { t.span };
        // The path runs over the tokens glued to the `$` (but not the call's `)`).
        let mut path = t.span;
        let mut last = k;
        for (n, tok) in c.toks.iter().enumerate().skip(k + 1) {
            if tok.span.start != path.end || (call && tok.is(&Tok::RParen)) {
                break;
            }
            path = path.to(tok.span);
            last = n;
        }
        let to = match c.toks.get(last + 1) {
            Some(close) if call && close.is(&Tok::RParen) && close.span.start == path.end => {
                close.span
            }
            _ => path,
        };
        let path = self.text(path);
        let line_start = c.toks[0].span;
        let before = self.text(Span::new(
            self.file,
            line_start.start as usize,
            from.start as usize,
        ));
        let after = self.text(Span::new(self.file, to.end as usize, c.end.end as usize));
        self.err(
            RawDiag::error(
                t.span,
                format!("a JSONPath is written `jsonpath \"{path}\"`"),
            )
            .label("a query of the response body")
            .help(format!(
                "a JSONPath is the word `jsonpath` and the path in quotes: write \
                     `{before}jsonpath \"{path}\"{after}`"
            )),
        );
    }

    /// Expects the cursor to be exhausted.
    fn end_of_line(&mut self, c: &mut Cursor, what: &str) {
        if let Some(t) = c.next() {
            if let Tok::Error(..) = t.tok {
                self.unexpected(&t, what);
            } else {
                let found = describe(&t.tok, self.text(t.span));
                self.err(
                    RawDiag::error(t.span, format!("unexpected {found} {what}"))
                        .label("nothing more is expected on this line"),
                );
            }
        }
    }
}

fn escape_error(span: Span, msg: String) -> RawDiag {
    RawDiag::error(span, msg).label("not a known escape").help(
        "escapes are \\\" \\\\ \\/ \\n \\r \\t \\0 \\{ and \\uXXXX; write \\\\ for a backslash",
    )
}

fn cmp_op(t: &Tok) -> Option<CmpOp> {
    Some(match t {
        Tok::EqEq => CmpOp::Eq,
        Tok::Ne => CmpOp::Ne,
        Tok::Lt => CmpOp::Lt,
        Tok::Le => CmpOp::Le,
        Tok::Gt => CmpOp::Gt,
        Tok::Ge => CmpOp::Ge,
        _ => return None,
    })
}

/// `Name:` glued at the start of a line (after indentation): an HTTP token then a colon.
fn is_header_line(rest: &str) -> bool {
    let mut chars = rest.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    for (_, c) in chars {
        if c == ':' {
            return true;
        }
        if !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)) {
            return false;
        }
    }
    false
}

/// A line that reads as a header whose colon is missing or not glued to the name
/// (`Authorization Bearer abc`, `Accept : application/json`, `X-Id = 7`).
#[derive(Debug, PartialEq, Eq)]
struct HeaderTypo {
    /// The name as written.
    name: String,
    /// Bytes from the line's start to underline: the name, or the name through the
    /// misplaced `:` / `=`.
    underline: usize,
    /// What stands between the name and the value.
    kind: HeaderTypoKind,
    /// The line as it should be: `Name: value`.
    fixed: String,
}

#[derive(Debug, PartialEq, Eq)]
enum HeaderTypoKind {
    /// `Accept : x`: a space before the colon.
    SpacedColon,
    /// `X-Id = 7`, `X-Id=7`.
    Equals,
    /// `Authorization Bearer abc`.
    NoColon,
}

/// Words that start a line of the language, whatever their case: a line starting with one
/// of them (or with a near miss, `Thnik`) is a mistyped statement, not a header.
fn is_keyword_like(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    let words = STMT_KEYWORDS
        .iter()
        .chain(ITEM_KEYWORDS)
        .chain(&["else", "form", "file", "base", "timeout"]);
    words
        .clone()
        .any(|k| *k == lower || crate::diag::edit_distance(&lower, k) <= 1)
        || METHODS.iter().any(|m| m.eq_ignore_ascii_case(word))
}

/// Whether `rest` (a line after its indentation) is a header written without its glued
/// colon. A name followed by ` :` is one whatever its case; a name followed by `=` or by a
/// value is one when it looks like a header name: capitalised (`Authorization`) or
/// hyphenated (`x-api-key`), and not a (mistyped) keyword.
fn header_typo(rest: &str) -> Option<HeaderTypo> {
    let rest = match rest.find(" #") {
        Some(i) => &rest[..i],
        None => rest,
    }
    .trim_end();
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) || rest.ends_with('{') {
        return None;
    }
    let name_len = rest.find(|c| !is_ident_char(c)).unwrap_or(rest.len());
    let name = &rest[..name_len];
    let after = &rest[name_len..];
    let spaced = after.trim_start_matches([' ', '\t']);
    let header_like = (name.starts_with(|c: char| c.is_ascii_uppercase()) || name.contains('-'))
        && !is_keyword_like(name);
    let (kind, sep_end, value) = if spaced.starts_with(':') && spaced.len() < after.len() {
        let sep_end = rest.len() - spaced.len() + 1;
        (HeaderTypoKind::SpacedColon, sep_end, &spaced[1..])
    } else if spaced.starts_with('=') && !spaced.starts_with("==") && header_like {
        let sep_end = rest.len() - spaced.len() + 1;
        (HeaderTypoKind::Equals, sep_end, &spaced[1..])
    } else if spaced.len() < after.len()
        && !spaced.is_empty()
        && !spaced.starts_with('=')
        && header_like
        // `GEET /x` is a mistyped method: an all-uppercase word is one unless hyphenated.
        && (name.contains('-') || name.contains(|c: char| c.is_ascii_lowercase()))
    {
        (HeaderTypoKind::NoColon, name_len, spaced)
    } else {
        return None;
    };
    Some(HeaderTypo {
        name: name.to_string(),
        underline: sep_end,
        kind,
        fixed: format!("{name}: {}", value.trim()),
    })
}

impl Parser<'_, '_> {
    /// Reports the line at the cursor and skips it when it is a header without its glued
    /// colon ([`header_typo`]); true when it was one.
    fn header_typo_line(&mut self) -> bool {
        let Some(typo) = header_typo(self.lx.line_rest()) else {
            return false;
        };
        let start = self.lx.pos;
        let span = Span::new(self.file, start, start + typo.underline);
        let label = match typo.kind {
            HeaderTypoKind::SpacedColon => "no space before the `:`".to_string(),
            HeaderTypoKind::Equals => "`:` goes where this `=` is".to_string(),
            HeaderTypoKind::NoColon => format!("expected `{}:`", typo.name),
        };
        self.err(
            RawDiag::error(span, "a header needs a `:` right after its name")
                .label(label)
                .help(format!(
                    "a header is `Name: value`, the colon glued to the name: write `{}`",
                    typo.fixed
                )),
        );
        self.lx.skip_line();
        true
    }
}

/// True when a line starts like a statement of the language: used to stop scanning an
/// unclosed body at the next statement instead of swallowing the rest of the file.
fn starts_statement(rest: &str) -> bool {
    let word: String = rest.chars().take_while(|c| is_ident_char(*c)).collect();
    let after = rest[word.len()..].chars().next();
    let spaced = matches!(after, None | Some(' ') | Some('\t') | Some('?'));
    spaced
        && (STMT_KEYWORDS.contains(&word.as_str())
            || TOP_ONLY.contains(&word.as_str())
            || METHODS.contains(&word.as_str()))
}

/// Position of `needle` in `src[start..end]` outside quotes and templates.
fn find_unquoted(src: &str, start: usize, end: usize, needle: u8) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = start;
    while i < end {
        match bytes[i] {
            b'"' => i = scan_string(src, i, end).ok()?,
            b'{' if bytes.get(i + 1) == Some(&b'{') => i = scan_template(src, i, end).ok()?,
            b if b == needle => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn line_of(src: &str, pos: usize) -> usize {
    src[..pos.min(src.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;
    use std::path::PathBuf;

    fn parse(src: &str) -> (File, String) {
        let mut map = SourceMap::default();
        let id = map.add("t.mol".into(), PathBuf::new(), None, src.to_string());
        let mut sink = DiagSink::default();
        let f = parse_file(src, id, &mut sink);
        (f, sink.finish(&map).to_string())
    }

    #[test]
    fn parses_a_scenario_with_a_request_and_clauses() {
        let (f, errs) = parse(
            "scenario a weight 3 delay 1s {\n  GET /x/{{id}} as x\n  Accept: a\n  check status == 200\n  capture? t = jsonpath \"$.t\"\n}\n",
        );
        assert_eq!(errs, "");
        let Item::Scenario(s) = &f.items[0] else {
            panic!("{:?}", f.items)
        };
        assert_eq!(s.name.name, "a");
        assert_eq!(s.weight.map(|w| w.0), Some(3));
        let Stmt::Request(r) = &s.body[0] else {
            panic!()
        };
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.clauses.len(), 2);
        assert!(matches!(
            &r.clauses[1],
            Clause::Capture { optional: true, .. }
        ));
        assert_eq!(r.name.as_ref().map(|n| n.name.as_str()), Some("x"));
    }

    #[test]
    fn json_body_with_templates_in_and_out_of_strings() {
        let (f, errs) = parse(
            "setup {\n  POST /login\n  {\"user\": \"bot{{worker}}\", \"pw\": \"{{env.P ?? \"s}}\"}}\",\n   \"n\": {{rand_int(1, 3)}}}\n}\n",
        );
        assert_eq!(errs, "");
        let Item::Block(b) = &f.items[0] else {
            panic!()
        };
        let Stmt::Request(r) = &b.body[0] else {
            panic!()
        };
        let Some(BodyAst::Json(pieces)) = &r.body else {
            panic!("{:?}", r.body)
        };
        let flags: Vec<bool> = pieces
            .iter()
            .filter_map(|p| match p {
                JsonPiece::Expr { in_string, .. } => Some(*in_string),
                _ => None,
            })
            .collect();
        assert_eq!(flags, [true, true, false]);
    }

    #[test]
    fn else_if_chains() {
        let (f, errs) = parse(
            "scenario a {\n if x exists {\n  log \"a\"\n } else if y == 1 {\n  log \"b\"\n } else {\n  log \"c\"\n }\n}\n",
        );
        assert_eq!(errs, "");
        let Item::Scenario(s) = &f.items[0] else {
            panic!()
        };
        let Stmt::If {
            otherwise: Some(o), ..
        } = &s.body[0]
        else {
            panic!()
        };
        assert!(matches!(
            &o[0],
            Stmt::If {
                otherwise: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn multi_line_list_literal() {
        let (f, errs) = parse("let xs = [\n  \"a\",\n  \"b\",\n]\n");
        assert_eq!(errs, "");
        let Item::Let(l) = &f.items[0] else { panic!() };
        assert!(matches!(&l.value, ValueAst::List(v, _) if v.len() == 2));
    }

    #[test]
    fn headers_without_a_glued_colon() {
        use HeaderTypoKind::*;
        let typo = |name: &str, underline, kind, fixed: &str| {
            Some(HeaderTypo {
                name: name.into(),
                underline,
                kind,
                fixed: fixed.into(),
            })
        };
        for (line, want) in [
            (
                "Authorization Bearer abc",
                typo("Authorization", 13, NoColon, "Authorization: Bearer abc"),
            ),
            (
                "x-api-key abc # key",
                typo("x-api-key", 9, NoColon, "x-api-key: abc"),
            ),
            (
                "Accept : application/json",
                typo("Accept", 8, SpacedColon, "Accept: application/json"),
            ),
            ("accept	:x", typo("accept", 8, SpacedColon, "accept: x")),
            ("X-Eq = 1", typo("X-Eq", 6, Equals, "X-Eq: 1")),
            ("X-Eq=1", typo("X-Eq", 5, Equals, "X-Eq: 1")),
            ("X-ID abc", typo("X-ID", 4, NoColon, "X-ID: abc")),
            // Statements, mistyped or not, and methods.
            ("Think 1s", None),
            ("Thnik 1s", None),
            ("Log \"x\"", None),
            ("GEET /x", None),
            ("Get /x", None),
            ("thnik 1s", None),
            ("foo = 1", None),
            ("Scenario main {", None),
            ("Authorization", None),
            ("X-Eq == 1", None),
        ] {
            assert_eq!(header_typo(line), want, "{line}");
        }
    }

    #[test]
    fn header_line_shapes() {
        for (line, want) in [
            ("Accept: x", true),
            ("X-Req-Id:{{uuid()}}", true),
            ("check status == 1", false),
            ("capture? a = body", false),
            ("{\"a\": 1}", false),
            (": x", false),
        ] {
            assert_eq!(is_header_line(line), want, "{line}");
        }
    }
}
