#include "common/memory.h"

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

}  // namespace tenantsync
