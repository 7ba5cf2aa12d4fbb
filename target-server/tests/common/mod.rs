//! Helpers shared by the integration tests: the `molotov-target` binary started on a free
//! port, its address read from its first line, and stopped with SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// The binary, running, with its stdout past the `listening on` line.
pub struct Binary {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    pub addr: SocketAddr,
}

impl Binary {
    /// Starts the binary with `args` (then `path`, if any) and reads the address it listens
    /// on from its first line, `listening on <scheme>://<addr>`.
    pub fn start(args: &[&str], path: Option<&Path>, scheme: &str) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_molotov-target"))
            .args(args)
            .args(path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr: SocketAddr = line
            .trim()
            .strip_prefix(&format!("listening on {scheme}://"))
            .unwrap_or_else(|| panic!("{line:?}"))
            .parse()
            .unwrap();
        Binary {
            child,
            stdout,
            addr,
        }
    }

    /// Sends SIGTERM, checks that the binary exits with success, and returns the rest of
    /// its stdout, trimmed.
    pub fn sigterm(mut self) -> String {
        // SAFETY: plain kill(2) on our own child's pid.
        let killed = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(killed, 0);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        rest.trim().to_owned()
    }
}
