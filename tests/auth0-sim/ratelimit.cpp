#include "tests/auth0-sim/ratelimit.h"

#include <algorithm>
#include <cmath>

namespace tenantsync::sim {

RateLimiter::RateLimiter(Clock& clock) : clock_(clock) {}

RateLimiter::Bucket RateLimiter::MakeBucket(BucketConfig c, Clock::MonoTime now) {
  if (c.rate > 0 && c.burst <= 0) c.burst = std::max(1.0, c.rate);
  Bucket b;
  b.config = c;
  b.tokens = c.burst;  // a new bucket starts full, as a fresh Auth0 tenant does
  b.last = now;
  return b;
}

void RateLimiter::Refill(Bucket& b, Clock::MonoTime now) {
  double secs = std::chrono::duration<double>(now - b.last).count();
  if (secs > 0) {
    b.tokens = std::min(b.config.burst, b.tokens + secs * b.config.rate);
    b.last = now;
  }
}

void RateLimiter::SetGlobal(BucketConfig config) {
  std::lock_guard<std::mutex> lock(mu_);
  global_ = MakeBucket(config, clock_.Monotonic());
}

void RateLimiter::SetGroup(const std::string& group, BucketConfig config) {
  std::lock_guard<std::mutex> lock(mu_);
  if (config.rate <= 0) {
    groups_.erase(group);
  } else {
    groups_[group] = MakeBucket(config, clock_.Monotonic());
  }
}

void RateLimiter::ClearGroups() {
  std::lock_guard<std::mutex> lock(mu_);
  groups_.clear();
}

RateDecision RateLimiter::View(const Bucket& b) const {
  RateDecision d;
  d.limit = static_cast<int64_t>(b.config.burst);
  d.remaining = static_cast<int64_t>(std::floor(b.tokens));
  double to_full = (b.config.burst - b.tokens) / b.config.rate;
  d.reset_unix = clock_.NowUnixSeconds() + static_cast<int64_t>(std::ceil(to_full));
  return d;
}

RateDecision RateLimiter::Acquire(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.Monotonic();
  Bucket* buckets[2] = {nullptr, nullptr};
  if (global_.config.rate > 0) buckets[0] = &global_;
  if (auto it = groups_.find(group); it != groups_.end()) buckets[1] = &it->second;
  if (!buckets[0] && !buckets[1]) {
    return {true, kUnlimited, kUnlimited, clock_.NowUnixSeconds()};
  }
  bool allowed = true;
  for (Bucket* b : buckets) {
    if (!b) continue;
    Refill(*b, now);
    if (b->tokens < 1.0) allowed = false;
  }
  if (allowed) {
    for (Bucket* b : buckets) {
      if (b) b->tokens -= 1.0;
    }
  }
  // Report the bucket with the fewest tokens left (on a refusal: an empty one).
  const Bucket* tightest = nullptr;
  for (Bucket* b : buckets) {
    if (!b) continue;
    if (!tightest || b->tokens < tightest->tokens ||
        (std::floor(b->tokens) == std::floor(tightest->tokens) &&
         b->config.burst < tightest->config.burst)) {
      tightest = b;
    }
  }
  RateDecision d = View(*tightest);
  d.allowed = allowed;
  if (!allowed) d.remaining = 0;
  return d;
}

nlohmann::json RateLimiter::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json out = {
      {"global", {{"rate", global_.config.rate}, {"burst", global_.config.burst}}},
      {"groups", nlohmann::json::object()}};
  for (const auto& [name, b] : groups_) {
    out["groups"][name] = {{"rate", b.config.rate}, {"burst", b.config.burst}};
  }
  return out;
}

}  // namespace tenantsync::sim
