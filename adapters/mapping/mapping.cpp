#include "adapters/mapping/mapping.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "adapters/events/event.h"

namespace tenantsync {

namespace {

using json = nlohmann::json;

const std::set<std::string>& UserTargets() {
  static const std::set<std::string> k = {"external_id", "email",      "email_verified",
                                          "name",        "given_name", "family_name",
                                          "nickname",    "picture"};
  return k;
}

bool IsMetadataTarget(const std::string& t, const char* prefix) {
  std::string p = std::string(prefix) + ".";
  return t.rfind(p, 0) == 0 && t.size() > p.size() && t.find('.', p.size()) == std::string::npos;
}

std::vector<std::string> SplitPath(const std::string& p) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = p.find('.', start);
    out.push_back(p.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

const json* Walk(const json& record, const std::vector<std::string>& path) {
  const json* node = &record;
  for (const auto& seg : path) {
    if (node->is_object()) {
      auto it = node->find(seg);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array() && !seg.empty() &&
               std::all_of(seg.begin(), seg.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
               seg.size() < 6) {
      size_t i = std::stoul(seg);
      if (i >= node->size()) return nullptr;
      node = &(*node)[i];
    } else {
      return nullptr;
    }
  }
  return node;
}

bool Present(const json& v) {
  if (v.is_null()) return false;
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return !std::isspace(static_cast<unsigned char>(c)); });
  }
  return true;
}

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

std::string Shown(const std::string& s) {
  std::string out = s.substr(0, 64);
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return out;
}

Status ParseSpec(const json& j, const std::string& where, FieldSpec* out);

Status ParsePaths(const json& j, const std::string& where, FieldSpec* out) {
  auto add = [&](const json& p, const std::string& at) -> Status {
    if (!p.is_string() || p.get<std::string>().empty())
      return Status::Invalid(at + ": a path must be a non-empty string");
    out->path_texts.push_back(p.get<std::string>());
    out->paths.push_back(SplitPath(p.get<std::string>()));
    return Status::Ok();
  };
  if (j.is_array()) {
    if (j.empty()) return Status::Invalid(where + ": at least one path is required");
    for (size_t i = 0; i < j.size(); ++i)
      if (auto st = add(j[i], where + "[" + std::to_string(i) + "]"); !st.ok()) return st;
    return Status::Ok();
  }
  return add(j, where);
}

Status ParseSpec(const json& j, const std::string& where, FieldSpec* out) {
  if (j.is_string() || j.is_array()) return ParsePaths(j, where, out);
  if (!j.is_object())
    return Status::Invalid(where + ": must be a path, a list of paths or a table");
  static const std::set<std::string> kKeys = {"path",   "concat",         "value",  "transform",
                                              "lookup", "lookup_default", "default"};
  for (const auto& [k, v] : j.items()) {
    if (!kKeys.count(k))
      return Status::Invalid(where + ": unknown key \"" + Shown(k) +
                             "\" (known: path, concat, value, transform, lookup, "
                             "lookup_default, default)");
  }
  int sources = j.contains("path") + j.contains("concat") + j.contains("value");
  if (sources != 1)
    return Status::Invalid(where + ": exactly one of path, concat or value is required");
  if (j.contains("path"))
    if (auto st = ParsePaths(j["path"], where + ".path", out); !st.ok()) return st;
  if (j.contains("value")) out->value = j["value"];
  if (j.contains("concat")) {
    const auto& c = j["concat"];
    if (!c.is_array() || c.empty())
      return Status::Invalid(where + ".concat: must be a non-empty list");
    out->has_concat = true;
    for (size_t i = 0; i < c.size(); ++i) {
      std::string at = where + ".concat[" + std::to_string(i) + "]";
      if (c[i].is_string()) {
        out->concat.emplace_back(c[i].get<std::string>());
      } else if (c[i].is_object()) {
        FieldSpec nested;
        if (auto st = ParseSpec(c[i], at, &nested); !st.ok()) return st;
        out->concat.emplace_back(std::move(nested));
      } else {
        return Status::Invalid(at + ": must be a literal string or a field table");
      }
    }
  }
  if (j.contains("transform")) {
    const auto& t = j["transform"];
    if (!t.is_array()) return Status::Invalid(where + ".transform: must be a list");
    for (size_t i = 0; i < t.size(); ++i) {
      std::string name = t[i].is_string() ? t[i].get<std::string>() : "";
      static const std::pair<const char*, Transform> kNames[] = {{"lower", Transform::kLower},
                                                                 {"upper", Transform::kUpper},
                                                                 {"trim", Transform::kTrim},
                                                                 {"slug", Transform::kSlug},
                                                                 {"date", Transform::kDate}};
      bool found = false;
      for (const auto& [n, tr] : kNames) {
        if (name == n) {
          out->transforms.push_back(tr);
          found = true;
        }
      }
      if (!found)
        return Status::Invalid(where + ".transform[" + std::to_string(i) +
                               "]: unknown transform \"" + Shown(name) +
                               "\" (known: lower, upper, trim, slug, date)");
    }
  }
  if (j.contains("lookup")) {
    if (!j["lookup"].is_object())
      return Status::Invalid(where + ".lookup: must be a table of value = replacement");
    out->lookup.emplace();
    for (const auto& [k, v] : j["lookup"].items()) (*out->lookup)[k] = v;
  }
  if (j.contains("lookup_default")) {
    if (!j.contains("lookup"))
      return Status::Invalid(where + ".lookup_default: only applies with lookup");
    out->lookup_default = j["lookup_default"];
  }
  if (j.contains("default")) out->default_value = j["default"];
  return Status::Ok();
}

Status ParseTargets(const json& j, const std::string& where, bool organization,
                    std::vector<std::pair<std::string, FieldSpec>>* out) {
  if (!j.is_object()) return Status::Invalid(where + ": must be a table");
  out->clear();
  for (const auto& [k, v] : j.items()) {
    bool known = organization ? (k == "external_id" || k == "name" || k == "display_name" ||
                                 IsMetadataTarget(k, "metadata"))
                              : (UserTargets().count(k) || IsMetadataTarget(k, "app_metadata") ||
                                 IsMetadataTarget(k, "user_metadata"));
    if (!known)
      return Status::Invalid(
          where + ": unknown target \"" + Shown(k) + "\" (known: " +
          (organization ? "external_id, name, display_name, metadata.KEY"
                        : "external_id, email, email_verified, name, given_name, family_name, "
                          "nickname, picture, app_metadata.KEY, user_metadata.KEY") +
          ")");
    FieldSpec spec;
    if (auto st = ParseSpec(v, where + "." + k, &spec); !st.ok()) return st;
    out->emplace_back(k, std::move(spec));
  }
  bool has_id =
      std::any_of(out->begin(), out->end(), [](const auto& p) { return p.first == "external_id"; });
  if (!has_id) return Status::Invalid(where + ".external_id: required");
  return Status::Ok();
}

std::string Slug(const std::string& s) {
  std::string out;
  bool dash = false;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_') {
      if (dash && !out.empty()) out.push_back('-');
      dash = false;
      out.push_back(static_cast<char>(std::tolower(c)));
    } else {
      dash = true;
    }
  }
  if (out.size() > 50) out.resize(50);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string TrimText(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A date field resolved to an instant: a date-only value is that day's start (or the next day's
// start for end_of_day) in the zone.
Result<std::optional<int64_t>> DateInstant(const std::optional<FieldSpec>& spec, const json& record,
                                           const TimeZone& zone, const std::string& where,
                                           bool end_of_day) {
  if (!spec) return std::optional<int64_t>();
  auto v = EvaluateField(*spec, record, zone, where);
  if (!v.ok()) return v.status();
  if (!*v) return std::optional<int64_t>();
  if (!(*v)->is_string()) return Status::Invalid(where + ": must be a date");
  std::string text = (*v)->get<std::string>();
  // BambooHR writes "0000-00-00" for an empty date.
  if (text.rfind("0000-00-00", 0) == 0) return std::optional<int64_t>();
  auto t = ParseVendorTime(text);
  if (!t.ok()) return Status::Invalid(where + ": " + t.status().message());
  if (t->date_only && end_of_day) t->local_ms += 86400000;
  return std::optional<int64_t>(ResolveVendorTime(*t, zone));
}

json Envelope(const char* type, int64_t ts_ms, json data) {
  return json{{"type", type}, {"timestamp", FormatRfc3339Ms(ts_ms)}, {"data", std::move(data)}};
}

}  // namespace

