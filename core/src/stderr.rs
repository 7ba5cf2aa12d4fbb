//! Writing to standard error without ever panicking: `eprintln!` panics when stderr is
//! closed (`2>&-`) or full (`2>/dev/full`); a load tester's warnings must not end its run.
//!
//! Each message is formatted first and written with one `write`: the load processes share
//! one stderr (a terminal, or the pipe the live view reads), and `std`'s unbuffered stderr
//! writes a formatted message piece by piece, so two processes failing at the same moment
//! would cut into each other's lines. One write of up to `PIPE_BUF` (4 KiB) bytes to a pipe
//! is never interleaved with another.

/// Like `eprintln!`, but a failed write to stderr is ignored instead of panicking, and the
/// line goes out in one write.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        let mut line = ::std::format!($($arg)*);
        line.push('\n');
        $crate::stderr::write_whole(&line);
    }};
}

/// Like `eprint!`, but a failed write to stderr is ignored instead of panicking, and the
/// text goes out in one write.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {{
        $crate::stderr::write_whole(&::std::format!($($arg)*));
    }};
}

/// Writes `text` to stderr with a single `write_all` (one `write` unless the kernel takes
/// less), ignoring failures.
pub fn write_whole(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
