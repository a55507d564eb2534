#include "adapters/scim/scim.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

namespace tenantsync::scim {
namespace {

using nlohmann::json;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

Error Invalid(std::string detail, ErrorType type = ErrorType::kInvalidValue) {
  return Error{400, type, std::move(detail)};
}

// The key of `obj` equal to `name` ignoring case (SCIM attribute names are case-insensitive,
// RFC 7643 §2.1), or nullopt.
std::optional<std::string> FindKey(const json& obj, std::string_view name) {
  if (!obj.is_object()) return std::nullopt;
  if (obj.contains(std::string(name))) return std::string(name);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (IEquals(it.key(), name)) return it.key();
  }
  return std::nullopt;
}

// Renames keys of `obj` that match one of `names` ignoring case to that spelling.
void Canonicalize(json& obj, const std::vector<std::string_view>& names) {
  if (!obj.is_object()) return;
  for (auto name : names) {
    auto key = FindKey(obj, name);
    if (key && *key != name) {
      json v = std::move(obj[*key]);
      obj.erase(*key);
      obj[std::string(name)] = std::move(v);
    }
  }
}

const std::vector<std::string_view> kUserAttributes = {
    "schemas",         "id",           "externalId",   "meta",
    "userName",        "name",         "displayName",  "nickName",
    "profileUrl",      "title",        "userType",     "preferredLanguage",
    "locale",          "timezone",     "active",       "password",
    "emails",          "phoneNumbers", "ims",          "photos",
    "addresses",       "groups",       "entitlements", "roles",
    "x509Certificates"};
const std::vector<std::string_view> kNameAttributes = {
    "formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"};
const std::vector<std::string_view> kMultiAttributes = {"value", "display", "type", "primary",
                                                        "$ref"};
const std::vector<std::string_view> kEnterpriseAttributes = {
    "employeeNumber", "costCenter", "organization", "division", "department", "manager"};
const std::vector<std::string_view> kGroupAttributes = {"schemas", "id",          "externalId",
                                                        "meta",    "displayName", "members"};

std::optional<Error> CheckString(const json& obj, std::string_view key, const std::string& where,
                                 bool required) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) {
    if (required) return Invalid(where + std::string(key) + " is required");
    return std::nullopt;
  }
  if (!it->is_string()) return Invalid(where + std::string(key) + " must be a string");
  if (required && it->get<std::string>().empty())
    return Invalid(where + std::string(key) + " must not be empty");
  return std::nullopt;
}

// Multi-valued complex attribute (emails, roles, ...): a list of objects whose "primary" is a
// boolean and whose "value" (if any) is a scalar.
std::optional<Error> NormalizeMulti(json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it == obj.end()) return std::nullopt;
  if (it->is_null()) {
    obj.erase(it);
    return std::nullopt;
  }
  if (it->is_object()) *it = json::array({*it});  // a lone value where a list belongs
  if (!it->is_array()) return Invalid(std::string(key) + " must be a list");
  size_t i = 0;
  for (auto& v : *it) {
    const std::string where = std::string(key) + "[" + std::to_string(i++) + "]";
    if (!v.is_object()) return Invalid(where + " must be an object");
    Canonicalize(v, kMultiAttributes);
    if (v.contains("primary")) {
      auto b = ParseBool(v["primary"]);
      if (!b) return Invalid(where + ".primary must be a boolean");
      v["primary"] = *b;
    }
    if (v.contains("value") && (v["value"].is_object() || v["value"].is_array()))
      return Invalid(where + ".value must be a single value");
  }
  return std::nullopt;
}

bool HasSchema(const json& schemas, std::string_view urn) {
  if (!schemas.is_array()) return false;
  for (const auto& s : schemas) {
    if (s.is_string() && IEquals(s.get<std::string>(), urn)) return true;
  }
  return false;
}

std::optional<Error> CheckSchemas(json& out, std::string_view core) {
  auto it = out.find("schemas");
  if (it == out.end() || !it->is_array())
    return Invalid("schemas is required: a list holding \"" + std::string(core) + "\"",
                   ErrorType::kInvalidSyntax);
  if (!HasSchema(*it, core))
    return Invalid("schemas must hold \"" + std::string(core) + "\"", ErrorType::kInvalidSyntax);
  for (const auto& s : *it) {
    if (!s.is_string()) return Invalid("schemas must be a list of strings");
  }
  return std::nullopt;
}

// Extension attributes sent at the top level under their URN, e.g. "urn:…:enterprise:2.0:User":
// {...}; the URN key is matched ignoring case.
void CanonicalizeUrnKey(json& obj, std::string_view urn) { Canonicalize(obj, {urn}); }

// "2026-11-25T10:00:00.123Z"
std::string FormatTimestamp(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// --- Filter parsing ---

class FilterLexer {
 public:
  explicit FilterLexer(std::string_view s) : s_(s) {}
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }
  // An attribute path or a keyword: letters, digits and . : $ _ -
  std::string Word() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '$' ||
          c == '_' || c == '-')
        ++pos_;
      else
        break;
    }
    return std::string(s_.substr(start, pos_ - start));
  }
  // A JSON literal: "string", number, true, false, null.
  std::optional<json> Value() {
    SkipSpace();
    if (pos_ >= s_.size()) return std::nullopt;
    size_t start = pos_;
    if (s_[pos_] == '"') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\') ++pos_;
        ++pos_;
      }
      if (pos_ >= s_.size()) return std::nullopt;
      ++pos_;
    } else {
      while (pos_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[pos_])) &&
             s_[pos_] != ']')
        ++pos_;
    }
    auto parsed = json::parse(s_.substr(start, pos_ - start), nullptr, false);
    if (parsed.is_discarded() || parsed.is_object() || parsed.is_array()) return std::nullopt;
    return parsed;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

