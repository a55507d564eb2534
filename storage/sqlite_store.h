// SqliteStore: the Store on SQLite in WAL mode (SQLiteCpp).
//
// Owns one writer connection (every write transaction, BEGIN IMMEDIATE) and a small pool of
// read-only connections (StorageOptions::reader_connections), each guarded by its own mutex
// because a SQLiteCpp Database is not safe to share across threads. WAL lets the readers run
// while the writer commits, and the pool lets a short read (status, a user lookup) run while a
// long one (a drift snapshot, a plan of 100,000 users) holds another reader.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "storage/migrations.h"
#include "storage/priority_mutex.h"
#include "storage/retention.h"
#include "storage/state_store.h"
#include "storage/store.h"

namespace SQLite {
class Database;
}

namespace tenantsync {

class StatementCache;

struct StorageOptions {
  // Database file; its directory must exist. ":memory:" is accepted for tests.
  std::string path = "/var/lib/tenantsync/tenantsync.db";
  // How long a writer waits for a lock held by another connection (e.g. `tenantsync backup`).
  int busy_timeout_ms = 5000;
  // Time source for what the store stamps itself (a migration's applied_at_ms); null = the
  // system clock. Not owned.
  Clock* clock = nullptr;
  // What the daemon compacts and how often (storage/retention.h; [storage] *_retention_days,
  // compaction_*). The store itself compacts only when asked (CompactBatch).
  RetentionOptions retention;
  // Read-only connections ([storage] reader_connections, 1..16, default 4). Each keeps its own
  // page cache (SQLite's default, up to 2 MB), so more readers cost memory. ":memory:" has
  // none: its reads run on the writer connection.
  int reader_connections = 4;
  // Hears of the migrations Open (migrate = true) and Migrate apply; null = nobody. The daemon
  // keeps systemd's start-up timeout from cutting one short with it (daemon/migration_notice.h).
  // Not owned; must outlive the call.
  const MigrationObserver* migration_observer = nullptr;
};
// The range of StorageOptions::reader_connections (the config loader and Open check it).
inline constexpr int kMinReaderConnections = 1;
inline constexpr int kMaxReaderConnections = 16;

// Checks what the config loader does not (Open refuses a store it would make badly): the reader
// count of programmatic callers. kInvalid naming the key.
Status ValidateStorageOptions(const StorageOptions& o);

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) and brings the schema up to date when `migrate` is true; with
  // `migrate` false a database that is not at the current version is refused (kInvalid).
  static Result<std::unique_ptr<SqliteStore>> Open(const StorageOptions& options,
                                                   bool migrate = true);
  ~SqliteStore() override;

  // Opens the database (creating it if needed) and applies pending migrations only.
  static Result<MigrationReport> Migrate(const StorageOptions& options);

  Result<std::vector<InsertOutcome>> InsertEvents(const std::vector<EventRecord>& events) override;
  Result<std::vector<EventRecord>> ListEvents(const EventFilter& filter) override;
  // Read on the writer connection (under the write lock, for the length of the query): the
  // writer calls it just before its own write transaction.
  Result<std::vector<EventRecord>> DueEvents(int64_t now_ms, int limit) override;
  Result<std::map<std::string, int64_t>> CountEventsByState() override;

  // Writes a consistent copy of the database to `to` (SQLite online backup) while the store
  // stays usable.
  Status Backup(const std::string& to);

  // --- Desired state and the writer's queues (storage/state_store.cpp) ---
  // Begins a write transaction (BEGIN IMMEDIATE) holding the write lock; see StateTxn.
  Result<std::unique_ptr<StateTxn>> BeginState();
  // Begins a read-only snapshot (BEGIN DEFERRED) on a pooled reader connection, so that what
  // only reads (status, a drift snapshot) never waits for the writer's transaction, nor for a
  // long read on another reader. Writes through it fail (the connection is read-only).
  // ":memory:" has no readers: this then is a write transaction like BeginState.
  Result<std::unique_ptr<StateTxn>> BeginRead();
  // Entities due for reconciliation at `now_ms`, oldest mark first.
  // `commands`: only one-shot command entities ("command:N") when true, only the rest when false.
  Result<std::vector<DirtyItem>> DueDirty(int64_t now_ms, int limit,
                                          std::optional<bool> commands = std::nullopt);
  // Earliest not_before of any dirty entity (to sleep until), or nullopt when none.
  Result<std::optional<int64_t>> NextDirtyAt();
  Result<int64_t> CountDirty();
  // min(CountDirty(), limit): stops counting at `limit` rows, so asking "are there at least N
  // marks?" costs N index entries, not the whole queue (a backfill marks 100,000 users).
  Result<int64_t> CountDirtyUpTo(int64_t limit);
  // Read-only snapshot of one entity.
  Result<EntityRow> ReadEntity(EntityKind kind, const std::string& external_id);
  struct MutationFilter {
    std::optional<MutationState> state;
    std::optional<std::string> entity;
    int64_t before_id = 0;  // paging backwards: only ids < before_id (0 = newest)
    int limit = 100;
  };
  Result<std::vector<MutationRow>> ListMutations(const MutationFilter& filter);
  Result<std::optional<MutationRow>> GetMutation(int64_t id);
  Result<std::map<std::string, int64_t>> CountMutationsByState();
  // Work really waiting at `now_ms`: the oldest receipt of a pending event that is due
  // (scheduled events are not waiting), or creation of a pending/in-flight/failed mutation
  // (superseded attempts are not waiting).
  Result<std::optional<int64_t>> OldestPendingMs(int64_t now_ms);
  // Pending events whose effective_at is still in the future at `now_ms`.
  Result<int64_t> CountScheduledEvents(int64_t now_ms);
  Result<std::vector<EventRecord>> ScheduledEvents(int64_t now_ms, int limit);
  // Dirty entities due only after `now_ms` without a failed attempt (scheduled work, e.g. a
  // leaver's deletion), earliest first. Users awaiting an import are not scheduled work.
  Result<std::vector<DirtyItem>> ScheduledDirty(int64_t now_ms, int limit);
  // --- Read-only views for operators (admin API, CLI) ---
  // Events by state name like CountEventsByState, plus "scheduled": how many of the pending ones
  // have an effective_at still in the future at `now_ms` (a subset of "pending"). One snapshot.
  // Names with none are absent.
  Result<std::map<std::string, int64_t>> CountEventsAt(int64_t now_ms);
  // The dirty-queue figures of GET /v1/status (issue 17), one pass over `dirty` (a queue, bounded
  // by the entities) in one snapshot:
  //   due: marks due at `now_ms`; soon: due after it but by `soon_ms`;
  //   awaiting_import: users waiting for a users-import job (kAwaitingImportPriority) not due by
  //     `soon_ms` (the rest are in due/soon);
  //   scheduled: what ScheduledDirty(now_ms, ...) would list without a limit (due later, no
  //     failed attempt, not awaiting an import); total: every mark.
  struct DirtyDue {
    int64_t due = 0, soon = 0, awaiting_import = 0, scheduled = 0, total = 0;
  };
  Result<DirtyDue> CountDirtyDue(int64_t now_ms, int64_t soon_ms);
  // Mutations done at or after `since_ms` (by the time they were done, whenever created),
  // counted up to `window`: at most `window` entries of the (state, updated_at_ms) index are
  // read, so the count stays cheap however long the history and however busy the interval.
  Result<int64_t> CountMutationsDoneSince(int64_t since_ms, int64_t window = 10000);
  // Users in open (prepared or sent) users-import jobs: waiting for Auth0 to create them.
  Result<int64_t> CountOpenImportUsers();
  // Entities that cannot proceed and say why: known.waiting set by the executor (e.g. a user
  // waiting for an event with its email). A full scan of `entities` (json_extract per row; no
  // index), fine at tens of thousands of entities.
  struct WaitingEntity {
    EntityKind kind;
    std::string external_id;
    std::string reason;
  };
  Result<int64_t> CountWaitingEntities();
  Result<std::vector<WaitingEntity>> WaitingEntities(int limit);
  // Dead or failed mutations of member lists ("members:ORG") that concern the Auth0 user
  // `user_auth0_id` (request.user_id, or one of request.members), newest first: e.g. a role
  // that does not exist in Auth0.
  Result<std::vector<MutationRow>> MembershipProblems(const std::string& user_auth0_id, int limit);
  Result<std::vector<CommandRow>> ListCommands(const std::string& user_external_id, int limit);
  // Organizations or users for the admin console's lists (issue 16), ordered by external id.
  // `query` (non-empty): a case-insensitive substring of the external id or, for organizations,
  // of the desired name or display name, for users of the desired email. `organizations`: only
  // these organizations, or only users with a desired membership in one of them (an org-admin's
  // scope). Paged by `after` (external ids > after). Rows come with desired, known and auth0_id.
  struct EntitySearch {
    EntityKind kind = EntityKind::kOrganization;
    std::string query;
    std::string after;
    int limit = 50;
    std::optional<std::vector<std::string>> organizations;
  };
  struct FoundEntity {
    EntityRow row;
    bool to_reconcile = false;  // marked for reconciliation (work not done yet)
  };
  Result<std::vector<FoundEntity>> SearchEntities(const EntitySearch& search);
  // The desired memberships of one user (read connection; StateTxn::UserMemberships is the
  // writer's), ordered by organization.
  Result<std::vector<MembershipRow>> ReadUserMemberships(const std::string& user_external_id);
  // The desired members of one organization, ordered by user, at most `limit` of them.
  Result<std::vector<MembershipRow>> ReadOrgMembers(const std::string& org_external_id, int limit);
  Result<std::optional<std::string>> GetSetting(const std::string& key);
  // At start-up: work that was in flight when the process stopped is marked `failed`
  // ("interrupted") and its entity marked dirty so it is re-planned from what Auth0 holds;
  // commands that were in flight go back to pending (so they may run at most once more).
  Result<int> RecoverInterrupted(int64_t now_ms);

  // --- Declared sources (storage/declared_store.cpp; issue 15, docs/DECLARED.md) ---
  struct DeclaredRow {
    int64_t revision = 0;  // 0: never applied
    std::string state;     // JSON text; empty when never applied
    int64_t applied_at_ms = 0;
  };
  // The last applied declared state of `source` and its revision (revision 0 when none).
  Result<DeclaredRow> ReadDeclared(const std::string& source);
  // Auth0 ids of the entities of `kind` ("org" or "user") that have one, by external id
  // (`tenantsync export` joins them with a declared state).
  Result<std::map<std::string, std::string>> Auth0IdsByExternalId(const std::string& kind);
  // In one write transaction: checks that the stored revision of `source` is `base_revision`
  // (else kConflict naming both, and nothing is stored), inserts `events` into the inbox like
  // InsertEvents (duplicates of (source, event_id) are skipped and reported as such), and stores
  // `state` with revision base_revision + 1. Returns the new revision and one outcome per event.
  struct DeclaredApplied {
    int64_t revision = 0;
    std::vector<InsertOutcome> outcomes;
  };
  Result<DeclaredApplied> ApplyDeclared(const std::string& source, int64_t base_revision,
                                        const std::vector<EventRecord>& events,
                                        const std::string& state, int64_t now_ms);

  // --- Tables of an ingress extension (issue 18: SCIM, daemon/ingress/scim_store.*; vendor
  // notifications, daemon/ingress/vendor_stage.*) ---
  // Runs `work` on the writer connection inside one BEGIN IMMEDIATE transaction and inserts the
  // events it returns in that same transaction (like InsertEvents: duplicates of (source,
  // event_id) are skipped and reported), then commits: the extension's rows and its inbox events
  // land together or not at all. `work` returning an error rolls everything back and that error
  // is returned; a SQLite::Exception thrown by `work` is caught and mapped like every store error.
  Result<std::vector<InsertOutcome>> WriteWithEvents(
      const std::function<Result<std::vector<EventRecord>>(SQLite::Database&)>& work);
  // --- Retention (storage/retention_store.cpp, storage/retention.h) ---
  // One batch of `kind` in one write transaction: compacts at most `limit` rows last updated
  // before `cutoff_ms` (CompactionCutoff), stamping `now_ms` where the kind records it. Returns
  // how many rows it compacted; fewer than `limit` means nothing of `kind` is due any more.
  Result<int64_t> CompactBatch(CompactionKind kind, int64_t cutoff_ms, int limit, int64_t now_ms);
  // The SQL text of every statement this store has prepared so far, on both connections (the
  // query-plan test runs EXPLAIN QUERY PLAN on each after exercising the hot paths).
  std::vector<std::string> PreparedSql();

  // Runs read-only `work` on a reader connection (the writer's for ":memory:"); a
  // SQLite::Exception thrown by it becomes a Status.
  Status ReadWith(const std::function<Status(SQLite::Database&)>& work);

  // Threads waiting for the write connection other than the inbox's (tests: they are queued).
  int writers_waiting() const { return write_mu_.ordinary_waiting(); }
  // Inbox writes (InsertEvents, WriteWithEvents) waiting for the write connection.
  int inbox_writes_waiting() const { return write_mu_.first_waiting(); }

 private:
  SqliteStore(std::unique_ptr<SQLite::Database> writer,
              std::vector<std::unique_ptr<SQLite::Database>> readers);
  // Inserts `events` on the writer connection inside the caller's transaction (write_mu_ held):
  // each is inserted or found a duplicate of (source, event_id). Throws SQLite::Exception.
  std::vector<InsertOutcome> InsertEventRows(const std::vector<EventRecord>& events);
  // Events matching `where_order` (SQL after WHERE, binding ?1 = now_ms and ?2 = limit), read
  // on a pooled reader, or on the writer connection (taking write_mu_) when `on_writer`.
  Result<std::vector<EventRecord>> SelectEvents(const char* where_order, int64_t now_ms, int limit,
                                                const char* what, bool on_writer = false);

  // The write connection, the inbox first (issue 13). Every write transaction holds write_mu_;
  // InsertEvents and WriteWithEvents (events being acknowledged to senders) take it through
  // LockWriterForInbox (PriorityMutex::lock_first), everything else through LockWriter, so a
  // waiting inbox write gets the connection at the next unlock, before any writer already waiting.
  // Without it, with 32 Auth0 workers each committing a transaction per step (an fsync each), the
  // group committer got one turn in ~33: a 100,000-user backfill took 301 s to be accepted instead
  // of 55 (docs/BENCHMARKS.md, session 29). Others are not shut out: the committer answers its
  // batch between two commits, and the workers get the connection then.
  PriorityLock LockWriter();
  PriorityLock LockWriterForInbox();
  PriorityMutex write_mu_;
  std::unique_ptr<SQLite::Database> writer_;  // guarded by write_mu_
  // Prepared statements of the writer, under write_mu_; declared after the connection so that
  // they are finalized first.
  std::unique_ptr<StatementCache> writer_stmts_;

  // One read-only connection and its statements, both guarded by `mu`.
  struct Reader {
    PriorityMutex mu;  // only lock()/try_lock(): readers have no priority
    std::unique_ptr<SQLite::Database> db;
    std::unique_ptr<StatementCache> stmts;  // after db: finalized first
  };
  // Exclusive use of one reader (or of the writer, for ":memory:") until destroyed.
  struct ReadLease {
    PriorityLock lock;
    SQLite::Database* db = nullptr;
    StatementCache* stmts = nullptr;
  };
  // A free reader if there is one (tried round-robin), else waits for one of them; the writer
  // connection when there are no readers (":memory:").
  ReadLease LeaseReader();
  // The writer connection, holding write_mu_ for as long as the lease lives.
  ReadLease LeaseWriter();
  std::vector<std::unique_ptr<Reader>> readers_;  // fixed after construction
  std::atomic<unsigned> next_reader_{0};
};

// Maps a SQLite result code to a Status kind: busy/locked/full/I/O → kRetryable, else kInvalid.
Status SqliteError(int code, const std::string& what);

}  // namespace tenantsync
