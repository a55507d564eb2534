// Writer: the one owner of every Auth0 write (SPEC §6).
//
// One scheduler thread applies due inbox events to desired state (each batch in one
// transaction that also marks the events applied and the touched entities dirty) and hands dirty
// entities to `workers` worker threads (= auth0.max_in_flight). An entity is worked on by at most
// one worker at a time, which keeps order per resource and makes the read-modify-write of a list
// (the application's callbacks) strictly serial; all pending changes to it are folded into one
// read and one write because the entity is planned from the whole desired state, not per event.
//
// Every Auth0 request is a mutation row committed as in_flight before the request and as
// done/failed/dead after it, together with the new known state. After a crash, rows left
// in_flight are marked failed ("interrupted") and their entity re-planned; a create is preceded
// by a lookup (by email / by name), so it is never duplicated.
//
// Thread safety: Start/Stop/SetPaused/Wake from any thread; the rest is internal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/auth0/auth0_client.h"
#include "common/clock.h"
#include "common/random.h"
#include "daemon/config.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

class Guard;
class Quarantine;

// One write the writer would send now (Writer::Plan).
struct PlannedStep {
  std::string entity;
  std::string kind;
  nlohmann::json request;  // what would be sent ("after" for patches)
  nlohmann::json before;   // patches: the last known values of the changed fields; else null
  nlohmann::json events;   // the events behind it ("source/event_id")
  bool destructive = false;
};

struct WriterOptions {
  int workers = 4;  // auth0.max_in_flight
  PolicyOptions policy;
  std::string connection = "Username-Password-Authentication";
  std::string application_client_id;
  // A retryable failure is retried with capped exponential backoff and full jitter; after
  // max_attempts the mutation goes to the dead-letter list.
  int max_attempts = 12;
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{300000};
  int apply_batch = 500;  // events applied per transaction
  // After applying events, wait this long for more before planning, so a burst is judged by the
  // guard as one (adds at most this much latency).
  int batch_delay_ms = 100;
  bool dry_run = false;   // plan and record, never send
};

// Outcome callbacks for metrics and logs.
struct WriterObserver {
  std::function<void(const MutationRow& row, MutationState outcome, double lag_seconds)> on_mutation;
  std::function<void(const EventRecord& event, EventState outcome)> on_event_applied;
};

class Writer {
 public:
  // `client` must not be null (a dry run still reads from Auth0; it only never writes).
  Writer(SqliteStore& store, Auth0Client* client, Clock& clock, Random& random, WriterOptions options,
         WriterObserver observer = {});
  ~Writer();

  // What the writer would do now for every entity waiting to be reconciled (up to `limit`),
  // without recording or sending any write. Reads it needs to plan (the application's callbacks,
  // a user whose last write has an unknown outcome) do go to Auth0. Steps that depend on an
  // earlier planned step's result (e.g. the members of an organization not created yet) appear
  // once that step has been done. Callable from any thread.
  Result<std::vector<PlannedStep>> Plan(int limit = 10000);

  // The destructive-change guard every destructive step asks first; set before Start().
  void SetGuard(Guard* guard) { guard_ = guard; }
  // While quarantined the writer dispatches one entity per probe interval; set before Start().
  void SetQuarantine(Quarantine* quarantine) { quarantine_ = quarantine; }
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

  // Steps completed so far (the watchdog checks that it moves while there is work).
  uint64_t progress() const { return progress_.load(); }
  // Wall time (Unix ms) of the last successful Auth0 write, 0 if none yet.
  int64_t last_success_ms() const { return last_success_ms_.load(); }
  // Whether the scheduler loop ran recently (watchdog: not wedged).
  Clock::MonoTime last_loop() const;

 private:
  enum class Outcome { kDone, kRetry, kWait, kDead };
  struct Step;

  void SchedulerLoop();
  // `commands`: this worker serves the email lane (one-shot commands) instead of the rest.
  void WorkerLoop(bool commands);
  Status ApplyDueEvents(bool* more);
  Outcome Process(const DirtyItem& item);

  Outcome ReconcileOrg(const DirtyItem& item, const std::string& external_id);
  Outcome ReconcileUser(const DirtyItem& item, const std::string& external_id);
  Outcome ReconcileMembers(const DirtyItem& item, const std::string& org_external_id);
  Outcome ReconcileCallbacks(const DirtyItem& item);
  Outcome ReconcileConnection(const DirtyItem& item, const std::string& name);
  Outcome RunCommand(const DirtyItem& item, int64_t id);

  // Runs one Auth0 write as a mutation row: committed in_flight before `call`, then done (with
  // `on_success` applied in the same transaction), failed (retryable) or dead (permanent).
  Status Mutate(const DirtyItem& item, const Step& step, const std::function<Status()>& call,
                const std::function<Status(StateTxn&)>& on_success);
  // Runs `fn` in one state transaction and commits it.
  Status InTxn(const std::function<Status(StateTxn&)>& fn);
  Outcome Combine(Outcome a, const Status& st) const;
  std::chrono::milliseconds Backoff(int attempts);

  SqliteStore& store_;
  Auth0Client* client_;
  Guard* guard_ = nullptr;
  Quarantine* quarantine_ = nullptr;
  Clock& clock_;
  Random& random_;
  const WriterOptions options_;  // options_.policy is the start-up policy; see Policy()
  PolicyOptions Policy() const;
  mutable std::mutex policy_mu_;
  PolicyOptions policy_;  // guarded by policy_mu_
  WriterObserver observer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;        // scheduler wake-ups and work hand-off
  std::deque<DirtyItem> queue_;       // guarded by mu_: handed to workers
  std::deque<DirtyItem> command_queue_;  // guarded by mu_: the email lane
  std::set<std::string> in_progress_; // guarded by mu_: entities being worked on
  bool stopping_ = false;             // guarded by mu_
  bool woken_ = false;                // guarded by mu_
  Clock::MonoTime last_loop_;         // guarded by mu_

  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> progress_{0};
  std::atomic<int64_t> last_success_ms_{0};
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace tenantsync
