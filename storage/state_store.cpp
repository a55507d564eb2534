#include "storage/state_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "common/json_text.h"
#include "storage/sqlite_store.h"
#include "storage/statement_cache.h"

namespace tenantsync {

const char* MutationStateName(MutationState s) {
  switch (s) {
    case MutationState::kPending:
      return "pending";
    case MutationState::kInFlight:
      return "in_flight";
    case MutationState::kDone:
      return "done";
    case MutationState::kFailed:
      return "failed";
    case MutationState::kDead:
      return "dead";
    case MutationState::kDiscarded:
      return "discarded";
    case MutationState::kSuperseded:
      return "superseded";
  }
  return "unknown";
}

std::optional<MutationState> ParseMutationState(std::string_view s) {
  for (auto m : {MutationState::kPending, MutationState::kInFlight, MutationState::kDone,
                 MutationState::kFailed, MutationState::kDead, MutationState::kDiscarded,
                 MutationState::kSuperseded}) {
    if (s == MutationStateName(m)) return m;
  }
  return std::nullopt;
}

const char* EntityKindName(EntityKind kind) {
  return kind == EntityKind::kOrganization ? "org" : "user";
}

const char* CommandKindName(CommandKind kind) {
  return kind == CommandKind::kPasswordReset ? "password_reset" : "verification_email";
}

std::optional<CommandKind> ParseCommandKind(std::string_view name) {
  for (auto k : {CommandKind::kPasswordReset, CommandKind::kVerificationEmail}) {
    if (name == CommandKindName(k)) return k;
  }
  return std::nullopt;
}

const char* CommandStateName(CommandState state) {
  switch (state) {
    case CommandState::kPending:
      return "pending";
    case CommandState::kInFlight:
      return "in_flight";
    case CommandState::kDone:
      return "done";
    case CommandState::kDead:
      return "dead";
    case CommandState::kSkipped:
      return "skipped";
  }
  return "unknown";
}

std::optional<CommandState> ParseCommandState(std::string_view name) {
  for (auto s : {CommandState::kPending, CommandState::kInFlight, CommandState::kDone,
                 CommandState::kDead, CommandState::kSkipped}) {
    if (name == CommandStateName(s)) return s;
  }
  return std::nullopt;
}

namespace {

nlohmann::json ParseJsonColumn(const SQLite::Column& c, nlohmann::json fallback) {
  if (c.isNull()) return fallback;
  // Parsed where SQLite holds the text (no copy into a string first), and the parse returned as
  // is: `discarded ? fallback : j` copied every document once more (the fold reads an entity per
  // event; issue 13, CPU per event).
  const std::string_view text(c.getText(), static_cast<size_t>(c.getBytes()));
  // What the store wrote (CompactJson) is read without nlohmann's lexer; anything else by it.
  if (auto compact = ParseCompactJson(text)) return *std::move(compact);
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return fallback;
  return j;
}

std::vector<MembershipRow> ReadMemberships(SQLite::Statement& q) {
  std::vector<MembershipRow> out;
  while (q.executeStep()) {
    MembershipRow r;
    r.org_external_id = q.getColumn(0).getString();
    r.user_external_id = q.getColumn(1).getString();
    r.roles = ParseJsonColumn(q.getColumn(2), nlohmann::json::array());
    out.push_back(std::move(r));
  }
  return out;
}

// Adds `delta` to one of state_counts' figures, in the caller's transaction: the store counts
// the changes its own statements make where a row trigger would cost every row its program
// (migrations 0015, 0018, 0020).
void AddToCount(StatementCache& stmts, const char* tbl, const std::string& state, int64_t delta) {
  auto count = stmts.Get(
      "INSERT INTO state_counts (tbl, state, n) VALUES (?, ?, ?) "
      "ON CONFLICT (tbl, state) DO UPDATE SET n = n + excluded.n");
  count->bind(1, tbl);
  count->bind(2, state);
  count->bind(3, delta);
  count->exec();
}

// Moves `n` events from state `from` to `to`.
void MoveEventCount(StatementCache& stmts, const std::string& from, const std::string& to,
                    int64_t n) {
  AddToCount(stmts, "events", from, -n);
  AddToCount(stmts, "events", to, n);
}

}  // namespace

StateTxn::StateTxn(PriorityLock lock, SQLite::Database& db, StatementCache& stmts, bool read_only)
    : lock_(std::move(lock)),
      db_(db),
      stmts_(stmts),
      tx_(std::make_unique<CachedTransaction>(stmts, read_only
                                                         ? CachedTransaction::Kind::kDeferred
                                                         : CachedTransaction::Kind::kImmediate)) {}

StateTxn::~StateTxn() {
  // A CachedTransaction rolls back in its destructor unless committed.
  tx_.reset();
}

Status StateTxn::Fail(const std::exception& e, const std::string& what) {
  failed_ = true;
  if (auto* se = dynamic_cast<const SQLite::Exception*>(&e))
    return SqliteError(se->getErrorCode(), what + ": " + e.what());
  return Status::Invalid(what + ": " + e.what());
}

Status StateTxn::Commit() {
  if (failed_) return Status::Invalid("transaction abandoned after an earlier error");
  try {
    tx_->commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "commit");
  }
}

Result<EntityRow> StateTxn::GetEntity(EntityKind kind, const std::string& external_id) {
  try {
    auto q = stmts_.Get(
        "SELECT desired, known, auth0_id FROM entities WHERE kind = ? AND external_id = ?");
    q->bindNoCopy(1, EntityKindName(kind));
    q->bindNoCopy(2, external_id);
    EntityRow r;
    r.kind = kind;
    r.external_id = external_id;
    if (q->executeStep()) {
      r.exists = true;
      r.desired = ParseJsonColumn(q->getColumn(0), nlohmann::json::object());
      r.known = ParseJsonColumn(q->getColumn(1), nlohmann::json::object());
      if (!q->getColumn(2).isNull()) r.auth0_id = q->getColumn(2).getString();
    }
    return r;
  } catch (const std::exception& e) {
    return Fail(e, std::string("reading ") + EntityKindName(kind) + " " + external_id);
  }
}

Result<DesiredRow> StateTxn::GetDesired(EntityKind kind, const std::string& external_id) {
  try {
    auto q = stmts_.Get("SELECT rowid, desired FROM entities WHERE kind = ? AND external_id = ?");
    q->bindNoCopy(1, EntityKindName(kind));
    q->bindNoCopy(2, external_id);
    DesiredRow r;
    r.kind = kind;
    r.external_id = external_id;
    if (q->executeStep()) {
      r.exists = true;
      r.rowid = q->getColumn(0).getInt64();
      r.desired = ParseJsonColumn(q->getColumn(1), nlohmann::json::object());
    }
    return r;
  } catch (const std::exception& e) {
    return Fail(e, std::string("reading ") + EntityKindName(kind) + " " + external_id);
  }
}

