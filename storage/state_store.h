// StateTxn: typed access to desired state, known Auth0 state, the reconciler's work queue, the
// mutation log and one-shot commands, inside one SQLite write transaction.
//
// Ownership and threads: obtained from SqliteStore::BeginState(); it holds the store's write lock
// from creation until Commit() or destruction (destruction without Commit rolls back), so keep it
// short and never hold one across an Auth0 request. Not thread-safe itself.
// Errors: methods return kRetryable when storage is busy or failing, kInvalid otherwise; after
// any error the transaction should be abandoned (destroyed).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/priority_mutex.h"
#include "storage/store.h"

namespace SQLite {
class Database;
}  // namespace SQLite

namespace tenantsync {

class StatementCache;
class CachedTransaction;

// What an entity row describes; stored as "org" / "user".
enum class EntityKind { kOrganization, kUser };
const char* EntityKindName(EntityKind kind);

struct EntityRow {
  EntityKind kind = EntityKind::kUser;
  std::string external_id;
  nlohmann::json desired = nlohmann::json::object();
  nlohmann::json known = nlohmann::json::object();
  std::optional<std::string> auth0_id;
  bool exists = false;  // false: not stored yet (GetEntity of an unknown id)
};

// An entity's desired state alone (StateTxn::GetDesired): what the writer's fold reads for every
// event. No known state and no Auth0 id, so it cannot be written back whole by mistake: only
// PutDesired takes it.
struct DesiredRow {
  EntityKind kind = EntityKind::kUser;
  std::string external_id;
  nlohmann::json desired = nlohmann::json::object();
  bool exists = false;  // false: not stored yet
  int64_t rowid = 0;    // the row GetDesired read (when it exists), for PutDesired to find again
};

struct MembershipRow {
  std::string org_external_id;
  std::string user_external_id;
  nlohmann::json roles = nlohmann::json::array();
};

struct DirtyItem {
  std::string entity;
  int64_t generation = 0;
  int64_t not_before_ms = 0;
  int attempts = 0;
  int priority = 0;  // kAccessRemovalPriority: ahead of every other entity
};
// Due order: access removals, then users-imports jobs, then ordinary work (0). An import job
// stands for many creates, so a backfill's first job does not wait behind every hire still to be
// deferred; it never goes before a leaver (migrations/0011_import_priority.sql).
inline constexpr int kBulkCreatePriority = 1;
inline constexpr int kAccessRemovalPriority = 2;
// A user waiting for a users-import job (migrations/0012_awaiting_import.sql): due only at a long
// backstop, after everything else; the imports entity marks it (priority 0, due now) when its job
// ends or the import path is off. Progress counts these marks as work still to do.
inline constexpr int kAwaitingImportPriority = -1;
// The closed set of priorities (SqliteStore::DueDirty and CountDirtyDue read one range each).
inline constexpr int kDirtyPriorities[] = {kAccessRemovalPriority, kBulkCreatePriority, 0,
                                           kAwaitingImportPriority};

// kSuperseded: a failed attempt that a later pass of the same entity made moot.
enum class MutationState { kPending, kInFlight, kDone, kFailed, kDead, kDiscarded, kSuperseded };
const char* MutationStateName(MutationState s);
std::optional<MutationState> ParseMutationState(std::string_view s);

struct MutationRow {
  int64_t id = 0;
  std::string entity;
  std::string kind;
  nlohmann::json request = nlohmann::json::object();
  nlohmann::json events = nlohmann::json::array();
  MutationState state = MutationState::kPending;
  bool destructive = false;
  int attempts = 0;
  std::string last_error;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::optional<int64_t> first_received_at_ms;
};

enum class CommandKind { kPasswordReset, kVerificationEmail };
// kSkipped: not sent, because its user had left, was blocked or deleted when it came to run.
enum class CommandState { kPending, kInFlight, kDone, kDead, kSkipped };
const char* CommandKindName(CommandKind kind);  // "password_reset", "verification_email"
std::optional<CommandKind> ParseCommandKind(std::string_view name);
const char* CommandStateName(CommandState state);
std::optional<CommandState> ParseCommandState(std::string_view name);

struct CommandRow {
  int64_t id = 0;
  CommandKind kind = CommandKind::kPasswordReset;
  std::string user_external_id;
  std::string event;  // "source/event_id"
  CommandState state = CommandState::kPending;
  int attempts = 0;
  std::string last_error;
  int64_t created_at_ms = 0;
};

class StateTxn {
 public:
  ~StateTxn();
  StateTxn(const StateTxn&) = delete;
  StateTxn& operator=(const StateTxn&) = delete;

