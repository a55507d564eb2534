#include "daemon/retention.h"

#include <spdlog/spdlog.h>

#include "storage/sqlite_store.h"

namespace tenantsync {

Compactor::Compactor(SqliteStore& store, Clock& clock, RetentionOptions options,
                     std::chrono::milliseconds pause_between_batches,
                     std::function<void(CompactionKind, int64_t)> on_compacted)
    : store_(store),
      clock_(clock),
      options_(options),
      pause_(pause_between_batches),
      on_compacted_(std::move(on_compacted)) {}

bool Compactor::Due() const {
  if (options_.compaction_interval_seconds <= 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return !last_start_ || clock_.Monotonic() - *last_start_ >=
                             std::chrono::seconds(options_.compaction_interval_seconds);
}

Result<CompactionCounts> Compactor::RunPass() {
  const int64_t started = clock_.NowUnixMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_start_ = clock_.Monotonic();
  }
  CompactionCounts rows;
  Status failed = Status::Ok();
  for (CompactionKind kind : kCompactionKinds) {
    // One cutoff per kind for the whole pass: rows that age past it during the pass wait for the
    // next one, so a pass always ends.
    const auto cutoff = CompactionCutoff(options_, kind, started);
    if (!cutoff) continue;
    while (!stopping_) {
      auto n = store_.CompactBatch(kind, *cutoff, options_.compaction_batch_rows,
                                   clock_.NowUnixMillis());
      if (!n.ok()) {
        failed = n.status();
        break;
      }
      rows[kind] += *n;
      if (*n > 0 && on_compacted_) on_compacted_(kind, *n);
      if (*n < options_.compaction_batch_rows) break;
      // The store's write lock is not fair: without a pause the next batch could take it again
      // before a waiting webhook commit or writer step.
      if (pause_.count() > 0) clock_.SleepFor(pause_);
    }
    if (!failed.ok() || stopping_) break;
  }
  const int64_t finished = clock_.NowUnixMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ran_ = true;
    last_started_ms_ = started;
    last_finished_ms_ = finished;
    last_rows_ = rows;
    for (CompactionKind k : kCompactionKinds) total_rows_[k] += rows[k];
    last_error_ = failed.ok() ? "" : failed.message();
  }
  if (rows.Total() > 0 || !failed.ok()) {
    spdlog::info(
        "retention: compacted event bodies={} vendor bodies={} mutations={} commands={} import "
        "users={} in {} ms{}",
        rows[CompactionKind::kEventBodies], rows[CompactionKind::kVendorBodies],
        rows[CompactionKind::kMutations], rows[CompactionKind::kCommands],
        rows[CompactionKind::kImportUsers], finished - started,
        failed.ok() ? "" : "; stopped: " + failed.message());
  }
  if (!failed.ok()) return failed;
  return rows;
}

nlohmann::json Compactor::StatusJson() const {
  auto per_kind = [](const CompactionCounts& c) {
    nlohmann::json j = nlohmann::json::object();
    for (CompactionKind k : kCompactionKinds) j[CompactionKindName(k)] = c[k];
    return j;
  };
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json last = nullptr;
  if (ran_) {
    last = {{"started_at_ms", last_started_ms_},
            {"finished_at_ms", last_finished_ms_},
            {"rows", per_kind(last_rows_)},
            {"error", last_error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_error_)}};
  }
  return {{"event_body_retention_days", options_.event_body_retention_days},
          {"mutation_retention_days", options_.mutation_retention_days},
          {"compaction_interval_seconds", options_.compaction_interval_seconds},
          {"last_compaction", last},
          {"compacted_since_start", per_kind(total_rows_)}};
}

}  // namespace tenantsync
