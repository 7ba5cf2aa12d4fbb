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

use std::sync::OnceLock;

/// The most bytes of one task's state prefetched at a wake-up (64 lines).
pub(crate) const MAX_BYTES: usize = 4096;

/// The L2 size assumed where the system does not say.
const DEFAULT_L2_BYTES: usize = 512 * 1024;

/// Prefetch from this many bytes of live task state on: half the L2 cache of CPU 0 (the
/// rest is for the kernel's socket state and the read buffers), read once per process.
pub(crate) fn threshold() -> usize {
    static THRESHOLD: OnceLock<usize> = OnceLock::new();
    *THRESHOLD.get_or_init(|| l2_bytes().unwrap_or(DEFAULT_L2_BYTES) / 2)
}

/// The size of CPU 0's level-2 data or unified cache, from sysfs.
fn l2_bytes() -> Option<usize> {
    l2_bytes_in(std::path::Path::new("/sys/devices/system/cpu/cpu0/cache"))
}

/// The size of the level-2 data or unified cache described in `cache_dir` (sysfs layout:
/// one `indexN` folder per cache, with `level`, `type` and `size`).
fn l2_bytes_in(cache_dir: &std::path::Path) -> Option<usize> {
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
    fn prefetching_starts_where_the_states_outgrow_the_threshold() {
        let threshold = 256 * 1024;
        // 2,112-byte worker states: 100 workers stay under it, 200 are over it.
        assert!(!worth_it(2112, 100, threshold));
        assert!(worth_it(2112, 200, threshold));
        assert!(worth_it(usize::MAX, 2, threshold));
        assert!(!worth_it(0, usize::MAX, threshold));
    }

    #[test]
    fn the_threshold_is_half_an_l2_cache() {
        let threshold = threshold();
        match l2_bytes() {
            Some(l2) => assert_eq!(threshold, l2 / 2),
            None => assert_eq!(threshold, DEFAULT_L2_BYTES / 2),
        }
        assert!(threshold > 0);
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
