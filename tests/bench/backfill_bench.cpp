// Backfill benchmark (issue 17): day one at scale. An HR system sends its whole population as
// signed webhooks; how many Auth0 requests, how much time and how much daemon memory does
// tenantsync need to converge them into a rate-limited tenant, and do status and a user lookup
// stay fast meanwhile?
//
// 1. Generates a deterministic workload (--seed): N organizations (`organization.upserted`: one
//    connection, one callback URL, metadata), then M employees (`user.upserted`: profile,
//    user_metadata, one or two organization memberships, each with `member` and sometimes
//    `manager`/`admin`), as bench-reconcile's and bench-declared's workloads.
// 2. Starts auth0-sim (--rate 16 --burst 50 --latency-ms 100 by default), creates the roles,
//    starts `tenantsync serve` (users-imports at the daemon's default threshold, max_in_flight 8
//    unless --max-in-flight, guard open wide), posts every event signed to /webhooks/hr over
//    --senders keep-alive connections (organizations first, then employees), timed to the last 2xx.
// 3. Runs `tenantsync wait` (the operator's progress display) to convergence, bounded by
//    --timeout, printing its latest progress line every 30 s; the daemon's VmRSS is sampled from
//    /proc every 200 ms during the whole run and its VmHWM read at the end; one GET /v1/status and
//    one GET /v1/users/{id} per second are timed meanwhile.
// 4. After convergence: GET /v1/status and GET /v1/users/{id} latencies over --lookups calls each
//    (median, max), and a few `tenantsync status` command runs (process start included).
// 5. Prints the Auth0 requests by endpoint (auth0-sim /__sim/stats), the users-import jobs, the
//    requests per created user, beside the per-user lower bound of the one-create-per-user plan
//    (bench-reconcile's strict bound) and what a one-request-per-object tool sends; checks the
//    simulator's final state (users, memberships) against the workload.
//
// Usage: bench-backfill [--full] [--users M] [--orgs N] [--seed 1] [--rate 16] [--burst 50]
//                       [--latency-ms 100] [--senders 8] [--timeout S] [--lookups 50]
//                       [--import-threshold N] [--build-dir DIR]
// Defaults: 500 organizations, 20,000 users; --full: 2,000 and 100,000 (the memory figure).
// A benchmark, not a test: not run by ctest; exit 1 when it did not converge or the final state
// misses users or memberships.
// Loopback only; every port chosen at run time (port 0); every loop bounded in count and time.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

constexpr const char* kWho = "bench-backfill";
constexpr double kGoalUserRequestsRatio = 0.01;  // issue 17: users created in <= 1 % of requests
constexpr double kGoalLatencyMs = 50;            // issue 17: status and a user lookup
constexpr double kGoalPeakMb = 150;              // issue 17: daemon peak RSS

struct Workload {
  std::vector<SignedEvent> events;  // arrival order: organizations, then employees
  int64_t orgs = 0, users = 0, memberships = 0, role_calls = 0;
  std::vector<int64_t> members_per_org;
  std::set<std::string> roles_used;
  int64_t bytes = 0;
};

Workload MakeWorkload(int n_orgs, int n_users, uint64_t seed) {
  Workload w;
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const int64_t base = 1795600800;  // 2026-11-25T08:00:00Z: event times, one second apart
  int64_t tick = 0;
  w.orgs = n_orgs;
  w.users = n_users;
  w.members_per_org.assign(static_cast<size_t>(n_orgs), 0);
  w.events.reserve(static_cast<size_t>(n_orgs + n_users));
  for (int i = 0; i < n_orgs; ++i) {
    const std::string n = std::to_string(i);
    Json data = {{"external_id", "org-" + n},
                 {"name", "bench-org-" + n},
                 {"display_name", "Bench Org " + n},
                 {"metadata", {{"region", i % 2 ? "eu" : "us"}}},
                 {"connections",
                  Json::array({{{"name", kSimConnection}, {"assign_membership_on_login", false}}})},
                 {"callback_urls", Json::array({"https://org-" + n + ".example.com/callback"})}};
    w.events.push_back(
        {"evt-org-" + n, EventBody("organization.upserted", data, Rfc3339(base + tick++))});
  }
  for (int j = 0; j < n_users; ++j) {
    const std::string n = std::to_string(j);
    const int count = (n_orgs >= 2 && pick(2) == 1) ? 2 : 1;
    std::set<int> chosen;
    while (static_cast<int>(chosen.size()) < count) chosen.insert(pick(n_orgs));
    Json orgs = Json::array();
    for (int org : chosen) {
      std::vector<std::string> roles = {"member"};
      if (pick(3) == 0) roles.push_back(pick(4) == 0 ? "admin" : "manager");
      orgs.push_back({{"external_id", "org-" + std::to_string(org)}, {"roles", roles}});
      ++w.memberships;
      ++w.role_calls;  // every membership has roles: one assignment request each
      ++w.members_per_org[static_cast<size_t>(org)];
      w.roles_used.insert(roles.begin(), roles.end());
    }
    Json data = {{"external_id", "emp-" + n},
                 {"email", "emp-" + n + "@example.com"},
                 {"name", "Given" + n + " Family" + n},
                 {"given_name", "Given" + n},
                 {"family_name", "Family" + n},
                 {"user_metadata", {{"team", "team-" + std::to_string(j % 7)}}},
                 {"organizations", orgs}};
    w.events.push_back({"evt-user-" + n, EventBody("user.upserted", data, Rfc3339(base + tick++))});
  }
  for (const auto& e : w.events) w.bytes += static_cast<int64_t>(e.body.size());
  return w;
}

