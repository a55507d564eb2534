#include "daemon/declared/state_json.h"

#include <set>
#include <string>

namespace tenantsync::declared {
namespace {

using nlohmann::json;

json Opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// Reads one JSON object field by field, keeping the first problem.
class Reader {
 public:
  Reader(const json& j, std::string path, std::string* error)
      : j_(j), path_(std::move(path)), error_(error) {
    if (!j_.is_object()) Fail("", "must be an object");
  }
  bool ok() const { return error_->empty(); }
  void Fail(const std::string& field, const std::string& message) {
    if (error_->empty()) *error_ = path_ + (field.empty() ? "" : "." + field) + ": " + message;
  }
  const json* Get(const std::string& field) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(field);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  std::string String(const std::string& field, bool required) {
    const json* v = Get(field);
    if (!v) {
      if (required) Fail(field, "is required");
      return "";
    }
    if (!v->is_string()) {
      Fail(field, "must be a string");
      return "";
    }
    return v->get<std::string>();
  }
  std::optional<std::string> OptString(const std::string& field) {
    if (!Get(field)) return std::nullopt;
    return String(field, false);
  }
  std::optional<bool> OptBool(const std::string& field) {
    const json* v = Get(field);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      Fail(field, "must be true or false");
      return std::nullopt;
    }
    return v->get<bool>();
  }
  const json* Object(const std::string& field) {
    const json* v = Get(field);
    if (v && !v->is_object()) {
      Fail(field, "must be an object");
      return nullptr;
    }
    return v;
  }
  const json* Array(const std::string& field) {
    const json* v = Get(field);
    if (v && !v->is_array()) {
      Fail(field, "must be an array");
      return nullptr;
    }
    return v;
  }
  std::vector<std::string> Strings(const std::string& field) {
    std::vector<std::string> out;
    if (const json* a = Array(field)) {
      for (const auto& x : *a) {
        if (!x.is_string()) {
          Fail(field, "must be an array of strings");
          return {};
        }
        out.push_back(x.get<std::string>());
      }
    }
    return out;
  }
  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
  std::string* error_;
};

}  // namespace

json StateToJson(const DeclaredState& in) {
  DeclaredState state = in;
  Canonicalize(state);
  json orgs = json::array();
  for (const auto& o : state.organizations) {
    json connections = json::array();
    for (const auto& c : o.connections) {
      json cj = {{"name", c.name}};
      if (c.assign_membership_on_login)
        cj["assign_membership_on_login"] = *c.assign_membership_on_login;
      if (c.show_as_button) cj["show_as_button"] = *c.show_as_button;
      connections.push_back(cj);
    }
    const json colors = BrandingColorsJson(o.branding.colors);
    json metadata = json::object();
    for (const auto& [k, v] : o.metadata) metadata[k] = v;
    orgs.push_back(
        {{"external_id", o.external_id},
         {"name", o.name},
         {"display_name", Opt(o.display_name)},
         {"metadata", metadata},
         {"branding", {{"logo_url", Opt(o.branding.logo_url)}, {"colors", colors}}},
         {"connections", connections},
         {"callback_urls", o.callback_urls.empty() ? json::array() : json(o.callback_urls)}});
  }
  json users = json::array();
  for (const auto& u : state.users) {
    json memberships = json::array();
    for (const auto& m : u.organizations) {
      memberships.push_back({{"external_id", m.org_external_id},
                             {"roles", m.roles.empty() ? json::array() : json(m.roles)}});
    }
    json app = json::object(), user = json::object();
    for (const auto& [k, v] : u.app_metadata) app[k] = v;
    for (const auto& [k, v] : u.user_metadata) user[k] = v;
    users.push_back({{"external_id", u.external_id},
                     {"email", Opt(u.email)},
                     {"name", Opt(u.name)},
                     {"given_name", Opt(u.given_name)},
                     {"family_name", Opt(u.family_name)},
                     {"app_metadata", app},
                     {"user_metadata", user},
                     {"blocked", u.blocked},
                     {"left", u.left},
                     {"organizations", memberships}});
  }
  return {{"organizations", orgs}, {"users", users}};
}

