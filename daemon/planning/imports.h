// Users import planning: which users pending creation go to Auth0 in users-imports jobs
// (POST /api/v2/jobs/users-imports) instead of one POST /api/v2/users each, and in which file.
//
// Pure functions, like the planners (planners.h): no I/O, no clock, no SQLite. The executor
// (StepExecutor::RunImports) gathers the candidates, persists each file as an import_jobs row
// before sending it, and applies the outcome (docs/AUTH0-CLIENT.md, "Users import jobs").
//
// Id scheme: each imported user gets user_id ImportUserId(external id) = "ts" + the first 32 hex
// digits of SHA-256(external id); Auth0 prefixes the connection strategy, so the user's Auth0 id
// is "auth0|" + it (Auth0ImportedId). Deterministic: a re-run, a crash recovery or a second file
// names the same user the same way, so the user can be looked up by id without any search.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/planning/planners.h"

namespace tenantsync {

struct ImportPolicy {
  // [auth0] import_threshold: at least this many users pending creation in the connection are
  // sent as import jobs; fewer are created one by one. 0 disables imports.
  int threshold = 50;
  // Auth0's limit on one users file (500 KB).
  size_t max_file_bytes = 500 * 1024;
};

std::string ImportUserId(const std::string& external_id);
// "auth0|" + ImportUserId(external_id): the Auth0 id an imported user gets.
std::string Auth0ImportedId(const std::string& external_id);

// The users-file record of a user whose next step is an ordinary create that may sign in (not
// blocked, not a leaver): user_id, email and the profile and metadata fields the create would
// send. nullopt when the user is not such a pending create (already created, waiting for its
// email, deleted, blocked or created blocked, left): those take the one-by-one path.
std::optional<nlohmann::json> ImportRecord(const EntityRow& user, const PlanPolicy& policy,
                                           int64_t now_ms);

struct ImportFile {
  std::vector<std::string> users;  // external ids, in file order
  std::vector<nlohmann::json> records;
  std::string json;  // the file: a JSON array of `records`, at most max_file_bytes
};
struct ImportPlan {
  std::vector<ImportFile> files;
  // Candidates left to the one-by-one path: all of them below the threshold, else those whose
  // record alone exceeds a file.
  std::vector<std::string> single;
};

// Splits the candidates (external id -> record) into files: sorted by external id, each file
// filled in order until the next record would exceed max_file_bytes. Deterministic: the same
// candidates give the same files. Fewer candidates than the threshold (or threshold 0): no files.
// `counted`: how many candidates there are in all when only the first ones (by external id) are
// passed, so that the threshold is judged on all of them while only the first files are built;
// 0 (or fewer than passed) means the passed ones are all.
ImportPlan PlanImports(std::vector<std::pair<std::string, nlohmann::json>> candidates,
                       const ImportPolicy& policy, size_t counted = 0);

}  // namespace tenantsync
