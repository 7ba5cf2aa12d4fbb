//! io_uring setup flags that glommio does not expose, added by interposing the C library's
//! `syscall` function. Used by the glommio floor (`examples/transport_floor`, `coop`); molotov's
//! engine used it (as `molotov_core::uring_setup`) while its load processes ran on glommio.
//!
//! Why: glommio-ng builds its rings without `IORING_SETUP_COOP_TASKRUN`, so every completion
//! that arrives while a child runs (a socket became readable because the server answered)
//! interrupts it with an inter-processor interrupt to run io_uring's task work. With the flag
//! the kernel runs that work at the child's next kernel entry instead, which a load generator
//! makes constantly (every send and recv), or while it waits in `io_uring_enter`. Measured on
//! the static GET benchmark (benches/RESULTS.md): the reschedule interrupts on the load CPU go
//! from 0.07-0.14 per request to none; the CPU per request moves by less than the run-to-run
//! noise of the shared machines (a few percent at most). glommio-ng has no option for it and
//! its rings are built by the `io-uring` crate through the C library's
//! `syscall(SYS_io_uring_setup, ..)`.
//!
//! How: this module defines `syscall` itself, so the executable's own definition is the one
//! every caller in the process links to. It forwards every call unchanged to the kernel (the
//! raw `syscall` instruction, with the C library's errno convention), except
//! `io_uring_setup` while [`set_extra_flags`] is non-zero: then the extra flags are added to
//! the ring's parameters (never to `IOPOLL` or `SQPOLL` rings), and if the kernel refuses them
//! (older than 5.19) the call is made again exactly as asked. [`applied`] and [`refused`]
//! count what happened, for `--debug` and the tests.
//!
//! Only on Linux x86-64 and aarch64; elsewhere nothing is interposed and the flags are never
//! applied.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// `IORING_SETUP_COOP_TASKRUN` (Linux 5.19).
pub const COOP_TASKRUN: u32 = 1 << 8;
const SETUP_IOPOLL: u32 = 1 << 0;
const SETUP_SQPOLL: u32 = 1 << 1;

static EXTRA_FLAGS: AtomicU32 = AtomicU32::new(0);
static APPLIED: AtomicU32 = AtomicU32::new(0);
static REFUSED: AtomicU32 = AtomicU32::new(0);

/// Adds `flags` to every io_uring ring set up from now on in this process (0: none).
pub fn set_extra_flags(flags: u32) {
    EXTRA_FLAGS.store(flags, Relaxed);
}

/// Rings set up with the extra flags in this process.
pub fn applied() -> u32 {
    APPLIED.load(Relaxed)
}

/// Rings whose extra flags the kernel refused (set up without them).
pub fn refused() -> u32 {
    REFUSED.load(Relaxed)
}

/// Whether this build interposes `syscall` at all.
pub const SUPPORTED: bool = cfg!(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
));

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod interpose {
    use super::*;
    use libc::c_long;

    /// The raw system call, as the kernel returns it (`-errno` on failure).
    ///
    /// # Safety
    /// The arguments must be valid for system call `num`, exactly as for `syscall(2)`.
    #[inline(always)]
    unsafe fn raw(num: c_long, a: [c_long; 6]) -> c_long {
        let ret: c_long;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the x86-64 Linux system call convention: number in rax, arguments in rdi,
        // rsi, rdx, r10, r8, r9; rcx and r11 are clobbered; the caller vouches for the
        // arguments.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") num => ret,
                in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
                in("r10") a[3], in("r8") a[4], in("r9") a[5],
                lateout("rcx") _, lateout("r11") _,
                options(nostack),
            );
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the aarch64 Linux system call convention: number in x8, arguments and
        // result in x0-x5; the caller vouches for the arguments.
        unsafe {
            core::arch::asm!(
                "svc 0",
                in("x8") num,
                inlateout("x0") a[0] => ret,
                in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
                options(nostack),
            );
        }
        ret
    }

    /// The C library's convention: -1 and `errno` on failure.
    fn with_errno(ret: c_long) -> c_long {
        if (-4095..0).contains(&ret) {
            // SAFETY: __errno_location returns this thread's errno, always valid.
            unsafe { *libc::__errno_location() = -ret as i32 };
            -1
        } else {
            ret
        }
    }

    /// `syscall(2)`, defined by the executable so that every caller in the process uses it.
    /// Callers pass it a variable number of arguments; on these ABIs the first six integer
    /// arguments of a variadic call travel exactly as those of this fixed signature (a slot
    /// the caller did not fill holds a value the kernel ignores for that call).
    ///
    /// # Safety
    /// As `syscall(2)`: the arguments must be valid for system call `num`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn syscall(
        num: c_long,
        a1: c_long,
        a2: c_long,
        a3: c_long,
        a4: c_long,
        a5: c_long,
        a6: c_long,
    ) -> c_long {
        let args = [a1, a2, a3, a4, a5, a6];
        let extra = EXTRA_FLAGS.load(Relaxed);
        if num == libc::SYS_io_uring_setup && extra != 0 && a2 != 0 {
            // struct io_uring_params { u32 sq_entries; u32 cq_entries; u32 flags; ... }
            let flags_at = (a2 as *mut u32).wrapping_add(2);
            // SAFETY: the caller passes a valid io_uring_params pointer in a2 (required by
            // io_uring_setup itself); `flags` is its third u32.
            let asked = unsafe { flags_at.read() };
            if asked & (SETUP_IOPOLL | SETUP_SQPOLL) == 0 {
                // SAFETY: as above.
                unsafe { flags_at.write(asked | extra) };
                // SAFETY: the caller's arguments, with the flags of its own params widened.
                let ret = unsafe { raw(num, args) };
                if ret >= 0 {
                    APPLIED.fetch_add(1, Relaxed);
                    return ret;
                }
                REFUSED.fetch_add(1, Relaxed);
                // SAFETY: as above: restore exactly what was asked.
                unsafe { flags_at.write(asked) };
            }
        }
        // SAFETY: the caller's arguments, unchanged.
        with_errno(unsafe { raw(num, args) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_system_calls_pass_through_with_errno() {
        // getpid through syscall(2): the same answer as the C library's own getpid.
        // SAFETY: getpid takes no argument.
        let pid = unsafe { libc::syscall(libc::SYS_getpid) };
        assert_eq!(pid, i64::from(std::process::id()));
        // A failing call: close(-1) is EBADF, reported the C way.
        // SAFETY: closing an invalid descriptor only fails.
        let ret = unsafe { libc::syscall(libc::SYS_close, -1i64) };
        assert_eq!(ret, -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn io_uring_rings_get_the_extra_flags_in_a_child() {
        // In a forked child, so that the process-wide flag does not leak into other tests.
        // SAFETY: the child only builds a ring and exits with _exit.
        match unsafe { libc::fork() } {
            0 => {
                set_extra_flags(COOP_TASKRUN);
                let mut params = [0u32; 30];
                // SAFETY: io_uring_setup with a zeroed params struct we own.
                let fd =
                    unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
                let ok =
                    fd >= 0 && params[2] & COOP_TASKRUN != 0 && (applied() == 1 || refused() == 1);
                // SAFETY: leave the child at once.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            pid if pid > 0 => {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "status {status}"
                );
            }
            _ => panic!("fork failed"),
        }
    }
}
