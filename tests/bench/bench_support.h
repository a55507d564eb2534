// Helpers shared by the end-to-end benchmarks (bench-reconcile, bench-drift, bench-declared,
// bench-backfill): timing, process figures from /proc, locating the built binaries, reading the
// daemon's status, starting and counting auth0-sim, and delivering signed events. Header-only.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/signature/signature.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace tenantsync::bench {

// Seconds since `t0` on the steady clock.
inline double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Wall-clock time in Unix milliseconds (comparable with timestamps the simulator records).
inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unix milliseconds of an RFC 3339 UTC time as auth0-sim writes it ("2026-11-30T10:39:47.123Z";
// the fraction is optional); -1 when it does not parse.
inline int64_t ParseRfc3339Ms(const std::string& s) {
  std::tm tm{};
  int ms = 0, n = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
    return -1;
  if (s.size() > static_cast<size_t>(n) + 1 && s[static_cast<size_t>(n)] == '.') {
    int digits = 0;
    for (size_t i = static_cast<size_t>(n) + 1;
         i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && digits < 3;
         ++i, ++digits)
      ms = ms * 10 + (s[i] - '0');
    for (; digits < 3; ++digits) ms *= 10;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// Nearest-rank percentile (0 < p <= 100) of `v`; 0 for an empty `v`.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// RFC 3339 UTC time of a Unix timestamp.
inline std::string Rfc3339(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// User+system CPU seconds used so far by process `pid` (/proc/PID/stat fields 14 and 15).
inline double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Bytes process `pid` has passed to write-like and read-like system calls so far (/proc/PID/io
// `wchar` and `rchar`: write/pwrite/writev and read/pread/readv on files and pipes — a socket
// counts only through write/read, not send/recv); {0, 0} when unreadable.
struct IoBytes {
  int64_t written = 0, read = 0;
};
inline IoBytes ProcessIoBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  IoBytes b;
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "wchar:") b.written = value;
    if (key == "rchar:") b.read = value;
  }
  return b;
}

// User+system CPU seconds used so far by each live thread of `pid`, summed by thread name
// (/proc/PID/task/TID/stat: the name in parentheses, fields 14 and 15). tenantsync names its
// threads (common/thread_name.h); threads that already exited are not counted.
inline std::map<std::string, double> ThreadCpuSecondsByName(pid_t pid) {
  std::map<std::string, double> out;
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    const std::string name = stat.substr(open + 1, close - open - 1);
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
    }
    out[name] += ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return out;
}

// Peak resident memory (VmHWM) of process `pid` in KiB; 0 when unreadable.
inline int64_t VmHwmKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// Current resident memory (VmRSS) of process `pid` in KiB; 0 when unreadable.
inline int64_t VmRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// "nproc N, <cpu model>, load average A B C" from /proc, for the figures' machine line.
inline std::string MachineDescription() {
  std::string model = "?";
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ifstream load("/proc/loadavg");
  std::string l1, l5, l15;
  load >> l1 >> l5 >> l15;
  return "nproc " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + ", " + model +
         ", load average " + l1 + " " + l5 + " " + l15;
}

// The build directory holding tenantsync and auth0-sim: --build-dir, $TENANTSYNC_BUILD_DIR, or
// found next to this executable.
inline std::string FindBuildDir(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TENANTSYNC_BUILD_DIR"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  for (fs::path dir : {exe.parent_path().parent_path(), exe.parent_path()}) {
    if (fs::exists(dir / "tenantsync", ec) && fs::exists(dir / "auth0-sim", ec))
      return dir.string();
  }
  return exe.parent_path().parent_path().string();
}

// Whether /v1/status says nothing is left to do (no pending event, dirty entity or mutation).
inline bool Converged(const nlohmann::json& s) {
  if (!s.is_object() || !s.contains("events") || !s.contains("mutations")) return false;
  return s["events"].value("pending", int64_t{1}) == 0 &&
         s.value("entities_to_reconcile", int64_t{1}) == 0 &&
         s["mutations"].value("pending", int64_t{1}) == 0 &&
         s["mutations"].value("in_flight", int64_t{1}) == 0;
}

// ---- auth0-sim ----------------------------------------------------------------------------------

