//! Compile diagnostics: what went wrong, where, and how to fix it.
//!
//! The compiler collects every problem it finds into a [`Diagnostics`] value (it never stops
//! at the first one; it keeps the first [`MAX_SHOWN`] in source order and counts the
//! others). Each [`Diagnostic`] is self-contained (it carries the part of the source line its
//! frame shows), so it can be displayed long after the source files are gone. The rendering
//! follows rustc / hurl:
//!
//! ```text
//! error: unknown statement `thnik`
//!   --> shop.mol:14:3
//!    |
//! 14 |   thnik 200ms..1s
//!    |   ^^^^^ did you mean `think`?
//! ```

use std::fmt;

use unicode_width::UnicodeWidthChar;

use crate::source::{SourceMap, Span};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The plan cannot run.
    Error,
    /// The plan runs, but probably not as meant.
    Warning,
}

/// Where a diagnostic points: `file:line:col` plus the line itself, for the code frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosticLocation {
    /// File name as shown to the user (relative to how the plan was named).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The source line, without its line terminator; of a long line, only the part around
    /// the column that a code frame can show (see `cut_before` and `cut_after`), so that a
    /// diagnostic never holds a copy of a 100 KB line.
    pub line_text: String,
    /// How many characters of the line were left out before `line_text` (0 for a whole
    /// line): `column` is counted from the start of the whole line.
    pub cut_before: usize,
    /// Whether characters of the line were left out after `line_text`.
    pub cut_after: bool,
    /// How many characters to underline (at least 1).
    pub underline: usize,
}

/// One problem found in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The headline, after `error: `.
    pub message: String,
    /// `None` for problems without a place (an unreadable root file).
    pub location: Option<DiagnosticLocation>,
    /// Short text printed after the carets.
    pub label: Option<String>,
    /// A longer hint, printed as `= help: ...`.
    pub help: Option<String>,
    /// Context lines, printed as `= note: ...` before the help: for a problem in an
    /// included file, where it was included (innermost first).
    pub notes: Vec<String>,
}

/// At most this many diagnostics of one compilation are kept and shown (the first ones in
/// source order); the others are counted, and said in one line at the end. A generated plan
/// with one systematic mistake (a template glued to 50,000 numbers of a minified JSON body)
/// printed 50,000 errors and held them all in memory.
pub const MAX_SHOWN: usize = 50;

/// All problems found in one compilation, in source order: the first [`MAX_SHOWN`] of
/// them, and how many more there were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// Errors found after the first [`MAX_SHOWN`] diagnostics: counted, not kept.
    more_errors: usize,
    /// Warnings found after the first [`MAX_SHOWN`] diagnostics: counted, not kept.
    more_warnings: usize,
}

