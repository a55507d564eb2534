// Drift: a full comparison of what Auth0 holds with what tenantsync last wrote (SPEC §6, Drift).
//
// Only MANAGED objects are read and compared (entities with an Auth0 id; the application's
// callbacks tenantsync added), and only the fields tenantsync owns; nothing else in the tenant is
// ever reported or touched.
//
//   organizations  one checkpoint-paged walk (ListOrganizations), compared by id: display_name,
//                  metadata, branding as last sent (`known`); a managed id missing is reported
//   connections    ListOrganizationConnections per managed organization: the connections
//                  tenantsync enabled (known.connections) and their two flags
//   members        ListMembers per managed organization (checkpoint) against known_memberships;
//                  ListMemberRoles only for members tenantsync assigned roles to (roles it
//                  assigned and Auth0 lacks; roles assigned by others are not ours)
//   callbacks      GetClient: every URL in the setting "callbacks_managed" must be present
//   users          GetUser per managed user while there are fewer than kMaxUserReads of them
//                  (first version; larger tenants skip users with a note in the report):
//                  email, name, given_name, family_name, nickname, picture, blocked and the
//                  app_metadata / user_metadata keys tenantsync set
//
// Run(correct=false) only reports. Run(correct=true) additionally writes what Auth0 really holds
// into the entity's known state (known_memberships: members and roles Auth0 lacks are dropped;
// callbacks: the missing URLs leave "callbacks_managed") and marks the entity dirty, so the
// ordinary writer re-plans and repairs it through the normal mutation path and the guard. A
// correction is skipped for a field the writer changed since the comparison started.
//
// Limits: member lists and search lag behind writes in real Auth0, so a member added moments
// before a run can be reported missing (a correction then re-adds it, idempotently); a write in
// flight during a run can likewise show as a difference once.
//
// Thread safety: Run() may be called from any thread; runs are serialised (one at a time). Owns
// no thread.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace tenantsync {

class SqliteStore;
class Auth0Client;

class Drift {
 public:
  // Managed users above this count are not read one by one (see the header comment).
  static constexpr size_t kMaxUserReads = 100;

  // `on_report` (may be empty) is called after each successful run with its report and whether it
  // marked entities dirty (wake the writer then).
  Drift(SqliteStore& store, Auth0Client& client, Clock& clock, std::string application_client_id,
        std::function<void(const nlohmann::json& report, bool marked)> on_report = {});

  // {"ran_at_ms", "mode": "report"|"correct", "differences": [{"entity","field","auth0",
  //  "expected"}], "requests": N (approximate: pages of list reads + single reads), "notes": [..],
  //  "corrected": N}. Stored as setting "drift_last". Errors: an Auth0 read or storage failure
  // (nothing is corrected then).
  Result<nlohmann::json> Run(bool correct);

  // The last stored report (null when drift never ran).
  nlohmann::json Last();

 private:
  SqliteStore& store_;
  Auth0Client& client_;
  Clock& clock_;
  const std::string application_client_id_;
  std::function<void(const nlohmann::json&, bool)> on_report_;
  std::mutex run_mu_;  // one run at a time
};

}  // namespace tenantsync
