// Clock: the only source of time for tenantsync code. Production uses SystemClock(); tests use
// FakeClock and advance it instead of sleeping.
//
// Thread safety: every method of every implementation may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace tenantsync {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Wall time: event timestamps, Unix-seconds rate-limit resets, what operators read.
  virtual WallTime Now() const = 0;
  // Monotonic time: timeouts, backoff, windows.
  virtual MonoTime Monotonic() const = 0;
  // Blocks the caller for `d` of this clock's time. A FakeClock returns when time is advanced.
  virtual void SleepFor(std::chrono::nanoseconds d) = 0;

  int64_t NowUnixSeconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
  }
  int64_t NowUnixMillis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
};

// The process-wide real clock; never null, never destroyed.
Clock& SystemClock();

// A manually advanced clock for tests. Starts at a fixed, documented instant
// (2026-11-25T10:00:00Z) unless given another.
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
