// Retention (storage/retention.h, daemon/retention.h): the cutoffs, what one compaction pass
// removes and what it must keep, in bounded batches, on a fake clock.
#include "daemon/retention.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <random>
#include <vector>

#include "storage/sqlite_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

constexpr int64_t kDayMs = 86400000;

TEST(CompactionCutoff, EachKindUsesItsRetentionAndZeroKeepsForever) {
  RetentionOptions o;
  o.event_body_retention_days = 30;
  o.mutation_retention_days = 90;
  const int64_t now = 1000 * kDayMs;
  struct Case {
    CompactionKind kind;
    std::optional<int64_t> want;
  };
  for (const Case& c : std::vector<Case>{{CompactionKind::kEventBodies, now - 30 * kDayMs},
                                         {CompactionKind::kVendorBodies, now - 30 * kDayMs},
                                         {CompactionKind::kMutations, now - 90 * kDayMs},
                                         {CompactionKind::kCommands, now - 90 * kDayMs},
                                         {CompactionKind::kImportUsers, now - 90 * kDayMs}}) {
    EXPECT_EQ(CompactionCutoff(o, c.kind, now), c.want) << CompactionKindName(c.kind);
  }
  o.event_body_retention_days = 0;
  o.mutation_retention_days = 0;
  for (CompactionKind k : kCompactionKinds)
    EXPECT_EQ(CompactionCutoff(o, k, now), std::nullopt) << CompactionKindName(k);
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.path = testing::MakeTempDir("retention-test") + "/t.db";
    options_.clock = &clock_;
    auto opened = SqliteStore::Open(options_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    db_ = std::make_unique<SQLite::Database>(options_.path, SQLite::OPEN_READWRITE);
    db_->setBusyTimeout(5000);
  }
  int64_t Now() const { return clock_.NowUnixMillis(); }
  int64_t DaysAgo(int days) const { return Now() - days * kDayMs; }

  // An event in `state`, last updated `updated_ms`.
  void AddEvent(const std::string& id, const std::string& state, int64_t updated_ms) {
    EventRecord e;
    e.source = "hr";
    e.event_id = id;
    e.type = "user.upserted";
    e.received_at_ms = updated_ms;
    e.body = R"({"type":"user.upserted","id":")" + id + "\"}";
    // Stored in its state, as ingress stores a rejected event: moving rows from pending to applied
    // behind the store's back would bypass the count it keeps (migrations/0015).
    e.state = *ParseEventState(state);
    ASSERT_TRUE(store_->InsertEvents({e}).ok());
    SQLite::Statement q(*db_,
                        "UPDATE events SET updated_at_ms = ?, error = CASE WHEN ? = "
                        "'rejected' THEN 'bad email' END WHERE event_id = ?");
    q.bind(1, static_cast<int64_t>(updated_ms));
    q.bind(2, state);
    q.bind(3, id);
    q.exec();
  }
  void AddMutation(const std::string& entity, const std::string& state, int64_t updated_ms) {
    SQLite::Statement q(*db_,
                        "INSERT INTO mutations (entity, kind, state, created_at_ms, updated_at_ms) "
                        "VALUES (?, 'patch_user', ?, ?, ?)");
    q.bind(1, entity);
    q.bind(2, state);
    q.bind(3, static_cast<int64_t>(updated_ms));
    q.bind(4, static_cast<int64_t>(updated_ms));
    q.exec();
  }
  std::string Body(const std::string& id) {
    SQLite::Statement q(*db_, "SELECT body FROM events WHERE event_id = ?");
    q.bind(1, id);
    return q.executeStep() ? q.getColumn(0).getString() : "(no row)";
  }
  std::vector<std::string> MutationEntities() {
    std::vector<std::string> out;
    SQLite::Statement q(*db_, "SELECT entity FROM mutations ORDER BY id");
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
  }
  Compactor MakeCompactor(RetentionOptions r, std::vector<int64_t>* batches = nullptr) {
    return Compactor(*store_, clock_, r, std::chrono::milliseconds(0),
                     [batches](CompactionKind, int64_t n) {
                       if (batches) batches->push_back(n);
                     });
  }

  FakeClock clock_;
  StorageOptions options_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<SQLite::Database> db_;
};

