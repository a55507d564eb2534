// Drift: a full comparison of what Auth0 holds with what tenantsync last wrote (SPEC §6, Drift).
//
// Only MANAGED objects are read and compared (entities with an Auth0 id; the application's
// callbacks tenantsync added), and only the fields tenantsync owns; nothing else in the tenant is
// ever reported or touched.
//
//   organizations  one checkpoint-paged walk (ListOrganizations), compared by id: display_name,
//                  metadata, branding as last sent (`known`). A managed id missing from the list
//                  is confirmed with GET /organizations/{id} before it counts as gone.
//   connections    ListOrganizationConnections per managed organization: the connections
//                  tenantsync enabled (known.connections) and their two flags
//   members        ListMembersWithRoles per managed organization (fields=user_id,roles: one
//                  request per 100 members) against known_memberships: members tenantsync added
//                  and the roles it assigned (roles assigned by others are not ours)
//   callbacks      GetApplication: every URL in the setting "callbacks_managed" must be present
//   users          batched: up to DriftOptions::user_export_threshold managed users through user
//                  search, DriftOptions::search_batch ids per query (user_id:("a" OR "b" ...));
//                  above it one users export job for the configured connection. Compared: email,
//                  name, given_name, family_name, nickname, picture, blocked and the app_metadata /
//                  user_metadata keys tenantsync set.
//
// Positive evidence: search and exports lag behind writes, so a user that is missing from them
// or differs is read again with GET /users/{id} (immediately consistent) and only that answer
// counts; a user is "gone" only on a 404. An empty or failed list is never taken as "everything
// was deleted": a failed read aborts the run, and drift never plans a block, a delete or a
// removal of its own (corrections re-apply desired state; destructive work only comes from signed
// events and still passes the guard).
//
// Rate budget: the pass runs inside an Auth0Client::BackgroundScope, so its reads share the
// writer's rate limiter but yield to the writer's requests.
//
// Run(correct=false) only reports. Run(correct=true) additionally writes what Auth0 really holds
// into the entity's known state (known_memberships: members and roles Auth0 lacks are dropped;
// callbacks: the missing URLs leave "callbacks_managed") and marks the entity dirty, so the
// ordinary writer re-plans and repairs it through the normal mutation path and the guard. A
// correction is skipped for a field the writer changed since the comparison started.
//
// Limits: member lists lag behind writes in real Auth0 and have no consistent read, so members of
// an organization tenantsync added members to within DriftOptions::member_list_lag are not judged
// missing (the report notes how many); a write in flight during a run can still show as a
// difference once.
//
// Thread safety: Run() may be called from any thread; runs are serialised (one at a time). Owns
// no thread.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace tenantsync {

class SqliteStore;
class Auth0Client;

struct DriftOptions {
  std::string application_client_id;  // whose callbacks are compared ("" = none)
  std::string connection;             // the database connection managed users live in
  // Managed users above this count are read through a users export job instead of search.
  size_t user_export_threshold = 2000;
  // Ids per search query; keeps the URL well under common proxy limits (~2 KB of ids).
  size_t search_batch = 50;
  std::chrono::milliseconds export_poll_interval{2000};
  std::chrono::milliseconds export_timeout{600000};
  // A member missing from its organization's list is not reported when tenantsync added members
  // to that organization less than this long before the pass (member lists lag behind writes).
  std::chrono::milliseconds member_list_lag{60000};
};

class Drift {
 public:
  // `on_report` (may be empty) is called after each successful run with its report and whether it
  // marked entities dirty (wake the writer then).
  Drift(SqliteStore& store, Auth0Client& client, Clock& clock, DriftOptions options,
        std::function<void(const nlohmann::json& report, bool marked)> on_report = {});

  // {"ran_at_ms", "mode": "report"|"correct", "differences": [{"entity","field","auth0",
  //  "expected"}], "requests": N (Management API requests this pass sent, retries included),
  //  "users_read_by": "search"|"export"|"none", "confirm_reads": N (GET /users/{id} to confirm),
  //  "notes": [..], "corrected": N}. Stored as setting "drift_last". Errors: an Auth0 read or
  //  storage failure
  // (nothing is corrected then).
  Result<nlohmann::json> Run(bool correct);

  // The last stored report (null when drift never ran).
  nlohmann::json Last();

 private:
  Result<nlohmann::json> RunLocked(bool correct);  // run_mu_ held

  SqliteStore& store_;
  Auth0Client& client_;
  Clock& clock_;
  const DriftOptions options_;
  std::function<void(const nlohmann::json&, bool)> on_report_;
  std::mutex run_mu_;  // one run at a time
};

}  // namespace tenantsync
