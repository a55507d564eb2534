#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include "storage/group_commit.h"
#include "storage/migrations.h"
#include "storage/sqlite_store.h"
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

// Four events, one per state, written with SQL as an older schema stores them: before/after
// rows of the migrations that rebuild `events`. 'd' has the highest seq.
constexpr const char* kEventsOfEveryState =
    "INSERT INTO events (source, event_id, type, received_at_ms, state, body, updated_at_ms, "
    "note, submitted_by) VALUES "
    "('hr', 'a', 'user.upserted', 1000, 'applied', '{\"a\":1}', 1001, 'held', NULL), "
    "('crm', 'b', NULL, 1002, 'rejected', 'not json', 1003, NULL, NULL), "
    "('console', 'c', 'user.deleted', 1004, 'pending', '{}', 1005, NULL, 'alice'), "
    "('hr', 'd', 'user.upserted', 1006, 'failed', '{}', 1007, NULL, NULL)";

// Every row `sql` returns, each as "col|col|...|" (NULL spelled out): before/after comparisons of
// a migration.
std::vector<std::string> Dump(SQLite::Database& db, const std::string& sql) {
  std::vector<std::string> rows;
  SQLite::Statement q(db, sql);
  while (q.executeStep()) {
    std::string row;
    for (int i = 0; i < q.getColumnCount(); ++i)
      row += (q.getColumn(i).isNull() ? "NULL" : q.getColumn(i).getString()) + "|";
    rows.push_back(row);
  }
  return rows;
}

// Dump of each query, in order: a database's contents before a migration rewrites its tables.
std::vector<std::vector<std::string>> DumpEach(SQLite::Database& db,
                                               const std::vector<std::string>& queries) {
  std::vector<std::vector<std::string>> out;
  for (const auto& q : queries) out.push_back(Dump(db, q));
  return out;
}

// Each query answers now what it answered before (DumpEach), named when it does not.
void ExpectRowsAsBefore(SQLite::Database& db, const std::vector<std::string>& queries,
                        const std::vector<std::vector<std::string>>& before) {
  ASSERT_EQ(before.size(), queries.size());
  for (size_t i = 0; i < queries.size(); ++i)
    EXPECT_EQ(Dump(db, queries[i]), before[i]) << queries[i];
}

// The embedded migrations up to and including `version`: a database of that schema, to upgrade.
std::vector<Migration> MigrationsUpTo(int version) {
  std::vector<Migration> out;
  for (const auto& m : EmbeddedMigrations())
    if (m.version <= version) out.push_back(m);
  return out;
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
  auto r = ApplyMigrations(db, ms, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("0002_bad"), std::string::npos) << r.status().message();
  EXPECT_TRUE(db.tableExists("a"));
  EXPECT_FALSE(db.tableExists("b"));
  EXPECT_EQ(*SchemaVersion(db), 1);
}

// A migration that runs for minutes must be able to say so while it runs (the daemon extends
// systemd's start-up timeout from it): the observer hears each migration's label before it
// starts and keeps hearing from inside a long statement, and nothing after the last one.
TEST(Migrations, TheObserverHearsEachMigrationAndKeepsHearingWhileALongOneRuns) {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  std::vector<std::string> heard;
  MigrationObserver observer;
  observer.starting = [&](const std::string& label) { heard.push_back(label); };
  observer.working = [&] { heard.push_back("working"); };
  std::vector<Migration> ms = {
      {1, "quick", "CREATE TABLE a(x);"},
      {2, "long",
       "CREATE TABLE b(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
       "WHERE i < 200000) INSERT INTO b SELECT i FROM n;"},
      {3, "last", "CREATE TABLE c(x);"}};
  auto r = ApplyMigrations(db, ms, 1, &observer);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto at = [&](const std::string& label) {
    return std::find(heard.begin(), heard.end(), label) - heard.begin();
  };
  ASSERT_LT(at("0001_quick"), at("0002_long"));
  ASSERT_LT(at("0002_long"), at("0003_last"));
  ASSERT_LT(at("0003_last"), static_cast<long>(heard.size()));
  const auto working_during_long =
      std::count(heard.begin() + at("0002_long"), heard.begin() + at("0003_last"), "working");
  EXPECT_GE(working_during_long, 10) << "200,000 rows inserted with few progress calls";

  // The connection keeps no progress handler once the migrations are done.
  const size_t before = heard.size();
  db.exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
      "INSERT INTO b SELECT i FROM n");
  EXPECT_EQ(heard.size(), before);
}

// Open and Migrate hand StorageOptions::migration_observer to the migrations they apply.
TEST(Migrations, OpenAndMigrateTellTheObserverOfStorageOptions) {
  std::vector<std::string> labels;
  MigrationObserver observer;
  observer.starting = [&](const std::string& label) { labels.push_back(label); };
  auto o = TempDb();
  o.migration_observer = &observer;
  ASSERT_TRUE(SqliteStore::Migrate(o).ok());
  ASSERT_EQ(labels.size(), EmbeddedMigrations().size());
  EXPECT_EQ(labels.front(), "0001_inbox");
  labels.clear();
  auto again = TempDb();
  again.migration_observer = &observer;
  ASSERT_TRUE(SqliteStore::Open(again).ok());
  EXPECT_EQ(labels.size(), EmbeddedMigrations().size());
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
  EXPECT_NE(opened.status().message().find("newer"), std::string::npos)
      << opened.status().message();
}

TEST(Migrations, PlannerStatesKeepEveryRowOfAVersion3Database) {
  auto o = TempDb();
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    std::vector<Migration> first3(EmbeddedMigrations().begin(), EmbeddedMigrations().begin() + 3);
    ASSERT_TRUE(ApplyMigrations(db, first3, 1).ok());
    db.exec(
        "INSERT INTO mutations (entity, kind, state, created_at_ms, updated_at_ms) VALUES "
        "('user:a', 'patch_user', 'failed', 5, 6)");
    db.exec(
        "INSERT INTO commands (kind, user_external_id, event, state, created_at_ms, updated_at_ms) "
        "VALUES ('password_reset', 'a', 'hr/1', 'pending', 5, 6)");
    db.exec("INSERT INTO dirty (entity) VALUES ('user:a')");
  }
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto rows = (*store)->ListMutations({});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().state, MutationState::kFailed);
  auto cmds = (*store)->ListCommands("a", 10);
  ASSERT_EQ(cmds->size(), 1u);
  EXPECT_EQ(cmds->front().state, CommandState::kPending);
  // The new states are accepted.
  auto txn = (*store)->BeginState();
  ASSERT_TRUE(txn.ok());
  EXPECT_TRUE((*txn)
                  ->UpdateCommand(cmds->front().id, CommandState::kSkipped,
                                  "not sent: user a has left", 1, 7)
                  .ok());
  EXPECT_TRUE((*txn)->SupersedeFailed("user:a").ok());
  ASSERT_TRUE((*txn)->Commit().ok());
  txn->reset();
  EXPECT_EQ((*store)->ListMutations({})->front().state, MutationState::kSuperseded);
  EXPECT_EQ((*store)->ListCommands("a", 10)->front().state, CommandState::kSkipped);
}

// Upgrading a version-13 database (the inbox with events_by_state, events_by_event_id and the
// insert count trigger): after 0014 every stored event is still found by state, by id alone and
// as due work, the counts carry on from what the old trigger counted, and new inserts add to them.
TEST(Migrations, AnInboxOfVersion13KeepsEveryEventFindableAndCounted) {
  auto o = TempDb();
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    const std::vector<Migration> first13 = MigrationsUpTo(13);
    ASSERT_EQ(first13.size(), 13u);
    ASSERT_TRUE(ApplyMigrations(db, first13, 1).ok());
    const char* rows[][3] = {{"hr", "a", "pending"},  {"hr", "b", "applied"},
                             {"crm", "b", "failed"},  {"hr", "c", "rejected"},
                             {"crm", "d", "pending"}, {"console", "e", "applied"}};
    for (const auto& r : rows) {
      SQLite::Statement q(
          db,
          "INSERT INTO events (source, event_id, type, received_at_ms, state, body, "
          "updated_at_ms) VALUES (?, ?, 'user.upserted', 1000, ?, '{}', 1000)");
      q.bind(1, r[0]);
      q.bind(2, r[1]);
      q.bind(3, r[2]);
      q.exec();
    }
  }
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto seqs_of = [&](const EventFilter& f) {
    std::vector<std::string> out;
    auto r = (*store)->ListEvents(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok())
      for (const auto& e : *r) out.push_back(e.source + "/" + e.event_id);
    return out;
  };
  using V = std::vector<std::string>;
  EventFilter f;
  f.state = EventState::kPending;
  EXPECT_EQ(seqs_of(f), (V{"hr/a", "crm/d"}));
  f.state = EventState::kFailed;
  EXPECT_EQ(seqs_of(f), (V{"crm/b"}));
  f.state = EventState::kRejected;
  EXPECT_EQ(seqs_of(f), (V{"hr/c"}));
  f.state = EventState::kApplied;
  EXPECT_EQ(seqs_of(f), (V{"hr/b", "console/e"}));
  f = EventFilter();
  f.event_id = "b";
  EXPECT_EQ(seqs_of(f), (V{"hr/b", "crm/b"}));
  auto due = (*store)->DueEvents(2000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ(due->back().source, "crm");
  ASSERT_TRUE((*store)->InsertEvents({Event("f"), Event("a")}).ok());  // "a" is a duplicate
  auto counts = (*store)->CountEventsByState();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{
                         {"applied", 2}, {"failed", 1}, {"pending", 3}, {"rejected", 1}}));
}

