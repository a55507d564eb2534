// Declared apply benchmark (issue 15): how many Auth0 requests and how much time does
// `tenantsync apply` need to bring a rate-limited tenant in line with a file of N organizations
// and M users, against the fewest any writer needs and the Deploy CLI's one request per object?
//
// 1. Generates a deterministic declared YAML file (--seed): organizations with one connection, one
//    callback URL and metadata; users with one or two memberships and roles (as bench-reconcile's
//    workload).
// 2. In process: ParseDeclared + DiffDeclared against an empty state (the first apply) and the
//    plan's cost estimate (EstimatePlanCost); prints the times.
// 3. Starts auth0-sim (--rate 40 --burst 50 --latency-ms 100, like bench-reconcile), creates the
//    roles, starts `tenantsync serve` with a declared source "repo", runs `tenantsync apply FILE
//    --yes --wait` and times it to convergence (bounded by --timeout).
// 4. Counts the Auth0 requests from /__sim/stats (Management API and /dbconnections; /oauth/token
//    excluded) and prints them beside the plan's estimate, the lower bound (bench-reconcile's
//    strict counting: docs/BENCHMARKS.md) and the Deploy-CLI-style naive count: one request per
//    organization, per user and per membership.
//
// Usage: bench-declared [--full] [--orgs N] [--users M] [--seed 1] [--timeout S] [--build-dir DIR]
// Defaults: 100 organizations, 2,000 users (about 2 minutes); --full: 1,000 and 20,000.
// A benchmark, not a test: not run by ctest; exit 1 when the apply did not converge.
// Loopback only; every port chosen at run time (port 0); every wait bounded in time.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/declared/cost.h"
#include "daemon/declared/declared.h"
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

constexpr const char* kConnection = kSimConnection;

struct Workload {
  std::string yaml;
  int64_t orgs = 0, users = 0, memberships = 0;
  std::vector<int64_t> members_per_org;
  int64_t role_calls = 0;  // memberships with roles
  std::set<std::string> roles_used;
};