Status StateTxn::PutEntity(const EntityRow& row, int64_t now_ms) {
  try {
    // A new managed user is counted here (migrations/0018_counts_without_row_triggers.sql); an
    // existing row's change of Auth0 id by the update trigger.
    bool new_managed = false;
    if (row.kind == EntityKind::kUser && row.auth0_id) {
      auto exists = stmts_.Get("SELECT 1 FROM entities WHERE kind = 'user' AND external_id = ?");
      exists->bind(1, row.external_id);
      new_managed = !exists->executeStep();
    }
    auto q = stmts_.Get(
        "INSERT INTO entities (kind, external_id, desired, known, auth0_id, updated_at_ms) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT (kind, external_id) DO UPDATE SET "
        "desired = excluded.desired, known = excluded.known, auth0_id = excluded.auth0_id, "
        "updated_at_ms = excluded.updated_at_ms");
    q->bind(1, EntityKindName(row.kind));
    q->bind(2, row.external_id);
    // Written once per folded event: CompactJson is dump()'s text without its per-byte UTF-8 pass
    // over plain ASCII (common/json_text.h).
    q->bind(3, CompactJson(row.desired));
    q->bind(4, CompactJson(row.known));
    if (row.auth0_id) q->bind(5, *row.auth0_id);
    q->bind(6, static_cast<int64_t>(now_ms));
    q->exec();
    if (new_managed) AddToCount(stmts_, "entities", "managed_user", 1);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, std::string("storing ") + EntityKindName(row.kind) + " " + row.external_id);
  }
}

Status StateTxn::PutDesired(EntityKind kind, const std::string& external_id,
                            const nlohmann::json& desired, int64_t now_ms) {
  try {
    // Neither kind nor auth0_id is written: no count changes and no trigger runs.
    auto q = stmts_.Get(
        "INSERT INTO entities (kind, external_id, desired, updated_at_ms) VALUES (?,?,?,?) "
        "ON CONFLICT (kind, external_id) DO UPDATE SET desired = excluded.desired, "
        "updated_at_ms = excluded.updated_at_ms");
    q->bindNoCopy(1, EntityKindName(kind));
    q->bindNoCopy(2, external_id);
    const std::string text = CompactJson(desired);
    q->bindNoCopy(3, text);
    q->bind(4, static_cast<int64_t>(now_ms));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, std::string("storing ") + EntityKindName(kind) + " " + external_id);
  }
}

Status StateTxn::PutDesired(const DesiredRow& row, int64_t now_ms) {
  if (!row.exists || row.rowid <= 0)
    return PutDesired(row.kind, row.external_id, row.desired, now_ms);
  try {
    // Found by the rowid GetDesired read, which skips the descent of the (kind, external_id) key
    // the upsert makes; the key is compared too, so a row that is no longer that entity is not
    // written and the upsert below stores the state instead.
    auto q = stmts_.Get(
        "UPDATE entities SET desired = ?, updated_at_ms = ? WHERE rowid = ? AND kind = ? AND "
        "external_id = ?");
    const std::string text = CompactJson(row.desired);
    q->bindNoCopy(1, text);
    q->bind(2, static_cast<int64_t>(now_ms));
    q->bind(3, static_cast<int64_t>(row.rowid));
    q->bindNoCopy(4, EntityKindName(row.kind));
    q->bindNoCopy(5, row.external_id);
    if (q->exec() == 1) return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, std::string("storing ") + EntityKindName(row.kind) + " " + row.external_id);
  }
  return PutDesired(row.kind, row.external_id, row.desired, now_ms);
}

Status StateTxn::AddRegistry(EntityKind kind, const std::string& auth0_id,
                             const std::string& external_id, const std::string& how,
                             int64_t now_ms) {
  try {
    auto q = stmts_.Get(
        "INSERT OR IGNORE INTO registry (kind, auth0_id, external_id, how, at_ms) "
        "VALUES (?,?,?,?,?)");
    q->bind(1, EntityKindName(kind));
    q->bind(2, auth0_id);
    q->bind(3, external_id);
    q->bind(4, how);
    q->bind(5, static_cast<int64_t>(now_ms));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "registry");
  }
}

Result<std::vector<std::string>> StateTxn::SetUserMemberships(
    const std::string& user_external_id, const std::vector<MembershipRow>& rows) {
  try {
    std::vector<std::string> touched;
    {
      auto q = stmts_.Get("SELECT org_external_id FROM memberships WHERE user_external_id = ?");
      q->bind(1, user_external_id);
      while (q->executeStep()) touched.push_back(q->getColumn(0).getString());
    }
    auto del = stmts_.Get("DELETE FROM memberships WHERE user_external_id = ?");
    del->bind(1, user_external_id);
    del->exec();
    auto ins = stmts_.Get(
        "INSERT OR REPLACE INTO memberships (org_external_id, user_external_id, "
        "roles) VALUES (?,?,?)");
    for (const auto& r : rows) {
      ins->reset();
      ins->bind(1, r.org_external_id);
      ins->bind(2, user_external_id);
      ins->bind(3, CompactJson(r.roles));
      ins->exec();
      touched.push_back(r.org_external_id);
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    return touched;
  } catch (const std::exception& e) {
    return Fail(e, "memberships of " + user_external_id);
  }
}

Result<std::vector<MembershipRow>> StateTxn::DesiredMembers(const std::string& org_external_id) {
  try {
    auto q = stmts_.Get(
        "SELECT org_external_id, user_external_id, roles FROM memberships WHERE "
        "org_external_id = ? ORDER BY user_external_id");
    q->bind(1, org_external_id);
    return ReadMemberships(*q);
  } catch (const std::exception& e) {
    return Fail(e, "members of " + org_external_id);
  }
}

Result<std::vector<MembershipRow>> StateTxn::UserMemberships(const std::string& user_external_id) {
  try {
    auto q = stmts_.Get(
        "SELECT org_external_id, user_external_id, roles FROM memberships WHERE "
        "user_external_id = ? ORDER BY org_external_id");
    q->bindNoCopy(1, user_external_id);
    return ReadMemberships(*q);
  } catch (const std::exception& e) {
    return Fail(e, "memberships of " + user_external_id);
  }
}

Result<std::vector<MembershipRow>> StateTxn::KnownMembers(const std::string& org_external_id) {
  try {
    auto q = stmts_.Get(
        "SELECT org_external_id, user_external_id, roles FROM known_memberships "
        "WHERE org_external_id = ? ORDER BY user_external_id");
    q->bind(1, org_external_id);
    return ReadMemberships(*q);
  } catch (const std::exception& e) {
    return Fail(e, "known members of " + org_external_id);
  }
}

Status StateTxn::SetKnownMember(const std::string& org_external_id,
                                const std::string& user_external_id,
                                const std::optional<nlohmann::json>& roles) {
  try {
    if (roles) {
      auto q = stmts_.Get(
          "INSERT OR REPLACE INTO known_memberships (org_external_id, "
          "user_external_id, roles) VALUES (?,?,?)");
      q->bind(1, org_external_id);
      q->bind(2, user_external_id);
      q->bind(3, roles->dump());
      q->exec();
    } else {
      auto q = stmts_.Get(
          "DELETE FROM known_memberships WHERE org_external_id = ? AND user_external_id = ?");
      q->bind(1, org_external_id);
      q->bind(2, user_external_id);
      q->exec();
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "known membership");
  }
}

Status StateTxn::ForgetKnownMemberships(const std::string& user_external_id) {
  try {
    auto q = stmts_.Get("DELETE FROM known_memberships WHERE user_external_id = ?");
    q->bind(1, user_external_id);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "forgetting memberships");
  }
}