// SQLite codes a CHECK that lists more than two values (`state IN ('a', 'b', 'c')`) as a temporary
// table built again for every row written: a pager opened, filled and closed per stored event and
// per Auth0 write (migrations/0016_checks_compared_in_place.sql). No table of the schema may
// need one to insert or update a row.
TEST(Migrations, WritingARowOfAnyTableBuildsNoTemporaryTable) {
  auto o = TempDb();
  ASSERT_TRUE(SqliteStore::Migrate(o).ok());
  SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
  auto ephemeral_tables = [&](const std::string& sql) {
    int n = 0;
    SQLite::Statement q(db, "EXPLAIN " + sql);
    while (q.executeStep())
      if (q.getColumn(1).getString() == "OpenEphemeral") ++n;
    return n;
  };
  SQLite::Statement tables(db,
                           "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT "
                           "LIKE 'sqlite_%' ORDER BY name");
  int checked = 0;
  while (tables.executeStep()) {
    const std::string t = tables.getColumn(0).getString();
    std::string set;
    // Not the primary key: changing a row's key makes SQLite collect the keys first (one
    // temporary table per statement, not per row), which no store statement does.
    SQLite::Statement cols(db, "SELECT name FROM pragma_table_info(?) WHERE pk = 0");
    cols.bind(1, t);
    while (cols.executeStep()) {
      const std::string c = "\"" + cols.getColumn(0).getString() + "\"";
      set += (set.empty() ? "" : ", ") + c + " = " + c;
    }
    EXPECT_EQ(ephemeral_tables("INSERT INTO \"" + t + "\" DEFAULT VALUES"), 0) << t << ": insert";
    // One row, as the store updates them: a statement over many rows of a table with triggers
    // collects their ids first in a temporary table, once per statement, not per row.
    if (!set.empty()) {
      EXPECT_EQ(ephemeral_tables("UPDATE \"" + t + "\" SET " + set + " WHERE rowid = 1"), 0)
          << t << ": update";
    }
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

// Version 17 counts the users already managed when it is applied (a live tenant upgrading).
TEST(Migrations, Version17CountsTheUsersAlreadyManaged) {
  auto o = TempDb();
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    const std::vector<Migration> first16 = MigrationsUpTo(16);
    ASSERT_TRUE(ApplyMigrations(db, first16, 1).ok());
    db.exec(
        "INSERT INTO entities (kind, external_id, auth0_id, updated_at_ms) VALUES "
        "('user', 'a', 'auth0|a', 1), ('user', 'b', NULL, 1), ('org', 'o', 'org_o', 1), "
        "('user', 'c', 'auth0|c', 1)");
  }
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto txn = (*store)->BeginRead();
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ(*(*txn)->CountManagedUsers(), 2);
}

// The managed-user count the guard's limit is a fraction of stays equal to counting the rows,
// through random creations, Auth0 ids set and cleared, kinds, upserts that change nothing and
// deletions (property test, fixed seed).
TEST(SqliteStore, ManagedUsersCountStaysEqualToTheRowsThroughRandomWrites) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  SQLite::Database check(o.path, SQLite::OPEN_READWRITE);
  std::mt19937 rng(17);
  for (int round = 0; round < 40; ++round) {
    {
      auto txn = (*store)->BeginState();
      ASSERT_TRUE(txn.ok());
      for (int i = 0; i < 25; ++i) {
        EntityRow row;
        row.kind = rng() % 4 == 0 ? EntityKind::kOrganization : EntityKind::kUser;
        row.external_id = "e" + std::to_string(rng() % 60);
        if (rng() % 3 != 0) row.auth0_id = "id|" + row.external_id;
        if (rng() % 3 == 0) {
          // The writer's fold: desired state only, new rows included.
          ASSERT_TRUE((*txn)->PutDesired(row.kind, row.external_id, {{"n", i}}, round).ok());
        } else {
          ASSERT_TRUE((*txn)->PutEntity(row, round).ok());
        }
      }
      ASSERT_TRUE((*txn)->Commit().ok());
    }
    if (round % 5 == 4) {
      SQLite::Statement del(check, "DELETE FROM entities WHERE external_id = ?");
      del.bind(1, "e" + std::to_string(rng() % 60));
      del.exec();
    }
    const int64_t rows = check
                             .execAndGet(
                                 "SELECT COUNT(*) FROM entities WHERE kind = 'user' AND "
                                 "auth0_id IS NOT NULL")
                             .getInt64();
    auto txn = (*store)->BeginRead();
    ASSERT_TRUE(txn.ok());
    ASSERT_EQ(*(*txn)->CountManagedUsers(), rows) << "round " << round;
  }
}

// PutDesired (the writer's fold) writes the desired state and nothing else: an entity's known
// state and Auth0 id stay, and a new entity starts unknown and unmanaged.
TEST(SqliteStore, PutDesiredLeavesKnownStateAndAuth0IdAsTheyAre) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE(txn.ok());
    EntityRow row;
    row.kind = EntityKind::kUser;
    row.external_id = "e1";
    row.desired = {{"email", "old@x.co"}};
    row.known = {{"email", "known@x.co"}};
    row.auth0_id = "auth0|1";
    ASSERT_TRUE((*txn)->PutEntity(row, 1).ok());
    ASSERT_TRUE((*txn)->PutDesired(EntityKind::kUser, "e1", {{"email", "new@x.co"}}, 2).ok());
    ASSERT_TRUE((*txn)->PutDesired(EntityKind::kUser, "e2", {{"email", "e2@x.co"}}, 3).ok());
    ASSERT_TRUE((*txn)->PutDesired(EntityKind::kOrganization, "e1", {{"name", "E"}}, 4).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto txn = (*store)->BeginRead();
  ASSERT_TRUE(txn.ok());
  auto e1 = (*txn)->GetEntity(EntityKind::kUser, "e1");
  ASSERT_TRUE(e1.ok());
  EXPECT_EQ(e1->desired, (nlohmann::json{{"email", "new@x.co"}}));
  EXPECT_EQ(e1->known, (nlohmann::json{{"email", "known@x.co"}}));
  EXPECT_EQ(e1->auth0_id, "auth0|1");
  auto e2 = (*txn)->GetEntity(EntityKind::kUser, "e2");
  ASSERT_TRUE(e2.ok() && e2->exists);
  EXPECT_EQ(e2->known, nlohmann::json::object());
  EXPECT_EQ(e2->auth0_id, std::nullopt);
  auto org = (*txn)->GetEntity(EntityKind::kOrganization, "e1");
  ASSERT_TRUE(org.ok() && org->exists);  // the kind is part of the key
  EXPECT_EQ(org->desired, (nlohmann::json{{"name", "E"}}));
  EXPECT_EQ(*(*txn)->CountManagedUsers(), 1);
}

