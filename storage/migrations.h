// Schema migrations: the numbered files in migrations/ (NNNN_name.sql), embedded into the
// binary at build time. Each is applied once, in its own transaction, and recorded in
// schema_migrations; a database that records a version this binary does not know (written by a
// newer tenantsync) is refused.
#pragma once

#include <cstdint>
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

// Applies every migration newer than the database's version. Errors: kInvalid when the
// database is newer than `migrations` or a migration's SQL fails (that migration is rolled back,
// earlier ones stay applied); kRetryable when the database is busy. `now_ms` is recorded as
// each migration's applied_at_ms.
Result<MigrationReport> ApplyMigrations(SQLite::Database& db,
                                        const std::vector<Migration>& migrations, int64_t now_ms);

// Highest version recorded in the database (0 for a new database).
Result<int> SchemaVersion(SQLite::Database& db);

}  // namespace tenantsync