Result<std::optional<json>> EvaluateField(const FieldSpec& spec, const json& record,
                                          const TimeZone& zone, const std::string& where) {
  std::optional<json> v;
  if (spec.value) {
    v = *spec.value;
  } else if (spec.has_concat) {
    std::string text;
    bool complete = true;
    for (const auto& part : spec.concat) {
      if (const auto* lit = std::get_if<std::string>(&part)) {
        text += *lit;
        continue;
      }
      auto sub = EvaluateField(std::get<FieldSpec>(part), record, zone, where);
      if (!sub.ok()) return sub.status();
      if (!*sub) {
        complete = false;  // a name without its last part is worse than no name
        break;
      }
      text += ScalarText(**sub);
    }
    if (complete) v = text;
  } else {
    for (const auto& path : spec.paths) {
      const json* found = Walk(record, path);
      if (found && Present(*found)) {
        v = *found;
        break;
      }
    }
  }
  if (!v) {
    if (spec.default_value) return std::optional<json>(*spec.default_value);
    return std::optional<json>();
  }
  for (Transform t : spec.transforms) {
    if (!v->is_string()) {
      if (t == Transform::kDate || v->is_object() || v->is_array())
        return Status::Invalid(where + ": transform needs a string value");
      *v = ScalarText(*v);
    }
    std::string s = v->get<std::string>();
    switch (t) {
      case Transform::kLower:
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        break;
      case Transform::kUpper:
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        break;
      case Transform::kTrim:
        s = TrimText(s);
        break;
      case Transform::kSlug:
        s = Slug(s);
        break;
      case Transform::kDate: {
        auto parsed = ParseVendorTime(TrimText(s));
        if (!parsed.ok()) return Status::Invalid(where + ": " + parsed.status().message());
        s = FormatRfc3339Ms(ResolveVendorTime(*parsed, zone));
        break;
      }
    }
    *v = s;
  }
  if (spec.lookup) {
    std::string key = ScalarText(*v);
    auto it = spec.lookup->find(key);
    if (it != spec.lookup->end()) {
      *v = it->second;
    } else if (spec.lookup_default) {
      *v = *spec.lookup_default;
    } else {
      return Status::Invalid(where + ": \"" + Shown(key) +
                             "\" is not in the lookup table and there is no lookup_default");
    }
    if (v->is_null()) return std::optional<json>();
  }
  return std::optional<json>(std::move(*v));
}

