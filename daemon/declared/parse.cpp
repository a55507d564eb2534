// Reading and validating declared files. The rules themselves are ingress's (ParseEvent): every
// field is checked by handing ParseEvent a synthetic event, so a file and a webhook can never
// disagree about what is valid. This file only adds what a file needs on top: locations, all
// problems at once, required fields of a complete declaration, duplicates across files.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "adapters/events/event.h"
#include "daemon/declared/declared.h"
#include "daemon/declared/deploy_cli.h"
#include "daemon/declared/yaml_tree.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;

constexpr std::string_view kOrgKeys[] = {"external_id", "name",        "display_name", "metadata",
                                         "branding",    "connections", "callback_urls"};
constexpr std::string_view kUserKeys[] = {"external_id",   "email",       "name",
                                          "given_name",    "family_name", "app_metadata",
                                          "user_metadata", "blocked",     "organizations"};
// Any valid envelope timestamp: validation does not depend on it.
constexpr const char* kCheckTimestamp = "2000-01-01T00:00:00Z";

std::string Join(const std::string_view* begin, const std::string_view* end) {
  std::string out;
  for (auto it = begin; it != end; ++it) {
    if (!out.empty()) out += ", ";
    out += *it;
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string QuoteText(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- JSON locations ----
//
// nlohmann::json (3.11) keeps no positions, so the (already validated) text is walked once more
// to note the line of every value and to find duplicate keys, which the parser merges silently.
class JsonLineScanner {
 public:
  JsonLineScanner(std::string_view text, LocatedDocument* doc, std::vector<TreeProblem>* problems)
      : t_(text), doc_(doc), problems_(problems) {}

  void Run() { Value(""); }

 private:
  void Ws() {
    while (i_ < t_.size() &&
           (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\r' || t_[i_] == '\n')) {
      if (t_[i_] == '\n') ++line_;
      ++i_;
    }
  }

  std::string String() {  // at '"'; returns the decoded string
    const size_t start = i_++;
    bool escaped = false;
    while (i_ < t_.size() && t_[i_] != '"') {
      if (t_[i_] == '\\') {
        escaped = true;
        ++i_;
      }
      ++i_;
    }
    ++i_;  // closing quote
    const std::string_view raw = t_.substr(start, i_ - start);
    if (!escaped) return std::string(raw.substr(1, raw.size() - 2));
    json decoded = json::parse(raw, nullptr, /*allow_exceptions=*/false);
    return decoded.is_string() ? decoded.get<std::string>() : std::string(raw);
  }

  void Value(const std::string& pointer) {
    Ws();
    if (i_ >= t_.size()) return;
    doc_->lines[pointer] = line_;
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      std::set<std::string> seen;
      for (;;) {
        Ws();
        if (i_ >= t_.size() || t_[i_] == '}') break;
        if (t_[i_] == ',') {
          ++i_;
          continue;
        }
        const int key_line = line_;
        const std::string key = String();
        const std::string child = PointerChild(pointer, key);
        if (!seen.insert(key).second) {
          problems_->push_back({key_line, child, "duplicate key " + QuoteText(key)});
        }
        Ws();
        if (i_ < t_.size() && t_[i_] == ':') ++i_;
        Value(child);
        doc_->lines[child] = key_line;
      }
      ++i_;
    } else if (c == '[') {
      ++i_;
      size_t index = 0;
      for (;;) {
        Ws();
        if (i_ >= t_.size() || t_[i_] == ']') break;
        if (t_[i_] == ',') {
          ++i_;
          continue;
        }
        Value(PointerIndex(pointer, index++));
      }
      ++i_;
    } else if (c == '"') {
      String();
    } else {
      while (i_ < t_.size() && std::string_view(",]} \t\r\n").find(t_[i_]) == std::string::npos)
        ++i_;
    }
  }

  std::string_view t_;
  LocatedDocument* doc_;
  std::vector<TreeProblem>* problems_;
  size_t i_ = 0;
  int line_ = 1;
};

bool LoadJson(std::string_view text, LocatedDocument* out, std::vector<TreeProblem>* problems) {
  Result<json> parsed = ParseJson(text);
  if (!parsed.ok()) {
    // "body is not valid JSON: parse error at line 3, column 5: ..." → line 3, and the
    // wording of a file ("not valid JSON: ...", like "not valid YAML: ...").
    std::string message = parsed.status().message();
    if (message.rfind("body is ", 0) == 0) message = message.substr(8);
    int line = 0;
    if (size_t at = message.find("at line "); at != std::string::npos) {
      line = std::atoi(message.c_str() + at + 8);
    }
    problems->push_back({line, "", std::move(message)});
    return false;
  }
  out->value = std::move(parsed).value();
  out->lines.clear();
  JsonLineScanner(text, out, problems).Run();
  return true;
}

// ---- validation ----

struct Seen {
  std::string file;
  int line;
};

struct Validator {
  std::string file;
  const LocatedDocument* doc;
  std::vector<Problem>* problems;
  std::map<std::string, Seen>* org_ids;
  std::map<std::string, Seen>* org_names;
  std::map<std::string, Seen>* user_ids;
  DeclaredState* state;

  int LineOf(std::string pointer) const {
    for (;;) {
      if (auto it = doc->lines.find(pointer); it != doc->lines.end()) return it->second;
      if (pointer.empty()) return 0;
      pointer.resize(pointer.rfind('/'));
    }
  }

  void Report(const std::string& pointer, const std::string& field, std::string message) {
    problems->push_back(Problem{file, LineOf(pointer), field, std::move(message)});
  }

  // Maps a ParseEvent message "data.metadata[\"a b\"]: reason" onto the entity at
  // (pointer, field) and reports it with the right line.
  void ReportIngress(const std::string& pointer, const std::string& field,
                     const std::string& message) {
    std::string ptr = pointer, display = field;
    size_t i = 0;
    if (message.rfind("data", 0) == 0) {
      i = 4;
      while (i < message.size() && message[i] != ':') {
        if (message[i] == '.') {
          size_t j = i + 1;
          while (j < message.size() && message[j] != '.' && message[j] != '[' && message[j] != ':')
            ++j;
          const std::string key = message.substr(i + 1, j - i - 1);
          ptr = PointerChild(ptr, key);
          display += "." + key;
          i = j;
        } else if (message[i] == '[' && i + 1 < message.size() && message[i + 1] == '"') {
          size_t j = i + 2;
          while (j < message.size() && message[j] != '"') j += message[j] == '\\' ? 2 : 1;
          const std::string literal = message.substr(i + 1, j - i);
          json key = json::parse(literal, nullptr, false);
          ptr = PointerChild(ptr, key.is_string() ? key.get<std::string>() : literal);
          display += "[" + literal + "]";
          i = j + 2;  // past '"]'
        } else if (message[i] == '[') {
          const size_t close = message.find(']', i);
          if (close == std::string::npos) break;
          ptr = PointerIndex(ptr, std::strtoul(message.c_str() + i + 1, nullptr, 10));
          display += message.substr(i, close - i + 1);
          i = close + 1;
        } else {
          break;
        }
      }
      if (message.compare(i, 2, ": ") == 0) {
        Report(ptr, display, message.substr(i + 2));
        return;
      }
      i = 0;  // not a path after all
    }
    Report(pointer, field, message);
  }

  // Ingress validation of `data` as an event of `type`; reports and returns false on failure.
  bool Ingress(EventType type, const json& data, const std::string& pointer,
               const std::string& field) {
    json body = {{"type", EventTypeName(type)}, {"timestamp", kCheckTimestamp}, {"data", data}};
    Result<ParsedEvent> parsed = ParseEvent(body);
    if (parsed.ok()) return true;
    ReportIngress(pointer, field, parsed.status().message());
    return false;
  }

  // Unknown keys, then every known field on its own (so one bad field does not hide the next),
  // then the whole entity (rules over several fields, e.g. the 10 KB profile).
  bool CheckEntity(EventType type, const json& e, const std::string& pointer,
                   const std::string& field, const std::string_view* keys_begin,
                   const std::string_view* keys_end, std::initializer_list<const char*> required,
                   json* data) {
    bool ok = true;
    *data = json::object();
    for (const auto& [key, value] : e.items()) {
      if (key == "auth0_id") {  // written by `tenantsync export`; read-only, never compared
        if (!value.is_string() && !value.is_null()) {
          Report(PointerChild(pointer, key), field + "." + key,
                 "must be a string (the Auth0 id `tenantsync export` writes; apply ignores it)");
          ok = false;
        }
        continue;
      }
      if (std::find(keys_begin, keys_end, key) == keys_end) {
        std::string message;
        if (key == "password") {
          message =
              "password is not accepted: tenantsync never sets passwords; a user chooses it "
              "through the change-password link (user.password_reset_requested)";
        } else {
          message = "unknown key " + QuoteText(key);
          std::string_view best;
          size_t best_distance = 3;
          for (auto it = keys_begin; it != keys_end; ++it) {
            if (size_t d = EditDistance(key, *it); d < best_distance) {
              best_distance = d;
              best = *it;
            }
          }
          if (!best.empty()) message += " (did you mean " + std::string(best) + "?)";
          message += "; allowed: " + Join(keys_begin, keys_end);
        }
        Report(PointerChild(pointer, key), field + "." + key, std::move(message));
        ok = false;
        continue;
      }
      if (key != "blocked") (*data)[key] = value;
    }
    for (const char* key : required) {
      // A null email passes ingress (it clears the field) but a declared user needs one; a null
      // external_id or name is refused by ingress itself, so it is not reported twice.
      auto it = e.find(key);
      if (it == e.end() || (it->is_null() && std::string_view(key) == "email")) {
        Report(pointer, field + "." + key, "required");
        ok = false;
      }
    }
    // Fast path: the whole entity at once, which is what nearly every entity of a good file
    // needs; field by field only to collect every problem of a bad one.
    json whole = *data;
    if (!whole.contains("external_id")) whole["external_id"] = "placeholder";
    if (type == EventType::kUserUpserted) {
      // A create carries every field, absent ones as null/[]/{} (DiffDeclared): the size limit
      // applies to that event, so measure it.
      for (const char* key : {"name", "given_name", "family_name"}) {
        if (!whole.contains(key)) whole[key] = nullptr;
      }
      for (const char* key : {"app_metadata", "user_metadata"}) {
        if (!whole.contains(key)) whole[key] = json::object();
      }
      if (!whole.contains("organizations")) whole["organizations"] = json::array();
    }
    json probe = {{"type", EventTypeName(type)}, {"timestamp", kCheckTimestamp}, {"data", whole}};
    if (ParseEvent(probe).ok()) return ok;
    const bool id_ok = data->contains("external_id") &&
                       Ingress(type, json{{"external_id", (*data)["external_id"]}}, pointer, field);
    const json id = id_ok ? (*data)["external_id"] : json("placeholder");
    bool fields_ok = id_ok || !data->contains("external_id");
    for (const auto& [key, value] : data->items()) {
      if (key == "external_id") continue;
      fields_ok &= Ingress(type, json{{"external_id", id}, {key, value}}, pointer, field);
    }
    if (fields_ok) Ingress(type, whole, pointer, field);  // rules over several fields
    return false;
  }

  void CheckDuplicate(std::map<std::string, Seen>* seen, const std::string& value,
                      const std::string& pointer, const std::string& field, const char* what) {
    const int line = LineOf(pointer);
    auto [it, inserted] = seen->emplace(value, Seen{file, line});
    if (inserted) return;
    std::string first = it->second.file;
    if (it->second.line > 0) first += ":" + std::to_string(it->second.line);
    Report(pointer, field,
           std::string("duplicate ") + what + " " + QuoteText(value) + " (first declared at " +
               first + ")");
  }

  static std::optional<std::string> OptString(const json& data, const char* key) {
    auto it = data.find(key);
    if (it == data.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  }

  void Organization(const json& e, const std::string& pointer, const std::string& field) {
    if (!e.is_object()) {
      Report(pointer, field, "must be a mapping with external_id, name, ...");
      return;
    }
    json data;
    if (!CheckEntity(EventType::kOrganizationUpserted, e, pointer, field, std::begin(kOrgKeys),
                     std::end(kOrgKeys), {"external_id", "name"}, &data)) {
      return;
    }
    declared::Organization org;
    org.external_id = data["external_id"].get<std::string>();
    org.name = data["name"].get<std::string>();
    org.display_name = OptString(data, "display_name");
    if (auto it = data.find("metadata"); it != data.end()) {
      for (const auto& [k, v] : it->items()) {
        if (v.is_string()) org.metadata[k] = v.get<std::string>();  // null: not declared
      }
    }
    if (auto it = data.find("branding"); it != data.end()) {
      org.branding.logo_url = OptString(*it, "logo_url");
      if (auto c = it->find("colors"); c != it->end() && c->is_object()) {
        org.branding.colors = BrandingColors{(*c)["primary"].get<std::string>(),
                                             (*c)["page_background"].get<std::string>()};
      }
    }
    if (auto it = data.find("connections"); it != data.end()) {
      for (const auto& c : *it) {
        OrgConnection conn;
        conn.name = c["name"].get<std::string>();
        if (auto f = c.find("assign_membership_on_login"); f != c.end() && f->is_boolean())
          conn.assign_membership_on_login = f->get<bool>();
        if (auto f = c.find("show_as_button"); f != c.end() && f->is_boolean())
          conn.show_as_button = f->get<bool>();
        org.connections.push_back(std::move(conn));
      }
    }
    if (auto it = data.find("callback_urls"); it != data.end()) {
      for (const auto& u : *it) org.callback_urls.push_back(u.get<std::string>());
    }
    CheckDuplicate(org_ids, org.external_id, PointerChild(pointer, "external_id"),
                   field + ".external_id", "organization");
    CheckDuplicate(org_names, org.name, PointerChild(pointer, "name"), field + ".name",
                   "organization name");
    org.where = {file, LineOf(pointer)};
    state->organizations.push_back(std::move(org));
  }

  void User(const json& e, const std::string& pointer, const std::string& field) {
    if (!e.is_object()) {
      Report(pointer, field, "must be a mapping with external_id, email, ...");
      return;
    }
    bool ok = true;
    if (auto it = e.find("blocked"); it != e.end() && !it->is_boolean()) {
      Report(PointerChild(pointer, "blocked"), field + ".blocked", "must be true or false");
      ok = false;
    }
    json data;
    ok &= CheckEntity(EventType::kUserUpserted, e, pointer, field, std::begin(kUserKeys),
                      std::end(kUserKeys), {"external_id", "email"}, &data);
    if (!ok) return;
    declared::User user;
    user.external_id = data["external_id"].get<std::string>();
    user.email = OptString(data, "email");
    user.name = OptString(data, "name");
    user.given_name = OptString(data, "given_name");
    user.family_name = OptString(data, "family_name");
    for (auto [key, target] : {std::pair{"app_metadata", &user.app_metadata},
                               std::pair{"user_metadata", &user.user_metadata}}) {
      if (auto it = data.find(key); it != data.end()) {
        for (const auto& [k, v] : it->items()) {
          if (!v.is_null()) (*target)[k] = v;  // null: not declared
        }
      }
    }
    if (auto it = e.find("blocked"); it != e.end()) user.blocked = it->get<bool>();
    if (auto it = data.find("organizations"); it != data.end()) {
      for (const auto& m : *it) {
        Membership membership;
        membership.org_external_id = m["external_id"].get<std::string>();
        if (auto r = m.find("roles"); r != m.end()) {
          for (const auto& role : *r) membership.roles.push_back(role.get<std::string>());
        }
        user.organizations.push_back(std::move(membership));
      }
    }
    CheckDuplicate(user_ids, user.external_id, PointerChild(pointer, "external_id"),
                   field + ".external_id", "user");
    user.where = {file, LineOf(pointer)};
    state->users.push_back(std::move(user));
  }

  void Document() {
    const json& root = doc->value;
    if (root.is_null()) return;  // an empty file declares nothing
    if (!root.is_object()) {
      Report("", "", "must be a mapping with `organizations` and/or `users`");
      return;
    }
    for (const auto& [key, value] : root.items()) {
      const std::string pointer = PointerChild("", key);
      if (key != "organizations" && key != "users") {
        Report(pointer, key, "unknown key " + QuoteText(key) + "; allowed: organizations, users");
        continue;
      }
      if (value.is_null()) continue;
      if (!value.is_array()) {
        Report(pointer, key, "must be a list");
        continue;
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const std::string item = PointerIndex(pointer, i);
        const std::string field = key + "[" + std::to_string(i) + "]";
        if (key == "organizations") {
          Organization(value[i], item, field);
        } else {
          User(value[i], item, field);
        }
      }
    }
  }
};

struct Context {
  std::vector<Problem> problems;
  std::vector<Problem> warnings;  // things read but ignored (the Deploy CLI layout)
  std::map<std::string, Seen> org_ids, org_names, user_ids;
  DeclaredState state;
};

// "/organizations/3/name" → "organizations[3].name".
std::string FieldOf(const std::string& pointer) {
  std::string field;
  for (size_t i = 1; i <= pointer.size() && !pointer.empty();) {
    size_t j = pointer.find('/', i);
    if (j == std::string::npos) j = pointer.size();
    std::string seg = pointer.substr(i, j - i);
    const bool index = !seg.empty() && std::all_of(seg.begin(), seg.end(), ::isdigit);
    field += index ? "[" + seg + "]" : (field.empty() ? "" : ".") + seg;
    i = j + 1;
  }
  return field;
}

void ParseInto(Context& ctx, std::string_view text, const std::string& file, FileFormat format) {
  const size_t first = ctx.problems.size();
  LocatedDocument doc;
  std::vector<TreeProblem> tree_problems;
  bool loaded = false;
  if (auto bad = FindInvalidUtf8(text)) {
    ctx.problems.push_back({file, 0, "",
                            "not valid UTF-8 (byte at offset " + std::to_string(*bad) +
                                "); declared files must be UTF-8"});
  } else if (format == FileFormat::kJson) {
    loaded = LoadJson(text, &doc, &tree_problems);
  } else {
    loaded = LoadYaml(text, &doc, &tree_problems);
  }
  Validator v{file, &doc, &ctx.problems, &ctx.org_ids, &ctx.org_names, &ctx.user_ids, &ctx.state};
  if (loaded && IsDeployCliDocument(doc.value)) {
    const size_t first_warning = ctx.warnings.size();
    std::vector<LayoutNote> notes;
    ConvertDeployCli(&doc.value, &notes);
    for (auto& n : notes) {
      if (n.error) {
        tree_problems.push_back({v.LineOf(n.pointer), n.pointer, std::move(n.message)});
      } else {
        ctx.warnings.push_back({file, v.LineOf(n.pointer), FieldOf(n.pointer), n.message});
      }
    }
    std::stable_sort(ctx.warnings.begin() + static_cast<std::ptrdiff_t>(first_warning),
                     ctx.warnings.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
  }
  for (auto& p : tree_problems) {
    // A pointer "/organizations/3/name" reads better as organizations[3].name.
    ctx.problems.push_back({file, p.line, FieldOf(p.pointer), p.message});
  }
  if (loaded) v.Document();
  // Reported in file order, whichever check found them.
  std::stable_sort(ctx.problems.begin() + static_cast<std::ptrdiff_t>(first), ctx.problems.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<FileFormat> FormatOf(const std::filesystem::path& path) {
  const std::string ext = Lower(path.extension().string());
  if (ext == ".yaml" || ext == ".yml") return FileFormat::kYaml;
  if (ext == ".json") return FileFormat::kJson;
  return std::nullopt;
}

void ReadFile(Context& ctx, const std::filesystem::path& path, FileFormat format) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in.good() && !in.eof()) {
    ctx.problems.push_back({path.string(), 0, "", "cannot be read"});
    return;
  }
  ParseInto(ctx, buffer.str(), path.string(), format);
}

Result<DeclaredState> Finish(Context& ctx, std::vector<Problem>* problems,
                             std::vector<Problem>* warnings) {
  if (problems != nullptr) *problems = ctx.problems;
  if (warnings != nullptr) *warnings = ctx.warnings;
  if (!ctx.problems.empty()) {
    std::string message;
    for (const auto& p : ctx.problems) {
      if (!message.empty()) message += "\n";
      message += p.ToString();
    }
    return Status::Invalid(std::move(message));
  }
  Canonicalize(ctx.state);
  return std::move(ctx.state);
}

}  // namespace

std::string Problem::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!field.empty()) out += field + ": ";
  return out + message;
}

Result<DeclaredState> ParseDeclaredText(std::string_view text, std::string_view file_name,
                                        FileFormat format, std::vector<Problem>* problems,
                                        std::vector<Problem>* warnings) {
  Context ctx;
  try {
    ParseInto(ctx, text, std::string(file_name), format);
  } catch (const std::exception& e) {  // last line of defence: nothing escapes the module
    ctx.problems.push_back(
        {std::string(file_name), 0, "", std::string("internal error: ") + e.what()});
  }
  return Finish(ctx, problems, warnings);
}

Result<DeclaredState> ParseDeclared(const std::vector<std::string>& paths,
                                    std::vector<Problem>* problems,
                                    std::vector<Problem>* warnings) {
  namespace fs = std::filesystem;
  Context ctx;
  try {
    if (paths.empty()) ctx.problems.push_back({"", 0, "", "no file or directory given"});
    for (const std::string& p : paths) {
      std::error_code ec;
      const fs::path path(p);
      const fs::file_status st = fs::status(path, ec);
      if (ec || !fs::exists(st)) {
        ctx.problems.push_back({p, 0, "", "no such file or directory"});
      } else if (fs::is_directory(st)) {
        // Name order (byte-wise), so a repository controls the merge order with its file names.
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(path, ec)) {
          const std::string name = entry.path().filename().string();
          if (name.empty() || name[0] == '.' || !entry.is_regular_file(ec)) continue;
          if (FormatOf(entry.path())) files.push_back(entry.path());
        }
        if (ec) ctx.problems.push_back({p, 0, "", "cannot be listed: " + ec.message()});
        std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
          return a.filename().string() < b.filename().string();
        });
        if (files.empty() && !ec) {
          ctx.problems.push_back({p, 0, "", "holds no .yaml, .yml or .json file"});
        }
        for (const auto& f : files) ReadFile(ctx, f, *FormatOf(f));
      } else if (auto format = FormatOf(path)) {
        ReadFile(ctx, path, *format);
      } else {
        ctx.problems.push_back({p, 0, "", "must end in .yaml, .yml or .json"});
      }
    }
  } catch (const std::exception& e) {
    ctx.problems.push_back({"", 0, "", std::string("internal error: ") + e.what()});
  }
  return Finish(ctx, problems, warnings);
}

}  // namespace tenantsync::declared
