// Drift benchmark (SPEC §6 "Drift"): what does one full drift pass cost over a large tenant that
// has no differences? A drift pass compares every managed organization (fields, enabled
// connections, members with their roles), every managed user and the application's callbacks
// with what Auth0 holds.
//
// 1. Starts auth0-sim with a generous rate limit (--sim-rate, default 1000/s; the pass is
//    measured by request counts, not by rate) and creates the roles the workload uses.
// 2. Starts `tenantsync serve` against it (TestDaemon: config, secrets and database in a temp
//    directory) with the periodic drift timer off (drift_interval_seconds = 0), drift_mode
//    "report" and on_create = [] (no invitation e-mails: they are not part of drift).
// 3. Seeds through signed webhooks, as bench-reconcile sends them: --orgs organizations (each with
//    one enabled connection, metadata and one callback URL), then --users users spread evenly
//    over the organizations (user j is a member of organization j % orgs with one role), with
//    app_metadata and user_metadata keys. Waits until the daemon has nothing pending (bounded by
//    --seed-timeout, progress every 10 s), then checks the simulator's state against the workload.
// 4. Stops tenantsync (SIGTERM) and starts it again on the same database, so that its peak
//    memory (VmHWM) covers start-up and the drift pass only.
// 5. Reads /__sim/stats, runs one pass with POST /v1/drift/run?mode=report (answered when the
//    pass has finished), reads /__sim/stats again: the difference is what the pass asked Auth0,
//    by endpoint. Then reads the daemon's VmHWM.
// 6. Counts the fewest Management API requests the pagination rules allow for this tenant
//    (MinimumRequests below) and prints it per endpoint group beside what was measured.
//
// Usage: bench-drift [--users 10000] [--orgs 1000] [--keep] [--max-in-flight 16] [--senders 8]
//                    [--sim-rate 1000] [--sim-burst 1000] [--latency-ms 0] [--index-lag-ms 1000]
//                    [--seed-timeout 900] [--drift-timeout 1800] [--auth0-toml 'k = v']
//                    [--build-dir DIR]
// Quick profile: bench-drift --users 1000 --orgs 100.
// A benchmark, not a test: not run by ctest. Exit status 1 when the pass failed or reported
// differences, or when seeding did not complete; 2 when the set-up failed.
// Loopback only; every port chosen at run time (port 0); every loop bounded in count and time.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/signature/signature.h"
#include "tests/bench/bench_support.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace {

using namespace tenantsync;
using namespace tenantsync::testing;
using namespace tenantsync::bench;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kConnection = "Username-Password-Authentication";
constexpr const char* kDomain = "tenant.example.com";
constexpr const char* kClientId = "tenantsyncbenchclient0123456789a";
constexpr const char* kClientSecret = "bench-client-secret-0123456789abcdef";
const std::vector<std::string> kRoles = {"member", "manager", "admin"};
constexpr double kTargetRatio = 1.1;
constexpr double kTargetPeakMb = 150.0;

// ---- Workload -----------------------------------------------------------------------------------

struct Org {
  std::string ext, name, display, url;
  Json metadata;
  std::vector<std::string> connections;
};

struct User {
  std::string ext, email, name, given, family;
  Json app_metadata, user_metadata;
  int org = 0;  // index into Workload::orgs
  std::string role;
};

struct Event {
  std::string id, type;
  Json data;
  std::string timestamp;
};

struct Workload {
  std::vector<Org> orgs;
  std::vector<User> users;
  std::vector<Event> events;  // arrival order: organizations first, then users
};

// Deterministic: no randomness is needed for a tenant without differences.
Workload MakeWorkload(int n_orgs, int n_users) {
  Workload w;
  const int64_t base = 1795600800;  // 2026-11-25T08:00:00Z: event times, one second apart
  int64_t tick = 0;
  for (int i = 0; i < n_orgs; ++i) {
    Org o;
    o.ext = "org-" + std::to_string(i);
    o.name = "drift-org-" + std::to_string(i);
    o.display = "Drift Org " + std::to_string(i);
    o.url = "https://org-" + std::to_string(i) + ".example.com/callback";
    o.metadata = {{"region", i % 2 ? "eu" : "us"}, {"tier", i % 3 ? "standard" : "gold"}};
    o.connections = {kConnection};
    Json conns = Json::array();
    for (auto& c : o.connections)
      conns.push_back({{"name", c}, {"assign_membership_on_login", false}});
    w.events.push_back({"evt-org-" + std::to_string(i),
                        "organization.upserted",
                        {{"external_id", o.ext},
                         {"name", o.name},
                         {"display_name", o.display},
                         {"metadata", o.metadata},
                         {"connections", conns},
                         {"callback_urls", Json::array({o.url})}},
                        Rfc3339(base + tick++)});
    w.orgs.push_back(std::move(o));
  }
  for (int j = 0; j < n_users; ++j) {
    User u;
    u.ext = "emp-" + std::to_string(j);
    u.email = "emp-" + std::to_string(j) + "@example.com";
    u.given = "Given" + std::to_string(j);
    u.family = "Family" + std::to_string(j);
    u.name = u.given + " " + u.family;
    u.app_metadata = {{"employee_id", "E" + std::to_string(100000 + j)},
                      {"cost_center", "cc-" + std::to_string(j % 13)}};
    u.user_metadata = {{"team", "team-" + std::to_string(j % 7)}, {"locale", j % 2 ? "en" : "de"}};
    u.org = j % n_orgs;  // spread evenly: organization sizes differ by at most one
    u.role = kRoles[static_cast<size_t>(j) % kRoles.size()];
    const Org& org = w.orgs[static_cast<size_t>(u.org)];
    w.events.push_back(
        {"evt-user-" + std::to_string(j),
         "user.upserted",
         {{"external_id", u.ext},
          {"email", u.email},
          {"name", u.name},
          {"given_name", u.given},
          {"family_name", u.family},
          {"app_metadata", u.app_metadata},
          {"user_metadata", u.user_metadata},
          {"organizations", Json::array({{{"external_id", org.ext}, {"roles", {u.role}}}})}},
         Rfc3339(base + tick++)});
    w.users.push_back(std::move(u));
  }
  return w;
}

