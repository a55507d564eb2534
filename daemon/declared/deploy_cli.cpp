#include "daemon/declared/deploy_cli.h"

#include <exception>
#include <string_view>

#include "daemon/declared/emit.h"
#include "daemon/declared/yaml_tree.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kIgnoredOrgKeys[] = {"id", "client_grants", "token_quota",
                                                "discovery_domains"};
constexpr std::string_view kIgnoredConnectionKeys[] = {
    "is_signup_enabled", "organization_access_level", "is_enabled", "organization_connection_name"};

bool Contains(const std::string_view* begin, const std::string_view* end, std::string_view key) {
  for (auto it = begin; it != end; ++it) {
    if (*it == key) return true;
  }
  return false;
}

}  // namespace

bool IsDeployCliDocument(const json& root) {
  if (!root.is_object() || root.contains("users")) return false;
  auto it = root.find("organizations");
  if (it == root.end() || !it->is_array() || it->empty()) return false;
  for (const auto& o : *it) {
    if (!o.is_object() || o.contains("external_id")) return false;
  }
  return true;
}

void ConvertDeployCli(json* root, std::vector<LayoutNote>* notes) {
  notes->push_back({"/organizations",
                    "read in the Auth0 Deploy CLI layout (organizations without external_id, no "
                    "users): each organization's external_id is its name",
                    false});
  for (auto it = root->begin(); it != root->end();) {
    if (it.key() == "organizations") {
      ++it;
      continue;
    }
    notes->push_back(
        {PointerChild("", it.key()),
         "Deploy CLI section \"" + it.key() + "\" is not managed by tenantsync: ignored", false});
    it = root->erase(it);
  }
  json& orgs = (*root)["organizations"];
  for (size_t i = 0; i < orgs.size(); ++i) {
    json& org = orgs[i];
    const std::string pointer = PointerIndex("/organizations", i);
    for (auto it = org.begin(); it != org.end();) {
      const bool empty = it->is_null() || (it->is_array() && it->empty());
      if (Contains(std::begin(kIgnoredOrgKeys), std::end(kIgnoredOrgKeys), it.key())) {
        if (!empty) {
          notes->push_back(
              {PointerChild(pointer, it.key()), "not managed by tenantsync: ignored", false});
        }
        it = org.erase(it);
      } else {
        ++it;
      }
    }
    if (auto name = org.find("name"); name != org.end() && name->is_string()) {
      org["external_id"] = *name;
    }
    auto connections = org.find("connections");
    if (connections == org.end() || !connections->is_array()) continue;
    for (size_t k = 0; k < connections->size(); ++k) {
      json& c = (*connections)[k];
      if (!c.is_object()) continue;
      const std::string cp = PointerIndex(PointerChild(pointer, "connections"), k);
      if (auto id = c.find("connection_id"); id != c.end()) {
        if (!c.contains("name")) {
          notes->push_back({PointerChild(cp, "connection_id"),
                            "an Auth0 connection id cannot be resolved without Auth0: name the "
                            "connection (`name: ...`), as the Deploy CLI's export does",
                            true});
        }
        c.erase(id);
      }
      for (auto it = c.begin(); it != c.end();) {
        if (Contains(std::begin(kIgnoredConnectionKeys), std::end(kIgnoredConnectionKeys),
                     it.key())) {
          notes->push_back(
              {PointerChild(cp, it.key()), "not managed by tenantsync: ignored", false});
          it = c.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
}

Result<std::string> EmitDeployCli(const DeclaredState& in, std::vector<std::string>* warnings) {
  try {
    DeclaredState state = in;
    Canonicalize(state);
    ordered_json orgs = ordered_json::array();
    for (const auto& o : state.organizations) {
      if (o.external_id != o.name) {
        warnings->push_back("organization " + o.external_id +
                            ": its external_id differs from "
                            "its name \"" +
                            o.name +
                            "\"; the Deploy CLI layout has no external_id, "
                            "so applying this file declares it as \"" +
                            o.name + "\"");
      }
      if (!o.callback_urls.empty()) {
        warnings->push_back("organization " + o.external_id +
                            ": callback_urls are not part of the Deploy CLI layout; not written");
      }
      ordered_json e = ordered_json::object();
      e["name"] = o.name;
      if (o.display_name) e["display_name"] = *o.display_name;
      if (o.branding.logo_url || o.branding.colors) {
        ordered_json b = ordered_json::object();
        if (o.branding.logo_url) b["logo_url"] = *o.branding.logo_url;
        if (o.branding.colors) {
          b["colors"] = {{"primary", o.branding.colors->primary},
                         {"page_background", o.branding.colors->page_background}};
        }
        e["branding"] = b;
      }
      if (!o.metadata.empty()) {
        ordered_json m = ordered_json::object();
        for (const auto& [k, v] : o.metadata) m[k] = v;
        e["metadata"] = m;
      }
      ordered_json cs = ordered_json::array();
      for (const auto& c : o.connections) {
        ordered_json cj = ordered_json::object();
        cj["name"] = c.name;
        if (c.assign_membership_on_login)
          cj["assign_membership_on_login"] = *c.assign_membership_on_login;
        if (c.show_as_button) cj["show_as_button"] = *c.show_as_button;
        cs.push_back(cj);
      }
      e["connections"] = cs;
      orgs.push_back(std::move(e));
    }
    size_t users = 0;
    for (const auto& u : state.users) users += u.left ? 0 : 1;
    if (users > 0) {
      warnings->push_back(std::to_string(users) +
                          " user(s) not written: the Deploy CLI layout has no users");
    }
    ordered_json doc = ordered_json::object();
    doc["organizations"] = orgs;
    return YamlText(doc);
  } catch (const std::exception& e) {
    return Status::Permanent(std::string("writing the Deploy CLI layout: ") + e.what());
  }
}

}  // namespace tenantsync::declared
