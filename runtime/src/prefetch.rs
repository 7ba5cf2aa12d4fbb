//! Prefetching a woken task's state: when the states of all live tasks together outgrow the
//! CPU's second-level cache, the executor asks the CPU to fetch a task's state as soon as the
//! task is woken, so that the misses of its next poll overlap instead of stalling it one
//! after another.
//!
//! Why: a load worker's state (its future, ~2-3 KB) is touched at a dozen places per
//! request, each on its own cache line. At 50 workers every worker's state stays in L2; at
//! 200 or 500 it does not (the kernel's TCP work between two polls of a task evicts it too),
//! and each of those places became a miss taken in turn: molotov's user time per request
//! went from ~1.7 µs at 50 workers to ~4 µs at 500 (nginx, dev machine). Prefetching the
//! whole state at the wake-up took the 500-worker figure to ~3 µs (docs/engine.md). Below
//! the threshold the prefetch is skipped: there it would only cost its instructions.

use std::path::Path;

/// The most bytes of one task's state prefetched at a wake-up (64 lines).
pub(crate) const MAX_BYTES: usize = 4096;

/// The L2 size assumed where the system does not say.
const DEFAULT_L2_BYTES: usize = 512 * 1024;

/// Prefetch from this many bytes of live task state on: half the L2 cache of the CPU the
/// calling thread runs on (the rest is for the kernel's socket state and the read buffers).
/// An executor asks once, when it is made, after pinning its thread: on a machine whose
/// cores differ (performance and efficiency cores), each executor gets its own core's.
pub(crate) fn threshold() -> usize {
    l2_bytes(current_cpu()).unwrap_or(DEFAULT_L2_BYTES) / 2
}

/// The CPU the calling thread runs on (0 where the system does not say).
fn current_cpu() -> usize {
    // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap_or(0)
}

/// The size of `cpu`'s level-2 data or unified cache, from sysfs.
fn l2_bytes(cpu: usize) -> Option<usize> {
    l2_bytes_of(Path::new("/sys/devices/system/cpu"), cpu)
}

/// The size of `cpu`'s level-2 data or unified cache, under `cpus` (sysfs layout: one
/// `cpuN/cache` folder per CPU).
fn l2_bytes_of(cpus: &Path, cpu: usize) -> Option<usize> {
    l2_bytes_in(&cpus.join(format!("cpu{cpu}/cache")))
}

/// The size of the level-2 data or unified cache described in `cache_dir` (sysfs layout:
/// one `indexN` folder per cache, with `level`, `type` and `size`).
fn l2_bytes_in(cache_dir: &Path) -> Option<usize> {
    let dir = std::fs::read_dir(cache_dir).ok()?;
    dir.flatten().find_map(|entry| {
        let path = entry.path();
        let read = |name: &str| std::fs::read_to_string(path.join(name)).ok();
        let level = read("level")?;
        let kind = read("type")?;
        if level.trim() != "2" || kind.trim() == "Instruction" {
            return None;
        }
        parse_cache_size(&read("size")?)
    })
}

