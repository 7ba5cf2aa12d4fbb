//! The `epoll` mode of the transport floor: readiness from one edge-triggered epoll instance
//! per executor instead of one glommio `POLL_ADD` per read. Each socket is registered once
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`); a driver task waits for the epoll
//! descriptor itself through glommio (`PollableFd`, one `POLL_ADD` per wake-up of the
//! executor, not per request), drains `epoll_wait(.., 0)` and wakes the tasks whose sockets
//! became ready. Reads and writes are plain non-blocking `recv`/`send`.
//!
//! An experiment for issue 9 (does glommio's per-read readiness cost what a registered-once
//! readiness does not?), not molotov's transport: results in benches/RESULTS.md.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use futures_lite::{AsyncRead, AsyncWrite};

use glommio::io::PollableFd;

/// Events taken from the kernel per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 256;

/// What the driver knows of one registered socket.
struct Slot {
    /// Bumped when the slot is freed, so an event for a closed socket is ignored.
    generation: u32,
    readable: bool,
    writable: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// One executor's epoll instance and its sockets.
struct Registry {
    epoll: PollableFd<OwnedFd>,
    slots: RefCell<Slots>,
}

#[derive(Default)]
struct Slots {
    list: Vec<Slot>,
    free: Vec<u32>,
}

thread_local! {
    static REGISTRY: RefCell<Option<Rc<Registry>>> = const { RefCell::new(None) };
}

/// This thread's registry, created (with its driver task) on first use.
fn registry() -> io::Result<Rc<Registry>> {
    REGISTRY.with(|cell| {
        if let Some(registry) = cell.borrow().as_ref() {
            return Ok(registry.clone());
        }
        // SAFETY: epoll_create1 takes no pointers; the result is checked below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and nothing else owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let epoll = PollableFd::new(owned)
            .map_err(|e| io::Error::other(format!("cannot register the epoll descriptor: {e}")))?;
        let registry = Rc::new(Registry {
            epoll,
            slots: RefCell::new(Slots::default()),
        });
        glommio::spawn_local(drive(Rc::downgrade(&registry))).detach();
        *cell.borrow_mut() = Some(registry.clone());
        Ok(registry)
    })
}

/// The driver: wait until the epoll descriptor is readable, then hand its events out.
async fn drive(registry: Weak<Registry>) {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT];
    loop {
        let Some(registry) = registry.upgrade() else {
            return;
        };
        if registry.epoll.readable().await.is_err() {
            return;
        }
        loop {
            // SAFETY: `events` is a valid, writable array of EVENTS_PER_WAIT entries and the
            // epoll descriptor is owned by the registry we hold; timeout 0 never blocks.
            let n = unsafe {
                libc::epoll_wait(
                    registry.epoll.get_ref().as_raw_fd(),
                    events.as_mut_ptr(),
                    EVENTS_PER_WAIT as i32,
                    0,
                )
            };
            if n <= 0 {
                break;
            }
            let mut slots = registry.slots.borrow_mut();
            for event in &events[..n as usize] {
                let data = event.u64;
                let (index, generation) = ((data & 0xffff_ffff) as usize, (data >> 32) as u32);
                let Some(slot) = slots.list.get_mut(index) else {
                    continue;
                };
                if slot.generation != generation {
                    continue;
                }
                let bits = event.events;
                let broken = (libc::EPOLLHUP | libc::EPOLLERR) as u32;
                if bits & ((libc::EPOLLIN | libc::EPOLLRDHUP) as u32 | broken) != 0 {
                    slot.readable = true;
                    if let Some(waker) = slot.reader.take() {
                        waker.wake();
                    }
                }
                if bits & (libc::EPOLLOUT as u32 | broken) != 0 {
                    slot.writable = true;
                    if let Some(waker) = slot.writer.take() {
                        waker.wake();
                    }
                }
            }
            if (n as usize) < EVENTS_PER_WAIT {
                break;
            }
        }
    }
}

/// A connected socket whose readiness comes from the executor's epoll instance.
pub struct EdgeStream {
    fd: OwnedFd,
    registry: Rc<Registry>,
    index: u32,
}

impl EdgeStream {
    /// Registers a connected, non-blocking socket.
    pub fn new(fd: OwnedFd) -> io::Result<EdgeStream> {
        let registry = registry()?;
        let (index, generation) = {
            let mut slots = registry.slots.borrow_mut();
            let index = match slots.free.pop() {
                Some(index) => index,
                None => {
                    slots.list.push(Slot {
                        generation: 0,
                        readable: false,
                        writable: false,
                        reader: None,
                        writer: None,
                    });
                    (slots.list.len() - 1) as u32
                }
            };
            let slot = &mut slots.list[index as usize];
            slot.readable = true;
            slot.writable = true;
            (index, slot.generation)
        };
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: u64::from(index) | (u64::from(generation) << 32),
        };
        // SAFETY: both descriptors are open (owned by `registry` and `fd`), and `event` is a
        // valid, initialised struct that the call only reads.
        let rc = unsafe {
            libc::epoll_ctl(
                registry.epoll.get_ref().as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut event,
            )
        };
        let stream = EdgeStream {
            fd,
            registry,
            index,
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stream)
    }

    /// Reads what is there, or waits for the next edge.
    fn poll_read_edge(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut slots = self.registry.slots.borrow_mut();
        let slot = &mut slots.list[self.index as usize];
        let read = poll_io(cx, &mut slot.readable, &mut slot.reader, || {
            // SAFETY: `buf` is a valid, writable slice of `buf.len()` bytes and the
            // descriptor is owned by `self`; MSG_DONTWAIT never blocks.
            unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            }
        });
        // A short read took everything that had arrived: wait for the next edge instead of
        // trying a recv that would find nothing.
        if let Poll::Ready(Ok(n)) = read
            && n > 0
            && n < buf.len()
        {
            slot.readable = false;
        }
        read
    }

    /// Writes what the socket takes, or waits until it takes more.
    fn poll_write_edge(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut slots = self.registry.slots.borrow_mut();
        let slot = &mut slots.list[self.index as usize];
        poll_io(cx, &mut slot.writable, &mut slot.writer, || {
            // SAFETY: `buf` is a valid slice of `buf.len()` bytes and the descriptor is owned
            // by `self`; MSG_DONTWAIT never blocks, MSG_NOSIGNAL never raises.
            unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            }
        })
    }
}

/// One non-blocking system call (`syscall`) while the socket is marked `ready`; on `EAGAIN` the
/// mark is cleared and the task waits (`waiter`) for the driver to set it at the next edge.
fn poll_io(
    cx: &mut Context<'_>,
    ready: &mut bool,
    waiter: &mut Option<Waker>,
    mut syscall: impl FnMut() -> isize,
) -> Poll<io::Result<usize>> {
    loop {
        if !*ready {
            *waiter = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = syscall();
        if n >= 0 {
            return Poll::Ready(Ok(n as usize));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EAGAIN) => *ready = false,
            Some(libc::EINTR) => {}
            _ => return Poll::Ready(Err(error)),
        }
    }
}

impl AsyncRead for EdgeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_edge(cx, buf)
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_edge(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for EdgeStream {
    fn drop(&mut self) {
        // Closing the socket (when `fd` drops) removes it from the epoll set; the generation
        // makes any event already taken for it harmless.
        let mut slots = self.registry.slots.borrow_mut();
        let slot = &mut slots.list[self.index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.reader = None;
        slot.writer = None;
        slots.free.push(self.index);
    }
}
