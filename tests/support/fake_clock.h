// FakeClock: a manually advanced Clock for tests (test code only; production passes SystemClock()).
// Starts at a fixed, documented instant (2026-11-25T10:00:00Z) unless given another; wall and
// monotonic time move only when a test calls Advance (wall time also with SetWall).
//
// Thread safety: every method may be called from any thread; SleepFor blocks until another thread
// advances the clock past the deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/clock.h"

namespace tenantsync {

class FakeClock : public Clock {
 public:
  FakeClock();
  explicit FakeClock(WallTime start);

  WallTime Now() const override;
  MonoTime Monotonic() const override;
  // Waits until another thread advances the clock past the deadline.
  void SleepFor(std::chrono::nanoseconds d) override;

  void Advance(std::chrono::nanoseconds d);
  void SetWall(WallTime t);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  WallTime wall_;                    // guarded by mu_
  std::chrono::nanoseconds mono_{};  // guarded by mu_
};

}  // namespace tenantsync
