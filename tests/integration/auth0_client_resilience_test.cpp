// Auth0Client against auth0-sim under faults: forced 429s, 5xx and timeouts, token expiry, and
// checkpoint pagination over 2,500 organizations and 2,500 members (with their roles).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <set>
#include <thread>

#include "adapters/auth0/auth0_client.h"
#include "tests/integration/sim_control.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

using namespace std::chrono_literals;
using testing::BuildPath;
using testing::Subprocess;

constexpr char kDomain[] = "tenant.test.local";
constexpr char kClientId[] = "m2m-client-id";
constexpr char kSecret[] = "sim-client-secret-value";

// Records when each request left and each answer arrived (wall clock), with the answer.
class TimingTransport final : public HttpTransport {
 public:
  explicit TimingTransport(std::unique_ptr<HttpTransport> inner) : inner_(std::move(inner)) {}
  struct Exchange {
    std::string target;
    Clock::WallTime sent;
    Clock::WallTime answered;
    HttpResponse response;
  };
  HttpResponse Send(const HttpRequest& req) override {
    auto sent = std::chrono::system_clock::now();
    HttpResponse resp = inner_->Send(req);
    auto answered = std::chrono::system_clock::now();
    std::lock_guard<std::mutex> l(mu_);
    log_.push_back({req.target, sent, answered, resp});
    return resp;
  }
  std::vector<Exchange> Log() {
    std::lock_guard<std::mutex> l(mu_);
    return log_;
  }

 private:
  std::unique_ptr<HttpTransport> inner_;
  std::mutex mu_;
  std::vector<Exchange> log_;
};

class CountingObserver final : public Auth0Observer {
 public:
  void OnRequest(std::string_view, int status, double) override {
    std::lock_guard<std::mutex> l(mu_);
    ++by_status_[status];
  }
  int Count(int status) {
    std::lock_guard<std::mutex> l(mu_);
    return by_status_[status];
  }

 private:
  std::mutex mu_;
  std::map<int, int> by_status_;
};

class ResilienceTest : public ::testing::Test {
 protected:
  void StartSim(std::vector<std::string> extra) {
    std::string sim = BuildPath("auth0-sim");
    struct stat st {};
    if (stat(sim.c_str(), &st) != 0) GTEST_SKIP() << "auth0-sim not built at " << sim;
    std::vector<std::string> args{"--port",      "0",       "--domain",        kDomain,
                                  "--client-id", kClientId, "--client-secret", kSecret,
                                  "--seed",      "11"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Subprocess>(sim, args);
    int port = process_->WaitForPort();
    ASSERT_GT(port, 0) << process_->Output();
    options_.domain = kDomain;
    options_.base_url = "http://127.0.0.1:" + std::to_string(port);
    options_.client_id = kClientId;
    options_.client_secret = kSecret;
    options_.application_client_id = kClientId;
    options_.max_in_flight = 4;
    options_.backoff_base = 20ms;
    options_.backoff_cap = 200ms;
    options_.read_timeout = 400ms;
    options_.connect_timeout = 400ms;
    // Control calls (seeding thousands of records) need more than the client's short timeouts.
    Auth0Options control = options_;
    control.read_timeout = 30s;
    control_ = NewHttplibTransport(control).value();
  }

  void MakeClient() {
    auto timing = std::make_unique<TimingTransport>(NewHttplibTransport(options_).value());
    timing_ = timing.get();
    client_ = std::make_unique<Auth0Client>(options_, std::move(timing), SystemClock(), random_,
                                            &observer_);
  }

  Json Control(const std::string& method, const std::string& path, const Json& body = nullptr) {
    return testing::SimControl(*control_, method, path, body);
  }

  // Runs `calls` independent calls on `threads` threads; returns the failures' messages.
  std::vector<std::string> RunCalls(int calls, int threads,
                                    const std::function<Status(int)>& call) {
    std::atomic<int> next{0};
    std::mutex mu;
    std::vector<std::string> failures;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int i = next++; i < calls; i = next++) {
          Status s = call(i);
          if (!s.ok()) {
            std::lock_guard<std::mutex> l(mu);
            failures.push_back(s.ToString());
          }
        }
      });
    }
    for (auto& t : pool) t.join();
    return failures;
  }

  std::vector<std::string> SeedUsers(int n) {
    Json seeded = Control("POST", "/__sim/seed",
                          Json{{"organizations", 0}, {"users", n}, {"members_per_org", 0}});
    std::vector<std::string> ids;
    if (seeded.contains("user_ids")) {
      for (auto& id : seeded["user_ids"]) ids.push_back(id);
    }
    return ids;
  }

  Auth0Options options_;
  SeededRandom random_{5};
  CountingObserver observer_;
  std::unique_ptr<Subprocess> process_;
  std::unique_ptr<HttpTransport> control_;
  TimingTransport* timing_ = nullptr;
  std::unique_ptr<Auth0Client> client_;
};

