#include "common/random.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>

namespace tenantsync {

std::string SecureRandom::Bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();  // continuing with predictable "random" secrets would be worse than crashing
  }
  return out;
}

uint64_t SecureRandom::Uniform(uint64_t bound) {
  // Rejection sampling keeps the distribution uniform for bounds that do not divide 2^64.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  while (true) {
    uint64_t v;
    std::string b = Bytes(sizeof(v));
    std::memcpy(&v, b.data(), sizeof(v));
    if (v < limit) return v % bound;
  }
}

}  // namespace tenantsync
