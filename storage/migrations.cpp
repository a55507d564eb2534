#include "storage/migrations.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <cstdio>

#include "storage/sqlite_store.h"

namespace tenantsync {
namespace {

void EnsureMigrationTable(SQLite::Database& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)");
}

// Calls the observer's `working` from SQLite's progress handler for as long as it lives.
class ProgressHook {
 public:
  ProgressHook(SQLite::Database& db, const MigrationObserver* observer) : db_(db) {
    if (observer == nullptr || !observer->working) return;
    working_ = &observer->working;
    sqlite3_progress_handler(db_.getHandle(), kMigrationProgressSteps, &ProgressHook::Tick, this);
  }
  ~ProgressHook() {
    if (working_ != nullptr) sqlite3_progress_handler(db_.getHandle(), 0, nullptr, nullptr);
  }
  ProgressHook(const ProgressHook&) = delete;
  ProgressHook& operator=(const ProgressHook&) = delete;

 private:
  static int Tick(void* self) {
    (*static_cast<ProgressHook*>(self)->working_)();
    return 0;  // non-zero would interrupt the migration
  }
  SQLite::Database& db_;
  const std::function<void()>* working_ = nullptr;
};

}  // namespace

Result<int> SchemaVersion(SQLite::Database& db) {
  try {
    if (!db.tableExists("schema_migrations")) return 0;
    SQLite::Statement q(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    q.executeStep();
    return q.getColumn(0).getInt();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("reading schema version: ") + e.what());
  }
}

Result<MigrationReport> ApplyMigrations(SQLite::Database& db,
                                        const std::vector<Migration>& migrations, int64_t now_ms,
                                        const MigrationObserver* observer) {
  MigrationReport report;
  auto current = SchemaVersion(db);
  if (!current.ok()) return current.status();
  report.from_version = report.to_version = *current;
  int newest_known = migrations.empty() ? 0 : migrations.back().version;
  if (*current > newest_known) {
    return Status::Invalid("database schema version " + std::to_string(*current) +
                           " is newer than this tenantsync understands (up to " +
                           std::to_string(newest_known) +
                           "); it was written by a newer release: run that release, or restore "
                           "a backup taken before the upgrade");
  }
  for (const auto& m : migrations) {
    if (m.version <= *current) continue;
    char number[16];
    std::snprintf(number, sizeof(number), "%04d", m.version);
    std::string label = std::string(number) + "_" + m.name;
    if (observer != nullptr && observer->starting) observer->starting(label);
    try {
      ProgressHook progress(db, observer);
      // One transaction per migration: a failing one leaves the earlier ones applied and the
      // database at a well-defined version.
      SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
      EnsureMigrationTable(db);
      db.exec(m.sql);
      SQLite::Statement ins(db,
                            "INSERT INTO schema_migrations(version, name, applied_at_ms) "
                            "VALUES (?, ?, ?)");
      ins.bind(1, m.version);
      ins.bind(2, m.name);
      ins.bind(3, static_cast<int64_t>(now_ms));
      ins.exec();
      tx.commit();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e.getErrorCode(), "migration " + label + " failed: " + e.what());
    }
    report.applied.push_back(label);
    report.to_version = m.version;
  }
  return report;
}

}  // namespace tenantsync
