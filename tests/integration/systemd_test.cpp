// systemd integration (issue 7, SPEC §8). There is no systemd PID 1 here, so the tests exercise
// what systemd would see:
//   - the sd_notify protocol, recorded on a fake NOTIFY_SOCKET (a unix datagram socket);
//   - SIGTERM drain while senders post (every 202 stored, every request answered or refused);
//   - SIGHUP reload of rotated secrets, and of an invalid file (kept running, logged);
//   - `tenantsync backup` under write load;
//   - the shipped files: `systemd-analyze verify`/`security`, sysusers, tmpfiles, example config.
#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/signature/signature.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace tenantsync::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string kOldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kNewSecret = "whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCBrZXkhIQ==";

std::string SourceDir() { return TENANTSYNC_SOURCE_DIR; }

// Nothing listens at the test's Auth0 address. With the default max_retries the writer spends
// ~25 s in one call's retries, which SIGTERM currently waits for (see
// SystemdDrain.SigtermDrainIsBoundedWhileAuth0IsUnreachable); the tests about ingress, reload and
// backup take the writer's retries out of the picture.
TestDaemonOptions FastAuth0Failure() {
  TestDaemonOptions o;
  o.extra_toml = "max_retries = 0\n";  // appended inside [auth0]
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string UserBody(int i) {
  return EventBody("user.upserted", {{"external_id", "emp-" + std::to_string(i)},
                                     {"email", "user" + std::to_string(i) + "@example.com"}});
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1))
    ++n;
  return n;
}

// Waits until `needle` occurs at least `n` times in the process output.
bool WaitForCount(Subprocess& p, const std::string& needle, size_t n,
                  std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Count(p.Output(), needle) >= n) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

