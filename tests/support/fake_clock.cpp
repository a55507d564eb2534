#include "tests/support/fake_clock.h"

namespace tenantsync {

FakeClock::FakeClock() : FakeClock(WallTime(std::chrono::seconds(1795600800))) {}
FakeClock::FakeClock(WallTime start) : wall_(start) {}

Clock::WallTime FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

Clock::MonoTime FakeClock::Monotonic() const {
  std::lock_guard<std::mutex> lock(mu_);
  return MonoTime(mono_);
}

void FakeClock::SleepFor(std::chrono::nanoseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  auto deadline = mono_ + d;
  cv_.wait(lock, [&] { return mono_ >= deadline; });
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    mono_ += d;
  }
  cv_.notify_all();
}

void FakeClock::SetWall(WallTime t) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ = t;
}

}  // namespace tenantsync
