// Returning memory the allocator keeps after it was freed.
//
// glibc's malloc gives each busy thread an arena and keeps what was freed there for reuse, so a
// thread that briefly held a few megabytes keeps them resident afterwards: at 100,000 users the
// daemon held about 200 MB of which 37 MB were in use (measured with malloc_trim from gdb during
// bench-backfill --full). ReleaseFreeMemory hands that back to the operating system.
//
// Thread safety: callable from any thread (glibc locks each arena while trimming it, so other
// threads' allocations may wait a moment: call it from a periodic tick, not a hot path).
#pragma once

#include <cstddef>

namespace tenantsync {

// The daemon's cap (docs/OPERATIONS.md, "Memory"): four arenas for every thread. Two kept
// bench-backfill --full at 91 MB (16, glibc's default on two cores: 151 MB), but the ingest path's
// threads (event loop, group committer, writer) then waited on one another's arena lock: the
// futex calls of the daemon under bench-ingest were mostly malloc's, and its CPU per event fell
// 81.6 -> 76.3 us with four (74.4 with 16; docs/BENCHMARKS.md, session 29).
inline constexpr int kAllocatorArenas = 4;

// Bytes the allocator holds free (glibc mallinfo2 fordblks; 0 where unknown).
size_t FreeHeapBytes();

// Returns freed memory of every arena to the operating system (glibc malloc_trim(0)) when the
// allocator holds at least `min_free_bytes` free. Returns whether it trimmed.
bool ReleaseFreeMemory(size_t min_free_bytes);

// Caps how many malloc arenas the process's threads share (glibc M_ARENA_MAX; by default up to
// 8 per core, one per busy thread). Fewer arenas keep less freed memory resident between trims
// at the price of threads sometimes waiting for one another's arena lock. Call before starting
// threads: a thread keeps the arena it was given. Does nothing when the environment sets
// MALLOC_ARENA_MAX (the operator's choice wins) or off glibc. Returns whether it set the cap.
bool LimitAllocatorArenas(int arenas);

// How many arenas the allocator has created so far (glibc malloc_info; -1 where unknown).
int AllocatorArenas();

}  // namespace tenantsync