const char kFilterHelp[] =
    "; supported: attribute eq \"value\" (e.g. userName eq \"ada@example.com\"), several joined "
    "by and";

// Values of `path` ("a", "a.b", "urn:…:User:a") in `resource`: scalars found there, flattening
// one level of multi-valued attributes.
std::vector<json> Values(const json& resource, std::string_view path) {
  const json* base = &resource;
  std::string rest(path);
  if (IStartsWith(rest, kEnterpriseSchema) && rest.size() > kEnterpriseSchema.size() &&
      rest[kEnterpriseSchema.size()] == ':') {
    auto key = FindKey(resource, kEnterpriseSchema);
    if (!key) return {};
    base = &resource[*key];
    rest = rest.substr(kEnterpriseSchema.size() + 1);
  } else {
    for (auto core : {kUserSchema, kGroupSchema}) {
      if (IStartsWith(rest, core) && rest.size() > core.size() && rest[core.size()] == ':')
        rest = rest.substr(core.size() + 1);
    }
  }
  std::string first = rest, sub;
  if (auto dot = rest.find('.'); dot != std::string::npos) {
    first = rest.substr(0, dot);
    sub = rest.substr(dot + 1);
  }
  std::vector<json> out;
  auto key = FindKey(*base, first);
  if (!key) return out;
  const json& v = (*base)[*key];
  auto collect = [&](const json& item) {
    if (sub.empty()) {
      if (item.is_object()) {
        // A multi-valued complex attribute without sub-attribute compares its "value".
        if (auto k = FindKey(item, "value")) out.push_back(item[*k]);
      } else {
        out.push_back(item);
      }
    } else if (auto k = FindKey(item, sub)) {
      out.push_back(item[*k]);
    }
  };
  if (v.is_array()) {
    for (const auto& item : v) collect(item);
  } else {
    collect(v);
  }
  return out;
}

bool CaseInsensitive(std::string_view attribute) {
  static const std::set<std::string> kNames = {"username", "displayname", "emails.value",
                                               "nickname", "emails"};
  std::string a = Lower(attribute);
  if (IStartsWith(a, kUserSchema) && a.size() > kUserSchema.size())
    a = a.substr(kUserSchema.size() + 1);
  return kNames.count(a) > 0;
}

bool ValueEquals(const json& have, const json& want, bool case_insensitive) {
  if (have.is_string() && want.is_string()) {
    return case_insensitive ? IEquals(have.get<std::string>(), want.get<std::string>())
                            : have.get<std::string>() == want.get<std::string>();
  }
  if (have.is_boolean() || want.is_boolean()) {
    auto a = ParseBool(have), b = ParseBool(want);
    return a && b && *a == *b;
  }
  return have == want;
}

// --- PATCH ---

enum class PatchOp { kAdd, kReplace, kRemove };

struct ParsedPath {
  std::optional<std::string> urn;  // an extension URN the path starts with
  std::string attribute;           // empty: the extension object itself
  std::optional<Filter> filter;
  std::string sub;
};

Outcome<ParsedPath> ParsePath(std::string_view text) {
  ParsedPath p;
  std::string s(text);
  if (IStartsWith(s, kEnterpriseSchema)) {
    p.urn = std::string(kEnterpriseSchema);
    s = s.substr(kEnterpriseSchema.size());
    if (!s.empty() && s[0] != ':')
      return Invalid("path \"" + std::string(text) + "\" is not an attribute path",
                     ErrorType::kInvalidPath);
    if (!s.empty()) s = s.substr(1);
  } else {
    for (auto core : {kUserSchema, kGroupSchema}) {
      if (IStartsWith(s, core) && s.size() > core.size() && s[core.size()] == ':') {
        s = s.substr(core.size() + 1);
        break;
      }
    }
  }
  auto bad = [&]() {
    return Invalid("path \"" + std::string(text) +
                       "\" is not supported; supported: attr, attr.sub, attr[filter], "
                       "attr[filter].sub, optionally after a schema URN",
                   ErrorType::kInvalidPath);
  };
  size_t bracket = s.find('[');
  std::string head = bracket == std::string::npos ? s : s.substr(0, bracket);
  if (bracket != std::string::npos) {
    size_t close = s.rfind(']');
    if (close == std::string::npos || close < bracket) return bad();
    auto f = ParseFilter(std::string_view(s).substr(bracket + 1, close - bracket - 1));
    if (!f.ok()) return bad();
    p.filter = *f;
    std::string after = s.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != '.' || after.size() == 1) return bad();
      p.sub = after.substr(1);
    }
    p.attribute = head;
  } else if (auto dot = head.find('.'); dot != std::string::npos) {
    p.attribute = head.substr(0, dot);
    p.sub = head.substr(dot + 1);
  } else {
    p.attribute = head;
  }
  if ((p.attribute.empty() && !p.urn) || p.sub.find('.') != std::string::npos) return bad();
  return p;
}

bool ElementMatches(const json& element, const Filter& filter) { return Matches(filter, element); }

// Same "value" already in the list (members, emails).
bool ContainsValue(const json& list, const json& item) {
  if (!item.is_object() || !item.contains("value")) return false;
  for (const auto& e : list) {
    if (e.is_object() && e.contains("value") && e["value"] == item["value"]) return true;
  }
  return false;
}

std::optional<Error> AddToList(json& list, const json& value) {
  auto add = [&](const json& v) {
    if (!ContainsValue(list, v)) list.push_back(v);
  };
  if (value.is_array()) {
    for (const auto& v : value) add(v);
  } else {
    add(value);
  }
  return std::nullopt;
}

