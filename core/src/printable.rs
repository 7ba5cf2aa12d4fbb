//! Text from a plan or a server made safe for a terminal: control characters (escape
//! sequences, CR, NUL...) are shown as Rust escapes (`\r`, `\u{1b}`), so a request name, a
//! header value or a body cannot move the cursor, clear the screen or hide a line.
//!
//! The function lives in `molotov_dsl`, whose compiler escapes the file names it shows the
//! same way (a plan's `Location`s and diagnostics). [`cut_point`] says where to cut bytes
//! that are shown as text, so a character is not split in two U+FFFD.

pub use molotov_dsl::{printable, printable_path};

/// Where to cut `bytes` to keep at most `max` of them: `max`, moved back to the start of a
/// UTF-8 character that would straddle it (at most 3 bytes), so valid text is cut between
/// two characters. Bytes that are not UTF-8 there are cut at `max` as they are. `bytes.len()`
/// when they fit.
pub fn cut_point(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    for back in 1..=3.min(max) {
        let start = max - back;
        let width = match bytes[start] {
            0x00..=0x7f => return max,
            0x80..=0xbf => continue,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        let whole = bytes
            .get(start..start + width)
            .is_some_and(|c| std::str::from_utf8(c).is_ok());
        return if back < width && whole { start } else { max };
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_between_characters() {
        let text = "aé€😀".as_bytes(); // 1 + 2 + 3 + 4 bytes
        for (max, want) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 3),
            (4, 3),
            (5, 3),
            (6, 6),
            (7, 6),
        ] {
            assert_eq!(cut_point(text, max), want, "max {max}");
        }
        for max in 7..10 {
            assert_eq!(cut_point(text, max), 6, "max {max}");
        }
        assert_eq!(cut_point(text, 10), 10);
        assert_eq!(cut_point(text, 99), 10);
        // Not UTF-8 at the cut: cut where asked.
        assert_eq!(cut_point(b"ab\xe2\x82zz", 3), 3);
        assert_eq!(cut_point(b"ab\x82\x82\x82\x82", 4), 4);
    }
}
