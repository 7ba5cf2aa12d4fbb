//! What a per-request deadline costs on a molotov-runtime executor, three ways:
//! `None` (no deadline), `Timer` (a fresh `molotov_runtime::timer::Timer` per request raced
//! against the future, the naive design) and `Swept` (`molotov_http::DeadlineTimer`: clock
//! checks plus one sweeper task per executor, what the client uses).
//!
//! Two workloads: `yield` (a future that yields 3 times, i.e. is polled 4 times, like a
//! request that waits on write, read and read) measures the bare mechanism; `http` runs C
//! keep-alive raw exchanges (write a GET, read the fixed-size response) against a server and
//! reports CPU microseconds per request. Rounds alternate the modes.
//!
//! The designs rejected earlier (`glommio::future::timeout` per request, and one glommio
//! `Timer` per client re-armed with `reset`) were measured when the engine ran on glommio;
//! those numbers are recorded in docs/http-client.md and these modes are no longer here.
//!
//! ```text
//! cargo run --release -p molotov-http --example deadline_cost -- yield
//! cargo run --release -p molotov-http --example deadline_cost -- http 127.0.0.1:8081 50 3
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use molotov_http::DeadlineTimer;
use molotov_runtime::net::TcpStream;
use molotov_runtime::timer::Timer;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    None,
    Timer,
    Swept,
}

const MODES: [Mode; 3] = [Mode::None, Mode::Timer, Mode::Swept];

fn cpu_time() -> Duration {
    // SAFETY: an all-zero `rusage` is valid; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs `future` under the deadline mechanism of `mode`.
async fn guarded<F: Future>(
    mode: Mode,
    deadline: &mut DeadlineTimer,
    future: F,
) -> Option<F::Output> {
    match mode {
        Mode::None => Some(future.await),
        Mode::Timer => {
            // A timer armed (and dropped, i.e. removed) per request, polled alongside.
            let timer = Timer::new(TIMEOUT);
            futures_lite::future::or(async { Some(future.await) }, async {
                timer.await;
                None
            })
            .await
        }
        Mode::Swept => deadline.run(TIMEOUT, future).await,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = args
        .first()
        .map(String::as_str)
        .unwrap_or("yield")
        .to_owned();
    let addr: SocketAddr = args
        .get(1)
        .map_or("127.0.0.1:8081", String::as_str)
        .parse()
        .expect("address");
    let conns: usize = args
        .get(2)
        .map_or(Ok(50), |s| s.parse())
        .expect("connections");
    let seconds: f64 = args.get(3).map_or(Ok(3.0), |s| s.parse()).expect("seconds");
    // Each measurement runs on a fresh executor (its own ring, timers and deadline sweeper),
    // so nothing one mode leaves behind can slow the next.
    for round in 0..3 {
        for mode in MODES {
            let workload = workload.clone();
            let handle = std::thread::spawn(move || {
                molotov_runtime::Executor::new()
                    .pin_to_cpu(0)
                    .run(async move {
                        match workload.as_str() {
                            "yield" => yield_workload(round, mode).await,
                            "http" => http_workload(round, mode, addr, conns, seconds).await,
                            other => eprintln!("unknown workload {other}: use yield or http"),
                        }
                    })
            });
            handle.join().expect("join").expect("executor");
        }
    }
}

async fn yield_workload(round: usize, mode: Mode) {
    let iterations = 2_000_000u32;
    let mut deadline = DeadlineTimer::new();
    let cpu = cpu_time();
    let wall = Instant::now();
    for _ in 0..iterations {
        guarded(mode, &mut deadline, async {
            for _ in 0..3 {
                molotov_runtime::yield_now().await;
            }
        })
        .await;
    }
    let per = (cpu_time() - cpu).as_nanos() as f64 / f64::from(iterations);
    let wall = wall.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("round {round} yield {mode:?}: {per:.0} ns CPU/op ({wall:.0} ns wall)");
}

async fn http_workload(round: usize, mode: Mode, addr: SocketAddr, conns: usize, seconds: f64) {
    let request: Rc<[u8]> = Rc::from(
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: deadline-cost\r\n\r\n").into_bytes(),
    );
    // Learn the response size once (the target's fixed reply has a fixed length).
    let mut probe = TcpStream::connect(addr).await.expect("connect");
    probe.write_all(&request).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let mut got = 0;
    let response_len = loop {
        got += probe.read(&mut buf[got..]).await.expect("read");
        let text = String::from_utf8_lossy(&buf[..got]).to_ascii_lowercase();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text
                .split("content-length:")
                .nth(1)
                .and_then(|rest| rest.split("\r\n").next())
                .map(|v| v.trim().parse().expect("length"))
                .expect("the server must send Content-Length");
            let total = head_end + 4 + length;
            if got >= total {
                break total;
            }
        }
    };
    drop(probe);
    {
        {
            let end = Instant::now() + Duration::from_secs_f64(seconds);
            let cpu = cpu_time();
            let workers: Vec<_> = (0..conns)
                .map(|_| {
                    let request = Rc::clone(&request);
                    molotov_runtime::spawn_local(async move {
                        let mut stream = TcpStream::connect(addr).await.expect("connect");
                        stream.set_nodelay(true).expect("nodelay");
                        let mut deadline = DeadlineTimer::new();
                        let mut buf = vec![0u8; 16 << 10];
                        let mut done = 0u64;
                        while Instant::now() < end {
                            let exchange = async {
                                stream.write_all(&request).await?;
                                let mut got = 0;
                                while got < response_len {
                                    let n = stream.read(&mut buf[got..]).await?;
                                    if n == 0 {
                                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                                    }
                                    got += n;
                                }
                                Ok::<(), std::io::Error>(())
                            };
                            match guarded(mode, &mut deadline, exchange).await {
                                Some(Ok(())) => done += 1,
                                _ => break,
                            }
                        }
                        done
                    })
                })
                .collect();
            let mut total = 0;
            for worker in workers {
                total += worker.await;
            }
            let cpu = cpu_time() - cpu;
            println!(
                "round {round} http {mode:?}: {total} requests, {:.2} CPU-us/request, {:.0} req/CPU-s",
                cpu.as_secs_f64() * 1e6 / total as f64,
                total as f64 / cpu.as_secs_f64()
            );
        }
    }
}
