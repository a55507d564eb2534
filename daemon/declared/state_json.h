// Declared state as JSON (issue 15): how `tenantsync apply` hands the state it declares to the
// daemon, and how the daemon stores it per source (table declared_sources) and answers it
// (GET /v1/sources/{name}/declared).
//
// The layout is the file format of docs/DECLARED.md with every field written (absent ones as
// null, {} or []), plus `"left": true` on a user that a prune made leave:
//   {"organizations": [{external_id, name, display_name, metadata, branding: {logo_url, colors},
//                       connections: [{name, assign_membership_on_login?, show_as_button?}],
//                       callback_urls}],
//    "users": [{external_id, email, name, given_name, family_name, app_metadata, user_metadata,
//               blocked, left, organizations: [{external_id, roles}]}]}
// Pure; nothing here throws.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "daemon/declared/declared.h"

namespace tenantsync::declared {

// Canonical JSON of `state` (entities and lists in canonical order; `where` is not written).
nlohmann::json StateToJson(const DeclaredState& state);

// Reads StateToJson's layout back (canonicalised). kInvalid naming the first problem
// ("users[3].blocked: must be true or false"). Entities are not re-validated as events: the
// state comes from a plan whose events the daemon validates.
Result<DeclaredState> StateFromJson(const nlohmann::json& j);

// The state that stands once a plan of DiffDeclared(declared, current, {prune}) is applied:
// every declared entity; what is no longer declared stays as it was without prune (kept); with
// prune organizations are gone and users stay with left = true (so declaring them again brings
// them back with user.returned); users who had left and are not declared stay as they are.
DeclaredState StateAfterApply(const DeclaredState& declared, const DeclaredState& current,
                              bool prune);

}  // namespace tenantsync::declared