// The fold reads an entity's desired state alone (GetDesired): for any stored row it is what
// GetEntity reads, including the empty object GetEntity falls back to for a column that does not
// parse, and an unknown entity does not exist for either.
TEST(StateTxn, GetDesiredReadsTheDesiredStateGetEntityReads) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  std::mt19937 rng(1313);
  auto random_doc = [&](int depth, auto&& self) -> nlohmann::json {
    switch (rng() % (depth > 2 ? 4 : 6)) {
      case 0:
        return nullptr;
      case 1:
        return static_cast<int64_t>(rng()) - (int64_t{1} << 31);
      case 2:
        return std::string(rng() % 20, static_cast<char>('a' + rng() % 26)) + "\"\\\u00e9";
      case 3:
        return rng() % 2 == 0;
      case 4: {
        nlohmann::json a = nlohmann::json::array();
        for (unsigned i = rng() % 4; i > 0; --i) a.push_back(self(depth + 1, self));
        return a;
      }
      default: {
        nlohmann::json obj = nlohmann::json::object();
        for (unsigned i = rng() % 5; i > 0; --i)
          obj["k" + std::to_string(rng() % 9)] = self(depth + 1, self);
        return obj;
      }
    }
  };
  std::vector<std::pair<EntityKind, std::string>> keys;
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE(txn.ok());
    for (int i = 0; i < 60; ++i) {
      EntityRow row;
      row.kind = i % 3 == 0 ? EntityKind::kOrganization : EntityKind::kUser;
      row.external_id = "e" + std::to_string(i);
      row.desired = nlohmann::json::object();
      for (unsigned f = rng() % 6; f > 0; --f)
        row.desired["f" + std::to_string(rng() % 12)] = random_doc(0, random_doc);
      row.known = random_doc(0, random_doc);
      if (i % 4 == 0) row.auth0_id = "auth0|" + std::to_string(i);
      ASSERT_TRUE((*txn)->PutEntity(row, i).ok());
      keys.emplace_back(row.kind, row.external_id);
    }
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  {
    // Text no parser accepts, written around the store (an older build, a hand edit).
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE entities SET desired = '{\"f1\": [1,' WHERE external_id = 'e7'");
    db.exec("UPDATE entities SET desired = '' WHERE external_id = 'e8'");
  }
  keys.emplace_back(EntityKind::kUser, "nobody");
  keys.emplace_back(EntityKind::kOrganization, "e1");  // e1 is a user: the kind is in the key
  auto txn = (*store)->BeginState();
  ASSERT_TRUE(txn.ok());
  for (const auto& [kind, id] : keys) {
    SCOPED_TRACE(id);
    auto whole = (*txn)->GetEntity(kind, id);
    auto desired = (*txn)->GetDesired(kind, id);
    ASSERT_TRUE(whole.ok() && desired.ok());
    EXPECT_EQ(desired->exists, whole->exists);
    EXPECT_EQ(desired->kind, kind);
    EXPECT_EQ(desired->external_id, id);
    EXPECT_EQ(desired->desired, whole->desired);
  }
  EXPECT_EQ((*txn)->GetDesired(EntityKind::kUser, "e7")->desired, nlohmann::json::object());
  EXPECT_FALSE((*txn)->GetDesired(EntityKind::kUser, "nobody")->exists);
  EXPECT_TRUE((*txn)->GetDesired(EntityKind::kUser, "e2")->exists);
}

// PutDesired of a row GetDesired read writes that entity's desired state and nothing else; when
// the row it found has since become another entity's (deleted, its rowid given again), that one
// is left alone and the state is stored as for an entity never read.
TEST(StateTxn, PutDesiredOfAReadRowWritesThatEntityEvenWhenItsRowWasReused) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  DesiredRow kept, moved, missing;
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE(txn.ok());
    EntityRow row;
    row.external_id = "kept";
    row.desired = {{"email", "old@x.co"}};
    row.known = {{"email", "known@x.co"}};
    row.auth0_id = "auth0|kept";
    ASSERT_TRUE((*txn)->PutEntity(row, 1).ok());
    row.external_id = "moved";
    row.auth0_id.reset();
    ASSERT_TRUE((*txn)->PutEntity(row, 1).ok());
    kept = *(*txn)->GetDesired(EntityKind::kUser, "kept");
    moved = *(*txn)->GetDesired(EntityKind::kUser, "moved");
    missing = *(*txn)->GetDesired(EntityKind::kUser, "missing");
    ASSERT_TRUE(kept.exists && moved.exists && !missing.exists);
    ASSERT_GT(moved.rowid, kept.rowid);
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  {
    // "moved" goes, and the next row takes its rowid (the highest plus one).
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM entities WHERE external_id = 'moved'");
    db.exec(
        "INSERT INTO entities (kind, external_id, desired, updated_at_ms) "
        "VALUES ('user', 'other', '{\"email\":\"other@x.co\"}', 1)");
    ASSERT_EQ(db.execAndGet("SELECT rowid FROM entities WHERE external_id = 'other'").getInt64(),
              moved.rowid);
  }
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE(txn.ok());
    kept.desired = {{"email", "new@x.co"}};
    moved.desired = {{"email", "moved@x.co"}};
    missing.desired = {{"email", "missing@x.co"}};
    ASSERT_TRUE((*txn)->PutDesired(kept, 5).ok());
    ASSERT_TRUE((*txn)->PutDesired(moved, 6).ok());
    ASSERT_TRUE((*txn)->PutDesired(missing, 7).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto txn = (*store)->BeginRead();
  ASSERT_TRUE(txn.ok());
  auto k = (*txn)->GetEntity(EntityKind::kUser, "kept");
  EXPECT_EQ(k->desired, (nlohmann::json{{"email", "new@x.co"}}));
  EXPECT_EQ(k->known, (nlohmann::json{{"email", "known@x.co"}}));
  EXPECT_EQ(k->auth0_id, "auth0|kept");
  EXPECT_EQ((*txn)->GetEntity(EntityKind::kUser, "other")->desired,
            (nlohmann::json{{"email", "other@x.co"}}));
  auto m = (*txn)->GetEntity(EntityKind::kUser, "moved");
  ASSERT_TRUE(m->exists);
  EXPECT_EQ(m->desired, (nlohmann::json{{"email", "moved@x.co"}}));
  EXPECT_EQ(m->known, nlohmann::json::object());
  EXPECT_EQ((*txn)->GetEntity(EntityKind::kUser, "missing")->desired,
            (nlohmann::json{{"email", "missing@x.co"}}));
  EXPECT_EQ(*(*txn)->CountManagedUsers(), 1);
}

// What the writer's fold writes for every event — an entity's desired state, its events marked
// applied — runs no trigger program (migrations/0018_counts_without_row_triggers.sql): SQLite
// enters a trigger's sub-program for every row its statement writes, even when the trigger's
// WHEN is false, ~4,000 instructions each.
TEST(SqliteStore, TheFoldsWritesToEntitiesAndEventsRunNoTrigger) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->InsertEvents({Event("a"), Event("b")}).ok());
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->PutDesired(EntityKind::kUser, "e1", {{"email", "a@x.co"}}, 1).ok());
    ASSERT_TRUE((*txn)->PutDesired(EntityKind::kUser, "e1", {{"email", "b@x.co"}}, 2).ok());
    ASSERT_TRUE((*txn)->SetEventsApplied({1, 2}, 3).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  int checked = 0;
  for (const auto& sql : (*store)->PreparedSql()) {
    if (sql.rfind("INSERT INTO entities", 0) != 0 && sql.rfind("UPDATE events", 0) != 0) continue;
    ++checked;
    SQLite::Statement q(db, "EXPLAIN " + sql);
    int programs = 0;
    while (q.executeStep())
      if (q.getColumn(1).getString() == "Program") ++programs;
    EXPECT_EQ(programs, 0) << sql;
  }
  EXPECT_EQ(checked, 2);  // PutDesired's upsert, SetEventsApplied's update of pending events
}

// A seq is never given twice (migrations/0019_events_seq_without_autoincrement.sql): each new
// event gets one past the highest ever given, whether the newest events were deleted since or a
// commit held duplicates, which take none.
TEST(SqliteStore, AnEventSeqIsNeverGivenTwice) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
  auto seq_of = [&](const std::string& id) {
    SQLite::Statement q(db, "SELECT seq FROM events WHERE event_id = ?");
    q.bind(1, id);
    return q.executeStep() ? q.getColumn(0).getInt64() : int64_t{-1};
  };
  ASSERT_TRUE((*store)->InsertEvents({Event("a"), Event("b"), Event("a"), Event("c")}).ok());
  EXPECT_EQ(seq_of("a"), 1);
  EXPECT_EQ(seq_of("b"), 2);
  EXPECT_EQ(seq_of("c"), 3);  // the duplicate took no seq
  db.exec("DELETE FROM events WHERE event_id IN ('b', 'c')");
  ASSERT_TRUE((*store)->InsertEvents({Event("d")}).ok());
  EXPECT_EQ(seq_of("d"), 4);
  db.exec("DELETE FROM events");
  ASSERT_TRUE((*store)->InsertEvents({Event("e"), Event("f", "crm")}).ok());
  EXPECT_EQ(seq_of("e"), 5);
  EXPECT_EQ(seq_of("f"), 6);
  // No AUTOINCREMENT bookkeeping is written for the inbox.
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'events'").getInt(),
            0);
}

