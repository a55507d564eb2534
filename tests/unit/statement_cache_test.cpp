// StatementCache (storage/statement_cache.h): statements are prepared once per SQL text, a lease
// hands them back reset and unbound, and nested use of the same SQL stays correct.
#include "storage/statement_cache.h"

#include <gtest/gtest.h>

namespace tenantsync {
namespace {

class StatementCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    db_.exec("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  }
  SQLite::Database db_{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
  StatementCache cache_{db_};
};

TEST_F(StatementCacheTest, PreparesEachSqlOnceAndReusesIt) {
  const std::string sql = "SELECT v FROM t WHERE k = ?";
  SQLite::Statement* first = nullptr;
  {
    auto q = cache_.Get(sql);
    first = &*q;
    q->bind(1, 2);
    ASSERT_TRUE(q->executeStep());
    EXPECT_EQ(q->getColumn(0).getString(), "b");
  }
  auto q = cache_.Get(sql);
  EXPECT_EQ(&*q, first);
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(StatementCacheTest, ALeaseEndsWithTheStatementResetAndUnbound) {
  const std::string sql = "SELECT COUNT(*) FROM t WHERE v = ?";
  {
    auto q = cache_.Get(sql);
    q->bind(1, "a");
    ASSERT_TRUE(q->executeStep());
    EXPECT_EQ(q->getColumn(0).getInt(), 1);
  }
  // Not bound again: the old binding must be gone (NULL matches nothing), and the statement
  // starts from its first row instead of reporting "done".
  auto q = cache_.Get(sql);
  ASSERT_TRUE(q->executeStep());
  EXPECT_EQ(q->getColumn(0).getInt(), 0);
}

TEST_F(StatementCacheTest, AHalfReadSelectDoesNotKeepItsSnapshot) {
  {
    auto q = cache_.Get("SELECT k FROM t ORDER BY k");
    ASSERT_TRUE(q->executeStep());  // stopped after one of three rows
  }
  // A statement left mid-read would keep the table busy for DROP TABLE ("database table is
  // locked"); the lease's reset releases it.
  EXPECT_NO_THROW(db_.exec("DROP TABLE t"));
}

TEST_F(StatementCacheTest, TheSameSqlInsideItsOwnLoopGetsAFreshStatement) {
  const std::string sql = "SELECT k FROM t WHERE k >= ? ORDER BY k";
  int pairs = 0;
  auto outer = cache_.Get(sql);
  outer->bind(1, 1);
  while (outer->executeStep()) {
    auto inner = cache_.Get(sql);
    EXPECT_NE(&*inner, &*outer);
    inner->bind(1, outer->getColumn(0).getInt());
    while (inner->executeStep()) ++pairs;
  }
  EXPECT_EQ(pairs, 3 + 2 + 1);
  EXPECT_EQ(cache_.size(), 1u);  // the nested one was not kept
}

}  // namespace
}  // namespace tenantsync
