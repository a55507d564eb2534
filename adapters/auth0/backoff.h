// The one backoff of the Auth0 adapter: capped exponential backoff with full jitter (AWS
// architecture blog, "Exponential Backoff And Jitter"):
//   sleep = uniform[0, min(cap, base * 2^retry)]   (milliseconds, both ends included)
// Auth0Client sleeps it between retries of a call (and of the users-export download); other
// layers that retry Auth0 work later (the writer's mutation retries) can use it with their own
// base and cap. Randomness is injected, so tests are deterministic.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

#include "common/random.h"

namespace tenantsync {

// `retry` counts from 0 (the first retry); negative values count as 0. A base or cap of 0 ms
// yields at most 1 ms.
inline std::chrono::milliseconds FullJitterBackoff(int retry, std::chrono::milliseconds base,
                                                   std::chrono::milliseconds cap, Random& random) {
  double ceiling = static_cast<double>(std::max<int64_t>(0, base.count())) *
                   std::ldexp(1.0, std::clamp(retry, 0, 30));
  ceiling = std::min(ceiling, static_cast<double>(std::max<int64_t>(0, cap.count())));
  auto ceiling_ms = static_cast<uint64_t>(std::max(1.0, ceiling));
  return std::chrono::milliseconds(random.Uniform(ceiling_ms + 1));
}

}  // namespace tenantsync