Result<std::vector<EntityRow>> StateTxn::ListEntities(EntityKind kind, bool managed_only) {
  try {
    // The drift snapshot (managed_only) skips desired state: it is most of a row's size.
    auto q =
        stmts_.Get(managed_only ? "SELECT external_id, NULL, known, auth0_id FROM entities "
                                  "WHERE kind = ? AND auth0_id IS NOT NULL ORDER BY external_id"
                                : "SELECT external_id, desired, known, auth0_id FROM entities "
                                  "WHERE kind = ? ORDER BY external_id");
    q->bind(1, EntityKindName(kind));
    std::vector<EntityRow> out;
    while (q->executeStep()) {
      EntityRow r;
      r.kind = kind;
      r.exists = true;
      r.external_id = q->getColumn(0).getString();
      r.desired = managed_only ? nlohmann::json()
                               : ParseJsonColumn(q->getColumn(1), nlohmann::json::object());
      r.known = ParseJsonColumn(q->getColumn(2), nlohmann::json::object());
      if (!q->getColumn(3).isNull()) r.auth0_id = q->getColumn(3).getString();
      out.push_back(std::move(r));
    }
    return out;
  } catch (const std::exception& e) {
    return Fail(e, std::string("listing ") + EntityKindName(kind));
  }
}

Status StateTxn::ForEachManaged(EntityKind kind, const std::function<Status(ManagedRow&&)>& visit) {
  try {
    auto q = stmts_.Get(
        "SELECT external_id, auth0_id, known FROM entities "
        "WHERE kind = ? AND auth0_id IS NOT NULL ORDER BY external_id");
    q->bind(1, EntityKindName(kind));
    while (q->executeStep()) {
      ManagedRow r;
      r.external_id = q->getColumn(0).getString();
      r.auth0_id = q->getColumn(1).getString();
      r.known_json = q->getColumn(2).getString();
      if (Status s = visit(std::move(r)); !s.ok()) return s;
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, std::string("listing managed ") + EntityKindName(kind));
  }
}

Status StateTxn::ForEachUncreated(EntityKind kind,
                                  const std::function<Status(EntityRow&&)>& visit) {
  try {
    auto q = stmts_.Get(
        "SELECT external_id, desired, known FROM entities "
        "WHERE kind = ? AND auth0_id IS NULL ORDER BY external_id");
    q->bind(1, EntityKindName(kind));
    // The statement is reset when it is handed out again, also after an early return.
    while (q->executeStep()) {
      EntityRow r;
      r.kind = kind;
      r.exists = true;
      r.external_id = q->getColumn(0).getString();
      r.desired = ParseJsonColumn(q->getColumn(1), nlohmann::json::object());
      r.known = ParseJsonColumn(q->getColumn(2), nlohmann::json::object());
      if (Status s = visit(std::move(r)); !s.ok()) return s;
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, std::string("listing uncreated ") + EntityKindName(kind));
  }
}

Status StateTxn::MarkDirty(const std::string& entity, int64_t not_before_ms, bool reset_attempts,
                           int priority) {
  try {
    // A new mark made awaiting an import is counted here (no insert trigger since 0020); an
    // existing mark keeps its own priority or a higher one, which the update trigger counts.
    // Only that priority pays for the read; the writer's fold never uses it.
    bool new_awaiting = false;
    if (priority == kAwaitingImportPriority) {
      auto exists = stmts_.Get("SELECT 1 FROM dirty WHERE entity = ?");
      exists->bind(1, entity);
      new_awaiting = !exists->executeStep();
    }
    auto q = stmts_.Get(
        "INSERT INTO dirty (entity, generation, not_before_ms, priority) "
        "VALUES (?, 1, ?, ?) "
        "ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, "
        "not_before_ms = MIN(not_before_ms, excluded.not_before_ms), "
        "priority = MAX(priority, excluded.priority), "
        "attempts = CASE WHEN ? THEN 0 ELSE attempts END");
    q->bindNoCopy(1, entity);
    q->bind(2, static_cast<int64_t>(not_before_ms));
    q->bind(3, priority);
    q->bind(4, reset_attempts ? 1 : 0);
    q->exec();
    if (new_awaiting) AddToCount(stmts_, "dirty", "awaiting_import", 1);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "marking " + entity);
  }
}

Status StateTxn::MarkDirtyMany(const std::vector<std::string>& entities, int priority) {
  if (entities.empty()) return Status::Ok();
  if (priority == kAwaitingImportPriority) {
    for (const auto& e : entities) {
      if (auto s = MarkDirty(e, 0, false, priority); !s.ok()) return s;
    }
    return Status::Ok();
  }
  try {
    // The keys travel as one JSON array (as SetEventsApplied's seqs): one cached statement
    // whatever the batch. json_each yields them in array order, so a key listed twice is marked
    // twice, as MarkDirty would. "WHERE true" lets SQLite parse the upsert after a SELECT.
    std::string list = "[";
    for (size_t i = 0; i < entities.size(); ++i) {
      if (i > 0) list += ',';
      AppendJsonString(entities[i], list);
    }
    list += ']';
    auto q = stmts_.Get(
        "INSERT INTO dirty (entity, generation, not_before_ms, priority) "
        "SELECT value, 1, 0, ?2 FROM json_each(?1) WHERE true "
        "ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, "
        "not_before_ms = MIN(not_before_ms, excluded.not_before_ms), "
        "priority = MAX(priority, excluded.priority)");
    q->bindNoCopy(1, list);
    q->bind(2, priority);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "marking " + std::to_string(entities.size()) + " entities");
  }
}

Result<std::optional<int>> StateTxn::DirtyAttempts(const std::string& entity) {
  try {
    auto q = stmts_.Get("SELECT attempts FROM dirty WHERE entity = ?");
    q->bind(1, entity);
    if (!q->executeStep()) return std::optional<int>();
    return std::optional<int>(q->getColumn(0).getInt());
  } catch (const std::exception& e) {
    return Fail(e, "reading the mark of " + entity);
  }
}

Status StateTxn::ClearDirty(const std::string& entity, int64_t generation) {
  try {
    auto q = stmts_.Get("DELETE FROM dirty WHERE entity = ? AND generation = ?");
    q->bind(1, entity);
    q->bind(2, static_cast<int64_t>(generation));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "clearing " + entity);
  }
}