// Migration 0019 rebuilds `events` without AUTOINCREMENT: rows, indexes and the delete trigger
// stay, and the next seq continues after the highest AUTOINCREMENT ever gave, even when the
// newest events were deleted before the upgrade.
TEST(Migrations, Version19KeepsRowsAndNeverGivesASeqAgain) {
  auto o = TempDb();
  const std::vector<std::string> queries = {
      "SELECT * FROM events ORDER BY seq",
      "SELECT * FROM state_counts WHERE tbl = 'events' ORDER BY state",
      "SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = 'events' AND type = 'index' "
      "ORDER BY name"};
  std::vector<std::vector<std::string>> before;  // each query's rows before the upgrade
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    ASSERT_TRUE(ApplyMigrations(db, MigrationsUpTo(18), 1).ok());
    db.exec(kEventsOfEveryState);
    db.exec("DELETE FROM events WHERE event_id = 'd'");  // the highest seq
    before = DumpEach(db, queries);
  }
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  {
    SQLite::Database db(o.path, SQLite::OPEN_READONLY);
    ExpectRowsAsBefore(db, queries, before);
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
    EXPECT_EQ(db.execAndGet("SELECT sql FROM sqlite_schema WHERE name = 'events'")
                  .getString()
                  .find("AUTOINCREMENT"),
              std::string::npos);
  }
  ASSERT_TRUE((*store)->InsertEvents({Event("e")}).ok());
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT seq FROM events WHERE event_id = 'e'").getInt64(), 5);
}

// Migration 0016 rebuilds events, mutations, commands and vendor_notifications: every row, index
// and trigger stays, and so does each AUTOINCREMENT high-water mark — an id freed by a delete
// (retention) is never given to a new row.
TEST(Migrations, Version16KeepsRowsIndexesTriggersAndIdsNeverReused) {
  auto o = TempDb();
  const std::vector<std::string> queries = {
      "SELECT * FROM events ORDER BY seq",
      "SELECT * FROM mutations ORDER BY id",
      "SELECT * FROM commands ORDER BY id",
      "SELECT * FROM vendor_notifications ORDER BY source, event_id",
      "SELECT * FROM state_counts ORDER BY tbl, state",
      "SELECT name, seq FROM sqlite_sequence ORDER BY name",
      "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger') "
      "ORDER BY name"};
  std::vector<std::vector<std::string>> before;  // each query's rows before the upgrade
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    const std::vector<Migration> first15 = MigrationsUpTo(15);
    ASSERT_EQ(first15.size(), 15u);
    ASSERT_TRUE(ApplyMigrations(db, first15, 1).ok());
    db.exec(kEventsOfEveryState);
    db.exec("UPDATE events SET compacted_at_ms = 2000, body = '' WHERE event_id = 'a'");
    db.exec("DELETE FROM events WHERE event_id = 'd'");  // the highest seq, as retention would
    db.exec(
        "INSERT INTO mutations (entity, kind, request, events, state, destructive, attempts, "
        "last_error, created_at_ms, updated_at_ms, first_received_at_ms) VALUES "
        "('user:a', 'create_user', '{\"email\":\"a@x\"}', '[1]', 'done', 0, 1, NULL, 5, 6, 4), "
        "('user:a', 'block_user', '{}', '[3]', 'dead', 1, 8, '429', 7, 8, 6), "
        "('org:o', 'create_org', '{}', '[]', 'superseded', 0, 0, NULL, 9, 10, NULL)");
    db.exec("DELETE FROM mutations WHERE kind = 'create_org'");
    db.exec(
        "INSERT INTO commands (kind, user_external_id, event, state, created_at_ms, updated_at_ms) "
        "VALUES ('password_reset', 'a', 'hr/1', 'skipped', 5, 6)");
    db.exec(
        "INSERT INTO vendor_notifications (source, event_id, state, body, attempts, next_at_ms, "
        "error, events, received_at_ms, updated_at_ms) VALUES "
        "('bamboo', 'n1', 'mapped', '{}', 0, 0, NULL, 2, 10, 11), "
        "('bamboo', 'n2', 'pending', '{}', 3, 99, '503', 0, 12, 13)");
    before = DumpEach(db, queries);
  }
  SQLite::Database db(o.path, SQLite::OPEN_READWRITE);
  // Up to 0016 alone: later migrations add their own triggers and counts.
  ASSERT_TRUE(ApplyMigrations(db, MigrationsUpTo(16), 1).ok());
  ExpectRowsAsBefore(db, queries, before);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  EXPECT_TRUE(Dump(db, "PRAGMA foreign_key_check").empty());
  // New rows continue after the ids deleted before the upgrade.
  db.exec(
      "INSERT INTO events (source, event_id, type, received_at_ms, state, body, updated_at_ms) "
      "VALUES ('hr', 'e', 'user.upserted', 1, 'pending', '{}', 1)");
  EXPECT_EQ(db.execAndGet("SELECT seq FROM events WHERE event_id = 'e'").getInt64(), 5);
  db.exec(
      "INSERT INTO mutations (entity, kind, state, created_at_ms, updated_at_ms) "
      "VALUES ('user:b', 'create_user', 'pending', 1, 1)");
  EXPECT_EQ(db.execAndGet("SELECT MAX(id) FROM mutations").getInt64(), 4);
  // The sets are still enforced, and still counted.
  EXPECT_THROW(db.exec("UPDATE events SET state = 'done' WHERE event_id = 'e'"), SQLite::Exception);
  EXPECT_THROW(db.exec("UPDATE mutations SET state = 'applied'"), SQLite::Exception);
  EXPECT_THROW(db.exec("UPDATE commands SET state = 'failed'"), SQLite::Exception);
  EXPECT_THROW(db.exec("UPDATE vendor_notifications SET state = 'dead'"), SQLite::Exception);
  auto rejected = [&] {
    return db
        .execAndGet(
            "SELECT COALESCE((SELECT n FROM state_counts WHERE tbl = 'events' AND state = "
            "'rejected'), 0)")
        .getInt64();
  };
  const int64_t rejected_before = rejected();
  db.exec("UPDATE events SET state = 'rejected' WHERE event_id = 'e'");
  EXPECT_EQ(rejected(), rejected_before + 1);
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

// Issue 13: events being acknowledged to senders go before other writers already queued for the
// write connection (Auth0 workers committing a step each): every writer that was waiting when
// the inbox write arrived finds the event stored when it gets the connection.
TEST(SqliteStore, AnInboxWriteGoesBeforeWritersAlreadyWaiting) {
  auto opened = SqliteStore::Open(TempDb());
  ASSERT_TRUE(opened.ok());
  SqliteStore& store = **opened;
  auto spin_until = [](const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    return done();
  };
  auto holder = store.BeginState();  // the connection is taken
  ASSERT_TRUE(holder.ok());
  constexpr int kWriters = 6;
  std::atomic<int> saw{0}, ran{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&] {
      auto txn = store.BeginState();
      if (!txn.ok()) return;
      EventFilter f;
      f.event_id = "acked";
      f.source = "hr";
      auto found = store.ListEvents(f);
      if (found.ok() && found->size() == 1) ++saw;
      ++ran;
    });
  }
  ASSERT_TRUE(spin_until([&] { return store.writers_waiting() == kWriters; }));
  std::thread inbox([&] { EXPECT_TRUE(store.InsertEvents({Event("acked")}).ok()); });
  ASSERT_TRUE(spin_until([&] { return store.inbox_writes_waiting() == 1; }));
  holder->reset();  // rolled back: the connection is free
  inbox.join();
  for (auto& t : writers) t.join();
  EXPECT_EQ(ran.load(), kWriters);
  EXPECT_EQ(saw.load(), kWriters)
      << "a writer queued before the inbox write got the connection first";
}

