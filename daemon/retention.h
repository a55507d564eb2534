// Compactor: runs the retention of storage/retention.h in the daemon (issue 17; docs/OPERATIONS.md
// "Retention"). A pass compacts every kind batch by batch (one short write transaction each, with
// a pause between batches so ingress and the writer get the write lock) until nothing is due;
// RunServe starts a pass off the main loop every compaction_interval_seconds.
//
// Time comes from the injected Clock only: the cutoffs from its wall time, the interval from its
// monotonic time, the pause through Clock::SleepFor.
// Thread safety: RunPass is called by one thread at a time; Due, StatusJson and Stop from any.
// Errors: RunPass returns the first storage error (what was compacted before it stays counted).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/clock.h"
#include "common/status.h"
#include "storage/retention.h"

namespace tenantsync {

class SqliteStore;

class Compactor {
 public:
  // `on_compacted` (may be empty) is told the rows of every non-empty batch (the metric).
  Compactor(SqliteStore& store, Clock& clock, RetentionOptions options,
            std::chrono::milliseconds pause_between_batches,
            std::function<void(CompactionKind, int64_t)> on_compacted = {});

  // True when compaction is enabled and the interval has passed since the last pass started (or
  // none ran yet).
  bool Due() const;
  // One pass over every kind. Stops early (between batches) once Stop() was called.
  Result<CompactionCounts> RunPass();
  void Stop() { stopping_ = true; }
  // GET /v1/status "retention": the configured retention, the last pass (started_at_ms,
  // finished_at_ms, rows per kind, error) or null, and rows compacted since start-up per kind.
  nlohmann::json StatusJson() const;

 private:
  SqliteStore& store_;
  Clock& clock_;
  const RetentionOptions options_;
  const std::chrono::milliseconds pause_;
  std::function<void(CompactionKind, int64_t)> on_compacted_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::optional<Clock::MonoTime> last_start_;  // guarded by mu_
  int64_t last_started_ms_ = 0, last_finished_ms_ = 0;
  CompactionCounts last_rows_, total_rows_;
  std::string last_error_;
  bool ran_ = false;
};

}  // namespace tenantsync
