//! The multishot floors: `uring_floor`'s keep-alive loop (C connections, write a GET, read until
//! the response's `Content-Length` is in) with readiness or receives armed once per connection
//! instead of once per request, to see whether the kernel's part of a request gets cheaper
//! when nothing is re-armed. One thread, one raw io_uring with `SINGLE_ISSUER | DEFER_TASKRUN`,
//! the sockets registered as fixed files where the ring does the I/O.
//!
//! Modes:
//! - `recv`: each request a `SEND` (completion skipped) through the ring; one multishot `RECV`
//!   per connection, its buffers taken from a provided-buffer ring (`IORING_REGISTER_PBUF_RING`)
//!   and given back as soon as the bytes are looked at.
//! - `recv-sys`: the same receives, the request sent by a plain `send(2)`.
//! - `poll`: one multishot `POLL_ADD` (`POLLIN`) per connection; `send(2)` and `recv(2)` as
//!   plain syscalls, as molotov does, without the re-armed poll per read.
//!
//! ```text
//! cargo build --release -p molotov-benches --example uring_multishot
//! taskset -c 0 target/release/examples/uring_multishot 127.0.0.1:8081 50 5 recv
//! ```
//! A last argument `coop` builds the ring with `COOP_TASKRUN | TASKRUN_FLAG` (as molotov's
//! rings are built) instead of `SINGLE_ISSUER | DEFER_TASKRUN`. CPU from `getrusage`, as the
//! other floors.
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use molotov_benches::floor::{self, response_complete};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Recv,
    RecvSys,
    Poll,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Recv => "recv",
            Mode::RecvSys => "recv-sys",
            Mode::Poll => "poll",
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = (|| {
        let (addr, conns, secs) = floor::address_connections_seconds(&args)?;
        let mode = match args.get(4)?.as_str() {
            "recv" => Mode::Recv,
            "recv-sys" => Mode::RecvSys,
            "poll" => Mode::Poll,
            _ => return None,
        };
        let defer = match args.get(5).map(String::as_str) {
            None | Some("defer") => true,
            Some("coop") => false,
            Some(_) => return None,
        };
        Some((addr, conns, secs, mode, defer))
    })();
    let Some((addr, conns, secs, mode, defer)) = parsed else {
        eprintln!(
            "usage: uring_multishot ADDR CONNECTIONS(1-4095) SECONDS recv|recv-sys|poll [defer|coop]"
        );
        return ExitCode::from(2);
    };
    match run(addr, conns, secs, mode, defer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uring_multishot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Buffers lent to the kernel through a provided-buffer ring: `count` (a power of two)
/// buffers of `size` bytes, group 0.
struct BufRing {
    entries: *mut types::BufRingEntry,
    mask: u16,
    tail: u16,
    memory: Vec<u8>,
    size: usize,
}

impl BufRing {
    fn register(ring: &IoUring, count: u16, size: usize) -> std::io::Result<BufRing> {
        let bytes = count as usize * std::mem::size_of::<types::BufRingEntry>();
        // SAFETY: an anonymous private mapping, page aligned as the kernel wants; unmapped
        // never (it lives as long as the process, as the ring).
        let entries = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if entries == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let mut this = BufRing {
            entries: entries.cast(),
            mask: count - 1,
            tail: 0,
            memory: vec![0u8; count as usize * size],
            size,
        };
        // SAFETY: the mapping holds `count` entries and outlives the ring.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, count, 0, 0)?
        };
        for bid in 0..count {
            this.give_back(bid);
        }
        Ok(this)
    }

    /// Returns buffer `bid` to the kernel.
    fn give_back(&mut self, bid: u16) {
        let index = (self.tail & self.mask) as usize;
        // SAFETY: `index` is inside the mapping; the kernel reads an entry only once the tail
        // (published below with release ordering) covers it.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(self.memory[bid as usize * self.size..].as_ptr() as u64);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the `resv` field of the first entry, a u16 the kernel reads;
        // AtomicU16 has u16's layout.
        let tail = unsafe { &*(types::BufRingEntry::tail(self.entries) as *const AtomicU16) };
        tail.store(self.tail, Ordering::Release);
    }

    fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        &self.memory[bid as usize * self.size..][..len]
    }
}

