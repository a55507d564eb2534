// /metrics after a known sequence of events shows the expected counts; JSON logs stay valid
// JSON and carry the event and mutation ids.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/rfc3339.h"

namespace tenantsync::testing {
namespace {

// Parses the Prometheus text format into "name{labels}" -> value.
std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// Every family named in SPEC §7 and docs/OPERATIONS.md is in /metrics from start-up, before the
// first event (dashboards and alerts must not see "no data"): each with its TYPE line, and the
// label-less gauges with a value.
TEST(Metrics, EveryFamilyIsPresentFromStartUp) {
  TestDaemon daemon;  // no Auth0 behind it, no event sent
  ASSERT_TRUE(daemon.Start()) << daemon.Output();
  auto r = daemon.AdminGet("/metrics");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<std::pair<std::string, std::string>> families = {
      {"tenantsync_events_total", "counter"},
      {"tenantsync_mutations_total", "counter"},
      {"tenantsync_mutations_pending", "gauge"},
      {"tenantsync_oldest_pending_seconds", "gauge"},
      {"tenantsync_auth0_requests_total", "counter"},
      {"tenantsync_auth0_request_seconds", "histogram"},
      {"tenantsync_auth0_rate_limit_remaining", "gauge"},
      {"tenantsync_last_success_timestamp_seconds", "gauge"},
      {"tenantsync_guard_tripped", "gauge"},
      {"tenantsync_sync_lag_seconds", "histogram"},
      {"tenantsync_quarantined", "gauge"},
      {"tenantsync_paused", "gauge"},
      {"tenantsync_drift_differences", "gauge"},
      {"tenantsync_compacted_rows_total", "counter"},
      {"tenantsync_inbox_commits_total", "counter"},
      {"tenantsync_inbox_commit_events_total", "counter"},
      {"tenantsync_import_planning_users_read_total", "counter"},
  };
  const auto samples = ParseMetrics(r.body);
  for (const auto& [name, type] : families) {
    EXPECT_NE(r.body.find("# TYPE " + name + " " + type + "\n"), std::string::npos)
        << name << " missing:\n"
        << r.body;
    if (type == "gauge") {
      ASSERT_TRUE(samples.count(name)) << name << " has no value:\n" << r.body;
    }
  }
  EXPECT_EQ(samples.at("tenantsync_guard_tripped"), 0);
  // The inbox's commit counters have a sample from start-up, so rate() works at once.
  ASSERT_TRUE(samples.count("tenantsync_inbox_commits_total")) << r.body;
  EXPECT_EQ(samples.at("tenantsync_inbox_commits_total"), 0);
  ASSERT_TRUE(samples.count("tenantsync_inbox_commit_events_total")) << r.body;
  EXPECT_EQ(samples.at("tenantsync_inbox_commit_events_total"), 0);
  ASSERT_TRUE(samples.count("tenantsync_import_planning_users_read_total")) << r.body;
  EXPECT_EQ(samples.at("tenantsync_import_planning_users_read_total"), 0);
  EXPECT_EQ(samples.at("tenantsync_quarantined"), 0);
  EXPECT_EQ(samples.at("tenantsync_paused"), 0);
  EXPECT_EQ(samples.at("tenantsync_drift_differences"), 0);
  EXPECT_EQ(samples.at("tenantsync_mutations_pending"), 0);
  EXPECT_EQ(samples.at("tenantsync_oldest_pending_seconds"), 0);
}

// tenantsync_oldest_pending_seconds, the alerting gauge, counts only work really waiting
// (docs/OPERATIONS.md): an event scheduled for later (data.effective_at) and a leaver's deletion
// scheduled by delete_after_days do not age it; a due event that is not applied (here: paused)
// does.
TEST(Metrics, OldestPendingCountsOnlyWorkReallyWaiting) {
  Subprocess sim(BuildPath("auth0-sim"),
                 {"--port", "0", "--domain", "tenant.example.com", "--client-id", "metrics-client",
                  "--client-secret", "metrics-secret-value", "--index-lag-ms", "0"});
  int sim_port = sim.WaitForPort("listening on");
  ASSERT_GT(sim_port, 0) << sim.Output();
  TestDaemonOptions o;
  o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
  o.auth0_client_id = o.application_client_id = "metrics-client";
  o.auth0_client_secret = "metrics-secret-value";
  o.extra_toml = "\n[policy]\ndelete_after_days = 2\n";
  TestDaemon daemon(o);
  ASSERT_TRUE(daemon.Start()) << daemon.Output();
  auto metrics = [&] { return ParseMetrics(daemon.AdminGet("/metrics").body); };
  auto status = [&] { return daemon.AdminGet("/v1/status").Json(); };

  ASSERT_EQ(daemon
                .PostEvent("hr", "m-later",
                           EventBody("user.upserted", {{"external_id", "later"},
                                                       {"email", "later@example.com"},
                                                       {"effective_at", "2099-01-01T00:00:00Z"}}))
                .status,
            202);
  ASSERT_EQ(daemon
                .PostEvent("hr", "m-join",
                           EventBody("user.upserted",
                                     {{"external_id", "leaver"}, {"email", "leaver@example.com"}}))
                .status,
            202);
  ASSERT_TRUE(WaitFor([&] {
    auto u = daemon.AdminGet("/v1/users/leaver");
    return u.status == 200 && u.Json()["auth0_id"].is_string();
  }));
  const int64_t left_ms = SystemClock().NowUnixMillis();
  ASSERT_EQ(daemon
                .PostEvent("hr", "m-left",
                           EventBody("user.left", {{"external_id", "leaver"}}, Rfc3339Ms(left_ms)))
                .status,
            202);
  // Blocked (after guard_settle_ms); the deletion is scheduled two days on.
  nlohmann::json s;
  ASSERT_TRUE(WaitFor([&] {
    s = status();
    const nlohmann::json next = s["scheduled_work"]["next"];
    return next.size() == 1 && next[0]["due_at_ms"].get<int64_t>() > left_ms + 86400000LL &&
           s["oldest_pending_seconds"].is_null();
  })) << s.dump();
  ASSERT_EQ(s["events"]["scheduled"], 1) << s.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto m = metrics();
  EXPECT_EQ(m.at("tenantsync_oldest_pending_seconds"), 0);
  EXPECT_EQ(m.at("tenantsync_mutations_pending"), 1) << "the leaver stays marked until deleted";

  // A due event not applied yet is waiting work: it ages.
  ASSERT_EQ(daemon.AdminPost("/v1/pause").status, 200);
  ASSERT_EQ(daemon
                .PostEvent("hr", "m-due",
                           EventBody("user.upserted",
                                     {{"external_id", "due"}, {"email", "due@example.com"}}))
                .status,
            202);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_GE(metrics().at("tenantsync_oldest_pending_seconds"), 1.0);
}

TEST(Metrics, CountsFollowAKnownSequenceOfEvents) {
  Subprocess sim(BuildPath("auth0-sim"),
                 {"--port", "0", "--domain", "tenant.example.com", "--client-id", "metrics-client",
                  "--client-secret", "metrics-secret-value", "--seed", "3"});
  int sim_port = sim.WaitForPort("listening on");
  ASSERT_GT(sim_port, 0) << sim.Output();
  TestDaemonOptions o;
  o.auth0_base_url = "http://127.0.0.1:" + std::to_string(sim_port);
  o.auth0_client_id = o.application_client_id = "metrics-client";
  o.auth0_client_secret = "metrics-secret-value";
  o.extra_args = {"--log-format", "json"};
  TestDaemon daemon(o);
  ASSERT_TRUE(daemon.Start()) << daemon.Output();

  auto user = [](const std::string& id) {
    return EventBody("user.upserted", {{"external_id", id}, {"email", id + "@example.com"}});
  };
  ASSERT_EQ(daemon.PostEvent("hr", "m-1", user("u1")).status, 202);
  ASSERT_EQ(daemon.PostEvent("hr", "m-2", user("u2")).status, 202);
  ASSERT_EQ(daemon.PostEvent("hr", "m-2", user("u2")).status, 200);
  ASSERT_EQ(daemon
                .PostEvent("hr", "m-3",
                           EventBody("organization.upserted",
                                     {{"external_id", "o"}, {"name", "Bad Name"}}))
                .status,
            422);
  TestHttpClient raw("127.0.0.1", daemon.ingress_port());
  ASSERT_EQ(raw.Post("/webhooks/hr", user("u4")).status, 401);
  ASSERT_EQ(raw.Post("/webhooks/nosuchsource", user("u5")).status, 404);

  // Wait until both users exist in Auth0.
  std::map<std::string, double> m;
  for (int i = 0; i < 200; ++i) {
    auto r = daemon.AdminGet("/metrics");
    ASSERT_EQ(r.status, 200) << r.body;
    m = ParseMetrics(r.body);
    if (m[R"(tenantsync_mutations_total{kind="create_user",result="done"})"] >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(m[R"(tenantsync_events_total{result="accepted",source="hr"})"], 2);
  EXPECT_EQ(m[R"(tenantsync_events_total{result="duplicate",source="hr"})"], 1);
  EXPECT_EQ(m[R"(tenantsync_events_total{result="rejected",source="hr"})"], 1);
  EXPECT_EQ(m[R"(tenantsync_events_total{result="unauthorized",source="hr"})"], 1);
  EXPECT_EQ(m["tenantsync_events_total{result=\"unknown_source\",source=\"(unknown)\"}"], 1)
      << "an unknown source must not become a label value";
  EXPECT_EQ(m[R"(tenantsync_mutations_total{kind="create_user",result="done"})"], 2);
  // The four stored deliveries (two accepted, the duplicate, the rejected one) were sent one
  // after another, each answered before the next: four commits of one.
  EXPECT_EQ(m["tenantsync_inbox_commits_total"], 4);
  EXPECT_EQ(m["tenantsync_inbox_commit_events_total"], 4);
  EXPECT_GE(m[R"(tenantsync_auth0_requests_total{code="201",endpoint="POST /api/v2/users"})"], 2);
  EXPECT_GT(m["tenantsync_auth0_request_seconds_count"], 0);
  EXPECT_GT(m["tenantsync_sync_lag_seconds_count"], 0);
  EXPECT_GT(m["tenantsync_last_success_timestamp_seconds"], 1.7e9);
  EXPECT_TRUE(m.count("tenantsync_mutations_pending"));
  EXPECT_TRUE(m.count("tenantsync_oldest_pending_seconds"));
  EXPECT_TRUE(m.count("tenantsync_auth0_rate_limit_remaining"));
  // Presence first: operator[] below would insert a missing key and hide its absence.
  ASSERT_TRUE(m.count("tenantsync_guard_tripped"));
  EXPECT_EQ(m.at("tenantsync_guard_tripped"), 0);
  ASSERT_TRUE(m.count("tenantsync_quarantined"));
  EXPECT_EQ(m.at("tenantsync_quarantined"), 0);

  // /metrics needs the token like every admin endpoint but /healthz.
  TestHttpClient admin("127.0.0.1", daemon.admin_port());
  EXPECT_EQ(admin.Get("/metrics").status, 401);
  auto body = daemon.AdminGet("/metrics").body;
  for (const std::string& secret : std::vector<std::string>{
           "metrics-secret-value", daemon.admin_token(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
    EXPECT_EQ(body.find(secret), std::string::npos);
  }

  ASSERT_EQ(daemon.Stop(SIGTERM), 0);
  std::istringstream log(daemon.Output());
  std::string line;
  int lines = 0;
  bool saw_event = false, saw_mutation = false;
  while (std::getline(log, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    std::string msg = j.value("msg", "");
    saw_event = saw_event || msg.find("id=m-1") != std::string::npos;
    saw_mutation = saw_mutation || (msg.find("mutation id=") != std::string::npos &&
                                    msg.find("create_user") != std::string::npos);
    ++lines;
  }
  EXPECT_GT(lines, 5);
  EXPECT_TRUE(saw_event) << "one line per event, with its id";
  EXPECT_TRUE(saw_mutation) << "one line per mutation outcome, with its id";
}

}  // namespace
}  // namespace tenantsync::testing