std::optional<Error> ApplyAt(json& container, PatchOp op, const ParsedPath& path, const json& value,
                             const std::string& shown);

// An operation on attribute `name` of `container` (no filter, no sub-attribute).
std::optional<Error> ApplySimple(json& container, PatchOp op, std::string_view name,
                                 const json& value) {
  if (!container.is_object()) container = json::object();
  auto key = FindKey(container, name).value_or(std::string(name));
  auto it = container.find(key);
  switch (op) {
    case PatchOp::kRemove:
      if (it == container.end()) return std::nullopt;
      if (it->is_array() && !value.is_null()) {
        // Entra removes members with path "members" and the values to remove.
        json drop = value.is_array() ? value : json::array({value});
        json kept = json::array();
        for (const auto& e : *it) {
          bool gone = false;
          for (const auto& d : drop) {
            if (e.is_object() && d.is_object() && e.contains("value") && d.contains("value") &&
                e["value"] == d["value"])
              gone = true;
          }
          if (!gone) kept.push_back(e);
        }
        *it = std::move(kept);
      } else {
        container.erase(it);
      }
      return std::nullopt;
    case PatchOp::kAdd:
      if (it != container.end() && it->is_array()) return AddToList(*it, value);
      [[fallthrough]];
    case PatchOp::kReplace:
      if (it != container.end() && it->is_object() && value.is_object()) {
        // Complex attribute: the given sub-attributes replace, the others stay (RFC 7644
        // §3.5.2.3).
        for (auto v = value.begin(); v != value.end(); ++v) {
          auto sub = FindKey(*it, v.key()).value_or(v.key());
          (*it)[sub] = v.value();
        }
        return std::nullopt;
      }
      if (op == PatchOp::kAdd && value.is_array() && it == container.end()) {
        json list = json::array();
        AddToList(list, value);
        container[key] = std::move(list);
        return std::nullopt;
      }
      container[key] = value;
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Error> ApplyAt(json& container, PatchOp op, const ParsedPath& path, const json& value,
                             const std::string& shown) {
  json* target = &container;
  if (path.urn) {
    auto key = FindKey(container, *path.urn).value_or(*path.urn);
    if (path.attribute.empty()) return ApplySimple(container, op, key, value);
    if (!container[key].is_object()) container[key] = json::object();
    target = &container[key];
  }
  if (!path.filter) {
    if (path.sub.empty()) return ApplySimple(*target, op, path.attribute, value);
    auto key = FindKey(*target, path.attribute).value_or(path.attribute);
    json& parent = (*target)[key];
    if (parent.is_null()) {
      if (op == PatchOp::kRemove) {
        target->erase(key);
        return std::nullopt;
      }
      parent = json::object();
    }
    if (!parent.is_object())
      return Invalid("path \"" + shown + "\": " + path.attribute + " is not a complex attribute",
                     ErrorType::kInvalidPath);
    return ApplySimple(parent, op, path.sub, value);
  }
  auto key = FindKey(*target, path.attribute).value_or(path.attribute);
  json& list = (*target)[key];
  if (list.is_null()) list = json::array();
  if (!list.is_array())
    return Invalid("path \"" + shown + "\": " + path.attribute + " is not multi-valued",
                   ErrorType::kInvalidPath);
  bool matched = false;
  json kept = json::array();
  for (auto& e : list) {
    if (!ElementMatches(e, *path.filter)) {
      kept.push_back(std::move(e));
      continue;
    }
    matched = true;
    if (op == PatchOp::kRemove) {
      if (!path.sub.empty()) {
        if (auto k = FindKey(e, path.sub)) e.erase(*k);
        kept.push_back(std::move(e));
      }
      continue;
    }
    if (path.sub.empty()) {
      if (e.is_object() && value.is_object() && op == PatchOp::kAdd) {
        for (auto v = value.begin(); v != value.end(); ++v) e[v.key()] = v.value();
      } else {
        e = value;
      }
    } else {
      e[FindKey(e, path.sub).value_or(path.sub)] = value;
    }
    kept.push_back(std::move(e));
  }
  list = std::move(kept);
  if (!matched && op != PatchOp::kRemove) {
    // No value matched (e.g. Entra's `emails[type eq "work"].value` for a user without a work
    // email): a new value carrying the filter's attributes.
    json item = json::object();
    for (const auto& c : path.filter->all) item[c.attribute] = c.value;
    if (path.sub.empty()) {
      if (!value.is_object())
        return Invalid("path \"" + shown + "\": value must be an object", ErrorType::kInvalidValue);
      for (auto v = value.begin(); v != value.end(); ++v) item[v.key()] = v.value();
    } else {
      item[path.sub] = value;
    }
    list.push_back(std::move(item));
  }
  return std::nullopt;
}

std::optional<PatchOp> ParseOp(const json& op) {
  if (!op.is_string()) return std::nullopt;
  const std::string s = Lower(op.get<std::string>());
  if (s == "add") return PatchOp::kAdd;
  if (s == "replace") return PatchOp::kReplace;
  if (s == "remove") return PatchOp::kRemove;
  return std::nullopt;
}

json AttrDef(std::string name, std::string type, std::string description, bool multi = false,
             bool required = false, bool case_exact = false, std::string mutability = "readWrite",
             std::string returned = "default", std::string uniqueness = "none",
             json subs = nullptr) {
  json a = {{"name", name},
            {"type", type},
            {"multiValued", multi},
            {"description", description},
            {"required", required},
            {"caseExact", case_exact},
            {"mutability", mutability},
            {"returned", returned},
            {"uniqueness", uniqueness}};
  if (!subs.is_null()) a["subAttributes"] = std::move(subs);
  return a;
}

// The sub-attributes of a multi-valued attribute such as emails or roles.
json MultiSubs(const std::string& what, const std::string& value_type = "string") {
  return json::array({AttrDef("value", value_type, "The " + what + " value."),
                      AttrDef("display", "string", "A human-readable name."),
                      AttrDef("type", "string", "A label for the " + what + "."),
                      AttrDef("primary", "boolean", "Whether this is the primary " + what + ".")});
}

json UserSchemaDef(const std::string& base) {
  json name_subs = json::array();
  for (auto n : kNameAttributes)
    name_subs.push_back(AttrDef(std::string(n), "string", "Name part."));
  json attrs = json::array(
      {AttrDef("userName", "string", "Unique identifier for the user, e.g. an email address.",
               false, true, false, "readWrite", "default", "server"),
       AttrDef("name", "complex", "The components of the user's name.", false, false, false,
               "readWrite", "default", "none", name_subs),
       AttrDef("displayName", "string", "The name shown to people."),
       AttrDef("nickName", "string", "The casual name of the user."),
       AttrDef("profileUrl", "reference", "A URL of the user's online profile."),
       AttrDef("title", "string", "The user's title."),
       AttrDef("userType", "string", "The relationship to the organization, e.g. Employee."),
       AttrDef("preferredLanguage", "string", "Preferred written or spoken language."),
       AttrDef("locale", "string", "Default location for localization."),
       AttrDef("timezone", "string", "Time zone in IANA format."),
       AttrDef("active", "boolean", "Whether the user may sign in; false blocks the user."),
       AttrDef("password", "string", "Not stored: tenantsync never sets passwords.", false, false,
               false, "writeOnly", "never"),
       AttrDef("emails", "complex", "Email addresses.", true, false, false, "readWrite", "default",
               "none", MultiSubs("email")),
       AttrDef("phoneNumbers", "complex", "Phone numbers.", true, false, false, "readWrite",
               "default", "none", MultiSubs("phone number")),
       AttrDef("roles", "complex", "Roles; mapped to organization roles by role_map.", true, false,
               false, "readWrite", "default", "none", MultiSubs("role")),
       AttrDef("groups", "complex", "Groups the user belongs to.", true, false, false, "readOnly",
               "default", "none", MultiSubs("group"))});
  return {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Schema"}},
      {"id", kUserSchema},
      {"name", "User"},
      {"description", "User Account"},
      {"attributes", attrs},
      {"meta",
       {{"resourceType", "Schema"}, {"location", base + "/Schemas/" + std::string(kUserSchema)}}}};
}

json GroupSchemaDef(const std::string& base) {
  json member_subs = json::array(
      {AttrDef("value", "string", "The id of a User member.", false, false, false, "immutable"),
       AttrDef("display", "string", "The member's display name.", false, false, false, "immutable"),
       AttrDef("type", "string", "The member's type: User.", false, false, false, "immutable"),
       AttrDef("$ref", "reference", "The URI of the member.", false, false, false, "immutable")});
  json attrs = json::array(
      {AttrDef("displayName", "string", "The group's name; becomes the organization's name.", false,
               true, false, "readWrite", "default", "server"),
       AttrDef("members", "complex", "The users in the group (organization members).", true, false,
               false, "readWrite", "default", "none", member_subs)});
  return {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Schema"}},
      {"id", kGroupSchema},
      {"name", "Group"},
      {"description", "Group; an Auth0 organization"},
      {"attributes", attrs},
      {"meta",
       {{"resourceType", "Schema"}, {"location", base + "/Schemas/" + std::string(kGroupSchema)}}}};
}

json EnterpriseSchemaDef(const std::string& base) {
  json manager_subs = json::array({AttrDef("value", "string", "The id of the user's manager."),
                                   AttrDef("$ref", "reference", "The URI of the manager."),
                                   AttrDef("displayName", "string", "The manager's display name.",
                                           false, false, false, "readOnly")});
  json attrs = json::array(
      {AttrDef("employeeNumber", "string", "Numeric or alphanumeric identifier of the employee."),
       AttrDef("costCenter", "string", "Name of a cost center."),
       AttrDef("organization", "string", "Name of an organization."),
       AttrDef("division", "string", "Name of a division."),
       AttrDef("department", "string", "Name of a department."),
       AttrDef("manager", "complex", "The user's manager.", false, false, false, "readWrite",
               "default", "none", manager_subs)});
  return {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:Schema"}},
          {"id", kEnterpriseSchema},
          {"name", "EnterpriseUser"},
          {"description", "Enterprise User"},
          {"attributes", attrs},
          {"meta",
           {{"resourceType", "Schema"},
            {"location", base + "/Schemas/" + std::string(kEnterpriseSchema)}}}};
}

json ResourceTypeDef(ResourceKind kind, const std::string& base) {
  const bool user = kind == ResourceKind::kUser;
  json rt = {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
             {"id", ResourceTypeName(kind)},
             {"name", ResourceTypeName(kind)},
             {"endpoint", std::string("/") + EndpointName(kind)},
             {"description", user ? "User Account" : "Group; an Auth0 organization"},
             {"schema", user ? kUserSchema : kGroupSchema},
             {"meta",
              {{"resourceType", "ResourceType"},
               {"location", base + "/ResourceTypes/" + ResourceTypeName(kind)}}}};
  if (user)
    rt["schemaExtensions"] = json::array({{{"schema", kEnterpriseSchema}, {"required", false}}});
  return rt;
}

std::optional<std::string> NonEmptyString(const json& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(std::string(key));
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  std::string s = it->get<std::string>();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  s = s.substr(start);
  if (s.empty()) return std::nullopt;
  return s;
}

json OrNull(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

bool Active(const json& user) {
  auto it = user.find("active");
  if (it == user.end()) return true;
  return ParseBool(*it).value_or(true);
}

}  // namespace

const char* ResourceTypeName(ResourceKind kind) {
  return kind == ResourceKind::kUser ? "User" : "Group";
}
const char* EndpointName(ResourceKind kind) {
  return kind == ResourceKind::kUser ? "Users" : "Groups";
}

const char* ErrorTypeName(ErrorType type) {
  switch (type) {
    case ErrorType::kNone:
      return "";
    case ErrorType::kInvalidFilter:
      return "invalidFilter";
    case ErrorType::kTooMany:
      return "tooMany";
    case ErrorType::kUniqueness:
      return "uniqueness";
    case ErrorType::kMutability:
      return "mutability";
    case ErrorType::kInvalidSyntax:
      return "invalidSyntax";
    case ErrorType::kInvalidPath:
      return "invalidPath";
    case ErrorType::kNoTarget:
      return "noTarget";
    case ErrorType::kInvalidValue:
      return "invalidValue";
  }
  return "";
}

json ErrorJson(const Error& error) {
  json out = {{"schemas", {kErrorSchema}},
              {"status", std::to_string(error.status)},
              {"detail", error.detail}};
  if (error.type != ErrorType::kNone) out["scimType"] = ErrorTypeName(error.type);
  return out;
}

std::optional<bool> ParseBool(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_string()) {
    const std::string s = Lower(value.get<std::string>());
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return std::nullopt;
}

Outcome<json> NormalizeUser(const json& in) {
  if (!in.is_object()) return Invalid("a User must be a JSON object", ErrorType::kInvalidSyntax);
  json out = in;
  Canonicalize(out, kUserAttributes);
  CanonicalizeUrnKey(out, kEnterpriseSchema);
  if (auto e = CheckSchemas(out, kUserSchema)) return *e;
  for (auto drop : {"id", "meta", "groups", "password"}) out.erase(drop);
  if (auto e = CheckString(out, "userName", "", true)) return *e;
  for (auto key : {"externalId", "displayName", "nickName", "title", "userType", "locale",
                   "preferredLanguage", "timezone", "profileUrl"}) {
    if (auto e = CheckString(out, key, "", false)) return *e;
    if (out.contains(key) && out[key].is_null()) out.erase(key);
  }
  if (out.contains("externalId") && out["externalId"].get<std::string>().empty())
    return Invalid("externalId must not be empty");
  if (out.contains("active")) {
    if (out["active"].is_null()) {
      out.erase("active");
    } else {
      auto b = ParseBool(out["active"]);
      if (!b) return Invalid("active must be a boolean");
      out["active"] = *b;
    }
  }
  if (out.contains("name")) {
    if (out["name"].is_null()) {
      out.erase("name");
    } else {
      if (!out["name"].is_object()) return Invalid("name must be an object");
      Canonicalize(out["name"], kNameAttributes);
      for (auto n : kNameAttributes) {
        if (auto e = CheckString(out["name"], n, "name.", false)) return *e;
      }
    }
  }
  for (auto key : {"emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles",
                   "x509Certificates"}) {
    if (auto e = NormalizeMulti(out, key)) return *e;
  }
  const std::string ext(kEnterpriseSchema);
  if (out.contains(ext)) {
    json& e = out[ext];
    if (e.is_null()) {
      out.erase(ext);
    } else {
      if (!e.is_object()) return Invalid(ext + " must be an object");
      Canonicalize(e, kEnterpriseAttributes);
      for (auto k : {"employeeNumber", "costCenter", "organization", "division", "department"}) {
        if (auto err = CheckString(e, k, ext + ":", false)) return *err;
      }
      if (e.contains("manager")) {
        json& m = e["manager"];
        if (m.is_string()) m = json{{"value", m}};  // some clients send the id alone
        if (m.is_null()) {
          e.erase("manager");
        } else {
          if (!m.is_object()) return Invalid(ext + ":manager must be an object");
          Canonicalize(m, {"value", "$ref", "displayName"});
          if (auto err = CheckString(m, "value", ext + ":manager.", false)) return *err;
        }
      }
      if (!HasSchema(out["schemas"], kEnterpriseSchema)) out["schemas"].push_back(ext);
    }
  }
  return out;
}

Outcome<json> NormalizeGroup(const json& in) {
  if (!in.is_object()) return Invalid("a Group must be a JSON object", ErrorType::kInvalidSyntax);
  json out = in;
  Canonicalize(out, kGroupAttributes);
  if (auto e = CheckSchemas(out, kGroupSchema)) return *e;
  for (auto drop : {"id", "meta"}) out.erase(drop);
  if (auto e = CheckString(out, "displayName", "", true)) return *e;
  if (out["displayName"].get<std::string>().size() > 255)
    return Invalid("displayName must be at most 255 bytes");
  if (auto e = CheckString(out, "externalId", "", false)) return *e;
  if (out.contains("externalId") && out["externalId"].is_null()) out.erase("externalId");
  if (out.contains("externalId") && out["externalId"].get<std::string>().empty())
    return Invalid("externalId must not be empty");
  if (out.contains("members")) {
    json& members = out["members"];
    if (members.is_null()) members = json::array();
    if (!members.is_array()) return Invalid("members must be a list");
    json kept = json::array();
    std::set<std::string> seen;
    size_t i = 0;
    for (auto& m : members) {
      const std::string where = "members[" + std::to_string(i++) + "]";
      if (!m.is_object()) return Invalid(where + " must be an object");
      Canonicalize(m, kMultiAttributes);
      if (auto e = CheckString(m, "value", where + ".", true)) return *e;
      if (m.contains("type") && m["type"].is_string() &&
          !IEquals(m["type"].get<std::string>(), "User"))
        return Invalid(where + ".type must be User (nested groups are not supported)");
      json member = {{"value", m["value"]}};
      for (auto k : {"display", "type", "$ref"}) {
        if (m.contains(k) && m[k].is_string()) member[k] = m[k];
      }
      if (seen.insert(m["value"].get<std::string>()).second) kept.push_back(std::move(member));
    }
    members = std::move(kept);
  }
  return out;
}

Outcome<json> Normalize(ResourceKind kind, const json& in) {
  return kind == ResourceKind::kUser ? NormalizeUser(in) : NormalizeGroup(in);
}

Outcome<json> ApplyPatch(const json& resource, const json& patch) {
  if (!patch.is_object())
    return Invalid("a PatchOp must be a JSON object", ErrorType::kInvalidSyntax);
  auto schemas_key = FindKey(patch, "schemas");
  if (!schemas_key || !HasSchema(patch[*schemas_key], kPatchOpSchema))
    return Invalid("schemas must hold \"" + std::string(kPatchOpSchema) + "\"",
                   ErrorType::kInvalidSyntax);
  auto ops_key = FindKey(patch, "Operations");
  if (!ops_key || !patch[*ops_key].is_array() || patch[*ops_key].empty())
    return Invalid("Operations must be a non-empty list", ErrorType::kInvalidSyntax);
  json out = resource;
  size_t i = 0;
  for (const auto& raw : patch[*ops_key]) {
    const std::string where = "Operations[" + std::to_string(i++) + "]";
    if (!raw.is_object()) return Invalid(where + " must be an object", ErrorType::kInvalidSyntax);
    auto op_key = FindKey(raw, "op");
    auto op = op_key ? ParseOp(raw[*op_key]) : std::nullopt;
    if (!op)
      return Invalid(where + ".op must be add, replace or remove", ErrorType::kInvalidSyntax);
    auto path_key = FindKey(raw, "path");
    auto value_key = FindKey(raw, "value");
    const json value = value_key ? raw[*value_key] : json(nullptr);
    if (!path_key || raw[*path_key].is_null() ||
        (raw[*path_key].is_string() && raw[*path_key].get<std::string>().empty())) {
      if (*op == PatchOp::kRemove)
        return Error{400, ErrorType::kNoTarget, where + ": remove needs a path"};
      if (!value.is_object())
        return Invalid(where + ".value must be an object when there is no path");
      for (auto it = value.begin(); it != value.end(); ++it) {
        auto p = ParsePath(it.key());
        if (!p.ok()) return p.error();
        if (auto e = ApplyAt(out, *op, *p, it.value(), it.key())) return *e;
      }
      continue;
    }
    if (!raw[*path_key].is_string())
      return Invalid(where + ".path must be a string", ErrorType::kInvalidPath);
    const std::string path_text = raw[*path_key].get<std::string>();
    auto p = ParsePath(path_text);
    if (!p.ok()) return p.error();
    if (*op != PatchOp::kRemove && !value_key)
      return Invalid(where + ".value is required for " + Lower(raw[*op_key].get<std::string>()));
    if (auto e = ApplyAt(out, *op, *p, value, path_text)) return *e;
  }
  return out;
}

Outcome<Filter> ParseFilter(std::string_view text) {
  FilterLexer lex(text);
  Filter f;
  auto bad = [&](const std::string& why) {
    return Error{400, ErrorType::kInvalidFilter,
                 "filter not supported (" + why + ")" + std::string(kFilterHelp)};
  };
  if (lex.AtEnd()) return bad("empty");
  while (true) {
    std::string attr = lex.Word();
    if (attr.empty()) return bad("expected an attribute name");
    std::string op = Lower(lex.Word());
    if (op != "eq") return bad(op.empty() ? "expected an operator" : "operator " + op);
    auto value = lex.Value();
    if (!value) return bad("expected a value after eq");
    f.all.push_back({attr, *value});
    if (lex.AtEnd()) break;
    std::string joiner = Lower(lex.Word());
    if (joiner != "and") return bad(joiner.empty() ? "unexpected text" : "operator " + joiner);
  }
  return f;
}

bool Matches(const Filter& filter, const json& resource) {
  for (const auto& c : filter.all) {
    const bool ci = CaseInsensitive(c.attribute);
    bool any = false;
    for (const auto& v : Values(resource, c.attribute)) {
      if (ValueEquals(v, c.value, ci)) any = true;
    }
    if (!any) return false;
  }
  return true;
}

Outcome<BulkRequest> ParseBulk(const json& body, const BulkLimits& limits) {
  if (!body.is_object())
    return Invalid("a BulkRequest must be a JSON object", ErrorType::kInvalidSyntax);
  auto schemas_key = FindKey(body, "schemas");
  if (!schemas_key || !HasSchema(body[*schemas_key], kBulkRequestSchema))
    return Invalid("schemas must hold \"" + std::string(kBulkRequestSchema) + "\"",
                   ErrorType::kInvalidSyntax);
  auto ops_key = FindKey(body, "Operations");
  if (!ops_key || !body[*ops_key].is_array())
    return Invalid("Operations must be a list", ErrorType::kInvalidSyntax);
  const json& ops = body[*ops_key];
  if (ops.size() > static_cast<size_t>(limits.max_operations))
    return Error{413, ErrorType::kNone,
                 "too many operations: " + std::to_string(ops.size()) + " (maxOperations is " +
                     std::to_string(limits.max_operations) + ")"};
  BulkRequest req;
  if (auto k = FindKey(body, "failOnErrors"); k && !body[*k].is_null()) {
    if (!body[*k].is_number_integer() || body[*k].get<int64_t>() < 1)
      return Invalid("failOnErrors must be a positive integer", ErrorType::kInvalidSyntax);
    req.fail_on_errors = static_cast<int>(std::min<int64_t>(body[*k].get<int64_t>(), 1 << 30));
  }
  std::set<std::string> bulk_ids;
  size_t i = 0;
  for (const auto& raw : ops) {
    const std::string where = "Operations[" + std::to_string(i++) + "]";
    if (!raw.is_object()) return Invalid(where + " must be an object", ErrorType::kInvalidSyntax);
    BulkOperation op;
    auto m = FindKey(raw, "method");
    if (!m || !raw[*m].is_string()) return Invalid(where + ".method is required");
    op.method_name = raw[*m].get<std::string>();
    const std::string method = Lower(op.method_name);
    if (method == "post") {
      op.method = BulkMethod::kPost;
    } else if (method == "put") {
      op.method = BulkMethod::kPut;
    } else if (method == "patch") {
      op.method = BulkMethod::kPatch;
    } else if (method == "delete") {
      op.method = BulkMethod::kDelete;
    } else {
      return Invalid(where + ".method must be POST, PUT, PATCH or DELETE");
    }
    auto p = FindKey(raw, "path");
    if (!p || !raw[*p].is_string() || raw[*p].get<std::string>().empty() ||
        raw[*p].get<std::string>()[0] != '/')
      return Invalid(where + ".path must be a path such as /Users");
    op.path = raw[*p].get<std::string>();
    if (auto b = FindKey(raw, "bulkId"); b && !raw[*b].is_null()) {
      if (!raw[*b].is_string() || raw[*b].get<std::string>().empty())
        return Invalid(where + ".bulkId must be a non-empty string");
      op.bulk_id = raw[*b].get<std::string>();
      if (!bulk_ids.insert(*op.bulk_id).second)
        return Invalid(where + ".bulkId \"" + *op.bulk_id + "\" is used twice");
    }
    if (op.method == BulkMethod::kPost && !op.bulk_id)
      return Invalid(where + ".bulkId is required for POST");
    if (auto d = FindKey(raw, "data")) op.data = raw[*d];
    if (op.method != BulkMethod::kDelete && !op.data.is_object())
      return Invalid(where + ".data must be an object");
    req.operations.push_back(std::move(op));
  }
  return req;
}

std::optional<std::string> ResolveBulkIds(json& data,
                                          const std::map<std::string, std::string>& created) {
  if (data.is_string()) {
    const std::string s = data.get<std::string>();
    if (s.rfind("bulkId:", 0) == 0) {
      auto it = created.find(s.substr(7));
      if (it == created.end()) return s.substr(7);
      data = it->second;
    }
    return std::nullopt;
  }
  if (data.is_array() || data.is_object()) {
    for (auto& v : data) {
      if (auto missing = ResolveBulkIds(v, created)) return missing;
    }
  }
  return std::nullopt;
}

json BulkResponseJson(const std::vector<BulkResult>& results) {
  json ops = json::array();
  for (const auto& r : results) {
    json o = {{"method", r.method}, {"status", std::to_string(r.status)}};
    if (r.bulk_id) o["bulkId"] = *r.bulk_id;
    if (r.location) o["location"] = *r.location;
    if (r.version) o["version"] = *r.version;
    if (r.error) o["response"] = ErrorJson(*r.error);
    ops.push_back(std::move(o));
  }
  return {{"schemas", {kBulkResponseSchema}}, {"Operations", ops}};
}

json ListResponse(const std::vector<json>& page, size_t total, size_t start_index) {
  return {{"schemas", {kListSchema}},
          {"totalResults", total},
          {"startIndex", start_index},
          {"itemsPerPage", page.size()},
          {"Resources", page}};
}

json ServiceProviderConfig(const BulkLimits& limits, int max_results, const std::string& base) {
  return {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}},
      {"patch", {{"supported", true}}},
      {"bulk",
       {{"supported", true},
        {"maxOperations", limits.max_operations},
        {"maxPayloadSize", limits.max_payload_bytes}}},
      {"filter", {{"supported", true}, {"maxResults", max_results}}},
      {"changePassword", {{"supported", false}}},
      {"sort", {{"supported", false}}},
      {"etag", {{"supported", false}}},
      {"authenticationSchemes",
       json::array({{{"type", "oauthbearertoken"},
                     {"name", "OAuth Bearer Token"},
                     {"description",
                      "The token in the source's secret_file, sent as Authorization: Bearer"},
                     {"primary", true}}})},
      {"meta",
       {{"resourceType", "ServiceProviderConfig"}, {"location", base + "/ServiceProviderConfig"}}}};
}