  Result<EntityRow> GetEntity(EntityKind kind, const std::string& external_id);
  // The desired state of one entity, as GetEntity reads it, without reading or parsing the known
  // state (at a user Auth0 has answered for, the larger of the two documents).
  Result<DesiredRow> GetDesired(EntityKind kind, const std::string& external_id);
  // Stores the whole row (desired, known, Auth0 id). Counts a new managed user (kind user with
  // an Auth0 id) in state_counts; a changed Auth0 id of an existing row is counted by a trigger.
  Status PutEntity(const EntityRow& row, int64_t now_ms);
  // Stores an entity's desired state only: its known state and Auth0 id stay as they are (a new
  // entity gets known {} and no Auth0 id). What the writer's fold writes for every event: no
  // count can change, and the known state is not serialized again.
  Status PutDesired(EntityKind kind, const std::string& external_id, const nlohmann::json& desired,
                    int64_t now_ms);
  // The same for a row GetDesired read (any transaction): its desired state is written through
  // the row GetDesired found when that row is still this entity's, else as above.
  Status PutDesired(const DesiredRow& row, int64_t now_ms);
  Status AddRegistry(EntityKind kind, const std::string& auth0_id, const std::string& external_id,
                     const std::string& how, int64_t now_ms);

  // Replaces the desired memberships of one user. Returns the organizations whose member set may
  // have changed (old ∪ new). The only writer of desired memberships: ApplyEvent calls it in the
  // transaction that stores the user's entity, so a user without an entity row has none.
  Result<std::vector<std::string>> SetUserMemberships(const std::string& user_external_id,
                                                      const std::vector<MembershipRow>& rows);
  Result<std::vector<MembershipRow>> DesiredMembers(const std::string& org_external_id);
  Result<std::vector<MembershipRow>> UserMemberships(const std::string& user_external_id);
  Result<std::vector<MembershipRow>> KnownMembers(const std::string& org_external_id);
  // roles nullopt: the membership is gone.
  Status SetKnownMember(const std::string& org_external_id, const std::string& user_external_id,
                        const std::optional<nlohmann::json>& roles);
  // Forgets every known membership of a user (after Auth0 deleted the user with them).
  Status ForgetKnownMemberships(const std::string& user_external_id);
  // Every entity of `kind` (ordered by external id) with its desired and known JSON.
  Result<std::vector<EntityRow>> AllEntities(EntityKind kind) { return ListEntities(kind, false); }
  // Only the entities of `kind` with an Auth0 id (created or adopted), without desired state: the
  // drift reader's snapshot, kept small for tenants of many thousand users.
  Result<std::vector<EntityRow>> ManagedEntities(EntityKind kind) {
    return ListEntities(kind, true);
  }
  // Visits every entity of `kind` without an Auth0 id (neither created nor adopted yet), ordered
  // by external id, one row at a time: nothing is kept, so the users-imports candidates of a
  // backfill of 100,000 people are looked at without holding them all. Stops at (and returns) the
  // first error `visit` returns.
  Status ForEachUncreated(EntityKind kind, const std::function<Status(EntityRow&&)>& visit);
  // Visits every entity of `kind` with an Auth0 id, ordered by external id, one row at a time,
  // with its known state as the stored JSON text (not parsed: the drift snapshot of 100,000
  // users keeps the text, a third of the parsed size). Stops at (and returns) the first error
  // `visit` returns.
  struct ManagedRow {
    std::string external_id;
    std::string auth0_id;
    std::string known_json;
  };
  Status ForEachManaged(EntityKind kind, const std::function<Status(ManagedRow&&)>& visit);