TEST(SqliteStore, UsesWalWithFullSync) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok());
  SQLite::Database db(o.path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

// What storing an event costs is mostly the pages its commit writes to the WAL (each changed page
// whole, then again at the checkpoint). Senders' event ids are UUIDs, so every index keyed by the
// id puts each event on a random leaf page of its own: the inbox keeps exactly one (the dedup key
// (source, event_id)); an index per lookup by id alone doubled the pages per event (issue 13).
TEST(SqliteStore, StoringEventsWithRandomIdsWritesFewPagesPerEvent) {
  auto o = TempDb();
  int frames = 0;  // declared before the store: its WAL hook points here until it closes
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::mt19937_64 rng(7);
  auto random_event = [&] {
    char id[40];
    std::snprintf(id, sizeof id, "%016llx-%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    auto e = Event(id);
    e.body = std::string(300, 'x');
    return e;
  };
  // An inbox whose indexes span many leaves, all applied (as after a day of deliveries).
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<EventRecord> events;
    for (int i = 0; i < 1000; ++i) events.push_back(random_event());
    ASSERT_TRUE((*store)->InsertEvents(events).ok());
    auto due = (*store)->DueEvents(2000, 1000);
    ASSERT_TRUE(due.ok());
    std::vector<int64_t> seqs;
    for (const auto& e : *due) seqs.push_back(e.seq);
    auto txn = (*store)->BeginState();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->SetEventsApplied(seqs, 2000).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  // From here on, the writer connection reports the WAL's length after each commit (the hook
  // replaces automatic checkpoints, so the WAL only grows).
  {
    SQLite::Database other(o.path, SQLite::OPEN_READWRITE);
    other.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  ASSERT_TRUE((*store)
                  ->WriteWithEvents([&](SQLite::Database& db) -> Result<std::vector<EventRecord>> {
                    sqlite3_wal_hook(
                        db.getHandle(),
                        [](void* out, sqlite3*, const char*, int n) {
                          *static_cast<int*>(out) = n;
                          return SQLITE_OK;
                        },
                        &frames);
                    return std::vector<EventRecord>{};
                  })
                  .ok());
  const int before = frames;
  constexpr int kCommits = 100, kPerCommit = 5;
  for (int c = 0; c < kCommits; ++c) {
    std::vector<EventRecord> events;
    for (int i = 0; i < kPerCommit; ++i) events.push_back(random_event());
    ASSERT_TRUE((*store)->InsertEvents(events).ok());
  }
  const double per_event = static_cast<double>(frames - before) / (kCommits * kPerCommit);
  // Per commit of five: a random leaf of the dedup key per event, the table's last leaf, the
  // per-source and pending indexes' last leaves, the state counts, the sequence: 2.6 pages an event
  // here, where an index on the id alone and one over every event's state made it 4.4.
  EXPECT_LE(per_event, 3.0) << frames - before << " WAL frames for " << kCommits * kPerCommit
                            << " events";
}

// GET /v1/events/{id} without ?source: the id is found in every source that has it, in seq order,
// and a page starts after the seq it is given.
TEST(SqliteStore, AnEventIdIsFoundInEverySourceThatHasIt) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<EventRecord> events;
  for (const char* source : {"workday", "console", "hr", "bamboo", "hr-2"}) {
    events.push_back(Event("other-" + std::string(source), source));
    if (std::string(source) != "console") events.push_back(Event("shared", source));
  }
  ASSERT_TRUE((*store)->InsertEvents(events).ok());
  EventFilter f;
  f.event_id = "shared";
  auto found = (*store)->ListEvents(f);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  std::vector<std::string> sources;
  for (const auto& e : *found) sources.push_back(e.source);
  EXPECT_EQ(sources, (std::vector<std::string>{"workday", "hr", "bamboo", "hr-2"}));
  f.after_seq = found->at(1).seq;
  found = (*store)->ListEvents(f);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ(found->front().source, "bamboo");
  f = EventFilter();
  f.event_id = "missing";
  found = (*store)->ListEvents(f);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty());
  f.event_id = "other-console";
  f.state = EventState::kPending;
  found = (*store)->ListEvents(f);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().source, "console");
}

// The writer checkpoints every 10,000 WAL pages, not SQLite's 1,000 (a page rewritten by many
// commits is copied into the database once per checkpoint; docs/BENCHMARKS.md, session 27), and
// the WAL really grows past 1,000 pages before a checkpoint empties it.
TEST(SqliteStore, TheWalIsCheckpointedEveryTenThousandPages) {
  auto o = TempDb();
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  int setting = 0;
  ASSERT_TRUE((*store)
                  ->WriteWithEvents([&](SQLite::Database& db) -> Result<std::vector<EventRecord>> {
                    setting = db.execAndGet("PRAGMA wal_autocheckpoint").getInt();
                    return std::vector<EventRecord>{};
                  })
                  .ok());
  EXPECT_EQ(setting, 10000);
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<EventRecord> events;
    for (int i = 0; i < 100; ++i) {
      auto e = Event("wal-" + std::to_string(batch) + "-" + std::to_string(i));
      e.body = std::string(3000, 'x');  // most of a page each
      events.push_back(std::move(e));
    }
    ASSERT_TRUE((*store)->InsertEvents(events).ok());
  }
  // 3,000 events of ~3 KB: well over 1,000 pages, under 10,000, so no checkpoint has run and
  // the WAL still holds every frame (a checkpoint lets the next commit start the WAL again).
  SQLite::Database other(o.path, SQLite::OPEN_READWRITE);
  SQLite::Statement q(other, "PRAGMA wal_checkpoint(PASSIVE)");
  ASSERT_TRUE(q.executeStep());
  EXPECT_GT(q.getColumn(1).getInt(), 2500) << "frames in the WAL: checkpointed at SQLite's default";
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

TEST(GroupCommitter, AsyncInsertsAreAnsweredAfterTheirCommitWithoutWaiting) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  GroupCommitter gc(**store);
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, inserted = 0, duplicates = 0, not_yet_stored = 0;
  bool on_caller_thread = false;
  const auto caller = std::this_thread::get_id();
  auto callback = [&](Result<InsertOutcome> r) {
    // Answered only once the event is committed: by then it is in the database.
    const int64_t stored = (*store)->CountEventsByState()->at("pending");
    std::lock_guard<std::mutex> lock(mu);
    if (std::this_thread::get_id() == caller) on_caller_thread = true;
    if (r.ok() && *r == InsertOutcome::kInserted) ++inserted;
    if (r.ok() && *r == InsertOutcome::kDuplicate) ++duplicates;
    if (stored < inserted) ++not_yet_stored;
    ++answered;
    cv.notify_all();
  };
  // 300 inserts queued from one thread that never waits: they share commits.
  for (int i = 0; i < 300; ++i) gc.InsertAsync(Event("a-" + std::to_string(i)), callback);
  gc.InsertAsync(Event("a-7"), callback);  // already queued: a duplicate
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return answered == 301; }));
  }
  EXPECT_EQ(inserted, 300);
  EXPECT_EQ(duplicates, 1);
  EXPECT_EQ(not_yet_stored, 0) << "an insert was answered before its commit";
  EXPECT_FALSE(on_caller_thread) << "queued inserts are answered by the committer";
  EXPECT_LT(gc.commits(), 300u) << "queued inserts should share commits";
}

TEST(GroupCommitter, ACommitStartsWhenNothingHoldsItAHoldEndedOrABatchIsFull) {
  struct Case {
    size_t queued;
    int holds;
    bool released;
    bool start;
  };
  const size_t max_batch = 8;
  for (const Case& c : std::vector<Case>{
           {0, 0, false, false},  // nothing queued
           {0, 0, true, false},
           {1, 0, false, true},   // no hold: at once
           {3, 1, false, false},  // held: the producer is still queueing its pass
           {3, 2, false, false},
           {3, 1, true, true},   // a hold ended with events queued, another began since
           {8, 1, false, true},  // a full batch does not wait for the hold
           {9, 3, false, true},
       }) {
    EXPECT_EQ(ShouldStartCommit(c.queued, c.holds, c.released, max_batch), c.start)
        << "queued " << c.queued << " holds " << c.holds << " released " << c.released;
  }
}

// A Store whose InsertEvents records each batch's size and can make the committer wait inside
// a commit until the test lets it go.
class GatedStore : public Store {
 public:
  Result<std::vector<InsertOutcome>> InsertEvents(const std::vector<EventRecord>& events) override {
    std::unique_lock<std::mutex> lock(mu_);
    batches_.push_back(events.size());
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    if (fail_) return Status::Retryable("disk full");
    return std::vector<InsertOutcome>(events.size(), InsertOutcome::kInserted);
  }
  void Fail() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = true;
  }
  Result<std::vector<EventRecord>> ListEvents(const EventFilter&) override {
    return std::vector<EventRecord>{};
  }
  Result<std::vector<EventRecord>> DueEvents(int64_t, int) override {
    return std::vector<EventRecord>{};
  }
  Result<std::map<std::string, int64_t>> CountEventsByState() override {
    return std::map<std::string, int64_t>{};
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void WaitForBatches(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(20), [&] { return batches_.size() >= n; }));
  }
  std::vector<size_t> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  bool fail_ = false;
  std::vector<size_t> batches_;
};

