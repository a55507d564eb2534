#include "common/memory.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace tenantsync {
namespace {

// Resident set of this process in kB (/proc/self/status VmRSS).
long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST(Memory, WhatAWorkerFreedGoesBackToTheSystem) {
  // Many small blocks in another thread's arena, freed: glibc keeps them resident.
  std::thread worker([] {
    std::vector<std::string*> blocks;
    for (int i = 0; i < 200000; ++i) blocks.push_back(new std::string(200, 'x'));
    // Freed out of order with a survivor at the end, so the arena cannot shrink by itself.
    for (size_t i = 0; i + 1 < blocks.size(); ++i) delete blocks[i];
    static std::string* survivor = blocks.back();
    (void)survivor;
  });
  worker.join();
  const long before = RssKb();
  ASSERT_GT(FreeHeapBytes(), size_t{20} << 20) << "the freed blocks should be held free";
  EXPECT_FALSE(ReleaseFreeMemory(size_t{1} << 40)) << "below the threshold nothing is trimmed";
  EXPECT_TRUE(ReleaseFreeMemory(size_t{1} << 20));
  const long after = RssKb();
  EXPECT_LT(after, before - 20 * 1024) << "RSS " << before << " kB -> " << after << " kB";
}

// Every new thread gets an arena of its own until the cap: with it, sixteen threads that each
// allocate share at most the capped number, and what they free is kept in fewer places.
TEST(Memory, ThreadsShareTheCappedNumberOfArenas) {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) GTEST_SKIP() << "MALLOC_ARENA_MAX is set";
  ASSERT_TRUE(LimitAllocatorArenas(2));
  std::vector<std::thread> threads;
  std::latch all_allocated(16);  // alive together: an exited thread's arena would be reused
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&all_allocated] {
      std::vector<std::string*> blocks;
      for (int j = 0; j < 1000; ++j) blocks.push_back(new std::string(100, 'y'));
      all_allocated.arrive_and_wait();
      for (auto* b : blocks) delete b;
    });
  }
  for (auto& t : threads) t.join();
  const int arenas = AllocatorArenas();
  ASSERT_GT(arenas, 0);
  EXPECT_LE(arenas, 2);
}

}  // namespace
}  // namespace tenantsync