  // `reset_attempts`: an operator's retry starts the backoff and dead-letter count afresh.
  // `priority` only rises (kAccessRemovalPriority stays until the mark is cleared); a mark keeps
  // the earliest due time.
  Status MarkDirty(const std::string& entity, int64_t not_before_ms = 0,
                   bool reset_attempts = false, int priority = 0);
  // MarkDirty(entity, 0, false, priority) for each of `entities` in turn (an entity listed twice
  // is marked twice), in one statement: the writer's fold marks hundreds per batch, and a
  // statement per mark cost ~7k instructions more each (issue 13). kAwaitingImportPriority,
  // whose new marks MarkDirty counts one by one, takes MarkDirty per entity.
  Status MarkDirtyMany(const std::vector<std::string>& entities, int priority = 0);
  // The attempts counted on `entity`'s mark; nullopt when it is not marked.
  Result<std::optional<int>> DirtyAttempts(const std::string& entity);
  // Removes the mark only if nobody marked it again since `generation` was read.
  Status ClearDirty(const std::string& entity, int64_t generation);
  // Keeps the mark but delays it (retry with backoff); counts the attempt.
  Status DeferDirty(const std::string& entity, int64_t generation, int64_t not_before_ms);
  // Keeps the mark, due again at `not_before_ms`, without counting an attempt: the entity has
  // more steps (its turn ended so others get theirs) or scheduled work at that time.
  // `priority`, when given, replaces the mark's priority (kAwaitingImportPriority) unless the
  // entity was marked again since `generation` was read.
  Status RequeueDirty(const std::string& entity, int64_t generation, int64_t not_before_ms,
                      std::optional<int> priority = std::nullopt);
  // Users the imports entity takes charge of: each ordinary mark (priority 0, no failed attempt)
  // of these entities becomes kAwaitingImportPriority, due no earlier than `not_before_ms`.
  // Entities without a mark are left unmarked. Idempotent.
  Status AwaitImport(const std::vector<std::string>& entities, int64_t not_before_ms);
  // Every kAwaitingImportPriority mark becomes an ordinary one due by `now_ms` (the import path
  // is off: the users are created one by one). Returns how many.
  Result<int64_t> WakeAwaitingImport(int64_t now_ms);
  // Failed attempts of `entity` become superseded: a later pass re-planned the entity from what
  // Auth0 holds, so they are no longer waiting work.
  Status SupersedeFailed(const std::string& entity);
  // Savepoints isolate one unit of work inside the transaction: rolling back to one undoes only
  // that work and makes the transaction usable again after an error inside it.
  Status Savepoint();
  Status ReleaseSavepoint();
  Status RollbackToSavepoint();

  Result<int64_t> InsertMutation(const MutationRow& row);
  Status UpdateMutation(int64_t id, MutationState state, const std::string& last_error,
                        int attempts, int64_t now_ms, const nlohmann::json* request = nullptr);

  // Inserts unless (kind, event) exists (each command runs once per event). Returns its id.
  Result<std::optional<int64_t>> InsertCommand(const CommandRow& row);
  Status UpdateCommand(int64_t id, CommandState state, const std::string& last_error, int attempts,
                       int64_t now_ms);
  Result<std::optional<CommandRow>> GetCommand(int64_t id);
  // Ids of the user's commands still pending (they wait for the user to be created).
  Result<std::vector<int64_t>> PendingCommands(const std::string& user_external_id);

