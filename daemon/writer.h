// Writer: the one owner of every Auth0 write (SPEC §6): scheduler, workers and the event apply
// loop around the step executor.
//
// One scheduler thread applies due inbox events to desired state and hands dirty entities to
// worker threads (auth0.max_in_flight of them, plus an email lane of as many for the
// Authentication API's emails, outside the Management rate budget). An entity is worked on by at
// most one worker at a time, which keeps order per resource and makes the read-modify-write of a
// list (the application's callbacks) strictly serial. Access removals (a leaver's block,
// revocation and membership removals, deletions) are marked with priority and dispatched ahead of
// every other entity, users-imports jobs next (kBulkCreatePriority); an entity with many steps
// gives its worker up after ExecutorOptions::max_steps_per_turn steps and goes back in line.
//
// Applying events: each batch is one transaction. When an event in it cannot be applied, that
// transaction is rolled back and the batch folded again with each event inside a savepoint, so
// the event is rolled back alone and marked failed with the reason
// (visible, replayable, discardable) while the rest flows on. A scheduled event (effective_at)
// that comes due is superseded — marked applied with a note, without effect — when a newer event
// of the same kind for the same entity is scheduled later: the later time wins.
//
// What to send is decided by the planners (daemon/planning/) and done by the StepExecutor
// (daemon/execution/), which owns the mutation log and every Auth0 write.
//
// Thread safety: Start/Stop/SetPaused/Wake/SetPolicy/Plan/Stalled from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/auth0/auth0_api.h"
#include "common/clock.h"
#include "common/random.h"
#include "daemon/config.h"
#include "daemon/execution/executor.h"
#include "daemon/parsed_events.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

class Guard;
class Quarantine;

struct WriterOptions {
  int workers = 4;  // auth0.max_in_flight
  PolicyOptions policy;
  std::string connection = "Username-Password-Authentication";
  std::string application_client_id;
  int member_batch_size = 10;  // [auth0].member_batch_size: new members are added in whole batches
  // A retryable failure is retried with capped exponential backoff and full jitter; after
  // max_attempts the mutation goes to the dead-letter list.
  int max_attempts = 12;
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{300000};
  int apply_batch = 500;  // events applied per transaction
  // After applying events, wait this long for more before planning, so a burst is judged by the
  // guard as one (adds at most this much latency).
  int batch_delay_ms = 100;
  int max_steps_per_turn = 8;  // see ExecutorOptions
  // Applying events failing continuously for this long makes Stalled() report it (/readyz).
  int stall_after_ms = 30000;
  bool dry_run = false;  // plan and record, never send
  // [auth0] import_threshold (ExecutorOptions::import_threshold); 0: no users-imports jobs.
  int import_threshold = 0;
};

// Outcome callbacks for metrics and logs.
struct WriterObserver {
  std::function<void(const MutationRow& row, MutationState outcome, double lag_seconds)>
      on_mutation;
  std::function<void(const EventRecord& event, EventState outcome)> on_event_applied;
  // ExecutorObserver::on_import_planned.
  std::function<void(int64_t users_read)> on_import_planned;
};

// The executor's policy from the configuration's [policy] and [auth0] sections.
ExecutorPolicy MakeExecutorPolicy(const PolicyOptions& policy, const std::string& connection,
                                  const std::string& application_client_id,
                                  int member_batch_size = 10);

class Writer {
 public:
  // `api` must not be null (a dry run still reads from Auth0; it only never writes).
  Writer(SqliteStore& store, Auth0Api* api, Clock& clock, Random& random, WriterOptions options,
         WriterObserver observer = {});
  ~Writer();

  // What the writer would do now for every entity waiting to be reconciled (up to `limit`),
  // and the entities that wait (kind "wait", with the reason), without recording or sending any
  // write: nothing is written to SQLite. Reads it needs to plan (the application's callbacks, an
  // entity whose last write has an unknown outcome) do go to Auth0. Steps that depend on an
  // earlier planned step's result (e.g. the members of an organization not created yet) appear
  // once that step has been done. Callable from any thread.
  // At most `limit` entities, in the writer's due order (GET /v1/plan?limit=, default
  // kDefaultPlanEntities: the answer for 10,000 entities is a few MB of JSON).
  static constexpr int kDefaultPlanEntities = 10000;
  static constexpr int kMaxPlanEntities = 200000;
  Result<std::vector<PlannedStep>> Plan(int limit = kDefaultPlanEntities);
  // The same steps handed to `visit` one entity's at a time, so a caller that writes them out as
  // they come never holds the whole plan (100,000 users: ~600 MB as objects).
  Status Plan(int limit, const std::function<void(PlannedStep&&)>& visit);

