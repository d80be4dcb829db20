//! Giving freed memory back to the operating system.
//!
//! What we found (issue 11, measured with `tests/slow_readers.rs`): after twenty clients
//! that stopped reading had been disconnected, glibc's allocator kept 17–27 MiB above the
//! server's resident size before the attack, indefinitely. The memory was free, not leaked:
//! one `malloc_trim(0)` brought the resident size back to within 2–4 MiB of where it was.
//! The answers and parsed requests of many sessions are spread over glibc's per-thread
//! arenas (tokio's workers and blocking threads each get one) in chunks below the mmap
//! threshold (which glibc raises dynamically after the first large free), so the freed
//! space sits in the middle of arenas, where glibc only returns it on an explicit trim.
//! `MALLOC_ARENA_MAX=1`/`2` and a fixed `MALLOC_MMAP_THRESHOLD_` each cut the retained
//! memory by a third at most; jemalloc (tikv-jemallocator, background purging on) kept as
//! much as glibc. So FerrumX keeps glibc and trims: the session registry calls
//! [`release_free`] a few seconds after sessions have ended (see `electrum::registry`),
//! which costs 1–10 ms of one blocking thread.

/// Returns the allocator's free memory to the operating system (glibc's `malloc_trim`);
/// does nothing with other C libraries. Blocking: call it from a blocking thread.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists under its locks; it
    // has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes the allocator has handed out and not had back, by its own counters (glibc's
/// `mallinfo2`: the in-use chunks of every arena, their headers included, plus the blocks it
/// mmapped), and the free bytes it holds; `None` with other C libraries. What the load
/// bench (`benches/load.rs`, through the admin `getinfo`) measures sessions and
/// subscriptions with: unlike the resident size it does not move with what the allocator
/// keeps or gives back. Walks every arena under its lock: for occasional reports only.
pub fn heap_stats() -> Option<HeapStats> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters under its locks; it has no
        // preconditions (glibc 2.33 and later, as the libc crate's binding requires).
        let m = unsafe { libc::mallinfo2() };
        Some(HeapStats {
            allocated: (m.uordblks + m.hblkhd) as u64,
            free: m.fordblks as u64,
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// The allocator's counters (see [`heap_stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes in use: allocated and not freed, with the allocator's per-allocation overhead.
    pub allocated: u64,
    /// Bytes the allocator holds free (not returned to the operating system).
    pub free: u64,
}
