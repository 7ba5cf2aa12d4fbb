//! What a per-request deadline costs on a glommio executor, four ways:
//! `None` (no deadline), `Glommio` (`glommio::future::timeout`, a new timer per request),
//! `Rearmed` (one glommio `Timer` per client, re-armed with `reset` per request and polled
//! once) and `Swept` (`molotov_http::DeadlineTimer`: clock checks plus one sweeper task per
//! executor, what the client uses).
//!
//! Two workloads: `yield` (a future that yields 3 times, i.e. is polled 4 times, like a
//! request that waits on write, read and read) measures the bare mechanism; `http` runs C
//! keep-alive raw exchanges (write a GET, read the fixed-size response) against a server and
//! reports CPU microseconds per request. Rounds alternate the modes.
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
use glommio::net::TcpStream;
use glommio::{LocalExecutorBuilder, Placement};
use molotov_http::DeadlineTimer;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    None,
    Glommio,
    Rearmed,
    Swept,
}

const MODES: [Mode; 4] = [Mode::None, Mode::Glommio, Mode::Rearmed, Mode::Swept];

/// The rejected design, kept here to measure it: one glommio timer per client, re-armed per
/// request, polled only when the task's waker is new.
#[derive(Default)]
struct RearmedTimer {
    timer: Option<glommio::timer::Timer>,
}

impl RearmedTimer {
    async fn run<F: Future>(&mut self, timeout: Duration, future: F) -> Option<F::Output> {
        let deadline = Instant::now() + timeout;
        let timer = match &mut self.timer {
            Some(timer) => {
                timer.reset(timeout);
                timer
            }
            slot => slot.insert(glommio::timer::Timer::new(timeout)),
        };
        let mut future = std::pin::pin!(future);
        let mut registered: Option<std::task::Waker> = None;
        futures_lite::future::poll_fn(move |cx| {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(cx) {
                return std::task::Poll::Ready(Some(output));
            }
            if Instant::now() >= deadline {
                return std::task::Poll::Ready(None);
            }
            if !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                if std::pin::Pin::new(&mut *timer).poll(cx).is_ready() {
                    return std::task::Poll::Ready(None);
                }
                registered = Some(cx.waker().clone());
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// Both per-client timers, so every mode runs through the same code.
#[derive(Default)]
struct Timers {
    rearmed: RearmedTimer,
    swept: DeadlineTimer,
}

fn cpu_time() -> Duration {
    // SAFETY: an all-zero `rusage` is valid; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs `future` under the deadline mechanism of `mode`.
async fn guarded<F: Future>(mode: Mode, timers: &mut Timers, future: F) -> Option<F::Output> {
    match mode {
        Mode::None => Some(future.await),
        Mode::Glommio => glommio::future::timeout(TIMEOUT, future).await.ok(),
        Mode::Rearmed => timers.rearmed.run(TIMEOUT, future).await,
        Mode::Swept => timers.swept.run(TIMEOUT, future).await,
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
    // Each measurement runs on a fresh executor, so timers left behind by one mode (stale
    // `glommio::future::timeout` entries live until their deadline) cannot slow the next.
    for round in 0..3 {
        for mode in MODES {
            let workload = workload.clone();
            let handle = LocalExecutorBuilder::new(Placement::Fixed(0))
                .io_memory(64 << 10)
                .spawn(move || async move {
                    match workload.as_str() {
                        "yield" => yield_workload(round, mode).await,
                        "http" => http_workload(round, mode, addr, conns, seconds).await,
                        other => eprintln!("unknown workload {other}: use yield or http"),
                    }
                })
                .expect("executor");
            handle.join().expect("join");
        }
    }
}

async fn yield_workload(round: usize, mode: Mode) {
    let iterations = 2_000_000u32;
    let mut timers = Timers::default();
    let cpu = cpu_time();
    let wall = Instant::now();
    for _ in 0..iterations {
        guarded(mode, &mut timers, async {
            for _ in 0..3 {
                glommio::executor().yield_now().await;
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
                    glommio::spawn_local(async move {
                        let mut stream = TcpStream::connect(addr).await.expect("connect");
                        stream.set_nodelay(true).expect("nodelay");
                        let mut timers = Timers::default();
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
                            match guarded(mode, &mut timers, exchange).await {
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