  Status SetEventState(int64_t seq, EventState state, const std::string& error, int64_t now_ms);
  // SetEventState(seq, kApplied, "", now_ms) for every seq in one statement (the writer's batch):
  // the per-statement cost is paid once, and the pending ones among them are counted in
  // state_counts once for all of them, not by the state trigger per row (migrations/
  // 0015_applied_counted_once.sql). Every move from pending to applied goes through here.
  Status SetEventsApplied(const std::vector<int64_t>& seqs, int64_t now_ms);
  // Notes what happened to an applied event later (events.note), e.g. a guard rejection.
  Status NoteEvent(const std::string& source, const std::string& event_id, const std::string& note,
                   int64_t now_ms);
  Status PutSetting(const std::string& key, const std::string& value);

  // --- The destructive-change guard (storage/guard_store.cpp) ---
  struct GuardHeld {
    std::string entity, kind;
    nlohmann::json request, events;
    int64_t held_at_ms = 0;
    bool approved = false;
  };
  Result<int64_t> CountGuardWindow(int64_t since_ms);
  Status AddGuardWindow(int64_t at_ms, const std::string& kind, int64_t prune_before_ms);
  Status ClearGuardWindow();
  // True when an operator approved held work of this entity at or after `since_ms`: every
  // destructive step of an approved entity proceeds (a leaver's block, then its revocation).
  Result<bool> GuardApproved(const std::string& entity, int64_t since_ms);
  Status HoldGuard(const GuardHeld& held);
  Result<std::vector<GuardHeld>> ListGuardHeld(bool approved);
  Status ApproveGuardHeld(int64_t now_ms);
  Status DeleteGuardHeld(bool approved);
  // Users tenantsync manages (user entities with an Auth0 id): one row read, the count kept by
  // triggers (migrations/0017_managed_users_counted.sql).
  Result<int64_t> CountManagedUsers();
  Result<std::optional<std::string>> GetSetting(const std::string& key);

  // --- Users import jobs (storage/import_store.cpp; migrations/0007_users_imports.sql) ---
  // One import file; `users` are written with it. State names as in the migration.
  struct ImportJobRow {
    int64_t id = 0;
    std::string connection;
    std::string state;  // prepared | sent | completed | failed | abandoned
    std::optional<std::string> job_id;
    int polls = 0;
    nlohmann::json summary = nlohmann::json::object();
    std::string error;
    int64_t created_at_ms = 0;
    int64_t updated_at_ms = 0;
    struct User {
      std::string external_id;
      std::string import_user_id;  // Auth0's id is "auth0|" + it
      nlohmann::json record;       // as sent in the file
    };
    std::vector<User> users;  // filled by ImportJobs(with_users = true)
  };
  // Inserts a prepared row with its users; returns its id.
  Result<int64_t> InsertImportJob(const ImportJobRow& row);
  // state/job_id/polls/summary/error of row `id`.
  Status UpdateImportJob(const ImportJobRow& row, int64_t now_ms);
  // Rows of `connection` in one of `states` (oldest first).
  Result<std::vector<ImportJobRow>> ImportJobs(const std::string& connection,
                                               const std::vector<std::string>& states,
                                               bool with_users);
  // The open (prepared or sent) import row holding the user, if any.
  Result<std::optional<int64_t>> OpenImportOf(const std::string& user_external_id);
  // Users in open (prepared or sent) import rows, per connection: pending creation by import.
  Result<std::map<std::string, int64_t>> CountOpenImportUsers();

  Status Commit();

 private:
  Result<std::vector<EntityRow>> ListEntities(EntityKind kind, bool managed_only);
  friend class SqliteStore;
  // `read_only`: BEGIN DEFERRED (a snapshot from the first read on) instead of BEGIN IMMEDIATE.
  StateTxn(PriorityLock lock, SQLite::Database& db, StatementCache& stmts, bool read_only = false);
  Status Fail(const std::exception& e, const std::string& what);

  PriorityLock lock_;
  SQLite::Database& db_;
  StatementCache& stmts_;  // the connection's, guarded by lock_
  std::unique_ptr<CachedTransaction> tx_;
  bool failed_ = false;
};

}  // namespace tenantsync
