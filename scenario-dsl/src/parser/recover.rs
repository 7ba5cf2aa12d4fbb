//! Diagnostics for mistakes whose first error used to bring a follow-on one: a block's `{`
//! on the next line, `key=value` for the language's `key value`, a list without its
//! brackets, an unquoted string, and a block whose `}` is missing inside another block.
//!
//! Each is reported once, with a hint, and the parse goes on as if the line were right (or
//! the line is dropped whole). These functions are out of line and cold: the parser's block
//! functions recurse once per nesting level, and their frames (in a debug build, every local
//! of every match arm) bound how deep a plan can nest on a small stack.

use super::*;

/// A block closed by a `}` indented less than the line that opened it: in a plan indented
/// consistently, that `}` belongs to an outer block, and this block's own `}` is missing.
pub(super) struct DedentedClose {
    /// Where the block opened (its `{`, or its keyword when the `{` is missing).
    open: Span,
    /// What the block is, as the unclosed-block message names it (`` `if` ``).
    what: String,
    /// Where the `}` that closed it is.
    close: usize,
}

/// The indentation of the line holding `pos` (its leading spaces and tabs).
fn indent_at(src: &str, pos: usize) -> &str {
    let start = src[..pos.min(src.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = &src[start..];
    let len = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..len]
}

/// Whether indentation `inner` is deeper than `outer`, written the same way (`outer` is a
/// proper prefix of it: spaces and tabs are not mixed differently).
fn deeper(inner: &str, outer: &str) -> bool {
    inner.len() > outer.len() && inner.starts_with(outer)
}

/// The line number (1-based) of `pos`, and the line's text without its indentation (cut
/// at 40 characters).
fn line_at(src: &str, pos: usize) -> (usize, String) {
    let start = src[..pos].rfind('\n').map_or(0, |i| i + 1);
    let end = src[start..].find('\n').map_or(src.len(), |i| start + i);
    let text = src[start..end].trim();
    let mut shown: String = text.chars().take(40).collect();
    if shown.len() < text.len() {
        shown.push_str("...");
    }
    (line_of(src, pos), shown)
}

/// Where the lines after the one holding `pos` start, blank lines, comment lines and the
/// inside of fenced bodies left out, up to `end`.
fn lines_after(src: &str, pos: usize, end: usize) -> impl Iterator<Item = usize> + '_ {
    let mut at = src[pos..].find('\n').map_or(src.len(), |i| pos + i + 1);
    let mut in_fence = false;
    std::iter::from_fn(move || {
        while at < end.min(src.len()) {
            let start = at;
            at = src[at..].find('\n').map_or(src.len(), |i| at + i + 1);
            let text = src[start..at].trim();
            if text.starts_with("```") {
                in_fence = !in_fence;
                continue;
            }
            if in_fence || text.is_empty() || text.starts_with('#') {
                continue;
            }
            return Some(start);
        }
        None
    })
}

impl Parser<'_, '_> {
    /// Notes the `}` at the cursor, which closes the block opened at `open`, when it is
    /// indented less than the block's opening line (see [`DedentedClose`]).
    #[inline(never)]
    pub(super) fn note_close(&mut self, open: Span, what: &str) {
        let src = self.src();
        let close = self.lx.pos;
        if deeper(indent_at(src, open.start as usize), indent_at(src, close)) {
            self.dedented_closes.push(DedentedClose {
                open,
                what: what.to_string(),
                close,
            });
        }
    }

    /// The block `open` (`what`) ends unclosed before `end` (the next item, or the end of
    /// the file). When the plan is indented consistently and a `}` inside it lines up with
    /// its opening line, that `}` closes it: the block left open is the first one inside it
    /// whose `}` was taken by an outer one. Returns the diagnostic for that block.
    #[cold]
    #[inline(never)]
    pub(super) fn unclosed_inner(&self, open: Span, end: usize) -> Option<RawDiag> {
        let src = self.src();
        let outer = indent_at(src, open.start as usize);
        let inside: Vec<&DedentedClose> = self
            .dedented_closes
            .iter()
            .filter(|d| d.open.start > open.start && d.close < end)
            .collect();
        let culprit = inside.iter().min_by_key(|d| d.close)?;
        let closes_outer = inside
            .iter()
            .filter(|d| indent_at(src, d.close) == outer)
            .map(|d| d.close)
            .min()?;
        // Consistently indented: the block's first line is deeper than its opening line.
        let own = indent_at(src, culprit.open.start as usize);
        let first = lines_after(src, culprit.open.start as usize, culprit.close).next()?;
        if !deeper(indent_at(src, first), own) {
            return None;
        }
        // The `}` goes before the first line back at the block's indentation.
        let missing = lines_after(src, culprit.open.start as usize, culprit.close + 1)
            .find(|&l| !deeper(indent_at(src, l), own))?;
        let (close_line, _) = line_at(src, closes_outer);
        let (open_line, open_text) = line_at(src, open.start as usize);
        let (line, text) = line_at(src, missing);
        let what = &culprit.what;
        Some(
            RawDiag::error(
                culprit.open,
                format!("unclosed block: {what} has no closing `}}`"),
            )
            .label("this block is never closed")
            .help(format!(
                "the `}}` on line {close_line} lines up with line {open_line} (`{open_text}`) \
                 and closes it: add the `}}` of this {what} before line {line} (`{text}`)"
            )),
        )
    }

