//! Text from a plan or a server made safe for a terminal: control characters (escape
//! sequences, CR, NUL...) are shown as Rust escapes (`\r`, `\u{1b}`), so a request name, a
//! header value, a body or a plan's file name cannot move the cursor, clear the screen or
//! hide a line. (`molotov_core::printable` is this function; the compiler uses it for the
//! file names it shows.)

use std::borrow::Cow;
use std::path::Path;

/// `text` with every control character but the tab escaped; borrowed when there is none.
/// The result holds no control character but the tab, so escaping it again changes nothing.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path for a message: its text (bytes that are not UTF-8 shown as `\u{fffd}`) with every
/// control character but the tab escaped, as [`printable`] does. A path typed by a user
/// (`--json`, `--config`) can hold an escape sequence as well as a plan's name can.
pub fn printable_path(path: &Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        for (text, want) in [
            ("GET /json", "GET /json"),
            ("GET /json\rx", "GET /json\\rx"),
            ("a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
            ("nul\0", "nul\\0"),
            ("line\nnext", "line\\nnext"),
            ("tab\tkept, é and 漢 too", "tab\tkept, é and 漢 too"),
            ("\u{7f}\u{9b}", "\\u{7f}\\u{9b}"),
        ] {
            assert_eq!(printable(text), want, "{text:?}");
        }
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        let once = printable("t\u{1b}]0;x\u{7}\n.mol").into_owned();
        assert_eq!(printable(&once), once);
    }
}