Workload Generate(int n_orgs, int n_users, uint64_t seed) {
  Workload w;
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  w.orgs = n_orgs;
  w.users = n_users;
  w.members_per_org.assign(static_cast<size_t>(n_orgs), 0);
  std::string y = "organizations:\n";
  for (int i = 0; i < n_orgs; ++i) {
    const std::string n = std::to_string(i);
    y += "  - external_id: org-" + n + "\n    name: bench-org-" + n +
         "\n    display_name: Bench Org " + n +
         "\n    metadata: {region: " + (i % 2 ? "eu" : "us") +
         "}\n    connections: [{name: " + kConnection +
         ", assign_membership_on_login: false}]\n    callback_urls: [https://org-" + n +
         ".example.com/callback]\n";
  }
  y += "users:\n";
  for (int j = 0; j < n_users; ++j) {
    const std::string n = std::to_string(j);
    y += "  - external_id: emp-" + n + "\n    email: emp-" + n + "@example.com\n    name: Given" +
         n + " Family" + n + "\n    given_name: Given" + n + "\n    family_name: Family" + n +
         "\n    user_metadata: {team: team-" + std::to_string(j % 7) + "}\n    organizations:\n";
    const int count = (n_orgs >= 2 && pick(2) == 1) ? 2 : 1;
    std::set<int> chosen;
    while (static_cast<int>(chosen.size()) < count) chosen.insert(pick(n_orgs));
    for (int org : chosen) {
      std::vector<std::string> roles = {"member"};
      if (pick(3) == 0) roles.push_back(pick(4) == 0 ? "admin" : "manager");
      y += "      - external_id: org-" + std::to_string(org) + "\n        roles: [";
      for (size_t r = 0; r < roles.size(); ++r) y += (r ? ", " : "") + roles[r];
      y += "]\n";
      ++w.memberships;
      ++w.members_per_org[static_cast<size_t>(org)];
      ++w.role_calls;
      w.roles_used.insert(roles.begin(), roles.end());
    }
  }
  w.yaml = std::move(y);
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tenantsync declared apply benchmark (issue 15)"};
  bool full = false;
  uint64_t seed = 1;
  int orgs = -1, users = -1, rate = 40, burst = 50, latency_ms = 100;
  double timeout_s = 0;
  std::string build_dir_flag;
  int import_threshold = -1;
  app.add_flag("--full", full, "1,000 organizations and 20,000 users (a long run)");
  app.add_option("--orgs", orgs, "Organizations (default 100)")->check(CLI::Range(1, 1000));
  app.add_option("--users", users, "Users (default 2,000)")->check(CLI::Range(1, 20000));
  app.add_option("--seed", seed, "Workload and simulator seed");
  app.add_option("--timeout", timeout_s,
                 "Give up converging after this many seconds (default 600, --full 3600)")
      ->check(CLI::Range(1.0, 7200.0));
  app.add_option("--build-dir", build_dir_flag, "Directory holding tenantsync and auth0-sim");
  app.add_option("--import-threshold", import_threshold,
                 "[auth0].import_threshold for the daemon (0: one POST /users per user; default: "
                 "the daemon's default)")
      ->check(CLI::Range(0, 1000000));
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (orgs < 0) orgs = full ? 1000 : 100;
  if (users < 0) users = full ? 20000 : 2000;
  if (timeout_s <= 0) timeout_s = full ? 3600 : 600;
  const std::string build_dir = FindBuildDir(build_dir_flag);
  setenv("TENANTSYNC_BUILD_DIR", build_dir.c_str(), 1);  // read by BuildPath()
  std::printf(
      "bench-declared: %d organizations, %d users, seed %llu; auth0-sim rate %d/s burst %d "
      "latency %d ms\nmachine: %s\n",
      orgs, users, static_cast<unsigned long long>(seed), rate, burst, latency_ms,
      MachineDescription().c_str());

  const std::string dir = MakeTempDir("bench-declared");
  const Workload w = Generate(orgs, users, seed);
  const std::string file = dir + "/customers.yaml";
  std::ofstream(file) << w.yaml;
  std::printf("file: %s (%.1f MB), %lld memberships\n", file.c_str(),
              static_cast<double>(w.yaml.size()) / 1e6, static_cast<long long>(w.memberships));

  // Parse + plan in process (what `apply --plan` does before it talks to the daemon).
  auto t0 = Clock::now();
  auto declared = declared::ParseDeclared({file});
  const double parse_s = Since(t0);
  if (!declared.ok()) {
    std::fprintf(stderr, "bench-declared: %s\n", declared.status().ToString().c_str());
    return 1;
  }
  t0 = Clock::now();
  const declared::DeclaredState empty;
  const declared::Plan plan = declared::DiffDeclared(*declared, empty, {false, "0"});
  const double diff_s = Since(t0);
  t0 = Clock::now();
  declared::CostPolicy cost_policy;  // the daemon's defaults, as configured below
  if (import_threshold >= 0) cost_policy.import_threshold = import_threshold;
  const declared::PlanCost cost = declared::EstimatePlanCost(*declared, empty, plan, cost_policy);
  const double cost_s = Since(t0);
  std::printf("parse %.2f s, diff %.2f s, cost estimate %.3f s (parse + plan %.2f s); %zu events\n",
              parse_s, diff_s, cost_s, parse_s + diff_s + cost_s, plan.events.size());

  Auth0Sim sim = StartAuth0Sim(rate, burst, latency_ms, seed);
  if (sim.port <= 0 || !PrepareAuth0Sim(sim, rate, burst, "bench-declared")) {
    std::fprintf(stderr, "bench-declared: auth0-sim did not start\n%s\n",
                 sim.proc ? sim.proc->Output().c_str() : "");
    return 1;
  }
  TestDaemonOptions options;
  options.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim.port);
  options.auth0_client_id = kSimClientId;
  options.auth0_client_secret = kSimClientSecret;
  options.application_client_id = kSimClientId;
  TestSource repo;
  repo.name = "repo";
  repo.scheme = "declared";
  options.sources.push_back(repo);
  options.extra_toml =
      (import_threshold >= 0 ? "import_threshold = " + std::to_string(import_threshold) + "\n"
                             : std::string()) +
      "max_in_flight = 8\n\n[policy]\nguard_max_destructive = 1000000\n"
      "guard_max_fraction = 1.0\n";
  TestDaemon daemon(options);
  if (!daemon.Start()) {
    std::fprintf(stderr, "bench-declared: tenantsync did not start\n%s\n", daemon.Output().c_str());
    return 1;
  }

  // `tenantsync apply FILE --yes --wait`: plan against the daemon, post, wait to convergence. The
  // plan text goes to a file (it lists every field of every entity).
  const std::string cmd =
      "exec '" + BuildPath("tenantsync") + "' apply '" + file + "' --yes --wait --timeout " +
      std::to_string(static_cast<int>(timeout_s)) + " --config '" + daemon.config_path() +
      "' --admin 127.0.0.1:" + std::to_string(daemon.admin_port()) + " >'" + dir +
      "/apply.out' 2>&1 </dev/null";
  t0 = Clock::now();
  Subprocess apply("/bin/sh", {"-c", cmd});
  const auto code =
      apply.Wait(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000) + 60000));
  const double apply_s = Since(t0);
  std::ifstream out_file(dir + "/apply.out");
  std::string out((std::istreambuf_iterator<char>(out_file)), std::istreambuf_iterator<char>());
  auto tail = [&](size_t lines) {
    size_t at = out.size();
    for (size_t n = 0; n <= lines && at != std::string::npos && at > 0; ++n)
      at = out.rfind('\n', at - 1);
    return at == std::string::npos ? out : out.substr(at + 1);
  };

  TestHttpClient simc("127.0.0.1", sim.port, 30);
  const SimRequestCounts counts = CountSimRequests(simc.Get("/__sim/stats").Json());
  const StrictBound bound = StrictLowerBound(w.orgs, w.users, w.members_per_org, w.role_calls,
                                             static_cast<int64_t>(w.roles_used.size()));
  const int64_t naive = w.orgs + w.users + w.memberships;
  const double bound_s =
      std::max<double>(0.0, static_cast<double>(bound.management - burst)) / rate;

  std::printf("\napply --yes --wait: exit %d in %.1f s (lower-bound time %.1f s, ratio %.2f)\n",
              code.value_or(-1), apply_s, bound_s, bound_s > 0 ? apply_s / bound_s : 0.0);
  std::printf("%-44s %12s %16s\n", "Auth0 requests", "Management", "Authentication");
  std::printf("%-44s %12lld %16lld\n", "measured (auth0-sim /__sim/stats)",
              static_cast<long long>(counts.management),
              static_cast<long long>(counts.authentication));
  std::printf("%-44s %12lld %16lld\n", "the plan's estimate (EstimatePlanCost)",
              static_cast<long long>(cost.management), static_cast<long long>(cost.authentication));
  std::printf("%-44s %12lld %16lld\n", "lower bound (bench-reconcile strict)",
              static_cast<long long>(bound.management),
              static_cast<long long>(bound.authentication));
  std::printf("%-44s %12lld %16s\n", "Deploy-CLI-style (1 per object and membership)",
              static_cast<long long>(naive), "-");
  std::printf("%-44s %12lld %16s\n", "  the same plus 1 per membership with roles",
              static_cast<long long>(naive + w.role_calls), "-");
  std::printf("429 answers: %lld\n\nmeasured by endpoint:\n",
              static_cast<long long>(counts.rate_limited));
  for (const auto& [k, v] : counts.by_endpoint)
    std::printf("  %8lld  %s\n", static_cast<long long>(v), k.c_str());
  std::printf("\nthe plan's estimate:\n%s", declared::RenderCost(cost).c_str());
  std::printf("\nlast lines of apply:\n%s\n", tail(3).c_str());
  std::printf("machine at the end: %s\n", MachineDescription().c_str());
  if (!code || *code != 0) {
    std::fprintf(stderr, "bench-declared: the apply did not converge (exit %d)\n%s\n",
                 code.value_or(-1), tail(20).c_str());
    return 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