uint64_t MonotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// ---------------------------------------------------------------------------------------------
// A fake systemd notification socket: records every datagram sd_notify sends.
class FakeNotifySocket {
 public:
  FakeNotifySocket() {
    dir_ = MakeTempDir("tenantsync-notify");
    path_ = dir_ + "/notify.sock";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    reader_ = std::thread([this] { Read(); });
  }
  ~FakeNotifySocket() {
    stop_ = true;
    reader_.join();
    if (fd_ >= 0) close(fd_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

  std::vector<std::string> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // Waits until a message containing `needle` has arrived at index >= `from`; returns its index.
  std::optional<size_t> WaitFor(const std::string& needle, size_t from = 0,
                                std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = Messages();
      for (size_t i = from; i < m.size(); ++i) {
        if (m[i].find(needle) != std::string::npos) return i;
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

 private:
  void Read() {
    char buf[4096];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      messages_.emplace_back(buf, static_cast<size_t>(n));
    }
  }

  std::string dir_, path_;
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> messages_;
  std::thread reader_;
};

// The config TestDaemon would write, for runs that need their own environment (NOTIFY_SOCKET).
struct NotifyDaemon {
  std::string dir = MakeTempDir("tenantsync-sd");
  std::string config = dir + "/tenantsync.toml";
  std::string db = dir + "/tenantsync.db";
  std::unique_ptr<Subprocess> proc;

  void WriteConfig(const std::vector<std::string>& secrets = {kOldSecret}) {
    WriteFile(dir + "/admin-token", "test-admin-token-0123456789abcdef\n");
    WriteFile(dir + "/auth0-client-secret", "sim-client-secret-0123456789\n");
    std::string s;
    for (auto& x : secrets) s += x + "\n";
    WriteFile(dir + "/hr-secret", s);
    WriteFile(
        config,
        "[storage]\npath = \"" + db +
            "\"\n\n"
            "[ingress]\nlisten = \"127.0.0.1:0\"\n\n"
            "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"admin-token\"\n\n"
            "[[sources]]\nname = \"hr\"\nscheme = \"standard-webhooks\"\nsecret_file = "
            "\"hr-secret\"\n\n"
            "[auth0]\ndomain = \"tenant.example.com\"\nbase_url = \"http://127.0.0.1:9\"\n"
            "client_id = \"tenantsync-test-client\"\nclient_secret_file = \"auth0-client-secret\"\n"
            "application_client_id = \"tenantsync-test-client\"\nmax_retries = 0\n");
  }
  void Start(std::map<std::string, std::string> env) {
    WriteConfig();
    proc = std::make_unique<Subprocess>(BuildPath("tenantsync"),
                                        std::vector<std::string>{"serve", "--config", config},
                                        std::move(env));
  }
  ~NotifyDaemon() {
    proc.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client that tells apart what TestHttpClient reports as "status 0":
// a refused connection (listener closed: fine during drain) from a request sent and never
// answered (reset or closed after sending: a lost answer).
enum class Outcome { kAnswered, kRefused, kNoAnswer, kTimeout };

struct RawResult {
  Outcome outcome = Outcome::kNoAnswer;
  int status = 0;
  std::string body;
  bool reused = false;  // sent on a kept-alive connection (not a fresh connect)
};

class RawClient {
 public:
  explicit RawClient(int port, int timeout_seconds = 15)
      : port_(port), timeout_seconds_(timeout_seconds) {}
  ~RawClient() { Close(); }

  bool connected() const { return fd_ >= 0; }
  // True when the server has closed our idle keep-alive connection (EOF or reset pending).
  bool PeerClosed() {
    if (fd_ < 0) return true;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    char c;
    return recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
  }

  RawResult Post(const std::string& path, const std::string& body, const HeaderList& headers) {
    RawResult r;
    if (fd_ >= 0 && PeerClosed()) Close();  // like any keep-alive client: reconnect
    r.reused = fd_ >= 0;
    if (fd_ < 0) {
      int err = Connect();
      if (err == ECONNREFUSED) {
        r.outcome = Outcome::kRefused;
        return r;
      }
      if (err != 0) {
        r.outcome = Outcome::kNoAnswer;
        return r;
      }
    }
    std::string req =
        "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < req.size()) {
      ssize_t n = send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        Close();
        return r;  // kNoAnswer
      }
      sent += static_cast<size_t>(n);
    }
    std::string in;
    size_t header_end = std::string::npos;
    size_t content_length = 0;
    bool close_after = false;
    while (true) {
      char buf[8192];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        Close();
        r.outcome = Outcome::kTimeout;
        return r;
      }
      if (n <= 0) {
        Close();
        return r;  // kNoAnswer: closed or reset after the request was sent
      }
      in.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = in.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        std::string head = in.substr(0, header_end);
        std::string lower = head;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.status = std::atoi(head.c_str() + head.find(' ') + 1);
        if (auto p = lower.find("\r\ncontent-length:"); p != std::string::npos) {
          content_length = std::strtoull(lower.c_str() + p + 17, nullptr, 10);
        }
        close_after = lower.find("\r\nconnection: close") != std::string::npos;
      }
      if (in.size() >= header_end + 4 + content_length) break;
    }
    r.body = in.substr(header_end + 4, content_length);
    r.outcome = Outcome::kAnswered;
    if (close_after) Close();
    return r;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int Connect() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{timeout_seconds_, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      int err = errno;
      Close();
      return err;
    }
    return 0;
  }

  int port_;
  int timeout_seconds_;
  int fd_ = -1;
};

HeaderList Signed(const SignatureOptions& signing, const std::string& id, const std::string& body) {
  HeaderList h;
  for (auto& kv : SignDelivery(signing, id, static_cast<int64_t>(std::time(nullptr)), body))
    h.push_back(kv);
  return h;
}

std::set<std::string> StoredEventIds(const std::string& db_path) {
  std::set<std::string> ids;
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT event_id FROM events WHERE source = 'hr'");
  while (q.executeStep()) ids.insert(q.getColumn(0).getString());
  return ids;
}

// =============================================================================================
// sd_notify protocol

TEST(SystemdNotify, ReadyStatusWatchdogThenStoppingOnSigterm) {
  FakeNotifySocket notify;
  ASSERT_TRUE(notify.ok());
  NotifyDaemon d;
  // WATCHDOG_PID is deliberately absent: the child's pid is only known after fork, and
  // sd_watchdog_enabled() (libsystemd 252) accepts a missing WATCHDOG_PID as "for us".
  d.Start({{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "400000"}});

  auto ready = notify.WaitFor("READY=1");
  ASSERT_TRUE(ready) << d.proc->Output();
  // Before READY=1 only the notice of the new database's migrations (the next test).
  EXPECT_LE(*ready, 1u) << "READY=1 must come right after the migrations";
  for (size_t i = 0; i < *ready; ++i)
    EXPECT_EQ(notify.Messages()[i].rfind("EXTEND_TIMEOUT_USEC=", 0), 0u) << notify.Messages()[i];
  // READY=1 means listeners are bound: the admin port answers at once.
  int admin_port = d.proc->WaitForPort("admin listening on", 1s);
  ASSERT_GT(admin_port, 0);
  EXPECT_EQ(TestHttpClient("127.0.0.1", admin_port).Get("/healthz").status, 200);
  int ingress_port = d.proc->WaitForPort("ingress listening on", 1s);
  ASSERT_GT(ingress_port, 0);

  // STATUS= a one-line summary, refreshed from the main loop, and the watchdog kept alive
  // (WatchdogSec=0.4s → a keep-alive at least every 0.2 s).
  auto first_watchdog = notify.WaitFor("WATCHDOG=1", *ready + 1, 3s);
  ASSERT_TRUE(first_watchdog) << "no WATCHDOG=1 with WATCHDOG_USEC set";
  auto start = std::chrono::steady_clock::now();
  auto third = notify.WaitFor("WATCHDOG=1", *first_watchdog + 1, 2s);
  ASSERT_TRUE(third);
  third = notify.WaitFor("WATCHDOG=1", *third + 1, 2s);
  ASSERT_TRUE(third);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms)
      << "watchdog keep-alives too far apart";

