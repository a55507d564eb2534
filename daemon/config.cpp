#include "daemon/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "adapters/mapping/mapping.h"

namespace tenantsync {
namespace {

// [sources.mapping] goes to adapters/mapping as JSON, so toml++ stays in this file.
nlohmann::json TomlToJson(const toml::node& node) {
  if (auto* t = node.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [k, v] : *t) j[std::string(k.str())] = TomlToJson(v);
    return j;
  }
  if (auto* a = node.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (auto& v : *a) j.push_back(TomlToJson(v));
    return j;
  }
  if (auto v = node.value_exact<std::string>()) return *v;
  if (auto v = node.value_exact<int64_t>()) return *v;
  if (auto v = node.value_exact<double>()) return *v;
  if (auto v = node.value_exact<bool>()) return *v;
  // Dates and times: their ISO text, which the mapping reads as dates.
  std::ostringstream os;
  if (auto d = node.value_exact<toml::date>()) {
    os << *d;
  } else if (auto dt = node.value_exact<toml::date_time>()) {
    os << *dt;
  } else if (auto tm = node.value_exact<toml::time>()) {
    os << *tm;
  }
  return os.str();
}

// Reads one TOML table, remembering which keys were consumed so that anything left over is
// reported as unknown. Errors accumulate so an operator sees every problem in one run.
class Section {
 public:
  Section(const toml::table* table, std::string prefix, std::vector<std::string>* errors)
      : table_(table), prefix_(std::move(prefix)), errors_(errors) {}

  bool present() const { return table_ != nullptr; }

  void Error(const std::string& key, const std::string& reason) {
    errors_->push_back(Key(key) + ": " + reason);
  }

  void String(const std::string& key, std::string* out) {
    auto* node = Take(key);
    if (!node) return;
    if (auto v = node->value<std::string>())
      *out = *v;
    else
      Error(key, "must be a string");
  }

  void Bool(const std::string& key, bool* out) {
    auto* node = Take(key);
    if (!node) return;
    if (auto v = node->value<bool>())
      *out = *v;
    else
      Error(key, "must be true or false");
  }

  template <typename Int>
  void Integer(const std::string& key, Int* out, int64_t min, int64_t max) {
    auto* node = Take(key);
    if (!node) return;
    auto v = node->value<int64_t>();
    if (!v || !node->is_integer()) return Error(key, "must be an integer");
    if (*v < min || *v > max) {
      return Error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                            " (got " + std::to_string(*v) + ")");
    }
    *out = static_cast<Int>(*v);
  }

  void Double(const std::string& key, double* out, double min_exclusive, double max) {
    auto* node = Take(key);
    if (!node) return;
    auto v = node->value<double>();
    if (!v) return Error(key, "must be a number");
    if (!(*v > min_exclusive && *v <= max)) {
      std::ostringstream os;
      os << "must be greater than " << min_exclusive << " and at most " << max << " (got " << *v
         << ")";
      return Error(key, os.str());
    }
    *out = *v;
  }

  void StringList(const std::string& key, std::vector<std::string>* out,
                  const std::set<std::string>& allowed) {
    auto* node = Take(key);
    if (!node) return;
    auto* arr = node->as_array();
    if (!arr) return Error(key, "must be an array of strings");
    std::vector<std::string> values;
    for (auto& item : *arr) {
      auto v = item.value<std::string>();
      if (!v) return Error(key, "must be an array of strings");
      if (!allowed.empty() && !allowed.count(*v)) {
        std::string list;
        for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Error(key, "unknown value \"" + *v + "\" (allowed: " + list + ")");
      }
      values.push_back(*v);
    }
    *out = values;
  }

  // Reports keys nobody asked for: a typo must not silently fall back to a default.
  void RejectUnknown() {
    if (!table_) return;
    for (auto& [k, v] : *table_) {
      std::string key(k.str());
      if (!taken_.count(key)) Error(key, "unknown key");
    }
  }

