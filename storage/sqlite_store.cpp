#include "storage/sqlite_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <array>
#include <mutex>

#include "storage/migrations.h"
#include "storage/statement_cache.h"
#include "storage/wal_coalescing_vfs.h"

namespace tenantsync {

const char* EventStateName(EventState s) {
  switch (s) {
    case EventState::kPending:
      return "pending";
    case EventState::kApplied:
      return "applied";
    case EventState::kRejected:
      return "rejected";
    case EventState::kFailed:
      return "failed";
  }
  return "unknown";
}

std::optional<EventState> ParseEventState(std::string_view name) {
  for (auto s :
       {EventState::kPending, EventState::kApplied, EventState::kRejected, EventState::kFailed}) {
    if (name == EventStateName(s)) return s;
  }
  return std::nullopt;
}

Status SqliteError(int code, const std::string& what) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
      return Status::Retryable("storage unavailable: " + what);
    default:
      return Status::Invalid("storage error: " + what);
  }
}

namespace {

// Process-wide SQLite settings, possible only before SQLite initializes (the first connection
// opened); if something initialized it earlier, sqlite3_config refuses with SQLITE_MISUSE and the
// defaults stay, which is only slower.
//
// Memory statistics: SQLite counts every allocation for sqlite3_memory_used() and sqlite3_status()
// under one process-wide mutex (on by default), so every malloc and free of every connection takes
// it. Nothing in tenantsync reads those figures.
//
// Statement journals: a statement that changes many rows inside a larger transaction (the writer
// marking a batch of 500 events applied in one UPDATE) keeps the pages it changes until it ends,
// in memory up to 64 KiB by default and then in a new file in the temp directory (/var/tmp) —
// a file created, written and deleted for every batch, outside the database's directory and on
// whatever disk that is. kStatementJournalInMemory keeps them in memory up to a bound; a larger
// one still spills (WriterTest.FoldingAFullBatchWritesNoFileOutsideTheDatabase: none at 500).
constexpr int kStatementJournalInMemory = 16 << 20;

void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStatementJournalInMemory);
  });
}

// A checkpoint copies every page written since the last one from the WAL into the database, one
// read and one write per page. Between checkpoints 10,000 pages apart (SQLite's default is
// 1,000) the pages every commit rewrites (the inbox's last leaves, the state counts) and many
// of the dedup key's random leaves are copied once instead of ten times: bench-ingest counted
// 0.52 checkpoint writes and 0.86 reads per stored event instead of 1.21 and 1.51, and stored a
// third more events per second on a disk (docs/BENCHMARKS.md, session 27). The -wal file grows
// to ~40 MB (10,000 pages of 4 KiB) plus what one transaction writes, and stays that size.
constexpr int kWalAutocheckpointPages = 10000;

void Configure(SQLite::Database& db, int busy_timeout_ms) {
  db.setBusyTimeout(busy_timeout_ms);
  // WAL lets readers run beside the single writer; synchronous=FULL makes every commit fsync the
  // WAL, which is what "202 only after a durable commit" requires.
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=FULL");
  db.exec("PRAGMA foreign_keys=ON");
  db.exec("PRAGMA wal_autocheckpoint=" + std::to_string(kWalAutocheckpointPages));
}

EventRecord ReadEvent(SQLite::Statement& q) {
  EventRecord r;
  r.seq = q.getColumn(0).getInt64();
  r.source = q.getColumn(1).getString();
  r.event_id = q.getColumn(2).getString();
  if (!q.getColumn(3).isNull()) r.type = q.getColumn(3).getString();
  if (!q.getColumn(4).isNull()) r.occurred_at_ms = q.getColumn(4).getInt64();
  if (!q.getColumn(5).isNull()) r.effective_at_ms = q.getColumn(5).getInt64();
  r.received_at_ms = q.getColumn(6).getInt64();
  r.state = ParseEventState(q.getColumn(7).getString()).value_or(EventState::kFailed);
  if (!q.getColumn(8).isNull()) r.error = q.getColumn(8).getString();
  r.body = q.getColumn(9).getString();
  r.updated_at_ms = q.getColumn(10).getInt64();
  if (!q.getColumn(11).isNull()) r.note = q.getColumn(11).getString();
  if (!q.getColumn(12).isNull()) r.submitted_by = q.getColumn(12).getString();
  if (!q.getColumn(13).isNull()) r.compacted_at_ms = q.getColumn(13).getInt64();
  return r;
}

