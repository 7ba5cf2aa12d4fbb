//! `-vv`: request and response dumps from the children, on stderr, rate-limited per process
//! and with bodies truncated, so a fast run cannot flood the terminal.
//!
//! A dump never makes the process wait for stderr's reader: it goes through a bounded queue
//! written without blocking ([`crate::out_queue`]). A stderr nobody reads (`-vv ... 2>&1 |
//! less` once the screen is full) used to freeze the load process's executor in the middle of
//! its requests, past the deadline and into the grace period; the dumps that do not fit are
//! now dropped and counted (`... N exchanges not shown (stderr was not being read)`), and the
//! load goes on.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::time::Instant;

use crate::out_queue::Queue;

use molotov_http::{Error, Response};

use crate::printable::printable;

/// Exchanges printed per second and process at most.
pub const PER_SECOND: u32 = 5;
/// Bytes of a body shown at most.
pub const BODY_BYTES: usize = 1024;
/// Bytes of dumps kept for a stderr that does not take them now.
const BACKLOG: usize = 64 * 1024;

/// The per-process limiter.
#[derive(Debug)]
pub struct Dumper {
    window: Cell<Instant>,
    printed: Cell<u32>,
    skipped: Cell<u64>,
    /// stderr, written without blocking (opened at the first dump, in the load process).
    out: RefCell<Option<Queue>>,
}

impl Default for Dumper {
    fn default() -> Self {
        Dumper::new()
    }
}

impl Dumper {
    /// A limiter with an empty window.
    pub fn new() -> Dumper {
        Dumper {
            window: Cell::new(Instant::now()),
            printed: Cell::new(0),
            skipped: Cell::new(0),
            out: RefCell::new(None),
        }
    }

    fn admit(&self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window.get()).as_secs() >= 1 {
            self.window.set(now);
            self.printed.set(0);
        }
        if self.printed.get() >= PER_SECOND {
            self.skipped.set(self.skipped.get() + 1);
            return false;
        }
        self.printed.set(self.printed.get() + 1);
        true
    }

    /// Prints one exchange if the rate allows.
    pub fn exchange(&self, request: &[u8], result: &Result<Response<'_>, Error>) {
        if !self.admit() {
            return;
        }
        let mut out = String::new();
        let skipped = self.skipped.replace(0);
        if skipped > 0 {
            let _ = writeln!(
                out,
                "... {skipped} exchanges not shown (at most {PER_SECOND}/s per process)"
            );
        }
        let (head, body) = split_head(request);
        for line in String::from_utf8_lossy(head).lines() {
            let _ = writeln!(out, "> {}", printable(line));
        }
        push_body(&mut out, "> ", body);
        match result {
            Ok(resp) => {
                let _ = writeln!(out, "< HTTP/1.1 {}", resp.status());
                for (name, value) in resp.headers() {
                    let value = String::from_utf8_lossy(value);
                    let _ = writeln!(out, "< {name}: {}", printable(&value));
                }
                let _ = writeln!(out, "<");
                push_body(&mut out, "< ", resp.body());
                let _ = writeln!(out, "({:?})", resp.timings().total);
            }
            Err(e) => {
                let _ = writeln!(out, "! {} ({})", e, e.kind().as_str());
            }
        }
        self.out
            .borrow_mut()
            .get_or_insert_with(|| {
                Queue::new(2, BACKLOG, |n| {
                    format!("... {n} exchanges not shown (stderr was not being read)\n")
                })
            })
            .push(&out);
    }

    /// At the end of the process: writes what stderr takes now of the dumps still queued
    /// (never waiting: the process must end on time; what stderr does not take is lost).
    pub fn finish(&self) {
        if let Some(q) = self.out.borrow_mut().as_mut() {
            q.pump();
        }
    }
}

fn split_head(request: &[u8]) -> (&[u8], &[u8]) {
    match request.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&request[..at], &request[at + 4..]),
        None => (request, &[]),
    }
}

fn push_body(out: &mut String, prefix: &str, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    // Cut between two characters: a U+FFFD is a byte that is not UTF-8, not the cut.
    let shown = &body[..crate::printable::cut_point(body, BODY_BYTES)];
    // A binary body shows as escapes and U+FFFD, never as raw bytes on the terminal.
    for line in String::from_utf8_lossy(shown).lines() {
        let _ = writeln!(out, "{prefix}{}", printable(line));
    }
    if body.len() > shown.len() {
        let _ = writeln!(out, "{prefix}... ({} more bytes)", body.len() - shown.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_bodies_split_at_the_blank_line() {
        assert_eq!(
            split_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"),
            (&b"GET / HTTP/1.1\r\nHost: a"[..], &b"body"[..])
        );
        assert_eq!(split_head(b"GET /"), (&b"GET /"[..], &b""[..]));
    }

    #[test]
    fn rate_is_limited_per_window() {
        let d = Dumper::new();
        let admitted = (0..20).filter(|_| d.admit()).count();
        assert_eq!(admitted, PER_SECOND as usize);
        assert_eq!(d.skipped.get(), 20 - u64::from(PER_SECOND));
    }

    #[test]
    fn a_long_body_is_cut_between_two_characters() {
        let mut body = vec![b'a'; BODY_BYTES - 1];
        body.extend_from_slice("é€".as_bytes());
        let mut out = String::new();
        push_body(&mut out, "< ", &body);
        let want = format!("< {}\n< ... (5 more bytes)\n", "a".repeat(BODY_BYTES - 1));
        assert_eq!(out, want);
    }

    #[test]
    fn control_characters_in_bodies_are_escaped() {
        let mut out = String::new();
        push_body(&mut out, "< ", b"ok\x1b[2J\x00\xff\r\nnext");
        assert_eq!(out, "< ok\\u{1b}[2J\\0\u{FFFD}\n< next\n");
    }

    #[test]
    fn long_bodies_are_truncated() {
        let mut out = String::new();
        push_body(&mut out, "< ", &vec![b'a'; BODY_BYTES + 10]);
        assert!(out.ends_with("< ... (10 more bytes)\n"), "{out}");
    }
}
