// Users imports end to end (issue 17): the real tenantsync daemon against auth0-sim. A burst of
// hires above [auth0] import_threshold is created by users-imports jobs with a handful of
// requests (counted by endpoint by the simulator), a user who already exists in Auth0 is matched
// rather than duplicated, and a daemon killed (SIGKILL) while the simulator holds the job pending
// resumes that job after the restart instead of sending the file again.
#include <gtest/gtest.h>

#include <csignal>
#include <set>

#include "common/clock.h"
#include "daemon/planning/imports.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/rfc3339.h"

namespace tenantsync::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kClientId = "users-import-test-m2m-client";
const std::string kClientSecret = "users-import-test-auth0-client-secret-42";

class UsersImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = std::make_unique<Subprocess>(
        BuildPath("auth0-sim"),
        std::vector<std::string>{"--port", "0", "--domain", "tenant.example.com", "--client-id",
                                 kClientId, "--client-secret", kClientSecret, "--index-lag-ms",
                                 "0"});
    sim_port_ = sim_->WaitForPort();
    ASSERT_GT(sim_port_, 0) << sim_->Output();
    sim_http_ = std::make_unique<TestHttpClient>("127.0.0.1", sim_port_);
    TestDaemonOptions o;
    o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port_);
    o.auth0_client_id = kClientId;
    o.auth0_client_secret = kClientSecret;
    o.application_client_id = kClientId;
    daemon_ = std::make_unique<TestDaemon>(o);
    ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
  }

  // Hires p<first>..p<first+n-1>, all in one burst: stored while the writer is paused, so the
  // writer sees them together (as a backfill's events, already in the inbox, are seen).
  void Hire(int first, int n, const std::map<int, std::string>& emails = {}) {
    ASSERT_EQ(daemon_->AdminPost("/v1/pause").status, 200);
    const int64_t now = SystemClock().NowUnixMillis();
    for (int i = first; i < first + n; ++i) {
      const std::string ext = "p" + std::to_string(i);
      auto e = emails.find(i);
      const std::string email = e != emails.end() ? e->second : ext + "@example.com";
      ASSERT_EQ(daemon_
                    ->PostEvent("hr", "hire-" + ext,
                                EventBody("user.upserted",
                                          {{"external_id", ext}, {"email", email}, {"name", ext}},
                                          Rfc3339Ms(now - 5000)))
                    .status,
                202);
    }
    ASSERT_EQ(daemon_->AdminPost("/v1/resume").status, 200);
  }

  std::map<std::string, Json> SimUsersByEmail() {
    std::map<std::string, Json> out;
    const Json state = sim_http_->Get("/__sim/state").Json();
    for (const auto& u : state["users"]) out[u["email"]] = u;
    return out;
  }

  // Answers of the simulator for one endpoint template, all statuses together.
  int64_t Requests(const std::string& endpoint) {
    const Json stats = sim_http_->Get("/__sim/stats").Json();
    const Json& by = stats["by_endpoint"];
    int64_t n = 0;
    if (by.contains(endpoint)) {
      for (auto& [status, count] : by[endpoint].items()) n += count.get<int64_t>();
    }
    return n;
  }

  std::unique_ptr<Subprocess> sim_;
  int sim_port_ = 0;
  std::unique_ptr<TestHttpClient> sim_http_;
  std::unique_ptr<TestDaemon> daemon_;
};

TEST_F(UsersImportTest, TwoHundredHiresAreCreatedByImportJobsAndAnExistingUserIsMatched) {
  // Someone already has an account in Auth0 under p150's address.
  Json seeded = sim_http_->Post("/__sim/seed", R"({"users": 1})").Json();
  std::string existing_email;
  for (auto& [email, u] : SimUsersByEmail()) existing_email = email;
  ASSERT_FALSE(existing_email.empty()) << seeded.dump();
  const std::string existing_id = SimUsersByEmail()[existing_email]["user_id"];
  sim_http_->Post("/__sim/stats/reset", "{}");

  Hire(100, 200, {{150, existing_email}});
  ASSERT_TRUE(WaitFor([&] { return SimUsersByEmail().size() == 200; }, 120s))
      << SimUsersByEmail().size() << " users\n"
      << daemon_->Output();
  auto users = SimUsersByEmail();
  // Everyone but the existing user has the deterministic id; the existing one kept its own.
  for (int i = 100; i < 300; ++i) {
    if (i == 150) continue;
    const std::string ext = "p" + std::to_string(i);
    ASSERT_TRUE(users.count(ext + "@example.com")) << ext;
    EXPECT_EQ(users[ext + "@example.com"]["user_id"], Auth0ImportedId(ext));
  }
  EXPECT_EQ(users[existing_email]["user_id"], existing_id);
  // A handful of requests for 200 users: one import file, its polls and its errors.
  EXPECT_EQ(Requests("POST /api/v2/jobs/users-imports"), 1);
  EXPECT_LE(Requests("GET /api/v2/jobs/{id}"), 10);
  EXPECT_EQ(Requests("GET /api/v2/jobs/{id}/errors"), 1);
  // Only the existing user went the one-by-one way (409, then matched by email).
  EXPECT_LE(Requests("POST /api/v2/users"), 1);
}

TEST_F(UsersImportTest, ADaemonKilledWhileTheJobIsPendingResumesItWithoutSendingItAgain) {
  sim_http_->Post("/__sim/imports", R"({"stall_next": 1})");
  Hire(100, 60);
  ASSERT_TRUE(WaitFor(
      [&] {
        const Json faults = sim_http_->Post("/__sim/imports", "{}").Json();
        return !faults["stalled"].empty();
      },
      60s))
      << daemon_->Output();
  ASSERT_TRUE(daemon_->Stop(SIGKILL).has_value());
  sim_http_->Post("/__sim/imports", R"({"release": true})");
  ASSERT_TRUE(daemon_->Start()) << daemon_->Output();
  ASSERT_TRUE(WaitFor([&] { return SimUsersByEmail().size() == 60; }, 120s))
      << SimUsersByEmail().size() << " users\n"
      << daemon_->Output();
  EXPECT_EQ(Requests("POST /api/v2/jobs/users-imports"), 1) << "the file was sent again";
  EXPECT_EQ(Requests("POST /api/v2/users"), 0);
  for (auto& [email, u] : SimUsersByEmail()) {
    EXPECT_EQ(u["user_id"], Auth0ImportedId(email.substr(0, email.find('@'))));
  }
}

}  // namespace
}  // namespace tenantsync::testing