int64_t NowMs(const StorageOptions& options) {
  return (options.clock != nullptr ? *options.clock : SystemClock()).NowUnixMillis();
}

// EventState's values, 0..kEventStates-1 (counted per state in InsertEventRows).
constexpr size_t kEventStates = 4;
static_assert(static_cast<size_t>(EventState::kFailed) == kEventStates - 1);

constexpr const char* kEventColumns =
    "seq, source, event_id, type, occurred_at_ms, effective_at_ms, received_at_ms, state, error, "
    "body, updated_at_ms, note, submitted_by, compacted_at_ms";

}  // namespace

Status ValidateStorageOptions(const StorageOptions& o) {
  if (o.reader_connections < kMinReaderConnections || o.reader_connections > kMaxReaderConnections)
    return Status::Invalid("[storage] reader_connections must be " +
                           std::to_string(kMinReaderConnections) + ".." +
                           std::to_string(kMaxReaderConnections) + " (got " +
                           std::to_string(o.reader_connections) + ")");
  return Status::Ok();
}

SqliteStore::SqliteStore(std::unique_ptr<SQLite::Database> writer,
                         std::vector<std::unique_ptr<SQLite::Database>> readers)
    : writer_(std::move(writer)), writer_stmts_(std::make_unique<StatementCache>(*writer_)) {
  for (auto& db : readers) {
    auto r = std::make_unique<Reader>();
    r->db = std::move(db);
    r->stmts = std::make_unique<StatementCache>(*r->db);
    readers_.push_back(std::move(r));
  }
}

PriorityLock SqliteStore::LockWriter() { return PriorityLock(write_mu_); }

PriorityLock SqliteStore::LockWriterForInbox() {
  write_mu_.lock_first();
  return PriorityLock(write_mu_, std::adopt_lock);
}

SqliteStore::ReadLease SqliteStore::LeaseWriter() {
  return {LockWriter(), writer_.get(), writer_stmts_.get()};
}

SqliteStore::ReadLease SqliteStore::LeaseReader() {
  if (readers_.empty()) return LeaseWriter();
  const size_t n = readers_.size();
  const size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed) % n;
  for (size_t i = 0; i < n; ++i) {
    Reader& r = *readers_[(start + i) % n];
    PriorityLock lock(r.mu, std::try_to_lock);
    if (lock.owns_lock()) return {std::move(lock), r.db.get(), r.stmts.get()};
  }
  // Every reader is busy: queue on one (each read is short or a bounded snapshot).
  Reader& r = *readers_[start];
  return {PriorityLock(r.mu), r.db.get(), r.stmts.get()};
}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const StorageOptions& options,
                                                       bool migrate) {
  if (auto st = ValidateStorageOptions(options); !st.ok()) return st;
  ConfigureSqliteOnce();
  try {
    // No SQLite mutex per call (OPEN_NOMUTEX, SQLite's "multi-thread" mode): every connection
    // is used by one thread at a time already — the writer under write_mu_, a reader under its
    // lease — so SQLite's own serialization only cost a lock per API call on every statement
    // (5 % of the writer's fold, docs/BENCHMARKS.md).
    auto writer = std::make_unique<SQLite::Database>(
        options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX, 0,
        WalCoalescingVfsName());
    Configure(*writer, options.busy_timeout_ms);
    const auto& migrations = EmbeddedMigrations();
    if (migrate) {
      auto report =
          ApplyMigrations(*writer, migrations, NowMs(options), options.migration_observer);
      if (!report.ok()) return report.status();
    } else {
      auto version = SchemaVersion(*writer);
      if (!version.ok()) return version.status();
      int want = migrations.empty() ? 0 : migrations.back().version;
      if (*version != want) {
        return Status::Invalid("database schema version " + std::to_string(*version) +
                               " but this tenantsync needs " + std::to_string(want) +
                               (*version < want ? "; run `tenantsync migrate`" : "; it is newer"));
      }
    }
    std::vector<std::unique_ptr<SQLite::Database>> readers;
    if (options.path != ":memory:") {
      for (int i = 0; i < options.reader_connections; ++i) {
        readers.push_back(std::make_unique<SQLite::Database>(
            options.path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, 0, WalCoalescingVfsName()));
        readers.back()->setBusyTimeout(options.busy_timeout_ms);
      }
    }
    return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(writer), std::move(readers)));
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), "opening " + options.path + ": " + e.what());
  }
}

