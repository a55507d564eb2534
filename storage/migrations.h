// Schema migrations: the numbered files in migrations/ (NNNN_name.sql), embedded into the
// binary at build time. Each is applied once, in its own transaction, and recorded in
// schema_migrations; a database that records a version this binary does not know (written by a
// newer tenantsync) is refused.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace SQLite {
class Database;
}

namespace tenantsync {

struct Migration {
  int version;       // NNNN from the file name
  std::string name;  // file name without the number and extension
  std::string sql;
};

// The migrations compiled into this binary, ordered by version.
const std::vector<Migration>& EmbeddedMigrations();

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // "0001_inbox", ...
};

// Told about migrations while they run: one can take minutes on a large database
// (docs/OPERATIONS.md "Upgrade"), longer than a service manager waits for a start-up that says
// nothing. Both are called on the migrating thread, must return quickly and must not use the
// database; either may be empty.
struct MigrationObserver {
  // Before a migration's transaction begins, with its label ("0016_checks_compared_in_place").
  std::function<void(const std::string& label)> starting;
  // While a migration's SQL runs, every kMigrationProgressSteps steps of SQLite's virtual
  // machine (a few milliseconds of work apart). Not called while SQLite waits for a lock or the
  // disk: a migration that stops progressing stops calling it.
  std::function<void()> working;
};
inline constexpr int kMigrationProgressSteps = 100000;

// Applies every migration newer than the database's version. Errors: kInvalid when the
// database is newer than `migrations` or a migration's SQL fails (that migration is rolled back,
// earlier ones stay applied); kRetryable when the database is busy. `now_ms` is recorded as
// each migration's applied_at_ms. `observer` (not owned, may be null) hears of each migration
// applied; the connection keeps no trace of it afterwards.
Result<MigrationReport> ApplyMigrations(SQLite::Database& db,
                                        const std::vector<Migration>& migrations, int64_t now_ms,
                                        const MigrationObserver* observer = nullptr);

// Highest version recorded in the database (0 for a new database).
Result<int> SchemaVersion(SQLite::Database& db);

}  // namespace tenantsync
