//! Text from a plan or a server made safe for a terminal: control characters (escape
//! sequences, CR, NUL...) are shown as Rust escapes (`\r`, `\u{1b}`), so a request name, a
//! header value or a body cannot move the cursor, clear the screen or hide a line.
//!
//! The function lives in `molotov_dsl`, whose compiler escapes the file names it shows the
//! same way (a plan's `Location`s and diagnostics).

pub use molotov_dsl::{printable, printable_path};