Status StateTxn::DeferDirty(const std::string& entity, int64_t generation, int64_t not_before_ms) {
  try {
    // A newer mark (generation moved on) means new work: keep it due now, but still count.
    auto q = stmts_.Get(
        "UPDATE dirty SET attempts = attempts + 1, not_before_ms = CASE WHEN generation = ? "
        "THEN ? ELSE not_before_ms END WHERE entity = ?");
    q->bind(1, static_cast<int64_t>(generation));
    q->bind(2, static_cast<int64_t>(not_before_ms));
    q->bind(3, entity);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "deferring " + entity);
  }
}

Status StateTxn::RequeueDirty(const std::string& entity, int64_t generation, int64_t not_before_ms,
                              std::optional<int> priority) {
  try {
    // A newer mark (generation moved on) is new work: it keeps the earlier due time and its
    // priority.
    auto q = stmts_.Get(
        "UPDATE dirty SET not_before_ms = CASE WHEN generation = ?1 THEN ?2 ELSE "
        "MIN(not_before_ms, ?2) END, priority = CASE WHEN generation = ?1 AND ?3 IS NOT NULL "
        "THEN ?3 ELSE priority END WHERE entity = ?4");
    q->bind(1, static_cast<int64_t>(generation));
    q->bind(2, static_cast<int64_t>(not_before_ms));
    if (priority) {
      q->bind(3, *priority);
    } else {
      q->bind(3);
    }
    q->bind(4, entity);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "requeueing " + entity);
  }
}

Status StateTxn::AwaitImport(const std::vector<std::string>& entities, int64_t not_before_ms) {
  try {
    auto q = stmts_.Get(
        "UPDATE dirty SET priority = ?1, not_before_ms = MAX(not_before_ms, ?2) "
        "WHERE entity = ?3 AND priority = 0 AND attempts = 0");
    for (const auto& entity : entities) {
      q->reset();
      q->bind(1, kAwaitingImportPriority);
      q->bind(2, static_cast<int64_t>(not_before_ms));
      q->bind(3, entity);
      q->exec();
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "deferring users to an import");
  }
}

Result<int64_t> StateTxn::WakeAwaitingImport(int64_t now_ms) {
  try {
    auto q = stmts_.Get(
        "UPDATE dirty SET priority = 0, not_before_ms = MIN(not_before_ms, ?1) "
        "WHERE priority = ?2");
    q->bind(1, static_cast<int64_t>(now_ms));
    q->bind(2, kAwaitingImportPriority);
    return static_cast<int64_t>(q->exec());
  } catch (const std::exception& e) {
    return Fail(e, "releasing users waiting for an import");
  }
}

Status StateTxn::SupersedeFailed(const std::string& entity) {
  try {
    auto q = stmts_.Get(
        "UPDATE mutations SET state = 'superseded' WHERE entity = ? AND state = "
        "'failed'");
    q->bind(1, entity);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "superseding failed attempts of " + entity);
  }
}

Status StateTxn::Savepoint() {
  try {
    stmts_.Get("SAVEPOINT unit")->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "savepoint");
  }
}

Status StateTxn::ReleaseSavepoint() {
  try {
    stmts_.Get("RELEASE unit")->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "releasing savepoint");
  }
}

Status StateTxn::RollbackToSavepoint() {
  try {
    stmts_.Get("ROLLBACK TO unit")->exec();
    stmts_.Get("RELEASE unit")->exec();
    failed_ = false;  // the failed work is undone; the transaction is usable again
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "rolling back to savepoint");
  }
}

Status StateTxn::NoteEvent(const std::string& source, const std::string& event_id,
                           const std::string& note, int64_t now_ms) {
  try {
    auto q = stmts_.Get(
        "UPDATE events SET note = ?, updated_at_ms = ? WHERE source = ? AND "
        "event_id = ?");
    q->bind(1, note);
    q->bind(2, static_cast<int64_t>(now_ms));
    q->bind(3, source);
    q->bind(4, event_id);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "noting event");
  }
}

Result<int64_t> StateTxn::InsertMutation(const MutationRow& row) {
  try {
    auto q = stmts_.Get(
        "INSERT INTO mutations (entity, kind, request, events, state, destructive, attempts, "
        "last_error, created_at_ms, updated_at_ms, first_received_at_ms) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?)");
    q->bind(1, row.entity);
    q->bind(2, row.kind);
    q->bind(3, row.request.dump());
    q->bind(4, row.events.dump());
    q->bind(5, MutationStateName(row.state));
    q->bind(6, row.destructive ? 1 : 0);
    q->bind(7, row.attempts);
    if (!row.last_error.empty()) q->bind(8, row.last_error);
    q->bind(9, static_cast<int64_t>(row.created_at_ms));
    q->bind(10, static_cast<int64_t>(row.created_at_ms));
    if (row.first_received_at_ms) q->bind(11, static_cast<int64_t>(*row.first_received_at_ms));
    q->exec();
    return db_.getLastInsertRowid();
  } catch (const std::exception& e) {
    return Fail(e, "recording mutation");
  }
}

Status StateTxn::UpdateMutation(int64_t id, MutationState state, const std::string& last_error,
                                int attempts, int64_t now_ms, const nlohmann::json* request) {
  try {
    auto q = stmts_.Get(
        "UPDATE mutations SET state = ?, last_error = ?, attempts = ?, updated_at_ms = ?, "
        "request = COALESCE(?, request) WHERE id = ?");
    q->bind(1, MutationStateName(state));
    if (!last_error.empty()) q->bind(2, last_error);
    q->bind(3, attempts);
    q->bind(4, static_cast<int64_t>(now_ms));
    if (request) q->bind(5, request->dump());
    q->bind(6, static_cast<int64_t>(id));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "updating mutation");
  }
}

Result<std::optional<int64_t>> StateTxn::InsertCommand(const CommandRow& row) {
  try {
    auto q = stmts_.Get(
        "INSERT INTO commands (kind, user_external_id, event, state, created_at_ms, updated_at_ms) "
        "VALUES (?,?,?,'pending',?,?) ON CONFLICT (kind, event) DO NOTHING");
    q->bind(1, CommandKindName(row.kind));
    q->bind(2, row.user_external_id);
    q->bind(3, row.event);
    q->bind(4, static_cast<int64_t>(row.created_at_ms));
    q->bind(5, static_cast<int64_t>(row.created_at_ms));
    if (q->exec() == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(db_.getLastInsertRowid());
  } catch (const std::exception& e) {
    return Fail(e, "recording command");
  }
}

Status StateTxn::UpdateCommand(int64_t id, CommandState state, const std::string& last_error,
                               int attempts, int64_t now_ms) {
  try {
    auto q = stmts_.Get(
        "UPDATE commands SET state = ?, last_error = ?, attempts = ?, "
        "updated_at_ms = ? WHERE id = ?");
    q->bind(1, CommandStateName(state));
    if (!last_error.empty()) q->bind(2, last_error);
    q->bind(3, attempts);
    q->bind(4, static_cast<int64_t>(now_ms));
    q->bind(5, static_cast<int64_t>(id));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "updating command");
  }
}

