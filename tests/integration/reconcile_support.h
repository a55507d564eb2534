// Shared helpers for the reconcile_* integration tests (issue 5): a real auth0-sim process and a
// real `tenantsync serve` talking to it over HTTP, events built with explicit timestamps, waiting
// for convergence through /v1/status, and a normalised view of the simulator's tenant
// (`GET /__sim/state` without generated ids or timestamps, keyed by e-mail / name) to compare.
// Header-only; used from one test thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace tenantsync::testing::reconcile {

using Json = nlohmann::json;

inline constexpr const char* kSimClientId = "tenantsync-e2e-client-0123456789";
inline constexpr const char* kSimClientSecret = "sim-e2e-secret-abcdefghijklmnopqrstuvwxyz";
inline constexpr const char* kConnection = "Username-Password-Authentication";

// A running auth0-sim with a Management API token for direct setup calls (roles).
class Sim {
 public:
  explicit Sim(std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args = {
        "--port",      "0",          "--domain",        "tenant.example.com",
        "--client-id", kSimClientId, "--client-secret", kSimClientSecret,
        "--seed",      "1"};
    for (auto& a : extra_args) args.push_back(a);
    proc_ = std::make_unique<Subprocess>(BuildPath("auth0-sim"), args);
    port_ = proc_->WaitForPort("listening on");
    if (port_ > 0) http_ = std::make_unique<TestHttpClient>("127.0.0.1", port_, 30);
  }
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  Json State() { return http_->Get("/__sim/state").Json(); }
  Json Stats() { return http_->Get("/__sim/stats").Json(); }
  TestResponse SetFaults(const Json& faults) { return http_->Post("/__sim/faults", faults.dump()); }

  // Management API call with a token of the M2M client (setup only: faults off while used).
  TestResponse Api(const std::string& method, const std::string& path,
                   const Json& body = Json::object()) {
    if (token_.empty()) {
      auto r = http_->Post("/oauth/token", Json{{"grant_type", "client_credentials"},
                                                {"client_id", kSimClientId},
                                                {"client_secret", kSimClientSecret},
                                                {"audience", "https://tenant.example.com/api/v2/"}}
                                               .dump());
      token_ = r.Json().value("access_token", std::string());
    }
    return http_->Send(method, "/api/v2" + path, method == "GET" ? "" : body.dump(),
                       {{"Authorization", "Bearer " + token_}});
  }
  void CreateRole(const std::string& name) {
    auto r = Api("POST", "/roles", {{"name", name}, {"description", name}});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Count of answers for one route template in /__sim/stats, all statuses, or one status.
  int64_t Requests(const std::string& route, const std::string& status = "") {
    auto s = Stats();
    auto& by = s["by_endpoint"];
    if (!by.contains(route)) return 0;
    int64_t n = 0;
    for (auto& [code, count] : by[route].items()) {
      if (status.empty() || code == status) n += count.get<int64_t>();
    }
    return n;
  }

 private:
  std::unique_ptr<Subprocess> proc_;
  std::unique_ptr<TestHttpClient> http_;
  int port_ = 0;
  std::string token_;
};

inline TestDaemonOptions DaemonFor(const Sim& sim, const std::string& extra_toml = "") {
  TestDaemonOptions o;
  o.auth0_base_url = sim.base_url();
  o.auth0_client_id = kSimClientId;
  o.auth0_client_secret = kSimClientSecret;
  o.application_client_id = kSimClientId;  // exists in a fresh sim
  o.extra_toml = extra_toml;
  return o;
}

// RFC 3339 for 2026-11-25T10:00:00Z + `seconds`: event timestamps that order the changes.
inline std::string Ts(int64_t seconds) {
  std::tm base{};
  base.tm_year = 2026 - 1900;
  base.tm_mon = 10;
  base.tm_mday = 25;
  base.tm_hour = 10;
  std::time_t t = timegm(&base) + seconds;
  std::tm out{};
  gmtime_r(&t, &out);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &out);
  return buf;
}

// RFC 3339 of now + `seconds` of wall-clock time (effective_at).
inline std::string FromNow(int64_t seconds) {
  std::time_t t = std::time(nullptr) + seconds;
  std::tm out{};
  gmtime_r(&t, &out);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &out);
  return buf;
}

struct Ev {
  std::string id;
  std::string type;
  Json data;
  std::string timestamp;
  std::string Body() const { return EventBody(type, data, timestamp); }
};