Result<DeclaredState> StateFromJson(const json& j) {
  std::string error;
  DeclaredState state;
  Reader top(j, "state", &error);
  if (const json* orgs = top.Array("organizations")) {
    for (size_t i = 0; i < orgs->size() && error.empty(); ++i) {
      Reader r((*orgs)[i], "organizations[" + std::to_string(i) + "]", &error);
      Organization o;
      o.external_id = r.String("external_id", true);
      o.name = r.String("name", true);
      o.display_name = r.OptString("display_name");
      if (const json* m = r.Object("metadata")) {
        for (const auto& [k, v] : m->items()) {
          if (!v.is_string()) {
            r.Fail("metadata." + k, "must be a string");
            break;
          }
          o.metadata[k] = v.get<std::string>();
        }
      }
      if (const json* b = r.Object("branding")) {
        Reader br(*b, r.path() + ".branding", &error);
        o.branding.logo_url = br.OptString("logo_url");
        if (const json* c = br.Object("colors")) {
          Reader cr(*c, r.path() + ".branding.colors", &error);
          o.branding.colors =
              BrandingColors{cr.String("primary", true), cr.String("page_background", true)};
        }
      }
      if (const json* cs = r.Array("connections")) {
        for (size_t k = 0; k < cs->size(); ++k) {
          Reader cr((*cs)[k], r.path() + ".connections[" + std::to_string(k) + "]", &error);
          OrgConnection c;
          c.name = cr.String("name", true);
          c.assign_membership_on_login = cr.OptBool("assign_membership_on_login");
          c.show_as_button = cr.OptBool("show_as_button");
          o.connections.push_back(std::move(c));
        }
      }
      o.callback_urls = r.Strings("callback_urls");
      state.organizations.push_back(std::move(o));
    }
  }
  if (const json* users = top.Array("users")) {
    for (size_t i = 0; i < users->size() && error.empty(); ++i) {
      Reader r((*users)[i], "users[" + std::to_string(i) + "]", &error);
      User u;
      u.external_id = r.String("external_id", true);
      u.email = r.OptString("email");
      u.name = r.OptString("name");
      u.given_name = r.OptString("given_name");
      u.family_name = r.OptString("family_name");
      for (auto [field, target] : {std::pair{"app_metadata", &u.app_metadata},
                                   std::pair{"user_metadata", &u.user_metadata}}) {
        if (const json* m = r.Object(field)) {
          for (const auto& [k, v] : m->items()) {
            if (!v.is_null()) (*target)[k] = v;
          }
        }
      }
      u.blocked = r.OptBool("blocked").value_or(false);
      u.left = r.OptBool("left").value_or(false);
      if (const json* ms = r.Array("organizations")) {
        for (size_t k = 0; k < ms->size(); ++k) {
          Reader mr((*ms)[k], r.path() + ".organizations[" + std::to_string(k) + "]", &error);
          Membership m;
          m.org_external_id = mr.String("external_id", true);
          m.roles = mr.Strings("roles");
          u.organizations.push_back(std::move(m));
        }
      }
      state.users.push_back(std::move(u));
    }
  }
  if (!error.empty()) return Status::Invalid(error);
  std::set<std::string> seen_orgs, seen_users;
  for (const auto& o : state.organizations) {
    if (!seen_orgs.insert(o.external_id).second)
      return Status::Invalid("state.organizations: duplicate external_id \"" + o.external_id +
                             "\"");
  }
  for (const auto& u : state.users) {
    if (!seen_users.insert(u.external_id).second)
      return Status::Invalid("state.users: duplicate external_id \"" + u.external_id + "\"");
  }
  Canonicalize(state);
  return state;
}

DeclaredState StateAfterApply(const DeclaredState& declared, const DeclaredState& current,
                              bool prune) {
  DeclaredState out = declared;
  for (auto& o : out.organizations) o.where = {};
  for (auto& u : out.users) {
    u.where = {};
    u.left = false;
  }
  std::set<std::string> orgs, users;
  for (const auto& o : declared.organizations) orgs.insert(o.external_id);
  for (const auto& u : declared.users) users.insert(u.external_id);
  for (const auto& o : current.organizations) {
    if (orgs.count(o.external_id) == 0 && !prune) out.organizations.push_back(o);
  }
  for (const auto& u : current.users) {
    if (users.count(u.external_id) != 0) continue;
    User kept = u;
    if (prune) kept.left = true;
    out.users.push_back(std::move(kept));
  }
  Canonicalize(out);
  return out;
}

}  // namespace tenantsync::declared