// Samples the daemon's VmRSS every 200 ms on its own thread until stopped; keeps the largest.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t MaxKb() const { return max_kb_.load(); }
  int64_t Samples() const { return samples_.load(); }

 private:
  void Run() {
    // Bounded by Stop(); at most one sample per 200 ms.
    while (!stop_) {
      const int64_t kb = VmRssKb(pid_);
      if (kb > 0) {
        ++samples_;
        int64_t prev = max_kb_.load();
        while (kb > prev && !max_kb_.compare_exchange_weak(prev, kb)) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_kb_{0}, samples_{0};
  std::thread thread_;
};

struct Latency {
  std::vector<double> ms;
  int failures = 0;
  std::string Describe() const {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "median %.1f ms, p90 %.1f ms, max %.1f ms over %zu (%d failed)",
                  Percentile(ms, 50), Percentile(ms, 90),
                  ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()), ms.size(), failures);
    return buf;
  }
  double Max() const { return ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()); }
};

// Times `n` GETs of `path_of(i)` on one keep-alive admin connection (as the console or a script
// polling status would hold one).
template <typename PathOf>
Latency TimeAdminGets(TestDaemon& daemon, int n, PathOf path_of) {
  Latency l;
  TestHttpClient c("127.0.0.1", daemon.admin_port(), 30);
  const HeaderList auth = {{"Authorization", "Bearer " + daemon.admin_token()}};
  c.Get("/v1/status", auth);  // connect outside the timed calls
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    auto r = c.Get(path_of(i), auth);
    const double ms = Since(t0) * 1000;
    if (r.status != 200) {
      ++l.failures;
      continue;
    }
    l.ms.push_back(ms);
  }
  return l;
}