json DefaultMappingTable(Vendor v) {
  switch (v) {
    case Vendor::kBambooHr:
      // Event-based fetches use field names; field-based payloads use the names shown in
      // BambooHR ("Work Email"), hence both in each fallback list.
      return json::parse(R"({
        "time_zone": "UTC",
        "user": {
          "external_id": "id",
          "email": {"path": ["workEmail", "Work Email", "homeEmail", "Home Email"],
                    "transform": ["trim", "lower"]},
          "given_name": ["preferredName", "Preferred Name", "firstName", "First Name"],
          "family_name": ["lastName", "Last Name"],
          "name": {"concat": [{"path": ["preferredName", "firstName", "First Name"]}, " ",
                              {"path": ["lastName", "Last Name"]}]},
          "app_metadata.department": ["department", "Department"],
          "app_metadata.job_title": ["jobTitle", "Job Title"]
        },
        "left": {
          "status": ["status", "Status"],
          "left_values": ["Inactive"],
          "termination_date": ["terminationDate", "Termination Date"],
          "at": "end_of_day",
          "returned_on_change": ["status", "Status", "employmentHistoryStatus"],
          "hire_date": ["hireDate", "Hire Date"]
        }
      })");
    case Vendor::kHiBob:
      return json::parse(R"({
        "time_zone": "UTC",
        "user": {
          "external_id": "id",
          "email": {"path": ["email", "root.email"], "transform": ["trim", "lower"]},
          "given_name": ["firstName", "root.firstName"],
          "family_name": ["surname", "root.surname"],
          "name": ["displayName", "root.displayName"],
          "app_metadata.department": ["work.department"],
          "app_metadata.job_title": ["work.title"]
        },
        "left": {
          "status": ["internal.status"],
          "left_values": ["Inactive", "Terminated"],
          "termination_date": ["internal.terminationDate"],
          "at": "end_of_day",
          "returned_on_change": ["internal.status", "internal.lifecycleStatus"],
          "hire_date": ["work.startDate"]
        }
      })");
    case Vendor::kPersonio:
      return json::parse(R"({
        "time_zone": "UTC",
        "user": {
          "external_id": "id",
          "email": {"path": ["email"], "transform": ["trim", "lower"]},
          "given_name": ["preferred_name", "first_name"],
          "family_name": ["last_name"],
          "name": {"concat": [{"path": ["preferred_name", "first_name"]}, " ",
                              {"path": "last_name"}]}
        },
        "left": {
          "status": ["status", "employments.0.status"],
          "left_values": ["INACTIVE", "TERMINATED", "inactive", "terminated"],
          "termination_date": ["employments.0.termination_date", "termination_date"],
          "at": "end_of_day",
          "returned_on_change": ["status"],
          "hire_date": ["employments.0.start_date", "hire_date"]
        }
      })");
    case Vendor::kHubSpot:
      return json::parse(R"({
        "time_zone": "UTC",
        "user": {
          "external_id": "id",
          "email": {"path": ["properties.email", "email"], "transform": ["trim", "lower"]},
          "given_name": ["properties.firstname", "firstname"],
          "family_name": ["properties.lastname", "lastname"]
        },
        "organizations": {
          "external_id": "associations.companies.results.0.id"
        },
        "organization": {
          "external_id": "id",
          "name": {"path": ["properties.domain", "properties.name"], "transform": ["slug"]},
          "display_name": ["properties.name", "properties.domain"]
        }
      })");
  }
  return json::object();
}

