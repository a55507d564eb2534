#include "storage/priority_mutex.h"

namespace tenantsync {

void PriorityMutex::lock() {
  std::unique_lock<std::mutex> g(mu_);
  if (!held_ && first_waiting_ == 0) {
    held_ = true;
    return;
  }
  ++ordinary_waiting_;
  while (held_ || first_waiting_ > 0) {
    ordinary_cv_.wait(g);
    ++wakeups_;
  }
  --ordinary_waiting_;
  held_ = true;
}

void PriorityMutex::lock_first() {
  std::unique_lock<std::mutex> g(mu_);
  if (!held_) {
    held_ = true;
    return;
  }
  ++first_waiting_;
  while (held_) {
    first_cv_.wait(g);
    ++wakeups_;
  }
  --first_waiting_;
  held_ = true;
}

bool PriorityMutex::try_lock() {
  std::lock_guard<std::mutex> g(mu_);
  if (held_ || first_waiting_ > 0) return false;
  held_ = true;
  return true;
}

void PriorityMutex::unlock() {
  std::condition_variable* wake = nullptr;
  {
    std::lock_guard<std::mutex> g(mu_);
    held_ = false;
    if (first_waiting_ > 0) {
      wake = &first_cv_;
    } else if (ordinary_waiting_ > 0) {
      wake = &ordinary_cv_;
    }
  }
  // One waiter: the next holder. Should another thread take the lock first, the woken one waits
  // again and that thread's unlock wakes the next.
  if (wake != nullptr) wake->notify_one();
}

int PriorityMutex::ordinary_waiting() const {
  std::lock_guard<std::mutex> g(mu_);
  return ordinary_waiting_;
}

int PriorityMutex::first_waiting() const {
  std::lock_guard<std::mutex> g(mu_);
  return first_waiting_;
}

int64_t PriorityMutex::wakeups() const {
  std::lock_guard<std::mutex> g(mu_);
  return wakeups_;
}

}  // namespace tenantsync
