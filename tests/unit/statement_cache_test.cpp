// StatementCache (storage/statement_cache.h): statements are prepared once per SQL text, a lease
// hands them back reset and unbound, and nested use of the same SQL stays correct.
#include "storage/statement_cache.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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

TEST_F(StatementCacheTest, ALiteralFindsTheStatementItsTextPrepared) {
  // The store passes its SQL as literals: looked up by address, but one statement per text
  // whichever way it was asked for.
  SQLite::Statement* by_text = nullptr;
  {
    auto q = cache_.Get(std::string("SELECT v FROM t WHERE k = ?"));
    by_text = &*q;
  }
  for (int i = 0; i < 3; ++i) {
    auto q = cache_.Get("SELECT v FROM t WHERE k = ?");
    EXPECT_EQ(&*q, by_text);
    q->bind(1, 3);
    ASSERT_TRUE(q->executeStep());
    EXPECT_EQ(q->getColumn(0).getString(), "c");
  }
  EXPECT_EQ(cache_.size(), 1u);
}

TEST_F(StatementCacheTest, AnArrayHoldingOtherTextNowGetsTheStatementOfThatText) {
  // An array is looked up by its address, which is only a shortcut: the text at that address
  // decides which statement it is.
  char sql[64] = "SELECT v FROM t WHERE k = 1";
  {
    auto q = cache_.Get(sql);
    ASSERT_TRUE(q->executeStep());
    EXPECT_EQ(q->getColumn(0).getString(), "a");
  }
  std::snprintf(sql, sizeof sql, "SELECT v FROM t WHERE k = 2");
  {
    auto q = cache_.Get(sql);
    ASSERT_TRUE(q->executeStep());
    EXPECT_EQ(q->getColumn(0).getString(), "b");
  }
  EXPECT_EQ(cache_.size(), 2u);
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

// CachedTransaction: BEGIN / COMMIT / ROLLBACK as cached statements, with SQLite::Transaction's
// contract.
class CachedTransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cached-txn-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/t.db";
    a_ = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    a_->exec("PRAGMA journal_mode=WAL");
    a_->exec("PRAGMA foreign_keys=ON");
    a_->exec(
        "CREATE TABLE p (k INTEGER PRIMARY KEY); CREATE TABLE c (k INTEGER REFERENCES p (k) "
        "DEFERRABLE INITIALLY DEFERRED)");
    cache_ = std::make_unique<StatementCache>(*a_);
    b_ = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE);
  }
  void TearDown() override {
    cache_.reset();
    a_.reset();
    b_.reset();
    std::filesystem::remove_all(dir_);
  }
  int Count(const std::string& table) {
    SQLite::Statement q(*b_, "SELECT COUNT(*) FROM " + table);
    q.executeStep();
    return q.getColumn(0).getInt();
  }
  std::string dir_, path_;
  std::unique_ptr<SQLite::Database> a_, b_;
  std::unique_ptr<StatementCache> cache_;
};

TEST_F(CachedTransactionTest, ACommittedTransactionStaysAndAnAbandonedOneIsUndone) {
  {
    CachedTransaction tx(*cache_, CachedTransaction::Kind::kImmediate);
    a_->exec("INSERT INTO p VALUES (1)");
    tx.commit();
  }
  {
    CachedTransaction tx(*cache_, CachedTransaction::Kind::kImmediate);
    a_->exec("INSERT INTO p VALUES (2)");
  }  // not committed: rolled back
  EXPECT_EQ(Count("p"), 1);
  EXPECT_TRUE(a_->getHandle() && sqlite3_get_autocommit(a_->getHandle()));  // nothing left open
}

TEST_F(CachedTransactionTest, ImmediateTakesTheWriteLockAtOnceDeferredDoesNot) {
  b_->setBusyTimeout(0);
  {
    CachedTransaction tx(*cache_, CachedTransaction::Kind::kImmediate);
    EXPECT_THROW(b_->exec("BEGIN IMMEDIATE"), SQLite::Exception);
  }
  {
    CachedTransaction tx(*cache_, CachedTransaction::Kind::kDeferred);
    EXPECT_EQ(Count("p"), 0);
    b_->exec("BEGIN IMMEDIATE");
    b_->exec("ROLLBACK");
  }
}

TEST_F(CachedTransactionTest, AFailedCommitThrowsAndTheDestructorRollsBack) {
  {
    CachedTransaction tx(*cache_, CachedTransaction::Kind::kImmediate);
    a_->exec("INSERT INTO c VALUES (7)");  // no parent: the deferred key fails at COMMIT
    EXPECT_THROW(tx.commit(), SQLite::Exception);
    EXPECT_FALSE(sqlite3_get_autocommit(a_->getHandle()));  // still open after the failure
  }
  EXPECT_TRUE(sqlite3_get_autocommit(a_->getHandle()));
  EXPECT_EQ(Count("c"), 0);
  // A failed BEGIN (a transaction already open) throws like SQLite::Transaction.
  a_->exec("BEGIN");
  EXPECT_THROW(CachedTransaction(*cache_, CachedTransaction::Kind::kImmediate), SQLite::Exception);
  a_->exec("ROLLBACK");
}

TEST_F(CachedTransactionTest, ItsStatementsArePreparedOnceForEveryTransaction) {
  for (int i = 0; i < 50; ++i) {
    CachedTransaction tx(
        *cache_, i % 2 ? CachedTransaction::Kind::kImmediate : CachedTransaction::Kind::kDeferred);
    if (i % 3) tx.commit();
  }
  auto texts = cache_->Texts();
  std::sort(texts.begin(), texts.end());
  EXPECT_EQ(texts,
            (std::vector<std::string>{"BEGIN DEFERRED", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"}));
}

}  // namespace
}  // namespace tenantsync
