// Ingest benchmark (issue 2): how fast does `tenantsync serve` durably accept signed webhooks,
// compared with a trivial cpp-httplib server that answers 202 without storing anything?
//
// For each connection count it pre-signs a pool of unique Standard Webhooks deliveries, then
// posts them over N concurrent keep-alive connections for a bounded time, first to an
// in-process no-op server and then to a real daemon (WAL, synchronous=FULL, group commit).
// Prints accepted events/s and p50/p99 latency per target, the durable/no-op ratio, whether the
// targets are met, and checks afterwards that the daemon's database holds exactly the events it
// acknowledged with 202. A benchmark, not a test: it prints figures and is not run by ctest.
//
// Usage: bench-ingest [--connections 16] [--seconds 5] [--max-events 200000] [--build-dir DIR]
//                     [--ingress-toml 'worker_threads = 32']
// Loopback only; every port is chosen at run time; every loop is bounded in count and time.

#include <httplib.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <latch>
#include <map>
#include <memory>
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

#include "adapters/signature/signature.h"
#include "tests/bench/bench_support.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/http_client.h"

namespace {

using namespace tenantsync;
using namespace tenantsync::testing;
using tenantsync::bench::ProcessCpuSeconds;
using Clock = std::chrono::steady_clock;

constexpr double kTargetRatio = 0.6;
constexpr double kTargetP99Ms = 50.0;
constexpr int kTargetConnections = 16;

struct Delivery {
  std::string body;
  HeaderList headers;
};

struct RunResult {
  std::string target;
  int connections = 0;
  double seconds = 0;
  int64_t requests = 0;
  int64_t accepted = 0;    // 202
  int64_t other_2xx = 0;   // e.g. 200 duplicate (should be 0: every id is unique)
  int64_t errors = 0;      // non-2xx, including failed connections (status 0)
  std::map<int, int64_t> error_statuses;  // status (0: no answer) -> count
  bool pool_exhausted = false;
  // Warm-up: one request per connection before the clock starts (opens the connection); not in
  // the figures above, but its 202s are stored and counted by the durability check.
  int64_t warmup_accepted = 0;
  double warmup_max_ms = 0;
  std::vector<int> warmup_errors;  // statuses of warm-up requests not answered 202 (0: no answer)
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double bench_cpu_s = 0, daemon_cpu_s = 0;  // CPU used during the timed run (user+system)
  double AcceptedPerSecond() const { return seconds > 0 ? static_cast<double>(accepted) / seconds : 0; }
};

// Directory holding the `tenantsync` binary: --build-dir, else $TENANTSYNC_BUILD_DIR, else the
// parent of this executable's directory (bench-ingest is built into <build>/bench/), else the
// executable's own directory.
std::string FindBuildDir(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TENANTSYNC_BUILD_DIR"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  for (fs::path dir : {exe.parent_path().parent_path(), exe.parent_path()}) {
    if (fs::exists(dir / "tenantsync", ec)) return dir.string();
  }
  return exe.parent_path().parent_path().string();
}

// Unique, valid user.upserted events signed as source "hr" would sign them.
std::vector<Delivery> PresignPool(const SignatureOptions& signing, const std::string& id_prefix, size_t count) {
  std::vector<Delivery> pool;
  pool.reserve(count);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (size_t i = 0; i < count; ++i) {
    const std::string n = std::to_string(i);
    Delivery d;
    d.body = EventBody("user.upserted", {{"external_id", "emp-" + n}, {"email", "user" + n + "@example.com"},
                                         {"name", "Bench User " + n}});
    auto headers = SignDelivery(signing, id_prefix + n, now, d.body);
    d.headers.assign(headers.begin(), headers.end());
    pool.push_back(std::move(d));
  }
  return pool;
}

double Percentile(const std::vector<float>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  size_t idx = static_cast<size_t>(p * static_cast<double>(sorted_us.size() - 1) + 0.5);
  return sorted_us[std::min(idx, sorted_us.size() - 1)] / 1000.0;
}

