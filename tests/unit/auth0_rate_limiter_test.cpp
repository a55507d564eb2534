// RateLimiter: token bucket kept in step with Auth0's x-ratelimit-* headers.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>
#include <vector>

#include "adapters/auth0/rate_limiter.h"
#include "tests/support/fake_clock.h"

namespace tenantsync {
namespace {

using namespace std::chrono_literals;

// A clock whose SleepFor advances time at once and records the sleep, so single-threaded tests
// see exactly how long the limiter would have waited.
class AutoClock final : public Clock {
 public:
  WallTime Now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return WallTime(std::chrono::duration_cast<std::chrono::system_clock::duration>(wall_ + mono_));
  }
  MonoTime Monotonic() const override {
    std::lock_guard<std::mutex> l(mu_);
    return MonoTime(mono_);
  }
  void SleepFor(std::chrono::nanoseconds d) override {
    std::lock_guard<std::mutex> l(mu_);
    mono_ += d;
    slept_ += d;
  }
  void Advance(std::chrono::nanoseconds d) { SleepFor(d); }
  std::chrono::nanoseconds TakeSlept() {
    std::lock_guard<std::mutex> l(mu_);
    auto s = slept_;
    slept_ = {};
    return s;
  }
  int64_t UnixSeconds() const { return NowUnixSeconds(); }