// The tenant every benchmark simulates: its domain, the daemon's client credentials, the
// connection the organizations enable and the roles administrators created beforehand.
inline constexpr const char* kSimDomain = "tenant.example.com";
inline constexpr const char* kSimClientId = "tenantsyncbenchclient0123456789a";
inline constexpr const char* kSimClientSecret = "bench-client-secret-0123456789abcdef";
inline constexpr const char* kSimConnection = "Username-Password-Authentication";
inline const std::vector<std::string>& SimRoles() {
  static const std::vector<std::string> roles = {"member", "manager", "admin"};
  return roles;
}

struct Auth0Sim {
  std::unique_ptr<testing::Subprocess> proc;
  int port = 0;  // 0: it did not start
};

// Starts <build>/auth0-sim on a port chosen at run time with the given rate limit and latency.
inline Auth0Sim StartAuth0Sim(int rate, int burst, int latency_ms, uint64_t seed) {
  Auth0Sim s;
  s.proc = std::make_unique<testing::Subprocess>(
      testing::BuildPath("auth0-sim"),
      std::vector<std::string>{"--port", "0", "--domain", kSimDomain, "--client-id", kSimClientId,
                               "--client-secret", kSimClientSecret, "--rate", std::to_string(rate),
                               "--burst", std::to_string(burst), "--latency-ms",
                               std::to_string(latency_ms), "--seed", std::to_string(seed),
                               "--threads", "64"});
  s.port = s.proc->WaitForPort("listening on");
  return s;
}

// A Management API token for the simulator's client (client credentials); "" on failure.
inline std::string SimToken(testing::TestHttpClient& c) {
  nlohmann::json body = {{"grant_type", "client_credentials"},
                         {"client_id", kSimClientId},
                         {"client_secret", kSimClientSecret},
                         {"audience", std::string("https://") + kSimDomain + "/api/v2/"}};
  auto r = c.Post("/oauth/token", body.dump());
  if (r.status != 200) return "";
  return r.Json().value("access_token", "");
}

// Creates SimRoles() (administrators own them), then refills the rate-limit bucket and zeroes the
// statistics, so that the measured run starts from a full bucket and empty counters. Errors are
// printed to stderr prefixed with `who`.
inline bool PrepareAuth0Sim(const Auth0Sim& sim, int rate, int burst, const char* who) {
  testing::TestHttpClient c("127.0.0.1", sim.port, 10);
  const std::string token = SimToken(c);
  if (token.empty()) {
    std::fprintf(stderr, "%s: auth0-sim gave no token\n", who);
    return false;
  }
  for (auto& role : SimRoles()) {
    auto r = c.Post("/api/v2/roles",
                    nlohmann::json{{"name", role}, {"description", "bench role"}}.dump(),
                    {{"Authorization", "Bearer " + token}});
    if (r.status != 200 && r.status != 201) {
      std::fprintf(stderr, "%s: creating role %s: %d %s\n", who, role.c_str(), r.status,
                   r.body.c_str());
      return false;
    }
  }
  auto cfg =
      c.Post("/__sim/config",
             nlohmann::json{{"rate", {{"global", {{"rate", rate}, {"burst", burst}}}}}}.dump());
  auto st = c.Post("/__sim/stats/reset", "{}");
  return cfg.status == 200 && (st.status == 200 || st.status == 204);
}

// Auth0 requests counted from auth0-sim's GET /__sim/stats: the Management API (/api/v2/) and the
// Authentication API's /dbconnections/, every status summed; /oauth/token and /__sim/ excluded.
struct SimRequestCounts {
  int64_t management = 0, authentication = 0, rate_limited = 0;
  std::map<std::string, int64_t> by_endpoint;  // "METHOD /path" -> requests
  int64_t Total() const { return management + authentication; }
  // Requests to endpoints whose key contains `part` (e.g. "/jobs/users-imports").
  int64_t Matching(const std::string& part) const {
    int64_t n = 0;
    for (const auto& [k, v] : by_endpoint) n += k.find(part) != std::string::npos ? v : 0;
    return n;
  }
};