fn run(addr: SocketAddr, conns: usize, secs: u64, mode: Mode, defer: bool) -> std::io::Result<()> {
    let mut builder = IoUring::builder();
    if defer {
        builder.setup_single_issuer().setup_defer_taskrun();
    } else {
        builder.setup_coop_taskrun().setup_taskrun_flag();
    }
    let mut ring: IoUring = builder.setup_cqsize(8192).build(1024)?;
    let streams = floor::connect_all(addr, conns)?;
    let fds: Vec<i32> = streams.iter().map(|s| s.as_raw_fd()).collect();
    ring.submitter().register_files(&fds)?;
    let request = floor::request(addr, "uring-floor");
    let mut bufring = match mode {
        Mode::Poll => None,
        Mode::Recv | Mode::RecvSys => Some(BufRing::register(&ring, 256, 2048)?),
    };
    // A response that arrives in more than one piece is gathered here.
    let mut partial: Vec<Vec<u8>> = vec![Vec::with_capacity(4096); conns];
    let mut read_buf = vec![0u8; 4096];
    let mut done = 0u64;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();

    let arm = |ring: &mut IoUring, c: usize| -> std::io::Result<()> {
        let entry = match mode {
            Mode::Poll => opcode::PollAdd::new(types::Fixed(c as u32), libc::POLLIN as u32)
                .multi(true)
                .build(),
            Mode::Recv | Mode::RecvSys => opcode::RecvMulti::new(types::Fixed(c as u32), 0).build(),
        }
        .user_data(c as u64 * 2 + 1);
        // SAFETY: the entry refers to no memory of ours but the buffer ring, registered
        // for the ring's lifetime.
        unsafe { push(ring, &entry) }
    };
    let send = |ring: &mut IoUring, c: usize| -> std::io::Result<()> {
        if mode == Mode::Recv {
            let entry = opcode::Send::new(
                types::Fixed(c as u32),
                request.as_ptr(),
                request.len() as u32,
            )
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(c as u64 * 2);
            // SAFETY: the request bytes live until the loop ends.
            unsafe { push(ring, &entry) }
        } else {
            // SAFETY: a valid socket and buffer.
            let n = unsafe {
                libc::send(
                    fds[c],
                    request.as_ptr().cast(),
                    request.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n != request.len() as isize {
                return Err(std::io::Error::other("a send was short or failed"));
            }
            Ok(())
        }
    };
    for c in 0..conns {
        arm(&mut ring, c)?;
        send(&mut ring, c)?;
    }
    let mut live = conns;
    let mut stopped = vec![false; conns];
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    while live > 0 {
        ring.submit_and_wait(1)?;
        cqes.clear();
        cqes.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        let stopping = Instant::now() >= deadline;
        for &(ud, res, flags) in &cqes {
            let c = (ud / 2) as usize;
            if ud % 2 == 0 {
                return Err(std::io::Error::other(format!(
                    "a send failed: {}",
                    std::io::Error::from_raw_os_error(-res)
                )));
            }
            if stopped[c] {
                if let (Some(br), Some(bid)) = (bufring.as_mut(), cqueue::buffer_select(flags)) {
                    br.give_back(bid);
                }
                continue;
            }
            if res == -libc::ENOBUFS {
                arm(&mut ring, c)?;
                continue;
            }
            if res < 0 {
                return Err(std::io::Error::other(format!(
                    "a receive failed: {}",
                    std::io::Error::from_raw_os_error(-res)
                )));
            }
            if !cqueue::more(flags) {
                arm(&mut ring, c)?;
            }
            let complete = match bufring.as_mut() {
                Some(br) => {
                    if res == 0 {
                        return Err(std::io::Error::other("the server closed a connection"));
                    }
                    let bid = cqueue::buffer_select(flags)
                        .ok_or_else(|| std::io::Error::other("a receive without a buffer"))?;
                    let complete = response_in(&mut partial[c], br.bytes(bid, res as usize));
                    br.give_back(bid);
                    complete
                }
                None => {
                    // SAFETY: a valid socket and buffer.
                    let n = unsafe {
                        libc::recv(
                            fds[c],
                            read_buf.as_mut_ptr().cast(),
                            read_buf.len(),
                            libc::MSG_DONTWAIT,
                        )
                    };
                    if n == 0 {
                        return Err(std::io::Error::other("the server closed a connection"));
                    }
                    if n < 0 {
                        let e = std::io::Error::last_os_error();
                        if e.kind() == std::io::ErrorKind::WouldBlock {
                            continue;
                        }
                        return Err(e);
                    }
                    response_in(&mut partial[c], &read_buf[..n as usize])
                }
            };
            if complete {
                done += 1;
                partial[c].clear();
                if stopping {
                    stopped[c] = true;
                    live -= 1;
                } else {
                    send(&mut ring, c)?;
                }
            }
        }
    }
    let setup = if defer { "defer" } else { "coop" };
    let mode = format!("multishot-{}-{setup}", mode.name());
    floor::print_result(&mode, conns, done, "", started.elapsed().as_secs_f64());
    if done == 0 {
        return Err(std::io::Error::other("no request completed"));
    }
    Ok(())
}

/// Whether `bytes`, read on a connection after what `partial` gathered of its response so far,
/// complete that response; an incomplete one is kept in `partial` (the caller clears it once
/// complete).
fn response_in(partial: &mut Vec<u8>, bytes: &[u8]) -> bool {
    if partial.is_empty() && response_complete(bytes) {
        return true;
    }
    partial.extend_from_slice(bytes);
    response_complete(partial)
}

/// Queues `entry`, submitting what is queued first when the submission queue is full.
///
/// # Safety
/// Whatever memory `entry` points at must stay valid until its operation completes.
unsafe fn push(ring: &mut IoUring, entry: &squeue::Entry) -> std::io::Result<()> {
    if ring.submission().is_full() {
        ring.submit()?;
    }
    // SAFETY: the caller keeps the entry's memory valid.
    unsafe { ring.submission().push(entry) }.map_err(std::io::Error::other)
}
