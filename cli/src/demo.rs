//! The built-in demo: with no plan, molotov forks a child running its own target server on a
//! free loopback port and runs a small shop plan (`demo.mol`) against it.

use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use anyhow::{Context, Result, anyhow};
use molotov_core::process;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

/// The demo plan's source.
pub const PLAN: &str = include_str!("demo.mol");

/// The demo target server, running in a child process.
pub struct DemoTarget {
    pid: Pid,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl DemoTarget {
    /// Forks the target server child and waits until it listens.
    pub fn start() -> Result<DemoTarget> {
        let (read_end, write_end) = nix::unistd::pipe().context("pipe for the demo target")?;
        let pid = process::spawn_child(None, move || serve(write_end))
            .context("starting the demo target server")?;
        let mut text = String::new();
        std::fs::File::from(read_end)
            .read_to_string(&mut text)
            .context("reading the demo target's address")?;
        let addr = text
            .trim()
            .parse()
            .map_err(|_| anyhow!("the demo target server did not start: {text:?}"))?;
        Ok(DemoTarget { pid, addr })
    }

    /// Stops the target; it prints how many requests it answered.
    pub fn stop(self) {
        process::kill(self.pid, STOP);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// What stops the demo target: a signal of its own, since the stop signals sent to the process
/// group (Ctrl-C, `timeout`'s SIGTERM, a hang-up) are the master's, which stops the load
/// gracefully first; the target, a child, ignores them and serves until then.
const STOP: Signal = Signal::SIGUSR1;

/// The child: start the server, report its address, serve until [`STOP`].
fn serve(out: OwnedFd) -> i32 {
    let mut term = SigSet::empty();
    term.add(STOP);
    if term.thread_block().is_err() {
        return 1;
    }
    let config = molotov_target::ServerConfig::default();
    let handle = match molotov_target::start(config) {
        Ok(handle) => handle,
        Err(e) => {
            molotov_core::errln!("molotov: demo target server: {e}");
            return 1;
        }
    };
    {
        let mut file = std::fs::File::from(out);
        let _ = std::io::Write::write_all(&mut file, handle.addr().to_string().as_bytes());
    }
    let _ = term.wait();
    let answered = handle.requests_answered();
    molotov_core::errln!(
        "demo target server: answered {answered} request{}",
        if answered == 1 { "" } else { "s" }
    );
    handle.stop();
    0
}