// ---- The minimum --------------------------------------------------------------------------------

struct MinItem {
  std::string group;  // as GroupOf() names the measured endpoints
  std::string what;   // how it is counted
  int64_t count = 0;
};

// The fewest Management API requests one drift pass over this tenant can make, by group, under
// Auth0's paging rules (100 records per page at most). Counted from the workload:
//
//   organizations  GET /organizations with checkpoint paging (from/take, take=100): one page per
//                  100 organizations, ceil(orgs/100). Organization pages carry `next` only while
//                  more follow, so there is no trailing empty page. (Offset paging stops at 1000
//                  records, so it cannot list a large tenant.)
//   connections    GET /organizations/{id}/enabled_connections per organization with connections
//                  tenantsync enabled: ceil(connections/100) pages, i.e. one (at most 10 per
//                  organization).
//   members        GET /organizations/{id}/members with fields=user_id,roles per organization that
//                  has managed members: the roles come with each member, so there is no
//                  per-member roles read. Offset paging with include_totals=true: ceil(members/100)
//                  pages, the total says when to stop. Above 1000 members offset paging is refused
//                  and checkpoint paging is needed; member pages carry `next` even on a short last
//                  page, so the end costs one more (empty) page: ceil(members/100) + 1.
//   users          one users export job: POST /jobs/users-exports + GET /jobs/{id} (the job is
//                  done at the first poll in the simulator). The export file download is not a
//                  Management API call and is not counted here (printed apart when seen).
//   callbacks      GET /clients/{id} once, when tenantsync manages callback URLs.
//
// Not counted: POST /oauth/token (Authentication API; printed apart). Organizations or members
// tenantsync does not manage are never read.
std::vector<MinItem> MinimumRequests(const Workload& w) {
  constexpr int64_t kPage = 100, kOffsetCap = 1000;
  const int64_t orgs = static_cast<int64_t>(w.orgs.size());
  const int64_t users = static_cast<int64_t>(w.users.size());
  std::vector<int64_t> members(w.orgs.size(), 0);
  for (auto& u : w.users) ++members[static_cast<size_t>(u.org)];
  int64_t connection_pages = 0, member_pages = 0, orgs_with_members = 0, callbacks = 0;
  for (size_t o = 0; o < w.orgs.size(); ++o) {
    const int64_t conns = static_cast<int64_t>(w.orgs[o].connections.size());
    if (conns > 0) connection_pages += CeilDiv(conns, kPage);
    if (members[o] > 0) {
      ++orgs_with_members;
      member_pages += CeilDiv(members[o], kPage) + (members[o] > kOffsetCap ? 1 : 0);
    }
    if (!w.orgs[o].url.empty()) ++callbacks;
  }
  const std::string n_orgs = std::to_string(orgs), n_users = std::to_string(users);
  std::vector<MinItem> items;
  items.push_back({"organizations",
                   "GET /organizations, checkpoint, 100 per page: ceil(" + n_orgs + "/100)",
                   orgs > 0 ? CeilDiv(orgs, kPage) : 0});
  items.push_back(
      {"connections",
       "GET /organizations/{id}/enabled_connections: ceil(connections/100) per organization",
       connection_pages});
  items.push_back({"members",
                   "GET /organizations/{id}/members?fields=roles: ceil(members/100) for each of " +
                       std::to_string(orgs_with_members) + " organizations",
                   member_pages});
  items.push_back({"users", "POST /jobs/users-exports + GET /jobs/{id} (" + n_users + " users)",
                   users > 0 ? 2 : 0});
  items.push_back({"callbacks",
                   "GET /clients/{id} (" + std::to_string(callbacks) + " managed callback URLs)",
                   callbacks > 0 ? 1 : 0});
  return items;
}

