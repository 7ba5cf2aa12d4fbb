//! The load children's stderr, captured through a pipe while a full-screen view owns the
//! terminal: children `dup2` the write end onto their stderr, the master polls the read end
//! and hands each complete line to its observer (which shows it on the screen and prints it
//! once the screen is gone) instead of letting the children scribble over the view.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Longest line kept whole; a longer one is cut into lines of this length.
pub const MAX_LINE: usize = 4096;

/// The pipe: the master keeps the read end, children get the write end as their stderr.
#[derive(Debug)]
pub struct ChildOutput {
    read: File,
    write: Option<OwnedFd>,
    pending: Vec<u8>,
    closed: bool,
}

impl ChildOutput {
    /// Opens the pipe (both ends close-on-exec; the read end non-blocking).
    pub fn open() -> std::io::Result<ChildOutput> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        nix::fcntl::fcntl(
            &read,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )?;
        Ok(ChildOutput {
            read: File::from(read),
            write: Some(write),
            pending: Vec::new(),
            closed: false,
        })
    }

    /// The write end, for a child to make its stderr with [`redirect_stderr`]; None once the
    /// master closed it.
    pub fn write_fd(&self) -> Option<RawFd> {
        self.write.as_ref().map(|w| w.as_raw_fd())
    }

    /// The master closes its write end once every child that writes here is forked, so that
    /// the read end sees the end of the stream when the last of them is gone.
    pub fn close_write_end(&mut self) {
        self.write = None;
    }

    /// The descriptor to poll; None after the end of the stream.
    pub fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        (!self.closed).then(|| self.read.as_fd())
    }

    /// Reads what is there without blocking and hands every complete line (without its
    /// newline, invalid UTF-8 replaced) to `line`. At the end of the stream the last,
    /// unterminated line is handed over too.
    pub fn drain(&mut self, line: &mut dyn FnMut(&str)) {
        self.drain_at_most(usize::MAX, line);
    }

    /// Like [`ChildOutput::drain`], but reads at most about `limit` bytes: children that
    /// write without pause (a `log` per request under `-v`) fill the pipe as fast as the
    /// master reads it, and the master's loop has its deadline and signals to see to. What
    /// is left makes the pipe readable again at the next wait.
    pub fn drain_at_most(&mut self, limit: usize, line: &mut dyn FnMut(&str)) {
        let mut buf = [0u8; 8192];
        let mut read = 0usize;
        while !self.closed && read < limit {
            match self.read.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => {
                    read += n;
                    self.pending.extend_from_slice(&buf[..n]);
                    self.emit_complete(line);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => self.closed = true,
            }
        }
        if self.closed && !self.pending.is_empty() {
            line(&String::from_utf8_lossy(&self.pending));
            self.pending.clear();
        }
    }

    fn emit_complete(&mut self, line: &mut dyn FnMut(&str)) {
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(at) if at <= MAX_LINE => {
                    line(&String::from_utf8_lossy(&rest[..at]));
                    start += at + 1;
                }
                _ if rest.len() > MAX_LINE => {
                    // Between two characters, so neither part shows U+FFFD for a half.
                    let cut = crate::printable::cut_point(rest, MAX_LINE);
                    line(&String::from_utf8_lossy(&rest[..cut]));
                    start += cut;
                }
                _ => break,
            }
        }
        self.pending.drain(..start);
    }
}

/// In a child: makes `write_fd` its stderr.
pub fn redirect_stderr(write_fd: RawFd) -> std::io::Result<()> {
    // SAFETY: dup2 on two descriptors this process owns; it only replaces descriptor 2.
    if unsafe { libc::dup2(write_fd, libc::STDERR_FILENO) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn writer(out: &ChildOutput) -> File {
        File::from(out.write.as_ref().unwrap().try_clone().unwrap())
    }

    fn drained(out: &mut ChildOutput) -> Vec<String> {
        let mut lines = Vec::new();
        out.drain(&mut |l| lines.push(l.to_string()));
        lines
    }

    #[test]
    fn complete_lines_come_out_and_a_partial_one_waits_for_its_end() {
        let mut out = ChildOutput::open().unwrap();
        let mut w = writer(&out);
        w.write_all(b"first\nsecond\nthi").unwrap();
        assert_eq!(drained(&mut out), ["first", "second"]);
        assert_eq!(drained(&mut out), Vec::<String>::new());
        w.write_all(b"rd\n\n").unwrap();
        assert_eq!(drained(&mut out), ["third", ""]);
        assert!(out.poll_fd().is_some());
    }

    #[test]
    fn a_bounded_drain_leaves_the_rest_for_the_next_one() {
        let mut out = ChildOutput::open().unwrap();
        let mut w = writer(&out);
        // 40,000 bytes of 100-byte lines: more than one read of 8 KiB takes.
        let line = format!("{}\n", "y".repeat(99));
        for _ in 0..400 {
            w.write_all(line.as_bytes()).unwrap();
        }
        let mut first = Vec::new();
        out.drain_at_most(1, &mut |l| first.push(l.to_string()));
        // One read of 8 KiB: its 81 whole lines, the 82nd waits for its end.
        assert_eq!(first.len(), 8192 / 100);
        let rest = drained(&mut out);
        assert_eq!(first.len() + rest.len(), 400);
        assert!(rest.iter().all(|l| l.len() == 99));
        assert!(out.poll_fd().is_some());
    }

    #[test]
    fn the_end_of_the_stream_flushes_the_last_line_and_stops_polling() {
        let mut out = ChildOutput::open().unwrap();
        let mut w = writer(&out);
        w.write_all(b"done\nno newline").unwrap();
        drop(w);
        out.close_write_end();
        assert_eq!(drained(&mut out), ["done", "no newline"]);
        assert!(out.poll_fd().is_none());
        assert_eq!(drained(&mut out), Vec::<String>::new());
    }

    #[test]
    fn a_line_longer_than_the_cap_is_cut_and_bad_utf8_is_replaced() {
        let mut out = ChildOutput::open().unwrap();
        let mut w = writer(&out);
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        w.write_all(&long).unwrap();
        w.write_all(b"\n\xff\xfeok\n").unwrap();
        let lines = drained(&mut out);
        assert_eq!(
            lines.len(),
            4,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1].len(), MAX_LINE);
        assert_eq!(lines[2], "x".repeat(10));
        assert_eq!(lines[3], "\u{fffd}\u{fffd}ok");
    }

    #[test]
    fn a_long_line_is_cut_between_two_characters() {
        let mut out = ChildOutput::open().unwrap();
        let mut w = writer(&out);
        let long = format!("{}é end\n", "a".repeat(MAX_LINE - 1));
        w.write_all(long.as_bytes()).unwrap();
        let lines = drained(&mut out);
        assert_eq!(lines, ["a".repeat(MAX_LINE - 1), "é end".to_string()]);
    }

    #[test]
    fn a_stream_larger_than_the_pipe_buffer_arrives_whole_and_in_order() {
        let mut out = ChildOutput::open().unwrap();
        let mut w = writer(&out);
        let writer_thread = std::thread::spawn(move || {
            for i in 0..20_000 {
                writeln!(w, "line {i}").unwrap();
            }
        });
        let mut lines = Vec::new();
        while lines.len() < 20_000 {
            out.drain(&mut |l| lines.push(l.to_string()));
        }
        writer_thread.join().unwrap();
        assert_eq!(lines.first().unwrap(), "line 0");
        assert_eq!(lines.last().unwrap(), "line 19999");
    }
}
