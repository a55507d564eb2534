// Clock: the only source of time for tenantsync code. The process takes SystemClock() where it
// starts (main for the CLI, RunServe for the daemon) and hands it down as a Clock&; components
// keep that reference (a null StorageOptions::clock is the one default to SystemClock()). Tests
// pass a FakeClock (tests/support/fake_clock.h) and advance it instead of sleeping.
//
// Thread safety: every method of every implementation may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>

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

}  // namespace tenantsync
