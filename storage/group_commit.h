// GroupCommitter: shares one durable commit among concurrent inserts.
//
// Callers queue events (InsertAsync, or the blocking Insert); one committer thread takes
// everything queued while the previous commit was in progress and stores it in one
// transaction, so N concurrent requests cost about one fsync instead of N. A caller learns the
// outcome only after the transaction holding its event has committed (or was refused).
//
// InsertAsync does not wait: its callback runs once, on the committer thread after the commit,
// or at once on the calling thread when the event is refused before being queued (queue full,
// stopped). Callbacks of one batch run one after another on the committer thread, so they must
// be short and must not block (ingress builds its answer and hands it to the event loop). An
// exception escaping a callback is caught and logged; the other callbacks still run.
//
// Thread safety: Insert()/InsertAsync() may be called from any number of threads. Stop() drains
// what is queued (every queued caller gets its answer) and joins the thread; an insert after
// Stop() is refused kRetryable.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "storage/store.h"

namespace tenantsync {

struct GroupCommitOptions {
  size_t max_batch = 512;   // events per transaction
  size_t max_queue = 8192;  // waiting inserts before new ones are refused (kRetryable)
  // Called on the committer thread after each transaction that committed, with the number of
  // events it held (inserted and duplicates), before their callbacks: metrics. Optional; must be
  // quick and must not throw.
  std::function<void(size_t events)> on_commit;
};

// The committer's decision, given what is queued (pure; GroupCommitter calls it under its lock):
// start a commit when something is queued and no producer holds it, a hold ended while events
// it let go are still queued, or a full batch is waiting.
bool ShouldStartCommit(size_t queued, int holds, bool released, size_t max_batch);

class GroupCommitter {
 public:
  // OK → the outcome (inserted or duplicate) is durable. kRetryable → nothing was stored
  // (queue full, storage failing, or shutting down); the sender should retry.
  using Callback = std::function<void(Result<InsertOutcome>)>;

  GroupCommitter(Store& store, GroupCommitOptions options = {});
  ~GroupCommitter();

  // Blocks until the event's transaction has committed (or the insert was refused).
  Result<InsertOutcome> Insert(EventRecord record);
  // Queues the event and returns; `done` is called exactly once as described above.
  void InsertAsync(EventRecord record, Callback done);
  void Stop();

  // Hold() asks the committer not to start its next commit until Release(): a producer that
  // queues several events in a row (the event loop answering a pass over the connections that
  // became ready together) holds it so they share one transaction, instead of the first of
  // them being committed alone while the rest are still being read. Holds count (each Hold needs
  // one Release); a full batch (max_batch) is committed held or not, and what was queued when a
  // hold ends is committed even if another hold has begun since. Never blocks.
  void Hold();
  void Release();

  // Number of commits done so far (for tests and benchmarks: proves commits are shared).
  uint64_t commits() const;

 private:
  struct Pending {
    EventRecord record;
    Callback done;
  };
  void Run();

  Store& store_;
  const GroupCommitOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  bool idle_ = false;          // guarded by mu_: the committer waits on cv_
  int holds_ = 0;              // guarded by mu_: Hold() calls not yet released
  bool released_ = false;      // guarded by mu_: a hold ended; cleared when the queue empties
  uint64_t commits_ = 0;       // guarded by mu_
  std::thread thread_;
};

}  // namespace tenantsync
