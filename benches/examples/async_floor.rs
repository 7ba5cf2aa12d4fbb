//! The async floor: the transport floor's keep-alive loop (`floor::exchange_loop`, the very
//! code `examples/transport_floor` runs on glommio) on the smallest async runtime we know how
//! to write over one raw io_uring, to tell what async itself costs from what glommio costs.
//! One thread; a task per connection, boxed once; a waker is the task's index (cloning and
//! waking touch no reference count); one run queue; when it is empty, the ring is entered
//! once to submit what the tasks queued and wait for a completion, and each completion wakes
//! the task that waits on it. No timers, no task queues, no cross-thread wake-ups: what a
//! load generator's runtime needs beyond that is not here, so this is a floor, not a design.
//!
//! ```text
//! cargo build --release -p molotov-benches --example async_floor
//! taskset -c 0 target/release/examples/async_floor 127.0.0.1:8081 50 5 poll defer
//! ```
//! Read modes: `poll` (as molotov reads on glommio: `recv(2)` once the socket is readable, a
//! one-shot `POLL_ADD` to learn that; a read after a short read waits for readiness first,
//! so a response costs one `POLL_ADD` and one `recv`), `mspoll` (the same with one multishot
//! `POLL_ADD` per connection, armed on its first wait and kept) or `recv` (a `RECV` with
//! `POLL_FIRST` into the connection's own buffer, copied out). Writes are `send(2)`.
//! `defer` builds the ring with `SINGLE_ISSUER | DEFER_TASKRUN`, `coop` with `COOP_TASKRUN |
//! TASKRUN_FLAG` (as molotov's rings are built). CPU from `getrusage`, as the other floors.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::process::ExitCode;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};
use io_uring::{IoUring, cqueue, opcode, squeue, types};
use molotov_benches::floor::{self, exchange_loop};

const POLL_FIRST: u16 = 1;
const BUFFER: usize = 4096;