// Posts pool[0..] over `connections` keep-alive connections until `seconds` pass or the pool
// runs out. Each delivery is sent at most once.
RunResult RunLoad(const std::string& target, int port, const std::vector<Delivery>& pool, int connections,
                  int seconds, pid_t daemon_pid) {
  double bench_cpu0 = 0, daemon_cpu0 = 0;
  std::atomic<size_t> next{0};
  std::vector<std::vector<float>> latencies(static_cast<size_t>(connections));
  std::vector<int64_t> accepted(connections, 0), other_2xx(connections, 0);
  std::vector<std::map<int, int64_t>> errors(static_cast<size_t>(connections));
  std::vector<double> warmup_ms(static_cast<size_t>(connections), 0);
  std::vector<int64_t> warmup_accepted(static_cast<size_t>(connections), 0);
  std::vector<int> warmup_statuses(static_cast<size_t>(connections), 202);
  std::latch ready(connections + 1);
  Clock::time_point start, deadline;
  std::atomic<bool> go{false};

  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      TestHttpClient client("127.0.0.1", port, 10);
      auto& lat = latencies[static_cast<size_t>(c)];
      lat.reserve(pool.size() / static_cast<size_t>(connections) + 1024);
      if (size_t i = next.fetch_add(1); i < pool.size()) {
        const auto t0 = Clock::now();
        auto r = client.Post("/webhooks/hr", pool[i].body, pool[i].headers);
        warmup_ms[static_cast<size_t>(c)] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        warmup_accepted[static_cast<size_t>(c)] = r.status == 202 ? 1 : 0;
        if (r.status != 202) warmup_statuses[static_cast<size_t>(c)] = r.status;
      }
      ready.arrive_and_wait();
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      int consecutive_failures = 0;
      while (Clock::now() < deadline && consecutive_failures < 100) {
        size_t i = next.fetch_add(1, std::memory_order_relaxed);
        if (i >= pool.size()) break;
        const auto t0 = Clock::now();
        auto r = client.Post("/webhooks/hr", pool[i].body, pool[i].headers);
        const auto t1 = Clock::now();
        lat.push_back(static_cast<float>(std::chrono::duration<double, std::micro>(t1 - t0).count()));
        if (r.status == 202) {
          ++accepted[c];
        } else if (r.status >= 200 && r.status < 300) {
          ++other_2xx[c];
        } else {
          ++errors[static_cast<size_t>(c)][r.status];
        }
        consecutive_failures = r.status == 0 ? consecutive_failures + 1 : 0;
      }
    });
  }
  ready.arrive_and_wait();
  bench_cpu0 = ProcessCpuSeconds(getpid());
  daemon_cpu0 = ProcessCpuSeconds(daemon_pid);
  start = Clock::now();
  deadline = start + std::chrono::seconds(seconds);
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  const auto end = Clock::now();

  RunResult r;
  r.bench_cpu_s = ProcessCpuSeconds(getpid()) - bench_cpu0;
  r.daemon_cpu_s = ProcessCpuSeconds(daemon_pid) - daemon_cpu0;
  r.target = target;
  r.connections = connections;
  r.seconds = std::chrono::duration<double>(end - start).count();
  r.pool_exhausted = next.load() >= pool.size();
  std::vector<float> all;
  for (int c = 0; c < connections; ++c) {
    r.accepted += accepted[c];
    r.warmup_accepted += warmup_accepted[static_cast<size_t>(c)];
    r.warmup_max_ms = std::max(r.warmup_max_ms, warmup_ms[static_cast<size_t>(c)]);
    if (warmup_statuses[static_cast<size_t>(c)] != 202) r.warmup_errors.push_back(warmup_statuses[static_cast<size_t>(c)]);
    r.other_2xx += other_2xx[c];
    for (auto& [status, n] : errors[static_cast<size_t>(c)]) {
      r.errors += n;
      r.error_statuses[status] += n;
    }
    all.insert(all.end(), latencies[c].begin(), latencies[c].end());
  }
  r.requests = static_cast<int64_t>(all.size());
  std::sort(all.begin(), all.end());
  r.p50_ms = Percentile(all, 0.50);
  r.p99_ms = Percentile(all, 0.99);
  r.max_ms = all.empty() ? 0 : all.back() / 1000.0;
  return r;
}

