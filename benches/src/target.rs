//! molotov-target as the target of the latency scenario (`/slow` answers after a fixed
//! 50 ms, which nginx cannot do without the echo module): started as a pinned child process,
//! its answered-request count read from `/stats`, stopped with SIGTERM.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sched::CpuSet;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::measure::cpu_list;
use crate::nginx::wait_listening;

/// Errors of running molotov-target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// It could not be started.
    #[error("cannot run {binary}: {source}")]
    Spawn {
        /// The executable.
        binary: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// It did not accept connections in time.
    #[error("molotov-target did not accept connections on {0} within 5 s")]
    NotListening(SocketAddr),
    /// `/stats` could not be read.
    #[error("cannot read {addr}/stats: {reason}")]
    Stats {
        /// The server.
        addr: SocketAddr,
        /// What went wrong.
        reason: String,
    },
    /// A CPU that does not fit a CPU set.
    #[error("bad CPU list for molotov-target: {0:?}")]
    BadCpus(Vec<usize>),
}

/// A running molotov-target; stopped on drop.
#[derive(Debug)]
pub struct TargetServer {
    child: Child,
    addr: SocketAddr,
}

impl TargetServer {
    /// Starts `binary` on 127.0.0.1:`port` with one executor thread per CPU of `cpus`, each
    /// pinned; returns once it accepts connections.
    pub fn start(binary: PathBuf, port: u16, cpus: &[usize]) -> Result<TargetServer, TargetError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut set = CpuSet::new();
        for &cpu in cpus {
            set.set(cpu)
                .map_err(|_| TargetError::BadCpus(cpus.to_vec()))?;
        }
        let mut command = Command::new(&binary);
        command
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--threads")
            .arg(cpus.len().max(1).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !cpus.is_empty() {
            command.arg("--cpus").arg(cpu_list(cpus));
            // SAFETY: runs in the forked child before exec; one async-signal-safe system
            // call on a set built before the fork; nothing is allocated.
            unsafe {
                command.pre_exec(move || {
                    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)
                        .map_err(std::io::Error::from)
                });
            }
        }
        let child = command.spawn().map_err(|source| TargetError::Spawn {
            binary: binary.display().to_string(),
            source,
        })?;
        let server = TargetServer { child, addr };
        if !wait_listening(addr, Duration::from_secs(5)) {
            return Err(TargetError::NotListening(addr));
        }
        server.warm_up();
        Ok(server)
    }

    /// A few requests on every route the scenarios use, before anything is measured: a fresh
    /// glommio executor's first timer can fire milliseconds late (lazy `membarrier`
    /// registration), which would land in the first measured run only.
    fn warm_up(&self) {
        for path in ["/slow", "/", "/slow", "/"] {
            let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
            else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: target\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut reply = Vec::new();
                let _ = stream.read_to_end(&mut reply);
            }
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far (its `/stats`, which does not count itself).
    pub fn answered(&self) -> Result<u64, TargetError> {
        answered_at(self.addr)
    }
}

/// The `requests_answered` of the molotov-target at `addr` (its `/stats`).
pub fn answered_at(addr: SocketAddr) -> Result<u64, TargetError> {
    let fail = |reason: String| TargetError::Stats { addr, reason };
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| fail(e.to_string()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| fail(e.to_string()))?;
    stream
        .write_all(b"GET /stats HTTP/1.1\r\nHost: target\r\nConnection: close\r\n\r\n")
        .map_err(|e| fail(e.to_string()))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|e| fail(e.to_string()))?;
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .ok_or_else(|| fail("no body".into()))?;
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| fail(format!("{e}: {body}")))?;
    json["requests_answered"]
        .as_u64()
        .ok_or_else(|| fail(format!("no requests_answered in {body}")))
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_count_comes_from_stats() {
        let server = molotov_target::start(molotov_target::ServerConfig::default()).unwrap();
        let addr = server.addr();
        assert_eq!(answered_at(addr).unwrap(), 0);
        for _ in 0..3 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = Vec::new();
            s.read_to_end(&mut reply).unwrap();
        }
        server.wait_answered(3, Duration::from_secs(2));
        assert_eq!(
            answered_at(addr).unwrap(),
            3,
            "/stats does not count itself"
        );
        drop(server);
        assert!(answered_at(addr).is_err());
    }
}
