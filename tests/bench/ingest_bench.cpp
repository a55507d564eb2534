// Ingest benchmark (issues 2 and 13): how fast and at what CPU cost does `tenantsync serve`
// durably accept signed webhooks, compared with a trivial cpp-httplib server that answers 202
// without storing anything, and how do its listeners hold under hostile load?
//
// For each connection count it pre-signs a pool of unique Standard Webhooks deliveries, then
// posts them over N concurrent keep-alive connections for a bounded time to (1) the no-op server,
// run in a child process of its own, (2) a daemon whose database is on disk (WAL,
// synchronous=FULL, group commit) and (3) a daemon whose database is on tmpfs (--tmpfs-dir), where
// fsync is free. Prints accepted events/s, p50/p99 latency and server CPU per accepted event
// (utime+stime of the server process from /proc/PID/stat, before/after) per target, the
// durable/no-op ratio, daemon-on-tmpfs CPU per event against the no-op server's (goal: <= 1.5x),
// the fsync-bound ceiling of the disk (connections / mean fsync time of a write+fsync loop in
// the database's directory), and checks that each database holds exactly the events acknowledged
// with 202. The CPU ratio is measured a second way too: --cpu-pairs short runs (--pair-seconds)
// of the no-op server and the tmpfs daemon back to back, the order alternating, each until the
// server is idle, and the median of the pairs' ratios — the long runs are ~20 s apart and this
// VM's speed drifts within that (docs/BENCHMARKS.md, session 35). Then, against the disk daemon: a
// valid sender's latency while --slow-clients N slowloris connections trickle their heads, and the
// first-request wait of 64 and 256 keep-alive senders (--keep-alive). A benchmark, not a test: it
// prints figures and is not run by ctest.
//
// Usage: bench-ingest [--connections 16] [--seconds 5] [--max-events 200000] [--build-dir DIR]
//                     [--ingress-toml 'worker_threads = 32'] [--storage-toml ...]
//                     [--tmpfs-dir /dev/shm] [--slow-clients 200] [--attack-seconds 7]
//                     [--keep-alive 64,256] [--cpu-pairs 4] [--pair-seconds 2]
// Loopback only; every port is chosen at run time; every loop is bounded in count and time.

#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
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
  int64_t accepted = 0;                   // 202
  int64_t other_2xx = 0;                  // e.g. 200 duplicate (should be 0: every id is unique)
  int64_t errors = 0;                     // non-2xx, including failed connections (status 0)
  std::map<int, int64_t> error_statuses;  // status (0: no answer) -> count
  bool pool_exhausted = false;
  // Warm-up: one request per connection before the clock starts (opens the connection); not in
  // the figures above, but its 202s are stored and counted by the durability check.
  int64_t warmup_accepted = 0;
  double warmup_max_ms = 0;
  std::vector<int> warmup_errors;  // statuses of warm-up requests not answered 202 (0: no answer)
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double server_cpu_s = 0;  // CPU of the server process during the timed run (user+system)
  // From the start of the timed run until the server went idle after it (bounded by
  // kMaxSettle): includes the daemon's writer folding the accepted events into desired state.
  double settled_cpu_s = 0;
  double settle_s = 0;                         // how long after the run the server took to go idle
  std::map<std::string, double> thread_cpu_s;  // settled CPU by thread name
  // Bytes the server wrote and read through file system calls over the same span (/proc/PID/io):
  // the daemon's WAL frames, checkpoints and log lines (its sockets use send/recv, not counted).
  bench::IoBytes settled_io;
  // The daemon's group commits during the run, warm-up included (its /metrics before and after).
  double commits = 0, commit_events = 0;
  double ServerCpuUsPerEvent() const {
    return accepted > 0 ? server_cpu_s * 1e6 / static_cast<double>(accepted) : 0;
  }
  double SettledCpuUsPerEvent() const {
    return accepted > 0 ? settled_cpu_s * 1e6 / static_cast<double>(accepted) : 0;
  }
  double ThreadCpuUsPerEvent(const std::function<bool(const std::string&)>& select) const {
    double s = 0;
    for (const auto& [name, cpu] : thread_cpu_s)
      if (select(name)) s += cpu;
    return accepted > 0 ? s * 1e6 / static_cast<double>(accepted) : 0;
  }
  double WrittenBytesPerEvent() const {
    return accepted > 0 ? static_cast<double>(settled_io.written) / static_cast<double>(accepted)
                        : 0;
  }
  double ReadBytesPerEvent() const {
    return accepted > 0 ? static_cast<double>(settled_io.read) / static_cast<double>(accepted) : 0;
  }
  double AcceptedPerSecond() const {
    return seconds > 0 ? static_cast<double>(accepted) / seconds : 0;
  }
};

// Directory holding the `tenantsync` binary: --build-dir, else $TENANTSYNC_BUILD_DIR, else the
// parent of this executable's directory (bench-ingest is built into <build>/bench/), else the
// executable's own directory.
std::string FindBuildDir(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TENANTSYNC_BUILD_DIR"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  for (fs::path dir : {exe.parent_path().parent_path(), exe.parent_path()}) {
    if (fs::exists(dir / "tenantsync", ec)) return dir.string();
  }
  return exe.parent_path().parent_path().string();
}

