// serve --dry-run: the whole pipeline runs, but no write reaches Auth0 (the simulator's counts
// prove it) while the planned writes are listed as pending mutations.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/daemon_fixture.h"

namespace tenantsync::testing {
namespace {

TEST(DryRun, PlansEverythingAndSendsNoWrite) {
  Subprocess sim(BuildPath("auth0-sim"),
                 {"--port", "0", "--domain", "tenant.example.com", "--client-id", "dry-client",
                  "--client-secret", "dry-secret-value", "--seed", "5"});
  int sim_port = sim.WaitForPort("listening on");
  ASSERT_GT(sim_port, 0) << sim.Output();
  TestDaemonOptions o;
  o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
  o.auth0_client_id = o.application_client_id = "dry-client";
  o.auth0_client_secret = "dry-secret-value";
  o.extra_args = {"--dry-run"};
  TestDaemon daemon(o);
  ASSERT_TRUE(daemon.Start()) << daemon.Output();

  ASSERT_EQ(daemon
                .PostEvent("hr", "d-1",
                           EventBody("organization.upserted",
                                     {{"external_id", "acme"},
                                      {"name", "acme"},
                                      {"callback_urls", {"https://acme.example.com/cb"}}}))
                .status,
            202);
  ASSERT_EQ(
      daemon
          .PostEvent("hr", "d-2",
                     EventBody("user.upserted",
                               {{"external_id", "e1"},
                                {"email", "e1@example.com"},
                                {"organizations",
                                 {{{"external_id", "acme"}, {"roles", nlohmann::json::array()}}}}}))
          .status,
      202);
  nlohmann::json status;
  for (int i = 0; i < 100; ++i) {
    status = daemon.AdminGet("/v1/status").Json();
    if (status["events"]["applied"] == 2 && status["entities_to_reconcile"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(status["events"]["applied"], 2) << status.dump();
  EXPECT_EQ(status["entities_to_reconcile"], 0) << status.dump();

  auto mutations = daemon.AdminGet("/v1/mutations?state=pending").Json()["mutations"];
  std::set<std::string> kinds;
  for (auto& m : mutations) {
    kinds.insert(m["kind"].get<std::string>());
    EXPECT_NE(m["error"].get<std::string>().find("dry run"), std::string::npos);
  }
  EXPECT_TRUE(kinds.count("create_organization")) << mutations.dump();
  EXPECT_TRUE(kinds.count("create_user")) << mutations.dump();

  TestHttpClient sim_client("127.0.0.1", sim_port);
  auto stats = sim_client.Get("/__sim/stats").Json();
  EXPECT_EQ(stats["writes_total"], 0) << stats.dump();
  auto state = sim_client.Get("/__sim/state").Json();
  EXPECT_TRUE(state["users"].empty());
  EXPECT_TRUE(state["organizations"].empty());
}

}  // namespace
}  // namespace tenantsync::testing
