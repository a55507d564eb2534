// Returning memory the allocator keeps after it was freed.
//
// glibc's malloc gives each busy thread an arena and keeps what was freed there for reuse, so a
// thread that briefly held a few megabytes keeps them resident afterwards: at 100,000 users the
// daemon held about 200 MB of which 37 MB were in use (measured with malloc_trim from gdb during
// bench-backfill
// --full). ReleaseFreeMemory hands that back to the operating system.
//
// Thread safety: callable from any thread (glibc locks each arena while trimming it, so other
// threads' allocations may wait a moment: call it from a periodic tick, not a hot path).
#pragma once

#include <cstddef>

namespace tenantsync {

// Bytes the allocator holds free (glibc mallinfo2 fordblks; 0 where unknown).
size_t FreeHeapBytes();

// Returns freed memory of every arena to the operating system (glibc malloc_trim(0)) when the
// allocator holds at least `min_free_bytes` free. Returns whether it trimmed.
bool ReleaseFreeMemory(size_t min_free_bytes);

}  // namespace tenantsync
