// RateLimiter: the client-side token bucket every Auth0 call draws from.
//
// Auth0 rate-limits a tenant with a token bucket and reports it on every answer:
// x-ratelimit-limit (bucket size), x-ratelimit-remaining (tokens left after this request) and
// x-ratelimit-reset (Unix seconds). This limiter mirrors that bucket so that tenantsync waits
// before sending instead of collecting 429s:
//
// - Reserve. tenantsync may use rate_limit_fraction (f) of the tenant's bucket: the local bucket
//   holds at most floor(f * limit) tokens, and every header update sets the local tokens to
//   "remaining - reserve - requests still in flight", where reserve = limit - floor(f * limit).
//   So tenantsync never draws the tenant's bucket below its reserve on its own; when another
//   consumer (dashboard, deploy pipeline) drains the bucket, tenantsync pauses until it refills.
//   Updates from answers older than the last applied one may only lower the tokens.
// - Refill. Between answers the local bucket refills at the tenant's sustained rate, measured
//   from consecutive headers (change of remaining plus requests sent, over elapsed time) while
//   the bucket is not full; until then fallback_rate_per_second is assumed.
// - 429. BlockUntil(t) (from x-ratelimit-reset or Retry-After) empties the bucket and holds
//   every Acquire() until t; then one probe request is let through and its answer re-syncs.
// - Before the first header only one request is allowed in flight (the bucket size is unknown).
// - Priority. Background reads (drift) yield to writes: a background Acquire() waits while any
//   foreground Acquire() is waiting, and takes a token only while a quarter of the bucket (at
//   least one token when the bucket holds more than one) stays free for the writer. Alone, a
//   background reader still gets the full sustained rate. Urgent requests (access removals) go
//   first: while one waits, normal and background requests do not take tokens.
//
// Thread safety: all methods may be called concurrently. Waiting goes through Clock::SleepFor,
// so tests with a FakeClock never sleep for real.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "common/clock.h"

namespace tenantsync {

class RateLimiter {
 public:
  struct View {
    int64_t limit = 0;                // last x-ratelimit-limit (0 = not seen yet)
    int64_t remaining = 0;            // last x-ratelimit-remaining
    int64_t reset_unix = 0;           // last x-ratelimit-reset
    double tokens = 0;                // local tokens available now
    double capacity = 0;              // local bucket size: floor(fraction * limit), at least 1
    double refill_per_second = 0;     // measured (or fallback) sustained rate
    Clock::WallTime blocked_until{};  // after a 429; epoch when not blocked
    int64_t in_flight = 0;
    int64_t throttled_total = 0;     // BlockUntil() calls (429s) since start
    int64_t foreground_waiting = 0;  // foreground Acquire() calls waiting for a token now
    int64_t urgent_waiting = 0;      // of which urgent (access removals)
  };

  // `fraction` in (0, 1]; `fallback_rate` > 0 requests per second. `clock` must outlive this.
  RateLimiter(Clock& clock, double fraction, double fallback_rate);

  // kUrgent: access removals (a leaver's block, revocation, membership removal): while one
  // waits, no other request takes a token. kBackground: drift reads (see Priority above).
  enum class Priority { kBackground, kNormal, kUrgent };

  // Blocks until a token is available and takes it. Returns a ticket (increasing with send
  // order) that must be passed to Complete() once the answer (or the failure) is in.
  uint64_t Acquire(Priority priority = Priority::kNormal);
  // Records the rate-limit headers of the answer to the request holding `ticket`. Call before
  // Complete() for the same ticket.
  void Update(uint64_t ticket, int64_t limit, int64_t remaining, int64_t reset_unix);
  // Ends the request holding `ticket` (with or without an answer).
  void Complete(uint64_t ticket);
  // From now on Acquire() grants at once (the caller is about to give up: the process is
  // stopping), so no thread stays parked in a rate-limit wait during shutdown.
  void Shutdown();
  // Holds every Acquire() until `until` (wall time), after a 429.
  void BlockUntil(Clock::WallTime until);

  View GetView() const;

 private:
  void RefillLocked(Clock::MonoTime now);
  double CapacityLocked() const;

  Clock& clock_;
  const double fraction_;
  const double fallback_rate_;

  mutable std::mutex mu_;
  // All guarded by mu_.
  double tokens_ = 1;
  double rate_;
  Clock::MonoTime last_refill_;
  int64_t limit_ = 0;
  int64_t remaining_ = 0;
  int64_t reset_unix_ = 0;
  Clock::WallTime blocked_until_{};
  bool probe_pending_ = false;  // a block ended: grant one token to probe
  bool shutdown_ = false;       // guarded by mu_
  uint64_t next_ticket_ = 1;
  uint64_t last_synced_ticket_ = 0;
  int64_t in_flight_ = 0;
  int64_t throttled_total_ = 0;
  int64_t foreground_waiting_ = 0;
  int64_t urgent_waiting_ = 0;
  bool measured_ = false;  // rate_ comes from headers, not the fallback
  // Anchor of the sustained-rate measurement: an answer with the bucket not full.
  struct Anchor {
    uint64_t ticket;
    int64_t remaining;
    Clock::MonoTime at;
  };
  std::optional<Anchor> anchor_;
};

}  // namespace tenantsync
