// Durability under SIGKILL: every event that got a 2xx is stored exactly once after a restart
// (resending it answers `duplicate`), and nothing that was refused is stored.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/daemon_fixture.h"

namespace tenantsync::testing {
namespace {

TEST(CrashTest, AcknowledgedEventsSurviveSigkill) {
  TestDaemon daemon;
  std::set<std::string> acknowledged, refused;
  std::mutex mu;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(daemon.Start()) << daemon.Output();
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (int t = 0; t < 8; ++t) {
      senders.emplace_back([&, t] {
        TestHttpClient c("127.0.0.1", daemon.ingress_port(), 5);
        auto signing = daemon.Signing("hr");
        for (int i = 0; i < 5000 && !stop; ++i) {
          std::string id =
              "r" + std::to_string(round) + "-t" + std::to_string(t) + "-" + std::to_string(i);
          std::string body =
              EventBody("user.upserted", {{"external_id", id}, {"email", id + "@example.com"}});
          bool forge = i % 7 == 3;  // a forged delivery the daemon must refuse
          auto headers = SignDelivery(signing, id, std::time(nullptr), forge ? body + "x" : body);
          auto r = c.Post("/webhooks/hr", body, HeaderList(headers.begin(), headers.end()));
          std::lock_guard<std::mutex> lock(mu);
          if (r.status == 202) acknowledged.insert(id);
          if (r.status == 401) refused.insert(id);
          if (r.status == 0) break;  // the daemon died under us
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(400 + 200 * round));
    daemon.Stop(SIGKILL);
    stop = true;
    for (auto& s : senders) s.join();
  }
  ASSERT_GT(acknowledged.size(), 100u) << "the load should have produced acknowledged events";
  ASSERT_GT(refused.size(), 10u);

  {
    SQLite::Database db(daemon.db_path(), SQLite::OPEN_READONLY);
    SQLite::Statement q(db, "SELECT event_id, COUNT(*) FROM events GROUP BY event_id");
    std::set<std::string> stored;
    while (q.executeStep()) {
      EXPECT_EQ(q.getColumn(1).getInt(), 1) << q.getColumn(0).getString();
      stored.insert(q.getColumn(0).getString());
    }
    for (auto& id : acknowledged) EXPECT_TRUE(stored.count(id)) << "acknowledged but lost: " << id;
    for (auto& id : refused) EXPECT_FALSE(stored.count(id)) << "refused but stored: " << id;
  }

  ASSERT_TRUE(daemon.Start());
  int checked = 0;
  for (auto& id : acknowledged) {
    if (++checked > 50) break;
    auto r = daemon.PostEvent(
        "hr", id,
        EventBody("user.upserted", {{"external_id", id}, {"email", id + "@example.com"}}));
    EXPECT_EQ(r.status, 200) << id << " " << r.body;
  }
}

}  // namespace
}  // namespace tenantsync::testing