TEST_F(ResilienceTest, ForcedRateLimitsAreWaitedOutUntilTheReset) {
  // A configured bucket (generous, so only forced 429s happen) makes every 429 carry a reset
  // about a second ahead, as real Auth0 does.
  StartSim({"--force-429-rate", "0.25", "--rate", "1000", "--burst", "1000"});
  MakeClient();
  auto users = SeedUsers(20);
  ASSERT_EQ(users.size(), 20u);
  auto failures = RunCalls(40, 4, [&](int i) {
    auto r = client_->PatchUser(users[i % users.size()], Json{{"user_metadata", {{"n", i}}}});
    return r.ok() ? Status::Ok() : r.status();
  });
  EXPECT_TRUE(failures.empty()) << failures.front();
  auto log = timing_->Log();
  int throttled = 0, verified = 0;
  for (const auto& x : log) {
    if (x.response.status != 429) continue;
    ++throttled;
    std::string reset = x.response.Header("x-ratelimit-reset");
    std::string retry_after = x.response.Header("retry-after");
    Clock::WallTime until;
    if (!reset.empty() && Clock::WallTime(std::chrono::seconds(std::stoll(reset))) > x.answered) {
      until = Clock::WallTime(std::chrono::seconds(std::stoll(reset)));
    } else if (!retry_after.empty()) {
      until = x.answered + std::chrono::seconds(std::stoll(retry_after));
    } else {
      continue;
    }
    ++verified;
    // No request may leave after the 429 arrived and before its reset (20 ms grace for a
    // request that was already past the limiter when the 429 arrived).
    for (const auto& y : log) {
      if (y.sent > x.answered + 20ms) {
        EXPECT_GE(y.sent, until - 5ms)
            << "request sent " << std::chrono::duration<double>(until - y.sent).count()
            << " s before the rate-limit reset";
      }
    }
  }
  EXPECT_GT(throttled, 0) << "the simulator forced no 429";
  EXPECT_GT(verified, 0) << "no 429 carried a future x-ratelimit-reset or a Retry-After";
  EXPECT_EQ(client_->RateLimitView().throttled_total, throttled);
}

TEST_F(ResilienceTest, ServerErrorsAndTimeoutsCompleteThroughRetries) {
  StartSim({"--error-rate", "0.1", "--timeout-rate", "0.05", "--timeout-ms", "1500"});
  MakeClient();
  auto users = SeedUsers(10);
  ASSERT_EQ(users.size(), 10u);
  auto failures = RunCalls(60, 4, [&](int i) {
    if (i % 2 == 0) {
      auto r = client_->GetUser(users[i % users.size()]);
      return r.ok() ? Status::Ok() : r.status();
    }
    auto r = client_->PatchUser(users[i % users.size()], Json{{"app_metadata", {{"k", i}}}});
    return r.ok() ? Status::Ok() : r.status();
  });
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures.front();
  int errors = 0;
  for (const auto& x : timing_->Log()) errors += x.response.status >= 500 || x.response.status == 0;
  EXPECT_GT(errors, 0) << "no fault was injected";
}

TEST_F(ResilienceTest, TokenExpiringMidRunIsRenewedWithoutAFailedCall) {
  StartSim({"--token-lifetime-seconds", "2"});
  MakeClient();
  auto users = SeedUsers(5);
  ASSERT_EQ(users.size(), 5u);
  auto deadline = std::chrono::steady_clock::now() + 3500ms;
  int calls = 0;
  bool expired = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!expired && std::chrono::steady_clock::now() > deadline - 1500ms) {
      // Also revoke every token server-side: the next call meets a 401 and renews once.
      Control("POST", "/__sim/expire-tokens", Json::object());
      expired = true;
    }
    auto r = client_->GetUser(users[calls % users.size()]);
    ASSERT_TRUE(r.ok()) << "call " << calls << ": " << r.status().ToString();
    ++calls;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GE(observer_.Count(200), calls);
  // One fetch at start, one at 80% of the 2 s lifetime, one after expire-tokens (at least).
  int token_fetches = 0;
  for (const auto& x : timing_->Log()) token_fetches += x.target == "/oauth/token";
  EXPECT_GE(token_fetches, 3);
}

TEST_F(ResilienceTest, CheckpointPaginationReturnsEveryRecordOnce) {
  StartSim({});
  MakeClient();
  // One organization with 2,500 members, then 2,499 more organizations.
  Json big = Control("POST", "/__sim/seed",
                     Json{{"organizations", 1}, {"users", 2500}, {"members_per_org", 2500}});
  Control("POST", "/__sim/seed",
          Json{{"organizations", 2499}, {"users", 0}, {"members_per_org", 0}});
  auto orgs = client_->ListOrganizations();
  ASSERT_TRUE(orgs.ok()) << orgs.status().ToString();
  std::set<std::string> org_ids;
  for (auto& o : orgs.value()) org_ids.insert(o["id"].get<std::string>());
  EXPECT_EQ(orgs->size(), 2500u);
  EXPECT_EQ(org_ids.size(), 2500u);

  std::string big_id = big.contains("organization_ids")
                           ? big["organization_ids"][0].get<std::string>()
                       : big.contains("org_ids") ? big["org_ids"][0].get<std::string>()
                                                 : std::string();
  ASSERT_FALSE(big_id.empty()) << "seed answer: " << big.dump().substr(0, 300);
  // Beyond offset paging's reach (1000): the members are read again by checkpoints.
  auto members = client_->ListMembersWithRoles(big_id);
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  std::set<std::string> member_ids;
  for (auto& m : members.value()) member_ids.insert(m["user_id"].get<std::string>());
  EXPECT_EQ(members->size(), 2500u);
  EXPECT_EQ(member_ids.size(), 2500u);
  int member_checkpoint_pages = 0;
  for (const auto& x : timing_->Log()) {
    const std::string path = x.target.substr(0, x.target.find('?'));
    if (path == "/api/v2/organizations") {
      // The organizations list: only checkpoint requests, never page/per_page offsets.
      EXPECT_EQ(x.target.find("page="), std::string::npos) << x.target;
    } else if (path.ends_with("/members")) {
      if (x.target.find("take=") != std::string::npos) ++member_checkpoint_pages;
      EXPECT_EQ(x.target.find("page=10&"), std::string::npos) << "offset paging past 1000";
    }
  }
  EXPECT_GE(member_checkpoint_pages, 25);
}

}  // namespace
}  // namespace tenantsync