Result<std::vector<int64_t>> StateTxn::PendingCommands(const std::string& user_external_id) {
  try {
    auto q = stmts_.Get(
        "SELECT id FROM commands WHERE user_external_id = ? AND state = 'pending' "
        "ORDER BY id");
    q->bind(1, user_external_id);
    std::vector<int64_t> out;
    while (q->executeStep()) out.push_back(q->getColumn(0).getInt64());
    return out;
  } catch (const std::exception& e) {
    return Fail(e, "reading pending commands");
  }
}

Result<std::optional<CommandRow>> StateTxn::GetCommand(int64_t id) {
  try {
    auto q = stmts_.Get(
        "SELECT id, kind, user_external_id, event, state, attempts, "
        "COALESCE(last_error, ''), created_at_ms FROM commands WHERE id = ?");
    q->bind(1, static_cast<int64_t>(id));
    if (!q->executeStep()) return std::optional<CommandRow>();
    CommandRow r;
    r.id = q->getColumn(0).getInt64();
    r.kind = ParseCommandKind(q->getColumn(1).getString()).value_or(CommandKind::kPasswordReset);
    r.user_external_id = q->getColumn(2).getString();
    r.event = q->getColumn(3).getString();
    r.state = ParseCommandState(q->getColumn(4).getString()).value_or(CommandState::kDead);
    r.attempts = q->getColumn(5).getInt();
    r.last_error = q->getColumn(6).getString();
    r.created_at_ms = q->getColumn(7).getInt64();
    return std::optional<CommandRow>(r);
  } catch (const std::exception& e) {
    return Fail(e, "reading command");
  }
}

Status StateTxn::SetEventState(int64_t seq, EventState state, const std::string& error,
                               int64_t now_ms) {
  // From pending to applied only SetEventsApplied counts the change (migrations/
  // 0015_applied_counted_once.sql); with an error to keep, the statement below then only sets it.
  if (state == EventState::kApplied) {
    Status applied = SetEventsApplied({seq}, now_ms);
    if (!applied.ok() || error.empty()) return applied;
  }
  try {
    // The change of state is counted here (migrations/0018_counts_without_row_triggers.sql).
    std::optional<std::string> was;
    {
      auto old = stmts_.Get("SELECT state FROM events WHERE seq = ?");
      old->bind(1, static_cast<int64_t>(seq));
      if (old->executeStep()) was = old->getColumn(0).getString();
    }
    if (was && *was != EventStateName(state))
      MoveEventCount(stmts_, *was, EventStateName(state), 1);
    auto q = stmts_.Get("UPDATE events SET state = ?, error = ?, updated_at_ms = ? WHERE seq = ?");
    q->bind(1, EventStateName(state));
    if (!error.empty()) q->bind(2, error);
    q->bind(3, static_cast<int64_t>(now_ms));
    q->bind(4, static_cast<int64_t>(seq));
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "updating event");
  }
}

Status StateTxn::SetEventsApplied(const std::vector<int64_t>& seqs, int64_t now_ms) {
  if (seqs.empty()) return Status::Ok();
  try {
    // The seqs travel as one JSON array: one cached statement whatever the batch size.
    std::string list = "[";
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (i > 0) list += ',';
      list += std::to_string(seqs[i]);
    }
    list += ']';
    // The pending ones (all of them, when the writer folds a batch): counted here once, not by
    // the trigger once per row (migrations/0015_applied_counted_once.sql).
    auto pending = stmts_.Get(
        "UPDATE events SET state = 'applied', error = NULL, updated_at_ms = ? WHERE seq IN "
        "(SELECT value FROM json_each(?)) AND state = 'pending'");
    pending->bind(1, static_cast<int64_t>(now_ms));
    pending->bindNoCopy(2, list);
    const int64_t moved = pending->exec();
    if (moved > 0) {
      MoveEventCount(stmts_, EventStateName(EventState::kPending),
                     EventStateName(EventState::kApplied), moved);
    }
    if (moved < static_cast<int64_t>(seqs.size())) {
      // Some were not pending (or do not exist): the others (failed, rejected) are counted from
      // what they were before the update.
      std::vector<std::pair<std::string, int64_t>> was;
      {
        auto q = stmts_.Get(
            "SELECT state, COUNT(*) FROM events WHERE seq IN (SELECT value FROM json_each(?)) "
            "AND state <> 'applied' GROUP BY state");
        q->bind(1, list);
        while (q->executeStep())
          was.emplace_back(q->getColumn(0).getString(), q->getColumn(1).getInt64());
      }
      for (const auto& [state, n] : was)
        MoveEventCount(stmts_, state, EventStateName(EventState::kApplied), n);
      auto rest = stmts_.Get(
          "UPDATE events SET state = 'applied', error = NULL, updated_at_ms = ? WHERE seq IN "
          "(SELECT value FROM json_each(?))");
      rest->bind(1, static_cast<int64_t>(now_ms));
      rest->bind(2, list);
      rest->exec();
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "updating events");
  }
}

Status StateTxn::PutSetting(const std::string& key, const std::string& value) {
  try {
    auto q = stmts_.Get("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)");
    q->bind(1, key);
    q->bind(2, value);
    q->exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Fail(e, "setting " + key);
  }
}

}  // namespace tenantsync

namespace tenantsync {
namespace {

MutationRow ReadMutation(SQLite::Statement& q) {
  MutationRow r;
  r.id = q.getColumn(0).getInt64();
  r.entity = q.getColumn(1).getString();
  r.kind = q.getColumn(2).getString();
  r.request = ParseJsonColumn(q.getColumn(3), nlohmann::json::object());
  r.events = ParseJsonColumn(q.getColumn(4), nlohmann::json::array());
  r.state = ParseMutationState(q.getColumn(5).getString()).value_or(MutationState::kFailed);
  r.destructive = q.getColumn(6).getInt() != 0;
  r.attempts = q.getColumn(7).getInt();
  if (!q.getColumn(8).isNull()) r.last_error = q.getColumn(8).getString();
  r.created_at_ms = q.getColumn(9).getInt64();
  r.updated_at_ms = q.getColumn(10).getInt64();
  if (!q.getColumn(11).isNull()) r.first_received_at_ms = q.getColumn(11).getInt64();
  return r;
}

constexpr const char* kMutationColumns =
    "id, entity, kind, request, events, state, destructive, attempts, last_error, created_at_ms, "
    "updated_at_ms, "
    "first_received_at_ms";

}  // namespace

// Reads run on a pooled reader connection (file databases), else on the writer.
#define TS_READ_DB            \
  auto lease = LeaseReader(); \
  StatementCache& stmts = *lease.stmts

Result<std::unique_ptr<StateTxn>> SqliteStore::BeginState() {
  auto lock = LockWriter();
  try {
    return std::unique_ptr<StateTxn>(new StateTxn(std::move(lock), *writer_, *writer_stmts_));
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("begin: ") + e.what());
  }
}

Result<std::unique_ptr<StateTxn>> SqliteStore::BeginRead() {
  if (readers_.empty()) return BeginState();
  auto lease = LeaseReader();
  try {
    return std::unique_ptr<StateTxn>(
        new StateTxn(std::move(lease.lock), *lease.db, *lease.stmts, /*read_only=*/true));
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("begin read: ") + e.what());
  }
}