 private:
  mutable std::mutex mu_;
  std::chrono::nanoseconds wall_ = std::chrono::seconds(1795600800);
  std::chrono::nanoseconds mono_{};
  std::chrono::nanoseconds slept_{};
};

double Secs(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

TEST(RateLimiterTest, OneRequestAtATimeUntilTheFirstHeader) {
  AutoClock clock;
  RateLimiter rl(clock, 0.8, 2.0);
  auto t1 = rl.Acquire();
  EXPECT_EQ(clock.TakeSlept(), 0ns);
  rl.Complete(t1);
  rl.Acquire();
  // Fallback 2 rps: the second request waits about half a second.
  EXPECT_NEAR(Secs(clock.TakeSlept()), 0.5, 0.02);
}

TEST(RateLimiterTest, HeadersSetBurstAndKeepTheReserve) {
  AutoClock clock;
  RateLimiter rl(clock, 0.8, 2.0);
  auto t = rl.Acquire();
  rl.Update(t, 50, 49, clock.UnixSeconds() + 1);
  rl.Complete(t);
  auto v = rl.GetView();
  EXPECT_EQ(v.limit, 50);
  EXPECT_EQ(v.capacity, 40);
  // 49 remaining minus a reserve of 10 (20% of 50).
  EXPECT_NEAR(v.tokens, 39, 1e-6);
  for (int i = 0; i < 39; ++i) rl.Complete(rl.Acquire());
  EXPECT_EQ(clock.TakeSlept(), 0ns);
  rl.Acquire();
  EXPECT_GT(clock.TakeSlept(), 0ns);
}

TEST(RateLimiterTest, BackgroundReadsLeaveHeadroomForTheWriter) {
  AutoClock clock;
  RateLimiter rl(clock, 0.8, 2.0);
  auto t = rl.Acquire();
  rl.Update(t, 50, 49, clock.UnixSeconds() + 1);
  rl.Complete(t);
  // 39 tokens in a bucket of 40: background reads stop at a quarter of the bucket (10 tokens).
  for (int i = 0; i < 29; ++i) rl.Complete(rl.Acquire(RateLimiter::Priority::kBackground));
  EXPECT_EQ(clock.TakeSlept(), 0ns);
  EXPECT_NEAR(rl.GetView().tokens, 10, 1e-6);
  // The writer still finds tokens at once...
  for (int i = 0; i < 5; ++i) rl.Complete(rl.Acquire());
  EXPECT_EQ(clock.TakeSlept(), 0ns);
  // ...while the next background read waits for the bucket to refill above the headroom.
  rl.Complete(rl.Acquire(RateLimiter::Priority::kBackground));
  EXPECT_GT(clock.TakeSlept(), 0ns);
  EXPECT_EQ(rl.GetView().foreground_waiting, 0);
}

TEST(RateLimiterTest, AnUrgentRequestTakesTheNextTokenAheadOfWaitingOnes) {
  FakeClock clock;
  RateLimiter rl(clock, 1.0, 10.0);  // 10 tokens/s before any header: one per 100 ms
  rl.Complete(rl.Acquire());         // the one token of a fresh limiter
  std::atomic<int> order{0};
  std::atomic<int> normal_done{0}, urgent_done{0};
  std::thread normal([&] {
    rl.Complete(rl.Acquire());
    normal_done = ++order;
  });
  for (int i = 0; i < 2000 && rl.GetView().foreground_waiting < 1; ++i)
    std::this_thread::sleep_for(1ms);
  std::thread urgent([&] {
    rl.Complete(rl.Acquire(RateLimiter::Priority::kUrgent));
    urgent_done = ++order;
  });
  for (int i = 0; i < 2000 && rl.GetView().urgent_waiting < 1; ++i)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(rl.GetView().foreground_waiting, 2);
  // One token's time passes: the urgent request takes it, the normal one keeps waiting.
  clock.Advance(100ms);
  for (int i = 0; i < 2000 && urgent_done == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(normal_done, 0);
  for (int i = 0; i < 2000 && normal_done == 0; ++i) {
    clock.Advance(100ms);
    std::this_thread::sleep_for(1ms);
  }
  normal.join();
  urgent.join();
  EXPECT_EQ(urgent_done, 1) << "the urgent request waited behind the earlier normal one";
  EXPECT_EQ(normal_done, 2);
}

TEST(RateLimiterTest, InFlightRequestsCountAgainstReportedRemaining) {
  AutoClock clock;
  RateLimiter rl(clock, 1.0, 2.0);
  auto first = rl.Acquire();
  rl.Update(first, 10, 9, 0);
  rl.Complete(first);
  std::vector<uint64_t> tickets;
  for (int i = 0; i < 5; ++i) tickets.push_back(rl.Acquire());
  // The first of them is answered with remaining 8: four others are still in flight.
  rl.Update(tickets[0], 10, 8, 0);
  rl.Complete(tickets[0]);
  EXPECT_NEAR(rl.GetView().tokens, 4, 1e-6);
  // An older answer arriving late may only lower the tokens.
  rl.Update(first, 10, 10, 0);
  EXPECT_NEAR(rl.GetView().tokens, 4, 1e-6);
}

TEST(RateLimiterTest, BlockUntilHoldsEveryAcquireThenProbes) {
  AutoClock clock;
  RateLimiter rl(clock, 0.8, 2.0);
  auto t = rl.Acquire();
  rl.Update(t, 50, 0, clock.UnixSeconds() + 3);
  rl.Complete(t);
  auto until = clock.Now() + 2500ms;
  rl.BlockUntil(until);
  EXPECT_EQ(rl.GetView().throttled_total, 1);
  rl.Acquire();
  EXPECT_GE(clock.Now(), until);
  EXPECT_NEAR(Secs(clock.TakeSlept()), 2.5, 0.01);
}

TEST(RateLimiterTest, MeasuresSustainedRateFromHeaders) {
  AutoClock clock;
  RateLimiter rl(clock, 0.8, 2.0);
  // Server bucket: 50 burst, 16 per second, answering instantly.
  double server = 50;
  auto last = clock.Monotonic();
  for (int i = 0; i < 200; ++i) {
    auto t = rl.Acquire();
    auto now = clock.Monotonic();
    server = std::min(50.0, server + 16 * Secs(now - last));
    last = now;
    ASSERT_GE(server, 1) << "would have been a 429 at request " << i;
    server -= 1;
    rl.Update(t, 50, static_cast<int64_t>(std::floor(server)), 0);
    rl.Complete(t);
  }
  EXPECT_NEAR(rl.GetView().refill_per_second, 16, 2.0);
}

// The benchmark's question in miniature: after the first burst the achieved rate is close to
// the tenant's sustained rate and no request would have met an empty bucket.
TEST(RateLimiterTest, SteadyStateNearSustainedRateWithoutEmptyingTheBucket) {
  AutoClock clock;
  RateLimiter rl(clock, 0.8, 2.0);
  double server = 50;
  auto last = clock.Monotonic();
  int sent_after_burst = 0;
  std::optional<Clock::MonoTime> burst_end;
  for (int i = 0; i < 400; ++i) {
    auto t = rl.Acquire();
    auto now = clock.Monotonic();
    server = std::min(50.0, server + 16 * Secs(now - last));
    last = now;
    ASSERT_GE(server, 1) << "429 at request " << i;
    server -= 1;
    if (i == 50) burst_end = now;
    if (i > 50) ++sent_after_burst;
    rl.Update(t, 50, static_cast<int64_t>(std::floor(server)), 0);
    rl.Complete(t);
  }
  double rate = sent_after_burst / Secs(clock.Monotonic() - *burst_end);
  EXPECT_GE(rate, 0.95 * 16) << rate;
  EXPECT_LE(rate, 16.5) << rate;
}

}  // namespace
}  // namespace tenantsync