// The baseline: a trivial cpp-httplib server on loopback that answers every POST with 202
// without verifying or storing anything. Same transport settings as the daemon's listener
// (TCP_NODELAY, keep-alive up to 1000 requests per connection, a worker per connection).
class NoopServer {
 public:
  explicit NoopServer(int connections) {
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_max_count(1000);
    server_.set_keep_alive_timeout(5);
    const size_t workers = static_cast<size_t>(connections) + 4;
    server_.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
    server_.Post("/webhooks/.*", [](const httplib::Request&, httplib::Response& res) {
      res.status = 202;
      res.set_content(R"({"status":"accepted"})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~NoopServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
};

int64_t CountStored(const std::string& db_path, const std::string& id_prefix) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT COUNT(*) FROM events WHERE source = 'hr' AND event_id LIKE ? || '%'");
  q.bind(1, id_prefix);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

void PrintHeader() {
  std::printf("%-8s %5s %7s %9s %11s %8s %8s %8s %7s %13s\n", "target", "conns", "seconds", "requests",
              "accepted/s", "p50 ms", "p99 ms", "max ms", "errors", "cpu us/req");
}

void PrintRow(const RunResult& r) {
  // CPU per request: bench process (client, plus the server for no-op) + daemon.
  const double reqs = r.requests > 0 ? static_cast<double>(r.requests) : 1;
  char cpu[32];
  std::snprintf(cpu, sizeof(cpu), "%.0f+%.0f", r.bench_cpu_s * 1e6 / reqs, r.daemon_cpu_s * 1e6 / reqs);
  std::printf("%-8s %5d %7.2f %9lld %11.0f %8.2f %8.2f %8.2f %7lld %13s%s\n", r.target.c_str(), r.connections,
              r.seconds, static_cast<long long>(r.requests), r.AcceptedPerSecond(), r.p50_ms, r.p99_ms, r.max_ms,
              static_cast<long long>(r.errors), cpu, r.pool_exhausted ? "  (pool exhausted: raise --max-events)" : "");
  if (r.errors > 0) {
    std::printf("         errors by status:");
    for (auto& [status, n] : r.error_statuses) {
      std::printf(" %s=%lld", status == 0 ? "no-answer" : std::to_string(status).c_str(), static_cast<long long>(n));
    }
    std::printf("\n");
  }
  if (r.other_2xx > 0) std::printf("         note: %lld non-202 2xx answers (duplicates?)\n", static_cast<long long>(r.other_2xx));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tenantsync ingest benchmark (durable daemon vs. no-op cpp-httplib server)"};
  std::vector<int> connection_counts = {16};
  int seconds = 5;
  size_t max_events = 200000;
  std::string build_dir_flag, ingress_toml, storage_toml;
  app.add_option("--connections", connection_counts, "Concurrent keep-alive connections (several: 1,4,16)")
      ->delimiter(',')
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "Duration of each run per target (max 60)")->check(CLI::Range(1, 3600));
  app.add_option("--max-events", max_events, "Pre-signed events per run (max 200000)")->check(CLI::Range(1, 10000000));
  app.add_option("--build-dir", build_dir_flag, "Directory holding the tenantsync binary");
  app.add_option("--ingress-toml", ingress_toml, "Extra TOML lines for the daemon's [ingress] section");
  app.add_option("--storage-toml", storage_toml, "Extra TOML lines for the daemon's [storage] section");
  CLI11_PARSE(app, argc, argv);
  seconds = std::min(seconds, 60);
  max_events = std::min<size_t>(max_events, 200000);
  signal(SIGPIPE, SIG_IGN);

  const std::string build_dir = FindBuildDir(build_dir_flag);
  if (!std::filesystem::exists(build_dir + "/tenantsync")) {
    std::fprintf(stderr, "bench-ingest: no tenantsync binary in %s (use --build-dir)\n", build_dir.c_str());
    return 2;
  }
  setenv("TENANTSYNC_BUILD_DIR", build_dir.c_str(), 1);  // read by BuildPath()

  TestDaemonOptions options;
  options.ingress_extra_toml = ingress_toml;
  options.storage_extra_toml = storage_toml;
  TestDaemon daemon(options);
  if (!daemon.Start()) {
    std::fprintf(stderr, "bench-ingest: the daemon did not start:\n%s\n", daemon.Output().c_str());
    return 2;
  }
  const SignatureOptions signing = daemon.Signing("hr");

  std::printf("bench-ingest: tenantsync=%s/tenantsync db=%s\n", build_dir.c_str(), daemon.db_path().c_str());
  std::printf("  %d s per target, up to %zu pre-signed unique events per run, loopback, hardware threads=%u\n",
              seconds, max_events, std::thread::hardware_concurrency());
  std::printf("  cpu us/req = CPU time per request of this process (client; for no-op also the server) + the daemon\n\n");
  PrintHeader();

  struct Pair {
    RunResult noop, durable;
    int64_t stored = 0;
  };
  std::vector<Pair> pairs;
  const std::string nonce = std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
  for (size_t run = 0; run < connection_counts.size(); ++run) {
    const int conns = connection_counts[run];
    const std::string prefix = "bench-" + nonce + "-c" + std::to_string(conns) + "-r" + std::to_string(run) + "-";
    const auto pool = PresignPool(signing, prefix, max_events);
    Pair p;
    {
      NoopServer noop(conns);
      if (noop.port() <= 0) {
        std::fprintf(stderr, "bench-ingest: cannot bind the no-op server\n");
        return 2;
      }
      p.noop = RunLoad("no-op", noop.port(), pool, conns, seconds, daemon.process()->pid());
    }
    PrintRow(p.noop);
    // Same pool (same ids, bodies, headers): the ids are new to the daemon.
    p.durable = RunLoad("durable", daemon.ingress_port(), pool, conns, seconds, daemon.process()->pid());
    PrintRow(p.durable);
    p.stored = CountStored(daemon.db_path(), prefix);  // outside timing
    pairs.push_back(p);
  }

  std::printf("\n");
  bool all_stored = true;
  for (auto& p : pairs) {
    const double ratio = p.noop.AcceptedPerSecond() > 0 ? p.durable.AcceptedPerSecond() / p.noop.AcceptedPerSecond() : 0;
    std::printf("connections=%d: ratio durable/no-op = %.2f", p.durable.connections, ratio);
    if (p.durable.connections == kTargetConnections) {
      const bool ratio_ok = ratio >= kTargetRatio, p99_ok = p.durable.p99_ms < kTargetP99Ms;
      std::printf("  [target ratio >= %.1f: %s; target p99 < %.0f ms: %s (%.2f ms)]", kTargetRatio,
                  ratio_ok ? "met" : "NOT met", kTargetP99Ms, p99_ok ? "met" : "NOT met", p.durable.p99_ms);
    }
    std::printf("\n");
    const int64_t acknowledged = p.durable.accepted + p.durable.warmup_accepted;
    const bool ok = p.stored == acknowledged;
    all_stored = all_stored && ok;
    std::printf("  durability check: %lld acknowledged 202 (%lld timed + %lld warm-up), %lld rows in the database: %s\n",
                static_cast<long long>(acknowledged), static_cast<long long>(p.durable.accepted),
                static_cast<long long>(p.durable.warmup_accepted), static_cast<long long>(p.stored),
                ok ? "OK" : "MISMATCH");
    std::printf("  connection warm-up (first request per connection, untimed): slowest no-op %.2f ms, durable %.2f ms\n",
                p.noop.warmup_max_ms, p.durable.warmup_max_ms);
    for (const RunResult* r : {&p.noop, &p.durable}) {
      std::map<int, int> by_status;
      for (int status : r->warmup_errors) ++by_status[status];
      for (auto& [status, count] : by_status) {
        std::printf("  %s: %d warm-up request(s) answered %s\n", r->target.c_str(), count,
                    status == 0 ? "nothing (connection failed)" : std::to_string(status).c_str());
      }
    }
  }
  if (daemon.Stop(SIGTERM) != 0) std::printf("note: the daemon did not exit cleanly on SIGTERM\n");
  std::filesystem::remove_all(daemon.dir());
  return all_stored ? 0 : 1;
}
