// Unit tests of auth0-sim's token buckets on a FakeClock.
#include "tests/auth0-sim/ratelimit.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace tenantsync::sim {
namespace {

TEST(RateLimiterTest, DisabledReportsGenerousBudget) {
  FakeClock clock;
  RateLimiter limiter(clock);
  auto d = limiter.Acquire("users_write");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, RateLimiter::kUnlimited);
}

TEST(RateLimiterTest, BurstThenRefusalThenRefill) {
  FakeClock clock;
  RateLimiter limiter(clock);
  limiter.SetGlobal({2, 5});
  for (int i = 0; i < 5; ++i) {
    auto d = limiter.Acquire("default");
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 5);
    EXPECT_EQ(d.remaining, 4 - i);
  }
  auto refused = limiter.Acquire("default");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  // Empty bucket, 2 tokens/s: full again in 3 s.
  EXPECT_EQ(refused.reset_unix, clock.NowUnixSeconds() + 3);
  clock.Advance(std::chrono::milliseconds(500));
  EXPECT_TRUE(limiter.Acquire("default").allowed);
  EXPECT_FALSE(limiter.Acquire("default").allowed);
}

TEST(RateLimiterTest, GroupBucketIsTighterAndRefusalSpendsNothing) {
  FakeClock clock;
  RateLimiter limiter(clock);
  limiter.SetGlobal({10, 10});
  limiter.SetGroup("organizations_write", {1, 2});
  auto a = limiter.Acquire("organizations_write");
  EXPECT_EQ(a.limit, 2);
  EXPECT_EQ(a.remaining, 1);
  EXPECT_TRUE(limiter.Acquire("organizations_write").allowed);
  EXPECT_FALSE(limiter.Acquire("organizations_write").allowed);
  // Other groups only see the global bucket, which lost 2 tokens (not 3).
  auto other = limiter.Acquire("users_read");
  EXPECT_TRUE(other.allowed);
  EXPECT_EQ(other.limit, 10);
  EXPECT_EQ(other.remaining, 7);
}

}  // namespace
}  // namespace tenantsync::sim
