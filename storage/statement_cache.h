// StatementCache: prepared statements of one SQLite connection, kept for reuse.
//
// Preparing a statement (parsing and planning its SQL) cost more CPU than running it for the
// small statements the writer and ingress issue per event, so each connection keeps the ones it
// has prepared, keyed by their SQL text.
//
// Ownership and threads: one cache per SQLite::Database, used under the same mutex as that
// connection (not thread-safe itself); it must be destroyed before the connection.
// A Lease gives exclusive use of one statement and, when it ends, resets it (releasing any read
// snapshot a half-stepped SELECT holds) and clears its bindings, so the next user starts clean
// and text bound with bindNoCopy (no copy into SQLite) needs to live only until the lease's last
// step, not past the lease.
// If the same SQL is already leased (a statement run while iterating another copy of itself),
// the second lease gets a fresh statement that is not cached.
// Errors: Get throws SQLite::Exception like SQLite::Statement's constructor (callers already
// catch it at the storage boundary).
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tenantsync {

class StatementCache {
 public:
  explicit StatementCache(SQLite::Database& db) : db_(db) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : stmt_(other.stmt_), owned_(std::move(other.owned_)), in_use_(other.in_use_) {
      other.stmt_ = nullptr;
      other.in_use_ = nullptr;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (!stmt_ || owned_) return;  // an uncached statement finalizes itself
      stmt_->tryReset();
      try {
        stmt_->clearBindings();
      } catch (...) {
        // clearBindings fails only on a misuse SQLite reports elsewhere; the next user rebinds
        // every parameter it uses anyway.
      }
      if (in_use_) *in_use_ = false;
    }
    SQLite::Statement& operator*() const { return *stmt_; }
    SQLite::Statement* operator->() const { return stmt_; }

   private:
    friend class StatementCache;
    Lease(SQLite::Statement* stmt, std::unique_ptr<SQLite::Statement> owned, bool* in_use)
        : stmt_(stmt), owned_(std::move(owned)), in_use_(in_use) {}
    SQLite::Statement* stmt_;
    std::unique_ptr<SQLite::Statement> owned_;  // set for an uncached (nested) statement
    bool* in_use_;
  };

  Lease Get(const std::string& sql) { return Acquire(Find(sql)); }

  // SQL written in the source as a literal (how the store asks for every statement it runs per
  // event): found by the array's address, without building a std::string and hashing its text
  // at every call (~500 instructions, ~9 calls per stored event; docs/BENCHMARKS.md, session
  // 35), then checked against the text there, so an array whose text changed gets the statement
  // of its new text. One statement per text, whichever overload asked for it.
  template <size_t N>
  Lease Get(const char (&sql)[N]) {
    const std::string_view text(sql, ::strnlen(sql, N));
    auto it = by_address_.find(sql);
    if (it != by_address_.end() && it->second->first == text) return Acquire(*it->second);
    Slot& slot = Find(std::string(text));
    by_address_[sql] = &slot;
    return Acquire(slot);
  }

  // Finalizes every cached statement (none may be leased), e.g. before VACUUM or closing.
  void Clear() {
    by_address_.clear();
    entries_.clear();
  }
  size_t size() const { return entries_.size(); }
  // The SQL of every cached statement (tests run EXPLAIN QUERY PLAN on them).
  std::vector<std::string> Texts() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [sql, entry] : entries_) out.push_back(sql);
    return out;
  }

 private:
  struct Entry {
    std::unique_ptr<SQLite::Statement> stmt;
    bool in_use = false;
  };
  using Slot = std::pair<const std::string, Entry>;

  // The entry of `sql`, prepared now if it is new.
  Slot& Find(const std::string& sql) {
    auto it = entries_.find(sql);
    if (it == entries_.end()) {
      Entry entry{std::make_unique<SQLite::Statement>(db_, sql), false};
      it = entries_.emplace(sql, std::move(entry)).first;
    }
    return *it;
  }

  Lease Acquire(Slot& slot) {
    Entry& entry = slot.second;
    if (entry.in_use) {
      auto fresh = std::make_unique<SQLite::Statement>(db_, slot.first);
      SQLite::Statement* raw = fresh.get();
      return Lease(raw, std::move(fresh), nullptr);
    }
    entry.in_use = true;
    return Lease(entry.stmt.get(), nullptr, &entry.in_use);
  }

  SQLite::Database& db_;
  std::unordered_map<std::string, Entry> entries_;
  // Literal address -> its entry (elements of entries_ stay put when it rehashes).
  std::unordered_map<const char*, Slot*> by_address_;
};

// A transaction on one connection whose BEGIN, COMMIT and ROLLBACK are statements of that
// connection's StatementCache, prepared once, instead of SQL text that SQLite::Transaction hands
// to sqlite3_exec, which parses it again at every use (~8,000 instructions per BEGIN or COMMIT
// against a schema of this size; issue 13: a group commit of ~7 events paid two).
//
// The same contract as SQLite::Transaction: the constructor begins (kDeferred: a read snapshot
// from the first read on; kImmediate: the write lock taken now) and throws SQLite::Exception when
// it cannot; commit() throws when COMMIT fails, and the transaction is then still open; the
// destructor rolls back a transaction not committed and never throws. Not thread-safe: used under
// the connection's mutex, like the cache.
class CachedTransaction {
 public:
  enum class Kind { kDeferred, kImmediate };
  CachedTransaction(StatementCache& stmts, Kind kind) : stmts_(stmts) {
    stmts_.Get(kind == Kind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")->exec();
  }
  CachedTransaction(const CachedTransaction&) = delete;
  CachedTransaction& operator=(const CachedTransaction&) = delete;
  ~CachedTransaction() {
    if (committed_) return;
    try {
      stmts_.Get("ROLLBACK")->exec();
    } catch (...) {
      // Nothing to undo when SQLite already rolled the transaction back itself (a full disk or
      // an I/O error during COMMIT); a destructor must not throw.
    }
  }
  void commit() {
    stmts_.Get("COMMIT")->exec();
    committed_ = true;
  }

 private:
  StatementCache& stmts_;
  bool committed_ = false;
};

}  // namespace tenantsync
