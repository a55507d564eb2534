// The only translation unit of auth0-sim that includes httplib (builds run on 2 cores).
#include "tests/auth0-sim/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <shared_mutex>
#include <unordered_map>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/random.h"
#include "tests/auth0-sim/handlers.h"
#include "tests/auth0-sim/tenant.h"

namespace tenantsync::sim {
namespace {

constexpr const char* kJson = "application/json; charset=utf-8";
constexpr const char* kExportsPrefix = "/__sim/exports/";

// "http://HOST:PORT" for a listen address; a wildcard address is reached through loopback.
std::string BaseUrl(std::string host, int port) {
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

std::string Base64Url(std::string_view raw) {
  std::string b = crypto::Base64Encode(raw);
  while (!b.empty() && b.back() == '=') b.pop_back();
  for (char& c : b) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return b;
}

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

// Finds the socket serving `req` (by its address pair) and shuts it down, so the client sees the
// connection close without any answer. httplib does not expose the socket to handlers; scanning
// our own descriptors is cheap next to how rarely a drop is injected.
void DropConnection(const httplib::Request& req) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (...) {
      continue;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage peer{}, local{};
    socklen_t plen = sizeof(peer), llen = sizeof(local);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) != 0) continue;
    auto port_of = [](const sockaddr_storage& s) -> int {
      if (s.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(s).sin_port);
      if (s.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(s).sin6_port);
      return -1;
    };
    if (port_of(peer) == req.remote_port && port_of(local) == req.local_port) {
      shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

constexpr const char* kOriginalContentType = "X-Auth0-Sim-Original-Content-Type";

// Tolerant multipart/form-data parser: Go's writer (and Auth0) end the body with "--B--" and no
// final CRLF, which httplib 0.11's own parser refuses.
std::map<std::string, std::string> ParseMultipart(const std::string& content_type,
                                                  const std::string& body) {
  std::map<std::string, std::string> out;
  auto b = content_type.find("boundary=");
  if (b == std::string::npos) return out;
  std::string boundary = content_type.substr(b + 9);
  if (auto semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"')
    boundary = boundary.substr(1, boundary.size() - 2);
  const std::string delim = "--" + boundary;
  size_t pos = body.find(delim);
  while (pos != std::string::npos) {
    pos += delim.size();
    if (body.compare(pos, 2, "--") == 0) break;
    size_t header_end = body.find("\r\n\r\n", pos);
    if (header_end == std::string::npos) break;
    std::string headers = body.substr(pos, header_end - pos);
    size_t next = body.find("\r\n" + delim, header_end + 4);
    if (next == std::string::npos) break;
    std::string content = body.substr(header_end + 4, next - header_end - 4);
    auto n = headers.find("name=\"");
    if (n != std::string::npos) {
      auto end = headers.find('"', n + 6);
      out[headers.substr(n + 6, end - n - 6)] = content;
    }
    pos = next + 2;
  }
  return out;
}

struct TokenInfo {
  std::string client_id;
  std::string audience;
  int64_t expires_ms = 0;
};

struct Stats {
  int64_t requests_total = 0;
  int64_t export_downloads_total = 0;  // GET /__sim/exports/... answered 200 (not in the above)
  int64_t rate_limited_total = 0;
  int64_t writes_total = 0;
  int64_t peak_rate = 0;
  int64_t current_second = 0;
  int64_t current_count = 0;
  std::map<std::string, std::map<std::string, int64_t>> by_endpoint;
};

}  // namespace

struct SimServer::Impl {
  explicit Impl(SimOptions o)
      : opts(std::move(o)),
        clock(SystemClock()),
        tenant(TenantOptions{opts.domain, opts.client_id, opts.client_secret, opts.seed,
                             opts.index_lag_ms},
               clock),
        limiter(clock),
        fault_rng(opts.seed ^ 0x9e3779b97f4a7c15ULL),
        faults(opts.faults),
        token_lifetime_s(opts.token_lifetime_seconds) {
    ApplyRateConfig();
    tenant.SetExportDelayMs(opts.export_delay_ms);
    token_key = crypto::Sha256("auth0-sim token key " + std::to_string(opts.seed));
    management_audience = "https://" + opts.domain + "/api/v2/";
  }

  void ApplyRateConfig() {
    limiter.SetGlobal(opts.global_rate);
    limiter.ClearGroups();
    for (const auto& [name, cfg] : opts.groups) limiter.SetGroup(name, cfg);
  }

  // Sleeps up to `ms`, waking early when the server stops.
  void Sleep(int64_t ms) {
    if (ms <= 0) return;
    std::unique_lock<std::mutex> lock(stop_mu);
    stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }

  bool Roll(double rate) { return rate > 0 && fault_rng.UniformDouble() < rate; }

  Faults CurrentFaults() {
    std::lock_guard<std::mutex> lock(faults_mu);
    return faults;
  }

  void Record(const std::string& key, const std::string& status, bool write, bool limited) {
    int64_t sec = clock.NowUnixSeconds();
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.requests_total;
    ++stats.by_endpoint[key][status];
    if (write) ++stats.writes_total;
    if (limited) ++stats.rate_limited_total;
    if (sec != stats.current_second) {
      stats.current_second = sec;
      stats.current_count = 0;
    }
    stats.peak_rate = std::max(stats.peak_rate, ++stats.current_count);
  }

  Json StatsJson() {
    std::lock_guard<std::mutex> lock(stats_mu);
    Json by = Json::object();
    for (const auto& [k, m] : stats.by_endpoint) by[k] = m;
    return {{"requests_total", stats.requests_total},
            {"by_endpoint", by},
            {"rate_limited_total", stats.rate_limited_total},
            {"peak_concurrency", peak_inflight.load()},
            {"peak_rate_per_second", stats.peak_rate},
            {"writes_total", stats.writes_total},
            {"export_downloads_total", stats.export_downloads_total}};
  }

  void ResetStats() {
    std::lock_guard<std::mutex> lock(stats_mu);
    stats = Stats{};
    peak_inflight = inflight.load();
  }

  Json FaultsJson() {
    std::lock_guard<std::mutex> lock(faults_mu);
    return {{"latency_ms", faults.latency_ms},        {"jitter_ms", faults.jitter_ms},
            {"error_rate", faults.error_rate},        {"timeout_rate", faults.timeout_rate},
            {"timeout_ms", faults.timeout_ms},        {"drop_rate", faults.drop_rate},
            {"force_429_rate", faults.force_429_rate}};
  }

  Json ConfigJson() {
    std::lock_guard<std::mutex> lock(config_mu);
    return {{"token_lifetime_seconds", token_lifetime_s},
            {"index_lag_ms", tenant.IndexLagMs()},
            {"export_delay_ms", tenant.ExportDelayMs()},
            {"import_delay_ms", tenant.ImportDelayMs()},
            {"rate", limiter.Describe()}};
  }

  std::string IssueToken(const std::string& client_id, const std::string& audience,
                         int64_t lifetime_s) {
    int64_t now_s = clock.NowUnixSeconds();
    uint64_t jti = ++token_counter;
    Json header = {{"alg", "HS256"}, {"typ", "JWT"}};
    Json payload = {{"iss", "https://" + opts.domain + "/"},
                    {"sub", client_id + "@clients"},
                    {"aud", audience},
                    {"iat", now_s},
                    {"exp", now_s + lifetime_s},
                    {"jti", std::to_string(jti)},
                    {"gty", "client-credentials"},
                    {"azp", client_id}};
    std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(payload.dump());
    std::string token =
        signing_input + "." + Base64Url(crypto::HmacSha256(token_key, signing_input));
    std::unique_lock<std::shared_mutex> lock(tokens_mu);
    tokens[token] = {client_id, audience, clock.NowUnixMillis() + lifetime_s * 1000};
    return token;
  }

  void HandleToken(const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> fields;
    if (req.get_header_value("Content-Type").find("application/json") != std::string::npos) {
      try {
        Json body = Json::parse(req.body);
        for (auto it = body.begin(); it != body.end(); ++it) {
          if (it.value().is_string()) fields[it.key()] = it.value().get<std::string>();
        }
      } catch (const Json::exception&) {
        SendJson(res, 400,
                 {{"error", "invalid_request"}, {"error_description", "Invalid JSON body"}});
        return;
      }
    } else {
      for (const auto& [k, v] : req.params) fields.emplace(k, v);
    }
    auto oauth_error = [&](int status, const char* error, const std::string& desc) {
      SendJson(res, status, {{"error", error}, {"error_description", desc}});
    };
    if (!fields.count("grant_type")) {
      return oauth_error(400, "invalid_request", "Missing required parameter: grant_type");
    }
    if (fields["grant_type"] != "client_credentials") {
      return oauth_error(403, "unauthorized_client",
                         "Grant type '" + fields["grant_type"] + "' not allowed for the client.");
    }
    if (fields.count("client_assertion") && !fields.count("client_secret")) {
      return oauth_error(400, "invalid_request",
                         "private_key_jwt client authentication is not simulated by auth0-sim");
    }
    auto secret = tenant.ClientSecret(fields["client_id"]);
    if (!secret || !fields.count("client_secret") ||
        !crypto::ConstantTimeEquals(*secret, fields["client_secret"])) {
      return oauth_error(401, "access_denied", "Unauthorized");
    }
    int64_t lifetime;
    {
      std::lock_guard<std::mutex> lock(config_mu);
      lifetime = token_lifetime_s;
    }
    std::string audience =
        fields.count("audience") ? fields["audience"] : "https://" + opts.domain + "/api/v2/";
    SendJson(res, 200,
             {{"access_token", IssueToken(fields["client_id"], audience, lifetime)},
              {"expires_in", lifetime},
              {"token_type", "Bearer"}});
  }

  // nullopt when the bearer token is good; otherwise the 401 body to send.
  std::optional<Json> CheckToken(const httplib::Request& req, std::string& client_id) {
    auto unauthorized = [](const std::string& msg, bool attributes) {
      Json body = {{"statusCode", 401}, {"error", "Unauthorized"}, {"message", msg}};
      if (attributes) body["attributes"] = {{"error", msg}};
      return body;
    };
    std::string auth = req.get_header_value("Authorization");
    if (auth.size() < 8 || auth.compare(0, 7, "Bearer ") != 0) {
      return unauthorized("Missing authentication", false);
    }
    std::string token = auth.substr(7);
    TokenInfo info;
    {
      std::shared_lock<std::shared_mutex> lock(tokens_mu);
      auto it = tokens.find(token);
      if (it == tokens.end()) return unauthorized("Invalid token", true);
      info = it->second;
    }
    if (info.expires_ms <= clock.NowUnixMillis()) {
      return unauthorized("Expired token received for JSON Web Token validation", true);
    }
    if (info.audience != management_audience) {
      return unauthorized("Bad audience: " + info.audience, true);
    }
    client_id = info.client_id;
    return std::nullopt;
  }

  static void SetRateHeaders(httplib::Response& res, const RateDecision& d) {
    res.set_header("x-ratelimit-limit", std::to_string(d.limit));
    res.set_header("x-ratelimit-remaining", std::to_string(d.remaining));
    res.set_header("x-ratelimit-reset", std::to_string(d.reset_unix));
  }

  void HandleApi(const httplib::Request& req, httplib::Response& res) {
    int64_t now_inflight = ++inflight;
    int64_t peak = peak_inflight.load();
    while (now_inflight > peak && !peak_inflight.compare_exchange_weak(peak, now_inflight)) {
    }
    struct Guard {
      std::atomic<int64_t>& n;
      ~Guard() { --n; }
    } guard{inflight};

    auto route = MatchRoute(req.method, req.path);
    const std::string key = route ? route->route : req.method + " (unmatched)";
    const bool write = route && route->management && req.method != "GET";
    Faults f = CurrentFaults();
    if (Roll(f.drop_rate)) {
      DropConnection(req);
      Record(key, "dropped", write, false);
      res.status = 500;
      return;
    }
    if (Roll(f.timeout_rate)) {
      Sleep(f.timeout_ms);
      DropConnection(req);
      Record(key, "timeout", write, false);
      res.status = 504;
      return;
    }
    int64_t delay = f.latency_ms;
    if (f.jitter_ms > 0)
      delay += static_cast<int64_t>(fault_rng.Uniform(static_cast<uint64_t>(f.jitter_ms) + 1));
    Sleep(delay);
    if (Roll(f.error_rate)) {
      static constexpr int kCodes[] = {500, 502, 503};
      int code = kCodes[fault_rng.Uniform(3)];
      ApiResponse r =
          MakeError(code, code == 503 ? "Service Unavailable" : "Internal Server Error");
      res.status = code;
      res.set_content(r.body, kJson);
      Record(key, std::to_string(code), write, false);
      return;
    }
    if (!route) {
      if (req.path.starts_with("/api/v2/")) SetRateHeaders(res, limiter.Acquire("default"));
      ApiResponse r = MakeError(404, "Not Found");
      res.status = 404;
      res.set_content(r.body, kJson);
      Record(key, "404", false, false);
      return;
    }
    if (route->handler == kOAuthToken) {
      HandleToken(req, res);
      Record(key, std::to_string(res.status), false, false);
      return;
    }
    ApiRequest areq;
    areq.method = req.method;
    areq.path = req.path;
    for (const auto& [k, v] : req.params) areq.query.emplace(k, v);
    areq.content_type = req.get_header_value("Content-Type");
    areq.body = req.body;
    areq.ip = req.remote_addr;
    if (req.has_header(kOriginalContentType)) {
      areq.content_type = req.get_header_value(kOriginalContentType);
      areq.form = ParseMultipart(areq.content_type, req.body);
    }
    if (route->handler == kDbChangePassword &&
        areq.content_type.find("application/x-www-form-urlencoded") != std::string::npos) {
      Json body = Json::object();
      for (const auto& [k, v] : req.params) body[k] = v;
      areq.body = body.dump();
      areq.content_type = "application/json";
    }
    if (route->management) {
      RateDecision d = limiter.Acquire(route->group);
      if (Roll(f.force_429_rate)) {
        d.allowed = false;
        d.remaining = 0;
        // Real Auth0 always names a reset in the future on a 429; a forced one says "1 s".
        int64_t now_unix =
            std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch())
                .count();
        d.reset_unix = std::max(d.reset_unix, now_unix + 1);
        res.set_header("Retry-After", "1");
      }
      SetRateHeaders(res, d);
      if (!d.allowed) {
        SendJson(res, 429,
                 {{"statusCode", 429},
                  {"error", "Too Many Requests"},
                  {"message", "Global limit has been reached"},
                  {"errorCode", "too_many_requests"}});
        Record(key, "429", write, true);
        return;
      }
      if (auto err = CheckToken(req, areq.caller_client_id)) {
        SendJson(res, 401, *err);
        Record(key, "401", write, false);
        return;
      }
    }
    ApiResponse r = tenant.Handle(*route, areq);
    res.status = r.status;
    if (!r.body.empty() || !r.content_type.empty()) res.set_content(r.body, r.content_type);
    Record(key, std::to_string(r.status), write, false);
  }

  void HandleControl(const httplib::Request& req, httplib::Response& res) {
    const std::string& p = req.path;
    Json body = Json::object();
    if (req.method == "POST" && !req.body.empty()) {
      try {
        body = Json::parse(req.body);
      } catch (const Json::exception& e) {
        return SendJson(res, 400, {{"error", std::string("invalid JSON: ") + e.what()}});
      }
      if (!body.is_object()) return SendJson(res, 400, {{"error", "expected a JSON object"}});
    }
    try {
      if (p.starts_with(kExportsPrefix) && req.method == "GET") {
        // A users export file: the job's `location`; fetched without a token, like Auth0's.
        auto file = tenant.ExportFile(std::string_view(p).substr(std::strlen(kExportsPrefix)));
        if (!file) return SendJson(res, 404, {{"error", "no such export file " + p}});
        {
          std::lock_guard<std::mutex> lock(stats_mu);
          ++stats.export_downloads_total;
        }
        res.status = 200;
        res.set_content(*file, "application/gzip");
        return;
      }
      if (p == "/__sim/state" && req.method == "GET") return SendJson(res, 200, tenant.State());
      if (p == "/__sim/stats" && req.method == "GET") return SendJson(res, 200, StatsJson());
      if (p == "/__sim/stats/reset" && req.method == "POST") {
        ResetStats();
        return SendJson(res, 200, StatsJson());
      }
      if (p == "/__sim/faults" && req.method == "GET") return SendJson(res, 200, FaultsJson());
      if (p == "/__sim/faults" && req.method == "POST") {
        {
          std::lock_guard<std::mutex> lock(faults_mu);
          auto num = [&](const char* k, auto& field) {
            if (body.contains(k)) field = body.at(k).get<std::decay_t<decltype(field)>>();
          };
          num("latency_ms", faults.latency_ms);
          num("jitter_ms", faults.jitter_ms);
          num("error_rate", faults.error_rate);
          num("timeout_rate", faults.timeout_rate);
          num("timeout_ms", faults.timeout_ms);
          num("drop_rate", faults.drop_rate);
          num("force_429_rate", faults.force_429_rate);
        }
        return SendJson(res, 200, FaultsJson());
      }
      if (p == "/__sim/config" && req.method == "GET") return SendJson(res, 200, ConfigJson());
      if (p == "/__sim/config" && req.method == "POST") {
        if (body.contains("token_lifetime_seconds")) {
          std::lock_guard<std::mutex> lock(config_mu);
          token_lifetime_s = body["token_lifetime_seconds"].get<int64_t>();
        }
        if (body.contains("index_lag_ms"))
          tenant.SetIndexLagMs(body["index_lag_ms"].get<int64_t>());
        if (body.contains("export_delay_ms"))
          tenant.SetExportDelayMs(body["export_delay_ms"].get<int64_t>());
        if (body.contains("import_delay_ms"))
          tenant.SetImportDelayMs(body["import_delay_ms"].get<int64_t>());
        if (body.contains("rate")) {
          const Json& rate = body["rate"];
          auto bucket = [](const Json& j) {
            return BucketConfig{j.value("rate", 0.0), j.value("burst", 0.0)};
          };
          if (rate.contains("global")) limiter.SetGlobal(bucket(rate["global"]));
          if (rate.contains("groups")) {
            for (auto it = rate["groups"].begin(); it != rate["groups"].end(); ++it) {
              limiter.SetGroup(it.key(), bucket(it.value()));
            }
          }
        }
        return SendJson(res, 200, ConfigJson());
      }
      if (p == "/__sim/reset" && req.method == "POST") {
        tenant.Reset();
        tenant.SetIndexLagMs(opts.index_lag_ms);
        tenant.SetExportDelayMs(opts.export_delay_ms);
        tenant.SetImportDelayMs(0);
        tenant.ImportFaults({{"fail_next", 0}, {"stall_next", 0}, {"max_concurrent", 2}});
        {
          std::lock_guard<std::mutex> lock(faults_mu);
          faults = Faults{};
        }
        {
          std::lock_guard<std::mutex> lock(config_mu);
          token_lifetime_s = opts.token_lifetime_seconds;
        }
        ApplyRateConfig();
        ResetStats();
        return SendJson(res, 200, {{"reset", true}});
      }
      if (p == "/__sim/seed" && req.method == "POST") return SendJson(res, 200, tenant.Seed(body));
      if (p == "/__sim/imports" && req.method == "POST")
        return SendJson(res, 200, tenant.ImportFaults(body));
      if (p == "/__sim/login" && req.method == "POST")
        return SendJson(res, 200, tenant.Login(body));
      if (p == "/__sim/expire-tokens" && req.method == "POST") {
        std::unique_lock<std::shared_mutex> lock(tokens_mu);
        for (auto& [t, info] : tokens) info.expires_ms = 0;
        return SendJson(res, 200, {{"expired", tokens.size()}});
      }
    } catch (const std::exception& e) {
      return SendJson(res, 400, {{"error", e.what()}});
    }
    SendJson(res, 404, {{"error", "unknown control endpoint " + req.method + " " + p}});
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
    if (req.path.starts_with("/__sim/")) {
      HandleControl(req, res);
    } else {
      HandleApi(req, res);
    }
  }

  SimOptions opts;
  Clock& clock;
  Tenant tenant;
  RateLimiter limiter;
  SeededRandom fault_rng;  // internally synchronised
  httplib::Server server;
  std::string token_key;
  std::string management_audience;
  std::atomic<uint64_t> token_counter{0};

  std::mutex faults_mu;
  Faults faults;  // guarded by faults_mu

  std::mutex config_mu;
  int64_t token_lifetime_s;  // guarded by config_mu

  std::shared_mutex tokens_mu;
  std::unordered_map<std::string, TokenInfo> tokens;  // guarded by tokens_mu

  std::mutex stats_mu;
  Stats stats;  // guarded by stats_mu
  std::atomic<int64_t> inflight{0};
  std::atomic<int64_t> peak_inflight{0};

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;  // guarded by stop_mu
};

SimServer::SimServer(SimOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  auto& s = impl_->server;
  int threads = std::max(2, impl_->opts.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(100000);
  s.set_payload_max_length(16 * 1024 * 1024);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    impl_->Handle(req, res);
  };
  // Multipart bodies are parsed by ParseMultipart: relabel them so httplib reads them raw. The
  // request object is not const (httplib owns it), only the handler's view of it is.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Requests without a body are answered here, skipping httplib's regex dispatch (the hot
    // path of benchmarks). A request with a body must go through routing, which reads it.
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      impl_->Handle(req, res);
      return httplib::Server::HandlerResponse::Handled;
    }
    std::string ct = req.get_header_value("Content-Type");
    if (ct.find("multipart/form-data") != std::string::npos) {
      auto& mutable_req = const_cast<httplib::Request&>(req);
      mutable_req.headers.erase("Content-Type");
      mutable_req.headers.emplace("Content-Type", "application/octet-stream");
      mutable_req.headers.emplace(kOriginalContentType, ct);
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.Get(".*", handler);
  s.Post(".*", handler);
  s.Patch(".*", handler);
  s.Put(".*", handler);
  s.Delete(".*", handler);
}

SimServer::~SimServer() { Stop(); }

int SimServer::Bind() {
  auto& o = impl_->opts;
  int port = -1;
  if (o.port == 0) {
    port = impl_->server.bind_to_any_port(o.host);
  } else if (impl_->server.bind_to_port(o.host, o.port)) {
    port = o.port;
  }
  if (port > 0) impl_->tenant.SetExportBaseUrl(BaseUrl(o.host, port));
  return port;
}

bool SimServer::Listen() { return impl_->server.listen_after_bind(); }

void SimServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  impl_->server.stop();
}

}  // namespace tenantsync::sim