/// How a connection learns that it can read.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Poll,
    MultishotPoll,
    Recv,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let parsed = (|| {
        let (addr, conns, secs) = floor::address_connections_seconds(&args)?;
        let mode = match args.get(4)?.as_str() {
            "poll" => Mode::Poll,
            "mspoll" => Mode::MultishotPoll,
            "recv" => Mode::Recv,
            _ => return None,
        };
        let defer = match args.get(5)?.as_str() {
            "defer" => true,
            "coop" => false,
            _ => return None,
        };
        Some((addr, conns, secs, mode, defer))
    })();
    let Some((addr, conns, secs, mode, defer)) = parsed else {
        eprintln!(
            "usage: async_floor ADDR CONNECTIONS(1-4095) SECONDS poll|mspoll|recv defer|coop"
        );
        return ExitCode::from(2);
    };
    match run(addr, conns, secs, mode, defer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("async_floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(addr: SocketAddr, conns: usize, secs: u64, mode: Mode, defer: bool) -> io::Result<()> {
    let mut builder = IoUring::builder();
    if defer {
        builder.setup_single_issuer().setup_defer_taskrun();
    } else {
        builder.setup_coop_taskrun().setup_taskrun_flag();
    }
    let reactor = Rc::new(Reactor {
        ring: RefCell::new(builder.build(256)?),
        slots: RefCell::new(Vec::new()),
    });
    let request: &'static [u8] = Box::leak(floor::request(addr, "async-floor").into_boxed_slice());
    let mut streams = Vec::with_capacity(conns);
    for stream in floor::connect_all(addr, conns)? {
        stream.set_nonblocking(true)?;
        streams.push(Stream::new(&reactor, stream, mode));
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let tasks: Vec<Task> = streams
        .into_iter()
        .map(|stream| Box::pin(exchange_loop(stream, request, deadline)) as Task)
        .collect();
    let results = run_to_completion(&reactor, tasks)?;
    let requests: u64 = results.iter().map(|r| r.0).sum();
    let failed: u64 = results.iter().map(|r| r.1).sum();
    let mode = format!(
        "async-{}-{}",
        match mode {
            Mode::Poll => "poll",
            Mode::MultishotPoll => "mspoll",
            Mode::Recv => "recv",
        },
        if defer { "defer" } else { "coop" }
    );
    floor::print_result(
        &mode,
        conns,
        requests,
        &format!("failed_connections={failed}"),
        started.elapsed().as_secs_f64(),
    );
    if requests == 0 {
        return Err(io::Error::other("no request completed"));
    }
    Ok(())
}

type Task = Pin<Box<dyn Future<Output = (u64, u64)>>>;

// ---- the executor: a run queue of task indices ----

thread_local! {
    /// Tasks woken and not yet polled, in order, and which of them are in the queue.
    static RUN_QUEUE: RefCell<(VecDeque<usize>, Vec<bool>)> =
        const { RefCell::new((VecDeque::new(), Vec::new())) };
}

fn schedule(task: usize) {
    RUN_QUEUE.with(|queue| {
        let (order, queued) = &mut *queue.borrow_mut();
        if !queued[task] {
            queued[task] = true;
            order.push_back(task);
        }
    });
}

fn next_task() -> Option<usize> {
    RUN_QUEUE.with(|queue| {
        let (order, queued) = &mut *queue.borrow_mut();
        let task = order.pop_front()?;
        queued[task] = false;
        Some(task)
    })
}

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(
    |data| RawWaker::new(data, &WAKER_VTABLE),
    |data| schedule(data as usize),
    |data| schedule(data as usize),
    |_| {},
);

fn waker_for(task: usize) -> Waker {
    // SAFETY: the vtable's functions treat the data pointer as a plain task index, never
    // dereference it, and own nothing (drop does nothing), so every contract of `RawWaker`
    // holds; the waker is only used on this thread, where the run queue lives.
    unsafe { Waker::from_raw(RawWaker::new(task as *const (), &WAKER_VTABLE)) }
}

/// Polls the tasks as they are woken, entering the ring when none is runnable, until all are
/// done; their outputs in order.
fn run_to_completion(reactor: &Reactor, mut tasks: Vec<Task>) -> io::Result<Vec<(u64, u64)>> {
    let count = tasks.len();
    RUN_QUEUE.with(|queue| queue.borrow_mut().1 = vec![false; count]);
    for task in 0..count {
        schedule(task);
    }
    let wakers: Vec<Waker> = (0..count).map(waker_for).collect();
    let mut outputs = vec![(0, 0); count];
    let mut done = vec![false; count];
    let mut left = count;
    while left > 0 {
        while let Some(task) = next_task() {
            if done[task] {
                continue;
            }
            let mut cx = Context::from_waker(&wakers[task]);
            if let Poll::Ready(output) = tasks[task].as_mut().poll(&mut cx) {
                outputs[task] = output;
                done[task] = true;
                left -= 1;
            }
        }
        if left > 0 {
            reactor.ring.borrow_mut().submit_and_wait(1)?;
            reactor.complete();
        }
    }
    Ok(outputs)
}

// ---- the reactor: one ring, a slot per in-flight operation kind per connection ----

struct Reactor {
    ring: RefCell<IoUring>,
    slots: RefCell<Vec<Slot>>,
}

/// One operation a connection has in the ring (at most one at a time per slot), and what
/// it completed with.
#[derive(Default)]
struct Slot {
    armed: bool,
    result: Option<i32>,
    waker: Option<Waker>,
}

impl Reactor {
    fn new_slot(&self) -> u64 {
        let mut slots = self.slots.borrow_mut();
        slots.push(Slot::default());
        (slots.len() - 1) as u64
    }

    /// Queues `entry` (submitted at the next entry into the ring).
    ///
    /// # Safety
    /// Whatever memory the entry points at must stay valid and untouched until its
    /// completion.
    unsafe fn push(&self, entry: &squeue::Entry) -> io::Result<()> {
        let mut ring = self.ring.borrow_mut();
        // SAFETY: the caller's contract.
        if unsafe { ring.submission().push(entry) }.is_err() {
            ring.submit()?;
            // SAFETY: as above.
            unsafe { ring.submission().push(entry) }.map_err(io::Error::other)?;
        }
        Ok(())
    }

    /// Records every completion posted and wakes its waiter.
    fn complete(&self) {
        let mut ring = self.ring.borrow_mut();
        let mut slots = self.slots.borrow_mut();
        for cqe in ring.completion() {
            let slot = &mut slots[cqe.user_data() as usize];
            slot.armed = cqueue::more(cqe.flags());
            slot.result = Some(cqe.result());
            if let Some(waker) = slot.waker.take() {
                waker.wake();
            }
        }
    }

    /// Arms `entry` on `slot` unless it is armed already, and parks `waker` there.
    ///
    /// # Safety
    /// As [`Reactor::push`].
    unsafe fn wait(
        &self,
        slot: u64,
        entry: impl FnOnce() -> squeue::Entry,
        waker: &Waker,
    ) -> io::Result<()> {
        let armed = {
            let mut slots = self.slots.borrow_mut();
            let slot = &mut slots[slot as usize];
            match &slot.waker {
                Some(parked) if parked.will_wake(waker) => {}
                _ => slot.waker = Some(waker.clone()),
            }
            std::mem::replace(&mut slot.armed, true)
        };
        if !armed {
            // SAFETY: the caller's contract.
            unsafe { self.push(&entry().user_data(slot)) }?;
        }
        Ok(())
    }

    fn take_result(&self, slot: u64) -> Option<i32> {
        self.slots.borrow_mut()[slot as usize].result.take()
    }
}

// ---- a connection ----

struct Stream {
    reactor: Rc<Reactor>,
    socket: TcpStream,
    mode: Mode,
    read_slot: u64,
    write_slot: u64,
    /// Whether the next read should try `recv` before waiting (after a readiness event, or
    /// a read that filled its buffer).
    try_first: bool,
    /// `Mode::Recv`'s buffer, lent to the kernel while a `RECV` is armed; `start..end` is
    /// what the kernel wrote and the reader has not taken.
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Stream {
    fn new(reactor: &Rc<Reactor>, socket: TcpStream, mode: Mode) -> Stream {
        Stream {
            reactor: Rc::clone(reactor),
            socket,
            mode,
            read_slot: reactor.new_slot(),
            write_slot: reactor.new_slot(),
            try_first: false,
            buffer: vec![0u8; if mode == Mode::Recv { BUFFER } else { 0 }].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    fn poll_readiness_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.reactor.take_result(self.read_slot).is_some() {
            self.try_first = true;
        }
        if self.try_first {
            // SAFETY: `buf` is a valid, exclusively borrowed buffer of `buf.len()` bytes.
            let n = unsafe {
                libc::recv(
                    self.fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                self.try_first = n as usize == buf.len();
                return Poll::Ready(Ok(n as usize));
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::WouldBlock {
                return Poll::Ready(Err(error));
            }
            self.try_first = false;
        }
        let fd = types::Fd(self.fd());
        let entry = || match self.mode {
            Mode::MultishotPoll => opcode::PollAdd::new(fd, libc::POLLIN as u32)
                .multi(true)
                .build(),
            _ => opcode::PollAdd::new(fd, libc::POLLIN as u32).build(),
        };
        // SAFETY: a poll points at no memory.
        unsafe { self.reactor.wait(self.read_slot, entry, cx.waker()) }?;
        Poll::Pending
    }

    fn poll_completion_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.start == self.end {
            match self.reactor.take_result(self.read_slot) {
                Some(n) if n < 0 => return Poll::Ready(Err(io::Error::from_raw_os_error(-n))),
                Some(n) => (self.start, self.end) = (0, n as usize),
                None => {
                    let fd = types::Fd(self.fd());
                    let (pointer, length) = (self.buffer.as_mut_ptr(), self.buffer.len() as u32);
                    let entry = || {
                        opcode::Recv::new(fd, pointer, length)
                            .ioprio(POLL_FIRST)
                            .build()
                    };
                    // SAFETY: the buffer is heap memory owned by this stream, not touched
                    // while the `RECV` is armed, and leaked if the stream is dropped first.
                    unsafe { self.reactor.wait(self.read_slot, entry, cx.waker()) }?;
                    return Poll::Pending;
                }
            }
        }
        let n = (self.end - self.start).min(buf.len());
        buf[..n].copy_from_slice(&self.buffer[self.start..self.start + n]);
        self.start += n;
        Poll::Ready(Ok(n))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if self.mode == Mode::Recv && self.reactor.slots.borrow()[self.read_slot as usize].armed {
            // The kernel may still write into the buffer: it must outlive the operation.
            std::mem::forget(std::mem::take(&mut self.buffer));
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.mode {
            Mode::Recv => this.poll_completion_read(cx, buf),
            Mode::Poll | Mode::MultishotPoll => this.poll_readiness_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.reactor.take_result(this.write_slot);
        // SAFETY: `buf` is a valid buffer of `buf.len()` bytes.
        let n = unsafe {
            libc::send(
                this.fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return Poll::Ready(Ok(n as usize));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::WouldBlock {
            return Poll::Ready(Err(error));
        }
        let entry = || opcode::PollAdd::new(types::Fd(this.fd()), libc::POLLOUT as u32).build();
        // SAFETY: a poll points at no memory.
        unsafe { this.reactor.wait(this.write_slot, entry, cx.waker()) }?;
        Poll::Pending
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