  std::string Key(const std::string& key) const {
    return prefix_.empty() ? key : prefix_ + "." + key;
  }

  // Marks `key` as read (for keys parsed by hand) and returns its node, or null when absent.
  const toml::node* Take(const std::string& key) {
    taken_.insert(key);
    return table_ ? table_->get(key) : nullptr;
  }

 private:
  const toml::table* table_;
  std::string prefix_;
  std::vector<std::string>* errors_;
  std::set<std::string> taken_;
};

std::string DirName(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ResolveFile(const std::string& name, const std::string& base_dir) {
  if (!name.empty() && name[0] == '/') return name;
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY")) {
    std::string candidate = std::string(creds) + "/" + name;
    if (FileExists(candidate)) return candidate;
  }
  return base_dir + "/" + name;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

}  // namespace

bool ParseHostPort(const std::string& listen, std::string* host, int* port) {
  std::string h, p;
  if (!listen.empty() && listen[0] == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      return false;
    h = listen.substr(1, close - 1);
    p = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos || listen.find(':') != colon) return false;
    h = listen.substr(0, colon);
    p = listen.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5) return false;
  for (char c : p)
    if (c < '0' || c > '9') return false;
  int n = std::atoi(p.c_str());
  if (n > 65535) return false;
  *host = h;
  *port = n;
  return true;
}

Result<std::vector<std::string>> ReadSecretLines(const std::string& name,
                                                 const std::string& base_dir) {
  std::string path = ResolveFile(name, base_dir);
  std::ifstream in(path);
  if (!in) return Status::Invalid("cannot read secret file " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    lines.push_back(line.substr(start));
  }
  if (lines.empty()) return Status::Invalid("secret file " + path + " is empty");
  return lines;
}

std::vector<AdminToken> AdminOptions::AllTokens() const {
  std::vector<AdminToken> all;
  AdminToken admin;
  admin.name = "admin";
  admin.token_file = token_file;
  admin.token = token;
  admin.role = Role::kAdmin;
  all.push_back(std::move(admin));
  all.insert(all.end(), tokens.begin(), tokens.end());
  return all;
}

