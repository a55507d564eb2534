#include "storage/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "storage/group_commit.h"
#include "storage/migrations.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

EventRecord Event(const std::string& id, const std::string& source = "hr") {
  EventRecord e;
  e.source = source;
  e.event_id = id;
  e.type = "user.upserted";
  e.received_at_ms = 1000;
  e.body = "{}";
  return e;
}

StorageOptions TempDb() {
  StorageOptions o;
  o.path = testing::MakeTempDir("store-test") + "/t.db";
  return o;
}

TEST(Migrations, AppliedOnceAndRecorded) {
  auto o = TempDb();
  auto first = SqliteStore::Migrate(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->from_version, 0);
  EXPECT_EQ(first->applied.front(), "0001_inbox");
  auto second = SqliteStore::Migrate(o);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->applied.empty());
  SQLite::Database db(o.path);
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(),
            static_cast<int>(EmbeddedMigrations().size()));
}

TEST(Migrations, FailingMigrationIsRolledBackAlone) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  std::vector<Migration> ms = {{1, "good", "CREATE TABLE a(x);"},
                               {2, "bad", "CREATE TABLE b(x); THIS IS NOT SQL;"}};
  auto r = ApplyMigrations(db, ms);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("0002_bad"), std::string::npos) << r.status().message();
  EXPECT_TRUE(db.tableExists("a"));
  EXPECT_FALSE(db.tableExists("b"));
  EXPECT_EQ(*SchemaVersion(db), 1);
}

TEST(Migrations, NewerDatabaseIsRefused) {
  auto o = TempDb();
  ASSERT_TRUE(SqliteStore::Migrate(o).ok());
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 0)");
  }
  auto opened = SqliteStore::Open(o);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("newer"), std::string::npos) << opened.status().message();
}

TEST(SqliteStore, InsertIsIdempotentPerSourceAndId) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  auto r = (*store)->InsertEvents({Event("a"), Event("a"), Event("a", "crm")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0], InsertOutcome::kInserted);
  EXPECT_EQ((*r)[1], InsertOutcome::kDuplicate);
  EXPECT_EQ((*r)[2], InsertOutcome::kInserted);
  auto again = (*store)->InsertEvents({Event("a")});
  EXPECT_EQ((*again)[0], InsertOutcome::kDuplicate);
  auto counts = (*store)->CountEventsByState();
  EXPECT_EQ(counts->at("pending"), 2);
}

TEST(SqliteStore, UsesWalWithFullSync) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST(SqliteStore, BackupHoldsWhatWasStored) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE((*store)->InsertEvents({Event("x"), Event("y")}).ok());
  std::string copy = o.path + ".backup";
  ASSERT_TRUE((*store)->Backup(copy).ok());
  SQLite::Database db(copy, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM events").getInt(), 2);
}

TEST(GroupCommitter, ConcurrentInsertsShareCommits) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  GroupCommitter gc(**store);
  std::vector<std::thread> threads;
  std::atomic<int> inserted{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = gc.Insert(Event(std::to_string(t) + "-" + std::to_string(i)));
        if (r.ok() && *r == InsertOutcome::kInserted) ++inserted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(inserted, 800);
  EXPECT_LT(gc.commits(), 800u) << "16 concurrent writers should share fsyncs";
  EXPECT_EQ((*store)->CountEventsByState()->at("pending"), 800);
}

TEST(GroupCommitter, RefusesAfterStop) {
  auto store = SqliteStore::Open(TempDb());
  GroupCommitter gc(**store);
  gc.Stop();
  auto r = gc.Insert(Event("late"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
}

}  // namespace
}  // namespace tenantsync