// Unique, valid user.upserted events signed as source "hr" would sign them. Event ids are the
// prefix and a counter, or with `random_ids` the prefix and 32 random hex digits, as a sender
// using UUIDs sends them (what the inbox's dedup index sees from most senders).
std::vector<Delivery> PresignPool(const SignatureOptions& signing, const std::string& id_prefix,
                                  size_t count, bool random_ids = false) {
  std::vector<Delivery> pool;
  pool.reserve(count);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::mt19937_64 rng(std::hash<std::string>()(id_prefix));
  for (size_t i = 0; i < count; ++i) {
    const std::string n = std::to_string(i);
    std::string id = id_prefix + n;
    if (random_ids) {
      char hex[33];
      std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                    static_cast<unsigned long long>(rng()));
      id = id_prefix + hex;
    }
    Delivery d;
    d.body = EventBody("user.upserted", {{"external_id", "emp-" + n},
                                         {"email", "user" + n + "@example.com"},
                                         {"name", "Bench User " + n}});
    auto headers = SignDelivery(signing, id, now, d.body);
    d.headers.assign(headers.begin(), headers.end());
    pool.push_back(std::move(d));
  }
  return pool;
}

// One no-op run and one tmpfs-daemon run, back to back (--cpu-pairs).
struct CpuPair {
  RunResult noop, daemon;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Percentile(const std::vector<float>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  size_t idx = static_cast<size_t>(p * static_cast<double>(sorted_us.size() - 1) + 0.5);
  return sorted_us[std::min(idx, sorted_us.size() - 1)] / 1000.0;
}

// Posts pool[0..] over `connections` keep-alive connections until `seconds` pass or the pool
// runs out. Each delivery is sent at most once.
RunResult RunLoad(const std::string& target, int port, const std::vector<Delivery>& pool,
                  int connections, int seconds, pid_t server_pid) {
  double server_cpu0 = 0;
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
        warmup_ms[static_cast<size_t>(c)] =
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
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
        lat.push_back(
            static_cast<float>(std::chrono::duration<double, std::micro>(t1 - t0).count()));
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
  server_cpu0 = ProcessCpuSeconds(server_pid);
  const auto threads_cpu0 = bench::ThreadCpuSecondsByName(server_pid);
  const bench::IoBytes io0 = bench::ProcessIoBytes(server_pid);
  start = Clock::now();
  deadline = start + std::chrono::seconds(seconds);
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  const auto end = Clock::now();

  RunResult r;
  r.server_cpu_s = ProcessCpuSeconds(server_pid) - server_cpu0;
  // Settle: wait until the server uses under 2 % of a CPU over 200 ms (the daemon's writer may
  // still be folding accepted events), at most kMaxSettle.
  constexpr auto kSettleTick = std::chrono::milliseconds(200);
  constexpr auto kMaxSettle = std::chrono::seconds(15);
  double last = ProcessCpuSeconds(server_pid);
  while (Clock::now() - end < kMaxSettle) {
    std::this_thread::sleep_for(kSettleTick);
    const double now_cpu = ProcessCpuSeconds(server_pid);
    const bool idle = now_cpu - last < 0.02 * 0.2;
    last = now_cpu;
    if (idle) break;
  }
  r.settled_cpu_s = last - server_cpu0;
  const bench::IoBytes io1 = bench::ProcessIoBytes(server_pid);
  r.settled_io.written = io1.written - io0.written;
  r.settled_io.read = io1.read - io0.read;
  r.settle_s = std::chrono::duration<double>(Clock::now() - end).count();
  for (const auto& [name, cpu] : bench::ThreadCpuSecondsByName(server_pid)) {
    auto before = threads_cpu0.find(name);
    r.thread_cpu_s[name] = cpu - (before == threads_cpu0.end() ? 0.0 : before->second);
  }
  r.target = target;
  r.connections = connections;
  r.seconds = std::chrono::duration<double>(end - start).count();
  r.pool_exhausted = next.load() >= pool.size();
  std::vector<float> all;
  for (int c = 0; c < connections; ++c) {
    r.accepted += accepted[c];
    r.warmup_accepted += warmup_accepted[static_cast<size_t>(c)];
    r.warmup_max_ms = std::max(r.warmup_max_ms, warmup_ms[static_cast<size_t>(c)]);
    if (warmup_statuses[static_cast<size_t>(c)] != 202)
      r.warmup_errors.push_back(warmup_statuses[static_cast<size_t>(c)]);
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
// without verifying or storing anything. Same transport settings as the daemon's old listener
// (TCP_NODELAY, keep-alive up to 1000 requests per connection, a worker per connection). It runs
// in a child process forked before this process starts any thread, so its CPU time is its own.
class NoopServerProcess {
 public:
  explicit NoopServerProcess(int workers) {
    int port_pipe[2], stop_pipe[2];
    if (::pipe2(port_pipe, O_CLOEXEC) != 0) return;
    if (::pipe2(stop_pipe, O_CLOEXEC) != 0) {
      ::close(port_pipe[0]);
      ::close(port_pipe[1]);
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(port_pipe[0]);
      ::close(stop_pipe[1]);
      int exit_code = 1;
      {
        httplib::Server server;
        server.set_tcp_nodelay(true);
        server.set_keep_alive_max_count(1000);
        server.set_keep_alive_timeout(5);
        server.new_task_queue = [workers] {
          return new httplib::ThreadPool(static_cast<size_t>(workers));
        };
        server.Post("/webhooks/.*", [](const httplib::Request&, httplib::Response& res) {
          res.status = 202;
          res.set_content(R"({"status":"accepted"})", "application/json");
        });
        const int port = server.bind_to_any_port("127.0.0.1");
        (void)!::write(port_pipe[1], &port, sizeof(port));
        ::close(port_pipe[1]);
        if (port > 0) {
          std::thread t([&server] { server.listen_after_bind(); });
          char c;
          while (::read(stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
          }  // EOF: the parent is done (or gone)
          server.stop();
          t.join();
          exit_code = 0;
        }
      }
      ::_exit(exit_code);
    }
    ::close(port_pipe[1]);
    ::close(stop_pipe[0]);
    stop_fd_ = stop_pipe[1];
    if (pid_ > 0) {
      pollfd p{port_pipe[0], POLLIN, 0};
      if (::poll(&p, 1, 10000) == 1 && ::read(port_pipe[0], &port_, sizeof(port_)) != sizeof(port_))
        port_ = -1;
    }
    ::close(port_pipe[0]);
  }
  ~NoopServerProcess() {
    if (stop_fd_ >= 0) ::close(stop_fd_);
    if (pid_ > 0) {
      for (int i = 0; i < 100; ++i) {  // up to 5 s, then SIGKILL
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stop_fd_ = -1;
  int port_ = -1;
};

int64_t CountStored(const std::string& db_path, const std::string& id_prefix) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT COUNT(*) FROM events WHERE source = 'hr' AND event_id LIKE ? || '%'");
  q.bind(1, id_prefix);
  q.executeStep();
  return q.getColumn(0).getInt64();
}

// Median and mean of `write 4 KiB + fsync` on a new file in `dir` (at most 200 rounds or 2 s).
// overwrite=false: each write appends (the file grows, so each fsync also commits metadata);
// overwrite=true: 256 KiB are written and synced first (untimed), then blocks are rewritten in
// place, as SQLite does with a WAL file it reuses after a checkpoint.
struct FsyncTime {
  int rounds = 0;
  double median_ms = 0, mean_ms = 0, max_ms = 0;
};
FsyncTime MeasureFsync(const std::string& dir, bool overwrite) {
  FsyncTime out;
  const std::string path = dir + "/bench-fsync-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return out;
  std::string block(4096, 'x');
  constexpr int kBlocks = 64;
  bool ok = true;
  if (overwrite) {
    for (int i = 0; i < kBlocks && ok; ++i)
      ok = ::write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size());
    ok = ok && ::fsync(fd) == 0;
  }
  std::vector<double> ms;
  const auto until = Clock::now() + std::chrono::seconds(2);
  for (int i = 0; ok && i < 200 && Clock::now() < until; ++i) {
    const auto t0 = Clock::now();
    const ssize_t n =
        overwrite ? ::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i % kBlocks) * 4096)
                  : ::write(fd, block.data(), block.size());
    if (n != static_cast<ssize_t>(block.size()) || ::fsync(fd) != 0) break;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (ms.empty()) return out;
  double sum = 0;
  for (double v : ms) sum += v;
  std::sort(ms.begin(), ms.end());
  out.rounds = static_cast<int>(ms.size());
  out.median_ms = ms[ms.size() / 2];
  out.mean_ms = sum / static_cast<double>(ms.size());
  out.max_ms = ms.back();
  return out;
}

// ---- slowloris -------------------------------------------------------------------------------

// "HTTP/1.1 408 ..." -> 408; 0 when nothing (or no status line) was received.
int StatusOf(const std::string& received) {
  if (received.size() < 12 || received.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(received.c_str() + 9);
}

// Opens a TCP connection from `source` (empty: any) to 127.0.0.1:port; -1 on failure.
int ConnectFrom(const std::string& source, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &src.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// N slowloris connections from one address: each sends the start of a request head, then one
// more header byte per second, never finishing it. A connection the server closes is reopened at
// the next tick, so N stay open (or are being refused) throughout. Bounded by `until` and by
// 30 * N connections opened in all.
struct SlowlorisStats {
  int64_t opened = 0, failed_to_open = 0;
  std::map<int, int64_t> closed_by_status;  // server's answer (0: closed without one) -> count
  double max_lifetime_408_s = 0;            // longest-lived connection the server timed out
  int64_t open_at_end = 0;
};
SlowlorisStats RunSlowloris(const std::string& source, int port, int count,
                            Clock::time_point until) {
  struct Conn {
    int fd = -1;
    Clock::time_point opened;
    std::string received;
  };
  static const std::string kStart = "POST /webhooks/hr HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  SlowlorisStats st;
  std::vector<Conn> conns(static_cast<size_t>(count));
  const int64_t max_opens = 30LL * count;
  auto open_one = [&](Conn& c) {
    if (st.opened + st.failed_to_open >= max_opens) return;
    c.fd = ConnectFrom(source, port);
    c.received.clear();
    if (c.fd < 0) {
      ++st.failed_to_open;
      return;
    }
    ++st.opened;
    c.opened = Clock::now();
    ::send(c.fd, kStart.data(), kStart.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  };
  for (auto& c : conns) open_one(c);
  auto next_tick = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < until) {
    std::vector<pollfd> fds;
    std::vector<Conn*> who;
    for (auto& c : conns) {
      if (c.fd < 0) continue;
      fds.push_back(pollfd{c.fd, POLLIN, 0});
      who.push_back(&c);
    }
    ::poll(fds.data(), fds.size(), 50);
    for (size_t i = 0; i < fds.size(); ++i) {
      Conn& c = *who[i];
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) c.received.append(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        const int status = StatusOf(c.received);
        ++st.closed_by_status[status];
        if (status == 408) {
          st.max_lifetime_408_s =
              std::max(st.max_lifetime_408_s,
                       std::chrono::duration<double>(Clock::now() - c.opened).count());
        }
        ::close(c.fd);
        c.fd = -1;
      }
    }
    if (Clock::now() >= next_tick) {
      next_tick += std::chrono::seconds(1);
      for (auto& c : conns) {
        if (c.fd >= 0) {
          ::send(c.fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
          open_one(c);
        }
      }
    }
  }
  for (auto& c : conns) {
    if (c.fd >= 0) {
      ++st.open_at_end;
      ::close(c.fd);
    }
  }
  return st;
}

struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::map<int, int64_t> by_status;
};

std::string StatusList(const std::map<int, int64_t>& by_status) {
  std::string out;
  for (auto& [status, n] : by_status) {
    if (!out.empty()) out += " ";
    out +=
        (status == 0 ? std::string("no-answer") : std::to_string(status)) + "=" + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

LatencySummary Summarise(std::vector<float> us, std::map<int, int64_t> by_status) {
  LatencySummary s;
  std::sort(us.begin(), us.end());
  s.count = static_cast<int64_t>(us.size());
  s.p50_ms = Percentile(us, 0.50);
  s.p99_ms = Percentile(us, 0.99);
  s.max_ms = us.empty() ? 0 : us.back() / 1000.0;
  s.by_status = std::move(by_status);
  return s;
}

// A valid sender (from 127.0.0.1, a keep-alive connection) posts one new event every 20 ms while
// `slow_clients` slowloris connections from 127.0.0.2 hold on; prints its latencies and how the
// server closed the slow connections.
void SlowlorisPhase(TestDaemon& daemon, const SignatureOptions& signing, int slow_clients,
                    int attack_seconds, const std::string& nonce) {
  std::string attacker =
      "127.0.0.2";  // another loopback address: the valid sender has its own peer cap
  if (int probe = ConnectFrom(attacker, daemon.ingress_port()); probe >= 0) {
    ::close(probe);
  } else {
    attacker.clear();
  }
  std::printf(
      "\nslowloris: %d slow connections from %s (1 header byte/s, reopened when closed) for %d "
      "s;\n",
      slow_clients,
      attacker.empty() ? "127.0.0.1 (127.0.0.2 unusable; shares the sender's address)"
                       : attacker.c_str(),
      attack_seconds);
  std::printf(
      "  a valid sender from 127.0.0.1 posts a new signed event every 20 ms from 0.5 s on\n");
  std::fflush(stdout);
  const auto start = Clock::now();
  const auto until = start + std::chrono::seconds(attack_seconds);
  SlowlorisStats st;
  std::thread attack(
      [&] { st = RunSlowloris(attacker, daemon.ingress_port(), slow_clients, until); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<float> us;
  std::map<int, int64_t> by_status;
  {
    TestHttpClient client("127.0.0.1", daemon.ingress_port(), 10);
    const auto pool = PresignPool(signing, "slowloris-" + nonce + "-", 2000);
    for (size_t i = 0; i < pool.size() && Clock::now() < until; ++i) {
      const auto t0 = Clock::now();
      auto r = client.Post("/webhooks/hr", pool[i].body, pool[i].headers);
      us.push_back(
          static_cast<float>(std::chrono::duration<double, std::micro>(Clock::now() - t0).count()));
      ++by_status[r.status];
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  attack.join();
  const auto s = Summarise(std::move(us), std::move(by_status));
  std::printf(
      "  valid sender: %lld requests, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; answers %s\n",
      static_cast<long long>(s.count), s.p50_ms, s.p99_ms, s.max_ms,
      StatusList(s.by_status).c_str());
  std::printf(
      "  slow connections: %lld opened (%lld failed to open), closed by the server: %s; "
      "longest until 408: %.2f s; open at the end: %lld\n",
      static_cast<long long>(st.opened), static_cast<long long>(st.failed_to_open),
      StatusList(st.closed_by_status).c_str(), st.max_lifetime_408_s,
      static_cast<long long>(st.open_at_end));
  std::fflush(stdout);
}

// `senders` keep-alive connections start together and each posts up to 200 events within 2 s;
// prints the wait for each connection's first answer.
void KeepAlivePhase(TestDaemon& daemon, const SignatureOptions& signing, int senders,
                    const std::string& nonce) {
  std::vector<float> first_us(static_cast<size_t>(senders), 0);
  std::vector<int> first_status(static_cast<size_t>(senders), 0);
  std::vector<int64_t> sent(static_cast<size_t>(senders), 0),
      accepted(static_cast<size_t>(senders), 0);
  std::latch ready(senders + 1);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      const auto pool = PresignPool(
          signing, "ka" + std::to_string(senders) + "-" + nonce + "-" + std::to_string(s) + "-",
          200);
      TestHttpClient client("127.0.0.1", daemon.ingress_port(), 10);
      ready.arrive_and_wait();
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const auto until = Clock::now() + std::chrono::seconds(2);
      for (size_t i = 0; i < pool.size() && Clock::now() < until; ++i) {
        const auto t0 = Clock::now();
        auto r = client.Post("/webhooks/hr", pool[i].body, pool[i].headers);
        if (i == 0) {
          first_us[static_cast<size_t>(s)] = static_cast<float>(
              std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
          first_status[static_cast<size_t>(s)] = r.status;
        }
        ++sent[static_cast<size_t>(s)];
        if (r.status == 202) ++accepted[static_cast<size_t>(s)];
      }
    });
  }
  ready.arrive_and_wait();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  std::map<int, int64_t> by_status;
  int64_t total = 0, total_accepted = 0;
  for (int s = 0; s < senders; ++s) {
    ++by_status[first_status[static_cast<size_t>(s)]];
    total += sent[static_cast<size_t>(s)];
    total_accepted += accepted[static_cast<size_t>(s)];
  }
  const auto f = Summarise(first_us, by_status);
  std::vector<float> first_202_us;
  for (int s = 0; s < senders; ++s) {
    if (first_status[static_cast<size_t>(s)] == 202)
      first_202_us.push_back(first_us[static_cast<size_t>(s)]);
  }
  const auto f202 = Summarise(first_202_us, {});
  std::printf(
      "keep-alive %3d senders: first answer p50 %.2f ms, p99 %.2f ms, max %.2f ms; first answers "
      "%s "
      "(those answered 202: p50 %.2f ms, max %.2f ms); %lld requests in 2 s, %lld answered 202\n",
      senders, f.p50_ms, f.p99_ms, f.max_ms, StatusList(f.by_status).c_str(), f202.p50_ms,
      f202.max_ms, static_cast<long long>(total), static_cast<long long>(total_accepted));
  std::fflush(stdout);
}

// The daemon's group-commit counters (commits, events they stored); zeros when unreachable.
std::pair<double, double> CommitCounters(TestDaemon& daemon) {
  auto r = daemon.AdminGet("/metrics");
  auto value = [&](const std::string& name) {
    const std::string key = "\n" + name + " ";
    const size_t at = r.status == 200 ? r.body.find(key) : std::string::npos;
    return at == std::string::npos ? 0.0 : std::strtod(r.body.c_str() + at + key.size(), nullptr);
  };
  return {value("tenantsync_inbox_commits_total"), value("tenantsync_inbox_commit_events_total")};
}

// RunLoad against a daemon, with its group commits during the run.
RunResult RunDaemon(const std::string& target, TestDaemon& daemon,
                    const std::vector<Delivery>& pool, int connections, int seconds) {
  const auto before = CommitCounters(daemon);
  RunResult r =
      RunLoad(target, daemon.ingress_port(), pool, connections, seconds, daemon.process()->pid());
  const auto after = CommitCounters(daemon);
  r.commits = after.first - before.first;
  r.commit_events = after.second - before.second;
  return r;
}

void PrintHeader() {
  std::printf("%-13s %5s %7s %9s %11s %8s %8s %8s %7s %14s\n", "target", "conns", "seconds",
              "requests", "accepted/s", "p50 ms", "p99 ms", "max ms", "errors", "server cpu us");
}

void PrintRow(const RunResult& r) {
  std::printf("%-13s %5d %7.2f %9lld %11.0f %8.2f %8.2f %8.2f %7lld %14.1f%s\n", r.target.c_str(),
              r.connections, r.seconds, static_cast<long long>(r.requests), r.AcceptedPerSecond(),
              r.p50_ms, r.p99_ms, r.max_ms, static_cast<long long>(r.errors),
              r.ServerCpuUsPerEvent(),
              r.pool_exhausted ? "  (pool exhausted: raise --max-events)" : "");
  if (r.errors > 0)
    std::printf("              errors by status: %s\n", StatusList(r.error_statuses).c_str());
  if (r.settle_s > 0.3 || r.thread_cpu_s.size() > 1) {
    std::printf("              settled %.1f s after the run: %.1f us/event", r.settle_s,
                r.SettledCpuUsPerEvent());
    if (r.thread_cpu_s.size() > 1) {
      std::printf("; by thread:");
      for (const auto& [name, cpu] : r.thread_cpu_s) {
        if (cpu <= 0) continue;
        std::printf(" %s %.1f", name.c_str(),
                    r.accepted > 0 ? cpu * 1e6 / static_cast<double>(r.accepted) : 0.0);
      }
    }
    std::printf("\n");
  }
  if (r.commits > 0)
    std::printf("              group commits: %.0f, %.1f events per commit\n", r.commits,
                r.commit_events / r.commits);
  if (r.other_2xx > 0)
    std::printf("         note: %lld non-202 2xx answers (duplicates?)\n",
                static_cast<long long>(r.other_2xx));
  std::fflush(stdout);
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tenantsync ingest benchmark (durable daemon vs. no-op cpp-httplib server; hostile load)"};
  std::vector<int> connection_counts = {16};
  std::vector<int> keep_alive_counts = {64, 256};
  int seconds = 5;
  int slow_clients = 200;
  int attack_seconds = 7;
  size_t max_events = 200000;
  int cpu_pairs = 4, pair_seconds = 2;
  std::string build_dir_flag, ingress_toml, storage_toml, tmpfs_dir = "/dev/shm", ids = "random";
  app.add_option("--connections", connection_counts,
                 "Concurrent keep-alive connections (several: 1,4,16)")
      ->delimiter(',')
      ->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "Duration of each run per target (max 60)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--max-events", max_events, "Pre-signed events per run (max 200000)")
      ->check(CLI::Range(1, 10000000));
  app.add_option("--ids", ids,
                 "Event ids of the timed runs: random (UUID-like, as most senders) or sequential")
      ->check(CLI::IsMember({"random", "sequential"}));
  app.add_option("--build-dir", build_dir_flag, "Directory holding the tenantsync binary");
  app.add_option("--ingress-toml", ingress_toml,
                 "Extra TOML lines for the daemons' [ingress] section");
  app.add_option("--storage-toml", storage_toml,
                 "Extra TOML lines for the daemons' [storage] section");
  app.add_option("--tmpfs-dir", tmpfs_dir,
                 "tmpfs directory for the CPU-per-event daemon's database ('' = skip)");
  app.add_option("--slow-clients", slow_clients,
                 "Slowloris connections during the attack phase (0 = skip)")
      ->check(CLI::Range(0, 2000));
  app.add_option("--attack-seconds", attack_seconds, "Length of the slowloris phase (max 60)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--cpu-pairs", cpu_pairs,
                 "Interleaved pairs of short no-op and tmpfs-daemon runs for the CPU ratio (0 = "
                 "skip; max 20)")
      ->check(CLI::Range(0, 20));
  app.add_option("--pair-seconds", pair_seconds, "Length of each run of a pair (max 10)")
      ->check(CLI::Range(1, 10));
  app.add_option("--keep-alive", keep_alive_counts,
                 "Keep-alive sender counts for first-request waits (0 = skip)")
      ->delimiter(',')
      ->check(CLI::Range(0, 512));
  CLI11_PARSE(app, argc, argv);
  seconds = std::min(seconds, 60);
  attack_seconds = std::min(attack_seconds, 60);
  max_events = std::min<size_t>(max_events, 200000);
  signal(SIGPIPE, SIG_IGN);

  const std::string build_dir = FindBuildDir(build_dir_flag);
  if (!std::filesystem::exists(build_dir + "/tenantsync")) {
    std::fprintf(stderr, "bench-ingest: no tenantsync binary in %s (use --build-dir)\n",
                 build_dir.c_str());
    return 2;
  }
  setenv("TENANTSYNC_BUILD_DIR", build_dir.c_str(), 1);  // read by BuildPath()

  // Forked first, while this process has one thread.
  const int max_conns = *std::max_element(connection_counts.begin(), connection_counts.end());
  NoopServerProcess noop(max_conns + 4);
  if (noop.port() <= 0) {
    std::fprintf(stderr, "bench-ingest: cannot start the no-op server\n");
    return 2;
  }

  TestDaemonOptions options;
  options.ingress_extra_toml = ingress_toml;
  options.storage_extra_toml = storage_toml;
  TestDaemon daemon(options);
  if (!daemon.Start()) {
    std::fprintf(stderr, "bench-ingest: the daemon did not start:\n%s\n", daemon.Output().c_str());
    return 2;
  }
  std::unique_ptr<TestDaemon> tmpfs_daemon;
  if (!tmpfs_dir.empty() && std::filesystem::is_directory(tmpfs_dir)) {
    const char* old_tmp = std::getenv("TMPDIR");
    const std::string saved = old_tmp ? old_tmp : "";
    setenv("TMPDIR", tmpfs_dir.c_str(), 1);  // TestDaemon makes its directory under $TMPDIR
    tmpfs_daemon = std::make_unique<TestDaemon>(options);
    if (old_tmp) {
      setenv("TMPDIR", saved.c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
    if (!tmpfs_daemon->Start()) {
      std::fprintf(stderr, "bench-ingest: the tmpfs daemon did not start:\n%s\n",
                   tmpfs_daemon->Output().c_str());
      return 2;
    }
  }
  const SignatureOptions signing = daemon.Signing("hr");

  std::printf("bench-ingest: tenantsync=%s/tenantsync\n", build_dir.c_str());
  std::printf("  machine: %s, %u hardware threads; loopback\n", CpuModel().c_str(),
              std::thread::hardware_concurrency());
  std::printf("  disk db=%s\n", daemon.db_path().c_str());
  if (tmpfs_daemon) {
    std::printf("  tmpfs db=%s\n", tmpfs_daemon->db_path().c_str());
  } else {
    std::printf("  tmpfs daemon skipped (--tmpfs-dir '%s' is not a directory)\n",
                tmpfs_dir.c_str());
  }
  std::printf("  %d s per target, up to %zu pre-signed unique events per run, %s ids\n", seconds,
              max_events, ids.c_str());
  std::printf(
      "  server cpu us = utime+stime of the server process during the run / accepted events\n");
  std::printf("  (no-op: a cpp-httplib server in a child process, %d workers)\n\n", max_conns + 4);
  PrintHeader();

  struct Group {
    RunResult noop, disk, tmpfs;
    int64_t stored_disk = 0, stored_tmpfs = 0;
    FsyncTime fsync_before,
        fsync_append;  // measured just before the disk run (in place; appending)
    bool has_tmpfs = false;
    std::vector<CpuPair> pairs;  // interleaved runs (--cpu-pairs)
    int64_t pairs_acknowledged = 0, pairs_stored = 0;
  };
  std::vector<Group> groups;
  const std::string nonce = std::to_string(getpid()) + "-" + std::to_string(std::time(nullptr));
  for (size_t run = 0; run < connection_counts.size(); ++run) {
    const int conns = connection_counts[run];
    const std::string prefix =
        "bench-" + nonce + "-c" + std::to_string(conns) + "-r" + std::to_string(run) + "-";
    const auto pool = PresignPool(signing, prefix, max_events, ids == "random");
    Group g;
    g.noop = RunLoad("no-op", noop.port(), pool, conns, seconds, noop.pid());
    PrintRow(g.noop);
    // Same pool (same ids, bodies, headers): the ids are new to each daemon.
    g.fsync_before = MeasureFsync(daemon.dir(), true);
    g.fsync_append = MeasureFsync(daemon.dir(), false);
    g.disk = RunDaemon("daemon-disk", daemon, pool, conns, seconds);
    PrintRow(g.disk);
    g.stored_disk = CountStored(daemon.db_path(), prefix);  // outside timing
    if (tmpfs_daemon) {
      g.has_tmpfs = true;
      g.tmpfs = RunDaemon("daemon-tmpfs", *tmpfs_daemon, pool, conns, seconds);
      PrintRow(g.tmpfs);
      g.stored_tmpfs = CountStored(tmpfs_daemon->db_path(), prefix);
      // The long runs above are ~20 s apart, and this VM's speed drifts within that: short runs
      // of the two servers back to back, the order alternating, compare them at the same speed.
      for (int p = 0; p < cpu_pairs; ++p) {
        const std::string pair_prefix = prefix + "pair" + std::to_string(p) + "-";
        const auto pair_pool = PresignPool(
            signing, pair_prefix, std::min(max_events, static_cast<size_t>(pair_seconds) * 30000),
            ids == "random");
        CpuPair pair;
        auto run_noop = [&] {
          pair.noop = RunLoad("no-op", noop.port(), pair_pool, conns, pair_seconds, noop.pid());
        };
        auto run_daemon = [&] {
          pair.daemon = RunDaemon("daemon-tmpfs", *tmpfs_daemon, pair_pool, conns, pair_seconds);
        };
        if (p % 2 == 0) {
          run_noop();
          run_daemon();
        } else {
          run_daemon();
          run_noop();
        }
        g.pairs_acknowledged += pair.daemon.accepted + pair.daemon.warmup_accepted;
        g.pairs_stored += CountStored(tmpfs_daemon->db_path(), pair_prefix);
        g.pairs.push_back(std::move(pair));
      }
    }
    groups.push_back(g);
  }

  const FsyncTime fsync_after = MeasureFsync(daemon.dir(), true);
  std::printf(
      "\nfsync (write 4 KiB + fsync in the disk database's directory), measured just before each "
      "disk run "
      "and once after all runs:\n");
  for (size_t i = 0; i < groups.size(); ++i) {
    const FsyncTime& f = groups[i].fsync_before;
    const FsyncTime& fa = groups[i].fsync_append;
    std::printf(
        "  before connections=%d: in place %d rounds, median %.3f ms, mean %.3f ms, max %.3f ms; "
        "appending: "
        "median %.3f ms, mean %.3f ms\n",
        groups[i].disk.connections, f.rounds, f.median_ms, f.mean_ms, f.max_ms, fa.median_ms,
        fa.mean_ms);
  }
  std::printf("  after all runs: in place %d rounds, median %.3f ms, mean %.3f ms, max %.3f ms\n",
              fsync_after.rounds, fsync_after.median_ms, fsync_after.mean_ms, fsync_after.max_ms);

  bool all_stored = true;
  for (auto& g : groups) {
    const int conns = g.disk.connections;
    std::printf("\nconnections=%d:\n", conns);
    const double ratio = g.noop.AcceptedPerSecond() > 0
                             ? g.disk.AcceptedPerSecond() / g.noop.AcceptedPerSecond()
                             : 0;
    std::printf("  throughput ratio daemon-disk/no-op = %.2f", ratio);
    if (conns == kTargetConnections) {
      const bool ratio_ok = ratio >= kTargetRatio, p99_ok = g.disk.p99_ms < kTargetP99Ms;
      std::printf("  [target ratio >= %.1f: %s; target p99 < %.0f ms: %s (%.2f ms)]", kTargetRatio,
                  ratio_ok ? "met" : "NOT met", kTargetP99Ms, p99_ok ? "met" : "NOT met",
                  g.disk.p99_ms);
    }
    std::printf("\n");
    if (const FsyncTime& fsync_time = g.fsync_before;
        fsync_time.rounds > 0 && fsync_time.mean_ms > 0) {
      const double ceiling = conns / (fsync_time.mean_ms / 1000.0);
      std::printf(
          "  fsync-bound ceiling = %d connections / %.3f ms (mean in-place fsync) = %.0f events/s; "
          "daemon-disk reached %.0f/s (%.0f%% of it)\n",
          conns, fsync_time.mean_ms, ceiling, g.disk.AcceptedPerSecond(),
          100.0 * g.disk.AcceptedPerSecond() / ceiling);
    }
    if (g.has_tmpfs) {
      const double noop_us = g.noop.ServerCpuUsPerEvent(),
                   daemon_us = g.tmpfs.ServerCpuUsPerEvent();
      const double cpu_ratio = noop_us > 0 ? daemon_us / noop_us : 0;
      std::printf(
          "  CPU per accepted event: daemon (tmpfs db) %.1f us, no-op server %.1f us, ratio %.2f "
          "[goal <= 1.5: %s]; daemon on disk %.1f us\n",
          daemon_us, noop_us, cpu_ratio, cpu_ratio > 0 && cpu_ratio <= 1.5 ? "met" : "NOT met",
          g.disk.ServerCpuUsPerEvent());
      // The receive path alone: the listener's threads and the group committer (what the no-op
      // server's work corresponds to), against everything the daemon spent until idle.
      auto receive = [](const std::string& name) {
        return name.rfind("ts-in-", 0) == 0 || name == "ts-commit";
      };
      auto writer = [](const std::string& name) { return name.rfind("ts-writer", 0) == 0; };
      const double receive_us = g.tmpfs.ThreadCpuUsPerEvent(receive);
      const double noop_settled_us = g.noop.SettledCpuUsPerEvent();
      std::printf(
          "  until idle (tmpfs db): daemon %.1f us/event = receive path (ts-in-*, ts-commit) "
          "%.1f + writer folding events (ts-writer*) %.1f + other %.1f; no-op %.1f; "
          "receive path / no-op = %.2f\n",
          g.tmpfs.SettledCpuUsPerEvent(), receive_us, g.tmpfs.ThreadCpuUsPerEvent(writer),
          g.tmpfs.SettledCpuUsPerEvent() - receive_us - g.tmpfs.ThreadCpuUsPerEvent(writer),
          noop_settled_us, noop_settled_us > 0 ? receive_us / noop_settled_us : 0);
    }
    if (!g.pairs.empty()) {
      // Until idle on both sides: the daemon's writer folding the pair's events is counted.
      std::vector<double> ratios, daemon_us, noop_us;
      std::string shown;
      for (const CpuPair& pair : g.pairs) {
        const double d = pair.daemon.SettledCpuUsPerEvent(), n = pair.noop.SettledCpuUsPerEvent();
        daemon_us.push_back(d);
        noop_us.push_back(n);
        ratios.push_back(n > 0 ? d / n : 0);
        char one[16];
        std::snprintf(one, sizeof one, " %.2f", ratios.back());
        shown += one;
      }
      const double pair_ratio = Median(ratios);
      std::printf(
          "  CPU per accepted event, interleaved (%zu pairs of %d s runs, no-op and tmpfs daemon "
          "back to back, order alternating, both until idle): daemon median %.1f us, no-op median "
          "%.1f us; ratio by pair:%s; interleaved ratio median %.2f [goal <= 1.5: %s]\n",
          g.pairs.size(), pair_seconds, Median(daemon_us), Median(noop_us), shown.c_str(),
          pair_ratio, pair_ratio > 0 && pair_ratio <= 1.5 ? "met" : "NOT met");
    }
    if (g.has_tmpfs) {
      // Every page a commit changes is written to the WAL and, at the next checkpoint, to the
      // database: what the kernel copies per event (docs/BENCHMARKS.md, session 33).
      std::printf(
          "  file bytes per event until idle (tmpfs db): written %.0f, read %.0f; disk db: "
          "written %.0f, read %.0f\n",
          g.tmpfs.WrittenBytesPerEvent(), g.tmpfs.ReadBytesPerEvent(),
          g.disk.WrittenBytesPerEvent(), g.disk.ReadBytesPerEvent());
    }
    std::vector<std::pair<const RunResult*, int64_t>> checks = {{&g.disk, g.stored_disk}};
    if (g.has_tmpfs) checks.push_back({&g.tmpfs, g.stored_tmpfs});
    for (auto& [r, stored] : checks) {
      const int64_t acknowledged = r->accepted + r->warmup_accepted;
      const bool ok = stored == acknowledged;
      all_stored = all_stored && ok;
      std::printf(
          "  durability check %s: %lld acknowledged 202 (%lld timed + %lld warm-up), %lld rows: "
          "%s\n",
          r->target.c_str(), static_cast<long long>(acknowledged),
          static_cast<long long>(r->accepted), static_cast<long long>(r->warmup_accepted),
          static_cast<long long>(stored), ok ? "OK" : "MISMATCH");
    }
    if (!g.pairs.empty()) {
      const bool ok = g.pairs_stored == g.pairs_acknowledged;
      all_stored = all_stored && ok;
      std::printf(
          "  durability check interleaved daemon-tmpfs runs: %lld acknowledged 202, %lld "
          "rows: %s\n",
          static_cast<long long>(g.pairs_acknowledged), static_cast<long long>(g.pairs_stored),
          ok ? "OK" : "MISMATCH");
    }
    char tmpfs_warmup[48] = "";
    if (g.has_tmpfs)
      std::snprintf(tmpfs_warmup, sizeof(tmpfs_warmup), ", tmpfs %.2f ms", g.tmpfs.warmup_max_ms);
    std::printf(
        "  connection warm-up (first request per connection, untimed): slowest no-op %.2f ms, disk "
        "%.2f ms%s\n",
        g.noop.warmup_max_ms, g.disk.warmup_max_ms, tmpfs_warmup);
    for (const RunResult* r : {&g.noop, &g.disk, &g.tmpfs}) {
      std::map<int, int> by_status;
      for (int status : r->warmup_errors) ++by_status[status];
      for (auto& [status, count] : by_status) {
        std::printf("  %s: %d warm-up request(s) answered %s\n", r->target.c_str(), count,
                    status == 0 ? "nothing (connection failed)" : std::to_string(status).c_str());
      }
    }
  }
  std::fflush(stdout);

  // Hostile load, against the disk daemon (its configuration: defaults plus --ingress-toml).
  if (slow_clients > 0) SlowlorisPhase(daemon, signing, slow_clients, attack_seconds, nonce);
  bool header_printed = false;
  for (int senders : keep_alive_counts) {
    if (senders <= 0) continue;
    if (!header_printed) {
      std::printf(
          "\nkeep-alive senders starting together (each up to 200 events in 2 s, from "
          "127.0.0.1):\n");
      header_printed = true;
    }
    KeepAlivePhase(daemon, signing, senders, nonce);
  }

  if (daemon.Stop(SIGTERM) != 0) std::printf("note: the daemon did not exit cleanly on SIGTERM\n");
  std::filesystem::remove_all(daemon.dir());
  if (tmpfs_daemon) {
    if (tmpfs_daemon->Stop(SIGTERM) != 0)
      std::printf("note: the tmpfs daemon did not exit cleanly on SIGTERM\n");
    std::filesystem::remove_all(tmpfs_daemon->dir());
  }
  return all_stored ? 0 : 1;
}
