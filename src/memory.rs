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
