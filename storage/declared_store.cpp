// Declared sources (issue 15): the last applied declared state of a source and its revision,
// stored together with the events of an apply in one transaction (migrations/0005).
#include <SQLiteCpp/SQLiteCpp.h>

#include "storage/sqlite_store.h"
#include "storage/statement_cache.h"

namespace tenantsync {

Result<SqliteStore::DeclaredRow> SqliteStore::ReadDeclared(const std::string& source) {
  auto lease = LeaseReader();
  StatementCache& stmts = *lease.stmts;
  try {
    auto q =
        stmts.Get("SELECT revision, state, applied_at_ms FROM declared_sources WHERE source = ?");
    q->bind(1, source);
    DeclaredRow row;
    if (q->executeStep()) {
      row.revision = q->getColumn(0).getInt64();
      row.state = q->getColumn(1).getString();
      row.applied_at_ms = q->getColumn(2).getInt64();
    }
    return row;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(),
                       "reading the declared state of " + source + ": " + e.what());
  }
}

Result<std::map<std::string, std::string>> SqliteStore::Auth0IdsByExternalId(
    const std::string& kind) {
  auto lease = LeaseReader();
  StatementCache& stmts = *lease.stmts;
  try {
    auto q = stmts.Get(
        "SELECT external_id, auth0_id FROM entities WHERE kind = ? AND auth0_id IS NOT NULL");
    q->bind(1, kind);
    std::map<std::string, std::string> out;
    while (q->executeStep()) out[q->getColumn(0).getString()] = q->getColumn(1).getString();
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), "reading the Auth0 ids of " + kind + ": " + e.what());
  }
}

Result<SqliteStore::DeclaredApplied> SqliteStore::ApplyDeclared(
    const std::string& source, int64_t base_revision, const std::vector<EventRecord>& events,
    const std::string& state, int64_t now_ms) {
  auto lock = LockWriter();
  DeclaredApplied out;
  out.outcomes.reserve(events.size());
  try {
    // BEGIN IMMEDIATE takes the write lock first, so the revision read below cannot change
    // before the commit: of two applies from the same base, exactly one lands.
    CachedTransaction tx(*writer_stmts_, CachedTransaction::Kind::kImmediate);
    int64_t stored = 0;
    {
      auto q = writer_stmts_->Get("SELECT revision FROM declared_sources WHERE source = ?");
      q->bind(1, source);
      if (q->executeStep()) stored = q->getColumn(0).getInt64();
    }
    if (stored != base_revision) {
      return Status::Conflict("the declared state of source \"" + source + "\" is at revision " +
                              std::to_string(stored) + ", but this plan was made from revision " +
                              std::to_string(base_revision) +
                              " (another apply landed in between); plan again");
    }
    for (const auto& e : events) {
      if (e.source != source)
        return Status::Invalid("event " + e.event_id + " is not of source " + source);
    }
    out.outcomes = InsertEventRows(events);
    out.revision = base_revision + 1;
    auto put = writer_stmts_->Get(
        "INSERT INTO declared_sources (source, revision, state, applied_at_ms, events) "
        "VALUES (?,?,?,?,?) ON CONFLICT (source) DO UPDATE SET revision = excluded.revision, "
        "state = excluded.state, applied_at_ms = excluded.applied_at_ms, events = "
        "excluded.events");
    put->bind(1, source);
    put->bind(2, static_cast<int64_t>(out.revision));
    put->bind(3, state);
    put->bind(4, static_cast<int64_t>(now_ms));
    put->bind(5, static_cast<int64_t>(events.size()));
    put->exec();
    tx.commit();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), "storing the apply of " + source + ": " + e.what());
  }
  return out;
}

}  // namespace tenantsync
