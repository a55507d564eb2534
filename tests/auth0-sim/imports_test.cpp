// Unit tests of auth0-sim's users imports (POST /jobs/users-imports, GET /jobs/{id},
// GET /jobs/{id}/errors) on the tenant model, without HTTP: Auth0's limits and answers as
// docs/AUTH0-SIM.md describes them ("Users import jobs").
#include <gtest/gtest.h>

#include <chrono>

#include "tests/auth0-sim/tenant.h"
#include "tests/support/fake_clock.h"

namespace tenantsync::sim {
namespace {

using std::chrono::milliseconds;

constexpr const char* kClient = "m2mclient";

class SimImportsTest : public ::testing::Test {
 protected:
  SimImportsTest() : tenant_(TenantOptions{"t.local", kClient, "secret", 42, 0}, clock_) {}

  struct Answer {
    int status;
    Json body;
  };

  Answer Call(const std::string& method, const std::string& path, const Json& body = nullptr) {
    auto route = MatchRoute(method, path);
    EXPECT_TRUE(route) << method << " " << path;
    if (!route) return {0, nullptr};
    ApiRequest req;
    req.method = method;
    req.path = path;
    req.body = body.is_null() ? "" : body.dump();
    req.content_type = "application/json";
    req.caller_client_id = kClient;
    ApiResponse r = tenant_.Handle(*route, req);
    return {r.status, r.body.empty() ? Json(nullptr) : Json::parse(r.body, nullptr, false)};
  }

  Answer Import(const Json& users, std::map<std::string, std::string> fields = {}) {
    auto route = MatchRoute("POST", "/api/v2/jobs/users-imports");
    ApiRequest req;
    req.method = "POST";
    req.path = "/api/v2/jobs/users-imports";
    req.content_type = "multipart/form-data; boundary=x";
    req.caller_client_id = kClient;
    req.form = std::move(fields);
    if (!req.form.count("users")) req.form["users"] = users.dump();
    if (!req.form.count("connection_id")) req.form["connection_id"] = DbConnectionId();
    ApiResponse r = tenant_.Handle(*route, req);
    return {r.status, r.body.empty() ? Json(nullptr) : Json::parse(r.body, nullptr, false)};
  }

  std::string DbConnectionId() {
    auto a = Call("GET", "/api/v2/connections");
    for (auto& c : a.body) {
      if (c["name"] == "Username-Password-Authentication") return c["id"];
    }
    return "";
  }

  FakeClock clock_;
  Tenant tenant_;
};

TEST_F(SimImportsTest, AJobIsPendingThenProcessingThenCompletedWithTheChosenIds) {
  tenant_.SetImportDelayMs(1000);
  auto created = Import(Json::array({{{"email", "a@x.io"}, {"user_id", "tsA"}, {"name", "A"}},
                                     {{"email", "b@x.io"}, {"user_id", "tsB"}}}),
                        {{"external_id", "run-1"}});
  ASSERT_EQ(created.status, 202) << created.body.dump();
  EXPECT_EQ(created.body["status"], "pending");
  EXPECT_EQ(created.body["type"], "users_import");
  EXPECT_EQ(created.body["external_id"], "run-1");
  const std::string job = created.body["id"];
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + job).body["status"], "pending");
  EXPECT_EQ(Call("GET", "/api/v2/users/auth0|tsA").status, 404) << "imported before its time";
  clock_.Advance(milliseconds(600));
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + job).body["status"], "processing");
  clock_.Advance(milliseconds(500));
  auto done = Call("GET", "/api/v2/jobs/" + job);
  EXPECT_EQ(done.body["status"], "completed");
  EXPECT_EQ(done.body["summary"],
            Json({{"failed", 0}, {"updated", 0}, {"inserted", 2}, {"total", 2}}));
  auto a = Call("GET", "/api/v2/users/auth0|tsA");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["email"], "a@x.io");
  EXPECT_EQ(a.body["name"], "A");
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + job + "/errors").status, 204);
  // The tenant log has the request's sapi event, described as Auth0 describes it.
  bool logged = false;
  for (auto& e : Call("GET", "/api/v2/logs").body) {
    logged = logged || (e["type"] == "sapi" && e["description"] == "Create import users job");
  }
  EXPECT_TRUE(logged);
}