Result<Mapping> ParseMapping(Vendor vendor, const json& table, const std::string& zoneinfo_dir) {
  if (!table.is_null() && !table.is_object()) return Status::Invalid("mapping: must be a table");
  json merged = DefaultMappingTable(vendor);
  if (table.is_object()) {
    for (const auto& [k, v] : table.items()) {
      static const std::set<std::string> kTop = {"time_zone", "user", "organizations",
                                                 "organization", "left"};
      if (!kTop.count(k))
        return Status::Invalid("mapping: unknown key \"" + Shown(k) +
                               "\" (known: time_zone, user, organizations, organization, left)");
      merged[k] = v;
    }
  }
  Mapping m;
  m.vendor = vendor;
  if (merged.contains("time_zone")) {
    if (!merged["time_zone"].is_string())
      return Status::Invalid("mapping.time_zone: must be a string such as \"Europe/Berlin\"");
    auto zone = TimeZone::Load(merged["time_zone"].get<std::string>(), zoneinfo_dir);
    if (!zone.ok()) return Status::Invalid("mapping.time_zone: " + zone.status().message());
    m.zone = std::move(*zone);
  }
  if (merged.contains("user"))
    if (auto st = ParseTargets(merged["user"], "mapping.user", false, &m.user); !st.ok()) return st;
  if (merged.contains("organization"))
    if (auto st =
            ParseTargets(merged["organization"], "mapping.organization", true, &m.organization);
        !st.ok())
      return st;
  if (merged.contains("organizations")) {
    const auto& o = merged["organizations"];
    if (!o.is_object()) return Status::Invalid("mapping.organizations: must be a table");
    for (const auto& [k, v] : o.items()) {
      if (k != "external_id" && k != "roles")
        return Status::Invalid("mapping.organizations: unknown key \"" + Shown(k) +
                               "\" (known: external_id, roles)");
    }
    if (!o.contains("external_id"))
      return Status::Invalid("mapping.organizations.external_id: required");
    FieldSpec spec;
    if (auto st = ParseSpec(o["external_id"], "mapping.organizations.external_id", &spec); !st.ok())
      return st;
    m.membership_org = std::move(spec);
    if (o.contains("roles")) {
      if (!o["roles"].is_array())
        return Status::Invalid("mapping.organizations.roles: must be a list of role names");
      for (const auto& r : o["roles"]) {
        if (!r.is_string() || r.get<std::string>().empty() || r.get<std::string>().size() > 50)
          return Status::Invalid(
              "mapping.organizations.roles: each role must be a name of 1 to 50 characters");
        m.membership_roles.push_back(r.get<std::string>());
      }
    }
  }
  if (merged.contains("left")) {
    const auto& l = merged["left"];
    if (!l.is_object()) return Status::Invalid("mapping.left: must be a table");
    static const std::set<std::string> kKeys = {"status", "left_values",        "termination_date",
                                                "at",     "returned_on_change", "hire_date"};
    for (const auto& [k, v] : l.items()) {
      if (!kKeys.count(k))
        return Status::Invalid("mapping.left: unknown key \"" + Shown(k) +
                               "\" (known: status, left_values, termination_date, at, "
                               "returned_on_change, hire_date)");
    }
    auto spec = [&](const char* key, std::optional<FieldSpec>* out) -> Status {
      if (!l.contains(key)) return Status::Ok();
      FieldSpec s;
      if (auto st = ParseSpec(l[key], std::string("mapping.left.") + key, &s); !st.ok()) return st;
      *out = std::move(s);
      return Status::Ok();
    };
    auto strings = [&](const char* key, std::vector<std::string>* out) -> Status {
      if (!l.contains(key)) return Status::Ok();
      if (!l[key].is_array())
        return Status::Invalid(std::string("mapping.left.") + key + ": must be a list of strings");
      for (const auto& v : l[key]) {
        if (!v.is_string())
          return Status::Invalid(std::string("mapping.left.") + key +
                                 ": must be a list of strings");
        out->push_back(v.get<std::string>());
      }
      return Status::Ok();
    };
    for (auto st : {spec("status", &m.status), spec("termination_date", &m.termination_date),
                    spec("hire_date", &m.hire_date), strings("left_values", &m.left_values),
                    strings("returned_on_change", &m.returned_on_change)})
      if (!st.ok()) return st;
    if (m.status && m.left_values.empty())
      return Status::Invalid("mapping.left.left_values: required with mapping.left.status");
    if (l.contains("at")) {
      std::string at = l["at"].is_string() ? l["at"].get<std::string>() : "";
      if (at == "start_of_day") {
        m.termination_at = TerminationAt::kStartOfDay;
      } else if (at == "end_of_day") {
        m.termination_at = TerminationAt::kEndOfDay;
      } else {
        return Status::Invalid("mapping.left.at: must be \"start_of_day\" or \"end_of_day\"");
      }
    }
  }
  return m;
}

