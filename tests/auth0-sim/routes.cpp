// Route table of auth0-sim. Kept apart from the tenant so the HTTP layer can classify a request
// (rate-limit group, stats key) before taking the tenant lock.
#include <array>

#include "tests/auth0-sim/handlers.h"
#include "tests/auth0-sim/tenant.h"

namespace tenantsync::sim {
namespace {

struct RouteDef {
  const char* method;
  const char* pattern;
  const char* group;
  int handler;
};

constexpr RouteDef kRoutes[] = {
    {"POST", "/oauth/token", "auth", kOAuthToken},
    {"POST", "/dbconnections/change_password", "auth", kDbChangePassword},
    {"GET", "/api/v2/users", "users_read", kSearchUsers},
    {"POST", "/api/v2/users", "users_write", kCreateUser},
    {"GET", "/api/v2/users-by-email", "users_read", kUsersByEmail},
    {"GET", "/api/v2/users/{id}", "users_read", kGetUser},
    {"PATCH", "/api/v2/users/{id}", "users_write", kPatchUser},
    {"DELETE", "/api/v2/users/{id}", "users_write", kDeleteUser},
    {"GET", "/api/v2/users/{id}/organizations", "users_read", kUserOrganizations},
    {"GET", "/api/v2/users/{id}/logs", "users_read", kUserLogs},
    {"GET", "/api/v2/logs", "default", kSearchLogs},  // scope read:logs
    {"GET", "/api/v2/logs/{id}", "default", kGetLog},
    {"GET", "/api/v2/users/{id}/refresh-tokens", "users_read", kGetRefreshTokens},
    {"DELETE", "/api/v2/users/{id}/refresh-tokens", "users_write", kDeleteRefreshTokens},
    {"DELETE", "/api/v2/users/{id}/sessions", "users_write", kDeleteSessions},
    {"GET", "/api/v2/user-blocks/{id}", "users_read", kGetUserBlocks},
    {"DELETE", "/api/v2/user-blocks/{id}", "users_write", kDeleteUserBlocks},
    {"GET", "/api/v2/organizations", "organizations_read", kListOrgs},
    {"POST", "/api/v2/organizations", "organizations_write", kCreateOrg},
    {"GET", "/api/v2/organizations/name/{name}", "organizations_read", kGetOrgByName},
    {"GET", "/api/v2/organizations/{id}", "organizations_read", kGetOrg},
    {"PATCH", "/api/v2/organizations/{id}", "organizations_write", kPatchOrg},
    {"DELETE", "/api/v2/organizations/{id}", "organizations_write", kDeleteOrg},
    {"GET", "/api/v2/organizations/{id}/members", "organizations_read", kListMembers},
    {"POST", "/api/v2/organizations/{id}/members", "organizations_write", kAddMembers},
    {"DELETE", "/api/v2/organizations/{id}/members", "organizations_write", kDeleteMembers},
    {"GET", "/api/v2/organizations/{id}/members/{user_id}/roles", "organizations_read",
     kListMemberRoles},
    {"POST", "/api/v2/organizations/{id}/members/{user_id}/roles", "organizations_write",
     kAddMemberRoles},
    {"DELETE", "/api/v2/organizations/{id}/members/{user_id}/roles", "organizations_write",
     kDeleteMemberRoles},
    {"GET", "/api/v2/organizations/{id}/enabled_connections", "organizations_read",
     kListOrgConnections},
    {"POST", "/api/v2/organizations/{id}/enabled_connections", "organizations_write",
     kAddOrgConnection},
    {"GET", "/api/v2/organizations/{id}/enabled_connections/{connection_id}", "organizations_read",
     kGetOrgConnection},
    {"PATCH", "/api/v2/organizations/{id}/enabled_connections/{connection_id}",
     "organizations_write", kPatchOrgConnection},
    {"DELETE", "/api/v2/organizations/{id}/enabled_connections/{connection_id}",
     "organizations_write", kDeleteOrgConnection},
    // The newer family over the same state (docs/AUTH0-SIM.md, "Organization connections").
    {"GET", "/api/v2/organizations/{id}/connections", "organizations_read", kListOrgAllConnections},
    {"POST", "/api/v2/organizations/{id}/connections", "organizations_write", kAddOrgAllConnection},
    {"GET", "/api/v2/organizations/{id}/connections/{connection_id}", "organizations_read",
     kGetOrgAllConnection},
    {"PATCH", "/api/v2/organizations/{id}/connections/{connection_id}", "organizations_write",
     kPatchOrgAllConnection},
    {"DELETE", "/api/v2/organizations/{id}/connections/{connection_id}", "organizations_write",
     kDeleteOrgAllConnection},
    {"GET", "/api/v2/roles", "default", kListRoles},
    {"POST", "/api/v2/roles", "default", kCreateRole},
    {"GET", "/api/v2/roles/{id}", "default", kGetRole},
    {"PATCH", "/api/v2/roles/{id}", "default", kPatchRole},
    {"DELETE", "/api/v2/roles/{id}", "default", kDeleteRole},
    {"GET", "/api/v2/connections", "default", kListConnections},
    {"POST", "/api/v2/connections", "default", kCreateConnection},
    {"GET", "/api/v2/connections/{id}", "default", kGetConnection},
    {"PATCH", "/api/v2/connections/{id}", "default", kPatchConnection},
    {"DELETE", "/api/v2/connections/{id}", "default", kDeleteConnection},
    {"GET", "/api/v2/connections/{id}/clients", "default", kGetConnectionClients},
    {"PATCH", "/api/v2/connections/{id}/clients", "default", kPatchConnectionClients},
    {"GET", "/api/v2/clients", "default", kListClients},
    {"POST", "/api/v2/clients", "default", kCreateClient},
    {"GET", "/api/v2/clients/{id}", "default", kGetClient},
    {"PATCH", "/api/v2/clients/{id}", "default", kPatchClient},
    {"DELETE", "/api/v2/clients/{id}", "default", kDeleteClient},
    {"GET", "/api/v2/clients/{id}/connections", "default", kGetClientConnections},
    {"POST", "/api/v2/tickets/password-change", "default", kTicketPasswordChange},
    {"POST", "/api/v2/tickets/email-verification", "default", kTicketEmailVerification},
    {"POST", "/api/v2/jobs/verification-email", "default", kJobVerificationEmail},
    {"POST", "/api/v2/jobs/users-imports", "default", kJobUsersImport},
    {"POST", "/api/v2/jobs/users-exports", "default", kJobUsersExport},
    {"GET", "/api/v2/jobs/{id}", "default", kGetJob},
    {"GET", "/api/v2/jobs/{id}/errors", "default", kGetJobErrors},
};

// Splits "/a/b/c" into {"a","b","c"}; an empty segment (e.g. "//") is kept so it never matches
// a parameter by accident.
std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Route patterns split once: matching runs on every request.
const std::vector<std::vector<std::string_view>>& SplitPatterns() {
  static const auto* patterns = [] {
    auto* v = new std::vector<std::vector<std::string_view>>();
    for (const RouteDef& def : kRoutes) v->push_back(Split(def.pattern));
    return v;
  }();
  return *patterns;
}

}  // namespace

std::optional<RouteMatch> MatchRoute(std::string_view method, std::string_view path) {
  const auto segments = Split(path);
  const auto& patterns = SplitPatterns();
  for (size_t r = 0; r < std::size(kRoutes); ++r) {
    const RouteDef& def = kRoutes[r];
    if (method != def.method) continue;
    const auto& pattern = patterns[r];
    if (pattern.size() != segments.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (size_t i = 0; i < pattern.size() && ok; ++i) {
      if (!pattern[i].empty() && pattern[i].front() == '{') {
        if (segments[i].empty()) ok = false;
        params.emplace_back(segments[i]);
      } else if (pattern[i] != segments[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    RouteMatch m;
    m.route = std::string(def.method) + " " + def.pattern;
    m.group = def.group;
    m.handler = def.handler;
    m.params = std::move(params);
    m.management = std::string_view(def.pattern).starts_with("/api/v2/");
    return m;
  }
  return std::nullopt;
}

}  // namespace tenantsync::sim