TEST(GroupCommitter, EventsQueuedDuringAHoldShareTheCommitItsReleaseStarts) {
  GatedStore store;
  std::vector<size_t> reported;  // written on the committer thread, read after it answered
  GroupCommitOptions options;
  options.on_commit = [&](size_t events) { reported.push_back(events); };
  GroupCommitter gc(store, options);
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  auto callback = [&](Result<InsertOutcome> r) {
    EXPECT_TRUE(r.ok());
    std::lock_guard<std::mutex> lock(mu);
    ++answered;
    cv.notify_all();
  };
  auto wait_answered = [&](int n) {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return answered >= n; }));
  };
  // A commit in progress (held inside the store), then a pass begins and queues two events.
  store.Close();
  gc.InsertAsync(Event("e0"), callback);
  store.WaitForBatches(1);
  gc.Hold();
  gc.InsertAsync(Event("e1"), callback);
  gc.InsertAsync(Event("e2"), callback);
  // The commit in progress ends: a committer that did not honour the hold would now commit
  // e1 and e2 alone, before the pass queues e3.
  store.Open();
  wait_answered(1);
  gc.InsertAsync(Event("e3"), callback);
  gc.Release();
  wait_answered(4);
  EXPECT_EQ(store.batches(), (std::vector<size_t>{1, 3}));
  EXPECT_EQ(gc.commits(), 2u);

  // A hold that ends while another has begun (the loop's next pass) still lets what was queued
  // go; nothing waits for the second hold.
  gc.Hold();
  gc.InsertAsync(Event("e4"), callback);
  gc.Hold();
  gc.Release();
  wait_answered(5);
  gc.Release();
  EXPECT_EQ(store.batches(), (std::vector<size_t>{1, 3, 1}));
  EXPECT_EQ(reported, (std::vector<size_t>{1, 3, 1})) << "on_commit reports each commit's size";
}

TEST(GroupCommitter, EverythingAReleaseLetGoIsCommittedEvenBeyondOneBatch) {
  GatedStore store;
  GroupCommitOptions options;
  options.max_batch = 2;
  GroupCommitter gc(store, options);
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  auto callback = [&](Result<InsertOutcome>) {
    std::lock_guard<std::mutex> lock(mu);
    ++answered;
    cv.notify_all();
  };
  store.Close();
  gc.InsertAsync(Event("r0"), callback);
  store.WaitForBatches(1);
  // A pass queues five events (more than a batch) and ends; the next pass holds at once.
  gc.Hold();
  for (int i = 1; i <= 5; ++i) gc.InsertAsync(Event("r" + std::to_string(i)), callback);
  gc.Release();
  gc.Hold();
  store.Open();
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return answered == 6; }))
        << "the last of the released events waited for the next pass";
  }
  EXPECT_EQ(store.batches(), (std::vector<size_t>{1, 2, 2, 1}));
  gc.Release();
}

TEST(GroupCommitter, ATransactionThatFailsIsNotReportedAsACommit) {
  GatedStore store;
  store.Fail();
  std::atomic<int> reported{0};
  GroupCommitOptions options;
  options.on_commit = [&](size_t) { ++reported; };
  GroupCommitter gc(store, options);
  auto r = gc.Insert(Event("lost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
  EXPECT_EQ(reported.load(), 0);
}

TEST(GroupCommitter, AsyncInsertAfterStopIsRefusedAtOnce) {
  auto store = SqliteStore::Open(TempDb());
  GroupCommitter gc(**store);
  gc.Stop();
  bool called = false;
  gc.InsertAsync(Event("late"), [&](Result<InsertOutcome> r) {
    called = true;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), StatusKind::kRetryable);
  });
  EXPECT_TRUE(called) << "a refused insert is answered on the calling thread, before returning";
  auto counts = *(*store)->CountEventsByState();
  EXPECT_EQ(counts.count("pending") ? counts.at("pending") : 0, 0);
}

