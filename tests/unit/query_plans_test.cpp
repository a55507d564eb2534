// Query plans at scale (issue 17): runs the statements the daemon issues per request and per
// writer step through the store (so the SQL is the store's own, never a copy), then asks SQLite
// for the plan of every statement the store prepared and fails when one reads a table that grows
// with the tenant or its history from end to end. A change that drops an index, or a new query
// without one, fails here instead of slowing status, lookups and the writer at 100,000 users.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "storage/sqlite_store.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

// Tables whose size follows the tenant (entities, memberships) or its history (the inbox, the
// mutation log, ...). `dirty` (the work queue), `settings`, `guard_held` and `declared_sources`
// hold at most one row per entity or per key and are read whole on purpose.
const std::set<std::string> kGrowing = {"events",
                                        "mutations",
                                        "entities",
                                        "memberships",
                                        "known_memberships",
                                        "commands",
                                        "registry",
                                        "import_jobs",
                                        "import_job_users",
                                        "guard_window",
                                        "scim_members",
                                        "scim_resources",
                                        "vendor_notifications"};

// Statements allowed to read a growing table whole, each with the reason. Matched against the
// statement text with std::regex_search.
struct Allowed {
  const char* pattern;
  const char* why;
};
const Allowed kAllowed[] = {
    // Paging in key order: reads `limit` rows from where the previous page ended.
    {R"(FROM events WHERE seq > \? ORDER BY seq LIMIT \?$)", "a page of the inbox in seq order"},
    // Applied is what almost every event becomes, so a page of them is read in seq order too
    // (migrations/0014_inbox_narrow.sql indexes only the states that stay few).
    {R"(FROM events WHERE seq > \? AND state = 'applied' ORDER BY seq LIMIT \?$)",
     "a page of applied events in seq order"},
    {R"(FROM mutations WHERE 1=1( AND id < \?)? ORDER BY id DESC LIMIT \?$)",
     "a page of the mutation log, newest first"},
    // The plan and drift read every managed entity by design (one pass per plan / drift run).
    {R"(FROM entities WHERE kind = \?( AND auth0_id IS NOT NULL)?( ORDER BY external_id)?$)",
     "plan / drift / export snapshot of every entity of a kind"},
};

bool IsAllowed(const std::string& sql) {
  for (const auto& a : kAllowed)
    if (std::regex_search(sql, std::regex(a.pattern))) return true;
  return false;
}

// The table a plan line's name stands for: itself, or the table an alias in `sql` names.
std::string TableOf(const std::string& name, const std::string& sql) {
  if (kGrowing.count(name)) return name;
  std::smatch m;
  const std::regex alias("(?:FROM|JOIN)\\s+(\\w+)\\s+(?:AS\\s+)?" + name + "\\b");
  if (std::regex_search(sql, m, alias)) return m[1];
  return name;
}

