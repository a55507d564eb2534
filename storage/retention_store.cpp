// Retention: the cutoffs and the batch statements of each compaction kind (storage/retention.h).
#include <SQLiteCpp/SQLiteCpp.h>

#include "storage/retention.h"
#include "storage/sqlite_store.h"
#include "storage/statement_cache.h"

namespace tenantsync {

const char* CompactionKindName(CompactionKind kind) {
  switch (kind) {
    case CompactionKind::kEventBodies:
      return "event_bodies";
    case CompactionKind::kVendorBodies:
      return "vendor_bodies";
    case CompactionKind::kMutations:
      return "mutations";
    case CompactionKind::kCommands:
      return "commands";
    case CompactionKind::kImportUsers:
      return "import_users";
  }
  return "unknown";
}

std::optional<int64_t> CompactionCutoff(const RetentionOptions& options, CompactionKind kind,
                                        int64_t now_ms) {
  constexpr int64_t kDayMs = 86400000;
  const bool body = kind == CompactionKind::kEventBodies || kind == CompactionKind::kVendorBodies;
  const int days = body ? options.event_body_retention_days : options.mutation_retention_days;
  if (days <= 0) return std::nullopt;
  return now_ms - static_cast<int64_t>(days) * kDayMs;
}

namespace {

// One batch per statement: ?1 = cutoff (rows last updated strictly before it), ?2 = the batch
// size, ?3 = now. Each picks its candidates through an index that holds (almost) only rows still
// to compact (migrations/0010_retention.sql), so a pass costs what it compacts, not the history.
const char* CompactionSql(CompactionKind kind) {
  switch (kind) {
    case CompactionKind::kEventBodies:
      // The row stays (dedup is permanent); only the body goes.
      return "UPDATE events SET body = '', compacted_at_ms = ?3 WHERE seq IN (SELECT seq FROM "
             "events WHERE state IN ('applied', 'rejected') AND compacted_at_ms IS NULL AND "
             "updated_at_ms < ?1 LIMIT ?2)";
    case CompactionKind::kVendorBodies:
      // A mapped notification is never replayed (its inbox events are); its row is its dedup key.
      return "UPDATE vendor_notifications SET body = '' WHERE rowid IN (SELECT rowid FROM "
             "vendor_notifications WHERE state = 'mapped' AND body <> '' AND updated_at_ms < ?1 "
             "LIMIT ?2)";
    case CompactionKind::kMutations:
      return "DELETE FROM mutations WHERE id IN (SELECT id FROM mutations WHERE state IN ('done', "
             "'superseded', 'discarded') AND updated_at_ms < ?1 LIMIT ?2)";
    case CompactionKind::kCommands:
      return "DELETE FROM commands WHERE id IN (SELECT id FROM commands WHERE state IN ('done', "
             "'skipped') AND updated_at_ms < ?1 LIMIT ?2)";
    case CompactionKind::kImportUsers:
      // Open jobs (prepared, sent) keep their users: crash recovery looks them up.
      return "DELETE FROM import_job_users WHERE rowid IN (SELECT u.rowid FROM import_jobs j "
             "JOIN import_job_users u ON u.job = j.id WHERE j.state IN ('completed', 'failed', "
             "'abandoned') AND j.updated_at_ms < ?1 LIMIT ?2)";
  }
  return "";
}

}  // namespace

Result<int64_t> SqliteStore::CompactBatch(CompactionKind kind, int64_t cutoff_ms, int limit,
                                          int64_t now_ms) {
  auto lock = LockWriter();
  try {
    CachedTransaction tx(*writer_stmts_, CachedTransaction::Kind::kImmediate);
    int64_t n = 0;
    {
      auto q = writer_stmts_->Get(CompactionSql(kind));
      q->bind(1, static_cast<int64_t>(cutoff_ms));
      q->bind(2, limit);
      if (q->getBindParameterCount() >= 3) q->bind(3, static_cast<int64_t>(now_ms));
      n = q->exec();
    }
    tx.commit();
    return n;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(),
                       std::string("compacting ") + CompactionKindName(kind) + ": " + e.what());
  }
}

std::vector<std::string> SqliteStore::PreparedSql() {
  std::vector<std::string> out;
  {
    auto lock = LockWriter();
    out = writer_stmts_->Texts();
  }
  for (auto& r : readers_) {
    std::lock_guard<PriorityMutex> lock(r->mu);
    for (auto& s : r->stmts->Texts()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tenantsync
