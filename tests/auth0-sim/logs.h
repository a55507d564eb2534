// LogStore: the tenant log of auth0-sim (docs/AUTH0-SIM.md, "Logs"), with no HTTP in it.
//
// Holds the log events the simulator's own behaviour produces (Management API writes, emails,
// logins through POST /__sim/login) and answers the three log reads of the Management API the way
// Auth0 documents them:
//   GET /api/v2/logs            search (q, page, per_page, sort, fields, include_fields,
//                               include_totals) or checkpoint (from, take);
//   GET /api/v2/logs/{id}       one event;
//   GET /api/v2/users/{id}/logs one user's events (page, per_page, sort, include_totals).
// `q` is a subset of Auth0's Lucene log query syntax: `field:value`, `field:"a phrase"` and
// `field:(a OR b)` terms joined by AND; anything else is refused with a 400 that says so.
//
// Not thread safe: the owner (Tenant) guards it with its own mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tenantsync::sim {

// An Auth0-shaped error for the caller to render (Tenant turns it into MakeError).
struct LogError {
  int status = 400;
  std::string message;
  std::string error_code;
};

// One term of a log query: the event's `field` equals one of `values` (OR); terms are ANDed.
// `date` matches a prefix ("2026-11-30" matches every event of that day).
struct LogTerm {
  std::string field;
  std::vector<std::string> values;
  bool operator==(const LogTerm&) const = default;
};

// Parses `q`; a LogError (400, errorCode invalid_query_string) for what is not supported.
std::variant<std::vector<LogTerm>, LogError> ParseLogQuery(std::string_view q);
bool LogMatches(const nlohmann::json& event, const std::vector<LogTerm>& terms);

// ISO 8601 UTC with milliseconds, as Auth0 writes `date`.
std::string LogDate(int64_t unix_ms);

using LogAnswer = std::variant<nlohmann::json, LogError>;
using LogParams = std::map<std::string, std::string>;

class LogStore {
 public:
  // At most `capacity` events are kept; the oldest are dropped first (Auth0 keeps logs for a
  // retention period instead).
  explicit LogStore(size_t capacity = 10000);

  // Records `event` (an object with at least "type"), stamping "date" from `now_ms` and a new
  // "log_id". Returns the log_id. Log ids are 56 digits and grow with every event, so ordering by
  // log_id is ordering by arrival.
  std::string Append(nlohmann::json event, int64_t now_ms);
  void Clear();
  size_t size() const { return events_.size(); }
  const std::deque<nlohmann::json>& events() const { return events_; }

  LogAnswer Search(const LogParams& params) const;
  LogAnswer UserLogs(const std::string& user_id, const LogParams& params) const;
  std::optional<nlohmann::json> Get(const std::string& log_id) const;

 private:
  LogAnswer Checkpoint(const LogParams& params) const;
  LogAnswer Page(std::vector<const nlohmann::json*> hits, const LogParams& params,
                 bool allow_fields) const;

  size_t capacity_;
  uint64_t next_seq_ = 1;
  std::deque<nlohmann::json> events_;  // in log_id order
};

}  // namespace tenantsync::sim