  // The destructive-change guard every destructive step asks first; set before Start().
  void SetGuard(Guard* guard);
  // While quarantined the writer dispatches one entity per probe interval; set before Start().
  void SetQuarantine(Quarantine* quarantine) { quarantine_ = quarantine; }
  // The ingress's parses of the events it accepted (issue 13): an event whose stored body is the
  // one offered is folded from that parse instead of parsing the body again (ParsedEventCache);
  // any other is parsed as before. Set before Start(); null: every body is parsed.
  void SetParsedEvents(ParsedEventCache* parsed) { parsed_events_ = parsed; }
  void Start();
  // Stops taking new work; a step in progress finishes (or, waiting on a retry, is cut short and
  // recorded as failed so it is re-planned after the restart). Returns when all threads exited.
  void Stop();
  // New events were stored: apply them soon.
  void Wake();
  // Paused: no events applied and no Auth0 writes; ingress keeps accepting. Survives restarts
  // (stored as a setting).
  Status SetPaused(bool paused);
  bool paused() const { return paused_.load(); }
  // SIGHUP: the [policy] section takes effect for the next step.
  void SetPolicy(PolicyOptions policy);
  // A reason when the pipeline is stalled (applying events has failed continuously for
  // stall_after_ms), else nullopt.
  std::optional<std::string> Stalled() const;

  // One scheduler turn, synchronously on the calling thread, without the worker threads: applies
  // every due event, then reconciles each due entity once, in priority order (as the workers
  // would). Returns how many entities were reconciled. For tests and tools; never while started.
  Result<int> RunOnce();

  // Steps completed so far (the watchdog checks that it moves while there is work).
  uint64_t progress() const { return progress_.load(); }
  // Wall time (Unix ms) of the last successful Auth0 write, 0 if none yet.
  int64_t last_success_ms() const { return executor_.last_success_ms(); }
  // Whether the scheduler loop ran recently (watchdog: not wedged).
  Clock::MonoTime last_loop() const;
  // Auth0 writes known to be left beyond one per marked entity: for each entity whose last turn
  // ended with steps still planned (an organization's member list: ~1 write per membership),
  // those steps minus the one its mark already stands for. An estimate kept in memory (0 after a
  // restart until such entities have had a turn); GET /v1/status progress.writes_left_estimate.
  int64_t ExtraStepsLeft() const;

 private:
  void SchedulerLoop();
  // `commands`: this worker serves the email lane (one-shot commands) instead of the rest.
  void WorkerLoop(bool commands);
  Status ApplyDueEvents(bool* more);
  // Reconciles one entity and records the outcome on its dirty mark (cleared, deferred with
  // backoff, requeued, or kept until its scheduled time).
  void Process(const DirtyItem& item);
  Status InTxn(const std::function<Status(StateTxn&)>& fn);
  ExecutorPolicy Policy() const;

  SqliteStore& store_;
  Auth0Api* api_;
  Guard* guard_ = nullptr;
  Quarantine* quarantine_ = nullptr;
  ParsedEventCache* parsed_events_ = nullptr;  // set before Start(); not owned
  Clock& clock_;
  Random& random_;
  const WriterOptions options_;
  mutable std::mutex policy_mu_;
  PolicyOptions policy_;  // guarded by policy_mu_
  WriterObserver observer_;
  StepExecutor executor_;

  mutable std::mutex mu_;
  // Two, so that a wake-up reaches only who needs it: Wake() (called by ingress for every
  // accepted event) and finished work wake the scheduler; new work in a lane wakes the workers.
  std::condition_variable sched_cv_;
  std::condition_variable lane_cv_;
  std::deque<DirtyItem> queue_;                         // guarded by mu_: handed to workers
  std::deque<DirtyItem> command_queue_;                 // guarded by mu_: the email lane
  std::set<std::string> in_progress_;                   // guarded by mu_: entities being worked on
  bool stopping_ = false;                               // guarded by mu_
  bool woken_ = false;                                  // guarded by mu_
  Clock::MonoTime last_loop_;                           // guarded by mu_
  std::optional<Clock::MonoTime> apply_failing_since_;  // guarded by mu_
  std::string apply_error_;                             // guarded by mu_

  mutable std::mutex steps_mu_;
  std::map<std::string, int64_t> extra_steps_;  // guarded by steps_mu_: entity -> steps left - 1
  int64_t extra_steps_total_ = 0;               // guarded by steps_mu_: their sum

  std::atomic<int> urgent_waiting_{0};  // access removals in a lane, not yet taken by a worker
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> progress_{0};
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace tenantsync
