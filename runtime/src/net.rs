//! [`TcpStream`]: a non-blocking TCP connection of one executor, written with `send(2)`.
//!
//! By default it is read with `recv(2)` once the ring says it is readable: one multishot
//! `POLL_ADD` per stream, armed at the first wait and kept (a one-shot `POLL_ADD` per wait
//! where the kernel lacks those, or [`crate::Executor::multishot_poll`] is off). A read
//! after a short read waits for readiness first (what was there was taken), a read after a
//! readiness event or a full read tries `recv` first: a request and its response cost one
//! `send`, one poll completion and one `recv`.
//!
//! With [`crate::Executor::multishot_recv`] (off by default; Linux 6.0), it is read
//! through one multishot receive armed at its first wait and kept for its life: each time
//! data arrives the kernel copies it into one of the executor's buffers and posts a
//! completion naming it; the read copies the bytes out and gives the buffer back, and no
//! `recv(2)` is made. When the executor's buffers run out (every one holds bytes not yet
//! read), a stream's receive ends: it reads what is left with `recv(2)`, waits once with a
//! one-shot poll, and arms a receive again after that.
//!
//! Write readiness, rarely needed, is a one-shot `POLL_ADD` per wait.

use std::future::{Future, poll_fn};
use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};
use io_uring::{opcode, types};

use crate::executor::{Runtime, runtime, with_runtime};
use crate::reactor::{Chunk, ENDED_AFTER_DATA, Fired, OpId, ReceiveState, Received};
use crate::timer::Timer;

/// A connected TCP stream of one executor.
#[derive(Debug)]
pub struct TcpStream {
    fd: OwnedFd,
    /// The executor whose ring holds `read_wait` and `write_wait`.
    executor: usize,
    /// What the reads wait on in the ring.
    read_wait: ReadWait,
    /// How the stream reads, decided at its first wait.
    read_path: ReadPath,
    /// Received bytes being read: the chunk, and how many of its bytes were read.
    chunk: Option<(Chunk, usize)>,
    /// When the bytes of the last read were known to be in memory, for a read served by
    /// the receive; None after a read with `recv(2)`.
    read_arrived_by: Option<Instant>,
    /// The receive ended with this error after the bytes that a read returned: the next
    /// read reports it.
    read_error: Option<i32>,
    /// The receive ran out of buffers: the next wait for data is a one-shot poll.
    poll_next_wait: bool,
    write_wait: Option<OpId>,
    /// Try `recv` before waiting for readiness.
    read_first: bool,
    /// The read poll saw the peer's end of stream, or an error: whatever a read leaves,
    /// the next read tries `recv` first (the multishot poll will not tell it again).
    hung_up: bool,
}

/// Poll events after which a read may find an end of stream or an error that no later
/// event will announce.
const HANG_UP_EVENTS: i32 = (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) as i32;

/// What a stream's reads wait on in the ring: nothing, or one operation in flight.
#[derive(Debug)]
enum ReadWait {
    /// Nothing in flight: the next wait arms something.
    Idle,
    /// A one-shot poll: its answer ends it.
    Poll(OpId),
    /// A multishot poll: kept across waits until it ends.
    MultishotPoll(OpId),
    /// A multishot receive: kept across reads until it ends.
    Receive(OpId),
}

impl ReadWait {
    /// The operation in flight, if any, leaving `Idle`.
    fn take(&mut self) -> Option<OpId> {
        match std::mem::replace(self, ReadWait::Idle) {
            ReadWait::Idle => None,
            ReadWait::Poll(id) | ReadWait::MultishotPoll(id) | ReadWait::Receive(id) => Some(id),
        }
    }
}

/// How a stream reads, for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadPath {
    /// It has not waited yet: its first wait arms a receive if the executor offers them.
    Undecided,
    /// Readiness polls, then `recv(2)`.
    Polls,
    /// Multishot receives (and, when the executor's buffers ran out, `recv(2)` and a
    /// one-shot poll until the next receive).
    Receives,
}