// Posts `ev`; true when ingress accepted it (also a duplicate delivery answered 2xx).
inline bool Send(TestDaemon& d, const Ev& ev) {
  auto r = d.PostEvent("hr", ev.id, ev.Body());
  EXPECT_GE(r.status, 200) << ev.id << ": " << r.body;
  EXPECT_LT(r.status, 300) << ev.id << ": " << r.body;
  return r.status >= 200 && r.status < 300;
}

inline Json Status(TestDaemon& d) { return d.AdminGet("/v1/status").Json(); }

// Polls /v1/status until nothing is left to apply or reconcile (`scheduled` = pending events
// expected to stay pending because their effective_at is in the future). Returns the last status.
inline Json WaitConverged(TestDaemon& d,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          int64_t scheduled = 0) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Json s;
  int stable = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = d.AdminGet("/v1/status");
    if (r.status == 200) {
      s = r.Json();
      bool quiet = s["entities_to_reconcile"] == 0 && s["events"]["pending"] == scheduled;
      // Twice in a row: a worker that just finished may still be marking follow-up work.
      if (quiet && ++stable >= 2) return s;
      if (!quiet) stable = 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "tenantsync did not converge within " << timeout.count()
                << " ms; last status: " << s.dump();
  return s;
}

inline Json Mutations(TestDaemon& d, const std::string& query = "") {
  return d.AdminGet("/v1/mutations?limit=1000" + query).Json()["mutations"];
}

// ---- Normalised tenant
// ---------------------------------------------------------------------------

inline Json SortedStrings(const Json& a) {
  std::vector<std::string> v;
  if (a.is_array()) {
    for (auto& x : a) v.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  }
  std::sort(v.begin(), v.end());
  return v;
}

// {"users": {email: {profile, metadata, blocked}}, "organizations": {name: {display_name,
//  metadata, branding, members: {email: [roles]}, connections: {name: {flags}}}},
//  "callbacks": [sorted urls of `app_client_id`], "duplicate_emails": [...],
//  "connection_clients": {connection name: has app_client_id}}
inline Json Normalize(const Json& state, const std::string& app_client_id = kSimClientId) {
  Json out = {{"users", Json::object()},
              {"organizations", Json::object()},
              {"callbacks", Json::array()},
              {"duplicate_emails", Json::array()},
              {"connection_clients", Json::object()}};
  std::map<std::string, std::string> email_of;
  std::map<std::string, int> email_count;
  for (auto& u : state["users"]) {
    std::string email = u.value("email", std::string());
    email_of[u["user_id"].get<std::string>()] = email;
    if (++email_count[email] == 2) out["duplicate_emails"].push_back(email);
    Json n = Json::object();
    for (auto f :
         {"email", "email_verified", "name", "given_name", "family_name", "nickname", "picture"}) {
      if (u.contains(f)) n[f] = u[f];
    }
    n["app_metadata"] = u.contains("app_metadata") ? u["app_metadata"] : Json::object();
    n["user_metadata"] = u.contains("user_metadata") ? u["user_metadata"] : Json::object();
    n["blocked"] = u.value("blocked", false);
    out["users"][email] = n;
  }
  for (auto& o : state["organizations"]) {
    Json n = Json::object();
    n["display_name"] = o.contains("display_name") ? o["display_name"] : Json();
    n["metadata"] = o.contains("metadata") ? o["metadata"] : Json::object();
    n["branding"] = o.contains("branding") ? o["branding"] : Json();
    n["members"] = Json::object();
    for (auto& m : o["members"]) {
      n["members"][email_of[m["user_id"].get<std::string>()]] = SortedStrings(m["roles"]);
    }
    n["connections"] = Json::object();
    for (auto& c : o["enabled_connections"]) {
      n["connections"][c["name"].get<std::string>()] = {
          {"assign_membership_on_login", c.value("assign_membership_on_login", false)},
          {"show_as_button", c.value("show_as_button", true)}};
    }
    out["organizations"][o["name"].get<std::string>()] = n;
  }
  for (auto& c : state["clients"]) {
    if (c["client_id"] == app_client_id) out["callbacks"] = SortedStrings(c["callbacks"]);
  }
  for (auto& c : state["connections"]) {
    bool has = false;
    for (auto& id : c["enabled_clients"]) has = has || id == app_client_id;
    out["connection_clients"][c["name"].get<std::string>()] = has;
  }
  return out;
}

// E-mails recorded by the sim: {type: {address: count}}.
inline std::map<std::string, std::map<std::string, int>> Emails(const Json& state) {
  std::map<std::string, std::map<std::string, int>> out;
  for (auto& e : state["emails"]) out[e["type"].get<std::string>()][e.value("to", std::string())]++;
  return out;
}

}  // namespace tenantsync::testing::reconcile