  // STATUS= is refreshed by the main loop after work arrives, and stays one line.
  RawClient client(ingress_port);
  auto signing = SignatureOptions{};
  signing.scheme = *ParseSignatureScheme("standard-webhooks");
  signing.secrets = {kOldSecret};
  size_t before_post = notify.Messages().size();
  auto r = client.Post("/webhooks/hr", UserBody(1), Signed(signing, "msg_status_1", UserBody(1)));
  ASSERT_EQ(r.status, 202) << r.body;
  client.Close();
  auto status = notify.WaitFor("STATUS=", before_post, 3s);
  ASSERT_TRUE(status);
  for (auto& msg : notify.Messages()) {
    if (msg.rfind("STATUS=", 0) == 0) {
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_GT(msg.size(), 7u);
    }
  }

  size_t before_stop = notify.Messages().size();
  d.proc->Signal(SIGTERM);
  auto code = d.proc->Wait(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << d.proc->Output();
  auto stopping = notify.WaitFor("STOPPING=1", before_stop, 2s);
  ASSERT_TRUE(stopping);

  // The exact sequence: READY=1 (with STATUS=) first, then only STATUS=/WATCHDOG=1 until
  // STOPPING=1, which is the last message.
  auto m = notify.Messages();
  EXPECT_NE(m[*ready].find("STATUS="), std::string::npos) << m[*ready];
  for (size_t i = *ready + 1; i < *stopping; ++i) {
    EXPECT_TRUE(m[i].rfind("STATUS=", 0) == 0 || m[i] == "WATCHDOG=1")
        << "message " << i << ": " << m[i];
    EXPECT_EQ(m[i].find("READY=1"), std::string::npos) << "READY=1 sent twice without a reload";
  }
  EXPECT_EQ(*stopping, m.size() - 1) << "notifications after STOPPING=1: " << m.back();
  EXPECT_NE(std::find(m.begin(), m.end(), "WATCHDOG=1"), m.end());
}

// Migrations run before READY=1 and one can outlast TimeoutStartSec on a large database: the
// daemon asks systemd for more time (EXTEND_TIMEOUT_USEC, daemon/migration_notice.h) as they
// start and while they progress. A start with nothing to migrate says nothing of the kind.
TEST(SystemdNotify, MigrationsAtStartExtendTheStartTimeoutAndNothingToMigrateSaysNothing) {
  FakeNotifySocket notify;
  ASSERT_TRUE(notify.ok());
  NotifyDaemon d;
  d.Start({{"NOTIFY_SOCKET", notify.path()}});
  auto ready = notify.WaitFor("READY=1");
  ASSERT_TRUE(ready) << d.proc->Output();
  auto m = notify.Messages();
  ASSERT_GE(*ready, 1u) << "no notice before READY=1 while a new database was migrated";
  EXPECT_EQ(m[0],
            "EXTEND_TIMEOUT_USEC=60000000\n"
            "STATUS=migrating the database: 0001_inbox (running 0 s)");
  d.proc->Signal(SIGTERM);
  ASSERT_TRUE(d.proc->Wait(10s));

  FakeNotifySocket again;
  ASSERT_TRUE(again.ok());
  d.Start({{"NOTIFY_SOCKET", again.path()}});
  auto ready_again = again.WaitFor("READY=1");
  ASSERT_TRUE(ready_again) << d.proc->Output();
  EXPECT_EQ(*ready_again, 0u) << again.Messages()[0];
  for (auto& msg : again.Messages())
    EXPECT_EQ(msg.find("EXTEND_TIMEOUT_USEC"), std::string::npos) << msg;
}

TEST(SystemdNotify, WatchdogPidForAnotherProcessDisablesWatchdog) {
  FakeNotifySocket notify;
  ASSERT_TRUE(notify.ok());
  NotifyDaemon d;
  d.Start({{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "200000"}, {"WATCHDOG_PID", "1"}});
  ASSERT_TRUE(notify.WaitFor("READY=1"));
  std::this_thread::sleep_for(700ms);
  for (auto& msg : notify.Messages()) EXPECT_EQ(msg.find("WATCHDOG=1"), std::string::npos) << msg;
}

TEST(SystemdNotify, SighupSendsReloadingWithMonotonicUsecThenReady) {
  FakeNotifySocket notify;
  ASSERT_TRUE(notify.ok());
  NotifyDaemon d;
  d.Start({{"NOTIFY_SOCKET", notify.path()}});
  auto ready = notify.WaitFor("READY=1");
  ASSERT_TRUE(ready) << d.proc->Output();

  uint64_t before = MonotonicUsec();
  d.proc->Signal(SIGHUP);
  auto reloading = notify.WaitFor("RELOADING=1", *ready + 1);
  ASSERT_TRUE(reloading) << d.proc->Output();
  uint64_t after = MonotonicUsec();
  auto m = notify.Messages();
  std::smatch match;
  ASSERT_TRUE(
      std::regex_search(m[*reloading], match, std::regex("(^|\n)MONOTONIC_USEC=([0-9]+)(\n|$)")))
      << m[*reloading];
  uint64_t usec = std::stoull(match[2].str());
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, after);
  auto ready_again = notify.WaitFor("READY=1", *reloading + 1);
  ASSERT_TRUE(ready_again);
  ASSERT_TRUE(d.proc->WaitForLine("configuration reloaded"));

