// Planners: the writer's decisions as pure functions (SPEC §5–§6).
//
// Each planner maps (desired state, known Auth0 state, policy, now) for one reconciler entity to
// the ordered steps that make Auth0 hold the desired state. No I/O, no SQLite, no clock reads, no
// thread-locals: everything a decision depends on is in its arguments, so each is tested
// table-driven and by property tests (tests/unit/planners_test.cpp).
//
// The step executor (daemon/execution/executor.h) runs the first step, applies its effect to the
// known state and plans again, until a plan is empty: a planner only has to be right about the
// next step, and "plan again after executing everything yields nothing" is the convergence
// property the tests check.
//
// Known state conventions (the `known` JSON the executor keeps per entity):
//   users:  profile fields, "app_metadata", "user_metadata", "blocked", "sessions_revoked_for"
//           (the departure event whose revocation was done), "deleted" (Auth0 deleted it),
//           "purged" (deleted delete_after_days after leaving; not re-created while left)
//   orgs:   "name", "display_name", "branding", "metadata", "connections" {name: flags},
//           "deleted"
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/planning/step.h"
#include "storage/state_store.h"

namespace tenantsync {

// The [policy] settings planners read.
struct PlanPolicy {
  bool block_on_leave = true;                                   // on_leave has "block"
  bool remove_memberships_on_leave = true;                      // on_leave has "remove_memberships"
  bool revoke_sessions_on_leave = true;                         // on_leave has "revoke_sessions"
  int delete_after_days = 0;                                    // 0 = leavers are never deleted
  std::string connection = "Username-Password-Authentication";  // where users are created
  std::string application_client_id;
  int member_batch_size = 10;  // [auth0].member_batch_size (see MembersInput::creating)
};

struct Plan {
  std::vector<Step> steps;
  // Why nothing can be done yet (e.g. "waiting for an event with its email"); empty otherwise.
  std::string waiting;
  // Plan again at this time (Unix ms) even if nothing changes: scheduled work, e.g. a leaver's
  // deletion delete_after_days after leaving.
  std::optional<int64_t> revisit_at_ms;
};

// ---- Organizations -------------------------------------------------------------------------
// Delete, create (with its listed connections in the body, by name), patch the fields that
// differ (metadata sent whole: Auth0 replaces it; keys of an adopted organization that
// tenantsync never set are kept), then enable/patch/disable connections.
Plan PlanOrganization(const EntityRow& org);

// ---- Users ---------------------------------------------------------------------------------
// Delete, create (blocked when the user is blocked or has left), patch the profile, metadata
// (first-level merge: only keys tenantsync set or removed are touched) and blocked, revoke
// sessions once per departure, and delete leavers delete_after_days after their departure's
// effective time.
Plan PlanUser(const EntityRow& user, const PlanPolicy& policy, int64_t now_ms);

// When the user's departure counts from: the departure's effective_at, else its timestamp.
// nullopt when the user has not left.
std::optional<int64_t> DepartureMs(const EntityRow& user);

// ---- Memberships of one organization ---------------------------------------------------------
struct MembersInput {
  std::string org_external_id;
  std::optional<std::string> org_auth0_id;
  bool org_deleted = false;
  // Desired members (user external id -> role names, sorted) whose users exist in Auth0.
  std::map<std::string, nlohmann::json> desired;
  // Members known to be in Auth0 -> the roles tenantsync assigned.
  std::map<std::string, nlohmann::json> known;
  std::map<std::string, std::string> auth0_ids;  // user external id -> Auth0 user id
  // Desired members who have left (not in `desired` when leavers' memberships are removed), with
  // the events behind their departure.
  std::map<std::string, nlohmann::json> leavers;
  std::map<std::string, int64_t> leavers_received_ms;  // latest receipt behind each departure
  // Members whose latest membership write has an unknown outcome (it may or may not have
  // landed): the idempotent write that yields the desired state is sent again.
  std::set<std::string> uncertain;
  // Members whose latest role write has an unknown outcome: (was an add, its role names).
  std::map<std::string, std::pair<bool, nlohmann::json>> uncertain_roles;
  // Desired members whose users are being created right now (marked for work, no failed attempt
  // yet; each creation marks the organization's members again). While there are any, new
  // members are added in whole batches of member_batch_size only and the rest wait for those
  // users, so an organization filling up costs ceil(members / batch) requests, not one per
  // creation that finished. The plan then asks to be revisited (now_ms + kMemberBatchHoldMs) in
  // case no creation marks the organization again.
  int creating = 0;
  int member_batch_size = 10;  // [auth0].member_batch_size: members per POST …/members
  int64_t now_ms = 0;
};
// When a plan that held members back is made again.
inline constexpr int64_t kMemberBatchHoldMs = 5000;
// Leavers' removals first (access removal), then additions, other removals, then member roles
// (the difference between the listed roles and those tenantsync assigned).
Plan PlanMembers(const MembersInput& input);

// ---- The application's callbacks (a list Auth0 replaces whole) ------------------------------
struct CallbacksInput {
  std::set<std::string> desired;     // every callback URL a live organization lists
  std::set<std::string> managed;     // URLs tenantsync added before
  std::vector<std::string> current;  // the application's list as just read from Auth0
  std::string application_client_id;
};
// One write with every addition and removal, or nothing. URLs tenantsync did not add are kept.
Plan PlanCallbacks(const CallbacksInput& input);

// ---- The application enabled on a connection an organization uses --------------------------
Plan PlanConnectionClient(const std::string& connection, bool already_enabled,
                          const std::string& application_client_id);

// ---- One-shot commands (emails) --------------------------------------------------------------
struct CommandDecision {
  enum class Action { kNothing, kWait, kSend, kSkip, kDead } action = Action::kNothing;
  std::string reason;  // kSkip / kDead / kWait: why
  std::optional<Step> step;
};
// Decided when the command runs, from the user's state then: a blocked, departed or deleted user
// never receives an email (the command is skipped, with the reason); a user not created yet waits.
CommandDecision PlanCommand(const CommandRow& command, const EntityRow& user);

}  // namespace tenantsync
