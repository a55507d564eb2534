// A mutex with two ways in: lock_first() goes before every thread waiting in lock(), and an
// unlock wakes exactly one waiter — a lock_first() one if any, else a lock() one. The store's
// write connection (issue 13): the group committer, storing events senders wait for, takes it
// first; the writer and the Auth0 workers take it in turn. It replaced a hand-back gate under
// which every worker that got the connection while an inbox write waited released it again and
// every gate waiter was woken per inbox commit (~36,000 futex calls a second during a backfill's
// acceptance; docs/BENCHMARKS.md, session 30).
//
// Meets Lockable (lock, try_lock, unlock), so std::unique_lock<PriorityMutex> works. Thread-safe;
// not recursive; unlock only by the holder. Not fair among lock() waiters (the condition
// variable's order), and a thread arriving when it is free may take it before a woken one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace tenantsync {

class PriorityMutex {
 public:
  void lock();
  void lock_first();
  // Takes it only when free and no lock_first() is waiting.
  bool try_lock();
  void unlock();

  // Threads waiting in lock() / lock_first() now (for tests).
  int ordinary_waiting() const;
  int first_waiting() const;
  // Times a waiting thread was woken (whether it then took the lock or waited again): for
  // tests that hold it to one wake-up per hand-over.
  int64_t wakeups() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable first_cv_, ordinary_cv_;
  bool held_ = false;
  int first_waiting_ = 0, ordinary_waiting_ = 0;
  int64_t wakeups_ = 0;
};

using PriorityLock = std::unique_lock<PriorityMutex>;

}  // namespace tenantsync