// The group a Management API endpoint (a simulator route template) belongs to.
std::string GroupOf(const std::string& key) {
  const auto sp = key.find(' ');
  const std::string path = sp == std::string::npos ? key : key.substr(sp + 1);
  if (path.find("/enabled_connections") != std::string::npos) return "connections";
  if (path.find("/members") != std::string::npos) return "members";
  if (path.rfind("/api/v2/organizations", 0) == 0) return "organizations";
  if (path.rfind("/api/v2/users", 0) == 0 || path.rfind("/api/v2/jobs", 0) == 0) return "users";
  if (path.rfind("/api/v2/clients/", 0) == 0) return "callbacks";
  return "other";
}

// ---- Simulator ----------------------------------------------------------------------------------

using Stats = std::map<std::string, std::map<std::string, int64_t>>;  // endpoint -> status -> n
// Export file downloads are counted apart by the simulator (export_downloads_total); they are
// listed under this key, outside the Management API.
constexpr const char* kExportDownloads = "GET /__sim/exports/{file}";

Stats ReadStats(TestHttpClient& sim) {
  Stats s;
  auto r = sim.Get("/__sim/stats");
  if (r.status != 200) return s;
  Json j = r.Json();
  if (!j.is_object() || !j.contains("by_endpoint")) return s;
  for (auto& [key, statuses] : j["by_endpoint"].items()) {
    for (auto& [status, n] : statuses.items()) s[key][status] = n.get<int64_t>();
  }
  if (auto d = j.find("export_downloads_total"); d != j.end() && d->is_number_integer()) {
    s[kExportDownloads]["200"] = d->get<int64_t>();
  }
  return s;
}

Stats Subtract(const Stats& after, const Stats& before) {
  Stats d;
  for (auto& [key, statuses] : after) {
    for (auto& [status, n] : statuses) {
      int64_t was = 0;
      if (auto k = before.find(key); k != before.end()) {
        if (auto st = k->second.find(status); st != k->second.end()) was = st->second;
      }
      if (n - was != 0) d[key][status] = n - was;
    }
  }
  return d;
}

int64_t Sum(const std::map<std::string, int64_t>& statuses) {
  int64_t n = 0;
  for (auto& [status, count] : statuses) n += count;
  return n;
}

bool IsManagement(const std::string& key) { return key.find(" /api/v2/") != std::string::npos; }

int64_t ManagementTotal(const Stats& s) {
  int64_t n = 0;
  for (auto& [key, statuses] : s) n += IsManagement(key) ? Sum(statuses) : 0;
  return n;
}

std::unique_ptr<Subprocess> StartSim(int rate, int burst, int latency_ms, int index_lag_ms,
                                     int* port) {
  auto proc = std::make_unique<Subprocess>(
      BuildPath("auth0-sim"),
      std::vector<std::string>{"--port",          "0",
                               "--domain",        kDomain,
                               "--client-id",     kClientId,
                               "--client-secret", kClientSecret,
                               "--rate",          std::to_string(rate),
                               "--burst",         std::to_string(burst),
                               "--latency-ms",    std::to_string(latency_ms),
                               "--index-lag-ms",  std::to_string(index_lag_ms),
                               "--seed",          "1",
                               "--threads",       "64"});
  *port = proc->WaitForPort("listening on");
  return proc;
}

// Creates the roles the workload assigns (administrators own roles; tenantsync never creates them).
bool CreateRoles(int sim_port) {
  TestHttpClient c("127.0.0.1", sim_port, 10);
  Json body = {{"grant_type", "client_credentials"},
               {"client_id", kClientId},
               {"client_secret", kClientSecret},
               {"audience", std::string("https://") + kDomain + "/api/v2/"}};
  auto t = c.Post("/oauth/token", body.dump());
  const std::string token = t.status == 200 ? t.Json().value("access_token", "") : "";
  if (token.empty()) {
    std::fprintf(stderr, "bench-drift: no token from auth0-sim: %d %s\n", t.status, t.body.c_str());
    return false;
  }
  for (auto& role : kRoles) {
    auto r = c.Post("/api/v2/roles", Json{{"name", role}, {"description", "bench role"}}.dump(),
                    {{"Authorization", "Bearer " + token}});
    if (r.status != 200 && r.status != 201) {
      std::fprintf(stderr, "bench-drift: creating role %s: %d %s\n", role.c_str(), r.status,
                   r.body.c_str());
      return false;
    }
  }
  return true;
}

// What the simulator holds against the workload: every count should equal its expected value.
struct SeedCheck {
  int64_t orgs = 0, orgs_connected = 0, orgs_metadata = 0, callbacks = 0;
  int64_t users = 0, users_profile = 0, memberships = 0;
  bool Complete(const Workload& w) const {
    const auto n_orgs = static_cast<int64_t>(w.orgs.size()),
               n_users = static_cast<int64_t>(w.users.size());
    return orgs == n_orgs && orgs_connected == n_orgs && orgs_metadata == n_orgs &&
           callbacks == n_orgs && users == n_users && users_profile == n_users &&
           memberships == n_users;
  }
};