Result<std::vector<DirtyItem>> SqliteStore::DueDirty(int64_t now_ms, int limit,
                                                     std::optional<bool> commands) {
  std::string lane =
      !commands ? ""
                : (*commands ? " AND entity LIKE 'command:%'" : " AND entity NOT LIKE 'command:%'");
  TS_READ_DB;
  try {
    // One range of dirty_due per priority level, highest first: a single ORDER BY over the index
    // would walk every mark that is not due yet (100,000 users awaiting an import) whenever fewer
    // than `limit` are due.
    auto q = stmts.Get(
        "SELECT entity, generation, not_before_ms, attempts, priority FROM dirty WHERE "
        "priority = ? AND not_before_ms <= ?" +
        lane + " ORDER BY not_before_ms, rowid LIMIT ?");
    std::vector<DirtyItem> out;
    for (int priority : kDirtyPriorities) {
      if (static_cast<int>(out.size()) >= limit) break;
      q->reset();
      q->bind(1, priority);
      q->bind(2, static_cast<int64_t>(now_ms));
      q->bind(3, limit - static_cast<int>(out.size()));
      while (q->executeStep()) {
        out.push_back({q->getColumn(0).getString(), q->getColumn(1).getInt64(),
                       q->getColumn(2).getInt64(), q->getColumn(3).getInt(),
                       q->getColumn(4).getInt()});
      }
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("dirty queue: ") + e.what());
  }
}

Result<std::optional<int64_t>> SqliteStore::NextDirtyAt() {
  TS_READ_DB;
  try {
    auto q = stmts.Get("SELECT MIN(not_before_ms) FROM dirty");
    q->executeStep();
    if (q->getColumn(0).isNull()) return std::optional<int64_t>();
    return std::optional<int64_t>(q->getColumn(0).getInt64());
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("dirty queue: ") + e.what());
  }
}

Result<int64_t> SqliteStore::CountDirty() {
  TS_READ_DB;
  try {
    auto q = stmts.Get("SELECT COUNT(*) FROM dirty");
    q->executeStep();
    return q->getColumn(0).getInt64();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("dirty queue: ") + e.what());
  }
}

Result<int64_t> SqliteStore::CountDirtyUpTo(int64_t limit) {
  TS_READ_DB;
  try {
    auto q = stmts.Get("SELECT COUNT(*) FROM (SELECT 1 FROM dirty LIMIT ?)");
    q->bind(1, static_cast<int64_t>(std::max<int64_t>(0, limit)));
    q->executeStep();
    return q->getColumn(0).getInt64();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("dirty queue: ") + e.what());
  }
}

Result<EntityRow> SqliteStore::ReadEntity(EntityKind kind, const std::string& external_id) {
  TS_READ_DB;
  try {
    auto q = stmts.Get(
        "SELECT desired, known, auth0_id FROM entities WHERE kind = ? AND external_id = ?");
    q->bind(1, EntityKindName(kind));
    q->bind(2, external_id);
    EntityRow r;
    r.kind = kind;
    r.external_id = external_id;
    if (q->executeStep()) {
      r.exists = true;
      r.desired = ParseJsonColumn(q->getColumn(0), nlohmann::json::object());
      r.known = ParseJsonColumn(q->getColumn(1), nlohmann::json::object());
      if (!q->getColumn(2).isNull()) r.auth0_id = q->getColumn(2).getString();
    }
    return r;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("reading entity: ") + e.what());
  }
}

Result<std::vector<MutationRow>> SqliteStore::ListMutations(const MutationFilter& f) {
  std::string sql = std::string("SELECT ") + kMutationColumns + " FROM mutations WHERE 1=1";
  if (f.state) sql += " AND state = ?";
  if (f.entity) sql += " AND entity = ?";
  if (f.before_id > 0) sql += " AND id < ?";
  sql += " ORDER BY id DESC LIMIT ?";
  TS_READ_DB;
  try {
    auto q = stmts.Get(sql);
    int i = 1;
    if (f.state) q->bind(i++, MutationStateName(*f.state));
    if (f.entity) q->bind(i++, *f.entity);
    if (f.before_id > 0) q->bind(i++, static_cast<int64_t>(f.before_id));
    q->bind(i++, f.limit);
    std::vector<MutationRow> out;
    while (q->executeStep()) out.push_back(ReadMutation(*q));
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("listing mutations: ") + e.what());
  }
}

Result<std::optional<MutationRow>> SqliteStore::GetMutation(int64_t id) {
  TS_READ_DB;
  try {
    auto q = stmts.Get(std::string("SELECT ") + kMutationColumns + " FROM mutations WHERE id = ?");
    q->bind(1, static_cast<int64_t>(id));
    if (!q->executeStep()) return std::optional<MutationRow>();
    return std::optional<MutationRow>(ReadMutation(*q));
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("reading mutation: ") + e.what());
  }
}

Result<std::map<std::string, int64_t>> SqliteStore::CountMutationsByState() {
  TS_READ_DB;
  try {
    // Kept by triggers (migrations/0010_retention.sql): a few rows however long the log.
    auto q = stmts.Get("SELECT state, n FROM state_counts WHERE tbl = 'mutations' AND n > 0");
    std::map<std::string, int64_t> out;
    while (q->executeStep()) out[q->getColumn(0).getString()] = q->getColumn(1).getInt64();
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("counting mutations: ") + e.what());
  }
}

Result<std::optional<int64_t>> SqliteStore::OldestPendingMs(int64_t now_ms) {
  TS_READ_DB;
  try {
    auto q = stmts.Get(
        "SELECT MIN(t) FROM (SELECT MIN(received_at_ms) AS t FROM events WHERE state = 'pending' "
        "AND (effective_at_ms IS NULL OR effective_at_ms <= ?) "
        "UNION ALL SELECT MIN(created_at_ms) FROM mutations WHERE state IN "
        "('pending','in_flight','failed'))");
    q->bind(1, static_cast<int64_t>(now_ms));
    q->executeStep();
    if (q->getColumn(0).isNull()) return std::optional<int64_t>();
    return std::optional<int64_t>(q->getColumn(0).getInt64());
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("oldest pending: ") + e.what());
  }
}

Result<std::vector<DirtyItem>> SqliteStore::ScheduledDirty(int64_t now_ms, int limit) {
  TS_READ_DB;
  try {
    // The dirty_due ranges of the ordinary priorities (marks awaiting an import are not
    // scheduled work): short, so sorting them is cheap.
    auto q = stmts.Get(
        "SELECT entity, generation, not_before_ms, attempts, priority FROM dirty "
        "WHERE priority IN (?2, ?3, ?4) AND not_before_ms > ?1 AND attempts = 0 "
        "ORDER BY not_before_ms, rowid LIMIT ?5");
    q->bind(1, static_cast<int64_t>(now_ms));
    q->bind(2, 0);
    q->bind(3, kBulkCreatePriority);
    q->bind(4, kAccessRemovalPriority);
    q->bind(5, limit);
    std::vector<DirtyItem> out;
    while (q->executeStep()) {
      out.push_back({q->getColumn(0).getString(), q->getColumn(1).getInt64(),
                     q->getColumn(2).getInt64(), q->getColumn(3).getInt(),
                     q->getColumn(4).getInt()});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("scheduled work: ") + e.what());
  }
}