TEST_F(RetentionTest, OldAppliedAndRejectedEventsLoseTheirBodyButStayDuplicates) {
  AddEvent("old-applied", "applied", DaysAgo(31));
  AddEvent("old-rejected", "rejected", DaysAgo(40));
  AddEvent("old-failed", "failed", DaysAgo(400));
  AddEvent("old-pending", "pending", DaysAgo(400));
  AddEvent("recent-applied", "applied", DaysAgo(29));
  RetentionOptions r;
  r.event_body_retention_days = 30;
  auto pass = MakeCompactor(r).RunPass();
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_EQ((*pass)[CompactionKind::kEventBodies], 2);

  EXPECT_EQ(Body("old-applied"), "");
  EXPECT_EQ(Body("old-rejected"), "");
  // Work an operator must act on, or not done yet, keeps everything.
  EXPECT_NE(Body("old-failed"), "");
  EXPECT_NE(Body("old-pending"), "");
  EXPECT_NE(Body("recent-applied"), "");

  EventFilter f;
  f.event_id = "old-rejected";
  auto listed = store_->ListEvents(f);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const EventRecord& e = listed->front();
  EXPECT_EQ(e.compacted_at_ms, Now());
  EXPECT_EQ(e.state, EventState::kRejected);
  EXPECT_EQ(e.error, "bad email");  // why it was rejected stays
  EXPECT_EQ(e.type, "user.upserted");

  // Dedup is permanent: a redelivery of a compacted event is still a duplicate.
  EventRecord again;
  again.source = "hr";
  again.event_id = "old-applied";
  again.received_at_ms = Now();
  again.body = "{}";
  auto outcome = store_->InsertEvents({again});
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->front(), InsertOutcome::kDuplicate);
  EXPECT_EQ(Body("old-applied"), "");
}

TEST_F(RetentionTest, FinishedMutationsAreDeletedDeadLettersAndOpenWorkStay) {
  for (auto state : {"done", "superseded", "discarded", "failed", "dead", "pending", "in_flight"})
    AddMutation(std::string("old-") + state, state, DaysAgo(91));
  AddMutation("recent-done", "done", DaysAgo(89));
  RetentionOptions r;
  r.mutation_retention_days = 90;
  auto pass = MakeCompactor(r).RunPass();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ((*pass)[CompactionKind::kMutations], 3);
  EXPECT_EQ(MutationEntities(), (std::vector<std::string>{"old-failed", "old-dead", "old-pending",
                                                          "old-in_flight", "recent-done"}));
}

TEST_F(RetentionTest, CommandsImportRecordsAndVendorBodiesFollowTheirRetention) {
  db_->exec(
      "INSERT INTO commands (kind, user_external_id, event, state, created_at_ms, updated_at_ms) "
      "VALUES ('password_reset', 'u1', 'hr/a', 'done', 0, 0), "
      "('password_reset', 'u1', 'hr/b', 'skipped', 0, 0), "
      "('password_reset', 'u1', 'hr/c', 'dead', 0, 0), "
      "('password_reset', 'u1', 'hr/d', 'pending', 0, 0)");
  db_->exec(
      "INSERT INTO import_jobs (id, connection, state, created_at_ms, updated_at_ms) VALUES "
      "(1, 'db', 'completed', 0, 0), (2, 'db', 'sent', 0, 0)");
  db_->exec(
      "INSERT INTO import_job_users (job, user_external_id, import_user_id, record) VALUES "
      "(1, 'u1', 'i1', '{}'), (1, 'u2', 'i2', '{}'), (2, 'u3', 'i3', '{}')");
  db_->exec(
      "INSERT INTO vendor_notifications (source, event_id, state, body, next_at_ms, "
      "received_at_ms, updated_at_ms) VALUES "
      "('bamboo', 'n1', 'mapped', '{\"record\":1}', 0, 0, 0), "
      "('bamboo', 'n2', 'failed', '{\"record\":2}', 0, 0, 0), "
      "('bamboo', 'n3', 'pending', '{\"record\":3}', 0, 0, 0)");
  RetentionOptions r;
  r.event_body_retention_days = 30;
  r.mutation_retention_days = 90;
  auto pass = MakeCompactor(r).RunPass();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ((*pass)[CompactionKind::kCommands], 2);
  EXPECT_EQ((*pass)[CompactionKind::kImportUsers], 2);
  EXPECT_EQ((*pass)[CompactionKind::kVendorBodies], 1);
  EXPECT_EQ(db_->execAndGet("SELECT group_concat(state) FROM (SELECT state FROM commands ORDER "
                            "BY id)")
                .getString(),
            "dead,pending");
  // The open job keeps its users (crash recovery looks them up); the finished job row stays.
  EXPECT_EQ(
      db_->execAndGet("SELECT group_concat(user_external_id) FROM import_job_users").getString(),
      "u3");
  EXPECT_EQ(db_->execAndGet("SELECT COUNT(*) FROM import_jobs").getInt(), 2);
  EXPECT_EQ(db_->execAndGet("SELECT group_concat(event_id) FROM (SELECT event_id FROM "
                            "vendor_notifications WHERE body = '' ORDER BY event_id)")
                .getString(),
            "n1");
  EXPECT_EQ(db_->execAndGet("SELECT COUNT(*) FROM vendor_notifications").getInt(), 3);
}

