// StepExecutor: runs the planners' steps for one reconciler entity — the only code that writes to
// Auth0 (SPEC §6).
//
// For an entity it loads what the planner needs (desired and known state from SQLite; a fresh
// read from Auth0 when the last write's outcome is unknown), plans (daemon/planning/planners.h),
// runs the first step, applies the step's effect to the known state, and plans again, until the
// plan is empty, a step must be retried, or the entity's turn is used up. Every step is a mutation
// row committed as in_flight before its request and as done/failed/dead after it, together with
// the new known state, in one transaction. A step that fails permanently (or is held by the
// guard) is not repeated in the same pass; the rest of the entity still converges.
//
// Modes are explicit (ExecMode), never a thread-local:
//   kSend    the daemon: steps are sent.
//   kDryRun  serve --dry-run: steps are recorded as pending mutations, never sent.
//   kPlan    tenantsync plan: steps are collected; nothing is written to SQLite or Auth0 (reads
//            needed to plan — the application's callbacks, an entity whose last write has an
//            unknown outcome — do go to Auth0).
//
// Destructive steps ask the guard first (held steps leave no mutation row). Commands (emails)
// are decided when they run, from the user's state then.
//
// Thread safety: Run() may be called from several threads at once for different entities; the
// writer never runs one entity on two threads at once.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/auth0/auth0_api.h"
#include "common/clock.h"
#include "daemon/planning/planners.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

class Guard;

enum class ExecMode { kSend, kDryRun, kPlan };

// One write the writer would send now (tenantsync plan), or an entity that waits.
struct PlannedStep {
  std::string entity;
  std::string kind;        // StepKindName, or "wait" for an entity that cannot proceed yet
  nlohmann::json request;  // what would be sent ("after" for patches); for "wait": {"reason"}
  nlohmann::json before;   // patches: the last known values of the changed fields; else null
  nlohmann::json events;   // the events behind it ("source/event_id")
  bool destructive = false;
};

struct ExecutorPolicy {
  PlanPolicy plan;
  bool adopt_existing = true;
  std::vector<CommandKind> on_create = {CommandKind::kPasswordReset};
};

// Outcome callbacks for metrics and logs.
struct ExecutorObserver {
  std::function<void(const MutationRow& row, MutationState outcome, double lag_seconds)>
      on_mutation;
  // After each walk over the users pending creation that plans users-import files (RunImports):
  // the user rows it read from storage, each parsed. Called on the worker thread that ran it.
  std::function<void(int64_t users_read)> on_import_planned;
};

struct ExecutorOptions {
  // A retryable failure of a step is retried (by the writer, with backoff); the attempt that
  // reaches max_attempts goes to the dead-letter list.
  int max_attempts = 12;
  // Steps one entity may run per turn before it goes back in line (an organization with hundreds
  // of member-role writes must not keep a worker from a leaver's block).
  int max_steps_per_turn = 8;
  // Whether an access removal waits for a worker: other entities then end their turn after the
  // step in progress. Null: never.
  std::function<bool()> urgent_waiting;
  // [auth0] import_threshold: this many users pending creation in the connection (or more) are
  // created by users-imports jobs (RunImports); 0 disables imports (every user is created alone).
  int import_threshold = 0;
};

// The reconciler key of the users-imports work of one connection: "imports:<connection>".
std::string ImportsKey(const std::string& connection);

class StepExecutor {
 public:
  enum class Outcome {
    kDone,   // converged (or nothing more can be done now); the entity's mark is cleared
    kRetry,  // a retryable failure: come back after a backoff
    kDead,   // a step failed permanently (dead-lettered) or was held; the rest was done
    kMore,   // turn used up with steps left: back in line, due now
  };
  struct RunResult {
    Outcome outcome = Outcome::kDone;
    std::optional<int64_t> revisit_at_ms;  // scheduled work: plan again then
    // The entity is a user waiting for a users-import job: its mark is kept at
    // kAwaitingImportPriority (revisit_at_ms is only a backstop; the imports entity marks it).
    bool awaiting_import = false;
    // kMore: the steps still planned for the entity when its turn ended (each one Auth0 write),
    // for the progress estimate of writes left (GET /v1/status progress.writes_left_estimate).
    int64_t steps_left = 0;
  };

  // `api`, `store`, `clock` and `guard` (may be null) must outlive the executor.
  StepExecutor(SqliteStore& store, Auth0Api& api, Clock& clock, ExecutorOptions options,
               ExecutorObserver observer = {});
  void SetGuard(Guard* guard) { guard_ = guard; }

