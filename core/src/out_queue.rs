//! Output that must never hold up the run: the master's live lines (`-c` progress, `-v`
//! failures, notices) and the load processes' `-vv` dumps go to stdout or stderr, which may be
//! a pipe or a terminal that nobody reads for a while (`molotov -c ... | less` once the screen
//! is full, a terminal paused with Ctrl-S, a stalled ssh session). A blocking write there used
//! to freeze the master's only loop (signals, the deadline and `--grace` not kept, the report's
//! duration taken late) or a load process's executor in the middle of its requests.
//!
//! A [`Queue`] keeps whole lines (a bounded backlog) and hands the stream only what it takes
//! at once; a line that does not fit in the backlog is dropped and counted, and the count is
//! written (`(N progress lines dropped: the output was not being read)`) as soon as the
//! backlog is out. Writes never block:
//!
//! - a pipe, a FIFO or a terminal is written through a descriptor of its own, opened again
//!   through `/proc/self/fd` with `O_NONBLOCK`: a new open file description, so the flag does
//!   not reach the shell's, the terminal's or the other processes' (setting `O_NONBLOCK` on
//!   the inherited descriptor would);
//! - a socket with `send(MSG_DONTWAIT)`;
//! - a regular file or a device such as `/dev/null` as it is (writing one does not wait for a
//!   reader);
//! - anything else, or when the stream cannot be opened again: only after `poll` says it is
//!   writable, and at most `PIPE_BUF` bytes at a time.
//!
//! A write of whole lines of at most `PIPE_BUF` bytes to a pipe is never interleaved with the
//! lines other processes write to it.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Bytes a pipe writes whole, never interleaved with other writers (POSIX `PIPE_BUF`).
const PIPE_BUF: usize = 4096;

/// How the bytes reach the stream without blocking.
#[derive(Debug)]
enum Way {
    /// A regular file, or a device that never makes a writer wait.
    Direct,
    /// A pipe, FIFO or terminal opened again, non-blocking.
    Own(OwnedFd),
    /// A socket.
    Socket,
    /// `poll` first, then at most `PIPE_BUF` bytes.
    Polled,
}

/// Writes to one of the process's descriptors (1 or 2) without ever blocking.
#[derive(Debug)]
pub struct Writer {
    fd: RawFd,
    way: Way,
}

/// `fd` opened again, non-blocking, as a new open file description.
fn reopen(fd: RawFd) -> Option<OwnedFd> {
    use nix::fcntl::{OFlag, open};
    open(
        format!("/proc/self/fd/{fd}").as_str(),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
}

impl Writer {
    /// A writer for descriptor `fd` (the stream is looked at once, now).
    pub fn new(fd: RawFd) -> Writer {
        // SAFETY: fstat(2) fills the zeroed struct it is given; an invalid descriptor is an
        // error, not undefined behaviour.
        let mode = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            (libc::fstat(fd, &mut st) == 0).then_some(st.st_mode & libc::S_IFMT)
        };
        // SAFETY: isatty(3) only queries the descriptor.
        let tty = unsafe { libc::isatty(fd) } == 1;
        let way = match mode {
            Some(libc::S_IFREG | libc::S_IFBLK) => Way::Direct,
            Some(libc::S_IFCHR) if !tty => Way::Direct,
            Some(libc::S_IFSOCK) => Way::Socket,
            Some(libc::S_IFIFO | libc::S_IFCHR) => reopen(fd).map_or(Way::Polled, Way::Own),
            _ => Way::Polled,
        };
        Writer { fd, way }
    }

    /// The descriptor to wait on for writability.
    fn poll_fd(&self) -> RawFd {
        match &self.way {
            Way::Own(own) => own.as_raw_fd(),
            _ => self.fd,
        }
    }

    /// Writes as much of `bytes` as the stream takes now: `Ok(0)` when it takes nothing now,
    /// an error when it is broken (its reader gone, a closed terminal, a full disk).
    pub fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        if bytes.is_empty() {
            return Ok(0);
        }
        let (fd, bytes) = match &self.way {
            Way::Direct => (self.fd, bytes),
            Way::Own(own) => (own.as_raw_fd(), bytes),
            Way::Socket => {
                // SAFETY: send(2) reads `bytes.len()` bytes from a live slice.
                let n = unsafe {
                    libc::send(
                        self.fd,
                        bytes.as_ptr().cast(),
                        bytes.len(),
                        libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                    )
                };
                return written(n);
            }
            Way::Polled => {
                if !writable(self.fd, 0) {
                    return Ok(0);
                }
                (self.fd, &bytes[..bytes.len().min(PIPE_BUF)])
            }
        };
        // SAFETY: write(2) reads `bytes.len()` bytes from a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        written(n)
    }
}