Result<MigrationReport> SqliteStore::Migrate(const StorageOptions& options) {
  ConfigureSqliteOnce();
  try {
    SQLite::Database db(options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0,
                        WalCoalescingVfsName());
    Configure(db, options.busy_timeout_ms);
    return ApplyMigrations(db, EmbeddedMigrations(), NowMs(options), options.migration_observer);
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), "opening " + options.path + ": " + e.what());
  }
}

std::vector<InsertOutcome> SqliteStore::InsertEventRows(const std::vector<EventRecord>& events) {
  std::vector<InsertOutcome> out;
  out.reserve(events.size());
  std::array<int64_t, kEventStates> added{};
  // Each new event's seq is one past the highest ever given: the highest stored or, when the
  // newest were deleted, the highest deleted (kept by a trigger; migrations/
  // 0019_events_seq_without_autoincrement.sql). Read once per commit, instead of AUTOINCREMENT's
  // read and write of sqlite_sequence for every row.
  int64_t next_seq = 1;
  {
    auto top = writer_stmts_->Get(
        "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0), COALESCE((SELECT n FROM "
        "state_counts WHERE tbl = 'events_seq' AND state = 'deleted_max'), 0))");
    if (top->executeStep()) next_seq = top->getColumn(0).getInt64() + 1;
  }
  auto ins = writer_stmts_->Get(
      "INSERT INTO events (seq, source, event_id, type, occurred_at_ms, "
      "effective_at_ms, received_at_ms, state, error, body, updated_at_ms, submitted_by) "
      "VALUES (?12,?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) ON CONFLICT (source, event_id) DO NOTHING");
  // The texts are bound without a copy (SQLite would otherwise allocate and copy every body):
  // `events` outlives each row's exec, and clearBindings drops the pointers before the next row.
  for (const auto& e : events) {
    ins->reset();
    ins->clearBindings();
    ins->bind(12, next_seq);
    ins->bindNoCopy(1, e.source);
    ins->bindNoCopy(2, e.event_id);
    if (e.type) ins->bindNoCopy(3, *e.type);
    if (e.occurred_at_ms) ins->bind(4, static_cast<int64_t>(*e.occurred_at_ms));
    if (e.effective_at_ms) ins->bind(5, static_cast<int64_t>(*e.effective_at_ms));
    ins->bind(6, static_cast<int64_t>(e.received_at_ms));
    ins->bindNoCopy(7, EventStateName(e.state));
    if (!e.error.empty()) ins->bindNoCopy(8, e.error);
    ins->bindNoCopy(9, e.body);
    ins->bind(10, static_cast<int64_t>(e.received_at_ms));
    if (!e.submitted_by.empty()) ins->bindNoCopy(11, e.submitted_by);
    const bool inserted = ins->exec() == 1;
    if (inserted) {
      ++added[static_cast<size_t>(e.state)];
      ++next_seq;
    }
    out.push_back(inserted ? InsertOutcome::kInserted : InsertOutcome::kDuplicate);
  }
  // The counts status reads (state_counts): this is the only way rows enter `events`, so the
  // count is added here, once per state, instead of by a trigger per row (migrations/
  // 0014_inbox_narrow.sql); state changes by the store's statements that make them (0018), deletes
  // by a trigger.
  auto count = writer_stmts_->Get(
      "INSERT INTO state_counts (tbl, state, n) VALUES ('events', ?, ?) "
      "ON CONFLICT (tbl, state) DO UPDATE SET n = n + excluded.n");
  for (size_t s = 0; s < added.size(); ++s) {
    if (added[s] == 0) continue;
    count->reset();
    count->bind(1, EventStateName(static_cast<EventState>(s)));
    count->bind(2, added[s]);
    count->exec();
  }
  return out;
}