json ResourceTypes(const std::string& base) {
  std::vector<json> all = {ResourceTypeDef(ResourceKind::kUser, base),
                           ResourceTypeDef(ResourceKind::kGroup, base)};
  return ListResponse(all, all.size(), 1);
}

std::optional<json> ResourceType(const std::string& name, const std::string& base) {
  if (name == "User") return ResourceTypeDef(ResourceKind::kUser, base);
  if (name == "Group") return ResourceTypeDef(ResourceKind::kGroup, base);
  return std::nullopt;
}

json Schemas(const std::string& base) {
  std::vector<json> all = {UserSchemaDef(base), GroupSchemaDef(base), EnterpriseSchemaDef(base)};
  return ListResponse(all, all.size(), 1);
}

std::optional<json> Schema(const std::string& urn, const std::string& base) {
  if (urn == kUserSchema) return UserSchemaDef(base);
  if (urn == kGroupSchema) return GroupSchemaDef(base);
  if (urn == kEnterpriseSchema) return EnterpriseSchemaDef(base);
  return std::nullopt;
}

json UserProfile(const json& user, const std::string& external_id) {
  json out = {{"external_id", external_id}};
  std::optional<std::string> email;
  if (auto it = user.find("emails"); it != user.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_object() && e.value("primary", false) && !email) email = NonEmptyString(e, "value");
    }
    for (const auto& e : *it) {
      if (!email) email = NonEmptyString(e, "value");
    }
  }
  if (!email) {
    auto user_name = NonEmptyString(user, "userName");
    if (user_name && user_name->find('@') != std::string::npos) email = user_name;
  }
  if (email) out["email"] = *email;
  const json name = user.contains("name") ? user["name"] : json::object();
  auto given = NonEmptyString(name, "givenName");
  auto family = NonEmptyString(name, "familyName");
  auto full = NonEmptyString(name, "formatted");
  if (!full) full = NonEmptyString(user, "displayName");
  if (!full && (given || family)) {
    full = given.value_or("") + (given && family ? " " : "") + family.value_or("");
  }
  out["given_name"] = OrNull(given);
  out["family_name"] = OrNull(family);
  out["name"] = OrNull(full);
  out["nickname"] = OrNull(NonEmptyString(user, "nickName"));
  const std::string ext(kEnterpriseSchema);
  const json e = user.contains(ext) ? user[ext] : json::object();
  std::optional<std::string> manager;
  if (e.contains("manager")) manager = NonEmptyString(e["manager"], "value");
  out["app_metadata"] = {{"employee_number", OrNull(NonEmptyString(e, "employeeNumber"))},
                         {"department", OrNull(NonEmptyString(e, "department"))},
                         {"organization", OrNull(NonEmptyString(e, "organization"))},
                         {"division", OrNull(NonEmptyString(e, "division"))},
                         {"cost_center", OrNull(NonEmptyString(e, "costCenter"))},
                         {"manager_id", OrNull(manager)},
                         {"title", OrNull(NonEmptyString(user, "title"))},
                         {"user_type", OrNull(NonEmptyString(user, "userType"))}};
  return out;
}