// The last line of `text` that starts with `prefix` ("" when none).
std::string LastLineWith(const std::string& text, const std::string& prefix) {
  size_t at = text.rfind(prefix);
  while (at != std::string::npos && at > 0 && text[at - 1] != '\n' && text[at - 1] != '\r')
    at = at == 0 ? std::string::npos : text.rfind(prefix, at - 1);
  if (at == std::string::npos) return "";
  const size_t end = text.find_first_of("\r\n", at);
  return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What the simulator holds against the workload.
struct FinalState {
  int64_t users = 0, memberships = 0, member_roles = 0, orgs = 0;
};

FinalState ReadFinalState(TestHttpClient& simc) {
  FinalState f;
  const Json state = simc.Get("/__sim/state").Json();
  if (!state.is_object()) return f;
  f.users = static_cast<int64_t>(state.value("users", Json::array()).size());
  for (auto& o : state.value("organizations", Json::array())) {
    ++f.orgs;
    for (auto& m : o.value("members", Json::array())) {
      ++f.memberships;
      f.member_roles += m.value("roles", Json::array()).empty() ? 0 : 1;
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tenantsync backfill benchmark (issue 17)"};
  bool full = false;
  uint64_t seed = 1;
  int orgs = -1, users = -1, rate = 16, burst = 50, latency_ms = 100, senders = 8, lookups = 50;
  int import_threshold = -1, max_in_flight = 8, plan_limit = 10000;
  double timeout_s = 0;
  std::string build_dir_flag;
  app.add_flag("--full", full, "100,000 users in 2,000 organizations (the memory figure)");
  app.add_option("--users", users, "Users (default 20,000; --full 100,000)")
      ->check(CLI::Range(1, 200000));
  app.add_option("--orgs", orgs, "Organizations (default 500; --full 2,000)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--seed", seed, "Workload and simulator seed");
  app.add_option("--rate", rate, "auth0-sim Management API requests per second")
      ->check(CLI::Range(1, 10000));
  app.add_option("--burst", burst, "auth0-sim rate-limit burst")->check(CLI::Range(1, 10000));
  app.add_option("--latency-ms", latency_ms, "auth0-sim latency per request")
      ->check(CLI::Range(0, 5000));
  app.add_option("--senders", senders, "Keep-alive connections delivering the events")
      ->check(CLI::Range(1, 64));
  app.add_option("--lookups", lookups, "Timed status and user lookups after convergence")
      ->check(CLI::Range(1, 10000));
  app.add_option("--import-threshold", import_threshold,
                 "[auth0].import_threshold for the daemon (0: one POST /users per user; default: "
                 "the daemon's default)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--max-in-flight", max_in_flight,
                 "[auth0].max_in_flight for the daemon: with --latency-ms it bounds the writer "
                 "at max_in_flight / latency requests per second")
      ->check(CLI::Range(1, 64));
  app.add_option("--plan-limit", plan_limit,
                 "GET /v1/plan?limit= asked once the events are accepted (default 10,000, the "
                 "daemon's default)")
      ->check(CLI::Range(1, 200000));
  app.add_option("--timeout", timeout_s,
                 "Give up converging after this many seconds (default 3600, --full 7200)")
      ->check(CLI::Range(1.0, 36000.0));
  app.add_option("--build-dir", build_dir_flag, "Directory holding tenantsync and auth0-sim");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (orgs < 0) orgs = full ? 2000 : 500;
  if (users < 0) users = full ? 100000 : 20000;
  if (timeout_s <= 0) timeout_s = full ? 7200 : 3600;
  const std::string build_dir = FindBuildDir(build_dir_flag);
  setenv("TENANTSYNC_BUILD_DIR", build_dir.c_str(), 1);  // read by BuildPath()

  const Workload w = MakeWorkload(orgs, users, seed);
  const StrictBound bound = StrictLowerBound(w.orgs, w.users, w.members_per_org, w.role_calls,
                                             static_cast<int64_t>(w.roles_used.size()));
  // The fewest requests the one-create-per-user plan needs beyond the users and the setup: the
  // membership and role requests, which have no bulk form.
  const int64_t membership_requests = bound.member_calls + w.role_calls;
  // A tool that sends one request per object: one create per organization and per user, one
  // membership add per membership, one role assignment per membership with roles.
  const int64_t naive = w.orgs + w.users + w.memberships + w.role_calls;
  std::printf(
      "bench-backfill: %lld organizations, %lld users, %lld memberships (%lld with roles), seed "
      "%llu; %zu events, %.1f MB; auth0-sim rate %d/s burst %d latency %d ms\nmachine: %s\n",
      static_cast<long long>(w.orgs), static_cast<long long>(w.users),
      static_cast<long long>(w.memberships), static_cast<long long>(w.role_calls),
      static_cast<unsigned long long>(seed), w.events.size(), static_cast<double>(w.bytes) / 1e6,
      rate, burst, latency_ms, MachineDescription().c_str());
  // Requests wait for their answer: the writer sends at most max_in_flight / latency per second
  // however high the rate limit is.
  const double ceiling =
      latency_ms > 0 ? std::min<double>(rate, max_in_flight * 1000.0 / latency_ms) : rate;
  std::printf(
      "estimate: >= %lld membership + role requests at %.0f/s (the rate limit, or max_in_flight "
      "%d / %d ms latency if lower) = %.0f s to converge at best\n\n",
      static_cast<long long>(membership_requests), ceiling, max_in_flight, latency_ms,
      static_cast<double>(std::max<int64_t>(0, membership_requests + w.orgs - burst)) / ceiling);
  std::fflush(stdout);

  Auth0Sim sim = StartAuth0Sim(rate, burst, latency_ms, seed);
  if (sim.port <= 0 || !PrepareAuth0Sim(sim, rate, burst, kWho)) {
    std::fprintf(stderr, "%s: auth0-sim did not start\n%s\n", kWho,
                 sim.proc ? sim.proc->Output().c_str() : "");
    return 1;
  }
  TestDaemonOptions options;
  options.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim.port);
  options.auth0_client_id = kSimClientId;
  options.auth0_client_secret = kSimClientSecret;
  options.application_client_id = kSimClientId;
  // Appended after [auth0]: plain keys land there. The guard is opened wide: an operator approval
  // would measure the operator, not the writer.
  options.extra_toml =
      (import_threshold >= 0 ? "import_threshold = " + std::to_string(import_threshold) + "\n"
                             : std::string()) +
      "max_in_flight = " + std::to_string(max_in_flight) +
      "\n\n[policy]\nguard_max_destructive = 1000000\n"
      "guard_max_fraction = 1.0\n";
  TestDaemon daemon(options);
  if (!daemon.Start()) {
    std::fprintf(stderr, "%s: tenantsync did not start\n%s\n", kWho, daemon.Output().c_str());
    return 1;
  }
  const pid_t daemon_pid = daemon.process()->pid();
  RssSampler rss(daemon_pid);

  // 1. Delivery, as the HR system sends it.
  const auto t0 = Clock::now();
  const SendFigures sent =
      SendSigned(w.events, daemon.ingress_port(), "hr", daemon.Signing("hr"), senders, kWho);
  const double accept_s = Since(t0);
  const int64_t rss_after_accept_kb = VmRssKb(daemon_pid);
  std::printf(
      "accepted %lld events in %.2f s (%.0f events/s, %lld failed) over %d connections; daemon "
      "RSS then %.1f MB\n",
      static_cast<long long>(sent.sent), accept_s,
      accept_s > 0 ? static_cast<double>(sent.sent) / accept_s : 0.0,
      static_cast<long long>(sent.errors), senders,
      static_cast<double>(rss_after_accept_kb) / 1024);
  std::fflush(stdout);

  // 1b. The plan an operator asks for with the backfill pending (GET /v1/plan, --plan-limit),
  // on its own connection with a generous timeout; the RSS sampler sees what building it costs.
  {
    TestHttpClient plan_client("127.0.0.1", daemon.admin_port(), 300);
    const auto p0 = Clock::now();
    TestResponse plan = plan_client.Get("/v1/plan?limit=" + std::to_string(plan_limit),
                                        {{"Authorization", "Bearer " + daemon.admin_token()}});
    const double plan_s = Since(p0);
    Json pj = plan.status == 200 ? Json::parse(plan.body, nullptr, false) : Json();
    std::printf(
        "GET /v1/plan with the backfill pending: %d in %.2f s, %lld of %lld entities planned, "
        "%zu steps, %.1f MB of JSON; daemon RSS then %.1f MB\n",
        plan.status, plan_s,
        static_cast<long long>(pj.is_object() ? pj.value("entities_planned", int64_t{0}) : 0),
        static_cast<long long>(pj.is_object() ? pj.value("entities_waiting", int64_t{0}) : 0),
        pj.is_object() && pj["plan"].is_array() ? pj["plan"].size() : size_t{0},
        static_cast<double>(plan.body.size()) / 1e6,
        static_cast<double>(VmRssKb(daemon_pid)) / 1024);
    std::fflush(stdout);
  }

  // 2. `tenantsync wait`, as an operator watches a backfill; its plain lines go to a file.
  const std::string wait_out = daemon.dir() + "/wait.out";
  const double wait_budget = std::max(1.0, timeout_s - accept_s);
  const std::string cmd = "exec '" + BuildPath("tenantsync") + "' wait --timeout " +
                          std::to_string(static_cast<int>(wait_budget)) + " --config '" +
                          daemon.config_path() +
                          "' --admin 127.0.0.1:" + std::to_string(daemon.admin_port()) + " >'" +
                          wait_out + "' 2>&1 </dev/null";
  Subprocess wait("/bin/sh", {"-c", cmd});
  TestHttpClient simc("127.0.0.1", sim.port, 60);
  std::optional<int> wait_code;
  double last_print = Since(t0);
  // While the backfill runs: one GET /v1/status and one user lookup per second, as an operator's
  // console or script would poll (issue 17: fast "throughout").
  Latency status_during, user_during;
  TestHttpClient adminc("127.0.0.1", daemon.admin_port(), 30);
  const HeaderList admin_auth = {{"Authorization", "Bearer " + daemon.admin_token()}};
  std::mt19937_64 during_rng(seed + 11);
  auto time_get = [&](Latency& l, const std::string& path) {
    const auto s0 = Clock::now();
    auto r = adminc.Get(path, admin_auth);
    if (r.status == 200) {
      l.ms.push_back(Since(s0) * 1000);
    } else {
      ++l.failures;
    }
  };
  // Bounded: the wait command's own timeout, plus a minute of slack.
  // When the first users-imports job reached auth0-sim (seconds from the first event posted): how
  // long the writer looked at hires one by one before sending them in bulk.
  double first_import_s = -1;
  while (Since(t0) < timeout_s + 60) {
    wait_code = wait.Wait(std::chrono::milliseconds(1000));
    if (wait_code) break;
    if (first_import_s < 0 && CountSimRequests(simc.Get("/__sim/stats").Json())
                                      .Matching("POST /api/v2/jobs/users-imports") > 0)
      first_import_s = Since(t0);
    time_get(status_during, "/v1/status");
    time_get(user_during,
             "/v1/users/emp-" + std::to_string(during_rng() % static_cast<uint64_t>(users)));
    if (Since(t0) - last_print >= 30) {
      last_print = Since(t0);
      const SimRequestCounts c = CountSimRequests(simc.Get("/__sim/stats").Json());
      std::printf("  %5.0f s  %s  | sim: %lld management requests; daemon RSS %.1f MB (max %.1f)\n",
                  last_print, LastLineWith(ReadFile(wait_out), "progress:").c_str(),
                  static_cast<long long>(c.management),
                  static_cast<double>(VmRssKb(daemon_pid)) / 1024,
                  static_cast<double>(rss.MaxKb()) / 1024);
      std::fflush(stdout);
    }
  }
  if (!wait_code) wait.Signal(SIGTERM), wait_code = wait.Wait(std::chrono::seconds(10));
  const double converge_s = Since(t0);
  const Json status = daemon.AdminGet("/v1/status").Json();
  const bool converged = wait_code && *wait_code == 0 && Converged(status);
  rss.Stop();
  const int64_t hwm_kb = VmHwmKb(daemon_pid);

  // 3. Status and user lookups after convergence.
  std::mt19937_64 rng(seed + 7);
  const Latency status_lat =
      TimeAdminGets(daemon, lookups, [](int) { return std::string("/v1/status"); });
  std::vector<std::string> lookup_ids;
  for (int i = 0; i < lookups; ++i)
    lookup_ids.push_back("/v1/users/emp-" + std::to_string(rng() % static_cast<uint64_t>(users)));
  const Latency user_lat =
      TimeAdminGets(daemon, lookups, [&](int i) { return lookup_ids[static_cast<size_t>(i)]; });
  Latency status_cmd;
  for (int i = 0; i < 5; ++i) {
    const auto s0 = Clock::now();
    Subprocess st(BuildPath("tenantsync"), {"status", "--config", daemon.config_path(), "--admin",
                                            "127.0.0.1:" + std::to_string(daemon.admin_port())});
    const auto code = st.Wait(std::chrono::seconds(30));
    if (code && *code == 0) {
      status_cmd.ms.push_back(Since(s0) * 1000);
    } else {
      ++status_cmd.failures;
    }
  }

  // 4. Requests and the final state.
  const SimRequestCounts counts = CountSimRequests(simc.Get("/__sim/stats").Json());
  const FinalState fs = ReadFinalState(simc);
  const int64_t import_jobs = counts.Matching("POST /api/v2/jobs/users-imports");
  const int64_t user_create_requests = counts.Matching("POST /api/v2/users") + import_jobs +
                                       counts.Matching("GET /api/v2/jobs/{id}");
  const double ratio =
      w.users > 0 ? static_cast<double>(user_create_requests) / static_cast<double>(w.users) : 0;
  const double bound_s =
      std::max<double>(0.0, static_cast<double>(bound.management - burst)) / rate;
  const int64_t bound_without_users = bound.management - w.users;
  const double floor_s =
      std::max<double>(0.0, static_cast<double>(bound_without_users - burst)) / rate;

  std::printf("\n%s: `tenantsync wait` exit %d; %s in %.1f s (delivery %.1f s)\n", kWho,
              wait_code.value_or(-1), converged ? "converged" : "NOT converged", converge_s,
              accept_s);
  if (first_import_s >= 0)
    std::printf(
        "first users-imports job posted %.1f s after the first event (%.1f s after the "
        "last was accepted)\n",
        first_import_s, first_import_s - accept_s);
  std::printf(
      "time bound of the one-create-per-user plan (strict lower bound): %.1f s; without the "
      "user creations (membership + role requests and setup only): %.1f s (ratio %.2f)\n",
      bound_s, floor_s, floor_s > 0 ? converge_s / floor_s : 0.0);
  std::printf("\n%-58s %12s %16s\n", "Auth0 requests", "Management", "Authentication");
  std::printf("%-58s %12lld %16lld\n", "measured (auth0-sim /__sim/stats)",
              static_cast<long long>(counts.management),
              static_cast<long long>(counts.authentication));
  std::printf("%-58s %12lld %16lld\n", "lower bound of one POST /users per user (strict)",
              static_cast<long long>(bound.management),
              static_cast<long long>(bound.authentication));
  std::printf("%-58s %12lld %16s\n", "  of which membership adds (ceil(members/10)/org) + roles",
              static_cast<long long>(membership_requests), "");
  std::printf("%-58s %12lld %16s\n", "one request per object (org, user, membership, roles)",
              static_cast<long long>(naive), "-");
  std::printf("429 answers: %lld\n", static_cast<long long>(counts.rate_limited));
  std::printf(
      "\nusers created with %lld requests (%lld users-import jobs): %.4f requests per user = "
      "%.2f %% of one-per-user (goal <= %.0f %%: %s)\n",
      static_cast<long long>(user_create_requests), static_cast<long long>(import_jobs), ratio,
      100 * ratio, 100 * kGoalUserRequestsRatio,
      ratio <= kGoalUserRequestsRatio ? "met" : "MISSED");
  std::printf("all requests per user: %.3f management, %.3f authentication\n",
              static_cast<double>(counts.management) / static_cast<double>(w.users),
              static_cast<double>(counts.authentication) / static_cast<double>(w.users));
  std::printf("\nmeasured by endpoint:\n");
  for (const auto& [k, v] : counts.by_endpoint)
    std::printf("  %8lld  %s\n", static_cast<long long>(v), k.c_str());
  std::printf(
      "\nfinal state in auth0-sim: %lld/%lld users, %lld/%lld organizations, %lld/%lld "
      "memberships, %lld with roles\n",
      static_cast<long long>(fs.users), static_cast<long long>(w.users),
      static_cast<long long>(fs.orgs), static_cast<long long>(w.orgs),
      static_cast<long long>(fs.memberships), static_cast<long long>(w.memberships),
      static_cast<long long>(fs.member_roles));
  const double peak_mb = static_cast<double>(std::max(hwm_kb, rss.MaxKb())) / 1024;
  std::printf(
      "\ndaemon peak RSS: VmHWM %.1f MB, largest VmRSS sample %.1f MB (%lld samples, every 200 "
      "ms) (goal <= %.0f MB: %s)\n",
      static_cast<double>(hwm_kb) / 1024, static_cast<double>(rss.MaxKb()) / 1024,
      static_cast<long long>(rss.Samples()), kGoalPeakMb,
      peak_mb <= kGoalPeakMb ? "met" : "MISSED");
  std::printf("during the run (one each per second, on one keep-alive connection):\n");
  std::printf("  GET /v1/status:         %s\n", status_during.Describe().c_str());
  std::printf("  GET /v1/users/{id}:     %s\n", user_during.Describe().c_str());
  std::printf("after convergence:\n");
  std::printf("  GET /v1/status:         %s\n", status_lat.Describe().c_str());
  std::printf("  GET /v1/users/{id}:     %s\n", user_lat.Describe().c_str());
  std::printf("  `tenantsync status` run: %s (process start included)\n",
              status_cmd.Describe().c_str());
  const double worst =
      std::max({status_lat.Max(), user_lat.Max(), status_during.Max(), user_during.Max()});
  std::printf("status and user lookup under %.0f ms (max, during and after): %s (worst %.1f ms)\n",
              kGoalLatencyMs, worst < kGoalLatencyMs ? "met" : "MISSED", worst);
  const std::string wait_text = ReadFile(wait_out);
  std::printf("\nlast lines of `tenantsync wait`:\n  %s\n  %s\n",
              LastLineWith(wait_text, "progress:").c_str(),
              LastLineWith(wait_text, "Converged").c_str());
  std::printf("machine at the end: %s\n", MachineDescription().c_str());
  const bool complete = fs.users == w.users && fs.memberships == w.memberships;
  if (!converged || !complete) {
    std::fprintf(stderr, "%s: %s; last status: %s\n", kWho,
                 !converged ? "did not converge" : "the final state misses users or memberships",
                 status.dump().c_str());
    return 1;
  }
  return 0;
}