Result<SqliteStore::DirtyDue> SqliteStore::CountDirtyDue(int64_t now_ms, int64_t soon_ms) {
  TS_READ_DB;
  try {
    // One statement, so one snapshot. No pass over every mark: the total is COUNT(*), the marks
    // awaiting an import are counted by triggers (migrations/0012_awaiting_import.sql), and the
    // rest are short ranges of dirty_due, per priority: the ordinary marks due later (scheduled
    // work, backoffs) and the awaiting ones due by `soon_ms` (past their backstop).
    auto q = stmts.Get(
        "SELECT (SELECT COUNT(*) FROM dirty), "
        "COALESCE((SELECT n FROM state_counts WHERE tbl = 'dirty' AND state = "
        "'awaiting_import'), 0), l.c, l.s, l.a, w.c, w.s FROM "
        "(SELECT COUNT(*) AS c, COALESCE(SUM(not_before_ms <= ?2), 0) AS s, "
        "COALESCE(SUM(attempts = 0), 0) AS a FROM dirty WHERE priority IN (?4, ?5, ?6) AND "
        "not_before_ms > ?1) AS l, "
        "(SELECT COUNT(*) AS c, COALESCE(SUM(not_before_ms > ?1), 0) AS s FROM dirty "
        "WHERE priority = ?3 AND not_before_ms <= ?2) AS w");
    q->bind(1, static_cast<int64_t>(now_ms));
    q->bind(2, static_cast<int64_t>(soon_ms));
    q->bind(3, kAwaitingImportPriority);
    q->bind(4, 0);
    q->bind(5, kBulkCreatePriority);
    q->bind(6, kAccessRemovalPriority);
    q->executeStep();
    const int64_t total = q->getColumn(0).getInt64();
    const int64_t awaiting = q->getColumn(1).getInt64();
    const int64_t later = q->getColumn(2).getInt64();       // ordinary marks due after now
    const int64_t later_soon = q->getColumn(3).getInt64();  // of those, due by soon
    const int64_t awaiting_by_soon = q->getColumn(5).getInt64();
    const int64_t awaiting_soon = q->getColumn(6).getInt64();
    DirtyDue d;
    d.awaiting_import = std::max<int64_t>(0, awaiting - awaiting_by_soon);
    d.soon = later_soon + awaiting_soon;
    d.due = std::max<int64_t>(0, total - later - (awaiting - (awaiting_by_soon - awaiting_soon)));
    d.scheduled = q->getColumn(4).getInt64();
    d.total = total;
    q->reset();
    return d;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("dirty queue: ") + e.what());
  }
}

Result<int64_t> SqliteStore::CountMutationsDoneSince(int64_t since_ms, int64_t window) {
  TS_READ_DB;
  try {
    // Entries of mutations_by_state_time only (a covering index): the rows themselves, with
    // their request JSON, are never read. Walking the newest `window` rows by id instead cost
    // ~10 ms per GET /v1/status on a long log (docs/BENCHMARKS.md, session 32).
    auto q = stmts.Get(
        "SELECT COUNT(*) FROM (SELECT 1 FROM mutations WHERE state = 'done' AND "
        "updated_at_ms >= ? LIMIT ?)");
    q->bind(1, static_cast<int64_t>(since_ms));
    q->bind(2, static_cast<int64_t>(window));
    q->executeStep();
    const int64_t n = q->getColumn(0).getInt64();
    q->reset();
    return n;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("counting done mutations: ") + e.what());
  }
}

Result<int64_t> SqliteStore::CountOpenImportUsers() {
  TS_READ_DB;
  try {
    auto q = stmts.Get(
        "SELECT COUNT(*) FROM import_jobs j JOIN import_job_users u ON u.job = j.id "
        "WHERE j.state IN ('prepared', 'sent')");
    q->executeStep();
    const int64_t n = q->getColumn(0).getInt64();
    q->reset();
    return n;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("counting import users: ") + e.what());
  }
}

namespace {
// known.waiting of an entity row when it is a string (rows whose JSON does not parse are skipped
// instead of failing the whole query).
constexpr const char* kWaitingReason =
    "CASE WHEN json_valid(known) AND json_type(known, '$.waiting') = 'text' THEN "
    "json_extract(known, '$.waiting') END";
}  // namespace

Result<int64_t> SqliteStore::CountWaitingEntities() {
  TS_READ_DB;
  try {
    auto q = stmts.Get(std::string("SELECT COUNT(*) FROM entities WHERE ") + kWaitingReason +
                       " IS NOT NULL");
    q->executeStep();
    return q->getColumn(0).getInt64();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("waiting entities: ") + e.what());
  }
}

Result<std::vector<SqliteStore::WaitingEntity>> SqliteStore::WaitingEntities(int limit) {
  TS_READ_DB;
  try {
    auto q = stmts.Get(std::string("SELECT kind, external_id, ") + kWaitingReason +
                       " AS reason FROM entities WHERE reason IS NOT NULL "
                       "ORDER BY updated_at_ms, kind, external_id LIMIT ?");
    q->bind(1, limit);
    std::vector<WaitingEntity> out;
    while (q->executeStep()) {
      out.push_back(
          {q->getColumn(0).getString() == "org" ? EntityKind::kOrganization : EntityKind::kUser,
           q->getColumn(1).getString(), q->getColumn(2).getString()});
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("waiting entities: ") + e.what());
  }
}

Result<std::vector<MutationRow>> SqliteStore::MembershipProblems(const std::string& user_auth0_id,
                                                                 int limit) {
  TS_READ_DB;
  try {
    // mutations_by_state narrows this to the (few) dead and failed rows first.
    auto q =
        stmts.Get(std::string("SELECT ") + kMutationColumns +
                  " FROM mutations WHERE state IN ('dead', 'failed') AND entity LIKE 'members:%' "
                  "AND json_valid(request) AND (json_extract(request, '$.user_id') = ?1 OR EXISTS "
                  "(SELECT 1 FROM json_each(request, '$.members') WHERE value = ?1)) "
                  "ORDER BY id DESC LIMIT ?2");
    q->bind(1, user_auth0_id);
    q->bind(2, limit);
    std::vector<MutationRow> out;
    while (q->executeStep()) out.push_back(ReadMutation(*q));
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("membership problems: ") + e.what());
  }
}

