//! The io_uring floor: the transport floor's loop (C keep-alive connections, write a GET, read
//! until the response's `Content-Length` is in) with no runtime at all: one thread, one raw
//! io_uring, each request a `SEND` linked to a `RECV` with `IORING_RECVSEND_POLL_FIRST` (the
//! response cannot be there yet, so the kernel arms its poll at once instead of trying a recv
//! that finds nothing), the sockets registered as fixed files, the send's completion skipped.
//! It is what the cheapest io_uring design would cost per request, whatever runtime it sits
//! in: the user-space part is a few hundred nanoseconds, the rest is the kernel's.
//!
//! ```text
//! cargo build --release -p molotov-benches --example uring_floor
//! taskset -c 0 target/release/examples/uring_floor 127.0.0.1:8081 50 5 defer
//! ```
//! `defer` builds the ring with `SINGLE_ISSUER | DEFER_TASKRUN` (Linux 6.1), `coop` with
//! `COOP_TASKRUN | TASKRUN_FLAG`; a last argument `nolink` submits the send and the recv
//! unlinked. CPU from `getrusage`, as the transport floor.
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use io_uring::{IoUring, opcode, squeue, types};
use molotov_benches::floor::{self, response_complete};

const POLL_FIRST: u16 = 1;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = (|| {
        let (addr, conns, secs) = floor::address_connections_seconds(&args)?;
        let defer = match args.get(4)?.as_str() {
            "defer" => true,
            "coop" => false,
            _ => return None,
        };
        let link = match args.get(5).map(String::as_str) {
            None => true,
            Some("nolink") => false,
            Some(_) => return None,
        };
        Some((addr, conns, secs, defer, link))
    })();
    let Some((addr, conns, secs, defer, link)) = parsed else {
        eprintln!("usage: uring_floor ADDR CONNECTIONS(1-4095) SECONDS defer|coop [nolink]");
        return ExitCode::from(2);
    };
    match run(addr, conns, secs, defer, link) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uring_floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(addr: SocketAddr, conns: usize, secs: u64, defer: bool, link: bool) -> std::io::Result<()> {
    let mut builder = IoUring::builder();
    if defer {
        builder.setup_single_issuer().setup_defer_taskrun();
    } else {
        builder.setup_coop_taskrun().setup_taskrun_flag();
    }
    let mut ring: IoUring = builder.build(256)?;
    let streams = floor::connect_all(addr, conns)?;
    let fds: Vec<i32> = streams.iter().map(|s| s.as_raw_fd()).collect();
    ring.submitter().register_files(&fds)?;
    let request = floor::request(addr, "uring-floor");
    let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; 4096]; conns];
    let mut have = vec![0usize; conns];
    let mut done = 0u64;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    // user_data: connection * 2, + 1 for the recv.
    let push_send_recv = |ring: &mut IoUring, c: usize, bufs: &mut [Vec<u8>], have: &[usize]| {
        let send = opcode::Send::new(
            types::Fixed(c as u32),
            request.as_ptr(),
            request.len() as u32,
        )
        .build()
        .flags(if link {
            squeue::Flags::IO_LINK | squeue::Flags::SKIP_SUCCESS
        } else {
            squeue::Flags::SKIP_SUCCESS
        })
        .user_data((c * 2) as u64);
        let buf = &mut bufs[c][have[c]..];
        let recv = opcode::Recv::new(types::Fixed(c as u32), buf.as_mut_ptr(), buf.len() as u32)
            .ioprio(POLL_FIRST)
            .build()
            .user_data((c * 2 + 1) as u64);
        let mut sq = ring.submission();
        // More connections than the ring has slots: submit what is queued to make room.
        if sq.capacity() - sq.len() < 2 {
            drop(sq);
            ring.submit()?;
            sq = ring.submission();
        }
        // SAFETY: the request bytes and every connection's buffer live until the loop ends
        // and are not moved (no `Vec` of `bufs` is resized); a buffer is lent to at most one
        // recv at a time.
        unsafe {
            sq.push(&send).map_err(std::io::Error::other)?;
            sq.push(&recv).map_err(std::io::Error::other)?;
        }
        Ok::<(), std::io::Error>(())
    };
    for c in 0..conns {
        push_send_recv(&mut ring, c, &mut bufs, &have)?;
    }
    let mut live = conns;
    let mut cqes: Vec<(u64, i32)> = Vec::with_capacity(1024);
    let mut stopping = false;
    while live > 0 {
        ring.submit_and_wait(1)?;
        cqes.clear();
        cqes.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        if !stopping && Instant::now() >= deadline {
            stopping = true;
        }
        for &(ud, res) in &cqes {
            let c = (ud / 2) as usize;
            if ud % 2 == 0 {
                // Only failed sends complete (SKIP_SUCCESS); their linked recv is cancelled.
                eprintln!(
                    "uring_floor: a send failed: {}",
                    std::io::Error::from_raw_os_error(-res)
                );
                live -= 1;
                continue;
            }
            if res <= 0 {
                if res < 0 && -res != libc::ECANCELED {
                    eprintln!(
                        "uring_floor: a recv failed: {}",
                        std::io::Error::from_raw_os_error(-res)
                    );
                } else if res == 0 {
                    eprintln!("uring_floor: the server closed a connection");
                    live -= 1;
                }
                continue;
            }
            have[c] += res as usize;
            if response_complete(&bufs[c][..have[c]]) {
                done += 1;
                have[c] = 0;
                if stopping {
                    live -= 1;
                } else {
                    push_send_recv(&mut ring, c, &mut bufs, &have)?;
                }
            } else {
                if have[c] == bufs[c].len() {
                    eprintln!("uring_floor: a response larger than 4 KiB");
                    live -= 1;
                    continue;
                }
                let buf = &mut bufs[c][have[c]..];
                let recv =
                    opcode::Recv::new(types::Fixed(c as u32), buf.as_mut_ptr(), buf.len() as u32)
                        .build()
                        .user_data(ud);
                // SAFETY: as above; the ring has room: this entry replaces the recv just
                // completed.
                unsafe {
                    ring.submission()
                        .push(&recv)
                        .map_err(std::io::Error::other)?
                };
            }
        }
    }
    let mode = format!(
        "uring-{}{}",
        if defer { "defer" } else { "coop" },
        if link { "" } else { "-nolink" }
    );
    floor::print_result(&mode, conns, done, "", started.elapsed().as_secs_f64());
    if done == 0 {
        return Err(std::io::Error::other("no request completed"));
    }
    Ok(())
}
