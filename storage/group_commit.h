// GroupCommitter: shares one durable commit among concurrent inserts.
//
// Ingress threads call Insert(), which blocks until the event's transaction is committed and
// fsynced (or refused). One committer thread takes everything queued while the previous commit
// was in progress and stores it in one transaction, so N concurrent requests cost about one
// fsync instead of N.
//
// Thread safety: Insert() may be called from any number of threads. Stop() drains what is
// queued (every queued caller gets its answer) and joins the thread; Insert() after Stop()
// answers kRetryable.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "storage/store.h"

namespace tenantsync {

struct GroupCommitOptions {
  size_t max_batch = 512;   // events per transaction
  size_t max_queue = 8192;  // waiting inserts before new ones are refused (kRetryable)
};

class GroupCommitter {
 public:
  GroupCommitter(Store& store, GroupCommitOptions options = {});
  ~GroupCommitter();

  // OK → the outcome (inserted or duplicate) is durable. kRetryable → nothing was stored
  // (queue full, storage failing, or shutting down); the sender should retry.
  Result<InsertOutcome> Insert(EventRecord record);
  void Stop();

  // Number of commits done so far (for tests and benchmarks: proves commits are shared).
  uint64_t commits() const;

 private:
  struct Pending {
    EventRecord record;
    std::promise<Result<InsertOutcome>> done;
  };
  void Run();

  Store& store_;
  const GroupCommitOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  uint64_t commits_ = 0;       // guarded by mu_
  std::thread thread_;
};

}  // namespace tenantsync