/// A sysfs cache size ("512K", "2048K", "32M", "1024") in bytes.
fn parse_cache_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let (digits, unit) = match text.as_bytes().last()? {
        b'K' => (&text[..text.len() - 1], 1024),
        b'M' => (&text[..text.len() - 1], 1024 * 1024),
        _ => (text, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(unit)
}

/// Whether a task of `state_bytes` should be prefetched when `live_tasks` tasks are alive.
#[inline]
pub(crate) fn worth_it(state_bytes: usize, live_tasks: usize, threshold: usize) -> bool {
    state_bytes.saturating_mul(live_tasks) >= threshold
}

/// Asks the CPU to bring `len` bytes at `start` (at most [`MAX_BYTES`]) into its caches, one
/// request per 64-byte line. A hint: it reads nothing, and cannot fault whatever the address.
#[inline]
pub(crate) fn bytes(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let end = len.min(MAX_BYTES);
        let mut offset = 0;
        while offset < end {
            // SAFETY: `prefetcht0` is a hint that never faults, whatever the address
            // (`wrapping_add` makes no claim that it stays in bounds); SSE is part of x86-64.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    start.wrapping_add(offset).cast::<i8>(),
                )
            };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_as_sysfs_writes_them() {
        for (text, bytes) in [
            ("512K\n", Some(512 * 1024)),
            ("2048K", Some(2048 * 1024)),
            ("32M\n", Some(32 * 1024 * 1024)),
            ("1024", Some(1024)),
            ("", None),
            ("K", None),
            ("12Q", None),
            ("-5K", None),
        ] {
            assert_eq!(parse_cache_size(text), bytes, "{text:?}");
        }
    }

    #[test]
    fn the_l2_is_the_level_2_cache_that_holds_data() {
        let root = std::env::temp_dir().join(format!("molotov-cache-{}", std::process::id()));
        let caches = [
            ("index0", "1", "Data", "32K"),
            ("index1", "1", "Instruction", "32K"),
            ("index2", "2", "Instruction", "64K"),
            ("index3", "2", "Unified", "1024K"),
            ("index4", "3", "Unified", "32768K"),
        ];
        for (name, level, kind, size) in caches {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("level"), format!("{level}\n")).unwrap();
            std::fs::write(dir.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(dir.join("size"), format!("{size}\n")).unwrap();
        }
        assert_eq!(l2_bytes_in(&root), Some(1024 * 1024));
        // No level-2 data cache, or no folder at all: nothing said.
        std::fs::remove_dir_all(root.join("index3")).unwrap();
        assert_eq!(l2_bytes_in(&root), None);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(l2_bytes_in(&root), None);
    }

    #[test]
    fn each_cpu_has_its_own_l2() {
        // Two cores that differ, as performance and efficiency cores do.
        let root = std::env::temp_dir().join(format!("molotov-cpus-{}", std::process::id()));
        for (cpu, size) in [(0, "256K"), (1, "2048K")] {
            let dir = root.join(format!("cpu{cpu}/cache/index2"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("level"), "2\n").unwrap();
            std::fs::write(dir.join("type"), "Unified\n").unwrap();
            std::fs::write(dir.join("size"), format!("{size}\n")).unwrap();
        }
        assert_eq!(l2_bytes_of(&root, 0), Some(256 * 1024));
        assert_eq!(l2_bytes_of(&root, 1), Some(2048 * 1024));
        assert_eq!(l2_bytes_of(&root, 2), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn prefetching_starts_where_the_states_outgrow_the_threshold() {
        let threshold = 256 * 1024;
        // 2,112-byte worker states: 100 workers stay under it, 200 are over it.
        assert!(!worth_it(2112, 100, threshold));
        assert!(worth_it(2112, 200, threshold));
        assert!(worth_it(usize::MAX, 2, threshold));
        assert!(!worth_it(0, usize::MAX, threshold));
    }

    #[test]
    fn the_threshold_is_half_the_l2_cache_of_the_cpu_it_runs_on() {
        // On a thread pinned to the last CPU this process may use (not CPU 0 where there
        // are two or more), the threshold is read from that CPU's caches.
        let allowed = std::thread::available_parallelism().map_or(1, usize::from);
        std::thread::spawn(move || {
            // SAFETY: an all-zero cpu_set_t is the empty set; the calls read and write only
            // `set`, a local of the size passed.
            let cpu = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                assert_eq!(libc::sched_getaffinity(0, size_of_val(&set), &mut set), 0);
                let cpu = (0..libc::CPU_SETSIZE as usize)
                    .rev()
                    .find(|&cpu| libc::CPU_ISSET(cpu, &set))
                    .expect("the thread may run somewhere");
                let mut only = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut only);
                assert_eq!(libc::sched_setaffinity(0, size_of_val(&only), &only), 0);
                cpu
            };
            assert!(allowed < 2 || cpu > 0);
            assert_eq!(current_cpu(), cpu);
            let threshold = threshold();
            match l2_bytes(cpu) {
                Some(l2) => assert_eq!(threshold, l2 / 2),
                None => assert_eq!(threshold, DEFAULT_L2_BYTES / 2),
            }
            assert!(threshold > 0);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_prefetch_never_faults() {
        let state = [7u8; 300];
        bytes(state.as_ptr(), state.len());
        bytes(std::ptr::null(), MAX_BYTES * 4);
        bytes(usize::MAX as *const u8, 128);
        assert_eq!(state[299], 7);
    }
}
