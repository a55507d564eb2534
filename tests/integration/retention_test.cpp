// Retention through the real daemon (issue 17, docs/OPERATIONS.md "Retention"): an old rejected
// event loses its body at the first compaction pass after start-up, stays a duplicate for its
// sender, cannot be replayed (410 naming the retention) and shows why its body is gone; a mapped
// vendor notification loses its fetched record the same way; status and /metrics report what
// was compacted.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <csignal>

#include "tests/support/daemon_fixture.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

std::string InvalidOrg(const std::string& ext) {
  return testing::EventBody(
      "organization.upserted",
      {{"external_id", ext}, {"name", "Not Valid!"}, {"display_name", "Org"}});
}

TEST(Retention, AnOldRejectedEventKeepsItsRowButNotItsBody) {
  testing::TestDaemon daemon;
  ASSERT_TRUE(daemon.Start()) << daemon.Output();
  ASSERT_EQ(daemon.PostEvent("hr", "msg_old", InvalidOrg("acme")).status, 422);
  ASSERT_EQ(daemon.PostEvent("hr", "msg_new", InvalidOrg("beta")).status, 422);
  ASSERT_EQ(daemon.Stop(SIGTERM), 0) << daemon.Output();
  {
    // 31 days older than it is: past the default event_body_retention_days (30).
    SQLite::Database db(daemon.db_path(), SQLite::OPEN_READWRITE);
    db.exec(
        "UPDATE events SET updated_at_ms = updated_at_ms - 31 * 86400000 WHERE event_id = "
        "'msg_old'");
    // A vendor notification mapped long ago (stored as the connector stage leaves one).
    db.exec(
        "INSERT INTO vendor_notifications (source, event_id, state, body, events, next_at_ms, "
        "received_at_ms, updated_at_ms) VALUES ('bamboohr', 'n-old', 'mapped', "
        "'{\"notification\":{},\"record\":{\"id\":\"7\"}}', 1, 0, 1000, 1000)");
    // Two Auth0 writes done by an earlier run: one long ago (the retention deletes it), one now.
    db.exec(
        "INSERT INTO mutations (entity, kind, state, created_at_ms, updated_at_ms) VALUES "
        "('user:old', 'create_user', 'done', 1000, 1000), ('user:new', 'create_user', 'done', "
        "strftime('%s','now') * 1000, strftime('%s','now') * 1000)");
  }
  ASSERT_TRUE(daemon.Start()) << daemon.Output();
  // The first pass runs right after start-up.
  Json status;
  ASSERT_TRUE(testing::WaitFor([&] {
    status = daemon.AdminGet("/v1/status").Json();
    return status.contains("retention") && status["retention"]["last_compaction"].is_object();
  })) << status.dump();
  EXPECT_EQ(status["retention"]["last_compaction"]["rows"]["event_bodies"], 1) << status.dump();
  EXPECT_EQ(status["retention"]["event_body_retention_days"], 30);
  EXPECT_EQ(status["events"]["rejected"], 2);  // both rows are still there
  EXPECT_EQ(status["retention"]["last_compaction"]["rows"]["mutations"], 1) << status.dump();
  EXPECT_EQ(status["mutations"]["done"], 1) << "the rows kept: " << status.dump();
  // Progress counts writes done since start, which a compaction never takes back: `tenantsync
  // wait` reads a drop as writes going backwards.
  EXPECT_EQ(status["progress"]["mutations_done_total"], 0) << status.dump();

  auto old = daemon.AdminGet("/v1/events/msg_old");
  ASSERT_EQ(old.status, 200) << old.body;
  const Json e = old.Json();
  EXPECT_TRUE(e["body"].is_null()) << old.body;
  EXPECT_TRUE(e["compacted_at_ms"].is_number()) << old.body;
  EXPECT_NE(e["body_removed"].get<std::string>().find("event_body_retention_days"),
            std::string::npos)
      << old.body;
  EXPECT_EQ(e["state"], "rejected");
  EXPECT_TRUE(e["error"].is_string()) << old.body;  // why it was rejected stays

  auto replay = daemon.AdminPost("/v1/events/msg_old/replay");
  EXPECT_EQ(replay.status, 410) << replay.body;
  EXPECT_NE(replay.body.find("event_body_retention_days"), std::string::npos) << replay.body;

  // Dedup is permanent: the sender redelivering it is told it is a duplicate.
  auto again = daemon.PostEvent("hr", "msg_old", InvalidOrg("acme"));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_NE(again.body.find("duplicate"), std::string::npos) << again.body;

  EXPECT_EQ(status["retention"]["last_compaction"]["rows"]["vendor_bodies"], 1) << status.dump();
  auto vendor = daemon.AdminGet("/v1/vendor-notifications/bamboohr/n-old");
  ASSERT_EQ(vendor.status, 200) << vendor.body;
  EXPECT_TRUE(vendor.Json()["stored"].is_null()) << vendor.body;
  EXPECT_NE(vendor.body.find("event_body_retention_days"), std::string::npos) << vendor.body;

  // The recent one keeps its body.
  auto recent = daemon.AdminGet("/v1/events/msg_new").Json();
  EXPECT_TRUE(recent["body"].is_object()) << recent.dump();
  EXPECT_TRUE(recent["compacted_at_ms"].is_null());

  auto metrics = daemon.AdminGet("/metrics");
  EXPECT_NE(metrics.body.find("tenantsync_compacted_rows_total{kind=\"event_bodies\"} 1"),
            std::string::npos)
      << metrics.body;
}

}  // namespace
}  // namespace tenantsync
