// The differ and the plan renderer. Everything is computed on canonical copies, so the order in
// which a file lists connections, callback URLs, memberships or roles never shows as a change.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "common/crypto.h"
#include "daemon/declared/declared.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;

constexpr const char* kIdScheme = "tenantsync-declared-v1";

json Opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

json ConnectionJson(const OrgConnection& c) {
  json out = {{"name", c.name}};
  if (c.assign_membership_on_login) {
    out["assign_membership_on_login"] = *c.assign_membership_on_login;
  }
  if (c.show_as_button) out["show_as_button"] = *c.show_as_button;
  return out;
}

json ConnectionsJson(const std::vector<OrgConnection>& list) {
  json out = json::array();
  for (const auto& c : list) out.push_back(ConnectionJson(c));
  return out;
}

json UrlsJson(const std::vector<std::string>& urls) {
  return urls.empty() ? json::array() : json(urls);
}

json RolesJson(const std::vector<std::string>& roles) {
  return roles.empty() ? json::array() : json(roles);
}

json MembershipsJson(const std::vector<Membership>& list) {
  json out = json::array();
  for (const auto& m : list) {
    out.push_back({{"external_id", m.org_external_id}, {"roles", RolesJson(m.roles)}});
  }
  return out;
}

json MapJson(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

json MapJson(const std::map<std::string, json>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

// Appends a field change when old != new; the op follows from which side is null.
void AddField(std::vector<FieldChange>* out, std::string field, json old_value, json new_value) {
  if (old_value == new_value) return;
  const FieldOp op = old_value.is_null()   ? FieldOp::kAdd
                     : new_value.is_null() ? FieldOp::kRemove
                                           : FieldOp::kChange;
  out->push_back({op, std::move(field), std::move(old_value), std::move(new_value)});
}

// Per-key changes of a metadata map; `delta` receives {key: new value or null}.
template <typename Map>
void DiffMap(const std::string& prefix, const Map& old_map, const Map& new_map,
             std::vector<FieldChange>* fields, json* delta) {
  for (const auto& [k, v] : new_map) {
    auto it = old_map.find(k);
    json old_value = it == old_map.end() ? json(nullptr) : json(it->second);
    if (old_value != json(v)) {
      AddField(fields, prefix + "." + k, std::move(old_value), json(v));
      (*delta)[k] = v;
    }
  }
  for (const auto& [k, v] : old_map) {
    if (new_map.count(k) == 0) {
      AddField(fields, prefix + "." + k, json(v), nullptr);
      (*delta)[k] = nullptr;
    }
  }
}

json FullOrgData(const Organization& o) {
  return {{"external_id", o.external_id},
          {"name", o.name},
          {"display_name", Opt(o.display_name)},
          {"metadata", MapJson(o.metadata)},
          {"branding", BrandingJson(o.branding)},
          {"connections", ConnectionsJson(o.connections)},
          {"callback_urls", UrlsJson(o.callback_urls)}};
}

json FullUserData(const User& u) {
  json data = {{"external_id", u.external_id},
               {"name", Opt(u.name)},
               {"given_name", Opt(u.given_name)},
               {"family_name", Opt(u.family_name)},
               {"app_metadata", MapJson(u.app_metadata)},
               {"user_metadata", MapJson(u.user_metadata)},
               {"organizations", MembershipsJson(u.organizations)}};
  if (u.email) data["email"] = *u.email;  // null would clear it; an unknown email stays
  return data;
}

// The changed fields of an organization and the organization.upserted data that applies them.
void DiffOrg(const Organization& c, const Organization& d, std::vector<FieldChange>* fields,
             json* data) {
  AddField(fields, "name", c.name, d.name);
  if (c.name != d.name) (*data)["name"] = d.name;
  AddField(fields, "display_name", Opt(c.display_name), Opt(d.display_name));
  if (c.display_name != d.display_name) (*data)["display_name"] = Opt(d.display_name);
  if (c.display_name && !d.display_name) fields->back().stays_in_auth0 = true;
  json metadata = json::object();
  DiffMap("metadata", c.metadata, d.metadata, fields, &metadata);
  if (!metadata.empty()) (*data)["metadata"] = metadata;
  const size_t branding_from = fields->size();
  AddField(fields, "branding.logo_url", Opt(c.branding.logo_url), Opt(d.branding.logo_url));
  AddField(fields, "branding.colors", BrandingColorsJson(c.branding.colors),
           BrandingColorsJson(d.branding.colors));
  // A branding with a part left is sent whole and replaces the old one; no branding at all
  // cannot be sent (Auth0 refuses null), so what was there stays.
  if (!d.branding.logo_url && !d.branding.colors) {
    for (size_t i = branding_from; i < fields->size(); ++i) {
      (*fields)[i].stays_in_auth0 = (*fields)[i].op == FieldOp::kRemove;
    }
  }
  if (!(c.branding == d.branding)) (*data)["branding"] = BrandingJson(d.branding);
  // Connections by name (both sides sorted by name).
  std::map<std::string, const OrgConnection*> old_conns, new_conns;
  for (const auto& x : c.connections) old_conns[x.name] = &x;
  for (const auto& x : d.connections) new_conns[x.name] = &x;
  for (const auto& [name, conn] : new_conns) {
    auto it = old_conns.find(name);
    AddField(fields, "connections[" + name + "]",
             it == old_conns.end() ? json(nullptr) : ConnectionJson(*it->second),
             ConnectionJson(*conn));
  }
  for (const auto& [name, conn] : old_conns) {
    if (new_conns.count(name) == 0) {
      AddField(fields, "connections[" + name + "]", ConnectionJson(*conn), nullptr);
    }
  }
  if (c.connections != d.connections) (*data)["connections"] = ConnectionsJson(d.connections);
  if (c.callback_urls != d.callback_urls) {
    AddField(fields, "callback_urls",
             c.callback_urls.empty() ? json(nullptr) : UrlsJson(c.callback_urls),
             d.callback_urls.empty() ? json(nullptr) : UrlsJson(d.callback_urls));
    (*data)["callback_urls"] = UrlsJson(d.callback_urls);
  }
}

// The changed profile fields, metadata and memberships of a user and the user.upserted data
// that applies them (`blocked` and `left` have events of their own).
void DiffUserProfile(const User& c, const User& d, std::vector<FieldChange>* fields, json* data) {
  const std::pair<const char*, std::optional<std::string> User::*> kScalars[] = {
      {"email", &User::email},
      {"name", &User::name},
      {"given_name", &User::given_name},
      {"family_name", &User::family_name}};
  for (const auto& [key, member] : kScalars) {
    const auto& old_value = c.*member;
    const auto& new_value = d.*member;
    if (old_value == new_value) continue;
    // An email that is not declared is left as it is (SPEC §5: required when first seen).
    if (std::string_view(key) == "email" && !new_value) continue;
    AddField(fields, key, Opt(old_value), Opt(new_value));
    (*data)[key] = Opt(new_value);
  }
  json app = json::object(), user = json::object();
  DiffMap("app_metadata", c.app_metadata, d.app_metadata, fields, &app);
  DiffMap("user_metadata", c.user_metadata, d.user_metadata, fields, &user);
  if (!app.empty()) (*data)["app_metadata"] = app;
  if (!user.empty()) (*data)["user_metadata"] = user;
  std::map<std::string, const Membership*> old_m, new_m;
  for (const auto& m : c.organizations) old_m[m.org_external_id] = &m;
  for (const auto& m : d.organizations) new_m[m.org_external_id] = &m;
  for (const auto& [org, m] : new_m) {
    auto it = old_m.find(org);
    if (it == old_m.end()) {
      AddField(fields, "organizations[" + org + "]", nullptr, {{"roles", RolesJson(m->roles)}});
    } else if (it->second->roles != m->roles) {
      AddField(fields, "organizations[" + org + "].roles", RolesJson(it->second->roles),
               RolesJson(m->roles));
    }
  }
  for (const auto& [org, m] : old_m) {
    if (new_m.count(org) == 0) {
      AddField(fields, "organizations[" + org + "]", {{"roles", RolesJson(m->roles)}}, nullptr);
    }
  }
  // The list is the complete set of memberships (SPEC §5): it travels whole.
  if (c.organizations != d.organizations)
    (*data)["organizations"] = MembershipsJson(d.organizations);
}

std::vector<FieldChange> CreateFields(const json& full) {
  std::vector<FieldChange> fields;
  for (const auto& [key, value] : full.items()) {
    if (key == "external_id") continue;
    if (value.is_object() &&
        (key == "metadata" || key == "app_metadata" || key == "user_metadata")) {
      for (const auto& [k, v] : value.items()) AddField(&fields, key + "." + k, nullptr, v);
    } else if (key == "branding") {
      AddField(&fields, "branding.logo_url", nullptr, value["logo_url"]);
      AddField(&fields, "branding.colors", nullptr, value["colors"]);
    } else if (key == "connections") {
      for (const auto& c : value) {
        AddField(&fields, "connections[" + c["name"].get<std::string>() + "]", nullptr, c);
      }
    } else if (key == "organizations") {
      for (const auto& m : value) {
        AddField(&fields, "organizations[" + m["external_id"].get<std::string>() + "]", nullptr,
                 {{"roles", m["roles"]}});
      }
    } else if (!(value.is_array() && value.empty())) {
      AddField(&fields, key, nullptr, value);
    }
  }
  return fields;
}

std::string EventId(const std::string& base, EventType type, const json& data) {
  // A JSON array is an unambiguous encoding of the parts; dump() orders object keys.
  const json parts = {kIdScheme, base, EventTypeName(type), data};
  return "decl_" + crypto::HexEncode(crypto::Sha256(parts.dump()));
}

std::string Value(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* EntityName(EntityKind k) {
  return k == EntityKind::kOrganization ? "organization" : "user";
}

template <typename T>
bool ById(const T& a, const T& b) {
  return a.external_id < b.external_id;
}

}  // namespace

json BrandingColorsJson(const std::optional<BrandingColors>& c) {
  if (!c) return nullptr;
  return {{"primary", c->primary}, {"page_background", c->page_background}};
}

json BrandingJson(const Branding& b) {
  return {{"logo_url", Opt(b.logo_url)}, {"colors", BrandingColorsJson(b.colors)}};
}

bool SameContent(const Organization& a, const Organization& b) {
  return a.external_id == b.external_id && a.name == b.name && a.display_name == b.display_name &&
         a.metadata == b.metadata && a.branding == b.branding && a.connections == b.connections &&
         a.callback_urls == b.callback_urls;
}

bool SameContent(const User& a, const User& b) {
  return a.external_id == b.external_id && a.email == b.email && a.name == b.name &&
         a.given_name == b.given_name && a.family_name == b.family_name &&
         a.app_metadata == b.app_metadata && a.user_metadata == b.user_metadata &&
         a.blocked == b.blocked && a.organizations == b.organizations && a.left == b.left;
}

void Canonicalize(DeclaredState& state) {
  std::stable_sort(state.organizations.begin(), state.organizations.end(), ById<Organization>);
  std::stable_sort(state.users.begin(), state.users.end(), ById<User>);
  for (auto& o : state.organizations) {
    std::stable_sort(
        o.connections.begin(), o.connections.end(),
        [](const OrgConnection& a, const OrgConnection& b) { return a.name < b.name; });
    std::sort(o.callback_urls.begin(), o.callback_urls.end());
    o.callback_urls.erase(std::unique(o.callback_urls.begin(), o.callback_urls.end()),
                          o.callback_urls.end());
  }
  for (auto& u : state.users) {
    std::stable_sort(u.organizations.begin(), u.organizations.end(),
                     [](const Membership& a, const Membership& b) {
                       return a.org_external_id < b.org_external_id;
                     });
    for (auto& m : u.organizations) {
      std::sort(m.roles.begin(), m.roles.end());
      m.roles.erase(std::unique(m.roles.begin(), m.roles.end()), m.roles.end());
    }
  }
}

Plan DiffDeclared(const DeclaredState& declared_in, const DeclaredState& current_in,
                  const DiffOptions& options) {
  DeclaredState declared = declared_in, current = current_in;
  Canonicalize(declared);
  Canonicalize(current);
  Plan plan;
  // Buckets in the order events must be stored: organizations before the users who join them,
  // returns before the profile they restore, destructive work last.
  std::vector<PlannedEvent> org_upserts, returns, user_upserts, blocks, leaves, org_deletes;
  auto event = [&](std::vector<PlannedEvent>* bucket, EventType type, const std::string& id,
                   json data) {
    std::string event_id = EventId(options.base_revision, type, data);
    bucket->push_back({type, std::move(event_id), id, std::move(data)});
  };

  // Organizations: both sides sorted by external_id, merged.
  std::map<std::string, const Organization*> current_orgs;
  for (const auto& o : current.organizations) current_orgs[o.external_id] = &o;
  std::set<std::string> declared_org_ids;
  for (const auto& d : declared.organizations) {
    declared_org_ids.insert(d.external_id);
    auto it = current_orgs.find(d.external_id);
    EntityChange change{EntityKind::kOrganization, ChangeKind::kCreate, d.external_id, {}, d.where};
    if (it == current_orgs.end()) {
      json data = FullOrgData(d);
      change.fields = CreateFields(data);
      event(&org_upserts, EventType::kOrganizationUpserted, d.external_id, std::move(data));
      ++plan.to_create;
    } else if (SameContent(*it->second, d)) {
      ++plan.unchanged;
      continue;
    } else {
      change.kind = ChangeKind::kChange;
      json data = {{"external_id", d.external_id}};
      DiffOrg(*it->second, d, &change.fields, &data);
      for (const auto& f : change.fields) plan.stays_in_auth0 += f.stays_in_auth0 ? 1 : 0;
      event(&org_upserts, EventType::kOrganizationUpserted, d.external_id, std::move(data));
      ++plan.to_change;
    }
    plan.changes.push_back(std::move(change));
  }
  for (const auto& c : current.organizations) {
    if (declared_org_ids.count(c.external_id) != 0) continue;
    EntityChange change{EntityKind::kOrganization,
                        options.prune ? ChangeKind::kRemove : ChangeKind::kKept,
                        c.external_id,
                        {},
                        c.where};
    if (options.prune) {
      event(&org_deletes, EventType::kOrganizationDeleted, c.external_id,
            {{"external_id", c.external_id}});
      ++plan.to_remove;
    } else {
      ++plan.kept;
    }
    plan.changes.push_back(std::move(change));
  }

  std::map<std::string, const User*> current_users;
  for (const auto& u : current.users) current_users[u.external_id] = &u;
  std::set<std::string> declared_user_ids;
  for (const auto& d : declared.users) {
    declared_user_ids.insert(d.external_id);
    auto it = current_users.find(d.external_id);
    EntityChange change{EntityKind::kUser, ChangeKind::kCreate, d.external_id, {}, d.where};
    if (it == current_users.end()) {
      json data = FullUserData(d);
      change.fields = CreateFields(data);
      event(&user_upserts, EventType::kUserUpserted, d.external_id, std::move(data));
      if (d.blocked) {
        AddField(&change.fields, "blocked", nullptr, true);
        event(&blocks, EventType::kUserBlocked, d.external_id, {{"external_id", d.external_id}});
      }
      ++plan.to_create;
      plan.changes.push_back(std::move(change));
      continue;
    }
    const User& c = *it->second;
    change.kind = ChangeKind::kChange;
    if (c.left) {
      AddField(&change.fields, "left", true, false);
      event(&returns, EventType::kUserReturned, d.external_id, {{"external_id", d.external_id}});
    }
    json data = {{"external_id", d.external_id}};
    DiffUserProfile(c, d, &change.fields, &data);
    if (data.size() > 1) {
      event(&user_upserts, EventType::kUserUpserted, d.external_id, std::move(data));
    }
    if (c.blocked != d.blocked) {
      AddField(&change.fields, "blocked", c.blocked, d.blocked);
      event(&blocks, d.blocked ? EventType::kUserBlocked : EventType::kUserUnblocked, d.external_id,
            {{"external_id", d.external_id}});
    }
    if (change.fields.empty()) {
      ++plan.unchanged;
      continue;
    }
    ++plan.to_change;
    plan.changes.push_back(std::move(change));
  }
  for (const auto& c : current.users) {
    // A leaver that is no longer declared is already where prune would put it.
    if (declared_user_ids.count(c.external_id) != 0 || c.left) continue;
    EntityChange change{EntityKind::kUser,
                        options.prune ? ChangeKind::kRemove : ChangeKind::kKept,
                        c.external_id,
                        {},
                        c.where};
    if (options.prune) {
      event(&leaves, EventType::kUserLeft, c.external_id, {{"external_id", c.external_id}});
      ++plan.to_remove;
    } else {
      ++plan.kept;
    }
    plan.changes.push_back(std::move(change));
  }

  for (auto* bucket : {&org_upserts, &returns, &user_upserts, &blocks, &leaves, &org_deletes}) {
    for (auto& e : *bucket) plan.events.push_back(std::move(e));
  }
  return plan;
}

std::string RenderPlan(const Plan& plan) {
  std::string out;
  for (const auto& change : plan.changes) {
    const std::string head = std::string(EntityName(change.entity)) + " " + change.external_id;
    std::string where;
    if (!change.where.file.empty()) {
      where = "  (" + change.where.file +
              (change.where.line > 0 ? ":" + std::to_string(change.where.line) : "") + ")";
    }
    switch (change.kind) {
      case ChangeKind::kCreate:
        out += "+ " + head + where + "\n";
        break;
      case ChangeKind::kChange:
        out += "~ " + head + where + "\n";
        break;
      case ChangeKind::kRemove:
        out += "- " + head + "  (no longer declared: " +
               (change.entity == EntityKind::kOrganization ? "will be deleted"
                                                           : "will leave, per on_leave") +
               ")\n";
        break;
      case ChangeKind::kKept:
        out += "= " + head + ": no longer declared, kept (prune would " +
               (change.entity == EntityKind::kOrganization ? "delete it" : "mark it left") + ")\n";
        break;
    }
    for (const auto& f : change.fields) {
      switch (f.op) {
        case FieldOp::kAdd:
          out += "    + " + f.field + ": " + Value(f.new_value) + "\n";
          break;
        case FieldOp::kChange:
          out += "    ~ " + f.field + ": " + Value(f.old_value) + " → " + Value(f.new_value) + "\n";
          break;
        case FieldOp::kRemove:
          out += "    - " + f.field + ": " + Value(f.old_value) + "\n";
          break;
      }
      if (f.stays_in_auth0) {
        out += f.field == "display_name"
                   ? "      ! Auth0 keeps it: the Management API cannot remove an organization's "
                     "display_name (a string of 1-255 characters, never null); declare the value "
                     "you want\n"
                   : "      ! Auth0 keeps it: the Management API cannot remove an organization's "
                     "branding (an object, never null); declare the branding you want\n";
      }
    }
  }
  if (!out.empty()) out += "\n";
  out += "Plan: " + std::to_string(plan.to_create) + " to create, " +
         std::to_string(plan.to_change) + " to change, " + std::to_string(plan.to_remove) +
         " to remove, " + std::to_string(plan.unchanged) + " unchanged";
  std::vector<std::string> notes;
  if (plan.kept > 0) notes.push_back(std::to_string(plan.kept) + " no longer declared, kept");
  if (plan.stays_in_auth0 > 0) {
    notes.push_back(std::to_string(plan.stays_in_auth0) +
                    (plan.stays_in_auth0 == 1 ? " removal Auth0 keeps" : " removals Auth0 keeps"));
  }
  for (size_t i = 0; i < notes.size(); ++i) out += (i == 0 ? " (" : ", ") + notes[i];
  if (!notes.empty()) out += ")";
  out += ".\n";
  return out;
}

}  // namespace tenantsync::declared