TEST_F(SimImportsTest, PerUserFailuresAreReportedThroughErrors) {
  Import(Json::array({{{"email", "dup@x.io"}}}));
  auto created = Import(Json::array({{{"email", "dup@x.io"}, {"user_id", "t1"}},
                                     {{"email", "not-an-email"}, {"user_id", "t2"}},
                                     {{"email", "ok@x.io"}, {"user_id", "t3"}}}));
  ASSERT_EQ(created.status, 202);
  const std::string job = created.body["id"];
  auto status = Call("GET", "/api/v2/jobs/" + job);
  EXPECT_EQ(status.body["summary"]["failed"], 2);
  EXPECT_EQ(status.body["summary"]["inserted"], 1);
  auto errors = Call("GET", "/api/v2/jobs/" + job + "/errors");
  ASSERT_EQ(errors.status, 200);
  ASSERT_EQ(errors.body.size(), 2u);
  EXPECT_EQ(errors.body[0]["user"]["user_id"], "t1");
  EXPECT_EQ(errors.body[0]["errors"][0]["code"], "DUPLICATED_USER");
  EXPECT_EQ(errors.body[1]["errors"][0]["code"], "INVALID_FORMAT");
  EXPECT_NE(errors.body[1]["errors"][0]["message"].get<std::string>().find("format email"),
            std::string::npos);
}

TEST_F(SimImportsTest, UpsertUpdatesOnlyUpsertableAttributes) {
  Import(Json::array({{{"email", "u@x.io"}, {"user_id", "u1"}, {"name", "Old"}}}));
  auto created = Import(Json::array({{{"email", "u@x.io"},
                                      {"name", "New"},
                                      {"blocked", true},
                                      {"app_metadata", {{"plan", "gold"}}}}}),
                        {{"upsert", "true"}});
  Call("GET", "/api/v2/jobs/" + created.body["id"].get<std::string>());
  auto u = Call("GET", "/api/v2/users/auth0|u1");
  EXPECT_EQ(u.body["name"], "New");
  EXPECT_EQ(u.body["app_metadata"], Json({{"plan", "gold"}}));
  EXPECT_FALSE(u.body.value("blocked", false)) << "blocked is not an upsert attribute";
}

TEST_F(SimImportsTest, LimitsAndValidation) {
  struct Case {
    const char* name;
    std::map<std::string, std::string> fields;
    int status;
  };
  const std::vector<Case> cases = {
      {"bad connection id", {{"connection_id", "nope"}}, 400},
      {"unknown connection", {{"connection_id", "con_AAAAAAAAAAAAAAAA"}}, 400},
      {"not an array", {{"users", "{}"}}, 400},
      {"upsert not boolean", {{"upsert", "yes"}}, 400},
      {"over 500 KB", {{"users", "[" + std::string(500 * 1024, ' ') + "]"}}, 413},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Import(Json::array(), c.fields).status, c.status) << c.name;
  }
  // At most two jobs pending or processing at once.
  tenant_.SetImportDelayMs(10000);
  EXPECT_EQ(Import(Json::array()).status, 202);
  EXPECT_EQ(Import(Json::array()).status, 202);
  EXPECT_EQ(Import(Json::array()).status, 429);
  clock_.Advance(milliseconds(10001));
  EXPECT_EQ(Import(Json::array()).status, 202);
}

TEST_F(SimImportsTest, ControlHooksFailOrStallTheNextJob) {
  tenant_.ImportFaults({{"fail_next", 1}, {"stall_next", 1}});
  auto failed = Import(Json::array({{{"email", "f@x.io"}}}));
  auto stalled = Import(Json::array({{{"email", "s@x.io"}, {"user_id", "s1"}}}));
  clock_.Advance(milliseconds(100000));
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + failed.body["id"].get<std::string>()).body["status"],
            "failed");
  const std::string job = stalled.body["id"];
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + job).body["status"], "pending");
  EXPECT_EQ(tenant_.ImportFaults(Json::object())["stalled"], Json::array({job}));
  tenant_.ImportFaults({{"release", true}});
  EXPECT_EQ(Call("GET", "/api/v2/jobs/" + job).body["status"], "completed");
  EXPECT_EQ(Call("GET", "/api/v2/users/auth0|s1").status, 200);
}

}  // namespace
}  // namespace tenantsync::sim