impl Diagnostics {
    /// Number of diagnostics kept (errors and warnings; at most [`MAX_SHOWN`]).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The diagnostics kept, in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Number of errors (warnings not counted), those not kept included.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
            + self.more_errors
    }

    /// How many errors and warnings were found past the first [`MAX_SHOWN`] diagnostics
    /// (counted, not kept).
    pub fn omitted(&self) -> (usize, usize) {
        (self.more_errors, self.more_warnings)
    }

    /// The line said after the diagnostics kept when there were more, without its newline:
    /// `error: 11950 more errors not shown (the first 50 problems are shown above)`.
    pub fn omitted_line(&self) -> Option<String> {
        let count = |n: usize, what: &str| match n {
            1 => format!("1 more {what}"),
            n => format!("{n} more {what}s"),
        };
        let (kind, what) = match (self.more_errors, self.more_warnings) {
            (0, 0) => return None,
            (0, w) => ("warning", count(w, "warning")),
            (e, 0) => ("error", count(e, "error")),
            (e, w) => (
                "error",
                format!("{} and {}", count(e, "error"), count(w, "warning")),
            ),
        };
        Some(format!(
            "{kind}: {what} not shown (the first {} problems are shown above)",
            self.items.len()
        ))
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{kind}: {}", printable(&clipped(&self.message)))?;
        let label = self
            .label
            .as_deref()
            .map(|l| printable(&clipped(l)).into_owned());
        let help = self
            .help
            .as_deref()
            .map(|h| printable(&clipped(h)).into_owned());
        let Some(loc) = &self.location else {
            if let Some(label) = &label {
                writeln!(f, "  = note: {label}")?;
            }
            if let Some(help) = &help {
                writeln!(f, "  = help: {help}")?;
            }
            return Ok(());
        };
        let number = loc.line.to_string();
        let w = number.len();
        writeln!(
            f,
            "{:w$}--> {}:{}:{}",
            "",
            printable(&loc.file),
            loc.line,
            loc.column
        )?;
        writeln!(f, "{:w$} |", "")?;
        let frame = Frame::of(
            &loc.line_text,
            loc.column.saturating_sub(loc.cut_before),
            loc.underline,
            (loc.cut_before > 0, loc.cut_after),
        );
        writeln!(f, "{number} | {}", frame.shown).map(|_| ())?;
        let (pad, carets) = (frame.pad, "^".repeat(frame.carets));
        match &label {
            Some(label) => writeln!(f, "{:w$} | {pad}{carets} {label}", "")?,
            None => writeln!(f, "{:w$} | {pad}{carets}", "")?,
        }
        for note in &self.notes {
            writeln!(f, "{:w$} = note: {}", "", printable(&clipped(note)))?;
        }
        if let Some(help) = &help {
            writeln!(f, "{:w$} = help: {help}", "")?;
        }
        Ok(())
    }
}

/// At most this many terminal columns of a source line are shown in a code frame; a longer
/// line (minified JSON, or a binary file given as a plan) is cut around the caret.
const FRAME_COLUMNS: usize = 160;
/// Columns kept before the caret when a long line is cut.
const FRAME_CONTEXT: usize = 40;

/// At most this many characters of a text quoted in a message (`invalid regex `...``).
const QUOTE_CHARS: usize = 80;
/// At most this many characters of a whole message (headline, label, help or note).
const MESSAGE_CHARS: usize = 500;

/// `text` (a message) with each text it quotes between backticks cut to [`QUOTE_CHARS`]
/// characters, and the whole to [`MESSAGE_CHARS`], `…` at each cut: a 200 KB regex or a
/// line of zero-width characters quoted whole would flood the terminal. Characters are
/// counted, not columns, so zero-width ones count too.
fn clipped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= QUOTE_CHARS {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let quoted = i % 2 == 1;
        match part.char_indices().nth(QUOTE_CHARS - 1) {
            Some((at, _)) if quoted && part.chars().count() > QUOTE_CHARS => {
                out.push_str(&part[..at]);
                out.push('…');
            }
            _ => out.push_str(part),
        }
    }
    if let Some((at, _)) = out.char_indices().nth(MESSAGE_CHARS - 1)
        && out.chars().count() > MESSAGE_CHARS
    {
        out.truncate(at);
        out.push('…');
    }
    std::borrow::Cow::Owned(out)
}

/// `text` with control characters (escape sequences, NUL, CR...) shown as U+FFFD, so that a
/// diagnostic about a binary or corrupt file cannot drive the terminal. Newlines and tabs
/// stay.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// The source line of a code frame as printed, with the caret line's padding.
struct Frame {
    shown: String,
    pad: String,
    carets: usize,
}

/// How `c` is shown in a frame: a tab as four spaces, a control character as U+FFFD.
fn shown_char(c: char) -> (Option<&'static str>, usize) {
    match c {
        '\t' => (Some("    "), 4),
        c if c.is_control() => (Some("\u{FFFD}"), 1),
        c => (None, UnicodeWidthChar::width(c).unwrap_or(0)),
    }
}

