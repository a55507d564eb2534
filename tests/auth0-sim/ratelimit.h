// Token-bucket rate limiting as Auth0 applies it to the Management API: one global bucket per
// tenant plus endpoint-group buckets (e.g. organizations_write), each with its own burst and
// sustained rate. A request spends one token from the global bucket and one from its group's
// bucket; it is refused (429) when either is empty, and then spends nothing.
//
// Thread safety: all methods may be called from any thread (one internal mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"

namespace tenantsync::sim {

struct BucketConfig {
  double rate = 0;   // tokens per second; 0 disables the bucket
  double burst = 0;  // capacity; 0 means "same as rate" (at least 1)
};

// What the answer's x-ratelimit-* headers say: the tightest bucket for that request.
struct RateDecision {
  bool allowed = true;
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t reset_unix = 0;  // Unix seconds when the bucket is full again
};

class RateLimiter {
 public:
  // Reported when no bucket applies (rate limiting off): a generous, constant budget.
  static constexpr int64_t kUnlimited = 10000;

  explicit RateLimiter(Clock& clock);

  void SetGlobal(BucketConfig config);
  void SetGroup(const std::string& group, BucketConfig config);
  void ClearGroups();
  RateDecision Acquire(const std::string& group);
  // {"global":{"rate","burst"},"groups":{NAME:{"rate","burst"}}}
  nlohmann::json Describe() const;

 private:
  struct Bucket {
    BucketConfig config;
    double tokens = 0;
    Clock::MonoTime last{};
  };
  static Bucket MakeBucket(BucketConfig c, Clock::MonoTime now);
  static void Refill(Bucket& b, Clock::MonoTime now);
  RateDecision View(const Bucket& b) const;

  Clock& clock_;
  mutable std::mutex mu_;
  Bucket global_;                         // guarded by mu_
  std::map<std::string, Bucket> groups_;  // guarded by mu_
};

}  // namespace tenantsync::sim
