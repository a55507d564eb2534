// Who may do what through the admin API (issue 16; docs/ADMIN-API.md "Roles"). Pure decisions:
// no I/O, no state, safe to call from any thread. AdminApi computes the facts (which role, which
// endpoint, whether the entity concerned lies within an org-admin's organizations) and acts on
// the answer; everything here is table-driven and tested in tests/unit/admin_authz_test.cpp.
//
//   viewer     every read (GET) endpoint
//   operator   viewer + replay, retry, discard, pause, resume, submit events
//   admin      everything (also guard approve/reject, drift run, declared-source apply)
//   org-admin  only its organizations and the users who are members of one of them: their
//              entities (others answer 404 exactly like unknown ones), lists filtered to them,
//              events submitted for them; nothing tenant-wide (403)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/events/event.h"
#include "common/status.h"

namespace tenantsync {

enum class Role { kAdmin, kOperator, kViewer, kOrgAdmin };
// "admin", "operator", "viewer", "org-admin".
const char* RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// One authenticated caller: the configured token's name, its role and (org-admin only) the
// external ids of its organizations.
struct Principal {
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> organizations;
};

// Every admin API endpoint, by what it does.
enum class AdminAction {
  kReadiness,                 // GET /readyz
  kMetrics,                   // GET /metrics
  kStatus,                    // GET /v1/status
  kPlan,                      // GET /v1/plan
  kReadSources,               // GET /v1/sources, /v1/sources/{name}/{declared,live-fields}
  kListEvents,                // GET /v1/events
  kReadEvent,                 // GET /v1/events/{id}
  kListMutations,             // GET /v1/mutations
  kListOrganizations,         // GET /v1/organizations
  kListUsers,                 // GET /v1/users
  kReadOrganization,          // GET /v1/organizations/{ext}
  kReadUser,                  // GET /v1/users/{ext}
  kReplay,                    // POST /v1/events/{id}/replay
  kRetry,                     // POST /v1/mutations/{id}/retry
  kDiscard,                   // POST /v1/mutations/{id}/discard
  kPause,                     // POST /v1/pause
  kResume,                    // POST /v1/resume
  kSubmitEvent,               // POST /v1/events (then SubmitDecision for org-admin)
  kGuardApprove,              // POST /v1/guard/approve
  kGuardReject,               // POST /v1/guard/reject
  kDriftRun,                  // POST /v1/drift/run
  kDeclaredApply,             // POST /v1/sources/{name}/apply
  kListVendorNotifications,   // GET /v1/vendor-notifications (tenant-wide: not for org-admin)
  kReplayVendorNotification,  // POST /v1/vendor-notifications/{source}/{event_id}/replay
};
// What the action is, as a verb phrase for "forbidden: viewer may not pause the writer".
const char* AdminActionPhrase(AdminAction action);

// Where the entity an action concerns lies for the caller. kTenant: the action concerns no single
// entity (a list or a tenant-wide endpoint). kInScope/kOutOfScope: it concerns one entity that is
// (not) within an org-admin's organizations; for other roles every entity is kInScope.
enum class TargetScope { kTenant, kInScope, kOutOfScope };

enum class Decision {
  kAllow,          // go ahead
  kAllowFiltered,  // go ahead, but a list shows only the caller's scope
  kNotFound,       // answer exactly as for an entity that does not exist (org-admin, outside)
  kForbidden,      // 403 {"error": ForbiddenMessage(...)}
};

Decision Authorize(const Principal& who, AdminAction action, TargetScope target);

// "forbidden: viewer may not pause the writer".
std::string ForbiddenMessage(Role role, AdminAction action);

// Whether `who` may submit an event through POST /v1/events (after Authorize allowed
// kSubmitEvent). Operators and admins may submit any valid event. An org-admin may submit:
//   - organization.upserted for one of its organizations;
//   - a user.* event when every organization the user is a member of lies within its
//     organizations, both in the event (`event_organizations`: the external ids in
//     data.organizations, nullopt when the event does not set them) and as desired now
//     (`current_organizations`, for a user that exists: `user_exists`), and the user stays a
//     member of at least one of them (an existing user without memberships belongs to nobody's
//     scope; a new user must be created into one of the org-admin's organizations);
// never organization.deleted. OK when allowed; kPermanent (403) with a message starting
// "forbidden: " that says why (it names only organizations of the caller's own scope).
Status SubmitDecision(const Principal& who, EventType type, const std::string& external_id,
                      const std::optional<std::vector<std::string>>& event_organizations,
                      bool user_exists, const std::vector<std::string>& current_organizations);

// Whether an org-admin's scope holds organization `org` (always true for other roles).
bool OrganizationInScope(const Principal& who, const std::string& org);
// Whether a user with these desired memberships is in the caller's scope: any role but org-admin,
// or at least one of them in its organizations.
bool UserInScope(const Principal& who, const std::vector<std::string>& user_organizations);

}  // namespace tenantsync