Result<std::vector<InsertOutcome>> SqliteStore::InsertEvents(
    const std::vector<EventRecord>& events) {
  auto lock = LockWriterForInbox();
  std::vector<InsertOutcome> out;
  try {
    CachedTransaction tx(*writer_stmts_, CachedTransaction::Kind::kImmediate);
    out = InsertEventRows(events);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("storing events: ") + e.what());
  }
  return out;
}

Result<std::vector<EventRecord>> SqliteStore::ListEvents(const EventFilter& filter) {
  std::string sql;
  // By id alone: the dedup key (source, event_id) is the only index on the id, so the id is looked
  // up once per distinct source, each found by a step through that index (migrations/
  // 0014_inbox_narrow.sql) — a few lookups, however large the inbox.
  if (filter.event_id && !filter.source) {
    sql =
        "WITH RECURSIVE sources(s) AS (SELECT MIN(source) FROM events UNION ALL SELECT (SELECT "
        "MIN(source) FROM events WHERE source > s) FROM sources WHERE s IS NOT NULL) ";
  }
  sql += std::string("SELECT ") + kEventColumns + " FROM events WHERE seq > ?";
  // The state as a literal (a closed set): each state worth looking for has a partial index, which
  // SQLite uses only when the query names that very state.
  if (filter.state) sql += std::string(" AND state = '") + EventStateName(*filter.state) + "'";
  if (filter.source) sql += " AND source = ?";
  if (filter.event_id && !filter.source) sql += " AND source IN (SELECT s FROM sources)";
  if (filter.event_id) sql += " AND event_id = ?";
  if (filter.pending_at) {
    sql += filter.pending_at->scheduled
               ? " AND state = 'pending' AND effective_at_ms > ?"
               : " AND state = 'pending' AND (effective_at_ms IS NULL OR effective_at_ms <= ?)";
  }
  sql += " ORDER BY seq LIMIT ?";
  auto lease = LeaseReader();
  StatementCache& stmts = *lease.stmts;
  try {
    auto q = stmts.Get(sql);
    int i = 1;
    q->bind(i++, static_cast<int64_t>(filter.after_seq));
    if (filter.source) q->bind(i++, *filter.source);
    if (filter.event_id) q->bind(i++, *filter.event_id);
    if (filter.pending_at) q->bind(i++, static_cast<int64_t>(filter.pending_at->now_ms));
    q->bind(i++, filter.limit);
    std::vector<EventRecord> out;
    while (q->executeStep()) out.push_back(ReadEvent(*q));
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("listing events: ") + e.what());
  }
}

Result<std::vector<EventRecord>> SqliteStore::SelectEvents(const char* where_order, int64_t now_ms,
                                                           int limit, const char* what,
                                                           bool on_writer) {
  auto lease = on_writer ? LeaseWriter() : LeaseReader();
  StatementCache& stmts = *lease.stmts;
  try {
    auto q =
        stmts.Get(std::string("SELECT ") + kEventColumns + " FROM events WHERE " + where_order);
    q->bind(1, static_cast<int64_t>(now_ms));
    q->bind(2, limit);
    std::vector<EventRecord> out;
    while (q->executeStep()) out.push_back(ReadEvent(*q));
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string(what) + ": " + e.what());
  }
}