/// The result of a write or send that returned `n`: would-block and EINTR are 0 bytes.
fn written(n: isize) -> io::Result<usize> {
    if n >= 0 {
        return Ok(n as usize);
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
        _ => Err(e),
    }
}

/// Whether `fd` can be written to, waiting up to `timeout_ms` (-1: for as long as it takes).
fn writable(fd: RawFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll(2) on one pollfd that lives for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    // An error or a hang-up counts as writable: the write then says what is wrong.
    n != 0
}

/// A stream written as if it were blocking, whatever the flags of its open file description:
/// a write that would block (`EAGAIN`: the description is non-blocking, as a libuv or Node.js
/// parent, or a program that left its terminal so, hands it down) waits with `poll` until the
/// stream takes bytes again, then goes on. For the final report, which must reach its reader
/// whole however late it reads. The flags are not changed: the description is shared with the
/// parent and the processes it started.
#[derive(Debug)]
pub struct Waiting<W>(pub W);

impl<W: io::Write + AsRawFd> io::Write for Waiting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    writable(self.0.as_raw_fd(), -1);
                }
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.0.flush() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    writable(self.0.as_raw_fd(), -1);
                }
                other => return other,
            }
        }
    }
}

/// A bounded backlog of whole lines for one stream, written without blocking.
#[derive(Debug)]
pub struct Queue {
    writer: Writer,
    pending: Vec<u8>,
    /// Of `pending`, bytes already written (a partial write to a terminal).
    sent: usize,
    capacity: usize,
    dropped: u64,
    /// The line that says how many lines were dropped (with its newline).
    note: fn(u64) -> String,
    /// The stream broke (its reader is gone): nothing more is written.
    broken: bool,
}

impl Queue {
    /// A queue for descriptor `fd` keeping at most `capacity` bytes; `note(n)` is the line
    /// (with its newline) that says that `n` lines were dropped.
    pub fn new(fd: RawFd, capacity: usize, note: fn(u64) -> String) -> Queue {
        Queue {
            writer: Writer::new(fd),
            pending: Vec::new(),
            sent: 0,
            capacity,
            dropped: 0,
            note,
            broken: false,
        }
    }

    /// Queues `text` (whole lines, ending with a newline) unless the backlog has no room for
    /// it (it is then dropped and counted), and writes what the stream takes now.
    pub fn push(&mut self, text: &str) {
        if self.broken {
            return;
        }
        self.pump();
        if self.pending.len() - self.sent + text.len() > self.capacity {
            self.dropped += 1;
        } else {
            self.pending.extend_from_slice(text.as_bytes());
        }
        self.pump();
    }

    /// Lines dropped and not yet said.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether lines wait to be written.
    pub fn is_empty(&self) -> bool {
        self.sent == self.pending.len()
    }

    /// Writes what the stream takes now, without blocking; once the backlog is out, the
    /// note about the lines dropped (if any).
    pub fn pump(&mut self) {
        while !self.broken {
            if self.is_empty() {
                self.pending.clear();
                self.sent = 0;
                if self.dropped == 0 {
                    return;
                }
                let note = (self.note)(self.dropped);
                self.dropped = 0;
                self.pending.extend_from_slice(note.as_bytes());
            }
            let rest = &self.pending[self.sent..];
            match self.writer.write_now(&rest[..chunk(rest)]) {
                Ok(0) => return,
                Ok(n) => self.sent += n,
                Err(_) => {
                    // The reader is gone: what it did not read is lost, and so is the rest.
                    self.broken = true;
                    self.pending = Vec::new();
                    self.sent = 0;
                }
            }
        }
    }

