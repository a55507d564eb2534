// bench-auth0-client: how close the Auth0 client gets to a tenant's sustained rate limit.
//
// Starts auth0-sim with a token bucket (default 50 burst / 16 per second) and 100 ms latency,
// then issues independent calls (GET and PATCH of users) from max_in_flight threads for a fixed
// duration. Prints the achieved rate after the first burst, as a share of the sustained rate,
// and the 429s (total and after the first burst). Exit code 0 when the rate is >= 95% of the
// sustained rate and no 429 came after the first burst.
//
//   bench-auth0-client [--duration S] [--rate R] [--burst B] [--latency-ms L]
//                      [--in-flight N] [--fraction F] [--sim PATH]
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapters/auth0/auth0_client.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

struct Flags {
  double duration = 20;
  double rate = 16;
  double burst = 50;
  int latency_ms = 100;
  int in_flight = 8;
  double fraction = 0.8;
  std::string sim;
};

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

bool ParseFlags(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--help" || a == "-h") return false;
    if ((v = (a == "--duration" ? next() : nullptr)))
      f.duration = std::atof(v);
    else if ((v = (a == "--rate" ? next() : nullptr)))
      f.rate = std::atof(v);
    else if ((v = (a == "--burst" ? next() : nullptr)))
      f.burst = std::atof(v);
    else if ((v = (a == "--latency-ms" ? next() : nullptr)))
      f.latency_ms = std::atoi(v);
    else if ((v = (a == "--in-flight" ? next() : nullptr)))
      f.in_flight = std::atoi(v);
    else if ((v = (a == "--fraction" ? next() : nullptr)))
      f.fraction = std::atof(v);
    else if ((v = (a == "--sim" ? next() : nullptr)))
      f.sim = v;
    else {
      std::fprintf(stderr, "unknown or incomplete flag: %s\n", a.c_str());
      return false;
    }
  }
  return f.duration > 0 && f.rate > 0 && f.burst >= 1 && f.in_flight >= 1 && f.fraction > 0 &&
         f.fraction <= 1;
}

// Completion times of answered requests, by status.
class Recorder final : public Auth0Observer {
 public:
  void OnRequest(std::string_view endpoint, int status, double) override {
    if (endpoint == "POST /oauth/token") return;
    std::lock_guard<std::mutex> l(mu);
    events.push_back({std::chrono::steady_clock::now(), status});
  }
  struct Event {
    std::chrono::steady_clock::time_point at;
    int status;
  };
  std::mutex mu;
  std::vector<Event> events;
};

