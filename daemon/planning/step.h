// Step: one write the writer decides to make in Auth0 — the output of a planner
// (daemon/planning/planners.h) and the input of the step executor (daemon/execution/).
//
// A step names what to do (kind), to which reconciler entity ("user:e1", "members:acme", ...),
// with what request (recorded in the mutation log exactly as planned; ids the planner cannot know,
// such as a role's id, are resolved by the executor), and why (the events behind it).
// Plain values: no I/O, freely copyable, safe to share between threads once built.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tenantsync {

enum class StepKind {
  kCreateOrganization,
  kPatchOrganization,
  kDeleteOrganization,
  kEnableOrganizationConnection,
  kPatchOrganizationConnection,
  kDisableOrganizationConnection,
  kCreateUser,
  kPatchUser,
  kRevokeSessions,
  kDeleteUser,
  kAddMembers,
  kRemoveMembers,
  kAddMemberRoles,
  kRemoveMemberRoles,
  kPatchCallbacks,
  kEnableConnectionClient,
  kSendPasswordResetEmail,
  kSendVerificationEmail,
};

// The mutation-log name of a kind ("create_user", "patch_client_callbacks", ...). Stable: it is
// stored in SQLite, shown by the admin API and counted in metrics.
const char* StepKindName(StepKind kind);
std::optional<StepKind> ParseStepKind(std::string_view name);

struct Step {
  StepKind kind = StepKind::kPatchUser;
  std::string entity;                                 // reconciler key, e.g. "user:e1"
  nlohmann::json request = nlohmann::json::object();  // what is sent (never a password)
  nlohmann::json before = nullptr;  // patches: last known values of the changed fields
  nlohmann::json events = nlohmann::json::array();  // "source/event_id" behind it
  int64_t first_received_ms = 0;                    // earliest receipt of those events (sync lag)
  // Latest receipt of those events: a destructive step waits the guard's settle time after it.
  int64_t last_received_ms = 0;
  // Passes the destructive-change guard before it is sent (block, delete, leaver removal,
  // callback removal, session revocation).
  bool destructive = false;
  // Revokes access (a leaver's block, revocation, membership removal; a delete): executed ahead
  // of every other kind of work.
  bool access_removal = false;

  bool operator==(const Step& other) const = default;
};

}  // namespace tenantsync