  // Reconciles one entity. In kPlan mode appends what would be done to `planned`.
  RunResult Run(const DirtyItem& item, ExecMode mode, const ExecutorPolicy& policy,
                std::vector<PlannedStep>* planned = nullptr);

  // Wall time (Unix ms) of the last successful Auth0 write, 0 if none yet.
  int64_t last_success_ms() const { return last_success_ms_.load(); }

 private:
  struct Pass;  // one Run: mode, policy, the steps given up on this pass

  RunResult RunOrganization(Pass& pass, const std::string& external_id);
  RunResult RunUser(Pass& pass, const std::string& external_id);
  RunResult RunMembers(Pass& pass, const std::string& org_external_id);
  RunResult RunCallbacks(Pass& pass);
  RunResult RunConnection(Pass& pass, const std::string& name);
  RunResult RunCommand(Pass& pass, int64_t id);

  // ---- Users import jobs (docs/AUTH0-CLIENT.md, "Users import jobs") ----
  // The entity "imports:<connection>": resumes the connection's open import jobs (a row still
  // "prepared" after a crash is recovered by looking its users up by their deterministic ids,
  // never by sending the file again; a "sent" job is polled with backoff), applies completed
  // ones (users created with their ids, per-user failures dead-lettered with Auth0's message,
  // duplicates matched or left to the one-by-one path), then plans new files (PlanImports) and
  // sends up to two at a time, each persisted as a row before its POST.
  RunResult RunImports(Pass& pass, const std::string& connection);
  // For RunUser: a pending create that the import path takes (the user waits for its job, or
  // the import entity is marked to decide); nullopt when the user is created one by one.
  std::optional<RunResult> DeferToImport(Pass& pass, const EntityRow& user, bool attempted);
  RunResult ImportTurn(Pass& pass, const std::string& conn);
  // Pending creates of `conn` go one by one for `for_ms` (Auth0 refused or failed a job, or the
  // import path broke): every user waiting for an import is marked due now.
  void GoSingle(const std::string& conn, int64_t for_ms);
  // Poll delay after `polls` status reads of a job still running.
  static int64_t ImportPollDelayMs(int polls);

  // The plan → execute → plan again loop. `plan` plans from the current in-memory state;
  // `execute` runs one step (through Mutate) and applies its effect on success.
  RunResult Loop(Pass& pass, const std::function<Plan()>& plan,
                 const std::function<Status(const Step&)>& execute);
  // Runs one Auth0 write as a mutation row (see the class comment). `call` sends it; `effect`
  // applies its result to SQLite in the transaction that records it done.
  Status Mutate(Pass& pass, const Step& step, const std::function<Status()>& call,
                const std::function<Status(StateTxn&)>& effect);
  // Records a step that cannot be sent as dead (e.g. a role that does not exist), once.
  Status DeadLetter(Pass& pass, const Step& step, const std::string& error);
  Status InTxn(const std::function<Status(StateTxn&)>& fn);
  // The reads `fn` makes, as one snapshot on a reader connection (SqliteStore::BeginRead; the
  // write connection when the store has no readers): they never wait for a write transaction, so
  // a plan (GET /v1/plan) and the workers' reads do not queue behind the inbox and other workers'
  // writes. `fn` must not write: a reader connection refuses it, and on the write connection
  // the transaction is rolled back, never committed.
  Status InRead(const std::function<Status(StateTxn&)>& fn);
  // Keeps known["waiting"] equal to the planner's reason for waiting (shown by tenantsync user /
  // org and counted by status); writes only when it changes.
  void RecordWaiting(EntityRow& row, const std::string& waiting);
  // Whether the latest `kind` mutation of `entity` never finished (it may have reached Auth0).
  bool LatestWriteUnfinished(const std::string& entity, StepKind kind);

  SqliteStore& store_;
  Auth0Api& api_;
  Clock& clock_;
  Guard* guard_ = nullptr;
  const ExecutorOptions options_;
  ExecutorObserver observer_;
  std::atomic<int64_t> last_success_ms_{0};

  std::mutex import_mu_;
  // Per connection: until when pending creates go one by one (Auth0 refused or failed a job).
  std::map<std::string, int64_t> single_until_ms_;  // guarded by import_mu_
  // Per connection: the users the import entity last found too few for a job (one by one).
  std::map<std::string, std::set<std::string>> single_users_;  // guarded by import_mu_
  // Per connection: when the import entity was last marked from RunUser (marks are coalesced).
  std::map<std::string, int64_t> import_marked_ms_;  // guarded by import_mu_
  // Per connection: candidates seen at the last look while a burst was still growing.
  std::map<std::string, size_t> import_seen_;  // guarded by import_mu_
};

}  // namespace tenantsync