int Main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, f)) {
    std::fprintf(stderr,
                 "usage: bench-auth0-client [--duration S=20] [--rate R=16] [--burst B=50] "
                 "[--latency-ms L=100] [--in-flight N=8] [--fraction F=0.8] [--sim PATH]\n");
    return 2;
  }
  if (f.sim.empty()) f.sim = SelfDir() + "/auth0-sim";
  auto fmt = [](double d) {
    char b[32];
    std::snprintf(b, sizeof(b), "%g", d);
    return std::string(b);
  };
  testing::Subprocess sim(
      f.sim, {"--port", "0", "--domain", "bench.test.local", "--client-id", "bench-client",
              "--client-secret", "bench-secret", "--rate", fmt(f.rate), "--burst", fmt(f.burst),
              "--latency-ms", std::to_string(f.latency_ms), "--seed", "1"});
  int port = sim.WaitForPort();
  if (port <= 0) {
    std::fprintf(stderr, "auth0-sim did not start (%s):\n%s\n", f.sim.c_str(),
                 sim.Output().c_str());
    return 2;
  }
  Auth0Options o;
  o.domain = "bench.test.local";
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  o.client_id = "bench-client";
  o.client_secret = "bench-secret";
  o.max_in_flight = f.in_flight;
  o.rate_limit_fraction = f.fraction;
  auto control = NewHttplibTransport(o).value();
  HttpRequest seed;
  seed.method = "POST";
  seed.target = "/__sim/seed";
  seed.content_type = "application/json";
  seed.body = R"({"organizations":0,"users":200,"members_per_org":0})";
  auto seeded = Json::parse(control->Send(seed).body, nullptr, false);
  std::vector<std::string> users;
  if (seeded.contains("user_ids")) {
    for (auto& u : seeded["user_ids"]) users.push_back(u);
  }
  if (users.empty()) {
    std::fprintf(stderr, "seeding users failed: %s\n", seeded.dump().c_str());
    return 2;
  }

  Recorder rec;
  SeededRandom random(7);
  auto client = Auth0Client::Create(o, SystemClock(), random, &rec);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(f.duration));
  std::atomic<int64_t> next{0}, failed{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < f.in_flight; ++t) {
    workers.emplace_back([&] {
      while (std::chrono::steady_clock::now() < end) {
        int64_t i = next++;
        const std::string& uid = users[static_cast<size_t>(i) % users.size()];
        bool ok = i % 2 == 0
                      ? client.value()->GetUser(uid).ok()
                      : client.value()->PatchUser(uid, Json{{"user_metadata", {{"i", i}}}}).ok();
        if (!ok) ++failed;
      }
    });
  }
  for (auto& w : workers) w.join();
  auto stop = std::chrono::steady_clock::now();

  // The first burst: the answers that emptied the tenant's initial bucket.
  std::vector<Recorder::Event> events;
  {
    std::lock_guard<std::mutex> l(rec.mu);
    events = rec.events;
  }
  std::sort(events.begin(), events.end(), [](auto& a, auto& b) { return a.at < b.at; });
  size_t burst_n = std::min(events.size(), static_cast<size_t>(f.burst));
  auto burst_end = burst_n > 0 ? events[burst_n - 1].at : start;
  int64_t ok_after = 0, throttled_after = 0, throttled_total = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    bool ok = events[i].status >= 200 && events[i].status < 300;
    throttled_total += events[i].status == 429;
    if (i >= burst_n) {
      ok_after += ok;
      throttled_after += events[i].status == 429;
    }
  }
  double window = std::chrono::duration<double>(stop - burst_end).count();
  double achieved = window > 0 ? static_cast<double>(ok_after) / window : 0;
  // Steady state: the second half of the run, where what is left of the initial bucket no
  // longer flatters the figure.
  auto half = start + (stop - start) / 2;
  int64_t ok_steady = 0;
  for (const auto& e : events) ok_steady += e.at >= half && e.status >= 200 && e.status < 300;
  double steady =
      static_cast<double>(ok_steady) / std::chrono::duration<double>(stop - half).count();
  double share = steady / f.rate;
  HttpRequest stats_req;
  stats_req.method = "GET";
  stats_req.target = "/__sim/stats";
  auto stats = Json::parse(control->Send(stats_req).body, nullptr, false);
  auto view = client.value()->RateLimitView();

  std::printf(
      "auth0 client benchmark: sim %g burst / %g per s, %d ms latency, %d in flight, fraction %g, "
      "%g s\n",
      f.burst, f.rate, f.latency_ms, f.in_flight, f.fraction, f.duration);
  std::printf("  requests answered:       %zu (%lld calls failed)\n", events.size(),
              static_cast<long long>(failed.load()));
  std::printf("  achieved rate after the first burst: %.2f req/s over %.1f s\n", achieved, window);
  std::printf("  steady-state rate (second half):    %.2f req/s = %.1f%% of sustained %g req/s\n",
              steady, 100 * share, f.rate);
  std::printf("  429s: %lld total, %lld after the first burst (sim rate_limited_total=%s)\n",
              static_cast<long long>(throttled_total), static_cast<long long>(throttled_after),
              stats.is_object() && stats.contains("rate_limited_total")
                  ? stats["rate_limited_total"].dump().c_str()
                  : "?");
  std::printf("  limiter: limit=%lld remaining=%lld measured refill=%.2f/s capacity=%.0f\n",
              static_cast<long long>(view.limit), static_cast<long long>(view.remaining),
              view.refill_per_second, view.capacity);
  bool pass = share >= 0.95 && throttled_after == 0 && failed == 0;
  std::printf(
      "%s\n",
      pass ? "PASS" : "FAIL (target: >= 95% of sustained rate, no 429 after the first burst)");
  return pass ? 0 : 1;
}

}  // namespace
}  // namespace tenantsync

int main(int argc, char** argv) { return tenantsync::Main(argc, argv); }