const SourceConfig* Config::FindSource(std::string_view name) const {
  for (const auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Result<Config> LoadConfig(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description();
    return Status::Invalid(os.str());
  }

  Config cfg;
  cfg.path = path;
  const std::string base_dir = DirName(path);
  std::vector<std::string> errors;
  auto secret = [&](Section& sec, const std::string& key, const std::string& file,
                    std::vector<std::string>* out) {
    if (file.empty()) return sec.Error(key, "is required");
    auto lines = ReadSecretLines(file, base_dir);
    if (!lines.ok()) return sec.Error(key, lines.status().message());
    *out = *lines;
  };

  Section top(&root, "", &errors);
  for (auto& [k, v] : root) {
    std::string key(k.str());
    static const std::set<std::string> kKnown = {"storage", "ingress", "admin",
                                                 "sources", "auth0",   "policy"};
    if (!kKnown.count(key)) top.Error(key, "unknown section");
  }

  // [storage]
  Section storage(root["storage"].as_table(), "storage", &errors);
  storage.String("path", &cfg.storage.path);
  storage.Integer("busy_timeout_ms", &cfg.storage.busy_timeout_ms, 0, 600000);
  storage.Integer("reader_connections", &cfg.storage.reader_connections, kMinReaderConnections,
                  kMaxReaderConnections);
  RetentionOptions& ret = cfg.storage.retention;
  storage.Integer("event_body_retention_days", &ret.event_body_retention_days, 0, 36500);
  storage.Integer("mutation_retention_days", &ret.mutation_retention_days, 0, 36500);
  storage.Integer("compaction_interval_seconds", &ret.compaction_interval_seconds, 0, 604800);
  storage.Integer("compaction_batch_rows", &ret.compaction_batch_rows, 10, 100000);
  // Shorter passes than a minute would only keep the write lock busy for nothing new.
  if (ret.compaction_interval_seconds > 0 && ret.compaction_interval_seconds < 60)
    storage.Error("compaction_interval_seconds", "must be 0 (never compact) or at least 60");
  storage.RejectUnknown();
  if (cfg.storage.path.empty()) storage.Error("path", "must not be empty");

  // [ingress]
  Section ingress(root["ingress"].as_table(), "ingress", &errors);
  auto& in = cfg.ingress;
  ingress.String("listen", &in.listen);
  ingress.String("tls_cert_file", &in.tls_cert_file);
  ingress.String("tls_key_file", &in.tls_key_file);
  ingress.Integer("max_body_bytes", &in.max_body_bytes, 256, 64 * 1024 * 1024);
  ingress.Integer("worker_threads", &in.worker_threads, 1, 1024);
  ingress.Integer("max_queued_connections", &in.max_queued_connections, 0, 65536);
  ingress.Integer("read_timeout_seconds", &in.read_timeout_seconds, 1, 300);
  ingress.Integer("write_timeout_seconds", &in.write_timeout_seconds, 1, 300);
  ingress.Integer("keep_alive_seconds", &in.keep_alive_seconds, 1, 300);
  ingress.Integer("retry_after_seconds", &in.retry_after_seconds, 1, 3600);
  ingress.Integer("max_connections", &in.max_connections, 8, 65536);
  ingress.Integer("max_connections_per_peer", &in.max_connections_per_peer, 0, 65536);
  ingress.Integer("request_head_timeout_seconds", &in.request_head_timeout_seconds, 1, 300);
  ingress.Integer("request_body_timeout_seconds", &in.request_body_timeout_seconds, 1, 3600);
  ingress.Integer("max_head_bytes", &in.max_head_bytes, 1024, 1048576);
  ingress.Integer("log_events_per_second", &in.log_events_per_second, 0, 1000000);
  ingress.RejectUnknown();
  if (!in.tls_cert_file.empty()) {
    // The TLS listener is cpp-httplib's thread-per-connection server: these limits belong to the
    // plain-HTTP event loop, so setting them with TLS would do nothing.
    const IngressOptions d;
    for (auto [key, set] :
         {std::pair{"max_connections", in.max_connections != d.max_connections},
          {"max_connections_per_peer", in.max_connections_per_peer != d.max_connections_per_peer},
          {"request_head_timeout_seconds",
           in.request_head_timeout_seconds != d.request_head_timeout_seconds},
          {"request_body_timeout_seconds",
           in.request_body_timeout_seconds != d.request_body_timeout_seconds},
          {"max_head_bytes", in.max_head_bytes != d.max_head_bytes}}) {
      if (set)
        ingress.Error(key,
                      "applies to plain-HTTP listeners only; with tls_cert_file set, "
                      "terminate TLS in a reverse proxy instead (docs/OPERATIONS.md)");
    }
  }
  {
    std::string h;
    int p;
    if (!ParseHostPort(in.listen, &h, &p))
      ingress.Error("listen", "must be HOST:PORT (got \"" + in.listen + "\")");
  }
  if (in.tls_cert_file.empty() != in.tls_key_file.empty()) {
    ingress.Error(in.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
                  "tls_cert_file and tls_key_file must be set together");
  }
  for (auto* f : {&in.tls_cert_file, &in.tls_key_file}) {
    if (!f->empty()) *f = ResolveFile(*f, base_dir);
  }

  // [admin]
  Section admin(root["admin"].as_table(), "admin", &errors);
  admin.String("listen", &cfg.admin.listen);
  admin.String("token_file", &cfg.admin.token_file);
  admin.String("tls_cert_file", &cfg.admin.tls_cert_file);
  admin.String("tls_key_file", &cfg.admin.tls_key_file);
  admin.Integer("max_connections", &cfg.admin.max_connections, 8, 4096);
  admin.Integer("request_head_timeout_seconds", &cfg.admin.request_head_timeout_seconds, 1, 300);
  const toml::node* tokens_node = admin.Take("tokens");  // [[admin.tokens]], read below
  admin.RejectUnknown();
  {
    std::string h;
    int p;
    const bool unix_socket = cfg.admin.listen.rfind("unix:/", 0) == 0;
    if (!unix_socket && !ParseHostPort(cfg.admin.listen, &h, &p)) {
      admin.Error("listen",
                  "must be HOST:PORT or unix:/absolute/path (got \"" + cfg.admin.listen + "\")");
    }
    if (cfg.admin.tls_cert_file.empty() != cfg.admin.tls_key_file.empty()) {
      admin.Error(cfg.admin.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
                  "tls_cert_file and tls_key_file must be set together");
    }
    if (!cfg.admin.tls_cert_file.empty()) {
      if (unix_socket) admin.Error("tls_cert_file", "does not apply to a unix: listener");
      // As for [ingress]: the TLS listener is cpp-httplib's, without the event loop's limits.
      const AdminOptions d;
      if (cfg.admin.max_connections != d.max_connections)
        admin.Error("max_connections", "applies to plain-HTTP listeners only");
      if (cfg.admin.request_head_timeout_seconds != d.request_head_timeout_seconds)
        admin.Error("request_head_timeout_seconds", "applies to plain-HTTP listeners only");
    }
    for (auto* f : {&cfg.admin.tls_cert_file, &cfg.admin.tls_key_file}) {
      if (!f->empty()) *f = ResolveFile(*f, base_dir);
    }
    std::vector<std::string> lines;
    secret(admin, "token_file", cfg.admin.token_file, &lines);
    if (!lines.empty()) {
      cfg.admin.token = lines[0];
      if (cfg.admin.token.size() < 16)
        admin.Error("token_file", "the admin token must be at least 16 characters");
    }
  }
  // [[admin.tokens]] (issue 16): named tokens with a role.
  if (tokens_node) {
    auto* arr = tokens_node->as_array();
    if (!arr) admin.Error("tokens", "must be an array of tables ([[admin.tokens]])");
    std::set<std::string> names = {"admin"};
    // Which entry holds each secret, so a secret shared by two entries is refused naming both.
    std::vector<std::pair<std::string, std::string>> seen = {{cfg.admin.token, "admin.token_file"}};
    for (size_t i = 0; arr && i < arr->size(); ++i) {
      const std::string prefix = "admin.tokens[" + std::to_string(i) + "]";
      auto* t = (*arr)[i].as_table();
      if (!t) {
        top.Error(prefix, "must be a table");
        continue;
      }
      Section s(t, prefix, &errors);
      AdminToken tok;
      std::string role;
      bool has_orgs = t->contains("organizations");
      s.String("name", &tok.name);
      s.String("token_file", &tok.token_file);
      s.String("role", &role);
      s.StringList("organizations", &tok.organizations, {});
      s.RejectUnknown();
      static const std::regex kName("^[a-z0-9][a-z0-9_-]{0,63}$");
      if (!std::regex_match(tok.name, kName)) {
        s.Error("name", "must match ^[a-z0-9][a-z0-9_-]{0,63}$ (got \"" + tok.name + "\")");
      } else if (!names.insert(tok.name).second) {
        s.Error("name", tok.name == "admin" ? "\"admin\" is the name of [admin].token_file's token"
                                            : "duplicate token name \"" + tok.name + "\"");
      }
      if (auto r = ParseRole(role)) {
        tok.role = *r;
      } else {
        s.Error("role", role.empty() ? "is required (admin, operator, viewer or org-admin)"
                                     : "must be one of admin, operator, viewer, org-admin (got \"" +
                                           role + "\")");
      }
      if (tok.role == Role::kOrgAdmin && ParseRole(role)) {
        if (tok.organizations.empty())
          s.Error("organizations",
                  "is required for role org-admin: the external ids of its organizations");
        std::set<std::string> orgs;
        for (const auto& o : tok.organizations) {
          if (o.empty()) s.Error("organizations", "must not contain an empty external id");
          if (!orgs.insert(o).second) s.Error("organizations", "lists \"" + o + "\" twice");
        }
      } else if (has_orgs && ParseRole(role)) {
        s.Error("organizations", "only applies to role org-admin (this token is " + role + ")");
      }
      std::vector<std::string> lines;
      secret(s, "token_file", tok.token_file, &lines);
      if (!lines.empty()) {
        tok.token = lines[0];
        if (tok.token.size() < 16) {
          s.Error("token_file", "the token must be at least 16 characters");
        } else {
          for (const auto& [other, where] : seen) {
            if (other == tok.token)
              s.Error("token_file",
                      "holds the same token as " + where + " (every token must be different)");
          }
          seen.emplace_back(tok.token, prefix + ".token_file");
        }
      }
      cfg.admin.tokens.push_back(std::move(tok));
    }
  }

  // [[sources]]
  if (auto* node = root.get("sources")) {
    auto* arr = node->as_array();
    if (!arr) top.Error("sources", "must be an array of tables ([[sources]])");
    std::set<std::string> names;
    for (size_t i = 0; arr && i < arr->size(); ++i) {
      std::string prefix = "sources[" + std::to_string(i) + "]";
      auto* t = (*arr)[i].as_table();
      if (!t) {
        top.Error(prefix, "must be a table");
        continue;
      }
      SourceConfig src;
      Section s(t, prefix, &errors);
      std::string scheme = "standard-webhooks";
      s.String("name", &src.name);
      s.String("scheme", &scheme);
      s.String("secret_file", &src.secret_file);
      s.Integer("tolerance_seconds", &src.signature.tolerance_seconds, 1, 86400);
      s.String("header", &src.signature.header);
      s.String("prefix", &src.signature.prefix);
      s.String("encoding", &src.signature.encoding);
      s.String("id_header", &src.signature.id_header);
      std::string scim_on_delete;
      s.String("scim_on_delete", &scim_on_delete);
      const toml::table* role_map = nullptr;
      if (auto* map_node = s.Take("scim_role_map")) {
        role_map = map_node->as_table();
        if (!role_map)
          s.Error("scim_role_map", "must be a table of SCIM role value = \"Auth0 role\"");
      }
      // Vendor connector keys (issue 18, docs/CONNECTORS.md); judged with the scheme below.
      static const char* kVendorKeys[] = {"token_header",
                                          "public_url",
                                          "allow_v1",
                                          "credentials_file",
                                          "company_domain",
                                          "api_base_url",
                                          "api_requests_per_second",
                                          "api_person_fields",
                                          "api_company_fields",
                                          "mapping"};
      s.String("token_header", &src.vendor_verify.token_header);
      s.String("public_url", &src.vendor_verify.public_url);
      s.Bool("allow_v1", &src.vendor_verify.allow_v1);
      std::string credentials_file;
      s.String("credentials_file", &credentials_file);
      s.String("company_domain", &src.vendor_api.company_domain);
      s.String("api_base_url", &src.vendor_api.base_url);
      s.Double("api_requests_per_second", &src.vendor_api.requests_per_second, 0, 1000);
      s.StringList("api_person_fields", &src.vendor_api.extra_person_fields, {});
      s.StringList("api_company_fields", &src.vendor_api.extra_company_fields, {});
      if (auto* mapping_node = s.Take("mapping")) {
        if (mapping_node->as_table()) {
          src.vendor_mapping = TomlToJson(*mapping_node);
        } else {
          s.Error("mapping", "must be a table ([sources.mapping])");
        }
      }
      s.RejectUnknown();
      static const std::regex kName("^[a-z0-9][a-z0-9_-]{0,63}$");
      if (!std::regex_match(src.name, kName)) {
        s.Error("name", "must match ^[a-z0-9][a-z0-9_-]{0,63}$ (got \"" + src.name + "\")");
      } else if (!names.insert(src.name).second) {
        s.Error("name", "duplicate source name \"" + src.name + "\"");
      }
      if (scheme == "declared") {
        // Nothing is posted to a declared source: no secret, no signature settings.
        src.declared = true;
        for (auto key :
             {"secret_file", "tolerance_seconds", "header", "prefix", "encoding", "id_header"}) {
          if (t->contains(key))
            s.Error(key,
                    "does not apply to scheme \"declared\" (its events come from `tenantsync "
                    "apply`, nothing is posted to it)");
        }
        cfg.sources.push_back(std::move(src));
        continue;
      }
      if (scheme != "scim") {
        for (auto key : {"scim_on_delete", "scim_role_map"}) {
          if (t->contains(key)) s.Error(key, "only applies to scheme \"scim\"");
        }
      }
      if (auto vendor = ParseVendor(scheme)) {
        // The vendor's own signature scheme; nothing here is a hmac-sha256 setting.
        for (auto key : {"header", "prefix", "encoding", "id_header"}) {
          if (t->contains(key)) s.Error(key, "does not apply to scheme \"" + scheme + "\"");
        }
        src.vendor = *vendor;
        src.vendor_verify.vendor = *vendor;
        src.vendor_verify.tolerance_seconds = src.signature.tolerance_seconds;
        src.vendor_api.vendor = *vendor;
        if (*vendor != Vendor::kPersonio && t->contains("token_header"))
          s.Error("token_header", "only applies to scheme \"personio\"");
        if (*vendor != Vendor::kHubSpot && (t->contains("public_url") || t->contains("allow_v1")))
          s.Error(t->contains("public_url") ? "public_url" : "allow_v1",
                  "only applies to scheme \"hubspot\"");
        if (*vendor != Vendor::kBambooHr && t->contains("company_domain"))
          s.Error("company_domain", "only applies to scheme \"bamboohr\"");
        secret(s, "secret_file", src.secret_file, &src.vendor_verify.secrets);
        if (!src.vendor_verify.secrets.empty()) {
          auto st = ValidateVendorVerifyOptions(src.vendor_verify);
          if (!st.ok())
            s.Error(*vendor == Vendor::kHubSpot && st.message().rfind("public_url", 0) == 0
                        ? "public_url"
                        : "secret_file",
                    st.message());
        }
        if (!credentials_file.empty()) {
          std::vector<std::string> lines;
          secret(s, "credentials_file", credentials_file, &lines);
          if (!lines.empty()) {
            src.vendor_api.credential = lines.front();
            auto st = ValidateVendorApiOptions(src.vendor_api);
            if (!st.ok()) {
              // A message about api_* fields names its own key.
              const std::string& msg = st.message();
              const bool own = msg.rfind("api_", 0) == 0 && msg.find(": ") != std::string::npos;
              s.Error(own ? msg.substr(0, msg.find(": ")) : "credentials_file",
                      own ? msg.substr(msg.find(": ") + 2) : msg);
            }
          }
        } else if (!src.vendor_api.extra_person_fields.empty() ||
                   !src.vendor_api.extra_company_fields.empty()) {
          s.Error(src.vendor_api.extra_person_fields.empty() ? "api_company_fields"
                                                             : "api_person_fields",
                  "fields are fetched only with a credentials_file (without one nothing is "
                  "fetched)");
        }
        // Checked now so a typo fails at start-up; messages start with the key ("mapping.user...").
        if (auto mapping = ParseMapping(*vendor, src.vendor_mapping); !mapping.ok()) {
          const std::string& msg = mapping.status().message();
          auto colon = msg.find(": ");
          s.Error(msg.substr(0, colon), colon == std::string::npos ? "" : msg.substr(colon + 2));
        }
        cfg.sources.push_back(std::move(src));
        continue;
      }
      for (auto key : kVendorKeys) {
        if (t->contains(key))
          s.Error(key, "only applies to the vendor schemes (bamboohr, hibob, personio, hubspot)");
      }
      if (scheme == "scim") {
        // A SCIM client authenticates with a bearer token; nothing here is a signature.
        src.scim = true;
        for (auto key : {"tolerance_seconds", "header", "prefix", "encoding", "id_header"}) {
          if (t->contains(key)) s.Error(key, "does not apply to scheme \"scim\"");
        }
        if (scim_on_delete == "delete") {
          src.scim_delete_users = true;
        } else if (!scim_on_delete.empty() && scim_on_delete != "leave") {
          s.Error("scim_on_delete",
                  "must be \"leave\" or \"delete\" (got \"" + scim_on_delete + "\")");
        }
        if (role_map) {
          for (auto& [k, v] : *role_map) {
            auto role = v.value<std::string>();
            if (!role || role->empty() || role->size() > 50) {
              s.Error("scim_role_map." + std::string(k.str()),
                      "must be an Auth0 role name (1 to 50 characters)");
            } else {
              src.scim_role_map[std::string(k.str())] = *role;
            }
          }
        }
        secret(s, "secret_file", src.secret_file, &src.scim_tokens);
        for (const auto& token : src.scim_tokens) {
          if (token.size() < 16) {
            s.Error("secret_file", "a SCIM bearer token must be at least 16 characters");
            break;
          }
        }
        cfg.sources.push_back(std::move(src));
        continue;
      }
      if (auto parsed = ParseSignatureScheme(scheme)) {
        src.signature.scheme = *parsed;
      } else {
        s.Error("scheme",
                "must be one of scim, standard-webhooks, hmac-sha256, stripe, declared, bamboohr, "
                "hibob, personio, hubspot (got \"" +
                    scheme + "\")");
      }
      if (src.signature.scheme != SignatureScheme::kHmacSha256) {
        for (auto key : {"header", "prefix", "encoding", "id_header"}) {
          if (t->contains(key)) s.Error(key, "only applies to scheme \"hmac-sha256\"");
        }
      }
      secret(s, "secret_file", src.secret_file, &src.signature.secrets);
      if (!src.signature.secrets.empty()) {
        auto st = ValidateSignatureOptions(src.signature);
        if (!st.ok()) s.Error("secret_file", st.message());
      }
      cfg.sources.push_back(std::move(src));
    }
  }
  if (cfg.sources.empty()) top.Error("sources", "at least one [[sources]] entry is required");
  // Events submitted through the admin API (POST /v1/events) are stored as source "console": a
  // webhook source of that name would share their ids and their filter.
  for (size_t i = 0; i < cfg.sources.size(); ++i) {
    if (cfg.sources[i].name == kConsoleSource)
      top.Error("sources[" + std::to_string(i) + "].name",
                "\"console\" is reserved for events submitted through the admin API "
                "(POST /v1/events)");
  }

  // [auth0]
  Section auth0(root["auth0"].as_table(), "auth0", &errors);
  auto& a = cfg.auth0;
  std::string secret_file;
  int64_t connect_ms = a.connect_timeout.count(), read_ms = a.read_timeout.count();
  auth0.String("domain", &a.domain);
  auth0.String("base_url", &a.base_url);
  auth0.String("client_id", &a.client_id);
  auth0.String("client_secret_file", &secret_file);
  auth0.String("connection", &a.connection);
  auth0.String("application_client_id", &a.application_client_id);
  auth0.Integer("max_in_flight", &a.max_in_flight, 1, 64);
  auth0.Double("rate_limit_fraction", &a.rate_limit_fraction, 0.0, 1.0);
  auth0.Integer("member_batch_size", &a.member_batch_size, 1, 10);
  auth0.Integer("import_threshold", &a.import_threshold, 0, 1000000);
  auth0.Integer("connect_timeout_ms", &connect_ms, 100, 60000);
  auth0.Integer("read_timeout_ms", &read_ms, 100, 300000);
  auth0.Integer("max_retries", &a.max_retries, 0, 100);
  auth0.Integer("quarantine_window_seconds", &cfg.quarantine.window_seconds, 1, 86400);
  auth0.Integer("quarantine_min_requests", &cfg.quarantine.min_requests, 1, 1000000);
  auth0.Double("quarantine_failure_fraction", &cfg.quarantine.failure_fraction, 0.0, 1.0);
  auth0.Integer("quarantine_probe_seconds", &cfg.quarantine.probe_interval_seconds, 1, 86400);
  auth0.RejectUnknown();
  a.connect_timeout = std::chrono::milliseconds(connect_ms);
  a.read_timeout = std::chrono::milliseconds(read_ms);
  if (!auth0.present()) {
    top.Error("auth0", "section is required");
  } else {
    static const std::regex kDomain(
        "^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$");
    if (a.domain.empty())
      auth0.Error("domain", "is required");
    else if (!std::regex_match(a.domain, kDomain))
      auth0.Error("domain",
                  "must be a host name such as example.eu.auth0.com (got \"" + a.domain + "\")");
    if (a.client_id.empty()) auth0.Error("client_id", "is required");
    if (a.application_client_id.empty()) auth0.Error("application_client_id", "is required");
    if (a.connection.empty()) auth0.Error("connection", "must not be empty");
    if (!a.base_url.empty()) {
      static const std::regex kUrl("^(https?)://(\\[[0-9a-fA-F:]+\\]|[^/:]+)(:[0-9]+)?/?$");
      std::smatch m;
      if (!std::regex_match(a.base_url, m, kUrl)) {
        auth0.Error("base_url", "must be http(s)://HOST[:PORT] (got \"" + a.base_url + "\")");
      } else {
        std::string host = m[2].str();
        if (!host.empty() && host[0] == '[') host = host.substr(1, host.size() - 2);
        if (m[1] == "http" && !IsLoopbackHost(host)) {
          auth0.Error(
              "base_url",
              "plain http is only allowed to a loopback address (127.0.0.1, ::1, localhost)");
        }
      }
    }
    std::vector<std::string> lines;
    secret(auth0, "client_secret_file", secret_file, &lines);
    if (!lines.empty()) a.client_secret = lines[0];
  }

  // [policy]
  Section policy(root["policy"].as_table(), "policy", &errors);
  auto& p = cfg.policy;
  policy.Bool("adopt_existing", &p.adopt_existing);
  policy.StringList("on_create", &p.on_create, {"send_password_reset", "send_verification_email"});
  policy.StringList("on_leave", &p.on_leave, {"block", "remove_memberships", "revoke_sessions"});
  policy.Integer("delete_after_days", &p.delete_after_days, 0, 3650);
  policy.Integer("guard_max_destructive", &p.guard_max_destructive, 0, 1000000);
  policy.Double("guard_max_fraction", &p.guard_max_fraction, -1e-12, 1.0);
  policy.Integer("guard_window_seconds", &p.guard_window_seconds, 1, 7 * 86400);
  policy.Integer("guard_settle_ms", &p.guard_settle_ms, 0, 600000);
  policy.Integer("drift_interval_seconds", &p.drift_interval_seconds, 0, 30 * 86400);
  policy.String("drift_mode", &p.drift_mode);
  policy.Integer("drift_user_export_threshold", &p.drift_user_export_threshold, 0, 10000000);
  policy.Integer("drift_member_list_lag_seconds", &p.drift_member_list_lag_seconds, 0, 86400);
  policy.RejectUnknown();
  if (p.drift_mode != "correct" && p.drift_mode != "report") {
    policy.Error("drift_mode", "must be \"correct\" or \"report\" (got \"" + p.drift_mode + "\")");
  }

  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + path + ": " + e;
    return Status::Invalid(msg);
  }
  return cfg;
}

}  // namespace tenantsync