SeedCheck CheckSeeded(const Json& state, const Workload& w) {
  SeedCheck c;
  if (!state.is_object()) return c;
  std::map<std::string, const Json*> users_by_email;
  std::map<std::string, std::string> email_by_id;
  for (auto& u : state["users"]) {
    users_by_email[u.value("email", "")] = &u;
    email_by_id[u.value("user_id", "")] = u.value("email", "");
  }
  std::map<std::string, const Json*> orgs_by_name;
  for (auto& o : state["organizations"]) orgs_by_name[o.value("name", "")] = &o;
  std::set<std::string> callbacks;
  for (auto& cl : state["clients"]) {
    if (cl.value("client_id", "") != kClientId) continue;
    for (auto& cb : cl["callbacks"]) callbacks.insert(cb.get<std::string>());
  }
  // org name -> email -> role names
  std::map<std::string, std::map<std::string, std::set<std::string>>> members;
  for (auto& org : w.orgs) {
    auto it = orgs_by_name.find(org.name);
    if (it == orgs_by_name.end()) continue;
    const Json& o = *it->second;
    ++c.orgs;
    std::set<std::string> have, want(org.connections.begin(), org.connections.end());
    for (auto& ec : o["enabled_connections"]) have.insert(ec.value("name", ""));
    if (std::includes(have.begin(), have.end(), want.begin(), want.end())) ++c.orgs_connected;
    if (o.value("display_name", "") == org.display &&
        o.value("metadata", Json::object()) == org.metadata) {
      ++c.orgs_metadata;
    }
    if (callbacks.count(org.url)) ++c.callbacks;
    auto& m = members[org.name];
    for (auto& mem : o["members"]) {
      std::set<std::string> roles;
      for (auto& r : mem["roles"]) roles.insert(r.get<std::string>());
      m[email_by_id[mem.value("user_id", "")]] = roles;
    }
  }
  for (auto& u : w.users) {
    auto it = users_by_email.find(u.email);
    if (it == users_by_email.end()) continue;
    ++c.users;
    const Json& a = *it->second;
    if (a.value("name", "") == u.name && a.value("given_name", "") == u.given &&
        a.value("family_name", "") == u.family &&
        a.value("app_metadata", Json::object()) == u.app_metadata &&
        a.value("user_metadata", Json::object()) == u.user_metadata) {
      ++c.users_profile;
    }
    auto& m = members[w.orgs[static_cast<size_t>(u.org)].name];
    auto mit = m.find(u.email);
    if (mit != m.end() && mit->second == std::set<std::string>{u.role}) ++c.memberships;
  }
  return c;
}

// ---- Daemon -------------------------------------------------------------------------------------