Result<std::vector<MappedEvent>> MapNotification(const Mapping& m, const VendorNotification& n,
                                                 const json& fetched, int64_t now_ms) {
  std::vector<MappedEvent> out;
  if (n.action == NotificationAction::kIgnored) return out;
  const int64_t ts = n.occurred_at_ms > 0 ? n.occurred_at_ms : now_ms;
  const bool deleted = n.action == NotificationAction::kDeleted;
  if (!deleted && n.needs_fetch && !fetched.is_object())
    return Status::Invalid("record not fetched: " + n.vendor_event + " needs the " +
                           (n.object == ObjectKind::kPerson ? "person's" : "company's") +
                           " record from the vendor's API");
  // The record: fetched values first, then what the payload carried, then the vendor's id.
  json record = fetched.is_object() ? fetched : json::object();
  if (n.inline_record.is_object()) {
    for (const auto& [k, v] : n.inline_record.items())
      if (!record.contains(k)) record[k] = v;
  }
  if (!record.contains("id")) record["id"] = n.object_id;

  auto add = [&](const char* type, json data) -> Status {
    json body = Envelope(type, ts, std::move(data));
    auto parsed = ParseEvent(body);
    if (!parsed.ok())
      return Status::Invalid("the mapping produced an invalid " + std::string(type) + ": " +
                             parsed.status().message());
    MappedEvent e;
    e.id_suffix = out.empty() ? "" : std::string("/") + type;
    e.body = std::move(body);
    out.push_back(std::move(e));
    return Status::Ok();
  };
  auto external_id = [&](const std::vector<std::pair<std::string, FieldSpec>>& targets,
                         const char* section) -> Result<std::string> {
    for (const auto& [t, spec] : targets) {
      if (t != "external_id") continue;
      std::string where = std::string(section) + ".external_id";
      auto v = EvaluateField(spec, record, m.zone, where);
      if (!v.ok()) return v.status();
      if (!*v) {
        std::string paths;
        for (const auto& p : spec.path_texts) paths += (paths.empty() ? "" : ", ") + p;
        return Status::Invalid(where + ": no value (paths: " +
                               (paths.empty() ? std::string("concat/value") : paths) + ")");
      }
      return ScalarText(**v);
    }
    return Status::Invalid(std::string(section) + ".external_id: not mapped");
  };

  if (n.object == ObjectKind::kCompany) {
    if (m.organization.empty())
      return Status::Invalid("organization: this mapping has no [organization] section");
    auto id = external_id(m.organization, "organization");
    if (!id.ok()) return id.status();
    if (deleted) {
      if (auto st = add("organization.deleted", json{{"external_id", *id}}); !st.ok()) return st;
      return out;
    }
    json data = {{"external_id", *id}};
    for (const auto& [t, spec] : m.organization) {
      if (t == "external_id") continue;
      auto v = EvaluateField(spec, record, m.zone, "organization." + t);
      if (!v.ok()) return v.status();
      if (!*v) continue;
      if (IsMetadataTarget(t, "metadata")) {
        data["metadata"][t.substr(9)] = ScalarText(**v);
      } else {
        data[t] = **v;
      }
    }
    if (auto st = add("organization.upserted", std::move(data)); !st.ok()) return st;
    return out;
  }

  auto id = external_id(m.user, "user");
  if (!id.ok()) return id.status();
  if (deleted) {
    // Deleted at the vendor: access ends through on_leave, never a hard delete (SPEC §5
    // user.deleted stays an explicit operator decision).
    if (auto st = add("user.left", json{{"external_id", *id}}); !st.ok()) return st;
    return out;
  }

  json data = {{"external_id", *id}};
  for (const auto& [t, spec] : m.user) {
    if (t == "external_id") continue;
    auto v = EvaluateField(spec, record, m.zone, "user." + t);
    if (!v.ok()) return v.status();
    if (!*v) continue;
    if (IsMetadataTarget(t, "app_metadata")) {
      data["app_metadata"][t.substr(13)] = **v;
    } else if (IsMetadataTarget(t, "user_metadata")) {
      data["user_metadata"][t.substr(14)] = **v;
    } else if (t == "email_verified") {
      const json& b = **v;
      data[t] = b.is_boolean() ? b.get<bool>() : (ScalarText(b) == "true");
    } else {
      data[t] = (*v)->is_string() ? **v : json(ScalarText(**v));
    }
  }
  if (m.membership_org) {
    auto org = EvaluateField(*m.membership_org, record, m.zone, "organizations.external_id");
    if (!org.ok()) return org.status();
    if (*org) {
      json membership = {{"external_id", ScalarText(**org)}};
      if (!m.membership_roles.empty()) membership["roles"] = m.membership_roles;
      data["organizations"] = json::array({membership});
    }
  }

  // Status and dates.
  std::optional<std::string> status;
  if (m.status) {
    auto v = EvaluateField(*m.status, record, m.zone, "left.status");
    if (!v.ok()) return v.status();
    if (*v) status = ScalarText(**v);
  }
  const bool status_left = status && std::find(m.left_values.begin(), m.left_values.end(),
                                               *status) != m.left_values.end();
  auto term = DateInstant(m.termination_date, record, m.zone, "left.termination_date",
                          m.termination_at == TerminationAt::kEndOfDay);
  if (!term.ok()) return term.status();
  auto hire = DateInstant(m.hire_date, record, m.zone, "left.hire_date", false);
  if (!hire.ok()) return hire.status();

  const bool vendor_left =
      n.action == NotificationAction::kLeft || n.action == NotificationAction::kInactivated;
  const bool vendor_returned = n.action == NotificationAction::kJoined ||
                               n.action == NotificationAction::kActivated ||
                               n.action == NotificationAction::kRestored;
  // A status change means a return only for a person who existed before: a creation lists its
  // initial fields as changed (BambooHR sends created, then updated).
  bool status_changed = false;
  for (const auto& f :
       n.action == NotificationAction::kCreated ? std::vector<std::string>{} : n.changed_fields) {
    if (std::find(m.returned_on_change.begin(), m.returned_on_change.end(), f) !=
        m.returned_on_change.end())
      status_changed = true;
  }
  // A termination date older than the latest (re)hire belongs to an earlier employment.
  bool has_termination = term->has_value();
  const int64_t termination_ms = term->value_or(0);
  if (has_termination && *hire && **hire > termination_ms) has_termination = false;

  if (*hire && **hire > ts && n.action == NotificationAction::kCreated)
    data["effective_at"] = FormatRfc3339Ms(**hire);
  if (auto st = add("user.upserted", data); !st.ok()) return st;

  if (status_left || vendor_left || (has_termination && !vendor_returned)) {
    json left = {{"external_id", *id}};
    // When: the termination date if known; a vendor "left" event fires on the effective date
    // itself (HiBob at midnight in the site's zone, Personio on the day), so then it is now.
    const int64_t when = has_termination ? termination_ms : ts;
    if (when > ts) left["effective_at"] = FormatRfc3339Ms(when);
    if (auto st = add("user.left", std::move(left)); !st.ok()) return st;
  } else if (vendor_returned || (status_changed && status && !status_left)) {
    if (auto st = add("user.returned", json{{"external_id", *id}}); !st.ok()) return st;
  }
  return out;
}

}  // namespace tenantsync
