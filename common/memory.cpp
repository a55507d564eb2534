#include "common/memory.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tenantsync {

size_t FreeHeapBytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return mallinfo2().fordblks;
#else
  return 0;
#endif
}

bool ReleaseFreeMemory(size_t min_free_bytes) {
#if defined(__GLIBC__)
  if (FreeHeapBytes() < min_free_bytes) return false;
  malloc_trim(0);
  return true;
#else
  (void)min_free_bytes;
  return false;
#endif
}

bool LimitAllocatorArenas(int arenas) {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr || arenas < 1) return false;
  return mallopt(M_ARENA_MAX, arenas) == 1;
#else
  (void)arenas;
  return false;
#endif
}

int AllocatorArenas() {
#if defined(__GLIBC__)
  char* buf = nullptr;
  size_t len = 0;
  FILE* out = open_memstream(&buf, &len);
  if (out == nullptr) return -1;
  const int rc = malloc_info(0, out);
  std::fclose(out);
  int heaps = 0;
  if (rc == 0 && buf != nullptr) {
    // One <heap nr="N"> element per arena, then the totals.
    for (const char* p = buf; (p = std::strstr(p, "<heap nr=")) != nullptr; ++p) ++heaps;
  }
  std::free(buf);
  return rc == 0 ? heaps : -1;
#else
  return -1;
#endif
}

}  // namespace tenantsync