impl Frame {
    /// Tabs become four spaces (and the caret line follows), control characters U+FFFD, and
    /// a line over [`FRAME_COLUMNS`] terminal columns is cut around `column` (1-based, in
    /// characters) with `…` at the cuts. Padding and carets count terminal columns, so a
    /// wide character (emoji, CJK) before or under the caret keeps it in place. `line` may
    /// be an excerpt of a longer line ([`excerpt`]): `cut` says whether characters were left
    /// out before and after it.
    fn of(line: &str, column: usize, underline: usize, cut: (bool, bool)) -> Frame {
        let chars: Vec<char> = line.chars().collect();
        let widths: Vec<usize> = chars.iter().map(|&c| shown_char(c).1).collect();
        let caret = column.saturating_sub(1).min(chars.len());
        // What a character costs against the cap: its columns, and at least one, so a line
        // of zero-width characters (combining accents) is cut as well.
        let cost = |i: usize| widths[i].max(1);
        let whole = !cut.0 && !cut.1;
        let (start, end) = if whole && (0..chars.len()).map(cost).sum::<usize>() <= FRAME_COLUMNS {
            (0, chars.len())
        } else {
            let mut start = caret;
            let mut before = 0;
            while start > 0 && before + cost(start - 1) <= FRAME_CONTEXT {
                start -= 1;
                before += cost(start);
            }
            let mut end = start;
            let mut used = 0;
            while end < chars.len() && used + cost(end) <= FRAME_COLUMNS {
                used += cost(end);
                end += 1;
            }
            (start, end.max(caret.min(chars.len())))
        };
        let mut shown = String::new();
        let mut pad = String::new();
        if start > 0 || cut.0 {
            shown.push('…');
            pad.push(' ');
        }
        for (i, &c) in chars[start..end].iter().enumerate() {
            match shown_char(c).0 {
                Some(text) => shown.push_str(text),
                None => shown.push(c),
            }
            if start + i < caret {
                pad.extend(std::iter::repeat_n(' ', widths[start + i]));
            }
        }
        if end < chars.len() || cut.1 {
            shown.push('…');
        }
        let under = (caret + underline.max(1)).min(end);
        let carets = widths[caret.min(under)..under].iter().sum::<usize>().max(1);
        Frame { shown, pad, carets }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if let Some(line) = self.omitted_line() {
            if !self.items.is_empty() {
                writeln!(f)?;
            }
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A diagnostic still expressed as a span; resolved against the [`SourceMap`] at the end.
#[derive(Debug, Clone)]
pub(crate) struct RawDiag {
    pub(crate) severity: Severity,
    pub(crate) message: String,
    pub(crate) span: Option<Span>,
    pub(crate) label: Option<String>,
    pub(crate) help: Option<String>,
    /// For diagnostics without a span: the file to name.
    pub(crate) file_name: Option<String>,
}

impl RawDiag {
    pub(crate) fn error(span: Span, message: impl Into<String>) -> RawDiag {
        RawDiag {
            severity: Severity::Error,
            message: message.into(),
            span: Some(span),
            label: None,
            help: None,
            file_name: None,
        }
    }

    /// A problem that does not stop the plan: it compiles and runs, but probably not as
    /// meant.
    pub(crate) fn warning(span: Span, message: impl Into<String>) -> RawDiag {
        RawDiag {
            severity: Severity::Warning,
            ..RawDiag::error(span, message)
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> RawDiag {
        self.label = Some(label.into());
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> RawDiag {
        self.help = Some(help.into());
        self
    }
}

/// Collects diagnostics during a compilation: all of them are counted, only the first
/// [`MAX_SHOWN`] in source order are kept (and resolved against the sources at the end), so
/// a plan with a million mistakes costs no more memory than one with fifty.
#[derive(Debug, Default)]
pub(crate) struct DiagSink {
    /// Kept diagnostics, each with its discovery number (ties at one place keep the order
    /// they were found in); trimmed to the first [`MAX_SHOWN`] in source order whenever
    /// it holds twice that.
    items: Vec<(u64, RawDiag)>,
    /// Every diagnostic pushed, by the hash of its message and span: the same problem found
    /// twice at the same place (e.g. through two code paths) is counted and shown once.
    seen: std::collections::HashSet<u64>,
    /// Distinct diagnostics pushed, by severity (those trimmed included).
    errors: usize,
    warnings: usize,
}

/// Where a raw diagnostic sorts: by file, then position (a diagnostic without a span first).
fn position(d: &RawDiag) -> (u32, u32) {
    d.span.map_or((0, 0), |s| (s.file.0, s.start))
}

impl DiagSink {
    pub(crate) fn push(&mut self, d: RawDiag) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        d.message.hash(&mut h);
        d.span.map(|s| (s.file.0, s.start, s.end)).hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return;
        }
        match d.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        let number = (self.errors + self.warnings) as u64;
        self.items.push((number, d));
        if self.items.len() >= 2 * MAX_SHOWN {
            self.trim();
        }
    }

    /// Keeps the first [`MAX_SHOWN`] diagnostics in source order.
    fn trim(&mut self) {
        self.items.sort_by_key(|(number, d)| (position(d), *number));
        self.items.truncate(MAX_SHOWN);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.errors > 0
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors
    }

    /// Resolves the spans of the diagnostics kept, in order of file, then position.
    pub(crate) fn finish(mut self, sources: &SourceMap) -> Diagnostics {
        self.trim();
        let mut out = Diagnostics::default();
        for (_, d) in self.items {
            let location = match d.span {
                Some(span) => Some(locate(sources, span)),
                None => d.file_name.map(|file| DiagnosticLocation {
                    file,
                    line: 0,
                    column: 0,
                    line_text: String::new(),
                    cut_before: 0,
                    cut_after: false,
                    underline: 0,
                }),
            };
            // A file-only location has no frame: fold it into the message.
            let (message, location) = match location {
                Some(loc) if loc.line == 0 => (format!("{} ({})", d.message, loc.file), None),
                other => (d.message, other),
            };
            out.push(Diagnostic {
                severity: d.severity,
                message,
                location,
                label: d.label,
                help: d.help,
                notes: d
                    .span
                    .map(|s| included_from(sources, s))
                    .unwrap_or_default(),
            });
        }
        let kept_errors = out
            .items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        out.more_errors = self.errors - kept_errors;
        out.more_warnings = self.warnings - (out.items.len() - kept_errors);
        out
    }
}

/// `included from FILE:LINE:COL` for each `include` that led to the file of `span`,
/// innermost first.
fn included_from(sources: &SourceMap, span: Span) -> Vec<String> {
    let mut notes = Vec::new();
    let mut at = sources.file(span.file).included_at;
    while let Some(inc) = at {
        let file = sources.file(inc.file);
        let (line, column) = file.line_col(inc.start as usize);
        notes.push(format!("included from {}:{line}:{column}", file.name));
        at = file.included_at;
        if notes.len() > sources.len() {
            break;
        }
    }
    notes
}

fn locate(sources: &SourceMap, span: Span) -> DiagnosticLocation {
    let file = sources.file(span.file);
    let (line, column) = file.line_col(span.start as usize);
    let whole = file.line_text(line);
    let line_start = file.line_start(line);
    let line_end = line_start + whole.len();
    let end = (span.end as usize).min(line_end).max(span.start as usize);
    let underline = file
        .text
        .get(span.start as usize..end)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        .max(1);
    let (line_text, cut_before, cut_after) = excerpt(whole, column);
    DiagnosticLocation {
        file: file.name.clone(),
        line,
        column,
        line_text: line_text.to_string(),
        cut_before,
        cut_after,
        underline,
    }
}

/// The part of `line` a code frame around `column` (1-based, in characters) can show, the
/// number of characters left out before it and whether some were left out after it: the
/// whole line when it is short, else at most [`FRAME_CONTEXT`] characters before the column
/// and [`FRAME_COLUMNS`] from it (each character takes at least one column of the frame),
/// with one to spare on each side.
fn excerpt(line: &str, column: usize) -> (&str, usize, bool) {
    const WINDOW: usize = FRAME_CONTEXT + FRAME_COLUMNS + 2;
    let caret = column.saturating_sub(1);
    if line.len() <= WINDOW {
        return (line, 0, false);
    }
    let first = caret.saturating_sub(FRAME_CONTEXT + 1);
    let mut bounds = line
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(line.len()))
        .skip(first);
    let Some(from) = bounds.next() else {
        return (line, 0, false);
    };
    let to = bounds
        .nth(caret - first + FRAME_COLUMNS)
        .unwrap_or(line.len());
    (&line[from..to], first, to < line.len())
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = match word.chars().count() {
        0..=2 => 1,
        3..=5 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), so that
/// `thnik` is one edit from `think`.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn edit_distance_table() {
        for (a, b, want) in [
            ("think", "think", 0),
            ("thnik", "think", 1),
            ("thin", "think", 1),
            ("GTE", "GET", 1),
            ("scenraio", "scenario", 1),
            ("", "abc", 3),
            ("capture", "assert", 5),
        ] {
            assert_eq!(edit_distance(a, b), want, "{a} -> {b}");
        }
    }

    #[test]
    fn did_you_mean_picks_closest_within_limit() {
        let kw = ["think", "repeat", "if", "for"];
        assert_eq!(did_you_mean("thnik", kw), Some("think"));
        assert_eq!(did_you_mean("repaet", kw), Some("repeat"));
        assert_eq!(did_you_mean("zzzzzz", kw), None);
    }

    #[test]
    fn renders_the_design_frame() {
        let mut map = SourceMap::default();
        let text =
            "scenario a {\n  GET /\n".to_string() + &"\n".repeat(11) + "  thnik 200ms..1s\n}\n";
        let id = map.add("shop.mol".into(), PathBuf::new(), None, text.clone());
        let start = text.find("thnik").unwrap();
        let mut sink = DiagSink::default();
        sink.push(
            RawDiag::error(Span::new(id, start, start + 5), "unknown statement `thnik`")
                .label("did you mean `think`?"),
        );
        let out = sink.finish(&map).to_string();
        assert_eq!(
            out,
            "error: unknown statement `thnik`\n  --> shop.mol:14:3\n   |\n14 |   thnik 200ms..1s\n   |   ^^^^^ did you mean `think`?\n"
        );
    }

    #[test]
    fn tabs_keep_the_caret_aligned() {
        let mut map = SourceMap::default();
        let id = map.add("t.mol".into(), PathBuf::new(), None, "\tbad x\n".into());
        let mut sink = DiagSink::default();
        sink.push(RawDiag::error(Span::new(id, 1, 4), "m").help("h"));
        let out = sink.finish(&map).to_string();
        assert_eq!(
            out,
            "error: m\n --> t.mol:1:2\n  |\n1 |     bad x\n  |     ^^^\n  = help: h\n"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut map = SourceMap::default();
        let id = map.add(
            "bin.mol".into(),
            PathBuf::new(),
            None,
            "\u{1b}[2J\0x\rbad\n".into(),
        );
        let mut sink = DiagSink::default();
        sink.push(
            RawDiag::error(Span::new(id, 7, 10), "unknown statement `\u{1b}[31m`").label("\u{7}"),
        );
        let out = sink.finish(&map).to_string();
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert_eq!(
            out,
            "error: unknown statement `\u{FFFD}[31m`\n --> bin.mol:1:8\n  |\n1 | \u{FFFD}[2J\u{FFFD}x\u{FFFD}bad\n  |        ^^^ \u{FFFD}\n"
        );
    }

    #[test]
    fn a_file_name_s_control_characters_are_escaped_in_diagnostics_and_locations() {
        // An escape sequence or a newline in a plan's file name: the `-->` line stays one
        // line and drives nothing; the program's locations (report tables, -v lines) too.
        let name = "t\u{1b}]0;x\u{7}\n.mol";
        let shown = "t\\u{1b}]0;x\\u{7}\\n.mol";
        let opts = crate::CompileOptions::default();
        let err = crate::compile_source(
            name,
            "scenario s {\n  thnik 1s\n}\n",
            std::path::Path::new("."),
            &opts,
        )
        .unwrap_err()
        .to_string();
        assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{err:?}");
        assert!(err.contains(&format!("\n --> {shown}:2:3\n")), "{err}");
        let plan = "scenario s {\n  GET http://127.0.0.1:1/\n  check status == 200\n}\n";
        let program = crate::compile_source(name, plan, std::path::Path::new("."), &opts).unwrap();
        assert_eq!(
            program.checks()[0].location.to_string(),
            format!("{shown}:3")
        );
        assert_eq!(
            program.requests()[0].location.to_string(),
            format!("{shown}:2")
        );
    }

    #[test]
    fn a_long_line_is_cut_around_the_caret() {
        let line = format!("{}BAD{}", "a".repeat(5000), "z".repeat(5000));
        let mut map = SourceMap::default();
        let id = map.add("long.mol".into(), PathBuf::new(), None, line.clone() + "\n");
        let mut sink = DiagSink::default();
        sink.push(RawDiag::error(Span::new(id, 5000, 5003), "here"));
        let out = sink.finish(&map).to_string();
        let lines: Vec<&str> = out.lines().collect();
        let shown = lines[3].trim_start_matches("1 | ");
        assert_eq!(shown.chars().count(), FRAME_COLUMNS + 2, "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        // The caret still points at BAD.
        let caret_at = lines[4].find('^').unwrap() - "  | ".len();
        let bad_at = shown.char_indices().position(|(_, c)| c == 'B').unwrap();
        assert_eq!(caret_at, bad_at, "{out}");
        assert_eq!(lines[4].matches('^').count(), 3);
    }

    #[test]
    fn wide_characters_keep_the_caret_under_the_text() {
        // The column stays a character count; the padding counts terminal columns.
        for (line, bad, want_col, want_pad) in [
            ("  X-B: 🎉🎉 {{nope}}", "{{nope}}", 11, 12),
            ("  X-C: 漢字漢字 {{nope}}", "{{nope}}", 13, 16),
            ("  X-D: é {{nope}}", "{{nope}}", 10, 9),
            ("  X-E: 漢 x", "漢", 8, 7),
        ] {
            let mut map = SourceMap::default();
            let id = map.add("w.mol".into(), PathBuf::new(), None, format!("{line}\n"));
            let start = line.find(bad).unwrap();
            let mut sink = DiagSink::default();
            sink.push(RawDiag::error(Span::new(id, start, start + bad.len()), "m").help("h"));
            let out = sink.finish(&map);
            let d = out.iter().next().unwrap();
            assert_eq!(d.location.as_ref().unwrap().column, want_col, "{line}");
            let text = out.to_string();
            let caret_line = text.lines().nth(4).unwrap();
            let carets = caret_line.trim_start_matches("  | ");
            assert_eq!(carets.len() - carets.trim_start().len(), want_pad, "{text}");
            let wide = bad
                .chars()
                .map(|c| UnicodeWidthChar::width(c).unwrap())
                .sum::<usize>();
            assert_eq!(carets.trim(), "^".repeat(wide), "{text}");
        }
    }

    #[test]
    fn a_long_line_with_a_repeated_mistake_gives_a_bounded_report() {
        // 12,000 mistakes on one 108 KB line: each was a diagnostic holding a copy of the
        // whole line (1.3 GB), all printed (4.7 MB).
        let line = format!("  X-A: {}", "{{nope}} ".repeat(12_000));
        let mut map = SourceMap::default();
        let id = map.add("h.mol".into(), PathBuf::new(), None, line.clone() + "\n");
        let mut sink = DiagSink::default();
        for (at, _) in line
            .match_indices("{{nope}}")
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            sink.push(RawDiag::error(Span::new(id, at, at + 8), "unknown `nope`"));
            // Found again through another path: counted once.
            sink.push(RawDiag::error(Span::new(id, at, at + 8), "unknown `nope`"));
        }
        sink.push(RawDiag::warning(Span::new(id, 2, 5), "w"));
        assert_eq!(sink.error_count(), 12_000);
        assert!(sink.items.len() < 2 * MAX_SHOWN);
        let out = sink.finish(&map);
        assert_eq!(out.error_count(), 12_000);
        assert_eq!(out.len(), MAX_SHOWN);
        assert_eq!(out.omitted(), (12_000 - MAX_SHOWN + 1, 0));
        // The first ones in source order, found last.
        let first = out.iter().next().unwrap().location.as_ref().unwrap();
        assert_eq!((first.line, first.column), (1, 3));
        let second = out.iter().nth(1).unwrap().location.as_ref().unwrap();
        assert_eq!(second.column, 8);
        for d in &out {
            let loc = d.location.as_ref().unwrap();
            assert!(
                loc.line_text.len() <= 2 * FRAME_COLUMNS,
                "{}",
                loc.line_text.len()
            );
        }
        let text = out.to_string();
        assert!(text.len() < 50_000, "{} bytes", text.len());
        assert!(
            text.ends_with(&format!(
                "\n\nerror: {} more errors not shown (the first {MAX_SHOWN} problems are shown above)\n",
                12_000 - MAX_SHOWN + 1
            )),
            "{}",
            &text[text.len() - 300..]
        );
    }

    #[test]
    fn a_frame_of_an_excerpt_is_the_frame_of_the_whole_line() {
        // The line a diagnostic keeps is cut before the frame is made: the frame is the same.
        let lines = [
            format!("{}BAD{}", "a".repeat(5000), "z".repeat(5000)),
            format!("{}BAD{}", "漢".repeat(300), "é\t".repeat(300)),
            format!("{}x", "e\u{301}".repeat(400)),
            "\tshort line".to_string(),
            "😀".repeat(250),
        ];
        for line in &lines {
            let count = line.chars().count();
            for column in (1..=count + 1).step_by(7).chain([count, count + 1]) {
                for underline in [1, 3, 500] {
                    let want = Frame::of(line, column, underline, (false, false));
                    let (part, before, after) = excerpt(line, column);
                    let got = Frame::of(part, column - before, underline, (before > 0, after));
                    assert_eq!(
                        (got.shown, got.pad, got.carets),
                        (want.shown, want.pad, want.carets),
                        "column {column} of a line of {count}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_long_line_of_wide_characters_is_cut_by_columns() {
        let line = format!("{}BAD{}", "漢".repeat(3000), "字".repeat(3000));
        let mut map = SourceMap::default();
        let id = map.add("long.mol".into(), PathBuf::new(), None, line.clone() + "\n");
        let at = line.find("BAD").unwrap();
        let mut sink = DiagSink::default();
        sink.push(RawDiag::error(Span::new(id, at, at + 3), "here"));
        let out = sink.finish(&map).to_string();
        let lines: Vec<&str> = out.lines().collect();
        let shown = lines[3].trim_start_matches("1 | ");
        let columns: usize = shown
            .chars()
            .map(|c| UnicodeWidthChar::width(c).unwrap())
            .sum();
        assert!(columns <= FRAME_COLUMNS + 2, "{columns} columns: {shown}");
        assert!(columns >= FRAME_COLUMNS - 1, "{columns} columns: {shown}");
        // The caret is under BAD, counted in columns.
        let caret_at = lines[4].find('^').unwrap() - "  | ".len();
        let before: usize = shown[..shown.find("BAD").unwrap()]
            .chars()
            .map(|c| UnicodeWidthChar::width(c).unwrap())
            .sum();
        assert_eq!(caret_at, before, "{out}");
    }
}
