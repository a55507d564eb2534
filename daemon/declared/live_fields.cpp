// Fields a live source set after a declared source's last apply, and the plan's warnings.
#include "daemon/declared/live_fields.h"

#include <ctime>
#include <map>
#include <set>

namespace tenantsync::declared {
namespace {

using nlohmann::json;

// The desired-state fields a declared file can hold, per entity kind (metadata keys by prefix).
bool DeclaredField(EntityKind entity, const std::string& field) {
  static const std::set<std::string> kOrg = {"name", "display_name", "branding", "connections",
                                             "callback_urls"};
  static const std::set<std::string> kUser = {
      "email", "name", "given_name", "family_name", "organizations", "blocked", "left"};
  if (entity == EntityKind::kOrganization) {
    return kOrg.count(field) || field.rfind("metadata.", 0) == 0;
  }
  return kUser.count(field) || field.rfind("app_metadata.", 0) == 0 ||
         field.rfind("user_metadata.", 0) == 0;
}

std::string Rfc3339(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

json Opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// The value the declared entity gives the field (null when it declares none).
json DeclaredValue(const Organization& o, const std::string& field) {
  if (field == "name") return o.name;
  if (field == "display_name") return Opt(o.display_name);
  if (field.rfind("metadata.", 0) == 0) {
    auto it = o.metadata.find(field.substr(9));
    return it == o.metadata.end() ? json(nullptr) : json(it->second);
  }
  if (field == "branding") {
    return BrandingJson(o.branding);
  }
  if (field == "connections") {
    json out = json::array();
    for (const auto& c : o.connections) {
      json e = {{"name", c.name}};
      if (c.assign_membership_on_login)
        e["assign_membership_on_login"] = *c.assign_membership_on_login;
      if (c.show_as_button) e["show_as_button"] = *c.show_as_button;
      out.push_back(e);
    }
    return out;
  }
  if (field == "callback_urls")
    return o.callback_urls.empty() ? json::array() : json(o.callback_urls);
  return nullptr;
}

json DeclaredValue(const User& u, const std::string& field) {
  if (field == "email") return Opt(u.email);
  if (field == "name") return Opt(u.name);
  if (field == "given_name") return Opt(u.given_name);
  if (field == "family_name") return Opt(u.family_name);
  if (field == "blocked") return u.blocked;
  if (field == "left") return false;
  for (auto [prefix, map] : {std::pair{std::string("app_metadata."), &u.app_metadata},
                             std::pair{std::string("user_metadata."), &u.user_metadata}}) {
    if (field.rfind(prefix, 0) == 0) {
      auto it = map->find(field.substr(prefix.size()));
      return it == map->end() ? json(nullptr) : it->second;
    }
  }
  if (field == "organizations") {
    json out = json::array();
    for (const auto& m : u.organizations) {
      out.push_back({{"external_id", m.org_external_id},
                     {"roles", m.roles.empty() ? json::array() : json(m.roles)}});
    }
    return out;
  }
  return nullptr;
}

std::string Dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::vector<LiveField> FieldsSetByOthers(EntityKind entity, const std::string& external_id,
                                         const json& desired, const std::string& source,
                                         int64_t since_ms) {
  std::vector<LiveField> out;
  if (!desired.is_object()) return out;
  const std::string own = source + "/";
  for (const auto& [field, slot] : desired.items()) {
    if (!slot.is_object() || slot.contains("rejected")) continue;
    if (!DeclaredField(entity, field)) continue;
    const std::string ev = slot.value("ev", std::string());
    if (ev.empty() || ev.rfind(own, 0) == 0) continue;
    const int64_t ts = slot.value("ts", int64_t{0});
    if (ts <= since_ms) continue;
    const auto slash = ev.find('/');
    LiveField f;
    f.entity = entity;
    f.external_id = external_id;
    f.field = field;
    f.value = slot.contains("v") ? slot["v"] : json(nullptr);
    f.source = ev.substr(0, slash);
    f.event_id = slash == std::string::npos ? "" : ev.substr(slash + 1);
    f.ts_ms = ts;
    out.push_back(std::move(f));
  }
  return out;  // json objects iterate in key order
}

json LiveFieldsToJson(const std::vector<LiveField>& fields) {
  json out = json::array();
  for (const auto& f : fields) {
    out.push_back({{"entity", f.entity == EntityKind::kOrganization ? "organization" : "user"},
                   {"external_id", f.external_id},
                   {"field", f.field},
                   {"value", f.value},
                   {"source", f.source},
                   {"event_id", f.event_id},
                   {"ts_ms", f.ts_ms}});
  }
  return out;
}

Result<std::vector<LiveField>> LiveFieldsFromJson(const json& j) {
  if (!j.is_array()) return Status::Invalid("live fields: not an array");
  std::vector<LiveField> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.value("external_id", json()).is_string() ||
        !e.value("field", json()).is_string() || !e.value("ts_ms", json()).is_number_integer()) {
      return Status::Invalid("live fields: an entry lacks external_id, field or ts_ms");
    }
    LiveField f;
    f.entity =
        e.value("entity", "") == "organization" ? EntityKind::kOrganization : EntityKind::kUser;
    f.external_id = e["external_id"].get<std::string>();
    f.field = e["field"].get<std::string>();
    f.value = e.value("value", json());
    f.source = e.value("source", "");
    f.event_id = e.value("event_id", "");
    f.ts_ms = e["ts_ms"].get<int64_t>();
    out.push_back(std::move(f));
  }
  return out;
}

std::string RenderLiveWarnings(const std::vector<LiveField>& fields, const DeclaredState& declared,
                               const Plan& plan, const std::string& source) {
  std::map<std::string, const Organization*> orgs;
  std::map<std::string, const User*> users;
  for (const auto& o : declared.organizations) orgs[o.external_id] = &o;
  for (const auto& u : declared.users) users[u.external_id] = &u;
  std::map<std::pair<EntityKind, std::string>, const EntityChange*> changes;
  for (const auto& c : plan.changes) changes[{c.entity, c.external_id}] = &c;

  std::vector<std::string> lines;
  for (const auto& f : fields) {
    const bool org = f.entity == EntityKind::kOrganization;
    auto change = changes.find({f.entity, f.external_id});
    const bool in_file = org ? orgs.count(f.external_id) > 0 : users.count(f.external_id) > 0;
    if (!in_file && change == changes.end()) continue;
    std::string what = "this plan keeps the live value";
    if (change != changes.end()) {
      if (change->second->kind == ChangeKind::kRemove) {
        what = org ? "this plan deletes the organization" : "this plan makes the user leave";
      } else {
        for (const auto& fc : change->second->fields) {
          const std::string& n = fc.field;
          if (n == f.field || n.rfind(f.field + ".", 0) == 0 || n.rfind(f.field + "[", 0) == 0) {
            what = "this plan overwrites it with the file's value";
            break;
          }
        }
      }
    }
    std::string line = std::string("  ! ") + (org ? "organization " : "user ") + f.external_id +
                       " " + f.field + ": " + Dump(f.value) + " (set by " + f.source + " at " +
                       Rfc3339(f.ts_ms);
    if (in_file) {
      const json declared_value = org ? DeclaredValue(*orgs[f.external_id], f.field)
                                      : DeclaredValue(*users[f.external_id], f.field);
      line += "; the files declare " + Dump(declared_value);
    }
    line += "; " + what + ")\n";
    lines.push_back(std::move(line));
  }
  if (lines.empty()) return "";
  std::string out = "Warning: " + std::to_string(lines.size()) +
                    " field(s) were set by a live source after source \"" + source +
                    "\" was last applied; per-field last-writer-wins (SPEC §10.8): Auth0 holds "
                    "the live value until an apply changes that field:\n";
  for (const auto& l : lines) out += l;
  return out;
}

}  // namespace tenantsync::declared