Result<std::vector<CommandRow>> SqliteStore::ListCommands(const std::string& user_external_id,
                                                          int limit) {
  TS_READ_DB;
  try {
    auto q = stmts.Get(
        "SELECT id, kind, user_external_id, event, state, attempts, COALESCE(last_error, ''), "
        "created_at_ms FROM commands WHERE user_external_id = ? ORDER BY id DESC LIMIT ?");
    q->bind(1, user_external_id);
    q->bind(2, limit);
    std::vector<CommandRow> out;
    while (q->executeStep()) {
      CommandRow r;
      r.id = q->getColumn(0).getInt64();
      r.kind = ParseCommandKind(q->getColumn(1).getString()).value_or(CommandKind::kPasswordReset);
      r.user_external_id = q->getColumn(2).getString();
      r.event = q->getColumn(3).getString();
      r.state = ParseCommandState(q->getColumn(4).getString()).value_or(CommandState::kDead);
      r.attempts = q->getColumn(5).getInt();
      r.last_error = q->getColumn(6).getString();
      r.created_at_ms = q->getColumn(7).getInt64();
      out.push_back(r);
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("listing commands: ") + e.what());
  }
}

Result<std::vector<SqliteStore::FoundEntity>> SqliteStore::SearchEntities(const EntitySearch& f) {
  const bool org = f.kind == EntityKind::kOrganization;
  // Unscoped, and for organizations, the primary key (kind, external_id) drives the scan in
  // external-id order (a scope of organizations turns it into lookups). Users of a scope are
  // read from the memberships primary key (org, user) of the scope's organizations, then looked
  // up: the cost follows the scope's members, not the tenant's users. A query is a substring
  // filter over the rows read. (EXPLAIN QUERY PLAN: docs/ADMIN-API.md "Lists".)
  std::string in;
  if (f.organizations) {
    for (size_t i = 0; i < f.organizations->size(); ++i)
      in += (i ? ", ?" : "?") + std::to_string(6 + i);
    if (in.empty()) in = "NULL";  // an empty scope holds nothing
  }
  const bool scoped_users = !org && f.organizations;
  std::string sql =
      "SELECT e.external_id, e.desired, e.known, e.auth0_id, "
      "EXISTS (SELECT 1 FROM dirty d WHERE d.entity = ?1 || e.external_id) ";
  if (scoped_users) {
    sql +=
        "FROM (SELECT DISTINCT m.user_external_id AS u FROM memberships m WHERE "
        "m.org_external_id IN (" +
        in +
        ") AND m.user_external_id > ?3) s JOIN entities e ON e.kind = ?2 AND e.external_id = s.u "
        "WHERE 1 = 1";
  } else {
    sql += "FROM entities e WHERE e.kind = ?2 AND e.external_id > ?3";
    if (f.organizations) sql += " AND e.external_id IN (" + in + ")";
  }
  if (!f.query.empty()) {
    sql += org ? " AND (instr(lower(e.external_id), lower(?4)) > 0"
                 " OR instr(lower(json_extract(e.desired, '$.name.v')), lower(?4)) > 0"
                 " OR instr(lower(json_extract(e.desired, '$.display_name.v')), lower(?4)) > 0)"
               : " AND (instr(lower(e.external_id), lower(?4)) > 0"
                 " OR instr(lower(json_extract(e.desired, '$.email.v')), lower(?4)) > 0)";
  }
  sql += " ORDER BY e.external_id LIMIT ?5";
  TS_READ_DB;
  try {
    auto q = stmts.Get(sql);
    q->bind(1, org ? "org:" : "user:");
    q->bind(2, EntityKindName(f.kind));
    q->bind(3, f.after);
    if (!f.query.empty()) q->bind(4, f.query);
    q->bind(5, f.limit);
    if (f.organizations) {
      for (size_t i = 0; i < f.organizations->size(); ++i)
        q->bind(static_cast<int>(6 + i), (*f.organizations)[i]);
    }
    std::vector<FoundEntity> out;
    while (q->executeStep()) {
      FoundEntity e;
      e.row.kind = f.kind;
      e.row.exists = true;
      e.row.external_id = q->getColumn(0).getString();
      e.row.desired = ParseJsonColumn(q->getColumn(1), nlohmann::json::object());
      e.row.known = ParseJsonColumn(q->getColumn(2), nlohmann::json::object());
      if (!q->getColumn(3).isNull()) e.row.auth0_id = q->getColumn(3).getString();
      e.to_reconcile = q->getColumn(4).getInt() != 0;
      out.push_back(std::move(e));
    }
    return out;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("searching entities: ") + e.what());
  }
}

Result<std::vector<MembershipRow>> SqliteStore::ReadUserMemberships(
    const std::string& user_external_id) {
  TS_READ_DB;
  try {
    auto q = stmts.Get(
        "SELECT org_external_id, user_external_id, roles FROM memberships "
        "WHERE user_external_id = ? ORDER BY org_external_id");
    q->bind(1, user_external_id);
    return ReadMemberships(*q);
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("reading memberships: ") + e.what());
  }
}

Result<std::vector<MembershipRow>> SqliteStore::ReadOrgMembers(const std::string& org_external_id,
                                                               int limit) {
  TS_READ_DB;
  try {
    // The primary key (org_external_id, user_external_id) gives them in order.
    auto q = stmts.Get(
        "SELECT org_external_id, user_external_id, roles FROM memberships "
        "WHERE org_external_id = ? ORDER BY user_external_id LIMIT ?");
    q->bind(1, org_external_id);
    q->bind(2, limit);
    return ReadMemberships(*q);
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("reading members: ") + e.what());
  }
}

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& key) {
  TS_READ_DB;
  try {
    auto q = stmts.Get("SELECT value FROM settings WHERE key = ?");
    q->bind(1, key);
    if (!q->executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(q->getColumn(0).getString());
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("reading setting: ") + e.what());
  }
}

Result<int> SqliteStore::RecoverInterrupted(int64_t now_ms) {
  auto lock = LockWriter();
  try {
    CachedTransaction tx(*writer_stmts_, CachedTransaction::Kind::kImmediate);
    writer_->exec(
        "INSERT INTO dirty (entity, generation, not_before_ms) SELECT DISTINCT entity, 1, 0 FROM "
        "mutations "
        "WHERE state IN ('pending', 'in_flight') ON CONFLICT (entity) DO UPDATE SET generation = "
        "generation + 1, "
        "not_before_ms = 0");
    auto upd = writer_stmts_->Get(
        "UPDATE mutations SET state = 'failed', last_error = 'interrupted: the process stopped "
        "before the outcome was recorded; re-planned from Auth0', updated_at_ms = ? "
        "WHERE state IN ('pending', 'in_flight')");
    upd->bind(1, static_cast<int64_t>(now_ms));
    int n = upd->exec();
    writer_->exec(
        "INSERT INTO dirty (entity, generation, not_before_ms) SELECT 'command:' || id, 1, 0 FROM "
        "commands "
        "WHERE state IN ('pending', 'in_flight') ON CONFLICT (entity) DO NOTHING");
    writer_->exec("UPDATE commands SET state = 'pending' WHERE state = 'in_flight'");
    tx.commit();
    return n;
  } catch (const SQLite::Exception& e) {
    return SqliteError(e.getErrorCode(), std::string("recovering: ") + e.what());
  }
}

#undef TS_READ_DB

}  // namespace tenantsync
