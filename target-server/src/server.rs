//! Starting and stopping the server: [`ServerConfig`], [`start`] and [`ServerHandle`].
//!
//! `start` binds and listens on the calling thread (so it returns only once connections
//! can be made), then runs one glommio executor per thread, each built on its own thread
//! and accepting from a duplicate of the same listening socket. `stop` sets a flag and
//! shuts the listening socket down, which wakes every pending accept; each thread then
//! cancels its connection tasks (closing their sockets) and ends, and `stop` joins them.
//!
//! With `ServerConfig::tls` the rustls configuration is built once in `start` and shared by
//! every thread (so TLS 1.2 sessions and 1.3 tickets resume on any thread).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use glommio::net::TcpListener;
use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};

use crate::conn;
use crate::stats::Shared;
use crate::tls::{ServerTls, TlsIdentity};

/// Backlog of the listening socket (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: libc::c_int = 4096;

/// How to run the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// Executor threads. Default 1.
    pub threads: usize,
    /// Answer 503 to requests beyond this many in flight (all threads together).
    pub max_concurrency: Option<usize>,
    /// Answer every request with `Connection: close` and close.
    pub close_every_response: bool,
    /// Close connections idle (no partial request) for this long. Default: never.
    pub idle_timeout: Option<Duration>,
    /// Pin thread `i` to CPU `cpus[i % cpus.len()]`; empty: not pinned. Default empty.
    pub cpus: Vec<usize>,
    /// Serve HTTPS with these certificates and versions. Default: plain HTTP.
    pub tls: Option<ServerTls>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            threads: 1,
            max_concurrency: None,
            close_every_response: false,
            idle_timeout: None,
            cpus: Vec::new(),
            tls: None,
        }
    }
}

/// What every connection task on one thread shares.
#[derive(Debug)]
pub(crate) struct ThreadContext {
    pub(crate) index: usize,
    pub(crate) config: ServerConfig,
    pub(crate) shared: Arc<Shared>,
    /// The TLS configuration shared by all threads, on a TLS server.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
}

/// The counts of a stopped server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerStats {
    /// Responses fully written.
    pub requests_answered: u64,
    /// Connections accepted.
    pub connections_accepted: u64,
    /// TLS handshakes completed (0 on a plain server).
    pub tls_handshakes: u64,
    /// Of those, handshakes that resumed an earlier session.
    pub tls_resumed: u64,
}

/// A running server. Dropping it stops it too.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stopping: Arc<AtomicBool>,
    listener: Option<StdListener>,
    threads: Vec<ExecutorJoinHandle<()>>,
    tls_identity: Option<TlsIdentity>,
}

/// Starts the server and returns once it is listening.
pub fn start(config: ServerConfig) -> io::Result<ServerHandle> {
    if config.threads == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "threads must be at least 1",
        ));
    }
    let listener = StdListener::bind(config.addr)?;
    // SAFETY: the descriptor belongs to `listener`, which is alive; listen(2) on a listening
    // socket only changes its backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let addr = listener.local_addr()?;
    let tls = config
        .tls
        .as_ref()
        .map(ServerTls::rustls_config)
        .transpose()?;
    let shared = Arc::new(Shared::new(config.threads));
    let stopping = Arc::new(AtomicBool::new(false));
    let mut handle = ServerHandle {
        addr,
        shared: Arc::clone(&shared),
        stopping: Arc::clone(&stopping),
        listener: Some(listener),
        threads: Vec::with_capacity(config.threads),
        tls_identity: config.tls.as_ref().map(|t| t.identity.clone()),
    };
    for index in 0..config.threads {
        let Some(listener) = handle.listener.as_ref() else {
            break;
        };
        let fd: OwnedFd = listener.try_clone()?.into();
        let placement = match config.cpus.as_slice() {
            [] => Placement::Unbound,
            cpus => Placement::Fixed(cpus[index % cpus.len()]),
        };
        let context = ThreadContext {
            index,
            config: config.clone(),
            shared: Arc::clone(&shared),
            tls: tls.clone(),
        };
        let stopping = Arc::clone(&stopping);
        let spawned = LocalExecutorBuilder::new(placement)
            .name("molotov-target")
            .io_memory(64 << 10)
            .spawn(move || accept_loop(fd, context, stopping));
        match spawned {
            Ok(thread) => handle.threads.push(thread),
            Err(e) => {
                handle.shutdown();
                return Err(io::Error::other(format!(
                    "cannot start executor thread {index}: {e}"
                )));
            }
        }
    }
    Ok(handle)
}

