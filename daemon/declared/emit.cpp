#include "daemon/declared/emit.h"

#include <yaml-cpp/yaml.h>

#include <exception>
#include <string_view>

#include "daemon/declared/yaml_tree.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// True when a plain scalar `s` would not be read back as the string s (yaml_tree.cpp's rules:
// YAML 1.2 core schema, plus the YAML 1.1 words some readers still take for booleans).
bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  static constexpr std::string_view kWords[] = {
      "null", "Null", "NULL", "~",  "true", "True", "TRUE", "false", "False", "FALSE", "yes",
      "Yes",  "YES",  "no",   "No", "NO",   "on",   "On",   "ON",    "off",   "Off",   "OFF",
      "y",    "Y",    "n",    "N",  ".nan", ".NaN", ".NAN", ".inf",  ".Inf",  ".INF"};
  for (auto w : kWords) {
    if (s == w) return true;
  }
  std::string_view unsigned_part = (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
  if (IsDigits(unsigned_part, false, false)) return true;
  if (s.substr(0, 2) == "0x" && IsDigits(s.substr(2), true, false)) return true;
  if (s.substr(0, 2) == "0o" && IsDigits(s.substr(2), false, true)) return true;
  if (IsCoreFloat(s)) return true;
  if (unsigned_part == ".inf" || unsigned_part == ".Inf" || unsigned_part == ".INF") return true;
  // Leading/trailing blanks and anything yaml-cpp might leave plain but a reader could trim.
  return s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t';
}

void EmitString(YAML::Emitter& out, const std::string& s) {
  if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
  out << s;
}

void EmitValue(YAML::Emitter& out, const ordered_json& v) {
  switch (v.type()) {
    case ordered_json::value_t::object:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [k, x] : v.items()) {
        out << YAML::Key;
        EmitString(out, k);
        out << YAML::Value;
        EmitValue(out, x);
      }
      out << YAML::EndMap;
      return;
    case ordered_json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& x : v) EmitValue(out, x);
      out << YAML::EndSeq;
      return;
    case ordered_json::value_t::string:
      EmitString(out, v.get<std::string>());
      return;
    case ordered_json::value_t::boolean:
      out << (v.get<bool>() ? "true" : "false");
      return;
    case ordered_json::value_t::null:
    case ordered_json::value_t::discarded:
      out << YAML::Null;
      return;
    default:  // numbers: the shortest text that reads back as the same number
      out << v.dump();
      return;
  }
}

ordered_json Strings(const std::vector<std::string>& v) {
  ordered_json out = ordered_json::array();
  for (const auto& s : v) out.push_back(s);
  return out;
}

}  // namespace

ordered_json Ordered(const json& value) {
  switch (value.type()) {
    case json::value_t::object: {
      ordered_json out = ordered_json::object();
      for (const auto& [k, v] : value.items()) out[k] = Ordered(v);
      return out;
    }
    case json::value_t::array: {
      ordered_json out = ordered_json::array();
      for (const auto& v : value) out.push_back(Ordered(v));
      return out;
    }
    case json::value_t::string:
      return value.get<std::string>();
    case json::value_t::boolean:
      return value.get<bool>();
    case json::value_t::number_integer:
      return value.get<int64_t>();
    case json::value_t::number_unsigned:
      return value.get<uint64_t>();
    case json::value_t::number_float:
      return value.get<double>();
    default:
      return nullptr;
  }
}

ordered_json DeclaredDocument(const DeclaredState& in, const Auth0Ids& ids) {
  DeclaredState state = in;
  Canonicalize(state);
  ordered_json orgs = ordered_json::array();
  for (const auto& o : state.organizations) {
    ordered_json e = ordered_json::object();
    e["external_id"] = o.external_id;
    if (auto it = ids.organizations.find(o.external_id); it != ids.organizations.end())
      e["auth0_id"] = it->second;
    e["name"] = o.name;
    if (o.display_name) e["display_name"] = *o.display_name;
    if (!o.metadata.empty()) {
      ordered_json m = ordered_json::object();
      for (const auto& [k, v] : o.metadata) m[k] = v;
      e["metadata"] = m;
    }
    if (o.branding.logo_url || o.branding.colors) {
      ordered_json b = ordered_json::object();
      if (o.branding.logo_url) b["logo_url"] = *o.branding.logo_url;
      if (o.branding.colors) {
        b["colors"] = {{"primary", o.branding.colors->primary},
                       {"page_background", o.branding.colors->page_background}};
      }
      e["branding"] = b;
    }
    if (!o.connections.empty()) {
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
    }
    if (!o.callback_urls.empty()) e["callback_urls"] = Strings(o.callback_urls);
    orgs.push_back(std::move(e));
  }
  ordered_json users = ordered_json::array();
  for (const auto& u : state.users) {
    if (u.left) continue;
    ordered_json e = ordered_json::object();
    e["external_id"] = u.external_id;
    if (auto it = ids.users.find(u.external_id); it != ids.users.end()) e["auth0_id"] = it->second;
    if (u.email) e["email"] = *u.email;
    if (u.name) e["name"] = *u.name;
    if (u.given_name) e["given_name"] = *u.given_name;
    if (u.family_name) e["family_name"] = *u.family_name;
    for (auto [key, map] : {std::pair{"app_metadata", &u.app_metadata},
                            std::pair{"user_metadata", &u.user_metadata}}) {
      if (map->empty()) continue;
      ordered_json m = ordered_json::object();
      for (const auto& [k, v] : *map) m[k] = Ordered(v);
      e[key] = m;
    }
    if (u.blocked) e["blocked"] = true;
    if (!u.organizations.empty()) {
      ordered_json ms = ordered_json::array();
      for (const auto& m : u.organizations) {
        ordered_json mj = ordered_json::object();
        mj["external_id"] = m.org_external_id;
        if (!m.roles.empty()) mj["roles"] = Strings(m.roles);
        ms.push_back(mj);
      }
      e["organizations"] = ms;
    }
    users.push_back(std::move(e));
  }
  ordered_json doc = ordered_json::object();
  doc["organizations"] = orgs;
  doc["users"] = users;
  return doc;
}

Result<std::string> YamlText(const ordered_json& document) {
  try {
    YAML::Emitter out;
    out.SetIndent(2);
    out.SetOutputCharset(YAML::EmitNonAscii);
    EmitValue(out, document);
    if (!out.good()) return Status::Permanent("YAML emitter: " + out.GetLastError());
    std::string text(out.c_str());
    if (!text.empty() && text.back() != '\n') text += '\n';
    return text;
  } catch (const std::exception& e) {  // nothing escapes the module
    return Status::Permanent(std::string("YAML emitter: ") + e.what());
  }
}

Result<std::string> EmitDeclared(const DeclaredState& state, FileFormat format,
                                 const Auth0Ids& ids) {
  const ordered_json doc = DeclaredDocument(state, ids);
  if (format == FileFormat::kJson) {
    return std::string(doc.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n");
  }
  return YamlText(doc);
}

}  // namespace tenantsync::declared