json Organizations(const json& user, const std::vector<Membership>& groups,
                   const MappingOptions& options) {
  std::set<std::string> roles;
  if (auto it = user.find("roles"); it != user.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object() || !r.contains("value") || !r["value"].is_string()) continue;
      auto mapped = options.role_map.find(r["value"].get<std::string>());
      if (mapped != options.role_map.end()) roles.insert(mapped->second);
    }
  }
  std::set<std::string> orgs;
  for (const auto& g : groups) orgs.insert(g.org_external_id);
  json out = json::array();
  for (const auto& org : orgs) {
    out.push_back({{"external_id", org},
                   {"roles", json(std::vector<std::string>(roles.begin(), roles.end()))}});
  }
  return out;
}

std::vector<MappedEvent> UserEvents(const std::optional<json>& before,
                                    const std::optional<json>& after,
                                    const std::string& external_id,
                                    const std::optional<json>& organizations, bool returning,
                                    const MappingOptions& options) {
  std::vector<MappedEvent> out;
  if (!after) {
    out.push_back({options.delete_users ? EventType::kUserDeleted : EventType::kUserLeft,
                   {{"external_id", external_id}}});
    return out;
  }
  json profile = UserProfile(*after, external_id);
  const bool changed = !before || UserProfile(*before, external_id) != profile;
  if (changed || organizations) {
    if (organizations) profile["organizations"] = *organizations;
    out.push_back({EventType::kUserUpserted, std::move(profile)});
  }
  if (returning) out.push_back({EventType::kUserReturned, {{"external_id", external_id}}});
  const bool was_active = before ? Active(*before) : true;
  const bool active = Active(*after);
  if (was_active && !active) {
    out.push_back({EventType::kUserBlocked,
                   {{"external_id", external_id}, {"reason", "SCIM: active set to false"}}});
  } else if (!was_active && active) {
    out.push_back({EventType::kUserUnblocked,
                   {{"external_id", external_id}, {"reason", "SCIM: active set to true"}}});
  }
  return out;
}

