// Quarantine: when most Auth0 requests fail, status and metrics say so and why, the writer only
// probes, and it resumes by itself once Auth0 answers again.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/daemon_fixture.h"

namespace tenantsync::testing {
namespace {

TEST(Quarantine, EntersOnSustainedFailureAndLiftsItself) {
  Subprocess sim(BuildPath("auth0-sim"),
                 {"--port", "0", "--domain", "tenant.example.com", "--client-id", "q-client",
                  "--client-secret", "q-secret-value", "--seed", "4"});
  int sim_port = sim.WaitForPort("listening on");
  ASSERT_GT(sim_port, 0) << sim.Output();
  TestDaemonOptions o;
  o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
  o.auth0_client_id = o.application_client_id = "q-client";
  o.auth0_client_secret = "q-secret-value";
  o.extra_toml =
      "max_retries = 0\nquarantine_window_seconds = 60\nquarantine_min_requests = "
      "5\nquarantine_probe_seconds = 1\n";
  TestDaemon daemon(o);
  ASSERT_TRUE(daemon.Start()) << daemon.Output();
  TestHttpClient sim_client("127.0.0.1", sim_port);
  // Wait for the start-up token so the failures below are Management API answers.
  for (int i = 0; i < 100 && daemon.AdminGet("/readyz").status != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  sim_client.Post("/__sim/faults", R"({"error_rate": 1})");

  for (int i = 0; i < 10; ++i) {
    std::string id = "q" + std::to_string(i);
    ASSERT_EQ(daemon
                  .PostEvent("hr", id,
                             EventBody("user.upserted",
                                       {{"external_id", id}, {"email", id + "@example.com"}}))
                  .status,
              202);
  }
  nlohmann::json q;
  for (int i = 0; i < 200; ++i) {
    q = daemon.AdminGet("/v1/status").Json()["quarantine"];
    if (q["active"] == true) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(q["active"], true) << q.dump();
  EXPECT_NE(q["reason"].get<std::string>().find("failed"), std::string::npos) << q.dump();
  EXPECT_NE(daemon.AdminGet("/metrics").body.find("tenantsync_quarantined 1"), std::string::npos);

  // While quarantined, requests slow to about one probe per second.
  sim_client.Post("/__sim/stats/reset", "{}");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  int during = sim_client.Get("/__sim/stats").Json()["requests_total"].get<int>();
  EXPECT_LE(during, 8) << "quarantined writer kept sending";

  sim_client.Post("/__sim/faults", R"({"error_rate": 0})");
  nlohmann::json status;
  for (int i = 0; i < 400; ++i) {
    status = daemon.AdminGet("/v1/status").Json();
    if (status["quarantine"]["active"] == false && status["entities_to_reconcile"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status["quarantine"]["active"], false) << status.dump();
  EXPECT_EQ(status["entities_to_reconcile"], 0) << status.dump();
  EXPECT_EQ(sim_client.Get("/__sim/state").Json()["users"].size(), 10u);
  EXPECT_NE(daemon.AdminGet("/metrics").body.find("tenantsync_quarantined 0"), std::string::npos);
}

}  // namespace
}  // namespace tenantsync::testing