// Posts every event, signed (signed just before sending, so a slow delivery never outlives the
// signature tolerance), over `connections` keep-alive connections; each event goes to one
// connection in arrival order (a shared cursor). A delivery is retried up to 5 times on no answer
// or 429/503 (the daemon's back-pressure). Stops early after `timeout_s`.
void SendAll(const Workload& w, int port, const SignatureOptions& signing, int connections,
             double timeout_s, int64_t* sent, int64_t* errors) {
  std::atomic<size_t> next{0};
  std::atomic<int64_t> ok{0}, bad{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      TestHttpClient client("127.0.0.1", port, 10);
      for (size_t i = next.fetch_add(1); i < w.events.size() && Since(t0) < timeout_s;
           i = next.fetch_add(1)) {
        const Event& e = w.events[i];
        const std::string body = EventBody(e.type, e.data, e.timestamp);
        bool done = false;
        for (int attempt = 0; attempt < 5 && !done; ++attempt) {
          auto h = SignDelivery(signing, e.id, static_cast<int64_t>(std::time(nullptr)), body);
          auto r = client.Post("/webhooks/hr", body, HeaderList(h.begin(), h.end()));
          if (r.status >= 200 && r.status < 300) {
            done = true;
          } else if (r.status == 0 || r.status == 429 || r.status == 503) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
          } else {
            std::fprintf(stderr, "bench-drift: event %s answered %d: %s\n", e.id.c_str(), r.status,
                         r.body.c_str());
            break;
          }
        }
        (done ? ok : bad).fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  *sent = ok.load();
  *errors = bad.load();
}

// status[section][key] as a number; -1 when absent (e.g. the status request failed).
int64_t Count(const Json& status, const char* section, const char* key) {
  if (!status.is_object() || !status.contains(section) || !status[section].is_object()) return -1;
  const Json& v = status[section].value(key, Json());
  return v.is_number_integer() ? v.get<int64_t>() : -1;
}

// Polls /v1/status every 250 ms until converged twice in a row or `timeout_s` passes; prints a
// progress line every 10 s. Returns the last status; *ok tells whether it converged.
Json WaitConverged(TestDaemon& daemon, TestHttpClient& sim, double timeout_s, const char* what,
                   bool* ok) {
  const auto t0 = Clock::now();
  int stable = 0;
  double last_print = 0;
  int64_t mgmt_at_print = ManagementTotal(ReadStats(sim));
  Json status;
  *ok = false;
  while (Since(t0) < timeout_s) {
    auto r = daemon.AdminGet("/v1/status");
    status = r.status == 200 ? r.Json() : Json();
    if (Converged(status)) {
      if (++stable >= 2) {
        *ok = true;
        break;
      }
    } else {
      stable = 0;
    }
    if (Since(t0) - last_print >= 10) {
      const double now = Since(t0);
      const int64_t mgmt = ManagementTotal(ReadStats(sim));
      std::printf(
          "  ... %s %4.0f s: events pending %lld applied %lld; entities to reconcile %lld; "
          "mutations done %lld failed %lld dead %lld; %.0f Management requests/s\n",
          what, now, static_cast<long long>(Count(status, "events", "pending")),
          static_cast<long long>(Count(status, "events", "applied")),
          static_cast<long long>(
              status.is_object() ? status.value("entities_to_reconcile", int64_t{-1}) : -1),
          static_cast<long long>(Count(status, "mutations", "done")),
          static_cast<long long>(Count(status, "mutations", "failed")),
          static_cast<long long>(Count(status, "mutations", "dead")),
          static_cast<double>(mgmt - mgmt_at_print) / std::max(0.001, now - last_print));
      std::fflush(stdout);
      last_print = now;
      mgmt_at_print = mgmt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return status;
}

const char* Verdict(bool ok) { return ok ? "PASS" : "MISS"; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tenantsync drift benchmark (SPEC §6): one drift pass over a large tenant with no "
      "differences"};
  int users = 10000, orgs = 1000, max_in_flight = 16, senders = 8, sim_rate = 1000,
      sim_burst = 1000, latency_ms = 0, index_lag_ms = 1000;
  double seed_timeout_s = 900, drift_timeout_s = 1800;
  bool keep = false;
  std::string build_dir_flag, auth0_toml;
  app.add_option("--users", users, "Users, spread evenly over the organizations (default 10000)")
      ->check(CLI::Range(1, 200000));
  app.add_option("--orgs", orgs, "Organizations (default 1000)")->check(CLI::Range(1, 100000));
  app.add_flag("--keep", keep, "Keep the daemon's temp directory (config, secrets, database)");
  app.add_option("--max-in-flight", max_in_flight,
                 "tenantsync [auth0] max_in_flight while seeding and drifting")
      ->check(CLI::Range(1, 64));
  app.add_option("--senders", senders, "Keep-alive connections delivering the seeding events")
      ->check(CLI::Range(1, 64));
  app.add_option("--sim-rate", sim_rate, "auth0-sim --rate (requests/s; 0 = no rate limit)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--sim-burst", sim_burst, "auth0-sim --burst")->check(CLI::Range(0, 100000));
  app.add_option("--latency-ms", latency_ms, "auth0-sim --latency-ms (every answer delayed)")
      ->check(CLI::Range(0, 10000));
  app.add_option("--index-lag-ms", index_lag_ms,
                 "auth0-sim --index-lag-ms; the pass starts at least this long + 1 s after the "
                 "last seeding write, as member lists and search lag behind writes")
      ->check(CLI::Range(0, 600000));
  app.add_option("--seed-timeout", seed_timeout_s,
                 "Give up seeding after this many seconds (default 900)")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--drift-timeout", drift_timeout_s,
                 "HTTP timeout of the drift run request, seconds (default 1800)")
      ->check(CLI::Range(1.0, 86400.0));
  app.add_option("--auth0-toml", auth0_toml, "Extra lines for tenantsync's [auth0] section");
  app.add_option("--build-dir", build_dir_flag, "Directory holding tenantsync and auth0-sim");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);

  const std::string build_dir = FindBuildDir(build_dir_flag);
  for (auto bin : {"tenantsync", "auth0-sim"}) {
    if (!std::filesystem::exists(build_dir + "/" + bin)) {
      std::fprintf(stderr, "bench-drift: no %s binary in %s (use --build-dir)\n", bin,
                   build_dir.c_str());
      return 2;
    }
  }
  setenv("TENANTSYNC_BUILD_DIR", build_dir.c_str(), 1);  // read by BuildPath()

  const Workload w = MakeWorkload(orgs, users);
  const std::vector<MinItem> minimum = MinimumRequests(w);
  std::printf("bench-drift: build=%s hardware threads=%u\n", build_dir.c_str(),
              std::thread::hardware_concurrency());
  std::printf(
      "  workload: %zu organizations (1 enabled connection, 2 metadata keys, 1 callback URL each), "
      "%zu users (2 app_metadata + 2 user_metadata keys each), 1 membership with 1 role per user, "
      "%zu events\n",
      w.orgs.size(), w.users.size(), w.events.size());
  std::printf(
      "  auth0-sim --rate %d --burst %d --latency-ms %d --index-lag-ms %d; tenantsync "
      "max_in_flight=%d, drift_interval_seconds=0, drift_mode=report, "
      "drift_member_list_lag_seconds=0, on_create=[]%s%s\n\n",
      sim_rate, sim_burst, latency_ms, index_lag_ms, max_in_flight,
      auth0_toml.empty() ? "" : ", [auth0] extra: ", auth0_toml.c_str());
  std::fflush(stdout);

  // 1. The simulator.
  int sim_port = 0;
  auto sim_proc = StartSim(sim_rate, sim_burst, latency_ms, index_lag_ms, &sim_port);
  if (sim_port <= 0 || !CreateRoles(sim_port)) {
    std::fprintf(stderr, "bench-drift: auth0-sim did not start:\n%s\n", sim_proc->Output().c_str());
    return 2;
  }
  TestHttpClient sim("127.0.0.1", sim_port, 120);

  // 2. The daemon.
  TestDaemonOptions options;
  options.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
  options.auth0_client_id = kClientId;
  options.auth0_client_secret = kClientSecret;
  options.application_client_id = kClientId;
  // Appended after [auth0]: plain keys land there.
  options.extra_toml =
      "max_in_flight = " + std::to_string(max_in_flight) + "\n" + auth0_toml +
      "\n\n[policy]\ndrift_interval_seconds = 0\ndrift_mode = \"report\"\non_create = []\n"
      // Every member is judged, however recently it was added (the pass waits out the index lag).
      "drift_member_list_lag_seconds = 0\n";
  TestDaemon daemon(options);
  auto finish = [&](int code) {
    if (daemon.process() != nullptr) daemon.Stop(SIGTERM);
    if (keep) {
      std::printf("kept: %s (config, secrets, database)\n", daemon.dir().c_str());
    } else {
      std::filesystem::remove_all(daemon.dir());
    }
    std::fflush(stdout);
    return code;
  };
  if (!daemon.Start()) {
    std::fprintf(stderr, "bench-drift: the daemon did not start:\n%s\n", daemon.Output().c_str());
    return finish(2);
  }

  // 3. Seeding.
  std::printf("seeding: %zu events through signed webhooks over %d connections...\n",
              w.events.size(), senders);
  std::fflush(stdout);
  const auto seed_t0 = Clock::now();
  int64_t sent = 0, send_errors = 0;
  SendAll(w, daemon.ingress_port(), daemon.Signing("hr"), senders, seed_timeout_s, &sent,
          &send_errors);
  const double send_s = Since(seed_t0);
  std::printf(
      "  delivered %lld events in %.1f s (%lld not accepted); waiting until nothing is "
      "pending...\n",
      static_cast<long long>(sent), send_s, static_cast<long long>(send_errors));
  std::fflush(stdout);
  bool converged = false;
  Json status =
      WaitConverged(daemon, sim, std::max(1.0, seed_timeout_s - send_s), "seeding", &converged);
  const double seed_s = Since(seed_t0);
  const auto seeded_at = Clock::now();
  const Stats seed_stats = ReadStats(sim);
  std::printf(
      "  %s after %.1f s: %lld Management API requests; mutations done %lld, failed %lld, dead "
      "%lld; events failed %lld, rejected %lld\n",
      converged ? "converged" : "NOT converged", seed_s,
      static_cast<long long>(ManagementTotal(seed_stats)),
      static_cast<long long>(Count(status, "mutations", "done")),
      static_cast<long long>(Count(status, "mutations", "failed")),
      static_cast<long long>(Count(status, "mutations", "dead")),
      static_cast<long long>(Count(status, "events", "failed")),
      static_cast<long long>(Count(status, "events", "rejected")));
  const int64_t seed_hwm_kb = VmHwmKb(daemon.process()->pid());
  const SeedCheck seeded = CheckSeeded(sim.Get("/__sim/state").Json(), w);
  const bool seed_complete = converged && send_errors == 0 && seeded.Complete(w);
  std::printf(
      "  auth0-sim holds: organizations %lld/%zu (display_name+metadata %lld, connection enabled "
      "%lld, callback URL %lld), users %lld/%zu (profile+metadata %lld), memberships with their "
      "role %lld/%zu: %s\n",
      static_cast<long long>(seeded.orgs), w.orgs.size(),
      static_cast<long long>(seeded.orgs_metadata), static_cast<long long>(seeded.orgs_connected),
      static_cast<long long>(seeded.callbacks), static_cast<long long>(seeded.users),
      w.users.size(), static_cast<long long>(seeded.users_profile),
      static_cast<long long>(seeded.memberships), w.users.size(),
      seed_complete ? "complete" : "INCOMPLETE");
  std::printf("  daemon peak memory while seeding (VmHWM): %.1f MB\n\n",
              static_cast<double>(seed_hwm_kb) / 1024.0);
  std::fflush(stdout);

  // 4. Restart on the same database.
  const auto stop_code = daemon.Stop(SIGTERM);
  if (!stop_code || *stop_code != 0)
    std::printf("  note: the daemon did not exit cleanly on SIGTERM\n");
  const auto restart_t0 = Clock::now();
  if (!daemon.Start()) {
    std::fprintf(stderr, "bench-drift: the daemon did not start again:\n%s\n",
                 daemon.Output().c_str());
    return finish(2);
  }
  const pid_t pid = daemon.process()->pid();
  bool idle = false;
  status = WaitConverged(daemon, sim, 120, "restart", &idle);
  std::printf("restarted tenantsync (pid %d) on the same database; idle after %.1f s%s\n",
              static_cast<int>(pid), Since(restart_t0),
              idle ? "" : " (NOT idle: the writer still has work; it is counted below)");

  // Member lists and user search show writes --index-lag-ms late (as in Auth0): a pass started
  // earlier would report the newest members missing, which is not drift.
  const double lag_s = index_lag_ms / 1000.0 + 1.0;
  if (Since(seeded_at) < lag_s) {
    std::this_thread::sleep_for(std::chrono::duration<double>(lag_s - Since(seeded_at)));
  }

  // 5. One drift pass.
  const int64_t hwm_before_kb = VmHwmKb(pid);
  const double cpu_before = ProcessCpuSeconds(pid);
  const int64_t done_before = Count(status, "mutations", "done");
  const Stats before = ReadStats(sim);
  std::printf("drift pass: POST /v1/drift/run?mode=report ...\n");
  std::fflush(stdout);
  std::atomic<bool> running{true};
  std::thread progress([&] {  // a line every 10 s while the pass runs (bounded by the timeout)
    TestHttpClient c("127.0.0.1", sim_port, 10);
    const auto t0 = Clock::now();
    const int64_t base = ManagementTotal(before);
    double last = 0;
    while (running.load() && Since(t0) < drift_timeout_s + 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (Since(t0) - last < 10) continue;
      last = Since(t0);
      std::printf("  ... drift %4.0f s: %lld Management API requests so far\n", last,
                  static_cast<long long>(ManagementTotal(ReadStats(c)) - base));
      std::fflush(stdout);
    }
  });
  TestHttpClient admin("127.0.0.1", daemon.admin_port(), static_cast<int>(drift_timeout_s));
  const auto pass_t0 = Clock::now();
  auto answer = admin.Post("/v1/drift/run?mode=report", "{}",
                           {{"Authorization", "Bearer " + daemon.admin_token()}});
  const double pass_s = Since(pass_t0);
  running = false;
  progress.join();
  const Stats after = ReadStats(sim);
  const int64_t hwm_kb = VmHwmKb(pid);
  const double pass_cpu = ProcessCpuSeconds(pid) - cpu_before;
  const Json after_status = daemon.AdminGet("/v1/status").Json();
  const int64_t done_after = Count(after_status, "mutations", "done");
  const Stats pass = Subtract(after, before);
  const Json report = answer.Json();
  const bool pass_ok = answer.status == 200 && report.is_object() && report.contains("differences");
  if (!pass_ok) {
    std::printf("FAIL: the drift run answered %d: %s\n", answer.status,
                answer.body.substr(0, 400).c_str());
    // The daemon's last log lines say why.
    const std::string out = daemon.Output();
    size_t from = out.size();
    for (int lines = 0; lines < 16 && from > 0; ++lines) from = out.rfind('\n', from - 1);
    std::printf("daemon output (last lines):\n%s\n",
                out.substr(from == std::string::npos ? 0 : from + 1).c_str());
  }

  // 6. The figures.
  std::map<std::string, int64_t> measured;  // group -> requests
  int64_t mgmt = 0, non_2xx = 0;
  std::printf("\nManagement API requests of the pass, by endpoint (statuses):\n");
  for (auto& [key, statuses] : pass) {
    if (!IsManagement(key)) continue;
    const int64_t n = Sum(statuses);
    mgmt += n;
    measured[GroupOf(key)] += n;
    std::string st;
    for (auto& [code, count] : statuses) {
      st += (st.empty() ? "" : ", ") + code + ": " + std::to_string(count);
      if (code.empty() || code[0] != '2') non_2xx += count;
    }
    std::printf("  %7lld  %-62s (%s)\n", static_cast<long long>(n), key.c_str(), st.c_str());
  }
  std::printf("not Management API (not in the ratio):\n");
  bool any_other = false;
  for (auto& [key, statuses] : pass) {
    if (IsManagement(key)) continue;
    any_other = true;
    std::printf("  %7lld  %s%s\n", static_cast<long long>(Sum(statuses)), key.c_str(),
                key.find("/oauth/token") != std::string::npos ? "  (token)"
                : key == kExportDownloads                     ? "  (users export file download)"
                                                              : "");
  }
  if (!any_other) std::printf("        0  (no token request, no file download)\n");

  int64_t min_total = 0;
  std::vector<std::string> not_read;
  std::printf("\nby group: minimum (counted from the workload) vs. measured\n");
  std::printf("  %-14s %9s %9s %9s  %s\n", "group", "minimum", "measured", "excess",
              "how the minimum is counted");
  std::set<std::string> groups_shown;
  for (auto& item : minimum) {
    const int64_t got = measured[item.group];
    min_total += item.count;
    groups_shown.insert(item.group);
    if (item.count > 0 && got == 0) not_read.push_back(item.group);
    std::printf("  %-14s %9lld %9lld %+9lld  %s%s\n", item.group.c_str(),
                static_cast<long long>(item.count), static_cast<long long>(got),
                static_cast<long long>(got - item.count), item.what.c_str(),
                item.count > 0 && got == 0 ? "  <- NOT READ" : "");
  }
  for (auto& [group, got] : measured) {
    if (groups_shown.count(group)) continue;
    std::printf("  %-14s %9d %9lld %+9lld  (no request of this kind is needed)\n", group.c_str(), 0,
                static_cast<long long>(got), static_cast<long long>(got));
  }
  std::printf("  %-14s %9lld %9lld %+9lld\n", "total", static_cast<long long>(min_total),
              static_cast<long long>(mgmt), static_cast<long long>(mgmt - min_total));

  const int64_t differences = pass_ok ? static_cast<int64_t>(report["differences"].size()) : -1;
  if (pass_ok) {
    std::printf(
        "\ndaemon's report: %lld differences, requests (its own estimate) %lld, duration_ms %lld, "
        "corrected %lld\n",
        static_cast<long long>(differences),
        static_cast<long long>(report.value("requests", int64_t{-1})),
        static_cast<long long>(report.value("duration_ms", int64_t{-1})),
        static_cast<long long>(report.value("corrected", int64_t{-1})));
    for (auto& note : report.value("notes", Json::array())) {
      std::printf("  note: %s\n",
                  note.is_string() ? note.get<std::string>().c_str() : note.dump().c_str());
    }
    int shown = 0;
    for (auto& d : report["differences"]) {
      if (shown++ >= 10) break;
      std::printf("  difference: %s\n", d.dump().c_str());
    }
  }
  if (done_before >= 0 && done_after >= 0 && done_after != done_before) {
    std::printf(
        "  note: the writer finished %lld mutations during the pass; their requests are in the "
        "counts above\n",
        static_cast<long long>(done_after - done_before));
  }

  const double ratio =
      min_total > 0 ? static_cast<double>(mgmt) / static_cast<double>(min_total) : 0;
  const double peak_mb = static_cast<double>(hwm_kb) / 1024.0;
  // Fewer requests than the minimum, or a group not read at all, means part of the tenant was not
  // compared: that is not a pass however low the ratio.
  const bool ratio_ok = pass_ok && not_read.empty() && ratio >= 1.0 && ratio <= kTargetRatio;
  std::string why;
  for (auto& g : not_read) why += (why.empty() ? " (not read at all: " : ", ") + g;
  if (!why.empty()) why += ")";
  if (pass_ok && ratio < 1.0) why += " (below the minimum: not everything was compared)";
  std::printf("\nresults (%zu organizations, %zu users):\n", w.orgs.size(), w.users.size());
  std::printf("  Management API requests   %9lld  minimum %lld  ratio %.2f  target <= %.2f  %s%s\n",
              static_cast<long long>(mgmt), static_cast<long long>(min_total), ratio, kTargetRatio,
              Verdict(ratio_ok), why.c_str());
  std::printf("  requests not answered 2xx %9lld\n", static_cast<long long>(non_2xx));
  if (pass_ok) {
    std::printf("  differences reported      %9lld  target 0  %s\n",
                static_cast<long long>(differences), differences == 0 ? "PASS" : "FAIL");
  } else {
    std::printf("  differences reported            n/a  target 0  FAIL (the drift run failed)\n");
  }
  std::printf("  drift pass wall time      %9.2f s  (daemon CPU %.2f s)\n", pass_s, pass_cpu);
  std::printf(
      "  daemon peak memory        %9.1f MB  target <= %.0f MB  %s  (VmHWM after start-up + the "
      "pass; %.1f MB before the pass)\n",
      peak_mb, kTargetPeakMb, Verdict(hwm_kb > 0 && peak_mb <= kTargetPeakMb),
      static_cast<double>(hwm_before_kb) / 1024.0);
  std::printf("  seeding                   %9.1f s  (%zu events, delivered in %.1f s; %s)\n",
              seed_s, w.events.size(), send_s, seed_complete ? "complete" : "INCOMPLETE");
  if (pass_ok && differences != 0) {
    std::printf("\nFAIL: the drift pass reported %lld differences on a tenant that has none\n",
                static_cast<long long>(differences));
  }
  if (!seed_complete)
    std::printf("\nFAIL: seeding did not complete; the pass above measured a smaller tenant\n");
  const bool failed = !pass_ok || differences != 0 || !seed_complete;
  if (failed && keep) std::printf("\ndaemon output:\n%s\n", daemon.Output().c_str());
  return finish(failed ? 1 : 0);
}
