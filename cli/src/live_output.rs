//! The master's live output: the progress lines (`-c`), the `-v` failures and the notices it
//! prints while the load runs, on stdout or stderr, never with a blocking write.
//!
//! The master has one loop for everything (its signals, the deadline, `--grace`, the children's
//! ends): a write that waits for a reader who stopped reading (`molotov -c ... | less`, a
//! terminal paused with Ctrl-S, a stalled ssh session) used to freeze it, so that SIGTERM and
//! Ctrl-C went unheeded and the report's duration and rates came out wrong. The lines now go
//! through a bounded queue per stream ([`molotov_core::out_queue`]): what the stream does not
//! take stays queued, what does not fit is dropped and counted, and the count is said
//! (`(N progress lines dropped: the output was not being read)`) once the stream takes it. At
//! the end of the run, [`drain`] writes what is left, waiting for the reader as the report
//! itself does.

use std::cell::RefCell;

use molotov_core::out_queue::Queue;

use crate::console::Stream;

/// Bytes of lines kept for a stream that does not take them (about a hundred lines).
const BACKLOG: usize = 16 * 1024;

thread_local! {
    // The master is single-threaded: its queues are this thread's.
    static STDOUT: RefCell<Option<Queue>> = const { RefCell::new(None) };
    static STDERR: RefCell<Option<Queue>> = const { RefCell::new(None) };
}

fn with_queue(stream: Stream, f: impl FnOnce(&mut Queue)) {
    let (cell, fd, note): (_, _, fn(u64) -> String) = match stream {
        Stream::Stdout => (&STDOUT, 1, |n| {
            format!("({n} progress lines dropped: the output was not being read)\n")
        }),
        Stream::Stderr => (&STDERR, 2, |n| {
            format!("molotov: ({n} lines dropped: stderr was not being read)\n")
        }),
    };
    cell.with(|q| {
        let mut q = q.borrow_mut();
        f(q.get_or_insert_with(|| Queue::new(fd, BACKLOG, note)));
    });
}

/// Prints `line` (a newline is added) on `stream` without blocking: queued when the stream
/// does not take it now, dropped (and counted) when the queue is full.
pub fn line(stream: Stream, line: &str) {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    with_queue(stream, |q| q.push(&text));
}

/// Writes what is still queued on both streams, and the count of the lines dropped, waiting
/// for the streams to take it: at the end of the run, before the text report.
pub fn drain() {
    for cell in [&STDOUT, &STDERR] {
        cell.with(|q| {
            if let Some(q) = q.borrow_mut().as_mut() {
                q.drain();
            }
        });
    }
}
