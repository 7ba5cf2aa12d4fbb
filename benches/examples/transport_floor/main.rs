//! The transport floor: what glommio alone costs per keep-alive request, without molotov's
//! HTTP client, interpreter or stats. C connections on one executor pinned to a CPU, each
//! looping `write(GET)` / read until the response (head + `Content-Length`) is complete; CPU
//! from `getrusage` of the whole process. Compare with molotov's and wrk's CPU per request
//! against the same nginx to see how much of molotov's cost is glommio's.
//!
//! ```text
//! cargo build --release -p molotov-benches --example transport_floor
//! taskset -c 0 target/release/examples/transport_floor 127.0.0.1:8081 50 5 unbuffered 0
//! ```
//! Modes: `unbuffered` (glommio's readiness path, as molotov-http reads: recv, then an early
//! POLL_ADD for the next read), `buffered` (`buffered_with(Preallocated)`: a completion
//! RECV with the buffer lent to the kernel) or `epoll` (one edge-triggered epoll instance
//! per executor, each socket registered once, plain `send`/`recv`: `edge_ready.rs`). A last
//! argument `coop` builds the rings with `IORING_SETUP_COOP_TASKRUN`, as molotov does
//! (`molotov_benches::uring_setup`).
//!
//! `examples/uring_floor.rs` is the same loop with no runtime at all (one raw io_uring).

mod edge_ready;

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use glommio::net::{Preallocated, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};
use molotov_benches::floor::{self, exchange_loop};

async fn connection(addr: SocketAddr, request: &[u8], mode: Mode, deadline: Instant) -> (u64, u64) {
    let Ok(stream) = TcpStream::connect(addr).await else {
        return (0, 1);
    };
    if stream.set_nodelay(true).is_err() {
        return (0, 1);
    }
    match mode {
        Mode::Unbuffered => exchange_loop(stream, request, deadline).await,
        Mode::Buffered => {
            exchange_loop(
                stream.buffered_with(Preallocated::new(4096)),
                request,
                deadline,
            )
            .await
        }
        Mode::Epoll => {
            // SAFETY: `into_raw_fd` hands over the only owner of the descriptor.
            let fd = unsafe { OwnedFd::from_raw_fd(stream.into_raw_fd()) };
            match edge_ready::EdgeStream::new(fd) {
                Ok(stream) => exchange_loop(stream, request, deadline).await,
                Err(_) => (0, 1),
            }
        }
    }
}

/// How the connections read and wait.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Unbuffered,
    Buffered,
    Epoll,
}

impl Mode {
    fn parse(text: &str) -> Option<Mode> {
        match text {
            "unbuffered" => Some(Mode::Unbuffered),
            "buffered" => Some(Mode::Buffered),
            "epoll" => Some(Mode::Epoll),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Unbuffered => "unbuffered",
            Mode::Buffered => "buffered",
            Mode::Epoll => "epoll",
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: transport_floor ADDR CONNECTIONS SECONDS unbuffered|buffered|epoll CPU [coop]";
    let parsed = (|| {
        let addr: SocketAddr = args.get(1)?.parse().ok()?;
        let connections: usize = args.get(2)?.parse().ok()?;
        let secs: u64 = args.get(3)?.parse().ok()?;
        let mode = Mode::parse(args.get(4)?)?;
        let cpu: usize = args.get(5)?.parse().ok()?;
        let coop = match args.get(6).map(String::as_str) {
            None => false,
            Some("coop") => true,
            Some(_) => return None,
        };
        Some((addr, connections, secs, mode, cpu, coop))
    })();
    let Some((addr, connections, secs, mode, cpu, coop)) = parsed else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    if coop {
        molotov_benches::uring_setup::set_extra_flags(molotov_benches::uring_setup::COOP_TASKRUN);
    }
    let request = floor::request(addr, "transport-floor");
    let executor = match LocalExecutorBuilder::new(Placement::Fixed(cpu))
        .io_memory(64 << 10)
        .make()
    {
        Ok(ex) => ex,
        Err(e) => {
            eprintln!("cannot start the executor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let (requests, failed) = executor.run(async move {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let request: &'static [u8] = Box::leak(request.into_boxed_slice());
        let tasks: Vec<_> = (0..connections)
            .map(|_| glommio::spawn_local(connection(addr, request, mode, deadline)))
            .collect();
        let mut totals = (0, 0);
        for task in tasks {
            let (done, failed) = task.await;
            totals.0 += done;
            totals.1 += failed;
        }
        totals
    });
    let mode = format!("{}{}", mode.name(), if coop { "+coop" } else { "" });
    floor::print_result(
        &mode,
        connections,
        requests,
        &format!("failed_connections={failed}"),
        started.elapsed().as_secs_f64(),
    );
    if requests == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
