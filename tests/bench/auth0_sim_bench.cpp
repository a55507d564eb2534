// bench-auth0-sim: starts build/auth0-sim (rate limiting and latency off), then N threads with
// keep-alive clients hammer GET /api/v2/users/{id} for a bounded time or request count, and the
// sustained requests/s is printed.
//
//   build/bench-auth0-sim [--threads 4] [--seconds 3] [--max-requests 2000000] [--sim PATH]
#include <httplib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"

int main(int argc, char** argv) {
  int threads = 4;
  double seconds = 3;
  int64_t max_requests = 2000000;
  std::string sim_path;
  CLI::App app{"Load generator for auth0-sim"};
  app.add_option("--threads", threads, "Client threads (one keep-alive connection each)")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "Duration bound")->capture_default_str();
  app.add_option("--max-requests", max_requests, "Request-count bound")->capture_default_str();
  app.add_option("--sim", sim_path, "auth0-sim binary (default: next to this program)");
  CLI11_PARSE(app, argc, argv);
  if (sim_path.empty()) {
    std::string self = argv[0];
    auto slash = self.find_last_of('/');
    sim_path =
        (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/auth0-sim";
  }

  tenantsync::testing::Subprocess sim(
      sim_path, {"--port", "0", "--domain", "bench.local", "--client-id", "benchClient",
                 "--client-secret", "bench-secret", "--threads", std::to_string(threads + 4)});
  int port = sim.WaitForPort();
  if (port <= 0) {
    std::fprintf(stderr, "auth0-sim did not start: %s\n", sim.Output().c_str());
    return 1;
  }
  httplib::Client setup("127.0.0.1", port);
  auto tok =
      setup.Post("/oauth/token",
                 R"({"grant_type":"client_credentials","client_id":"benchClient",)"
                 R"("client_secret":"bench-secret","audience":"https://bench.local/api/v2/"})",
                 "application/json");
  auto seeded = setup.Post("/__sim/seed", R"({"users":1})", "application/json");
  if (!tok || tok->status != 200 || !seeded || seeded->status != 200) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  const std::string token = nlohmann::json::parse(tok->body)["access_token"];
  std::string uid = nlohmann::json::parse(seeded->body)["user_ids"][0];
  const std::string path = "/api/v2/users/auth0%7C" + uid.substr(6);

  std::atomic<int64_t> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      httplib::Headers headers = {{"Authorization", "Bearer " + token}};
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto r = cli.Get(path, headers);
        if (r && r->status == 200) {
          ++ok;
        } else {
          ++failed;
        }
        if (ok.load(std::memory_order_relaxed) + failed.load(std::memory_order_relaxed) >=
                max_requests ||
            ((++n & 63) == 0 && std::chrono::steady_clock::now() >= deadline)) {
          stop = true;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "auth0-sim throughput: %.0f requests/s (GET /api/v2/users/{id}, %d keep-alive "
      "clients, %.2f s, %lld ok, %lld failed)\n",
      static_cast<double>(ok.load()) / elapsed, threads, elapsed, static_cast<long long>(ok.load()),
      static_cast<long long>(failed.load()));
  return failed.load() == 0 ? 0 : 1;
}
