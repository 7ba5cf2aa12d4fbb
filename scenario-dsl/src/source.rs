//! Source files of one compilation and byte spans into them.
//!
//! Every plan file (the root and each `include`d file) is stored once in a [`SourceMap`];
//! the rest of the compiler refers to text by [`Span`] (file id + byte range), and turns a
//! span into `file:line:col` and a source line only when it builds a diagnostic or a
//! [`Location`](crate::Location).

use std::path::PathBuf;

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FileId(pub(crate) u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) file: FileId,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// The smallest span covering `self` and `other` (same file).
    pub(crate) fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One loaded source file.
#[derive(Debug)]
pub(crate) struct SourceFile {
    /// The name shown in diagnostics and locations (`plans/shop.mol`), its control
    /// characters escaped ([`crate::printable`]): it reaches terminals.
    pub(crate) name: String,
    /// Where relative `include` and `file` paths are resolved.
    pub(crate) dir: PathBuf,
    /// The canonical path when the file came from disk (include-cycle detection).
    pub(crate) canonical: Option<PathBuf>,
    pub(crate) text: String,
    /// For an included file: the `include` that brought it in (in the including file).
    pub(crate) included_at: Option<Span>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// The 1-based line and column (in characters) of byte offset `pos`.
    pub(crate) fn line_col(&self, pos: usize) -> (usize, usize) {
        let pos = pos.min(self.text.len());
        let line = match self.line_starts.binary_search(&pos) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..pos)
            .map(|s| s.chars().count())
            .unwrap_or(0);
        (line + 1, col + 1)
    }

    /// The text of 1-based line `line`, without its line terminator.
    pub(crate) fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// Byte offset where 1-based line `line` starts.
    pub(crate) fn line_start(&self, line: usize) -> usize {
        self.line_starts[line - 1]
    }
}

/// All files of one compilation.
#[derive(Debug, Default)]
pub(crate) struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub(crate) fn add(
        &mut self,
        name: String,
        dir: PathBuf,
        canonical: Option<PathBuf>,
        text: String,
    ) -> FileId {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(SourceFile {
            // A file may be named with an escape sequence or a newline: shown escaped, it
            // cannot drive the terminal or split a `--> file:line:col` line.
            name: crate::printable(&name).into_owned(),
            dir,
            canonical,
            text,
            included_at: None,
            line_starts,
        });
        FileId(self.files.len() as u32 - 1)
    }

    /// Records that `id` was included by the `include` at `at`.
    pub(crate) fn set_included_at(&mut self, id: FileId, at: Span) {
        self.files[id.0 as usize].included_at = Some(at);
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    pub(crate) fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub(crate) fn text(&self, span: Span) -> &str {
        let text = &self.file(span.file).text;
        text.get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    pub(crate) fn find_canonical(&self, path: &std::path::Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.canonical.as_deref() == Some(path))
            .map(|i| FileId(i as u32))
    }
}

/// Byte offset in `text` where its trailing run of characters that `keep` accepts begins
/// (`text.len()` when the last character is not one of them).
///
/// The slice from there is always on a character boundary, whatever comes before the run
/// (`rfind(..) + 1` is not, when the character it found is wider than one byte).
pub(crate) fn trailing_run_start(text: &str, keep: impl Fn(char) -> bool) -> usize {
    let run: usize = text
        .chars()
        .rev()
        .take_while(|&c| keep(c))
        .map(char::len_utf8)
        .sum();
    text.len() - run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let mut map = SourceMap::default();
        let id = map.add("t.mol".into(), PathBuf::new(), None, "ab\nçd e\n".into());
        let f = map.file(id);
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // `ç` is two bytes but one column.
        assert_eq!(f.line_col(6), (2, 3));
        assert_eq!(f.line_text(2), "çd e");
        assert_eq!(f.line_col(100), (3, 1));
    }
}
