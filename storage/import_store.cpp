// StateTxn methods for users import jobs (see daemon/execution/executor.h, RunImports, and
// migrations/0007_users_imports.sql).
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>

#include "storage/sqlite_store.h"
#include "storage/state_store.h"
#include "storage/statement_cache.h"

namespace tenantsync {

namespace {

nlohmann::json ParseOr(const std::string& text, nlohmann::json fallback) {
  auto v = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return v.is_discarded() ? fallback : v;
}

}  // namespace

Result<int64_t> StateTxn::InsertImportJob(const ImportJobRow& row) {
  try {
    auto q = stmts_.Get(
        "INSERT INTO import_jobs (connection, state, job_id, polls, summary, error, "
        "created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    q->bind(1, row.connection);
    q->bind(2, row.state);
    if (row.job_id) {
      q->bind(3, *row.job_id);
    } else {
      q->bind(3);
    }
    q->bind(4, row.polls);
    q->bind(5, row.summary.dump());
    q->bind(6, row.error);
    q->bind(7, static_cast<int64_t>(row.created_at_ms));
    q->bind(8, static_cast<int64_t>(row.created_at_ms));
    q->exec();
    const int64_t id = db_.getLastInsertRowid();
    auto u = stmts_.Get(
        "INSERT INTO import_job_users (job, user_external_id, import_user_id, record) "
        "VALUES (?, ?, ?, ?)");
    for (const auto& user : row.users) {
      u->reset();
      u->bind(1, static_cast<int64_t>(id));
      u->bind(2, user.external_id);
      u->bind(3, user.import_user_id);
      u->bind(4, user.record.dump());
      u->exec();
    }
    return id;
  } catch (const std::exception& e) {
    return Fail(e, "recording import job");
  }
}

Status StateTxn::UpdateImportJob(const ImportJobRow& row, int64_t now_ms) {
  try {
    auto q = stmts_.Get(
        "UPDATE import_jobs SET state = ?, job_id = ?, polls = ?, summary = ?, error = ?, "
        "updated_at_ms = ? WHERE id = ?");
    q->bind(1, row.state);
    if (row.job_id) {
      q->bind(2, *row.job_id);
    } else {
      q->bind(2);
    }
    q->bind(3, row.polls);
    q->bind(4, row.summary.dump());
    q->bind(5, row.error);
    q->bind(6, static_cast<int64_t>(now_ms));
    q->bind(7, static_cast<int64_t>(row.id));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "updating import job");
  }
}

Result<std::vector<StateTxn::ImportJobRow>> StateTxn::ImportJobs(
    const std::string& connection, const std::vector<std::string>& states, bool with_users) {
  try {
    std::vector<ImportJobRow> out;
    auto q = stmts_.Get(
        "SELECT id, connection, state, job_id, polls, summary, error, created_at_ms, "
        "updated_at_ms FROM import_jobs WHERE connection = ? ORDER BY id");
    q->bind(1, connection);
    while (q->executeStep()) {
      const std::string state = q->getColumn(2).getString();
      if (std::find(states.begin(), states.end(), state) == states.end()) continue;
      ImportJobRow r;
      r.id = q->getColumn(0).getInt64();
      r.connection = q->getColumn(1).getString();
      r.state = state;
      if (!q->getColumn(3).isNull()) r.job_id = q->getColumn(3).getString();
      r.polls = q->getColumn(4).getInt();
      r.summary = ParseOr(q->getColumn(5).getString(), nlohmann::json::object());
      r.error = q->getColumn(6).getString();
      r.created_at_ms = q->getColumn(7).getInt64();
      r.updated_at_ms = q->getColumn(8).getInt64();
      out.push_back(std::move(r));
    }
    q->reset();
    if (with_users) {
      auto u = stmts_.Get(
          "SELECT user_external_id, import_user_id, record FROM import_job_users WHERE job = ? "
          "ORDER BY user_external_id");
      for (auto& r : out) {
        u->reset();
        u->bind(1, static_cast<int64_t>(r.id));
        while (u->executeStep()) {
          r.users.push_back({u->getColumn(0).getString(), u->getColumn(1).getString(),
                             ParseOr(u->getColumn(2).getString(), nlohmann::json::object())});
        }
      }
      u->reset();
    }
    return out;
  } catch (const std::exception& e) {
    return Fail(e, "reading import jobs");
  }
}

Result<std::optional<int64_t>> StateTxn::OpenImportOf(const std::string& user_external_id) {
  try {
    auto q = stmts_.Get(
        "SELECT j.id FROM import_job_users u JOIN import_jobs j ON j.id = u.job "
        "WHERE u.user_external_id = ? AND j.state IN ('prepared', 'sent') LIMIT 1");
    q->bind(1, user_external_id);
    std::optional<int64_t> id;
    if (q->executeStep()) id = q->getColumn(0).getInt64();
    q->reset();
    return id;
  } catch (const std::exception& e) {
    return Fail(e, "reading import jobs");
  }
}

Result<std::map<std::string, int64_t>> StateTxn::CountOpenImportUsers() {
  try {
    std::map<std::string, int64_t> out;
    auto q = stmts_.Get(
        "SELECT j.connection, COUNT(*) FROM import_job_users u JOIN import_jobs j ON j.id = u.job "
        "WHERE j.state IN ('prepared', 'sent') GROUP BY j.connection");
    while (q->executeStep()) out[q->getColumn(0).getString()] = q->getColumn(1).getInt64();
    q->reset();
    return out;
  } catch (const std::exception& e) {
    return Fail(e, "counting import users");
  }
}

}  // namespace tenantsync