// Partial indexes (CREATE INDEX ... WHERE): walking one reads only the rows it selects (e.g. the
// entities waiting for something), not the table.
std::set<std::string> PartialIndexes(SQLite::Database& db) {
  std::set<std::string> out;
  SQLite::Statement q(
      db, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'");
  while (q.executeStep()) out.insert(q.getColumn(0).getString());
  return out;
}

// Every plan line of `sql` that reads a growing table whole: "SCAN t" (a full table or full index
// walk, unless the index is partial) or a bare rowid range ("SEARCH t USING INTEGER PRIMARY KEY
// (rowid>?)"), which walks from the bound to the end when other terms filter.
std::vector<std::string> FullReads(SQLite::Database& db, const std::string& sql) {
  static const std::regex using_index(R"(^ USING (?:COVERING )?INDEX (\w+))");
  const auto partial = PartialIndexes(db);
  std::vector<std::string> out;
  SQLite::Statement plan(db, "EXPLAIN QUERY PLAN " + sql);
  static const std::regex line(R"(^(SCAN|SEARCH) (\w+)(.*)$)");
  while (plan.executeStep()) {
    const std::string detail = plan.getColumn(3).getString();
    std::smatch m;
    if (!std::regex_match(detail, m, line)) continue;
    const std::string table = TableOf(m[2], sql);
    if (!kGrowing.count(table)) continue;
    const std::string rest = m[3];
    std::smatch index;
    const bool partial_walk =
        std::regex_search(rest, index, using_index) && partial.count(index[1]) > 0;
    const bool full = (m[1] == "SCAN" && !partial_walk) ||
                      rest == " USING INTEGER PRIMARY KEY (rowid>?)" ||
                      rest == " USING INTEGER PRIMARY KEY (rowid<?)";
    if (full) out.push_back(detail);
  }
  return out;
}

class QueryPlans : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.path = testing::MakeTempDir("query-plans") + "/t.db";
    auto opened = SqliteStore::Open(options_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  StorageOptions options_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(QueryPlans, NoHotStatementReadsAGrowingTableWhole) {
  const int64_t now = 1795600800000;
  SqliteStore& s = *store_;
  // GET /v1/status and the metrics scrape.
  ASSERT_TRUE(s.CountEventsAt(now).ok());
  ASSERT_TRUE(s.CountEventsByState().ok());
  ASSERT_TRUE(s.CountMutationsByState().ok());
  ASSERT_TRUE(s.CountDirty().ok());
  ASSERT_TRUE(s.ScheduledDirty(now, 5).ok());
  ASSERT_TRUE(s.CountWaitingEntities().ok());
  ASSERT_TRUE(s.WaitingEntities(5).ok());
  ASSERT_TRUE(s.OldestPendingMs(now).ok());
  ASSERT_TRUE(s.CountScheduledEvents(now).ok());
  // Progress (GET /v1/status "progress", tenantsync wait).
  ASSERT_TRUE(s.CountDirtyDue(now, now + 60000).ok());
  ASSERT_TRUE(s.CountMutationsDoneSince(now - 60000).ok());
  ASSERT_TRUE(s.CountOpenImportUsers().ok());
  // tenantsync user / org, the console's lists.
  ASSERT_TRUE(s.ReadEntity(EntityKind::kUser, "e1").ok());
  ASSERT_TRUE(s.ReadUserMemberships("e1").ok());
  ASSERT_TRUE(s.ReadOrgMembers("acme", 1000).ok());
  ASSERT_TRUE(s.ListCommands("e1", 20).ok());
  ASSERT_TRUE(s.MembershipProblems("auth0|1", 20).ok());
  ASSERT_TRUE(s.GetSetting("guard").ok());
  SqliteStore::EntitySearch search;
  ASSERT_TRUE(s.SearchEntities(search).ok());
  search.kind = EntityKind::kUser;
  search.organizations = std::vector<std::string>{"acme"};
  ASSERT_TRUE(s.SearchEntities(search).ok());
  // tenantsync events / event / mutations, every filter the admin API passes.
  EventFilter f;
  ASSERT_TRUE(s.ListEvents(f).ok());
  for (auto state :
       {EventState::kPending, EventState::kRejected, EventState::kFailed, EventState::kApplied}) {
    f.state = state;
    ASSERT_TRUE(s.ListEvents(f).ok());
  }
  f = EventFilter();
  f.source = "console";
  ASSERT_TRUE(s.ListEvents(f).ok());
  f = EventFilter();
  f.event_id = "evt-1";  // GET /v1/events/{id} without ?source
  ASSERT_TRUE(s.ListEvents(f).ok());
  f.source = "hr";
  ASSERT_TRUE(s.ListEvents(f).ok());
  for (bool scheduled : {false, true}) {
    f = EventFilter();
    f.pending_at = EventFilter::Timing{now, scheduled};
    ASSERT_TRUE(s.ListEvents(f).ok());
  }
  SqliteStore::MutationFilter mf;
  ASSERT_TRUE(s.ListMutations(mf).ok());
  mf.before_id = 100;
  ASSERT_TRUE(s.ListMutations(mf).ok());
  mf = SqliteStore::MutationFilter();
  mf.state = MutationState::kDead;
  ASSERT_TRUE(s.ListMutations(mf).ok());
  mf = SqliteStore::MutationFilter();
  mf.entity = "user:e1";
  ASSERT_TRUE(s.ListMutations(mf).ok());
  ASSERT_TRUE(s.GetMutation(1).ok());
  // The writer: its picks and the statements of one step.
  ASSERT_TRUE(s.DueEvents(now, 100).ok());
  ASSERT_TRUE(s.ScheduledEvents(now, 100).ok());
  for (auto lane : {std::optional<bool>(), std::optional<bool>(true), std::optional<bool>(false)})
    ASSERT_TRUE(s.DueDirty(now, 64, lane).ok());
  ASSERT_TRUE(s.NextDirtyAt().ok());
  {
    auto txn = s.BeginState();
    ASSERT_TRUE(txn.ok());
    StateTxn& t = **txn;
    EntityRow row;
    row.external_id = "e1";
    ASSERT_TRUE(t.GetEntity(EntityKind::kUser, "e1").ok());
    ASSERT_TRUE(t.PutEntity(row, now).ok());
    ASSERT_TRUE(t.SetUserMemberships("e1", {{"acme", "e1", nlohmann::json::array()}}).ok());
    ASSERT_TRUE(t.UserMemberships("e1").ok());
    ASSERT_TRUE(t.DesiredMembers("acme").ok());
    ASSERT_TRUE(t.KnownMembers("acme").ok());
    ASSERT_TRUE(t.SetKnownMember("acme", "e1", nlohmann::json::array()).ok());
    ASSERT_TRUE(t.SetKnownMember("acme", "e1", std::nullopt).ok());
    ASSERT_TRUE(t.ForgetKnownMemberships("e1").ok());
    ASSERT_TRUE(t.MarkDirty("user:e1").ok());
    ASSERT_TRUE(t.DirtyAttempts("user:e1").ok());
    ASSERT_TRUE(t.DeferDirty("user:e1", 1, now).ok());
    ASSERT_TRUE(t.RequeueDirty("user:e1", 1, now).ok());
    ASSERT_TRUE(t.ClearDirty("user:e1", 1).ok());
    MutationRow m;
    m.entity = "user:e1";
    m.kind = "patch_user";
    auto id = t.InsertMutation(m);
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(t.UpdateMutation(*id, MutationState::kDone, "", 1, now).ok());
    ASSERT_TRUE(t.SupersedeFailed("user:e1").ok());
    ASSERT_TRUE(t.PendingCommands("e1").ok());
    ASSERT_TRUE(t.SetEventState(1, EventState::kApplied, "", now).ok());
    ASSERT_TRUE(t.SetEventState(1, EventState::kFailed, "", now).ok());
    ASSERT_TRUE(t.SetEventsApplied({1, 2}, now).ok());
    ASSERT_TRUE(t.PutDesired(EntityKind::kUser, "e1", nlohmann::json::object(), now).ok());
    ASSERT_TRUE(t.NoteEvent("hr", "evt-1", "note", now).ok());
    ASSERT_TRUE(t.OpenImportOf("e1").ok());
    ASSERT_TRUE(t.CountOpenImportUsers().ok());
    ASSERT_TRUE(t.CountManagedUsers().ok());
    ASSERT_TRUE(t.CountGuardWindow(now).ok());
    ASSERT_TRUE(t.GuardApproved("user:e1", now).ok());
    ASSERT_TRUE(t.Commit().ok());
  }
  // Retention: every compaction batch.
  for (CompactionKind k : kCompactionKinds) ASSERT_TRUE(s.CompactBatch(k, now, 10, now).ok());

  SQLite::Database db(options_.path, SQLite::OPEN_READONLY);
  const auto statements = s.PreparedSql();
  ASSERT_GT(statements.size(), 60u);  // the calls above really went through the cache
  int checked = 0;
  for (const auto& sql : statements) {
    if (sql.rfind("SAVEPOINT", 0) == 0 || sql.rfind("RELEASE", 0) == 0 ||
        sql.rfind("ROLLBACK", 0) == 0)
      continue;
    ++checked;
    auto full = FullReads(db, sql);
    if (!full.empty() && !IsAllowed(sql)) {
      ADD_FAILURE() << "reads a growing table whole: " << full.front() << "\n  in: " << sql;
    }
  }
  EXPECT_GT(checked, 60);
}

// The checker itself: a query on an unindexed column is caught, an indexed lookup is not.
TEST_F(QueryPlans, TheCheckerCatchesAScanAndAcceptsASearch) {
  SQLite::Database db(options_.path, SQLite::OPEN_READONLY);
  EXPECT_THAT(FullReads(db, "SELECT seq FROM events WHERE error = ?"),
              ::testing::ElementsAre(::testing::HasSubstr("SCAN events")));
  EXPECT_THAT(FullReads(db, "SELECT 1 FROM entities e WHERE e.desired = ?"),
              ::testing::ElementsAre(::testing::HasSubstr("SCAN e")));
  EXPECT_THAT(FullReads(db, "SELECT seq FROM events WHERE seq > ? AND error = ?"),
              ::testing::SizeIs(1));
  EXPECT_THAT(FullReads(db, "SELECT seq FROM events WHERE source = ? AND event_id = ?"),
              ::testing::IsEmpty());
  EXPECT_THAT(FullReads(db, "SELECT value FROM settings"), ::testing::IsEmpty());
  // A walk of a partial index reads only the rows it holds.
  EXPECT_THAT(FullReads(db, "SELECT seq FROM events WHERE state = 'pending' ORDER BY seq"),
              ::testing::IsEmpty());
  // ... but only when the query names the rows it holds.
  EXPECT_THAT(FullReads(db, "SELECT seq FROM events WHERE state = ? ORDER BY seq"),
              ::testing::SizeIs(1));
}

}  // namespace
}  // namespace tenantsync