    /// Writes the backlog and the note, waiting for the stream as long as it takes: for the
    /// end of the run, once nothing else is held up by it.
    pub fn drain(&mut self) {
        loop {
            self.pump();
            if self.broken || (self.is_empty() && self.dropped == 0) {
                return;
            }
            writable(self.writer.poll_fd(), -1);
        }
    }
}

/// How much of `rest` to write at once: at most `PIPE_BUF` bytes, ending after a newline
/// when there is one in them (whole lines are never interleaved with another writer's).
fn chunk(rest: &[u8]) -> usize {
    if rest.len() <= PIPE_BUF {
        return rest.len();
    }
    match rest[..PIPE_BUF].iter().rposition(|&b| b == b'\n') {
        Some(at) => at + 1,
        None => PIPE_BUF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    fn pipe() -> (std::fs::File, OwnedFd) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (std::fs::File::from(r), w)
    }

    fn read_all(r: &mut std::fs::File) -> String {
        nix::fcntl::fcntl(
            &*r,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn waiting_writes_whole_through_a_non_blocking_pipe_read_late() {
        use std::io::Write;
        let (mut r, w) = pipe();
        // Non-blocking as a parent may hand it down (a plain write_all stops at the pipe's
        // 64 KiB with EAGAIN), and 190 KB to write before the reader comes.
        nix::fcntl::fcntl(
            &w,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let expected = text.clone();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut out).unwrap();
            out
        });
        let mut waiting = Waiting(std::fs::File::from(w));
        waiting.write_all(text.as_bytes()).unwrap();
        waiting.flush().unwrap();
        drop(waiting);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected.as_bytes());
    }

    #[test]
    fn chunks_end_after_a_newline_within_pipe_buf() {
        assert_eq!(chunk(b"abc"), 3);
        let mut long = vec![b'a'; 5000];
        long[100] = b'\n';
        long[3000] = b'\n';
        assert_eq!(chunk(&long), 3001);
        assert_eq!(chunk(&[b'x'; 9000]), PIPE_BUF);
    }

    #[test]
    fn a_full_pipe_drops_lines_and_says_so_once_read() {
        let (mut r, w) = pipe();
        let mut q = Queue::new(w.as_raw_fd(), 1000, |n| {
            format!("({n} progress lines dropped: the output was not being read)\n")
        });
        // The pipe's own buffer fills first (64 KiB), then the queue's 1000 bytes.
        let line = format!("{}\n", "x".repeat(99));
        for _ in 0..2000 {
            q.push(&line);
        }
        assert!(q.dropped() > 0);
        let dropped = q.dropped();
        // The reader catches up: the backlog, then the note.
        let first = read_all(&mut r);
        q.pump();
        let second = read_all(&mut r);
        assert!(first.lines().all(|l| l == line.trim_end()), "{first}");
        assert_eq!(
            second.lines().filter(|l| *l == line.trim_end()).count(),
            10,
            "{second}"
        );
        assert!(
            second.ends_with(&format!(
                "({dropped} progress lines dropped: the output was not being read)\n"
            )),
            "{second}"
        );
        assert_eq!(q.dropped(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn a_pipe_whose_reader_is_gone_breaks_the_queue_without_blocking() {
        let (r, w) = pipe();
        drop(r);
        let mut q = Queue::new(w.as_raw_fd(), 1000, |n| format!("{n}\n"));
        q.push("a\n");
        q.push("b\n");
        q.drain();
        assert!(q.broken);
    }

    #[test]
    fn the_inherited_descriptor_stays_blocking() {
        let (mut r, w) = pipe();
        let mut q = Queue::new(w.as_raw_fd(), 1000, |n| format!("{n}\n"));
        q.push("one\n");
        let flags = nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        assert_eq!(flags & libc::O_NONBLOCK, 0);
        assert_eq!(read_all(&mut r), "one\n");
    }
}