    /// A block-opening line without its `{`, whose `{` is alone on the next line: reported
    /// once (with the line to write), and the `{` line is taken as the block's opening.
    #[cold]
    #[inline(never)]
    pub(super) fn brace_on_next_line(&mut self, c: &Cursor, what: &str) -> Option<Span> {
        let mut probe = Lexer::sub(self.src(), self.file, self.lx.pos, self.lx.end());
        probe.skip_blank_lines();
        let rest = probe.line_rest();
        let after = rest.strip_prefix('{')?.trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with('#')) {
            return None;
        }
        let brace = Span::new(self.file, probe.pos, probe.pos + 1);
        let first = c.toks.first().map_or(c.end, |t| t.span);
        let line = self.text(Span::new(
            self.file,
            first.start as usize,
            c.end.end as usize,
        ));
        let on = match what {
            "the scenario" => "the scenario's line".to_string(),
            w => format!("the {w} line"),
        };
        self.err(
            RawDiag::error(c.end, format!("expected `{{` to open {what}"))
                .label("expected `{` at the end of the line")
                .help(format!(
                    "a block's `{{` ends the line that opens it: put `{{` on {on}: `{line} {{`"
                )),
        );
        self.lx.pos = probe.pos;
        self.lx.skip_line();
        Some(brace)
    }

    /// The token after the key `key` of a setting written `key value` (`weight 3`,
    /// `delay 1s`, `timeout 2s`, `repeat 3`, `think 1s`). A `=` between them (`weight=3`,
    /// `weight = 3`) is reported once and stepped over: the value is read as if it were not
    /// there.
    pub(super) fn setting_value(&mut self, c: &mut Cursor, key: Span) -> Option<Token> {
        if c.peek().is_some_and(|t| t.is(&Tok::Eq)) {
            self.key_equals(c, key);
        }
        c.next()
    }

    /// Reports the `=` at the cursor, after the key `key` of a setting, and steps over it.
    #[cold]
    #[inline(never)]
    fn key_equals(&mut self, c: &mut Cursor, key: Span) {
        let Some(eq) = c.eat(&Tok::Eq) else {
            return;
        };
        let key = self.text(key);
        let value = c.peek().map_or("VALUE", |v| self.text(v.span));
        self.err(
            RawDiag::error(eq, format!("unexpected `=` after `{key}`"))
                .label("no `=` here")
                .help(format!(
                    "`{key}` and its value are separated by a space: write `{key} {value}`"
                )),
        );
    }

    /// `base=URL` in `defaults` (the cursor is after `base`): reported once, and the cursor
    /// put after the `=`, so the URL is read as if it were not there.
    #[cold]
    #[inline(never)]
    pub(super) fn base_equals(&mut self) {
        let rest = self.lx.line_rest();
        let spaced = rest.trim_start_matches([' ', '\t']);
        let Some(value) = spaced.strip_prefix('=').filter(|v| !v.starts_with('=')) else {
            return;
        };
        let at = self.lx.pos + (rest.len() - spaced.len());
        let url = value.trim();
        self.err(
            RawDiag::error(
                Span::new(self.file, at, at + 1),
                "unexpected `=` after `base`",
            )
            .label("no `=` here")
            .help(format!(
                "`base` and its URL are separated by a space: write `base {url}`"
            )),
        );
        self.lx.pos = at + 1;
    }

    /// `in 200, 201`: the value after `in` (at `from`) is followed by a `,`, a list written
    /// without its brackets. Reported once (with the line to write), and the rest of the
    /// line consumed.
    #[cold]
    #[inline(never)]
    pub(super) fn list_without_brackets(&mut self, c: &mut Cursor, from: Span) {
        let last = c.toks.last().map_or(from, |t| t.span);
        let list = from.to(last);
        let items = self.text(list);
        let fixed = self.line_with(c, list, &format!("[{items}]"));
        self.err(
            RawDiag::error(list, "a list is written in brackets")
                .label(format!("write `[{items}]`"))
                .help(format!("`in` takes a list: write `{fixed}`")),
        );
        c.i = c.toks.len();
    }

    /// `let name = bob smith`: a value that is a bare name followed by more words, an
    /// unquoted string. Reported once (with the line to write), and the rest of the line
    /// consumed; false when the value is not one.
    #[cold]
    #[inline(never)]
    pub(super) fn unquoted_string(&mut self, c: &mut Cursor, value: &ValueAst) -> bool {
        let ValueAst::Var(path) = value else {
            return false;
        };
        let words = c.toks[c.i..].iter().all(|t| {
            matches!(
                t.tok,
                Tok::Ident | Tok::Int(_) | Tok::Float(_) | Tok::Duration(_)
            )
        });
        if !path.segs.is_empty() || !words || c.i == c.toks.len() {
            return false;
        }
        let last = c.toks.last().map_or(path.span, |t| t.span);
        let text = path.span.to(last);
        let written = self.text(text);
        let fixed = self.line_with(c, text, &format!("\"{written}\""));
        self.err(
            RawDiag::error(text, "a string is written in quotes")
                .label(format!("write `\"{written}\"`"))
                .help(format!("text is quoted: write `{fixed}`")),
        );
        c.i = c.toks.len();
        true
    }
}