  // An invalid file: still RELOADING=1 → READY=1 (systemd must leave the reloading state),
  // the running configuration stays, and the journal says why.
  WriteFile(d.config, ReadFile(d.config) + "\n[policy]\nguard_max_destructiv = 3\n");
  d.proc->Signal(SIGHUP);
  auto reloading2 = notify.WaitFor("RELOADING=1", *ready_again + 1);
  ASSERT_TRUE(reloading2);
  ASSERT_TRUE(notify.WaitFor("READY=1", *reloading2 + 1));
  ASSERT_TRUE(d.proc->WaitForLine("reload refused"));
  EXPECT_NE(d.proc->Output().find("guard_max_destructiv"), std::string::npos) << d.proc->Output();
  EXPECT_TRUE(d.proc->Running());

  d.proc->Signal(SIGTERM);
  auto code = d.proc->Wait(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

// =============================================================================================
// SIGTERM drain

TEST(SystemdDrain, SigtermWhileSendersPostLosesNothingAndAnswersEveryRequest) {
  TestDaemon d(FastAuth0Failure());
  ASSERT_TRUE(d.Start()) << d.Output();
  const int port = d.ingress_port();
  const SignatureOptions signing = d.Signing("hr");

  constexpr int kSenders = 8;
  std::atomic<int> posted{0};
  std::mutex mu;
  std::vector<std::string> acked, problems;
  std::map<int, int> answers;  // status → count
  int refused = 0;
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      RawClient client(port);  // keep-alive, like a real sender
      for (int i = 0;; ++i) {
        std::string id = "msg_drain_" + std::to_string(t) + "_" + std::to_string(i);
        std::string body = UserBody(t * 100000 + i);
        auto r = client.Post("/webhooks/hr", body, Signed(signing, id, body));
        ++posted;
        std::lock_guard<std::mutex> lock(mu);
        if (r.outcome == Outcome::kAnswered) {
          ++answers[r.status];
          if (r.status == 202) acked.push_back(id);
          if (r.status == 202) continue;
          if (r.status != 503)
            problems.push_back(id + ": unexpected status " + std::to_string(r.status) + " " +
                               r.body);
          return;  // 503: a real sender comes back after Retry-After
        }
        if (r.outcome == Outcome::kRefused) {
          ++refused;
          return;
        }
        problems.push_back(id +
                           (r.outcome == Outcome::kTimeout
                                ? ": no answer within 15 s (hang)"
                                : ": sent but never answered (closed/reset)") +
                           (r.reused ? " on a kept-alive connection" : " on a fresh connection"));
        return;
      }
    });
  }
  while (posted < 200) std::this_thread::sleep_for(5ms);
  d.process()->Signal(SIGTERM);
  for (auto& s : senders) s.join();
  auto code = d.process()->Wait(20s);
  ASSERT_TRUE(code) << "did not exit after SIGTERM";
  EXPECT_EQ(*code, 0) << d.Output();

  std::string summary = "202=" + std::to_string(answers[202]) +
                        " 503=" + std::to_string(answers[503]) +
                        " refused=" + std::to_string(refused);
  std::printf("drain: %s\n", summary.c_str());
  EXPECT_TRUE(problems.empty()) << summary << "\n"
                                << [&] {
                                     std::string s;
                                     for (auto& p : problems) s += p + "\n";
                                     return s;
                                   }();
  auto stored = StoredEventIds(d.db_path());
  for (auto& id : acked) EXPECT_TRUE(stored.count(id)) << "acknowledged but not stored: " << id;
  EXPECT_GT(acked.size(), 0u);
  // After the drain the listener is gone: a new sender is refused at once rather than hanging.
  RawClient late(port, 3);
  EXPECT_EQ(late.Post("/webhooks/hr", "{}", {}).outcome, Outcome::kRefused);
  d.Stop(SIGTERM);
}

