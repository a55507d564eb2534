#include "adapters/auth0/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace tenantsync {
namespace {

// Sleep no longer than this in one go, so that tokens returned by a header update are noticed
// promptly by waiters.
constexpr std::chrono::milliseconds kMaxNap{100};
// The sustained-rate measurement needs a window long enough for second-granular refills to
// average out.
constexpr std::chrono::seconds kRateWindow{2};

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

RateLimiter::RateLimiter(Clock& clock, double fraction, double fallback_rate)
    : clock_(clock),
      fraction_(fraction > 0 && fraction <= 1 ? fraction : 1.0),
      fallback_rate_(fallback_rate > 0 ? fallback_rate : 2.0),
      rate_(fallback_rate_),
      last_refill_(clock.Monotonic()) {}

double RateLimiter::CapacityLocked() const {
  if (limit_ <= 0) return 1;  // bucket size unknown: one request at a time until told
  return std::max(1.0, std::floor(fraction_ * static_cast<double>(limit_)));
}

void RateLimiter::RefillLocked(Clock::MonoTime now) {
  if (now > last_refill_) {
    tokens_ = std::min(CapacityLocked(), tokens_ + rate_ * Seconds(now - last_refill_));
  }
  last_refill_ = now;
}

void RateLimiter::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
}

uint64_t RateLimiter::Acquire(Priority priority) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool background = priority == Priority::kBackground;
  const bool urgent = priority == Priority::kUrgent;
  // Counted while waiting so lower priorities can step aside.
  struct Waiting {
    int64_t* n;
    ~Waiting() {
      if (n != nullptr) --*n;
    }
  } waiting{background ? nullptr : &foreground_waiting_},
      waiting_urgent{urgent ? &urgent_waiting_ : nullptr};
  if (!background) ++foreground_waiting_;
  if (urgent) ++urgent_waiting_;
  for (;;) {
    if (shutdown_) {
      ++in_flight_;
      return next_ticket_++;
    }
    auto wall = clock_.Now();
    if (wall < blocked_until_) {
      auto wait =
          std::min<std::chrono::nanoseconds>(blocked_until_ - wall, std::chrono::seconds(1));
      lock.unlock();
      clock_.SleepFor(wait);
      lock.lock();
      continue;
    }
    auto now = clock_.Monotonic();
    RefillLocked(now);
    if (probe_pending_) {
      // The block is over; one request finds out what the bucket looks like now.
      probe_pending_ = false;
      tokens_ = std::max(tokens_, 1.0);
    }
    // Foreground work waiting, or a bucket too low to keep the writer's headroom: step aside.
    const double capacity = CapacityLocked();
    const double headroom = capacity > 1 ? std::max(1.0, std::floor(capacity / 4)) : 0.0;
    const bool yield = (!urgent && urgent_waiting_ > 0) ||
                       (background && (foreground_waiting_ > 0 || tokens_ < 1 + headroom));
    if (!yield && tokens_ >= 1) {
      tokens_ -= 1;
      ++in_flight_;
      return next_ticket_++;
    }
    const double need = (background ? 1 + headroom : 1) - tokens_;
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(std::max(need, 0.0) / rate_));
    wait = std::clamp<std::chrono::nanoseconds>(wait, std::chrono::milliseconds(1), kMaxNap);
    lock.unlock();
    clock_.SleepFor(wait);
    lock.lock();
  }
}

void RateLimiter::Update(uint64_t ticket, int64_t limit, int64_t remaining, int64_t reset_unix) {
  if (limit <= 0 || remaining < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.Monotonic();
  RefillLocked(now);
  bool fresh = ticket > last_synced_ticket_;
  if (fresh) {
    limit_ = limit;
    remaining_ = remaining;
    reset_unix_ = reset_unix;
  }
  double capacity = CapacityLocked();
  double reserve = static_cast<double>(limit_) - capacity;
  // Requests sent after this one (or not yet answered) will draw from what the header reports.
  double others = static_cast<double>(std::max<int64_t>(0, in_flight_ - 1));
  double avail = static_cast<double>(remaining) - reserve - others;
  if (fresh) {
    tokens_ = std::clamp(avail, 0.0, capacity);
    last_synced_ticket_ = ticket;
  } else {
    // An older answer overtaken by a newer one: it may only make us more careful.
    tokens_ = std::min(tokens_, std::max(avail, 0.0));
  }

  if (!fresh) return;
  if (remaining >= limit) {
    anchor_.reset();  // a full bucket hides how fast it refills
    return;
  }
  if (!anchor_) {
    anchor_ = Anchor{ticket, remaining, now};
    return;
  }
  auto dt = now - anchor_->at;
  if (dt < kRateWindow) return;
  double consumed = static_cast<double>(ticket - anchor_->ticket);
  double sample = (static_cast<double>(remaining - anchor_->remaining) + consumed) / Seconds(dt);
  sample = std::clamp(sample, 0.2, static_cast<double>(limit));
  rate_ = measured_ ? 0.7 * rate_ + 0.3 * sample : sample;
  measured_ = true;
  anchor_ = Anchor{ticket, remaining, now};
}

void RateLimiter::Complete(uint64_t /*ticket*/) {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_ > 0) --in_flight_;
}

void RateLimiter::BlockUntil(Clock::WallTime until) {
  std::lock_guard<std::mutex> lock(mu_);
  ++throttled_total_;
  if (until > blocked_until_) blocked_until_ = until;
  tokens_ = 0;
  probe_pending_ = true;
}

RateLimiter::View RateLimiter::GetView() const {
  std::lock_guard<std::mutex> lock(mu_);
  View v;
  v.limit = limit_;
  v.remaining = remaining_;
  v.reset_unix = reset_unix_;
  auto now = clock_.Monotonic();
  double tokens = tokens_;
  if (now > last_refill_)
    tokens = std::min(CapacityLocked(), tokens + rate_ * Seconds(now - last_refill_));
  v.tokens = tokens;
  v.capacity = CapacityLocked();
  v.refill_per_second = rate_;
  v.blocked_until = blocked_until_;
  v.in_flight = in_flight_;
  v.throttled_total = throttled_total_;
  v.foreground_waiting = foreground_waiting_;
  v.urgent_waiting = urgent_waiting_;
  return v;
}

}  // namespace tenantsync
