// The Auth0 request cost of a declared plan, counted per change the way the writer's planners
// (daemon/planning/planners.cpp) and step executor (daemon/execution/executor.cpp) send them.
#include "daemon/declared/cost.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "daemon/planning/imports.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;

// A users-file record as the writer writes it for `u` (ImportRecord: the create's fields; the
// size decides how many users fit in a file).
json ImportLike(const User& u) {
  json r = {{"user_id", ImportUserId(u.external_id)}, {"email", *u.email}};
  if (u.name) r["name"] = *u.name;
  if (u.given_name) r["given_name"] = *u.given_name;
  if (u.family_name) r["family_name"] = *u.family_name;
  if (!u.app_metadata.empty()) r["app_metadata"] = json(u.app_metadata);
  if (!u.user_metadata.empty()) r["user_metadata"] = json(u.user_metadata);
  return r;
}

// The flags the organization planner sets for a listed connection (Auth0's defaults when the
// file leaves them out): PlanOrganization's ConnectionFlags.
std::pair<bool, bool> Flags(const OrgConnection& c) {
  return {c.assign_membership_on_login.value_or(false), c.show_as_button.value_or(true)};
}

// Branding as the planner sends it: null parts left out; nothing left is no branding (not sent).
json BrandingSent(const Branding& b) {
  json out = json::object();
  const json full = BrandingJson(b);
  for (const auto& [key, value] : full.items()) {
    if (!value.is_null()) out[key] = value;
  }
  return out.empty() ? json(nullptr) : out;
}

// Whether PlanOrganization sends a PATCH to turn `c` into `d`: name, a display_name that is set,
// branding that is set (cleared values are not sent: docs/DECLARED.md "Known limits"), metadata.
bool OrgPatched(const Organization& c, const Organization& d) {
  if (c.name != d.name) return true;
  if (d.display_name && c.display_name != d.display_name) return true;
  const json b = BrandingSent(d.branding);
  if (!b.is_null() && b != BrandingSent(c.branding)) return true;
  return c.metadata != d.metadata;
}

struct Counter {
  int64_t org_create = 0, org_patch = 0, org_delete = 0;
  int64_t conn_enable = 0, conn_patch = 0, conn_disable = 0;
  int64_t user_create = 0, user_patch = 0, user_block = 0, revoke = 0, later = 0;
  std::vector<std::pair<std::string, nlohmann::json>> import_candidates;  // created, may sign in
  int64_t invite_reset = 0, invite_verify = 0;
  // Per organization external id: members added, removed (others), removed (leavers).
  std::map<std::string, int64_t> adds, removes, leaver_removes;
  int64_t roles_add = 0, roles_remove = 0;
  std::set<std::string> role_names, connection_names, new_connections;
  bool callbacks_read = false, callbacks_write = false;
  // An organization created or deleted marks the callback list again once that is done: the
  // writer reads it a second time when it read it before (it does, working through the events).
  bool callbacks_reread = false;
  std::set<std::string> deleted_orgs;
  int64_t naive = 0;
};

template <typename T>
std::map<std::string, const T*> ById(const std::vector<T>& list) {
  std::map<std::string, const T*> out;
  for (const auto& e : list) out[e.external_id] = &e;
  return out;
}

// Membership additions, removals and role writes that turn `old_m` into `new_m` for one user;
// `fresh`: every membership of `new_m` is added (a created user, or one whose memberships the
// writer removed when it left).
void CountMemberships(const std::vector<Membership>& old_m, const std::vector<Membership>& new_m,
                      bool fresh, Counter* n) {
  std::map<std::string, const Membership*> before;
  if (!fresh) {
    for (const auto& m : old_m) before[m.org_external_id] = &m;
  }
  std::set<std::string> kept;
  for (const auto& m : new_m) {
    auto it = before.find(m.org_external_id);
    if (it == before.end()) {
      ++n->adds[m.org_external_id];
      ++n->naive;
      if (!m.roles.empty()) ++n->roles_add;
      n->role_names.insert(m.roles.begin(), m.roles.end());
      continue;
    }
    kept.insert(m.org_external_id);
    const std::set<std::string> want(m.roles.begin(), m.roles.end()),
        have(it->second->roles.begin(), it->second->roles.end());
    bool add = false, remove = false;
    for (const auto& r : want) {
      if (!have.count(r)) add = true, n->role_names.insert(r);
    }
    for (const auto& r : have) {
      if (!want.count(r)) remove = true, n->role_names.insert(r);
    }
    n->roles_add += add ? 1 : 0;
    n->roles_remove += remove ? 1 : 0;
    n->naive += (add || remove) ? 1 : 0;
  }
  for (const auto& [org, m] : before) {
    if (!kept.count(org)) ++n->removes[org], ++n->naive;
  }
}

