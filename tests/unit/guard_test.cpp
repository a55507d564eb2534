#include "daemon/guard.h"

#include <gtest/gtest.h>

#include <future>

#include "tests/support/fake_clock.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

class GuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StorageOptions o;
    o.path = testing::MakeTempDir("guard-test") + "/g.db";
    path_ = o.path;
    store_ = std::move(SqliteStore::Open(o).value());
  }
  Guard::Decision Check(Guard& g, const std::string& entity) {
    auto d =
        g.Check(entity, "patch_user", {{"blocked", true}}, nlohmann::json::array({"hr/" + entity}));
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return *d;
  }
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
  FakeClock clock_;
  GuardOptions options_{3, 0.0, 600};
};

TEST_F(GuardTest, TripsBeyondTheLimitAndHoldsEverythingDestructiveAfter) {
  Guard g(*store_, clock_, options_);
  EXPECT_EQ(Check(g, "user:a"), Guard::Decision::kAllow);
  EXPECT_EQ(Check(g, "user:b"), Guard::Decision::kAllow);
  EXPECT_EQ(Check(g, "user:c"), Guard::Decision::kAllow);
  EXPECT_FALSE(g.tripped());
  EXPECT_EQ(Check(g, "user:d"), Guard::Decision::kHold);
  EXPECT_TRUE(g.tripped());
  // Even after the window empties, a tripped guard holds until an operator decides.
  clock_.Advance(std::chrono::seconds(3600));
  EXPECT_EQ(Check(g, "user:e"), Guard::Decision::kHold);
  auto s = g.StatusJson();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)["held"]["total"], 2);
  EXPECT_EQ((*s)["held"]["by_kind"]["patch_user"], 2);
  EXPECT_EQ((*s)["held"]["examples"][0]["entity"], "user:d");
}

TEST_F(GuardTest, WindowSlides) {
  Guard g(*store_, clock_, options_);
  for (auto e : {"user:a", "user:b", "user:c"}) EXPECT_EQ(Check(g, e), Guard::Decision::kAllow);
  clock_.Advance(std::chrono::seconds(601));
  EXPECT_EQ(Check(g, "user:d"), Guard::Decision::kAllow)
      << "old destructive writes left the window";
}

TEST_F(GuardTest, TrippedStateSurvivesARestart) {
  {
    Guard g(*store_, clock_, options_);
    for (auto e : {"user:a", "user:b", "user:c", "user:d"}) Check(g, e);
    ASSERT_TRUE(g.tripped());
  }
  store_.reset();
  StorageOptions o;
  o.path = path_;
  store_ = std::move(SqliteStore::Open(o).value());
  Guard again(*store_, clock_, options_);
  EXPECT_TRUE(again.tripped());
  EXPECT_EQ(Check(again, "user:x"), Guard::Decision::kHold);
}

TEST_F(GuardTest, ApproveReleasesEveryDestructiveStepOfHeldEntitiesForOneWindow) {
  Guard g(*store_, clock_, options_);
  for (auto e : {"user:a", "user:b", "user:c", "user:d", "user:e"}) Check(g, e);
  auto released = g.Approve();
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(*released, (std::vector<std::string>{"user:d", "user:e"}));
  EXPECT_FALSE(g.tripped());
  EXPECT_EQ(Check(g, "user:d"), Guard::Decision::kAllow);
  // The approved leaver's next destructive step (e.g. revoking sessions) passes too.
  EXPECT_EQ(*g.Check("user:d", "revoke_sessions", {}, nlohmann::json::array()),
            Guard::Decision::kAllow);
  auto due = store_->DueDirty(clock_.NowUnixMillis(), 10);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->size(), 2u) << "released entities are re-planned";
}

TEST_F(GuardTest, RejectDiscardsAndRecordsHeldWork) {
  Guard g(*store_, clock_, options_);
  for (auto e : {"user:a", "user:b", "user:c", "user:d", "user:e"}) Check(g, e);
  auto n = g.Reject();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  EXPECT_FALSE(g.tripped());
  SqliteStore::MutationFilter f;
  f.state = MutationState::kDiscarded;
  auto rows = store_->ListMutations(f);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_NE(rows->front().last_error.find("rejected by an operator"), std::string::npos);
  EXPECT_TRUE(g.StatusJson()->at("held")["total"] == 0);
}

TEST_F(GuardTest, ABurstOfDestructiveEventsTripsBeforeAnyIsSent) {
  Guard g(*store_, clock_, options_);
  ASSERT_TRUE(g.Anticipate(3).ok());
  EXPECT_FALSE(g.tripped()) << "three fit the limit of three";
  ASSERT_TRUE(g.Anticipate(4).ok());
  EXPECT_TRUE(g.tripped());
  EXPECT_EQ(Check(g, "user:a"), Guard::Decision::kHold);
}

TEST_F(GuardTest, DestructiveEventsArrivingWithinTheSettleTimeAreOneBurst) {
  options_.settle_ms = 2000;
  Guard g(*store_, clock_, options_);
  ASSERT_TRUE(g.Anticipate(2).ok());
  clock_.Advance(std::chrono::milliseconds(2500));  // the first two have settled: a new burst
  ASSERT_TRUE(g.Anticipate(2).ok());
  EXPECT_FALSE(g.tripped()) << "two, then two more 2.5 s later, each fit the limit of three";
  clock_.Advance(std::chrono::milliseconds(1500));
  ASSERT_TRUE(g.Anticipate(2).ok());
  EXPECT_TRUE(g.tripped()) << "two and two within 1.5 s are one burst of four";
  EXPECT_EQ(Check(g, "user:a"), Guard::Decision::kHold);
}

TEST_F(GuardTest, FractionOfManagedUsersRaisesTheLimit) {
  // 100 managed users × 0.05 = 5 > max_destructive 3.
  {
    auto txn = store_->BeginState();
    for (int i = 0; i < 100; ++i) {
      EntityRow r;
      r.kind = EntityKind::kUser;
      r.external_id = "u" + std::to_string(i);
      r.auth0_id = "auth0|" + std::to_string(i);
      ASSERT_TRUE((*txn)->PutEntity(r, 0).ok());
    }
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  Guard g(*store_, clock_, GuardOptions{3, 0.05, 600});
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(Check(g, "user:u" + std::to_string(i)), Guard::Decision::kAllow);
  EXPECT_EQ(Check(g, "user:u5"), Guard::Decision::kHold);
}

TEST_F(GuardTest, StatusAnswersWhileTheWriterHoldsItsTransaction) {
  Guard g(*store_, clock_, options_);
  EXPECT_EQ(Check(g, "user:a"), Guard::Decision::kAllow);
  auto writing = store_->BeginState();  // the writer planning an import of 100,000 users, say
  ASSERT_TRUE(writing.ok());
  auto status = std::async(std::launch::async, [&] { return g.StatusJson(); });
  // Only detects a status stuck behind the write lock; nothing is timed.
  const bool answered = status.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  writing->reset();
  ASSERT_TRUE(answered) << "guard status waited for the writer's transaction";
  auto s = status.get();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)["destructive_in_window"], 1);
  EXPECT_EQ((*s)["limit"], 3);
}

}  // namespace
}  // namespace tenantsync
