//! [`RecvBuffers`]: the buffers an executor lends to the kernel for its streams' multishot
//! receives, through a provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19). The
//! kernel takes a buffer from the ring's head when data arrives on a socket, fills it and
//! names it in the completion; the stream copies the bytes out and gives the buffer back at
//! the ring's tail. The memory (the ring's entries and the buffers) belongs to the reactor,
//! not to a stream, so a stream can still be dropped at any time: a buffer it held is given
//! back, and nothing of the stream's own is ever in the kernel's hands.

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::{IoUring, types};

/// The buffer group of the receives (one per ring).
pub(crate) const GROUP: u16 = 0;

/// The provided-buffer ring of one reactor: `count` buffers of `size` bytes.
pub(crate) struct RecvBuffers {
    /// The ring's entries (`count` of them), shared with the kernel.
    entries: Mapping,
    /// The buffers, `count` x `size` bytes.
    memory: Mapping,
    size: usize,
    count: u16,
    /// The tail as the kernel last saw it, plus the buffers given back since.
    tail: u16,
}

/// An anonymous private mapping, unmapped on drop.
struct Mapping {
    address: NonNull<u8>,
    bytes: usize,
}

impl Mapping {
    fn new(bytes: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping: it aliases nothing.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let address =
            NonNull::new(address.cast()).ok_or_else(|| io::Error::other("mmap gave 0"))?;
        Ok(Mapping { address, bytes })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `Mapping::new`, unmapped once.
        unsafe { libc::munmap(self.address.as_ptr().cast(), self.bytes) };
    }
}

impl RecvBuffers {
    /// Maps `count` (a power of two, at most 32,768) buffers of `size` bytes, registers
    /// them with `ring` as group [`GROUP`], and puts every buffer in the ring. The caller
    /// must keep the result alive until the ring is gone or the group unregistered.
    pub(crate) fn register(ring: &IoUring, count: u16, size: usize) -> io::Result<RecvBuffers> {
        if !count.is_power_of_two() || size == 0 || u32::try_from(size).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "receive buffers: {count} of {size} bytes (a power of two of them, each 1 byte to 4 GiB)"
                ),
            ));
        }
        let entries = Mapping::new(usize::from(count) * size_of::<types::BufRingEntry>())?;
        let memory = Mapping::new(usize::from(count) * size)?;
        // SAFETY: the mapping is page aligned and holds `count` entries; it lives in the
        // returned value, which the caller keeps until the group is unregistered or the ring
        // is gone.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries.address.as_ptr() as u64,
                count,
                GROUP,
                0,
            )?;
        }
        let mut buffers = RecvBuffers {
            entries,
            memory,
            size,
            count,
            tail: 0,
        };
        for buffer in 0..count {
            buffers.give_back(buffer);
        }
        Ok(buffers)
    }

    /// Puts `buffer` back at the ring's tail, for the kernel to fill again.
    pub(crate) fn give_back(&mut self, buffer: u16) {
        debug_assert!(buffer < self.count);
        let entries: *mut types::BufRingEntry = self.entries.address.as_ptr().cast();
        let index = usize::from(self.tail & (self.count - 1));
        // SAFETY: `index` is below `count`, inside the entries' mapping; the kernel reads an
        // entry only once the tail (published below) covers it, and this one it does not
        // cover: the ring never holds more than `count` buffers.
        let entry = unsafe { &mut *entries.add(index) };
        entry.set_addr(self.buffer_address(buffer) as u64);
        entry.set_len(self.size as u32);
        entry.set_bid(buffer);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the u16 the kernel reads in the first entry's reserved field
        // (`BufRingEntry::tail`), inside the mapping and aligned; AtomicU16 has u16's
        // layout. Release: the entry written above is seen before the tail that covers it.
        let tail = unsafe { &*types::BufRingEntry::tail(entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// Copies bytes `offset..len` of `buffer`, which a completion said the kernel filled
    /// with `len` bytes, into `to`; returns how many (as many as fit).
    pub(crate) fn copy_out(&self, buffer: u16, offset: usize, len: usize, to: &mut [u8]) -> usize {
        assert!(buffer < self.count && len <= self.size && offset <= len);
        let n = (len - offset).min(to.len());
        // SAFETY: the source lies inside `buffer` (checked above), which the kernel filled
        // and no longer writes: it was taken from the ring, and is not given back until
        // its bytes are read. `to` is a distinct, exclusively borrowed slice.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.buffer_address(buffer).add(offset),
                to.as_mut_ptr(),
                n,
            );
        }
        n
    }

    fn buffer_address(&self, buffer: u16) -> *mut u8 {
        // SAFETY: `buffer` is below `count`: the offset stays inside the memory's mapping.
        unsafe {
            self.memory
                .address
                .as_ptr()
                .add(usize::from(buffer) * self.size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_that_is_not_a_power_of_two_is_refused_before_anything_is_mapped() {
        let ring = IoUring::new(4).unwrap();
        for (count, size) in [(3, 4096), (0, 4096), (4, 0)] {
            let error = RecvBuffers::register(&ring, count, size).err().unwrap();
            assert_eq!(
                error.kind(),
                io::ErrorKind::InvalidInput,
                "{count} x {size}"
            );
        }
    }

    #[test]
    fn the_ring_starts_with_every_buffer_in_it_once() {
        let ring = IoUring::new(4).unwrap();
        let buffers = match RecvBuffers::register(&ring, 8, 64) {
            Ok(buffers) => buffers,
            // A kernel before 5.19: nothing to test.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(buffers.tail, 8);
        let entries: *const types::BufRingEntry = buffers.entries.address.as_ptr().cast();
        for index in 0..8u16 {
            // SAFETY: one of the 8 entries mapped, written by `register`.
            let entry = unsafe { &*entries.add(usize::from(index)) };
            assert_eq!(entry.bid(), index);
            assert_eq!(entry.len(), 64);
            assert_eq!(entry.addr(), buffers.buffer_address(index) as u64);
        }
        let mut to = [0u8; 100];
        assert_eq!(buffers.copy_out(3, 60, 64, &mut to), 4);
        assert_eq!(buffers.copy_out(3, 0, 64, &mut to[..10]), 10);
        assert_eq!(buffers.copy_out(3, 64, 64, &mut to), 0);
    }
}
