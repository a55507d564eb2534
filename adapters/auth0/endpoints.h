// Endpoint templates: how every Auth0 call is named in metrics (Auth0Observer), in Status
// messages ("<METHOD> <template>: <what was wrong>") and in tests (FakeTenant's fault injection
// and request log use the same names). Ids in paths are written as {id}, {user_id}, ...
#pragma once

namespace tenantsync::endpoints {

// Authentication API (no Management token, not drawn from the Management rate limiter).
inline constexpr char kToken[] = "POST /oauth/token";
inline constexpr char kChangePasswordEmail[] = "POST /dbconnections/change_password";

// Users.
inline constexpr char kCreateUser[] = "POST /api/v2/users";
inline constexpr char kGetUser[] = "GET /api/v2/users/{id}";
inline constexpr char kPatchUser[] = "PATCH /api/v2/users/{id}";
inline constexpr char kDeleteUser[] = "DELETE /api/v2/users/{id}";
inline constexpr char kUsersByEmail[] = "GET /api/v2/users-by-email";
inline constexpr char kRevokeSessions[] = "DELETE /api/v2/users/{id}/sessions";
inline constexpr char kRevokeRefreshTokens[] = "DELETE /api/v2/users/{id}/refresh-tokens";
inline constexpr char kUserLogs[] = "GET /api/v2/users/{id}/logs";
inline constexpr char kSearchUsers[] = "GET /api/v2/users";
inline constexpr char kCreateUsersExport[] = "POST /api/v2/jobs/users-exports";
inline constexpr char kGetJob[] = "GET /api/v2/jobs/{id}";
inline constexpr char kCreateUsersImport[] = "POST /api/v2/jobs/users-imports";
inline constexpr char kGetJobErrors[] = "GET /api/v2/jobs/{id}/errors";
// The export file at the job's `location` (a presigned storage URL outside the Management API).
inline constexpr char kUsersExportFile[] = "GET {users export location}";
inline constexpr char kVerificationEmail[] = "POST /api/v2/jobs/verification-email";

// Organizations.
inline constexpr char kCreateOrganization[] = "POST /api/v2/organizations";
inline constexpr char kListOrganizations[] = "GET /api/v2/organizations";
inline constexpr char kGetOrganization[] = "GET /api/v2/organizations/{id}";
inline constexpr char kGetOrganizationByName[] = "GET /api/v2/organizations/name/{name}";
inline constexpr char kPatchOrganization[] = "PATCH /api/v2/organizations/{id}";
inline constexpr char kDeleteOrganization[] = "DELETE /api/v2/organizations/{id}";
inline constexpr char kListMembers[] = "GET /api/v2/organizations/{id}/members";
inline constexpr char kAddMembers[] = "POST /api/v2/organizations/{id}/members";
inline constexpr char kRemoveMembers[] = "DELETE /api/v2/organizations/{id}/members";
inline constexpr char kAddMemberRoles[] = "POST /api/v2/organizations/{id}/members/{user_id}/roles";
inline constexpr char kRemoveMemberRoles[] =
    "DELETE /api/v2/organizations/{id}/members/{user_id}/roles";
inline constexpr char kListOrganizationConnections[] =
    "GET /api/v2/organizations/{id}/enabled_connections";
inline constexpr char kAddOrganizationConnection[] =
    "POST /api/v2/organizations/{id}/enabled_connections";
inline constexpr char kPatchOrganizationConnection[] =
    "PATCH /api/v2/organizations/{id}/enabled_connections/{connection_id}";
inline constexpr char kRemoveOrganizationConnection[] =
    "DELETE /api/v2/organizations/{id}/enabled_connections/{connection_id}";

// Roles, connections, clients.
inline constexpr char kListRoles[] = "GET /api/v2/roles";
inline constexpr char kListConnections[] = "GET /api/v2/connections";
inline constexpr char kPatchConnectionClients[] = "PATCH /api/v2/connections/{id}/clients";
inline constexpr char kGetClient[] = "GET /api/v2/clients/{id}";
inline constexpr char kPatchClient[] = "PATCH /api/v2/clients/{id}";

}  // namespace tenantsync::endpoints