std::string OrganizationName(std::string_view display_name, std::string_view fallback) {
  auto slug = [](std::string_view s) {
    std::string out;
    bool dash = false;
    for (char c : s) {
      unsigned char u = static_cast<unsigned char>(c);
      if (std::isalnum(u) && u < 0x80) {
        if (dash && !out.empty()) out.push_back('-');
        dash = false;
        out.push_back(static_cast<char>(std::tolower(u)));
      } else if (c == '_' || c == '-') {
        if (dash && !out.empty()) out.push_back('-');
        dash = false;
        out.push_back(c);
      } else {
        dash = true;
      }
    }
    if (out.size() > 50) out.resize(50);
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
  };
  std::string name = slug(display_name);
  if (name.empty()) name = slug(fallback);
  if (name.empty()) name = "group";
  return name;
}

json GroupOrganization(const json& group, const std::string& external_id) {
  const std::string display = group.value("displayName", std::string());
  return {{"external_id", external_id},
          {"name", OrganizationName(display, external_id)},
          {"display_name", display}};
}

std::string FormatTime(int64_t unix_ms) { return FormatTimestamp(unix_ms); }

json Envelope(const MappedEvent& event, int64_t timestamp_ms) {
  return {{"type", EventTypeName(event.type)},
          {"timestamp", FormatTimestamp(timestamp_ms)},
          {"data", event.data}};
}

}  // namespace tenantsync::scim
