// `tenantsync plan` on a known pending state prints exactly the expected writes, and sends none.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/daemon_fixture.h"

namespace tenantsync::testing {
namespace {

TEST(Plan, ListsExactlyThePendingWritesWithoutSendingThem) {
  // Auth0 answers every request with a 5xx, so the work stays pending (retrying).
  Subprocess sim(BuildPath("auth0-sim"),
                 {"--port", "0", "--domain", "tenant.example.com", "--client-id", "plan-client",
                  "--client-secret", "plan-secret-value", "--seed", "9", "--error-rate", "1"});
  int sim_port = sim.WaitForPort("listening on");
  ASSERT_GT(sim_port, 0) << sim.Output();
  TestDaemonOptions o;
  o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
  o.auth0_client_id = o.application_client_id = "plan-client";
  o.auth0_client_secret = "plan-secret-value";
  o.extra_toml = "max_retries = 0\n";  // [auth0]: fail fast so the test does not wait on backoff
  TestDaemon daemon(o);
  ASSERT_TRUE(daemon.Start()) << daemon.Output();

  ASSERT_EQ(daemon
                .PostEvent("hr", "p-1",
                           EventBody("organization.upserted", {{"external_id", "acme"},
                                                               {"name", "acme"},
                                                               {"display_name", "Acme"}}))
                .status,
            202);
  ASSERT_EQ(daemon
                .PostEvent("hr", "p-2",
                           EventBody("user.upserted", {{"external_id", "e1"},
                                                       {"email", "e1@example.com"},
                                                       {"name", "Ada"}}))
                .status,
            202);
  for (int i = 0; i < 100; ++i) {
    auto failed = daemon.AdminGet("/v1/mutations?state=failed").Json()["mutations"];
    if (failed.size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Paused, the writer sends nothing itself, so every write the simulator sees would be the plan's.
  ASSERT_EQ(daemon.AdminPost("/v1/pause").status, 200);
  TestHttpClient sim_client("127.0.0.1", sim_port);
  sim_client.Post("/__sim/stats/reset", "{}");

  auto r = daemon.AdminGet("/v1/plan");
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json answer = r.Json();
  std::map<std::string, nlohmann::json> by_entity;
  for (auto& st : answer["plan"]) by_entity[st["entity"].get<std::string>()] = st;
  ASSERT_EQ(by_entity.size(), 2u) << r.body;
  EXPECT_EQ(by_entity["org:acme"]["kind"], "create_organization");
  EXPECT_EQ(by_entity["org:acme"]["request"]["display_name"], "Acme");
  EXPECT_EQ(by_entity["org:acme"]["events"], nlohmann::json::array({"hr/p-1"}));
  EXPECT_EQ(by_entity["user:e1"]["kind"], "create_user");
  EXPECT_EQ(by_entity["user:e1"]["request"]["email"], "e1@example.com");
  EXPECT_EQ(by_entity["user:e1"]["request"].count("password"), 0u) << "never shows a password";
  EXPECT_EQ(by_entity["user:e1"]["events"], nlohmann::json::array({"hr/p-2"}));
  EXPECT_EQ(sim_client.Get("/__sim/stats").Json()["writes_total"], 0)
      << "planning must not write to Auth0";
  // Every mark was planned (the organization, the user, and the application's callbacks, which
  // need no write here).
  const int64_t marks = answer["entities_waiting"].get<int64_t>();
  EXPECT_GE(marks, 2) << r.body;
  EXPECT_EQ(answer["entities_planned"], marks) << r.body;
  EXPECT_EQ(answer["truncated"], false) << r.body;

  // A plan covers at most `limit` entities (default 10,000) and says when it stopped short.
  auto one = daemon.AdminGet("/v1/plan?limit=1");
  ASSERT_EQ(one.status, 200) << one.body;
  std::set<std::string> planned_entities;
  for (auto& st : one.Json()["plan"]) planned_entities.insert(st["entity"].get<std::string>());
  EXPECT_LE(planned_entities.size(), 1u) << one.body;
  EXPECT_EQ(one.Json()["entities_planned"], 1) << one.body;
  EXPECT_EQ(one.Json()["entities_waiting"], marks) << one.body;
  EXPECT_EQ(one.Json()["truncated"], true) << one.body;
  EXPECT_EQ(daemon.AdminGet("/v1/plan?limit=0").status, 400);

  // The CLI prints the same plan as a table.
  Subprocess cli(BuildPath("tenantsync"), {"plan", "--config", daemon.config_path(), "--admin",
                                           "127.0.0.1:" + std::to_string(daemon.admin_port())});
  ASSERT_EQ(cli.Wait(), 0) << cli.Output();
  EXPECT_NE(cli.Output().find("create_organization"), std::string::npos) << cli.Output();
  EXPECT_NE(cli.Output().find("2 write(s) planned"), std::string::npos) << cli.Output();

  // Once Auth0 answers and the writer runs, the plan empties.
  sim_client.Post("/__sim/faults", R"({"error_rate": 0})");
  ASSERT_EQ(daemon.AdminPost("/v1/resume").status, 200);
  nlohmann::json plan;
  for (int i = 0; i < 300; ++i) {
    auto status = daemon.AdminGet("/v1/status").Json();
    if (status["entities_to_reconcile"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  plan = daemon.AdminGet("/v1/plan").Json()["plan"];
  EXPECT_TRUE(plan.empty()) << plan.dump();
}

}  // namespace
}  // namespace tenantsync::testing