// A sender holding an idle keep-alive connection when the drain begins, then delivering on it:
// the server must either answer (503 + Retry-After, Connection: close) or have closed the
// connection first (the client then reconnects and is refused). A request written on a
// connection the server silently abandons is an unanswered delivery.
TEST(SystemdDrain, IdleKeepAliveConnectionIsAnsweredOrClosedDuringDrain) {
  TestDaemon d(FastAuth0Failure());
  ASSERT_TRUE(d.Start()) << d.Output();
  const SignatureOptions signing = d.Signing("hr");
  RawClient client(d.ingress_port());
  auto first = client.Post("/webhooks/hr", UserBody(1), Signed(signing, "msg_idle_1", UserBody(1)));
  ASSERT_EQ(first.status, 202) << first.body;
  ASSERT_TRUE(client.connected()) << "the server closed a keep-alive connection after a 202";

  d.process()->Signal(SIGTERM);
  ASSERT_TRUE(d.process()->WaitForLine("stopping: draining", 5s));
  std::this_thread::sleep_for(300ms);
  auto second =
      client.Post("/webhooks/hr", UserBody(2), Signed(signing, "msg_idle_2", UserBody(2)));
  std::printf("idle keep-alive delivery during drain: outcome %d status %d\n",
              static_cast<int>(second.outcome), second.status);
  if (second.outcome == Outcome::kAnswered) {
    EXPECT_EQ(second.status, 503) << second.body;
  } else {
    EXPECT_EQ(second.outcome, Outcome::kRefused)
        << "a delivery on a kept-alive connection during the drain was never answered (outcome "
        << static_cast<int>(second.outcome) << ")";
  }
  auto code = d.process()->Wait(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  d.Stop(SIGTERM);
}

// SIGTERM must finish well within TimeoutStopSec=60 even when Auth0 is down and a mutation is
// in its retries: the drain stops taking work and leaves the mutation for the next start.
TEST(SystemdDrain, SigtermDrainIsBoundedWhileAuth0IsUnreachable) {
  TestDaemon d;  // default [auth0] max_retries
  ASSERT_TRUE(d.Start()) << d.Output();
  ASSERT_EQ(d.PostEvent("hr", "msg_bounded_1", UserBody(1)).status, 202);
  std::this_thread::sleep_for(500ms);  // the writer is now inside its retries
  auto start = std::chrono::steady_clock::now();
  auto code = d.Stop(SIGTERM);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(code) << "no exit within 20 s of SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(took, 10s) << "SIGTERM drain took " << took.count() << " ms with Auth0 unreachable";
  // The acknowledged event is still there for the next start.
  EXPECT_TRUE(StoredEventIds(d.db_path()).count("msg_bounded_1"));
}

// =============================================================================================
// SIGHUP reload

TEST(SystemdReload, SecretRotationWithoutRestart) {
  TestDaemon d(FastAuth0Failure());
  ASSERT_TRUE(d.Start()) << d.Output();
  const pid_t pid = d.process()->pid();
  SignatureOptions old_only = d.Signing("hr"), new_only = d.Signing("hr");
  old_only.secrets = {kOldSecret};
  new_only.secrets = {kNewSecret};
  RawClient client(d.ingress_port());
  auto post = [&](const SignatureOptions& s, const std::string& id, int i) {
    client.Close();  // fresh connection per delivery keeps the test independent of keep-alive
    return client.Post("/webhooks/hr", UserBody(i), Signed(s, id, UserBody(i)));
  };

  EXPECT_EQ(post(new_only, "msg_rot_0", 0).status, 401)
      << "new secret accepted before the rotation";

  // Step 1: both secrets, reload.
  d.RewriteSecrets("hr", {kOldSecret, kNewSecret});
  d.process()->Signal(SIGHUP);
  ASSERT_TRUE(WaitForCount(*d.process(), "configuration reloaded", 1)) << d.Output();
  EXPECT_EQ(post(new_only, "msg_rot_1", 1).status, 202);
  EXPECT_EQ(post(old_only, "msg_rot_2", 2).status, 202);

  // Step 2: the old secret removed, reload: the old one is refused.
  d.RewriteSecrets("hr", {kNewSecret});
  d.process()->Signal(SIGHUP);
  ASSERT_TRUE(WaitForCount(*d.process(), "configuration reloaded", 2)) << d.Output();
  EXPECT_EQ(post(old_only, "msg_rot_3", 3).status, 401);
  EXPECT_EQ(post(new_only, "msg_rot_4", 4).status, 202);

  // An invalid file on SIGHUP: refused with the reason, the running configuration stays.
  std::string good = ReadFile(d.config_path());
  WriteFile(d.config_path(), good + "\n[policy]\nguard_max_destructiv = 3\n");
  d.process()->Signal(SIGHUP);
  ASSERT_TRUE(d.process()->WaitForLine("reload refused")) << d.Output();
  auto line = d.process()->WaitForLine("guard_max_destructiv");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("unknown key"), std::string::npos) << *line;
  EXPECT_EQ(post(new_only, "msg_rot_5", 5).status, 202);
  EXPECT_EQ(post(old_only, "msg_rot_6", 6).status, 401);
  // A secret file that cannot be read: refused too, never with the secret in the message.
  WriteFile(d.config_path(), good);
  fs::remove(d.dir() + "/hr-secret");
  d.process()->Signal(SIGHUP);
  ASSERT_TRUE(WaitForCount(*d.process(), "reload refused", 2)) << d.Output();
  EXPECT_EQ(post(new_only, "msg_rot_7", 7).status, 202);

  EXPECT_TRUE(d.process()->Running());
  EXPECT_EQ(d.process()->pid(), pid);
  client.Close();  // an idle keep-alive connection would hold the drain for keep_alive_seconds
  EXPECT_EQ(d.Output().find(kNewSecret), std::string::npos) << "secret in the log";
  EXPECT_EQ(d.Output().find(kOldSecret), std::string::npos) << "secret in the log";
  auto code = d.Stop(SIGTERM);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

// The Auth0 client secret rotates with SIGHUP too: the next token request uses the new secret
// (here the simulator only knows the new one, so a token is held only once the reload is done).
// An unreadable secret file refuses the reload and keeps the running secret; no secret is ever
// logged.
TEST(SystemdReload, Auth0ClientSecretRotationWithoutRestart) {
  const std::string client_id = "sighup-test-client-0123456789";
  const std::string old_secret = "auth0-old-client-secret-aaaa1111";
  const std::string new_secret = "auth0-new-client-secret-bbbb2222";
  Subprocess sim(BuildPath("auth0-sim"),
                 {"--port", "0", "--domain", "tenant.example.com", "--client-id", client_id,
                  "--client-secret", new_secret, "--seed", "7"});
  const int sim_port = sim.WaitForPort("listening on");
  ASSERT_GT(sim_port, 0) << sim.Output();
  TestDaemonOptions o;
  o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
  o.auth0_client_id = o.application_client_id = client_id;
  o.auth0_client_secret = old_secret;
  o.extra_toml = "max_retries = 0\n";  // appended inside [auth0]
  TestDaemon d(o);
  ASSERT_TRUE(d.Start()) << d.Output();
  const pid_t pid = d.process()->pid();
  auto auth0_token = [&] { return d.AdminGet("/readyz").Json().value("auth0_token", false); };

  // The old secret is refused by Auth0: no token, whatever the daemon retries.
  ASSERT_TRUE(d.process()->WaitForLine("auth0 token")) << d.Output();
  EXPECT_FALSE(auth0_token());

  WriteFile(d.dir() + "/auth0-client-secret", new_secret + "\n");
  d.process()->Signal(SIGHUP);
  ASSERT_TRUE(WaitForCount(*d.process(), "configuration reloaded", 1)) << d.Output();
  EXPECT_NE(d.Output().find("auth0: client secret reloaded"), std::string::npos) << d.Output();
  EXPECT_TRUE(WaitFor([&] { return auth0_token(); }, 10s)) << d.Output();
  // ... and it is used for real work: an event reaches Auth0.
  ASSERT_EQ(d.PostEvent("hr", "msg_after_rotation", UserBody(1)).status, 202);
  EXPECT_TRUE(WaitFor(
      [&] { return d.AdminGet("/v1/status").Json()["mutations"].value("done", 0) >= 1; }, 15s))
      << d.AdminGet("/v1/mutations").body;

  // An unreadable secret file: the reload is refused, the running secret stays in use.
  fs::remove(d.dir() + "/auth0-client-secret");
  d.process()->Signal(SIGHUP);
  ASSERT_TRUE(WaitForCount(*d.process(), "reload refused", 1)) << d.Output();
  EXPECT_NE(d.Output().find("auth0-client-secret"), std::string::npos)
      << "the error names the file";
  EXPECT_TRUE(auth0_token());
  ASSERT_EQ(d.PostEvent("hr", "msg_after_refusal", UserBody(2)).status, 202);
  EXPECT_TRUE(WaitFor(
      [&] { return d.AdminGet("/v1/status").Json()["mutations"].value("done", 0) >= 2; }, 15s))
      << d.AdminGet("/v1/mutations").body;

  EXPECT_EQ(d.process()->pid(), pid);
  EXPECT_EQ(d.Output().find(old_secret), std::string::npos) << "secret in the log";
  EXPECT_EQ(d.Output().find(new_secret), std::string::npos) << "secret in the log";
  auto code = d.Stop(SIGTERM);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

// =============================================================================================
// Online backup under write load

TEST(SystemdBackup, BackupUnderWriteLoadHoldsEveryEarlierAcknowledgedEvent) {
  TestDaemon d(FastAuth0Failure());
  ASSERT_TRUE(d.Start()) << d.Output();
  const SignatureOptions signing = d.Signing("hr");
  const int port = d.ingress_port();
  std::mutex mu;
  std::vector<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    RawClient client(port);
    for (int i = 0; !stop; ++i) {
      std::string id = "msg_backup_" + std::to_string(i);
      auto r = client.Post("/webhooks/hr", UserBody(i), Signed(signing, id, UserBody(i)));
      if (r.status == 202) {
        std::lock_guard<std::mutex> lock(mu);
        acked.push_back(id);
      } else if (r.status != 503) {
        ++failures;
      }
    }
  });
  auto acked_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acked.size();
  };
  while (acked_count() < 100) std::this_thread::sleep_for(5ms);

  std::vector<std::string> before;
  {
    std::lock_guard<std::mutex> lock(mu);
    before = acked;
  }
  const std::string backup = d.dir() + "/backup.db";
  Subprocess proc(BuildPath("tenantsync"), {"backup", "--config", d.config_path(), "--to", backup});
  auto code = proc.Wait(30s);
  size_t during = acked_count() - before.size();
  stop = true;
  writer.join();
  ASSERT_TRUE(code);
  ASSERT_EQ(*code, 0) << proc.Output();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(during, 0u) << "the writer made no progress while the backup ran";

  SQLite::Database db(backup, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  auto in_backup = StoredEventIds(backup);
  for (auto& id : before)
    EXPECT_TRUE(in_backup.count(id)) << "acknowledged before the backup, missing: " << id;

  // The live database keeps serving after the backup.
  EXPECT_EQ(d.PostEvent("hr", "msg_after_backup", UserBody(999999)).status, 202);
  // And a backup never overwrites an existing file.
  Subprocess again(BuildPath("tenantsync"),
                   {"backup", "--config", d.config_path(), "--to", backup});
  auto again_code = again.Wait(10s);
  ASSERT_TRUE(again_code);
  EXPECT_NE(*again_code, 0);
  auto stop_code = d.Stop(SIGTERM);
  ASSERT_TRUE(stop_code);
  EXPECT_EQ(*stop_code, 0);
}