inline SimRequestCounts CountSimRequests(const nlohmann::json& stats) {
  SimRequestCounts c;
  if (!stats.is_object() || !stats.contains("by_endpoint")) return c;
  c.rate_limited = stats.value("rate_limited_total", int64_t{0});
  for (auto& [key, statuses] : stats["by_endpoint"].items()) {
    int64_t n = 0;
    for (auto& [status, count] : statuses.items()) n += count.get<int64_t>();
    if (key.find("/api/v2/") != std::string::npos) {
      c.management += n;
    } else if (key.find("/dbconnections/") != std::string::npos) {
      c.authentication += n;
    } else {
      continue;  // /oauth/token, /__sim
    }
    c.by_endpoint[key] = n;
  }
  return c;
}

// ---- Lower bound --------------------------------------------------------------------------------

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// bench-reconcile's strict lower bound (docs/BENCHMARKS.md, "Lower bound") for creating `orgs`
// organizations sharing one connection and one application's callbacks, and `users` users with
// one POST /users each, members_per_org[o] members of organization o, `role_calls` memberships
// with roles and `distinct_roles` role names: the requests of the one-create-per-user plan.
struct StrictBound {
  int64_t management = 0, authentication = 0;
  int64_t member_calls = 0;  // POST /organizations/{id}/members, ceil(members/10) per organization
};
inline StrictBound StrictLowerBound(int64_t orgs, int64_t users,
                                    const std::vector<int64_t>& members_per_org, int64_t role_calls,
                                    int64_t distinct_roles) {
  StrictBound b;
  for (auto m : members_per_org) b.member_calls += CeilDiv(m, 10);
  const int64_t connections = orgs > 0 ? 1 : 0;
  b.management = connections                     // GET /connections?name=
                 + CeilDiv(distinct_roles, 100)  // GET /roles
                 + orgs                          // POST /organizations
                 + connections                   // PATCH /connections/{id}/clients
                 + (orgs > 0 ? 2 : 0)            // GET + PATCH /clients/{id}
                 + users                         // POST /users
                 + b.member_calls                // POST .../members
                 + role_calls;                   // POST .../roles
  b.authentication = users;                      // change_password per created user (on_create)
  return b;
}

// ---- Delivering events --------------------------------------------------------------------------

// One event as a source sends it: its id (the signature's message id) and its JSON body.
struct SignedEvent {
  std::string id, body;
};

struct SendFigures {
  int64_t sent = 0, errors = 0;
};

// Posts `events` to /webhooks/{source} on 127.0.0.1:`port`, signed with `signing` (timestamps
// now), over `connections` keep-alive connections; each event goes to one connection in order (a
// shared cursor). A delivery is retried up to 5 times on no answer or 429/503 (the daemon's
// back-pressure), with a doubling pause from 100 ms. `on_accepted(i, wall_ms)` (optional) is
// called when the 2xx for events[i] came back, with the wall-clock time in Unix milliseconds.
// Other answers are printed to stderr prefixed with `who`, and counted as errors.
inline SendFigures SendSigned(const std::vector<SignedEvent>& events, int port,
                              const std::string& source, const SignatureOptions& signing,
                              int connections, const char* who,
                              const std::function<void(size_t, int64_t)>& on_accepted = {}) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<testing::HeaderList> headers;
  headers.reserve(events.size());
  for (const auto& e : events) {
    auto h = SignDelivery(signing, e.id, now, e.body);
    headers.emplace_back(h.begin(), h.end());
  }
  const std::string path = "/webhooks/" + source;
  std::atomic<size_t> next{0};
  std::atomic<int64_t> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      testing::TestHttpClient client("127.0.0.1", port, 10);
      for (size_t i = next.fetch_add(1); i < events.size(); i = next.fetch_add(1)) {
        bool done = false;
        for (int attempt = 0; attempt < 5 && !done; ++attempt) {
          auto r = client.Post(path, events[i].body, headers[i]);
          if (r.status >= 200 && r.status < 300) {
            done = true;
            if (on_accepted) on_accepted(i, WallMs());
          } else if (r.status == 0 || r.status == 429 || r.status == 503) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
          } else {
            std::fprintf(stderr, "%s: event %s answered %d: %s\n", who, events[i].id.c_str(),
                         r.status, r.body.c_str());
            break;
          }
        }
        (done ? ok : bad).fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  return {ok.load(), bad.load()};
}

}  // namespace tenantsync::bench