TEST_F(RetentionTest, APassWorksInBatchesAndTheNextCompactsNothingNew) {
  for (int i = 0; i < 25; ++i) AddEvent("e" + std::to_string(i), "applied", DaysAgo(60));
  RetentionOptions r;
  r.event_body_retention_days = 30;
  r.compaction_batch_rows = 10;
  std::vector<int64_t> batches;
  Compactor c = MakeCompactor(r, &batches);
  auto pass = c.RunPass();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->Total(), 25);
  EXPECT_EQ(batches, (std::vector<int64_t>{10, 10, 5}));
  auto again = c.RunPass();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Total(), 0);
  const auto status = c.StatusJson();
  EXPECT_EQ(status["last_compaction"]["rows"]["event_bodies"], 0);
  EXPECT_EQ(status["compacted_since_start"]["event_bodies"], 25);
  EXPECT_EQ(status["event_body_retention_days"], 30);
}

TEST_F(RetentionTest, RowsAgePastTheCutoffAsTheClockMoves) {
  AddEvent("e", "applied", Now());
  AddMutation("m", "done", Now());
  RetentionOptions r;
  r.event_body_retention_days = 30;
  r.mutation_retention_days = 90;
  Compactor c = MakeCompactor(r);
  EXPECT_EQ(c.RunPass()->Total(), 0);
  clock_.Advance(std::chrono::hours(24 * 30) + std::chrono::milliseconds(1));
  auto at30 = c.RunPass();
  EXPECT_EQ((*at30)[CompactionKind::kEventBodies], 1);
  EXPECT_EQ((*at30)[CompactionKind::kMutations], 0);
  clock_.Advance(std::chrono::hours(24 * 60));
  EXPECT_EQ((*c.RunPass())[CompactionKind::kMutations], 1);
}

TEST_F(RetentionTest, ZeroRetentionKeepsEverythingAndZeroIntervalNeverRuns) {
  AddEvent("e", "applied", DaysAgo(3000));
  AddMutation("m", "done", DaysAgo(3000));
  RetentionOptions r;
  r.event_body_retention_days = 0;
  r.mutation_retention_days = 0;
  EXPECT_EQ(MakeCompactor(r).RunPass()->Total(), 0);
  EXPECT_NE(Body("e"), "");
  r.compaction_interval_seconds = 0;
  EXPECT_FALSE(MakeCompactor(r).Due());
}

TEST_F(RetentionTest, DueOncePerIntervalOnTheInjectedClock) {
  RetentionOptions r;
  r.compaction_interval_seconds = 3600;
  Compactor c = MakeCompactor(r);
  EXPECT_TRUE(c.Due());  // never ran
  ASSERT_TRUE(c.RunPass().ok());
  EXPECT_FALSE(c.Due());
  clock_.Advance(std::chrono::seconds(3599));
  EXPECT_FALSE(c.Due());
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(c.Due());
}