// =============================================================================================
// The shipped files

std::optional<std::string> FindSystemdAnalyze() {
  for (const char* p : {"/usr/bin/systemd-analyze", "/bin/systemd-analyze"}) {
    if (access(p, X_OK) == 0) return std::string(p);
  }
  return std::nullopt;
}

// The unit template rendered for `bindir`.
std::string RenderUnit(const std::string& bindir) {
  std::string unit = ReadFile(SourceDir() + "/systemd/tenantsync.service.in");
  unit = std::regex_replace(unit, std::regex("@CMAKE_INSTALL_FULL_BINDIR@"), bindir);
  unit = std::regex_replace(unit, std::regex("@CMAKE_INSTALL_FULL_DOCDIR@"),
                            "/usr/share/doc/tenantsync");
  return unit;
}

TEST(SystemdUnit, CheckedInUnitIsTheTemplateRenderedForUsr) {
  std::string tmpl = ReadFile(SourceDir() + "/systemd/tenantsync.service.in");
  ASSERT_FALSE(tmpl.empty());
  EXPECT_EQ(ReadFile(SourceDir() + "/systemd/tenantsync.service"), RenderUnit("/usr/bin"))
      << "systemd/tenantsync.service is out of date: render tenantsync.service.in for /usr";
}

TEST(SystemdUnit, VerifyIsClean) {
  auto analyze = FindSystemdAnalyze();
  if (!analyze) GTEST_SKIP() << "systemd-analyze not installed (Debian package: systemd)";
  std::string dir = MakeTempDir("tenantsync-unit");
  // verify needs ExecStart's binary to exist: point it at the built one.
  std::string bindir = fs::path(BuildPath("tenantsync")).parent_path().string();
  WriteFile(dir + "/tenantsync.service", RenderUnit(bindir));
  Subprocess verify(*analyze, {"verify", dir + "/tenantsync.service"},
                    {{"SYSTEMD_LOG_COLOR", "0"}});
  auto code = verify.Wait(30s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << verify.Output();
  EXPECT_EQ(verify.Output(), "") << "systemd-analyze verify printed warnings";
  fs::remove_all(dir);
}

TEST(SystemdUnit, SecurityExposureAtMost1Point5) {
  auto analyze = FindSystemdAnalyze();
  if (!analyze) GTEST_SKIP() << "systemd-analyze not installed (Debian package: systemd)";
  Subprocess security(
      *analyze,
      {"security", "--offline=true", "--no-pager", SourceDir() + "/systemd/tenantsync.service"},
      {{"SYSTEMD_COLORS", "0"}, {"SYSTEMD_LOG_COLOR", "0"}});
  auto code = security.Wait(30s);
  ASSERT_TRUE(code);
  std::smatch m;
  std::string out = security.Output();
  ASSERT_TRUE(std::regex_search(
      out, m, std::regex("Overall exposure level for tenantsync\\.service: ([0-9]+\\.[0-9]+)")))
      << out;
  double score = std::stod(m[1].str());
  std::printf("systemd-analyze security: %s\n", m[0].str().c_str());
  EXPECT_LE(score, 1.5) << out;
}

TEST(SystemdUnit, EveryRelativeSecretInTheExampleConfigHasALoadCredentialLine) {
  std::string unit = ReadFile(SourceDir() + "/systemd/tenantsync.service.in");
  std::string toml = ReadFile(SourceDir() + "/systemd/tenantsync.toml");
  std::regex file_key("^#? ?[a-z_]*_file = \"([^\"/]+)\"", std::regex::multiline);
  std::set<std::string> names;
  for (std::sregex_iterator it(toml.begin(), toml.end(), file_key), end; it != end; ++it)
    names.insert((*it)[1]);
  EXPECT_TRUE(names.count("admin-token") && names.count("auth0-client-secret") &&
              names.count("hr-secret"));
  for (auto& name : names) {
    bool commented = toml.find("# secret_file = \"" + name + "\"") != std::string::npos ||
                     toml.find("# tls_key_file = \"" + name + "\"") != std::string::npos;
    bool in_unit = unit.find("\nLoadCredential=" + name + ":/etc/tenantsync/" + name + "\n") !=
                   std::string::npos;
    if (commented) {
      EXPECT_NE(toml.find("LoadCredential=" + name + ":"), std::string::npos)
          << name << ": say which line to add";
    } else {
      EXPECT_TRUE(in_unit) << "no LoadCredential= line for " << name;
    }
  }
}

// The example config is valid for `tenantsync migrate` once its credentials exist — with the
// commented example sources enabled too.
TEST(SystemdUnit, ExampleConfigLoadsWithCredentials) {
  std::string dir = MakeTempDir("tenantsync-example");
  std::string creds = dir + "/credentials";
  fs::create_directories(creds);
  WriteFile(creds + "/admin-token", "example-admin-token-0123456789\n");
  WriteFile(creds + "/auth0-client-secret", "example-client-secret\n");
  WriteFile(creds + "/hr-secret", kOldSecret + "\n");
  WriteFile(creds + "/workday-secret", "It's a Secret to Everybody\n");
  WriteFile(creds + "/crm-secret", "whsec_stripe_style_secret\n");
  std::string toml = ReadFile(SourceDir() + "/systemd/tenantsync.toml");
  ASSERT_NE(toml.find("path = \"/var/lib/tenantsync/tenantsync.db\""), std::string::npos);
  ASSERT_NE(toml.find("listen = \"unix:/run/tenantsync/admin.sock\""), std::string::npos);
  toml = std::regex_replace(toml, std::regex("/var/lib/tenantsync/"), dir + "/");

  auto migrate = [&](const std::string& text, const std::string& name) {
    WriteFile(dir + "/" + name, text);
    Subprocess p(BuildPath("tenantsync"), {"migrate", "--config", dir + "/" + name},
                 {{"CREDENTIALS_DIRECTORY", creds}});
    auto code = p.Wait(20s);
    return std::make_pair(code.value_or(-1), p.Output());
  };
  auto [code, out] = migrate(toml, "tenantsync.toml");
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(fs::exists(dir + "/tenantsync.db"));
  // Each migration is named as it starts (an operator upgrading a large database sees what runs).
  EXPECT_NE(out.find("applying 0001_inbox\n"), std::string::npos) << out;
  EXPECT_NE(out.find("applying 0017_managed_users_counted\n"), std::string::npos) << out;
  EXPECT_NE(out.find("schema version 0 -> "), std::string::npos) << out;

  // Uncomment the example [[sources]] (lines "# key = ..." and "# [[sources]]").
  std::string all = std::regex_replace(
      toml, std::regex("^# (\\[\\[sources\\]\\]|[a-z_]+ = )", std::regex::multiline), "$1");
  // ...but not the TLS lines (they need real certificate files).
  all = std::regex_replace(all, std::regex("^(tls_[a-z_]+ = )", std::regex::multiline), "# $1");
  ASSERT_EQ(Count(all, "\n[[sources]]"), 3u) << all;
  auto [code2, out2] = migrate(all, "all-sources.toml");
  EXPECT_EQ(code2, 0) << out2;

  // Without the credentials directory the error names the missing secret file.
  Subprocess p(BuildPath("tenantsync"), {"migrate", "--config", dir + "/tenantsync.toml"},
               {{"CREDENTIALS_DIRECTORY", dir + "/nope"}});
  auto code3 = p.Wait(20s);
  ASSERT_TRUE(code3);
  EXPECT_NE(*code3, 0);
  EXPECT_NE(p.Output().find("admin-token"), std::string::npos) << p.Output();
  fs::remove_all(dir);
}

TEST(SystemdUnit, SysusersAndTmpfilesCreateUserAndDirectories) {
  if (access("/usr/bin/systemd-sysusers", X_OK) != 0 ||
      access("/usr/bin/systemd-tmpfiles", X_OK) != 0) {
    GTEST_SKIP() << "systemd-sysusers/systemd-tmpfiles not installed (Debian package: systemd)";
  }
  std::string root = MakeTempDir("tenantsync-root");
  fs::create_directories(root + "/etc");
  Subprocess users("/usr/bin/systemd-sysusers",
                   {"--root=" + root, SourceDir() + "/systemd/tenantsync.sysusers"});
  auto code = users.Wait(20s);
  ASSERT_TRUE(code);
  ASSERT_EQ(*code, 0) << users.Output();
  std::string passwd = ReadFile(root + "/etc/passwd");
  EXPECT_NE(passwd.find("tenantsync:x:"), std::string::npos) << passwd;
  EXPECT_NE(passwd.find(":tenantsync daemon:/var/lib/tenantsync:"), std::string::npos) << passwd;
  EXPECT_NE(ReadFile(root + "/etc/group").find("tenantsync:x:"), std::string::npos);

  if (geteuid() != 0) GTEST_SKIP() << "tmpfiles --create needs root to chown";
  fs::create_directories(root + "/etc/tenantsync");
  WriteFile(root + "/etc/tenantsync/tenantsync.toml", "# as installed: root:root\n");
  Subprocess tmpfiles("/usr/bin/systemd-tmpfiles",
                      {"--root=" + root, "--create", SourceDir() + "/systemd/tenantsync.tmpfiles"});
  code = tmpfiles.Wait(20s);
  ASSERT_TRUE(code);
  ASSERT_EQ(*code, 0) << tmpfiles.Output();
  struct stat st {};
  ASSERT_EQ(stat((root + "/var/lib/tenantsync").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_NE(st.st_uid, 0u);
  ASSERT_EQ(stat((root + "/etc/tenantsync").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_NE(st.st_gid, 0u);
  ASSERT_EQ(stat((root + "/etc/tenantsync/tenantsync.toml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_NE(st.st_gid, 0u) << "the service group must be able to read the config";
  fs::remove_all(root);
}

}  // namespace
}  // namespace tenantsync::testing