Result<std::vector<EventRecord>> SqliteStore::DueEvents(int64_t now_ms, int limit) {
  // On the writer connection: the events due are mostly those the group committer has just
  // stored through it, so their pages are in its cache, where a reader's whole cache is dropped
  // by every commit and each page read again from the WAL (issue 13; docs/BENCHMARKS.md,
  // session 37).
  return SelectEvents(
      "state = 'pending' AND (effective_at_ms IS NULL OR effective_at_ms <= ?) ORDER BY seq LIMIT "
      "?",
      now_ms, limit, "due events", /*on_writer=*/true);
}

Result<std::vector<EventRecord>> SqliteStore::ScheduledEvents(int64_t now_ms, int limit) {
  return SelectEvents("state = 'pending' AND effective_at_ms > ? ORDER BY effective_at_ms LIMIT ?",
                      now_ms, limit, "scheduled events");
}

Result<int64_t> SqliteStore::CountScheduledEvents(int64_t now_ms) {
  auto lease = LeaseReader();
  StatementCache& stmts = *lease.stmts;
  try {
    auto q =
        stmts.Get("SELECT COUNT(*) FROM events WHERE state = 'pending' AND effective_at_ms > ?");
    q->bind(1, static_cast<int64_t>(now_ms));
    q->executeStep();
    return q->getColumn(0).getInt64();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("counting scheduled events: ") + e.what());
  }
}

Result<std::map<std::string, int64_t>> SqliteStore::CountEventsByState() {
  auto lease = LeaseReader();
  StatementCache& stmts = *lease.stmts;
  try {
    // state_counts is kept by the inserts and by triggers (migrations/0010_retention.sql and
    // 0014_inbox_narrow.sql): a few rows, however many events the inbox holds.
    auto q = stmts.Get("SELECT state, n FROM state_counts WHERE tbl = 'events' AND n > 0");
    std::map<std::string, int64_t> out;
    while (q->executeStep()) out[q->getColumn(0).getString()] = q->getColumn(1).getInt64();
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("counting events: ") + e.what());
  }
}

Result<std::map<std::string, int64_t>> SqliteStore::CountEventsAt(int64_t now_ms) {
  auto lease = LeaseReader();
  StatementCache& stmts = *lease.stmts;
  try {
    // One statement, so one snapshot: the counts state_counts keeps (see CountEventsByState) and
    // the scheduled ones among the pending rows (events_pending), never a walk over every event.
    auto q = stmts.Get(
        "SELECT state, n FROM state_counts WHERE tbl = 'events' UNION ALL "
        "SELECT 'scheduled', COUNT(*) FROM events WHERE state = 'pending' AND "
        "effective_at_ms > ?");
    q->bind(1, static_cast<int64_t>(now_ms));
    std::map<std::string, int64_t> out;
    while (q->executeStep()) {
      if (q->getColumn(1).getInt64() > 0)
        out[q->getColumn(0).getString()] = q->getColumn(1).getInt64();
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("counting events: ") + e.what());
  }
}

Status SqliteStore::Backup(const std::string& to) {
  auto lock = LockWriter();
  try {
    // VACUUM INTO writes a transactionally consistent, compacted copy without blocking readers.
    auto q = writer_stmts_->Get("VACUUM INTO ?");
    q->bind(1, to);
    q->exec();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), "backup to " + to + ": " + e.what());
  }
}

Result<std::vector<InsertOutcome>> SqliteStore::WriteWithEvents(
    const std::function<Result<std::vector<EventRecord>>(SQLite::Database&)>& work) {
  auto lock = LockWriterForInbox();
  try {
    CachedTransaction tx(*writer_stmts_, CachedTransaction::Kind::kImmediate);
    auto events = work(*writer_);
    if (!events.ok()) return events.status();  // the transaction rolls back
    auto out = InsertEventRows(*events);
    tx.commit();
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(),
                       std::string("storing an ingress change with its events: ") + e.what());
  }
}

Status SqliteStore::ReadWith(const std::function<Status(SQLite::Database&)>& work) {
  auto lease = LeaseReader();
  try {
    return work(*lease.db);
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("reading ingress tables: ") + e.what());
  }
}

}  // namespace tenantsync