async fn accept_loop(fd: OwnedFd, context: ThreadContext, stopping: Arc<AtomicBool>) {
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` is an owned duplicate of a listening TCP socket; ownership moves into the
    // glommio listener, which closes it on drop.
    let listener = unsafe { TcpListener::from_raw_fd(fd.into_raw_fd()) };
    let context = Rc::new(context);
    let connections: Rc<RefCell<HashMap<u64, glommio::task::JoinHandle<()>>>> = Rc::default();
    let mut next_id = 0u64;
    loop {
        let accepted = listener.accept().await;
        if stopping.load(Ordering::Acquire) {
            break;
        }
        match accepted {
            Ok(stream) => {
                context.shared.add_accepted(context.index);
                let _ = stream.set_nodelay(true);
                let id = next_id;
                next_id += 1;
                let task_context = Rc::clone(&context);
                let task_connections = Rc::clone(&connections);
                let task = glommio::spawn_local(async move {
                    conn::serve(stream, task_context).await;
                    task_connections.borrow_mut().remove(&id);
                })
                .detach();
                connections.borrow_mut().insert(id, task);
            }
            Err(_) => {
                // Out of descriptors or a transient error: back off instead of spinning.
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let open: Vec<_> = connections.borrow_mut().drain().collect();
    for (_, task) in open {
        task.cancel();
    }
}

impl ServerHandle {
    /// The address the server listens on (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Responses fully written since start (or the last reset); see docs/target-server.md
    /// for exactly what counts.
    pub fn requests_answered(&self) -> u64 {
        self.shared.answered()
    }

    /// Connections accepted since start (or the last reset).
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted()
    }

    /// The certificates served, on a TLS server (`ca_pem()` is what clients must trust).
    pub fn tls_identity(&self) -> Option<&TlsIdentity> {
        self.tls_identity.as_ref()
    }

    /// `"https"` on a TLS server, `"http"` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.tls_identity.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// TLS handshakes completed since start (or the last reset).
    pub fn tls_handshakes(&self) -> u64 {
        self.shared.tls_handshakes()
    }

    /// TLS handshakes that resumed a session, since start (or the last reset).
    pub fn tls_resumed(&self) -> u64 {
        self.shared.tls_resumed()
    }

    /// Sets every counter to zero.
    pub fn reset_counters(&self) {
        self.shared.reset();
    }

    /// Waits until at least `count` requests were answered or `timeout` passed, and returns
    /// the count then. A reply is counted right after its last byte was written, so a client
    /// can hold a response a few microseconds before the count moves: tests that compare
    /// counts wait with this (or read the counts returned by [`stop`](Self::stop)).
    pub fn wait_answered(&self, count: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let answered = self.requests_answered();
            if answered >= count || Instant::now() >= deadline {
                return answered;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops accepting, closes every connection, joins the threads and returns the final
    /// counts. The port can be bound again as soon as this returns.
    pub fn stop(mut self) -> ServerStats {
        self.shutdown();
        ServerStats {
            requests_answered: self.shared.answered(),
            connections_accepted: self.shared.accepted(),
            tls_handshakes: self.shared.tls_handshakes(),
            tls_resumed: self.shared.tls_resumed(),
        }
    }

    fn shutdown(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        self.stopping.store(true, Ordering::Release);
        // SAFETY: the descriptor belongs to `listener`, alive until the end of this function;
        // shutting down a listening socket wakes every accept pending on it (in all threads,
        // which hold duplicates of the same socket).
        unsafe {
            libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        drop(listener);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