// The per-state counts status reads (state_counts: kept by the store's inserts and state changes
// — migrations 0014, 0015, 0018 — and by triggers on deletes) always equal a count of the rows,
// whatever mix of inserts (single, batched, redelivered), state changes, compaction and deletes
// happened (fixed seed).
TEST_F(RetentionTest, StateCountsFollowEveryChange) {
  std::mt19937 rng(17);
  const std::vector<std::string> states = {"pending", "in_flight", "done",      "failed",
                                           "dead",    "discarded", "superseded"};
  const std::vector<std::string> event_states = {"pending", "applied", "rejected", "failed"};
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  // The writer's and the operators' changes of event state, through the store's own statements.
  auto random_events = [&](const char* state, int limit) {
    std::vector<int64_t> seqs;
    SQLite::Statement q(*db_, "SELECT seq FROM events WHERE state = ? ORDER BY random() LIMIT ?");
    q.bind(1, state);
    q.bind(2, limit);
    while (q.executeStep()) seqs.push_back(q.getColumn(0).getInt64());
    return seqs;
  };
  for (int i = 0; i < 600; ++i) {
    switch (rng() % 7) {
      case 5: {
        // Folded: a batch marked applied at once, with a seq that is not pending among them.
        auto txn = store_->BeginState();
        ASSERT_TRUE(txn.ok());
        auto seqs = random_events("pending", 1 + static_cast<int>(rng() % 6));
        for (int64_t seq : random_events(rng() % 2 ? "failed" : "rejected", 1)) seqs.push_back(seq);
        ASSERT_TRUE((*txn)->SetEventsApplied(seqs, DaysAgo(0)).ok());
        ASSERT_TRUE((*txn)->Commit().ok());
        break;
      }
      case 6: {
        // One event to failed (the writer), to pending (an operator's replay) or to applied.
        auto txn = store_->BeginState();
        ASSERT_TRUE(txn.ok());
        const EventState to =
            std::array{EventState::kFailed, EventState::kPending, EventState::kApplied}[rng() % 3];
        for (int64_t seq : random_events(pick(event_states).c_str(), 1)) {
          ASSERT_TRUE((*txn)->SetEventState(seq, to, "", DaysAgo(0)).ok());
        }
        ASSERT_TRUE((*txn)->Commit().ok());
        break;
      }
      case 0:
        AddMutation("user:u" + std::to_string(i), pick(states), DaysAgo(rng() % 200));
        break;
      case 1: {
        SQLite::Statement q(*db_,
                            "UPDATE mutations SET state = ? WHERE id = (SELECT id FROM mutations "
                            "ORDER BY random() LIMIT 1)");
        q.bind(1, pick(states));
        q.exec();
        break;
      }
      case 2:
        if (rng() % 2 == 0) {
          AddEvent("e" + std::to_string(i), pick(event_states), DaysAgo(rng() % 60));
        } else {
          // Stored in its final state at once (a rejected delivery is), in one commit with a
          // redelivery of an event already stored, which must not count again.
          EventRecord e;
          e.source = "hr";
          e.event_id = "e" + std::to_string(i);
          e.type = "user.upserted";
          e.state = *ParseEventState(pick(event_states));
          e.received_at_ms = DaysAgo(rng() % 60);
          e.body = "{}";
          EventRecord again = e;
          again.event_id = "e" + std::to_string(rng() % (i + 1));
          ASSERT_TRUE(store_->InsertEvents({e, again}).ok());
        }
        break;
      case 3:
        db_->exec("DELETE FROM mutations WHERE id = (SELECT id FROM mutations LIMIT 1)");
        break;
      case 4: {
        RetentionOptions r;
        r.compaction_batch_rows = 10;
        ASSERT_TRUE(MakeCompactor(r).RunPass().ok());
        break;
      }
    }
  }
  auto counted = [&](const char* table) {
    std::map<std::string, int64_t> out;
    SQLite::Statement q(*db_,
                        std::string("SELECT state, COUNT(*) FROM ") + table + " GROUP BY state");
    while (q.executeStep()) out[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
    return out;
  };
  auto events = store_->CountEventsByState();
  auto mutations = store_->CountMutationsByState();
  ASSERT_TRUE(events.ok() && mutations.ok());
  EXPECT_EQ(*events, counted("events"));
  EXPECT_EQ(*mutations, counted("mutations"));
  EXPECT_FALSE(mutations->empty());
}

}  // namespace
}  // namespace tenantsync
