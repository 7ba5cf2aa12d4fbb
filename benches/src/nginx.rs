//! nginx as the target of the throughput scenarios: renders `benches/nginx.conf` (a
//! `return 200 '{"ok":true}'` server, `access_log off`, keep-alive without limit, every path
//! under a folder of ours), starts it with its workers pinned, waits until it accepts, and
//! stops it (SIGQUIT, then SIGKILL) when dropped.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sched::CpuSet;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The configuration template (placeholders `@WORKERS@`, `@AFFINITY@`, `@DIR@`, `@PORT@`).
pub const TEMPLATE: &str = include_str!("../nginx.conf");

/// How to run nginx.
#[derive(Debug, Clone)]
pub struct NginxConfig {
    /// The nginx executable.
    pub binary: PathBuf,
    /// Folder for the config, pid file, logs and temp paths (created).
    pub dir: PathBuf,
    /// Port on 127.0.0.1.
    pub port: u16,
    /// Worker processes.
    pub workers: usize,
    /// CPUs; worker `i` is pinned to `cpus[i % len]`, the master may run on any of them.
    pub cpus: Vec<usize>,
}

/// Errors of starting nginx.
#[derive(Debug, thiserror::Error)]
pub enum NginxError {
    /// Writing the config or making the folder failed.
    #[error("{path}: {source}")]
    Files {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// nginx could not be run.
    #[error("cannot run {binary}: {source}")]
    Spawn {
        /// The executable.
        binary: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// nginx exited with an error (its error log follows).
    #[error("nginx failed to start: {0}")]
    Failed(String),
    /// nginx did not accept connections in time.
    #[error("nginx did not accept connections on {0} within 5 s")]
    NotListening(SocketAddr),
    /// No CPU given, or one that does not fit a CPU set.
    #[error("bad CPU list for nginx: {0:?}")]
    BadCpus(Vec<usize>),
}

/// nginx's `worker_cpu_affinity` value: one binary mask per worker, CPU 0 rightmost.
pub fn affinity(cpus: &[usize], workers: usize) -> String {
    (0..workers)
        .map(|i| {
            let cpu = cpus[i % cpus.len()];
            format!("1{}", "0".repeat(cpu))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The configuration text for `config`.
pub fn render(config: &NginxConfig) -> String {
    TEMPLATE
        .replace("@WORKERS@", &config.workers.to_string())
        .replace("@AFFINITY@", &affinity(&config.cpus, config.workers))
        .replace("@DIR@", &config.dir.display().to_string())
        .replace("@PORT@", &config.port.to_string())
}

/// A running nginx; stopped on drop.
#[derive(Debug)]
pub struct Nginx {
    dir: PathBuf,
    addr: SocketAddr,
}

impl Nginx {
    /// Writes the config and starts nginx; returns once it accepts connections.
    pub fn start(config: &NginxConfig) -> Result<Nginx, NginxError> {
        if config.cpus.is_empty() || config.workers == 0 {
            return Err(NginxError::BadCpus(config.cpus.clone()));
        }
        let files = |path: &Path, source| NginxError::Files {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(|e| files(&config.dir, e))?;
        let conf = config.dir.join("nginx.conf");
        std::fs::write(&conf, render(config)).map_err(|e| files(&conf, e))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
        // A leftover nginx of an interrupted earlier run holds the port: stop it first.
        stop_pid_file(&config.dir);
        let mut set = CpuSet::new();
        for &cpu in &config.cpus {
            set.set(cpu)
                .map_err(|_| NginxError::BadCpus(config.cpus.clone()))?;
        }
        let mut command = Command::new(&config.binary);
        command
            .arg("-p")
            .arg(&config.dir)
            .arg("-e")
            .arg(config.dir.join("error.log"))
            .arg("-c")
            .arg(&conf);
        // SAFETY: runs in the forked child before exec; one async-signal-safe system call
        // (sched_setaffinity) on a set built before the fork; nothing is allocated.
        unsafe {
            command.pre_exec(move || {
                nix::sched::sched_setaffinity(Pid::from_raw(0), &set).map_err(std::io::Error::from)
            });
        }
        let output = command.output().map_err(|source| NginxError::Spawn {
            binary: config.binary.display().to_string(),
            source,
        })?;
        if !output.status.success() {
            let log = std::fs::read_to_string(config.dir.join("error.log")).unwrap_or_default();
            return Err(NginxError::Failed(format!(
                "{}{}",
                String::from_utf8_lossy(&output.stderr),
                log
            )));
        }
        let nginx = Nginx {
            dir: config.dir.clone(),
            addr,
        };
        if !wait_listening(addr, Duration::from_secs(5)) {
            return Err(NginxError::NotListening(addr));
        }
        Ok(nginx)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop_pid_file(&self.dir);
    }
}

/// Stops the nginx whose master pid is in `dir/nginx.pid`, if any: SIGQUIT (graceful), then
/// SIGKILL after 3 s.
fn stop_pid_file(dir: &Path) {
    let pid_file = dir.join("nginx.pid");
    let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    let pid = Pid::from_raw(pid);
    if kill(pid, Signal::SIGQUIT).is_err() {
        let _ = std::fs::remove_file(&pid_file);
        return;
    }
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        // nginx removes its pid file when it exits (its zombie may linger until its
        // reaper runs); signal 0 fails once the process is gone.
        if !pid_file.exists() || kill(pid, None).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill(pid, Signal::SIGKILL);
    let _ = std::fs::remove_file(&pid_file);
}

/// Polls until `addr` accepts a connection.
pub fn wait_listening(addr: SocketAddr, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_masks_pin_workers_round_robin() {
        assert_eq!(affinity(&[1], 1), "10");
        assert_eq!(affinity(&[0, 1], 3), "1 10 1");
        assert_eq!(
            affinity(&(8..16).collect::<Vec<_>>(), 2),
            "100000000 1000000000"
        );
    }

    #[test]
    fn config_has_no_placeholder_left() {
        let text = render(&NginxConfig {
            binary: "nginx".into(),
            dir: "/tmp/x".into(),
            port: 18081,
            workers: 2,
            cpus: vec![8, 9],
        });
        let settings: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        assert!(settings.iter().all(|l| !l.contains('@')), "{text}");
        assert!(text.contains("worker_processes 2;"));
        assert!(text.contains("worker_cpu_affinity 100000000 1000000000;"));
        assert!(text.contains("listen 127.0.0.1:18081 "));
        assert!(text.contains("pid /tmp/x/nginx.pid;"));
    }

    /// Starts the real nginx when the machine has one (the comparison's own installer brings
    /// it); skipped, and says so, where it is absent.
    #[test]
    fn starts_answers_and_stops_when_installed() {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists());
        let Some(binary) = binary else {
            eprintln!("nginx not installed: skipping the start/stop test");
            return;
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let dir = std::env::temp_dir().join(format!("molotov-nginx-test-{}", std::process::id()));
        let nginx = Nginx::start(&NginxConfig {
            binary,
            dir: dir.clone(),
            port,
            workers: 1,
            cpus: vec![0],
        })
        .unwrap();
        let mut stream = TcpStream::connect(nginx.addr()).unwrap();
        use std::io::{Read, Write};
        stream
            .write_all(b"GET /anything HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.ends_with("{\"ok\":true}"), "{reply}");
        drop(nginx);
        assert!(TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