TEST(StateTxn, AccessRemovalsAreDueFirst) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("user:hire1").ok());
    ASSERT_TRUE((*txn)->MarkDirty("user:hire2").ok());
    ASSERT_TRUE((*txn)->MarkDirty("user:leaver", 0, false, kAccessRemovalPriority).ok());
    // A later ordinary mark does not lower the priority.
    ASSERT_TRUE((*txn)->MarkDirty("user:leaver").ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto due = (*store)->DueDirty(1000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ(due->front().entity, "user:leaver");
  EXPECT_EQ(due->front().priority, kAccessRemovalPriority);
}

// A users-imports job stands for many creates: it runs before the users still waiting to be
// looked at (a backfill's first job does not wait for every user to be deferred), never before
// an access removal.
TEST(StateTxn, ImportJobsAreDueAfterAccessRemovalsAndBeforeOrdinaryWork) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  {
    auto txn = (*store)->BeginState();
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE((*txn)->MarkDirty("user:hire" + std::to_string(i)).ok());
    ASSERT_TRUE((*txn)->MarkDirty("imports:db", 0, false, kBulkCreatePriority).ok());
    ASSERT_TRUE((*txn)->MarkDirty("user:leaver", 0, false, kAccessRemovalPriority).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto due = (*store)->DueDirty(1000, 3);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ((*due)[0].entity, "user:leaver");
  EXPECT_EQ((*due)[1].entity, "imports:db");
  EXPECT_EQ((*due)[2].entity, "user:hire0");
  EXPECT_LT(kBulkCreatePriority, kAccessRemovalPriority);
}

// Migration 0011 moved access removals from priority 1 to 2 (1 is now an import job's): a
// removal marked by an older release keeps its place ahead of everything.
TEST(Migrations, AnAccessRemovalMarkedBeforeTheImportPriorityStaysFirst) {
  auto o = TempDb();
  {
    SQLite::Database db(o.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    std::vector<Migration> first10(EmbeddedMigrations().begin(), EmbeddedMigrations().begin() + 10);
    ASSERT_EQ(first10.back().version, 10);
    ASSERT_TRUE(ApplyMigrations(db, first10, 1).ok());
    db.exec("INSERT INTO dirty (entity, priority) VALUES ('user:hire', 0), ('user:leaver', 1)");
  }
  auto store = SqliteStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("imports:db", 0, false, kBulkCreatePriority).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto due = (*store)->DueDirty(1000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ((*due)[0].entity, "user:leaver");
  EXPECT_EQ((*due)[0].priority, kAccessRemovalPriority);
  EXPECT_EQ((*due)[1].entity, "imports:db");
}

// Users waiting for an import job (issue 17): the imports entity takes their marks (due only at
// a backstop, after everything else, counted apart for progress), a new event on one of them
// makes it ordinary work again, and when the import path is off they are all due at once.
TEST(StateTxn, UsersAwaitingAnImportWaitAtTheBackstopAndAreReleasedTogether) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  {
    auto txn = (*store)->BeginState();
    for (int i = 0; i < 4; ++i)
      ASSERT_TRUE((*txn)->MarkDirty("user:hire" + std::to_string(i)).ok());
    ASSERT_TRUE((*txn)->MarkDirty("user:retrying").ok());
    ASSERT_TRUE((*txn)->DeferDirty("user:retrying", 1, 500).ok());  // a failed attempt
    ASSERT_TRUE((*txn)->MarkDirty("org:acme", 90'000).ok());        // scheduled work
    ASSERT_TRUE(
        (*txn)
            ->AwaitImport({"user:hire0", "user:hire1", "user:hire2", "user:retrying", "user:none"},
                          900'000)
            .ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto due = (*store)->DueDirty(1000, 10);
  ASSERT_TRUE(due.ok());
  std::vector<std::string> keys;
  for (auto& d : *due) keys.push_back(d.entity);
  EXPECT_EQ(keys, (std::vector<std::string>{"user:hire3", "user:retrying"}))
      << "marks awaiting an import are not due before their backstop; a retry keeps its own";
  auto counts = (*store)->CountDirtyDue(1000, 61'000);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->due, 2);
  EXPECT_EQ(counts->soon, 0);
  EXPECT_EQ(counts->awaiting_import, 3);
  EXPECT_EQ(counts->scheduled, 1) << "awaiting an import is not scheduled work";
  EXPECT_EQ(counts->total, 6);
  auto next = (*store)->ScheduledDirty(1000, 5);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(next->front().entity, "org:acme");
  // At the backstop they come last, after ordinary work.
  due = (*store)->DueDirty(1'000'000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 6u);
  EXPECT_EQ(due->back().priority, kAwaitingImportPriority);
  {
    // A new event on hire0 is ordinary work again; the import path off releases the rest.
    auto txn = (*store)->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("user:hire0").ok());
    auto woken = (*txn)->WakeAwaitingImport(2000);
    ASSERT_TRUE(woken.ok());
    EXPECT_EQ(*woken, 2);
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  counts = (*store)->CountDirtyDue(2000, 62'000);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->due, 5);
  EXPECT_EQ(counts->awaiting_import, 0);
}

// Property: whatever marks, retries, requeues, imports taking and releasing users, and clears
// happened (random sequences, fixed seed), the queue figures status shows equal a count over
// every mark — the kept count of marks awaiting an import included (a new mark made at that
// priority is counted by MarkDirty since 0020, the rest by triggers).
TEST(SqliteStore, DirtyQueueFiguresEqualACountOverEveryMark) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  std::mt19937_64 rng(17);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const int priorities[] = {
      0, 0, 0, kBulkCreatePriority, kAccessRemovalPriority, kAwaitingImportPriority};
  for (int round = 0; round < 40; ++round) {
    {
      auto txn = (*store)->BeginState();
      ASSERT_TRUE(txn.ok());
      StateTxn& t = **txn;
      for (int op = 0; op < 25; ++op) {
        const std::string e = "user:u" + std::to_string(pick(30));
        const int64_t at = pick(4) * 40'000;  // 0, 40 s, 80 s, 120 s
        switch (pick(8)) {
          case 0:
            ASSERT_TRUE(t.MarkDirty(e, at, pick(2) == 0, priorities[pick(6)]).ok());
            break;
          case 7:
            ASSERT_TRUE(
                t.MarkDirtyMany({e, "user:u" + std::to_string(pick(30))}, priorities[pick(6)])
                    .ok());
            break;
          case 1:
            ASSERT_TRUE(t.DeferDirty(e, pick(3), at).ok());
            break;
          case 2:
            ASSERT_TRUE(t.RequeueDirty(e, pick(3), at + 900'000, kAwaitingImportPriority).ok());
            break;
          case 3:
            ASSERT_TRUE(t.RequeueDirty(e, pick(3), at, 0).ok());
            break;
          case 4:
            ASSERT_TRUE(t.AwaitImport({e, "user:u" + std::to_string(pick(30))}, at).ok());
            break;
          case 5:
            ASSERT_TRUE(t.ClearDirty(e, pick(3)).ok());
            break;
          case 6:
            if (pick(4) == 0) {
              ASSERT_TRUE(t.WakeAwaitingImport(at).ok());
            }
            break;
        }
      }
      ASSERT_TRUE(t.Commit().ok());
    }
    for (int64_t now : {int64_t{0}, int64_t{50'000}, int64_t{100'000}, int64_t{950'000}}) {
      const int64_t soon = now + 60'000;
      auto all = (*store)->DueDirty(INT64_MAX, 100000);
      ASSERT_TRUE(all.ok());
      SqliteStore::DirtyDue want;
      for (const auto& d : *all) {
        ++want.total;
        const bool awaiting = d.priority == kAwaitingImportPriority;
        if (d.not_before_ms <= now) {
          ++want.due;
        } else if (d.not_before_ms <= soon) {
          ++want.soon;
        } else if (awaiting) {
          ++want.awaiting_import;
        }
        if (d.not_before_ms > now && d.attempts == 0 && !awaiting) ++want.scheduled;
      }
      auto got = (*store)->CountDirtyDue(now, soon);
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->total, want.total) << "round " << round << " now " << now;
      EXPECT_EQ(got->due, want.due) << "round " << round << " now " << now;
      EXPECT_EQ(got->soon, want.soon) << "round " << round << " now " << now;
      EXPECT_EQ(got->awaiting_import, want.awaiting_import) << "round " << round << " now " << now;
      EXPECT_EQ(got->scheduled, want.scheduled) << "round " << round << " now " << now;
    }
  }
}

// Property: marking a batch in one statement (the writer's fold) leaves every mark exactly as
// marking its entities one by one does — generation, due time, attempts, priority, and the
// figures status shows — whatever marks existed before (random states, fixed seed), keys listed
// twice, and keys that JSON must escape.
TEST(StateTxn, MarkingManyAtOnceEqualsMarkingEachInTurn) {
  auto one = SqliteStore::Open(TempDb());
  auto many = SqliteStore::Open(TempDb());
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(many.ok());
  std::mt19937_64 rng(29);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const std::vector<std::string> names = {"user:a",
                                          "user:b",
                                          "org:acme",
                                          "members:acme",
                                          "user:quo\"te",
                                          "user:back\\slash",
                                          "user:\xc3\xa9l\xc3\xa8ve",
                                          "user:\xe2\x82\xac",
                                          "command:7",
                                          "user:\xf0\x9f\x98\x80"};
  const int priorities[] = {0, 0, kBulkCreatePriority, kAccessRemovalPriority,
                            kAwaitingImportPriority};
  for (int round = 0; round < 60; ++round) {
    // The same earlier history in both stores.
    std::vector<std::function<Status(StateTxn&)>> history;
    for (int op = 0; op < 6; ++op) {
      const std::string e = names[static_cast<size_t>(pick(10))];
      const int64_t at = pick(3) * 40'000;
      const int priority = priorities[pick(5)];
      const int64_t generation = pick(3);
      switch (pick(4)) {
        case 0:
          history.push_back([=](StateTxn& t) { return t.MarkDirty(e, at, false, priority); });
          break;
        case 1:
          history.push_back([=](StateTxn& t) { return t.DeferDirty(e, generation, at); });
          break;
        case 2:
          history.push_back([=](StateTxn& t) {
            return t.RequeueDirty(e, generation, at + 900'000, kAwaitingImportPriority);
          });
          break;
        case 3:
          history.push_back([=](StateTxn& t) { return t.ClearDirty(e, generation); });
          break;
      }
    }
    std::vector<std::string> batch;
    for (int i = pick(6); i > 0; --i) batch.push_back(names[static_cast<size_t>(pick(10))]);
    const int priority = priorities[pick(5)];
    for (auto* store : {&*one, &*many}) {
      auto txn = (*store)->BeginState();
      ASSERT_TRUE(txn.ok());
      for (auto& h : history) ASSERT_TRUE(h(**txn).ok());
      if (store == &*one) {
        for (auto& e : batch) ASSERT_TRUE((*txn)->MarkDirty(e, 0, false, priority).ok());
      } else {
        ASSERT_TRUE((*txn)->MarkDirtyMany(batch, priority).ok());
      }
      ASSERT_TRUE((*txn)->Commit().ok());
    }
    auto rows = [](SqliteStore& store) {
      std::map<std::string, std::tuple<int64_t, int64_t, int, int>> out;
      auto all = store.DueDirty(INT64_MAX, 100000);
      EXPECT_TRUE(all.ok());
      for (auto& d : *all) out[d.entity] = {d.generation, d.not_before_ms, d.attempts, d.priority};
      return out;
    };
    ASSERT_EQ(rows(**one), rows(**many))
        << "round " << round << ", " << batch.size() << " key(s) at priority " << priority;
    auto a = (*one)->CountDirtyDue(0, 60'000);
    auto b = (*many)->CountDirtyDue(0, 60'000);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->total, b->total) << "round " << round;
    EXPECT_EQ(a->due, b->due) << "round " << round;
    EXPECT_EQ(a->awaiting_import, b->awaiting_import) << "round " << round;
  }
}

// The drift snapshot's read: managed entities only, in external id order, known state as the
// stored text; uncreated ones (no Auth0 id yet) are the import walk's, never here.
TEST(StateTxn, ManagedEntitiesAreVisitedInOrderWithTheirKnownStateAsStored) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  auto txn = (*store)->BeginState();
  ASSERT_TRUE(txn.ok());
  for (auto [ext, id] :
       {std::pair<const char*, const char*>{"u2", "auth0|2"}, {"u1", "auth0|1"}, {"u3", nullptr}}) {
    EntityRow row;
    row.kind = EntityKind::kUser;
    row.external_id = ext;
    row.known = {{"email", std::string(ext) + "@example.com"}};
    if (id != nullptr) row.auth0_id = id;
    ASSERT_TRUE((*txn)->PutEntity(row, 1000).ok());
  }
  std::vector<StateTxn::ManagedRow> seen;
  ASSERT_TRUE((*txn)
                  ->ForEachManaged(EntityKind::kUser,
                                   [&](StateTxn::ManagedRow&& r) {
                                     seen.push_back(std::move(r));
                                     return Status::Ok();
                                   })
                  .ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].external_id, "u1");
  EXPECT_EQ(seen[0].auth0_id, "auth0|1");
  EXPECT_EQ(nlohmann::json::parse(seen[0].known_json),
            nlohmann::json({{"email", "u1@example.com"}}));
  EXPECT_EQ(seen[1].external_id, "u2");
  // A visitor's error stops the walk and is returned.
  int visited = 0;
  Status st = (*txn)->ForEachManaged(EntityKind::kUser, [&](StateTxn::ManagedRow&&) {
    ++visited;
    return Status::Invalid("stop");
  });
  EXPECT_EQ(st.message(), "stop");
  EXPECT_EQ(visited, 1);
  EXPECT_TRUE((*txn)
                  ->ForEachManaged(EntityKind::kOrganization,
                                   [&](StateTxn::ManagedRow&&) {
                                     return Status::Invalid("no organization is managed");
                                   })
                  .ok());
}

TEST(StateTxn, RequeueSetsThePriorityOnlyWhenNobodyMarkedTheEntitySince) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("user:a").ok());  // generation 1
    ASSERT_TRUE((*txn)->MarkDirty("user:b").ok());
    ASSERT_TRUE((*txn)->MarkDirty("user:b").ok());  // generation 2: marked again while running
    ASSERT_TRUE((*txn)->RequeueDirty("user:a", 1, 900'000, kAwaitingImportPriority).ok());
    ASSERT_TRUE((*txn)->RequeueDirty("user:b", 1, 900'000, kAwaitingImportPriority).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  auto counts = (*store)->CountDirtyDue(1000, 61'000);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->awaiting_import, 1);
  auto due = (*store)->DueDirty(1000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->front().entity, "user:b");
  EXPECT_EQ(due->front().priority, 0);
}

TEST(StateTxn, RollingBackToASavepointUndoesOnlyThatWorkAndKeepsTheTransactionUsable) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("user:kept").ok());
    ASSERT_TRUE((*txn)->Savepoint().ok());
    ASSERT_TRUE((*txn)->MarkDirty("user:undone").ok());
    ASSERT_TRUE((*txn)->RollbackToSavepoint().ok());
    ASSERT_TRUE((*txn)->Savepoint().ok());
    ASSERT_TRUE((*txn)->MarkDirty("user:after").ok());
    ASSERT_TRUE((*txn)->ReleaseSavepoint().ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  std::vector<std::string> keys;
  auto due = (*store)->DueDirty(1000, 10);
  ASSERT_TRUE(due.ok());
  for (auto& d : *due) keys.push_back(d.entity);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"user:after", "user:kept"}));
}

// "Done in the last minute" (GET /v1/status progress, the metrics) counts by when a mutation was
// done, not by its id: one created long ago (a retry after a backoff, a members batch that waited)
// and done now counts, however many newer ones were done earlier; ones done before the interval
// never count; the answer is capped at `window`.
TEST(SqliteStore, DoneSinceCountsByTheTimeDoneNotByAgeAndIsCapped) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  std::vector<int64_t> ids;
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE(txn.ok());
    for (int i = 0; i < 12; ++i) {
      MutationRow m;
      m.entity = "user:u" + std::to_string(i);
      m.kind = "patch_user";
      m.created_at_ms = 1000 + i;
      auto id = (*txn)->InsertMutation(m);
      ASSERT_TRUE(id.ok());
      ids.push_back(*id);
    }
    // The oldest one is done at 100,000 (inside the interval), the eleven newer ones at 2,000.
    ASSERT_TRUE((*txn)->UpdateMutation(ids[0], MutationState::kDone, "", 1, 100'000).ok());
    for (size_t i = 1; i < ids.size(); ++i)
      ASSERT_TRUE((*txn)->UpdateMutation(ids[i], MutationState::kDone, "", 1, 2'000).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  EXPECT_EQ(*(*store)->CountMutationsDoneSince(50'000, 10), 1);
  EXPECT_EQ(*(*store)->CountMutationsDoneSince(1'000, 10), 10) << "capped at the window";
  EXPECT_EQ(*(*store)->CountMutationsDoneSince(1'000, 100), 12);
  EXPECT_EQ(*(*store)->CountMutationsDoneSince(100'001, 10), 0);
}

TEST(SqliteStore, OldestPendingCountsOnlyWorkReallyWaiting) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  auto scheduled = Event("later");
  scheduled.received_at_ms = 100;
  scheduled.effective_at_ms = 1'000'000;  // due long after "now"
  ASSERT_TRUE((*store)->InsertEvents({scheduled}).ok());
  EXPECT_FALSE((*store)->OldestPendingMs(5000)->has_value()) << "a scheduled event is not waiting";
  EXPECT_EQ(*(*store)->CountScheduledEvents(5000), 1);
  EXPECT_EQ(**(*store)->OldestPendingMs(2'000'000), 100) << "once due it is";
  {
    auto txn = (*store)->BeginState();
    MutationRow m;
    m.entity = "user:a";
    m.kind = "patch_user";
    m.state = MutationState::kFailed;
    m.created_at_ms = 200;
    ASSERT_TRUE((*txn)->InsertMutation(m).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  EXPECT_EQ(**(*store)->OldestPendingMs(5000), 200);
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE((*txn)->SupersedeFailed("user:a").ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  EXPECT_FALSE((*store)->OldestPendingMs(5000)->has_value())
      << "a superseded attempt is not waiting";
}

// Bounded waits below only detect a read stuck behind another connection's lock (it would never
// finish while the lock is held); nothing is timed.
constexpr auto kStuck = std::chrono::seconds(30);

TEST(SqliteStore, AShortReadAnswersWhileALongReadHoldsAReader) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  {
    auto txn = (*store)->BeginState();
    ASSERT_TRUE((*txn)->MarkDirty("user:a").ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  std::promise<void> inside, release;
  auto long_read = std::async(std::launch::async, [&] {
    return (*store)->ReadWith([&](SQLite::Database&) {
      inside.set_value();
      release.get_future().wait();  // a drift snapshot of 100,000 users, say
      return Status::Ok();
    });
  });
  inside.get_future().wait();
  auto status_read = std::async(std::launch::async, [&] { return (*store)->CountDirty(); });
  const bool answered = status_read.wait_for(kStuck) == std::future_status::ready;
  release.set_value();
  ASSERT_TRUE(answered) << "the status read queued behind the long read";
  EXPECT_EQ(*status_read.get(), 1);
  EXPECT_TRUE(long_read.get().ok());
}

TEST(SqliteStore, AReadSnapshotAnswersWhileTheWriterHoldsItsTransactionAndSeesOnlyCommits) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  auto writing = (*store)->BeginState();
  ASSERT_TRUE(writing.ok());
  ASSERT_TRUE((*writing)->PutSetting("guard", "uncommitted").ok());
  auto read = std::async(std::launch::async, [&]() -> Result<std::optional<std::string>> {
    auto txn = (*store)->BeginRead();
    if (!txn.ok()) return txn.status();
    return (*txn)->GetSetting("guard");
  });
  const bool answered = read.wait_for(kStuck) == std::future_status::ready;
  writing->reset();  // rolls back
  ASSERT_TRUE(answered) << "the read snapshot waited for the writer";
  auto got = read.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_FALSE(got->has_value()) << "a snapshot saw an uncommitted write";
}

TEST(SqliteStore, AReadSnapshotRefusesWrites) {
  auto store = SqliteStore::Open(TempDb());
  ASSERT_TRUE(store.ok());
  auto txn = (*store)->BeginRead();
  ASSERT_TRUE(txn.ok());
  EXPECT_FALSE((*txn)->PutSetting("guard", "x").ok());
  txn->reset();
  auto written = (*store)->BeginState();
  ASSERT_TRUE(written.ok());
  EXPECT_TRUE((*written)->PutSetting("guard", "x").ok()) << "the refused write left a lock behind";
}

TEST(SqliteStore, ReaderConnectionsOutsideTheirRangeAreRefused) {
  for (int n : {0, 17}) {
    auto o = TempDb();
    o.reader_connections = n;
    auto store = SqliteStore::Open(o);
    ASSERT_FALSE(store.ok()) << n;
    EXPECT_NE(store.status().message().find("reader_connections must be 1..16"), std::string::npos)
        << store.status().message();
  }
  auto o = TempDb();
  o.reader_connections = 1;
  EXPECT_TRUE(SqliteStore::Open(o).ok());
}

}  // namespace
}  // namespace tenantsync