/// Which readiness a stream waits for.
#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl TcpStream {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let domain = match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        // SAFETY: plain socket(2) with constant arguments.
        let fd = unsafe {
            libc::socket(
                domain,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::IPPROTO_TCP,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut stream = TcpStream {
            fd,
            executor: runtime(|runtime| runtime.id),
            read_wait: ReadWait::Idle,
            read_path: ReadPath::Undecided,
            chunk: None,
            read_arrived_by: None,
            read_error: None,
            poll_next_wait: false,
            write_wait: None,
            read_first: true,
            hung_up: false,
        };
        let (address, length) = socket_address(addr);
        // SAFETY: `address` is a valid socket address of `length` bytes for the socket's
        // family; the socket is non-blocking, so this returns at once.
        let result =
            unsafe { libc::connect(stream.fd.as_raw_fd(), (&raw const address).cast(), length) };
        if result == 0 {
            return Ok(stream);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(error);
        }
        poll_fn(|cx| stream.poll_ready(Direction::Write, cx)).await?;
        match stream.take_error()? {
            None => Ok(stream),
            Some(error) => Err(error),
        }
    }

    /// [`TcpStream::connect`] bounded by `timeout` (an error of kind `TimedOut` past it).
    pub async fn connect_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let mut connect = std::pin::pin!(TcpStream::connect(addr));
        let mut timer = Timer::new(timeout);
        poll_fn(|cx| {
            if let Poll::Ready(result) = connect.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            if Pin::new(&mut timer).poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {addr} took longer than {timeout:?}"),
                )));
            }
            Poll::Pending
        })
        .await
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        let value = libc::c_int::from(on);
        // SAFETY: `value` is a valid c_int of the size passed, read by the call only.
        let result = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&raw const value).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The socket's pending error (`SO_ERROR`), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let mut value: libc::c_int = 0;
        let mut length = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `length` are valid, writable, and `length` holds the size of
        // `value`.
        let result = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut value).cast(),
                &mut length,
            )
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((value != 0).then(|| io::Error::from_raw_os_error(value)))
    }

    /// Ready once the socket is readable or writable (or has an error or hung up), as a
    /// poll in the ring tells: the stream's multishot read poll (armed at the first read
    /// wait), or a one-shot poll per wait.
    fn poll_ready(&mut self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let fd = self.fd.as_raw_fd();
        runtime(|runtime| {
            if runtime.id != self.executor {
                // Moved to another executor: the first one's ring, and its polls, are gone
                // or not ours to reap.
                self.executor = runtime.id;
                self.read_wait = ReadWait::Idle;
                self.write_wait = None;
            }
            let (wait, multishot) = match direction {
                Direction::Read => match &self.read_wait {
                    ReadWait::Idle => (None, false),
                    ReadWait::Poll(id) => (Some(id), false),
                    ReadWait::MultishotPoll(id) => (Some(id), true),
                    // A stream that receives waits with a poll only once its receive ended.
                    ReadWait::Receive(_) => {
                        return Poll::Ready(Err(io::Error::other(
                            "a stream waited for readiness while its receive was in flight",
                        )));
                    }
                },
                Direction::Write => (self.write_wait.as_ref(), false),
            };
            let Some(id) = wait else {
                return self.arm_poll(direction, fd, runtime, cx);
            };
            let result = match runtime.reactor.poll(id, cx.waker()) {
                Fired::No => return Poll::Pending,
                // Only a multishot poll fires and stays in flight.
                Fired::Yes(events) => {
                    // A multishot poll is edge-triggered: a completion comes when something
                    // arrives, and what came together (the last data and the end of stream)
                    // comes in one. A short read takes the data, not the end, which must
                    // then be read without waiting for news.
                    if events & HANG_UP_EVENTS != 0 {
                        self.hung_up = true;
                    }
                    return Poll::Ready(Ok(()));
                }
                // A one-shot poll's answer, or the end of a multishot poll (the completion
                // queue was full, or it failed): the next wait arms a new one.
                Fired::Ended(result) => result,
            };
            match direction {
                Direction::Read => self.read_wait = ReadWait::Idle,
                Direction::Write => self.write_wait = None,
            }
            if multishot && result == -libc::EINVAL {
                // A kernel without multishot polls (before 5.13): one-shot polls from now
                // on. The socket may be readable: look.
                runtime.reactor.refuse_multishot_poll();
                return Poll::Ready(Ok(()));
            }
            if result < 0 {
                return Poll::Ready(Err(io::Error::from_raw_os_error(-result)));
            }
            Poll::Ready(Ok(()))
        })
    }

    /// Arms the poll of a wait for `direction`: for reads a multishot poll kept across
    /// waits where the executor offers them (and no receives: a stream that receives waits
    /// with a poll only when the buffers ran out, a one-shot poll that cannot outlive the
    /// wait), else a one-shot poll.
    fn arm_poll(
        &mut self,
        direction: Direction,
        fd: RawFd,
        runtime: &Runtime,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        match direction {
            Direction::Read
                if runtime.reactor.multishot_poll() && !runtime.reactor.multishot_recv() =>
            {
                let entry =
                    opcode::PollAdd::new(types::Fd(fd), (libc::POLLIN | libc::POLLRDHUP) as u32)
                        .multi(true)
                        .build();
                // SAFETY: a poll points at no memory.
                let id = unsafe { runtime.reactor.start_multishot(entry, cx.waker()) }?;
                self.read_wait = ReadWait::MultishotPoll(id);
            }
            Direction::Read => {
                let entry = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32).build();
                // SAFETY: a poll points at no memory.
                let id = unsafe { runtime.reactor.start(entry, cx.waker()) }?;
                self.read_wait = ReadWait::Poll(id);
            }
            Direction::Write => {
                let entry = opcode::PollAdd::new(types::Fd(fd), libc::POLLOUT as u32).build();
                // SAFETY: a poll points at no memory.
                self.write_wait = Some(unsafe { runtime.reactor.start(entry, cx.waker()) }?);
            }
        }
        Poll::Pending
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let (read, write, chunk) = (
            self.read_wait.take(),
            self.write_wait.take(),
            self.chunk.take(),
        );
        if read.is_none() && write.is_none() && chunk.is_none() {
            return;
        }
        let executor = self.executor;
        with_runtime(|runtime| {
            if runtime.id == executor {
                if let Some((chunk, _)) = chunk {
                    runtime.reactor.give_back(chunk);
                }
                // A receive's chunks not yet taken go back when its slot is freed.
                for id in [read, write].into_iter().flatten() {
                    runtime.reactor.cancel(id);
                }
            }
        });
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.read_path == ReadPath::Receives {
            return this.poll_read_receiving(cx, buf);
        }
        loop {
            if this.read_first
                && let Some(read) = this.recv_now(buf)
            {
                return read;
            }
            // The first wait of a stream arms a receive if the executor offers them (the
            // stream then reads through `poll_read_receiving`); otherwise polls, for good.
            if this.read_path == ReadPath::Undecided && matches!(this.read_wait, ReadWait::Idle) {
                match this.start_receive(cx) {
                    Ok(true) => return Poll::Pending,
                    Ok(false) => this.read_path = ReadPath::Polls,
                    Err(error) => return Poll::Ready(Err(error)),
                }
            }
            match this.poll_ready(Direction::Read, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) => this.read_first = true,
            }
        }
    }
}