int64_t Batches(const std::map<std::string, int64_t>& per_org, int batch) {
  int64_t total = 0;
  for (const auto& [org, count] : per_org) total += (count + batch - 1) / batch;
  return total;
}

}  // namespace

PlanCost EstimatePlanCost(const DeclaredState& declared_in, const DeclaredState& current_in,
                          const Plan& plan, const CostPolicy& policy) {
  DeclaredState declared = declared_in, current = current_in;
  Canonicalize(declared);
  Canonicalize(current);
  const auto d_orgs = ById(declared.organizations), c_orgs = ById(current.organizations);
  const auto d_users = ById(declared.users), c_users = ById(current.users);
  std::set<std::string> used_connections, used_roles;
  for (const auto& o : current.organizations) {
    for (const auto& c : o.connections) used_connections.insert(c.name);
  }
  for (const auto& u : current.users) {
    for (const auto& m : u.organizations) used_roles.insert(m.roles.begin(), m.roles.end());
  }

  Counter n;
  std::set<std::string> urls_before, urls_after;
  for (const auto& o : current.organizations) {
    urls_before.insert(o.callback_urls.begin(), o.callback_urls.end());
  }
  for (const auto& change : plan.changes) {
    if (change.entity != EntityKind::kOrganization) continue;
    const auto d = d_orgs.find(change.external_id);
    const auto c = c_orgs.find(change.external_id);
    switch (change.kind) {
      case ChangeKind::kCreate: {
        if (d == d_orgs.end()) break;
        ++n.org_create, ++n.naive;
        n.callbacks_read = n.callbacks_reread = true;
        for (const auto& conn : d->second->connections) {
          n.connection_names.insert(conn.name);
          n.new_connections.insert(conn.name);
        }
        break;
      }
      case ChangeKind::kChange: {
        if (d == d_orgs.end() || c == c_orgs.end()) break;
        const Organization &before = *c->second, &after = *d->second;
        n.callbacks_read = true;
        ++n.naive;
        if (OrgPatched(before, after)) ++n.org_patch;
        std::map<std::string, std::pair<bool, bool>> had, want;
        for (const auto& conn : before.connections) had[conn.name] = Flags(conn);
        for (const auto& conn : after.connections) want[conn.name] = Flags(conn);
        for (const auto& [name, flags] : want) {
          auto it = had.find(name);
          if (it == had.end()) {
            ++n.conn_enable;
            n.connection_names.insert(name);
            n.new_connections.insert(name);
          } else if (it->second != flags) {
            ++n.conn_patch;
            n.connection_names.insert(name);
          }
        }
        for (const auto& [name, flags] : had) {
          if (!want.count(name)) ++n.conn_disable, n.connection_names.insert(name);
        }
        break;
      }
      case ChangeKind::kRemove:
        ++n.org_delete, ++n.naive;
        n.callbacks_read = n.callbacks_reread = true;
        n.deleted_orgs.insert(change.external_id);
        break;
      case ChangeKind::kKept:
        break;
    }
  }
  // The callback URLs that stand after the apply: declared organizations, plus kept ones.
  for (const auto& o : declared.organizations) {
    urls_after.insert(o.callback_urls.begin(), o.callback_urls.end());
  }
  for (const auto& change : plan.changes) {
    if (change.entity != EntityKind::kOrganization || change.kind != ChangeKind::kKept) continue;
    if (auto c = c_orgs.find(change.external_id); c != c_orgs.end()) {
      urls_after.insert(c->second->callback_urls.begin(), c->second->callback_urls.end());
    }
  }
  n.callbacks_write = n.callbacks_read && urls_before != urls_after;

  for (const auto& change : plan.changes) {
    if (change.entity != EntityKind::kUser) continue;
    const auto d = d_users.find(change.external_id);
    const auto c = c_users.find(change.external_id);
    switch (change.kind) {
      case ChangeKind::kCreate: {
        if (d == d_users.end()) break;
        const User& u = *d->second;
        ++n.user_create, ++n.naive;
        if (!u.blocked && u.email) n.import_candidates.emplace_back(u.external_id, ImportLike(u));
        if (!u.blocked) {
          n.invite_reset += policy.invite_password_reset ? 1 : 0;
          n.invite_verify += policy.invite_verification ? 1 : 0;
        }
        CountMemberships({}, u.organizations, true, &n);
        break;
      }
      case ChangeKind::kChange: {
        if (d == d_users.end() || c == c_users.end()) break;
        const User &before = *c->second, &after = *d->second;
        ++n.naive;
        // Blocked as Auth0 holds it: a leaver was blocked when on_leave blocks.
        const bool was_blocked = before.blocked || (before.left && policy.block_on_leave);
        bool profile = (after.email && before.email != after.email) || before.name != after.name ||
                       before.given_name != after.given_name ||
                       before.family_name != after.family_name ||
                       before.app_metadata != after.app_metadata ||
                       before.user_metadata != after.user_metadata;
        if (!after.blocked && was_blocked) profile = true;  // the unblock travels in the PATCH
        if (after.blocked && !was_blocked) ++n.user_block;
        if (profile) ++n.user_patch;
        // A returning user whose memberships the writer removed when it left gets them all back.
        const bool fresh = before.left && policy.remove_memberships_on_leave;
        CountMemberships(before.organizations, after.organizations, fresh, &n);
        break;
      }
      case ChangeKind::kRemove: {
        if (c == c_users.end()) break;
        const User& u = *c->second;
        ++n.naive;
        if (policy.block_on_leave && !u.blocked) ++n.user_block;
        if (policy.revoke_sessions_on_leave) ++n.revoke;
        if (policy.remove_memberships_on_leave) {
          // Members of an organization this plan deletes go with it: no removal is sent.
          for (const auto& m : u.organizations) {
            if (!n.deleted_orgs.count(m.org_external_id)) ++n.leaver_removes[m.org_external_id];
            ++n.naive;
          }
        }
        if (policy.delete_after_days > 0) ++n.later;
        break;
      }
      case ChangeKind::kKept:
        break;
    }
  }

  PlanCost cost;
  const int batch = std::clamp(policy.member_batch_size, 1, 10);
  const std::string per = std::to_string(batch) + " per request, per organization";
  auto add = [&](std::string request, std::string why, int64_t count, bool management = true,
                 bool at_most = false) {
    if (count <= 0) return;
    cost.items.push_back({std::move(request), std::move(why), count, management, at_most});
    (management ? cost.management : cost.authentication) += count;
  };
  add("POST /api/v2/organizations", "organizations created, connections in the body", n.org_create);
  add("PATCH /api/v2/organizations/{id}", "organizations changed", n.org_patch);
  add("DELETE /api/v2/organizations/{id}", "organizations deleted (prune)", n.org_delete);
  add("POST /api/v2/organizations/{id}/enabled_connections", "connections enabled", n.conn_enable);
  add("PATCH /api/v2/organizations/{id}/enabled_connections/{connection_id}",
      "connection flags changed", n.conn_patch);
  add("DELETE /api/v2/organizations/{id}/enabled_connections/{connection_id}",
      "connections disabled", n.conn_disable);
  add("GET /api/v2/clients/{id}",
      n.callbacks_reread ? "the application's callbacks, read before and after organizations are "
                           "created or deleted"
                         : "the application's callbacks, read once",
      n.callbacks_read ? (n.callbacks_reread ? 2 : 1) : 0);
  add("PATCH /api/v2/clients/{id}", "the application's callbacks, every change in one write",
      n.callbacks_write ? 1 : 0);
  // The import planner itself decides which creates go into which file.
  const ImportPlan imports = PlanImports(std::move(n.import_candidates),
                                         ImportPolicy{std::max(0, policy.import_threshold)});
  int64_t imported = 0;
  for (const auto& f : imports.files) imported += static_cast<int64_t>(f.users.size());
  const auto jobs = static_cast<int64_t>(imports.files.size());
  add("POST /api/v2/jobs/users-imports",
      "users created in import jobs of up to 500 KB (" + std::to_string(imported) + " users)",
      jobs);
  add("GET /api/v2/jobs/{id}", "each import job polled (one more per poll while it runs)", jobs);
  add("GET /api/v2/jobs/{id}/errors", "each import job's failed users read", jobs);
  add("POST /api/v2/users", "users created (one more GET per user adopted by email)",
      n.user_create - imported);
  add("PATCH /api/v2/users/{id}", "users changed (profile, metadata, unblock)", n.user_patch);
  add("PATCH /api/v2/users/{id}", "users blocked (own step, passes the guard)", n.user_block);
  add("DELETE /api/v2/users/{id}/sessions", "leavers' sessions revoked", n.revoke);
  add("DELETE /api/v2/users/{id}/refresh-tokens", "leavers' refresh tokens revoked", n.revoke);
  add("POST /api/v2/jobs/verification-email", "invitations (on_create)", n.invite_verify);
  add("POST /dbconnections/change_password", "invitations (on_create)", n.invite_reset, false);
  add("POST /api/v2/organizations/{id}/members", "memberships added, " + per,
      Batches(n.adds, batch));
  add("DELETE /api/v2/organizations/{id}/members", "memberships removed, " + per,
      Batches(n.removes, batch));
  add("DELETE /api/v2/organizations/{id}/members", "leavers' memberships removed, " + per,
      Batches(n.leaver_removes, batch));
  add("POST /api/v2/organizations/{id}/members/{user_id}/roles", "member roles assigned",
      n.roles_add);
  add("DELETE /api/v2/organizations/{id}/members/{user_id}/roles", "member roles removed",
      n.roles_remove);
  int64_t role_lookups = 0, connection_lookups = 0, enables = 0;
  for (const auto& r : n.role_names) role_lookups += used_roles.count(r) ? 0 : 1;
  for (const auto& c : n.connection_names) connection_lookups += used_connections.count(c) ? 0 : 1;
  for (const auto& c : n.new_connections) enables += used_connections.count(c) ? 0 : 1;
  add("GET /api/v2/roles", "role ids, once per role name (cached)", role_lookups, true, true);
  add("GET /api/v2/connections", "connection ids, once per name (cached)", connection_lookups, true,
      true);
  add("PATCH /api/v2/connections/{id}/clients", "the application enabled on a new connection",
      enables, true, true);
  cost.later = n.later;
  cost.naive = n.naive;
  return cost;
}

std::string RenderCost(const PlanCost& cost) {
  if (cost.items.empty() && cost.later == 0) return "Auth0 requests: none.\n";
  std::string out = "Auth0 requests: " + std::to_string(cost.management) + " Management API + " +
                    std::to_string(cost.authentication) +
                    " Authentication API (estimate: docs/DECLARED.md \"The cost of a plan\"; one "
                    "request per object and membership would be " +
                    std::to_string(cost.naive) + "):\n";
  for (const auto& item : cost.items) {
    std::string count = std::to_string(item.count);
    if (count.size() < 6) count.insert(0, 6 - count.size(), ' ');
    out += "  " + count + "  " + item.request + "  (" + item.why +
           (item.at_most ? "; 0 when the daemon did it already" : "") +
           (item.management ? "" : "; Authentication API") + ")\n";
  }
  if (cost.later > 0) {
    out += "  and later: " + std::to_string(cost.later) +
           " DELETE /api/v2/users/{id} (pruned users deleted after delete_after_days)\n";
  }
  return out;
}

}  // namespace tenantsync::declared
