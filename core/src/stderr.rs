//! Writing to standard error without ever panicking: `eprintln!` panics when stderr is
//! closed (`2>&-`) or full (`2>/dev/full`); a load tester's warnings must not end its run.
//!
//! Each message is formatted first and written with one `write`: the load processes share
//! one stderr (a terminal, or the pipe the live view reads), and `std`'s unbuffered stderr
//! writes a formatted message piece by piece, so two processes failing at the same moment
//! would cut into each other's lines. One write of up to `PIPE_BUF` (4 KiB) bytes to a pipe
//! is never interleaved with another.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};

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
/// less), ignoring failures. In a load process (after [`drop_when_full`]) the write never
/// waits: what the pipe to the master does not take now is dropped and counted.
pub fn write_whole(text: &str) {
    use std::io::Write as _;
    if let Some(dropped) = DROPPED.get() {
        write_or_drop(text.as_bytes(), dropped);
        return;
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Where a load process counts the lines it dropped (its slot's `Meta::StderrDropped`);
/// unset elsewhere.
static DROPPED: std::sync::OnceLock<&'static AtomicU64> = std::sync::OnceLock::new();

/// A line was cut by a full pipe: the next write ends it first, so that the master does not
/// join it with the next line.
static CUT: AtomicBool = AtomicBool::new(false);

/// Makes this process's stderr (the pipe to the master, which a load process shares with
/// the others) non-blocking, and every later [`write_whole`] drop and count in `dropped`
/// what the pipe does not take now. A load process's live output (a plan's `log` lines
/// under `-v`, `-vv` dumps, notices) never waits for the master: with the master held up
/// (stopped, starved of CPU) the pipe filled, and every load process blocked in `write`
/// with its requests, the load stopped and ended late. Call once, in a load process, after
/// its stderr became the pipe.
pub fn drop_when_full(dropped: &'static AtomicU64) -> std::io::Result<()> {
    // SAFETY: fcntl(2) on descriptor 2 with integer arguments only.
    let flags = unsafe { libc::fcntl(libc::STDERR_FILENO, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    let set = unsafe { libc::fcntl(libc::STDERR_FILENO, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    if set < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let _ = DROPPED.set(dropped);
    Ok(())
}

/// Writes `bytes` to descriptor 2 as far as it takes them now; counts the lines of what it
/// did not take in `dropped`. A message of up to `PIPE_BUF` bytes goes whole or not at all.
fn write_or_drop(bytes: &[u8], dropped: &AtomicU64) {
    let lines = |rest: &[u8]| (rest.iter().filter(|&&b| b == b'\n').count() as u64).max(1);
    if CUT.load(Relaxed) {
        if write_some(b"\n") != Some(1) {
            dropped.fetch_add(lines(bytes), Relaxed);
            return;
        }
        CUT.store(false, Relaxed);
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        match write_some(rest) {
            Some(n) if n > 0 => rest = &rest[n..],
            _ => {
                CUT.store(rest.len() < bytes.len(), Relaxed);
                dropped.fetch_add(lines(rest), Relaxed);
                return;
            }
        }
    }
}

/// One `write(2)` of `bytes` to descriptor 2, retried on EINTR; None on any other failure
/// (EAGAIN: the pipe is full).
fn write_some(bytes: &[u8]) -> Option<usize> {
    loop {
        // SAFETY: `bytes` is a valid buffer of `bytes.len()` bytes for the call.
        let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 {
            return Some(n as usize);
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}