impl TcpStream {
    /// A non-blocking `recv(2)` into `buf`: the bytes, the end of the stream or an error;
    /// `None` when there is nothing (the next read then waits first).
    #[inline(always)]
    fn recv_now(&mut self, buf: &mut [u8]) -> Option<Poll<io::Result<usize>>> {
        loop {
            // SAFETY: `buf` is a valid, exclusively borrowed buffer of `buf.len()` bytes;
            // MSG_DONTWAIT makes the call non-blocking.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                self.read_arrived_by = None;
                self.read_first = n as usize == buf.len() || self.hung_up;
                return Some(Poll::Ready(Ok(n as usize)));
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => {
                    self.read_first = false;
                    return None;
                }
                io::ErrorKind::Interrupted => {}
                _ => return Some(Poll::Ready(Err(error))),
            }
        }
    }

    /// Whether a multishot receive is in flight.
    fn is_receiving(&self) -> bool {
        matches!(self.read_wait, ReadWait::Receive(_))
    }

    /// A read of a stream that receives: the receive's chunks, and when it ended short of
    /// buffers, `recv(2)` and a one-shot poll until the next receive is armed. Not inlined:
    /// the default read path only compares `read_path`.
    #[inline(never)]
    fn poll_read_receiving(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(errno) = self.read_error.take() {
            return Poll::Ready(Err(io::Error::from_raw_os_error(errno)));
        }
        loop {
            if (self.is_receiving() || self.chunk.is_some())
                && let Some(read) = self.poll_received(cx, buf)
            {
                return read;
            }
            if self.read_first
                && let Some(read) = self.recv_now(buf)
            {
                return read;
            }
            if !self.poll_next_wait && matches!(self.read_wait, ReadWait::Idle) {
                match self.start_receive(cx) {
                    Ok(true) => return Poll::Pending,
                    // The kernel refused one: wait with a poll.
                    Ok(false) => {}
                    Err(error) => return Poll::Ready(Err(error)),
                }
            }
            match self.poll_ready(Direction::Read, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(())) => {
                    self.read_first = true;
                    self.poll_next_wait = false;
                }
            }
        }
    }

    /// Arms the stream's multishot receive, if its executor offers them; `Ok(false)` where
    /// it does not (the caller waits with a poll).
    fn start_receive(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let fd = self.fd.as_raw_fd();
        runtime(|runtime| {
            if runtime.id != self.executor || !runtime.reactor.multishot_recv() {
                return Ok(false);
            }
            match runtime.reactor.start_receive(fd, cx.waker())? {
                Some(id) => {
                    self.read_wait = ReadWait::Receive(id);
                    self.read_path = ReadPath::Receives;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    /// A read served by the receive: the bytes of the chunks received (as many as `buf`
    /// holds), the end of the stream, an error, or `Pending`; `None` when the receive ended
    /// with nothing to say (the caller reads with `recv(2)` or arms another).
    fn poll_received(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        runtime(|runtime| {
            if runtime.id != self.executor {
                // The chunk and the receive belong to the other executor's reactor.
                self.chunk = None;
                self.read_wait = ReadWait::Idle;
                return Some(Poll::Ready(Err(io::Error::other(
                    "a stream that receives was read from another executor",
                ))));
            }
            let reactor = &runtime.reactor;
            let mut filled = 0;
            // Whether more chunks may wait behind the one being read.
            let mut more = true;
            loop {
                if let Some((chunk, offset)) = self.chunk {
                    let n = reactor.take(chunk, offset, &mut buf[filled..]);
                    filled += n;
                    // Chunks are read in the order they were reaped: the last one read
                    // arrived last.
                    self.read_arrived_by = Some(chunk.arrived_by);
                    self.chunk = (offset + n < chunk.len as usize).then_some((chunk, offset + n));
                    // The usual case: one chunk, read whole. Nothing more to ask the reactor
                    // (the next read parks the waker if nothing came).
                    if filled == buf.len() || !more {
                        return Some(Poll::Ready(Ok(filled)));
                    }
                }
                let id = match &self.read_wait {
                    ReadWait::Receive(id) => id,
                    _ => return (filled > 0).then_some(Poll::Ready(Ok(filled))),
                };
                let result = match reactor.receive(id, cx.waker()) {
                    Received::Chunk(chunk, behind) => {
                        self.chunk = Some((chunk, 0));
                        more = behind;
                        continue;
                    }
                    Received::Pending if filled > 0 => return Some(Poll::Ready(Ok(filled))),
                    Received::Pending => return Some(Poll::Pending),
                    Received::Ended(result) => result,
                };
                self.read_wait = ReadWait::Idle;
                match result {
                    // The end of the stream: the socket says so again to `recv(2)`.
                    0 => {
                        self.hung_up = true;
                        self.read_first = true;
                    }
                    ENDED_AFTER_DATA => {}
                    // Every buffer holds unread bytes: what is left is read with `recv(2)`.
                    errno if errno == -libc::ENOBUFS => {
                        self.read_first = true;
                        self.poll_next_wait = true;
                    }
                    // A kernel without multishot receives (before 6.0).
                    errno if errno == -libc::EINVAL => {
                        reactor.refuse_multishot_recv();
                        self.read_first = true;
                    }
                    errno => self.read_error = Some(-errno),
                }
                if filled > 0 {
                    return Some(Poll::Ready(Ok(filled)));
                }
                if let Some(errno) = self.read_error.take() {
                    return Some(Poll::Ready(Err(io::Error::from_raw_os_error(errno))));
                }
                return (result == 0).then_some(Poll::Ready(Ok(0)));
            }
        })
    }

    /// An upper bound of when the bytes that the last read returned arrived, where the
    /// stream knows one without reading the clock: for a read served by the stream's
    /// multishot receive (`Executor::multishot_recv`), the time its executor read the
    /// completion that brought the last of them (the kernel had put them in memory by
    /// then), which may be well before the read itself when other tasks ran in between.
    /// None after a read that copied the bytes out of the socket itself (`recv(2)`): the
    /// time of the read is the bound then.
    pub fn last_read_arrived_by(&self) -> Option<Instant> {
        self.read_arrived_by
    }

    /// A read that never waits: the bytes, end of stream or error the stream's receive
    /// holds, else a non-blocking `recv(2)`; `WouldBlock` when there is nothing. Arms
    /// nothing.
    ///
    /// With a multishot receive in flight, what arrived is found wherever it is: in a chunk
    /// the reactor reaped, in a buffer whose completion the kernel posted and nobody read
    /// yet, or still in the socket (with `DEFER_TASKRUN` the receive takes it at the next
    /// entry into the ring: the read enters the ring for it). Bytes the socket holds that
    /// the receive still has not delivered after that (a moment's race in the kernel) are
    /// an error of kind `Other`, not `WouldBlock`: something is there.
    pub fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(errno) = self.read_error.take() {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if self.is_receiving() || self.chunk.is_some() {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let mut entered = 0;
            loop {
                match self.poll_received(&mut cx, buf) {
                    Some(Poll::Ready(read)) => return read,
                    // The receive ended: what is left is in the socket.
                    None => break,
                    Some(Poll::Pending) => {}
                }
                // Nothing reaped for the receive. Look at the socket first, then at the
                // ring: bytes that were in the socket when it was looked at and left it
                // since went into a buffer, and their completion is posted. Once that is
                // read, the receive's answer is the read's.
                if self.socket_is_empty() {
                    if !self.reap_posted(false)? {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    match self.poll_received(&mut cx, buf) {
                        Some(Poll::Ready(read)) => return read,
                        Some(Poll::Pending) => return Err(io::ErrorKind::WouldBlock.into()),
                        None => break,
                    }
                } else {
                    if entered == RECEIVE_SETTLE_ENTRIES {
                        return Err(io::Error::other(
                            "bytes arrived that the stream's receive has not delivered yet",
                        ));
                    }
                    entered += 1;
                    self.reap_posted(true)?;
                }
            }
        }
        match self.recv_now(buf) {
            Some(Poll::Ready(read)) => read,
            _ => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Whether a read now would find nothing: no bytes, no end of stream, no error. Never
    /// waits and takes nothing (bytes the stream's receive holds stay for the next read;
    /// the socket is looked at with `MSG_PEEK`).
    ///
    /// With a multishot receive in flight, bytes the kernel already moved into a buffer and
    /// posted the completion of, which the executor has not read yet (a ring without
    /// `DEFER_TASKRUN` runs the receive at any return to user space), count too: when the
    /// socket is empty, the completion queue is read before the answer (no system call
    /// unless the queue overflowed). A stream that reads with polls makes the one `recv`.
    pub fn nothing_to_read(&mut self) -> bool {
        if self.chunk.is_some() || self.read_error.is_some() {
            return false;
        }
        if !self.is_receiving() {
            return self.socket_is_empty();
        }
        if !self.receive_has_nothing() || !self.socket_is_empty() {
            return false;
        }
        // The socket is empty: what arrived before it was looked at is in a buffer, and the
        // completion that says so is posted.
        match self.reap_posted(false) {
            Ok(false) => true,
            Ok(true) => self.receive_has_nothing(),
            Err(_) => false,
        }
    }

    /// With a receive in flight: whether the reaped state says nothing arrived (no chunk,
    /// no end of stream, no error; or an end after which what is left is in the socket).
    fn receive_has_nothing(&self) -> bool {
        let ReadWait::Receive(id) = &self.read_wait else {
            return true;
        };
        let state = with_runtime(|runtime| {
            (runtime.id == self.executor).then(|| runtime.reactor.receive_state(id))
        })
        .flatten();
        match state {
            Some(ReceiveState::Waiting) => true,
            Some(ReceiveState::Ended(result)) => {
                result == ENDED_AFTER_DATA || result == -libc::ENOBUFS || result == -libc::EINVAL
            }
            // Bytes; or another executor's receive.
            Some(ReceiveState::Data) | None => false,
        }
    }

    /// Reads what the stream's executor's ring already posted (`enter`: after entering the
    /// ring without waiting, which runs the receives' deferred work); whether anything was
    /// read. Nothing on another executor.
    fn reap_posted(&self, enter: bool) -> io::Result<bool> {
        with_runtime(|runtime| {
            if runtime.id != self.executor {
                return Ok(false);
            }
            if enter {
                runtime.reactor.enter(false, None)?;
            }
            runtime.reactor.reap_posted()
        })
        .unwrap_or(Ok(false))
    }

    /// Whether the socket holds nothing to read: one `recv(MSG_PEEK | MSG_DONTWAIT)` of a
    /// byte (no bytes, no end of stream, no error).
    fn socket_is_empty(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: the stream's own descriptor; the buffer is a valid, writable one-byte
        // local; MSG_DONTWAIT makes the call non-blocking.
        let result = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if result < 0 {
            let errno = io::Error::last_os_error().raw_os_error();
            return matches!(errno, Some(libc::EAGAIN) | Some(libc::EINTR));
        }
        // 0: the peer closed; > 0: bytes.
        false
    }
}

/// How many times [`TcpStream::try_read`] enters the ring for bytes the socket holds before
/// it says the receive did not deliver them.
const RECEIVE_SETTLE_ENTRIES: u32 = 4;

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            // SAFETY: `buf` is a valid buffer of `buf.len()` bytes; MSG_DONTWAIT makes the
            // call non-blocking, MSG_NOSIGNAL turns a broken pipe into EPIPE.
            let n = unsafe {
                libc::send(
                    this.fd.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Poll::Ready(Ok(n as usize));
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock => match this.poll_ready(Direction::Write, cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Ready(Ok(())) => {}
                },
                io::ErrorKind::Interrupted => {}
                _ => return Poll::Ready(Err(error)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts the sending side down (the peer reads an end of stream).
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: shutdown(2) on the stream's own descriptor.
        let result = unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) };
        if result != 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::ENOTCONN) {
                return Poll::Ready(Err(error));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// `addr` as a C socket address, and its length.
fn socket_address(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero `sockaddr_storage` is a valid value of this plain C struct.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let length = match addr {
        SocketAddr::V4(v4) => {
            let address = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is larger than and aligned for `sockaddr_in`.
            unsafe { std::ptr::write((&raw mut storage).cast(), address) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let address = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: `sockaddr_storage` is larger than and aligned for `sockaddr_in6`.
            unsafe { std::ptr::write((&raw mut storage).cast(), address) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, length as libc::socklen_t)
}
