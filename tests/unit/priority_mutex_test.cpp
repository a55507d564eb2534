#include "storage/priority_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace tenantsync {
namespace {

// Waits (bounded) until `done` holds; the threads under test block on the mutex, so there is no
// event to wait for but their count.
template <typename F>
bool SpinUntil(F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(PriorityMutex, AFirstLockerGoesBeforeOrdinaryOnesAlreadyWaiting) {
  PriorityMutex mu;
  mu.lock();
  std::mutex order_mu;
  std::vector<char> order;
  auto record = [&](char who) {
    std::lock_guard<std::mutex> g(order_mu);
    order.push_back(who);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      PriorityLock lock(mu);
      record('o');
    });
  }
  ASSERT_TRUE(SpinUntil([&] { return mu.ordinary_waiting() == 6; }));
  threads.emplace_back([&] {
    mu.lock_first();
    record('F');
    mu.unlock();
  });
  ASSERT_TRUE(SpinUntil([&] { return mu.first_waiting() == 1; }));
  EXPECT_FALSE(mu.try_lock()) << "held";
  mu.unlock();
  for (auto& t : threads) t.join();
  ASSERT_EQ(order.size(), 7u);
  EXPECT_EQ(order.front(), 'F') << "the first locker waited behind ordinary ones";
  EXPECT_EQ(mu.ordinary_waiting(), 0);
  EXPECT_EQ(mu.first_waiting(), 0);
}

TEST(PriorityMutex, TryLockFailsWhileAFirstLockerWaits) {
  PriorityMutex mu;
  mu.lock();
  std::thread first([&] {
    mu.lock_first();
    mu.unlock();
  });
  ASSERT_TRUE(SpinUntil([&] { return mu.first_waiting() == 1; }));
  mu.unlock();
  first.join();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

// Each hand-over wakes one waiter: with 16 threads queued, every unlock would otherwise wake all
// of them (the gate this lock replaced woke every waiter per inbox commit).
TEST(PriorityMutex, AnUnlockWakesOneWaiter) {
  PriorityMutex mu;
  constexpr int kThreads = 16;
  mu.lock();
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      PriorityLock lock(mu);
      ++done;
      // Holding it, give the CPU away: a waiter woken needlessly runs now, finds it held and
      // waits again — a wake-up counted (with notify_all: ~kThreads^2 / 2 of them).
      for (int k = 0; k < 200; ++k) std::this_thread::yield();
    });
  }
  ASSERT_TRUE(SpinUntil([&] { return mu.ordinary_waiting() == kThreads; }));
  mu.unlock();
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), kThreads);
  // One wake-up per hand-over; a few more for spurious wake-ups.
  EXPECT_LE(mu.wakeups(), kThreads + 4);
}

// Mutual exclusion and progress under contention from both sides: a non-atomic counter guarded
// only by the lock ends exact, and nobody is left waiting.
TEST(PriorityMutex, PropertyExcludesAndLetsEveryoneThrough) {
  PriorityMutex mu;
  int64_t counter = 0;
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  constexpr int kThreads = 8, kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const bool first = (t + i) % 3 == 0;
        if (first) {
          mu.lock_first();
        } else if (i % 5 == 0) {
          while (!mu.try_lock()) std::this_thread::yield();
        } else {
          mu.lock();
        }
        if (inside.fetch_add(1) != 0) overlap = true;
        ++counter;
        inside.fetch_sub(1);
        mu.unlock();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_EQ(counter, int64_t{kThreads} * kRounds);
  EXPECT_EQ(mu.ordinary_waiting(), 0);
  EXPECT_EQ(mu.first_waiting(), 0);
}

}  // namespace
}  // namespace tenantsync
