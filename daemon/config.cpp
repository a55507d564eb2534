#include "daemon/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace tenantsync {
namespace {

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

 private:
  const toml::node* Take(const std::string& key) {
    taken_.insert(key);
    return table_ ? table_->get(key) : nullptr;
  }

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
  admin.Integer("max_connections", &cfg.admin.max_connections, 8, 4096);
  admin.Integer("request_head_timeout_seconds", &cfg.admin.request_head_timeout_seconds, 1, 300);
  admin.RejectUnknown();
  {
    std::string h;
    int p;
    if (cfg.admin.listen.rfind("unix:/", 0) != 0 && !ParseHostPort(cfg.admin.listen, &h, &p)) {
      admin.Error("listen",
                  "must be HOST:PORT or unix:/absolute/path (got \"" + cfg.admin.listen + "\")");
    }
    std::vector<std::string> lines;
    secret(admin, "token_file", cfg.admin.token_file, &lines);
    if (!lines.empty()) {
      cfg.admin.token = lines[0];
      if (cfg.admin.token.size() < 16)
        admin.Error("token_file", "the admin token must be at least 16 characters");
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
      if (auto parsed = ParseSignatureScheme(scheme)) {
        src.signature.scheme = *parsed;
      } else {
        s.Error("scheme",
                "must be one of standard-webhooks, hmac-sha256, stripe, declared (got \"" + scheme +
                    "\")");
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
